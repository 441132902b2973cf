/* geo_enu.c: local east-north-up (topocentric) frames through a PROJ pipeline.
 *
 * The pipeline (degrees -> radians, geodetic -> ECEF on WGS84, ECEF -> topocentric) is PROJ's
 * own documented recipe, so a frame agrees with `cct` to the last digit. Each frame owns its
 * PJ_CONTEXT: one frame per thread. */
#include "geo/geo.h"

#include <math.h>
#include <proj.h>
#include <stdio.h>
#include <stdlib.h>

struct geo_enu {
	PJ_CONTEXT *ctx;
	PJ *op;
	double lat0, lon0, h0;
};

int geo_enu_create(double lat0, double lon0, double h0, geo_enu **out, svt_err *err)
{
	int rc = SVT_OK;
	geo_enu *e = NULL;
	char def[512];

	if (!out)
		return svt_err_set(err, SVT_E_INPUT, "geo_enu_create: out is NULL");
	*out = NULL;
	if (!isfinite(lat0) || !isfinite(lon0) || !isfinite(h0) || fabs(lat0) > 90.0 ||
	    fabs(lon0) > 360.0)
		return svt_err_set(err, SVT_E_INPUT, "ENU origin out of range: lat %g lon %g h %g",
				   lat0, lon0, h0);
	e = calloc(1, sizeof(*e));
	if (!e)
		return svt_err_set(err, SVT_E_NOMEM, "geo_enu: out of memory");
	e->lat0 = lat0;
	e->lon0 = lon0;
	e->h0 = h0;
	e->ctx = proj_context_create();
	if (!e->ctx) {
		rc = svt_err_set(err, SVT_E_PROJ, "proj_context_create failed");
		goto done;
	}
	proj_log_level(e->ctx, PJ_LOG_NONE);
	/* %.17g keeps the origin bit-exact through the text definition. */
	snprintf(def, sizeof(def),
		 "+proj=pipeline +step +proj=unitconvert +xy_in=deg +xy_out=rad"
		 " +step +proj=cart +ellps=WGS84"
		 " +step +proj=topocentric +ellps=WGS84 +lat_0=%.17g +lon_0=%.17g +h_0=%.17g",
		 lat0, lon0, h0);
	e->op = proj_create(e->ctx, def);
	if (!e->op) {
		int c = proj_context_errno(e->ctx);
		rc = svt_err_set(err, SVT_E_PROJ, "ENU pipeline refused: %s",
				 proj_context_errno_string(e->ctx, c));
		goto done;
	}
	*out = e;
	e = NULL;
done:
	geo_enu_destroy(e);
	return rc;
}

void geo_enu_destroy(geo_enu *e)
{
	if (!e)
		return;
	if (e->op)
		proj_destroy(e->op);
	if (e->ctx)
		proj_context_destroy(e->ctx);
	free(e);
}

void geo_enu_origin(const geo_enu *e, double *lat0, double *lon0, double *h0)
{
	if (!e)
		return;
	if (lat0)
		*lat0 = e->lat0;
	if (lon0)
		*lon0 = e->lon0;
	if (h0)
		*h0 = e->h0;
}

int geo_enu_origin_projected(const geo_enu *e, geo_crs *crs, double *easting,
			     double *northing, svt_err *err)
{
	if (!e || !crs || !easting || !northing)
		return svt_err_set(err, SVT_E_INPUT, "geo_enu_origin_projected: NULL argument");
	double x = e->lon0, y = e->lat0, z = e->h0;
	int rc = geo_crs_forward(crs, &x, &y, &z, sizeof(double), 1, err);
	if (rc)
		return rc;
	*easting = x;
	*northing = y;
	return SVT_OK;
}

/* The heights are needed by cart/topocentric: a missing z array means h = 0 (geodetic) or
 * u = 0 (ENU), as documented in geo.h. */
static int enu_trans(geo_enu *e, PJ_DIRECTION dir, double *x, double *y, double *z,
		     size_t stride, size_t n, svt_err *err)
{
	if (!e || !x || !y)
		return svt_err_set(err, SVT_E_INPUT, "geo_enu transform: NULL argument");
	if (n == 0)
		return SVT_OK;
	if (stride < sizeof(double))
		return svt_err_set(err, SVT_E_INPUT, "geo_enu transform: stride %zu < 8", stride);
	proj_errno_reset(e->op);
	/* With z absent (nz = 0) PROJ broadcasts a height of 0 to every point. */
	proj_trans_generic(e->op, dir, x, stride, n, y, stride, n, z, z ? stride : 0, z ? n : 0,
			   NULL, 0, 0);
	size_t bad = 0;
	for (size_t i = 0; i < n; i++) {
		double xi = *(const double *)((const char *)x + i * stride);
		double yi = *(const double *)((const char *)y + i * stride);
		if (!isfinite(xi) || !isfinite(yi))
			bad++;
	}
	if (bad)
		return svt_err_set(err, SVT_E_PROJ, "ENU %s: %zu of %zu points failed",
				   dir == PJ_FWD ? "forward" : "inverse", bad, n);
	return SVT_OK;
}

int geo_enu_forward(geo_enu *e, double *x, double *y, double *z, size_t stride, size_t n,
		    svt_err *err)
{
	return enu_trans(e, PJ_FWD, x, y, z, stride, n, err);
}

int geo_enu_inverse(geo_enu *e, double *x, double *y, double *z, size_t stride, size_t n,
		    svt_err *err)
{
	return enu_trans(e, PJ_INV, x, y, z, stride, n, err);
}
