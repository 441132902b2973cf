/* test_samples_runs.c: the generator's capture runs (svtwin-samples --run R, samples/transient.c)
 * as `make samples` writes them (build/samples/runs): the same street on other days, with the
 * same buildings and their own transients. Checked from the files: ground truth, the static
 * masks, and the depth maps, which must agree between runs wherever both see static scene in
 * the same direction from (nearly) the same place. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ingest/ingest.h"

static const char *runs_dir(void)
{
	static char d[4096];
	const char *b = getenv("SVT_BUILD");
	snprintf(d, sizeof(d), "%.4000s/samples/runs", b ? b : "build");
	return d;
}

static int cmp(const void *x, const void *y)
{
	double a = *(const double *)x, b = *(const double *)y;
	return a < b ? -1 : a > b;
}

static json_t *gt(int run)
{
	char p[4200];
	snprintf(p, sizeof(p), "%s/run%d/ground_truth.json", runs_dir(), run);
	json_error_t je;
	return json_load_file(p, 0, &je);
}

static void decode(const char *path, ingest_image *img)
{
	ingest_decoder *d = NULL;
	ingest_decode_opts o;
	ingest_decode_opts_default(&o);
	o.want_channels = 0;
	int warn = 0;
	svt_err e = {0};
	cr_assert_eq(ingest_decoder_create(&d, &e), 0);
	cr_assert_eq(ingest_decode_file(d, path, &o, img, &warn, &e), 0, "%s: %s", path, e.msg);
	ingest_decoder_destroy(d);
}

Test(samples_runs, days_light_and_transients)
{
	json_t *g0 = gt(0), *g1 = gt(1), *g2 = gt(2);
	if (!g0 || !g1 || !g2)
		cr_skip_test("no capture runs in %s (make samples writes them)", runs_dir());
	cr_assert_null(json_object_get(g0, "run"), "run 0 is the default capture");
	for (int r = 1; r <= 2; r++) {
		json_t *g = r == 1 ? g1 : g2;
		cr_assert_eq(json_integer_value(json_object_get(g, "run")), r);
		cr_assert_gt(json_integer_value(json_object_get(g, "transients")), 20);
		json_t *f0 = json_array_get(json_object_get(g0, "frames"), 0);
		json_t *f = json_array_get(json_object_get(g, "frames"), 0);
		double dt = (double)(json_integer_value(json_object_get(f, "time_us")) -
				     json_integer_value(json_object_get(f0, "time_us"))) / 86400e6;
		cr_assert(dt > 9.0 * r - 0.5 && dt < 9.0 * r + 0.5, "run %d starts %.2f days later", r,
			  dt);
		cr_assert_float_eq(json_real_value(json_object_get(json_object_get(g, "enu_origin"),
								   "lat")),
				   json_real_value(json_object_get(json_object_get(g0, "enu_origin"),
								   "lat")),
				   1e-12, "one street, one frame");
		cr_assert(json_string_value(json_object_get(f, "static_mask")));
	}
	json_decref(g0);
	json_decref(g1);
	json_decref(g2);
}

/* Frame k of run 1 against the nearest frame of run 0 (under 4 m away): along the rows of
 * the depth maps' horizon band (8 degrees down: the road and the kerbs ahead and behind, the
 * building fronts to the sides, all static where the mask says so), both depth maps see the
 * same world: on pixels static in run 1's mask, the median relative depth difference is
 * under 15 % (measured 9.7 %; the cameras are up to 4 m apart), while on run 1's transient
 * pixels run 1 sees its cars and pedestrians nearer than run 0's empty street (median at least
 * 15 % nearer; measured 54 %). */
Test(samples_runs, same_buildings_other_transients)
{
	json_t *g0 = gt(0), *g1 = gt(1);
	if (!g0 || !g1)
		cr_skip_test("no capture runs in %s (make samples writes them)", runs_dir());
	json_t *fs0 = json_object_get(g0, "frames"), *fs1 = json_object_get(g1, "frames");
	double rel_static[4096], rel_trans[4096];
	size_t ns = 0, nt = 0;
	for (size_t k = 2; k < json_array_size(fs1) - 2; k += 3) {
		json_t *f1 = json_array_get(fs1, k), *best = NULL;
		double c1[3], bd = 1e9;
		for (int i = 0; i < 3; i++)
			c1[i] = json_real_value(json_array_get(json_object_get(f1, "enu"), (size_t)i));
		for (size_t i = 0; i < json_array_size(fs0); i++) {
			json_t *f = json_array_get(fs0, i);
			double c[3];
			for (int a = 0; a < 3; a++)
				c[a] = json_real_value(json_array_get(json_object_get(f, "enu"), (size_t)a));
			double d = hypot(c[0] - c1[0], c[1] - c1[1]);
			if (d < bd)
				bd = d, best = f;
		}
		cr_assert_lt(bd, 4.0);
		char p[4200];
		ingest_image d0 = {0}, d1 = {0}, m1 = {0};
		snprintf(p, sizeof(p), "%s/run0/%s", runs_dir(),
			 json_string_value(json_object_get(best, "depth")));
		decode(p, &d0);
		snprintf(p, sizeof(p), "%s/run1/%s", runs_dir(),
			 json_string_value(json_object_get(f1, "depth")));
		decode(p, &d1);
		snprintf(p, sizeof(p), "%s/run1/%s", runs_dir(),
			 json_string_value(json_object_get(f1, "static_mask")));
		decode(p, &m1);
		cr_assert_eq(m1.width, d1.width);
		int row = (int)(d1.height * (0.5 + 8.0 / 180.0));
		/* Both panoramas look nearly the same way (headings within a few degrees): compare
		 * the same columns. */
		for (int c = 0; c < d1.width && ns < 4096 && nt < 4096; c++) {
			const uint8_t *a = d1.data + (size_t)row * d1.stride + 2 * c;
			const uint8_t *b = d0.data + (size_t)row * d0.stride + 2 * c;
			double z1 = (a[0] | a[1] << 8), z0 = (b[0] | b[1] << 8);
			if (!(z1 > 0 && z0 > 0))
				continue;
			double rel = (z1 - z0) / z0;
			if (m1.data[(size_t)row * m1.stride + c] == 255)
				rel_static[ns++] = fabs(rel);
			else
				rel_trans[nt++] = rel;
		}
		ingest_image_free(&d0);
		ingest_image_free(&d1);
		ingest_image_free(&m1);
	}
	cr_assert_gt(ns, 200);
	cr_assert_gt(nt, 5, "run 1 shows transients on the horizon band");
	qsort(rel_static, ns, sizeof(double), cmp);
	qsort(rel_trans, nt, sizeof(double), cmp);
	cr_log_info("static: median |rel| %.3f over %zu px; transient: median rel %.3f over %zu px",
		    rel_static[ns / 2], ns, rel_trans[nt / 2], nt);
	cr_assert_lt(rel_static[ns / 2], 0.15);
	cr_assert_lt(rel_trans[nt / 2], -0.15);
	json_decref(g0);
	json_decref(g1);
}

