/* test_formats_jpeg.c: the jpeg frame codec (frames as JPEG bytes per frame): a round trip
 * within JPEG's loss, depth kept lossless beside it, verify decoding every frame and failing
 * on a corrupt one. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "formats/formats.h"

enum { T = 5, H = 96, W = 160 };

/* Smooth gradients with a moving edge: JPEG at quality 90 keeps them within ~40 dB. */
static void frame(int t, uint8_t *rgb)
{
	for (int y = 0; y < H; y++)
		for (int x = 0; x < W; x++) {
			uint8_t *p = rgb + 3 * (y * W + x);
			p[0] = (uint8_t)(x * 255 / (W - 1));
			p[1] = (uint8_t)(y * 255 / (H - 1));
			p[2] = (uint8_t)((x + 7 * t) % W < W / 2 ? 60 : 190);
		}
}

static void write_clip(const char *dir)
{
	fmt_shard_info info = {.crs_epsg = 5186, .enu_origin_llh = {37.5666, 126.9784, 40},
			       .enu_origin_proj = {198091.7, 551896.1, 40}, .source = "jpeg test"};
	fmt_writer_opts o;
	fmt_writer_opts_default(&o);
	svt_err err = {0};
	cr_assert_eq(fmt_codec_parse("jpeg:90", &o.codec, &o.level, &err), 0, "%s", err.msg);
	cr_assert_eq(o.codec, FMT_CODEC_JPEG);
	cr_assert_eq(o.level, 90);
	fmt_writer *w = NULL;
	cr_assert_eq(fmt_writer_create(dir, "jpg", &info, &o, &w, &err), 0, "%s", err.msg);
	double w2c[T * 16] = {0}, K[T * 4], llh[T * 3];
	int64_t ts[T];
	for (int t = 0; t < T; t++) {
		for (int i = 0; i < 4; i++)
			w2c[16 * t + 5 * i] = 1;
		K[4 * t] = K[4 * t + 1] = 80;
		K[4 * t + 2] = W / 2.0;
		K[4 * t + 3] = H / 2.0;
		llh[3 * t] = 37.5666 + t * 1e-5;
		llh[3 * t + 1] = 126.9784;
		llh[3 * t + 2] = 40;
		ts[t] = (int64_t)t * 100000;
	}
	fmt_clip_desc d = {.id = "c0", .T = T, .H = H, .W = W, .w2c = w2c, .K = K, .llh = llh,
			   .time_us = ts, .fps = 10, .split = "train", .depth = 1};
	cr_assert_eq(fmt_clip_begin(w, &d, &err), 0, "%s", err.msg);
	static uint8_t rgb[H * W * 3];
	static float depth[H * W];
	for (int t = T - 1; t >= 0; t--) { /* out of order on purpose */
		frame(t, rgb);
		for (int k = 0; k < H * W; k++)
			depth[k] = (float)(1 + (k % 97) + t) * 0.25f;
		cr_assert_eq(fmt_clip_frame(w, t, rgb, &err), 0, "%s", err.msg);
		cr_assert_eq(fmt_clip_depth(w, t, depth, &err), 0, "%s", err.msg);
	}
	cr_assert_eq(fmt_clip_end(w, &err), 0, "%s", err.msg);
	cr_assert_eq(fmt_writer_close(w, &err), 0, "%s", err.msg);
}

Test(formats_jpeg, round_trip_within_jpeg_loss)
{
	char dir[64], path[128];
	snprintf(dir, sizeof(dir), "/tmp/svt-jpeg-%d", (int)getpid());
	write_clip(dir);
	snprintf(path, sizeof(path), "%s/jpg-00000.h5", dir);
	svt_err err = {0};
	fmt_reader *r = NULL;
	cr_assert_eq(fmt_reader_open(path, &r, &err), 0, "%s", err.msg);
	fmt_clip_data c;
	cr_assert_eq(fmt_reader_clip(r, 0, &c, &err), 0, "%s", err.msg);
	cr_assert_eq(c.T, T);
	cr_assert_eq(c.H, H);
	cr_assert_eq(c.W, W);
	cr_assert(c.has_depth);
	static uint8_t got[T * H * W * 3], want[H * W * 3];
	static float dgot[T * H * W];
	cr_assert_eq(fmt_reader_frames(r, 0, 0, T, got, &err), 0, "%s", err.msg);
	cr_assert_eq(fmt_reader_depth(r, 0, 0, T, dgot, &err), 0, "%s", err.msg);
	for (int t = 0; t < T; t++) {
		frame(t, want);
		double se = 0;
		for (int k = 0; k < H * W * 3; k++) {
			double e = (double)got[(size_t)t * H * W * 3 + k] - want[k];
			se += e * e;
		}
		double psnr = 10 * log10(255.0 * 255.0 / (se / (H * W * 3) + 1e-12));
		cr_expect_gt(psnr, 35.0, "frame %d: PSNR %.1f dB", t, psnr);
		/* Depth beside JPEG frames stays lossless (float16 of quarter-metre steps). */
		for (int k = 0; k < H * W; k++)
			cr_assert_float_eq(dgot[(size_t)t * H * W + k], (1 + (k % 97) + t) * 0.25f, 1e-6);
	}
	fmt_clip_data_free(&c);
	fmt_reader_close(r);
	char cmd[200];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_expect_eq(system(cmd), 0);
}

Test(formats_jpeg, verify_decodes_every_frame)
{
	const char *b = getenv("SVT_BUILD");
	char prog[256], dir[64], cmd[700];
	snprintf(prog, sizeof(prog), "%s/svtwin", b && *b ? b : "build");
	if (access(prog, X_OK) != 0)
		cr_skip_test("%s is not built: run through `make test`", prog);
	snprintf(dir, sizeof(dir), "/tmp/svt-jpegv-%d", (int)getpid());
	write_clip(dir);
	snprintf(cmd, sizeof(cmd), "%s verify %s >/dev/null 2>&1", prog, dir);
	cr_expect_eq(system(cmd), 0, "verify rejects a sound jpeg dataset");
	/* Corrupt one JPEG frame in the heap: find its SOI (FF D8 FF) after the first and flip
	 * bytes in its entropy data. */
	char path[128];
	snprintf(path, sizeof(path), "%s/jpg-00000.h5", dir);
	FILE *f = fopen(path, "r+b");
	cr_assert(f);
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	uint8_t *buf = malloc((size_t)n);
	fseek(f, 0, SEEK_SET);
	cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
	long soi = -1;
	for (long i = 0; i + 3 < n; i++)
		if (buf[i] == 0xFF && buf[i + 1] == 0xD8 && buf[i + 2] == 0xFF) {
			soi = i;
			break;
		}
	cr_assert(soi >= 0, "no JPEG found in the shard");
	/* Destroy the markers right after SOI: the frame no longer parses. */
	memset(buf + soi + 2, 0x00, 64);
	fseek(f, 0, SEEK_SET);
	cr_assert_eq(fwrite(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	free(buf);
	/* The manifest's hash fails too; verify must say no, and the reader itself must refuse
	 * the frame rather than return garbage. */
	cr_expect_eq(WEXITSTATUS(system(cmd)), 1, "verify accepts a corrupt JPEG frame");
	svt_err err = {0};
	fmt_reader *r = NULL;
	cr_assert_eq(fmt_reader_open(path, &r, &err), 0, "%s", err.msg);
	static uint8_t px[T * H * W * 3];
	int bad = 0;
	for (int t = 0; t < T; t++)
		bad += fmt_reader_frames(r, 0, t, 1, px, &err) != 0;
	cr_expect_eq(bad, 1, "%d of %d frames refused after corrupting one", bad, T);
	fmt_reader_close(r);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_expect_eq(system(cmd), 0);
}
