/* test_verify_splits.c: `svtwin verify` fails a dataset whose splits leak (frames of two
 * splits closer than the recorded buffer) and passes the same clips set apart. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "formats/formats.h"

/* Writes two 9-frame clips walking north, the second starting lat_gap degrees north of the
 * first, with splits train and val, and a 50 m split buffer. */
static void write_dataset(const char *dir, double lat_gap)
{
	enum { T = 9, H = 16, W = 32 };
	fmt_shard_info info = {.crs_epsg = 5186, .enu_origin_llh = {37.5666, 126.9784, 40},
			       .enu_origin_proj = {198091.7, 551896.1, 40}, .source = "test",
			       .split_buffer_m = 50.0};
	fmt_writer_opts o;
	fmt_writer_opts_default(&o);
	o.codec = FMT_CODEC_NONE;
	svt_err err = {0};
	fmt_writer *w = NULL;
	cr_assert_eq(fmt_writer_create(dir, "leak", &info, &o, &w, &err), 0, "%s", err.msg);
	static uint8_t px[H * W * 3];
	const char *splits[2] = {"train", "val"};
	for (int c = 0; c < 2; c++) {
		double w2c[T * 16] = {0}, K[T * 4], llh[T * 3];
		int64_t ts[T];
		for (int t = 0; t < T; t++) {
			for (int i = 0; i < 4; i++)
				w2c[16 * t + 5 * i] = 1;
			K[4 * t] = K[4 * t + 1] = 16;
			K[4 * t + 2] = W / 2.0;
			K[4 * t + 3] = H / 2.0;
			llh[3 * t] = 37.5666 + c * lat_gap + t * 1e-5; /* about 1.1 m a frame */
			llh[3 * t + 1] = 126.9784;
			llh[3 * t + 2] = 40;
			ts[t] = (int64_t)(c * 100 + t) * 1000000;
		}
		char id[16];
		snprintf(id, sizeof(id), "clip%d", c);
		fmt_clip_desc d = {.id = id, .T = T, .H = H, .W = W, .w2c = w2c, .K = K, .llh = llh,
				   .time_us = ts, .fps = 1, .split = splits[c]};
		cr_assert_eq(fmt_clip_begin(w, &d, &err), 0, "%s", err.msg);
		for (int t = 0; t < T; t++)
			cr_assert_eq(fmt_clip_frame(w, t, px, &err), 0, "%s", err.msg);
		cr_assert_eq(fmt_clip_end(w, &err), 0, "%s", err.msg);
	}
	cr_assert_eq(fmt_writer_close(w, &err), 0, "%s", err.msg);
}

static int verify(const char *dir)
{
	const char *b = getenv("SVT_BUILD");
	char cmd[1024];
	snprintf(cmd, sizeof(cmd), "%s/svtwin verify %s >/dev/null", b && *b ? b : "build", dir);
	int st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

Test(verify, split_leak_fails_and_separation_passes)
{
	char near[128], far[128], cmd[400];
	snprintf(near, sizeof(near), "/tmp/svt-leak-near-%d", (int)getpid());
	snprintf(far, sizeof(far), "/tmp/svt-leak-far-%d", (int)getpid());
	/* 2e-4 deg of latitude: the val clip starts about 22 m - 9 m = 13 m past the train clip's
	 * end, well inside the 50 m buffer. */
	write_dataset(near, 2e-4);
	/* 2e-3 deg: about 220 m apart. */
	write_dataset(far, 2e-3);
	cr_expect_eq(verify(near), 1, "a leak within the buffer must fail verify");
	cr_expect_eq(verify(far), 0, "clips 200 m apart must pass");
	snprintf(cmd, sizeof(cmd), "rm -rf %s %s", near, far);
	cr_expect_eq(system(cmd), 0);
}
