/* twin_layer.c: polygon layers in WGS84 and point-in-polygon.
 *
 * Layers are read through GDAL/OGR, so any vector format OGR reads works (GeoPackage,
 * Shapefile, GeoJSON, FlatGeobuf, KML...); vertices of any CRS are transformed to WGS84
 * lon/lat once at load through OGR/PROJ, so lookups are pure arithmetic and need no PROJ
 * context (thread-safe). The store keeps its layers as GeoPackage feature tables
 * (twin_layer_write_table / twin_layer_read_table).
 */
#include <ctype.h>
#include <errno.h>
#include <gdal.h>
#include <iconv.h>
#include <jansson.h>
#include <math.h>
#include <ogr_api.h>
#include <ogr_srs_api.h>
#include <cpl_error.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "geo/geo.h"
#include "twin/twin.h"
#include "twin/twin_internal.h"

/* ---- GDAL, loaded on first use ------------------------------------------------------------
 * Every GDAL/OGR/OSR/CPL function this file calls, resolved by svt_dl_load from the libgdal the
 * headers belong to (SVT_GDAL_SONAME, from the Makefile); the program does not link it, so
 * processes that read no layer do not pay for mapping it and its ~150 dependencies. Calls
 * read GDAL(f)(...): a call written without it does not link, so none bypasses the table. */
#ifndef SVT_GDAL_SONAME
#error "SVT_GDAL_SONAME (the SONAME of libgdal, e.g. \"libgdal.so.32\") comes from the Makefile"
#endif
#define GDAL_FNS(X) \
	X(GDALAllRegister) X(GDALClose) X(GDALDatasetGetLayer) X(GDALDatasetGetLayerByName) \
	X(GDALOpenEx) \
	X(OGR_FD_GetFieldCount) X(OGR_FD_GetFieldDefn) X(OGR_F_Destroy) \
	X(OGR_F_GetFieldAsDouble) X(OGR_F_GetFieldAsInteger64) X(OGR_F_GetFieldAsString) \
	X(OGR_F_GetGeometryRef) X(OGR_F_IsFieldSetAndNotNull) X(OGR_Fld_GetNameRef) \
	X(OGR_Fld_GetType) X(OGR_L_GetLayerDefn) X(OGR_L_GetNextFeature) \
	X(OGR_L_GetSpatialRef) X(OGR_L_ResetReading) \
	X(OGRGeometryTypeToName) X(OGR_GT_Flatten) X(OGR_G_Clone) X(OGR_G_CreateFromWkb) \
	X(OGR_G_DestroyGeometry) X(OGR_G_ExportToIsoWkb) X(OGR_G_ForceToMultiPolygon) \
	X(OGR_G_GetGeometryCount) X(OGR_G_GetGeometryRef) X(OGR_G_GetGeometryType) \
	X(OGR_G_GetLinearGeometry) X(OGR_G_GetPointCount) X(OGR_G_GetX) X(OGR_G_GetY) \
	X(OGR_G_IsEmpty) X(OGR_G_Transform) X(OGR_G_WkbSize) \
	X(OSRClone) X(OSRDestroySpatialReference) X(OSRGetAttrValue) X(OSRGetInvFlattening) \
	X(OSRGetProjParm) X(OSRGetSemiMajor) X(OSRImportFromEPSG) X(OSRIsProjected) \
	X(OSRIsSame) X(OSRNewSpatialReference) X(OSRSetAxisMappingStrategy) \
	X(OCTDestroyCoordinateTransformation) X(OCTNewCoordinateTransformation) \
	X(CPLErrorReset) X(CPLGetLastErrorMsg) X(CPLGetLastErrorType) X(CPLPopErrorHandler) \
	X(CPLPushErrorHandler) X(CPLQuietErrorHandler)
SVT_DL_TABLE(gdal_dl, "reading vector layers (--districts, --dongs, the store's layers)",
	     GDAL_FNS, SVT_GDAL_SONAME);
/* f's pointer, typed from its declaration in GDAL's headers. */
#define GDAL(f) SVT_DL_CALL(gdal_dl, f)

#define GRID_MAX 256

typedef struct feature {
	char *name;
	json_t *props;  /* as read (saved back unchanged) */
	json_t *sprops; /* the same, every value a string */
	size_t ring0, nrings; /* into layer.ring_start */
	double bbox[4];       /* lon_min, lat_min, lon_max, lat_max */
	uint8_t *wkb;         /* the geometry in WGS84 as ISO WKB MultiPolygon (NULL: none) */
	size_t nwkb;
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
		free(l->f[i].wkb);
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

/* ---- Reading through GDAL/OGR ------------------------------------------------------------- */

static pthread_once_t g_ogr_once = PTHREAD_ONCE_INIT;
static void ogr_init(void)
{
	GDAL(GDALAllRegister)();
}

/* GDAL loaded and its drivers registered, once per process: what every entry point that
 * reaches GDAL calls first. */
static int gdal_ready(svt_err *err)
{
	int rc = svt_dl_load(&gdal_dl, err);
	if (!rc)
		pthread_once(&g_ogr_once, ogr_init);
	return rc;
}

/* The Korean 1985 (Bessel) modified belts EPSG:5173-5177 recognised by their parameters:
 * KOSTAT and many Korean data sets write them with no authority, and without the code PROJ
 * has no datum shift for them (~300 m off). 0 when srs is not one of them. */
static int korean_belt(OGRSpatialReferenceH srs)
{
	if (!GDAL(OSRIsProjected)(srs))
		return 0;
	const char *method = GDAL(OSRGetAttrValue)(srs, "PROJECTION", 0);
	OGRErr e1 = OGRERR_NONE, e2 = OGRERR_NONE;
	double a = GDAL(OSRGetSemiMajor)(srs, &e1), inv_f = GDAL(OSRGetInvFlattening)(srs, &e2);
	if (!method || strcasecmp(method, "Transverse_Mercator") != 0 || e1 || e2 ||
	    fabs(a - 6377397.155) > 1e-3 || fabs(inv_f - 299.1528128) > 1e-6)
		return 0;
	double lon0 = GDAL(OSRGetProjParm)(srs, SRS_PP_CENTRAL_MERIDIAN, NAN, NULL);
	double lat0 = GDAL(OSRGetProjParm)(srs, SRS_PP_LATITUDE_OF_ORIGIN, NAN, NULL);
	double k0 = GDAL(OSRGetProjParm)(srs, SRS_PP_SCALE_FACTOR, NAN, NULL);
	double fe = GDAL(OSRGetProjParm)(srs, SRS_PP_FALSE_EASTING, NAN, NULL);
	double fn = GDAL(OSRGetProjParm)(srs, SRS_PP_FALSE_NORTHING, NAN, NULL);
	if (fabs(fe - 200000.0) > 1e-6 || fabs(lat0 - 38.0) > 1e-9 || fabs(k0 - 1.0) > 1e-12)
		return 0;
	static const struct {
		double lon0, fn;
		int epsg;
	} belts[] = {{125.0028902777778, 500000.0, 5173},
		     {127.0028902777778, 500000.0, 5174},
		     {127.0028902777778, 550000.0, 5175},
		     {129.0028902777778, 500000.0, 5176},
		     {131.0028902777778, 500000.0, 5177}};
	for (size_t k = 0; k < SVT_ARRAY_LEN(belts); k++)
		if (fabs(lon0 - belts[k].lon0) < 1e-9 && fabs(fn - belts[k].fn) < 1e-6)
			return belts[k].epsg;
	return 0;
}

/* Adds the rings of g (Polygon, MultiPolygon, GeometryCollection of those; curves are
 * linearised) to the current feature. */
static int add_geometry(twin_layer *l, OGRGeometryH g, svt_err *err)
{
	OGRwkbGeometryType t = GDAL(OGR_GT_Flatten)(GDAL(OGR_G_GetGeometryType)(g));
	int rc = SVT_OK;
	if (t == wkbPolygon) {
		for (int r = 0; !rc && r < GDAL(OGR_G_GetGeometryCount)(g); r++) {
			OGRGeometryH ring = GDAL(OGR_G_GetGeometryRef)(g, r);
			if ((rc = ring_begin(l, err)))
				break;
			for (int v = 0; !rc && v < GDAL(OGR_G_GetPointCount)(ring); v++)
				rc = vertex_add(l, GDAL(OGR_G_GetX)(ring, v),
						GDAL(OGR_G_GetY)(ring, v), err);
		}
		return rc;
	}
	if (t == wkbMultiPolygon || t == wkbGeometryCollection) {
		for (int k = 0; !rc && k < GDAL(OGR_G_GetGeometryCount)(g); k++)
			rc = add_geometry(l, GDAL(OGR_G_GetGeometryRef)(g, k), err);
		return rc;
	}
	if (t == wkbCurvePolygon || t == wkbMultiSurface) {
		OGRGeometryH lin = GDAL(OGR_G_GetLinearGeometry)(g, 0, NULL);
		rc = lin ? add_geometry(l, lin, err) : svt_err_set(err, SVT_E_FORMAT, "bad curve");
		GDAL(OGR_G_DestroyGeometry)(lin);
		return rc;
	}
	return svt_err_set(err, SVT_E_UNSUPPORTED, "layer: a %s is not a polygon",
			   GDAL(OGRGeometryTypeToName)(t));
}

/* A string field's value in UTF-8: as OGR gives it when valid UTF-8 (OGR recodes from the
 * .cpg / LDID or the caller's ENCODING), else converted from CP949 (Korean public data
 * without a .cpg). */
static json_t *utf8_string(const char *v)
{
	size_t n = strlen(v);
	if (utf8_valid((const uint8_t *)v, n))
		return json_string(v);
	char *u = to_utf8((const uint8_t *)v, n, "CP949");
	json_t *j = u && utf8_valid((const uint8_t *)u, strlen(u)) ? json_string(u) : NULL;
	free(u);
	return j ? j : json_string("");
}

/* The properties of an OGR feature as a JSON object (integers, reals, strings). */
static json_t *feature_props(OGRFeatureH f, OGRFeatureDefnH d)
{
	json_t *o = json_object();
	for (int k = 0; o && k < GDAL(OGR_FD_GetFieldCount)(d); k++) {
		if (!GDAL(OGR_F_IsFieldSetAndNotNull)(f, k))
			continue;
		OGRFieldDefnH fd = GDAL(OGR_FD_GetFieldDefn)(d, k);
		json_t *v;
		switch (GDAL(OGR_Fld_GetType)(fd)) {
		case OFTInteger:
		case OFTInteger64:
			v = json_integer((json_int_t)GDAL(OGR_F_GetFieldAsInteger64)(f, k));
			break;
		case OFTReal:
			v = json_real(GDAL(OGR_F_GetFieldAsDouble)(f, k));
			break;
		default:
			v = utf8_string(GDAL(OGR_F_GetFieldAsString)(f, k));
		}
		if (!v || json_object_set_new(o, GDAL(OGR_Fld_GetNameRef)(fd), v)) {
			json_decref(o);
			return NULL;
		}
	}
	return o;
}

/* Keeps feature i's geometry as WKB (for the store's feature table). */
static int keep_wkb(twin_layer *l, size_t i, OGRGeometryH g, svt_err *err)
{
	OGRGeometryH mp = GDAL(OGR_G_ForceToMultiPolygon)(GDAL(OGR_G_Clone)(g));
	if (!mp)
		return svt_err_set(err, SVT_E_NOMEM, "layer: no memory");
	size_t n = (size_t)GDAL(OGR_G_WkbSize)(mp);
	uint8_t *b = malloc(n ? n : 1);
	int rc = SVT_OK;
	if (!b)
		rc = svt_err_set(err, SVT_E_NOMEM, "layer: no memory");
	else if (GDAL(OGR_G_ExportToIsoWkb)(mp, wkbNDR, b) != OGRERR_NONE)
		rc = svt_err_set(err, SVT_E_FORMAT, "layer: feature %zu has no WKB", i);
	GDAL(OGR_G_DestroyGeometry)(mp);
	if (rc) {
		free(b);
		return rc;
	}
	l->f[i].wkb = b;
	l->f[i].nwkb = n;
	return SVT_OK;
}

/* Reads every feature of layer lyr, transforming geometries with ct (NULL: already WGS84
 * lon/lat). */
static int read_ogr_layer(twin_layer *l, OGRLayerH lyr, OGRCoordinateTransformationH ct,
			  const char *path, svt_err *err)
{
	OGRFeatureDefnH d = GDAL(OGR_L_GetLayerDefn)(lyr);
	OGRFeatureH f;
	int rc = SVT_OK;
	GDAL(OGR_L_ResetReading)(lyr);
	GDAL(CPLErrorReset)();
	while (!rc && (f = GDAL(OGR_L_GetNextFeature)(lyr)) != NULL) {
		json_t *props = feature_props(f, d);
		if (!props) {
			GDAL(OGR_F_Destroy)(f);
			return svt_err_set(err, SVT_E_NOMEM, "layer: no memory");
		}
		if ((rc = feature_begin(l, props, err))) {
			GDAL(OGR_F_Destroy)(f);
			break;
		}
		OGRGeometryH g = GDAL(OGR_F_GetGeometryRef)(f); /* NULL: kept as an empty feature */
		if (g && !GDAL(OGR_G_IsEmpty)(g)) {
			if (ct && GDAL(OGR_G_Transform)(g, ct) != OGRERR_NONE)
				rc = svt_err_set(err, SVT_E_PROJ, "%s: feature %zu: transformation to "
						 "WGS84 failed", path, l->nf - 1);
			if (!rc)
				rc = add_geometry(l, g, err);
			if (!rc)
				rc = keep_wkb(l, l->nf - 1, g, err);
		}
		GDAL(OGR_F_Destroy)(f);
	}
	/* A read error ends the loop like the last feature does; OGR says which it was. */
	if (!rc && GDAL(CPLGetLastErrorType)() >= CE_Failure)
		rc = svt_err_set(err, SVT_E_FORMAT, "%s: %s", path, GDAL(CPLGetLastErrorMsg)());
	return rc;
}

static OGRSpatialReferenceH srs_epsg(int epsg)
{
	OGRSpatialReferenceH s = GDAL(OSRNewSpatialReference)(NULL);
	if (s && GDAL(OSRImportFromEPSG)(s, epsg) != OGRERR_NONE) {
		GDAL(OSRDestroySpatialReference)(s);
		return NULL;
	}
	if (s)
		GDAL(OSRSetAxisMappingStrategy)(s, OAMS_TRADITIONAL_GIS_ORDER);
	return s;
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
	int rc = gdal_ready(err);
	if (rc)
		return rc;
	GDALDatasetH ds = NULL;
	OGRSpatialReferenceH src = NULL, dst = NULL;
	OGRCoordinateTransformationH ct = NULL;
	twin_layer *l = calloc(1, sizeof(*l));
	if (!l)
		return svt_err_set(err, SVT_E_NOMEM, "layer: no memory");
	char enc[96];
	const char *oo[2] = {NULL, NULL};
	if (o.encoding) {
		snprintf(enc, sizeof(enc), "ENCODING=%s", o.encoding);
		oo[0] = enc;
	}
	GDAL(CPLPushErrorHandler)(GDAL(CPLQuietErrorHandler));
	GDAL(CPLErrorReset)();
	ds = GDAL(GDALOpenEx)(path, GDAL_OF_VECTOR | GDAL_OF_READONLY, NULL, oo, NULL);
	if (!ds) {
		struct stat st;
		rc = stat(path, &st) != 0
			     ? svt_err_set(err, SVT_E_NOTFOUND, "%s: %s", path, strerror(errno))
			     : svt_err_set(err, SVT_E_FORMAT, "%s: not a vector layer OGR reads (%s)",
					   path, GDAL(CPLGetLastErrorMsg)());
		goto done;
	}
	OGRLayerH lyr = o.layer ? GDAL(GDALDatasetGetLayerByName)(ds, o.layer)
				: GDAL(GDALDatasetGetLayer)(ds, 0);
	if (!lyr) {
		rc = svt_err_set(err, SVT_E_NOTFOUND, "%s: no layer %s", path, o.layer ? o.layer : "");
		goto done;
	}
	/* The source CRS: the caller's code, else the layer's (a Korean belt by its
	 * parameters), else WGS84 (GeoJSON's RFC 7946 default). */
	int epsg = o.epsg;
	OGRSpatialReferenceH lsrs = GDAL(OGR_L_GetSpatialRef)(lyr);
	if (!epsg && lsrs)
		epsg = korean_belt(lsrs);
	if (epsg)
		src = srs_epsg(epsg);
	else if (lsrs && (src = GDAL(OSRClone)(lsrs)))
		GDAL(OSRSetAxisMappingStrategy)(src, OAMS_TRADITIONAL_GIS_ORDER);
	else
		src = srs_epsg(4326);
	dst = srs_epsg(4326);
	if (!src || !dst) {
		rc = svt_err_set(err, SVT_E_PROJ, "%s: unknown CRS (EPSG:%d)", path, epsg);
		goto done;
	}
	if (!GDAL(OSRIsSame)(src, dst) && !(ct = GDAL(OCTNewCoordinateTransformation)(src, dst))) {
		rc = svt_err_set(err, SVT_E_PROJ, "%s: no transformation to WGS84 (%s)", path,
				 GDAL(CPLGetLastErrorMsg)());
		goto done;
	}
	if ((rc = read_ogr_layer(l, lyr, ct, path, err)) ||
	    (rc = layer_finish(l, o.name_field, err)))
		goto done;
done:
	GDAL(CPLPopErrorHandler)();
	GDAL(OCTDestroyCoordinateTransformation)(ct);
	GDAL(OSRDestroySpatialReference)(src);
	GDAL(OSRDestroySpatialReference)(dst);
	GDAL(GDALClose)(ds);
	if (rc) {
		twin_layer_destroy(l);
		return rc;
	}
	*out = l;
	return SVT_OK;
}

/* ---- The store's feature tables ----------------------------------------------------------- */

const uint8_t *twin_layer_wkb(const twin_layer *l, size_t i, size_t *n)
{
	*n = l && i < l->nf ? l->f[i].nwkb : 0;
	return *n ? l->f[i].wkb : NULL;
}

void twin_layer_feature_bbox(const twin_layer *l, size_t i, double bbox[4])
{
	for (int k = 0; k < 4; k++)
		bbox[k] = NAN;
	if (l && i < l->nf && l->f[i].nrings)
		memcpy(bbox, l->f[i].bbox, sizeof(l->f[i].bbox));
}

/* The property keys over all features, in first-seen order; *keys malloc'd (strings owned
 * by l). */
static size_t layer_keys(const twin_layer *l, const char ***keys)
{
	size_t n = 0, cap = 16;
	*keys = malloc(cap * sizeof(char *));
	for (size_t i = 0; *keys && i < l->nf; i++) {
		const char *k;
		json_t *v;
		json_object_foreach(l->f[i].sprops, k, v)
		{
			size_t j = 0;
			while (j < n && strcmp((*keys)[j], k) != 0)
				j++;
			if (j < n || !strcmp(k, "fid") || !strcmp(k, "geom") || !strcmp(k, "twin_name"))
				continue;
			if (n == cap) {
				const char **q = realloc(*keys, 2 * cap * sizeof(char *));
				if (!q)
					return n;
				*keys = q;
				cap *= 2;
			}
			(*keys)[n++] = k;
		}
	}
	return n;
}

/* Writes l as feature table `table` (fid, geom MULTIPOLYGON WGS84, twin_name, then every
 * property as TEXT): the caller registers it (twin_gpkg_add_feature_table). */
int twin_layer_write_table(sqlite3 *db, const twin_layer *l, const char *table, svt_err *err)
{
	const char **keys = NULL;
	size_t nk = layer_keys(l, &keys);
	sqlite3_str *ddl = sqlite3_str_new(db), *ins = sqlite3_str_new(db);
	sqlite3_stmt *st = NULL;
	char *a = NULL, *b = NULL;
	int rc = SVT_OK;
	if (!keys) {
		rc = svt_err_set(err, SVT_E_NOMEM, "layer: no memory");
		goto done;
	}
	sqlite3_str_appendf(ddl, "CREATE TABLE \"%w\" (fid INTEGER PRIMARY KEY, geom MULTIPOLYGON, "
			    "twin_name TEXT NOT NULL", table);
	sqlite3_str_appendf(ins, "INSERT INTO \"%w\" VALUES (?, ?, ?", table);
	for (size_t k = 0; k < nk; k++) {
		sqlite3_str_appendf(ddl, ", \"%w\" TEXT", keys[k]);
		sqlite3_str_appendall(ins, ", ?");
	}
	sqlite3_str_appendall(ddl, ")");
	sqlite3_str_appendall(ins, ")");
	a = sqlite3_str_finish(ddl);
	b = sqlite3_str_finish(ins);
	ddl = ins = NULL;
	if (!a || !b) {
		rc = svt_err_set(err, SVT_E_NOMEM, "layer: no memory");
		goto done;
	}
	char *msg = NULL;
	if (sqlite3_exec(db, a, NULL, NULL, &msg) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, b, -1, &st, NULL) != SQLITE_OK) {
		rc = svt_err_set(err, SVT_E_IO, "layer table %s: %s", table, msg ? msg : sqlite3_errmsg(db));
		sqlite3_free(msg);
		goto done;
	}
	for (size_t i = 0; i < l->nf; i++) {
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
		sqlite3_bind_int64(st, 1, (sqlite3_int64)i + 1);
		uint8_t *blob = NULL;
		size_t nb = 0;
		if (l->f[i].nwkb) {
			if ((rc = twin_gpkg_wkb_blob(l->f[i].wkb, l->f[i].nwkb, 4326, l->f[i].bbox, &blob,
						     &nb, err)))
				goto done;
			sqlite3_bind_blob(st, 2, blob, (int)nb, free);
		}
		sqlite3_bind_text(st, 3, l->f[i].name ? l->f[i].name : "", -1, SQLITE_STATIC);
		for (size_t k = 0; k < nk; k++) {
			const char *v = twin_layer_prop(l, i, keys[k]);
			if (v)
				sqlite3_bind_text(st, 4 + (int)k, v, -1, SQLITE_STATIC);
		}
		if (sqlite3_step(st) != SQLITE_DONE) {
			rc = svt_err_set(err, SVT_E_IO, "layer table %s: %s", table, sqlite3_errmsg(db));
			goto done;
		}
	}
done:
	sqlite3_finalize(st);
	sqlite3_free(a);
	sqlite3_free(b);
	if (ddl)
		sqlite3_free(sqlite3_str_finish(ddl));
	if (ins)
		sqlite3_free(sqlite3_str_finish(ins));
	free(keys);
	return rc;
}

/* Reads back a feature table written by twin_layer_write_table: geometry blobs through OGR's
 * WKB reader, names from twin_name, every other column a string property. */
int twin_layer_read_table(sqlite3 *db, const char *table, twin_layer **out, svt_err *err)
{
	*out = NULL;
	int rc = gdal_ready(err), r;
	if (rc)
		return rc;
	twin_layer *l = calloc(1, sizeof(*l));
	sqlite3_stmt *st = NULL;
	char *sql = sqlite3_mprintf("SELECT * FROM \"%w\" ORDER BY fid", table);
	if (!l || !sql) {
		rc = svt_err_set(err, SVT_E_NOMEM, "layer: no memory");
		goto done;
	}
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		rc = svt_err_set(err, SVT_E_FORMAT, "layer table %s: %s", table, sqlite3_errmsg(db));
		goto done;
	}
	int nc = sqlite3_column_count(st);
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		json_t *props = json_object();
		for (int c = 0; props && c < nc; c++) {
			const char *k = sqlite3_column_name(st, c);
			const char *v = (const char *)sqlite3_column_text(st, c);
			if (v && strcmp(k, "fid") && strcmp(k, "geom"))
				json_object_set_new(props, k, json_string(v));
		}
		if (!props || (rc = feature_begin(l, props, err))) {
			rc = rc ? rc : svt_err_set(err, SVT_E_NOMEM, "layer: no memory");
			goto done;
		}
		const uint8_t *g = sqlite3_column_blob(st, 1);
		int n = sqlite3_column_bytes(st, 1);
		if (!g || n == 0)
			continue;
		/* GeoPackage header: 8 bytes, then the envelope its flags announce. */
		static const int env_len[8] = {0, 32, 48, 48, 64, 0, 0, 0};
		int hl = n >= 8 && g[0] == 'G' && g[1] == 'P' ? 8 + env_len[(g[3] >> 1) & 7] : -1;
		OGRGeometryH geom = NULL;
		if (hl < 0 || hl > n ||
		    GDAL(OGR_G_CreateFromWkb)(g + hl, NULL, &geom, n - hl) != OGRERR_NONE) {
			rc = svt_err_set(err, SVT_E_FORMAT, "layer table %s: feature %zu: bad geometry",
					 table, l->nf);
			goto done;
		}
		rc = add_geometry(l, geom, err);
		if (!rc)
			rc = keep_wkb(l, l->nf - 1, geom, err);
		GDAL(OGR_G_DestroyGeometry)(geom);
		if (rc)
			goto done;
	}
	if (r != SQLITE_DONE) {
		rc = svt_err_set(err, SVT_E_IO, "layer table %s: %s", table, sqlite3_errmsg(db));
		goto done;
	}
	rc = layer_finish(l, "twin_name", err);
done:
	sqlite3_finalize(st);
	sqlite3_free(sql);
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
