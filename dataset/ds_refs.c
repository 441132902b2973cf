/* ds_refs.c: a clip's street-view references and warped views (the Seoul World Model recipe,
 * ANCHORS.md section 6): views of other capture runs retrieved from the twin along the clip's
 * trajectory (twin_store_views_along: another run, an optional time gap, the clip's split),
 * each rendered from its panorama looking where its target frame looks, kept when it
 * reprojected with its depth covers at least opts.ref_min_cover of that frame's view
 * (gpu_warp_coverage); a lookahead reference past the clip's end; and for every frame the
 * nearest reference forward-splatted into its camera (gpu_warp_splat). Depth comes from the
 * reference's own depth map, else from the twin's fused points (gpu_points_to_depth); a
 * reference with neither is dropped, and a frame with no reference to warp gets an empty
 * mask and warp_ref -1. Runs on the main thread between a clip's frames and its end. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "dataset/ds_internal.h"

#define REF_COVER_STEP 4 /* coverage at 1/4 resolution: 1/16 of a splat */
/* Decoded source panoramas kept: a panorama is often the reference of more than one frame
 * or clip (a lookahead is the next clip's trajectory reference, a candidate the coverage
 * filter dropped for one frame is tried for another), and decoding is the dearest step. */
#define REF_CACHE 4

/* A decoded source panorama and its depth map (has_depth: it has a 16-bit one). */
typedef struct ref_pano {
	size_t frame;
	int valid, has_depth;
	unsigned long long used; /* the tick of its last use: the oldest goes first */
	ingest_image img, dimg;
} ref_pano;

typedef struct ds_refs {
	ingest_decoder *dec, *ddec;
	ref_pano cache[REF_CACHE];
	unsigned long long tick;
	gpu_view_map map;          /* the view's rays, for its depth view on the C path */
	geo_enu *store_enu;        /* the store's ENU frame */
	double M[9], t[3];         /* job ENU = M store ENU + t */
	int have_frame;
	int cap;                   /* references allocated */
	uint8_t *rgb;
	float *depth;
	double *w2c, *K, *cover, *C;
	int64_t *time_us;
	int32_t *target, *kind, *dsrc;
	char (*run)[64];
	char (*src)[1024];
	char (*rsplit)[16];
	char (*rdist)[256];
	uint8_t *warp, *warp_mask; /* clip_frames views */
	int32_t *warp_ref;
	twin_view_hit *hits;
	size_t *order;             /* the order candidates are tried in */
	double *lat, *lon, *hd;
	int split;                 /* the clip being done */
	int clip_held;             /* it lies in the holdout */
	int32_t *rheld;            /* per reference: from the holdout */
	twin_layer *holdout_layer; /* opts.holdout as a polygon file, or NULL (names) */
	int holdout_checked;
	dataset_job *j;
} ds_refs;

void ds_refs_destroy(ds_refs *r)
{
	if (!r)
		return;
	ingest_decoder_destroy(r->dec);
	ingest_decoder_destroy(r->ddec);
	for (int i = 0; i < REF_CACHE; i++) {
		ingest_image_free(&r->cache[i].img);
		ingest_image_free(&r->cache[i].dimg);
	}
	gpu_view_map_free(&r->map);
	geo_enu_destroy(r->store_enu);
	twin_layer_destroy(r->holdout_layer);
	free(r->rheld);
	free(r->rgb), free(r->depth), free(r->w2c), free(r->K), free(r->cover), free(r->C);
	free(r->time_us), free(r->target), free(r->kind), free(r->dsrc), free(r->run), free(r->rsplit), free(r->rdist);
	free(r->src), free(r->warp), free(r->warp_mask), free(r->warp_ref), free(r->hits), free(r->order);
	free(r->lat), free(r->lon), free(r->hd);
	free(r);
}

/* The twin the references come from: opts.refs_twin when given (a cluster rank reads the
 * shared twin, its own part holds only its capture), else the job's. */
static twin_store *refs_store(const dataset_job *j)
{
	return j->ref_store ? j->ref_store : j->store;
}

/* The rigid map from the store's ENU frame to the job's, from four points through WGS84
 * (exact at them; the frames differ by a rotation of ~1e-5 rad per 100 m of origin shift). */
static int frames_map(dataset_job *j, ds_refs *r, svt_err *err)
{
	double o[3];
	twin_store_origin(refs_store(j), o);
	int rc = geo_enu_create(o[0], o[1], o[2], &r->store_enu, err);
	if (rc)
		return rc;
	double p[4][3] = {{0, 0, 0}, {100, 0, 0}, {0, 100, 0}, {0, 0, 100}};
	if ((rc = geo_enu_inverse(r->store_enu, &p[0][0], &p[0][1], &p[0][2], 3 * sizeof(double), 4,
				  err)) ||
	    (rc = geo_enu_forward(j->enu, &p[0][0], &p[0][1], &p[0][2], 3 * sizeof(double), 4, err)))
		return svt_err_prefix(err, "the twin's frame in the job's");
	for (int a = 0; a < 3; a++) {
		r->t[a] = p[0][a];
		for (int c = 0; c < 3; c++)
			r->M[3 * a + c] = (p[c + 1][a] - p[0][a]) / 100.0;
	}
	r->have_frame = 1;
	return SVT_OK;
}

static int refs_alloc(dataset_job *j, ds_refs *r, svt_err *err)
{
	const dataset_opts *o = &j->o;
	size_t px = (size_t)o->width * o->height, T = (size_t)o->clip_frames;
	int cap = o->refs + 1;
	size_t along = T + 1;
	/* A densified clip stores up to out_frames frames, each with a warp. */
	size_t TW = o->densify != DATASET_DENSIFY_NONE && (size_t)o->out_frames > T
			    ? (size_t)o->out_frames : T;
	r->cap = cap;
	r->rgb = malloc(px * 3 * cap);
	r->depth = malloc(px * sizeof(float) * cap);
	r->w2c = calloc(16 * (size_t)cap, sizeof(double));
	r->K = calloc(4 * (size_t)cap, sizeof(double));
	r->cover = calloc((size_t)cap, sizeof(double));
	r->C = calloc(3 * (size_t)cap, sizeof(double));
	r->time_us = calloc((size_t)cap, sizeof(int64_t));
	r->target = calloc((size_t)cap, sizeof(int32_t));
	r->kind = calloc((size_t)cap, sizeof(int32_t));
	r->dsrc = calloc((size_t)cap, sizeof(int32_t));
	r->run = calloc((size_t)cap, sizeof(*r->run));
	r->src = calloc((size_t)cap, sizeof(*r->src));
	r->rsplit = calloc((size_t)cap, sizeof(*r->rsplit));
	r->rdist = calloc((size_t)cap, sizeof(*r->rdist));
	r->rheld = calloc((size_t)cap, sizeof(*r->rheld));
	r->hits = calloc(along, sizeof(*r->hits));
	r->order = calloc(along * (sizeof(size_t) + 1), 1); /* order, then a taken flag each */
	r->lat = calloc(T, sizeof(double));
	r->lon = calloc(T, sizeof(double));
	r->hd = calloc(T, sizeof(double));
	if (o->ref_warps) {
		r->warp = malloc(px * 3 * TW);
		r->warp_mask = malloc(px * TW);
		r->warp_ref = calloc(TW, sizeof(int32_t));
	}
	if (!r->rgb || !r->depth || !r->w2c || !r->K || !r->cover || !r->C || !r->time_us ||
	    !r->target || !r->kind || !r->dsrc || !r->run || !r->src || !r->rsplit || !r->rdist || !r->rheld || !r->hits || !r->order ||
	    !r->lat ||
	    !r->lon || !r->hd || (o->ref_warps && (!r->warp || !r->warp_mask || !r->warp_ref)))
		return svt_err_set(err, SVT_E_NOMEM, "no memory for %d references", cap);
	return SVT_OK;
}

/* The district name a frame record is labelled with (its "districts" layer), or "". */
static void record_district(const twin_frame_record *fr, char *out, size_t cap)
{
	out[0] = '\0';
	json_error_t je;
	json_t *l = json_loads(fr->labels, 0, &je);
	const char *d = json_string_value(json_object_get(l, "districts"));
	if (d)
		snprintf(out, cap, "%s", d);
	json_decref(l);
}

/* The holdout's list of names: comma-separated, each matched ASCII case-insensitively. The
 * next name of *p into (*tok, *len) and *p past it; 0 at the end. */
static int list_next(const char **p, const char **tok, size_t *len)
{
	if (!**p)
		return 0;
	*tok = *p;
	*len = strcspn(*p, ",");
	*p += *len + ((*p)[*len] == ',');
	return 1;
}

static int name_is(const char *tok, size_t len, const char *name)
{
	return name && strlen(name) == len && !strncasecmp(tok, name, len);
}

/* name is one of the names of list. */
static int in_list(const char *list, const char *name)
{
	if (!list || !name || !*name)
		return 0;
	const char *tok;
	size_t len;
	for (const char *p = list; list_next(&p, &tok, &len);)
		if (name_is(tok, len, name))
			return 1;
	return 0;
}

int ds_refs_holdout_check(const dataset_job *j, svt_err *err)
{
	return ds_refs_holdout_names_check(j->o.holdout, j->districts, err);
}

int ds_refs_holdout_names_check(const char *list, const twin_layer *districts, svt_err *err)
{
	if (!list || !*list || access(list, R_OK) == 0)
		return SVT_OK; /* none, or a polygon file */
	/* Names: each must be a district of the districts layer, or a typo would hold nothing
	 * out and put the place meant for test into train, silently. */
	if (!districts)
		return svt_err_set(err, SVT_E_INPUT, "--holdout %s names districts, but the build "
				   "has no districts layer (--districts PATH), nor is it a readable "
				   "polygon file", list);
	size_t nd = twin_layer_count(districts), len;
	const char *tok;
	for (const char *p = list; list_next(&p, &tok, &len);) {
		int found = 0;
		for (size_t k = 0; k < nd && !found; k++)
			found = name_is(tok, len, twin_layer_name(districts, k));
		if (!found) {
			/* The layer's names, whole ones only (UTF-8 is never cut), then "...". */
			char names[400] = "";
			size_t at = 0;
			for (size_t k = 0; k < nd; k++) {
				const char *nm = twin_layer_name(districts, k);
				size_t need = (k ? 2 : 0) + strlen(nm ? nm : "?");
				if (at + need + 6 >= sizeof(names)) { /* room for ", ..." */
					memcpy(names + at, ", ...", 6);
					break;
				}
				at += (size_t)snprintf(names + at, sizeof(names) - at, "%s%s",
						       k ? ", " : "", nm ? nm : "?");
			}
			return svt_err_set(err, SVT_E_INPUT, "--holdout: no district named '%.*s' in the "
					   "districts layer (%zu: %s)", (int)len, tok, nd, names);
		}
	}
	return SVT_OK;
}

/* The job's reference state, made on first use (its buffers come with the first clip). */
static int refs_state(dataset_job *j, svt_err *err)
{
	if (j->refs)
		return SVT_OK;
	if (!(j->refs = calloc(1, sizeof(ds_refs))))
		return svt_err_set(err, SVT_E_NOMEM, "no memory for references");
	j->refs->j = j;
	return SVT_OK;
}

/* opts.holdout is a polygon file when it names one (any vector source OGR reads); else a
 * list of district names. Loaded once. */
static int holdout_load(dataset_job *j, ds_refs *r, svt_err *err)
{
	if (r->holdout_checked || !j->o.holdout)
		return SVT_OK;
	r->holdout_checked = 1;
	if (access(j->o.holdout, R_OK) != 0)
		return SVT_OK;
	int rc = twin_layer_load(j->o.holdout, NULL, &r->holdout_layer, err);
	return rc ? svt_err_prefix(err, "holdout polygons %s", j->o.holdout) : SVT_OK;
}

/* 1 when (lat, lon) with district label `district` lies in the holdout. */
static int held_at(const dataset_job *j, const ds_refs *r, double lat, double lon,
		   const char *district)
{
	if (!j->o.holdout)
		return 0;
	if (r->holdout_layer)
		return twin_layer_locate(r->holdout_layer, lat, lon) >= 0;
	return in_list(j->o.holdout, district);
}

int ds_refs_holdout_clip(dataset_job *j, const size_t *kidx, int T, int *held, svt_err *err)
{
	*held = 0;
	if (!j->o.holdout)
		return SVT_OK;
	int rc = refs_state(j, err);
	if (!rc)
		rc = holdout_load(j, j->refs, err);
	if (rc)
		return rc;
	for (int t = 0; t < T && !*held; t++) {
		long f = j->district ? j->district[kidx[t]] : -1;
		const char *d = f >= 0 && j->districts ? twin_layer_name(j->districts, (size_t)f) : "";
		*held = held_at(j, j->refs, j->tf[kidx[t]].llh[0], j->tf[kidx[t]].llh[1], d);
	}
	return SVT_OK;
}

/* The split rule of references: a reference lies in the clip's split (the split of its
 * block), and a held-out district gives references to test clips only; a test clip in a
 * held-out district may draw on the rest of that district. */
static int ref_accept(void *user, size_t frame, const twin_frame_record *fr)
{
	ds_refs *r = user;
	dataset_job *j = r->j;
	(void)frame;
	char dist[256];
	record_district(fr, dist, sizeof(dist));
	int held = held_at(j, r, fr->f.llh[0], fr->f.llh[1], dist);
	if (held)
		return r->split == TWIN_SPLIT_TEST;
	return twin_split_of_point(&j->split, fr->f.proj[0], fr->f.proj[1]) == r->split;
}

/* The decoded panorama of store frame `frame` (file path) and its depth map, from the cache
 * or decoded into its oldest slot; *out NULL (and a warning) when the panorama does not
 * decode: the reference is passed over. A depth map that does not decode, or is not 16-bit
 * grey, is no depth map (the twin's points stand in). */
static int pano_get(ds_refs *r, size_t frame, const char *path, const ref_pano **out,
		    svt_err *err)
{
	*out = NULL;
	ref_pano *p = &r->cache[0];
	for (int k = 0; k < REF_CACHE; k++) {
		ref_pano *c = &r->cache[k];
		if (c->valid && c->frame == frame) {
			c->used = ++r->tick;
			*out = c;
			return SVT_OK;
		}
		if (!c->valid || (p->valid && c->used < p->used))
			p = c;
	}
	int rc;
	if ((!r->dec && (rc = ingest_decoder_create(&r->dec, err))) ||
	    (!r->ddec && (rc = ingest_decoder_create(&r->ddec, err))))
		return rc;
	svt_err derr = {0};
	int warn = 0;
	ingest_decode_opts dopts;
	ingest_decode_opts_default(&dopts);
	dopts.want_channels = 3;
	p->valid = 0;
	if (ingest_decode_file(r->dec, path, &dopts, &p->img, &warn, &derr)) {
		svt_log_warn("reference %s does not decode (%s): passed over", path, derr.msg);
		return SVT_OK;
	}
	char dpath[4096];
	dopts.want_channels = 0;
	p->has_depth = ingest_depth_path(path, dpath, sizeof(dpath)) &&
		       !ingest_decode_file(r->ddec, dpath, &dopts, &p->dimg, &warn, &derr) &&
		       p->dimg.bit_depth == 16 && p->dimg.channels == 1;
	p->valid = 1;
	p->frame = frame;
	p->used = ++r->tick;
	*out = p;
	return SVT_OK;
}

/* Renders reference slot i: frame hit->frame's panorama seen from its position with the view
 * camera rotation Rv (camera -> job ENU, the target's), colour and z-depth at the clip's view
 * size. *usable = 0 when it has no depth from anywhere (or does not decode). */
static int ref_render(dataset_job *j, ds_refs *r, int i, const twin_view_hit *h,
		      const double Rv[9], int *usable, svt_err *err)
{
	const dataset_opts *o = &j->o;
	size_t px = (size_t)o->width * o->height;
	twin_frame_record *fr = malloc(sizeof(*fr));
	int rc = SVT_OK;
	*usable = 0;
	if (!fr)
		return svt_err_set(err, SVT_E_NOMEM, "no memory for a frame record");
	if ((rc = twin_store_frame_record(refs_store(j), h->frame, fr, err)))
		goto cleanup;
	/* Pose in the job's frame: the panorama's centre and rotation mapped by (M, t). */
	double Cs[3], Rs[9], C[3], Rp[9];
	geo_pose_center(fr->f.w2c, Cs, Rs);
	for (int a = 0; a < 3; a++) {
		C[a] = r->t[a];
		for (int c = 0; c < 3; c++) {
			C[a] += r->M[3 * a + c] * Cs[c];
			Rp[3 * a + c] = 0;
			for (int k = 0; k < 3; k++)
				Rp[3 * a + c] += r->M[3 * a + k] * Rs[3 * k + c];
		}
	}
	const ref_pano *pc = NULL;
	if ((rc = pano_get(r, h->frame, fr->path, &pc, err)) || !pc)
		goto cleanup;
	gpu_view v;
	gpu_view_pinhole(&v, o->width, o->height, o->hfov_deg);
	geo_rot_relative(Rp, Rv, v.R);
	v.interp = GPU_INTERP_BILINEAR;
	v.antialias = 1;
	gpu_image src = {pc->img.data, pc->img.width, pc->img.height, pc->img.channels,
			 pc->img.stride};
	gpu_image dst = {r->rgb + (size_t)i * px * 3, o->width, o->height, 3, (size_t)o->width * 3};
	if ((rc = gpu_view_from_equirect(j->gpu, &src, &v, &dst, err)))
		goto cleanup;
	float *dep = r->depth + (size_t)i * px;
	int dsrc = FMT_DEPTH_NONE;
	geo_pose_w2c(C, Rv, r->w2c + 16 * i);
	if (pc->has_depth) {
		gpu_depth d = {.data = pc->dimg.data, .width = pc->dimg.width,
			       .height = pc->dimg.height, .stride = pc->dimg.stride, .is_float = 0,
			       .scale = 0.001, .min_m = 0.3, .max_m = 65.535,
			       .model = GPU_DEPTH_EQUIRECT, .step = 4};
		size_t ds = (size_t)o->width * sizeof(float);
		/* On the C path through the view's ray map, as the views' depth (ds_views.c): the
		 * same bits as the per-pixel reference, without two atan2 a pixel. */
		if (!strcmp(gpu_ctx_backend(j->gpu), "cpu")) {
			rc = gpu_view_map_build(&v, &r->map, err);
			if (!rc)
				rc = gpu_view_depth_from_map(&r->map, &d, dep, ds, err);
		} else {
			rc = gpu_view_depth_from_equirect(j->gpu, &d, &v, dep, ds, err);
		}
		if (rc)
			goto cleanup;
		dsrc = FMT_DEPTH_CAPTURE;
	}
	if (dsrc == FMT_DEPTH_NONE) {
		/* The twin's fused points around the reference, in its camera (store frame). */
		double Rvs[9], w2c_s[16];
		for (int a = 0; a < 3; a++)
			for (int c = 0; c < 3; c++) {
				Rvs[3 * a + c] = 0;
				for (int k = 0; k < 3; k++)
					Rvs[3 * a + c] += r->M[3 * k + a] * Rv[3 * k + c];
			}
		geo_pose_w2c(Cs, Rvs, w2c_s);
		gpu_point *all = NULL;
		size_t nall = 0;
		for (int dy = -1; dy <= 1 && !rc; dy++)
			for (int dx = -1; dx <= 1 && !rc; dx++) {
				gpu_point *p = NULL;
				size_t np = 0;
				if (twin_store_tile_points(refs_store(j), fr->tx + dx, fr->ty + dy, &p, &np,
							   err) || np == 0) {
					svt_err_clear(err);
					free(p);
					continue;
				}
				gpu_point *g = realloc(all, (nall + np) * sizeof(*g));
				if (!g) {
					free(p);
					rc = svt_err_set(err, SVT_E_NOMEM, "no memory for twin points");
					break;
				}
				all = g;
				memcpy(all + nall, p, np * sizeof(*p));
				nall += np;
				free(p);
			}
		double K[4] = {v.fx, v.fy, v.cx, v.cy};
		if (!rc && nall > 0) {
			rc = gpu_points_to_depth(j->gpu, all, nall, w2c_s, K, o->width, o->height, 0.3,
						 dep, NULL, err);
			if (!rc)
				dsrc = FMT_DEPTH_TWIN;
		}
		free(all);
		if (rc)
			goto cleanup;
	}
	if (dsrc == FMT_DEPTH_NONE) {
		j->st.refs_no_depth++;
		goto cleanup;
	}
	r->K[4 * i] = v.fx, r->K[4 * i + 1] = v.fy, r->K[4 * i + 2] = v.cx, r->K[4 * i + 3] = v.cy;
	memcpy(r->C + 3 * i, C, sizeof(C));
	r->time_us[i] = fr->f.time_us;
	r->dsrc[i] = dsrc;
	snprintf(r->run[i], sizeof(r->run[i]), "%.63s", fr->capture);
	snprintf(r->src[i], sizeof(r->src[i]), "%.1023s", fr->path);
	record_district(fr, r->rdist[i], sizeof(r->rdist[i]));
	r->rheld[i] = held_at(j, r, fr->f.llh[0], fr->f.llh[1], r->rdist[i]);
	snprintf(r->rsplit[i], sizeof(r->rsplit[i]), "%s",
		 r->rheld[i]
			 ? "test"
			 : twin_split_name(twin_split_of_point(&j->split, fr->f.proj[0], fr->f.proj[1])));
	*usable = 1;
cleanup:
	free(fr);
	return rc;
}

static void cam_of(const dataset_job *j, const double *w2c, const double *K, gpu_warp_cam *c)
{
	c->width = j->o.width;
	c->height = j->o.height;
	memcpy(c->K, K, sizeof(c->K));
	memcpy(c->w2c, w2c, sizeof(c->w2c));
}

/* The view camera's rotation (camera -> job ENU) of clip frame t. */
static void frame_rot(const ds_buf *B, int t, double Rv[9])
{
	double C[3];
	geo_pose_center(B->w2c + 16 * t, C, Rv);
}

int ds_refs_write(dataset_job *j, const ds_buf *B, const size_t *kidx, int T, int split,
		  const ds_refs_frames *out, svt_err *err)
{
	const dataset_opts *o = &j->o;
	if (o->refs <= 0 || !j->store)
		return SVT_OK;
	double t0 = svt_now(), c0 = svt_thread_cpu();
	int rc = SVT_OK;
	if ((rc = refs_state(j, err)) || (rc = holdout_load(j, j->refs, err)))
		return rc;
	if (!j->refs->cap &&
	    ((rc = refs_alloc(j, j->refs, err)) || (rc = frames_map(j, j->refs, err))))
		return rc;
	ds_refs *r = j->refs;
	r->split = split;
	if ((rc = ds_refs_holdout_clip(j, kidx, T, &r->clip_held, err)))
		return rc;
	size_t px = (size_t)o->width * o->height;
	/* Candidates along the trajectory: the best view of every frame (no panorama twice);
	 * tried spread evenly along the clip first, then the rest in clip order, so that the
	 * coverage filter has others to fall back on. */
	for (int t = 0; t < T; t++) {
		r->lat[t] = j->tf[kidx[t]].llh[0];
		r->lon[t] = j->tf[kidx[t]].llh[1];
		r->hd[t] = B->heading[t];
	}
	twin_view_query q;
	twin_view_query_default(&q);
	q.radius_m = o->ref_radius_m;
	q.any_yaw = 1;
	q.exclude_capture = j->twin_name; /* the twin knows the capture by content */
	q.time_us = j->tf[kidx[0]].time_us;
	q.min_gap_s = o->ref_min_gap_s;
	q.accept = ref_accept;
	q.accept_user = r;
	size_t nh = 0, no = 0, K = (size_t)o->refs;
	if ((rc = twin_store_views_along(refs_store(j), &q, r->lat, r->lon, r->hd, (size_t)T, (size_t)T,
					 r->hits, &nh, err)))
		return svt_err_prefix(err, "references of the clip");
	unsigned char *taken = (unsigned char *)(r->order + T + 1);
	memset(taken, 0, nh);
	for (size_t i = 0; i < K && i < nh; i++) {
		size_t h = K == 1 || nh <= K ? (nh <= K ? i : nh / 2)
					     : (size_t)llround((double)i * (nh - 1) / (K - 1));
		if (!taken[h])
			taken[h] = 1, r->order[no++] = h;
	}
	for (size_t h = 0; h < nh; h++)
		if (!taken[h])
			r->order[no++] = h;
	int R = 0;
	for (size_t oi = 0; oi < no && R < o->refs; oi++) {
		size_t h = r->order[oi];
		int t = (int)r->hits[h].pose, usable;
		double Rv[9];
		frame_rot(B, t, Rv);
		if ((rc = ref_render(j, r, R, &r->hits[h], Rv, &usable, err)))
			return rc;
		if (!usable)
			continue;
		/* The gap rule once more, on the whole clip's time span. */
		if (o->ref_min_gap_s > 0) {
			int64_t a = j->tf[kidx[0]].time_us, b = j->tf[kidx[T - 1]].time_us;
			int64_t rt = r->time_us[R];
			double gap = rt < a ? (double)(a - rt) : rt > b ? (double)(rt - b) : 0;
			if (gap < o->ref_min_gap_s * 1e6)
				continue;
		}
		gpu_warp_cam rc_cam, tc_cam;
		cam_of(j, r->w2c + 16 * R, r->K + 4 * R, &rc_cam);
		cam_of(j, B->w2c + 16 * t, B->K + 4 * t, &tc_cam);
		double cov;
		if ((rc = gpu_warp_coverage(j->gpu, &rc_cam, r->depth + (size_t)R * px,
					    (size_t)o->width * sizeof(float), &tc_cam, REF_COVER_STEP,
					    &cov, err)))
			return svt_err_prefix(err, "coverage of a reference");
		if (cov < o->ref_min_cover) {
			j->st.refs_dropped_cover++;
			continue;
		}
		r->cover[R] = cov;
		/* The frame stored that shows keyframe t (a densified clip's keyframe). */
		r->target[R] = out ? out->key_out[t] : t;
		r->kind[R] = FMT_REF_TRAJECTORY;
		R++;
	}
	int ntraj = R;
	/* The lookahead: the view nearest the trajectory ref_lookahead_m past its end, looking
	 * where the last frame looks. */
	if (o->ref_lookahead_m > 0 && R < r->cap) {
		const double *e1 = j->tf[kidx[T - 1]].enu;
		double hd = B->heading[T - 1] * M_PI / 180.0;
		double p[3] = {e1[0] + o->ref_lookahead_m * sin(hd), e1[1] + o->ref_lookahead_m * cos(hd),
			       e1[2]};
		svt_err e2 = {0};
		twin_view_hit h;
		size_t n1 = 0;
		if (!geo_enu_inverse(j->enu, &p[0], &p[1], &p[2], 3 * sizeof(double), 1, &e2)) {
			q.lat = p[1];
			q.lon = p[0];
			q.heading = B->heading[T - 1];
			if ((rc = twin_store_views_near(refs_store(j), &q, 1, &h, &n1, err)))
				return rc;
		}
		if (n1 == 1) {
			int usable;
			double Rv[9];
			frame_rot(B, T - 1, Rv);
			if ((rc = ref_render(j, r, R, &h, Rv, &usable, err)))
				return rc;
			if (usable) {
				r->cover[R] = 0;
				r->target[R] = -1;
				r->kind[R] = FMT_REF_LOOKAHEAD;
				R++;
			}
		}
	}
	/* The frames stored: the keyframes, or a densified clip's frames. */
	int NF = out ? out->N : T;
	const double *fw2c = out ? out->w2c : B->w2c, *fK = out ? out->K : B->K;
	if (R == 0) { /* an empty refs group: every clip of a build with refs has one */
		fmt_clip_refs d0 = {.R = 0, .H = o->height, .W = o->width, .T = NF,
				    .holdout = o->holdout, .clip_in_holdout = r->clip_held};
		rc = fmt_clip_refs_write(j->writer, &d0, err);
		j->st.seconds_refs += svt_now() - t0;
	j->st.seconds_refs_cpu += svt_thread_cpu() - c0;
		return rc;
	}
	/* Warps: each frame stored gets its nearest trajectory reference (a densified clip's
	 * synthesized frames too: their poses are known). */
	int warped = 0;
	if (o->ref_warps) {
		for (int t = 0; t < NF; t++) {
			double Ct[3], Rt[9];
			geo_pose_center(fw2c + 16 * t, Ct, Rt);
			int best = -1;
			double bd = INFINITY;
			for (int i = 0; i < ntraj; i++) {
				const double *c = r->C + 3 * i;
				double d = hypot(hypot(c[0] - Ct[0], c[1] - Ct[1]), c[2] - Ct[2]);
				if (d < bd)
					bd = d, best = i;
			}
			r->warp_ref[t] = best;
			uint8_t *wr = r->warp + (size_t)t * px * 3, *wm = r->warp_mask + (size_t)t * px;
			if (best < 0) {
				memset(wr, 0, px * 3);
				memset(wm, 0, px);
				j->st.warps_missing++;
				continue;
			}
			gpu_warp_cam rc_cam, tc_cam;
			cam_of(j, r->w2c + 16 * best, r->K + 4 * best, &rc_cam);
			cam_of(j, fw2c + 16 * t, fK + 4 * t, &tc_cam);
			if ((rc = gpu_warp_splat(j->gpu, &rc_cam, r->rgb + (size_t)best * px * 3,
						 (size_t)o->width * 3, r->depth + (size_t)best * px,
						 (size_t)o->width * sizeof(float), &tc_cam, 0.1, wr, wm,
						 NULL, NULL, err)))
				return svt_err_prefix(err, "warp of frame %d", t);
			warped++;
		}
	}
	const char *runs[65], *srcs[65], *spl[65], *dis[65];
	for (int i = 0; i < R; i++)
		runs[i] = r->run[i], srcs[i] = r->src[i], spl[i] = r->rsplit[i], dis[i] = r->rdist[i];
	fmt_clip_refs d = {.R = R, .H = o->height, .W = o->width, .T = NF, .rgb = r->rgb,
			   .depth = r->depth, .w2c = r->w2c, .K = r->K, .time_us = r->time_us,
			   .run = runs, .source = srcs, .target = r->target, .kind = r->kind,
			   .depth_src = r->dsrc, .coverage = r->cover, .split = spl,
			   .district = dis, .holdout = o->holdout, .in_holdout = r->rheld,
			   .clip_in_holdout = r->clip_held,
			   .warp = o->ref_warps ? r->warp : NULL, .warp_mask = r->warp_mask,
			   .warp_ref = r->warp_ref};
	if ((rc = fmt_clip_refs_write(j->writer, &d, err)))
		return rc;
	j->st.refs_written += (size_t)R;
	j->st.warps_written += (size_t)warped;
	j->st.seconds_refs += svt_now() - t0;
	j->st.seconds_refs_cpu += svt_thread_cpu() - c0;
	return SVT_OK;
}
