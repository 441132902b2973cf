/* test_ingest_kapture.c: kapture 1.1 import against NAVER's berlin sample and hostile cases. */
#include <math.h>

#include "tests/test_ingest_util.h"

Test(kapture, berlin_sample)
{
	const char *dir = real_path("kapture_berlin");
	cr_assert(ingest_kapture_detect(dir));
	ingest_kapture *k = NULL;
	svt_err e = {0};
	cr_assert_eq(ingest_kapture_read(dir, &k, &e), 0, "%s", e.msg);
	cr_assert_eq(k->n_cams, 1);
	const ingest_kapture_camera *c = &k->cams[0];
	cr_assert_str_eq(c->model, "RADIAL");
	cr_assert_eq(c->width, 3264);
	cr_assert_eq(c->height, 2448);
	cr_assert_float_eq(c->fx, 3147.3191028463957, 1e-9);
	cr_assert_float_eq(c->cx, 1632, 1e-12);
	cr_assert_float_eq(c->cy, 1224, 1e-12);
	cr_assert_float_eq(c->params[3], 0.022672104712876825, 1e-15);
	cr_assert_float_eq(c->params[4], -0.0009966053789495556, 1e-15);
	cr_assert_eq(k->n_recs, 3);
	cr_assert_eq(k->n_hostile, 0);
	const ingest_kapture_record *r = &k->recs[0];
	cr_assert_eq(r->camera, 0);
	cr_assert(r->has_pose);
	cr_assert_float_eq(r->q[0], 0.7567825047018621, 1e-6);
	cr_assert_float_eq(r->t[2], 7.616922291503473, 1e-12);
	cr_assert(r->has_gnss);
	cr_assert_eq(r->gnss_epsg, 4326);
	cr_assert_float_eq(r->gnss_x, 13.400294444444445, 1e-15, "x is longitude");
	cr_assert_float_eq(r->gnss_y, 52.51891666666666, 1e-14, "y is latitude");
	cr_assert_float_eq(r->gnss_dop, 5.0, 1e-12);
	/* Cross-check: the GNSS records equal the EXIF GPS of the same JPEGs. */
	for (size_t i = 0; i < k->n_recs; i++) {
		ingest_meta m;
		cr_assert_not_null(k->recs[i].path);
		cr_assert_eq(ingest_meta_read_file(k->recs[i].path, NULL, &m, &e), 0, "%s", e.msg);
		cr_assert(fabs(m.lat - k->recs[i].gnss_y) < 1e-9, "rec %zu lat %.10f vs %.10f", i,
			  m.lat, k->recs[i].gnss_y);
		cr_assert(fabs(m.lon - k->recs[i].gnss_x) < 1e-9);
		cr_assert(fabs(m.alt - k->recs[i].gnss_z) < 1e-9);
	}
	ingest_kapture_destroy(k);

	/* The scan imports it: three frames positioned from records_gnss.txt. */
	ingest_capture *cap = NULL;
	cr_assert_eq(ingest_capture_scan(dir, NULL, &cap, &e), 0, "%s", e.msg);
	cr_assert_eq(cap->n, 3);
	cr_assert_eq(cap->n_kept, 3);
	cr_assert_eq(cap->frames[1].meta.src_gps, INGEST_SRC_KAPTURE);
	cr_assert_float_eq(cap->frames[1].meta.lat, 52.518924999999996, 1e-12);
	ingest_capture_destroy(cap);
}

static void write_file(const char *dir, const char *name, const char *text)
{
	char p[1200];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	spit(p, text, strlen(text));
}

Test(kapture, hostile_paths_rigs_and_models)
{
	char *d = temp_dir();
	char sub[1200];
	snprintf(sub, sizeof(sub), "%s/records_data", d);
	cr_assert_eq(mkdir(sub, 0700), 0);
	write_file(d, "sensors.txt",
		   "# kapture format: 1.1\n"
		   "cam0, front, camera, PINHOLE, 640, 480, 500, 501, 320, 240\n"
		   "cam1, back, camera, OPENCV, 640, 480, 500, 500, 320, 240, 0.1, 0.01, 0.001, 0.002\n"
		   "cam2, side, camera, SIMPLE_RADIAL, 640, 480, 450, 320, 240, 0.05\n"
		   "gps, , gnss, EPSG:4326\n");
	write_file(d, "rigs.txt", "# kapture format: 1.1\nrig, cam0, 1, 0, 0, 0, 0, 0, 1\n");
	/* rig rotated 90 deg about z, at (1, 2, 3) in rig_from_world terms */
	write_file(d, "trajectories.txt",
		   "# kapture format: 1.1\n"
		   "10, rig, 0.7071067811865476, 0, 0, 0.7071067811865476, 1, 2, 3\n");
	write_file(d, "records_camera.txt",
		   "# kapture format: 1.1\n"
		   "10, cam0, a.jpg\n"
		   "11, cam1, ../../etc/passwd\n"
		   "12, cam2, /etc/passwd\n");
	ingest_kapture *k = NULL;
	svt_err e = {0};
	cr_assert_eq(ingest_kapture_read(d, &k, &e), 0, "%s", e.msg);
	cr_assert_eq(k->n_cams, 3);
	cr_assert_float_eq(k->cams[0].fy, 501, 1e-12);
	cr_assert_float_eq(k->cams[1].params[7], 0.002, 1e-15);
	cr_assert_float_eq(k->cams[2].fx, 450, 1e-12);
	cr_assert_eq(k->n_hostile, 2);
	cr_assert_null(k->recs[1].path);
	cr_assert_null(k->recs[2].path);
	cr_assert_not_null(k->recs[0].path);
	/* cam0 pose through the rig: R = Rz(90), t = rot(0,0,0..)+...: sensor_from_rig (identity
	 * rotation, t (0,0,1)) composed with rig_from_world (Rz90, (1,2,3)) = (Rz90, (1,2,4)). */
	cr_assert(k->recs[0].has_pose);
	cr_assert_float_eq(k->recs[0].q[0], 0.7071067811865476, 1e-12);
	cr_assert_float_eq(k->recs[0].q[3], 0.7071067811865476, 1e-12);
	cr_assert_float_eq(k->recs[0].t[2], 4.0, 1e-12);
	cr_assert_float_eq(k->recs[0].t[0], 1.0, 1e-12);
	ingest_kapture_destroy(k);

	/* The scan names the hostile ones. */
	ingest_capture *cap = NULL;
	cr_assert_eq(ingest_capture_scan(d, NULL, &cap, &e), 0, "%s", e.msg);
	cr_assert_eq(cap->n_rejected[INGEST_REJ_HOSTILE_PATH], 2);
	ingest_capture_destroy(cap);

	/* An unknown model, a bad quaternion, a wrong field count, a future version. */
	write_file(d, "sensors.txt", "cam0, x, camera, WEIRD, 640, 480, 1\n");
	cr_assert_eq(ingest_kapture_read(d, &k, &e), SVT_E_UNSUPPORTED);
	cr_assert(strstr(e.msg, "WEIRD"), "%s", e.msg);
	write_file(d, "sensors.txt", "cam0, x, camera, PINHOLE, 640, 480, 500, 500, 320\n");
	cr_assert_eq(ingest_kapture_read(d, &k, &e), SVT_E_FORMAT);
	cr_assert(strstr(e.msg, "sensors.txt:1"), "%s", e.msg);
	write_file(d, "sensors.txt", "cam0, x, camera, PINHOLE, 640, 480, 500, 500, 320, 240\n");
	write_file(d, "trajectories.txt", "10, rig, 2, 0, 0, 0, 1, 2, 3\n");
	cr_assert_eq(ingest_kapture_read(d, &k, &e), SVT_E_FORMAT);
	cr_assert(strstr(e.msg, "unit length"), "%s", e.msg);
	write_file(d, "trajectories.txt", "# kapture format: 2.0\n");
	cr_assert_eq(ingest_kapture_read(d, &k, &e), SVT_E_UNSUPPORTED);
	/* A GNSS sensor's parameter is an EPSG code, whole ("EPSG:4326x" was read as 4326). */
	write_file(d, "trajectories.txt", "# kapture format: 1.1\n");
	const char *codes[] = {"EPSG:4326x", "EPSG:", "EPSG:-5", "4326", "EPSG:99999999"};
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		char line[200];
		snprintf(line, sizeof(line),
			 "cam0, x, camera, PINHOLE, 640, 480, 500, 500, 320, 240\ngps, , gnss, %s\n",
			 codes[i]);
		write_file(d, "sensors.txt", line);
		cr_expect_eq(ingest_kapture_read(d, &k, &e), SVT_E_FORMAT, "%s accepted", codes[i]);
		cr_expect(strstr(e.msg, "not an EPSG code"), "%s: %s", codes[i], e.msg);
	}
	write_file(d, "sensors.txt", "cam0, x, camera, PINHOLE, 640, 480, 500, 500, 320, 240\n"
				     "gps, , gnss, epsg:4979\n");
	cr_expect_eq(ingest_kapture_read(d, &k, &e), 0, "%s", e.msg);
	ingest_kapture_destroy(k);
	rm_tree(d);
}
