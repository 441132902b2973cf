/* twin_layer.c: polygon layers (GeoJSON, ESRI Shapefile) in WGS84 and point-in-polygon.
 *
 * The shapefile reader is our own (no shapelib): the format is small, and reading it here lets
 * every length and offset be checked against the file before it is used (a .shp from a user
 * is untrusted input). Vertices of any CRS go through geo (PROJ) to WGS84 once at load, so
 * lookups are pure arithmetic and need no PROJ context (thread-safe).
 */
#include <ctype.h>
#include <errno.h>
#include <iconv.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "geo/geo.h"
#include "twin/twin.h"

#define LAYER_MAX_FILE ((size_t)1 << 31) /* 2 GiB: far above any district layer */
#define GRID_MAX 256

typedef struct feature {
	char *name;
	json_t *props;  /* as read (saved back unchanged) */
	json_t *sprops; /* the same, every value a string */
	size_t ring0, nrings; /* into layer.ring_start */
	double bbox[4];       /* lon_min, lat_min, lon_max, lat_max */
} feature;

struct twin_layer {
	feature *f;
	size_t nf, capf;
	size_t *ring_start; /* vertex index of ring r; ring_start[nrings] = nv */
	size_t nrings, caprings;
	double *xy; /* lon, lat pairs */
	size_t nv, capv;
	double bbox[4];
	/* Grid index: cell (gx, gy) lists features whose bbox overlaps it (CSR). */
	int gw, gh;
	double cell_w, cell_h;
	size_t *cell_start, *cell_feat;
};

void twin_layer_opts_default(twin_layer_opts *o)
{
	if (o)
		memset(o, 0, sizeof(*o));
}

void twin_layer_destroy(twin_layer *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->nf; i++) {
		free(l->f[i].name);
		json_decref(l->f[i].props);
		json_decref(l->f[i].sprops);
	}
	free(l->f);
	free(l->ring_start);
	free(l->xy);
	free(l->cell_start);
	free(l->cell_feat);
	free(l);
}

size_t twin_layer_count(const twin_layer *l)
{
	return l ? l->nf : 0;
}

const char *twin_layer_name(const twin_layer *l, size_t i)
{
	return l && i < l->nf && l->f[i].name ? l->f[i].name : "";
}

const char *twin_layer_prop(const twin_layer *l, size_t i, const char *key)
{
	if (!l || i >= l->nf || !key || !l->f[i].sprops)
		return NULL;
	return json_string_value(json_object_get(l->f[i].sprops, key));
}

void twin_layer_bbox(const twin_layer *l, double bbox[4])
{
	if (l && bbox)
		memcpy(bbox, l->bbox, sizeof(l->bbox));
}

/* ---- Building ---------------------------------------------------------------------------- */

static int grow(void **p, size_t *cap, size_t need, size_t elem, svt_err *err)
{
	if (need <= *cap)
		return SVT_OK;
	size_t nc = *cap ? *cap : 64;
	while (nc < need)
		nc *= 2;
	void *q = realloc(*p, nc * elem);
	if (!q)
		return svt_err_set(err, SVT_E_NOMEM, "layer: no memory for %zu items", nc);
	*p = q;
	*cap = nc;
	return SVT_OK;
}

/* Starts a feature; takes ownership of props (may be NULL). */
static int feature_begin(twin_layer *l, json_t *props, svt_err *err)
{
	int rc = grow((void **)&l->f, &l->capf, l->nf + 1, sizeof(feature), err);
	if (rc) {
		json_decref(props);
		return rc;
	}
	feature *f = &l->f[l->nf++];
	memset(f, 0, sizeof(*f));
	f->props = props ? props : json_object();
	f->ring0 = l->nrings;
	return f->props ? SVT_OK : svt_err_set(err, SVT_E_NOMEM, "layer: no memory");
}

static int ring_begin(twin_layer *l, svt_err *err)
{
	int rc = grow((void **)&l->ring_start, &l->caprings, l->nrings + 2, sizeof(size_t), err);
	if (rc)
		return rc;
	l->ring_start[l->nrings++] = l->nv;
	l->ring_start[l->nrings] = l->nv;
	l->f[l->nf - 1].nrings++;
	return SVT_OK;
}

static int vertex_add(twin_layer *l, double x, double y, svt_err *err)
{
	if (!isfinite(x) || !isfinite(y))
		return svt_err_set(err, SVT_E_FORMAT, "layer: non-finite vertex");
	int rc = grow((void **)&l->xy, &l->capv, 2 * (l->nv + 1), sizeof(double), err);
	if (rc)
		return rc;
	l->xy[2 * l->nv] = x;
	l->xy[2 * l->nv + 1] = y;
	l->nv++;
	l->ring_start[l->nrings] = l->nv;
	return SVT_OK;
}

/* ---- Point in polygon -------------------------------------------------------------------- */

/* Even-odd crossing test over all rings of f: inside an outer ring and outside its holes,
 * in any one polygon of a multipolygon (polygons of one feature do not overlap). */
static int feature_contains(const twin_layer *l, const feature *f, const size_t *ring_end,
			    double x, double y)
{
	if (x < f->bbox[0] || x > f->bbox[2] || y < f->bbox[1] || y > f->bbox[3])
		return 0;
	int in = 0;
	for (size_t r = f->ring0; r < f->ring0 + f->nrings; r++) {
		size_t a = l->ring_start[r], b = ring_end[r];
		const double *p = l->xy;
		for (size_t i = a, j = b - 1; i < b; j = i++) {
			double xi = p[2 * i], yi = p[2 * i + 1], xj = p[2 * j], yj = p[2 * j + 1];
			if ((yi > y) != (yj > y) && x < (xj - xi) * (y - yi) / (yj - yi) + xi)
				in = !in;
		}
	}
	return in;
}

/* Crossing test of one ring. */
static int ring_contains(const twin_layer *l, size_t a, size_t b, double x, double y)
{
	int in = 0;
	const double *p = l->xy;
	for (size_t i = a, j = b - 1; i < b; j = i++) {
		double xi = p[2 * i], yi = p[2 * i + 1], xj = p[2 * j], yj = p[2 * j + 1];
		if ((yi > y) != (yj > y) && x < (xj - xi) * (y - yi) / (yj - yi) + xi)
			in = !in;
	}
	return in;
}

/* ring_end lives after ring_start's used part: ring_start has room for 2 * nrings + 1 once
 * finished (see layer_finish). */
static const size_t *ring_ends(const twin_layer *l)
{
	return l->ring_start + l->nrings + 1;
}

int twin_layer_contains(const twin_layer *l, size_t i, double lat, double lon)
{
	if (!l || i >= l->nf)
		return 0;
	return feature_contains(l, &l->f[i], ring_ends(l), lon, lat);
}

long twin_layer_locate(const twin_layer *l, double lat, double lon)
{
	if (!l || !l->nf || !isfinite(lat) || !isfinite(lon))
		return -1;
	if (lon < l->bbox[0] || lon > l->bbox[2] || lat < l->bbox[1] || lat > l->bbox[3])
		return -1;
	int gx = (int)((lon - l->bbox[0]) / l->cell_w), gy = (int)((lat - l->bbox[1]) / l->cell_h);
	gx = gx < 0 ? 0 : (gx >= l->gw ? l->gw - 1 : gx);
	gy = gy < 0 ? 0 : (gy >= l->gh ? l->gh - 1 : gy);
	size_t c = (size_t)gy * (size_t)l->gw + (size_t)gx;
	const size_t *ends = ring_ends(l);
	for (size_t k = l->cell_start[c]; k < l->cell_start[c + 1]; k++) {
		size_t i = l->cell_feat[k];
		if (feature_contains(l, &l->f[i], ends, lon, lat))
			return (long)i;
	}
	return -1;
}

long twin_layer_find(const twin_layer *l, const char *name)
{
	if (!l || !name || !*name)
		return -1;
	for (size_t i = 0; i < l->nf; i++)
		if (l->f[i].name && strcasecmp(l->f[i].name, name) == 0)
			return (long)i;
	for (size_t i = 0; i < l->nf; i++) {
		const char *k;
		json_t *v;
		json_object_foreach(l->f[i].sprops, k, v)
		{
			const char *s = json_string_value(v);
			if (s && strcasecmp(s, name) == 0)
				return (long)i;
		}
	}
	return -1;
}

void twin_frames_label(const twin_layer *l, const twin_frame *frames, size_t n, long *lab)
{
	if (!frames || !lab)
		return;
	for (size_t i = 0; i < n; i++)
		lab[i] = twin_layer_locate(l, frames[i].llh[0], frames[i].llh[1]);
}

long twin_clip_label(const twin_clip *c, const long *frame_labels)
{
	if (!c || !c->idx || c->n < 1 || !frame_labels)
		return -1;
	long best = -1;
	int best_n = 0;
	long mid = frame_labels[c->idx[c->n / 2]];
	for (int a = 0; a < c->n; a++) {
		long v = frame_labels[c->idx[a]];
		if (v < 0)
			continue;
		int cnt = 0;
		for (int b = 0; b < c->n; b++)
			cnt += frame_labels[c->idx[b]] == v;
		if (cnt > best_n || (cnt == best_n && (v == mid || (best != mid && v < best)))) {
			best = v;
			best_n = cnt;
		}
	}
	return best;
}

/* ---- Finishing: names, string properties, bboxes, grid ------------------------------------ */

static const char *const NAME_FIELDS[] = {"name",	"NAME",	  "SIG_KOR_NM", "EMD_KOR_NM",
					  "ADM_NM",	"adm_nm", "ADMNM"};

static json_t *props_as_strings(json_t *props)
{
	json_t *o = json_object();
	const char *k;
	json_t *v;
	if (!o)
		return NULL;
	json_object_foreach(props, k, v)
	{
		char buf[64];
		json_t *s = NULL;
		if (json_is_string(v))
			s = json_string(json_string_value(v));
		else if (json_is_integer(v)) {
			snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
			s = json_string(buf);
		} else if (json_is_real(v)) {
			snprintf(buf, sizeof(buf), "%.17g", json_real_value(v));
			s = json_string(buf);
		} else if (json_is_boolean(v))
			s = json_string(json_is_true(v) ? "true" : "false");
		else if (json_is_null(v))
			continue;
		else {
			char *d = json_dumps(v, JSON_COMPACT);
			s = d ? json_string(d) : NULL;
			free(d);
		}
		if (!s || json_object_set_new(o, k, s)) {
			json_decref(o);
			return NULL;
		}
	}
	return o;
}

static int layer_finish(twin_layer *l, const char *name_field, svt_err *err)
{
	int rc;
	/* Compact away degenerate rings, and lay out ring ends after the starts. */
	size_t nr = 0;
	size_t *starts = malloc((l->nrings + 1) * sizeof(size_t));
	size_t *ends = malloc((l->nrings + 1) * sizeof(size_t));
	if (!starts || !ends) {
		free(starts);
		free(ends);
		return svt_err_set(err, SVT_E_NOMEM, "layer: no memory");
	}
	for (size_t i = 0; i < l->nf; i++) {
		feature *f = &l->f[i];
		size_t first = nr;
		for (size_t r = f->ring0; r < f->ring0 + f->nrings; r++) {
			size_t a = l->ring_start[r], b = l->ring_start[r + 1];
			/* A closing vertex equal to the first adds nothing to the crossing test. */
			if (b - a >= 2 && l->xy[2 * a] == l->xy[2 * (b - 1)] &&
			    l->xy[2 * a + 1] == l->xy[2 * (b - 1) + 1])
				b--;
			if (b - a < 3)
				continue;
			starts[nr] = a;
			ends[nr] = b;
			nr++;
		}
		f->ring0 = first;
		f->nrings = nr - first;
	}
	free(l->ring_start);
	l->ring_start = malloc((2 * nr + 1) * sizeof(size_t));
	if (!l->ring_start) {
		free(starts);
		free(ends);
		return svt_err_set(err, SVT_E_NOMEM, "layer: no memory");
	}
	memcpy(l->ring_start, starts, nr * sizeof(size_t));
	l->ring_start[nr] = l->nv;
	memcpy(l->ring_start + nr + 1, ends, nr * sizeof(size_t));
	l->nrings = nr;
	l->caprings = 2 * nr + 1;
	free(starts);
	free(ends);

	l->bbox[0] = l->bbox[1] = INFINITY;
	l->bbox[2] = l->bbox[3] = -INFINITY;
	for (size_t i = 0; i < l->nf; i++) {
		feature *f = &l->f[i];
		f->bbox[0] = f->bbox[1] = INFINITY;
		f->bbox[2] = f->bbox[3] = -INFINITY;
		for (size_t r = f->ring0; r < f->ring0 + f->nrings; r++)
			for (size_t v = l->ring_start[r]; v < ring_ends(l)[r]; v++) {
				double x = l->xy[2 * v], y = l->xy[2 * v + 1];
				f->bbox[0] = fmin(f->bbox[0], x);
				f->bbox[1] = fmin(f->bbox[1], y);
				f->bbox[2] = fmax(f->bbox[2], x);
				f->bbox[3] = fmax(f->bbox[3], y);
			}
		if (f->nrings) {
			l->bbox[0] = fmin(l->bbox[0], f->bbox[0]);
			l->bbox[1] = fmin(l->bbox[1], f->bbox[1]);
			l->bbox[2] = fmax(l->bbox[2], f->bbox[2]);
			l->bbox[3] = fmax(l->bbox[3], f->bbox[3]);
		}
		if (!(f->sprops = props_as_strings(f->props)))
			return svt_err_set(err, SVT_E_NOMEM, "layer: no memory");
		const char *nm = NULL;
		if (name_field)
			nm = twin_layer_prop(l, i, name_field);
		for (size_t k = 0; !name_field && !nm && k < SVT_ARRAY_LEN(NAME_FIELDS); k++)
			nm = twin_layer_prop(l, i, NAME_FIELDS[k]);
		if (!(f->name = strdup(nm ? nm : "")))
			return svt_err_set(err, SVT_E_NOMEM, "layer: no memory");
	}
	if (l->nf == 0 || l->nrings == 0)
		return svt_err_set(err, SVT_E_FORMAT, "layer has no polygon");
	for (int k = 0; k < 4; k++)
		if (!isfinite(l->bbox[k]))
			return svt_err_set(err, SVT_E_FORMAT, "layer bbox is not finite");
	if (l->bbox[1] < -90.0 || l->bbox[3] > 90.0 || l->bbox[0] < -540.0 || l->bbox[2] > 540.0)
		return svt_err_set(err, SVT_E_INPUT,
				   "layer vertices are not lon/lat degrees after transformation "
				   "(lat %g..%g): wrong CRS?",
				   l->bbox[1], l->bbox[3]);

	/* Grid: about 4 features per cell on average, at most GRID_MAX a side. */
	int g = (int)ceil(sqrt((double)l->nf / 4.0 + 1.0) * 2.0);
	g = g < 1 ? 1 : (g > GRID_MAX ? GRID_MAX : g);
	l->gw = l->gh = g;
	l->cell_w = fmax((l->bbox[2] - l->bbox[0]) / g, 1e-12);
	l->cell_h = fmax((l->bbox[3] - l->bbox[1]) / g, 1e-12);
	size_t ncell = (size_t)g * (size_t)g;
	l->cell_start = calloc(ncell + 1, sizeof(size_t));
	if (!l->cell_start)
		return svt_err_set(err, SVT_E_NOMEM, "layer: no memory");
	/* Two passes: count, then fill. */
	size_t total = 0;
	for (int pass = 0; pass < 2; pass++) {
		size_t *fill = NULL;
		if (pass == 1) {
			for (size_t c = 0; c < ncell; c++)
				l->cell_start[c + 1] += l->cell_start[c];
			total = l->cell_start[ncell];
			l->cell_feat = malloc((total ? total : 1) * sizeof(size_t));
			fill = calloc(ncell, sizeof(size_t));
			if (!l->cell_feat || !fill) {
				free(fill);
				return svt_err_set(err, SVT_E_NOMEM, "layer: no memory");
			}
		}
		for (size_t i = 0; i < l->nf; i++) {
			const feature *f = &l->f[i];
			if (!f->nrings)
				continue;
			int x0 = (int)((f->bbox[0] - l->bbox[0]) / l->cell_w);
			int x1 = (int)((f->bbox[2] - l->bbox[0]) / l->cell_w);
			int y0 = (int)((f->bbox[1] - l->bbox[1]) / l->cell_h);
			int y1 = (int)((f->bbox[3] - l->bbox[1]) / l->cell_h);
			x0 = x0 < 0 ? 0 : x0;
			y0 = y0 < 0 ? 0 : y0;
			x1 = x1 >= g ? g - 1 : x1;
			y1 = y1 >= g ? g - 1 : y1;
			for (int y = y0; y <= y1; y++)
				for (int x = x0; x <= x1; x++) {
					size_t c = (size_t)y * (size_t)g + (size_t)x;
					if (pass == 0)
						l->cell_start[c + 1]++;
					else
						l->cell_feat[l->cell_start[c] + fill[c]++] = i;
				}
		}
		free(fill);
	}
	rc = SVT_OK;
	return rc;
}

/* Transforms every vertex from epsg to WGS84 lon/lat in one batch. */
static int layer_to_wgs84(twin_layer *l, int epsg, svt_err *err)
{
	if (epsg == 4326 || l->nv == 0)
		return SVT_OK;
	geo_crs *c = NULL;
	int rc = geo_crs_create_pair(epsg, 4326, &c, err);
	if (!rc)
		rc = geo_crs_forward(c, l->xy, l->xy + 1, NULL, 2 * sizeof(double), l->nv, err);
	geo_crs_destroy(c);
	if (rc)
		return svt_err_prefix(err, "layer EPSG:%d -> WGS84", epsg);
	return SVT_OK;
}

/* ---- GeoJSON ----------------------------------------------------------------------------- */

static int gj_ring(twin_layer *l, json_t *ring, svt_err *err)
{
	if (!json_is_array(ring))
		return svt_err_set(err, SVT_E_FORMAT, "GeoJSON ring is not an array");
	int rc = ring_begin(l, err);
	for (size_t i = 0; !rc && i < json_array_size(ring); i++) {
		json_t *p = json_array_get(ring, i);
		if (!json_is_array(p) || json_array_size(p) < 2 || !json_is_number(json_array_get(p, 0)) ||
		    !json_is_number(json_array_get(p, 1)))
			return svt_err_set(err, SVT_E_FORMAT, "GeoJSON position %zu is not [x, y]", i);
		rc = vertex_add(l, json_number_value(json_array_get(p, 0)),
				json_number_value(json_array_get(p, 1)), err);
	}
	return rc;
}

static int gj_polygon(twin_layer *l, json_t *rings, svt_err *err)
{
	if (!json_is_array(rings))
		return svt_err_set(err, SVT_E_FORMAT, "GeoJSON Polygon coordinates are not an array");
	int rc = SVT_OK;
	for (size_t r = 0; !rc && r < json_array_size(rings); r++)
		rc = gj_ring(l, json_array_get(rings, r), err);
	return rc;
}

/* Adds geometry g's rings to the current feature; other geometry types are refused. */
static int gj_geometry(twin_layer *l, json_t *g, svt_err *err)
{
	const char *type = json_string_value(json_object_get(g, "type"));
	json_t *coords = json_object_get(g, "coordinates");
	if (!type)
		return svt_err_set(err, SVT_E_FORMAT, "GeoJSON geometry without a type");
	if (strcmp(type, "Polygon") == 0)
		return gj_polygon(l, coords, err);
	if (strcmp(type, "MultiPolygon") == 0) {
		if (!json_is_array(coords))
			return svt_err_set(err, SVT_E_FORMAT, "MultiPolygon coordinates not an array");
		int rc = SVT_OK;
		for (size_t p = 0; !rc && p < json_array_size(coords); p++)
			rc = gj_polygon(l, json_array_get(coords, p), err);
		return rc;
	}
	if (strcmp(type, "GeometryCollection") == 0) {
		json_t *gs = json_object_get(g, "geometries");
		int rc = SVT_OK;
		for (size_t i = 0; !rc && i < json_array_size(gs); i++)
			rc = gj_geometry(l, json_array_get(gs, i), err);
		return rc;
	}
	return svt_err_set(err, SVT_E_UNSUPPORTED, "GeoJSON %s: only polygons make a layer", type);
}

static int gj_feature(twin_layer *l, json_t *feat, svt_err *err)
{
	json_t *props = json_object_get(feat, "properties");
	int rc = feature_begin(l, json_is_object(props) ? json_deep_copy(props) : NULL, err);
	json_t *g = json_object_get(feat, "geometry");
	if (!rc && json_is_object(g))
		rc = gj_geometry(l, g, err);
	return rc;
}

/* The EPSG code of a legacy GeoJSON "crs" member ("EPSG:5174", "urn:ogc:def:crs:EPSG::5174",
 * CRS84 = 4326), 0 when absent. */
static int gj_crs(json_t *root)
{
	const char *name =
		json_string_value(json_object_get(json_object_get(json_object_get(root, "crs"),
								   "properties"),
						  "name"));
	if (!name)
		return 0;
	if (strstr(name, "CRS84"))
		return 4326;
	const char *e = strstr(name, "EPSG");
	if (!e)
		return -1;
	const char *d = e + 4;
	while (*d == ':')
		d++;
	while (*d && !isdigit((unsigned char)*d))
		d++; /* "EPSG::" then an optional version */
	long v = strtol(d, NULL, 10);
	return v > 0 && v < 1000000 ? (int)v : -1;
}

static int load_geojson(twin_layer *l, const char *path, int *epsg, svt_err *err)
{
	json_error_t je;
	json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
	if (!root)
		return svt_err_set(err, SVT_E_FORMAT, "%s:%d: %s", path, je.line, je.text);
	int rc = SVT_OK;
	const char *type = json_string_value(json_object_get(root, "type"));
	if (!type) {
		rc = svt_err_set(err, SVT_E_FORMAT, "%s: not GeoJSON (no type)", path);
		goto done;
	}
	if (*epsg == 0) {
		int c = gj_crs(root);
		if (c < 0) {
			rc = svt_err_set(err, SVT_E_UNSUPPORTED, "%s: unknown crs member; give the EPSG code",
					 path);
			goto done;
		}
		*epsg = c ? c : 4326;
	}
	if (strcmp(type, "FeatureCollection") == 0) {
		json_t *fs = json_object_get(root, "features");
		if (!json_is_array(fs)) {
			rc = svt_err_set(err, SVT_E_FORMAT, "%s: features is not an array", path);
			goto done;
		}
		for (size_t i = 0; !rc && i < json_array_size(fs); i++)
			if ((rc = gj_feature(l, json_array_get(fs, i), err)))
				svt_err_prefix(err, "%s: feature %zu", path, i);
	} else if (strcmp(type, "Feature") == 0) {
		rc = gj_feature(l, root, err);
	} else {
		if (!(rc = feature_begin(l, NULL, err)))
			rc = gj_geometry(l, root, err);
	}
done:
	json_decref(root);
	return rc;
}

/* ---- Shapefile --------------------------------------------------------------------------- */

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}
static double le64d(const uint8_t *p)
{
	uint64_t u = 0;
	for (int i = 7; i >= 0; i--)
		u = u << 8 | p[i];
	double d;
	memcpy(&d, &u, sizeof(d));
	return d;
}

/* Reads the polygons of a .shp into l, one feature per record (null shapes become features
 * without rings, so record i stays feature i and matches .dbf row i). */
static int shp_parse(twin_layer *l, const uint8_t *b, size_t size, const char *path, svt_err *err)
{
	if (size < 100 || be32(b) != 9994 || le32(b + 28) != 1000)
		return svt_err_set(err, SVT_E_FORMAT, "%s: not a shapefile (bad header)", path);
	uint64_t flen = (uint64_t)be32(b + 24) * 2;
	if (flen > size)
		return svt_err_set(err, SVT_E_FORMAT, "%s: header says %llu bytes, file has %zu",
				   path, (unsigned long long)flen, size);
	int rc;
	size_t off = 100;
	while (off + 8 <= flen) {
		uint64_t clen = (uint64_t)be32(b + off + 4) * 2;
		const uint8_t *r = b + off + 8;
		if (clen < 4 || clen > flen - off - 8)
			return svt_err_set(err, SVT_E_FORMAT, "%s: record at %zu overruns the file", path,
					   off);
		uint32_t type = le32(r);
		if ((rc = feature_begin(l, NULL, err)))
			return rc;
		if (type == 5 || type == 15 || type == 25) {
			if (clen < 44)
				return svt_err_set(err, SVT_E_FORMAT, "%s: short polygon at %zu", path, off);
			uint32_t nparts = le32(r + 36), npts = le32(r + 40);
			/* 44 + 4 nparts + 16 npts must fit the record (Z/M data follow; ignored). */
			if (nparts > clen / 4 || npts > clen / 16 ||
			    44 + 4 * (uint64_t)nparts + 16 * (uint64_t)npts > clen)
				return svt_err_set(err, SVT_E_FORMAT,
						   "%s: polygon at %zu: %u parts, %u points overrun it",
						   path, off, nparts, npts);
			const uint8_t *parts = r + 44, *pts = parts + 4 * (size_t)nparts;
			for (uint32_t p = 0; p < nparts; p++) {
				uint32_t a = le32(parts + 4 * p);
				uint32_t e = p + 1 < nparts ? le32(parts + 4 * (p + 1)) : npts;
				if (a > e || e > npts)
					return svt_err_set(err, SVT_E_FORMAT,
							   "%s: polygon at %zu: bad part %u (%u..%u of %u)",
							   path, off, p, a, e, npts);
				if ((rc = ring_begin(l, err)))
					return rc;
				for (uint32_t v = a; v < e; v++)
					if ((rc = vertex_add(l, le64d(pts + 16 * (size_t)v),
							     le64d(pts + 16 * (size_t)v + 8), err)))
						return svt_err_prefix(err, "%s: record at %zu", path, off);
			}
		} else if (type != 0) {
			return svt_err_set(err, SVT_E_UNSUPPORTED,
					   "%s: shape type %u (only polygons make a layer)", path, type);
		}
		off += 8 + clen;
	}
	return SVT_OK;
}

static int utf8_valid(const uint8_t *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		uint8_t c = s[i];
		size_t k = c < 0x80 ? 0 : (c & 0xe0) == 0xc0 ? 1 : (c & 0xf0) == 0xe0 ? 2 : (c & 0xf8) == 0xf0 ? 3 : 9;
		if (k == 9 || k >= n - i)
			return 0;
		for (size_t j = 1; j <= k; j++)
			if ((s[i + j] & 0xc0) != 0x80)
				return 0;
		i += k + 1;
	}
	return 1;
}

/* Converts n bytes of enc into a malloc'd UTF-8 string (NULL on failure). */
static char *to_utf8(const uint8_t *s, size_t n, const char *enc)
{
	if (!enc || strcasecmp(enc, "UTF-8") == 0 || strcasecmp(enc, "UTF8") == 0) {
		char *o = malloc(n + 1);
		if (o) {
			memcpy(o, s, n);
			o[n] = 0;
		}
		return o;
	}
	iconv_t cd = iconv_open("UTF-8", enc);
	if (cd == (iconv_t)-1)
		return NULL;
	size_t cap = 4 * n + 1, inl = n, outl = cap - 1;
	char *o = malloc(cap), *in = (char *)s, *out = o;
	if (o && iconv(cd, &in, &inl, &out, &outl) == (size_t)-1) {
		free(o);
		o = NULL;
	}
	if (o)
		*out = 0;
	iconv_close(cd);
	return o;
}

/* Reads the .dbf's character and numeric fields into the features' properties. */
static int dbf_parse(twin_layer *l, const uint8_t *b, size_t size, const char *path,
		     const char *encoding, svt_err *err)
{
	if (size < 32)
		return svt_err_set(err, SVT_E_FORMAT, "%s: too short for a dBASE header", path);
	uint32_t nrec = le32(b + 4);
	size_t hlen = (size_t)b[8] | (size_t)b[9] << 8, rlen = (size_t)b[10] | (size_t)b[11] << 8;
	if (hlen < 33 || hlen > size || rlen < 1 || (uint64_t)nrec * rlen > size - hlen)
		return svt_err_set(err, SVT_E_FORMAT, "%s: header (%u records of %zu bytes from %zu) "
				   "does not fit %zu bytes", path, nrec, rlen, hlen, size);
	typedef struct {
		char name[12];
		char type;
		size_t off, len;
	} field;
	field fl[255];
	size_t nfl = 0, roff = 1;
	for (size_t o = 32; o + 32 <= hlen && b[o] != 0x0d && nfl < SVT_ARRAY_LEN(fl); o += 32) {
		field *f = &fl[nfl++];
		memcpy(f->name, b + o, 11);
		f->name[11] = 0;
		f->type = (char)b[o + 11];
		f->len = b[o + 16];
		f->off = roff;
		roff += f->len;
	}
	if (roff > rlen)
		return svt_err_set(err, SVT_E_FORMAT, "%s: fields (%zu bytes) exceed the record (%zu)",
				   path, roff, rlen);
	/* Encoding: the caller's, else UTF-8 if every text field is valid UTF-8, else CP949 (the
	 * encoding of Korean public data, where this project's layers come from). */
	int all_utf8 = 1;
	for (uint32_t r = 0; !encoding && all_utf8 && r < nrec; r++)
		for (size_t k = 0; k < nfl; k++)
			if (fl[k].type == 'C' &&
			    !utf8_valid(b + hlen + (size_t)r * rlen + fl[k].off, fl[k].len))
				all_utf8 = 0;
	const char *enc = encoding ? encoding : (all_utf8 ? "UTF-8" : "CP949");
	size_t nfeat = l->nf;
	for (uint32_t r = 0; r < nrec && r < nfeat; r++) {
		const uint8_t *rec = b + hlen + (size_t)r * rlen;
		json_t *props = l->f[r].props;
		for (size_t k = 0; k < nfl; k++) {
			const uint8_t *v = rec + fl[k].off;
			size_t a = 0, e = fl[k].len;
			while (a < e && (v[a] == ' ' || v[a] == 0))
				a++;
			while (e > a && (v[e - 1] == ' ' || v[e - 1] == 0))
				e--;
			json_t *jv = NULL;
			if (fl[k].type == 'C' || fl[k].type == 'D' || fl[k].type == 'L') {
				char *s = to_utf8(v + a, e - a, enc);
				if (!s)
					return svt_err_set(err, SVT_E_FORMAT,
							   "%s: record %u field %s is not %s text", path,
							   r, fl[k].name, enc);
				jv = json_string(s);
				free(s);
			} else if (fl[k].type == 'N' || fl[k].type == 'F') {
				char buf[64];
				size_t n = e - a < sizeof(buf) - 1 ? e - a : sizeof(buf) - 1;
				memcpy(buf, v + a, n);
				buf[n] = 0;
				char *end;
				if (n == 0)
					continue;
				if (!strpbrk(buf, ".eE")) {
					long long iv = strtoll(buf, &end, 10);
					jv = *end ? json_string(buf) : json_integer(iv);
				} else {
					double dv = strtod(buf, &end);
					jv = *end ? json_string(buf) : json_real(dv);
				}
			} else {
				continue;
			}
			if (!jv || json_object_set_new(props, fl[k].name, jv))
				return svt_err_set(err, SVT_E_NOMEM, "layer: no memory");
		}
	}
	if (nrec != nfeat)
		svt_log_warn("%s: %u records for %zu shapes", path, nrec, nfeat);
	return SVT_OK;
}

/* An EPSG code for a .prj's WKT: the outermost AUTHORITY["EPSG", n] (the last one in WKT1),
 * a WGS84 GEOGCS alone, or a Korean 1985 (Bessel) modified belt recognised by its
 * parameters, as KOSTAT and many Korean data sets write them with no authority. -1 when
 * unknown. */
static int prj_epsg(const char *w)
{
	const char *last = NULL, *p = w;
	while ((p = strstr(p, "AUTHORITY[\"EPSG\"")) != NULL)
		last = p++;
	if (last) {
		const char *d = last + strlen("AUTHORITY[\"EPSG\"");
		while (*d && !isdigit((unsigned char)*d))
			d++;
		long v = strtol(d, NULL, 10);
		if (v > 0)
			return (int)v;
	}
	int projected = strstr(w, "PROJCS[") != NULL;
	if (!projected && strstr(w, "GEOGCS[") && (strstr(w, "WGS_1984") || strstr(w, "WGS 84")))
		return 4326;
	if (projected && strstr(w, "Bessel") && strstr(w, "Transverse_Mercator")) {
		const char *keys[] = {"Central_Meridian", "False_Northing", "False_Easting",
				      "Latitude_Of_Origin", "Scale_Factor"};
		double v[5];
		for (int k = 0; k < 5; k++) {
			const char *q = strcasestr(w, keys[k]);
			if (!q || !(q = strchr(q, ',')))
				return -1;
			v[k] = strtod(q + 1, NULL);
		}
		if (fabs(v[2] - 200000.0) > 1e-6 || fabs(v[3] - 38.0) > 1e-9 || fabs(v[4] - 1.0) > 1e-12)
			return -1;
		static const struct {
			double lon0, fn;
			int epsg;
		} belts[] = {{125.0028902777778, 500000.0, 5173},
			     {127.0028902777778, 500000.0, 5174},
			     {127.0028902777778, 550000.0, 5175},
			     {129.0028902777778, 500000.0, 5176},
			     {131.0028902777778, 500000.0, 5177}};
		for (size_t k = 0; k < SVT_ARRAY_LEN(belts); k++)
			if (fabs(v[0] - belts[k].lon0) < 1e-9 && fabs(v[1] - belts[k].fn) < 1e-6)
				return belts[k].epsg;
	}
	return -1;
}

/* path with its extension replaced by ext (".dbf"); the case of the original extension's
 * first letter decides upper or lower case. */
static int sibling(char *out, size_t cap, const char *path, const char *ext, svt_err *err)
{
	const char *dot = strrchr(path, '.');
	size_t stem = dot ? (size_t)(dot - path) : strlen(path);
	int upper = dot && isupper((unsigned char)dot[1]);
	if (stem + strlen(ext) + 1 > cap)
		return svt_err_set(err, SVT_E_INPUT, "path too long: %s", path);
	memcpy(out, path, stem);
	for (size_t i = 0; ext[i]; i++)
		out[stem + i] = upper ? (char)toupper((unsigned char)ext[i]) : ext[i];
	out[stem + strlen(ext)] = 0;
	return SVT_OK;
}

static int load_shapefile(twin_layer *l, const char *path, int *epsg, const char *encoding,
			  svt_err *err)
{
	char side[4096];
	uint8_t *shp = NULL, *dbf = NULL, *prj = NULL, *cpg = NULL;
	size_t nshp = 0, ndbf = 0, nprj = 0, ncpg = 0;
	char *enc = NULL;
	int rc;
	if ((rc = svt_file_read(path, LAYER_MAX_FILE, &shp, &nshp, err)))
		goto done;
	if ((rc = shp_parse(l, shp, nshp, path, err)))
		goto done;
	if (*epsg == 0) {
		if ((rc = sibling(side, sizeof(side), path, ".prj", err)))
			goto done;
		if ((rc = svt_file_read(side, 1 << 20, &prj, &nprj, err))) {
			rc = svt_err_set(err, SVT_E_NOTFOUND, "%s: no .prj; give the EPSG code", path);
			goto done;
		}
		char *w = malloc(nprj + 1);
		if (!w) {
			rc = svt_err_set(err, SVT_E_NOMEM, "layer: no memory");
			goto done;
		}
		memcpy(w, prj, nprj);
		w[nprj] = 0;
		*epsg = prj_epsg(w);
		free(w);
		if (*epsg < 0) {
			rc = svt_err_set(err, SVT_E_UNSUPPORTED,
					 "%s: CRS of the .prj not recognised; give the EPSG code", path);
			goto done;
		}
	}
	if (!encoding && !sibling(side, sizeof(side), path, ".cpg", NULL) &&
	    !svt_file_read(side, 256, &cpg, &ncpg, NULL)) {
		size_t a = 0, e = ncpg;
		while (a < e && isspace(cpg[a]))
			a++;
		while (e > a && isspace(cpg[e - 1]))
			e--;
		if (e > a && (enc = strndup((const char *)cpg + a, e - a)))
			encoding = enc;
	}
	if ((rc = sibling(side, sizeof(side), path, ".dbf", err)))
		goto done;
	if ((rc = svt_file_read(side, LAYER_MAX_FILE, &dbf, &ndbf, err)))
		goto done; /* no attributes, no names: refuse rather than label with "" */
	rc = dbf_parse(l, dbf, ndbf, side, encoding, err);
done:
	free(shp);
	free(dbf);
	free(prj);
	free(cpg);
	free(enc);
	return rc;
}

int twin_layer_load(const char *path, const twin_layer_opts *opts, twin_layer **out,
		    svt_err *err)
{
	if (!out || !path)
		return svt_err_set(err, SVT_E_INPUT, "twin_layer_load: NULL argument");
	*out = NULL;
	twin_layer_opts o;
	twin_layer_opts_default(&o);
	if (opts)
		o = *opts;
	twin_layer *l = calloc(1, sizeof(*l));
	if (!l)
		return svt_err_set(err, SVT_E_NOMEM, "layer: no memory");
	int epsg = o.epsg, rc;
	const char *dot = strrchr(path, '.');
	if (dot && strcasecmp(dot, ".shp") == 0)
		rc = load_shapefile(l, path, &epsg, o.encoding, err);
	else
		rc = load_geojson(l, path, &epsg, err);
	if (!rc)
		rc = layer_to_wgs84(l, epsg, err);
	if (!rc)
		rc = layer_finish(l, o.name_field, err);
	if (rc) {
		twin_layer_destroy(l);
		return rc;
	}
	*out = l;
	return SVT_OK;
}

int twin_layer_save_geojson(const twin_layer *l, const char *path, svt_err *err)
{
	if (!l || !path)
		return svt_err_set(err, SVT_E_INPUT, "twin_layer_save_geojson: NULL argument");
	int rc = SVT_OK;
	char *text = NULL;
	json_t *root = json_object(), *fs = json_array();
	if (!root || !fs || json_object_set_new(root, "type", json_string("FeatureCollection")) ||
	    json_object_set(root, "features", fs))
		goto nomem;
	const size_t *ends = ring_ends(l);
	for (size_t i = 0; i < l->nf; i++) {
		const feature *f = &l->f[i];
		json_t *ft = json_object(), *g = json_object(), *polys = json_array();
		if (!ft || json_array_append_new(fs, ft) || !g || json_object_set_new(ft, "geometry", g) ||
		    !polys) {
			json_decref(g);
			json_decref(polys);
			goto nomem;
		}
		json_object_set_new(ft, "type", json_string("Feature"));
		json_object_set(ft, "properties", f->props);
		json_object_set_new(g, "type", json_string("MultiPolygon"));
		json_object_set_new(g, "coordinates", polys);
		/* Rebuild the polygon structure from nesting: a ring inside an even number of the
		 * feature's other rings is an outer ring, one inside an odd number is a hole of the
		 * ring one level up that contains it. */
		size_t nr = f->nrings;
		int *depth = calloc(nr ? nr : 1, sizeof(int));
		json_t **poly_of = calloc(nr ? nr : 1, sizeof(json_t *));
		if (!depth || !poly_of) {
			free(depth);
			free(poly_of);
			goto nomem;
		}
		for (size_t r = 0; r < nr; r++) {
			size_t R = f->ring0 + r, v0 = l->ring_start[R];
			for (size_t q = 0; q < nr; q++)
				if (q != r && ring_contains(l, l->ring_start[f->ring0 + q],
							    ends[f->ring0 + q], l->xy[2 * v0],
							    l->xy[2 * v0 + 1]))
					depth[r]++;
		}
		int bad = 0;
		for (int pass = 0; pass < 2 && !bad; pass++)
			for (size_t r = 0; r < nr && !bad; r++) {
				size_t R = f->ring0 + r;
				if ((depth[r] % 2 == 0) != (pass == 0))
					continue;
				json_t *poly = NULL;
				if (pass == 0) {
					poly = json_array();
					bad = !poly || json_array_append_new(polys, poly);
					poly_of[r] = poly;
				} else {
					size_t v0 = l->ring_start[R];
					for (size_t q = 0; q < nr && !poly; q++)
						if (depth[q] == depth[r] - 1 && poly_of[q] &&
						    ring_contains(l, l->ring_start[f->ring0 + q],
								  ends[f->ring0 + q], l->xy[2 * v0],
								  l->xy[2 * v0 + 1]))
							poly = poly_of[q];
					if (!poly) { /* a hole outside everything: keep it as drawn */
						poly = json_array();
						bad = !poly || json_array_append_new(polys, poly);
					}
				}
				if (bad)
					break;
				json_t *ring = json_array();
				bad = !ring || json_array_append_new(poly, ring);
				for (size_t v = l->ring_start[R]; !bad && v <= ends[R]; v++) {
					size_t w = v == ends[R] ? l->ring_start[R] : v; /* closed */
					json_t *pt = json_pack("[ff]", l->xy[2 * w], l->xy[2 * w + 1]);
					bad = !pt || json_array_append_new(ring, pt);
				}
			}
		free(depth);
		free(poly_of);
		if (bad)
			goto nomem;
	}
	text = json_dumps(root, JSON_COMPACT | JSON_REAL_PRECISION(17));
	if (!text)
		goto nomem;
	rc = svt_file_write_atomic(path, text, strlen(text), err);
	goto done;
nomem:
	rc = svt_err_set(err, SVT_E_NOMEM, "layer: no memory for GeoJSON");
done:
	free(text);
	json_decref(fs);
	json_decref(root);
	return rc;
}
