/* geo_crs.c: WGS84 <-> projected CRS transformations through PROJ, batched.
 *
 * Each geo_crs owns its own PJ_CONTEXT, so two threads never share PROJ state (PROJ contexts
 * are not thread-safe); a thread that needs the transformation creates its own geo_crs. */
#include "geo/geo.h"

#include <math.h>
#include <proj.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct geo_crs {
	PJ_CONTEXT *ctx;
	PJ *op;          /* normalised: lon/lat or easting/northing in, same order out */
	int epsg_from, epsg_to;
	char *name;      /* the target CRS's name (malloc'd) */
	char *op_name;   /* the operation PROJ chose (malloc'd), for reports */
	int geog_from, geog_to; /* lon/lat (degrees) rather than projected metres */
	int has_area;           /* the target's area of use, from PROJ's database */
	double area_w, area_s, area_e, area_n;
};

static int is_geographic(PJ *crs)
{
	PJ_TYPE t = proj_get_type(crs);
	return t == PJ_TYPE_GEOGRAPHIC_2D_CRS || t == PJ_TYPE_GEOGRAPHIC_3D_CRS ||
	       t == PJ_TYPE_GEOGRAPHIC_CRS;
}

/* Builds "EPSG:n"; 4326 is spelled that way too and normalisation turns it into lon, lat. */
static void epsg_str(char *buf, size_t cap, int epsg)
{
	snprintf(buf, cap, "EPSG:%d", epsg);
}

static char *dup_or_empty(const char *s)
{
	const char *src = s ? s : "";
	size_t n = strlen(src) + 1;
	char *d = malloc(n);
	if (d)
		memcpy(d, src, n);
	return d;
}

int geo_crs_create_pair(int epsg_from, int epsg_to, geo_crs **out, svt_err *err)
{
	int rc = SVT_OK;
	geo_crs *c = NULL;
	PJ *raw = NULL, *target = NULL, *source = NULL;
	char from[32], to[32];

	if (!out)
		return svt_err_set(err, SVT_E_INPUT, "geo_crs_create_pair: out is NULL");
	*out = NULL;
	if (epsg_from <= 0 || epsg_to <= 0)
		return svt_err_set(err, SVT_E_INPUT, "invalid EPSG code %d -> %d", epsg_from,
				   epsg_to);
	c = calloc(1, sizeof(*c));
	if (!c)
		return svt_err_set(err, SVT_E_NOMEM, "geo_crs: out of memory");
	c->epsg_from = epsg_from;
	c->epsg_to = epsg_to;
	c->ctx = proj_context_create();
	if (!c->ctx) {
		rc = svt_err_set(err, SVT_E_PROJ, "proj_context_create failed");
		goto done;
	}
	/* PROJ logs to stderr by default; our callers get errors through svt_err instead. */
	proj_log_level(c->ctx, PJ_LOG_NONE);
	epsg_str(from, sizeof(from), epsg_from);
	epsg_str(to, sizeof(to), epsg_to);
	target = proj_create(c->ctx, to);
	if (!target) {
		int e = proj_context_errno(c->ctx);
		rc = svt_err_set(err, SVT_E_PROJ, "PROJ does not know %s: %s", to,
				 proj_context_errno_string(c->ctx, e));
		goto done;
	}
	c->name = dup_or_empty(proj_get_name(target));
	c->geog_to = is_geographic(target);
	c->has_area = proj_get_area_of_use(c->ctx, target, &c->area_w, &c->area_s, &c->area_e,
					   &c->area_n, NULL) &&
		      c->area_w > -1000;
	source = proj_create(c->ctx, from);
	if (!source) {
		int e = proj_context_errno(c->ctx);
		rc = svt_err_set(err, SVT_E_PROJ, "PROJ does not know %s: %s", from,
				 proj_context_errno_string(c->ctx, e));
		goto done;
	}
	c->geog_from = is_geographic(source);
	raw = proj_create_crs_to_crs(c->ctx, from, to, NULL);
	if (!raw) {
		int e = proj_context_errno(c->ctx);
		rc = svt_err_set(err, SVT_E_PROJ, "no transformation %s -> %s: %s", from, to,
				 proj_context_errno_string(c->ctx, e));
		goto done;
	}
	/* EPSG says latitude first for 4326 and northing first for the Korean CRSs: normalise
	 * so that callers always pass lon/lat and get easting/northing. */
	c->op = proj_normalize_for_visualization(c->ctx, raw);
	if (!c->op) {
		rc = svt_err_set(err, SVT_E_PROJ, "proj_normalize_for_visualization %s -> %s failed",
				 from, to);
		goto done;
	}
	c->op_name = dup_or_empty(proj_get_name(c->op));
	if (!c->name || !c->op_name) {
		rc = svt_err_set(err, SVT_E_NOMEM, "geo_crs: out of memory");
		goto done;
	}
	*out = c;
	c = NULL;
done:
	if (raw)
		proj_destroy(raw);
	if (target)
		proj_destroy(target);
	if (source)
		proj_destroy(source);
	geo_crs_destroy(c);
	return rc;
}

int geo_crs_create(int epsg, geo_crs **out, svt_err *err)
{
	return geo_crs_create_pair(4326, epsg, out, err);
}

void geo_crs_destroy(geo_crs *c)
{
	if (!c)
		return;
	if (c->op)
		proj_destroy(c->op);
	if (c->ctx)
		proj_context_destroy(c->ctx);
	free(c->name);
	free(c->op_name);
	free(c);
}

int geo_crs_epsg(const geo_crs *c)
{
	return c ? c->epsg_to : 0;
}

int geo_crs_epsg_from(const geo_crs *c)
{
	return c ? c->epsg_from : 0;
}

const char *geo_crs_name(const geo_crs *c)
{
	return c && c->name ? c->name : "";
}

int geo_crs_is_geographic(const geo_crs *c, int target)
{
	if (!c)
		return 0;
	return target ? c->geog_to : c->geog_from;
}

const char *geo_crs_operation_name(const geo_crs *c)
{
	return c && c->op_name ? c->op_name : "";
}

/* One proj_trans_generic call over the whole batch, then a scan for points PROJ refused
 * (it writes HUGE_VAL into them and carries on with the rest). */
static int crs_trans(geo_crs *c, PJ_DIRECTION dir, double *x, double *y, double *z,
		     size_t stride, size_t n, svt_err *err)
{
	if (!c || !x || !y)
		return svt_err_set(err, SVT_E_INPUT, "geo_crs transform: NULL argument");
	if (n == 0)
		return SVT_OK;
	if (stride < sizeof(double))
		return svt_err_set(err, SVT_E_INPUT, "geo_crs transform: stride %zu < 8", stride);
	proj_errno_reset(c->op);
	proj_trans_generic(c->op, dir, x, stride, n, y, stride, n, z, z ? stride : 0,
			   z ? n : 0, NULL, 0, 0);
	size_t bad = 0, first = 0;
	for (size_t i = 0; i < n; i++) {
		double xi = *(const double *)((const char *)x + i * stride);
		double yi = *(const double *)((const char *)y + i * stride);
		if (!isfinite(xi) || !isfinite(yi)) { /* HUGE_VAL is inf */
			if (bad++ == 0)
				first = i;
		}
	}
	if (bad) {
		int e = proj_errno(c->op);
		return svt_err_set(err, SVT_E_PROJ,
				   "EPSG:%d -> EPSG:%d %s: %zu of %zu points failed (first #%zu)%s%s",
				   c->epsg_from, c->epsg_to, dir == PJ_FWD ? "forward" : "inverse",
				   bad, n, first, e ? ": " : "",
				   e ? proj_context_errno_string(c->ctx, e) : "");
	}
	return SVT_OK;
}

int geo_crs_forward(geo_crs *c, double *x, double *y, double *z, size_t stride, size_t n,
		    svt_err *err)
{
	return crs_trans(c, PJ_FWD, x, y, z, stride, n, err);
}

int geo_crs_inverse(geo_crs *c, double *x, double *y, double *z, size_t stride, size_t n,
		    svt_err *err)
{
	return crs_trans(c, PJ_INV, x, y, z, stride, n, err);
}

int geo_crs_proj_baseline(geo_crs *c, double *x, double *y, double *z, size_t stride,
			  size_t n)
{
	if (!c || !x || !y)
		return -1;
	return (int)proj_trans_generic(c->op, PJ_FWD, x, stride, n, y, stride, n, z,
				       z ? stride : 0, z ? n : 0, NULL, 0, 0);
}

/* ---- Which CRS fits a capture ----------------------------------------------------------- */

static int in_box(double w, double s, double e, double n, double lat, double lon)
{
	if (!(lat >= s && lat <= n))
		return 0;
	if (w <= e)
		return lon >= w && lon <= e;
	return lon >= w || lon <= e; /* the box crosses the antimeridian */
}

int geo_crs_covers(const geo_crs *c, double lat, double lon)
{
	if (!c || !isfinite(lat) || !isfinite(lon))
		return 0;
	if (!c->has_area)
		return 1;
	return in_box(c->area_w, c->area_s, c->area_e, c->area_n, lat, lon);
}

/* A throwaway context for one database look-up (contexts are not shared between threads). */
static PJ *crs_lookup(int epsg, PJ_CONTEXT **ctx, svt_err *err)
{
	char code[32];
	*ctx = proj_context_create();
	if (!*ctx) {
		svt_err_set(err, SVT_E_PROJ, "proj_context_create failed");
		return NULL;
	}
	proj_log_level(*ctx, PJ_LOG_NONE);
	epsg_str(code, sizeof(code), epsg);
	PJ *crs = epsg > 0 ? proj_create(*ctx, code) : NULL;
	if (!crs) {
		int e = proj_context_errno(*ctx);
		svt_err_set(err, SVT_E_PROJ, "PROJ does not know EPSG:%d%s%s", epsg, e ? ": " : "",
			    e ? proj_context_errno_string(*ctx, e) : "");
	}
	return crs;
}

int geo_crs_area_of_use(int epsg, double *west, double *south, double *east, double *north,
			char *name, size_t cap, svt_err *err)
{
	PJ_CONTEXT *ctx = NULL;
	PJ *crs = crs_lookup(epsg, &ctx, err);
	int rc = SVT_OK;
	const char *nm = NULL;
	if (!crs) {
		rc = SVT_E_PROJ;
		goto done;
	}
	if (!proj_get_area_of_use(ctx, crs, west, south, east, north, &nm) || *west < -1000) {
		rc = svt_err_set(err, SVT_E_NOTFOUND, "EPSG:%d has no area of use in PROJ's database",
				 epsg);
		goto done;
	}
	if (name && cap)
		snprintf(name, cap, "%s", nm ? nm : "");
done:
	if (crs)
		proj_destroy(crs);
	if (ctx)
		proj_context_destroy(ctx);
	return rc;
}

int geo_utm_epsg_for(double lat, double lon, int *epsg, svt_err *err)
{
	if (!isfinite(lat) || !isfinite(lon) || lat < -80 || lat > 84)
		return svt_err_set(err, SVT_E_UNSUPPORTED,
				   "%.6f, %.6f is outside UTM's latitudes (80 S to 84 N): give --crs "
				   "(a polar stereographic CRS such as EPSG:3413 or 3031)",
				   lat, lon);
	double l = fmod(lon + 180.0, 360.0);
	if (l < 0)
		l += 360.0;
	int zone = (int)floor(l / 6.0) + 1;
	if (zone > 60)
		zone = 60;
	if (lat >= 56 && lat < 64 && lon >= 3 && lon < 12)
		zone = 32; /* south-west Norway: 32V is widened */
	if (lat >= 72 && lon >= 0 && lon < 42) /* Svalbard: 31X 33X 35X 37X only */
		zone = lon < 9 ? 31 : lon < 21 ? 33 : lon < 33 ? 35 : 37;
	*epsg = (lat >= 0 ? 32600 : 32700) + zone;
	return SVT_OK;
}

int geo_crs_default_for(double lat, double lon, int *epsg, svt_err *err)
{
	double w, s, e, n;
	/* The area of use comes from PROJ's database, which ships with PROJ: if it cannot be
	 * read the build cannot project at all, so that failure is passed up. */
	int rc = geo_crs_area_of_use(GEO_EPSG_DEFAULT, &w, &s, &e, &n, NULL, 0, err);
	if (rc)
		return rc;
	if (in_box(w, s, e, n, lat, lon)) {
		*epsg = GEO_EPSG_DEFAULT;
		return SVT_OK;
	}
	return geo_utm_epsg_for(lat, lon, epsg, err);
}

int geo_crs_check_projected(int epsg, svt_err *err)
{
	PJ_CONTEXT *ctx = NULL;
	PJ *crs = crs_lookup(epsg, &ctx, err);
	int rc = SVT_OK;
	if (!crs) {
		rc = SVT_E_PROJ;
		goto done;
	}
	PJ_TYPE t = proj_get_type(crs);
	if (is_geographic(crs)) {
		rc = svt_err_set(err, SVT_E_INPUT,
				 "EPSG:%d (%s) is a geographic CRS: its coordinates are degrees, and "
				 "the twin and the shards need metres; give a projected CRS (EPSG:5186 "
				 "in Korea, the capture's UTM zone EPSG:326xx/327xx elsewhere) or leave "
				 "--crs out to have it chosen from the capture",
				 epsg, proj_get_name(crs));
	} else if (t != PJ_TYPE_PROJECTED_CRS) {
		rc = svt_err_set(err, SVT_E_INPUT,
				 "EPSG:%d (%s) is not a projected CRS (easting, northing in metres)",
				 epsg, proj_get_name(crs));
	}
done:
	if (crs)
		proj_destroy(crs);
	if (ctx)
		proj_context_destroy(ctx);
	return rc;
}
