/* geo_geodesic.c: distances and bearings on the WGS84 ellipsoid with Karney's geodesic
 * algorithms as shipped inside PROJ (geodesic.h): accurate to nanometres, no sphere
 * approximation. Thread-safe: the ellipsoid struct is built on the stack each call. */
#include "geo/geo.h"

#include <geodesic.h>
#include <math.h>

static void wgs84(struct geod_geodesic *g)
{
	geod_init(g, 6378137.0, 1.0 / 298.257223563);
}

double geo_distance_m(double lat1, double lon1, double lat2, double lon2)
{
	struct geod_geodesic g;
	double s12 = NAN, a1, a2;
	wgs84(&g);
	geod_inverse(&g, lat1, lon1, lat2, lon2, &s12, &a1, &a2);
	return s12;
}

double geo_bearing_deg(double lat1, double lon1, double lat2, double lon2)
{
	struct geod_geodesic g;
	double s12, a1 = NAN, a2;
	wgs84(&g);
	geod_inverse(&g, lat1, lon1, lat2, lon2, &s12, &a1, &a2);
	if (a1 < 0)
		a1 += 360.0;
	return a1 >= 360.0 ? 0.0 : a1;
}

void geo_destination(double lat1, double lon1, double bearing_deg, double dist_m, double *lat2,
		     double *lon2)
{
	struct geod_geodesic g;
	double la = NAN, lo = NAN, a2;
	wgs84(&g);
	geod_direct(&g, lat1, lon1, bearing_deg, dist_m, &la, &lo, &a2);
	if (lat2)
		*lat2 = la;
	if (lon2)
		*lon2 = lo;
}
