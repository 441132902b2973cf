/* test_dataset.c: the main job through its library API (dataset/dataset.h): per-frame results
 * through the callback against the generator's ground truth, a frame that fails only at the
 * full decode rejected late (reported once, the clip reassembled without it), parts of a build
 * that together cut exactly the whole build's clips, shards that do not depend on the thread
 * count or on the clip seam (gpu_frame_batch) the GPU route takes, a build with threads 1 that
 * never uses more than one core's worth of CPU (all its threads: views, depth, fusion,
 * compression, writing), and options refused with
 * SVT_E_INPUT. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "dataset/dataset.h"
#include "formats/formats.h"
#include "ingest/ingest.h"

static char dir[128];

static const char *samples(void)
{
	const char *s = getenv("SVT_SAMPLES");
	if (!s || !*s)
		cr_skip_test("SVT_SAMPLES is not set: run through `make test`");
	return s;
}

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/svt-dataset-%d", (int)getpid());
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf %s && mkdir -p %s", dir, dir);
	cr_assert_eq(system(cmd), 0);
	svt_log_set_level(0);
}

static void teardown(void)
{
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
}

TestSuite(dataset, .init = setup, .fini = teardown);

/* Copies samples pano_A..pano_B (and their depth maps) into dst. */
static void copy_frames(const char *dst, int a, int b)
{
	char cmd[1200];
	snprintf(cmd, sizeof(cmd),
		 "mkdir -p %s/.depth && for i in $(seq %d %d); do n=$(printf %%04d $i); "
		 "cp %s/pano_$n.jpg %s/ && cp %s/.depth/pano_$n.png %s/.depth/; done",
		 dst, a, b, samples(), dst, samples(), dst);
	cr_assert_eq(system(cmd), 0, "%s", cmd);
}

static void small_opts(dataset_opts *o, const char *cap, const char *out)
{
	dataset_opts_default(o);
	o->capture = cap;
	o->out = out;
	o->clip_frames = 9;
	o->width = 64;
	o->height = 32;
	o->codec = "gzip";
}

typedef struct seen {
	size_t rejected[INGEST_REASON_COUNT], written, calls_for_bad;
	char bad[64];
	size_t progress_calls, last_done;
	int progress_backwards;
} seen;

static void on_frame(void *user, const dataset_frame_result *r)
{
	seen *s = user;
	cr_assert(r->path && r->reason_name && r->why);
	if (r->reason == INGEST_OK) {
		cr_assert(r->clip && *r->clip, "a kept frame reported without its clip");
		s->written++;
	} else {
		cr_assert(r->reason > 0 && r->reason < INGEST_REASON_COUNT);
		cr_assert(r->clip == NULL);
		s->rejected[r->reason]++;
	}
	if (s->bad[0] && strstr(r->path, s->bad))
		s->calls_for_bad++;
}

static void on_progress(void *user, const char *stage, size_t done, size_t total)
{
	seen *s = user;
	cr_assert_str_eq(stage, "views");
	cr_assert_leq(done, total);
	s->progress_backwards |= done < s->last_done;
	s->last_done = done;
	s->progress_calls++;
}

static int run(const dataset_opts *o, seen *s, dataset_stats *st, svt_err *err)
{
	dataset_job *j = NULL;
	dataset_callbacks cb = {.frame = on_frame, .progress = on_progress, .user = s};
	int rc = dataset_job_create(o, &j, err);
	if (!rc)
		rc = dataset_job_run(j, s ? &cb : NULL, err);
	if (st)
		dataset_job_stats(j, st);
	dataset_job_destroy(j);
	return rc;
}

/* Every bad sample file is reported once with the generator's expected reason, every written
 * view once per clip, and the stats agree. */
Test(dataset, frame_results_match_ground_truth, .timeout = 300)
{
	char path[600], out[300];
	snprintf(path, sizeof(path), "%s/ground_truth.json", samples());
	json_error_t je;
	json_t *gt = json_load_file(path, 0, &je);
	cr_assert(gt, "%s: %s", path, je.text);
	snprintf(out, sizeof(out), "%s/out", dir);
	dataset_opts o;
	small_opts(&o, samples(), out);
	seen s = {0};
	dataset_stats st;
	svt_err err = {0};
	cr_assert_eq(run(&o, &s, &st, &err), 0, "%s", err.msg);
	size_t want[INGEST_REASON_COUNT] = {0}, nbad = 0, i;
	json_t *f;
	json_array_foreach(json_object_get(gt, "frames"), i, f)
	{
		const char *e = json_string_value(json_object_get(f, "expect"));
		for (int r = 1; r < INGEST_REASON_COUNT; r++)
			if (!strcmp(e, ingest_reason_name((ingest_reason)r))) {
				want[r]++;
				nbad++;
			}
	}
	json_decref(gt);
	cr_assert_gt(nbad, 0);
	for (int r = 1; r < INGEST_REASON_COUNT; r++) {
		cr_expect_eq(s.rejected[r], want[r], "%s: %zu reported, %zu expected",
			     ingest_reason_name((ingest_reason)r), s.rejected[r], want[r]);
		cr_expect_eq(st.rejected_by_reason[r], want[r]);
	}
	cr_expect_eq(st.frames_rejected, nbad);
	cr_expect_eq(st.frames_kept + st.frames_rejected, st.frames_scanned);
	cr_expect_eq(s.written, st.frames_written);
	cr_expect_eq(st.frames_written, st.clips_written * 9);
	cr_expect_gt(st.clips_written, 5);
	cr_expect(st.committed);
	cr_expect_gt(s.progress_calls, 0);
	cr_expect(!s.progress_backwards, "progress went backwards");
}

/* A JPEG whose entropy data is damaged but whose header and end marker are sound passes the
 * scan and fails at the full decode: it is rejected late, reported once, no clip holds it, and
 * the clips are reassembled from the frames left. */
Test(dataset, late_reject_is_reported_and_the_clip_reassembled, .timeout = 300)
{
	char cap[300], out[300], victim[400];
	snprintf(cap, sizeof(cap), "%s/cap", dir);
	snprintf(out, sizeof(out), "%s/out", dir);
	copy_frames(cap, 0, 27);
	snprintf(victim, sizeof(victim), "%s/pano_0004.jpg", cap);
	FILE *fp = fopen(victim, "r+b");
	cr_assert(fp);
	struct stat sb;
	cr_assert_eq(stat(victim, &sb), 0);
	/* Garbage over the middle of the scan: markers (0xFF xx) in entropy data. */
	fseek(fp, sb.st_size / 2, SEEK_SET);
	for (int k = 0; k < 4096; k++)
		fputc(k % 2 ? 0xD5 : 0xFF, fp);
	fclose(fp);

	dataset_opts o;
	small_opts(&o, cap, out);
	seen s = {0};
	snprintf(s.bad, sizeof(s.bad), "pano_0004.jpg");
	dataset_stats st;
	svt_err err = {0};
	cr_assert_eq(run(&o, &s, &st, &err), 0, "%s", err.msg);
	cr_expect_eq(s.calls_for_bad, 1, "the damaged frame was reported %zu times", s.calls_for_bad);
	cr_expect_eq(st.rejected_by_reason[INGEST_REJ_UNDECODABLE], 1);
	cr_expect_eq(s.rejected[INGEST_REJ_UNDECODABLE], 1);
	/* 27 good frames left: three clips of 9. */
	cr_expect_eq(st.clips_written, 3, "%zu clips", st.clips_written);
	char rej[400];
	snprintf(rej, sizeof(rej), "%s/rejects.jsonl", out);
	json_error_t je;
	json_t *line = json_load_file(rej, JSON_DISABLE_EOF_CHECK, &je);
	cr_assert(line, "rejects.jsonl: %s", je.text);
	cr_expect(strstr(json_string_value(json_object_get(line, "path")), "pano_0004.jpg"));
	cr_expect_str_eq(json_string_value(json_object_get(line, "reason")), "undecodable");
	json_decref(line);
	/* The clip that held it went to the writer frame by frame before the bad frame came
	 * (a streamed clip) and was dropped: the shards verify, and hold the three clips only. */
	char vout[8192] = "";
	FILE *mf = fmemopen(vout, sizeof(vout) - 1, "w");
	cr_assert_eq(fmt_dataset_verify(out, mf, &err), 0, "verify: %s", err.msg);
	fclose(mf);
	char path[400];
	snprintf(path, sizeof(path), "%s/master.h5", out);
	fmt_reader *r = NULL;
	cr_assert_eq(fmt_reader_open(path, &r, &err), 0, "%s", err.msg);
	cr_expect_eq(fmt_reader_clip_count(r), 3);
	fmt_reader_close(r);
}

/* Every clip id of a dataset, sorted, newline-joined into ids; a digest of frames, depth and
 * poses into *sum. */
static size_t dataset_ids(const char *out, char *ids, size_t cap, uint64_t *sum)
{
	char path[600];
	snprintf(path, sizeof(path), "%s/master.h5", out);
	fmt_reader *r = NULL;
	svt_err err = {0};
	cr_assert_eq(fmt_reader_open(path, &r, &err), 0, "%s: %s", path, err.msg);
	size_t n = fmt_reader_clip_count(r);
	char (*v)[64] = calloc(n ? n : 1, 64);
	*sum = 0;
	for (size_t i = 0; i < n; i++) {
		snprintf(v[i], 64, "%s", fmt_reader_clip_id(r, i));
		fmt_clip_data cd;
		cr_assert_eq(fmt_reader_clip(r, i, &cd, &err), 0, "%s", err.msg);
		size_t px = (size_t)cd.T * cd.H * cd.W;
		uint8_t *rgb = malloc(3 * px);
		float *d = malloc(px * sizeof(float));
		cr_assert_eq(fmt_reader_frames(r, i, 0, cd.T, rgb, &err), 0, "%s", err.msg);
		for (size_t k = 0; k < 3 * px; k++)
			*sum = *sum * 1099511628211ull + rgb[k];
		if (cd.has_depth) {
			cr_assert_eq(fmt_reader_depth(r, i, 0, cd.T, d, &err), 0, "%s", err.msg);
			for (size_t k = 0; k < px; k++)
				*sum = *sum * 1099511628211ull + (uint64_t)(int64_t)(d[k] * 1e4);
		}
		for (int k = 0; k < 16 * cd.T; k++)
			*sum = *sum * 31 + (uint64_t)(int64_t)(cd.w2c[k] * 1e9);
		free(rgb);
		free(d);
		fmt_clip_data_free(&cd);
	}
	fmt_reader_close(r);
	qsort(v, n, 64, (int (*)(const void *, const void *))strcmp);
	ids[0] = 0;
	size_t len = 0;
	for (size_t i = 0; i < n; i++)
		len += (size_t)snprintf(ids + len, len < cap ? cap - len : 0, "%s\n", v[i]);
	free(v);
	return n;
}

/* Two parts of a build over a capture of two sequences: each writes only its sequence's clips,
 * and together they hold exactly the clips of the whole build. */
Test(dataset, parts_together_cut_the_whole_build, .timeout = 300)
{
	char cap[300], out[3][300];
	snprintf(cap, sizeof(cap), "%s/cap", dir);
	/* Frames 0-35 and 60-95: 24 frames (192 m) apart, more than ingest's 100 m gap. */
	copy_frames(cap, 0, 35);
	copy_frames(cap, 60, 95);
	static char ids[3][8192], both[16384];
	uint64_t sum[3];
	size_t n[3];
	for (int p = 0; p < 3; p++) {
		snprintf(out[p], sizeof(out[p]), "%s/out%d", dir, p);
		dataset_opts o;
		small_opts(&o, cap, out[p]);
		if (p > 0) {
			o.part_index = p - 1;
			o.part_count = 2;
		}
		dataset_stats st;
		svt_err err = {0};
		cr_assert_eq(run(&o, NULL, &st, &err), 0, "%s", err.msg);
		if (p > 0)
			cr_expect_gt(st.clips_skipped_part, 0, "part %d skipped nothing", p - 1);
		n[p] = dataset_ids(out[p], ids[p], sizeof(ids[p]), &sum[p]);
	}
	cr_assert_eq(n[0], 8, "the whole build cut %zu clips", n[0]);
	cr_expect_gt(n[1], 0);
	cr_expect_gt(n[2], 0);
	cr_expect_eq(n[1] + n[2], n[0]);
	/* The union, sorted: ids of part 0 and part 1 merged. */
	snprintf(both, sizeof(both), "%s%s", ids[1], ids[2]);
	char *lines[64];
	size_t nl = 0;
	for (char *t = strtok(both, "\n"); t && nl < 64; t = strtok(NULL, "\n"))
		lines[nl++] = t;
	for (size_t a = 0; a < nl; a++)
		for (size_t b = a + 1; b < nl; b++)
			if (strcmp(lines[b], lines[a]) < 0) {
				char *x = lines[a];
				lines[a] = lines[b];
				lines[b] = x;
			}
	char merged[8192] = "";
	size_t len = 0;
	for (size_t a = 0; a < nl; a++)
		len += (size_t)snprintf(merged + len, sizeof(merged) - len, "%s\n", lines[a]);
	cr_expect_str_eq(merged, ids[0]);
}

/* The shards do not depend on the number of threads: one and two give the same clips, frames,
 * depth and poses. */
Test(dataset, shards_do_not_depend_on_threads, .timeout = 300)
{
	char cap[300], out[2][300];
	snprintf(cap, sizeof(cap), "%s/cap", dir);
	copy_frames(cap, 0, 26);
	static char ids[2][8192];
	uint64_t sum[2];
	size_t n[2];
	for (int t = 0; t < 2; t++) {
		snprintf(out[t], sizeof(out[t]), "%s/out%d", dir, t);
		dataset_opts o;
		small_opts(&o, cap, out[t]);
		o.width = 160;
		o.height = 96;
		o.codec = "lz4";
		o.threads = t + 1;
		svt_err err = {0};
		cr_assert_eq(run(&o, NULL, NULL, &err), 0, "%s", err.msg);
		n[t] = dataset_ids(out[t], ids[t], sizeof(ids[t]), &sum[t]);
	}
	cr_assert_eq(n[0], 3);
	cr_expect_eq(n[0], n[1]);
	cr_expect_str_eq(ids[0], ids[1]);
	cr_expect_eq(sum[0], sum[1], "--threads 1 and 2 wrote different shards");
}

static size_t count_named(const char *d, const char *prefix, const char *suffix)
{
	DIR *dd = opendir(d);
	struct dirent *e;
	size_t n = 0, ls = strlen(suffix);
	while (dd && (e = readdir(dd))) {
		size_t l = strlen(e->d_name);
		n += !strncmp(e->d_name, prefix, strlen(prefix)) && l >= ls &&
		     !strcmp(e->d_name + l - ls, suffix);
	}
	if (dd)
		closedir(dd);
	return n;
}

/* --fresh over a finished build: the old shards and twin leave their names at once and are
 * freed beside the run (svt_trash); after it, OUT holds the new build only (fewer shards than
 * the old one had, the same clips), no trash of its own nor the one a killed run left, a
 * dataset that verifies, and a twin with its points. */
Test(dataset, fresh_rebuild_leaves_only_the_new_build, .timeout = 300)
{
	char cap[300], out[300], p[400];
	snprintf(cap, sizeof(cap), "%s/cap", dir);
	snprintf(out, sizeof(out), "%s/out", dir);
	copy_frames(cap, 0, 26);
	dataset_opts o;
	small_opts(&o, cap, out);
	o.shard_mb = 0.001; /* a shard a clip */
	svt_err err = {0};
	cr_assert_eq(run(&o, NULL, NULL, &err), 0, "%s", err.msg);
	static char ids[2][8192];
	uint64_t sum[2];
	cr_assert_eq(dataset_ids(out, ids[0], sizeof(ids[0]), &sum[0]), 3);
	cr_assert_eq(count_named(out, "cap-", ".h5"), 3, "a shard a clip");
	snprintf(p, sizeof(p), "%s/.svtwin-trash-999999999", out);
	cr_assert_eq(mkdir(p, 0700), 0);
	snprintf(p, sizeof(p), "%s/.svtwin-trash-999999999/0-cap-00000.h5", out);
	FILE *f = fopen(p, "w");
	cr_assert(f);
	fputs("a killed run's", f);
	fclose(f);
	/* verify says what the killed run left, and the dataset still verifies. */
	char vout[4096] = "";
	f = fmemopen(vout, sizeof(vout) - 1, "w");
	cr_assert(f);
	cr_expect_eq(fmt_dataset_verify(out, f, &err), 0, "%s", err.msg);
	fclose(f);
	cr_expect(strstr(vout, "note .svtwin-trash-999999999: ") && strstr(vout, "kB a killed build"),
		  "%s", vout);
	cr_expect_null(strstr(vout, "FAIL"), "%s", vout);

	o.shard_mb = 0;
	o.fresh = 1;
	cr_assert_eq(run(&o, NULL, NULL, &err), 0, "%s", err.msg);
	cr_expect_eq(count_named(out, "cap-", ".h5"), 1, "the old shards 1 and 2 are gone");
	cr_expect_eq(count_named(out, ".svtwin-trash-", ""), 0, "a trash folder is left");
	cr_expect_eq(dataset_ids(out, ids[1], sizeof(ids[1]), &sum[1]), 3);
	cr_expect_str_eq(ids[0], ids[1]);
	cr_expect_eq(sum[0], sum[1], "the rebuild holds other frames");
	FILE *devnull = fopen("/dev/null", "w");
	cr_expect_eq(fmt_dataset_verify(out, devnull, &err), 0, "%s", err.msg);
	fclose(devnull);
	snprintf(p, sizeof(p), "%s/twin/points", out);
	cr_expect_gt(count_named(p, "", ".las"), 0, "the rebuilt twin has no points");
	snprintf(p, sizeof(p), "%s/twin", out);
	cr_expect_eq(count_named(p, "twin.gpkg", ""), 1);
}

/* The bytes of a file (at most cap), for a before and after comparison. */
static size_t slurp(const char *path, char *buf, size_t cap)
{
	FILE *f = fopen(path, "rb");
	cr_assert(f, "%s", path);
	size_t n = fread(buf, 1, cap, f);
	fclose(f);
	return n;
}

/* A refused run leaves OUT as it was: --fresh with a --holdout of names no layer holds, or
 * with a districts file that is not there, once emptied OUT's twin (the rebuild's removal
 * came first) and rewrote build-config.json with the refused options, so that the next plain
 * rerun was refused too. And a new OUT is not even made. */
Test(dataset, a_refused_run_leaves_out_as_it_was, .timeout = 300)
{
	char cap[300], out[300], pts[400], cfg[400], p[400];
	snprintf(cap, sizeof(cap), "%s/cap", dir);
	snprintf(out, sizeof(out), "%s/out", dir);
	snprintf(pts, sizeof(pts), "%s/twin/points", out);
	snprintf(cfg, sizeof(cfg), "%s/build-config.json", out);
	copy_frames(cap, 0, 11);
	dataset_opts o;
	small_opts(&o, cap, out);
	svt_err err = {0};
	cr_assert_eq(run(&o, NULL, NULL, &err), 0, "%s", err.msg);
	size_t tiles = count_named(pts, "", ".las");
	cr_assert_gt(tiles, 0);
	static char before[8192], after[8192];
	size_t nb = slurp(cfg, before, sizeof(before));

	/* Each refused, naming what; OUT's twin and configuration as they were after each. */
	for (int k = 0; k < 3; k++) {
		small_opts(&o, cap, out);
		o.fresh = 1;
		static const char *const what[] = {"NoSuchDistrict", "no-such-districts",
						   "no-such-twin"};
		const char *named = what[k];
		if (k == 0)
			o.holdout = named;
		snprintf(p, sizeof(p), "%s/%s%s", dir, named, k == 1 ? ".geojson" : "");
		if (k == 1)
			o.districts = p;
		if (k == 2)
			o.refs_twin = p; /* a references' twin (a cluster rank's) not there */
		cr_expect_lt(run(&o, NULL, NULL, &err), 0, "%s", named);
		cr_expect(strstr(err.msg, named), "%s", err.msg);
		cr_expect_eq(count_named(pts, "", ".las"), tiles, "refused for %s, the rebuild "
			     "emptied the twin", named);
		size_t na = slurp(cfg, after, sizeof(after));
		cr_expect(na == nb && !memcmp(before, after, nb), "refused for %s, build-config.json "
			  "was rewritten: %.*s", named, (int)na, after);
	}

	/* The build as it was still reruns: nothing is redone. */
	small_opts(&o, cap, out);
	dataset_stats st;
	cr_assert_eq(run(&o, NULL, &st, &err), 0, "%s", err.msg);
	cr_expect_eq(st.clips_written, 0, "a plain rerun rebuilt %zu clips", st.clips_written);

	char out2[300];
	snprintf(out2, sizeof(out2), "%s/out2", dir);
	small_opts(&o, cap, out2);
	o.holdout = "NoSuchDistrict";
	cr_expect_eq(run(&o, NULL, NULL, &err), SVT_E_INPUT);
	cr_expect_neq(access(out2, F_OK), 0, "a refused run made %s", out2);
}

/* A digest of every clip's frames (colour only), in clip id order. */
static uint64_t frames_digest(const char *out, size_t *nclips)
{
	char path[600];
	snprintf(path, sizeof(path), "%s/master.h5", out);
	fmt_reader *r = NULL;
	svt_err err = {0};
	cr_assert_eq(fmt_reader_open(path, &r, &err), 0, "%s: %s", path, err.msg);
	*nclips = fmt_reader_clip_count(r);
	uint64_t sum = 0;
	for (size_t i = 0; i < *nclips; i++) {
		fmt_clip_data cd;
		cr_assert_eq(fmt_reader_clip(r, i, &cd, &err), 0, "%s", err.msg);
		size_t n = 3 * (size_t)cd.T * cd.H * cd.W;
		uint8_t *rgb = malloc(n);
		cr_assert_eq(fmt_reader_frames(r, i, 0, cd.T, rgb, &err), 0, "%s", err.msg);
		for (size_t k = 0; k < n; k++)
			sum = sum * 1099511628211ull + rgb[k];
		free(rgb);
		fmt_clip_data_free(&cd);
	}
	fmt_reader_close(r);
	return sum;
}

/* A panorama whose colours feed no points is decoded only where its view reads
 * (gpu_view_source_box, ingest_decode_opts.roi); one with a depth map is decoded whole for its
 * points' colours. The same panoramas with and without their depth maps give the same frames,
 * byte for byte, at the shard's view size and at a wide minified one (the prefilter reads
 * further). */
Test(dataset, frames_do_not_depend_on_a_whole_decode, .timeout = 300)
{
	char cap[2][300], out[2][300], cmd[1200];
	snprintf(cap[0], sizeof(cap[0]), "%s/with_depth", dir);
	snprintf(cap[1], sizeof(cap[1]), "%s/colour_only", dir);
	copy_frames(cap[0], 0, 17);
	snprintf(cmd, sizeof(cmd), "mkdir -p %s && cp %s/*.jpg %s/", cap[1], cap[0], cap[1]);
	cr_assert_eq(system(cmd), 0, "%s", cmd);
	const int size[2][2] = {{640, 352}, {96, 48}};
	const double fov[2] = {90.0, 150.0};
	for (int c = 0; c < 2; c++) {
		uint64_t sum[2];
		size_t n[2];
		for (int k = 0; k < 2; k++) {
			snprintf(out[k], sizeof(out[k]), "%s/out%d_%d", dir, c, k);
			dataset_opts o;
			small_opts(&o, cap[k], out[k]);
			o.width = size[c][0];
			o.height = size[c][1];
			o.hfov_deg = fov[c];
			o.codec = "lz4";
			dataset_stats st;
			svt_err err = {0};
			cr_assert_eq(run(&o, NULL, &st, &err), 0, "%s", err.msg);
			if (k == 0)
				cr_assert_gt(st.points_total, 0, "the depth was not fused: no whole decode");
			else
				cr_assert_eq(st.points_total, 0);
			sum[k] = frames_digest(out[k], &n[k]);
		}
		cr_assert_gt(n[0], 0);
		cr_expect_eq(n[0], n[1]);
		cr_expect_eq(sum[0], sum[1], "%dx%d, %.0f degrees: the frames of panoramas decoded "
			     "in part differ from the whole decode's", size[c][0], size[c][1], fov[c]);
	}
}

/* The clip seam (gpu_frame_batch, the route a CUDA context takes; SVT_FRAME_BATCH=1 takes it
 * on the C path) writes the shards and fuses the points the per-frame path does, byte for
 * byte, a frame damaged in its scan (libjpeg-turbo's warning) rejected late on both. */
Test(dataset, frame_batch_writes_the_per_frame_shards, .timeout = 300)
{
	char cap[300], out[2][300], victim[400];
	snprintf(cap, sizeof(cap), "%s/cap", dir);
	copy_frames(cap, 0, 27);
	snprintf(victim, sizeof(victim), "%s/pano_0004.jpg", cap);
	FILE *fp = fopen(victim, "r+b");
	cr_assert(fp);
	struct stat sb;
	cr_assert_eq(stat(victim, &sb), 0);
	fseek(fp, sb.st_size / 2, SEEK_SET);
	for (int k = 0; k < 4096; k++)
		fputc(k % 2 ? 0xD5 : 0xFF, fp);
	fclose(fp);
	static char ids[2][8192];
	uint64_t sum[2];
	size_t n[2];
	dataset_stats st[2];
	for (int t = 0; t < 2; t++) {
		snprintf(out[t], sizeof(out[t]), "%s/out%d", dir, t);
		dataset_opts o;
		small_opts(&o, cap, out[t]);
		o.width = 160;
		o.height = 96;
		o.codec = "lz4";
		o.threads = 2;
		if (t == 1)
			setenv("SVT_FRAME_BATCH", "1", 1);
		svt_err err = {0};
		int rc = run(&o, NULL, &st[t], &err);
		unsetenv("SVT_FRAME_BATCH");
		cr_assert_eq(rc, 0, "%s", err.msg);
		n[t] = dataset_ids(out[t], ids[t], sizeof(ids[t]), &sum[t]);
	}
	cr_assert_eq(n[0], 3);
	cr_expect_eq(n[0], n[1]);
	cr_expect_str_eq(ids[0], ids[1]);
	cr_expect_eq(sum[0], sum[1], "the frame batch wrote other shards");
	cr_expect_eq(st[0].rejected_by_reason[INGEST_REJ_UNDECODABLE], 1);
	cr_expect_eq(st[1].rejected_by_reason[INGEST_REJ_UNDECODABLE], 1);
	cr_expect_gt(st[0].depth_frames, 0);
	cr_expect_eq(st[0].depth_frames, st[1].depth_frames);
	cr_expect_eq(st[0].points_total, st[1].points_total);
	cr_expect_eq(st[0].frames_written, st[1].frames_written);
}

Test(dataset, bad_options_are_refused)
{
	dataset_opts o;
	dataset_job *j = (dataset_job *)&o;
	svt_err err = {0};
	small_opts(&o, "/nonexistent", "/tmp/x");
	o.part_count = 2;
	o.part_index = 2;
	cr_expect_eq(dataset_job_create(&o, &j, &err), SVT_E_INPUT);
	cr_expect_null(j);
	small_opts(&o, "/nonexistent", "/tmp/x");
	o.clip_frames = 0;
	cr_expect_eq(dataset_job_create(&o, &j, &err), SVT_E_INPUT);
	small_opts(&o, NULL, "/tmp/x");
	cr_expect_eq(dataset_job_create(&o, &j, &err), SVT_E_INPUT);
	small_opts(&o, "/nonexistent", "/tmp/x");
	o.spacing_m = 5;
	o.spacing_s = 1;
	cr_expect_eq(dataset_job_create(&o, &j, &err), SVT_E_INPUT);
	/* A geographic CRS: distances in degrees are no projection (geo_crs_check_projected). */
	small_opts(&o, "/nonexistent", "/tmp/x");
	o.epsg = 4326;
	cr_expect_lt(dataset_job_create(&o, &j, &err), 0);
	cr_expect(strstr(err.msg, "geographic"), "%s", err.msg);
	small_opts(&o, "/nonexistent", "/tmp/x");
	o.default_tz_min = 15 * 60;
	cr_expect_eq(dataset_job_create(&o, &j, &err), SVT_E_INPUT);
	small_opts(&o, "/nonexistent", "/tmp/x");
	o.photo_fov_deg = 190;
	cr_expect_eq(dataset_job_create(&o, &j, &err), SVT_E_INPUT);
	/* Numbers that are none: a shard of infinite size was cast to 64 bits. */
	const double bad[] = {INFINITY, NAN, -1, 1e30};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		small_opts(&o, "/nonexistent", "/tmp/x");
		o.shard_mb = bad[i];
		cr_expect_eq(dataset_job_create(&o, &j, &err), SVT_E_INPUT, "shard_mb %g", bad[i]);
		small_opts(&o, "/nonexistent", "/tmp/x");
		o.split_buffer_m = bad[i];
		cr_expect_eq(dataset_job_create(&o, &j, &err), SVT_E_INPUT, "buffer %g", bad[i]);
		small_opts(&o, "/nonexistent", "/tmp/x");
		o.spacing_m = bad[i];
		cr_expect_eq(dataset_job_create(&o, &j, &err), SVT_E_INPUT, "spacing %g", bad[i]);
	}
	small_opts(&o, "/nonexistent", "/tmp/x");
	o.track_offset_s = NAN;
	cr_expect_eq(dataset_job_create(&o, &j, &err), SVT_E_INPUT);
	small_opts(&o, "/nonexistent", "/tmp/x");
	o.threads = 100000;
	cr_expect_eq(dataset_job_create(&o, &j, &err), SVT_E_INPUT);
	/* A job runs once; a capture that does not exist fails the run, not the create. */
	small_opts(&o, "/nonexistent/capture", dir);
	cr_assert_eq(dataset_job_create(&o, &j, &err), 0, "%s", err.msg);
	cr_expect_lt(dataset_job_run(j, NULL, &err), 0);
	cr_expect(strstr(err.msg, "/nonexistent/capture"), "%s", err.msg);
	cr_expect_eq(dataset_job_run(j, NULL, &err), SVT_E_INPUT);
	dataset_job_destroy(j);
	dataset_job_destroy(NULL);
}

/* A thread that counts, every millisecond, this process's threads that are running or want
 * to run (state R in /proc/self/task/TID/stat), itself left out. A thread waiting for a place
 * of the gate, a queue or a join sleeps (S): what is R wants a core, whatever the machine's
 * load lets it have. */
typedef struct sampler {
	pthread_t th;
	volatile int stop;
	pid_t self;
	long samples, over; /* samples with more than one R thread */
	int max_r;
} sampler;

static void *sampler_main(void *arg)
{
	sampler *s = arg;
	s->self = (pid_t)syscall(SYS_gettid);
	while (!s->stop) {
		DIR *d = opendir("/proc/self/task");
		struct dirent *de;
		int r = 0;
		while (d && (de = readdir(d))) {
			if (de->d_name[0] == '.' || atoi(de->d_name) == s->self)
				continue;
			char path[300], buf[512];
			snprintf(path, sizeof(path), "/proc/self/task/%s/stat", de->d_name);
			FILE *f = fopen(path, "r");
			size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
			if (f)
				fclose(f);
			buf[n] = 0;
			const char *p = strrchr(buf, ')'); /* the name may hold blanks */
			r += p && p[1] == ' ' && p[2] == 'R';
		}
		if (d)
			closedir(d);
		s->samples++;
		s->over += r > 1;
		if (r > s->max_r)
			s->max_r = r;
		usleep(1000);
	}
	return NULL;
}

static double cpu_seconds(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6 +
	       (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec * 1e-6;
}

static double wall_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* threads 1 bounds every thread of the build, not only the view workers. Two measures: the
 * CPU time this process spends in the run (all its threads) stays within the run's wall time
 * (one busy thread at a time cannot use more, whatever else runs on the machine; a loaded
 * machine only lowers the ratio, so this one alone could miss); and a sampler sees more than
 * one of its threads running or runnable in under a fifth of its samples, which the machine's
 * load does not hide (a thread that wants a core is R whether it gets one or not). Before the
 * gate, the fusion and compression threads ran beside the worker: 1.3 cores on this sample,
 * 1.6 on the whole capture, and 30-40 % of the samples. */
Test(dataset, threads_1_uses_one_core, .timeout = 300)
{
	char cap[300], out[300];
	snprintf(cap, sizeof(cap), "%s/cap", dir);
	snprintf(out, sizeof(out), "%s/out", dir);
	copy_frames(cap, 0, 44);
	dataset_opts o;
	small_opts(&o, cap, out);
	o.width = 640;
	o.height = 352;
	o.codec = "lz4";
	o.threads = 1;
	svt_err err = {0};
	static sampler sm;
	cr_assert_eq(pthread_create(&sm.th, NULL, sampler_main, &sm), 0);
	double c0 = cpu_seconds(), w0 = wall_seconds();
	dataset_stats st;
	int rc = run(&o, NULL, &st, &err);
	double cpu = cpu_seconds() - c0, wall = wall_seconds() - w0;
	sm.stop = 1;
	pthread_join(sm.th, NULL);
	cr_assert_eq(rc, 0, "%s", err.msg);
	cr_assert_gt(st.clips_written, 3);
	cr_assert_gt(st.points_total, 0, "the depth was not fused: the test would miss the fusion");
	cr_expect_leq(cpu, 1.05 * wall + 0.05, "threads 1 used %.2f s of CPU in %.2f s (%.2f cores)",
		      cpu, wall, cpu / wall);
	/* A hand-over wakes one thread as the other goes to sleep: a few samples catch both
	 * (3-7 % here); free-running threads are seen together in 30-40 % of them. */
	cr_expect_lt(sm.over, sm.samples / 5, "%ld of %ld samples saw more than one thread "
		     "running or runnable (at most %d)", sm.over, sm.samples, sm.max_r);
	fprintf(stderr, "threads 1: %.2f s CPU in %.2f s wall (%.2f cores); %ld of %ld samples "
		"with more than one thread running or runnable (at most %d)\n", cpu, wall,
		cpu / wall, sm.over, sm.samples, sm.max_r);
}
