/* test_geo.c: georeferencing and pose conventions against published references.
 * Independent values: ANCHORS.md (koreacoord's Seoul City Hall, PROJ's topocentric example),
 * EPSG projection origins (exact by definition). */
#include <criterion/criterion.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "geo/geo.h"

static geo_crs *crs_new(int epsg)
{
	geo_crs *c = NULL;
	svt_err e = {0};
	int rc = geo_crs_create(epsg, &c, &e);
	cr_assert_eq(rc, 0, "EPSG:%d: %s", epsg, e.msg);
	return c;
}

Test(geo_crs, seoul_city_hall_5186_koreacoord)
{
	geo_crs *c = crs_new(5186);
	double x = 126.9784, y = 37.5666;
	svt_err e = {0};
	cr_assert_eq(geo_crs_forward(c, &x, &y, NULL, sizeof(double), 1, &e), 0, "%s", e.msg);
	/* koreacoord WTM 198091.70807508586, 451896.12121964525 (+100000 m FN for 5186) */
	cr_assert(fabs(x - 198091.70807508586) < 1e-3, "E %.4f", x);
	cr_assert(fabs(y - 551896.12121964525) < 1e-3, "N %.4f", y);
	cr_assert_eq(geo_crs_epsg(c), 5186);
	cr_assert(strstr(geo_crs_name(c), "Central Belt 2010") != NULL, "%s", geo_crs_name(c));
	geo_crs_destroy(c);
	geo_crs_destroy(NULL);
}

Test(geo_crs, origins_exact)
{
	struct {
		int epsg;
		double lon, lat, E, N;
	} o[] = {
		{5186, 127.0, 38.0, 200000.0, 600000.0},
		{5179, 127.5, 38.0, 1000000.0, 2000000.0},
		{32652, 129.0, 0.0, 500000.0, 0.0},
	};
	for (size_t i = 0; i < SVT_ARRAY_LEN(o); i++) {
		geo_crs *c = crs_new(o[i].epsg);
		double x = o[i].lon, y = o[i].lat;
		cr_assert_eq(geo_crs_forward(c, &x, &y, NULL, sizeof(double), 1, NULL), 0);
		cr_assert(fabs(x - o[i].E) < 1e-6 && fabs(y - o[i].N) < 1e-6,
			  "EPSG:%d origin -> %.6f %.6f", o[i].epsg, x, y);
		geo_crs_destroy(c);
	}
}

Test(geo_crs, batch_strided_roundtrip)
{
	geo_crs *c = crs_new(5186);
	enum { N = 1000 };
	double *p = malloc(sizeof(double) * 3 * N), *q = malloc(sizeof(double) * 3 * N);
	for (int i = 0; i < N; i++) {
		p[3 * i] = 126.7 + 0.6 * i / N;
		p[3 * i + 1] = 37.4 + 0.3 * ((i * 7919) % N) / N;
		p[3 * i + 2] = 30.0 + i % 17;
	}
	memcpy(q, p, sizeof(double) * 3 * N);
	svt_err e = {0};
	cr_assert_eq(geo_crs_forward(c, q, q + 1, q + 2, 3 * sizeof(double), N, &e), 0, "%s",
		     e.msg);
	/* spot check against a single-point call */
	double x = p[3 * 500], y = p[3 * 500 + 1];
	geo_crs_forward(c, &x, &y, NULL, sizeof(double), 1, NULL);
	cr_assert_eq(x, q[3 * 500]);
	cr_assert_eq(y, q[3 * 500 + 1]);
	cr_assert_eq(geo_crs_inverse(c, q, q + 1, q + 2, 3 * sizeof(double), N, &e), 0, "%s",
		     e.msg);
	for (int i = 0; i < N; i++) {
		cr_assert(fabs(q[3 * i] - p[3 * i]) < 1e-9 && fabs(q[3 * i + 1] - p[3 * i + 1]) < 1e-9,
			  "roundtrip %d", i);
		cr_assert_eq(q[3 * i + 2], p[3 * i + 2], "height changed");
	}
	free(p);
	free(q);
	geo_crs_destroy(c);
}

Test(geo_crs, bad_epsg_is_an_error)
{
	geo_crs *c = (geo_crs *)1;
	svt_err e = {0};
	cr_assert_eq(geo_crs_create(999999, &c, &e), SVT_E_PROJ);
	cr_assert_null(c);
	cr_assert(e.msg[0] != 0);
}

Test(geo_enu, proj_topocentric_example)
{
	geo_enu *en = NULL;
	svt_err e = {0};
	cr_assert_eq(geo_enu_create(55.0, 5.0, 200.0, &en, &e), 0, "%s", e.msg);
	double x = 2.12955, y = 53.80939444, z = 73.0;
	cr_assert_eq(geo_enu_forward(en, &x, &y, &z, sizeof(double), 1, &e), 0, "%s", e.msg);
	cr_assert(fabs(x - -189013.869) < 1e-3, "E %.4f", x);
	cr_assert(fabs(y - -128642.040) < 1e-3, "N %.4f", y);
	cr_assert(fabs(z - -4220.171) < 1e-3, "U %.4f", z);
	cr_assert_eq(geo_enu_inverse(en, &x, &y, &z, sizeof(double), 1, &e), 0, "%s", e.msg);
	cr_assert(fabs(x - 2.12955) < 1e-11 && fabs(y - 53.80939444) < 1e-11, "%.12f %.12f", x, y);
	cr_assert(fabs(z - 73.0) < 1e-6, "%.6f", z);
	double la, lo, h;
	geo_enu_origin(en, &la, &lo, &h);
	cr_assert(la == 55.0 && lo == 5.0 && h == 200.0);
	geo_enu_destroy(en);
	geo_enu_destroy(NULL);
}

Test(geo_enu, origin_is_zero_and_axes)
{
	geo_enu *en = NULL;
	cr_assert_eq(geo_enu_create(37.5666, 126.9784, 40.0, &en, NULL), 0);
	double x[3] = {126.9784, 126.9784, 126.9784 + 0.001};
	double y[3] = {37.5666, 37.5666 + 0.001, 37.5666};
	double z[3] = {40.0, 40.0, 40.0};
	cr_assert_eq(geo_enu_forward(en, x, y, z, sizeof(double), 3, NULL), 0);
	cr_assert(fabs(x[0]) < 1e-9 && fabs(y[0]) < 1e-9 && fabs(z[0]) < 1e-9);
	cr_assert(fabs(x[1]) < 1e-6 && y[1] > 110 && y[1] < 112, "north %f %f", x[1], y[1]);
	cr_assert(x[2] > 87 && x[2] < 89 && fabs(y[2]) < 1e-3, "east %f %f", x[2], y[2]);
	geo_enu_destroy(en);
}

/* ---- poses ---- */

static void col(const double R[9], int c, double v[3])
{
	v[0] = R[c];
	v[1] = R[3 + c];
	v[2] = R[6 + c];
}

Test(geo_pose, heading_pitch_convention)
{
	double R[9], z[3], x[3], y[3];
	geo_rot_from_hpr(0, 0, 0, R);
	col(R, 2, z);
	col(R, 0, x);
	col(R, 1, y);
	cr_assert(fabs(z[1] - 1) < 1e-15 && fabs(x[0] - 1) < 1e-15 && fabs(y[2] + 1) < 1e-15,
		  "heading 0: z north, x east, y down");
	geo_rot_from_hpr(90, 0, 0, R);
	col(R, 2, z);
	col(R, 0, x);
	cr_assert(fabs(z[0] - 1) < 1e-15, "heading 90: z east");
	cr_assert(fabs(x[1] + 1) < 1e-15, "heading 90: x south");
	geo_rot_from_hpr(0, 10, 0, R);
	col(R, 2, z);
	cr_assert(fabs(z[2] - sin(10 * M_PI / 180)) < 1e-15, "pitch +10 looks up");
	/* roll +: clockwise seen from behind, the image x axis dips (its up component goes -) */
	geo_rot_from_hpr(0, 0, 10, R);
	col(R, 0, x);
	cr_assert(x[2] < 0, "roll + turns x down: %f", x[2]);
	/* explicit product Base(h) Rx(p) Rz(r) for a generic case */
	double h = 33 * M_PI / 180, p = -7 * M_PI / 180, r = 4 * M_PI / 180;
	double B[9] = {cos(h), 0, sin(h), -sin(h), 0, cos(h), 0, -1, 0};
	double X[9] = {1, 0, 0, 0, cos(p), -sin(p), 0, sin(p), cos(p)};
	double Z[9] = {cos(r), -sin(r), 0, sin(r), cos(r), 0, 0, 0, 1};
	double T[9], E[9];
	for (int i = 0; i < 3; i++)
		for (int j = 0; j < 3; j++)
			T[3 * i + j] = B[3 * i] * X[j] + B[3 * i + 1] * X[3 + j] + B[3 * i + 2] * X[6 + j];
	for (int i = 0; i < 3; i++)
		for (int j = 0; j < 3; j++)
			E[3 * i + j] = T[3 * i] * Z[j] + T[3 * i + 1] * Z[3 + j] + T[3 * i + 2] * Z[6 + j];
	geo_rot_from_hpr(33, -7, 4, R);
	for (int i = 0; i < 9; i++)
		cr_assert(fabs(R[i] - E[i]) < 1e-15);
}

Test(geo_pose, hpr_roundtrip)
{
	for (int h = 0; h < 360; h += 23)
		for (int p = -80; p <= 80; p += 20)
			for (int r = -170; r <= 170; r += 34) {
				double R[9], hh, pp, rr;
				geo_rot_from_hpr(h, p, r, R);
				geo_rot_to_hpr(R, &hh, &pp, &rr);
				cr_assert(fabs(hh - h) < 1e-9 && fabs(pp - p) < 1e-9 &&
						  fabs(rr - r) < 1e-9,
					  "%d %d %d -> %f %f %f", h, p, r, hh, pp, rr);
			}
}

Test(geo_pose, w2c_opencv)
{
	double R[9], w2c[16], C[3] = {10, -5, 2}, C2[3], R2[9];
	geo_rot_from_hpr(90, 0, 0, R);
	geo_pose_w2c(C, R, w2c);
	/* a point 7 m east of the camera is 7 m straight ahead: x_cam = (0, 0, 7) */
	double P[3] = {17, -5, 2}, xc[3];
	for (int i = 0; i < 3; i++)
		xc[i] = w2c[4 * i] * P[0] + w2c[4 * i + 1] * P[1] + w2c[4 * i + 2] * P[2] + w2c[4 * i + 3];
	cr_assert(fabs(xc[0]) < 1e-12 && fabs(xc[1]) < 1e-12 && fabs(xc[2] - 7) < 1e-12);
	/* a point above the camera has negative image y (y points down) */
	double U[3] = {10, -5, 5};
	double yc = w2c[4] * U[0] + w2c[5] * U[1] + w2c[6] * U[2] + w2c[7];
	cr_assert(yc < 0);
	cr_assert(w2c[12] == 0 && w2c[13] == 0 && w2c[14] == 0 && w2c[15] == 1);
	geo_pose_center(w2c, C2, R2);
	for (int i = 0; i < 3; i++)
		cr_assert(fabs(C2[i] - C[i]) < 1e-12);
	cr_assert(geo_rot_angle_deg(R, R2) < 1e-9);
}

Test(geo_pose, quat_slerp_angle)
{
	double Ra[9], Rb[9], q[4], R[9];
	geo_rot_from_hpr(10, 5, -3, Ra);
	geo_quat_from_rot(Ra, q);
	geo_rot_from_quat(q, R);
	cr_assert(geo_rot_angle_deg(Ra, R) < 1e-10);
	geo_rot_from_hpr(50, 5, -3, Rb);
	cr_assert(fabs(geo_rot_angle_deg(Ra, Rb) - 40.0) < 1e-9, "%f", geo_rot_angle_deg(Ra, Rb));
	double wa[16], wb[16], wm[16], Ca[3] = {0, 0, 0}, Cb[3] = {10, 20, 2}, Cm[3], Rm[9];
	geo_pose_w2c(Ca, Ra, wa);
	geo_pose_w2c(Cb, Rb, wb);
	geo_pose_slerp(wa, wb, 0.25, wm);
	geo_pose_center(wm, Cm, Rm);
	cr_assert(fabs(Cm[0] - 2.5) < 1e-12 && fabs(Cm[1] - 5) < 1e-12 && fabs(Cm[2] - 0.5) < 1e-12);
	cr_assert(fabs(geo_rot_angle_deg(Ra, Rm) - 10.0) < 1e-9);
	cr_assert(fabs(geo_rot_angle_deg(Rm, Rb) - 30.0) < 1e-9);
	/* endpoints exact */
	geo_pose_slerp(wa, wb, 0.0, wm);
	geo_pose_center(wm, Cm, Rm);
	cr_assert(geo_rot_angle_deg(Ra, Rm) < 1e-9);
	/* tiny angles stay accurate */
	geo_rot_from_hpr(10.000001, 5, -3, Rb);
	cr_assert(fabs(geo_rot_angle_deg(Ra, Rb) - 1e-6) < 1e-12, "%.3e", geo_rot_angle_deg(Ra, Rb));
}

Test(geo_pose, kapture_roundtrip)
{
	/* kapture_berlin trajectories.txt style row: world-to-device quaternion + translation */
	double q[4] = {0.7071067811865476, 0.0, 0.7071067811865476, 0.0}, t[3] = {1, 2, 3};
	double w2c[16], q2[4], t2[3];
	geo_pose_from_kapture(q, t, w2c);
	/* R(q) is +90 deg about y: world x -> device -z */
	cr_assert(fabs(w2c[8] + 1) < 1e-15 && fabs(w2c[2] - 1) < 1e-15, "%f %f", w2c[8], w2c[2]);
	cr_assert(w2c[3] == 1 && w2c[7] == 2 && w2c[11] == 3);
	geo_pose_to_kapture(w2c, q2, t2);
	for (int i = 0; i < 4; i++)
		cr_assert(fabs(q2[i] - q[i]) < 1e-15);
	for (int i = 0; i < 3; i++)
		cr_assert(t2[i] == t[i]);
}

Test(geo_misc, distance_bearing)
{
	/* one degree of latitude at 37.5 N on WGS84: 110,986 m (meridian arc) */
	double d = geo_distance_m(37.0, 127.0, 38.0, 127.0);
	cr_assert(fabs(d - 110996.) < 30., "%f", d);
	cr_assert(fabs(geo_bearing_deg(37.5, 127, 37.5, 127.01) - 90.0) < 0.01);
	cr_assert(fabs(geo_bearing_deg(37.5, 127, 37.4, 127.0) - 180.0) < 1e-9);
	double la, lo;
	geo_destination(37.5666, 126.9784, 45.0, 1000.0, &la, &lo);
	cr_assert(fabs(geo_distance_m(37.5666, 126.9784, la, lo) - 1000.0) < 1e-6);
}

/* ---- headings and declination ---- */

Test(geo_mag, seoul_declination_and_true_heading)
{
	/* WMM2025 at Seoul City Hall, mid-2025: a sanity range (about 9 degrees west); NOAA's
	 * own test values in tests/geo/control_points.txt pin the model itself. */
	double d = geo_declination_deg(37.5666, 126.9784, 2025.5);
	cr_assert(d < -8.5 && d > -9.8, "%f", d);
	cr_assert(geo_wmm_valid(2025.5) && !geo_wmm_valid(2031.0) && !geo_wmm_valid(2024.9));
	/* a true heading stays as it is */
	cr_assert_eq(geo_heading_true(10.0, 0, 37.5, 127, 2025.5, NAN), 10.0);
	/* a magnetic one gets the declination: 5 magnetic at -9 declination is 356 true */
	double t = geo_heading_true(5.0, 1, 37.5666, 126.9784, 2025.5, NAN);
	cr_assert(fabs(t - (360.0 + 5.0 + d)) < 1e-12, "%f", t);
	/* a configured declination wins over the model */
	cr_assert(fabs(geo_heading_true(350.0, 1, 37.5, 127, 2025.5, 12.5) - 2.5) < 1e-12);
	cr_assert(isnan(geo_declination_deg(95.0, 0, 2025.0)));
}

/* ---- GPS tracks ---- */

/* A straight track north along Sejong-daero at 10 m/s, one fix a second. */
static void straight_track(double *t, double *lat, double *lon, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		t[i] = (double)i;
		geo_destination(37.5663, 126.9779, 0.0, 10.0 * i, &lat[i], &lon[i]);
	}
}

Test(geo_track, flags_a_spike_without_moving_anything)
{
	enum { N = 40 };
	double t[N], lat[N], lon[N], lat0[N], lon0[N];
	uint8_t fl[N];
	size_t nout = 99;
	straight_track(t, lat, lon, N);
	/* fix 17 jumps 400 m east (multipath) */
	geo_destination(lat[17], lon[17], 90.0, 400.0, &lat[17], &lon[17]);
	memcpy(lat0, lat, sizeof(lat));
	memcpy(lon0, lon, sizeof(lon));
	svt_err e = {0};
	cr_assert_eq(geo_track_flag_outliers(t, lat, lon, N, NULL, fl, &nout, &e), 0, "%s", e.msg);
	cr_assert_eq(nout, 1);
	for (int i = 0; i < N; i++) {
		cr_assert_eq(fl[i], i == 17 ? GEO_FIX_OUTLIER : 0, "fix %d flag %d", i, fl[i]);
		cr_assert(lat[i] == lat0[i] && lon[i] == lon0[i], "fix %d moved", i);
	}
}

Test(geo_track, bad_first_fix_and_real_jump)
{
	enum { N = 30 };
	double t[N], lat[N], lon[N];
	uint8_t fl[N];
	size_t nout;
	straight_track(t, lat, lon, N);
	/* the very first fix is cold-start garbage 2 km away */
	geo_destination(lat[0], lon[0], 200.0, 2000.0, &lat[0], &lon[0]);
	/* from fix 20 on the whole track is offset 300 m west (a time offset or re-acquisition
	 * that persists): a jump to report, not 10 outliers */
	for (int i = 20; i < N; i++)
		geo_destination(lat[i], lon[i], 270.0, 300.0, &lat[i], &lon[i]);
	cr_assert_eq(geo_track_flag_outliers(t, lat, lon, N, NULL, fl, &nout, NULL), 0);
	cr_assert_eq(nout, 1);
	cr_assert_eq(fl[0], GEO_FIX_OUTLIER);
	for (int i = 1; i < N; i++)
		cr_assert_eq(fl[i], i == 20 ? GEO_FIX_JUMP : 0, "fix %d flag %d", i, fl[i]);
	/* the same jump seen walking backwards from the anchor: the first 5 fixes are offset */
	straight_track(t, lat, lon, N);
	for (int i = 0; i < 5; i++)
		geo_destination(lat[i], lon[i], 270.0, 300.0, &lat[i], &lon[i]);
	cr_assert_eq(geo_track_flag_outliers(t, lat, lon, N, NULL, fl, &nout, NULL), 0);
	cr_assert_eq(nout, 0);
	for (int i = 0; i < N; i++)
		cr_assert_eq(fl[i], i == 5 ? GEO_FIX_JUMP : 0, "backward: fix %d flag %d", i, fl[i]);
	/* unsorted time is refused with a message */
	t[5] = 2.0;
	svt_err e = {0};
	cr_assert_eq(geo_track_flag_outliers(t, lat, lon, N, NULL, fl, &nout, &e), SVT_E_INPUT);
	cr_assert(strstr(e.msg, "back in time") != NULL, "%s", e.msg);
}

Test(geo_track, smoothing_keeps_lines_and_reduces_noise)
{
	enum { N = 60 };
	double t[N], lat[N], lon[N], sl[N], so[N], nl[N], no[N];
	uint8_t fl[N];
	straight_track(t, lat, lon, N);
	/* constant velocity passes through exactly */
	cr_assert_eq(geo_track_smooth(t, lat, lon, NULL, NULL, N, 3.0, sl, so, NULL, NULL), 0);
	for (int i = 0; i < N; i++)
		cr_assert(geo_distance_m(lat[i], lon[i], sl[i], so[i]) < 1e-3, "fix %d moved %g m", i,
			  geo_distance_m(lat[i], lon[i], sl[i], so[i]));
	/* deterministic +-3 m east/west zig-zag noise is mostly removed */
	double before = 0, after = 0;
	for (int i = 0; i < N; i++)
		geo_destination(lat[i], lon[i], 90.0, (i % 2 ? 3.0 : -3.0), &nl[i], &no[i]);
	geo_destination(nl[30], no[30], 90.0, 500.0, &nl[30], &no[30]);
	cr_assert_eq(geo_track_flag_outliers(t, nl, no, N, NULL, fl, NULL, NULL), 0);
	cr_assert_eq(fl[30], GEO_FIX_OUTLIER);
	cr_assert_eq(geo_track_smooth(t, nl, no, NULL, fl, N, 3.0, sl, so, NULL, NULL), 0);
	for (int i = 5; i < N - 5; i++) {
		if (i != 30)
			before += geo_distance_m(lat[i], lon[i], nl[i], no[i]);
		after += geo_distance_m(lat[i], lon[i], sl[i], so[i]);
	}
	cr_assert(after < 0.2 * before, "noise %f -> %f", before, after);
	/* the outlier gets its neighbours' position in the smoothed output */
	cr_assert(geo_distance_m(lat[30], lon[30], sl[30], so[30]) < 1.0);
}

Test(geo_enu, origin_projected)
{
	geo_enu *en = NULL;
	geo_crs *c = crs_new(5186);
	double E, N;
	svt_err e = {0};
	cr_assert_eq(geo_enu_create(37.5666, 126.9784, 30.0, &en, NULL), 0);
	cr_assert_eq(geo_enu_origin_projected(en, c, &E, &N, &e), 0, "%s", e.msg);
	cr_assert(fabs(E - 198091.70807508586) < 1e-3 && fabs(N - 551896.12121964525) < 1e-3);
	geo_enu_destroy(en);
	geo_crs_destroy(c);
}

/* One geo_crs per thread: two threads transforming at once get the single-thread answer. */
static void *worker(void *arg)
{
	double *out = arg;
	geo_crs *c = NULL;
	if (geo_crs_create(5179, &c, NULL))
		return NULL;
	for (int k = 0; k < 200; k++) {
		double x[64], y[64];
		for (int i = 0; i < 64; i++) {
			x[i] = 126.9 + 0.001 * i;
			y[i] = 37.5 + 0.001 * i;
		}
		geo_crs_forward(c, x, y, NULL, sizeof(double), 64, NULL);
		out[0] = x[63];
		out[1] = y[63];
	}
	geo_crs_destroy(c);
	return NULL;
}

Test(geo_crs, one_context_per_thread)
{
	pthread_t th[2];
	double res[2][2] = {{0, 0}, {0, 0}};
	for (int i = 0; i < 2; i++)
		cr_assert_eq(pthread_create(&th[i], NULL, worker, res[i]), 0);
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	double ref[2] = {0, 0};
	worker(ref);
	for (int i = 0; i < 2; i++)
		cr_assert(res[i][0] == ref[0] && res[i][1] == ref[1] && ref[0] > 900000,
			  "thread %d: %f %f vs %f %f", i, res[i][0], res[i][1], ref[0], ref[1]);
}

Test(geo_track, headings_from_the_track)
{
	enum { N = 12 };
	double t[N], lat[N], lon[N], hd[N];
	uint8_t fl[N] = {0};
	straight_track(t, lat, lon, N);
	/* turn east after fix 6; fixes 9 and 10 stand still at the same place as 8 */
	for (int i = 7; i < N; i++)
		geo_destination(lat[6], lon[6], 90.0, 10.0 * (i - 6 > 2 ? 2 : i - 6), &lat[i], &lon[i]);
	geo_destination(lat[3], lon[3], 90.0, 300.0, &lat[3], &lon[3]); /* spike */
	fl[3] = GEO_FIX_OUTLIER;
	cr_assert_eq(geo_track_headings(lat, lon, fl, N, 2.0, hd, NULL), 0);
	cr_assert(fabs(hd[0]) < 1e-6 || fabs(hd[0] - 360) < 1e-6, "%f", hd[0]);
	cr_assert(fabs(hd[2]) < 1e-6 || fabs(hd[2] - 360) < 1e-6, "spike skipped: %f", hd[2]);
	cr_assert(fabs(hd[6] - 45.0) < 0.01, "corner: %f", hd[6]);
	cr_assert(fabs(hd[7] - 90.0) < 0.01, "%f", hd[7]);
	cr_assert(fabs(hd[10] - 90.0) < 0.01, "a stop keeps the approach heading: %f", hd[10]);
	/* a single fix has no heading */
	cr_assert_eq(geo_track_headings(lat, lon, NULL, 1, 2.0, hd, NULL), 0);
	cr_assert(isnan(hd[0]));
}

Test(geo_pose, from_gps_chain)
{
	geo_enu *en = NULL;
	double w2c[16], C[3], R[9], Rx[9];
	cr_assert_eq(geo_enu_create(37.5666, 126.9784, 30.0, &en, NULL), 0);
	/* 20 m north of the origin, 2 m up, looking east, pitched up 5 */
	double lat, lon;
	geo_destination(37.5666, 126.9784, 0.0, 20.0, &lat, &lon);
	cr_assert_eq(geo_pose_from_gps(en, lat, lon, 32.0, 90.0, 5.0, 0.0, w2c, NULL), 0);
	geo_pose_center(w2c, C, R);
	/* not exactly (0, 20, 2): the point's own normal leans 20/R away from the origin's (32 m
	 * up it moves 0.1 mm north) and the ellipsoid drops 20^2/2R = 0.03 mm below the plane */
	cr_assert(fabs(C[0]) < 1e-6 && fabs(C[1] - 20.0) < 2e-4 && fabs(C[2] - 2.0) < 1e-4,
		  "%f %f %f", C[0], C[1], C[2]);
	geo_rot_from_hpr(90.0, 5.0, 0.0, Rx);
	cr_assert(geo_rot_angle_deg(R, Rx) < 1e-9);
	svt_err e = {0};
	cr_assert_eq(geo_pose_from_gps(en, lat, lon, 32.0, NAN, 0, 0, w2c, &e), SVT_E_INPUT);
	geo_enu_destroy(en);
}
