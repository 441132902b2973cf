/* ds_views.c: a clip's frames cut on the job's workers. One pool of opts.threads workers lives
 * for the whole run; each worker takes the next frame of the clip and does all of its work:
 * decode the panorama (its own TurboJPEG handle), cut the colour view, decode the depth map,
 * cut the depth view and back-project the depth points (gpu/, one frame per worker, so the
 * kernels run single-threaded inside). Frames are independent, so the clip's frames run side
 * by side; the results go into per-position slots and the main thread reads them in clip order,
 * so that rejects, points and shards do not depend on the number of threads or their timing.
 * Two clips are in flight: while the main thread fuses one clip's points and writes it, the
 * workers already cut the next one, across clip boundaries, from one queue.
 * Memory: one decoded panorama and depth map per worker; a streamed clip's frames hold their
 * chunks and depth points only until the writer and the twin's queue have taken them (the
 * buffers go back to free lists, last given first taken); a clip kept whole (frame batch,
 * densify) holds its raw views.
 *
 * On a CUDA context the gpu/ calls are serialised (one stream); decode still runs in parallel.
 * There the clip goes through gpu_frame_batch (gpu/gpu.h) instead: the workers do each
 * position's CPU part side by side (clip_prep: read the panorama's file, decode its depth
 * map), and the one that finishes the clip's last position runs the batch (clip_batch),
 * which decodes the JPEGs on the device in one batch and cuts views, depth views and points
 * from the panoramas where they lie; the other clip in flight is prepared meanwhile, and the
 * main thread compresses and writes the one before. SVT_FRAME_BATCH=1 takes the same route on the
 * C path (tests/test_dataset.c: the same shards as the per-frame path).
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dataset/ds_internal.h"

/* A frame's chunks as its worker encoded them for the shard. */
typedef struct ds_enc {
	fmt_chunk view, depth;
	struct ds_enc *next; /* in the pool's free list */
} ds_enc;

/* One clip position's work and result. */
typedef struct ds_slot {
	int b;               /* its buffer */
	size_t k;            /* kept frame */
	const char *path;
	int points;          /* back-project its depth for the twin */
	float *vdepth;       /* its depth view (NULL: none) */
	uint8_t *view;       /* its colour view */
	/* results */
	int failed;          /* the frame is bad: why says how */
	int fail_reason;     /* its ingest_reason (undecodable unless said) */
	int warning;         /* decoded with warnings (kept with keep_corrupt) */
	char why[SVT_ERR_MSG_MAX + 32];
	int rc;              /* a job error (with err) */
	svt_err err;
	gpu_point *pts;      /* its depth points: from the pool's free list (slot_points_reserve),
			      * held until they are queued for the twin (slot_points_take) */
	size_t npts, cappts;
	int taken;           /* its points are queued (or it had none to give) */
	int depth_used;      /* its depth map gave points */
	gpu_view v;
	double Rv[9];
	/* The frame encoded for the shard on its worker (fmt_writer_encode_frame / _depth), so
	 * that compression runs beside the views and no clip of raw views is held: set at submit
	 * on the per-frame path of a clip that is written as it is (not on the frame batch, not
	 * densified, not cut for its points only). The raw view then lives in the worker's own
	 * buffers (view, vdepth point there while the frame runs). */
	int own_bufs;        /* views in the worker's buffers (the clip holds no raw views) */
	int encode;          /* ... and encoded there (the clip is written) */
	int want_vdepth;     /* with own_bufs: the clip stores depth */
	int encoded;         /* result: enc->view (and enc->depth with want_vdepth) hold it */
	int done;            /* the worker is through with it (under the pool's mutex) */
	ds_enc *enc;         /* taken from the pool's free list (enc_take), held until the
			      * writer has stored it (ds_views_frame_put) */
} ds_slot;

/* What the frame batch keeps for the clip of buffer b between its CPU part and the batch. */
typedef struct ds_clipwork {
	int cap;                  /* frames allocated */
	gpu_frame *fs;            /* per clip position: its frame for the batch */
	int *ready;               /* per clip position: fs[t] goes in the batch */
	gpu_frame *f;             /* the batch: the ready frames, packed */
	int *slot;                /* f[i] is the clip's slot slot[i] */
	uint8_t **file;           /* the panoramas' JPEG bytes (freed after the batch) */
	ingest_image *pano, *dimg; /* CPU-decoded panoramas (not JPEG, oriented) and depth maps */
	gpu_depth *d;
	gpu_image *gimg;          /* the CPU-decoded panoramas as the batch reads them */
} ds_clipwork;

/* A worker's own decoders and images, reused frame after frame. */
typedef struct ds_worker {
	struct ds_workers *pool;
	pthread_t th;
	int started;
	ingest_decoder *dec, *ddec;
	ingest_image img, dimg;
	uint8_t *view;       /* its frame's colour and depth views when the slot encodes */
	float *vdepth;
	/* CPU seconds of this worker's views (decode, colour and depth views) and of the depth
	 * points it made for the twin (dataset_stats.seconds_views_cpu: the points left out). */
	double cpu_frames, cpu_points, cpu_encode;
} ds_worker;

struct ds_workers {
	dataset_job *j;
	pthread_mutex_t mu, gpu_mu;
	pthread_cond_t work, done;
	ds_slot **queue;     /* ring of 2 T slots waiting for a worker */
	int qcap, qhead, qlen;
	int submitted[2], finished[2];
	int stop;
	int serial_gpu;      /* CUDA: one gpu call at a time */
	int n;
	ds_worker *w;
	gpu_frame_batch *fb; /* non-NULL: clips go through the frame batch */
	pthread_mutex_t fb_mu; /* one batch at a time on the context */
	ds_clipwork cw[2];
	int prepared[2];     /* frames of clip b whose CPU part is done (frame batch) */
	/* Encoded chunks no slot holds, the last given back first: a streamed clip's frame gives
	 * its chunks back as soon as the writer has stored them, so the chunks alive are the
	 * frames between their encode and their store (about one per worker), not two clips of
	 * them, and their pages stay warm (114 slots' fresh chunks were 42 k page faults of a
	 * samples build). Under mu. */
	ds_enc *free_enc;
	/* The same for the slots' point buffers, given back once queued for the twin: a stack
	 * of at most 2 T (one per slot). Under mu. */
	struct pts_buf {
		gpu_point *p;
		size_t cap;
	} *free_pts;
	int nfree_pts;
};

/* The view camera's rotation (camera -> ENU) for kept frame k. */
/* The heading a kept frame's view looks along: a perspective photo's own (it is its own
 * view), the panorama's centre (--view pano), else travel turned by the clip's yaw. */
static double view_heading(const dataset_job *j, const ds_buf *B, size_t k)
{
	if (j->cap->frames[j->cap_idx[k]].camera.model == INGEST_CAM_PINHOLE ||
	    j->o.view_dir == DATASET_VIEW_PANO)
		return j->tf[k].heading;
	return j->travel[k] + B->yaw_off;
}

static void view_rotation(const dataset_job *j, const ds_buf *B, size_t k, double R_c2w[9])
{
	geo_rot_from_hpr(view_heading(j, B, k), 0.0, 0.0, R_c2w);
}

static void gpu_lock(ds_workers *p)
{
	if (p->serial_gpu)
		pthread_mutex_lock(&p->gpu_mu);
}

static void gpu_unlock(ds_workers *p)
{
	if (p->serial_gpu)
		pthread_mutex_unlock(&p->gpu_mu);
}

/* Decodes the depth map at dpath into dimg and describes it in *d; *usable = 0 (logged) when
 * it is not a 16-bit gray map. Fails only when no decoder can be made. */
static int depth_decode(ds_worker *w, const char *dpath, ingest_image *dimg, gpu_depth *d,
			int *usable, svt_err *err)
{
	svt_err derr = {0};
	int warn = 0, rc;
	ingest_decode_opts dopts;
	ingest_decode_opts_default(&dopts);
	dopts.want_channels = 0; /* keep 16 bits */
	*usable = 0;
	if (!w->ddec && (rc = ingest_decoder_create(&w->ddec, err)))
		return rc;
	if (ingest_decode_file(w->ddec, dpath, &dopts, dimg, &warn, &derr)) {
		/* Unreadable, corrupt or over the size limits: the decoder's reason (which names
		 * the file itself, as a rule). */
		size_t pl = strlen(dpath);
		const char *why = !strncmp(derr.msg, dpath, pl) && !strncmp(derr.msg + pl, ": ", 2)
					  ? derr.msg + pl + 2
					  : derr.msg;
		svt_log_warn("%s: unusable depth map (%s): no depth from this frame", dpath, why);
		return SVT_OK;
	}
	if (dimg->bit_depth != 16 || dimg->channels != 1) {
		svt_log_warn("%s: not a 16-bit gray depth map (%d-bit, %d channels): no depth from "
			     "this frame", dpath, dimg->bit_depth, dimg->channels);
		return SVT_OK;
	}
	*d = (gpu_depth){.data = dimg->data, .width = dimg->width, .height = dimg->height,
			 .stride = dimg->stride, .is_float = 0, .scale = 0.001, .min_m = 0.3,
			 .max_m = 65.535, .model = GPU_DEPTH_EQUIRECT, .step = 4};
	*usable = 1;
	return SVT_OK;
}

/* Room for the points of a depth map of w x h pixels (step 4) in s->pts: the buffer the slot
 * holds, else the last one given back to the pool. */
static int slot_points_reserve(ds_workers *p, ds_slot *s, int w, int h, size_t *cap,
			       svt_err *err)
{
	*cap = (size_t)((w + 3) / 4) * (size_t)((h + 3) / 4);
	if (!s->pts) {
		pthread_mutex_lock(&p->mu);
		if (p->nfree_pts) {
			p->nfree_pts--;
			s->pts = p->free_pts[p->nfree_pts].p;
			s->cappts = p->free_pts[p->nfree_pts].cap;
		}
		pthread_mutex_unlock(&p->mu);
	}
	if (*cap > s->cappts) {
		gpu_point *p = realloc(s->pts, *cap * sizeof(*p));
		if (!p)
			return svt_err_set(err, SVT_E_NOMEM, "no memory for %zu points", *cap);
		s->pts = p;
		s->cappts = *cap;
	}
	return SVT_OK;
}

/* Frame s->k's depth map, when it has a usable one (see ingest_depth_path; a bad one is
 * reported and skipped: the frame itself stays good): decoded into the worker's w->dimg and
 * described in *d, *have = 1. dpath gets its path. */
static int frame_depth_decode(ds_worker *w, ds_slot *s, char *dpath, size_t cap, gpu_depth *d,
			      int *have, svt_err *err)
{
	*have = 0;
	if (!ingest_depth_path(s->path, dpath, cap))
		return SVT_OK;
	return depth_decode(w, dpath, &w->dimg, d, have, err);
}

/* The frame's views: the colour view of the panorama and, with a depth map d (NULL: none)
 * and a depth view wanted, its depth view as z-depth (s->vdepth; zeros without a depth map).
 * On the C path both in one pass over the rows (gpu_view_from_equirect_depth). */
static int frame_views(ds_worker *w, ds_slot *s, const gpu_image *src, gpu_image *dst,
		       const gpu_depth *d, const char *dpath, svt_err *err)
{
	dataset_job *j = w->pool->j;
	const gpu_view *v = &s->v;
	size_t ds = (size_t)v->width * sizeof(float);
	int rc;
	if (s->vdepth && d && !w->pool->serial_gpu) {
		gpu_lock(w->pool);
		rc = gpu_view_from_equirect_depth(j->gpu, src, v, dst, d, s->vdepth, ds, err);
		gpu_unlock(w->pool);
		return rc ? svt_err_prefix(err, "views of %s and %s", s->path, dpath) : SVT_OK;
	}
	gpu_lock(w->pool);
	rc = gpu_view_from_equirect(j->gpu, src, v, dst, err);
	gpu_unlock(w->pool);
	if (rc)
		return svt_err_prefix(err, "view of %s", s->path);
	if (s->vdepth && !d)
		memset(s->vdepth, 0, (size_t)v->width * (size_t)v->height * sizeof(float));
	else if (s->vdepth) {
		gpu_lock(w->pool);
		rc = gpu_view_depth_from_equirect(j->gpu, d, v, s->vdepth, ds, err);
		gpu_unlock(w->pool);
		if (rc)
			return svt_err_prefix(err, "depth view of %s", dpath);
	}
	return SVT_OK;
}

/* Frame s->k's depth map d back-projected with its panorama's colours into the job's ENU
 * frame (s->pts). */
static int frame_points(ds_worker *w, ds_slot *s, const ingest_image *pano, const gpu_depth *d,
			const char *dpath, svt_err *err)
{
	dataset_job *j = w->pool->j;
	size_t cap;
	int rc = slot_points_reserve(w->pool, s, d->width, d->height, &cap, err);
	if (rc)
		return rc;
	gpu_image color = {pano->data, pano->width, pano->height, pano->channels, pano->stride};
	double c0 = svt_thread_cpu();
	gpu_lock(w->pool);
	rc = gpu_depth_to_points(j->gpu, d, &color, j->tf[s->k].w2c, s->pts, cap, &s->npts, err);
	gpu_unlock(w->pool);
	w->cpu_points += svt_thread_cpu() - c0;
	if (rc)
		return svt_err_prefix(err, "points of %s", dpath);
	s->depth_used = 1;
	return SVT_OK;
}

/* A perspective frame cut into the view (dst) with the photo's own camera: the camera of the
 * decoded (oriented) pixels, scaled when the decoder's size differs from the file's, fitted
 * to the view size; s->v gets the view's K, s->Rv the photo's rotation. */
static int frame_pinhole(const dataset_job *j, const ingest_frame *fr, const gpu_image *src,
			 gpu_image *dst, ds_slot *s, svt_err *err)
{
	ingest_camera oc;
	ingest_camera_orient(&fr->camera, fr->meta.orientation, &oc);
	double sx = oc.width > 0 ? (double)src->width / oc.width : 1.0;
	double sy = oc.height > 0 ? (double)src->height / oc.height : 1.0;
	gpu_pinhole_cam sc = {.width = src->width, .height = src->height,
			      .fx = oc.fx * sx, .fy = oc.fy * sy, .cx = oc.cx * sx, .cy = oc.cy * sy,
			      .k1 = oc.k1, .k2 = oc.k2, .p1 = oc.p1, .p2 = oc.p2, .k3 = oc.k3};
	gpu_pinhole_cam vc;
	int rc = gpu_pinhole_fit(&sc, j->o.width, j->o.height, &vc, err);
	if (!rc)
		rc = gpu_pinhole_resample_ref(src, &sc, &vc, 1, dst, err);
	if (rc)
		return rc;
	memset(&s->v, 0, sizeof(s->v));
	s->v.width = vc.width;
	s->v.height = vc.height;
	s->v.fx = vc.fx;
	s->v.fy = vc.fy;
	s->v.cx = vc.cx;
	s->v.cy = vc.cy;
	memcpy(s->Rv, j->pano_R + 9 * s->k, sizeof(s->Rv));
	return SVT_OK;
}

/* s->v and s->Rv for a panorama frame: the view camera's rotation relative to the panorama. */
static void pano_view_setup(const dataset_job *j, ds_slot *s)
{
	double R[9];
	view_rotation(j, &j->buf[s->b], s->k, s->Rv);
	geo_rot_relative(j->pano_R + 9 * s->k, s->Rv, R);
	gpu_view_pinhole(&s->v, j->o.width, j->o.height, j->o.hfov_deg);
	memcpy(s->v.R, R, sizeof(R));
	s->v.interp = GPU_INTERP_BILINEAR;
	s->v.antialias = 1;
}

/* Frame t's camera in the clip's arrays (w2c, K, heading) from its slot's view. */
static void slot_pose(dataset_job *j, ds_buf *B, int t)
{
	const ds_slot *s = &B->slots[t];
	geo_pose_w2c(j->tf[s->k].enu, s->Rv, B->w2c + 16 * t);
	B->K[4 * t + 0] = s->v.fx;
	B->K[4 * t + 1] = s->v.fy;
	B->K[4 * t + 2] = s->v.cx;
	B->K[4 * t + 3] = s->v.cy;
	B->heading[t] = fmod(view_heading(j, B, s->k) + 360.0, 360.0);
}

/* Clears a slot's results before its frame runs. */
static void slot_reset(ds_slot *s)
{
	s->failed = s->warning = s->rc = s->depth_used = s->encoded = 0;
	s->fail_reason = INGEST_REJ_UNDECODABLE;
	s->npts = 0;
	s->why[0] = '\0';
	svt_err_clear(&s->err);
}

/* With s->own_bufs: the worker's own view buffers for the frame (allocated once, reused). */
static int worker_bufs(ds_worker *w, ds_slot *s)
{
	const dataset_opts *o = &w->pool->j->o;
	size_t px = (size_t)o->width * (size_t)o->height;
	if (!w->view && !(w->view = malloc(3 * px)))
		return svt_err_set(&s->err, SVT_E_NOMEM, "no memory for a view");
	if (s->want_vdepth && !w->vdepth && !(w->vdepth = malloc(px * sizeof(float))))
		return svt_err_set(&s->err, SVT_E_NOMEM, "no memory for a depth view");
	s->view = w->view;
	s->vdepth = s->want_vdepth ? w->vdepth : NULL;
	return SVT_OK;
}

/* Chunks for slot s (its own if it still holds some: a clip cut again after a reject). */
static int enc_take(ds_workers *p, ds_slot *s)
{
	if (s->enc)
		return SVT_OK;
	pthread_mutex_lock(&p->mu);
	if ((s->enc = p->free_enc))
		p->free_enc = s->enc->next;
	pthread_mutex_unlock(&p->mu);
	if (!s->enc && !(s->enc = calloc(1, sizeof(*s->enc))))
		return svt_err_set(&s->err, SVT_E_NOMEM, "no memory for a frame's chunks");
	return SVT_OK;
}

/* Slot s's chunks back to the free list (s->encoded is cleared: the slot holds none). */
static void enc_give(ds_workers *p, ds_slot *s)
{
	if (!s->enc)
		return;
	pthread_mutex_lock(&p->mu);
	s->enc->next = p->free_enc;
	p->free_enc = s->enc;
	s->enc = NULL;
	s->encoded = 0;
	pthread_mutex_unlock(&p->mu);
}

static void enc_free(ds_enc *e)
{
	if (!e)
		return;
	fmt_chunk_free(&e->view);
	fmt_chunk_free(&e->depth);
	free(e);
}

/* With s->encode: the frame's views as the shard's chunks, on this worker (its CPU time
 * kept apart from the views'). */
static void frame_encode(ds_worker *w, ds_slot *s)
{
	if (!s->encode)
		return;
	dataset_job *j = w->pool->j;
	double c0 = svt_thread_cpu();
	int rc = enc_take(w->pool, s);
	if (!rc)
		rc = fmt_writer_encode_frame(j->writer, j->o.width, j->o.height, s->view,
					     &s->enc->view, &s->err);
	if (!rc && s->vdepth)
		rc = fmt_writer_encode_depth(j->writer, j->o.width, j->o.height, s->vdepth,
					     &s->enc->depth, &s->err);
	w->cpu_encode += svt_thread_cpu() - c0;
	if (rc) {
		svt_err_prefix(&s->err, "encoding %s", s->path);
		s->rc = rc;
		return;
	}
	s->encoded = 1;
}

/* All the work of one frame, on a worker. */
static void frame_run(ds_worker *w, ds_slot *s)
{
	dataset_job *j = w->pool->j;
	const dataset_opts *o = &j->o;
	slot_reset(s);
	ingest_decode_opts dopts;
	ingest_decode_opts_default(&dopts);
	dopts.want_channels = 3;
	svt_err ferr = {0};
	int warning = 0;
	int rc = w->dec ? SVT_OK : ingest_decoder_create(&w->dec, &s->err);
	if (rc) {
		s->rc = rc;
		return;
	}
	const ingest_frame *fr = &j->cap->frames[j->cap_idx[s->k]];
	int pano = fr->camera.model != INGEST_CAM_PINHOLE;
	if (pano)
		pano_view_setup(j, s);
	/* A panorama's depth map first (its views are cut together); a panorama whose colours
	 * feed no points (none asked, or no depth map to give them) is read only where its view
	 * looks (about a tenth of it for a 90-degree view): the decoder skips the rest
	 * (gpu_view_source_box). */
	char dpath[4096] = "";
	gpu_depth d;
	int have_d = 0;
	if (pano && (s->points || s->vdepth || s->want_vdepth) &&
	    (rc = frame_depth_decode(w, s, dpath, sizeof(dpath), &d, &have_d, &s->err))) {
		s->rc = rc;
		return;
	}
	if (pano && !(s->points && have_d) && fr->meta.width > 0 && fr->meta.height > 0) {
		gpu_view_source_box(&s->v, fr->meta.width, fr->meta.height, dopts.roi);
		dopts.roi_w = fr->meta.width;
		dopts.roi_h = fr->meta.height;
	}
	if (ingest_decode_file(w->dec, s->path, &dopts, &w->img, &warning, &ferr) ||
	    (warning && !o->keep_corrupt)) {
		snprintf(s->why, sizeof(s->why), "%s%s", warning ? "decoded with warnings: " : "",
			 ferr.msg);
		s->failed = 1;
		return;
	}
	s->warning = warning;
	if (s->own_bufs && (rc = worker_bufs(w, s))) {
		s->rc = rc;
		return;
	}
	const ingest_image *img = &w->img;
	gpu_image src = {img->data, img->width, img->height, img->channels, img->stride};
	gpu_image dst = {s->view, o->width, o->height, 3, (size_t)o->width * 3};
	if (!pano) {
		/* A perspective photo is its own view: undistorted, resized and centre-cropped to
		 * the view size (gpu_pinhole_fit: K exact for the stored pixels), looking where
		 * the photo looks (its heading, or the track's: pano_R). */
		rc = frame_pinhole(j, fr, &src, &dst, s, &ferr);
		if (rc) {
			snprintf(s->why, sizeof(s->why), "camera: %s", ferr.msg);
			s->failed = 1;
			s->fail_reason = INGEST_REJ_NO_CAMERA;
			return;
		}
		frame_encode(w, s);
		return;
	}
	rc = frame_views(w, s, &src, &dst, have_d ? &d : NULL, dpath, &s->err);
	if (!rc && s->points && have_d)
		rc = frame_points(w, s, img, &d, dpath, &s->err);
	if (rc) {
		s->rc = rc;
		return;
	}
	frame_encode(w, s);
}

/* Makes cw hold T frames. */
static int clipwork_reserve(ds_clipwork *cw, int T, svt_err *err)
{
	if (cw->cap >= T)
		return SVT_OK;
	gpu_frame *f = realloc(cw->f, (size_t)T * sizeof(*f));
	if (f)
		cw->f = f;
	int *sl = realloc(cw->slot, (size_t)T * sizeof(*sl));
	if (sl)
		cw->slot = sl;
	uint8_t **fi = realloc(cw->file, (size_t)T * sizeof(*fi));
	if (fi)
		cw->file = fi;
	ingest_image *pa = realloc(cw->pano, (size_t)T * sizeof(*pa));
	if (pa)
		cw->pano = pa;
	ingest_image *di = realloc(cw->dimg, (size_t)T * sizeof(*di));
	if (di)
		cw->dimg = di;
	gpu_depth *d = realloc(cw->d, (size_t)T * sizeof(*d));
	if (d)
		cw->d = d;
	gpu_image *gi = realloc(cw->gimg, (size_t)T * sizeof(*gi));
	if (gi)
		cw->gimg = gi;
	gpu_frame *fs = realloc(cw->fs, (size_t)T * sizeof(*fs));
	if (fs)
		cw->fs = fs;
	int *rd = realloc(cw->ready, (size_t)T * sizeof(*rd));
	if (rd)
		cw->ready = rd;
	if (!f || !sl || !fi || !pa || !di || !d || !gi || !fs || !rd)
		return svt_err_set(err, SVT_E_NOMEM, "no memory for a batch of %d frames", T);
	for (int t = cw->cap; t < T; t++) {
		cw->file[t] = NULL;
		memset(&cw->pano[t], 0, sizeof(cw->pano[t]));
		memset(&cw->dimg[t], 0, sizeof(cw->dimg[t]));
	}
	cw->cap = T;
	return SVT_OK;
}

static void clipwork_free(ds_clipwork *cw)
{
	for (int t = 0; t < cw->cap; t++) {
		free(cw->file[t]);
		ingest_image_free(&cw->pano[t]);
		ingest_image_free(&cw->dimg[t]);
	}
	free(cw->f);
	free(cw->slot);
	free(cw->file);
	free(cw->pano);
	free(cw->dimg);
	free(cw->d);
	free(cw->gimg);
	free(cw->fs);
	free(cw->ready);
	memset(cw, 0, sizeof(*cw));
}

/* The CPU part of panorama frame s (clip position t) for the batch: its file's bytes (a JPEG
 * the batch decodes) or its pixels decoded here (not a JPEG, or EXIF-oriented: the ingest
 * decoder's rules), its view, its depth map. 1 when f is ready; 0 when the frame failed (s
 * says why) or on a job error (s->rc). */
static int clip_frame_prep(ds_worker *w, ds_slot *s, ds_clipwork *cw, int t, gpu_frame *f)
{
	dataset_job *j = w->pool->j;
	const ingest_frame *fr = &j->cap->frames[j->cap_idx[s->k]];
	ingest_decode_opts dopts;
	ingest_decode_opts_default(&dopts);
	dopts.want_channels = 3;
	svt_err ferr = {0};
	size_t len = 0;
	int rc;
	memset(f, 0, sizeof(*f));
	free(cw->file[t]);
	cw->file[t] = NULL;
	if (svt_file_read(s->path, dopts.limits.max_file_bytes, &cw->file[t], &len, &ferr)) {
		snprintf(s->why, sizeof(s->why), "%s", ferr.msg);
		s->failed = 1;
		return 0;
	}
	const uint8_t *b = cw->file[t];
	if (len >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF && fr->meta.orientation < 2) {
		f->jpeg = b;
		f->jpeg_len = len;
	} else {
		int warning = 0;
		if (!w->dec && (rc = ingest_decoder_create(&w->dec, &s->err))) {
			s->rc = rc;
			return 0;
		}
		if (ingest_decode_mem(w->dec, b, len, &dopts, &cw->pano[t], &warning, &ferr) ||
		    (warning && !j->o.keep_corrupt)) {
			snprintf(s->why, sizeof(s->why), "%s%s", warning ? "decoded with warnings: " : "",
				 ferr.msg);
			s->failed = 1;
			return 0;
		}
		s->warning = warning;
		const ingest_image *im = &cw->pano[t];
		cw->gimg[t] = (gpu_image){im->data, im->width, im->height, im->channels, im->stride};
		f->pano = &cw->gimg[t];
	}
	pano_view_setup(j, s);
	f->view = s->v;
	f->out = (gpu_image){s->view, j->o.width, j->o.height, 3, (size_t)j->o.width * 3};
	/* The depth map, decoded here (PNG on the CPU); a frame without a usable one gets a
	 * zero depth view, as on the per-frame path. */
	char dpath[4096];
	int usable = 0;
	if ((s->points || s->vdepth) && ingest_depth_path(s->path, dpath, sizeof(dpath)) &&
	    (rc = depth_decode(w, dpath, &cw->dimg[t], &cw->d[t], &usable, &s->err))) {
		s->rc = rc;
		return 0;
	}
	if (!usable) {
		if (s->vdepth)
			memset(s->vdepth, 0, (size_t)j->o.width * j->o.height * sizeof(float));
		return 1;
	}
	f->depth = &cw->d[t];
	f->vdepth = s->vdepth;
	f->vdepth_stride = (size_t)j->o.width * sizeof(float);
	if (s->points) {
		if ((rc = slot_points_reserve(w->pool, s, cw->d[t].width, cw->d[t].height, &f->cap,
					      &s->err))) {
			s->rc = rc;
			return 0;
		}
		f->pts = s->pts;
		memcpy(f->w2c, j->tf[s->k].w2c, sizeof(f->w2c));
	}
	return 1;
}

/* The CPU part of clip position s for the frame batch, on any worker (the clip's positions
 * run side by side): a perspective photo takes the whole per-frame path (it is its own view),
 * a panorama clip_frame_prep. */
static void clip_prep(ds_worker *w, ds_slot *s)
{
	dataset_job *j = w->pool->j;
	ds_clipwork *cw = &w->pool->cw[s->b];
	int t = (int)(s - j->buf[s->b].slots);
	slot_reset(s);
	cw->ready[t] = 0;
	if (j->cap->frames[j->cap_idx[s->k]].camera.model == INGEST_CAM_PINHOLE)
		frame_run(w, s);
	else
		cw->ready[t] = clip_frame_prep(w, s, cw, t, &cw->fs[t]);
}

/* The clip (T slots from s0) through the frame batch once every position is prepared: one
 * gpu_frame_batch_run (one at a time on the context), then the frames' outcomes into their
 * slots with the per-frame path's rules (a decode warning rejects unless keep_corrupt). */
static void clip_batch(ds_worker *w, ds_slot *s0, int T)
{
	ds_workers *p = w->pool;
	dataset_job *j = p->j;
	ds_clipwork *cw = &p->cw[s0->b];
	int m = 0, rc;
	svt_err err = {0};
	for (int t = 0; t < T; t++) {
		if (s0[t].rc)
			goto cleanup; /* a job error: ds_views_wait reports it */
		if (cw->ready[t]) {
			cw->f[m] = cw->fs[t];
			cw->slot[m++] = t;
		}
	}
	/* The batch's decoder is one (fb_mu); on CUDA the context's stream too (gpu_mu, which
	 * the per-frame calls of perspective photos and of a fallen-back clip take). */
	pthread_mutex_lock(&p->fb_mu);
	gpu_lock(p);
	rc = gpu_frame_batch_run(p->fb, cw->f, m, &err);
	gpu_unlock(p);
	pthread_mutex_unlock(&p->fb_mu);
	if (rc) {
		/* The batch failed on the device: this clip frame by frame (every dispatcher there
		 * has its own C fallback); a lost context fails those calls too, and the job. */
		svt_log_warn("views: the frame batch of the clip from %s failed (%s): its frames go "
			     "one by one", s0->path, err.msg);
		for (int i = 0; i < m; i++)
			frame_run(w, s0 + cw->slot[i]);
		goto cleanup;
	}
	for (int i = 0; i < m; i++) {
		ds_slot *s = s0 + cw->slot[i];
		const gpu_frame *f = &cw->f[i];
		if (f->rc || (f->warning && !j->o.keep_corrupt)) {
			snprintf(s->why, sizeof(s->why), "%s%s", f->warning ? "decoded with warnings: " : "",
				 f->msg);
			s->failed = 1;
			continue;
		}
		s->warning |= f->warning;
		if (f->depth && s->points) {
			s->npts = f->npts;
			s->depth_used = 1;
		}
	}
cleanup:
	for (int t = 0; t < T; t++) {
		free(cw->file[t]);
		cw->file[t] = NULL;
	}
}

/* Buffer b's slots. */
static ds_slot *j_slots(ds_workers *p, int b)
{
	return p->j->buf[b].slots;
}

static void *worker_main(void *arg)
{
	ds_worker *w = arg;
	ds_workers *p = w->pool;
	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (!p->stop && p->qlen == 0)
			pthread_cond_wait(&p->work, &p->mu);
		if (p->stop)
			break;
		ds_slot *s = p->queue[p->qhead];
		p->qhead = (p->qhead + 1) % p->qcap;
		p->qlen--;
		pthread_mutex_unlock(&p->mu);
		int done_n = 1;
		svt_gate_enter(p->j->gate);
		double c0 = svt_thread_cpu();
		if (p->fb) {
			/* Frame batch: the worker that prepares a clip's last position runs the
			 * clip's batch; the clip is finished when that is done. */
			clip_prep(w, s);
			pthread_mutex_lock(&p->mu);
			int T = p->submitted[s->b], last = ++p->prepared[s->b] == T;
			pthread_mutex_unlock(&p->mu);
			if (last)
				clip_batch(w, j_slots(p, s->b), T);
			done_n = last ? T : 0;
		} else {
			frame_run(w, s);
		}
		w->cpu_frames += svt_thread_cpu() - c0;
		svt_gate_leave(p->j->gate);
		pthread_mutex_lock(&p->mu);
		p->finished[s->b] += done_n;
		if (done_n) {
			/* Every finished position wakes the main thread (ds_views_frame_wait
			 * takes frames in clip order as they come). */
			ds_slot *s0 = j_slots(p, s->b);
			if (done_n == 1)
				s->done = 1;
			else
				for (int t = 0; t < done_n; t++)
					s0[t].done = 1;
			pthread_cond_broadcast(&p->done);
		}
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

int ds_workers_create(dataset_job *j, int n, ds_workers **out, svt_err *err)
{
	*out = NULL;
	ds_workers *p = calloc(1, sizeof(*p));
	size_t T = (size_t)j->o.clip_frames;
	if (!p || !(p->w = calloc((size_t)n, sizeof(ds_worker))) ||
	    !(p->queue = calloc(2 * T, sizeof(ds_slot *))) ||
	    !(p->free_pts = calloc(2 * T, sizeof(*p->free_pts)))) {
		if (p) {
			free(p->w);
			free(p->queue);
		}
		free(p);
		return svt_err_set(err, SVT_E_NOMEM, "no memory for %d workers", n);
	}
	p->qcap = (int)(2 * T);
	p->j = j;
	p->serial_gpu = strcmp(gpu_ctx_backend(j->gpu), "cpu") != 0;
	pthread_mutex_init(&p->mu, NULL);
	pthread_mutex_init(&p->gpu_mu, NULL);
	pthread_mutex_init(&p->fb_mu, NULL);
	/* A CUDA context takes the clip seam (gpu_frame_batch: decode on the device, data kept
	 * there); SVT_FRAME_BATCH=1 takes it on the C path too. Where the seam cannot be made,
	 * the per-frame path runs, and the log says why once. */
	const char *fbe = getenv("SVT_FRAME_BATCH");
	if (p->serial_gpu || (fbe && strcmp(fbe, "1") == 0)) {
		svt_err ferr = {0};
		if (gpu_frame_batch_create(j->gpu, (int)T, &p->fb, &ferr))
			svt_log_warn("views: no frame batch (%s): frames go one by one", ferr.msg);
		else
			svt_log_info("views: clips in batches of %zu, %s", T,
				     gpu_frame_batch_describe(p->fb));
	}
	pthread_cond_init(&p->work, NULL);
	pthread_cond_init(&p->done, NULL);
	*out = p;
	for (int i = 0; i < n; i++) {
		p->w[i].pool = p;
		if (pthread_create(&p->w[i].th, NULL, worker_main, &p->w[i]) != 0)
			return svt_err_set(err, SVT_E_NOMEM, "cannot start worker %d of %d", i + 1, n);
		p->w[i].started = 1;
		p->n = i + 1;
	}
	return SVT_OK;
}

void ds_workers_destroy(ds_workers *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	p->stop = 1;
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->mu);
	for (int i = 0; i < p->n; i++)
		if (p->w[i].started)
			pthread_join(p->w[i].th, NULL);
	for (int i = 0; i < p->n; i++) {
		p->j->st.seconds_views_cpu +=
			p->w[i].cpu_frames - p->w[i].cpu_points - p->w[i].cpu_encode;
		ingest_decoder_destroy(p->w[i].dec);
		ingest_decoder_destroy(p->w[i].ddec);
		ingest_image_free(&p->w[i].img);
		ingest_image_free(&p->w[i].dimg);
		free(p->w[i].view);
		free(p->w[i].vdepth);
	}
	gpu_frame_batch_destroy(p->fb);
	for (int b = 0; b < 2; b++) {
		clipwork_free(&p->cw[b]);
		/* Pinned by buf_alloc / ds_views_submit for the batch's downloads. */
		gpu_ctx_host_unpin(p->j->gpu, p->j->buf[b].views);
		gpu_ctx_host_unpin(p->j->gpu, p->j->buf[b].vdepth);
	}
	for (int b = 0; b < 2; b++) {
		ds_slot *sl = p->j->buf[b].slots;
		for (int t = 0; sl && t < p->j->o.clip_frames; t++) {
			free(sl[t].pts);
			enc_free(sl[t].enc);
		}
		free(sl);
		p->j->buf[b].slots = NULL;
	}
	while (p->free_enc) {
		ds_enc *e = p->free_enc;
		p->free_enc = e->next;
		enc_free(e);
	}
	for (int i = 0; i < p->nfree_pts; i++)
		free(p->free_pts[i].p);
	free(p->free_pts);
	pthread_mutex_destroy(&p->mu);
	pthread_mutex_destroy(&p->gpu_mu);
	pthread_mutex_destroy(&p->fb_mu);
	pthread_cond_destroy(&p->work);
	pthread_cond_destroy(&p->done);
	free(p->queue);
	free(p->w);
	free(p);
}

/* Appends n points to the job's queue for the twin. */
static int points_queue(dataset_job *j, const gpu_point *pts, size_t n, svt_err *err)
{
	if (j->npts + n > j->cappts) {
		size_t nc = j->cappts ? j->cappts : 1 << 16;
		while (nc < j->npts + n)
			nc *= 2;
		gpu_point *p = realloc(j->pts, nc * sizeof(*p));
		if (!p)
			return svt_err_set(err, SVT_E_NOMEM, "no memory for %zu points", nc);
		j->pts = p;
		j->cappts = nc;
	}
	memcpy(j->pts + j->npts, pts, n * sizeof(*pts));
	j->npts += n;
	return SVT_OK;
}

/* Appends store frame f to the frames whose points are queued. */
static int frame_queue(dataset_job *j, size_t f, svt_err *err)
{
	if (j->npfr == j->cappfr) {
		size_t nc = j->cappfr ? 2 * j->cappfr : 256;
		size_t *p = realloc(j->pfr, nc * sizeof(*p));
		if (!p)
			return svt_err_set(err, SVT_E_NOMEM, "no memory for %zu frames", nc);
		j->pfr = p;
		j->cappfr = nc;
	}
	j->pfr[j->npfr++] = f;
	return SVT_OK;
}

/* Slot s's share of the twin, once: its frame marked fused and queued, its points with it;
 * then its point buffer goes back to the pool (the copy in the queue is the one fused). */
static int slot_points_take(dataset_job *j, ds_slot *s, svt_err *err)
{
	if (s->taken)
		return SVT_OK;
	int rc = SVT_OK;
	if (s->points) {
		/* Fused once: a frame cut again after a reject in its clip adds nothing. */
		j->points_done[s->k] = 1;
		if ((rc = frame_queue(j, j->store_first + s->k, err)))
			return rc;
		if (s->depth_used) {
			j->st.depth_frames++;
			if ((rc = points_queue(j, s->pts, s->npts, err)))
				return rc;
		}
	}
	s->taken = 1;
	ds_workers *p = j->workers;
	if (s->pts) {
		pthread_mutex_lock(&p->mu);
		/* At most one buffer per slot exists, so the stack (2 T) has room. */
		p->free_pts[p->nfree_pts++] = (struct pts_buf){s->pts, s->cappts};
		pthread_mutex_unlock(&p->mu);
		s->pts = NULL;
		s->cappts = 0;
	}
	return SVT_OK;
}

/* Whether the clip's raw views are kept whole in its buffer: the frame batch writes them
 * there from the device, densify reads them to make the in-between frames; otherwise each
 * frame is encoded on its worker (ds_slot.encode) and only its chunks are kept. */
static int raw_views(const dataset_job *j)
{
	return j->workers->fb || j->o.densify != DATASET_DENSIFY_NONE;
}

/* Buffer b's memory, allocated with its first clip. */
static int buf_alloc(dataset_job *j, ds_buf *B, svt_err *err)
{
	const dataset_opts *o = &j->o;
	size_t T = (size_t)o->clip_frames;
	if (B->slots)
		return SVT_OK;
	if (raw_views(j) && !(B->views = malloc(T * (size_t)o->width * (size_t)o->height * 3)))
		return svt_err_set(err, SVT_E_NOMEM, "no memory for a clip of %zu views", T);
	B->w2c = calloc(16 * T, sizeof(double));
	B->K = calloc(4 * T, sizeof(double));
	B->heading = calloc(T, sizeof(double));
	B->slots = calloc(T, sizeof(ds_slot));
	if (!B->w2c || !B->K || !B->heading || !B->slots)
		return svt_err_set(err, SVT_E_NOMEM, "no memory for a clip of %zu views", T);
	/* Pinned once for the run: the device writes the clip's views straight into it. */
	if (j->workers->fb)
		gpu_ctx_host_pin(j->gpu, B->views, T * (size_t)o->width * (size_t)o->height * 3);
	return SVT_OK;
}

int ds_views_submit(dataset_job *j, int b, const size_t *kidx, int T, int write, svt_err *err)
{
	const dataset_opts *o = &j->o;
	ds_workers *p = j->workers;
	ds_buf *B = &j->buf[b];
	int rc = buf_alloc(j, B, err);
	if (rc)
		return rc;
	/* The shard holds depth for a clip only when every one of its frames has a depth map. */
	char dpath[4096];
	B->yaw_off = ds_view_yaw(j, kidx[0]);
	B->clip_depth = 1;
	B->camera_model = NULL;
	int photos = 0; /* perspective frames: their cameras come from their pixels */
	for (int t = 0; t < T; t++) {
		const ingest_frame *fr = &j->cap->frames[j->cap_idx[kidx[t]]];
		const char *m = ingest_camera_model_name(fr->camera.model);
		photos += fr->camera.model == INGEST_CAM_PINHOLE;
		if (!B->camera_model)
			B->camera_model = m;
		else if (strcmp(B->camera_model, m))
			B->camera_model = "mixed";
		/* Depth maps are equirectangular (GPU_DEPTH_EQUIRECT): panoramas only. */
		if (B->clip_depth)
			B->clip_depth = fr->camera.model != INGEST_CAM_PINHOLE &&
					ingest_depth_path(fr->path, dpath, sizeof(dpath));
	}
	int raw = raw_views(j);
	if (raw && B->clip_depth && !B->vdepth) {
		B->vdepth = malloc((size_t)o->clip_frames * o->width * o->height * sizeof(float));
		if (!B->vdepth)
			return svt_err_set(err, SVT_E_NOMEM, "no memory for a clip's depth views");
		if (p->fb)
			gpu_ctx_host_pin(j->gpu, B->vdepth,
					 (size_t)o->clip_frames * o->width * o->height * sizeof(float));
	}
	size_t view_bytes = (size_t)o->width * (size_t)o->height * 3;
	size_t depth_px = (size_t)o->width * o->height;
	if (p->fb && (rc = clipwork_reserve(&p->cw[b], T, err)))
		return rc;
	/* A clip of panoramas whose frames are encoded on the workers can go to the writer as
	 * its frames come (ds_clips.c): its cameras do not depend on the pixels, so they are
	 * set here, before any frame runs (the workers set the same values again). */
	B->stream = write && !raw && T > 0 && !photos;
	pthread_mutex_lock(&p->mu);
	p->submitted[b] = T;
	p->finished[b] = 0;
	p->prepared[b] = 0;
	for (int t = 0; t < T; t++) {
		ds_slot *s = &B->slots[t];
		s->b = b;
		s->k = kidx[t];
		s->path = j->cap->frames[j->cap_idx[s->k]].path;
		/* Depth is fused once per frame, whichever run does it (the twin records the
		 * fused frames with the points): not again on a rebuild (that would count its
		 * points twice and mark its tiles changed); a frame shared with the clip before
		 * (stride < frames) was fused there. */
		s->points = j->store && !j->points_done[s->k] &&
			    j->cap->frames[j->cap_idx[s->k]].camera.model != INGEST_CAM_PINHOLE;
		s->own_bufs = !raw;
		s->encode = !raw && write;
		s->want_vdepth = B->clip_depth;
		s->vdepth = raw && B->clip_depth ? B->vdepth + t * depth_px : NULL;
		s->view = raw ? B->views + t * view_bytes : NULL;
		s->done = 0;
		s->taken = 0;
		if (B->stream) {
			pano_view_setup(j, s);
			slot_pose(j, B, t);
		}
		p->queue[(p->qhead + p->qlen) % p->qcap] = s;
		p->qlen++;
	}
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->mu);
	return SVT_OK;
}

int ds_views_frame_wait(dataset_job *j, int b, int t, int *good, svt_err *err)
{
	ds_workers *p = j->workers;
	ds_slot *s = &j->buf[b].slots[t];
	int paused = svt_gate_pause(j->gate);
	pthread_mutex_lock(&p->mu);
	while (!s->done)
		pthread_cond_wait(&p->done, &p->mu);
	*good = !s->rc && !s->failed && s->encoded;
	pthread_mutex_unlock(&p->mu);
	svt_gate_resume(j->gate, paused);
	/* A good frame's points are queued now rather than with the clip (ds_views_wait does
	 * the rest, in the same clip order), so its buffer serves the next frame. */
	return *good ? slot_points_take(j, s, err) : SVT_OK;
}

int ds_views_frame_put(dataset_job *j, int b, int t, int depth, svt_err *err)
{
	const ds_buf *B = &j->buf[b];
	ds_slot *s = &B->slots[t];
	if (s->encoded) {
		int rc = fmt_clip_frame_encoded(j->writer, t, &s->enc->view, err);
		if (!rc && depth)
			rc = fmt_clip_depth_encoded(j->writer, t, &s->enc->depth, err);
		/* Stored (the writer copied the chunks into the shard) or failed (the writer
		 * failed with it): either way the chunks are free for another frame. */
		enc_give(j->workers, s);
		return rc;
	}
	if (!B->views)
		return svt_err_set(err, SVT_E_INPUT, "frame %d of the clip was neither encoded nor "
				   "kept", t);
	size_t px = (size_t)j->o.width * (size_t)j->o.height;
	int rc = fmt_clip_frame(j->writer, t, B->views + t * 3 * px, err);
	if (!rc && depth)
		rc = fmt_clip_depth(j->writer, t, B->vdepth + t * px, err);
	return rc;
}

int ds_views_wait(dataset_job *j, int b, int T, int *rejected, svt_err *err)
{
	ds_workers *p = j->workers;
	ds_buf *B = &j->buf[b];
	*rejected = 0;
	/* Waiting, the main thread's place in the gate goes to the workers. */
	int paused = svt_gate_pause(j->gate);
	pthread_mutex_lock(&p->mu);
	while (p->finished[b] < p->submitted[b])
		pthread_cond_wait(&p->done, &p->mu);
	p->submitted[b] = p->finished[b] = 0;
	pthread_mutex_unlock(&p->mu);
	svt_gate_resume(j->gate, paused);

	/* In clip order, whatever order the workers finished in. */
	for (int t = 0; t < T; t++) {
		ds_slot *s = &B->slots[t];
		if (s->rc) {
			if (err)
				*err = s->err;
			return s->rc;
		}
	}
	int rc = SVT_OK;
	for (int t = 0; t < T; t++) {
		ds_slot *s = &B->slots[t];
		if (s->failed) {
			svt_log_warn("%s: %s", s->path, s->why);
			ds_reject_late(j, s->k, s->fail_reason, s->why);
			*rejected = 1;
		} else if ((rc = slot_points_take(j, s, err))) {
			return rc;
		}
	}
	if (*rejected)
		return SVT_OK;
	for (int t = 0; t < T; t++) {
		if (B->slots[t].warning)
			j->st.decode_warnings++;
		slot_pose(j, B, t);
		ds_report_progress(j, 1);
	}
	return SVT_OK;
}
