/* test_export.c: export/ (Cosmos post-training folders). The loaders' rules at their edges
 * (ANCHORS section 7), the pure helpers against hand values, the npz writer read back by
 * numpy, and the transfer layout on a 16 fps synthetic dataset (written with formats/),
 * checked by an independent reader (tests/python/export_check.py: PyAV, h5py, numpy). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "export/export.h"
#include "formats/formats.h"

static const char *python(void)
{
	const char *p = getenv("PYTHON");
	return p && *p ? p : "/usr/bin/python3";
}

static int has_python_av(void)
{
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "%s -c 'import av, h5py, numpy' 2>/dev/null", python());
	return system(cmd) == 0;
}

Test(export_rules, predict_needs_94_frames)
{
	svt_err e = {0};
	cr_expect_eq(export_clip_check(EXPORT_PREDICT, 93, 1280, 704, 16, 0, &e), SVT_E_LIMIT);
	cr_expect(strstr(e.msg, "93") != NULL, "%s", e.msg);
	cr_expect_eq(export_clip_check(EXPORT_PREDICT, 94, 1280, 704, 16, 0, NULL), 0);
	cr_expect_eq(export_clip_check(EXPORT_PREDICT, 57, 1280, 704, 1, 0, NULL), SVT_E_LIMIT);
	/* The predict loader takes the container's rate: a sparse clip is not refused. */
	cr_expect_eq(export_clip_check(EXPORT_PREDICT, 97, 1280, 704, 1, 0, NULL), 0);
}

Test(export_rules, transfer_lengths_and_rates)
{
	svt_err e = {0};
	cr_expect_eq(export_clip_check(EXPORT_TRANSFER, 93, 768, 432, 31, 1, NULL), 0); /* 3.0 s */
	cr_expect_eq(export_clip_check(EXPORT_TRANSFER, 92, 768, 432, 16, 1, NULL), SVT_E_LIMIT);
	cr_expect_eq(export_clip_check(EXPORT_TRANSFER, 93, 768, 432, 32, 1, &e), SVT_E_LIMIT);
	cr_expect(strstr(e.msg, "3 s") != NULL, "%s", e.msg);
	cr_expect_eq(export_clip_check(EXPORT_TRANSFER, 200, 768, 432, 10, 0, NULL), 0);
	cr_expect_eq(export_clip_check(EXPORT_TRANSFER, 200, 768, 432, 60, 0, NULL), 0);
	cr_expect_eq(export_clip_check(EXPORT_TRANSFER, 200, 768, 432, 60.5, 0, NULL), SVT_E_LIMIT);
	cr_expect_eq(export_clip_check(EXPORT_TRANSFER, 97, 768, 432, 9.99, 0, &e), SVT_E_LIMIT);
	cr_expect(strstr(e.msg, "densify") != NULL, "%s", e.msg);
	cr_expect_eq(export_clip_check(EXPORT_GEN3C, 57, 768, 432, 1, 0, NULL), SVT_E_LIMIT);
	cr_expect_eq(export_clip_check(EXPORT_GEN3C, 57, 768, 432, 1, 1, NULL), 0);
	cr_expect_eq(export_clip_check(EXPORT_GEN3C, 57, 767, 432, 1, 1, NULL), SVT_E_LIMIT);
}

Test(export_rules, layout_names)
{
	export_layout l;
	cr_expect_eq(export_layout_parse("transfer", &l, NULL), 0);
	cr_expect_eq(l, EXPORT_TRANSFER);
	cr_expect_str_eq(export_layout_name(EXPORT_GEN3C), "gen3c");
	cr_expect_eq(export_layout_parse("multiview", &l, NULL), SVT_E_INPUT);
}

Test(export_math, c2w_inverts_w2c)
{
	/* A yaw of 90 degrees and a camera centre at (3, 4, 5): c2w = [R^T | C]. */
	double w2c[16] = {0, 1, 0, 0, 0, 0, -1, 0, -1, 0, 0, 0, 0, 0, 0, 1}, C[3] = {3, 4, 5};
	for (int i = 0; i < 3; i++)
		w2c[4 * i + 3] = -(w2c[4 * i] * C[0] + w2c[4 * i + 1] * C[1] + w2c[4 * i + 2] * C[2]);
	double c[12];
	export_c2w_3x4(w2c, c);
	double want[12] = {0, 0, -1, 3, 1, 0, 0, 4, 0, -1, 0, 5};
	for (int k = 0; k < 12; k++)
		cr_expect(fabs(c[k] - want[k]) < 1e-15, "c2w[%d] = %g, want %g", k, c[k], want[k]);
}

Test(export_math, depth_control_is_normalised_inverse_depth)
{
	/* Depths 1, 2, 4 m and invalid ones: inverse 1, 0.5, 0.25 -> 255, 85, 0; invalid 0. */
	float d[6] = {1, 2, 4, 0, NAN, -1};
	double lo = INFINITY, hi = -INFINITY;
	export_depth_inv_range(d, 6, &lo, &hi);
	cr_expect(lo == 0.25 && hi == 1.0, "range %g %g", lo, hi);
	uint8_t g[6];
	export_depth_grey(d, 6, lo, hi, g);
	uint8_t want[6] = {255, 85, 0, 0, 0, 0};
	cr_expect_arr_eq(g, want, 6);
	float flat[2] = {7, 7};
	lo = INFINITY, hi = -INFINITY;
	export_depth_inv_range(flat, 2, &lo, &hi);
	export_depth_grey(flat, 2, lo, hi, g);
	cr_expect(g[0] == 255 && g[1] == 255);
}

Test(export_npz, numpy_reads_it)
{
	if (!has_python_av())
		cr_skip_test("numpy, h5py and av for %s are needed (python3-av, python3-h5py)",
			     python());
	char dir[] = "/tmp/svt-npz-XXXXXX", path[256], cmd[1024];
	cr_assert(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/a.npz", dir);
	export_npz *z = NULL;
	uint16_t h[2 * 3 * 5];
	for (int i = 0; i < 30; i++)
		h[i] = (uint16_t)(0x3c00 + i); /* 1.0 + i ulp */
	float w[4] = {1.5f, -2.25f, 3e-7f, 65504.0f};
	uint8_t b[3] = {1, 0, 1};
	size_t s1[3] = {2, 3, 5}, s2[2] = {2, 2}, s3[1] = {3};
	svt_err e = {0};
	cr_assert_eq(export_npz_open(path, &z, &e), 0, "%s", e.msg);
	cr_assert_eq(export_npz_begin(z, "depth", "<f2", 3, s1, &e), 0, "%s", e.msg);
	cr_assert_eq(export_npz_data(z, h, 20, &e), 0); /* in two pieces */
	cr_assert_eq(export_npz_data(z, h + 10, 40, &e), 0);
	cr_assert_eq(export_npz_begin(z, "w2c", "<f4", 2, s2, &e), 0);
	cr_assert_eq(export_npz_data(z, w, 16, &e), 0);
	cr_assert_eq(export_npz_begin(z, "mask", "|b1", 1, s3, &e), 0);
	cr_assert_eq(export_npz_data(z, b, 3, &e), 0);
	cr_assert_eq(export_npz_close(z, &e), 0, "%s", e.msg);
	snprintf(cmd, sizeof(cmd),
		 "%s -c \"import numpy as np, zipfile; z = np.load('%s'); "
		 "assert zipfile.ZipFile('%s').testzip() is None; "
		 "d = z['depth']; assert d.dtype == np.float16 and d.shape == (2, 3, 5); "
		 "assert (d.view(np.uint16).ravel() == 0x3c00 + np.arange(30)).all(); "
		 "w = z['w2c']; assert w.dtype == np.float32 and w.tolist() == [[1.5, -2.25], "
		 "[np.float32(3e-7), 65504.0]]; m = z['mask']; assert m.dtype == bool and "
		 "m.tolist() == [True, False, True]\"", python(), path, path);
	cr_expect_eq(system(cmd), 0, "numpy did not read %s as written", path);
	/* A short array is refused at close, and nothing pretends to be complete. */
	snprintf(path, sizeof(path), "%s/short.npz", dir);
	cr_assert_eq(export_npz_open(path, &z, &e), 0);
	cr_assert_eq(export_npz_begin(z, "mask", "|b1", 1, s3, &e), 0);
	cr_assert_eq(export_npz_data(z, b, 2, &e), 0);
	cr_expect_eq(export_npz_close(z, &e), SVT_E_INPUT);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_expect_eq(system(cmd), 0);
}

/* A 16 fps synthetic dataset: 97 frames of 128 x 96 (moving gradients, noise), depth that
 * grows along the rows, captions in two windows, a straight track. */
#define ST 97
#define SH 96
#define SW 128
static void write_dataset(const char *dir, double fps)
{
	static double w2c[ST * 16], K[ST * 4], llh[ST * 3];
	static int64_t tus[ST];
	static uint8_t rgb[SH * SW * 3];
	static float depth[SH * SW];
	for (int t = 0; t < ST; t++) {
		double *m = w2c + 16 * t;
		double R[9] = {1, 0, 0, 0, 0, -1, 0, 1, 0}, C[3] = {0, 1.0 * t, 2};
		memset(m, 0, 16 * sizeof(double));
		for (int i = 0; i < 3; i++) {
			for (int j = 0; j < 3; j++)
				m[4 * i + j] = R[3 * i + j];
			m[4 * i + 3] = -(R[3 * i] * C[0] + R[3 * i + 1] * C[1] + R[3 * i + 2] * C[2]);
		}
		m[15] = 1;
		K[4 * t] = 64.25;
		K[4 * t + 1] = 64.5;
		K[4 * t + 2] = SW / 2.0;
		K[4 * t + 3] = SH / 2.0;
		llh[3 * t] = 37.5665 + 9e-6 * t;
		llh[3 * t + 1] = 126.978;
		llh[3 * t + 2] = 40;
		tus[t] = 1760403600000000LL + (int64_t)llround(t * 1e6 / fps);
	}
	fmt_caption caps[2] = {{0, 47, "A wide avenue in Seoul."}, {48, ST - 1, "Buses pass."}};
	fmt_clip_desc d = {.id = "synth-16fps", .T = ST, .H = SH, .W = SW, .w2c = w2c, .K = K,
			   .llh = llh, .time_us = tus, .fps = fps, .split = "val",
			   .captions = caps, .n_captions = 2, .depth = 1};
	fmt_shard_info info = {.crs_epsg = 5186, .enu_origin_llh = {37.5665, 126.978, 40},
			       .source = "test_export"};
	fmt_writer_opts wo;
	fmt_writer_opts_default(&wo);
	wo.threads = 2;
	fmt_writer *w = NULL;
	svt_err e = {0};
	cr_assert_eq(fmt_writer_create(dir, "synth", &info, &wo, &w, &e), 0, "%s", e.msg);
	cr_assert_eq(fmt_clip_begin(w, &d, &e), 0, "%s", e.msg);
	uint32_t x = 12345;
	(void)x;
	for (int t = 0; t < ST; t++) {
		for (int y = 0; y < SH; y++)
			for (int i = 0; i < SW; i++) {
				/* Smooth colour (4:2:0 keeps it) over a little luma noise. */
				x = x * 1664525u + 1013904223u;
				uint8_t *p = rgb + 3 * (y * SW + i);
				int n = (int)(x >> 30);
				p[0] = (uint8_t)(60 + i / 2 + t / 2 + n); /* no wrap */
				p[1] = (uint8_t)(50 + y + t / 2 + n);
				p[2] = (uint8_t)(128 + 60 * sin(0.08 * i + 0.05 * y + 0.1 * t) + n);
				depth[y * SW + i] = i == 0 ? 0.0f : 2.0f + 0.5f * y + 0.05f * t;
			}
		cr_assert_eq(fmt_clip_frame(w, t, rgb, &e), 0, "%s", e.msg);
		cr_assert_eq(fmt_clip_depth(w, t, depth, &e), 0, "%s", e.msg);
	}
	cr_assert_eq(fmt_clip_end(w, &e), 0, "%s", e.msg);
	cr_assert_eq(fmt_writer_close(w, &e), 0, "%s", e.msg);
}

Test(export_cosmos, transfer_16fps_read_back_independently)
{
	if (!export_video_available())
		cr_skip_test("svtwin was built without FFmpeg's libraries: export cannot encode");
	char ds[] = "/tmp/svt-exp-XXXXXX", out[300], cmd[1200], p[400];
	cr_assert(mkdtemp(ds));
	write_dataset(ds, 16.0);
	snprintf(out, sizeof(out), "%s/cosmos", ds);
	export_opts o;
	export_opts_default(&o);
	o.layout = EXPORT_TRANSFER;
	o.threads = 2;
	export_report rep;
	svt_err e = {0};
	cr_assert_eq(export_cosmos_run(ds, out, &o, &rep, stderr, &e), 0, "%s", e.msg);
	cr_expect(rep.written == 1 && rep.refused == 0 && rep.failed == 0);
	cr_expect_eq(rep.frames, 2 * ST, "video and depth control");
	snprintf(p, sizeof(p), "%s/val/depth/synth-16fps.mp4", out);
	struct stat st;
	cr_expect_eq(stat(p, &st), 0, "%s missing", p);
	if (has_python_av()) {
		snprintf(cmd, sizeof(cmd), "%s tests/python/export_check.py %s %s/val transfer",
			 python(), ds, out);
		cr_expect_eq(system(cmd), 0, "independent check of the transfer root failed");
	} else {
		cr_log_warn("skipped the independent decode: python3 with av, h5py and numpy absent");
	}
	/* A rerun skips the complete clip; a predict export into the transfer root is refused
	 * (the predict loader would read captions/ first). */
	cr_assert_eq(export_cosmos_run(ds, out, &o, &rep, stderr, &e), 0, "%s", e.msg);
	cr_expect(rep.written == 0 && rep.skipped == 1 && rep.frames == 0);
	o.layout = EXPORT_PREDICT;
	cr_expect_eq(export_cosmos_run(ds, out, &o, &rep, NULL, &e), SVT_E_INPUT);
	cr_expect(strstr(e.msg, "captions/") != NULL, "%s", e.msg);
	snprintf(p, sizeof(p), "%s/val/metas", out);
	cr_expect_neq(stat(p, &st), 0, "a predict metas/ was made in the transfer root");
	snprintf(cmd, sizeof(cmd), "rm -rf %s", ds);
	cr_expect_eq(system(cmd), 0);
}

Test(export_cosmos, transfer_below_10fps_refused)
{
	if (!export_video_available())
		cr_skip_test("svtwin was built without FFmpeg's libraries: export cannot encode");
	char ds[] = "/tmp/svt-exp-XXXXXX", out[300], cmd[400];
	cr_assert(mkdtemp(ds));
	write_dataset(ds, 5.0);
	snprintf(out, sizeof(out), "%s/cosmos", ds);
	export_opts o;
	export_opts_default(&o);
	o.layout = EXPORT_TRANSFER;
	export_report rep;
	svt_err e = {0};
	char *log = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&log, &n);
	cr_assert_eq(export_cosmos_run(ds, out, &o, &rep, f, &e), 0, "%s", e.msg);
	fclose(f);
	cr_expect(rep.refused == 1 && rep.written == 0);
	cr_expect(log && strstr(log, "synth-16fps") && strstr(log, "5 fps"), "log: %s", log);
	free(log);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", ds);
	cr_expect_eq(system(cmd), 0);
}

/* An export of a dataset that is not there, with o (NULL: the defaults): what it refuses
 * before reading anything. */
static int export_nothing(const export_opts *o, svt_err *e)
{
	export_opts d;
	export_opts_default(&d);
	export_report rep;
	return export_cosmos_run("/nonexistent", "/tmp/x", o ? o : &d, &rep, NULL, e);
}

/* An export that cannot encode is refused (SVT_E_UNSUPPORTED) before it reads anything, with a
 * message that holds a and b (b may be NULL). */
static void expect_export_refused(const char *a, const char *b)
{
	svt_err e = {0};
	cr_expect_eq(export_nothing(NULL, &e), SVT_E_UNSUPPORTED);
	cr_expect(strstr(e.msg, a) != NULL, "%s", e.msg);
	cr_expect(!b || strstr(e.msg, b) != NULL, "%s", e.msg);
}

Test(export_cosmos, without_ffmpeg_says_what_to_install)
{
	if (export_video_available())
		cr_skip_test("this build has FFmpeg (FFMPEG=0 builds run this case; "
			     "ffmpeg_missing_at_run_time_names_the_package covers this build)");
	expect_export_refused("libavcodec-dev", NULL);
}

/* Built with FFmpeg, on a machine where its libraries do not load (SVT_DL_HIDE makes them look
 * absent; Criterion runs each test in its own process, so the first load is this one): no
 * export, and a message that names the library and the package to install. */
Test(export_cosmos, ffmpeg_missing_at_run_time_names_the_package)
{
#ifndef SVT_HAVE_FFMPEG
	cr_skip_test("built without FFmpeg: without_ffmpeg_says_what_to_install covers it");
#endif
	setenv("SVT_DL_HIDE", "libavcodec", 1);
	cr_expect_eq(export_video_available(), 0, "the hidden library still loaded");
	expect_export_refused("libavcodec.so.", "install the Debian package libavcodec");
	unsetenv("SVT_DL_HIDE");
}

/* The library refuses what the CLI's parser refuses (a caller of export_cosmos_run has no
 * parser in front of it), before it reads the dataset: none is given here. */
Test(export_cosmos, encoder_settings_out_of_range_are_refused)
{
	const struct {
		int crf, threads;
	} bad[] = {{-1, 0}, {52, 0}, {18, -1}};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		export_opts o;
		export_opts_default(&o);
		o.crf = bad[i].crf;
		o.threads = bad[i].threads;
		svt_err e = {0};
		cr_expect_eq(export_nothing(&o, &e), SVT_E_INPUT, "crf %d threads %d accepted",
			     bad[i].crf, bad[i].threads);
		cr_expect(strstr(e.msg, "out of range") != NULL, "%s", e.msg);
	}
	svt_err e = {0};
	/* The defaults pass the check: what fails then is the missing dataset (or FFmpeg). */
	cr_expect_neq(export_nothing(NULL, &e), SVT_OK);
	cr_expect_null(strstr(e.msg, "out of range"), "%s", e.msg);
}

Test(export_cosmos, unknown_encoder_stops_the_run)
{
	if (!export_video_available())
		cr_skip_test("svtwin was built without FFmpeg's libraries: export cannot encode");
	char ds[] = "/tmp/svt-exp-XXXXXX", out[64], cmd[400];
	cr_assert(mkdtemp(ds));
	write_dataset(ds, 16.0);
	snprintf(out, sizeof(out), "%s/cosmos", ds);
	export_opts o;
	export_opts_default(&o);
	o.layout = EXPORT_TRANSFER;
	o.encoder = "h264_no_such_encoder";
	export_report rep;
	svt_err e = {0};
	cr_expect_eq(export_cosmos_run(ds, out, &o, &rep, NULL, &e), SVT_E_UNSUPPORTED);
	cr_expect(strstr(e.msg, "h264_no_such_encoder") != NULL, "%s", e.msg);
	snprintf(cmd, sizeof(cmd), "ls %s/val/videos/*.mp4* %s/val/depth/*.mp4* 2>/dev/null | "
		 "grep -q .", out, out);
	cr_expect_neq(system(cmd), 0, "an mp4 (or its .tmp) was left behind");
	/* Nor the clip's other files, written before its video failed: a loader that walks
	 * captions/ or cameras/ would find a clip without a video. */
	snprintf(cmd, sizeof(cmd), "ls %s/val/captions/* %s/val/cameras/* 2>/dev/null | grep -q .",
		 out, out);
	cr_expect_neq(system(cmd), 0, "a failed clip's caption or cameras were left behind");
	snprintf(cmd, sizeof(cmd), "rm -rf %s", ds);
	cr_expect_eq(system(cmd), 0);
}
