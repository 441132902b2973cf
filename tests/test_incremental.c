/* test_incremental.c: the twin makes rebuilds incremental. Rerunning a build changes nothing;
 * adding a second capture over part of the street marks only the clips cut from the tiles it
 * touches as stale, and the next rebuild rewrites those and keeps the rest. The job runs in
 * process (dataset/dataset.h); the counts come from its stats. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dataset/dataset.h"
#include "formats/formats.h"
#include "twin/twin.h"

/* Builds capture into out (twin: NULL = out/twin) and returns the run's stats. */
static dataset_stats build(const char *capture, const char *out, const char *twin)
{
	dataset_opts o;
	dataset_opts_default(&o);
	o.capture = capture;
	o.out = out;
	o.twin = twin;
	o.clip_frames = 9;
	o.width = 256;
	o.height = 144;
	o.shard_mb = 1;
	o.codec = "gzip";
	dataset_job *j = NULL;
	svt_err err = {0};
	cr_assert_eq(dataset_job_create(&o, &j, &err), 0, "%s", err.msg);
	cr_assert_eq(dataset_job_run(j, NULL, &err), 0, "build of %s failed: %s", capture, err.msg);
	dataset_stats st;
	dataset_job_stats(j, &st);
	dataset_job_destroy(j);
	cr_assert(st.committed);
	return st;
}

/* The stale shard names of the twin in dir that start with prefix. */
static int stale_count(const char *dir, const char *prefix)
{
	twin_store_opts so;
	twin_store_opts_default(&so);
	twin_store *s = NULL;
	svt_err err = {0};
	cr_assert_eq(twin_store_open(dir, &so, &s, &err), 0, "%s", err.msg);
	const char **names = NULL;
	size_t n = 0;
	cr_assert_eq(twin_store_stale_shards(s, &names, &n, &err), 0, "%s", err.msg);
	int m = 0;
	for (size_t i = 0; i < n; i++)
		m += !strncmp(names[i], prefix, strlen(prefix));
	free(names);
	twin_store_close(s);
	return m;
}

Test(incremental, new_capture_rewrites_only_dependent_clips, .timeout = 120)
{
	const char *cap = getenv("SVT_SAMPLES");
	if (!cap || !*cap)
		cr_skip_test("SVT_SAMPLES is not set: run through `make test`");
	svt_log_set_level(0);
	char dir[256], out[300], capB[300], outB[300], twin[320], cmd[1400];
	snprintf(dir, sizeof(dir), "/tmp/svt-incr-%d", (int)getpid());
	snprintf(out, sizeof(out), "%s/out", dir);
	snprintf(capB, sizeof(capB), "%s/B", dir);
	snprintf(outB, sizeof(outB), "%s/outB", dir);
	snprintf(twin, sizeof(twin), "%s/twin", out);
	/* Capture B: 16 panoramas from the second half of the street. */
	snprintf(cmd, sizeof(cmd),
		 "rm -rf %s && mkdir -p %s && for i in $(seq 90 105); do "
		 "cp %s/pano_$(printf %%04d $i).jpg %s/; done",
		 dir, capB, cap, capB);
	cr_assert_eq(system(cmd), 0);

	dataset_stats st = build(cap, out, NULL);
	size_t total = st.clips_written;
	cr_assert_gt(total, 4, "%zu clips", total);
	cr_assert_eq(st.clips_resumed, 0);

	/* A rerun with nothing changed keeps everything. */
	st = build(cap, out, NULL);
	cr_expect_eq(st.clips_written, 0, "a rerun rewrote %zu clips", st.clips_written);
	cr_expect_eq(st.clips_resumed, total);

	/* B goes into A's twin: the tiles it touches change. */
	build(capB, outB, twin);
	const char *base = strrchr(cap, '/');
	char prefix[300];
	snprintf(prefix, sizeof(prefix), "%s-", base ? base + 1 : cap);
	int nstale = stale_count(twin, prefix);
	cr_assert_gt(nstale, 0, "adding B made no clip stale");
	cr_assert_lt((size_t)nstale, total, "adding B over part of the street made every clip stale");

	/* The rebuild rewrites the stale clips (and the shards after the first of them) only. */
	st = build(cap, out, NULL);
	cr_expect_eq(st.clips_written + st.clips_resumed, total);
	cr_expect_geq(st.clips_written, (size_t)nstale, "%d stale clips, %zu rewritten", nstale,
		      st.clips_written);
	cr_expect_gt(st.clips_resumed, 0, "no clip was kept: the rebuild was not incremental");
	cr_expect_eq(stale_count(twin, prefix), 0, "clips still stale after the rebuild");
	FILE *devnull = fopen("/dev/null", "w");
	svt_err err = {0};
	cr_expect_eq(fmt_dataset_verify(out, devnull, &err), 0, "%s", err.msg);
	fclose(devnull);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_expect_eq(system(cmd), 0);
}
