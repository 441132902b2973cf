/* twin_query.c: frames near a point, in a district or polygon, nearest a pose. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "twin/twin_internal.h"

typedef struct hit {
	double d;
	size_t i;
} hit;

static int hit_cmp(const void *a, const void *b)
{
	const hit *p = a, *q = b;
	if (p->d != q->d)
		return p->d < q->d ? -1 : 1;
	return p->i < q->i ? -1 : (p->i > q->i);
}

int twin_store_query_near(twin_store *s, double lat, double lon, double radius_m, size_t **idx,
			  double **dist_m, size_t *n, svt_err *err)
{
	if (!s || !idx || !n)
		return svt_err_set(err, SVT_E_INPUT, "twin_store_query_near: NULL argument");
	*idx = NULL;
	*n = 0;
	if (dist_m)
		*dist_m = NULL;
	if (!isfinite(lat) || !isfinite(lon) || fabs(lat) > 90 || !(radius_m >= 0) ||
	    !isfinite(radius_m))
		return svt_err_set(err, SVT_E_INPUT, "near %g, %g radius %g m: out of range", lat, lon,
				   radius_m);
	double e = lon, nn = lat, h = 0;
	int rc = geo_crs_forward(s->crs, &e, &nn, &h, sizeof(double), 1, err);
	if (rc)
		return rc;
	/* Projected distances differ from geodesic ones by the scale factor (within 0.1 % for
	 * the Korean belts near their meridian); a 1 % + 1 m margin keeps every candidate. */
	double reach = radius_m * 1.01 + 1.0;
	int tx0, ty0, tx1, ty1;
	if (twin_tile_of(s, e - reach, nn - reach, &tx0, &ty0) ||
	    twin_tile_of(s, e + reach, nn + reach, &tx1, &ty1))
		return svt_err_set(err, SVT_E_INPUT, "near point outside the store's CRS");
	size_t cap = 64, m = 0;
	hit *hs = malloc(cap * sizeof(*hs));
	if (!hs)
		return svt_err_set(err, SVT_E_NOMEM, "no memory");
	/* Walk the stored tiles in the window (a window far larger than the store walks the
	 * tile table instead of the empty grid). */
	long long window = ((long long)tx1 - tx0 + 1) * ((long long)ty1 - ty0 + 1);
	for (size_t t = 0; t < s->ntiles; t++) {
		const tile *tl = &s->tiles[t];
		if (tl->tx < tx0 || tl->tx > tx1 || tl->ty < ty0 || tl->ty > ty1)
			continue;
		for (size_t k = 0; k < tl->nf; k++) {
			size_t i = s->by_tile[tl->f0 + k];
			double d = geo_distance_m(lat, lon, s->f[i].llh[0], s->f[i].llh[1]);
			if (!(d <= radius_m))
				continue;
			if (m == cap) {
				hit *q = realloc(hs, 2 * cap * sizeof(*hs));
				if (!q) {
					free(hs);
					return svt_err_set(err, SVT_E_NOMEM, "no memory");
				}
				hs = q;
				cap *= 2;
			}
			hs[m++] = (hit){d, i};
		}
	}
	(void)window;
	qsort(hs, m, sizeof(*hs), hit_cmp);
	*idx = malloc((m ? m : 1) * sizeof(size_t));
	double *dd = dist_m ? malloc((m ? m : 1) * sizeof(double)) : NULL;
	if (!*idx || (dist_m && !dd)) {
		free(*idx);
		*idx = NULL;
		free(dd);
		free(hs);
		return svt_err_set(err, SVT_E_NOMEM, "no memory");
	}
	for (size_t k = 0; k < m; k++) {
		(*idx)[k] = hs[k].i;
		if (dd)
			dd[k] = hs[k].d;
	}
	if (dist_m)
		*dist_m = dd;
	*n = m;
	free(hs);
	return SVT_OK;
}

int twin_store_query_district(const twin_store *s, const char *layer_name, const char *name,
			      size_t **idx, size_t *n, svt_err *err)
{
	if (!s || !name || !idx || !n)
		return svt_err_set(err, SVT_E_INPUT, "twin_store_query_district: NULL argument");
	*idx = NULL;
	*n = 0;
	for (size_t k = 0; k < s->nlayers; k++) {
		if (layer_name && strcmp(layer_name, s->layers[k].name) != 0)
			continue;
		long f = twin_layer_find(s->layers[k].l, name);
		if (f < 0)
			continue;
		*idx = malloc((s->nf ? s->nf : 1) * sizeof(size_t));
		if (!*idx)
			return svt_err_set(err, SVT_E_NOMEM, "no memory");
		for (size_t i = 0; i < s->nf; i++)
			if (s->layers[k].lab[i] == f)
				(*idx)[(*n)++] = i;
		return SVT_OK;
	}
	if (layer_name) {
		size_t k = 0;
		while (k < s->nlayers && strcmp(layer_name, s->layers[k].name) != 0)
			k++;
		if (k == s->nlayers)
			return svt_err_set(err, SVT_E_NOTFOUND, "the store has no layer '%s'", layer_name);
	}
	return svt_err_set(err, SVT_E_NOTFOUND, "no feature called '%s' in %s", name,
			   layer_name ? layer_name : "any layer of the store");
}

int twin_store_query_polygon(const twin_store *s, const twin_layer *l, size_t k, size_t **idx,
			     size_t *n, svt_err *err)
{
	if (!s || !l || !idx || !n)
		return svt_err_set(err, SVT_E_INPUT, "twin_store_query_polygon: NULL argument");
	*n = 0;
	if (k >= twin_layer_count(l))
		return svt_err_set(err, SVT_E_INPUT, "feature %zu of %zu", k, twin_layer_count(l));
	*idx = malloc((s->nf ? s->nf : 1) * sizeof(size_t));
	if (!*idx)
		return svt_err_set(err, SVT_E_NOMEM, "no memory");
	for (size_t i = 0; i < s->nf; i++)
		if (twin_layer_contains(l, k, s->f[i].llh[0], s->f[i].llh[1]))
			(*idx)[(*n)++] = i;
	return SVT_OK;
}

long twin_store_nearest_pose(twin_store *s, double lat, double lon, double heading,
			     double deg_weight_m, double *score)
{
	if (!s || s->nf == 0 || !isfinite(lat) || !isfinite(lon))
		return -1;
	if (!isfinite(deg_weight_m) || deg_weight_m < 0)
		deg_weight_m = 0;
	/* Candidates by projected distance first: the exact geodesic score is computed for
	 * frames whose projected distance alone could still win. */
	double e = lon, n = lat, h = 0;
	svt_err tmp = {0};
	int use_proj = geo_crs_forward(s->crs, &e, &n, &h, sizeof(double), 1, &tmp) == 0;
	long best = -1;
	double bs = INFINITY;
	for (size_t i = 0; i < s->nf; i++) {
		const twin_frame *f = &s->f[i];
		if (use_proj && hypot(f->proj[0] - e, f->proj[1] - n) * 0.99 - 1.0 > bs)
			continue;
		double d = geo_distance_m(lat, lon, f->llh[0], f->llh[1]);
		if (isfinite(heading) && isfinite(f->heading)) {
			double dh = fabs(fmod(f->heading - heading, 360.0));
			if (dh > 180.0)
				dh = 360.0 - dh;
			d += deg_weight_m * dh;
		}
		if (d < bs) {
			bs = d;
			best = (long)i;
		}
	}
	if (score)
		*score = bs;
	return best;
}

typedef struct tkey {
	int64_t t;
	size_t i;
} tkey;

static int tkey_cmp(const void *a, const void *b)
{
	const tkey *p = a, *q = b;
	if (p->t != q->t)
		return p->t < q->t ? -1 : 1;
	return p->i < q->i ? -1 : (p->i > q->i);
}

int twin_store_trajectory(const twin_store *s, int seq, size_t **idx, size_t *n, svt_err *err)
{
	if (!s || !idx || !n)
		return svt_err_set(err, SVT_E_INPUT, "twin_store_trajectory: NULL argument");
	*n = 0;
	*idx = NULL;
	tkey *k = malloc((s->nf ? s->nf : 1) * sizeof(*k));
	if (!k)
		return svt_err_set(err, SVT_E_NOMEM, "no memory");
	size_t m = 0;
	for (size_t i = 0; i < s->nf; i++)
		if (s->f[i].seq == seq)
			k[m++] = (tkey){s->f[i].time_us, i};
	qsort(k, m, sizeof(*k), tkey_cmp);
	*idx = malloc((m ? m : 1) * sizeof(size_t));
	if (!*idx) {
		free(k);
		return svt_err_set(err, SVT_E_NOMEM, "no memory");
	}
	for (size_t j = 0; j < m; j++)
		(*idx)[j] = k[j].i;
	*n = m;
	free(k);
	return SVT_OK;
}
