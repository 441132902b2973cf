/* ds_views.c: a clip's panoramas decoded on worker threads (ingest_pool) and cut into
 * perspective views (gpu_view_from_equirect), with depth views and depth points when the
 * frames have depth maps. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dataset/ds_internal.h"

/* The view camera's rotation (camera -> ENU) for kept frame k. */
static void view_rotation(const dataset_job *j, size_t k, double R_c2w[9])
{
	double h = j->o.view_dir == DATASET_VIEW_PANO ? j->tf[k].heading : j->travel[k];
	geo_rot_from_hpr(h, 0.0, 0.0, R_c2w);
}

/* Frame k's depth map (if it has one, see ingest_depth_path): back-projected with its panorama's
 * colours into the job's ENU frame and queued for the twin's tiles (when points is set), and
 * cut into the view v as z-depth for the shard (into view_depth when not NULL; zeros when the
 * map is unusable). A bad depth map is reported and skipped: the frame itself stays good. */
static int frame_depth(dataset_job *j, size_t k, const ingest_image *pano, const gpu_view *v,
		       int points, float *view_depth, svt_err *err)
{
	char dpath[4096];
	const char *path = j->cap->frames[j->cap_idx[k]].path;
	size_t vpx = (size_t)v->width * (size_t)v->height;
	if (points)
		j->points_done[k] = 1;
	if (view_depth)
		memset(view_depth, 0, vpx * sizeof(float));
	if (!ingest_depth_path(path, dpath, sizeof(dpath)))
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
	j->st.depth_frames++;
	return SVT_OK;
}

/* Decodes the clip's panoramas on the pool and cuts one view each into j->views. When a frame
 * fails it is rejected (ds_reject_late), *rejected is set and the caller reassembles the clip;
 * returns 0 or a negative status on a job error. */
int ds_clip_views(dataset_job *j, const size_t *kidx, int T, int *rejected, svt_err *err)
{
	const dataset_opts *o = &j->o;
	*rejected = 0;
	const char **paths = calloc((size_t)T, sizeof(char *));
	if (!paths)
		return svt_err_set(err, SVT_E_NOMEM, "no memory for a clip of %d frames", T);
	for (int t = 0; t < T; t++)
		paths[t] = j->cap->frames[j->cap_idx[kidx[t]]].path;

	/* The shard holds depth for a clip only when every one of its frames has a depth map. */
	char dpath[4096];
	j->clip_depth = 1;
	for (int t = 0; t < T && j->clip_depth; t++)
		j->clip_depth = ingest_depth_path(paths[t], dpath, sizeof(dpath));
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
			svt_log_warn("%s: %s", paths[t], why);
			ds_reject_late(j, k, INGEST_REJ_UNDECODABLE, why);
			*rejected = 1;
			goto done;
		}
		if (warning)
			j->st.decode_warnings++;
		double Rv[9], R[9];
		view_rotation(j, k, Rv);
		geo_rot_relative(j->pano_R + 9 * k, Rv, R);
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
		j->heading[t] = o->view_dir == DATASET_VIEW_PANO ? j->tf[k].heading : j->travel[k];
		ds_report_progress(j, 1);
	}
done:
	ingest_pool_destroy(pool);
	free(paths);
	return rc;
}
