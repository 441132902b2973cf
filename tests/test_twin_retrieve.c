/* test_twin_retrieve.c: street-view retrieval from the twin (twin_retrieve.c): the k nearest
 * views to a pose, the 8 yaws and the exact one, the exclusions (capture run, sequence, time
 * gap, a caller's rule) and the trajectory query. Two synthetic captures of the same street
 * ("run0" southbound at 10:00, "run1" the same street nine days later). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "geo/geo.h"
#include "twin/twin.h"

#define LAT_A 37.5759
#define LON_A 126.9769
#define LAT_B 37.5740
#define LON_B 126.9770

static char g_dir[256];

static twin_frame *walk(size_t n, double off, int64_t t0, double heading_off)
{
	twin_frame *f = calloc(n, sizeof(*f));
	cr_assert(f);
	double hd = geo_bearing_deg(LAT_A, LON_A, LAT_B, LON_B);
	for (size_t i = 0; i < n; i++) {
		double u = ((double)i + off) / (double)n;
		f[i].time_us = t0 + (int64_t)i * 1000000;
		f[i].llh[0] = LAT_A + (LAT_B - LAT_A) * u;
		f[i].llh[1] = LON_A + (LON_B - LON_A) * u;
		f[i].llh[2] = 40.0;
		f[i].heading = fmod(hd + heading_off + 360.0, 360.0);
		f[i].src = (int)i;
	}
	return f;
}

static twin_store *two_runs(void)
{
	snprintf(g_dir, sizeof(g_dir), "/tmp/svt_twin_retrXXXXXX");
	cr_assert(mkdtemp(g_dir));
	twin_store *s = NULL;
	svt_err e = {0};
	cr_assert_eq(twin_store_open(g_dir, NULL, &s, &e), 0, "%s", e.msg);
	const int64_t t0 = 1760403600000000LL, day = 86400000000LL;
	twin_frame *a = walk(20, 0.0, t0, 0.0), *b = walk(20, 0.4, t0 + 9 * day, 10.0);
	twin_capture_in in = {.name = "run0", .frames = a, .n = 20};
	cr_assert_eq(twin_store_add_capture(s, &in, NULL, &e), 0, "%s", e.msg);
	twin_capture_in in2 = {.name = "run1", .frames = b, .n = 20};
	cr_assert_eq(twin_store_add_capture(s, &in2, NULL, &e), 0, "%s", e.msg);
	free(a);
	free(b);
	return s;
}

static void done(twin_store *s)
{
	twin_store_close(s);
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_dir);
	cr_assert_eq(system(cmd), 0);
}

Test(twin_retrieve, nearest_views_of_another_run)
{
	twin_store *s = two_runs();
	twin_view_query q;
	twin_view_query_default(&q);
	/* At run 0's frame 10, looking along the street. */
	double hd = geo_bearing_deg(LAT_A, LON_A, LAT_B, LON_B);
	q.lat = LAT_A + (LAT_B - LAT_A) * 0.5;
	q.lon = LON_A + (LON_B - LON_A) * 0.5;
	q.heading = hd;
	twin_view_hit h[5];
	size_t n;
	svt_err e = {0};
	cr_assert_eq(twin_store_views_near(s, &q, 5, h, &n, &e), 0, "%s", e.msg);
	cr_assert_eq(n, 5);
	cr_assert_str_eq(h[0].capture, "run0", "without exclusions the same run is nearest");
	cr_assert_lt(h[0].dist_m, 0.01);
	q.exclude_capture = "run0";
	cr_assert_eq(twin_store_views_near(s, &q, 5, h, &n, &e), 0, "%s", e.msg);
	cr_assert_eq(n, 5);
	for (size_t i = 0; i < n; i++) {
		cr_assert_str_eq(h[i].capture, "run1");
		if (i)
			cr_assert_geq(h[i].score, h[i - 1].score, "best first");
		/* run 1's panoramas point 10 degrees off: yaw 0 is nearest of the 8 */
		cr_assert_float_eq(h[i].yaw_deg, 0.0, 1e-9);
		cr_assert_float_eq(h[i].heading, fmod(hd + 10.0, 360.0), 1e-6);
	}
	/* The spacing is ~11 m and run 1 sits 0.4 of it along: the nearest is ~4.4 m away. */
	cr_assert(h[0].dist_m > 3.0 && h[0].dist_m < 6.0, "%.2f m", h[0].dist_m);
	/* Looking east: the 90-degree view of each panorama (run 1 points hd + 10). */
	q.heading = fmod(hd + 100.0, 360.0);
	cr_assert_eq(twin_store_views_near(s, &q, 1, h, &n, &e), 0, "%s", e.msg);
	cr_assert_float_eq(h[0].yaw_deg, 90.0, 1e-9);
	q.any_yaw = 1;
	q.heading = fmod(hd + 33.0, 360.0);
	cr_assert_eq(twin_store_views_near(s, &q, 1, h, &n, &e), 0, "%s", e.msg);
	cr_assert_float_eq(h[0].yaw_deg, 23.0, 1e-6, "any yaw: exactly where the query looks");
	done(s);
}

Test(twin_retrieve, time_gap_and_sequence)
{
	twin_store *s = two_runs();
	twin_view_query q;
	twin_view_query_default(&q);
	q.lat = LAT_A + (LAT_B - LAT_A) * 0.5;
	q.lon = LON_A + (LON_B - LON_A) * 0.5;
	q.time_us = 1760403600000000LL + 10 * 1000000LL;
	q.min_gap_s = 86400.0; /* a day */
	twin_view_hit h[8];
	size_t n;
	svt_err e = {0};
	cr_assert_eq(twin_store_views_near(s, &q, 8, h, &n, &e), 0, "%s", e.msg);
	cr_assert_gt(n, 0);
	for (size_t i = 0; i < n; i++) {
		cr_assert_str_eq(h[i].capture, "run1");
		cr_assert_geq(fabs((double)(h[i].time_us - q.time_us)), 86400e6);
	}
	/* Excluding run 1's sequence instead leaves run 0 only. */
	twin_view_query q2;
	twin_view_query_default(&q2);
	q2.lat = q.lat, q2.lon = q.lon;
	q2.exclude_seq = h[0].seq;
	cr_assert_eq(twin_store_views_near(s, &q2, 8, h, &n, &e), 0, "%s", e.msg);
	for (size_t i = 0; i < n; i++)
		cr_assert_str_eq(h[i].capture, "run0");
	done(s);
}

static int odd_frames_only(void *user, size_t frame, const twin_frame_record *r)
{
	(void)user;
	(void)r;
	return frame % 2 == 1;
}

Test(twin_retrieve, along_a_trajectory)
{
	twin_store *s = two_runs();
	twin_view_query q;
	twin_view_query_default(&q);
	q.exclude_capture = "run0";
	q.radius_m = 15;
	double lat[10], lon[10], hd[10];
	for (int p = 0; p < 10; p++) {
		double u = (5.0 + p) / 20.0;
		lat[p] = LAT_A + (LAT_B - LAT_A) * u;
		lon[p] = LON_A + (LON_B - LON_A) * u;
		hd[p] = geo_bearing_deg(LAT_A, LON_A, LAT_B, LON_B);
	}
	twin_view_hit h[5];
	size_t n;
	svt_err e = {0};
	cr_assert_eq(twin_store_views_along(s, &q, lat, lon, hd, 10, 5, h, &n, &e), 0, "%s", e.msg);
	cr_assert_eq(n, 5);
	for (size_t i = 0; i < n; i++) {
		cr_assert_str_eq(h[i].capture, "run1");
		for (size_t j = 0; j < i; j++)
			cr_assert_neq(h[i].frame, h[j].frame, "no panorama twice");
		if (i)
			cr_assert_gt(h[i].pose, h[i - 1].pose, "in pose order, spread");
	}
	cr_assert_eq(h[0].pose, 0);
	cr_assert_eq(h[4].pose, 9);
	q.accept = odd_frames_only;
	cr_assert_eq(twin_store_views_along(s, &q, lat, lon, hd, 10, 5, h, &n, &e), 0, "%s", e.msg);
	for (size_t i = 0; i < n; i++)
		cr_assert_eq(h[i].frame % 2, 1, "the caller's rule holds");
	q.radius_m = -1;
	cr_assert_eq(twin_store_views_along(s, &q, lat, lon, hd, 10, 5, h, &n, &e), SVT_E_INPUT);
	done(s);
}
