/* test_resume.c: a build killed with SIGKILL leaves no half-written file under a final name,
 * and rerunning the same command keeps what was committed and ends with the same dataset as
 * an uninterrupted build. */
#include <criterion/criterion.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "dataset/dataset.h"
#include "formats/formats.h"
#include "twin/twin.h"

/* The job in a child process (the library, not the program), so that it can be killed: small
 * clips and shards so that a run commits several shards in well under a second each. */
static pid_t start_build(const char *capture, const char *out)
{
	pid_t pid = fork();
	if (pid == 0) {
		dataset_opts o;
		dataset_opts_default(&o);
		o.capture = capture;
		o.out = out;
		o.clip_frames = 9;
		o.width = 256;
		o.height = 144;
		o.codec = "gzip";
		o.shard_mb = 1;
		o.threads = 1;
		svt_log_set_level(0);
		dataset_job *j = NULL;
		svt_err err = {0};
		int rc = dataset_job_create(&o, &j, &err);
		if (!rc)
			rc = dataset_job_run(j, NULL, &err);
		if (rc)
			fprintf(stderr, "test_resume: build of %s failed: %s\n", capture, err.msg);
		dataset_job_destroy(j);
		_exit(rc ? 1 : 0);
	}
	return pid;
}

static int wait_status(pid_t pid)
{
	int st = 0;
	waitpid(pid, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int exists(const char *dir, const char *name)
{
	char p[1024];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	struct stat st;
	return stat(p, &st) == 0;
}

/* Reads every clip id and frame of a dataset (through its master file) into a digest. */
static void digest(const char *dir, char ids[][64], size_t *n, uint64_t *sum)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s/master.h5", dir);
	svt_err err = {0};
	fmt_reader *r = NULL;
	cr_assert_eq(fmt_reader_open(path, &r, &err), 0, "%s: %s", path, err.msg);
	*n = fmt_reader_clip_count(r);
	*sum = 0;
	for (size_t i = 0; i < *n && i < 256; i++) {
		snprintf(ids[i], 64, "%s", fmt_reader_clip_id(r, i));
		fmt_clip_data cd;
		cr_assert_eq(fmt_reader_clip(r, i, &cd, &err), 0, "%s", err.msg);
		size_t bytes = (size_t)cd.T * cd.H * cd.W * 3;
		uint8_t *px = malloc(bytes);
		cr_assert_eq(fmt_reader_frames(r, i, 0, cd.T, px, &err), 0, "%s", err.msg);
		for (size_t k = 0; k < bytes; k++)
			*sum = *sum * 1099511628211ull + px[k];
		for (int k = 0; k < 16 * cd.T; k++)
			*sum = *sum * 31 + (uint64_t)(int64_t)(cd.w2c[k] * 1e6);
		free(px);
		fmt_clip_data_free(&cd);
	}
	fmt_reader_close(r);
}

Test(resume, killed_build_resumes_to_the_same_dataset, .timeout = 120)
{
	const char *cap = getenv("SVT_SAMPLES");
	if (!cap || !*cap)
		cr_skip_test("SVT_SAMPLES is not set: run through `make test`");
	char ref[256], out[256], cmd[700];
	snprintf(ref, sizeof(ref), "/tmp/svt-resume-ref-%d", (int)getpid());
	snprintf(out, sizeof(out), "/tmp/svt-resume-%d", (int)getpid());
	snprintf(cmd, sizeof(cmd), "rm -rf %s %s", ref, out);
	cr_assert_eq(system(cmd), 0);

	cr_assert_eq(wait_status(start_build(cap, ref)), 0, "the reference build failed");

	/* Kill as soon as the second shard is committed: some clips are in, more are to come.
	 * Shards are named after the capture folder. */
	const char *base = strrchr(cap, '/');
	base = base ? base + 1 : cap;
	char second[300];
	snprintf(second, sizeof(second), "%s-00001.h5", base);
	pid_t pid = start_build(cap, out);
	struct timespec ts = {0, 5 * 1000 * 1000};
	int killed = 0;
	for (int i = 0; i < 6000; i++) {
		if (exists(out, second)) {
			kill(pid, SIGKILL);
			killed = 1;
			break;
		}
		if (waitpid(pid, NULL, WNOHANG) == pid) {
			pid = -1;
			break;
		}
		nanosleep(&ts, NULL);
	}
	if (pid > 0)
		wait_status(pid);
	cr_expect(killed, "the build ended before it could be killed: resume not exercised");
	cr_expect(!exists(out, "manifest.json"), "a killed build must not have written its manifest");

	/* Every file under a final name opens as a shard; the rest are .tmp. */
	snprintf(cmd, sizeof(cmd), "ls %s/*.h5 2>/dev/null", out);
	FILE *ls = popen(cmd, "r");
	char line[1024];
	int nfinal = 0;
	while (fgets(line, sizeof(line), ls)) {
		line[strcspn(line, "\n")] = 0;
		fmt_reader *r = NULL;
		svt_err err = {0};
		cr_expect_eq(fmt_reader_open(line, &r, &err), 0, "%s is under a final name but does "
				"not open: %s", line, err.msg);
		fmt_reader_close(r);
		nfinal++;
	}
	pclose(ls);
	cr_expect_geq(nfinal, 2, "the killed build committed %d shards", nfinal);

	cr_assert_eq(wait_status(start_build(cap, out)), 0, "the resumed build failed");

	static char ids_a[256][64], ids_b[256][64];
	size_t na, nb;
	uint64_t sa, sb;
	digest(ref, ids_a, &na, &sa);
	digest(out, ids_b, &nb, &sb);
	cr_assert_eq(na, nb, "%zu clips after resuming, %zu in the reference", nb, na);
	for (size_t i = 0; i < na && i < 256; i++)
		cr_expect_str_eq(ids_b[i], ids_a[i]);
	cr_expect_eq(sa, sb, "the resumed dataset's frames or poses differ from the reference");

	svt_err verr = {0};
	FILE *devnull = fopen("/dev/null", "w");
	cr_expect_eq(fmt_dataset_verify(out, devnull, &verr), 0, "verify rejects the resumed dataset: %s",
		     verr.msg);
	fclose(devnull);
	snprintf(cmd, sizeof(cmd), "rm -rf %s %s", ref, out);
	cr_expect_eq(system(cmd), 0);
}

/* The twin's fused points, tile by tile: counts and weights exactly, positions and colours
 * as sums (fusion in other batches gives the same voxel means up to float rounding). */
typedef struct twin_sum {
	size_t tiles, points;
	uint64_t weight;
	double xyz, rgb;
} twin_sum;

static void twin_digest(const char *out, twin_sum *t)
{
	char dir[600];
	snprintf(dir, sizeof(dir), "%s/twin", out);
	twin_store *s = NULL;
	svt_err err = {0};
	cr_assert_eq(twin_store_open(dir, NULL, &s, &err), 0, "%s: %s", dir, err.msg);
	memset(t, 0, sizeof(*t));
	t->tiles = twin_store_tile_count(s);
	for (size_t k = 0; k < t->tiles; k++) {
		twin_tile_info ti;
		cr_assert_eq(twin_store_tile(s, k, &ti), 0);
		gpu_point *p = NULL;
		size_t n = 0;
		cr_assert_eq(twin_store_tile_points(s, ti.tx, ti.ty, &p, &n, &err), 0, "%s", err.msg);
		cr_expect_eq(n, ti.n_points);
		t->points += n;
		for (size_t i = 0; i < n; i++) {
			t->weight += p[i].a;
			t->xyz += p[i].x + 2.0 * p[i].y + 3.0 * p[i].z;
			t->rgb += p[i].r + 2.0 * p[i].g + 3.0 * p[i].b;
		}
		free(p);
	}
	twin_store_close(s);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* kill -9 at ten random moments (scan, twin, views, fusion, shard commit, manifest...), then
 * the same build again: each ends with the dataset of an uninterrupted build, clip for clip
 * and byte for byte, and the twin's fused points the same (no depth map fused twice or lost).
 * A small generated capture (40 panoramas 512 wide, with depth) keeps it to seconds. */
Test(resume, ten_random_kills_end_as_the_uninterrupted_build, .timeout = 240)
{
	const char *b = getenv("SVT_BUILD");
	char gen[512], cap[256], ref[256], out[256], cmd[1400];
	snprintf(gen, sizeof(gen), "%s/svtwin-samples", b && *b ? b : "build");
	if (access(gen, X_OK) != 0)
		cr_skip_test("%s is not built: run through `make test`", gen);
	snprintf(cap, sizeof(cap), "/tmp/svt-kills-%d/cap", (int)getpid());
	snprintf(ref, sizeof(ref), "/tmp/svt-kills-%d/ref", (int)getpid());
	snprintf(out, sizeof(out), "/tmp/svt-kills-%d/out", (int)getpid());
	snprintf(cmd, sizeof(cmd), "rm -rf /tmp/svt-kills-%d && '%s' --out %s --frames 40 "
		 "--width 512 --no-bad --seed 5 --threads 1 -q", (int)getpid(), gen, cap);
	cr_assert_eq(system(cmd), 0, "%s", cmd);
	double t0 = now_s();
	cr_assert_eq(wait_status(start_build(cap, ref)), 0, "the reference build failed");
	double tref = now_s() - t0;
	static char ids_a[256][64], ids_b[256][64];
	size_t na, nb;
	uint64_t sa, sb;
	twin_sum ta, tb;
	digest(ref, ids_a, &na, &sa);
	twin_digest(ref, &ta);
	cr_assert_gt(ta.points, 0, "the reference fused no point: the test would prove nothing");
	srand(20261201);
	int mid_run = 0;
	for (int k = 0; k < 10; k++) {
		snprintf(cmd, sizeof(cmd), "rm -rf %s", out);
		cr_assert_eq(system(cmd), 0);
		/* Anywhere from the start to just past the reference's end. */
		double at = tref * 1.1 * rand() / RAND_MAX;
		pid_t pid = start_build(cap, out);
		struct timespec ts = {(time_t)at, (long)((at - (time_t)at) * 1e9)};
		nanosleep(&ts, NULL);
		kill(pid, SIGKILL);
		int st = 0;
		waitpid(pid, &st, 0);
		mid_run += WIFSIGNALED(st);
		/* Up to two reruns: the first may itself be the one that finishes. */
		cr_assert_eq(wait_status(start_build(cap, out)), 0, "kill %d at %.3f s: the rerun "
			     "failed", k, at);
		digest(out, ids_b, &nb, &sb);
		twin_digest(out, &tb);
		cr_assert_eq(na, nb, "kill %d at %.3f s: %zu clips, %zu in the reference", k, at, nb, na);
		for (size_t i = 0; i < na && i < 256; i++)
			cr_expect_str_eq(ids_b[i], ids_a[i]);
		cr_expect_eq(sa, sb, "kill %d at %.3f s: frames or poses differ", k, at);
		cr_expect_eq(tb.tiles, ta.tiles, "kill %d at %.3f s: tiles", k, at);
		cr_expect_eq(tb.points, ta.points, "kill %d at %.3f s: %zu points, %zu in the "
			     "reference", k, at, tb.points, ta.points);
		cr_expect_eq(tb.weight, ta.weight, "kill %d at %.3f s: fused weights %llu vs %llu", k,
			     at, (unsigned long long)tb.weight, (unsigned long long)ta.weight);
		cr_expect(fabs(tb.xyz - ta.xyz) <= 1e-6 * fabs(ta.xyz) + 1e-3, "kill %d: positions",
			  k);
		cr_expect(fabs(tb.rgb - ta.rgb) <= 1e-6 * fabs(ta.rgb) + 1e-3, "kill %d: colours", k);
	}
	cr_expect_geq(mid_run, 5, "only %d of 10 kills landed inside a run", mid_run);
	snprintf(cmd, sizeof(cmd), "rm -rf /tmp/svt-kills-%d", (int)getpid());
	cr_expect_eq(system(cmd), 0);
}
