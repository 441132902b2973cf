/* test_twin_parts.c: the fused points kept per capture (twin_points.c "parts"): a shared
 * store's capture removed and fused again (`build --fresh --twin`), and the twin parts of a
 * cluster build's ranks adopted by the merge, both against a fusion of the same points from
 * scratch (the ground truth: one call with every point, generated here). */
#include <criterion/criterion.h>
#include <glob.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "geo/geo.h"
#include "twin/twin.h"
#include <sqlite3.h>

#define LAT0 37.5666
#define LON0 126.9784

static void rm_rf(const char *d)
{
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d);
	cr_assert_eq(system(cmd), 0);
}

/* n frames from (lat0, lon0) going north-east, 1 s apart. */
static twin_frame *walk(size_t n, double lat0, double lon0)
{
	twin_frame *f = calloc(n, sizeof(*f));
	cr_assert(f);
	for (size_t i = 0; i < n; i++) {
		f[i].time_us = 1700000000000000LL + (int64_t)i * 1000000;
		f[i].llh[0] = lat0 + 0.0002 * (double)i;
		f[i].llh[1] = lon0 + 0.0002 * (double)i;
		f[i].llh[2] = 40.0;
		f[i].heading = 45.0;
		f[i].src = (int)i;
	}
	return f;
}

/* np random coloured points over a 160 m square about the store's ENU origin (so they span
 * several 100 m tiles), dense enough that captures share voxels. */
static gpu_point *cloud(size_t np, uint64_t seed, int colour)
{
	gpu_point *p = malloc(np * sizeof(*p));
	cr_assert(p);
	uint64_t x = seed * 0x9e3779b97f4a7c15ull + 1;
	for (size_t i = 0; i < np; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		/* half the points in a 1 m patch near a tile corner, half spread wide */
		double sx = i % 2 ? 160.0 : 1.0, sy = i % 2 ? 160.0 : 1.0;
		p[i].x = (float)((double)(x >> 11) * 0x1.0p-53 * sx - sx / 2);
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		p[i].y = (float)((double)(x >> 11) * 0x1.0p-53 * sy - sy / 2);
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		p[i].z = (float)((double)(x >> 11) * 0x1.0p-53 * 0.2);
		p[i].r = (uint8_t)(colour + (int)(x >> 60));
		p[i].g = (uint8_t)(x >> 42);
		p[i].b = (uint8_t)(x >> 34);
		p[i].a = 255;
	}
	return p;
}

static twin_store *store_new(char *dir, size_t cap, const double origin[3])
{
	snprintf(dir, cap, "/tmp/svt_twin_partsXXXXXX");
	cr_assert(mkdtemp(dir));
	twin_store_opts o;
	twin_store_opts_default(&o);
	o.have_origin = 1;
	memcpy(o.origin_llh, origin, 3 * sizeof(double));
	twin_store *s = NULL;
	svt_err e = {0};
	cr_assert_eq(twin_store_open(dir, &o, &s, &e), 0, "%s", e.msg);
	return s;
}

static void add_capture(twin_store *s, const char *name, const twin_frame *f, size_t n,
			size_t *first)
{
	svt_err e = {0};
	twin_capture_in in = {.name = name, .frames = f, .n = n};
	cr_assert_eq(twin_store_add_capture(s, &in, first, &e), 0, "%s", e.msg);
}

static void fuse(twin_store *s, const gpu_point *p, size_t n, size_t first, size_t nfr)
{
	size_t *fr = malloc(nfr * sizeof(size_t));
	for (size_t i = 0; i < nfr; i++)
		fr[i] = first + i;
	svt_err e = {0};
	cr_assert_eq(twin_store_add_points_of(s, p, n, NULL, fr, nfr, &e), 0, "%s", e.msg);
	free(fr);
}

/* Every tile's points of a and b agree: same tiles, same counts, same voxels in the same
 * order, means within tol (metres) and colour within one level; exact: bit for bit. */
static void same_points(twin_store *a, twin_store *b, double tol, int exact)
{
	svt_err e = {0};
	size_t total = 0;
	int multi = 0;
	for (size_t k = 0; k < twin_store_tile_count(a); k++) {
		twin_tile_info ta;
		cr_assert_eq(twin_store_tile(a, k, &ta), 0);
		gpu_point *p = NULL, *q = NULL;
		size_t np = 0, nq = 0;
		cr_assert_eq(twin_store_tile_points(a, ta.tx, ta.ty, &p, &np, &e), 0, "%s", e.msg);
		cr_assert_eq(twin_store_tile_points(b, ta.tx, ta.ty, &q, &nq, &e), 0, "%s", e.msg);
		cr_assert_eq(np, nq, "tile %d_%d: %zu vs %zu points", ta.tx, ta.ty, np, nq);
		cr_expect_eq(ta.n_points, np, "tile %d_%d counts %zu, holds %zu", ta.tx, ta.ty,
			     ta.n_points, np);
		if (exact)
			cr_expect(np == 0 || !memcmp(p, q, np * sizeof(*p)), "tile %d_%d", ta.tx, ta.ty);
		for (size_t i = 0; !exact && i < np; i++) {
			cr_assert(fabs(p[i].x - q[i].x) < tol && fabs(p[i].y - q[i].y) < tol &&
					  fabs(p[i].z - q[i].z) < tol,
				  "tile %d_%d point %zu: %.5f %.5f %.5f vs %.5f %.5f %.5f", ta.tx, ta.ty,
				  i, p[i].x, p[i].y, p[i].z, q[i].x, q[i].y, q[i].z);
			cr_assert(abs((int)p[i].r - (int)q[i].r) <= 1 &&
				  abs((int)p[i].g - (int)q[i].g) <= 1 && p[i].a == q[i].a,
				  "tile %d_%d point %zu colour/weight", ta.tx, ta.ty, i);
			multi |= p[i].a > 1;
		}
		total += np;
		free(p);
		free(q);
	}
	/* b has no tile with points that a lacks */
	size_t tb = 0;
	for (size_t k = 0; k < twin_store_tile_count(b); k++) {
		twin_tile_info t;
		twin_store_tile(b, k, &t);
		tb += t.n_points;
		gpu_point *q = NULL;
		size_t nq = 0;
		cr_assert_eq(twin_store_tile_points(b, t.tx, t.ty, &q, &nq, &e), 0, "%s", e.msg);
		cr_expect_eq(t.n_points, nq, "tile %d_%d counts %zu, holds %zu", t.tx, t.ty,
			     t.n_points, nq);
		free(q);
	}
	cr_expect_eq(tb, total);
	cr_expect_gt(total, 1000, "%zu points", total);
	cr_expect(exact || multi, "some voxels merge several points");
}

static size_t las_files(const char *dir)
{
	char p[512];
	glob_t g;
	snprintf(p, sizeof(p), "%s/points/*.las", dir);
	size_t n = glob(p, 0, NULL, &g) == 0 ? g.gl_pathc : 0;
	if (n)
		globfree(&g);
	return n;
}

Test(twin_parts, fresh_replaces_one_capture_of_a_shared_store)
{
	enum { NA = 6, NB = 5, PA = 40000, PB = 30000 };
	double origin[3] = {LAT0, LON0, 40.0};
	twin_frame *fa = walk(NA, LAT0 - 0.0006, LON0 - 0.0006), *fb = walk(NB, LAT0, LON0);
	gpu_point *pa = cloud(PA, 1, 0), *pb = cloud(PB, 2, 100), *pa2 = cloud(PA, 3, 50);
	char ds[64], db[64], dab[64], dab2[64];
	twin_store *s = store_new(ds, sizeof(ds), origin), *sb = store_new(db, sizeof(db), origin);
	twin_store *sab = store_new(dab, sizeof(dab), origin), *sab2 = store_new(dab2, sizeof(dab2), origin);
	svt_err e = {0};
	size_t first = 0;
	/* The shared store: A then B. The references: B alone; A + B and A' + B fused from
	 * scratch in one call each. */
	add_capture(s, "A", fa, NA, &first);
	fuse(s, pa, PA, first, NA);
	add_capture(s, "B", fb, NB, &first);
	cr_assert_eq(first, (size_t)NA);
	fuse(s, pb, PB, first, NB);
	add_capture(sb, "B", fb, NB, &first);
	fuse(sb, pb, PB, first, NB);
	gpu_point *all = malloc((PA + PB) * sizeof(*all));
	memcpy(all, pa, PA * sizeof(*all));
	memcpy(all + PA, pb, PB * sizeof(*all));
	add_capture(sab, "AB", fa, NA, &first);
	fuse(sab, all, PA + PB, first, NA);
	memcpy(all, pa2, PA * sizeof(*all));
	add_capture(sab2, "AB", fa, NA, &first);
	fuse(sab2, all, PA + PB, first, NA);
	/* Before: the shared store is the fusion of A + B. */
	same_points(sab, s, 3e-5, 0);

	/* --fresh of A: its frames, fused-frame records and points go; B's stay as they were. */
	uint64_t g0 = twin_store_generation(s);
	cr_assert_eq(twin_store_remove_capture(s, "A", &e), 0, "%s", e.msg);
	cr_expect_eq(twin_store_remove_capture(s, "A", NULL), SVT_E_NOTFOUND);
	cr_expect_gt(twin_store_generation(s), g0);
	cr_expect_eq(twin_store_frame_count(s), (size_t)NB);
	size_t bfirst = 99, bn = 0;
	cr_assert(twin_store_capture_find(s, "B", &bfirst, &bn));
	cr_expect_eq(bfirst, 0u);
	cr_expect_eq(bn, (size_t)NB);
	cr_expect(!twin_store_capture_find(s, "A", NULL, NULL));
	const twin_frame *f1 = twin_store_frames(s);
	const twin_frame *f2 = twin_store_frames(sb);
	cr_assert(f1 && f2);
	for (size_t i = 0; i < NB; i++) {
		cr_expect_eq(f1[i].time_us, f2[i].time_us);
		cr_expect(fabs(f1[i].proj[0] - f2[i].proj[0]) < 1e-9 &&
			  fabs(f1[i].proj[1] - f2[i].proj[1]) < 1e-9, "frame %zu", i);
		cr_expect_str_eq(twin_store_frame_capture(s, i), "B");
	}
	unsigned char fused[NB + NA];
	cr_assert_eq(twin_store_frames_fused(s, 0, NB, fused, &e), 0);
	for (size_t i = 0; i < NB; i++)
		cr_expect(fused[i], "B's frame %zu stays fused (renumbered)", i);
	/* The spatial index follows the renumbering: B's first frame is found near itself. */
	size_t *idx = NULL, nn = 0;
	cr_assert_eq(twin_store_query_near(s, fb[0].llh[0], fb[0].llh[1], 5.0, &idx, NULL, &nn, &e),
		     0, "%s", e.msg);
	cr_expect(nn >= 1 && idx[0] == 0, "%zu hits, first %zu", nn, nn ? idx[0] : 0);
	free(idx);
	/* B's points are exactly those of a store that only ever held B. */
	same_points(sb, s, 0, 1);
	/* A's part files are gone with it. */
	cr_expect_eq(las_files(ds), las_files(db));

	/* A built again (new points): frames after B's, nothing fused yet, then the fusion of
	 * A' + B from scratch. */
	add_capture(s, "A", fa, NA, &first);
	cr_expect_eq(first, (size_t)NB);
	cr_assert_eq(twin_store_frames_fused(s, first, NA, fused, &e), 0);
	for (size_t i = 0; i < NA; i++)
		cr_expect(!fused[i], "A's frame %zu is not fused yet", i);
	fuse(s, pa2, PA, first, NA);
	same_points(sab2, s, 3e-5, 0);
	/* Reopened: the same. */
	twin_store_close(s);
	cr_assert_eq(twin_store_open(ds, NULL, &s, &e), 0, "%s", e.msg);
	same_points(sab2, s, 3e-5, 0);
	/* The export merges the parts as every reader does: the same point count. */
	char las[128];
	size_t nx = 0, ny = 0;
	snprintf(las, sizeof(las), "%s/all.las", ds);
	cr_assert_eq(twin_store_export_points(s, NULL, -1, las, &nx, &e), 0, "%s", e.msg);
	snprintf(las, sizeof(las), "%s/all.las", dab2);
	cr_assert_eq(twin_store_export_points(sab2, NULL, -1, las, &ny, &e), 0, "%s", e.msg);
	cr_expect_eq(nx, ny);

	twin_store *st[4] = {s, sb, sab, sab2};
	const char *dd[4] = {ds, db, dab, dab2};
	for (int k = 0; k < 4; k++) {
		twin_store_close(st[k]);
		rm_rf(dd[k]);
	}
	free(all);
	free(pa);
	free(pb);
	free(pa2);
	free(fa);
	free(fb);
}

/* Two ranks' parts (the same capture, points that share tiles and voxels) adopted by the merge
 * without a rewrite: the merged store answers as a one-rank store of all the points. */
Test(twin_parts, merge_adopts_rank_parts)
{
	enum { NF = 6, P1 = 30000, P2 = 30000 };
	double origin[3] = {LAT0, LON0, 40.0};
	twin_frame *f = walk(NF, LAT0, LON0);
	gpu_point *p1 = cloud(P1, 4, 10), *p2 = cloud(P2, 5, 200);
	char d1[64], d2[64], dm[64], done[64];
	twin_store *r1 = store_new(d1, sizeof(d1), origin), *r2 = store_new(d2, sizeof(d2), origin);
	twin_store *m = store_new(dm, sizeof(dm), origin), *one = store_new(done, sizeof(done), origin);
	size_t first = 0;
	add_capture(r1, "c", f, NF, &first);
	fuse(r1, p1, P1, 0, NF / 2);
	add_capture(r2, "c", f, NF, &first);
	fuse(r2, p2, P2, NF / 2, NF - NF / 2);
	add_capture(one, "c", f, NF, &first);
	fuse(one, p1, P1, 0, NF / 2);
	fuse(one, p2, P2, NF / 2, NF - NF / 2);
	add_capture(m, "c", f, NF, &first);
	svt_err e = {0};
	twin_store *src[2] = {r1, r2};
	size_t nt = 0;
	cr_assert_eq(twin_store_merge_points(m, src, 2, &nt, &e), 0, "%s", e.msg);
	cr_expect_gt(nt, 1u);
	same_points(one, m, 3e-5, 0);
	/* Adopted, not rewritten: every merged file is a link to a rank's. */
	char p[512];
	glob_t g;
	snprintf(p, sizeof(p), "%s/points/*.las", dm);
	cr_assert_eq(glob(p, 0, NULL, &g), 0);
	for (size_t i = 0; i < g.gl_pathc; i++) {
		struct stat sb;
		cr_assert_eq(stat(g.gl_pathv[i], &sb), 0);
		cr_expect_eq(sb.st_nlink, 2, "%s", g.gl_pathv[i]);
	}
	cr_expect_eq(g.gl_pathc, las_files(d1) + las_files(d2));
	globfree(&g);
	/* The ranks' shard records come along: the one stale in its rank is stale in the merged
	 * store, the others are not until one of their tiles changes. */
	twin_tile_info t0, t1;
	cr_assert_eq(twin_store_tile(r1, 0, &t0), 0);
	cr_assert_eq(twin_store_tile(r2, twin_store_tile_count(r2) - 1, &t1), 0);
	int a0[2] = {t0.tx, t0.ty}, a1[2] = {t1.tx, t1.ty};
	cr_assert_eq(twin_store_record_shard(r1, "s1", a0, 1, &e), 0, "%s", e.msg);
	cr_assert_eq(twin_store_record_shard(r2, "s2", a1, 1, &e), 0, "%s", e.msg);
	cr_assert_eq(twin_store_record_shard(r2, "s3", a0, 1, &e), 0, "%s", e.msg);
	fuse(r2, p1, 100, NF / 2, 1); /* touches tile 0 of r1 again in r2: s3 is stale there */
	const char **names = NULL;
	size_t ns = 0, nm = 0;
	cr_assert_eq(twin_store_stale_shards(r2, &names, &ns, &e), 0);
	cr_assert_eq(ns, 1u);
	cr_expect_str_eq(names[0], "s3");
	free(names);
	cr_assert_eq(twin_store_merge_shards(m, src, 2, &nm, &e), 0, "%s", e.msg);
	cr_expect_eq(nm, 3u);
	cr_assert_eq(twin_store_stale_shards(m, &names, &ns, &e), 0);
	cr_expect(ns == 1 && !strcmp(names[0], "s3"), "%zu stale", ns);
	free(names);
	/* A name two parts recorded is refused; a record dst held before is replaced (as a
	 * one-rank build into a shared twin re-records it), so a second merge keeps three. */
	twin_store *dup[2] = {r2, r2};
	cr_expect_eq(twin_store_merge_shards(m, dup, 2, NULL, NULL), SVT_E_INPUT, "two parts");
	cr_assert_eq(twin_store_merge_shards(m, src, 2, &nm, &e), 0, "%s", e.msg);
	cr_expect_eq(nm, 3u);
	cr_assert_eq(twin_store_stale_shards(m, &names, &ns, &e), 0);
	cr_expect(ns == 1 && !strcmp(names[0], "s3"), "%zu stale after re-merging", ns);
	free(names);
	fuse(m, p2, 100, 0, 1); /* a later change to the merged twin's tiles */
	cr_assert_eq(twin_store_stale_shards(m, &names, &ns, &e), 0);
	int s1 = 0;
	for (size_t i = 0; i < ns; i++)
		s1 |= !strcmp(names[i], "s1");
	cr_expect(s1, "s1 stale once its tile changes in the merged twin");
	free(names);
	/* A capture the destination lacks is refused, and the destination is as before. */
	twin_store *x = NULL;
	char dx[64];
	x = store_new(dx, sizeof(dx), origin);
	add_capture(x, "other", f, NF, &first);
	uint64_t gx = twin_store_generation(x);
	cr_expect_eq(twin_store_merge_points(x, src, 2, NULL, NULL), SVT_E_INPUT);
	cr_expect_eq(twin_store_generation(x), gx);
	cr_expect_eq(las_files(dx), 0u);
	twin_store *st[5] = {r1, r2, m, one, x};
	const char *dd[5] = {d1, d2, dm, done, dx};
	for (int k = 0; k < 5; k++) {
		twin_store_close(st[k]);
		rm_rf(dd[k]);
	}
	free(p1);
	free(p2);
	free(f);
}

/* ---- The main job: `build --fresh` into a shared --twin ----------------------------------- */

/* The parts of the store in dir: "capture tx ty file" lines, sorted, into out. */
static void parts_of(const char *dir, char *out, size_t cap)
{
	char p[512];
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	snprintf(p, sizeof(p), "%s/twin.gpkg", dir);
	cr_assert_eq(sqlite3_open_v2(p, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	cr_assert_eq(sqlite3_prepare_v2(db, "SELECT c.name, p.tx, p.ty, p.file FROM tile_parts p "
					"JOIN captures c ON c.fid = p.capture ORDER BY 1, 2, 3, 4",
					-1, &st, NULL),
		     SQLITE_OK, "%s", sqlite3_errmsg(db));
	size_t at = 0;
	out[0] = 0;
	while (sqlite3_step(st) == SQLITE_ROW && at < cap)
		at += (size_t)snprintf(out + at, cap - at, "%s %d %d %s\n", sqlite3_column_text(st, 0),
				       sqlite3_column_int(st, 1), sqlite3_column_int(st, 2),
				       sqlite3_column_text(st, 3));
	sqlite3_finalize(st);
	sqlite3_close(db);
}

/* Keeps the lines of text that start with prefix. */
static void lines_of(const char *text, const char *prefix, char *out, size_t cap)
{
	size_t at = 0, lp = strlen(prefix);
	out[0] = 0;
	for (const char *l = text; *l;) {
		const char *e = strchr(l, '\n');
		size_t len = e ? (size_t)(e - l) + 1 : strlen(l);
		if (!strncmp(l, prefix, lp) && at + len < cap) {
			memcpy(out + at, l, len);
			at += len;
			out[at] = 0;
		}
		l += len;
	}
}

Test(twin_parts, build_fresh_replaces_its_capture_in_a_shared_twin, .timeout = 600)
{
	const char *samples = getenv("SVT_SAMPLES"), *bld = getenv("SVT_BUILD");
	char runs[1024], svt[1024], cmd[4096], t[64];
	struct stat sb;
	snprintf(runs, sizeof(runs), "%s/../runs", samples ? samples : "build/samples/capture");
	snprintf(svt, sizeof(svt), "%s/svtwin", bld ? bld : "build");
	snprintf(cmd, sizeof(cmd), "%s/run0", runs);
	if (stat(cmd, &sb) != 0 || stat(svt, &sb) != 0) {
		cr_skip_test("no sample runs (%s) or no %s: `make samples` first", runs, svt);
		return;
	}
	snprintf(t, sizeof(t), "/tmp/svt_twin_freshXXXXXX");
	cr_assert(mkdtemp(t));
	const char *args = "--clip-frames 9 --cpu --threads 1 --codec lz4";
	for (int r = 0; r < 2; r++) {
		snprintf(cmd, sizeof(cmd), "%s -q build %s/run%d -o %s/o%d --twin %s/tw %s", svt, runs,
			 r, t, r, t, args);
		cr_assert_eq(system(cmd), 0, "%s", cmd);
	}
	char tw[128];
	snprintf(tw, sizeof(tw), "%s/tw", t);
	static char before[1 << 16], after[1 << 16];
	parts_of(tw, before, sizeof(before));
	twin_store *s = NULL;
	svt_err e = {0};
	cr_assert_eq(twin_store_open(tw, NULL, &s, &e), 0, "%s", e.msg);
	size_t nf = twin_store_frame_count(s);
	/* A copy of the whole store before, to compare its points with after. */
	char ref[128];
	snprintf(ref, sizeof(ref), "%s/ref", t);
	snprintf(cmd, sizeof(cmd), "cp -a %s %s", tw, ref);
	cr_assert_eq(system(cmd), 0);
	twin_store_close(s);
	/* run0 again, --fresh: its entries replaced, run1's left as they are. */
	snprintf(cmd, sizeof(cmd), "%s -q build %s/run0 -o %s/o0 --twin %s --fresh %s", svt, runs, t,
		 tw, args);
	cr_assert_eq(system(cmd), 0, "%s", cmd);
	parts_of(tw, after, sizeof(after));
	static char b0[1 << 16], b1[1 << 16], a0[1 << 16], a1[1 << 16];
	/* capture names are run<r>@<digest>: split by the name's prefix */
	lines_of(before, "run0", b0, sizeof(b0));
	lines_of(before, "run1", b1, sizeof(b1));
	lines_of(after, "run0", a0, sizeof(a0));
	lines_of(after, "run1", a1, sizeof(a1));
	cr_assert(b0[0] && b1[0], "both runs have points:\n%s", before);
	cr_expect_str_eq(a1, b1, "run1's parts are untouched (same files)");
	cr_expect_str_neq(a0, b0, "run0's parts are new files");
	cr_expect_eq(strlen(a0) > 0, 1);
	twin_store *r = NULL;
	cr_assert_eq(twin_store_open(tw, NULL, &s, &e), 0, "%s", e.msg);
	cr_assert_eq(twin_store_open(ref, NULL, &r, &e), 0, "%s", e.msg);
	cr_expect_eq(twin_store_frame_count(s), nf, "the same frames, not run0's twice");
	size_t first0 = 0, first1 = 0;
	int found0 = 0, found1 = 0;
	for (size_t i = 0; i < twin_store_frame_count(s); i++) {
		const char *c = twin_store_frame_capture(s, i);
		if (!found0 && !strncmp(c, "run0", 4)) {
			found0 = 1;
			first0 = i;
		}
		if (!found1 && !strncmp(c, "run1", 4)) {
			found1 = 1;
			first1 = i;
		}
	}
	cr_expect(found0 && found1 && first1 == 0 && first0 > 0,
		  "run1's frames moved down, run0's added after them (%zu, %zu)", first0, first1);
	/* The same points as before (run0's rebuilt from the same photos), up to rounding. */
	same_points(r, s, 3e-5, 0);
	twin_store_close(s);
	twin_store_close(r);
	rm_rf(t);
}

/* A store written before parts (one file per tile in tiles.points_file): read as it is, moved
 * into parts by its first write, and merged as a rank's part. */
Test(twin_parts, stores_made_before_parts)
{
	enum { NF = 4, NP = 20000 };
	double origin[3] = {LAT0, LON0, 40.0};
	twin_frame *f = walk(NF, LAT0, LON0);
	gpu_point *p = cloud(NP, 7, 30), *q = cloud(NP, 8, 90);
	char dold[64], dref[64], dm[64];
	twin_store *s = store_new(dold, sizeof(dold), origin);
	twin_store *ref = store_new(dref, sizeof(dref), origin);
	add_capture(s, "c", f, NF, NULL);
	add_capture(ref, "c", f, NF, NULL);
	svt_err e = {0};
	cr_assert_eq(twin_store_add_points(s, p, NP, NULL, &e), 0, "%s", e.msg);
	cr_assert_eq(twin_store_add_points(ref, p, NP, NULL, &e), 0, "%s", e.msg);
	twin_store_close(s);
	/* Back to the earlier layout: each tile's one file named in tiles, no tile_parts. */
	char path[128];
	sqlite3 *db = NULL;
	snprintf(path, sizeof(path), "%s/twin.gpkg", dold);
	cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
	cr_assert_eq(sqlite3_exec(db, "UPDATE tiles SET points_file = (SELECT file FROM tile_parts p "
				  "WHERE p.tx = tiles.tx AND p.ty = tiles.ty); DROP TABLE tile_parts;",
				  NULL, NULL, NULL),
		     SQLITE_OK, "%s", sqlite3_errmsg(db));
	sqlite3_close(db);
	cr_assert_eq(twin_store_open(dold, NULL, &s, &e), 0, "%s", e.msg);
	same_points(ref, s, 0, 1);
	/* Merged as a rank's part (a link per tile file). */
	twin_store *m = store_new(dm, sizeof(dm), origin);
	add_capture(m, "c", f, NF, NULL);
	cr_assert_eq(twin_store_merge_points(m, &s, 1, NULL, &e), 0, "%s", e.msg);
	same_points(ref, m, 0, 1);
	/* Its first write moves its files into parts; the result is the fusion of everything. */
	cr_assert_eq(twin_store_add_points_of(s, q, NP, NULL, (size_t[]){0}, 1, &e), 0, "%s", e.msg);
	cr_assert_eq(twin_store_add_points(ref, q, NP, NULL, &e), 0, "%s", e.msg);
	same_points(ref, s, 3e-5, 0);
	twin_store *st[3] = {s, ref, m};
	const char *dd[3] = {dold, dref, dm};
	for (int k = 0; k < 3; k++) {
		twin_store_close(st[k]);
		rm_rf(dd[k]);
	}
	free(p);
	free(q);
	free(f);
}

/* The largest number of parts any (tile, capture) of the store at dir holds. */
static int parts_max(const char *dir)
{
	char path[128];
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	snprintf(path, sizeof(path), "%s/twin.gpkg", dir);
	cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
	cr_assert_eq(sqlite3_prepare_v2(db, "SELECT COALESCE(MAX(n), 0) FROM (SELECT COUNT(*) AS n "
					"FROM tile_parts GROUP BY tx, ty, capture)", -1, &st, NULL),
		     SQLITE_OK, "%s", sqlite3_errmsg(db));
	cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
	int n = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return n;
}

/* Many small fusion calls into the same few tiles (a clip at a time) give the points of one
 * call with them all (the ground truth: a fusion from scratch), within the rounding of the
 * files: each write of a mean (through the ENU -> projected map, onto the 0.01 mm grid of the
 * file) may move it by about 1.5e-5 m, and a mean is written once plus once per compaction
 * after it (NCALL / TWIN_PARTS_MAX); colours within one level. Each call adds a part without
 * rewriting the others; compaction keeps a capture's parts of a tile at TWIN_PARTS_MAX at
 * most, no file left over. */
Test(twin_parts, many_small_fusions_match_one)
{
	enum { NF = 4, NP = 30000, NCALL = 3 * TWIN_PARTS_MAX + 3 };
	double origin[3] = {LAT0, LON0, 40.0};
	twin_frame *f = walk(NF, LAT0, LON0);
	gpu_point *p = cloud(NP, 11, 50);
	for (size_t i = 0; i < NP; i++) { /* a 4 m square: one tile or a corner of a few */
		p[i].x /= 40.0f;
		p[i].y /= 40.0f;
	}
	char ds[64], dref[64];
	size_t first = 0;
	twin_store *s = store_new(ds, sizeof(ds), origin);
	twin_store *ref = store_new(dref, sizeof(dref), origin);
	add_capture(s, "c", f, NF, &first);
	add_capture(ref, "c", f, NF, NULL);
	fuse(ref, p, NP, 0, NF);
	int seen_max = 0;
	for (size_t c = 0; c < NCALL; c++) {
		size_t a = c * NP / NCALL, b = (c + 1) * NP / NCALL;
		fuse(s, p + a, b - a, first, NF);
		int m = parts_max(ds);
		cr_assert(m >= 1 && m <= TWIN_PARTS_MAX, "call %zu: %d parts", c, m);
		seen_max = m > seen_max ? m : seen_max;
	}
	cr_expect_eq(seen_max, TWIN_PARTS_MAX, "parts accumulate up to the bound");
	same_points(ref, s, 1.5e-5 * (1 + NCALL / TWIN_PARTS_MAX), 0);
	/* The files on disk are exactly the parts named (the compacted ones removed). */
	size_t tiles_parts = 0;
	for (size_t k = 0; k < twin_store_tile_count(s); k++) {
		twin_tile_info t;
		cr_assert_eq(twin_store_tile(s, k, &t), 0);
		tiles_parts += t.n_points > 0;
	}
	cr_assert_gt(tiles_parts, 0);
	char path[128];
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	snprintf(path, sizeof(path), "%s/twin.gpkg", ds);
	cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
	cr_assert_eq(sqlite3_prepare_v2(db, "SELECT COUNT(*) FROM tile_parts", -1, &st, NULL),
		     SQLITE_OK);
	cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
	size_t rows = (size_t)sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	cr_expect_eq(las_files(ds), rows, "%zu files, %zu parts", las_files(ds), rows);
	cr_expect_leq(rows, tiles_parts * TWIN_PARTS_MAX);
	/* Its capture removed: every part goes, no file is left. */
	svt_err e = {0};
	cr_assert_eq(twin_store_remove_capture(s, "c", &e), 0, "%s", e.msg);
	cr_expect_eq(las_files(ds), 0);
	twin_store_close(s);
	twin_store_close(ref);
	rm_rf(ds);
	rm_rf(dref);
	free(p);
	free(f);
}

static int line_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The rows of table t (every column), sorted, as one string. */
static char *table_text(const char *dir, const char *t)
{
	char path[128], sql[128];
	snprintf(path, sizeof(path), "%s/twin.gpkg", dir);
	snprintf(sql, sizeof(sql), "SELECT * FROM %s", t);
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
	cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK, "%s", sql);
	size_t cap = 1 << 16, n = 0;
	char *s = malloc(cap);
	s[0] = '\0';
	while (sqlite3_step(st) == SQLITE_ROW)
		for (int c = 0; c < sqlite3_column_count(st); c++) {
			const unsigned char *v = sqlite3_column_text(st, c);
			size_t l = strlen(v ? (const char *)v : "") + 2;
			if (n + l + 1 > cap)
				s = realloc(s, cap = 2 * (n + l + 1));
			n += (size_t)snprintf(s + n, cap - n, "%s%c", v ? (const char *)v : "",
					      c + 1 < sqlite3_column_count(st) ? '|' : '\n');
		}
	sqlite3_finalize(st);
	sqlite3_close(db);
	/* rows in a fixed order: the lines sorted */
	size_t nl = 0;
	for (size_t i = 0; i < n; i++)
		nl += s[i] == '\n';
	char **ln = malloc((nl + 1) * sizeof(*ln)), *out = malloc(n + 1);
	size_t k = 0;
	for (char *q = strtok(s, "\n"); q; q = strtok(NULL, "\n"))
		ln[k++] = q;
	qsort(ln, k, sizeof(*ln), line_cmp);
	out[0] = '\0';
	for (size_t i = 0, o = 0; i < k; i++)
		o += (size_t)sprintf(out + o, "%s\n", ln[i]);
	free(ln);
	free(s);
	return out;
}

/* A fusion call shared out over threads (twin_store_set_threads, helpers in a gate) writes the
 * same part files, byte for byte, and the same rows as one thread: a call of several blocks of
 * points, calls over many tiles, some tiles compacted (TWIN_PARTS_MAX + 1 parts of one capture), a gate with fewer places than
 * threads. */
Test(twin_parts, threads_give_the_same_files_and_rows)
{
	enum { NF = 4, NP = 40000, NCALL = TWIN_PARTS_MAX + 3 };
	double origin[3] = {LAT0, LON0, 40.0};
	twin_frame *f = walk(NF, LAT0, LON0);
	gpu_point *p = cloud(NP, 7, 90); /* a 160 m square: several tiles a call */
	char d1[64], d3[64];
	twin_store *s1 = store_new(d1, sizeof(d1), origin);
	twin_store *s3 = store_new(d3, sizeof(d3), origin);
	svt_gate *gate = svt_gate_create(2);
	twin_store_set_threads(s1, 1, NULL);
	twin_store_set_threads(s3, 3, gate);
	size_t first = 0;
	add_capture(s1, "c", f, NF, &first);
	add_capture(s3, "c", f, NF, NULL);
	svt_gate_enter(gate); /* the caller holds a place, as the job's fusion thread does */
	/* one call of several blocks of points (the passes over the points are shared too),
	 * then calls that pile parts up to a compaction */
	gpu_point *big = cloud(200000, 8, 30);
	fuse(s1, big, 200000, first, NF);
	fuse(s3, big, 200000, first, NF);
	free(big);
	for (size_t c = 0; c < NCALL; c++) {
		size_t a = c * NP / NCALL, b = (c + 1) * NP / NCALL;
		fuse(s1, p + a, b - a, first, NF);
		fuse(s3, p + a, b - a, first, NF);
	}
	svt_gate_leave(gate);
	cr_expect_leq(svt_gate_peak(gate), 2, "the helpers stay in the gate");
	cr_assert_gt(twin_store_tile_count(s1), 3, "the calls span several tiles");
	cr_assert_geq(parts_max(d1), 1);
	const char *tables[] = {"tiles", "tile_parts", "fused_frames"};
	for (int k = 0; k < 3; k++) {
		char *a = table_text(d1, tables[k]), *b = table_text(d3, tables[k]);
		cr_expect_str_eq(a, b, "table %s differs", tables[k]);
		free(a);
		free(b);
	}
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "diff -r '%s/points' '%s/points'", d1, d3);
	cr_expect_eq(system(cmd), 0, "the part files differ");
	cr_expect_gt(las_files(d1), 3);
	twin_store_close(s1);
	twin_store_close(s3);
	svt_gate_destroy(gate);
	rm_rf(d1);
	rm_rf(d3);
	free(p);
	free(f);
}
