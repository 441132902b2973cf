/* pipeline.c: `svtwin build`, the main job. Stages, each a module call:
 *   ingest_capture_scan      frames + metadata + checks (rejects with reasons)
 *   geo_crs / geo_enu        WGS84 -> projected CRS and the dataset's ENU frame, in batches
 *   geo_rot_from_hpr         panorama poses and view poses (OpenCV world-to-camera)
 *   twin_clips_assemble      clips of consecutive frames, never across a sequence cut
 *   ingest_pool              decoding on worker threads, bounded memory
 *   gpu_view_from_equirect   one perspective view per frame (CUDA or the C reference)
 *   fmt_writer               shards written as .tmp, renamed when complete, manifest last
 * A frame that fails at any stage is reported and dropped; the job goes on.
 */
#include "cli/pipeline.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "formats/formats.h"
#include "geo/geo.h"
#include "gpu/gpu.h"
#include "ingest/ingest.h"
#include "twin/twin.h"

void pipeline_opts_default(pipeline_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->epsg = GEO_EPSG_DEFAULT;
	o->clip_frames = 57;
	o->width = 1280;
	o->height = 704;
	o->hfov_deg = 90.0;
	o->view_dir = PIPELINE_VIEW_TRAVEL;
	o->val_frac = 0.1;
	o->test_frac = 0.1;
	o->seed = 1;
	o->split_buffer_m = 50.0;
}

/* Everything the job holds; one struct so one cleanup path frees it all. */
typedef struct job {
	const pipeline_opts *o;
	ingest_capture *cap;
	size_t n;            /* kept frames */
	size_t *cap_idx;     /* kept frame -> capture frame */
	twin_frame *tf;      /* kept frames, georeferenced */
	double *travel;      /* direction of travel per kept frame, degrees */
	double *pano_R;      /* panorama camera-to-ENU rotation per kept frame, 9 each */
	unsigned char *alive;
	geo_crs *crs;
	geo_enu *enu;
	gpu_ctx *gpu;
	fmt_writer *writer;
	fmt_shard_info info;
	twin_store *store;   /* the persistent twin the shards are cut from */
	size_t store_first;  /* store index of kept frame 0 (SIZE_MAX: not in the store) */
	int capture_new;     /* the capture entered the store in this run: its depth is fused */
	long *district, *dong; /* per kept frame: feature of the layer, or -1 */
	const twin_layer *districts, *dongs;
	twin_split_opts split;
	size_t clips_dropped, split_counts[TWIN_SPLIT_COUNT];
	char name[64];       /* capture name, the prefix of clip ids */
	/* per-clip buffers, sized for the largest clip */
	uint8_t *views;
	double *w2c, *K, *llh, *proj, *heading, *dist;
	int64_t *time_us;
	/* depth -> points fused into the twin's tiles, once per frame */
	ingest_decoder *depth_dec;
	ingest_image depth_img;
	gpu_point *pts;
	size_t npts, cappts, points_total, depth_frames;
	unsigned char *points_done;
	int clip_depth;      /* the clip being cut has a depth map for every frame */
	float *vdepth;       /* its depth views, clip_frames x H x W metres */
	/* tallies */
	size_t clips_written, frames_written, decode_warnings, clips_resumed;
	/* every clip of this run (written or resumed): its tiles are recorded in the twin at
	 * the end, once all points are fused, so that a later change marks exactly its shards */
	struct clip_rec {
		char id[64];
		int n, seq;
		size_t *kidx;
	} *recs;
	size_t nrecs, caprecs;
	svt_progress prog;
} job;

static double wrap360(double a)
{
	a = fmod(a, 360.0);
	return a < 0 ? a + 360.0 : a;
}

static int job_scan(job *j, svt_err *err)
{
	ingest_scan_opts so;
	ingest_scan_opts_default(&so);
	so.track_path = j->o->track;
	so.track_offset_s = j->o->track_offset_s;
	so.reject_warnings = !j->o->keep_corrupt;
	if (j->o->threads > 0)
		so.threads = j->o->threads;
	int rc = ingest_capture_scan(j->o->capture, &so, &j->cap, err);
	if (rc)
		return svt_err_prefix(err, "scanning %s", j->o->capture);
	svt_log_info("scanned %zu frames in %s: %zu kept", j->cap->n, j->o->capture,
		     j->cap->n_kept);
	return SVT_OK;
}

/* Positions in the projected CRS and the ENU frame, in batches; headings and panorama poses. */
static int job_georeference(job *j, svt_err *err)
{
	size_t n = 0;
	for (size_t i = 0; i < j->cap->n; i++)
		n += j->cap->frames[i].reason == INGEST_OK;
	j->n = n;
	if (n == 0)
		return svt_err_set(err, SVT_E_INPUT, "no usable frame in %s (see rejects.jsonl)",
				   j->o->capture);
	j->cap_idx = calloc(n, sizeof(*j->cap_idx));
	j->tf = calloc(n, sizeof(*j->tf));
	j->travel = calloc(n, sizeof(double));
	j->pano_R = calloc(9 * n, sizeof(double));
	j->alive = calloc(n, 1);
	j->points_done = calloc(n, 1);
	double *xyz = calloc(3 * n, sizeof(double));
	int rc = SVT_OK;
	if (!j->cap_idx || !j->tf || !j->travel || !j->pano_R || !j->alive || !j->points_done ||
	    !xyz) {
		rc = svt_err_set(err, SVT_E_NOMEM, "no memory for %zu frames", n);
		goto done;
	}
	for (size_t i = 0, k = 0; i < j->cap->n; i++)
		if (j->cap->frames[i].reason == INGEST_OK)
			j->cap_idx[k++] = i;

	for (size_t k = 0; k < n; k++) {
		const ingest_meta *m = &j->cap->frames[j->cap_idx[k]].meta;
		twin_frame *f = &j->tf[k];
		f->time_us = m->time_us;
		f->llh[0] = m->lat;
		f->llh[1] = m->lon;
		f->llh[2] = (m->has & INGEST_HAS_ALT) ? m->alt : 0.0;
		f->seq = j->cap->frames[j->cap_idx[k]].seq;
		f->src = (int)j->cap_idx[k];
		j->alive[k] = 1;
	}
	/* ENU origin: the first kept frame, so coordinates stay small and exact in float32
	 * consumers; recorded in every shard. */
	double lat0 = j->tf[0].llh[0], lon0 = j->tf[0].llh[1], h0 = j->tf[0].llh[2];
	if ((rc = geo_crs_create(j->o->epsg, &j->crs, err)) ||
	    (rc = geo_enu_create(lat0, lon0, h0, &j->enu, err)))
		goto done;

	for (size_t k = 0; k < n; k++) {
		xyz[3 * k + 0] = j->tf[k].llh[1];
		xyz[3 * k + 1] = j->tf[k].llh[0];
		xyz[3 * k + 2] = j->tf[k].llh[2];
	}
	if ((rc = geo_crs_forward(j->crs, xyz, xyz + 1, xyz + 2, 3 * sizeof(double), n, err)))
		goto done;
	for (size_t k = 0; k < n; k++)
		memcpy(j->tf[k].proj, xyz + 3 * k, 3 * sizeof(double));

	for (size_t k = 0; k < n; k++) {
		xyz[3 * k + 0] = j->tf[k].llh[1];
		xyz[3 * k + 1] = j->tf[k].llh[0];
		xyz[3 * k + 2] = j->tf[k].llh[2];
	}
	if ((rc = geo_enu_forward(j->enu, xyz, xyz + 1, xyz + 2, 3 * sizeof(double), n, err)))
		goto done;
	for (size_t k = 0; k < n; k++)
		memcpy(j->tf[k].enu, xyz + 3 * k, 3 * sizeof(double));

	/* Origin in the projected CRS, for the shard's root attributes. */
	double ox = lon0, oy = lat0, oz = h0;
	if ((rc = geo_crs_forward(j->crs, &ox, &oy, &oz, sizeof(double), 1, err)))
		goto done;
	j->info.crs_epsg = j->o->epsg;
	j->info.enu_origin_llh[0] = lat0;
	j->info.enu_origin_llh[1] = lon0;
	j->info.enu_origin_llh[2] = h0;
	j->info.enu_origin_proj[0] = ox;
	j->info.enu_origin_proj[1] = oy;
	j->info.enu_origin_proj[2] = oz;
	j->info.source = j->o->capture;

	/* Direction of travel: central difference within a sequence (one-sided at its ends). */
	for (size_t k = 0; k < n; k++) {
		size_t a = k, b = k;
		if (k > 0 && j->tf[k - 1].seq == j->tf[k].seq)
			a = k - 1;
		if (k + 1 < n && j->tf[k + 1].seq == j->tf[k].seq)
			b = k + 1;
		double de = j->tf[b].enu[0] - j->tf[a].enu[0];
		double dn = j->tf[b].enu[1] - j->tf[a].enu[1];
		j->travel[k] = (a == b || hypot(de, dn) < 1e-6) ? NAN : wrap360(atan2(de, dn) * 180.0 / M_PI);
	}

	/* Panorama heading: GPano pose first (it describes the pixels), then the EXIF image
	 * direction (magnetic turned true with the declination), then the track. */
	for (size_t k = 0; k < n; k++) {
		const ingest_meta *m = &j->cap->frames[j->cap_idx[k]].meta;
		double h = NAN, pitch = 0.0, roll = 0.0;
		if ((m->has & INGEST_HAS_GPANO) && isfinite(m->gpano.pose_heading)) {
			h = m->gpano.pose_heading;
			if (isfinite(m->gpano.pose_pitch))
				pitch = m->gpano.pose_pitch;
			if (isfinite(m->gpano.pose_roll))
				roll = m->gpano.pose_roll;
		} else if (m->has & INGEST_HAS_HEADING) {
			h = m->heading;
			if (m->heading_ref == 'M') {
				double year = 1970.0 + (double)m->time_us / 1e6 / (365.2425 * 86400.0);
				h += geo_declination_deg(m->lat, m->lon, year);
			}
		}
		if (!isfinite(h)) {
			h = j->travel[k];
			j->tf[k].flags |= TWIN_FRAME_HEADING_DERIVED;
		}
		if (!isfinite(h))
			h = 0.0; /* a lone frame with no heading: north, flagged as derived */
		if (!isfinite(j->travel[k]))
			j->travel[k] = h;
		j->tf[k].heading = wrap360(h);
		geo_rot_from_hpr(h, pitch, roll, j->pano_R + 9 * k);
		geo_pose_w2c(j->tf[k].enu, j->pano_R + 9 * k, j->tf[k].w2c);
	}
done:
	free(xyz);
	return rc;
}

/* Adds the capture to the twin store (creating it with the job's ENU origin) and labels
 * every kept frame with the districts layer when one is given. A capture already in the
 * store (a rerun) is not added twice. */
static int job_twin(job *j, svt_err *err)
{
	const pipeline_opts *o = j->o;
	char dir[4096];
	int rc;
	j->store_first = SIZE_MAX;
	if (o->twin)
		snprintf(dir, sizeof(dir), "%s", o->twin);
	else if ((rc = svt_path_join(dir, sizeof(dir), o->out, "twin", err)))
		return rc;
	twin_store_opts so;
	twin_store_opts_default(&so);
	so.epsg = o->epsg;
	so.have_origin = 1;
	memcpy(so.origin_llh, j->info.enu_origin_llh, sizeof(so.origin_llh));
	if ((rc = twin_store_open(dir, &so, &j->store, err)))
		return svt_err_prefix(err, "twin store %s", dir);
	/* A layer already in the store is kept: replacing it marks every tile changed, which
	 * would make every shard stale on each rerun. */
	const char *lname[2] = {"districts", "dongs"}, *lpath[2] = {o->districts, o->dongs};
	for (int L = 0; L < 2; L++) {
		int have = 0;
		for (size_t k = 0; k < twin_store_layer_count(j->store); k++)
			have |= !strcmp(twin_store_layer_name(j->store, k), lname[L]);
		if (lpath[L] && !have &&
		    (rc = twin_store_add_layer(j->store, lname[L], lpath[L], NULL, err)))
			return svt_err_prefix(err, "%s layer %s", lname[L], lpath[L]);
	}

	size_t nf = twin_store_frame_count(j->store);
	for (size_t i = 0; i < nf; i++)
		if (!strcmp(twin_store_frame_capture(j->store, i), j->name)) {
			svt_log_info("capture %s is already in the twin %s", j->name, dir);
			j->store_first = i; /* frames were added in the same order */
			break;
		}
	if (j->store_first == SIZE_MAX) {
		const char **paths = calloc(j->n, sizeof(char *));
		if (!paths)
			return svt_err_set(err, SVT_E_NOMEM, "no memory for %zu paths", j->n);
		for (size_t k = 0; k < j->n; k++)
			paths[k] = j->cap->frames[j->cap_idx[k]].path;
		twin_capture_in in = {.name = j->name, .source = o->capture, .frames = j->tf,
				      .n = j->n, .enu_origin_llh = j->info.enu_origin_llh,
				      .paths = paths};
		rc = twin_store_add_capture(j->store, &in, &j->store_first, err);
		free(paths);
		if (rc)
			return svt_err_prefix(err, "adding %s to the twin %s", j->name, dir);
		j->capture_new = 1;
	}

	for (size_t k = 0; k < twin_store_layer_count(j->store); k++)
		if (!strcmp(twin_store_layer_name(j->store, k), "districts"))
			j->districts = twin_store_layer(j->store, k);
		else if (!strcmp(twin_store_layer_name(j->store, k), "dongs"))
			j->dongs = twin_store_layer(j->store, k);
	j->district = malloc(j->n * sizeof(long));
	j->dong = malloc(j->n * sizeof(long));
	if (!j->district || !j->dong)
		return svt_err_set(err, SVT_E_NOMEM, "no memory for labels");
	for (size_t k = 0; k < j->n; k++)
		j->district[k] = j->dong[k] = -1;
	if (j->districts)
		twin_frames_label(j->districts, j->tf, j->n, j->district);
	if (j->dongs)
		twin_frames_label(j->dongs, j->tf, j->n, j->dong);

	twin_split_opts_default(&j->split);
	j->split.seed = o->seed;
	j->split.buffer_m = o->split_buffer_m;
	j->info.split_buffer_m = o->split_buffer_m;
	return twin_split_opts_check(&j->split, err);
}

/* The view camera's rotation (camera -> ENU) for kept frame k. */
static void view_rotation(const job *j, size_t k, double R_c2w[9])
{
	double h = j->o->view_dir == PIPELINE_VIEW_PANO ? j->tf[k].heading : j->travel[k];
	geo_rot_from_hpr(h, 0.0, 0.0, R_c2w);
}

/* R_view_in_pano = R_pano^T R_view. */
static void rot_relative(const double Rp[9], const double Rv[9], double R[9])
{
	for (int r = 0; r < 3; r++)
		for (int c = 0; c < 3; c++) {
			double s = 0;
			for (int i = 0; i < 3; i++)
				s += Rp[3 * i + r] * Rv[3 * i + c];
			R[3 * r + c] = s;
		}
}

static const char *cardinal(double h)
{
	static const char *names[] = {"north", "northeast", "east", "southeast",
				      "south", "southwest", "west", "northwest"};
	return names[(int)floor(wrap360(h + 22.5) / 45.0) % 8];
}

static const char *time_of_day(int64_t time_us, int tz_min)
{
	int64_t s = time_us / 1000000 + (int64_t)tz_min * 60;
	int hour = (int)(((s % 86400) + 86400) % 86400 / 3600);
	if (hour < 5)
		return "at night";
	if (hour < 12)
		return "in the morning";
	if (hour < 17)
		return "in the afternoon";
	if (hour < 20)
		return "in the evening";
	return "at night";
}

/* Sets the reason of a frame that failed after the scan and updates the tallies. */
static void reject_late(job *j, size_t k, ingest_reason r, const char *why)
{
	ingest_frame *f = &j->cap->frames[j->cap_idx[k]];
	f->reason = r;
	size_t n = strnlen(why, sizeof(f->why) - 1);
	memcpy(f->why, why, n); /* truncating a long decoder message is fine */
	f->why[n] = '\0';
	j->cap->n_kept--;
	j->cap->n_rejected[r]++;
	j->alive[k] = 0;
}

/* The depth map of DIR/STEM.EXT, by convention DIR/.depth/STEM.png or DIR/depth/STEM.png
 * (16-bit PNG, millimetres; for a panorama, range along the ray; 0 = no depth). */
static int depth_path_of(const char *path, char *out, size_t cap)
{
	const char *slash = strrchr(path, '/');
	const char *name = slash ? slash + 1 : path;
	int dl = slash ? (int)(slash - path) : 1;
	const char *dir = slash ? path : ".";
	const char *dot = strrchr(name, '.');
	int sl = dot ? (int)(dot - name) : (int)strlen(name);
	static const char *sub[] = {".depth", "depth"};
	for (size_t i = 0; i < SVT_ARRAY_LEN(sub); i++) {
		int n = snprintf(out, cap, "%.*s/%s/%.*s.png", dl, dir, sub[i], sl, name);
		if (n > 0 && (size_t)n < cap && access(out, R_OK) == 0)
			return 1;
	}
	return 0;
}

/* Frame k's depth map (if it has one, see depth_path_of): back-projected with its panorama's
 * colours into the job's ENU frame and queued for the twin's tiles (when points is set), and
 * cut into the view v as z-depth for the shard (into view_depth when not NULL; zeros when the
 * map is unusable). A bad depth map is reported and skipped: the frame itself stays good. */
static int frame_depth(job *j, size_t k, const ingest_image *pano, const gpu_view *v,
		       int points, float *view_depth, svt_err *err)
{
	char dpath[4096];
	const char *path = j->cap->frames[j->cap_idx[k]].path;
	size_t vpx = (size_t)v->width * (size_t)v->height;
	if (points)
		j->points_done[k] = 1;
	if (view_depth)
		memset(view_depth, 0, vpx * sizeof(float));
	if (!depth_path_of(path, dpath, sizeof(dpath)))
		return SVT_OK;
	svt_err derr = {0};
	int warn = 0, rc;
	ingest_decode_opts dopts;
	ingest_decode_opts_default(&dopts);
	dopts.want_channels = 0; /* keep 16 bits */
	if (!j->depth_dec && (rc = ingest_decoder_create(&j->depth_dec, err)))
		return rc;
	if (ingest_decode_file(j->depth_dec, dpath, &dopts, &j->depth_img, &warn, &derr) ||
	    j->depth_img.bit_depth != 16 || j->depth_img.channels != 1) {
		svt_log_warn("%s: not a 16-bit gray depth map (%s): no depth from this frame", dpath,
			     derr.msg[0] ? derr.msg : "wrong pixel format");
		return SVT_OK;
	}
	const ingest_image *di = &j->depth_img;
	gpu_depth d = {.data = di->data, .width = di->width, .height = di->height,
		       .stride = di->stride, .is_float = 0, .scale = 0.001, .min_m = 0.3,
		       .max_m = 65.535, .model = GPU_DEPTH_EQUIRECT, .step = 4};
	if (view_depth && (rc = gpu_view_depth_from_equirect(j->gpu, &d, v, view_depth,
							      (size_t)v->width * sizeof(float), err)))
		return svt_err_prefix(err, "depth view of %s", dpath);
	if (!points)
		return SVT_OK;
	size_t cap = (size_t)((di->width + 3) / 4) * (size_t)((di->height + 3) / 4);
	if (j->npts + cap > j->cappts) {
		size_t nc = j->cappts ? j->cappts : 1 << 16;
		while (nc < j->npts + cap)
			nc *= 2;
		gpu_point *p = realloc(j->pts, nc * sizeof(*p));
		if (!p)
			return svt_err_set(err, SVT_E_NOMEM, "no memory for %zu points", nc);
		j->pts = p;
		j->cappts = nc;
	}
	gpu_image color = {pano->data, pano->width, pano->height, pano->channels, pano->stride};
	size_t n = 0;
	if ((rc = gpu_depth_to_points(j->gpu, &d, &color, j->tf[k].w2c, j->pts + j->npts, cap, &n,
				      err)))
		return svt_err_prefix(err, "points of %s", dpath);
	j->npts += n;
	j->depth_frames++;
	return SVT_OK;
}

/* Fuses the queued points into the twin's tiles (one call per clip: each call rewrites the
 * tiles it touches). */
static int points_flush(job *j, svt_err *err)
{
	if (!j->npts || !j->store)
		return SVT_OK;
	int rc = twin_store_add_points(j->store, j->pts, j->npts, j->info.enu_origin_llh, err);
	j->points_total += j->npts;
	j->npts = 0;
	return rc ? svt_err_prefix(err, "fusing points into the twin") : SVT_OK;
}

/* Decodes the clip's panoramas on the pool and cuts one view each into j->views. Returns 1 and
 * rejects the frame when one fails (the caller reassembles), 0 on success, <0 on a job error. */
static int clip_views(job *j, const size_t *kidx, int T, svt_err *err)
{
	const pipeline_opts *o = j->o;
	const char **paths = calloc((size_t)T, sizeof(char *));
	if (!paths)
		return svt_err_set(err, SVT_E_NOMEM, "no memory for a clip of %d frames", T);
	for (int t = 0; t < T; t++)
		paths[t] = j->cap->frames[j->cap_idx[kidx[t]]].path;

	/* The shard holds depth for a clip only when every one of its frames has a depth map. */
	char dpath[4096];
	j->clip_depth = 1;
	for (int t = 0; t < T && j->clip_depth; t++)
		j->clip_depth = depth_path_of(paths[t], dpath, sizeof(dpath));
	if (j->clip_depth && !j->vdepth) {
		j->vdepth = malloc((size_t)o->clip_frames * o->width * o->height * sizeof(float));
		if (!j->vdepth) {
			free(paths);
			return svt_err_set(err, SVT_E_NOMEM, "no memory for a clip's depth views");
		}
	}

	ingest_decode_opts dopts;
	ingest_decode_opts_default(&dopts);
	dopts.want_channels = 3;
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	int threads = o->threads > 0 ? o->threads : (int)(cores > 0 ? cores : 2);
	ingest_pool *pool = NULL;
	int rc = ingest_pool_create(paths, (size_t)T, threads, 2 * threads + 2, &dopts, &pool, err);
	if (rc)
		goto done;

	size_t view_bytes = (size_t)o->width * (size_t)o->height * 3;
	for (int got = 0; got < T; got++) {
		size_t t;
		ingest_image *img = NULL;
		int warning = 0;
		svt_err ferr = {0};
		rc = ingest_pool_next(pool, &t, &img, &warning, &ferr, err);
		if (rc)
			goto done;
		size_t k = kidx[t];
		if (!img || (warning && !o->keep_corrupt)) {
			char why[SVT_ERR_MSG_MAX + 32];
			snprintf(why, sizeof(why), "%s%s", warning ? "decoded with warnings: " : "",
				 ferr.msg);
			if (img)
				ingest_pool_release(pool, img);
			reject_late(j, k, INGEST_REJ_UNDECODABLE, why);
			svt_log_warn("%s: %s", paths[t], why);
			rc = 1;
			goto done;
		}
		if (warning)
			j->decode_warnings++;
		double Rv[9], R[9];
		view_rotation(j, k, Rv);
		rot_relative(j->pano_R + 9 * k, Rv, R);
		gpu_view v;
		gpu_view_pinhole(&v, o->width, o->height, o->hfov_deg);
		memcpy(v.R, R, sizeof(R));
		v.interp = GPU_INTERP_BILINEAR;
		v.antialias = 1;
		gpu_image src = {img->data, img->width, img->height, img->channels, img->stride};
		gpu_image dst = {j->views + t * view_bytes, o->width, o->height, 3, (size_t)o->width * 3};
		rc = gpu_view_from_equirect(j->gpu, &src, &v, &dst, err);
		/* Depth is fused when the capture enters the twin, not again on a rebuild (that
		 * would count its points twice and mark its tiles changed). */
		int points = j->store && j->capture_new && !j->points_done[k];
		float *vd = j->clip_depth ? j->vdepth + t * (size_t)o->width * o->height : NULL;
		if (!rc && (points || vd))
			rc = frame_depth(j, k, img, &v, points, vd, err);
		ingest_pool_release(pool, img);
		if (rc) {
			svt_err_prefix(err, "view of %s", paths[t]);
			goto done;
		}
		geo_pose_w2c(j->tf[k].enu, Rv, j->w2c + 16 * t);
		j->K[4 * t + 0] = v.fx;
		j->K[4 * t + 1] = v.fy;
		j->K[4 * t + 2] = v.cx;
		j->K[4 * t + 3] = v.cy;
		j->heading[t] = o->view_dir == PIPELINE_VIEW_PANO ? j->tf[k].heading : j->travel[k];
		svt_progress_step(&j->prog, 1);
	}
done:
	ingest_pool_destroy(pool);
	free(paths);
	return rc;
}

/* The name of the feature of layer l most common among the clip's frames ("" if none). */
static const char *clip_label(const job *j, const twin_layer *l, const long *frame_lab,
			      const size_t *kidx, int T)
{
	(void)j;
	if (!l || T <= 0)
		return "";
	long best = -1;
	int best_n = 0;
	for (int a = 0; a < T; a++) {
		long f = frame_lab[kidx[a]];
		if (f < 0)
			continue;
		int n = 0;
		for (int b = 0; b < T; b++)
			n += frame_lab[kidx[b]] == f;
		if (n > best_n) {
			best_n = n;
			best = f;
		}
	}
	return best >= 0 ? twin_layer_name(l, (size_t)best) : "";
}

/* Remembers a clip of this run for job_record_tiles. */
static int clip_remember(job *j, const char *id, const size_t *kidx, int T, int seq,
			 svt_err *err)
{
	if (j->nrecs == j->caprecs) {
		size_t nc = j->caprecs ? 2 * j->caprecs : 16;
		struct clip_rec *p = realloc(j->recs, nc * sizeof(*p));
		if (!p)
			return svt_err_set(err, SVT_E_NOMEM, "no memory for clip records");
		j->recs = p;
		j->caprecs = nc;
	}
	struct clip_rec *r = &j->recs[j->nrecs];
	r->kidx = malloc((size_t)T * sizeof(size_t));
	if (!r->kidx)
		return svt_err_set(err, SVT_E_NOMEM, "no memory for clip records");
	memcpy(r->kidx, kidx, (size_t)T * sizeof(size_t));
	snprintf(r->id, sizeof(r->id), "%s", id);
	r->n = T;
	r->seq = seq;
	j->nrecs++;
	return SVT_OK;
}

/* Records, for every clip of this run, the twin tiles it was cut from (twin_store_clip_tiles
 * and twin_store_record_shard): a later capture or layer that changes one of those tiles
 * makes the clip stale, and a rerun rewrites the shards holding stale clips. */
static int job_record_tiles(job *j, svt_err *err)
{
	if (!j->store || j->store_first == SIZE_MAX)
		return SVT_OK;
	int rc = SVT_OK;
	for (size_t c = 0; !rc && c < j->nrecs; c++) {
		const struct clip_rec *r = &j->recs[c];
		size_t *si = malloc((size_t)r->n * sizeof(size_t));
		int *txy = NULL;
		size_t ntile = 0;
		if (!si)
			return svt_err_set(err, SVT_E_NOMEM, "no memory for tiles");
		for (int t = 0; t < r->n; t++)
			si[t] = j->store_first + r->kidx[t];
		twin_clip sc = {.first = si[0], .n = r->n, .idx = si, .seq = r->seq};
		rc = twin_store_clip_tiles(j->store, &sc, &txy, &ntile, err);
		if (!rc)
			rc = twin_store_record_shard(j->store, r->id, txy, ntile, err);
		free(txy);
		free(si);
		if (rc)
			svt_err_prefix(err, "recording clip %s in the twin", r->id);
	}
	return rc;
}

static void clip_id(const job *j, const size_t *kidx, int seq, char id[64])
{
	snprintf(id, 64, "%.40s-s%03d-f%05d", j->name, seq % 1000, j->tf[kidx[0]].src % 100000);
}

/* Writes one assembled clip: views (and depth views), poses and metadata. */
static int clip_write(job *j, const size_t *kidx, int T, int seq, const char *split,
		      svt_err *err)
{
	const pipeline_opts *o = j->o;
	char id[64];
	clip_id(j, kidx, seq, id);

	for (int t = 0; t < T; t++) {
		const twin_frame *f = &j->tf[kidx[t]];
		memcpy(j->llh + 3 * t, f->llh, 3 * sizeof(double));
		memcpy(j->proj + 3 * t, f->proj, 3 * sizeof(double));
		j->time_us[t] = f->time_us;
		j->dist[t] = t == 0 ? 0.0
				    : j->dist[t - 1] + hypot(hypot(f->enu[0] - j->tf[kidx[t - 1]].enu[0],
								   f->enu[1] - j->tf[kidx[t - 1]].enu[1]),
							     f->enu[2] - j->tf[kidx[t - 1]].enu[2]);
	}
	double span_s = (double)(j->time_us[T - 1] - j->time_us[0]) / 1e6;
	double fps = (T > 1 && span_s > 0) ? (T - 1) / span_s : 10.0;

	/* One caption window over the clip, from what the metadata says. */
	double se = 0, sn = 0;
	for (int t = 0; t < T; t++) {
		se += sin(j->heading[t] * M_PI / 180.0);
		sn += cos(j->heading[t] * M_PI / 180.0);
	}
	const ingest_meta *m0 = &j->cap->frames[j->cap_idx[kidx[0]]].meta;
	/* District and dong: the most common label of the clip's frames. */
	const char *district = clip_label(j, j->districts, j->district, kidx, T);
	const char *dong = clip_label(j, j->dongs, j->dong, kidx, T);
	char place[200];
	if (*district && *dong)
		snprintf(place, sizeof(place), "through %s, %s, Seoul", dong, district);
	else if (*district || *dong)
		snprintf(place, sizeof(place), "through %s, Seoul", *district ? district : dong);
	else
		snprintf(place, sizeof(place), "through Seoul");
	char caption[320];
	snprintf(caption, sizeof(caption),
		 "A street-level drive heading %s %s %s, seen from a forward-facing camera, "
		 "%.0f m in %.0f s.",
		 cardinal(atan2(se, sn) * 180.0 / M_PI), place,
		 time_of_day(j->time_us[0], m0->tz_offset_min), j->dist[T - 1], span_s);
	fmt_caption cap = {0, T - 1, caption};

	fmt_clip_desc d = {
		.id = id, .T = T, .H = o->height, .W = o->width,
		.w2c = j->w2c, .K = j->K, .llh = j->llh, .proj = j->proj,
		.heading = j->heading, .dist_m = j->dist, .time_us = j->time_us,
		.fps = fps, .fps_nominal = !(T > 1 && span_s > 0),
		.split = split, .district = district, .captions = &cap, .n_captions = 1,
		.depth = j->clip_depth,
	};
	int rc = fmt_clip_begin(j->writer, &d, err);
	size_t view_bytes = (size_t)o->width * (size_t)o->height * 3;
	size_t depth_px = (size_t)o->width * o->height;
	for (int t = 0; !rc && t < T; t++) {
		rc = fmt_clip_frame(j->writer, t, j->views + t * view_bytes, err);
		if (!rc && j->clip_depth)
			rc = fmt_clip_depth(j->writer, t, j->vdepth + t * depth_px, err);
	}
	if (!rc)
		rc = fmt_clip_end(j->writer, err);
	if (rc)
		return svt_err_prefix(err, "writing clip %s", id);
	j->clips_written++;
	j->frames_written += (size_t)T;
	return SVT_OK;
}

/* Clips are assembled from the frames still alive from `start` on; only the first is used, so
 * that a frame failing to decode is dropped and the clip reassembled without it. */
static int job_clips(job *j, svt_err *err)
{
	const pipeline_opts *o = j->o;
	twin_clip_opts co;
	twin_clip_opts_default(&co);
	co.frames = o->clip_frames;
	co.stride = o->clip_stride > 0 ? o->clip_stride : o->clip_frames;
	co.spacing_m = o->spacing_m;
	co.spacing_s = o->spacing_s;

	size_t T = (size_t)co.frames;
	size_t view_bytes = (size_t)o->width * (size_t)o->height * 3;
	twin_frame *sub = calloc(j->n, sizeof(*sub));
	size_t *map = calloc(j->n, sizeof(*map));
	size_t *kidx = calloc(T, sizeof(*kidx));
	j->views = malloc(T * view_bytes);
	j->w2c = calloc(16 * T, sizeof(double));
	j->K = calloc(4 * T, sizeof(double));
	j->llh = calloc(3 * T, sizeof(double));
	j->proj = calloc(3 * T, sizeof(double));
	j->heading = calloc(T, sizeof(double));
	j->dist = calloc(T, sizeof(double));
	j->time_us = calloc(T, sizeof(int64_t));
	twin_clip_list cl = {0};
	int rc = SVT_OK;
	if (!sub || !map || !kidx || !j->views || !j->w2c || !j->K || !j->llh || !j->proj ||
	    !j->heading || !j->dist || !j->time_us) {
		rc = svt_err_set(err, SVT_E_NOMEM, "no memory for a clip of %zu views", T);
		goto done;
	}
	svt_progress_begin(&j->prog, "views", 0);
	size_t start = 0;
	for (;;) {
		size_t m = 0;
		for (size_t k = start; k < j->n; k++)
			if (j->alive[k]) {
				sub[m] = j->tf[k];
				map[m++] = k;
			}
		twin_clip_list_free(&cl);
		if (m == 0 || (rc = twin_clips_assemble(sub, m, &co, &cl, err)))
			break;
		if (cl.n == 0)
			break;
		const twin_clip *c = &cl.clips[0];
		for (int t = 0; t < c->n; t++)
			kidx[t] = map[c->idx[t]];
		if (j->prog.total == 0)
			j->prog.total = (cl.n * T); /* an estimate: refined as clips go */
		int split = twin_clip_split(&j->split, sub, c);
		char id[64];
		clip_id(j, kidx, c->seq, id);
		if (split >= 0 && fmt_writer_has_clip(j->writer, id)) {
			/* Committed by an earlier, interrupted run of this job. */
			if ((rc = clip_remember(j, id, kidx, c->n, c->seq, err)))
				break;
			j->clips_resumed++;
			svt_progress_step(&j->prog, (size_t)c->n);
		} else if (split < 0) {
			/* Within the buffer of another split's block: no place may be in two. */
			j->clips_dropped++;
		} else {
			rc = clip_views(j, kidx, c->n, err);
			int prc = rc < 0 ? SVT_OK : points_flush(j, err);
			if (prc) {
				rc = prc;
				break;
			}
			if (rc == 1)
				continue; /* a frame was dropped: reassemble from the same start */
			if (rc || (rc = clip_write(j, kidx, c->n, c->seq, twin_split_name(split), err)) ||
			    (rc = clip_remember(j, id, kidx, c->n, c->seq, err)))
				break;
			j->split_counts[split]++;
		}
		start = (size_t)co.stride < (size_t)c->n ? kidx[co.stride] : kidx[c->n - 1] + 1;
	}
	if (j->prog.total)
		svt_progress_end(&j->prog);
done:
	twin_clip_list_free(&cl);
	free(sub);
	free(map);
	free(kidx);
	return rc;
}

static void print_summary(const job *j, double seconds, const char *shards_note)
{
	const ingest_capture *c = j->cap;
	char reasons[1024] = "";
	size_t len = 0, rejected = 0;
	for (int r = 1; r < INGEST_REASON_COUNT; r++) {
		if (!c->n_rejected[r])
			continue;
		rejected += c->n_rejected[r];
		len += (size_t)snprintf(reasons + len, sizeof(reasons) - len, "%s%s %zu",
					len ? ", " : "", ingest_reason_name((ingest_reason)r),
					c->n_rejected[r]);
		if (len >= sizeof(reasons))
			break;
	}
	fprintf(stderr,
		"svtwin build: %zu frames scanned, %zu kept, %zu rejected%s%s%s\n"
		"svtwin build: %zu clips written (train %zu, val %zu, test %zu; %zu dropped in "
		"split buffers; %zu kept from an earlier run), %zu views %dx%d (%s)%s, %s in %s, "
		"%.1f s\n",
		c->n, c->n - rejected, rejected, rejected ? " (" : "", reasons, rejected ? ")" : "",
		j->clips_written, j->split_counts[0], j->split_counts[1], j->split_counts[2],
		j->clips_dropped, j->clips_resumed, j->frames_written, j->o->width, j->o->height,
		j->gpu ? gpu_ctx_backend(j->gpu) : "-",
		j->decode_warnings ? ", some decoded with warnings" : "", shards_note, j->o->out,
		seconds);
	if (!j->clips_written && !j->clips_resumed && c->n > rejected)
		fprintf(stderr, "svtwin build: no clip: no sequence holds %d usable frames (try a "
				"smaller --clip-frames)\n", j->o->clip_frames);
	if (j->depth_frames)
		fprintf(stderr, "svtwin build: %zu points from %zu depth maps fused into the twin's "
				"tiles\n", j->points_total, j->depth_frames);
	if (rejected)
		fprintf(stderr, "svtwin build: reasons per frame in %s/rejects.jsonl\n", j->o->out);
}

int pipeline_run(const pipeline_opts *o, svt_err *err)
{
	double t0 = svt_now();
	job j = {.o = o};
	int rc;
	const char *base = strrchr(o->capture, '/');
	base = base && base[1] ? base + 1 : o->capture;
	size_t bl = strcspn(base, "/");
	snprintf(j.name, sizeof(j.name), "%.*s", (int)(bl < 48 ? bl : 48), base);
	for (char *p = j.name; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		      *p == '-' || *p == '_'))
			*p = '_';

	if ((rc = svt_mkdirs(o->out, err)) || (rc = job_scan(&j, err)))
		goto done;
	if ((rc = job_georeference(&j, err)) || (rc = job_twin(&j, err)))
		goto report;
	if ((rc = gpu_ctx_create(o->cpu_only ? GPU_MODE_CPU : GPU_MODE_AUTO, &j.gpu, err)))
		goto report;
	{
		long cores = sysconf(_SC_NPROCESSORS_ONLN);
		gpu_ctx_set_cpu_threads(j.gpu, o->threads > 0 ? o->threads : (int)(cores > 0 ? cores : 1));
	}
	svt_log_info("views on %s", gpu_ctx_backend(j.gpu));

	fmt_writer_opts wo;
	fmt_writer_opts_default(&wo);
	wo.resume = !o->fresh;
	/* Clips of this capture whose twin tiles changed since they were cut are rewritten. */
	const char **stale = NULL;
	size_t nstale = 0;
	if (j.store && twin_store_stale_shards(j.store, &stale, &nstale, err) == SVT_OK) {
		size_t m = 0, pl = strlen(j.name);
		for (size_t i = 0; i < nstale; i++)
			if (!strncmp(stale[i], j.name, pl) && stale[i][pl] == '-')
				stale[m++] = stale[i];
		wo.resume_stop = stale;
		wo.n_resume_stop = m;
		if (m)
			svt_log_info("%zu clips of %s depend on twin tiles changed since they were cut",
				     m, j.name);
	}
	if (o->shard_mb > 0)
		wo.target_bytes = (uint64_t)(o->shard_mb * 1e6);
	if (o->codec && (rc = fmt_codec_parse(o->codec, &wo.codec, &wo.level, err)))
		goto report;
	rc = fmt_writer_create(o->out, j.name, &j.info, &wo, &j.writer, err);
	free(stale);
	if (rc)
		goto report;
	size_t rs, rcl;
	fmt_writer_resumed(j.writer, &rs, &rcl);
	if (rcl)
		svt_log_info("resuming: %zu clips in %zu shards of an earlier run are kept", rcl, rs);
	rc = job_clips(&j, err);
	if (!rc)
		rc = job_record_tiles(&j, err);
	if (rc) {
		fmt_writer_abort(j.writer);
	} else {
		rc = fmt_writer_close(j.writer, err);
	}
	j.writer = NULL;

report:;
	char rej[4096];
	svt_err e2 = {0};
	if (j.cap && !svt_path_join(rej, sizeof(rej), o->out, "rejects.jsonl", &e2)) {
		if (ingest_capture_write_rejects(j.cap, rej, &e2))
			svt_log_warn("%s", e2.msg);
	}
	if (j.cap && svt_log_level() >= 1)
		print_summary(&j, svt_now() - t0, rc ? "no shard committed" : "shards");
done:
	twin_store_close(j.store);
	for (size_t i = 0; i < j.nrecs; i++)
		free(j.recs[i].kidx);
	free(j.recs);
	free(j.district);
	free(j.dong);
	gpu_ctx_destroy(j.gpu);
	geo_crs_destroy(j.crs);
	geo_enu_destroy(j.enu);
	ingest_capture_destroy(j.cap);
	free(j.cap_idx);
	free(j.tf);
	free(j.travel);
	free(j.pano_R);
	free(j.alive);
	free(j.points_done);
	free(j.pts);
	free(j.vdepth);
	ingest_image_free(&j.depth_img);
	ingest_decoder_destroy(j.depth_dec);
	free(j.views);
	free(j.w2c);
	free(j.K);
	free(j.llh);
	free(j.proj);
	free(j.heading);
	free(j.dist);
	free(j.time_us);
	return rc;
}
