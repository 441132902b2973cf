/* ds_densify.c: video-rate clips from sparse keyframes (docs/shard-format.md "Densified
 * clips"). A clip's keyframes are cut as usual (ds_views.c); here its frames are laid out at
 * the output rate, their poses interpolated between the keyframes, and the frames made:
 *
 *   warp    every frame between two keyframes synthesized from both (gpu_densify_frame);
 *   freeze  Intermittent Freeze-Frame: keyframe 0 is frame 0 (latent 0); every later
 *           keyframe fills the 4 frames of one latent (3 repeats then the keyframe itself),
 *           the latents between two keyframes are slots (black, invalid) for a learned
 *           interpolator; `svtwin densify import` stores what it made and drops the repeats.
 *
 * Frame placement: frame i sits at p_i = i * step along the clip's parameter p, time (step
 * 1/fps) or, with frames_per_m, distance along the track (step 1/frames_per_m). The time of
 * a p between keyframes a and a+1 is linear in p. Poses at time t: the camera centre by a
 * cubic Hermite curve through the keyframe centres with Catmull-Rom tangents (exact for a
 * steady drive along a straight line; a sharp corner between two keyframes is rounded, not
 * recovered); heading along travel (the curve's direction, plus the clip's yaw offset) or,
 * for pano views and a vehicle standing still, the slerp of the two keyframe rotations.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dataset/ds_internal.h"

/* Below this speed (m/s) the direction of travel is noise: rotations are slerped. */
#define DS_MIN_SPEED 0.3

/* Action thresholds (docs/shard-format.md): over a window, a path shorter than
 * DS_STOP_M metres is a stop; otherwise a net change
 * of the camera's yaw of DS_TURN_DEG or more is a turn (clockwise: right), else straight. */
#define DS_STOP_M 2.0
#define DS_TURN_DEG 30.0

int ds_densify_check(const dataset_opts *o, svt_err *err)
{
	if (o->view_dir == DATASET_VIEW_RANDOM &&
	    !(o->view_random_deg > 0 && o->view_random_deg <= 180))
		return svt_err_set(err, SVT_E_INPUT, "dataset: view_random_deg %g out of (0, 180]",
				   o->view_random_deg);
	if (o->densify == DATASET_DENSIFY_NONE)
		return SVT_OK;
	if (o->densify != DATASET_DENSIFY_WARP && o->densify != DATASET_DENSIFY_FREEZE)
		return svt_err_set(err, SVT_E_INPUT, "dataset: densify %d unknown", (int)o->densify);
	if (o->latent_stride != 4 && o->latent_stride != 8)
		return svt_err_set(err, SVT_E_INPUT, "dataset: latent_stride %d: 4 or 8",
				   o->latent_stride);
	if (o->out_frames < 1 + o->latent_stride || o->out_frames > 4097 ||
	    (o->out_frames - 1) % o->latent_stride)
		return svt_err_set(err, SVT_E_INPUT, "dataset: %d frames per clip is not 1+%dk "
				   "(93, 121...)", o->out_frames, o->latent_stride);
	if (!(o->fps >= 1 && o->fps <= 120))
		return svt_err_set(err, SVT_E_INPUT, "dataset: fps %g out of [1, 120]", o->fps);
	if (!(o->frames_per_m >= 0 && o->frames_per_m <= 100))
		return svt_err_set(err, SVT_E_INPUT, "dataset: frames_per_m %g out of [0, 100]",
				   o->frames_per_m);
	return SVT_OK;
}

static int cmp_dbl(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

int ds_densify_plan(dataset_job *j, svt_err *err)
{
	dataset_opts *o = &j->o;
	if (o->densify == DATASET_DENSIFY_NONE || j->n < 2)
		return SVT_OK;
	/* The median step between consecutive kept frames of one sequence, in the clip's
	 * parameter (seconds, or metres with frames_per_m). */
	double *d = malloc((j->n - 1) * sizeof(double));
	if (!d)
		return svt_err_set(err, SVT_E_NOMEM, "no memory for %zu intervals", j->n);
	size_t m = 0;
	for (size_t k = 1; k < j->n; k++) {
		const twin_frame *a = &j->tf[k - 1], *b = &j->tf[k];
		if (a->seq != b->seq)
			continue;
		double v = o->frames_per_m > 0
				   ? hypot(hypot(b->enu[0] - a->enu[0], b->enu[1] - a->enu[1]),
					   b->enu[2] - a->enu[2])
				   : (double)(b->time_us - a->time_us) / 1e6;
		if (v > 1e-3)
			d[m++] = v;
	}
	double med = 0;
	if (m) {
		qsort(d, m, sizeof(double), cmp_dbl);
		med = d[m / 2];
	}
	free(d);
	if (!(med > 0))
		return SVT_OK; /* no interval: clip assembly says there is no clip */
	double step = o->frames_per_m > 0 ? 1.0 / o->frames_per_m : 1.0 / o->fps;
	double span = (o->out_frames - 1) * step;
	double K = ceil(span / med - 1e-9) + 1;
	o->clip_frames = K < 2 ? 2 : K > 4096 ? 4096 : (int)K;
	if (o->clip_stride <= 0)
		o->clip_stride = o->clip_frames - 1; /* clips share their boundary keyframe */
	svt_log_info("densify: %d keyframes per clip (median interval %.3g %s) for %d frames at "
		     "%g %s", o->clip_frames, med, o->frames_per_m > 0 ? "m" : "s", o->out_frames,
		     o->frames_per_m > 0 ? o->frames_per_m : o->fps,
		     o->frames_per_m > 0 ? "per m" : "fps");
	return SVT_OK;
}

double ds_view_yaw(const dataset_job *j, size_t k0)
{
	if (j->o.view_dir != DATASET_VIEW_RANDOM)
		return 0.0;
	/* A hash of (seed, the clip's first capture frame): the same clip gets the same yaw in
	 * every run and part. */
	uint64_t x = svt_hash64(j->o.seed ^ svt_hash64((uint64_t)(uint32_t)j->tf[k0].src));
	double u = (double)(x >> 11) / 9007199254740992.0; /* [0, 1) */
	return (2.0 * u - 1.0) * j->o.view_random_deg;
}

/* ---- camera action ------------------------------------------------------------------------ */

static double yaw_of(const double *w2c)
{
	/* The camera's forward axis in ENU is row 2 of the world-to-camera rotation. */
	return atan2(w2c[8], w2c[9]) * 180.0 / M_PI;
}

const char *ds_camera_action(const double *w2c, int t0, int t1)
{
	double len = 0, turn = 0, C0[3] = {0}, C1[3];
	for (int t = t0; t <= t1; t++) {
		const double *M = w2c + 16 * t;
		for (int i = 0; i < 3; i++)
			C1[i] = -(M[i] * M[3] + M[4 + i] * M[7] + M[8 + i] * M[11]);
		if (t > t0) {
			len += hypot(hypot(C1[0] - C0[0], C1[1] - C0[1]), C1[2] - C0[2]);
			double dy = yaw_of(M) - yaw_of(M - 16);
			dy = fmod(dy + 540.0, 360.0) - 180.0;
			turn += dy;
		}
		memcpy(C0, C1, sizeof(C0));
	}
	if (len < DS_STOP_M)
		return "stop";
	if (turn >= DS_TURN_DEG)
		return "right turn";
	if (turn <= -DS_TURN_DEG)
		return "left turn";
	return "straight";
}

const char *ds_action_sentence(const char *action)
{
	if (!strcmp(action, "stop"))
		return "The camera is stopped.";
	if (!strcmp(action, "left turn"))
		return "The camera turns left.";
	if (!strcmp(action, "right turn"))
		return "The camera turns right.";
	return "The camera moves straight ahead.";
}

/* ---- layout and poses --------------------------------------------------------------------- */

/* One output frame. */
typedef struct dframe {
	double p;     /* along the clip's parameter */
	int a, b;     /* source keyframes */
	double u;     /* weight of b */
	int kind;     /* FMT_FRAME_* */
} dframe;

/* Cubic Hermite through values v (dim each, stride apart) at times t, with Catmull-Rom
 * tangents, evaluated at time x in [t[a], t[a+1]]: out (and its time derivative dout). */
static void hermite(const double *v, size_t stride, int dim, const double *t, int T, int a,
		    double x, double *out, double *dout)
{
	int b = a + 1;
	double h = t[b] - t[a], s = h > 0 ? (x - t[a]) / h : 0;
	double s2 = s * s, s3 = s2 * s;
	double h00 = 2 * s3 - 3 * s2 + 1, h10 = s3 - 2 * s2 + s, h01 = -2 * s3 + 3 * s2,
	       h11 = s3 - s2;
	double d00 = 6 * s2 - 6 * s, d10 = 3 * s2 - 4 * s + 1, d01 = -6 * s2 + 6 * s,
	       d11 = 3 * s2 - 2 * s;
	for (int c = 0; c < dim; c++) {
		double m[2];
		for (int e = 0; e < 2; e++) {
			int k = e ? b : a, k0 = k > 0 ? k - 1 : k, k1 = k < T - 1 ? k + 1 : k;
			double dt = t[k1] - t[k0];
			m[e] = dt > 0 ? (v[stride * k1 + c] - v[stride * k0 + c]) / dt : 0;
		}
		double pa = v[stride * a + c], pb = v[stride * b + c];
		out[c] = h00 * pa + h10 * h * m[0] + h01 * pb + h11 * h * m[1];
		if (dout)
			dout[c] = h > 0 ? (d00 * pa + d10 * h * m[0] + d01 * pb + d11 * h * m[1]) / h
					: 0;
	}
}

/* Lays out the frames of a clip of T keyframes at parameters pk[]: warp (every step) or
 * freeze (see the file comment). Returns the number of frames (<= cap). */
static int layout(const dataset_opts *o, const double *pk, int T, dframe *f, int cap)
{
	double step = o->frames_per_m > 0 ? 1.0 / o->frames_per_m : 1.0 / o->fps;
	int n = 0, L = o->latent_stride;
	if (o->densify == DATASET_DENSIFY_WARP) {
		int a = 0;
		for (int i = 0; i < cap; i++) {
			double p = i * step;
			if (p > pk[T - 1] + 1e-9)
				break;
			while (a < T - 2 && p > pk[a + 1])
				a++;
			double h = pk[a + 1] - pk[a], u = h > 0 ? (p - pk[a]) / h : 0;
			u = u < 0 ? 0 : u > 1 ? 1 : u;
			/* Within a millisecond (or millimetre) of a keyframe the frame is that one. */
			int kind = FMT_FRAME_WARP;
			if (fabs(p - pk[a]) < 1e-3)
				kind = FMT_FRAME_KEY, u = 0;
			else if (fabs(p - pk[a + 1]) < 1e-3)
				kind = FMT_FRAME_KEY, u = 1;
			f[n++] = (dframe){p, a, a + 1, u, kind};
		}
		n = n >= 1 + L ? 1 + (n - 1) / L * L : (n >= 1 ? 1 : 0);
		return n;
	}
	/* freeze: the layout is a video at the output rate in which each keyframe holds for one
	 * latent: an interval of about fps * dt frames is g slot latents and the next key's
	 * latent, g = round(fps dt / 4) - 1 (3 at 16 fps, 1 s apart). */
	int g[4096], K = 0, total = 1;
	for (int k = 0; k + 1 < T && total + 4 <= cap; k++) {
		double frames = (pk[k + 1] - pk[k]) / step; /* frames the interval spans */
		long gk = lround(frames / 4.0) - 1;
		gk = gk < 0 ? 0 : gk;
		if (total + 4 * (gk + 1) > cap)
			gk = (cap - total) / 4 - 1;
		g[K++] = (int)gk;
		total += 4 * ((int)gk + 1);
	}
	/* 1+8k: four frames too many are taken from the last interval's slots, else its key. */
	if (L == 8 && K > 0 && (total - 1) % 8) {
		if (g[K - 1] > 0)
			g[K - 1]--, total -= 4;
		else
			K--, total -= 4;
	}
	f[n++] = (dframe){0, 0, 0, 0, FMT_FRAME_KEY};
	for (int k = 0; k < K; k++) {
		int slots = 4 * g[k];
		for (int s = 0; s < slots; s++) {
			double u = (s + 1.0) / (slots + 1.0);
			f[n++] = (dframe){pk[k] + u * (pk[k + 1] - pk[k]), k, k + 1, u, FMT_FRAME_SLOT};
		}
		for (int r = 0; r < 4; r++)
			f[n++] = (dframe){pk[k + 1], k + 1, k + 1, 0,
					  r < 3 ? FMT_FRAME_REPEAT : FMT_FRAME_KEY};
	}
	return n;
}

/* The buffers of one densified clip. */
typedef struct dclip {
	dframe *f;
	double *w2c, *K, *llh, *proj, *heading, *dist, *pk, *tk, *enu;
	int64_t *time_us;
	int32_t *tz_min;     /* per frame: its keyframe's zone (d->tz_offset_min has T) */
	uint8_t *tz_assumed; /* per frame: its keyframe's (d->tz_assumed has T) */
	uint8_t *kind, *valid, *rgb;
	int32_t *src;
	float *blend, *zero_depth, *twin_depth;
	int *key_out; /* per keyframe: the frame that shows it, -1 none */
} dclip;

static void dclip_free(dclip *c)
{
	free(c->f);
	free(c->w2c);
	free(c->K);
	free(c->llh);
	free(c->proj);
	free(c->heading);
	free(c->dist);
	free(c->pk);
	free(c->tk);
	free(c->enu);
	free(c->time_us);
	free(c->tz_min);
	free(c->tz_assumed);
	free(c->kind);
	free(c->valid);
	free(c->rgb);
	free(c->src);
	free(c->blend);
	free(c->zero_depth);
	free(c->twin_depth);
	free(c->key_out);
}

/* The pose and position of frame fr (time t seconds from keyframe 0). */
static void frame_pose(const dataset_job *j, const ds_buf *B, const fmt_clip_desc *d,
		       const dclip *c, const dframe *fr, int i)
{
	int T = d->T, a = fr->a, b = fr->b;
	if (fr->kind != FMT_FRAME_SLOT && fr->kind != FMT_FRAME_WARP) {
		int k = fr->u > 0.5 ? b : a;
		memcpy(c->w2c + 16 * i, B->w2c + 16 * k, 16 * sizeof(double));
		memcpy(c->llh + 3 * i, d->llh + 3 * k, 3 * sizeof(double));
		memcpy(c->proj + 3 * i, d->proj + 3 * k, 3 * sizeof(double));
		c->heading[i] = d->heading[k];
		c->dist[i] = d->dist_m[k];
		c->time_us[i] = d->time_us[k];
		memcpy(c->K + 4 * i, B->K + 4 * k, 4 * sizeof(double));
		return;
	}
	double u = fr->u, t = c->tk[a] + u * (c->tk[b] - c->tk[a]), C[3], V[3];
	hermite(c->enu, 3, 3, c->tk, T, a, t, C, V);
	hermite(d->llh, 3, 3, c->tk, T, a, t, c->llh + 3 * i, NULL);
	hermite(d->proj, 3, 3, c->tk, T, a, t, c->proj + 3 * i, NULL);
	c->dist[i] = d->dist_m[a] + u * (d->dist_m[b] - d->dist_m[a]);
	c->time_us[i] = d->time_us[0] + llround(t * 1e6);
	memcpy(c->K + 4 * i, B->K + 4 * a, 4 * sizeof(double));
	double R[9];
	double speed = hypot(V[0], V[1]);
	if (j->o.view_dir != DATASET_VIEW_PANO && speed > DS_MIN_SPEED) {
		double h = atan2(V[0], V[1]) * 180.0 / M_PI + B->yaw_off;
		geo_rot_from_hpr(h, 0.0, 0.0, R);
		c->heading[i] = fmod(h + 720.0, 360.0);
	} else {
		/* Slerp of the keyframe views' rotations (R_c2w = R_w2c^T). */
		double Ra[9], Rb[9], qa[4], qb[4], q[4];
		for (int r = 0; r < 3; r++)
			for (int s = 0; s < 3; s++) {
				Ra[3 * r + s] = B->w2c[16 * a + 4 * s + r];
				Rb[3 * r + s] = B->w2c[16 * b + 4 * s + r];
			}
		geo_quat_from_rot(Ra, qa);
		geo_quat_from_rot(Rb, qb);
		geo_quat_slerp(qa, qb, u, q);
		geo_rot_from_quat(q, R);
		double hh, pp, rr;
		geo_rot_to_hpr(R, &hh, &pp, &rr);
		c->heading[i] = fmod(hh + 720.0, 360.0);
	}
	geo_pose_w2c(C, R, c->w2c + 16 * i);
}

int ds_densify_write(dataset_job *j, const ds_buf *B, const fmt_clip_desc *d,
		     const size_t *kidx, svt_err *err)
{
	const dataset_opts *o = &j->o;
	int T = d->T, cap = o->out_frames, rc = SVT_OK;
	size_t H = (size_t)d->H, W = (size_t)d->W, px = H * W, vb = px * 3;
	dclip c = {0};
	char caption[640];
	c.f = calloc((size_t)cap, sizeof(dframe));
	c.pk = calloc((size_t)T, sizeof(double));
	c.tk = calloc((size_t)T, sizeof(double));
	c.enu = calloc(3 * (size_t)T, sizeof(double));
	if (!c.f || !c.pk || !c.tk || !c.enu) {
		rc = svt_err_set(err, SVT_E_NOMEM, "no memory for a densified clip");
		goto cleanup;
	}
	for (int k = 0; k < T; k++) {
		c.tk[k] = (double)(d->time_us[k] - d->time_us[0]) / 1e6;
		c.pk[k] = o->frames_per_m > 0 ? d->dist_m[k] : c.tk[k];
		memcpy(c.enu + 3 * k, j->clip_tf[k].enu, 3 * sizeof(double));
	}
	int N = T >= 2 ? layout(o, c.pk, T, c.f, cap) : 0;
	int warp = o->densify == DATASET_DENSIFY_WARP;
	const float *kdepth = B->clip_depth ? B->vdepth : NULL;
	if (warp && !kdepth && N >= 1 + o->latent_stride) {
		/* No depth map on every keyframe: depth from the twin's points, if it has some. */
		svt_err terr = {0};
		c.twin_depth = malloc((size_t)T * px * sizeof(float));
		if (!c.twin_depth) {
			rc = svt_err_set(err, SVT_E_NOMEM, "no memory for twin depth");
			goto cleanup;
		}
		int trc = ds_densify_twin_depth(j, B->w2c, B->K, d->proj, T, d->W, d->H,
						c.twin_depth, &terr);
		if (trc == SVT_E_NOMEM) {
			rc = svt_err_set(err, trc, "%s", terr.msg);
			goto cleanup;
		}
		if (trc)
			svt_log_warn("clip %s: no depth from the twin: %s", d->id, terr.msg);
		else
			kdepth = c.twin_depth;
	}
	if (N < 1 + o->latent_stride || (warp && !kdepth)) {
		/* Too short a clip for one latent step, or no depth to warp with: the keyframes
		 * alone, as without densify. */
		svt_log_warn("clip %s: %s: written as %d keyframes", d->id,
			     N < 1 + o->latent_stride ? "too short to densify"
						      : "no depth map on every keyframe and none from the "
							"twin, nothing to warp",
			     T);
		fmt_clip_desc k = *d;
		k.camera_action = ds_camera_action(B->w2c, 0, T - 1);
		if ((rc = fmt_clip_begin(j->writer, &k, err)))
			goto cleanup;
		for (int t = 0; !rc && t < T; t++) {
			rc = fmt_clip_frame(j->writer, t, B->views + t * vb, err);
			if (!rc && B->clip_depth)
				rc = fmt_clip_depth(j->writer, t, B->vdepth + t * px, err);
		}
		if (!rc)
			rc = ds_refs_write(j, B, kidx, T, twin_split_from_name(d->split), NULL, err);
		if (!rc && !(rc = fmt_clip_end(j->writer, err))) {
			j->st.clips_written++;
			j->st.frames_written += (size_t)T;
		}
		goto cleanup;
	}
	size_t n = (size_t)N;
	c.w2c = calloc(16 * n, sizeof(double));
	c.K = calloc(4 * n, sizeof(double));
	c.llh = calloc(3 * n, sizeof(double));
	c.proj = calloc(3 * n, sizeof(double));
	c.heading = calloc(n, sizeof(double));
	c.dist = calloc(n, sizeof(double));
	c.time_us = calloc(n, sizeof(int64_t));
	c.tz_min = d->tz_offset_min ? calloc(n, sizeof(int32_t)) : NULL;
	c.tz_assumed = d->tz_assumed ? calloc(n, 1) : NULL;
	c.kind = calloc(n, 1);
	c.src = calloc(2 * n, sizeof(int32_t));
	c.blend = calloc(n, sizeof(float));
	c.valid = malloc(n * px);
	c.rgb = malloc(vb);
	c.zero_depth = calloc(px, sizeof(float));
	c.key_out = malloc((size_t)T * sizeof(int));
	if (!c.w2c || !c.K || !c.llh || !c.proj || !c.heading || !c.dist || !c.time_us ||
	    (d->tz_offset_min && !c.tz_min) || (d->tz_assumed && !c.tz_assumed) || !c.kind || !c.src || !c.blend || !c.valid || !c.rgb || !c.zero_depth || !c.key_out) {
		rc = svt_err_set(err, SVT_E_NOMEM, "no memory for a densified clip of %d frames", N);
		goto cleanup;
	}
	for (int i = 0; i < N; i++) {
		frame_pose(j, B, d, &c, &c.f[i], i);
		int key = c.f[i].u > 0.5 ? c.f[i].b : c.f[i].a; /* the keyframe it stands nearer */
		if (c.tz_min)
			c.tz_min[i] = d->tz_offset_min[key];
		if (c.tz_assumed)
			c.tz_assumed[i] = d->tz_assumed[key];
		c.kind[i] = (uint8_t)c.f[i].kind;
		c.src[2 * i] = c.f[i].a;
		c.src[2 * i + 1] = c.f[i].b;
		c.blend[i] = (float)c.f[i].u;
	}
	double span_s = (double)(c.time_us[N - 1] - c.time_us[0]) / 1e6;
	const char *action = ds_camera_action(c.w2c, 0, N - 1);
	snprintf(caption, sizeof(caption), "%s %s", ds_action_sentence(action),
		 d->n_captions ? d->captions[0].caption : "");
	fmt_caption cw = {0, N - 1, caption};
	fmt_clip_desc dd = *d;
	dd.T = N;
	dd.w2c = c.w2c;
	dd.K = c.K;
	dd.llh = c.llh;
	dd.proj = c.proj;
	dd.heading = c.heading;
	dd.dist_m = c.dist;
	dd.time_us = c.time_us;
	dd.tz_offset_min = c.tz_min; /* per frame (N), not the keyframes' T */
	dd.tz_assumed = c.tz_assumed;
	dd.fps = o->frames_per_m > 0 && span_s > 0 ? (N - 1) / span_s : o->fps;
	dd.fps_nominal = 0;
	dd.captions = &cw;
	dd.n_captions = 1;
	dd.densify = warp ? "warp" : "freeze";
	dd.frame_kind = c.kind;
	dd.frame_src = c.src;
	dd.frame_blend = c.blend;
	dd.valid = c.valid;
	dd.num_keyframes = T;
	dd.latent_stride = o->latent_stride;
	dd.key_time_us = d->time_us;
	dd.camera_action = action;
	/* The mask of made frames is filled as they are rendered (the writer stores it at
	 * fmt_clip_end); keyframes and repeats are whole, slots empty. */
	for (int i = 0; i < N; i++) {
		const dframe *fr = &c.f[i];
		uint8_t *valid = c.valid + (size_t)i * px;
		if (fr->kind == FMT_FRAME_SLOT)
			memset(valid, 0, px);
		else if (fr->kind != FMT_FRAME_WARP)
			memset(valid, 1, px);
	}
	if (rc || (rc = fmt_clip_begin(j->writer, &dd, err)))
		goto cleanup;
	for (int i = 0; !rc && i < N; i++) {
		const dframe *fr = &c.f[i];
		const uint8_t *img = c.rgb;
		int key = fr->u > 0.5 ? fr->b : fr->a;
		if (fr->kind == FMT_FRAME_SLOT) {
			memset(c.rgb, 0, vb);
		} else if (fr->kind == FMT_FRAME_WARP) {
			gpu_densify_src sa = {B->views + fr->a * vb, kdepth + fr->a * px, {0}, {0}};
			gpu_densify_src sb = {B->views + fr->b * vb, kdepth + fr->b * px, {0}, {0}};
			memcpy(sa.w2c, B->w2c + 16 * fr->a, sizeof(sa.w2c));
			memcpy(sb.w2c, B->w2c + 16 * fr->b, sizeof(sb.w2c));
			memcpy(sa.K, B->K + 4 * fr->a, sizeof(sa.K));
			memcpy(sb.K, B->K + 4 * fr->b, sizeof(sb.K));
			rc = gpu_densify_frame(j->gpu, &sa, &sb, fr->u, c.w2c + 16 * i, c.K + 4 * i,
					       d->W, d->H, c.rgb, c.valid + (size_t)i * px, err);
		} else {
			img = B->views + key * vb;
		}
		if (!rc)
			rc = fmt_clip_frame(j->writer, i, img, err);
		if (!rc && B->clip_depth) {
			/* Depth: the keyframes' own; none (0 = invalid) for made frames. */
			int own = fr->kind == FMT_FRAME_KEY || fr->kind == FMT_FRAME_REPEAT;
			rc = fmt_clip_depth(j->writer, i, own ? B->vdepth + key * px : c.zero_depth,
					    err);
		}
	}
	/* References along the keyframes, a warp for every frame (poses known, made or not);
	 * a reference pairs with the frame that shows its keyframe. */
	for (int k = 0; k < T; k++)
		c.key_out[k] = -1;
	for (int i = 0; i < N; i++) {
		int key = c.f[i].u > 0.5 ? c.f[i].b : c.f[i].a;
		if (c.f[i].kind == FMT_FRAME_KEY && c.key_out[key] < 0)
			c.key_out[key] = i;
	}
	for (int k = 0; k < T; k++)
		if (c.key_out[k] < 0) /* the layout ends before it: the last frame is nearest */
			c.key_out[k] = N - 1;
	ds_refs_frames rf = {N, c.w2c, c.K, c.key_out};
	if (!rc)
		rc = ds_refs_write(j, B, kidx, T, twin_split_from_name(d->split), &rf, err);
	if (!rc && !(rc = fmt_clip_end(j->writer, err))) {
		j->st.clips_written++;
		j->st.frames_written += n;
	}
cleanup:
	dclip_free(&c);
	return rc;
}
