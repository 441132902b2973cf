/* test_twin_cli.c: `svtwin query` end to end on a store built through the library (the binary
 * in $SVT_BUILD, which make test sets). */
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "geo/geo.h"
#include "twin/twin.h"

static const char *svtwin(void)
{
	static char path[1024];
	const char *b = getenv("SVT_BUILD");
	snprintf(path, sizeof(path), "%s/svtwin", b && *b ? b : "build");
	return access(path, X_OK) == 0 ? path : NULL;
}

/* Runs `svtwin query ARGS`; stdout into out; returns the exit status. */
static int run_query(const char *args, char *out, size_t cap)
{
	char cmd[2048];
	snprintf(cmd, sizeof(cmd), "%s query %s 2>/dev/null", svtwin(), args);
	FILE *p = popen(cmd, "r");
	cr_assert_not_null(p);
	size_t n = fread(out, 1, cap - 1, p);
	out[n] = '\0';
	int st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static size_t count_lines(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		n += *s == '\n';
	return n;
}

static char g_dir[64];
static int g_have_layer;

/* 40 frames from Gwanghwamun to City Hall, with the JUSO gu layer when the real data is
 * there. */
static void make_store(void)
{
	snprintf(g_dir, sizeof(g_dir), "/tmp/svt_twin_cliXXXXXX");
	cr_assert(mkdtemp(g_dir));
	twin_store *s = NULL;
	svt_err e = {0};
	cr_assert_eq(twin_store_open(g_dir, NULL, &s, &e), 0, "%s", e.msg);
	size_t n = 40;
	twin_frame f[40];
	memset(f, 0, sizeof(f));
	for (size_t i = 0; i < n; i++) {
		double u = (double)i / (double)(n - 1);
		f[i].llh[0] = 37.5759 + (37.5666 - 37.5759) * u;
		f[i].llh[1] = 126.9769 + (126.9784 - 126.9769) * u;
		f[i].llh[2] = 40;
		f[i].heading = 172.0;
		f[i].time_us = (int64_t)i * 1000000;
	}
	twin_capture_in in = {.name = "sejong", .frames = f, .n = n};
	cr_assert_eq(twin_store_add_capture(s, &in, NULL, &e), 0, "%s", e.msg);
	const char *root = getenv("SVT_REAL_DATA");
	char p[4096];
	struct stat st;
	g_have_layer = 0;
	if (root) {
		snprintf(p, sizeof(p),
			 "%s/seoul_maps/juso/2015/json/seoul_municipalities_geo_simple.json", root);
		if (stat(p, &st) == 0) {
			cr_assert_eq(twin_store_add_layer(s, "gu", p, NULL, &e), 0, "%s", e.msg);
			g_have_layer = 1;
		}
	}
	twin_store_close(s);
}

static void drop_store(void)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_dir);
	cr_assert_eq(system(cmd), 0);
}

#define NEED_BIN()                                                                             \
	if (!svtwin())                                                                         \
	cr_skip_test("no svtwin binary in $SVT_BUILD (build it first)")

Test(twin_cli, near_district_pose_tiles)
{
	NEED_BIN();
	make_store();
	static char out[1 << 16];
	char args[512];
	snprintf(args, sizeof(args), "%s --near 37.5666,126.9784 --radius 100", g_dir);
	cr_assert_eq(run_query(args, out, sizeof(out)), 0);
	size_t n = count_lines(out);
	cr_expect_gt(n, 2);
	/* Each line is a frame, nearest first, within the radius. */
	double prev = -1;
	for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
		json_error_t je;
		json_t *j = json_loads(line, 0, &je);
		cr_assert(j, "%s: %s", line, je.text);
		double d = json_number_value(json_object_get(j, "dist_m"));
		double lat = json_number_value(json_object_get(j, "lat"));
		double lon = json_number_value(json_object_get(j, "lon"));
		cr_expect(d <= 100.0 && d >= prev);
		cr_expect(fabs(geo_distance_m(37.5666, 126.9784, lat, lon) - d) < 1e-6);
		cr_expect_str_eq(json_string_value(json_object_get(j, "capture")), "sejong");
		prev = d;
		json_decref(j);
	}

	if (g_have_layer) {
		snprintf(args, sizeof(args), "%s --district 중구", g_dir);
		cr_assert_eq(run_query(args, out, sizeof(out)), 0);
		size_t nj = count_lines(out);
		cr_expect_gt(nj, 0);
		json_t *j = json_loads(strtok(out, "\n"), 0, NULL);
		cr_assert(j);
		cr_expect_str_eq(json_string_value(json_object_get(json_object_get(j, "labels"), "gu")),
				 "중구");
		json_decref(j);
		snprintf(args, sizeof(args), "%s --district Jongno-gu --layer gu", g_dir);
		cr_assert_eq(run_query(args, out, sizeof(out)), 0);
		cr_expect_eq(nj + count_lines(out), 40);
		snprintf(args, sizeof(args), "%s --district Atlantis", g_dir);
		cr_expect_eq(run_query(args, out, sizeof(out)), 1);
	}

	/* A box around the City Hall end, as a GeoJSON polygon: the frames with lat in it. */
	char poly[128];
	snprintf(poly, sizeof(poly), "%s/box.geojson", g_dir);
	FILE *fp = fopen(poly, "w");
	cr_assert(fp);
	fputs("{\"type\":\"Polygon\",\"coordinates\":[[[126.97,37.5660],[126.99,37.5660],"
	      "[126.99,37.5690],[126.97,37.5690],[126.97,37.5660]]]}", fp);
	fclose(fp);
	snprintf(args, sizeof(args), "%s --polygon %s", g_dir, poly);
	cr_assert_eq(run_query(args, out, sizeof(out)), 0);
	size_t inside = 0;
	for (int i = 0; i < 40; i++) {
		double lat = 37.5759 + (37.5666 - 37.5759) * i / 39.0;
		inside += lat > 37.5660 && lat < 37.5690;
	}
	cr_expect_eq(count_lines(out), inside);
	cr_expect_gt(inside, 5);

	snprintf(args, sizeof(args), "%s --nearest-pose 37.5759,126.9769,172", g_dir);
	cr_assert_eq(run_query(args, out, sizeof(out)), 0);
	cr_expect_eq(count_lines(out), 1);
	cr_expect(strstr(out, "\"i\":0,") != NULL, "%s", out);

	snprintf(args, sizeof(args), "%s --tiles", g_dir);
	cr_assert_eq(run_query(args, out, sizeof(out)), 0);
	cr_expect_geq(count_lines(out), 5);
	snprintf(args, sizeof(args), "%s --tiles --since 999", g_dir);
	cr_assert_eq(run_query(args, out, sizeof(out)), 0);
	cr_expect_eq(count_lines(out), 0);

	/* Usage errors and a missing store: no store is created. */
	snprintf(args, sizeof(args), "%s --near 91,0", g_dir);
	cr_expect_eq(run_query(args, out, sizeof(out)), 2);
	/* Numbers read whole: an empty radius was 0 (no frame, no error). */
	const char *bad[] = {"--radius ''", "--radius 5x", "--epsg 0", "--limit -1",
			     "--since abc", "--deg-weight nan"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(args, sizeof(args), "%s --near 37.5666,126.9784 %s", g_dir, bad[i]);
		cr_expect_eq(run_query(args, out, sizeof(out)), 2, "%s accepted: %s", bad[i], out);
	}
	snprintf(args, sizeof(args), "%s/none --near 37.5,127", g_dir);
	cr_expect_eq(run_query(args, out, sizeof(out)), 1);
	char p[128];
	snprintf(p, sizeof(p), "%s/none", g_dir);
	struct stat st;
	cr_expect_neq(stat(p, &st), 0, "query created a store");
	drop_store();
}
