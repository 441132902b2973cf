/* bench_twin.c: `svtwin bench twin`: the twin store at city scale. Builds a store of
 * --captures (10,000) synthetic captures of --frames (100) frames each, 5 m apart on straight
 * tracks spread over Seoul, recording a shard for every 10th capture and adding 20 captures
 * at the end (an incremental update that makes some shards stale), and prints:
 *   the insert rate (frames/s) and the writer's peak RSS;
 *   for a fresh process opening the store (at a tenth of the captures, then all): the open
 *   time, its peak RSS (flat in the frame count is the point), and the latency of each query
 *   (near 50 m, nearest pose, polygon of 300 m x 300 m, stale shards) at the median and p99.
 * Targets (docs/benchmarks.md): open < 1 s, RSS < 200 MB and flat, every query < 10 ms p99.
 * Never part of `make test`: it takes about a minute and a few hundred MB of disk. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "base/svt.h"
#include "twin/twin.h"

int bench_twin(int argc, char **argv);

#define TRACK_STEP_M 5.0
#define N_QUERIES 2000
#define N_POLYGONS 200

static uint64_t splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

static double uni(uint64_t *s, double a, double b)
{
	return a + (b - a) * (double)(splitmix(s) >> 11) * (1.0 / 9007199254740992.0);
}

/* Capture c's track: start and heading from the seed, so the query process regenerates
 * any frame's position without reading the store. */
static void track(uint64_t seed, size_t c, double *lat0, double *lon0, double *hd)
{
	uint64_t s = seed ^ (0x51ED2701ull * (c + 1));
	*lat0 = uni(&s, 37.45, 37.65);
	*lon0 = uni(&s, 126.85, 127.15);
	*hd = uni(&s, 0.0, 360.0);
}

static void frame_pos(uint64_t seed, size_t c, int i, double *lat, double *lon, double *hd)
{
	double lat0, lon0;
	track(seed, c, &lat0, &lon0, hd);
	double d = TRACK_STEP_M * i, h = *hd * M_PI / 180.0;
	*lat = lat0 + d * cos(h) / 111320.0;
	*lon = lon0 + d * sin(h) / (111320.0 * cos(lat0 * M_PI / 180.0));
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double peak_rss_mb(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss / 1024.0;
}

static void report(const char *what, double *t_us, size_t n, double target_ms)
{
	qsort(t_us, n, sizeof(double), cmp_d);
	double med = t_us[n / 2], p99 = t_us[(size_t)(0.99 * (double)(n - 1))];
	printf("  %-14s median %8.1f us   p99 %8.1f us   (target p99 < %.0f ms: %s)\n", what, med,
	       p99, target_ms, p99 < target_ms * 1000 ? "met" : "MISSED");
}

/* The query side, in a fresh process: what a reader of a big store pays. */
static int query_phase(const char *dir, uint64_t seed, size_t ncap, int nfr)
{
	svt_err err = {0};
	twin_store *s = NULL;
	twin_store_opts o;
	twin_store_opts_default(&o);
	o.no_create = 1;
	double topen[5];
	for (int k = 0; k < 5; k++) {
		double t0 = svt_now();
		if (twin_store_open(dir, &o, &s, &err)) {
			fprintf(stderr, "bench twin: %s\n", err.msg);
			return 1;
		}
		topen[k] = svt_now() - t0;
		if (k < 4) {
			twin_store_close(s);
			s = NULL;
		}
	}
	qsort(topen, 5, sizeof(double), cmp_d);
	size_t nf = twin_store_frame_count(s);
	printf(" store of %zu frames in %zu captures\n", nf, ncap);
	printf("  open           median %8.1f ms   (first %.1f ms; target < 1000 ms: %s)\n",
	       topen[2] * 1e3, topen[4] * 1e3, topen[4] < 1.0 ? "met" : "MISSED");
	double *t = malloc(N_QUERIES * sizeof(double));
	uint64_t r = seed * 7 + 1;
	size_t hits = 0;
	int rc = 0;
	/* Near 50 m of a frame. */
	for (int q = 0; q < N_QUERIES && !rc; q++) {
		double lat, lon, hd;
		frame_pos(seed, (size_t)(splitmix(&r) % ncap), (int)(splitmix(&r) % (uint64_t)nfr), &lat,
			  &lon, &hd);
		size_t *idx = NULL, n = 0;
		double t0 = svt_now();
		rc = twin_store_query_near(s, lat, lon, 50.0, &idx, NULL, &n, &err);
		t[q] = (svt_now() - t0) * 1e6;
		hits += n;
		free(idx);
	}
	report("near 50 m", t, N_QUERIES, 10);
	printf("  %-14s %.1f frames per query\n", "", (double)hits / N_QUERIES);
	/* Nearest pose: 10 m off a frame, any heading. */
	for (int q = 0; q < N_QUERIES && !rc; q++) {
		double lat, lon, hd;
		frame_pos(seed, (size_t)(splitmix(&r) % ncap), (int)(splitmix(&r) % (uint64_t)nfr), &lat,
			  &lon, &hd);
		lat += uni(&r, -1e-4, 1e-4);
		lon += uni(&r, -1e-4, 1e-4);
		double t0 = svt_now();
		long best = twin_store_nearest_pose(s, lat, lon, uni(&r, 0, 360), 0.5, NULL);
		t[q] = (svt_now() - t0) * 1e6;
		if (best < 0)
			rc = 1;
	}
	report("nearest pose", t, N_QUERIES, 10);
	/* Polygons: squares of 300 m about frames, from a GeoJSON layer. */
	char gj[4096];
	snprintf(gj, sizeof(gj), "%s/bench_polygons.geojson", dir);
	FILE *f = fopen(gj, "w");
	if (!f)
		return 1;
	fputs("{\"type\":\"FeatureCollection\",\"features\":[", f);
	for (int k = 0; k < N_POLYGONS; k++) {
		double lat, lon, hd;
		frame_pos(seed, (size_t)(splitmix(&r) % ncap), (int)(splitmix(&r) % (uint64_t)nfr), &lat,
			  &lon, &hd);
		double dl = 150.0 / 111320.0, dn = dl / cos(lat * M_PI / 180.0);
		fprintf(f,
			"%s{\"type\":\"Feature\",\"properties\":{\"name\":\"p%d\"},\"geometry\":{\"type\":"
			"\"Polygon\",\"coordinates\":[[[%.8f,%.8f],[%.8f,%.8f],[%.8f,%.8f],[%.8f,%.8f],"
			"[%.8f,%.8f]]]}}",
			k ? "," : "", k, lon - dn, lat - dl, lon + dn, lat - dl, lon + dn, lat + dl, lon - dn,
			lat + dl, lon - dn, lat - dl);
	}
	fputs("]}\n", f);
	fclose(f);
	twin_layer *l = NULL;
	if (twin_layer_load(gj, NULL, &l, &err)) {
		fprintf(stderr, "bench twin: %s\n", err.msg);
		return 1;
	}
	hits = 0;
	for (int q = 0; q < N_QUERIES && !rc; q++) {
		size_t *idx = NULL, n = 0;
		double t0 = svt_now();
		rc = twin_store_query_polygon(s, l, (size_t)q % N_POLYGONS, &idx, &n, &err);
		t[q] = (svt_now() - t0) * 1e6;
		hits += n;
		free(idx);
	}
	report("polygon 300 m", t, N_QUERIES, 10);
	printf("  %-14s %.1f frames per query\n", "", (double)hits / N_QUERIES);
	twin_layer_destroy(l);
	size_t nstale = 0;
	for (int q = 0; q < N_QUERIES / 4 && !rc; q++) {
		const char **names = NULL;
		double t0 = svt_now();
		rc = twin_store_stale_shards(s, &names, &nstale, &err);
		t[q] = (svt_now() - t0) * 1e6;
		free(names);
	}
	report("stale shards", t, N_QUERIES / 4, 10);
	printf("  %-14s %zu stale\n", "", nstale);
	double rss = peak_rss_mb();
	printf("  peak RSS       %8.1f MB   (target < 200 MB: %s)\n", rss, rss < 200 ? "met" : "MISSED");
	if (rc)
		fprintf(stderr, "bench twin: a query failed: %s\n", err.msg);
	free(t);
	twin_store_close(s);
	return rc;
}

static int add_capture(twin_store *s, uint64_t seed, size_t c, int nfr, twin_frame *fr,
		       size_t *first, svt_err *err)
{
	for (int i = 0; i < nfr; i++) {
		memset(&fr[i], 0, sizeof(fr[i]));
		frame_pos(seed, c, i, &fr[i].llh[0], &fr[i].llh[1], &fr[i].heading);
		fr[i].llh[2] = 40.0;
		fr[i].time_us = 1700000000000000LL + (int64_t)c * 1000000000LL + (int64_t)i * 1000000;
		fr[i].src = i;
	}
	char name[64];
	snprintf(name, sizeof(name), "capture-%06zu", c);
	twin_capture_in in = {.name = name, .source = "synthetic", .frames = fr, .n = (size_t)nfr};
	return twin_store_add_capture(s, &in, first, err);
}

int bench_twin(int argc, char **argv)
{
	size_t ncap = 10000;
	int nfr = 100;
	uint64_t seed = 1;
	const char *dir = NULL, *query = NULL;
	for (int i = 1; i < argc; i++) {
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(argv[i], "--captures") && v)
			ncap = strtoull(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--frames") && v)
			nfr = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--dir") && v)
			dir = argv[++i];
		else if (!strcmp(argv[i], "--query-only") && v)
			query = argv[++i];
		else if (!strcmp(argv[i], "--seed") && v)
			seed = strtoull(argv[++i], NULL, 10);
		else {
			fprintf(stderr, "usage: svtwin bench twin [--captures N] [--frames N] [--dir D] "
					"[--seed S]\n");
			return 2;
		}
	}
	if (ncap < 10 || nfr < 2) {
		fprintf(stderr, "svtwin bench twin: --captures >= 10, --frames >= 2\n");
		return 2;
	}
	if (query)
		return query_phase(query, seed, ncap, nfr);
	char tmp[] = "/tmp/svt_bench_twinXXXXXX", self[4096];
	if (!dir && !(dir = mkdtemp(tmp)))
		return 1;
	ssize_t ls = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (ls <= 0)
		return 1;
	self[ls] = 0;
	printf("bench twin: %zu captures x %d frames (%zu frames) in %s\n", ncap, nfr,
	       ncap * (size_t)nfr, dir);
	svt_err err = {0};
	twin_store *s = NULL;
	twin_frame *fr = malloc((size_t)nfr * sizeof(*fr));
	size_t *idx = malloc((size_t)nfr * sizeof(size_t));
	int rc = twin_store_open(dir, NULL, &s, &err);
	double t_ins = 0, t_shard = 0;
	size_t nshards = 0, stage = ncap / 10;
	char cmd[8192];
	for (size_t c = 0; !rc && c < ncap; c++) {
		size_t first = 0;
		double t0 = svt_now();
		rc = add_capture(s, seed, c, nfr, fr, &first, &err);
		t_ins += svt_now() - t0;
		if (!rc && c % 10 == 0) { /* a shard cut from this capture's frames */
			for (int i = 0; i < nfr; i++)
				idx[i] = first + (size_t)i;
			twin_clip clip = {.n = nfr, .idx = idx};
			int *txy = NULL;
			size_t nt = 0;
			char name[64];
			snprintf(name, sizeof(name), "shard-%06zu.h5", c);
			t0 = svt_now();
			rc = twin_store_clip_tiles(s, &clip, &txy, &nt, &err);
			if (!rc)
				rc = twin_store_record_shard(s, name, txy, nt, &err);
			t_shard += svt_now() - t0;
			free(txy);
			nshards++;
		}
		if (!rc && (c + 1 == stage || c + 1 == ncap)) {
			size_t done = c + 1, nf = done * (size_t)nfr;
			printf(" insert: %zu frames, %.0f frames/s (one transaction per capture of %d), "
			       "%zu shards recorded at %.1f ms each; writer peak RSS %.1f MB\n",
			       nf, (double)nf / t_ins, nfr, nshards, 1e3 * t_shard / (double)nshards,
			       peak_rss_mb());
			if (c + 1 == ncap) /* an incremental update: 20 more captures */
				for (size_t k = 0; !rc && k < 20; k++)
					rc = add_capture(s, seed, ncap + k, nfr, fr, NULL, &err);
			fflush(stdout);
			snprintf(cmd, sizeof(cmd), "'%s' bench twin --query-only '%s' --captures %zu "
				 "--frames %d --seed %llu", self, dir, done, nfr, (unsigned long long)seed);
			if (!rc && system(cmd) != 0)
				rc = 1;
		}
	}
	if (rc && err.msg[0])
		fprintf(stderr, "bench twin: %s\n", err.msg);
	twin_store_close(s);
	free(fr);
	free(idx);
	if (dir == tmp) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
		if (system(cmd) != 0)
			rc = 1;
	}
	return rc;
}
