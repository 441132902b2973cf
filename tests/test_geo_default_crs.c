/* test_geo_default_crs.c: the default CRS follows the capture, an explicit CRS covers or
 * refuses frames, geographic CRSs are refused for --crs. Ground truth: EPSG's areas of use
 * (5186: South Korea onshore, 126-128 E), the UTM zone rule, the SOURCE.md coordinates of opensfm_lund
 * and the geodesic distances of Karney's algorithm. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "geo/geo.h"

Test(default_crs, lund_is_utm33n)
{
	int epsg = 0;
	svt_err e = {0};
	cr_assert_eq(geo_crs_default_for(55.6981667, 13.1953889, &epsg, &e), 0, "%s", e.msg);
	cr_assert_eq(epsg, 32633);
}

Test(default_crs, seoul_is_5186)
{
	int epsg = 0;
	svt_err e = {0};
	cr_assert_eq(geo_crs_default_for(37.5663, 126.9779, &epsg, &e), 0, "%s", e.msg);
	cr_assert_eq(epsg, 5186);
}

/* adobe_coords.jpg's fix, in Kenya just south of the equator: zone 36 south. */
Test(default_crs, kenya_outside_5186)
{
	int epsg = 0;
	svt_err e = {0};
	geo_crs *c = NULL;
	cr_assert_eq(geo_crs_create(5186, &c, &e), 0, "%s", e.msg);
	cr_assert_not(geo_crs_covers(c, -0.0702668, 34.3819352));
	cr_assert(geo_crs_covers(c, 37.5663, 126.9779));
	cr_assert_not(geo_crs_covers(c, 55.6981667, 13.1953889));
	geo_crs_destroy(c);
	cr_assert_eq(geo_crs_default_for(-0.0702668, 34.3819352, &epsg, &e), 0, "%s", e.msg);
	cr_assert_eq(epsg, 32736);
}

Test(default_crs, utm_zone_rule_and_exceptions)
{
	int epsg = 0;
	cr_assert_eq(geo_utm_epsg_for(40.7, -74.0, &epsg, NULL), 0); /* New York: 18N */
	cr_assert_eq(epsg, 32618);
	cr_assert_eq(geo_utm_epsg_for(-33.9, 151.2, &epsg, NULL), 0); /* Sydney: 56S */
	cr_assert_eq(epsg, 32756);
	cr_assert_eq(geo_utm_epsg_for(60.39, 5.32, &epsg, NULL), 0); /* Bergen: 32V, not 31 */
	cr_assert_eq(epsg, 32632);
	cr_assert_eq(geo_utm_epsg_for(78.22, 15.65, &epsg, NULL), 0); /* Longyearbyen: 33X */
	cr_assert_eq(epsg, 32633);
	cr_assert_eq(geo_utm_epsg_for(0.0, 179.999, &epsg, NULL), 0);
	cr_assert_eq(epsg, 32660);
	cr_assert_eq(geo_utm_epsg_for(0.0, -180.0, &epsg, NULL), 0);
	cr_assert_eq(epsg, 32601);
	svt_err e = {0};
	cr_assert_eq(geo_utm_epsg_for(-85.0, 0, &epsg, &e), SVT_E_UNSUPPORTED);
	cr_assert(strstr(e.msg, "UTM"), "%s", e.msg);
}

/* The area PROJ gives for the chosen UTM zone holds the point (the two rules agree). */
Test(default_crs, utm_zone_covers_its_point)
{
	double pts[][2] = {{55.6981667, 13.1953889}, {-0.0702668, 34.3819352}, {40.4, -3.71}};
	for (size_t i = 0; i < 3; i++) {
		int epsg;
		geo_crs *c = NULL;
		cr_assert_eq(geo_crs_default_for(pts[i][0], pts[i][1], &epsg, NULL), 0);
		cr_assert_eq(geo_crs_create(epsg, &c, NULL), 0);
		cr_assert(geo_crs_covers(c, pts[i][0], pts[i][1]), "EPSG:%d", epsg);
		geo_crs_destroy(c);
	}
	double w, s, e, n;
	char name[256];
	cr_assert_eq(geo_crs_area_of_use(5186, &w, &s, &e, &n, name, sizeof(name), NULL), 0);
	cr_assert(w > 120 && e < 135 && s > 30 && n < 40, "%g %g %g %g %s", w, s, e, n, name);
	cr_assert(strstr(name, "Korea"), "%s", name);
}

/* Lund frames 01 and 10 (SOURCE.md): the UTM 33N grid distance is the geodesic one within
 * 0.1 % (the scale factor there is 0.99976); EPSG:5186, Korea's, is far off. */
Test(default_crs, lund_lengths_right_in_utm)
{
	double lat1 = 55.6981667, lon1 = 13.1953889, lat2 = 55.6985750, lon2 = 13.1950500;
	double d_geo = geo_distance_m(lat1, lon1, lat2, lon2);
	int epsg;
	cr_assert_eq(geo_crs_default_for(lat1, lon1, &epsg, NULL), 0);
	int codes[2] = {epsg, 5186};
	double ratio[2];
	for (int k = 0; k < 2; k++) {
		geo_crs *c = NULL;
		cr_assert_eq(geo_crs_create(codes[k], &c, NULL), 0);
		double x[2] = {lon1, lon2}, y[2] = {lat1, lat2};
		cr_assert_eq(geo_crs_forward(c, x, y, NULL, sizeof(double), 2, NULL), 0);
		ratio[k] = hypot(x[1] - x[0], y[1] - y[0]) / d_geo;
		geo_crs_destroy(c);
	}
	cr_assert(d_geo > 40 && d_geo < 60, "%f m", d_geo);
	cr_assert(fabs(ratio[0] - 1) < 1e-3, "UTM ratio %.6f", ratio[0]);
	cr_assert(fabs(ratio[1] - 1) > 0.05, "5186 ratio %.6f", ratio[1]);
}

Test(default_crs, geographic_crs_refused_for_crs_option)
{
	svt_err e = {0};
	cr_assert_eq(geo_crs_check_projected(4326, &e), SVT_E_INPUT);
	cr_assert(strstr(e.msg, "geographic") && strstr(e.msg, "EPSG:4326"), "%s", e.msg);
	cr_assert_eq(geo_crs_check_projected(4737, &e), SVT_E_INPUT); /* Korea 2000 lat/lon */
	cr_assert_eq(geo_crs_check_projected(4978, &e), SVT_E_INPUT); /* WGS 84 geocentric */
	cr_assert(strstr(e.msg, "not a projected"), "%s", e.msg);
	cr_assert_eq(geo_crs_check_projected(999999, &e), SVT_E_PROJ);
	cr_assert_eq(geo_crs_check_projected(5186, &e), 0, "%s", e.msg);
	cr_assert_eq(geo_crs_check_projected(32633, &e), 0, "%s", e.msg);
}
