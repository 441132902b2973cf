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
