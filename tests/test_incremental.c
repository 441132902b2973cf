/* test_incremental.c: the twin makes rebuilds incremental. Rerunning a build changes nothing;
 * adding a second capture over part of the street marks only the clips cut from the tiles it
 * touches as stale, and the next rebuild rewrites those and keeps the rest. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char prog[512];

static int run(const char *fmt, const char *a, const char *b, char *out, size_t cap)
{
	char cmd[2048], args[1500];
	snprintf(args, sizeof(args), fmt, a, b);
	snprintf(cmd, sizeof(cmd), "%s %s 2>&1", prog, args);
	FILE *p = popen(cmd, "r");
	cr_assert(p);
	size_t n = 0;
	if (out) {
		out[0] = 0;
		char line[1024];
		while (fgets(line, sizeof(line), p))
			if (n + strlen(line) < cap) {
				memcpy(out + n, line, strlen(line) + 1);
				n += strlen(line);
			}
	} else {
		char line[1024];
		while (fgets(line, sizeof(line), p))
			;
	}
	int st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* "N clips written (... M kept from an earlier run)" from the summary. */
static void counts(const char *log, int *written, int *kept)
{
	const char *p = strstr(log, "clips written");
	cr_assert(p, "no summary in: %s", log);
	while (p > log && p[-1] != '\n' && p[-1] != ':')
		p--;
	*written = atoi(p);
	const char *k = strstr(log, "kept from an earlier run");
	cr_assert(k);
	while (k > log && k[-1] != ' ')
		k--;
	k--;
	while (k > log && k[-1] != ' ')
		k--;
	*kept = atoi(k);
}

Test(incremental, new_capture_rewrites_only_dependent_clips, .timeout = 120)
{
	const char *cap = getenv("SVT_SAMPLES"), *b = getenv("SVT_BUILD");
	if (!cap || !*cap)
		cr_skip_test("SVT_SAMPLES is not set: run through `make test`");
	snprintf(prog, sizeof(prog), "%s/svtwin", b && *b ? b : "build");
	char dir[256], out[300], capB[300], outB[300], cmd[1400], log[16384];
	snprintf(dir, sizeof(dir), "/tmp/svt-incr-%d", (int)getpid());
	snprintf(out, sizeof(out), "%s/out", dir);
	snprintf(capB, sizeof(capB), "%s/B", dir);
	snprintf(outB, sizeof(outB), "%s/outB", dir);
	/* Capture B: 16 panoramas from the second half of the street. */
	snprintf(cmd, sizeof(cmd),
		 "rm -rf %s && mkdir -p %s && for i in $(seq 90 105); do "
		 "cp %s/pano_$(printf %%04d $i).jpg %s/; done",
		 dir, capB, cap, capB);
	cr_assert_eq(system(cmd), 0);
	const char *opts = "--clip-frames 9 --size 256x144 --shard-mb 1 --codec gzip";
	char fmt[300];
	snprintf(fmt, sizeof(fmt), "-v build %%s -o %%s %s", opts);

	int w, k;
	cr_assert_eq(run(fmt, cap, out, log, sizeof(log)), 0, "%s", log);
	counts(log, &w, &k);
	int total = w;
	cr_assert_gt(total, 4, "%d clips", total);
	cr_assert_eq(k, 0);

	/* A rerun with nothing changed keeps everything. */
	cr_assert_eq(run(fmt, cap, out, log, sizeof(log)), 0, "%s", log);
	counts(log, &w, &k);
	cr_expect_eq(w, 0, "a rerun rewrote %d clips", w);
	cr_expect_eq(k, total);

	/* B goes into A's twin: the tiles it touches change. */
	char fmtB[400];
	snprintf(fmtB, sizeof(fmtB), "-q build %%s -o %%s --twin %s/twin %s", out, opts);
	cr_assert_eq(run(fmtB, capB, outB, log, sizeof(log)), 0, "%s", log);
	cr_assert_eq(run("query %s/twin --stale-shards%s", out, "", log, sizeof(log)), 0, "%s", log);
	int nstale = 0;
	for (const char *p = log; (p = strstr(p, "\"stale_shard\"")); p++)
		nstale++;
	cr_assert_gt(nstale, 0, "adding B made no clip stale");
	cr_assert_lt(nstale, total, "adding B over part of the street made every clip stale");

	/* The rebuild rewrites the stale clips (and the shards after the first of them) only. */
	cr_assert_eq(run(fmt, cap, out, log, sizeof(log)), 0, "%s", log);
	counts(log, &w, &k);
	cr_expect_eq(w + k, total);
	cr_expect_geq(w, nstale, "%d stale clips, %d rewritten", nstale, w);
	cr_expect_gt(k, 0, "no clip was kept: the rebuild was not incremental");
	cr_assert_eq(run("query %s/twin --stale-shards%s", out, "", log, sizeof(log)), 0, "%s", log);
	const char *base = strrchr(cap, '/');
	char pat[300];
	snprintf(pat, sizeof(pat), "\"stale_shard\":\"%s-", base ? base + 1 : cap);
	cr_expect_null(strstr(log, pat), "still stale after the rebuild: %s", log);
	cr_expect_eq(run("verify %s%s", out, "", NULL, 0), 0);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_expect_eq(system(cmd), 0);
}
