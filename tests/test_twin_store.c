/* test_twin_store.c: the persistent store, incremental updates and queries (twin_store.c,
 * twin_points.c, twin_query.c). */
#include <criterion/criterion.h>
#include <glob.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "geo/geo.h"
#include "twin/twin.h"
#include "twin/twin_internal.h"
#include "twin/twin_las.h"
#include <sqlite3.h>

/* Sejong-daero, Gwanghwamun (37.5759, 126.9769) to City Hall (37.5666, 126.9784). */
#define LAT_A 37.5759
#define LON_A 126.9769
#define LAT_B 37.5666
#define LON_B 126.9784

static char g_dir[256];

static void rm_rf(const char *d)
{
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d);
	cr_assert_eq(system(cmd), 0);
}

static void mk_dir(void)
{
	snprintf(g_dir, sizeof(g_dir), "/tmp/svt_twin_storeXXXXXX");
	cr_assert(mkdtemp(g_dir));
}

/* n frames from (lat0, lon0) to (lat1, lon1), 1 s apart; w2c in the ENU frame at enu (may be
 * NULL: left zero). */
static twin_frame *walk(size_t n, double lat0, double lon0, double lat1, double lon1, geo_enu *enu)
{
	twin_frame *f = calloc(n, sizeof(*f));
	cr_assert(f);
	double hd = geo_bearing_deg(lat0, lon0, lat1, lon1);
	for (size_t i = 0; i < n; i++) {
		double u = n > 1 ? (double)i / (double)(n - 1) : 0.0;
		f[i].time_us = 1700000000000000LL + (int64_t)i * 1000000;
		f[i].llh[0] = lat0 + (lat1 - lat0) * u;
		f[i].llh[1] = lon0 + (lon1 - lon0) * u;
		f[i].llh[2] = 40.0;
		f[i].heading = hd;
		f[i].src = (int)i;
		if (enu) {
			svt_err e = {0};
			cr_assert_eq(geo_pose_from_gps(enu, f[i].llh[0], f[i].llh[1], f[i].llh[2], hd, 0,
						       0, f[i].w2c, &e),
				     0, "%s", e.msg);
		}
	}
	return f;
}

/* A new store in g_dir (mk_dir) holding one short capture at City Hall (its ENU origin); *f
 * gets the capture's frames (the caller frees them). */
static twin_store *store_at_city_hall(twin_frame **f)
{
	mk_dir();
	twin_store *s = NULL;
	svt_err e = {0};
	cr_assert_eq(twin_store_open(g_dir, NULL, &s, &e), 0, "%s", e.msg);
	*f = walk(3, LAT_B, LON_B, LAT_B + 0.0001, LON_B, NULL);
	twin_capture_in in = {.name = "a", .frames = *f, .n = 3};
	cr_assert_eq(twin_store_add_capture(s, &in, NULL, &e), 0, "%s", e.msg);
	return s;
}

static const char *real_gu(void)
{
	static char p[4096];
	const char *root = getenv("SVT_REAL_DATA");
	struct stat st;
	if (!root)
		return NULL;
	snprintf(p, sizeof(p), "%s/seoul_maps/juso/2015/json/seoul_municipalities_geo_simple.json",
		 root);
	return stat(p, &st) == 0 ? p : NULL;
}

Test(twin_store, build_query_reopen)
{
	mk_dir();
	twin_store *s = NULL;
	svt_err e = {0};
	cr_assert_eq(twin_store_open(g_dir, NULL, &s, &e), 0, "%s", e.msg);
	cr_expect_eq(twin_store_frame_count(s), 0);
	cr_expect_eq(twin_store_epsg(s), 5186);

	/* Poses given in an ENU frame of the capture's own origin (500 m away from where the
	 * store's origin will be: the first frame). */
	geo_enu *cap_enu = NULL;
	double cap_origin[3] = {37.571, 126.981, 30.0};
	cr_assert_eq(geo_enu_create(cap_origin[0], cap_origin[1], cap_origin[2], &cap_enu, &e), 0);
	size_t n = 60;
	twin_frame *f = walk(n, LAT_A, LON_A, LAT_B, LON_B, cap_enu);
	const char **paths = calloc(n, sizeof(char *));
	char names[60][32];
	for (size_t i = 0; i < n; i++) {
		snprintf(names[i], sizeof(names[i]), "pano_%03zu.jpg", i);
		paths[i] = names[i];
	}
	twin_capture_in in = {.name = "sejong", .source = "/captures/sejong", .frames = f, .n = n,
			      .enu_origin_llh = cap_origin, .paths = paths};
	size_t first = 99;
	cr_assert_eq(twin_store_add_capture(s, &in, &first, &e), 0, "%s", e.msg);
	cr_expect_eq(first, 0);
	cr_assert_eq(twin_store_frame_count(s), n);
	cr_expect_eq(twin_store_add_capture(s, &in, NULL, NULL), SVT_E_INPUT); /* same name */

	/* Projected positions are EPSG:5186; the City Hall end is the anchor point
	 * (ANCHORS: E 198091.7081, N 551896.1212). */
	const twin_frame *sf = twin_store_frames(s);
	cr_expect(fabs(sf[n - 1].proj[0] - 198091.7081) < 0.01, "E %.4f", sf[n - 1].proj[0]);
	cr_expect(fabs(sf[n - 1].proj[1] - 551896.1212) < 0.01, "N %.4f", sf[n - 1].proj[1]);
	/* The store's ENU origin is the first frame. */
	cr_expect(fabs(sf[0].enu[0]) < 1e-6 && fabs(sf[0].enu[1]) < 1e-6);
	/* Poses re-expressed in the store's ENU frame: the same camera centre as the one
	 * placed there from llh, and the same orientation up to the angle between the two
	 * frames' tangent planes (a pose "level" in one ENU frame is tilted in another). */
	double origin[3];
	twin_store_origin(s, origin);
	geo_enu *st_enu = NULL;
	cr_assert_eq(geo_enu_create(origin[0], origin[1], origin[2], &st_enu, &e), 0);
	double tilt = geo_distance_m(origin[0], origin[1], cap_origin[0], cap_origin[1]) /
		      6371000.0 * 180.0 / M_PI;
	for (size_t i = 0; i < n; i += 7) {
		double w[16], C0[3], C1[3], R0[9], R1[9];
		cr_assert_eq(geo_pose_from_gps(st_enu, sf[i].llh[0], sf[i].llh[1], sf[i].llh[2],
					       sf[i].heading, 0, 0, w, &e), 0);
		geo_pose_center(w, C0, R0);
		geo_pose_center(sf[i].w2c, C1, R1);
		for (int k = 0; k < 3; k++)
			cr_expect(fabs(C0[k] - C1[k]) < 1e-4, "frame %zu centre %d: %.6f vs %.6f", i, k,
				  C1[k], C0[k]);
		double ang = geo_rot_angle_deg(R0, R1);
		cr_expect(ang < tilt * 1.2 + 1e-7 && ang > tilt * 0.3, "frame %zu: %.6f deg (tilt %.6f)",
			  i, ang, tilt);
	}
	/* Tiles: 100 m in the projected CRS; every frame lies in its tile. */
	for (size_t i = 0; i < n; i++) {
		int tx, ty;
		twin_store_frame_tile(s, i, &tx, &ty);
		cr_expect(sf[i].proj[0] >= tx * 100.0 && sf[i].proj[0] < (tx + 1) * 100.0);
		cr_expect(sf[i].proj[1] >= ty * 100.0 && sf[i].proj[1] < (ty + 1) * 100.0);
	}
	size_t nt = twin_store_tile_count(s), sum = 0;
	cr_expect_geq(nt, 10); /* ~1 km north-south */
	for (size_t k = 0; k < nt; k++) {
		twin_tile_info ti;
		cr_assert_eq(twin_store_tile(s, k, &ti), 0);
		sum += ti.n_frames;
	}
	cr_expect_eq(sum, n);
	cr_expect_str_eq(twin_store_frame_path(s, 3), "pano_003.jpg");
	cr_expect_str_eq(twin_store_frame_capture(s, 3), "sejong");

	/* Near: against brute force. */
	size_t *idx = NULL, m = 0;
	double *dist = NULL;
	cr_assert_eq(twin_store_query_near(s, LAT_B, LON_B, 150.0, &idx, &dist, &m, &e), 0, "%s",
		     e.msg);
	size_t brute = 0;
	for (size_t i = 0; i < n; i++)
		brute += geo_distance_m(LAT_B, LON_B, sf[i].llh[0], sf[i].llh[1]) <= 150.0;
	cr_expect_eq(m, brute);
	cr_expect_gt(m, 3);
	cr_expect_eq(idx[0], n - 1);
	for (size_t k = 1; k < m; k++)
		cr_expect_geq(dist[k], dist[k - 1]);
	free(idx);
	free(dist);

	/* Nearest pose: heading matters when weighted. */
	double score;
	long best = twin_store_nearest_pose(s, sf[20].llh[0], sf[20].llh[1], NAN, 0, &score);
	cr_expect_eq(best, 20);
	cr_expect_lt(score, 1e-6);

	/* Layers and district queries (real JUSO gu layer). */
	const char *gu = real_gu();
	if (gu) {
		cr_assert_eq(twin_store_add_layer(s, "gu", gu, NULL, &e), 0, "%s", e.msg);
		cr_expect_str_eq(twin_store_frame_label(s, 0, 0), "종로구");
		cr_expect_str_eq(twin_store_frame_label(s, n - 1, 0), "중구");
		size_t *jd = NULL, nj = 0, *jg = NULL, ng = 0;
		cr_assert_eq(twin_store_query_district(s, NULL, "중구", &jd, &nj, &e), 0, "%s", e.msg);
		cr_assert_eq(twin_store_query_district(s, "gu", "Jongno-gu", &jg, &ng, &e), 0);
		cr_expect_eq(nj + ng, n, "Sejong-daero is all Jongno or Jung: %zu + %zu", nj, ng);
		cr_expect_gt(nj, 0);
		cr_expect_gt(ng, 0);
		for (size_t k = 0; k < nj; k++)
			cr_expect_str_eq(twin_store_frame_label(s, jd[k], 0), "중구");
		/* The polygon query agrees with the labels. */
		size_t *pp = NULL, np = 0;
		const twin_layer *L = twin_store_layer(s, 0);
		cr_assert_eq(twin_store_query_polygon(s, L, (size_t)twin_layer_find(L, "중구"), &pp,
						      &np, &e), 0);
		cr_expect_eq(np, nj);
		free(pp);
		free(jd);
		free(jg);
		cr_expect_eq(twin_store_query_district(s, NULL, "Atlantis", &jd, &nj, NULL),
			     SVT_E_NOTFOUND);
	} else {
		cr_log_info("SVT_REAL_DATA absent: layer part of the test skipped");
	}

	/* Reopen: everything comes back. (add_layer was a mutating call: the frames pointer is
	 * fetched again.) */
	uint64_t gen = twin_store_generation(s);
	twin_frame *copy = malloc(n * sizeof(*copy));
	sf = twin_store_frames(s);
	memcpy(copy, sf, n * sizeof(*copy));
	twin_store_close(s);
	s = NULL;
	cr_assert_eq(twin_store_open(g_dir, NULL, &s, &e), 0, "%s", e.msg);
	cr_assert_eq(twin_store_frame_count(s), n);
	cr_expect_eq(twin_store_generation(s), gen);
	cr_expect_eq(twin_store_tile_count(s), nt);
	sf = twin_store_frames(s);
	for (size_t i = 0; i < n; i++) {
		cr_expect_eq(memcmp(sf[i].llh, copy[i].llh, sizeof(sf[i].llh)), 0);
		cr_expect_eq(memcmp(sf[i].w2c, copy[i].w2c, sizeof(sf[i].w2c)), 0);
		cr_expect_eq(sf[i].time_us, copy[i].time_us);
	}
	if (gu)
		cr_expect_str_eq(twin_store_frame_label(s, n - 1, 0), "중구");
	twin_store_close(s);
	twin_store_close(NULL);
	geo_enu_destroy(cap_enu);
	geo_enu_destroy(st_enu);
	free(copy);
	free(f);
	free(paths);
	rm_rf(g_dir);
}

Test(twin_store, incremental_dirty_tiles_and_stale_shards)
{
	mk_dir();
	twin_store *s = NULL;
	svt_err e = {0};
	cr_assert_eq(twin_store_open(g_dir, NULL, &s, &e), 0, "%s", e.msg);
	size_t n = 60;
	twin_frame *f = walk(n, LAT_A, LON_A, LAT_B, LON_B, NULL);
	twin_capture_in in = {.name = "a", .frames = f, .n = n};
	cr_assert_eq(twin_store_add_capture(s, &in, NULL, &e), 0, "%s", e.msg);
	uint64_t g1 = twin_store_generation(s);

	/* Two shards: one cut from the north end, one from the south end. */
	size_t north[10], south[10];
	for (int k = 0; k < 10; k++) {
		north[k] = (size_t)k;
		south[k] = n - 10 + (size_t)k;
	}
	twin_clip cn = {.n = 10, .idx = north}, cs = {.n = 10, .idx = south};
	int *tn = NULL, *ts = NULL;
	size_t ntn = 0, nts = 0;
	cr_assert_eq(twin_store_clip_tiles(s, &cn, &tn, &ntn, &e), 0);
	cr_assert_eq(twin_store_clip_tiles(s, &cs, &ts, &nts, &e), 0);
	cr_expect_geq(ntn, 1);
	cr_assert_eq(twin_store_record_shard(s, "north.h5", tn, ntn, &e), 0, "%s", e.msg);
	cr_assert_eq(twin_store_record_shard(s, "south.h5", ts, nts, &e), 0, "%s", e.msg);
	const char **stale = NULL;
	size_t nst = 9;
	cr_assert_eq(twin_store_stale_shards(s, &stale, &nst, &e), 0);
	cr_expect_eq(nst, 0);
	free(stale);

	/* Note the north tile's generation, then add a capture around City Hall only: the
	 * north tile must not change. */
	uint64_t north_gen = 0;
	for (size_t k = 0; k < twin_store_tile_count(s); k++) {
		twin_tile_info ti;
		cr_assert_eq(twin_store_tile(s, k, &ti), 0);
		if (ti.tx == tn[0] && ti.ty == tn[1])
			north_gen = ti.gen;
	}
	cr_assert_eq(north_gen, g1);
	twin_frame *g = walk(10, LAT_B + 0.0003, LON_B, LAT_B - 0.0003, LON_B, NULL);
	twin_capture_in in2 = {.name = "b", .frames = g, .n = 10};
	cr_assert_eq(twin_store_add_capture(s, &in2, NULL, &e), 0, "%s", e.msg);
	for (size_t k = 0; k < twin_store_tile_count(s); k++) {
		twin_tile_info ti;
		cr_assert_eq(twin_store_tile(s, k, &ti), 0);
		if (ti.tx == tn[0] && ti.ty == tn[1])
			cr_expect_eq(ti.gen, g1, "an untouched tile changed");
	}

	int *dt = NULL;
	size_t nd = 0;
	cr_assert_eq(twin_store_dirty_tiles(s, g1, &dt, &nd, &e), 0);
	cr_expect_geq(nd, 1);
	const twin_frame *sf = twin_store_frames(s);
	for (size_t k = 0; k < nd; k++) {
		/* Every dirty tile holds a frame of capture b. */
		int found = 0;
		for (size_t i = n; i < n + 10; i++) {
			int tx, ty;
			twin_store_frame_tile(s, i, &tx, &ty);
			found |= tx == dt[2 * k] && ty == dt[2 * k + 1];
		}
		cr_expect(found, "tile %d_%d dirty without new frames", dt[2 * k], dt[2 * k + 1]);
	}
	(void)sf;
	cr_assert_eq(twin_store_stale_shards(s, &stale, &nst, &e), 0);
	cr_assert_eq(nst, 1);
	cr_expect_str_eq(stale[0], "south.h5");
	free(stale);
	/* The same after reopening (shards.json and tile generations persist). */
	twin_store_close(s);
	cr_assert_eq(twin_store_open(g_dir, NULL, &s, &e), 0, "%s", e.msg);
	cr_assert_eq(twin_store_stale_shards(s, &stale, &nst, &e), 0);
	cr_assert_eq(nst, 1);
	cr_expect_str_eq(stale[0], "south.h5");
	free(stale);
	/* Sequences stay distinct across captures; each is a trajectory in time order. */
	sf = twin_store_frames(s);
	cr_expect_neq(sf[0].seq, sf[n].seq);
	size_t *tr = NULL, ntr = 0;
	cr_assert_eq(twin_store_trajectory(s, sf[n].seq, &tr, &ntr, &e), 0);
	cr_expect_eq(ntr, 10);
	for (size_t k = 0; k < ntr; k++)
		cr_expect_eq(tr[k], n + k);
	free(tr);
	cr_assert_eq(twin_store_trajectory(s, 12345, &tr, &ntr, &e), 0);
	cr_expect_eq(ntr, 0);
	free(tr);
	/* Re-recording the shard makes it fresh. */
	cr_assert_eq(twin_store_record_shard(s, "south.h5", ts, nts, &e), 0);
	cr_assert_eq(twin_store_stale_shards(s, &stale, &nst, &e), 0);
	cr_expect_eq(nst, 0);
	free(stale);
	free(dt);
	free(tn);
	free(ts);
	free(f);
	free(g);
	twin_store_close(s);
	rm_rf(g_dir);
}

Test(twin_store, fused_points)
{
	mk_dir();
	twin_store *s = NULL;
	svt_err e = {0};
	cr_assert_eq(twin_store_open(g_dir, NULL, &s, &e), 0, "%s", e.msg);
	/* Points before any frame: no ENU origin yet. */
	gpu_point p0 = {0};
	cr_expect_eq(twin_store_add_points(s, &p0, 1, NULL, NULL), SVT_E_INPUT);
	twin_frame *f = walk(5, LAT_B, LON_B, LAT_B + 0.0002, LON_B, NULL);
	twin_capture_in in = {.name = "a", .frames = f, .n = 5};
	cr_assert_eq(twin_store_add_capture(s, &in, NULL, &e), 0, "%s", e.msg);

	/* Points given in another ENU frame (origin 300 m away): a known place must land at
	 * its lat/lon in the store. A 20 m x 20 m patch of 0.02 m spacing on the ground. */
	double org[3] = {37.5690, 126.9800, 35.0};
	geo_enu *oe = NULL, *se = NULL;
	cr_assert_eq(geo_enu_create(org[0], org[1], org[2], &oe, &e), 0);
	double tx = LON_B, ty = LAT_B, tz = 38.0;
	cr_assert_eq(geo_enu_forward(oe, &tx, &ty, &tz, sizeof(double), 1, &e), 0);
	size_t side = 100, np = side * side;
	gpu_point *pts = malloc(np * sizeof(*pts));
	for (size_t i = 0; i < np; i++) {
		pts[i].x = (float)(tx + 0.02 * (double)(i % side));
		pts[i].y = (float)(ty + 0.02 * (double)(i / side));
		pts[i].z = (float)tz;
		pts[i].r = (uint8_t)(i % 200);
		pts[i].g = 100;
		pts[i].b = 50;
		pts[i].a = 255;
	}
	uint64_t g0 = twin_store_generation(s);
	cr_assert_eq(twin_store_add_points(s, pts, np, org, &e), 0, "%s", e.msg);
	cr_expect_eq(twin_store_generation(s), g0 + 1);
	size_t total = 0;
	int found_tile = -1;
	for (size_t k = 0; k < twin_store_tile_count(s); k++) {
		twin_tile_info ti;
		twin_store_tile(s, k, &ti);
		total += ti.n_points;
		if (ti.n_points && found_tile < 0)
			found_tile = (int)k;
	}
	/* 2 m x 2 m at 0.05 m voxels: 40 x 40 = 1600 voxels, maybe +1 row/column of offset. */
	cr_expect(total >= 1600 && total <= 41 * 41, "%zu voxels", total);
	cr_assert_geq(found_tile, 0);
	twin_tile_info ti;
	twin_store_tile(s, (size_t)found_tile, &ti);
	gpu_point *out = NULL;
	size_t nout = 0;
	cr_assert_eq(twin_store_tile_points(s, ti.tx, ti.ty, &out, &nout, &e), 0, "%s", e.msg);
	cr_expect_eq(nout, ti.n_points);
	/* The lowest-x, lowest-y voxel's mean sits near the patch corner, which is City Hall:
	 * convert back to lat/lon through the store's ENU frame. */
	double origin[3];
	twin_store_origin(s, origin);
	cr_assert_eq(geo_enu_create(origin[0], origin[1], origin[2], &se, &e), 0);
	size_t best = 0;
	for (size_t i = 1; i < nout; i++)
		if (out[i].x + out[i].y < out[best].x + out[best].y)
			best = i;
	double x = out[best].x, y = out[best].y, z = out[best].z;
	cr_assert_eq(geo_enu_inverse(se, &x, &y, &z, sizeof(double), 1, &e), 0);
	double d = geo_distance_m(LAT_B, LON_B, y, x);
	cr_expect_lt(d, 0.08, "corner voxel %.3f m from City Hall", d);
	cr_expect(fabs(z - 38.0) < 0.01, "h %.4f", z);

	/* Merging the same points again doubles every weight, keeps positions and colours. */
	size_t n1 = total;
	cr_assert_eq(twin_store_add_points(s, pts, np, org, &e), 0, "%s", e.msg);
	gpu_point *out2 = NULL;
	size_t nout2 = 0;
	cr_assert_eq(twin_store_tile_points(s, ti.tx, ti.ty, &out2, &nout2, &e), 0);
	cr_assert_eq(nout2, nout);
	for (size_t i = 0; i < nout; i++) {
		cr_expect(fabs(out2[i].x - out[i].x) < 1e-3 && fabs(out2[i].y - out[i].y) < 1e-3,
			  "%zu: %.5f %.5f %.5f a%d vs %.5f %.5f %.5f a%d", i, out[i].x, out[i].y, out[i].z,
			  out[i].a, out2[i].x, out2[i].y, out2[i].z, out2[i].a);
		cr_expect_eq(out2[i].r, out[i].r);
		cr_expect_eq(out2[i].a, out[i].a * 2 > 255 ? 255 : out[i].a * 2);
	}
	/* Reopen: the point counts persist. */
	twin_store_close(s);
	cr_assert_eq(twin_store_open(g_dir, NULL, &s, &e), 0, "%s", e.msg);
	size_t total2 = 0;
	for (size_t k = 0; k < twin_store_tile_count(s); k++) {
		twin_store_tile(s, k, &ti);
		total2 += ti.n_points;
	}
	cr_expect_eq(total2, n1);
	/* The tile's points are LAS 1.4 files, one part per call (none rewritten: readers merge
	 * them; compaction is test_twin_parts's); a corrupt one is refused. */
	char p[512];
	twin_store_tile(s, (size_t)found_tile, &ti);
	snprintf(p, sizeof(p), "%s/points/%d_%d.*.las", g_dir, ti.tx, ti.ty);
	glob_t gl;
	cr_assert_eq(glob(p, 0, NULL, &gl), 0, "no %s", p);
	cr_expect_eq(gl.gl_pathc, 2, "one part per call, %zu files", gl.gl_pathc);
	snprintf(p, sizeof(p), "%s", gl.gl_pathv[0]);
	globfree(&gl);
	FILE *fp = fopen(p, "r+b");
	cr_assert(fp);
	fseek(fp, 247, SEEK_SET); /* the point count */
	fputc(0x7f, fp);
	fclose(fp);
	gpu_point *bad = NULL;
	size_t nb = 0;
	cr_expect_eq(twin_store_tile_points(s, ti.tx, ti.ty, &bad, &nb, NULL), SVT_E_FORMAT);
	free(pts);
	free(out);
	free(out2);
	free(f);
	geo_enu_destroy(oe);
	geo_enu_destroy(se);
	twin_store_close(s);
	rm_rf(g_dir);
}

Test(twin_store, refuses_bad_input)
{
	mk_dir();
	twin_store *s = NULL;
	svt_err e = {0};
	twin_store_opts o;
	twin_store_opts_default(&o);
	o.tile_m = -1;
	char sub[300];
	snprintf(sub, sizeof(sub), "%s/x", g_dir);
	cr_expect_eq(twin_store_open(sub, &o, &s, &e), SVT_E_INPUT);
	cr_expect_null(s);
	cr_assert_eq(twin_store_open(g_dir, NULL, &s, &e), 0, "%s", e.msg);
	twin_frame f = {0};
	f.llh[0] = NAN;
	twin_capture_in in = {.name = "a", .frames = &f, .n = 1};
	cr_expect_eq(twin_store_add_capture(s, &in, NULL, &e), SVT_E_INPUT);
	cr_expect_eq(twin_store_frame_count(s), 0);
	cr_expect_eq(twin_store_add_layer(s, "../evil", "/nonexistent", NULL, NULL), SVT_E_INPUT);
	twin_store_close(s);
	/* A twin.gpkg that is not an SQLite file, then one that is not a twin. */
	char p[300];
	snprintf(p, sizeof(p), "%s/twin.gpkg", g_dir);
	FILE *fp = fopen(p, "w");
	fputs("{\"format\":\"other\"} and more bytes than an SQLite header has.........", fp);
	fclose(fp);
	s = NULL;
	cr_expect_eq(twin_store_open(g_dir, NULL, &s, &e), SVT_E_FORMAT, "%s", e.msg);
	cr_expect_null(s);
	unlink(p);
	char cmd[1400];
	snprintf(cmd, sizeof(cmd), "sqlite3 -batch '%s' 'CREATE TABLE x(a)' 2>/dev/null || "
		 "python3 -c \"import sqlite3; sqlite3.connect('%s').execute('CREATE TABLE x(a)')\"",
		 p, p);
	cr_assert_eq(system(cmd), 0);
	cr_expect_eq(twin_store_open(g_dir, NULL, &s, &e), SVT_E_FORMAT, "%s", e.msg);
	cr_expect_null(s);
	unlink(p);
	/* A store of the JSON layout (version 1) is refused with the command that migrates it;
	 * a twin.json of something else is refused too. */
	snprintf(p, sizeof(p), "%s/twin.json", g_dir);
	fp = fopen(p, "w");
	fputs("{\"format\":\"svtwin-twin\",\"version\":1}", fp);
	fclose(fp);
	cr_expect_eq(twin_store_open(g_dir, NULL, &s, &e), SVT_E_FORMAT);
	cr_expect(strstr(e.msg, "svtwin twin migrate") != NULL, "%s", e.msg);
	cr_expect_null(s);
	fp = fopen(p, "w");
	fputs("{\"format\":\"other\"}", fp);
	fclose(fp);
	cr_expect_eq(twin_store_open(g_dir, NULL, &s, &e), SVT_E_FORMAT);
	cr_expect_null(s);
	rm_rf(g_dir);
}

/* Two new stores in temporary folders (named after tmpl), each with capture "a" of frames f
 * (3): the pair the voxel tests fuse the same points into two ways. */
static void two_stores(const char *tmpl, const twin_frame *f, char dirs[2][64], twin_store *s[2])
{
	svt_err e = {0};
	for (int k = 0; k < 2; k++) {
		snprintf(dirs[k], 64, "%s", tmpl);
		cr_assert(mkdtemp(dirs[k]));
		cr_assert_eq(twin_store_open(dirs[k], NULL, &s[k], &e), 0, "%s", e.msg);
		twin_capture_in in = {.name = "a", .frames = f, .n = 3};
		cr_assert_eq(twin_store_add_capture(s[k], &in, NULL, &e), 0, "%s", e.msg);
	}
}

static void two_stores_close(char dirs[2][64], twin_store *s[2])
{
	for (int k = 0; k < 2; k++) {
		twin_store_close(s[k]);
		rm_rf(dirs[k]);
	}
}

/* The 5 cm voxel a point lies in. */
static void voxel_of(const gpu_point *p, int64_t k[3])
{
	k[0] = (int64_t)floor(p->x / 0.05);
	k[1] = (int64_t)floor(p->y / 0.05);
	k[2] = (int64_t)floor(p->z / 0.05);
}

/* The voxel kernel's pre-reduction (here its C reference through a CPU gpu context; CUDA
 * where a device exists) gives the store the same voxels as the plain C merge. */
Test(twin_store, gpu_voxel_prereduction_matches_c_merge)
{
	gpu_ctx *ctx = NULL;
	svt_err e = {0};
	cr_assert_eq(gpu_ctx_create(GPU_MODE_AUTO, &ctx, &e), 0, "%s", e.msg);
	twin_store *s[2] = {NULL, NULL};
	char dirs[2][64];
	twin_frame *f = walk(3, LAT_B, LON_B, LAT_B + 0.0001, LON_B, NULL);
	size_t np = 20000;
	gpu_point *pts = malloc(np * sizeof(*pts));
	uint64_t x = 88172645463325252ull;
	for (size_t i = 0; i < np; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		/* A 1 m x 1 m x 0.2 m box at the store's origin: ~2.5 points per 5 cm voxel. */
		/* Uniform floats, not a decimal grid: a grid puts points exactly on voxel faces,
		 * where float (kernel) and double (merge) rounding may disagree. */
		uint64_t y = x * 0x9e3779b97f4a7c15ull, z = y * 0x9e3779b97f4a7c15ull;
		pts[i].x = (float)((double)(x >> 11) * 0x1.0p-53 - 0.5);
		pts[i].y = (float)((double)(y >> 11) * 0x1.0p-53 - 0.5);
		pts[i].z = (float)((double)(z >> 11) * 0x1.0p-53 * 0.2);
		pts[i].r = (uint8_t)(x >> 40);
		pts[i].g = (uint8_t)(x >> 48);
		pts[i].b = 7;
		pts[i].a = 255;
	}
	two_stores("/tmp/svt_twin_gpuXXXXXX", f, dirs, s);
	twin_store_set_gpu(s[1], ctx);
	for (int k = 0; k < 2; k++)
		cr_assert_eq(twin_store_add_points(s[k], pts, np, NULL, &e), 0, "%s", e.msg);
	cr_log_info("voxel backend: %s", gpu_ctx_backend(ctx));
	cr_assert_eq(twin_store_tile_count(s[0]), twin_store_tile_count(s[1]));
	size_t total = 0;
	for (size_t t = 0; t < twin_store_tile_count(s[0]); t++) {
		twin_tile_info a, b;
		twin_store_tile(s[0], t, &a);
		twin_store_tile(s[1], t, &b);
		gpu_point *pa = NULL, *pb = NULL;
		size_t na = 0, nb = 0;
		cr_assert_eq(twin_store_tile_points(s[0], a.tx, a.ty, &pa, &na, &e), 0);
		cr_assert_eq(twin_store_tile_points(s[1], b.tx, b.ty, &pb, &nb, &e), 0);
		/* Both lists are in voxel order; walk them together. A point within float
		 * rounding of a voxel face may fall on either side in the two paths. */
		size_t i = 0, j = 0, matched = 0;
		while (i < na && j < nb) {
			int64_t ka[3], kb[3];
			voxel_of(&pa[i], ka);
			voxel_of(&pb[j], kb);
			int c = memcmp(ka, kb, sizeof(ka)) == 0 ? 0 : 1;
			if (c == 0) {
				cr_expect(fabs(pa[i].x - pb[j].x) < 2e-4 && fabs(pa[i].y - pb[j].y) < 2e-4 &&
					  fabs(pa[i].z - pb[j].z) < 2e-4, "voxel %zu", i);
				cr_expect_eq(pa[i].a, pb[j].a, "%zu: %f %f %f a%d r%d vs %f %f %f a%d r%d", i, pa[i].x, pa[i].y, pa[i].z, pa[i].a, pa[i].r, pb[j].x, pb[j].y, pb[j].z, pb[j].a, pb[j].r);
				cr_expect(abs((int)pa[i].r - (int)pb[j].r) <= 1);
				matched++;
				i++;
				j++;
			} else {
				/* Advance the one with the smaller (x, y, z) key. */
				int lt = ka[0] != kb[0] ? ka[0] < kb[0] : ka[1] != kb[1] ? ka[1] < kb[1] : ka[2] < kb[2];
				if (lt)
					i++;
				else
					j++;
			}
		}
		cr_expect_geq(matched * 1000, na * 999, "tile %d_%d: %zu of %zu / %zu voxels match",
			      a.tx, a.ty, matched, na, nb);
		total += na;
		free(pa);
		free(pb);
	}
	cr_expect_gt(total, 1000);
	two_stores_close(dirs, s);
	gpu_ctx_destroy(ctx);
	free(pts);
	free(f);
}

/* The smooth ENU <-> projected maps fusion uses instead of PROJ per point agree with PROJ
 * (ground truth) within 1e-4 m everywhere in a 2 km box, both ways, at any height. */
Test(twin_store, smooth_map_matches_proj)
{
	svt_err e = {0};
	twin_frame *f = NULL;
	twin_store *s = store_at_city_hall(&f);
	/* A box 1.5 km east of the origin: the map must carry the curvature of the ENU plane. */
	double lo[3] = {1500, -800, -40}, hi[3] = {3500, 1200, 160};
	size_t n = 4000;
	double *p = malloc(3 * n * sizeof(double)), *q = malloc(3 * n * sizeof(double));
	uint64_t x = 0x1234567ull;
	for (size_t i = 0; i < 3 * n; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		int a = (int)(i % 3);
		p[i] = lo[a] + (hi[a] - lo[a]) * (double)(x >> 11) * 0x1.0p-53;
	}
	for (int dir = 0; dir < 2; dir++) {
		twin_map m;
		double l2[3], h2[3];
		memcpy(q, p, 3 * n * sizeof(double));
		cr_assert_eq(twin_map_exact(s, TWIN_MAP_ENU_TO_PROJ, q, n, &e), 0, "%s", e.msg);
		const double *src = dir == 0 ? p : q, *ref = dir == 0 ? q : p;
		for (int a = 0; a < 3; a++) {
			l2[a] = INFINITY;
			h2[a] = -INFINITY;
			for (size_t i = 0; i < n; i++) {
				l2[a] = fmin(l2[a], src[3 * i + a]);
				h2[a] = fmax(h2[a], src[3 * i + a]);
			}
		}
		cr_assert_eq(twin_map_build(s, dir, l2, h2, &m, &e), 0, "%s", e.msg);
		double worst = 0;
		for (size_t i = 0; i < n; i++) {
			double o[3];
			twin_map_apply(&m, src + 3 * i, o);
			for (int a = 0; a < 3; a++)
				worst = fmax(worst, fabs(o[a] - ref[3 * i + a]));
		}
		cr_log_info("map %d: worst error %.3g m", dir, worst);
		cr_expect_lt(worst, 1e-4, "direction %d: %.3g m", dir, worst);
		/* The batched map (four points side by side on AVX2: the fusion's LAS writes) gives
		 * each point the bits of the one-point map, inside the box and beyond it (the edge
		 * cells extrapolate: below the first node and above the last), through strides,
		 * with a tail that is no multiple of four. */
		size_t nb = n + 7;
		double *bi = malloc(4 * nb * sizeof(double)), *bo = malloc(5 * nb * sizeof(double));
		for (size_t i = 0; i < nb; i++)
			for (int a = 0; a < 3; a++)
				bi[4 * i + a] = i < n    ? src[3 * i + a]
						: a == 0 ? l2[0] - 50.0 * (double)(i - n + 1)
							 : h2[a] + 7.0 * (double)(i - n);
		twin_map_apply_n(&m, bi, 4 * sizeof(double), bo, 5 * sizeof(double), nb);
		size_t differ = 0;
		for (size_t i = 0; i < nb; i++) {
			double o1[3];
			twin_map_apply(&m, bi + 4 * i, o1);
			differ += memcmp(o1, bo + 5 * i, sizeof(o1)) != 0;
		}
		cr_log_info("map %d: batched on %s", dir,
			    __builtin_cpu_supports("avx2") ? "AVX2" : "the scalar path");
		cr_expect_eq(differ, 0, "direction %d: %zu of %zu points differ from the one-point "
			     "map", dir, differ, nb);
		free(bi);
		free(bo);
		twin_map_free(&m);
	}
	free(p);
	free(q);
	free(f);
	twin_store_close(s);
	rm_rf(g_dir);
}

/* Fusion bins each point into the tile its projected position lies in (ground truth: PROJ on
 * the point itself), through the smooth map and its per-cell tiles (a cell lying in one tile
 * by more than a millimetre gives its tile without the map). A 300 m square across tile
 * corners, one point in every 0.5 m (each its own voxel), and the points that fall within
 * 20 cm of a tile edge pulled to 0.1-10 mm of it: every tile must hold exactly the points PROJ
 * puts in it. Points within the map's stated error (1e-4 m) of an edge may go either way and
 * are left out. */
Test(twin_store, fused_points_land_in_the_tile_proj_says)
{
	svt_err e = {0};
	twin_frame *f = NULL;
	twin_store *s = store_at_city_hall(&f);
	double o[3] = {0, 0, 0};
	cr_assert_eq(twin_map_exact(s, TWIN_MAP_ENU_TO_PROJ, o, 1, &e), 0, "%s", e.msg);
	const double tile = 100.0, step = 0.5;
	const int side = 600;
	size_t n = (size_t)side * side;
	double *q = malloc(3 * n * sizeof(double)), *back = malloc(3 * n * sizeof(double));
	gpu_point *pts = malloc(n * sizeof(*pts));
	cr_assert(q && back && pts);
	uint64_t x = 0x9e3779b97f4a7c15ull;
#define RND() (x ^= x << 13, x ^= x >> 7, x ^= x << 17, (double)(x >> 11) * 0x1.0p-53)
	/* Projected positions: a jittered grid from 150 m south-west of the origin. */
	for (size_t i = 0; i < n; i++) {
		for (int a = 0; a < 2; a++) {
			double c = o[a] - 150.0 + step * (double)(a ? i / side : i % side) +
				   0.2 * (RND() - 0.5);
			double edge = tile * floor(c / tile + 0.5), d = c - edge;
			if (fabs(d) < 0.2) /* 0.1 to 10 mm from the edge, either side */
				c = edge + (d < 0 ? -1 : 1) * 1e-4 * pow(100.0, RND());
			q[3 * i + a] = c;
		}
		q[3 * i + 2] = o[2] - 2.0 + 30.0 * RND();
	}
#undef RND
	cr_assert_eq(twin_map_exact(s, TWIN_MAP_PROJ_TO_ENU, q, n, &e), 0, "%s", e.msg);
	for (size_t i = 0; i < n; i++) {
		pts[i] = (gpu_point){(float)q[3 * i], (float)q[3 * i + 1], (float)q[3 * i + 2],
				     100, 100, 100, 255};
		back[3 * i] = pts[i].x;
		back[3 * i + 1] = pts[i].y;
		back[3 * i + 2] = pts[i].z;
	}
	/* The truth for the points as given (floats): PROJ on each. */
	cr_assert_eq(twin_map_exact(s, TWIN_MAP_ENU_TO_PROJ, back, n, &e), 0, "%s", e.msg);
	int tx0 = (int)floor((o[0] - 200) / tile), ty0 = (int)floor((o[1] - 200) / tile);
	size_t want[5][5] = {{0}}, m = 0, near = 0;
	for (size_t i = 0; i < n; i++) {
		double E = back[3 * i], N = back[3 * i + 1];
		double dE = fabs(E - tile * floor(E / tile + 0.5));
		double dN = fabs(N - tile * floor(N / tile + 0.5));
		if (dE < 1e-4 || dN < 1e-4)
			continue;
		near += dE < 0.01 || dN < 0.01;
		int tx = (int)floor(E / tile) - tx0, ty = (int)floor(N / tile) - ty0;
		cr_assert(tx >= 0 && tx < 5 && ty >= 0 && ty < 5);
		want[tx][ty]++;
		pts[m++] = pts[i];
	}
	cr_log_info("%zu points, %zu within 1 cm of a tile edge", m, near);
	cr_assert_gt(near, 1000, "the test must hold points near tile edges: %zu", near);
	cr_assert_eq(twin_store_add_points(s, pts, m, NULL, &e), 0, "%s", e.msg);
	size_t got[5][5] = {{0}}, total = 0;
	for (size_t k = 0; k < twin_store_tile_count(s); k++) {
		twin_tile_info ti;
		twin_store_tile(s, k, &ti);
		if (!ti.n_points)
			continue;
		int tx = ti.tx - tx0, ty = ti.ty - ty0;
		cr_assert(tx >= 0 && tx < 5 && ty >= 0 && ty < 5, "tile %d %d", ti.tx, ti.ty);
		got[tx][ty] = ti.n_points;
		total += ti.n_points;
	}
	cr_expect_eq(total, m, "one voxel a point: %zu voxels for %zu points", total, m);
	for (int a = 0; a < 5; a++)
		for (int b = 0; b < 5; b++)
			cr_expect_eq(got[a][b], want[a][b], "tile %d %d: %zu points, PROJ says %zu",
				     tx0 + a, ty0 + b, got[a][b], want[a][b]);
	free(q);
	free(back);
	free(pts);
	free(f);
	twin_store_close(s);
	rm_rf(g_dir);
}

/* Fused points come out as LAS 1.4 an independent reader (laspy, PyPI) opens: the count, the
 * CRS in the header, every position against PROJ's projection of the input (ground truth),
 * colours and weights. Skips, saying so, without a Python that has laspy. */
Test(twin_store, las_export_read_by_laspy)
{
	const char *py = NULL;
	if (system("python3 -c 'import laspy' 2>/dev/null") == 0)
		py = "python3";
	else if (system("/usr/bin/python3 -c 'import laspy' 2>/dev/null") == 0)
		py = "/usr/bin/python3";
	if (!py)
		cr_skip_test("no Python with laspy (pip install laspy): LAS not checked by an "
			     "independent reader");
	svt_err e = {0};
	twin_frame *f = NULL;
	twin_store *s = store_at_city_hall(&f);
	/* 60 points 0.7 m apart across two tiles' worth of ground, each alone in its voxel (so
	 * the fused point is the input point), given in the store's ENU frame. */
	enum { NP = 60 };
	gpu_point pts[NP];
	double truth[NP][3];
	for (int i = 0; i < NP; i++) {
		pts[i].x = (float)(0.7 * i - 20.013);
		pts[i].y = (float)(0.35 * i + 3.021);
		pts[i].z = (float)(0.05 * (i % 7) + 1.503);
		pts[i].r = (uint8_t)(4 * i);
		pts[i].g = (uint8_t)(255 - i);
		pts[i].b = 9;
		pts[i].a = 255;
		truth[i][0] = pts[i].x;
		truth[i][1] = pts[i].y;
		truth[i][2] = pts[i].z;
	}
	cr_assert_eq(twin_store_add_points(s, pts, NP, NULL, &e), 0, "%s", e.msg);
	cr_assert_eq(twin_store_add_points(s, pts, NP, NULL, &e), 0, "%s", e.msg); /* weight 2 */
	/* Ground truth: PROJ directly (geo), store ENU -> WGS84 -> EPSG:5186. */
	double origin[3];
	twin_store_origin(s, origin);
	geo_enu *enu = NULL;
	geo_crs *crs = NULL;
	cr_assert_eq(geo_enu_create(origin[0], origin[1], origin[2], &enu, &e), 0);
	cr_assert_eq(geo_crs_create(5186, &crs, &e), 0);
	cr_assert_eq(geo_enu_inverse(enu, &truth[0][0], &truth[0][1], &truth[0][2],
				     3 * sizeof(double), NP, &e), 0);
	cr_assert_eq(geo_crs_forward(crs, &truth[0][0], &truth[0][1], &truth[0][2],
				     3 * sizeof(double), NP, &e), 0);
	char las[400], cmd[1400];
	snprintf(las, sizeof(las), "%s/all.las", g_dir);
	size_t nout = 0;
	cr_assert_eq(twin_store_export_points(s, NULL, -1, las, &nout, &e), 0, "%s", e.msg);
	cr_assert_eq(nout, NP);
	snprintf(cmd, sizeof(cmd),
		 "%s -c \"import laspy, sys\n"
		 "f = laspy.read(sys.argv[1])\n"
		 "h = f.header\n"
		 "w = [v.string for v in h.vlrs if v.record_id == 2112][0]\n"
		 "e = 5186 if 'AUTHORITY[\\\"EPSG\\\",\\\"5186\\\"]]' in w else 0\n"
		 "print(h.version, h.point_format.id, len(f.points), e if h.global_encoding.wkt else -2)\n"
		 "for i in range(len(f.points)):\n"
		 "  print('%%.5f %%.5f %%.5f %%d %%d %%d' %% (f.x[i], f.y[i], f.z[i], f.red[i], f.green[i], "
		 "f.weight[i]))\" '%s'",
		 py, las);
	FILE *pp = popen(cmd, "r");
	cr_assert(pp);
	char line[512];
	cr_assert(fgets(line, sizeof(line), pp), "laspy printed nothing");
	cr_log_info("laspy: %s", line);
	int epsg = -1, pf = -1, cnt = -1;
	char ver[16];
	cr_assert_eq(sscanf(line, "%15s %d %d %d", ver, &pf, &cnt, &epsg), 4, "%s", line);
	cr_expect_str_eq(ver, "1.4");
	cr_expect_eq(pf, 7);
	cr_expect_eq(cnt, NP);
	cr_expect_eq(epsg, 5186, "CRS from the WKT VLR: EPSG %d", epsg);
	int seen = 0;
	while (fgets(line, sizeof(line), pp)) {
		double x, y, z;
		int r, g, w;
		cr_assert_eq(sscanf(line, "%lf %lf %lf %d %d %d", &x, &y, &z, &r, &g, &w), 6, "%s", line);
		/* Which input point: the nearest in the plane (they are 0.78 m apart). */
		int best = 0;
		for (int i = 1; i < NP; i++)
			if (hypot(truth[i][0] - x, truth[i][1] - y) <
			    hypot(truth[best][0] - x, truth[best][1] - y))
				best = i;
		cr_expect_lt(hypot(truth[best][0] - x, truth[best][1] - y), 1e-4, "point %d: %.5f %.5f vs "
			     "%.5f %.5f", best, x, y, truth[best][0], truth[best][1]);
		cr_expect_lt(fabs(truth[best][2] - z), 1e-4);
		cr_expect_eq(r, 257 * pts[best].r);
		cr_expect_eq(g, 257 * pts[best].g);
		cr_expect_eq(w, 2);
		seen++;
	}
	cr_expect_eq(pclose(pp), 0);
	cr_expect_eq(seen, NP);
	geo_enu_destroy(enu);
	geo_crs_destroy(crs);
	free(f);
	twin_store_close(s);
	rm_rf(g_dir);
}

/* Runs cmd, returns its stdout (malloc'd, NUL-terminated) or NULL. */
static char *run_capture(const char *cmd)
{
	FILE *p = popen(cmd, "r");
	if (!p)
		return NULL;
	size_t cap = 1 << 16, n = 0;
	char *b = malloc(cap);
	size_t r;
	while (b && (r = fread(b + n, 1, cap - n - 1, p)) > 0) {
		n += r;
		if (n + 1 == cap) {
			char *q = realloc(b, cap *= 2);
			if (!q) {
				free(b);
				b = NULL;
			}
			b = q;
		}
	}
	pclose(p);
	if (b)
		b[n] = 0;
	return b;
}

/* 1 when ogrinfo's summary of layer name contains both a and b. */
static int layer_has(const char *out, const char *name, const char *a, const char *b)
{
	char h[128];
	snprintf(h, sizeof(h), "Layer name: %s\n", name);
	const char *p = strstr(out, h);
	if (!p)
		return 0;
	const char *end = strstr(p + strlen(h), "Layer name:");
	size_t len = end ? (size_t)(end - p) : strlen(p);
	char *blk = strndup(p, len);
	int ok = blk && strstr(blk, a) && strstr(blk, b);
	free(blk);
	return ok;
}

/* GDAL (an independent GeoPackage reader) opens the store: every feature table with its CRS
 * and count, the R*Tree indexes recognised. */
Test(twin_store, ogrinfo_reads_the_geopackage)
{
	if (system("ogrinfo --version >/dev/null 2>&1") != 0)
		cr_skip_test("ogrinfo (Debian gdal-bin) absent: GeoPackage not checked by GDAL");
	mk_dir();
	twin_store *s = NULL;
	svt_err e = {0};
	cr_assert_eq(twin_store_open(g_dir, NULL, &s, &e), 0, "%s", e.msg);
	size_t n = 40;
	twin_frame *f = walk(n, LAT_A, LON_A, LAT_B, LON_B, NULL);
	twin_capture_in in = {.name = "sejong", .frames = f, .n = n};
	cr_assert_eq(twin_store_add_capture(s, &in, NULL, &e), 0, "%s", e.msg);
	const char *gu = real_gu();
	if (gu)
		cr_assert_eq(twin_store_add_layer(s, "gu", gu, NULL, &e), 0, "%s", e.msg);
	size_t ntiles = twin_store_tile_count(s);
	twin_store_close(s);
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "ogrinfo -ro -al -so '%s/twin.gpkg' 2>&1", g_dir);
	char *out = run_capture(cmd);
	cr_assert(out);
	char want[64];
	snprintf(want, sizeof(want), "Feature Count: %zu\n", n);
	cr_expect(layer_has(out, "frames", "Geometry: 3D Point\n", want), "no frames layer of %zu "
		  "points in:\n%.2000s", n, out);
	snprintf(want, sizeof(want), "Feature Count: %zu\n", ntiles);
	cr_expect(layer_has(out, "tiles", "Geometry: Polygon\n", want), "no tiles layer of %zu",
		  ntiles);
	cr_expect(strstr(out, "Korea 2000 / Central Belt 2010") != NULL, "no EPSG:5186 CRS");
	cr_expect(strstr(out, "Layer name: captures") != NULL);
	cr_expect(strstr(out, "ERROR") == NULL && strstr(out, "Warning") == NULL, "%.2000s", out);
	if (gu) {
		cr_expect(layer_has(out, "layer_gu", "Geometry: Multi Polygon\n", "Feature Count: 25\n"),
			  "no gu layer in:\n%.3000s", out);
		cr_expect(strstr(out, "GEOGCRS[\"WGS 84\"") != NULL);
	}
	free(out);
	snprintf(cmd, sizeof(cmd),
		 "ogrinfo -ro -q '%s/twin.gpkg' -sql \"SELECT HasSpatialIndex('frames', 'geom') + "
		 "HasSpatialIndex('tiles', 'geom') AS n\" 2>&1", g_dir);
	out = run_capture(cmd);
	cr_assert(out);
	cr_expect(strstr(out, " (Integer) = 2") != NULL, "R*Tree indexes not recognised:\n%s", out);
	free(out);
	free(f);
	rm_rf(g_dir);
}

/* A writer killed at any moment loses nothing it committed, and a reader working beside it
 * never sees half a capture: every capture it sees has all its frames, in the frames table
 * and in the R*Tree. */
Test(twin_store, killed_writer_and_concurrent_reader)
{
	mk_dir();
	twin_store *s = NULL;
	svt_err e = {0};
	cr_assert_eq(twin_store_open(g_dir, NULL, &s, &e), 0, "%s", e.msg);
	twin_store_close(s);
	pid_t pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) { /* the writer: captures of 300 frames, until killed */
		twin_store *w = NULL;
		if (twin_store_open(g_dir, NULL, &w, NULL))
			_exit(3);
		twin_frame *g = walk(300, LAT_A, LON_A, LAT_B, LON_B, NULL);
		for (int c = 0; c < 1000; c++) {
			char name[32];
			snprintf(name, sizeof(name), "cap%04d", c);
			twin_capture_in in = {.name = name, .frames = g, .n = 300};
			if (twin_store_add_capture(w, &in, NULL, NULL))
				_exit(4);
		}
		_exit(0);
	}
	/* Read while it writes, in one read transaction (a snapshot): the frames table, its
	 * R*Tree and the captures table always agree, on whole captures only. */
	char db[400];
	snprintf(db, sizeof(db), "%s/twin.gpkg", g_dir);
	long long last = 0;
	for (int k = 0; k < 12; k++) {
		usleep(150000);
		sqlite3 *r = NULL;
		cr_assert_eq(sqlite3_open_v2(db, &r, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
		sqlite3_busy_timeout(r, 10000);
		long long c[3] = {-1, -1, -1};
		const char *q[3] = {"SELECT count(*) FROM frames", "SELECT count(*) FROM rtree_frames_geom",
				    "SELECT coalesce(sum(frame_count), 0) FROM captures"};
		cr_assert_eq(sqlite3_exec(r, "BEGIN", NULL, NULL, NULL), SQLITE_OK);
		for (int j = 0; j < 3; j++) {
			sqlite3_stmt *st = NULL;
			cr_assert_eq(sqlite3_prepare_v2(r, q[j], -1, &st, NULL), SQLITE_OK, "%s",
				     sqlite3_errmsg(r));
			cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
			c[j] = sqlite3_column_int64(st, 0);
			sqlite3_finalize(st);
		}
		sqlite3_exec(r, "COMMIT", NULL, NULL, NULL);
		sqlite3_close(r);
		cr_expect(c[0] == c[1] && c[1] == c[2], "frames %lld, R*Tree %lld, captures %lld", c[0],
			  c[1], c[2]);
		cr_expect_eq(c[0] % 300, 0, "reader sees %lld frames: half a capture", c[0]);
		cr_expect_geq(c[0], last);
		last = c[0];
	}
	kill(pid, SIGKILL);
	int st = 0;
	waitpid(pid, &st, 0);
	cr_expect(WIFSIGNALED(st), "writer finished before it was killed (status %d)", st);
	/* After the kill: the store opens, holds whole captures, at least what was seen, and
	 * takes the next capture. */
	cr_assert_eq(twin_store_open(g_dir, NULL, &s, &e), 0, "%s", e.msg);
	size_t nf = twin_store_frame_count(s);
	cr_expect_eq(nf % 300, 0);
	cr_expect_geq((long long)nf, last);
	cr_expect_gt(nf, 0);
	size_t *idx = NULL, m = 0;
	cr_assert_eq(twin_store_query_near(s, LAT_B, LON_B, 1.0, &idx, NULL, &m, &e), 0);
	cr_expect_eq(m, nf / 300);
	free(idx);
	twin_frame *g = walk(10, LAT_A, LON_A, LAT_B, LON_B, NULL);
	twin_capture_in in = {.name = "after", .frames = g, .n = 10};
	cr_assert_eq(twin_store_add_capture(s, &in, NULL, &e), 0, "%s", e.msg);
	cr_expect_eq(twin_store_frame_count(s), nf + 10);
	cr_log_info("killed writer: %zu frames committed, reader saw up to %lld", nf, last);
	free(g);
	twin_store_close(s);
	rm_rf(g_dir);
}

static void put_file(const char *dir, const char *rel, const void *data, size_t n)
{
	char p[600];
	snprintf(p, sizeof(p), "%s/%s", dir, rel);
	FILE *f = fopen(p, "wb");
	cr_assert(f, "%s", p);
	cr_assert_eq(fwrite(data, 1, n, f), n);
	fclose(f);
}

/* A store of the JSON layout (v1, written here byte for byte as the old code wrote it) is
 * refused with the command that migrates it; the migration keeps every frame exactly, the
 * labels, the fused points with their weights, the generation and which shards are stale. */
Test(twin_store, migrates_a_json_store)
{
	mk_dir();
	char sub[400];
	const char *dirs[] = {"frames", "tiles", "layers"};
	for (int k = 0; k < 3; k++) {
		snprintf(sub, sizeof(sub), "%s/%s", g_dir, dirs[k]);
		cr_assert_eq(mkdir(sub, 0755), 0);
	}
	const char *meta =
		"{\"format\":\"svtwin-twin\",\"version\":1,\"crs_epsg\":5186,\"tile_m\":100.0,"
		"\"voxel_m\":0.05,\"enu_origin_llh\":[37.5666,126.9784,40.0],\"gen\":3,\"frames\":3,"
		"\"captures\":[{\"name\":\"old\",\"source\":\"/cap\",\"first\":0,\"count\":3,\"gen\":1,"
		"\"file\":\"frames/0.jsonl\"}],\"layers\":[{\"name\":\"zone\",\"file\":"
		"\"layers/zone.geojson\",\"features\":1}],\"tiles\":[[1980,5518,3,3,2]]}\n";
	put_file(g_dir, "twin.json", meta, strlen(meta));
	char fr[4096];
	size_t len = 0;
	for (int i = 0; i < 3; i++)
		len += (size_t)snprintf(
			fr + len, sizeof(fr) - len,
			"{\"i\":%d,\"time_us\":%lld,\"llh\":[37.5666,%.7f,40.0],\"proj\":[%.4f,551896.1212,"
			"40.0],\"enu\":[%d.25,0.5,0.0],\"heading\":%s,\"w2c\":[1,0,0,%d.5,0,1,0,2,0,0,1,3,0,0,"
			"0,1],\"seq\":7,\"flags\":1,\"src\":%d,\"path\":\"p_%d.jpg\",\"tile\":[1980,5518],"
			"\"labels\":{\"zone\":\"Hall\"}}\n",
			i, 1700000000000000LL + i, 126.9784 + 1e-5 * i, 198091.7081 + i, i,
			i == 1 ? "null" : "90.5", i, i, i);
	put_file(g_dir, "frames/0.jsonl", fr, len);
	const char *zone = "{\"type\":\"FeatureCollection\",\"features\":[{\"type\":\"Feature\","
			   "\"properties\":{\"name\":\"Hall\"},\"geometry\":{\"type\":\"Polygon\","
			   "\"coordinates\":[[[126.97,37.56],[126.99,37.56],[126.99,37.57],[126.97,"
			   "37.57],[126.97,37.56]]]}}]}";
	put_file(g_dir, "layers/zone.geojson", zone, strlen(zone));
	const char *sh = "{\"shards\":[{\"name\":\"a.h5\",\"gen\":3,\"tiles\":[[1980,5518]]},"
			 "{\"name\":\"b.h5\",\"gen\":2,\"tiles\":[[1980,5518]]}]}";
	put_file(g_dir, "shards.json", sh, strlen(sh));
	/* Two fused points, v1 .pts: header, then f32 xyz (about the offset), rgb, pad, weight. */
	uint8_t pts[64 + 40] = {0};
	memcpy(pts, "SVTPTS1", 8);
	uint32_t u = 1, rec = 20, w[2] = {3, 5};
	uint64_t cnt = 2;
	double off[3] = {1.0, 2.0, 0.0}, vox = 0.05;
	memcpy(pts + 8, &u, 4);
	memcpy(pts + 12, &rec, 4);
	memcpy(pts + 16, &cnt, 8);
	memcpy(pts + 24, off, 24);
	memcpy(pts + 48, &vox, 8);
	float xyz[2][3] = {{0.0125f, 0.0375f, 0.0125f}, {0.5125f, 0.0125f, 0.0375f}};
	for (int k = 0; k < 2; k++) {
		memcpy(pts + 64 + 20 * k, xyz[k], 12);
		pts[64 + 20 * k + 12] = (uint8_t)(100 + k);
		memcpy(pts + 64 + 20 * k + 16, &w[k], 4);
	}
	put_file(g_dir, "tiles/1980_5518.pts", pts, sizeof(pts));

	twin_store *s = NULL;
	svt_err e = {0};
	cr_expect_eq(twin_store_open(g_dir, NULL, &s, &e), SVT_E_FORMAT);
	cr_expect(strstr(e.msg, "svtwin twin migrate") != NULL, "%s", e.msg);
	size_t n = 0;
	cr_assert_eq(twin_store_migrate(g_dir, &n, &e), 0, "%s", e.msg);
	cr_expect_eq(n, 3);
	cr_expect_eq(twin_store_migrate(g_dir, NULL, NULL), SVT_E_INPUT); /* done already */
	cr_assert_eq(twin_store_open(g_dir, NULL, &s, &e), 0, "%s", e.msg);
	cr_expect_eq(twin_store_frame_count(s), 3);
	cr_expect_eq(twin_store_generation(s), 3);
	double org[3];
	twin_store_origin(s, org);
	cr_expect(org[0] == 37.5666 && org[1] == 126.9784 && org[2] == 40.0);
	for (size_t i = 0; i < 3; i++) {
		twin_frame_record r;
		cr_assert_eq(twin_store_frame_record(s, i, &r, &e), 0, "%s", e.msg);
		cr_expect_eq(r.f.time_us, 1700000000000000LL + (int64_t)i);
		cr_expect_eq(r.f.llh[1], 126.9784 + 1e-5 * (double)i);
		cr_expect_eq(r.f.proj[0], 198091.7081 + (double)i);
		cr_expect_eq(r.f.enu[0], (double)i + 0.25);
		cr_expect_eq(r.f.w2c[3], (double)i + 0.5);
		cr_expect_eq(r.f.w2c[11], 3.0);
		cr_expect_eq(r.f.seq, 7);
		cr_expect_eq(r.f.flags, 1u);
		cr_expect(i == 1 ? isnan(r.f.heading) : r.f.heading == 90.5);
		char p[16];
		snprintf(p, sizeof(p), "p_%zu.jpg", i);
		cr_expect_str_eq(r.path, p);
		cr_expect_str_eq(r.capture, "old");
		cr_expect_eq(r.tx, 1980);
		cr_expect_eq(r.ty, 5518);
		cr_expect_str_eq(twin_store_frame_label(s, i, 0), "Hall");
	}
	const char **stale = NULL;
	size_t nst = 0;
	cr_assert_eq(twin_store_stale_shards(s, &stale, &nst, &e), 0);
	cr_assert_eq(nst, 1);
	cr_expect_str_eq(stale[0], "b.h5");
	free(stale);
	gpu_point *out = NULL;
	size_t np = 0;
	cr_assert_eq(twin_store_tile_points(s, 1980, 5518, &out, &np, &e), 0, "%s", e.msg);
	cr_assert_eq(np, 2);
	for (int k = 0; k < 2; k++) {
		cr_expect(fabs(out[k].x - (off[0] + xyz[k][0])) < 1e-4 &&
			  fabs(out[k].y - (off[1] + xyz[k][1])) < 1e-4 &&
			  fabs(out[k].z - xyz[k][2]) < 1e-4, "point %d: %f %f %f", k, out[k].x, out[k].y,
			  out[k].z);
		cr_expect_eq(out[k].a, w[k]);
		cr_expect_eq(out[k].r, 100 + k);
	}
	free(out);
	twin_store_close(s);
	snprintf(sub, sizeof(sub), "%s/twin.json.v1", g_dir);
	struct stat st;
	cr_expect_eq(stat(sub, &st), 0);
	rm_rf(g_dir);
}

/* The hash merge keeps the result independent of input order and of how points are split
 * across calls: the same points shuffled, in three calls, give the same voxels in the same
 * order with the same weights; and a voxel's mean is the mean of the input points that fall
 * in it (ground truth by brute force here). */
Test(twin_store, voxel_merge_order_independent)
{
	enum { NP = 30000 };
	gpu_point *a = malloc(NP * sizeof(*a)), *b = malloc(NP * sizeof(*b));
	uint64_t x = 0x9e3779b97f4a7c15ull;
	for (int i = 0; i < NP; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		a[i].x = (float)((double)(x >> 11) * 0x1.0p-53 * 0.6 - 0.3);
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		a[i].y = (float)((double)(x >> 11) * 0x1.0p-53 * 0.6 - 0.3);
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		a[i].z = (float)((double)(x >> 11) * 0x1.0p-53 * 0.1);
		a[i].r = (uint8_t)(x >> 50);
		a[i].g = (uint8_t)(x >> 42);
		a[i].b = (uint8_t)(x >> 34);
		a[i].a = 255;
	}
	memcpy(b, a, NP * sizeof(*a));
	for (int i = NP - 1; i > 0; i--) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		int j = (int)(x % (uint64_t)(i + 1));
		gpu_point t = b[i];
		b[i] = b[j];
		b[j] = t;
	}
	twin_store *s[2] = {NULL, NULL};
	char dirs[2][64];
	twin_frame *f = walk(3, LAT_B, LON_B, LAT_B + 0.0001, LON_B, NULL);
	svt_err e = {0};
	two_stores("/tmp/svt_twin_ordXXXXXX", f, dirs, s);
	cr_assert_eq(twin_store_add_points(s[0], a, NP, NULL, &e), 0, "%s", e.msg);
	cr_assert_eq(twin_store_add_points(s[1], b, NP / 3, NULL, &e), 0, "%s", e.msg);
	cr_assert_eq(twin_store_add_points(s[1], b + NP / 3, NP / 3, NULL, &e), 0, "%s", e.msg);
	cr_assert_eq(twin_store_add_points(s[1], b + 2 * (NP / 3), NP - 2 * (NP / 3), NULL, &e), 0);
	cr_assert_eq(twin_store_tile_count(s[0]), twin_store_tile_count(s[1]));
	size_t total = 0, checked = 0;
	for (size_t t = 0; t < twin_store_tile_count(s[0]); t++) {
		twin_tile_info ti;
		twin_store_tile(s[0], t, &ti);
		gpu_point *p[2] = {NULL, NULL};
		size_t n[2] = {0, 0};
		for (int k = 0; k < 2; k++)
			cr_assert_eq(twin_store_tile_points(s[k], ti.tx, ti.ty, &p[k], &n[k], &e), 0);
		cr_assert_eq(n[0], n[1]);
		/* Same voxels, same order; positions equal up to the rounding of the stored means
		 * the split run read back twice (0.01 mm quantisation). */
		for (size_t i = 0; i < n[0]; i++) {
			cr_expect(fabs(p[0][i].x - p[1][i].x) < 3e-5 && fabs(p[0][i].y - p[1][i].y) < 3e-5 &&
				  fabs(p[0][i].z - p[1][i].z) < 3e-5, "voxel %zu", i);
			cr_expect_eq(p[0][i].a, p[1][i].a);
			cr_expect(abs((int)p[0][i].r - (int)p[1][i].r) <= 1);
		}
		/* Every 5th voxel of the one-call store against the inputs (the store's ENU frame is
		 * the inputs': no origin given). */
		for (size_t i = 0; i < n[0]; i += 5) {
			int64_t key[3];
			voxel_of(&p[0][i], key);
			double sum[3] = {0, 0, 0};
			int cnt = 0;
			for (int j = 0; j < NP; j++) {
				double q[3] = {a[j].x, a[j].y, a[j].z};
				int in = 1;
				for (int d = 0; d < 3; d++)
					in &= (int64_t)floor(q[d] / 0.05) == key[d];
				if (!in)
					continue;
				for (int d = 0; d < 3; d++)
					sum[d] += q[d];
				cnt++;
			}
			cr_assert_gt(cnt, 0);
			cr_expect_eq(p[0][i].a, cnt > 255 ? 255 : cnt);
			cr_expect(fabs(p[0][i].x - sum[0] / cnt) < 2e-5 && fabs(p[0][i].y - sum[1] / cnt) < 2e-5 &&
				  fabs(p[0][i].z - sum[2] / cnt) < 2e-5, "voxel %zu mean", i);
			checked++;
		}
		total += n[0];
		free(p[0]);
		free(p[1]);
	}
	cr_expect_geq(total, 12 * 12 * 2, "%zu voxels", total); /* 0.6 x 0.6 x 0.1 m at 5 cm */
	cr_expect_gt(checked, 50);
	two_stores_close(dirs, s);
	free(a);
	free(b);
	free(f);
}

/* Fused frames are recorded with their points, one transaction: read back after a reopen; a
 * call that fails (a NaN point) records neither; frames without a point are recorded too.
 * twin_store_remove leaves no store behind. */
Test(twin_store, fused_frames_recorded_with_their_points)
{
	mk_dir();
	twin_store *s = NULL;
	svt_err e = {0};
	cr_assert_eq(twin_store_open(g_dir, NULL, &s, &e), 0, "%s", e.msg);
	twin_frame *f = walk(6, LAT_B, LON_B, LAT_B + 0.0002, LON_B, NULL);
	twin_capture_in in = {.name = "a", .frames = f, .n = 6};
	cr_assert_eq(twin_store_add_capture(s, &in, NULL, &e), 0, "%s", e.msg);
	unsigned char done[6];
	cr_assert_eq(twin_store_frames_fused(s, 0, 6, done, &e), 0, "%s", e.msg);
	for (int i = 0; i < 6; i++)
		cr_expect_eq(done[i], 0);
	gpu_point p[2] = {{1, 2, 0, 10, 20, 30, 255}, {3, 4, 0, 10, 20, 30, 255}};
	size_t fr[2] = {1, 3};
	cr_assert_eq(twin_store_add_points_of(s, p, 2, NULL, fr, 2, &e), 0, "%s", e.msg);
	gpu_point bad = {NAN, 0, 0, 0, 0, 0, 255};
	size_t fr4 = 4;
	cr_expect_neq(twin_store_add_points_of(s, &bad, 1, NULL, &fr4, 1, &e), 0);
	size_t fr5 = 5;
	cr_assert_eq(twin_store_add_points_of(s, NULL, 0, NULL, &fr5, 1, &e), 0, "%s", e.msg);
	twin_store_close(s);
	cr_assert_eq(twin_store_open(g_dir, NULL, &s, &e), 0, "%s", e.msg);
	cr_assert_eq(twin_store_frames_fused(s, 0, 6, done, &e), 0, "%s", e.msg);
	unsigned char want[6] = {0, 1, 0, 1, 0, 1};
	for (int i = 0; i < 6; i++)
		cr_expect_eq(done[i], want[i], "frame %d: %d", i, done[i]);
	cr_assert_eq(twin_store_frames_fused(s, 3, 2, done, &e), 0, "%s", e.msg);
	cr_expect(done[0] == 1 && done[1] == 0);
	twin_store_close(s);
	free(f);
	cr_assert_eq(twin_store_remove(g_dir, NULL, &e), 0, "%s", e.msg);
	char gp[400];
	snprintf(gp, sizeof(gp), "%s/twin.gpkg", g_dir);
	cr_expect_neq(access(gp, F_OK), 0, "twin.gpkg is still there");
	cr_assert_eq(twin_store_open(g_dir, NULL, &s, &e), 0, "%s", e.msg);
	cr_expect_eq(twin_store_frame_count(s), 0);
	twin_store_close(s);
	cr_expect_eq(twin_store_remove(g_dir, NULL, &e), 0, "%s", e.msg);
	rm_rf(g_dir);
}

/* A voxel index a LAS part cannot hold (int32: a point 300 m from the origin on a 1e-7 m grid
 * is voxel 3e9) fails the call with its reason and records nothing; the same store takes a
 * point near its origin. */
Test(twin_store, voxel_index_out_of_range_is_refused)
{
	mk_dir();
	twin_store *s = NULL;
	svt_err e = {0};
	twin_store_opts o;
	twin_store_opts_default(&o);
	o.voxel_m = 1e-7;
	cr_assert_eq(twin_store_open(g_dir, &o, &s, &e), 0, "%s", e.msg);
	twin_frame *f = walk(2, LAT_B, LON_B, LAT_B + 0.0002, LON_B, NULL);
	twin_capture_in in = {.name = "a", .frames = f, .n = 2};
	cr_assert_eq(twin_store_add_capture(s, &in, NULL, &e), 0, "%s", e.msg);
	gpu_point far = {300, 0, 0, 10, 20, 30, 255};
	size_t fr0 = 0;
	cr_expect_eq(twin_store_add_points_of(s, &far, 1, NULL, &fr0, 1, &e), SVT_E_INPUT);
	cr_expect(strstr(e.msg, "out of range") != NULL, "%s", e.msg);
	unsigned char done[2];
	cr_assert_eq(twin_store_frames_fused(s, 0, 2, done, &e), 0, "%s", e.msg);
	cr_expect_eq(done[0], 0, "a refused call records its frame");
	gpu_point near = {1e-4, 2e-4, 0, 10, 20, 30, 255};
	size_t fr1 = 1;
	cr_assert_eq(twin_store_add_points_of(s, &near, 1, NULL, &fr1, 1, &e), 0, "%s", e.msg);
	size_t total = 0;
	for (size_t k = 0; k < twin_store_tile_count(s); k++) {
		twin_tile_info t;
		cr_assert_eq(twin_store_tile(s, k, &t), 0);
		total += t.n_points;
	}
	cr_expect_eq(total, 1);
	twin_store_close(s);
	free(f);
	rm_rf(g_dir);
}

/* A LAS file encoded into a buffer kept from a larger file (the fusion's scratch, filled here
 * with garbage) has the bytes of the same file encoded alone, and decodes, into a kept buffer
 * of garbage too, to the points given (the ground truth: the input, on the 0.01 mm grid). */
Test(twin_store, las_buffers_reused_give_the_same_file)
{
	enum { NBIG = 5000, NSMALL = 700 };
	twin_las_point *p = calloc(NBIG, sizeof(*p));
	cr_assert(p);
	for (size_t i = 0; i < NBIG; i++) {
		p[i].xyz[0] = 200000.0 + 0.01 * (double)i;
		p[i].xyz[1] = 550000.0 - 0.02 * (double)(i % 97);
		p[i].xyz[2] = 30.0 + 0.001 * (double)(i % 13);
		p[i].rgb[0] = (uint8_t)i;
		p[i].rgb[1] = (uint8_t)(3 * i);
		p[i].rgb[2] = 200;
		p[i].weight = 1 + (uint32_t)(i % 5);
		for (int a = 0; a < 3; a++)
			p[i].vox[a] = (int32_t)i * (a + 1) - 7;
	}
	const char *wkt = "PROJCS[\"test\"]";
	double off[3] = {199900.0, 549900.0, 0.0};
	svt_err e = {0};
	uint8_t *buf = NULL, *ref = NULL;
	size_t cap = 0, nb = 0, nref = 0;
	/* the big file first, then the buffer dirtied */
	cr_assert_eq(twin_las_encode_into(p, NBIG, wkt, off, 1e-5, &buf, &cap, &nb, &e), 0, "%s",
		     e.msg);
	cr_assert_geq(cap, nb);
	memset(buf, 0xab, cap);
	cr_assert_eq(twin_las_encode_into(p + 100, NSMALL, wkt, off, 1e-5, &buf, &cap, &nb, &e), 0);
	cr_assert_eq(twin_las_encode(p + 100, NSMALL, wkt, off, 1e-5, &ref, &nref, &e), 0);
	cr_assert_eq(nb, nref);
	cr_expect_eq(memcmp(buf, ref, nb), 0, "a reused buffer gives other bytes");
	twin_las_point *q = malloc(NBIG * sizeof(*q));
	cr_assert(q);
	memset(q, 0xab, NBIG * sizeof(*q));
	size_t qcap = NBIG, n = 0;
	cr_assert_eq(twin_las_decode_into(buf, nb, &q, &qcap, &n, NULL, &e), 0, "%s", e.msg);
	cr_assert_eq(n, NSMALL);
	for (size_t i = 0; i < n; i++) {
		const twin_las_point *a = &p[100 + i], *b = &q[i];
		for (int k = 0; k < 3; k++) {
			cr_assert_lt(fabs(a->xyz[k] - b->xyz[k]), 0.6e-5, "point %zu", i);
			cr_assert_eq(a->rgb[k], b->rgb[k]);
			cr_assert_eq(a->vox[k], b->vox[k]);
		}
		cr_assert_eq(a->weight, b->weight);
		cr_assert(b->has_vox);
	}
	free(p);
	free(q);
	free(buf);
	free(ref);
}

/* LAS quantization is round(): halfway values away from zero, both signs, and the range's
 * edge (|round(x)| must stay below 2^31 - 1) refused with SVT_E_INPUT; read back exactly.
 * Scale 0.5 and offset 0 make x = 2 xyz exact, so the halfway cases are exact halves. */
Test(twin_las, quantization_rounds_like_round)
{
	const double xs[] = {0.5,  1.5,  2.5,  -0.5, -1.5, -2.5,        0.49999999999999994,
			     -0.49999999999999994, 1e9 + 0.5, -1e9 - 0.5, 2147483645.5,
			     2147483646.49, -2147483646.49, 3.25,  -3.75, 0.0, -0.0};
	enum { N = sizeof(xs) / sizeof(xs[0]) };
	twin_las_point p[N];
	memset(p, 0, sizeof(p));
	for (int i = 0; i < N; i++)
		for (int a = 0; a < 3; a++)
			p[i].xyz[a] = xs[(i + a) % N] * 0.5;
	const double off[3] = {0, 0, 0};
	uint8_t *b = NULL;
	size_t nb = 0, n = 0;
	svt_err e = {0};
	cr_assert_eq(twin_las_encode(p, N, "", off, 0.5, &b, &nb, &e), 0, "%s", e.msg);
	twin_las_point *q = NULL;
	cr_assert_eq(twin_las_decode(b, nb, &q, &n, NULL, &e), 0, "%s", e.msg);
	cr_assert_eq(n, (size_t)N);
	for (int i = 0; i < N; i++)
		for (int a = 0; a < 3; a++) {
			double want = round(xs[(i + a) % N]) * 0.5;
			cr_expect_eq(q[i].xyz[a], want, "%.17g -> %.17g, want %.17g", xs[(i + a) % N],
				     q[i].xyz[a] / 0.5, want / 0.5);
		}
	free(b);
	free(q);
	const double over[] = {2147483646.5, -2147483646.5, 3e9, NAN, INFINITY};
	for (size_t k = 0; k < sizeof(over) / sizeof(over[0]); k++) {
		twin_las_point o = {.xyz = {over[k] * 0.5, 0, 0}};
		b = NULL;
		cr_expect_eq(twin_las_encode(&o, 1, "", off, 0.5, &b, &nb, &e), SVT_E_INPUT, "%g",
			     over[k]);
		free(b);
	}
}
