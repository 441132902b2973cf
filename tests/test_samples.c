/* test_samples.c: the synthetic capture generator (samples/) against the project's own readers
 * and conventions: byte-identical output for a seed, EXIF/XMP that ingest reads back as the
 * ground truth says, ground-truth poses that agree with geo/ (PROJ) and docs/conventions.md,
 * depth maps that agree with the scene geometry, and a GPX track that matches the frames.
 *
 * The generator binary comes from SVT_BUILD (set by `make test`); the tests skip without it.
 * A small capture is generated into /tmp for these checks; when SVT_SAMPLES is set, the
 * metadata checks also run over the bundled capture.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "geo/geo.h"
#include "gpu/gpu.h"
#include "ingest/ingest.h"

#define SMALL_W 256
#define SMALL_FRAMES 10

static char gen_bin[1024];
static char small_dir[512];

static int have_generator(void)
{
	const char *b = getenv("SVT_BUILD");
	snprintf(gen_bin, sizeof(gen_bin), "%s/svtwin-samples", (b && *b) ? b : "build");
	return access(gen_bin, X_OK) == 0;
}

#define NEED_GENERATOR()                                                                       \
	do {                                                                                   \
		if (!have_generator())                                                         \
			cr_skip_test("%s is not built (run through `make test`)", gen_bin);      \
	} while (0)

static int run_gen(const char *out, const char *args)
{
	char cmd[4096];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s' && '%s' -q --out '%s' %s", out, gen_bin, out, args);
	return system(cmd);
}

/* The small capture, generated once per process. */
static const char *small_capture(void)
{
	static int done = 0, ok = 0;
	if (!done) {
		done = 1;
		snprintf(small_dir, sizeof(small_dir), "/tmp/svt-samples-test-%d", (int)getpid());
		char args[128];
		snprintf(args, sizeof(args), "--seed 7 --frames %d --width %d", SMALL_FRAMES, SMALL_W);
		ok = run_gen(small_dir, args) == 0;
	}
	cr_assert(ok, "the generator failed on %s", small_dir);
	return small_dir;
}

static json_t *load_gt(const char *dir)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s/ground_truth.json", dir);
	json_error_t je;
	json_t *gt = json_load_file(path, 0, &je);
	cr_assert(gt, "%s: %s", path, je.text);
	return gt;
}

static double num(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);
	cr_assert(json_is_number(v), "field %s missing", k);
	return json_number_value(v);
}

static void arr(json_t *o, const char *k, double *v, size_t n)
{
	json_t *a = json_object_get(o, k);
	cr_assert(json_is_array(a) && json_array_size(a) == n, "field %s: want %zu numbers", k, n);
	for (size_t i = 0; i < n; i++)
		v[i] = json_number_value(json_array_get(a, i));
}

static void cleanup(void);
TestSuite(samples, .fini = cleanup);

Test(samples, same_seed_same_bytes)
{
	NEED_GENERATOR();
	const char *a = small_capture();
	char b[600], c[600], cmd[2048];
	snprintf(b, sizeof(b), "%s-again", a);
	snprintf(c, sizeof(c), "%s-other", a);
	char args[128];
	snprintf(args, sizeof(args), "--seed 7 --frames %d --width %d --threads 1", SMALL_FRAMES,
		 SMALL_W);
	cr_assert_eq(run_gen(b, args), 0);
	/* Same seed, another thread count: every file identical. */
	snprintf(cmd, sizeof(cmd), "diff -r '%s' '%s' >/dev/null", a, b);
	cr_expect_eq(system(cmd), 0, "two runs with seed 7 differ (%s vs %s)", a, b);
	snprintf(args, sizeof(args), "--seed 8 --frames %d --width %d", SMALL_FRAMES, SMALL_W);
	cr_assert_eq(run_gen(c, args), 0);
	snprintf(cmd, sizeof(cmd), "cmp -s '%s/pano_0003.jpg' '%s/pano_0003.jpg'", a, c);
	cr_expect_neq(system(cmd), 0, "seeds 7 and 8 gave the same panorama");
	snprintf(cmd, sizeof(cmd), "rm -rf '%s' '%s'", b, c);
	cr_expect_eq(system(cmd), 0);
}

Test(samples, bad_options_fail_cleanly)
{
	NEED_GENERATOR();
	char cmd[1200];
	snprintf(cmd, sizeof(cmd), "'%s' --width 1001 --out /tmp/svt-nope 2>/dev/null", gen_bin);
	cr_expect_neq(system(cmd), 0, "--width 1001 (not a multiple of 4) was accepted");
	snprintf(cmd, sizeof(cmd), "'%s' --frames 1 --out /tmp/svt-nope 2>/dev/null", gen_bin);
	cr_expect_neq(system(cmd), 0, "--frames 1 was accepted");
	snprintf(cmd, sizeof(cmd), "'%s' --out /proc/svt-nope --frames 2 --width 64 2>/dev/null",
		 gen_bin);
	cr_expect_neq(system(cmd), 0, "an unwritable --out was accepted");
}

/* Every frame's file, read by ingest, says what the ground truth says. */
static void check_metadata(const char *dir)
{
	json_t *gt = load_gt(dir);
	json_t *frames = json_object_get(gt, "frames"), *f;
	size_t i, nbad = 0, ngood = 0;
	int64_t last_t = INT64_MIN;
	json_array_foreach(frames, i, f)
	{
		const char *file = json_string_value(json_object_get(f, "file"));
		const char *expect = json_string_value(json_object_get(f, "expect"));
		cr_assert(file && expect);
		int64_t t = (int64_t)json_integer_value(json_object_get(f, "time_us"));
		cr_expect_gt(t, last_t, "%s: frames are not in time order", file);
		last_t = t;
		char path[1024];
		snprintf(path, sizeof(path), "%s/%s", dir, file);
		ingest_meta m;
		svt_err err = {0};
		int rc = ingest_meta_read_file(path, NULL, &m, &err);
		if (!strcmp(expect, "undecodable")) {
			nbad++;
			continue; /* its headers may or may not parse; the decode test covers it */
		}
		cr_assert_eq(rc, 0, "%s: %s", file, err.msg);
		cr_expect(m.has & INGEST_HAS_TIME, "%s: no time", file);
		cr_expect_eq(m.time_us, t, "%s: time %lld, ground truth %lld", file,
			     (long long)m.time_us, (long long)t);
		cr_expect_eq(m.tz_offset_min, 540, "%s", file);
		cr_expect(m.has & INGEST_HAS_GPANO, "%s: no GPano", file);
		cr_expect(m.gpano.equirectangular);
		cr_expect_float_eq(m.gpano.pose_heading, num(f, "heading"), 1e-5, "%s", file);
		cr_expect_float_eq(m.gpano.pose_pitch, num(f, "pitch"), 1e-5, "%s", file);
		cr_expect_float_eq(m.gpano.pose_roll, num(f, "roll"), 1e-5, "%s", file);
		cr_expect_eq(m.width, (int)json_integer_value(json_object_get(gt, "width")));
		cr_expect_eq(m.gpano.full_w, m.width);
		cr_expect_eq(m.gpano.crop_h, m.height);
		if (!strcmp(expect, "no_gps")) {
			cr_expect_not(m.has & INGEST_HAS_GPS, "%s: has GPS", file);
			nbad++;
			continue;
		}
		cr_assert(m.has & INGEST_HAS_GPS, "%s: no GPS", file);
		if (!strcmp(expect, "null_island")) {
			cr_expect(fabs(m.lat) < 1e-12 && fabs(m.lon) < 1e-12, "%s", file);
			nbad++;
			continue;
		}
		/* 1e-9 degrees is 0.1 mm; the file holds 1e-6 arc seconds. */
		cr_expect_float_eq(m.lat, num(f, "lat"), 1e-9, "%s", file);
		cr_expect_float_eq(m.lon, num(f, "lon"), 1e-9, "%s", file);
		cr_expect(m.has & INGEST_HAS_ALT);
		cr_expect_float_eq(m.alt, num(f, "h"), 0.001, "%s", file);
		cr_expect(m.has & INGEST_HAS_HEADING);
		cr_expect_eq(m.heading_ref, 'T');
		cr_expect_float_eq(m.heading, num(f, "heading"), 1e-5, "%s", file);
		if (!strcmp(expect, "ok"))
			ngood++;
		else
			nbad++;
	}
	cr_expect_gt(ngood, 0);
	json_decref(gt);
	(void)nbad;
}

Test(samples, exif_and_xmp_read_back)
{
	NEED_GENERATOR();
	check_metadata(small_capture());
	const char *big = getenv("SVT_SAMPLES");
	if (big && *big)
		check_metadata(big);
}

/* The bad files are there, with the reasons ingest names. */
Test(samples, bad_files_listed)
{
	NEED_GENERATOR();
	json_t *gt = load_gt(small_capture());
	json_t *frames = json_object_get(gt, "frames"), *f;
	size_t i;
	int seen[INGEST_REASON_COUNT] = {0}, ok = 0;
	json_array_foreach(frames, i, f)
	{
		const char *expect = json_string_value(json_object_get(f, "expect"));
		if (!strcmp(expect, "ok")) {
			ok++;
			continue;
		}
		int found = 0;
		for (int r = 1; r < INGEST_REASON_COUNT; r++)
			if (!strcmp(expect, ingest_reason_name((ingest_reason)r)))
				seen[r]++, found = 1;
		cr_expect(found, "'%s' is no ingest reason name", expect);
	}
	cr_expect_eq(ok, SMALL_FRAMES);
	cr_expect_eq(seen[INGEST_REJ_UNDECODABLE], 1);
	cr_expect_eq(seen[INGEST_REJ_NO_GPS], 1);
	cr_expect_eq(seen[INGEST_REJ_DUPLICATE], 1);
	cr_expect_eq(seen[INGEST_REJ_NULL_ISLAND], 1);
	json_decref(gt);

	/* --no-bad leaves them out. */
	char dir[600], path[700];
	snprintf(dir, sizeof(dir), "%s-nobad", small_capture());
	cr_assert_eq(run_gen(dir, "--frames 8 --width 64 --no-bad"), 0);
	gt = load_gt(dir);
	cr_expect_eq(json_array_size(json_object_get(gt, "frames")), 8);
	snprintf(path, sizeof(path), "%s/pano_0002b.jpg", dir);
	cr_expect_neq(access(path, F_OK), 0, "a bad file was written under --no-bad");
	json_decref(gt);
	snprintf(path, sizeof(path), "rm -rf '%s'", dir);
	cr_expect_eq(system(path), 0);
}

/* The truncated file does not decode cleanly. */
Test(samples, truncated_file_is_broken)
{
	NEED_GENERATOR();
	const char *dir = small_capture();
	json_t *gt = load_gt(dir);
	json_t *frames = json_object_get(gt, "frames"), *f;
	size_t i;
	int checked = 0;
	ingest_decoder *dec = NULL;
	svt_err err = {0};
	cr_assert_eq(ingest_decoder_create(&dec, &err), 0, "%s", err.msg);
	json_array_foreach(frames, i, f)
	{
		const char *expect = json_string_value(json_object_get(f, "expect"));
		char path[1024];
		snprintf(path, sizeof(path), "%s/%s", dir, json_string_value(json_object_get(f, "file")));
		ingest_image img = {0};
		int warn = 0;
		svt_err e = {0};
		int rc = ingest_decode_file(dec, path, NULL, &img, &warn, &e);
		if (!strcmp(expect, "undecodable")) {
			cr_expect(rc != 0 || warn, "%s decoded without complaint", path);
			checked++;
		} else {
			cr_expect_eq(rc, 0, "%s: %s", path, e.msg);
			cr_expect_not(warn, "%s: %s", path, e.msg);
			cr_expect_eq(img.width, SMALL_W);
			cr_expect_eq(img.height, SMALL_W / 2);
		}
		ingest_image_free(&img);
	}
	cr_expect_eq(checked, 1);
	ingest_decoder_destroy(dec);
	json_decref(gt);
}

/* Poses: R_c2w is geo's rotation for the same angles, w2c is [R^T | -R^T C], and the ENU
 * positions are PROJ's transformation of lat/lon/h (the generator computed them in closed
 * form). Frames sit about 8 m apart along the street. */
Test(samples, poses_agree_with_geo)
{
	NEED_GENERATOR();
	json_t *gt = load_gt(small_capture());
	json_t *o = json_object_get(gt, "enu_origin");
	svt_err err = {0};
	geo_enu *enu = NULL;
	cr_assert_eq(geo_enu_create(num(o, "lat"), num(o, "lon"), num(o, "h"), &enu, &err), 0, "%s",
		     err.msg);
	json_t *frames = json_object_get(gt, "frames"), *f;
	size_t i;
	double prev[3] = {0}, worst_pos = 0, worst_rot = 0;
	int nprev = 0;
	json_array_foreach(frames, i, f)
	{
		double R[9], w2c[16], e[3], Rg[9];
		arr(f, "R_c2w", R, 9);
		arr(f, "w2c", w2c, 16);
		arr(f, "enu", e, 3);
		geo_rot_from_hpr(num(f, "heading"), num(f, "pitch"), num(f, "roll"), Rg);
		for (int k = 0; k < 9; k++)
			worst_rot = fmax(worst_rot, fabs(R[k] - Rg[k]));
		for (int r = 0; r < 3; r++) {
			double t = 0;
			for (int c = 0; c < 3; c++) {
				cr_expect_float_eq(w2c[4 * r + c], R[3 * c + r], 1e-15);
				t -= R[3 * c + r] * e[c];
				double dot = 0;
				for (int k = 0; k < 3; k++)
					dot += R[3 * k + r] * R[3 * k + c];
				cr_expect_float_eq(dot, r == c ? 1.0 : 0.0, 1e-12, "R not orthonormal");
			}
			cr_expect_float_eq(w2c[4 * r + 3], t, 1e-9);
		}
		cr_expect_eq(w2c[15], 1.0);
		double x = num(f, "lon"), y = num(f, "lat"), z = num(f, "h");
		cr_assert_eq(geo_enu_forward(enu, &x, &y, &z, sizeof(double), 1, &err), 0, "%s", err.msg);
		worst_pos = fmax(worst_pos, fabs(x - e[0]) + fabs(y - e[1]) + fabs(z - e[2]));
		if (!strcmp(json_string_value(json_object_get(f, "expect")), "ok")) {
			if (nprev) {
				double d = hypot(e[0] - prev[0], e[1] - prev[1]);
				cr_expect(d > 7.5 && d < 8.5, "frames %.3f m apart", d);
			}
			memcpy(prev, e, sizeof(prev));
			nprev++;
		}
	}
	cr_expect_lt(worst_rot, 1e-12, "R_c2w differs from geo_rot_from_hpr by %g", worst_rot);
	cr_expect_lt(worst_pos, 1e-4, "ENU differs from PROJ's by %g m", worst_pos);
	geo_enu_destroy(enu);
	json_decref(gt);
}

/* The depth map's ray straight down meets the ground at the camera's height above it, and
 * straight up is sky (0): checks the depth maps, the panorama convention (through gpu/'s
 * projection) and R_c2w together. */
Test(samples, depth_matches_geometry)
{
	NEED_GENERATOR();
	const char *dir = small_capture();
	json_t *gt = load_gt(dir);
	double ground_u = num(json_object_get(gt, "scene"), "ground_u");
	int DW = (int)json_integer_value(json_object_get(gt, "depth_width"));
	int DH = (int)json_integer_value(json_object_get(gt, "depth_height"));
	cr_assert_eq(DW, SMALL_W / 2);
	cr_assert_eq(DH, SMALL_W / 4);
	json_t *frames = json_object_get(gt, "frames"), *f;
	size_t i;
	ingest_decoder *dec = NULL;
	svt_err err = {0};
	cr_assert_eq(ingest_decoder_create(&dec, &err), 0, "%s", err.msg);
	ingest_decode_opts dopts;
	ingest_decode_opts_default(&dopts);
	dopts.want_channels = 0; /* native: 16 bits */
	json_array_foreach(frames, i, f)
	{
		double R[9], e[3];
		arr(f, "R_c2w", R, 9);
		arr(f, "enu", e, 3);
		char path[1024];
		snprintf(path, sizeof(path), "%s/%s", dir, json_string_value(json_object_get(f, "depth")));
		ingest_image img = {0};
		int warn = 0;
		cr_assert_eq(ingest_decode_file(dec, path, &dopts, &img, &warn, &err), 0, "%s: %s",
			     path, err.msg);
		cr_assert_eq(img.width, DW);
		cr_assert_eq(img.height, DH);
		cr_assert_eq(img.bit_depth, 16);
		cr_assert_eq(img.channels, 1);
		/* World down / up in the camera frame: R^T (0, 0, -+1). */
		for (int up = 0; up < 2; up++) {
			double s = up ? 1.0 : -1.0;
			double dc[3] = {R[6] * s, R[7] * s, R[8] * s}, col, row;
			gpu_equirect_project(dc, DW, DH, &col, &row);
			int c = (int)lround(col), r = (int)lround(row);
			c = (c % DW + DW) % DW;
			r = r < 0 ? 0 : r >= DH ? DH - 1 : r;
			uint16_t mm = ((const uint16_t *)(img.data + (size_t)r * img.stride))[c];
			if (up) {
				cr_expect_eq(mm, 0, "%s: zenith is not sky (%u mm)", path, mm);
				continue;
			}
			/* The pixel centre is within half a pixel of the nadir: the range there is
			 * the height over the cosine of at most that angle. */
			double hgt = e[2] - ground_u;
			double half_px = M_PI / DH;
			cr_expect(mm >= lround(hgt * 1000) - 1 && mm <= hgt / cos(half_px) * 1000 + 1,
				  "%s: nadir range %u mm, camera %.4f m above the ground", path, mm, hgt);
		}
		/* Every ray more than 25 degrees below the horizon meets the road within 6 m:
		 * its depth must put the point on the ground plane (a few pole pixels aside). */
		size_t on = 0, steep = 0;
		for (int r = 0; r < DH; r++)
			for (int c = 0; c < DW; c++) {
				double dc[3], d[3];
				gpu_equirect_unproject(c, r, DW, DH, dc);
				for (int k = 0; k < 3; k++)
					d[k] = R[3 * k] * dc[0] + R[3 * k + 1] * dc[1] + R[3 * k + 2] * dc[2];
				if (d[2] > -sin(25.0 * M_PI / 180.0))
					continue;
				steep++;
				uint16_t mm = ((const uint16_t *)(img.data + (size_t)r * img.stride))[c];
				double u = e[2] + d[2] * mm / 1000.0;
				on += fabs(u - ground_u) < 0.002;
			}
		cr_expect_gt(steep, 0);
		cr_expect_gt((double)on, 0.98 * (double)steep,
			     "%s: %zu of %zu steep rays land on the ground plane", path, on, steep);
		ingest_image_free(&img);
	}
	ingest_decoder_destroy(dec);
	json_decref(gt);
}

/* track.gpx holds every good frame's true position and time. */
Test(samples, track_matches_frames)
{
	NEED_GENERATOR();
	const char *dir = small_capture();
	json_t *gt = load_gt(dir);
	char path[1024];
	snprintf(path, sizeof(path), "%s/track.gpx", dir);
	ingest_track *t = NULL;
	svt_err err = {0};
	cr_assert_eq(ingest_track_read(path, &t, &err), 0, "%s", err.msg);
	cr_assert_eq(t->n, SMALL_FRAMES);
	json_t *frames = json_object_get(gt, "frames"), *f;
	size_t i, k = 0;
	json_array_foreach(frames, i, f)
	{
		if (strcmp(json_string_value(json_object_get(f, "expect")), "ok"))
			continue;
		cr_assert_lt(k, t->n);
		cr_expect_eq(t->pts[k].time_us, (int64_t)json_integer_value(json_object_get(f, "time_us")));
		cr_expect_float_eq(t->pts[k].lat, num(f, "lat"), 1e-9);
		cr_expect_float_eq(t->pts[k].lon, num(f, "lon"), 1e-9);
		cr_expect_float_eq(t->pts[k].alt, num(f, "h"), 1e-3);
		k++;
	}
	ingest_track_destroy(t);
	json_decref(gt);
}

/* Each test runs in its own process and makes its own small capture: remove it after. */
static void cleanup(void)
{
	if (small_dir[0]) {
		char cmd[700];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", small_dir);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", small_dir);
	}
}
