/* bench_twin.c: `svtwin bench twin`: the twin store at city scale. Builds a store of
 * --captures (10,000) synthetic captures of --frames (100) frames each, 5 m apart on straight
 * tracks spread over Seoul, recording a shard for every 10th capture and adding 20 captures
 * at the end (an incremental update that makes some shards stale), and prints:
 *   the insert rate (frames/s) and the writer's peak RSS;
 *   for a fresh process opening the store (at a tenth of the captures, then all): the open
 *   time, its peak RSS (flat in the frame count is the point), and the latency of each query
 *   (near 50 m, nearest pose, polygon of 300 m x 300 m, stale shards) at the median and p99.
 * Targets (docs/benchmarks.md): open < 1 s, RSS < 200 MB and flat, every query < 10 ms p99.
 * Then point fusion (--fusion-only: that alone): 2M points against what PROJ per point and a
 * full sort (the former path) cost for the same points, measured in the same run.
 * Never part of `make test`: it takes about a minute and a few hundred MB of disk. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "base/svt.h"
#include "geo/geo.h"
#include "twin/twin.h"
#include "bench/bench.h"

int bench_twin(int argc, char **argv);

#define TRACK_STEP_M 5.0
#define N_QUERIES 2000
#define N_POLYGONS 200


/* Capture c's track: start and heading from the seed, so the query process regenerates
 * any frame's position without reading the store. */
static void track(uint64_t seed, size_t c, double *lat0, double *lon0, double *hd)
{
	uint64_t s = seed ^ (0x51ED2701ull * (c + 1));
	*lat0 = bench_uniform(&s, 37.45, 37.65);
	*lon0 = bench_uniform(&s, 126.85, 127.15);
	*hd = bench_uniform(&s, 0.0, 360.0);
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

/* This process's CPU seconds (user + system) and minor page faults so far: the fusion's cost
 * on a machine shared with other work, where its wall time is not (each fault of fresh
 * memory costs about 1-2 us on a VM). */
static void cpu_faults(double *cpu, long *faults)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	*cpu = (double)ru.ru_utime.tv_sec + 1e-6 * (double)ru.ru_utime.tv_usec +
	       (double)ru.ru_stime.tv_sec + 1e-6 * (double)ru.ru_stime.tv_usec;
	*faults = ru.ru_minflt;
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
		frame_pos(seed, (size_t)(bench_rand(&r) % ncap), (int)(bench_rand(&r) % (uint64_t)nfr), &lat,
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
		frame_pos(seed, (size_t)(bench_rand(&r) % ncap), (int)(bench_rand(&r) % (uint64_t)nfr), &lat,
			  &lon, &hd);
		lat += bench_uniform(&r, -1e-4, 1e-4);
		lon += bench_uniform(&r, -1e-4, 1e-4);
		double t0 = svt_now();
		long best = twin_store_nearest_pose(s, lat, lon, bench_uniform(&r, 0, 360), 0.5, NULL);
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
		frame_pos(seed, (size_t)(bench_rand(&r) % ncap), (int)(bench_rand(&r) % (uint64_t)nfr), &lat,
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

typedef struct vkey {
	int64_t k[3];
	size_t i;
} vkey;

static int vkey_cmp(const void *a, const void *b)
{
	const vkey *p = a, *q = b;
	for (int d = 0; d < 3; d++)
		if (p->k[d] != q->k[d])
			return p->k[d] < q->k[d] ? -1 : 1;
	return p->i < q->i ? -1 : (p->i > q->i);
}

/* Point fusion: 2M depth points of a 200 x 200 x 20 m clip (in the capture's ENU frame,
 * 300 m from the store's origin) into a store, against what the former path paid for the
 * same points: a PROJ call per point (ENU -> WGS84 -> projected) to bin them, and a full sort
 * of the points by voxel (both measured here, on the same points). */
static int fusion_phase(const char *dir, uint64_t seed)
{
	enum { NPTS = 2000000, NCALLS = 20 };
	char sub[4200];
	snprintf(sub, sizeof(sub), "%s/fusion", dir);
	svt_err err = {0};
	twin_store *s = NULL;
	gpu_point *pts = malloc(NPTS * sizeof(*pts));
	double *xyz = malloc(3 * (size_t)NPTS * sizeof(double));
	vkey *vk = malloc(NPTS * sizeof(*vk));
	geo_enu *enu = NULL;
	geo_crs *crs = NULL;
	int rc = !pts || !xyz || !vk;
	twin_frame fr[2];
	memset(fr, 0, sizeof(fr));
	for (int i = 0; i < 2; i++) {
		fr[i].llh[0] = 37.5666 + 1e-4 * i;
		fr[i].llh[1] = 126.9784;
		fr[i].llh[2] = 40;
		fr[i].heading = 0;
	}
	twin_capture_in in = {.name = "fusion", .frames = fr, .n = 2};
	double org[3] = {37.5690, 126.9800, 35.0};
	if (!rc)
		rc = twin_store_open(sub, NULL, &s, &err) || twin_store_add_capture(s, &in, NULL, &err) ||
		     geo_enu_create(org[0], org[1], org[2], &enu, &err) ||
		     geo_crs_create(twin_store_epsg(s), &crs, &err);
	uint64_t r = seed * 13 + 5;
	for (size_t i = 0; !rc && i < NPTS; i++) {
		pts[i].x = (float)bench_uniform(&r, -100, 100);
		pts[i].y = (float)bench_uniform(&r, -400, -200);
		pts[i].z = (float)bench_uniform(&r, -5, 15);
		pts[i].r = (uint8_t)i;
		pts[i].g = (uint8_t)(i >> 8);
		pts[i].b = 7;
		pts[i].a = 255;
	}
	double t_fuse = 0, t_proj = 0, t_sort = 0, t_calls = 0, c0 = 0, c1 = 0, c_fuse = 0;
	double c_calls = 0;
	long f0 = 0, f1 = 0, f_fuse = 0, f_calls = 0;
	if (!rc) {
		cpu_faults(&c0, &f0);
		double t0 = svt_now();
		rc = twin_store_add_points(s, pts, NPTS, org, &err);
		t_fuse = svt_now() - t0;
		cpu_faults(&c1, &f1);
		c_fuse = c1 - c0;
		f_fuse = f1 - f0;
	}
	/* The same points again in NCALLS calls into the same tiles (a clip at a time), into a
	 * second store: each call adds parts beside the ones there (compacted every
	 * TWIN_PARTS_MAX calls) instead of rewriting every tile it touches. */
	twin_store *s2 = NULL;
	char sub2[4300];
	snprintf(sub2, sizeof(sub2), "%s2", sub);
	if (!rc)
		rc = twin_store_open(sub2, NULL, &s2, &err) ||
		     twin_store_add_capture(s2, &in, NULL, &err);
	if (!rc) {
		cpu_faults(&c0, &f0);
		double t0 = svt_now();
		for (size_t c = 0; !rc && c < NCALLS; c++)
			rc = twin_store_add_points(s2, pts + c * (NPTS / NCALLS), NPTS / NCALLS, org,
						   &err);
		t_calls = svt_now() - t0;
		cpu_faults(&c1, &f1);
		c_calls = c1 - c0;
		f_calls = f1 - f0;
	}
	twin_store_close(s2);
	/* The same points in one call again, on one thread and then shared out over every core
	 * (twin_store_set_threads, as the build does), each into a new store after the same
	 * work before it (memory as warm for both): the same files, in less time where there
	 * are cores to share. */
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	int nth = ncpu > 1 ? (int)ncpu : 1;
	double t_th[2] = {0, 0}, c_th[2] = {0, 0};
	for (int k = 0; !rc && k < 2; k++) {
		twin_store *s3 = NULL;
		char sub3[4300];
		snprintf(sub3, sizeof(sub3), "%s%d", sub, 3 + k);
		rc = twin_store_open(sub3, NULL, &s3, &err) ||
		     twin_store_add_capture(s3, &in, NULL, &err);
		if (!rc) {
			twin_store_set_threads(s3, k ? nth : 1, NULL);
			long fdummy = 0;
			cpu_faults(&c0, &fdummy);
			double t0 = svt_now();
			rc = twin_store_add_points(s3, pts, NPTS, org, &err);
			t_th[k] = svt_now() - t0;
			cpu_faults(&c1, &fdummy);
			c_th[k] = c1 - c0;
		}
		twin_store_close(s3);
	}
	if (!rc) { /* the former binning: PROJ on every point */
		for (size_t i = 0; i < NPTS; i++) {
			xyz[3 * i] = pts[i].x;
			xyz[3 * i + 1] = pts[i].y;
			xyz[3 * i + 2] = pts[i].z;
		}
		double t0 = svt_now();
		rc = geo_enu_inverse(enu, xyz, xyz + 1, xyz + 2, 3 * sizeof(double), NPTS, &err) ||
		     geo_crs_forward(crs, xyz, xyz + 1, xyz + 2, 3 * sizeof(double), NPTS, &err);
		t_proj = svt_now() - t0;
	}
	if (!rc) { /* the former merge: a total sort of the points by voxel */
		for (size_t i = 0; i < NPTS; i++) {
			vk[i].k[0] = (int64_t)floor(pts[i].x / 0.05);
			vk[i].k[1] = (int64_t)floor(pts[i].y / 0.05);
			vk[i].k[2] = (int64_t)floor(pts[i].z / 0.05);
			vk[i].i = i;
		}
		double t0 = svt_now();
		qsort(vk, NPTS, sizeof(*vk), vkey_cmp);
		t_sort = svt_now() - t0;
	}
	if (!rc) {
		printf(" fusion: %d points of a 200 x 200 x 20 m clip in %.2f s: %.2f M points/s "
		       "(binning by the smooth map, voxel sort and merge, LAS write); CPU %.2f s, %ld page "
		       "faults\n",
		       NPTS, t_fuse, NPTS / t_fuse / 1e6, c_fuse, f_fuse);
		printf("  former path, same points: PROJ per point %.2f s, full sort %.2f s: those two "
		       "alone %.2fx the whole fusion now\n",
		       t_proj, t_sort, (t_proj + t_sort) / t_fuse);
		printf("  the same points in %d calls of %d into the same tiles: %.2f s (%.2fx one "
		       "call); CPU %.2f s, %ld page faults\n",
		       (int)NCALLS, NPTS / NCALLS, t_calls, t_calls / t_fuse, c_calls, f_calls);
		printf("  the one call again, 1 thread %.2f s (CPU %.2f s), %d threads "
		       "(twin_store_set_threads) %.2f s (CPU %.2f s): %.2fx\n",
		       t_th[0], c_th[0], nth, t_th[1], c_th[1], t_th[0] / t_th[1]);
	} else if (err.msg[0]) {
		fprintf(stderr, "bench twin: %s\n", err.msg);
	}
	geo_enu_destroy(enu);
	geo_crs_destroy(crs);
	twin_store_close(s);
	free(pts);
	free(xyz);
	free(vk);
	return rc ? 1 : 0;
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
	int fusion_only = 0;
	for (int i = 1; i < argc; i++) {
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		uint64_t u = 0;
		if (!strcmp(argv[i], "--captures") && v) {
			if (bench_arg_u64("twin", "--captures", argv[++i], &u))
				return 2;
			ncap = u;
		} else if (!strcmp(argv[i], "--frames") && v) {
			if (bench_arg_int("twin", "--frames", argv[++i], 2, 1000000, &nfr))
				return 2;
		}
		else if (!strcmp(argv[i], "--dir") && v)
			dir = argv[++i];
		else if (!strcmp(argv[i], "--query-only") && v)
			query = argv[++i];
		else if (!strcmp(argv[i], "--fusion-only"))
			fusion_only = 1;
		else if (!strcmp(argv[i], "--seed") && v) {
			if (bench_arg_u64("twin", "--seed", argv[++i], &seed))
				return 2;
		}
		else {
			fprintf(stderr, "usage: svtwin bench twin [--captures N] [--frames N] [--dir D] "
					"[--seed S] [--fusion-only]\n");
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
	if (fusion_only) {
		int frc = fusion_phase(dir, seed);
		if (dir == tmp) {
			char rm[4200];
			snprintf(rm, sizeof(rm), "rm -rf '%s'", tmp);
			if (system(rm) != 0)
				frc = 1;
		}
		return frc;
	}
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
	if (!rc)
		rc = fusion_phase(dir, seed);
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
