/* test_rules.c: the rules the main job takes from the modules that own them, each against
 * values worked out by hand: svt_err_prefix never turns a failure into success, a dropped clip
 * is TWIN_SPLIT_DROP (not an svt_status), the depth-map path convention, captions, and the
 * relative rotation of a view in its panorama. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "geo/geo.h"
#include "ingest/ingest.h"
#include "twin/twin.h"

Test(rules, err_prefix_returns_the_callee_code)
{
	svt_err e = {0};
	svt_err_set(&e, SVT_E_IO, "disk full");
	cr_expect_eq(svt_err_prefix(&e, "writing %s", "x.h5"), SVT_E_IO);
	cr_expect_str_eq(e.msg, "writing x.h5: disk full");
	cr_expect_eq(e.code, SVT_E_IO);
	/* A callee that failed without filling err: never success. */
	svt_err z = {0};
	int rc = svt_err_prefix(&z, "stage");
	cr_expect_lt(rc, 0, "svt_err_prefix turned a failure into %d", rc);
	cr_expect_eq(z.code, rc, "err->code and the return disagree");
	cr_expect_lt(svt_err_prefix(NULL, "stage"), 0);
}

/* Frames along a north-south line at easting e, northing n0 + 10 t. */
static void line_frames(twin_frame *f, int n, double e, double n0)
{
	memset(f, 0, (size_t)n * sizeof(*f));
	for (int t = 0; t < n; t++) {
		f[t].proj[0] = e;
		f[t].proj[1] = n0 + 10.0 * t;
		f[t].time_us = t * 1000000;
	}
}

Test(rules, dropped_clip_is_a_named_constant)
{
	twin_split_opts o;
	twin_split_opts_default(&o);
	cr_assert_eq(twin_split_opts_check(&o, NULL), 0);
	cr_assert_geq(TWIN_SPLIT_DROP, 0, "a drop must not read as an svt_status");
	cr_assert(TWIN_SPLIT_DROP != TWIN_SPLIT_TRAIN && TWIN_SPLIT_DROP != TWIN_SPLIT_VAL &&
		  TWIN_SPLIT_DROP != TWIN_SPLIT_TEST);
	twin_frame f[5];
	size_t idx[5] = {0, 1, 2, 3, 4};
	twin_clip c = {.n = 5, .idx = idx};
	/* Find a block with a neighbour of another split: a clip that runs across their border
	 * comes within buffer/2 of it and is dropped; one in the middle of a block is kept. */
	double bm = o.tile_m * o.block_tiles;
	int found = 0;
	for (int bx = 0; bx < 200 && !found; bx++) {
		int a = twin_split_of_point(&o, (bx + 0.5) * bm, 0.5 * bm);
		int b = twin_split_of_point(&o, (bx + 0.5) * bm, 1.5 * bm);
		int left = twin_split_of_point(&o, (bx - 0.5) * bm, 0.5 * bm);
		int right = twin_split_of_point(&o, (bx + 1.5) * bm, 0.5 * bm);
		int below = twin_split_of_point(&o, (bx + 0.5) * bm, -0.5 * bm);
		if (a == b || left != a || right != a || below != a)
			continue;
		found = 1;
		line_frames(f, 5, (bx + 0.5) * bm, 0.5 * bm - 20.0); /* mid-block */
		cr_expect_eq(twin_clip_split(&o, f, &c), a);
		line_frames(f, 5, (bx + 0.5) * bm, bm - 20.0); /* runs into the block above */
		cr_expect_eq(twin_clip_split(&o, f, &c), TWIN_SPLIT_DROP);
	}
	cr_assert(found, "no block with a neighbour of another split in 200 columns");
	line_frames(f, 5, 0, 0);
	f[2].proj[0] = NAN;
	cr_expect_eq(twin_clip_split(&o, f, &c), TWIN_SPLIT_DROP);
	cr_expect_eq(twin_clip_split(&o, f, NULL), TWIN_SPLIT_DROP);
	cr_expect_str_eq(twin_split_name(TWIN_SPLIT_DROP), "");
}

Test(rules, depth_path_convention)
{
	char dir[128], path[600], out[700];
	snprintf(dir, sizeof(dir), "/tmp/svt-rules-%d", (int)getpid());
	snprintf(path, sizeof(path), "mkdir -p %s/.depth %s/depth && touch %s/.depth/a.png "
		 "%s/depth/b.png", dir, dir, dir, dir);
	cr_assert_eq(system(path), 0);
	snprintf(path, sizeof(path), "%s/a.jpg", dir);
	cr_expect_eq(ingest_depth_path(path, out, sizeof(out)), 1);
	char want[700];
	snprintf(want, sizeof(want), "%s/.depth/a.png", dir);
	cr_expect_str_eq(out, want);
	snprintf(path, sizeof(path), "%s/b.jpeg", dir);
	cr_expect_eq(ingest_depth_path(path, out, sizeof(out)), 1);
	snprintf(want, sizeof(want), "%s/depth/b.png", dir);
	cr_expect_str_eq(out, want);
	snprintf(path, sizeof(path), "%s/c.jpg", dir);
	cr_expect_eq(ingest_depth_path(path, out, sizeof(out)), 0);
	/* A path that does not fit is no depth map, not a truncated one that happens to exist. */
	snprintf(path, sizeof(path), "%s/a.jpg", dir);
	char tiny[8];
	cr_expect_eq(ingest_depth_path(path, tiny, sizeof(tiny)), 0);
	cr_expect_str_eq(tiny, "");
	snprintf(path, sizeof(path), "rm -rf %s", dir);
	cr_expect_eq(system(path), 0);
}

Test(rules, captions)
{
	cr_expect_str_eq(twin_caption_cardinal(0), "north");
	cr_expect_str_eq(twin_caption_cardinal(22.4), "north");
	cr_expect_str_eq(twin_caption_cardinal(22.6), "northeast");
	cr_expect_str_eq(twin_caption_cardinal(-90), "west");
	cr_expect_str_eq(twin_caption_cardinal(337.6), "north");
	/* 2025-10-14T01:00Z is 10:00 in Seoul (+540 min). */
	int64_t t = 1760403600LL * 1000000;
	cr_expect_str_eq(twin_caption_time_of_day(t, 540), "in the morning");
	cr_expect_str_eq(twin_caption_time_of_day(t, 0), "at night");
	cr_expect_str_eq(twin_caption_time_of_day(t + 15LL * 3600 * 1000000, 0), "in the afternoon");
	cr_expect_str_eq(twin_caption_time_of_day(t + 17LL * 3600 * 1000000, 0), "in the evening");
	/* Headings 350 and 10: the circular mean is north (the plain mean, 180, is south). */
	double h[2] = {350, 10};
	twin_caption_in in = {.heading = h, .n = 2, .time_us = t, .tz_offset_min = 540,
			      .dist_m = 64.4, .span_s = 8.0, .district = "Jongno-gu",
			      .dong = "Sejongno"};
	char out[320];
	twin_clip_caption(&in, out, sizeof(out));
	cr_expect_str_eq(out, "A street-level drive heading north through Sejongno, Jongno-gu "
			      "in the morning, seen from a forward-facing camera, 64 m in 8 s.");
	in.dong = NULL;
	in.region = "Seoul";
	twin_clip_caption(&in, out, sizeof(out));
	cr_expect(strstr(out, "through Jongno-gu, Seoul in"), "%s", out);
	/* No layer names a place: no place, and never "Seoul" (Lund, Berlin, Kenya...). */
	in.district = "";
	in.region = NULL;
	twin_clip_caption(&in, out, sizeof(out));
	cr_expect(strstr(out, "heading north in the morning"), "%s", out);
	cr_expect_null(strstr(out, "Seoul"), "%s", out);
	/* 64 m in 40 s is 1.6 m/s: a walk; 64 m in 8 s (8 m/s) is a drive; no span: neither. */
	in.span_s = 40.0;
	twin_clip_caption(&in, out, sizeof(out));
	cr_expect(!strncmp(out, "A street-level walk heading", 27), "%s", out);
	in.span_s = 0.0;
	twin_clip_caption(&in, out, sizeof(out));
	cr_expect(!strncmp(out, "A street-level sequence heading", 31), "%s", out);
	in.span_s = 8.0;
	char small[10];
	int need = twin_clip_caption(&in, small, sizeof(small));
	cr_expect_gt(need, 9);
	cr_expect_eq(strlen(small), 9);
}

Test(rules, relative_rotation_of_a_view_in_its_panorama)
{
	/* A panorama heading 90 (east) and a view heading 135: the view is 45 degrees right of
	 * the panorama's centre, i.e. the rotation of a camera with heading 45 at a panorama
	 * that looks north. */
	double Rp[9], Rv[9], R[9], want[9];
	geo_rot_from_hpr(90, 0, 0, Rp);
	geo_rot_from_hpr(135, 0, 0, Rv);
	geo_rot_relative(Rp, Rv, R);
	geo_rot_from_hpr(45, 0, 0, want);
	double north[9];
	geo_rot_from_hpr(0, 0, 0, north);
	/* R is want expressed in the north panorama's frame: north^T want. */
	double w2[9];
	geo_rot_relative(north, want, w2);
	for (int i = 0; i < 9; i++)
		cr_expect_float_eq(R[i], w2[i], 1e-12, "R[%d] %g, want %g", i, R[i], w2[i]);
	/* Rp R = Rv, and a view at the panorama's own pose is the identity. */
	for (int r = 0; r < 3; r++)
		for (int c = 0; c < 3; c++) {
			double s = 0;
			for (int i = 0; i < 3; i++)
				s += Rp[3 * r + i] * R[3 * i + c];
			cr_expect_float_eq(s, Rv[3 * r + c], 1e-12);
		}
	geo_rot_relative(Rp, Rp, R);
	for (int i = 0; i < 9; i++)
		cr_expect_float_eq(R[i], (i % 4 == 0) ? 1.0 : 0.0, 1e-12);
}
