/* twin_split.c: train/val/test by geography, and the leak check.
 *
 * Why blocks: consecutive frames of a street look alike, so a random split per clip puts the
 * same facade in train and test. Assigning whole blocks of tiles, and keeping a buffer between
 * blocks of different splits, keeps every place in one split. The split of a block is a hash
 * of (seed, block), not a function of which blocks hold data, so it never changes when
 * captures are added (the incremental store relies on that).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "geo/geo.h"
#include "twin/twin.h"

void twin_split_opts_default(twin_split_opts *o)
{
	if (!o)
		return;
	memset(o, 0, sizeof(*o));
	o->tile_m = 100.0;
	o->block_tiles = 5;
	o->buffer_m = 50.0;
	o->ratio[TWIN_SPLIT_TRAIN] = 0.8;
	o->ratio[TWIN_SPLIT_VAL] = 0.1;
	o->ratio[TWIN_SPLIT_TEST] = 0.1;
	o->seed = 0;
}

const char *twin_split_name(int split)
{
	static const char *names[TWIN_SPLIT_COUNT] = {"train", "val", "test"};
	return split >= 0 && split < TWIN_SPLIT_COUNT ? names[split] : "";
}

int twin_split_from_name(const char *name)
{
	for (int s = 0; name && s < TWIN_SPLIT_COUNT; s++)
		if (strcmp(name, twin_split_name(s)) == 0)
			return s;
	return -1;
}

int twin_split_opts_check(const twin_split_opts *o, svt_err *err)
{
	if (!o)
		return svt_err_set(err, SVT_E_INPUT, "split options are NULL");
	if (!(o->tile_m > 0.0) || !isfinite(o->tile_m) || o->block_tiles < 1)
		return svt_err_set(err, SVT_E_INPUT, "split tile %g m x %d: must be > 0", o->tile_m,
				   o->block_tiles);
	if (!(o->buffer_m >= 0.0) || !isfinite(o->buffer_m))
		return svt_err_set(err, SVT_E_INPUT, "split buffer %g m must be finite and >= 0",
				   o->buffer_m);
	double sum = 0.0;
	for (int s = 0; s < TWIN_SPLIT_COUNT; s++) {
		if (!(o->ratio[s] >= 0.0) || !isfinite(o->ratio[s]))
			return svt_err_set(err, SVT_E_INPUT, "split ratio %s = %g must be >= 0",
					   twin_split_name(s), o->ratio[s]);
		sum += o->ratio[s];
	}
	if (!(sum > 0.0))
		return svt_err_set(err, SVT_E_INPUT, "split ratios sum to 0");
	return SVT_OK;
}

/* Split of block (bx, by): a uniform number from the hash, through the cumulative ratios. */
static int block_split(const twin_split_opts *o, int64_t bx, int64_t by)
{
	uint64_t h = svt_hash64(o->seed ^ svt_hash64((uint64_t)bx * 0x9e3779b97f4a7c15ull ^
						     svt_hash64((uint64_t)by)));
	double u = (double)(h >> 11) * 0x1.0p-53;
	double sum = o->ratio[0] + o->ratio[1] + o->ratio[2], acc = 0.0;
	for (int s = 0; s < TWIN_SPLIT_COUNT; s++) {
		acc += o->ratio[s] / sum;
		if (u < acc && o->ratio[s] > 0.0)
			return s;
	}
	/* u rounds up to the last boundary: the last split with a positive ratio. */
	for (int s = TWIN_SPLIT_COUNT - 1; s >= 0; s--)
		if (o->ratio[s] > 0.0)
			return s;
	return 0;
}

int twin_split_of_point(const twin_split_opts *o, double e, double n)
{
	if (twin_split_opts_check(o, NULL) || !isfinite(e) || !isfinite(n))
		return -1;
	double bm = o->tile_m * o->block_tiles;
	return block_split(o, (int64_t)floor(e / bm), (int64_t)floor(n / bm));
}

/* 1 when (e, n) lies at least margin inside the region of split s: no block of another split
 * within margin. Blocks are at least margin-reachable only among the neighbours within
 * ceil(margin / block) blocks. */
static int point_clear(const twin_split_opts *o, double e, double n, int s, double margin)
{
	double bm = o->tile_m * o->block_tiles;
	int64_t bx = (int64_t)floor(e / bm), by = (int64_t)floor(n / bm);
	if (block_split(o, bx, by) != s)
		return 0;
	int64_t r = (int64_t)ceil(margin / bm);
	for (int64_t dy = -r; dy <= r; dy++)
		for (int64_t dx = -r; dx <= r; dx++) {
			if (!dx && !dy)
				continue;
			/* Distance from the point to the block's square. */
			double x0 = (double)(bx + dx) * bm, y0 = (double)(by + dy) * bm;
			double ddx = e < x0 ? x0 - e : (e > x0 + bm ? e - x0 - bm : 0.0);
			double ddy = n < y0 ? y0 - n : (n > y0 + bm ? n - y0 - bm : 0.0);
			if (hypot(ddx, ddy) < margin && block_split(o, bx + dx, by + dy) != s)
				return 0;
		}
	return 1;
}

int twin_clip_split(const twin_split_opts *o, const twin_frame *frames, const twin_clip *clip)
{
	if (twin_split_opts_check(o, NULL) || !frames || !clip || clip->n < 1 || !clip->idx)
		return TWIN_SPLIT_DROP;
	const twin_frame *f0 = &frames[clip->idx[0]];
	int s = twin_split_of_point(o, f0->proj[0], f0->proj[1]);
	if (s < 0)
		return TWIN_SPLIT_DROP;
	for (int t = 0; t < clip->n; t++) {
		const twin_frame *f = &frames[clip->idx[t]];
		if (!isfinite(f->proj[0]) || !isfinite(f->proj[1]) ||
		    !point_clear(o, f->proj[0], f->proj[1], s, 0.5 * o->buffer_m))
			return TWIN_SPLIT_DROP;
	}
	return s;
}

int twin_splits_assign(const twin_split_opts *o, const twin_frame *frames, size_t n_frames,
		       twin_clip_list *l, size_t *n_dropped, size_t counts[TWIN_SPLIT_COUNT],
		       svt_err *err)
{
	int rc;
	if ((rc = twin_split_opts_check(o, err)))
		return rc;
	if (!l || (l->n && !frames))
		return svt_err_set(err, SVT_E_INPUT, "twin_splits_assign: NULL argument");
	for (size_t c = 0; c < l->n; c++)
		for (int t = 0; t < l->clips[c].n; t++)
			if (!l->clips[c].idx || l->clips[c].idx[t] >= n_frames)
				return svt_err_set(err, SVT_E_INPUT,
						   "clip %zu refers to frame %zu of %zu", c,
						   l->clips[c].idx ? l->clips[c].idx[t] : 0, n_frames);
	size_t kept = 0, dropped = 0, cnt[TWIN_SPLIT_COUNT] = {0};
	for (size_t c = 0; c < l->n; c++) {
		twin_clip *cl = &l->clips[c];
		int s = twin_clip_split(o, frames, cl);
		if (s == TWIN_SPLIT_DROP) {
			free(cl->idx);
			dropped++;
			continue;
		}
		snprintf(cl->split, sizeof(cl->split), "%s", twin_split_name(s));
		cnt[s]++;
		l->clips[kept++] = *cl;
	}
	l->n = kept;
	if (n_dropped)
		*n_dropped = dropped;
	if (counts)
		memcpy(counts, cnt, sizeof(cnt));
	return SVT_OK;
}

/* ---- The leak check ---------------------------------------------------------------------- */

typedef struct cell_pt {
	int64_t cx, cy;
	size_t i;
} cell_pt;

static int cell_cmp(const void *a, const void *b)
{
	const cell_pt *p = a, *q = b;
	if (p->cx != q->cx)
		return p->cx < q->cx ? -1 : 1;
	if (p->cy != q->cy)
		return p->cy < q->cy ? -1 : 1;
	return p->i < q->i ? -1 : (p->i > q->i);
}

/* First entry of sorted cells with key >= (cx, cy). */
static size_t cell_lower(const cell_pt *c, size_t n, int64_t cx, int64_t cy)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (c[mid].cx < cx || (c[mid].cx == cx && c[mid].cy < cy))
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

typedef double (*dist_fn)(const void *ctx, size_t a, size_t b);

/* Points binned into cells of side `cell` (>= the buffer in the binning plane); each point
 * compares itself with the later points of its own and the 8 neighbouring cells, measured
 * by dist (exact for the caller's coordinates). */
static int check_core(const double *xy, const int *split, size_t n, double cell, double buffer_m,
		      dist_fn dist, const void *ctx, size_t *n_viol, twin_split_violation *rep,
		      size_t max_rep, svt_err *err)
{
	*n_viol = 0;
	if (n == 0 || !(buffer_m > 0.0))
		return SVT_OK;
	cell_pt *c = malloc(n * sizeof(*c));
	if (!c)
		return svt_err_set(err, SVT_E_NOMEM, "no memory for %zu points", n);
	size_t m = 0;
	for (size_t i = 0; i < n; i++) {
		if (split[i] < 0)
			continue;
		if (!isfinite(xy[2 * i]) || !isfinite(xy[2 * i + 1])) {
			free(c);
			return svt_err_set(err, SVT_E_INPUT, "point %zu is not finite", i);
		}
		c[m].cx = (int64_t)floor(xy[2 * i] / cell);
		c[m].cy = (int64_t)floor(xy[2 * i + 1] / cell);
		c[m].i = i;
		m++;
	}
	qsort(c, m, sizeof(*c), cell_cmp);
	size_t nv = 0;
	for (size_t k = 0; k < m; k++) {
		size_t a = c[k].i;
		for (int64_t dx = -1; dx <= 1; dx++)
			for (int64_t dy = -1; dy <= 1; dy++) {
				int64_t qx = c[k].cx + dx, qy = c[k].cy + dy;
				for (size_t j = cell_lower(c, m, qx, qy);
				     j < m && c[j].cx == qx && c[j].cy == qy; j++) {
					size_t b = c[j].i;
					if (b <= a || split[b] == split[a])
						continue;
					double d = dist(ctx, a, b);
					if (d < buffer_m) {
						if (rep && nv < max_rep)
							rep[nv] = (twin_split_violation){a, b, d};
						nv++;
					}
				}
			}
	}
	free(c);
	*n_viol = nv;
	return SVT_OK;
}

static double plane_dist(const void *ctx, size_t a, size_t b)
{
	const double *xy = ctx;
	return hypot(xy[2 * a] - xy[2 * b], xy[2 * a + 1] - xy[2 * b + 1]);
}

int twin_splits_check(const double *xy, const int *split, size_t n, double buffer_m,
		      size_t *n_violations, twin_split_violation *report, size_t max_report,
		      svt_err *err)
{
	if (!n_violations || (n && (!xy || !split)))
		return svt_err_set(err, SVT_E_INPUT, "twin_splits_check: NULL argument");
	if (!(buffer_m >= 0.0) || !isfinite(buffer_m))
		return svt_err_set(err, SVT_E_INPUT, "buffer %g m must be finite and >= 0", buffer_m);
	return check_core(xy, split, n, buffer_m, buffer_m, plane_dist, xy, n_violations, report,
			  max_report, err);
}

typedef struct llh_ctx {
	const double *lat, *lon;
} llh_ctx;

static double geodesic_dist(const void *ctx, size_t a, size_t b)
{
	const llh_ctx *c = ctx;
	return geo_distance_m(c->lat[a], c->lon[a], c->lat[b], c->lon[b]);
}

int twin_splits_check_llh(const double *lat, const double *lon, const int *split, size_t n,
			  double buffer_m, size_t *n_violations, twin_split_violation *report,
			  size_t max_report, svt_err *err)
{
	if (!n_violations || (n && (!lat || !lon || !split)))
		return svt_err_set(err, SVT_E_INPUT, "twin_splits_check_llh: NULL argument");
	if (!(buffer_m >= 0.0) || !isfinite(buffer_m))
		return svt_err_set(err, SVT_E_INPUT, "buffer %g m must be finite and >= 0", buffer_m);
	*n_violations = 0;
	double lat0 = 0.0, lat_min = 90.0, lat_max = -90.0, lon_ref = 0.0;
	size_t m = 0;
	for (size_t i = 0; i < n; i++) {
		if (split[i] < 0)
			continue;
		if (!isfinite(lat[i]) || !isfinite(lon[i]) || fabs(lat[i]) > 89.0)
			return svt_err_set(err, SVT_E_INPUT, "point %zu (%g, %g) is not usable", i,
					   lat[i], lon[i]);
		if (m == 0)
			lon_ref = lon[i];
		lat0 += lat[i];
		lat_min = fmin(lat_min, lat[i]);
		lat_max = fmax(lat_max, lat[i]);
		m++;
	}
	if (m == 0)
		return SVT_OK;
	lat0 /= (double)m;
	/* An equirectangular plane about the mean latitude bins the points; its east scale is
	 * exact at lat0 and off by |tan(lat) dlat| elsewhere, so the cell grows by that factor
	 * (plus 1 %) to keep every close pair in neighbouring cells. The distance itself is the
	 * exact geodesic. */
	const double a = 6378137.0, f = 1.0 / 298.257223563, e2 = f * (2.0 - f);
	double p0 = lat0 * M_PI / 180.0, s = sin(p0);
	double w = sqrt(1.0 - e2 * s * s);
	double M = a * (1.0 - e2) / (w * w * w), N = a / w;
	double spread = fmax(lat_max - lat0, lat0 - lat_min) * M_PI / 180.0;
	double c_lo = cos(fmin(89.0, fmax(fabs(lat_min), fabs(lat_max))) * M_PI / 180.0);
	double grow = fmax(cos(p0) / c_lo, 1.0) * (1.0 + 0.01 + 0.01 * spread);
	double *xy = malloc((n ? n : 1) * 2 * sizeof(double));
	if (!xy)
		return svt_err_set(err, SVT_E_NOMEM, "no memory for %zu points", n);
	for (size_t i = 0; i < n; i++) {
		if (split[i] < 0) {
			xy[2 * i] = xy[2 * i + 1] = 0.0;
			continue;
		}
		double dlon = remainder(lon[i] - lon_ref, 360.0);
		xy[2 * i] = dlon * M_PI / 180.0 * N * cos(p0);
		xy[2 * i + 1] = (lat[i] - lat0) * M_PI / 180.0 * M;
	}
	llh_ctx ctx = {lat, lon};
	int rc = check_core(xy, split, n, buffer_m * grow, buffer_m, geodesic_dist, &ctx,
			    n_violations, report, max_report, err);
	free(xy);
	return rc;
}
