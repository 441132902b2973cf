/* twin_query.c: frames near a point, in a district or polygon, nearest a pose, along a
 * trajectory. Spatial queries read candidates from the frames' R*Tree (projected CRS) and
 * test them exactly (geodesic distance, point in polygon); nothing scans the frames table. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "twin/twin_internal.h"

enum { ST_NEAR = 16, ST_DISTRICT, ST_TRAJ, ST_BBOX };

#define NEAR_SQL                                                                              \
	"SELECT f.fid, f.lat, f.lon, f.heading, f.e, f.n FROM rtree_frames_geom r "              \
	"CROSS JOIN frames f "                                                                   \
	"WHERE r.minx <= ?2 AND r.maxx >= ?1 AND r.miny <= ?4 AND r.maxy >= ?3 AND f.fid = r.id"

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

static int size_cmp(const void *a, const void *b)
{
	size_t p = *(const size_t *)a, q = *(const size_t *)b;
	return p < q ? -1 : (p > q);
}

/* Projected position of (lat, lon) in the store's CRS. */
static int to_proj(twin_store *s, double lat, double lon, double *e, double *n, svt_err *err)
{
	double x = lon, y = lat, h = 0;
	int rc = geo_crs_forward(s->crs, &x, &y, &h, sizeof(double), 1, err);
	*e = x;
	*n = y;
	if (!rc && (!isfinite(x) || !isfinite(y)))
		rc = svt_err_set(err, SVT_E_INPUT, "%g, %g is outside the store's CRS", lat, lon);
	return rc;
}

/* Starts the R*Tree window query [x0, x1] x [y0, y1]; rows: fid, lat, lon, heading. */
static sqlite3_stmt *window(twin_store *s, double x0, double y0, double x1, double y1,
			    svt_err *err)
{
	sqlite3_stmt *st = twin_stmt(s, ST_NEAR, NEAR_SQL, err);
	if (!st)
		return NULL;
	sqlite3_bind_double(st, 1, x0);
	sqlite3_bind_double(st, 2, x1);
	sqlite3_bind_double(st, 3, y0);
	sqlite3_bind_double(st, 4, y1);
	return st;
}

static int hits_push(hit **hs, size_t *m, size_t *cap, double d, size_t i, svt_err *err)
{
	if (*m == *cap) {
		size_t nc = *cap ? 2 * *cap : 64;
		hit *q = realloc(*hs, nc * sizeof(*q));
		if (!q)
			return svt_err_set(err, SVT_E_NOMEM, "no memory");
		*hs = q;
		*cap = nc;
	}
	(*hs)[(*m)++] = (hit){d, i};
	return SVT_OK;
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
	double e, nn;
	int rc = to_proj(s, lat, lon, &e, &nn, err);
	if (rc)
		return rc;
	/* Projected distances differ from geodesic ones by the scale factor (within 0.1 % for
	 * the Korean belts near their meridian); a 1 % + 1 m margin keeps every candidate. */
	double reach = radius_m * 1.01 + 1.0;
	sqlite3_stmt *st = window(s, e - reach, nn - reach, e + reach, nn + reach, err);
	if (!st)
		return SVT_E_IO;
	hit *hs = NULL;
	size_t m = 0, cap = 0;
	int r;
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		double d = geo_distance_m(lat, lon, sqlite3_column_double(st, 1),
					  sqlite3_column_double(st, 2));
		if (d <= radius_m &&
		    (rc = hits_push(&hs, &m, &cap, d, (size_t)sqlite3_column_int64(st, 0) - 1, err)))
			goto done;
	}
	if (r != SQLITE_DONE) {
		rc = twin_db_err(s->db, "near", err);
		goto done;
	}
	qsort(hs, m, sizeof(*hs), hit_cmp);
	*idx = malloc((m ? m : 1) * sizeof(size_t));
	double *dd = dist_m ? malloc((m ? m : 1) * sizeof(double)) : NULL;
	if (!*idx || (dist_m && !dd)) {
		free(*idx);
		*idx = NULL;
		free(dd);
		rc = svt_err_set(err, SVT_E_NOMEM, "no memory");
		goto done;
	}
	for (size_t k = 0; k < m; k++) {
		(*idx)[k] = hs[k].i;
		if (dd)
			dd[k] = hs[k].d;
	}
	if (dist_m)
		*dist_m = dd;
	*n = m;
done:
	sqlite3_reset(st);
	free(hs);
	return rc;
}

static int ids_query(twin_store *s, sqlite3_stmt *st, size_t **idx, size_t *n, svt_err *err)
{
	size_t cap = 64;
	*n = 0;
	*idx = malloc(cap * sizeof(size_t));
	int r = SQLITE_DONE;
	while (*idx && (r = sqlite3_step(st)) == SQLITE_ROW) {
		if (*n == cap) {
			size_t *q = realloc(*idx, 2 * cap * sizeof(size_t));
			if (!q) {
				free(*idx);
				*idx = NULL;
				break;
			}
			*idx = q;
			cap *= 2;
		}
		(*idx)[(*n)++] = (size_t)sqlite3_column_int64(st, 0) - 1;
	}
	if (!*idx) {
		*n = 0;
		sqlite3_reset(st);
		return svt_err_set(err, SVT_E_NOMEM, "no memory");
	}
	int rc = r == SQLITE_DONE ? SVT_OK : twin_db_err(s->db, "query", err);
	sqlite3_reset(st);
	if (rc) {
		free(*idx);
		*idx = NULL;
		*n = 0;
	}
	return rc;
}

int twin_store_query_district(const twin_store *s, const char *layer_name, const char *name,
			      size_t **idx, size_t *n, svt_err *err)
{
	if (!s || !name || !idx || !n)
		return svt_err_set(err, SVT_E_INPUT, "twin_store_query_district: NULL argument");
	twin_store *w = (twin_store *)s;
	*idx = NULL;
	*n = 0;
	int layer_seen = 0;
	for (size_t k = 0; k < s->nlayers; k++) {
		if (layer_name && strcmp(layer_name, s->layers[k].name) != 0)
			continue;
		layer_seen = 1;
		const twin_layer *l = twin_layer_ref_get(w, k, err);
		if (!l)
			return err ? err->code : SVT_E_FORMAT;
		long f = twin_layer_find(l, name);
		if (f < 0)
			continue;
		sqlite3_stmt *st = twin_stmt(w, ST_DISTRICT,
					     "SELECT frame FROM frame_labels WHERE layer = ? AND "
					     "feature = ? ORDER BY frame",
					     err);
		if (!st)
			return SVT_E_IO;
		sqlite3_bind_text(st, 1, s->layers[k].name, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, f);
		return ids_query(w, st, idx, n, err);
	}
	if (layer_name && !layer_seen)
		return svt_err_set(err, SVT_E_NOTFOUND, "the store has no layer '%s'", layer_name);
	return svt_err_set(err, SVT_E_NOTFOUND, "no feature called '%s' in %s", name,
			   layer_name ? layer_name : "any layer of the store");
}

int twin_feature_box(twin_store *s, const twin_layer *l, size_t k, double box[4], svt_err *err)
{
	double bb[4];
	twin_layer_feature_bbox(l, k, bb);
	if (!isfinite(bb[0]))
		return svt_err_set(err, SVT_E_NOTFOUND, "feature %zu has no geometry", k);
	/* The feature's lon/lat box in the projected CRS: the box's edges sampled (a
	 * meridian or parallel bends slightly in a transverse Mercator), plus a margin. */
	enum { SIDE = 16 };
	double xs[4 * SIDE], ys[4 * SIDE], hs[4 * SIDE];
	for (int i = 0; i < SIDE; i++) {
		double u = (double)i / SIDE;
		double lon[4] = {bb[0] + u * (bb[2] - bb[0]), bb[2], bb[2] - u * (bb[2] - bb[0]), bb[0]};
		double lat[4] = {bb[1], bb[1] + u * (bb[3] - bb[1]), bb[3], bb[3] - u * (bb[3] - bb[1])};
		for (int e = 0; e < 4; e++) {
			xs[e * SIDE + i] = lon[e];
			ys[e * SIDE + i] = lat[e];
			hs[e * SIDE + i] = 0;
		}
	}
	int rc = geo_crs_forward(s->crs, xs, ys, hs, sizeof(double), 4 * SIDE, err);
	if (rc)
		return rc;
	double x0 = INFINITY, y0 = INFINITY, x1 = -INFINITY, y1 = -INFINITY;
	for (int i = 0; i < 4 * SIDE; i++) {
		x0 = fmin(x0, xs[i]);
		x1 = fmax(x1, xs[i]);
		y0 = fmin(y0, ys[i]);
		y1 = fmax(y1, ys[i]);
	}
	double margin = 1.0 + 0.002 * fmax(x1 - x0, y1 - y0);
	box[0] = x0 - margin;
	box[1] = y0 - margin;
	box[2] = x1 + margin;
	box[3] = y1 + margin;
	return SVT_OK;
}

int twin_store_query_polygon(const twin_store *s, const twin_layer *l, size_t k, size_t **idx,
			     size_t *n, svt_err *err)
{
	if (!s || !l || !idx || !n)
		return svt_err_set(err, SVT_E_INPUT, "twin_store_query_polygon: NULL argument");
	twin_store *w = (twin_store *)s;
	*n = 0;
	*idx = NULL;
	if (k >= twin_layer_count(l))
		return svt_err_set(err, SVT_E_INPUT, "feature %zu of %zu", k, twin_layer_count(l));
	double box[4];
	int rc = twin_feature_box(w, l, k, box, err);
	if (rc == SVT_E_NOTFOUND) { /* a feature without geometry holds nothing */
		*idx = malloc(sizeof(size_t));
		return *idx ? SVT_OK : svt_err_set(err, SVT_E_NOMEM, "no memory");
	}
	if (rc)
		return rc;
	sqlite3_stmt *st = window(w, box[0], box[1], box[2], box[3], err);
	if (!st)
		return SVT_E_IO;
	size_t cap = 64;
	*idx = malloc(cap * sizeof(size_t));
	int r = SQLITE_DONE;
	while (*idx && (r = sqlite3_step(st)) == SQLITE_ROW) {
		if (!twin_layer_contains(l, k, sqlite3_column_double(st, 1),
					 sqlite3_column_double(st, 2)))
			continue;
		if (*n == cap) {
			size_t *q = realloc(*idx, 2 * cap * sizeof(size_t));
			if (!q) {
				free(*idx);
				*idx = NULL;
				break;
			}
			*idx = q;
			cap *= 2;
		}
		(*idx)[(*n)++] = (size_t)sqlite3_column_int64(st, 0) - 1;
	}
	sqlite3_reset(st);
	if (!*idx || r != SQLITE_DONE) {
		rc = !*idx ? svt_err_set(err, SVT_E_NOMEM, "no memory") : twin_db_err(s->db, "polygon", err);
		free(*idx);
		*idx = NULL;
		*n = 0;
		return rc;
	}
	qsort(*idx, *n, sizeof(size_t), size_cmp); /* store order */
	return SVT_OK;
}

static double pose_score(double lat, double lon, double heading, double w, double flat,
			 double flon, double fh)
{
	double d = geo_distance_m(lat, lon, flat, flon);
	if (isfinite(heading) && isfinite(fh)) {
		double dh = fabs(fmod(fh - heading, 360.0));
		if (dh > 180.0)
			dh = 360.0 - dh;
		d += w * dh;
	}
	return d;
}

long twin_store_nearest_pose(twin_store *s, double lat, double lon, double heading,
			     double deg_weight_m, double *score)
{
	if (!s || s->nf == 0 || !isfinite(lat) || !isfinite(lon))
		return -1;
	if (!isfinite(deg_weight_m) || deg_weight_m < 0)
		deg_weight_m = 0;
	svt_err tmp = {0};
	double e, n;
	long best = -1;
	double bs = INFINITY;
	/* The frames' extent: once the window holds it, every frame has been scored. */
	double ext[4] = {-INFINITY, -INFINITY, INFINITY, INFINITY};
	sqlite3_stmt *bx = twin_stmt(s, ST_BBOX,
				     "SELECT min_x, min_y, max_x, max_y FROM gpkg_contents WHERE "
				     "table_name = 'frames' AND min_x IS NOT NULL",
				     &tmp);
	if (bx && sqlite3_step(bx) == SQLITE_ROW)
		for (int a = 0; a < 4; a++)
			ext[a] = sqlite3_column_double(bx, a);
	if (bx)
		sqlite3_reset(bx);
	int use_proj = to_proj(s, lat, lon, &e, &n, &tmp) == 0;
	/* Growing windows: a frame outside a window of half-side r is more than r away in
	 * the projected plane, hence at least 0.99 r - 1 m geodesic (the scale margin of the
	 * near query) and its score no less; once the best score is below that, it wins. */
	for (double r = 32.0;; r *= 2.0) {
		double x0 = use_proj ? e - r : -INFINITY, x1 = use_proj ? e + r : INFINITY;
		double y0 = use_proj ? n - r : -INFINITY, y1 = use_proj ? n + r : INFINITY;
		sqlite3_stmt *st = window(s, x0, y0, x1, y1, &tmp);
		if (!st)
			return -1;
		while (sqlite3_step(st) == SQLITE_ROW) {
			double fh = sqlite3_column_type(st, 3) == SQLITE_NULL ? NAN
									      : sqlite3_column_double(st, 3);
			/* The planar distance bounds the geodesic one (as for the window): most
			 * candidates are dropped before the geodesic. */
			if (use_proj && hypot(sqlite3_column_double(st, 4) - e,
					      sqlite3_column_double(st, 5) - n) * 0.99 - 1.0 > bs)
				continue;
			double d = pose_score(lat, lon, heading, deg_weight_m, sqlite3_column_double(st, 1),
					      sqlite3_column_double(st, 2), fh);
			long i = (long)sqlite3_column_int64(st, 0) - 1;
			if (d < bs || (d == bs && i < best)) {
				bs = d;
				best = i;
			}
		}
		sqlite3_reset(st);
		int covers = x0 <= ext[0] && y0 <= ext[1] && x1 >= ext[2] && y1 >= ext[3];
		if (covers || bs <= 0.99 * r - 1.0)
			break;
	}
	if (score)
		*score = bs;
	return best;
}

int twin_store_trajectory(const twin_store *s, int seq, size_t **idx, size_t *n, svt_err *err)
{
	if (!s || !idx || !n)
		return svt_err_set(err, SVT_E_INPUT, "twin_store_trajectory: NULL argument");
	*n = 0;
	*idx = NULL;
	sqlite3_stmt *st = twin_stmt((twin_store *)s, ST_TRAJ,
				     "SELECT fid FROM frames WHERE seq = ? ORDER BY time_us, fid", err);
	if (!st)
		return SVT_E_IO;
	sqlite3_bind_int(st, 1, seq);
	return ids_query((twin_store *)s, st, idx, n, err);
}
