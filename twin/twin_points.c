/* twin_points.c: fused point sets per tile (tiles/<tx>_<ty>.pts).
 *
 * Points arrive per frame from the depth back-projection (gpu_depth_to_points) in some ENU
 * frame; they are moved into the store's ENU frame, binned by tile in the projected CRS and
 * merged on a voxel grid of the store's ENU frame. Each stored point keeps the number of input
 * points it stands for, so merging later captures is a weighted mean and the result equals a
 * single merge of everything (up to float rounding): gpu_voxel_downsample caps its count at
 * 255 and cannot be chained that way, hence this C merge. The per-frame reduction before it
 * may still use the GPU kernel (the pipeline's choice).
 *
 * File layout (little-endian), 64-byte header then 20-byte records:
 *   0 "SVTPTS1\0"  8 u32 version (1)  12 u32 record size (20)  16 u64 count
 *   24 f64 offset[3] (store ENU, metres)  48 f64 voxel_m  56 i32 tx  60 i32 ty
 *   record: f32 x, y, z (relative to offset)  u8 r, g, b, pad  u32 weight
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "twin/twin_internal.h"

#define PTS_MAGIC "SVTPTS1"
#define PTS_HEADER 64
#define PTS_RECORD 20

typedef struct wpoint {
	int64_t k[3];  /* voxel index */
	double p[3];   /* position, store ENU */
	double c[3];   /* colour */
	uint32_t w;    /* weight: input points merged */
} wpoint;

static void put_u32(uint8_t *b, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		b[i] = (uint8_t)(v >> (8 * i));
}
static void put_u64(uint8_t *b, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		b[i] = (uint8_t)(v >> (8 * i));
}
static uint32_t get_u32(const uint8_t *b)
{
	uint32_t v = 0;
	for (int i = 3; i >= 0; i--)
		v = v << 8 | b[i];
	return v;
}
static uint64_t get_u64(const uint8_t *b)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | b[i];
	return v;
}
static void put_f64(uint8_t *b, double d)
{
	uint64_t u;
	memcpy(&u, &d, 8);
	put_u64(b, u);
}
static double get_f64(const uint8_t *b)
{
	uint64_t u = get_u64(b);
	double d;
	memcpy(&d, &u, 8);
	return d;
}
static void put_f32(uint8_t *b, float f)
{
	uint32_t u;
	memcpy(&u, &f, 4);
	put_u32(b, u);
}
static float get_f32(const uint8_t *b)
{
	uint32_t u = get_u32(b);
	float f;
	memcpy(&f, &u, 4);
	return f;
}

static int pts_path(const twin_store *s, int tx, int ty, char *p, size_t cap, svt_err *err)
{
	char rel[96];
	snprintf(rel, sizeof(rel), "tiles/%d_%d.pts", tx, ty);
	return svt_path_join(p, cap, s->dir, rel, err);
}

/* Reads a tile's stored points, appending them to *v (weights kept). */
static int pts_read(const twin_store *s, int tx, int ty, wpoint **v, size_t *n, size_t *cap,
		    svt_err *err)
{
	char p[4096];
	int rc = pts_path(s, tx, ty, p, sizeof(p), err);
	if (rc)
		return rc;
	uint8_t *d = NULL;
	size_t size = 0;
	if ((rc = svt_file_read(p, (size_t)1 << 34, &d, &size, err)))
		return rc;
	uint64_t cnt = size >= PTS_HEADER ? get_u64(d + 16) : 0;
	if (size < PTS_HEADER || memcmp(d, PTS_MAGIC, 8) != 0 || get_u32(d + 8) != 1 ||
	    get_u32(d + 12) != PTS_RECORD || cnt > (size - PTS_HEADER) / PTS_RECORD ||
	    PTS_HEADER + cnt * PTS_RECORD != size) {
		free(d);
		return svt_err_set(err, SVT_E_FORMAT, "%s: not a points file of this store", p);
	}
	double off[3] = {get_f64(d + 24), get_f64(d + 32), get_f64(d + 40)};
	if (*n + cnt > *cap) {
		size_t nc = *n + (size_t)cnt;
		wpoint *q = realloc(*v, (nc ? nc : 1) * sizeof(*q));
		if (!q) {
			free(d);
			return svt_err_set(err, SVT_E_NOMEM, "no memory for %zu points", nc);
		}
		*v = q;
		*cap = nc;
	}
	for (uint64_t i = 0; i < cnt; i++) {
		const uint8_t *r = d + PTS_HEADER + i * PTS_RECORD;
		wpoint *w = &(*v)[(*n)++];
		for (int a = 0; a < 3; a++) {
			w->p[a] = off[a] + (double)get_f32(r + 4 * a);
			w->c[a] = r[12 + a];
		}
		w->w = get_u32(r + 16);
		if (w->w == 0)
			w->w = 1;
	}
	free(d);
	return SVT_OK;
}

static int wp_cmp(const void *a, const void *b)
{
	const wpoint *p = a, *q = b;
	for (int i = 0; i < 3; i++)
		if (p->k[i] != q->k[i])
			return p->k[i] < q->k[i] ? -1 : 1;
	/* Equal voxel: a total order on the rest, so summation order never depends on input
	 * order. */
	for (int i = 0; i < 3; i++)
		if (p->p[i] != q->p[i])
			return p->p[i] < q->p[i] ? -1 : 1;
	for (int i = 0; i < 3; i++)
		if (p->c[i] != q->c[i])
			return p->c[i] < q->c[i] ? -1 : 1;
	return p->w < q->w ? -1 : (p->w > q->w);
}

/* Merges v[0..n) in place into one weighted mean per voxel; returns the new count. */
static size_t voxel_merge(wpoint *v, size_t n, double voxel)
{
	for (size_t i = 0; i < n; i++)
		for (int a = 0; a < 3; a++)
			v[i].k[a] = (int64_t)floor(v[i].p[a] / voxel);
	qsort(v, n, sizeof(*v), wp_cmp);
	size_t m = 0;
	for (size_t i = 0; i < n;) {
		size_t j = i;
		double sp[3] = {0}, sc[3] = {0};
		uint64_t sw = 0;
		while (j < n && memcmp(v[j].k, v[i].k, sizeof(v[i].k)) == 0) {
			for (int a = 0; a < 3; a++) {
				sp[a] += v[j].p[a] * v[j].w;
				sc[a] += v[j].c[a] * v[j].w;
			}
			sw += v[j].w;
			j++;
		}
		wpoint o = v[i];
		for (int a = 0; a < 3; a++) {
			o.p[a] = sp[a] / (double)sw;
			o.c[a] = sc[a] / (double)sw;
		}
		o.w = sw > UINT32_MAX ? UINT32_MAX : (uint32_t)sw;
		v[m++] = o;
		i = j;
	}
	return m;
}

static int pts_write(const twin_store *s, int tx, int ty, const wpoint *v, size_t n,
		     svt_err *err)
{
	char p[4096];
	int rc = pts_path(s, tx, ty, p, sizeof(p), err);
	if (rc)
		return rc;
	/* Offset: the points' mean rounded to a metre, so float32 offsets stay within a tile's
	 * reach (sub-millimetre steps). */
	double off[3] = {0, 0, 0};
	for (size_t i = 0; i < n; i++)
		for (int a = 0; a < 3; a++)
			off[a] += v[i].p[a];
	for (int a = 0; a < 3; a++)
		off[a] = n ? round(off[a] / (double)n) : 0.0;
	size_t size = PTS_HEADER + n * PTS_RECORD;
	uint8_t *b = calloc(1, size);
	if (!b)
		return svt_err_set(err, SVT_E_NOMEM, "no memory for %zu points", n);
	memcpy(b, PTS_MAGIC, 8);
	put_u32(b + 8, 1);
	put_u32(b + 12, PTS_RECORD);
	put_u64(b + 16, n);
	for (int a = 0; a < 3; a++)
		put_f64(b + 24 + 8 * a, off[a]);
	put_f64(b + 48, s->voxel_m);
	put_u32(b + 56, (uint32_t)tx);
	put_u32(b + 60, (uint32_t)ty);
	for (size_t i = 0; i < n; i++) {
		uint8_t *r = b + PTS_HEADER + i * PTS_RECORD;
		for (int a = 0; a < 3; a++) {
			put_f32(r + 4 * a, (float)(v[i].p[a] - off[a]));
			double c = round(v[i].c[a]);
			r[12 + a] = (uint8_t)(c < 0 ? 0 : (c > 255 ? 255 : c));
		}
		put_u32(r + 16, v[i].w);
	}
	rc = svt_file_write_atomic(p, b, size, err);
	free(b);
	return rc;
}

int twin_store_tile_points(const twin_store *s, int tx, int ty, gpu_point **pts, size_t *n,
			   svt_err *err)
{
	if (!s || !pts || !n)
		return svt_err_set(err, SVT_E_INPUT, "twin_store_tile_points: NULL argument");
	*pts = NULL;
	*n = 0;
	long t = twin_tile_find(s, tx, ty);
	if (t < 0 || s->tiles[t].n_points == 0)
		return SVT_OK;
	wpoint *v = NULL;
	size_t m = 0, cap = 0;
	int rc = pts_read(s, tx, ty, &v, &m, &cap, err);
	if (rc) {
		free(v);
		return rc;
	}
	gpu_point *o = malloc((m ? m : 1) * sizeof(*o));
	if (!o) {
		free(v);
		return svt_err_set(err, SVT_E_NOMEM, "no memory for %zu points", m);
	}
	for (size_t i = 0; i < m; i++) {
		o[i].x = (float)v[i].p[0];
		o[i].y = (float)v[i].p[1];
		o[i].z = (float)v[i].p[2];
		o[i].r = (uint8_t)v[i].c[0];
		o[i].g = (uint8_t)v[i].c[1];
		o[i].b = (uint8_t)v[i].c[2];
		o[i].a = (uint8_t)(v[i].w > 255 ? 255 : v[i].w);
	}
	free(v);
	*pts = o;
	*n = m;
	return SVT_OK;
}

typedef struct tidx {
	int tx, ty;
	size_t i;
} tidx;

static int tidx_cmp(const void *a, const void *b)
{
	const tidx *p = a, *q = b;
	if (p->tx != q->tx)
		return p->tx < q->tx ? -1 : 1;
	if (p->ty != q->ty)
		return p->ty < q->ty ? -1 : 1;
	return p->i < q->i ? -1 : (p->i > q->i);
}

void twin_store_set_gpu(twin_store *s, gpu_ctx *ctx)
{
	if (s)
		s->gpu = ctx;
}

/* Reduces one tile's incoming points (ti[0..k)) with the voxel kernel and appends the voxels
 * to v at *m (room for k more is there) with their counts as weights. The kernel works in
 * float, so points go in relative to a voxel-aligned offset near them: small values, and
 * the same voxel boundaries as the double grid of voxel_merge. */
static int gpu_reduce(twin_store *s, const double *xyz, const gpu_point *pts, const tidx *ti,
		      size_t k, wpoint *v, size_t *m, svt_err *err)
{
	double off[3];
	for (int a = 0; a < 3; a++)
		off[a] = floor(xyz[3 * ti[0].i + a] / s->voxel_m) * s->voxel_m;
	gpu_point *in = malloc(k * sizeof(*in)), *out = malloc(k * sizeof(*out));
	int rc = SVT_OK;
	if (!in || !out) {
		rc = svt_err_set(err, SVT_E_NOMEM, "no memory for %zu points", k);
		goto done;
	}
	for (size_t j = 0; j < k; j++) {
		size_t i = ti[j].i;
		in[j] = pts[i];
		in[j].x = (float)(xyz[3 * i] - off[0]);
		in[j].y = (float)(xyz[3 * i + 1] - off[1]);
		in[j].z = (float)(xyz[3 * i + 2] - off[2]);
	}
	size_t nout = 0, dropped = 0;
	if ((rc = gpu_voxel_downsample(s->gpu, in, k, s->voxel_m, out, k, &nout, &dropped, err)))
		goto done;
	if (dropped) {
		rc = svt_err_set(err, SVT_E_INPUT, "%zu points out of the voxel kernel's range", dropped);
		goto done;
	}
	for (size_t j = 0; j < nout; j++) {
		wpoint *w = &v[(*m)++];
		w->p[0] = off[0] + out[j].x;
		w->p[1] = off[1] + out[j].y;
		w->p[2] = off[2] + out[j].z;
		w->c[0] = out[j].r;
		w->c[1] = out[j].g;
		w->c[2] = out[j].b;
		w->w = out[j].a ? out[j].a : 1;
	}
done:
	free(in);
	free(out);
	return rc;
}

int twin_store_add_points(twin_store *s, const gpu_point *pts, size_t n,
			  const double origin_llh[3], svt_err *err)
{
	if (!s || (n && !pts))
		return svt_err_set(err, SVT_E_INPUT, "twin_store_add_points: NULL argument");
	if (n == 0)
		return SVT_OK;
	if (!s->enu)
		return svt_err_set(err, SVT_E_INPUT, "store has no ENU origin yet: add a capture first");
	int rc = SVT_OK;
	double *xyz = malloc(3 * n * sizeof(double)), *ll = malloc(3 * n * sizeof(double));
	tidx *ti = malloc(n * sizeof(*ti));
	wpoint *v = NULL;
	size_t vcap = 0;
	if (!xyz || !ll || !ti) {
		rc = svt_err_set(err, SVT_E_NOMEM, "no memory for %zu points", n);
		goto done;
	}
	double M[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1}, t[3] = {0, 0, 0};
	if (origin_llh && (rc = twin_enu_change(s, origin_llh, M, t, err)))
		goto done;
	for (size_t i = 0; i < n; i++) {
		double p[3] = {pts[i].x, pts[i].y, pts[i].z};
		if (!isfinite(p[0]) || !isfinite(p[1]) || !isfinite(p[2])) {
			rc = svt_err_set(err, SVT_E_INPUT, "point %zu is not finite", i);
			goto done;
		}
		for (int r = 0; r < 3; r++)
			xyz[3 * i + r] = M[3 * r] * p[0] + M[3 * r + 1] * p[1] + M[3 * r + 2] * p[2] + t[r];
	}
	/* Tiles are in the projected CRS: store ENU -> lon/lat/h -> E, N. */
	memcpy(ll, xyz, 3 * n * sizeof(double));
	if ((rc = geo_enu_inverse(s->enu, ll, ll + 1, ll + 2, 3 * sizeof(double), n, err)) ||
	    (rc = geo_crs_forward(s->crs, ll, ll + 1, ll + 2, 3 * sizeof(double), n, err)))
		goto done;
	for (size_t i = 0; i < n; i++) {
		ti[i].i = i;
		if (twin_tile_of(s, ll[3 * i], ll[3 * i + 1], &ti[i].tx, &ti[i].ty)) {
			rc = svt_err_set(err, SVT_E_INPUT, "point %zu has no projected position", i);
			goto done;
		}
	}
	qsort(ti, n, sizeof(*ti), tidx_cmp);

	uint64_t gen = s->gen + 1;
	for (size_t a = 0; a < n;) {
		size_t b = a;
		while (b < n && ti[b].tx == ti[a].tx && ti[b].ty == ti[a].ty)
			b++;
		long k = twin_tile_get(s, ti[a].tx, ti[a].ty, err);
		if (k < 0) {
			rc = (int)k;
			goto done;
		}
		size_t m = 0;
		if (s->tiles[k].n_points &&
		    (rc = pts_read(s, ti[a].tx, ti[a].ty, &v, &m, &vcap, err)))
			goto done;
		if (m + (b - a) > vcap) {
			size_t nc = m + (b - a);
			wpoint *q = realloc(v, nc * sizeof(*q));
			if (!q) {
				rc = svt_err_set(err, SVT_E_NOMEM, "no memory for %zu points", nc);
				goto done;
			}
			v = q;
			vcap = nc;
		}
		if (s->gpu) {
			if ((rc = gpu_reduce(s, xyz, pts, ti + a, b - a, v, &m, err)))
				goto done;
		} else {
			for (size_t j = a; j < b; j++) {
				size_t i = ti[j].i;
				wpoint *w = &v[m++];
				memcpy(w->p, xyz + 3 * i, sizeof(w->p));
				w->c[0] = pts[i].r;
				w->c[1] = pts[i].g;
				w->c[2] = pts[i].b;
				w->w = 1;
			}
		}
		m = voxel_merge(v, m, s->voxel_m);
		if ((rc = pts_write(s, ti[a].tx, ti[a].ty, v, m, err)))
			goto done;
		s->tiles[k].n_points = m;
		s->tiles[k].gen = gen;
		a = b;
	}
	s->gen = gen;
	for (size_t k = 0; k < s->ntiles; k++)
		if (s->tiles[k].gen == gen && (rc = twin_tile_write(s, k, err)))
			goto done;
	rc = twin_meta_write(s, err);
done:
	free(xyz);
	free(ll);
	free(ti);
	free(v);
	return rc;
}
