/* test_formats.c: shards written and read back through the public API (formats/formats.h):
 * bitwise round trips for every codec this machine can decode, rotation, the master file, the
 * manifest, interrupted writers, corrupt and truncated files, and HDF5 object leaks. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "formats/formats.h"

#define T_ 9
#define H_ 40
#define W_ 72

/* A synthetic clip: a moving gradient with deterministic noise (so codecs see real entropy)
 * and poses along a straight street. Arrays are static: one clip at a time. */
typedef struct synth {
	char id[64];
	double w2c[T_ * 16], K[T_ * 4], llh[T_ * 3], proj[T_ * 3], heading[T_], dist[T_];
	int64_t time_us[T_];
	uint8_t frames[T_][H_ * W_ * 3];
	float depth[T_][H_ * W_];
	fmt_caption cap[2];
	fmt_clip_desc d;
} synth;

static void synth_make(synth *s, int seed, const char *split)
{
	memset(s, 0, sizeof(*s));
	snprintf(s->id, sizeof(s->id), "clip-%03d", seed);
	uint32_t x = 2463534242u + (uint32_t)seed * 7919u;
	for (int t = 0; t < T_; t++) {
		double yaw = 0.1 * t + seed, c = cos(yaw), sn = sin(yaw);
		double R[9] = {c, -sn, 0, 0, 0, -1, sn, c, 0};
		double C[3] = {1.5 * t + seed, 0.25 * t, 2.0};
		double *m = s->w2c + 16 * t;
		for (int i = 0; i < 3; i++) {
			for (int j = 0; j < 3; j++)
				m[4 * i + j] = R[3 * i + j];
			m[4 * i + 3] = -(R[3 * i] * C[0] + R[3 * i + 1] * C[1] + R[3 * i + 2] * C[2]);
		}
		m[15] = 1;
		double *k = s->K + 4 * t;
		k[0] = 600.123456789 + t;
		k[1] = 600.987654321;
		k[2] = W_ / 2.0;
		k[3] = H_ / 2.0;
		s->llh[3 * t] = 37.5665 + 1e-5 * t;
		s->llh[3 * t + 1] = 126.978 + 1e-5 * t + seed * 1e-3;
		s->llh[3 * t + 2] = 38.5 + 0.01 * t;
		s->proj[3 * t] = 198000.0 + t;
		s->proj[3 * t + 1] = 551900.0 + t;
		s->proj[3 * t + 2] = 38.5;
		s->heading[t] = fmod(90.0 + t, 360.0);
		s->dist[t] = 1.5 * t;
		s->time_us[t] = 1767225600000000LL + 100000LL * t + seed;
		for (int p = 0; p < H_ * W_ * 3; p++) {
			x ^= x << 13;
			x ^= x >> 17;
			x ^= x << 5;
			s->frames[t][p] = (uint8_t)((p / 3 % W_) * 3 + t * 7 + (x & 15));
		}
		for (int p = 0; p < H_ * W_; p++)
			s->depth[t][p] = 2.0f + (float)(p % W_) * 1.37f + (float)(p / W_) * 0.011f * t;
		/* Invalid depths, all to be stored as 0. */
		s->depth[t][0] = 0.0f;
		s->depth[t][1] = NAN;
		s->depth[t][2] = -3.0f;
		s->depth[t][3] = INFINITY;
		s->depth[t][4] = 1e6f;
	}
	s->cap[0] = (fmt_caption){0, 4, "a drive east along Sejong-daero, morning"};
	s->cap[1] = (fmt_caption){5, T_ - 1, "\xec\x84\xb8\xec\xa2\x85\xeb\x8c\x80\xeb\xa1\x9c (UTF-8)"};
	s->d = (fmt_clip_desc){
		.id = s->id, .T = T_, .H = H_, .W = W_, .w2c = s->w2c, .K = s->K, .llh = s->llh,
		.proj = s->proj, .heading = s->heading, .dist_m = s->dist, .time_us = s->time_us,
		.fps = 10.0, .split = split, .district = "Jung-gu", .captions = s->cap,
		.n_captions = 2, .source_frames = "a.jpg\nb.jpg\n", .depth = 1};
}

static fmt_shard_info test_info(void)
{
	return (fmt_shard_info){.crs_epsg = 5186, .enu_origin_llh = {37.5665, 126.978, 38.5},
				.enu_origin_proj = {198000.0, 551900.0, 38.5},
				.source = "test capture"};
}

static void tmpdir(char *buf, size_t cap)
{
	snprintf(buf, cap, "/tmp/svt-fmt-XXXXXX");
	cr_assert(mkdtemp(buf), "mkdtemp");
	(void)cap;
}

static void write_clip(fmt_writer *w, synth *s)
{
	svt_err e = {0};
	cr_assert_eq(fmt_clip_begin(w, &s->d, &e), 0, "%s", e.msg);
	/* Out of order on purpose: chunks are addressed by their frame index. */
	for (int t = T_ - 1; t >= 0; t--) {
		cr_assert_eq(fmt_clip_frame(w, t, s->frames[t], &e), 0, "%s", e.msg);
		if (s->d.depth)
			cr_assert_eq(fmt_clip_depth(w, t, s->depth[t], &e), 0, "%s", e.msg);
	}
	cr_assert_eq(fmt_clip_end(w, &e), 0, "%s", e.msg);
}

static int file_exists(const char *dir, const char *name)
{
	char p[512];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	struct stat st;
	return stat(p, &st) == 0;
}

static void check_clip(fmt_reader *r, size_t i, synth *s)
{
	svt_err e = {0};
	fmt_clip_data c;
	cr_assert_str_eq(fmt_reader_clip_id(r, i), s->id);
	cr_assert_eq(fmt_reader_clip(r, i, &c, &e), 0, "%s", e.msg);
	cr_assert_eq(c.T, T_);
	cr_assert_eq(c.H, H_);
	cr_assert_eq(c.W, W_);
	cr_assert_eq(memcmp(c.w2c, s->w2c, sizeof(s->w2c)), 0, "w2c differs");
	cr_assert_eq(memcmp(c.K, s->K, sizeof(s->K)), 0, "K differs");
	cr_assert_eq(memcmp(c.llh, s->llh, sizeof(s->llh)), 0, "llh differs");
	cr_assert_eq(memcmp(c.proj, s->proj, sizeof(s->proj)), 0, "proj differs");
	cr_assert_eq(memcmp(c.heading, s->heading, sizeof(s->heading)), 0, "heading differs");
	cr_assert_eq(memcmp(c.dist_m, s->dist, sizeof(s->dist)), 0, "dist differs");
	cr_assert_eq(memcmp(c.time_us, s->time_us, sizeof(s->time_us)), 0, "timestamps differ");
	cr_assert_float_eq(c.fps, 10.0, 0);
	cr_assert_str_eq(c.split, s->d.split);
	fmt_clip_data_free(&c);
	static uint8_t got[T_][H_ * W_ * 3];
	memset(got, 0xAA, sizeof(got));
	cr_assert_eq(fmt_reader_frames(r, i, 0, T_, got[0], &e), 0, "%s", e.msg);
	cr_assert_eq(memcmp(got, s->frames, sizeof(got)), 0, "frames differ");
	/* A range in the middle. */
	cr_assert_eq(fmt_reader_frames(r, i, 3, 2, got[0], &e), 0, "%s", e.msg);
	cr_assert_eq(memcmp(got[0], s->frames[3], 2 * sizeof(got[0])), 0, "frames 3..4 differ");
	cr_assert_neq(fmt_reader_frames(r, i, T_ - 1, 2, got[0], &e), 0, "read past the end");

	/* Depth: float16 metres, within half a unit in the last place; invalid ones are 0. */
	static float dep[T_][H_ * W_];
	cr_assert_eq(fmt_reader_depth(r, i, 0, T_, dep[0], &e), 0, "%s", e.msg);
	for (int t = 0; t < T_; t++) {
		for (int p = 0; p < H_ * W_; p++) {
			float want = s->depth[t][p], g = dep[t][p];
			if (p < 5) {
				cr_assert_eq(g, 0.0f, "invalid depth %g stored as %g", (double)want,
					     (double)g);
				continue;
			}
			float ulp = exp2f(floorf(log2f(want)) - 10);
			cr_assert(fabsf(g - want) <= ulp / 2, "depth %g read as %g", (double)want,
				  (double)g);
		}
	}
}

/* The dataset in dir verifies (fmt_dataset_verify: every shard's SHA-256 read back). */
static void expect_verifies(const char *dir)
{
	svt_err e = {0};
	char out[8192] = "";
	FILE *mf = fmemopen(out, sizeof(out) - 1, "w");
	cr_assert_eq(fmt_dataset_verify(dir, mf, &e), 0, "verify: %s", out);
	fclose(mf);
}

/* The dataset in dir verifies, and its master file holds these n clips, in order; then dir
 * goes. */
static void expect_dataset(const char *dir, synth **clips, size_t n)
{
	svt_err e = {0};
	expect_verifies(dir);
	char path[128];
	snprintf(path, sizeof(path), "%s/master.h5", dir);
	fmt_reader *r = NULL;
	cr_assert_eq(fmt_reader_open(path, &r, &e), 0, "%s", e.msg);
	cr_assert_eq(fmt_reader_clip_count(r), n);
	for (size_t k = 0; k < n; k++)
		check_clip(r, k, clips[k]);
	fmt_reader_close(r);
	char cmd[160];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}

static void roundtrip(fmt_codec codec, int level)
{
	if (!fmt_codec_available(codec))
		cr_skip_test("codec %s: its HDF5 filter plugin is not installed here",
			     fmt_codec_name(codec));
	char dir[64];
	tmpdir(dir, sizeof(dir));
	static synth a, b;
	synth_make(&a, 1, "train");
	synth_make(&b, 2, "val");
	fmt_writer_opts o;
	fmt_writer_opts_default(&o);
	o.codec = codec;
	o.level = level;
	o.threads = 2;
	fmt_shard_info info = test_info();
	fmt_writer *w = NULL;
	svt_err e = {0};
	cr_assert_eq(fmt_writer_create(dir, "rt", &info, &o, &w, &e), 0, "%s", e.msg);
	/* The shard is built in memory: nothing on disk, under any name, until the commit. */
	cr_assert(!file_exists(dir, "rt-00000.h5.tmp"));
	cr_assert(!file_exists(dir, "rt-00000.h5"));
	write_clip(w, &a);
	write_clip(w, &b);
	cr_assert_eq(fmt_writer_close(w, &e), 0, "%s", e.msg);
	cr_assert(file_exists(dir, "rt-00000.h5"));
	cr_assert(!file_exists(dir, "rt-00000.h5.tmp"));
	cr_assert(file_exists(dir, "manifest.json"));
	cr_assert(file_exists(dir, "master.h5"));

	char path[128];
	snprintf(path, sizeof(path), "%s/rt-00000.h5", dir);
	fmt_reader *r = NULL;
	cr_assert_eq(fmt_reader_open(path, &r, &e), 0, "%s", e.msg);
	cr_assert_eq(fmt_reader_clip_count(r), 2);
	fmt_shard_info got;
	cr_assert_eq(fmt_reader_info(r, &got, &e), 0, "%s", e.msg);
	cr_assert_eq(got.crs_epsg, 5186);
	cr_assert_eq(memcmp(got.enu_origin_llh, info.enu_origin_llh, 24), 0);
	cr_assert_eq(memcmp(got.enu_origin_proj, info.enu_origin_proj, 24), 0);
	char s[64];
	cr_assert_eq(fmt_reader_attr_str(r, "codec", s, sizeof(s), &e), 0, "%s", e.msg);
	cr_assert_str_eq(s, fmt_codec_name(codec));
	cr_assert_eq(fmt_reader_attr_str(r, "camera_convention", s, sizeof(s), &e), 0);
	cr_assert_str_eq(s, "opencv");
	check_clip(r, 0, &a);
	check_clip(r, 1, &b);
	fmt_reader_close(r);
	cr_assert_eq(fmt_open_object_count(), 0, "%ld HDF5 objects left open",
		     fmt_open_object_count());

	FILE *dn = fopen("/dev/null", "w");
	cr_assert_eq(fmt_dataset_verify(dir, dn, &e), 0, "verify: %s", e.msg);
	fclose(dn);
	cr_assert_eq(fmt_open_object_count(), 0, "verify leaks %ld objects",
		     fmt_open_object_count());
	char cmd[160];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}

Test(formats, roundtrip_none) { roundtrip(FMT_CODEC_NONE, 0); }
Test(formats, roundtrip_gzip) { roundtrip(FMT_CODEC_GZIP, 1); }
Test(formats, roundtrip_gzip9) { roundtrip(FMT_CODEC_GZIP, 9); }
Test(formats, roundtrip_lz4) { roundtrip(FMT_CODEC_LZ4, 0); }
Test(formats, roundtrip_zstd) { roundtrip(FMT_CODEC_ZSTD, 3); }
Test(formats, roundtrip_blosc) { roundtrip(FMT_CODEC_BLOSC, 5); }
/* The commit's fallback (the image copied out with H5Fget_file_image, for an HDF5 whose core
 * driver handle is not its buffer) writes a shard that reads back and verifies (verify rehashes
 * it against the SHA-256 taken while it was written). */
Test(formats, roundtrip_image_copied)
{
	cr_assert_eq(setenv("SVT_H5_IMAGE_COPY", "1", 1), 0);
	roundtrip(FMT_CODEC_LZ4, 0);
	unsetenv("SVT_H5_IMAGE_COPY");
}

/* A clip dropped after some of its frames (fmt_clip_abort: what the job does when a frame it
 * streams turns out bad) leaves the shard whole: the clip given again under the same id
 * afterwards is the one stored, and the dataset verifies. */
Test(formats, aborted_clip_leaves_a_whole_shard)
{
	char dir[64];
	tmpdir(dir, sizeof(dir));
	static synth a;
	synth_make(&a, 4, "train");
	fmt_writer_opts o;
	fmt_writer_opts_default(&o);
	fmt_shard_info info = test_info();
	fmt_writer *w = NULL;
	svt_err e = {0};
	cr_assert_eq(fmt_writer_create(dir, "ab", &info, &o, &w, &e), 0, "%s", e.msg);
	cr_assert_eq(fmt_clip_begin(w, &a.d, &e), 0, "%s", e.msg);
	for (int t = 0; t < 3; t++)
		cr_assert_eq(fmt_clip_frame(w, t, a.frames[T_ - 1 - t], &e), 0, "%s", e.msg);
	fmt_clip_abort(w);
	fmt_clip_abort(w); /* nothing begun: harmless */
	write_clip(w, &a);
	cr_assert_eq(fmt_writer_close(w, &e), 0, "%s", e.msg);
	synth *all[] = {&a};
	expect_dataset(dir, all, 1);
}

/* A shard whose final pages were written while it was built (SVT_SHARD_STREAM_MIN=1: every
 * chunk handed to the image's writing thread at once) is the image, byte for byte: the file's
 * SHA-256 (verify reads it back) is the one the commit took of the image, and every clip reads
 * back, with the default codec and LZ4. A clip is dropped after its frames were written, and
 * HDF5 gives their space to the next clip's chunks: the pages written with the dropped clip's
 * bytes must be written again (the image forgets a dropped clip's chunks, and a page that two
 * chunks claim is never final; with both rules off this test fails). The .tmp file holds
 * pages before the commit. */
Test(formats, streamed_shard_is_its_image)
{
	cr_assert_eq(setenv("SVT_SHARD_STREAM_MIN", "1", 1), 0);
	for (int codec = 0; codec < 2; codec++) {
		char dir[64];
		tmpdir(dir, sizeof(dir));
		static synth a, b, c;
		synth_make(&a, 11, "train");
		synth_make(&b, 12, "train");
		synth_make(&c, 13, "val");
		fmt_writer_opts o;
		fmt_writer_opts_default(&o);
		if (codec)
			o.codec = FMT_CODEC_LZ4;
		fmt_shard_info info = test_info();
		fmt_writer *w = NULL;
		svt_err e = {0};
		cr_assert_eq(fmt_writer_create(dir, "st", &info, &o, &w, &e), 0, "%s", e.msg);
		write_clip(w, &a);
		/* dropped after some frames: its chunks' pages were handed over */
		cr_assert_eq(fmt_clip_begin(w, &c.d, &e), 0, "%s", e.msg);
		for (int t = 0; t < T_; t++)
			cr_assert_eq(fmt_clip_frame(w, t, c.frames[t], &e), 0, "%s", e.msg);
		fmt_clip_abort(w);
		write_clip(w, &b);
		write_clip(w, &c);
		char tmp[128];
		snprintf(tmp, sizeof(tmp), "%s/st-00000.h5.tmp", dir);
		struct stat st;
		cr_expect(stat(tmp, &st) == 0 && st.st_size > 0, "nothing written before the commit");
		cr_assert_eq(fmt_writer_close(w, &e), 0, "%s", e.msg);
		cr_expect(!file_exists(dir, "st-00000.h5.tmp"));
		synth *all[] = {&a, &b, &c};
		expect_dataset(dir, all, 3);
	}
	unsetenv("SVT_SHARD_STREAM_MIN");
}

/* The commit hashes on a thread in the writer's gate while the caller, who holds the gate's
 * only place, waits on the disk: the place must stay free for the hash until it is done. A
 * caller that took it back before joining the hash waited forever whenever the hash had not
 * yet entered (seen under load in tests/test_resume.c; here it depends on timing, so this
 * test guards the commit in a gate of one rather than proving the order). Tiny shards: a
 * commit at every clip. */
Test(formats, commit_in_a_gate_of_one, .timeout = 60)
{
	char dir[64];
	tmpdir(dir, sizeof(dir));
	static synth a, b;
	synth_make(&a, 5, "train");
	synth_make(&b, 6, "train");
	svt_gate *g = svt_gate_create(1);
	cr_assert_not_null(g);
	svt_gate_enter(g);
	fmt_writer_opts o;
	fmt_writer_opts_default(&o);
	o.gate = g;
	o.target_bytes = 1; /* rotate after every clip */
	fmt_shard_info info = test_info();
	fmt_writer *w = NULL;
	svt_err e = {0};
	cr_assert_eq(fmt_writer_create(dir, "g1", &info, &o, &w, &e), 0, "%s", e.msg);
	write_clip(w, &a);
	write_clip(w, &b);
	cr_assert_eq(fmt_writer_close(w, &e), 0, "%s", e.msg);
	svt_gate_leave(g);
	svt_gate_destroy(g);
	expect_verifies(dir);
	char cmd[160];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}

Test(formats, codec_parse)
{
	fmt_codec c;
	int lv;
	svt_err e = {0};
	cr_assert_eq(fmt_codec_parse("gzip:4", &c, &lv, &e), 0);
	cr_assert_eq(c, FMT_CODEC_GZIP);
	cr_assert_eq(lv, 4);
	cr_assert_eq(fmt_codec_parse("lz4", &c, &lv, &e), 0);
	cr_assert_eq(c, FMT_CODEC_LZ4);
	cr_assert_eq(fmt_codec_parse("gzip", &c, &lv, &e), 0);
	cr_assert_eq(lv, 1);
	cr_assert_eq(fmt_codec_parse("gzip:10", &c, &lv, &e), SVT_E_INPUT);
	cr_assert_eq(fmt_codec_parse("gzip:", &c, &lv, &e), SVT_E_INPUT);
	cr_assert_eq(fmt_codec_parse("lzma", &c, &lv, &e), SVT_E_INPUT);
	cr_assert_str_eq(fmt_codec_name(FMT_CODEC_BLOSC), "blosc");
	int dl = -1;
	fmt_codec d = fmt_codec_default(&dl);
	cr_assert(d == (fmt_codec_available(FMT_CODEC_LZ4) ? FMT_CODEC_LZ4 : FMT_CODEC_GZIP));
}

Test(formats, rotation_master_manifest)
{
	char dir[64], path[128];
	tmpdir(dir, sizeof(dir));
	static synth s[3];
	fmt_writer_opts o;
	fmt_writer_opts_default(&o);
	o.threads = 1;
	o.target_bytes = 30000; /* about one clip of these: the shard rotates after each */
	fmt_shard_info info = test_info();
	fmt_writer *w = NULL;
	svt_err e = {0};
	cr_assert_eq(fmt_writer_create(dir, "rot", &info, &o, &w, &e), 0, "%s", e.msg);
	for (int i = 0; i < 3; i++) {
		synth_make(&s[i], 10 + i, i == 2 ? "test" : "train");
		write_clip(w, &s[i]);
	}
	cr_assert_eq(fmt_writer_close(w, &e), 0, "%s", e.msg);
	for (int i = 0; i < 3; i++) {
		char n[32];
		snprintf(n, sizeof(n), "rot-%05d.h5", i);
		cr_assert(file_exists(dir, n), "%s missing", n);
	}
	cr_assert(!file_exists(dir, "rot-00003.h5"), "an empty trailing shard was kept");

	snprintf(path, sizeof(path), "%s/manifest.json", dir);
	json_error_t je;
	json_t *m = json_load_file(path, 0, &je);
	cr_assert(m, "%s", je.text);
	json_t *shards = json_object_get(m, "shards");
	cr_assert_eq(json_array_size(shards), 3);
	cr_assert_eq(json_integer_value(json_object_get(m, "total_frames")), 3 * T_);
	for (size_t i = 0; i < 3; i++) {
		json_t *sh = json_array_get(shards, i);
		cr_assert_eq(json_integer_value(json_object_get(sh, "clips")), 1);
		cr_assert_eq(strlen(json_string_value(json_object_get(sh, "sha256"))), 64);
		char p[160];
		snprintf(p, sizeof(p), "%s/%s", dir, json_string_value(json_object_get(sh, "file")));
		struct stat st;
		cr_assert_eq(stat(p, &st), 0);
		cr_assert_eq((json_int_t)st.st_size, json_integer_value(json_object_get(sh, "bytes")));
	}
	json_decref(m);

	/* The master file reads all shards as one, from another working directory too. */
	snprintf(path, sizeof(path), "%s/master.h5", dir);
	char cwd[512];
	cr_assert(getcwd(cwd, sizeof(cwd)));
	cr_assert_eq(chdir("/"), 0);
	fmt_reader *r = NULL;
	cr_assert_eq(fmt_reader_open(path, &r, &e), 0, "%s", e.msg);
	cr_assert(fmt_reader_is_master(r));
	cr_assert_eq(fmt_reader_clip_count(r), 3);
	for (size_t i = 0; i < 3; i++) {
		const char *sh = NULL;
		cr_assert_eq(fmt_reader_clip_shard(r, i, &sh), 0);
		char want[32];
		snprintf(want, sizeof(want), "rot-%05zu.h5", i);
		cr_assert_str_eq(sh, want);
		check_clip(r, i, &s[i]);
	}
	fmt_reader_close(r);
	cr_assert_eq(chdir(cwd), 0);
	cr_assert_eq(fmt_open_object_count(), 0, "%ld HDF5 objects left open",
		     fmt_open_object_count());
	FILE *dn = fopen("/dev/null", "w");
	cr_assert_eq(fmt_dataset_verify(dir, dn, &e), 0, "verify: %s", e.msg);

	/* A shard the manifest does not know, and one whose bytes changed, are both caught. */
	char cmd[400];
	snprintf(cmd, sizeof(cmd), "cp %s/rot-00000.h5 %s/extra-00000.h5", dir, dir);
	cr_assert_eq(system(cmd), 0);
	cr_assert_neq(fmt_dataset_verify(dir, dn, &e), 0, "an unlisted shard passed");
	snprintf(cmd, sizeof(cmd), "rm %s/extra-00000.h5 && printf 'X' | dd of=%s/rot-00001.h5 "
		 "bs=1 seek=20000 conv=notrunc status=none", dir, dir);
	cr_assert_eq(system(cmd), 0);
	cr_assert_neq(fmt_dataset_verify(dir, dn, &e), 0, "a changed shard passed");
	fclose(dn);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}

/* A writer killed halfway (no close, no abort) leaves no shard: it is built in memory (a kill
 * during the commit's write leaves a .tmp, which verify names); abort leaves nothing. */
Test(formats, interrupted_writer_leaves_no_final_name)
{
	char dir[64];
	tmpdir(dir, sizeof(dir));
	static synth s;
	synth_make(&s, 3, "train");
	pid_t pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		fmt_writer_opts o;
		fmt_writer_opts_default(&o);
		fmt_shard_info info = test_info();
		fmt_writer *w = NULL;
		svt_err e = {0};
		if (fmt_writer_create(dir, "cut", &info, &o, &w, &e) ||
		    fmt_clip_begin(w, &s.d, &e))
			_exit(3);
		for (int t = 0; t < T_ / 2; t++)
			fmt_clip_frame(w, t, s.frames[t], &e);
		_exit(0); /* as if killed: nothing flushed, nothing renamed */
	}
	int st = 0;
	waitpid(pid, &st, 0);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child failed");
	cr_assert(!file_exists(dir, "cut-00000.h5.tmp"));
	cr_assert(!file_exists(dir, "cut-00000.h5"));
	cr_assert(!file_exists(dir, "manifest.json"));
	/* What a kill in the middle of the commit's write leaves: the start of a shard. */
	char cmd[200];
	snprintf(cmd, sizeof(cmd), "head -c 3000 /dev/zero > %s/cut-00000.h5.tmp", dir);
	cr_assert_eq(system(cmd), 0);
	char out[4096] = "";
	FILE *mf = fmemopen(out, sizeof(out) - 1, "w");
	svt_err e = {0};
	cr_assert_neq(fmt_dataset_verify(dir, mf, &e), 0, "verify accepted a crashed build");
	fclose(mf);
	cr_assert(strstr(out, "cut-00000.h5.tmp"), "the report does not name the .tmp: %s", out);

	/* In-process abort: the temporary file goes away. */
	fmt_writer_opts o;
	fmt_writer_opts_default(&o);
	fmt_shard_info info = test_info();
	fmt_writer *w = NULL;
	cr_assert_eq(fmt_writer_create(dir, "ab", &info, &o, &w, &e), 0, "%s", e.msg);
	cr_assert_eq(fmt_clip_begin(w, &s.d, &e), 0, "%s", e.msg);
	cr_assert_eq(fmt_clip_frame(w, 0, s.frames[0], &e), 0, "%s", e.msg);
	fmt_writer_abort(w);
	cr_assert(!file_exists(dir, "ab-00000.h5.tmp"));
	cr_assert(!file_exists(dir, "ab-00000.h5"));
	cr_assert_eq(fmt_open_object_count(), 0);
	fmt_writer_abort(NULL);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}

Test(formats, writer_refuses_bad_input)
{
	char dir[64];
	tmpdir(dir, sizeof(dir));
	static synth s;
	synth_make(&s, 4, "train");
	fmt_writer_opts o;
	fmt_writer_opts_default(&o);
	fmt_shard_info info = test_info();
	fmt_writer *w = NULL;
	svt_err e = {0};
	cr_assert_eq(fmt_writer_create(dir, "bad/name", &info, &o, &w, &e), SVT_E_INPUT);
	cr_assert_eq(fmt_writer_create(dir, "in", &info, &o, &w, &e), 0, "%s", e.msg);
	fmt_clip_desc d = s.d;
	d.split = "holdout";
	cr_assert_eq(fmt_clip_begin(w, &d, &e), SVT_E_INPUT);
	d = s.d;
	d.id = "no/slash";
	cr_assert_eq(fmt_clip_begin(w, &d, &e), SVT_E_INPUT);
	d = s.d;
	double nanpose[T_ * 16];
	memcpy(nanpose, s.w2c, sizeof(nanpose));
	nanpose[5] = NAN;
	d.w2c = nanpose;
	cr_assert_eq(fmt_clip_begin(w, &d, &e), SVT_E_INPUT);
	d = s.d;
	fmt_caption badcap = {3, T_, "past the end"};
	d.captions = &badcap;
	d.n_captions = 1;
	cr_assert_eq(fmt_clip_begin(w, &d, &e), SVT_E_INPUT);
	/* A clip missing a frame is refused at its end and dropped; the writer goes on. */
	cr_assert_eq(fmt_clip_begin(w, &s.d, &e), 0, "%s", e.msg);
	cr_assert_eq(fmt_clip_frame(w, T_, s.frames[0], &e), SVT_E_INPUT);
	for (int t = 0; t < T_ - 1; t++)
		cr_assert_eq(fmt_clip_frame(w, t, s.frames[t], &e), 0, "%s", e.msg);
	cr_assert_eq(fmt_clip_frame(w, 0, s.frames[0], &e), SVT_E_INPUT, "a repeated frame");
	cr_assert_eq(fmt_clip_end(w, &e), SVT_E_INPUT);
	cr_assert(strstr(e.msg, "of 9 frames"), "%s", e.msg);
	/* All frames but one depth map missing: refused as well. */
	cr_assert_eq(fmt_clip_begin(w, &s.d, &e), 0, "%s", e.msg);
	for (int t = 0; t < T_; t++) {
		cr_assert_eq(fmt_clip_frame(w, t, s.frames[t], &e), 0, "%s", e.msg);
		if (t != 4)
			cr_assert_eq(fmt_clip_depth(w, t, s.depth[t], &e), 0, "%s", e.msg);
	}
	cr_assert_eq(fmt_clip_end(w, &e), SVT_E_INPUT);
	cr_assert(strstr(e.msg, "8 of 9 depth maps"), "%s", e.msg);
	write_clip(w, &s); /* the same id again: the dropped clips left nothing behind */
	cr_assert_eq(fmt_clip_begin(w, &s.d, &e), SVT_E_INPUT, "a duplicate id was accepted");
	cr_assert_eq(fmt_writer_close(w, &e), 0, "%s", e.msg);
	FILE *dn = fopen("/dev/null", "w");
	cr_assert_eq(fmt_dataset_verify(dir, dn, &e), 0, "verify: %s", e.msg);
	fclose(dn);
	char cmd[160];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}

/* Damaged files come back as errors, never crashes and never silent bad pixels. */
Test(formats, corrupt_and_truncated_shards)
{
	char dir[64], path[128], cmd[400];
	tmpdir(dir, sizeof(dir));
	static synth s;
	synth_make(&s, 5, "train");
	fmt_writer_opts o;
	fmt_writer_opts_default(&o);
	o.codec = FMT_CODEC_NONE; /* raw frames: the flipped byte lands in pixels, so only
				   * Fletcher32 can catch it */
	fmt_shard_info info = test_info();
	fmt_writer *w = NULL;
	svt_err e = {0};
	cr_assert_eq(fmt_writer_create(dir, "cr", &info, &o, &w, &e), 0, "%s", e.msg);
	write_clip(w, &s);
	cr_assert_eq(fmt_writer_close(w, &e), 0, "%s", e.msg);
	snprintf(path, sizeof(path), "%s/cr-00000.h5", dir);

	/* Find frame 4 in the file by its bytes and change one pixel. */
	FILE *f = fopen(path, "r+b");
	cr_assert(f);
	fseek(f, 0, SEEK_END);
	long size = ftell(f);
	uint8_t *all = malloc((size_t)size);
	fseek(f, 0, SEEK_SET);
	cr_assert_eq(fread(all, 1, (size_t)size, f), (size_t)size);
	long at = -1;
	for (long i = 0; i + (long)sizeof(s.frames[4]) <= size && at < 0; i++)
		if (!memcmp(all + i, s.frames[4], sizeof(s.frames[4])))
			at = i;
	cr_assert(at >= 0, "frame 4 not found raw in the file");
	fseek(f, at + 1000, SEEK_SET);
	fputc(all[at + 1000] ^ 0x40, f);
	fclose(f);
	free(all);

	fmt_reader *r = NULL;
	cr_assert_eq(fmt_reader_open(path, &r, &e), 0, "%s", e.msg);
	static uint8_t got[H_ * W_ * 3];
	cr_assert_eq(fmt_reader_frames(r, 0, 3, 1, got, &e), 0, "%s", e.msg);
	cr_assert_neq(fmt_reader_frames(r, 0, 4, 1, got, &e), 0, "a corrupt chunk was read");
	fmt_reader_close(r);
	cr_assert_eq(fmt_open_object_count(), 0);
	FILE *dn = fopen("/dev/null", "w");
	cr_assert_neq(fmt_dataset_verify(dir, dn, &e), 0);

	/* Truncated to half, to 100 bytes, empty, not HDF5 at all. */
	long cuts[] = {size / 2, 100, 0};
	for (size_t k = 0; k < 3; k++) {
		snprintf(cmd, sizeof(cmd), "cp %s %s/t.h5 && truncate -s %ld %s/t.h5", path, dir,
			 cuts[k], dir);
		cr_assert_eq(system(cmd), 0);
		snprintf(cmd, sizeof(cmd), "%s/t.h5", dir);
		int rc = fmt_reader_open(cmd, &r, &e);
		if (rc == 0) {
			/* Opening may succeed when the metadata is intact: the data then fails. */
			int bad = 0;
			for (int t = 0; t < T_; t++)
				bad |= fmt_reader_frames(r, 0, t, 1, got, &e) != 0;
			cr_assert(bad, "a shard truncated to %ld bytes read whole", cuts[k]);
			fmt_reader_close(r);
		}
		cr_assert_eq(fmt_shard_inspect(cmd, dn, &e) != 0 || rc == 0, 1);
	}
	snprintf(cmd, sizeof(cmd), "%s/manifest.json", dir);
	cr_assert_eq(fmt_reader_open(cmd, &r, &e), SVT_E_FORMAT, "%s", e.msg);
	cr_assert_eq(r, NULL);
	cr_expect(strstr(e.msg, "not a readable HDF5 file"), "%s", e.msg);
	/* A missing file says so (not "not HDF5"). */
	cr_assert_eq(fmt_reader_open("/nonexistent/x.h5", &r, &e), SVT_E_NOTFOUND, "%s", e.msg);
	cr_expect(strstr(e.msg, "No such file"), "%s", e.msg);
	fclose(dn);
	cr_assert_eq(fmt_open_object_count(), 0);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}

Test(formats, inspect_prints_the_shard)
{
	char dir[64], path[128];
	tmpdir(dir, sizeof(dir));
	static synth s;
	synth_make(&s, 6, "test");
	fmt_writer_opts o;
	fmt_writer_opts_default(&o);
	fmt_shard_info info = test_info();
	fmt_writer *w = NULL;
	svt_err e = {0};
	cr_assert_eq(fmt_writer_create(dir, "in", &info, &o, &w, &e), 0, "%s", e.msg);
	write_clip(w, &s);
	cr_assert_eq(fmt_writer_close(w, &e), 0, "%s", e.msg);
	snprintf(path, sizeof(path), "%s/in-00000.h5", dir);
	static char out[16384];
	FILE *mf = fmemopen(out, sizeof(out) - 1, "w");
	cr_assert_eq(fmt_shard_inspect(path, mf, &e), 0, "%s", e.msg);
	fclose(mf);
	cr_assert(strstr(out, "svtwin.cosmos_shard"), "%s", out);
	cr_assert(strstr(out, "EPSG:5186"), "%s", out);
	cr_assert(strstr(out, "clip clip-006"), "%s", out);
	cr_assert(strstr(out, "uint8 [9, 40, 72, 3] chunk (1, 40, 72, 3)"), "%s", out);
	cr_assert(strstr(out, "split test"), "%s", out);
	cr_assert(strstr(out, "fletcher32"), "%s", out);
	cr_assert(strstr(out, "depth    float16 [9, 40, 72]"), "%s", out);
	char cmd[160];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}

/* A smaller rebuild into the same directory leaves a valid dataset: the higher-numbered
 * shards of the earlier build go once the new manifest is written. */
Test(formats, rebuild_replaces_the_prefix)
{
	char dir[64];
	tmpdir(dir, sizeof(dir));
	static synth s[3];
	fmt_shard_info info = test_info();
	svt_err e = {0};
	for (int round = 0; round < 2; round++) {
		fmt_writer_opts o;
		fmt_writer_opts_default(&o);
		o.target_bytes = 30000;
		fmt_writer *w = NULL;
		cr_assert_eq(fmt_writer_create(dir, "re", &info, &o, &w, &e), 0, "%s", e.msg);
		for (int i = 0; i < (round ? 1 : 3); i++) {
			synth_make(&s[i], 20 + i + 10 * round, "train");
			write_clip(w, &s[i]);
		}
		cr_assert_eq(fmt_writer_close(w, &e), 0, "%s", e.msg);
	}
	cr_assert(file_exists(dir, "re-00000.h5"));
	cr_assert(!file_exists(dir, "re-00001.h5"), "a stale shard of the first build is left");
	cr_assert(!file_exists(dir, "re-00002.h5"), "a stale shard of the first build is left");
	FILE *dn = fopen("/dev/null", "w");
	cr_assert_eq(fmt_dataset_verify(dir, dn, &e), 0, "verify: %s", e.msg);
	fclose(dn);
	char cmd[160];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}
