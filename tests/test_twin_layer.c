/* test_twin_layer.c: vector layers and labels on the real Seoul maps (twin_layer.c). */
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "geo/geo.h"
#include "twin/twin.h"

static char g_path[4096];

/* Path of a file under SVT_REAL_DATA, or skips the test. */
static const char *real(const char *rel)
{
	const char *root = getenv("SVT_REAL_DATA");
	struct stat st;
	if (!root || stat(root, &st) != 0)
		cr_skip_test("SVT_REAL_DATA unset or absent: no real data to test with");
	snprintf(g_path, sizeof(g_path), "%s/%s", root, rel);
	if (stat(g_path, &st) != 0)
		cr_skip_test("%s is absent", g_path);
	return g_path;
}

#define GU_SHP "seoul_maps/kostat/2013/shp/original/seoul_municipalities.shp"
#define GU_JUSO "seoul_maps/juso/2015/json/seoul_municipalities_geo_simple.json"
#define DONG_JUSO "seoul_maps/juso/2015/json/seoul_neighborhoods_geo_simple.json"
#define GU_KOSTAT_JSON "seoul_maps/kostat/2013/json/seoul_municipalities_geo.json"

static twin_layer *load(const char *rel, int epsg)
{
	twin_layer_opts o;
	twin_layer_opts_default(&o);
	o.epsg = epsg;
	twin_layer *l = NULL;
	svt_err e = {0};
	cr_assert_eq(twin_layer_load(real(rel), &o, &l, &e), 0, "%s", e.msg);
	return l;
}

static const char *gu_at(const twin_layer *l, double lat, double lon)
{
	long i = twin_layer_locate(l, lat, lon);
	return i < 0 ? "(none)" : twin_layer_name(l, (size_t)i);
}

Test(twin_layer, landmarks_shapefile_5174_prj_and_geojson)
{
	/* The .prj has no EPSG code: recognised as the Korean 1985 central belt (5174). */
	twin_layer *shp = load(GU_SHP, 0);
	twin_layer *juso = load(GU_JUSO, 0);
	cr_expect_eq(twin_layer_count(shp), 25);
	cr_expect_eq(twin_layer_count(juso), 25);
	const twin_layer *ls[2] = {shp, juso};
	for (int k = 0; k < 2; k++) {
		cr_expect_str_eq(gu_at(ls[k], 37.5666, 126.9784), "중구"); /* City Hall */
		cr_expect_str_eq(gu_at(ls[k], 37.5759, 126.9769), "종로구"); /* Gwanghwamun */
		cr_expect_str_eq(gu_at(ls[k], 37.5172, 127.0473), "강남구"); /* Gangnam-gu office */
		cr_expect_eq(twin_layer_locate(ls[k], 35.1796, 129.0756), -1); /* Busan */
	}
	/* dbf text is CP949, read as UTF-8; other fields come through. */
	long jg = twin_layer_find(shp, "Jung-gu");
	cr_assert_geq(jg, 0);
	cr_expect_str_eq(twin_layer_name(shp, (size_t)jg), "중구");
	cr_expect_str_eq(twin_layer_prop(shp, (size_t)jg, "code"), "11020");
	cr_expect_eq(twin_layer_find(juso, "중구"), twin_layer_find(juso, "jung-gu"));
	cr_expect_eq(twin_layer_find(juso, "nowhere-gu"), -1);
	twin_layer_destroy(shp);
	twin_layer_destroy(juso);
	twin_layer_destroy(NULL);
}

/* The datum shift matters: the KOSTAT GeoJSON (5174 vertices converted without it) is ~300 m
 * off; our shapefile conversion matches the independent JUSO layer instead. Compared by the
 * labels the layers give on a grid over Seoul (they differ only near boundaries). */
Test(twin_layer, datum_shift_matches_juso_not_kostat_json)
{
	twin_layer *shp = load(GU_SHP, 5174);
	twin_layer *juso = load(GU_JUSO, 0);
	twin_layer *bad = load(GU_KOSTAT_JSON, 0);
	for (size_t i = 0; i < twin_layer_count(shp); i++) {
		const char *nm = twin_layer_name(shp, i);
		cr_assert(twin_layer_find(juso, nm) >= 0 && twin_layer_find(bad, nm) >= 0, "%s", nm);
	}
	/* Sample a 60 x 60 grid over Seoul; count label disagreements of the shapefile against
	 * JUSO and against the shifted KOSTAT GeoJSON. */
	size_t n = 0, dis_juso = 0, dis_bad = 0;
	for (int y = 0; y < 60; y++)
		for (int x = 0; x < 60; x++) {
			double lat = 37.43 + 0.25 * y / 60.0, lon = 126.80 + 0.38 * x / 60.0;
			long a = twin_layer_locate(shp, lat, lon);
			long j = twin_layer_locate(juso, lat, lon), b = twin_layer_locate(bad, lat, lon);
			if (a < 0 && j < 0)
				continue;
			n++;
			const char *na = a < 0 ? "" : twin_layer_name(shp, (size_t)a);
			dis_juso += strcmp(na, j < 0 ? "" : twin_layer_name(juso, (size_t)j)) != 0;
			dis_bad += strcmp(na, b < 0 ? "" : twin_layer_name(bad, (size_t)b)) != 0;
		}
	cr_log_info("grid %zu points: shapefile vs JUSO disagree %zu, vs shifted KOSTAT json %zu",
		    n, dis_juso, dis_bad);
	fprintf(stderr, "twin_layer: grid %zu points: 5174 shapefile vs JUSO disagree %zu, vs "
		"unshifted KOSTAT json %zu\n", n, dis_juso, dis_bad);
	cr_expect_gt(n, 1500);
	/* Boundary cells only: ~10 m simplification vs ~300 m shift. */
	cr_expect_lt(dis_juso * 3, dis_bad, "juso %zu bad %zu", dis_juso, dis_bad);
	cr_expect_lt((double)dis_juso / n, 0.05);

	/* The first vertex of Gangdong-gu (209921.859375, 450900.78125 in the .shp) maps to
	 * 127.1130834, 37.5603312 with the datum shift (seoul_maps/SOURCE.md), not to the
	 * KOSTAT json's 127.1151958, 37.5575332. Read back through the saved GeoJSON. */
	char dir[] = "/tmp/svt_twin_gdXXXXXX";
	cr_assert(mkdtemp(dir));
	char p[512];
	snprintf(p, sizeof(p), "%s/gu.geojson", dir);
	svt_err e = {0};
	cr_assert_eq(twin_layer_save_geojson(shp, p, &e), 0, "%s", e.msg);
	json_error_t je;
	json_t *root = json_load_file(p, 0, &je);
	cr_assert(root, "%s", je.text);
	json_t *fs = json_object_get(root, "features");
	long gd = twin_layer_find(shp, "강동구");
	cr_assert_geq(gd, 0);
	json_t *v0 = json_array_get(json_array_get(json_array_get(json_object_get(json_object_get(
		json_array_get(fs, (size_t)gd), "geometry"), "coordinates"), 0), 0), 0);
	cr_assert(json_is_array(v0));
	double lon = json_real_value(json_array_get(v0, 0)), lat = json_real_value(json_array_get(v0, 1));
	cr_expect(fabs(lon - 127.1130834) < 2e-6 && fabs(lat - 37.5603312) < 2e-6, "%.7f %.7f", lon,
		  lat);
	json_decref(root);
	unlink(p);
	rmdir(dir);
	twin_layer_destroy(shp);
	twin_layer_destroy(juso);
	twin_layer_destroy(bad);
}

/* Every admdongkor Seoul dong centroid (EPSG:5179) falls in the gu its name says. */
Test(twin_layer, admdongkor_centroids_in_their_gu)
{
	twin_layer *shp = load(GU_SHP, 5174);
	twin_layer *juso = load(GU_JUSO, 0);
	FILE *fp = fopen(real("admdongkor/coordinate_UTMK_with_names.tsv"), "r");
	cr_assert(fp);
	char line[1024];
	size_t n = 0, ok_shp = 0, ok_juso = 0;
	double *x = malloc(6000 * sizeof(double)), *y = malloc(6000 * sizeof(double));
	char(*gu)[128] = malloc(6000 * sizeof(*gu));
	cr_assert(x && y && gu);
	while (fgets(line, sizeof(line), fp) && n < 6000) {
		char code[32], nm[3][128];
		double X, Y;
		int serial;
		/* SERIAL ADMCD ADMNM(space-separated words) X Y: Seoul dong rows have 3 words. */
		if (sscanf(line, "%d\t%31s\t%127s %127s %127s\t%lf\t%lf", &serial, code, nm[0], nm[1],
			   nm[2], &X, &Y) != 7)
			continue;
		if (strncmp(code, "11", 2) != 0)
			continue;
		x[n] = X;
		y[n] = Y;
		snprintf(gu[n], sizeof(gu[n]), "%s", nm[1]);
		n++;
	}
	fclose(fp);
	cr_assert_gt(n, 400, "%zu Seoul dong rows", n);
	geo_crs *c = NULL;
	svt_err e = {0};
	cr_assert_eq(geo_crs_create_pair(5179, 4326, &c, &e), 0, "%s", e.msg);
	cr_assert_eq(geo_crs_forward(c, x, y, NULL, sizeof(double), n, &e), 0, "%s", e.msg);
	geo_crs_destroy(c);
	for (size_t i = 0; i < n; i++) {
		ok_shp += strcmp(gu_at(shp, y[i], x[i]), gu[i]) == 0;
		ok_juso += strcmp(gu_at(juso, y[i], x[i]), gu[i]) == 0;
	}
	fprintf(stderr, "twin_layer: admdongkor Seoul dong centroids in their gu: shapefile "
		"%zu/%zu (%.1f%%), JUSO %zu/%zu (%.1f%%)\n", ok_shp, n, 100.0 * ok_shp / n, ok_juso,
		n, 100.0 * ok_juso / n);
	cr_expect_geq((double)ok_shp / n, 0.95);
	cr_expect_geq((double)ok_juso / n, 0.95);
	free(x);
	free(y);
	free(gu);
	twin_layer_destroy(shp);
	twin_layer_destroy(juso);
}

Test(twin_layer, dong_multipolygons_and_frame_labels)
{
	twin_layer *dong = load(DONG_JUSO, 0);
	cr_expect_eq(twin_layer_count(dong), 467);
	/* City Hall is in Taepyeongno 1-ga (legal dong); Gwanghwamun in Sejongno. */
	long a = twin_layer_locate(dong, 37.5666, 126.9784);
	long b = twin_layer_locate(dong, 37.5759, 126.9769);
	cr_assert(a >= 0 && b >= 0);
	cr_expect_str_eq(twin_layer_prop(dong, (size_t)a, "EMD_ENG_NM"), "Taepyeongno 1(il)-ga",
			 "got %s", twin_layer_prop(dong, (size_t)a, "EMD_ENG_NM"));
	cr_expect_str_eq(twin_layer_prop(dong, (size_t)b, "EMD_ENG_NM"), "Sejongno",
			 "got %s", twin_layer_prop(dong, (size_t)b, "EMD_ENG_NM"));
	/* Frames and a clip walking from Gwanghwamun to City Hall. */
	twin_frame f[11];
	memset(f, 0, sizeof(f));
	for (int i = 0; i < 11; i++) {
		f[i].llh[0] = 37.5759 + (37.5666 - 37.5759) * i / 10.0;
		f[i].llh[1] = 126.9769 + (126.9784 - 126.9769) * i / 10.0;
	}
	twin_layer *gu = load(GU_JUSO, 0);
	long lab[11];
	twin_frames_label(gu, f, 11, lab);
	cr_expect_str_eq(twin_layer_name(gu, (size_t)lab[0]), "종로구");
	cr_expect_str_eq(twin_layer_name(gu, (size_t)lab[10]), "중구");
	size_t idx[11];
	for (int i = 0; i < 11; i++)
		idx[i] = (size_t)i;
	twin_clip c = {.n = 11, .idx = idx};
	long cl = twin_clip_label(&c, lab);
	size_t cnt = 0;
	for (int i = 0; i < 11; i++)
		cnt += lab[i] == cl;
	cr_expect_geq(cnt, 6);
	twin_layer_destroy(gu);
	twin_layer_destroy(dong);
}

Test(twin_layer, holes_multipolygon_and_roundtrip)
{
	char dir[] = "/tmp/svt_twin_layerXXXXXX";
	cr_assert(mkdtemp(dir));
	char p[512], q[512];
	snprintf(p, sizeof(p), "%s/a.geojson", dir);
	snprintf(q, sizeof(q), "%s/b.geojson", dir);
	FILE *fp = fopen(p, "w");
	cr_assert(fp);
	/* A square with a hole, plus a second island; another feature inside the hole. */
	fputs("{\"type\":\"FeatureCollection\",\"features\":["
	      "{\"type\":\"Feature\",\"properties\":{\"name\":\"ring\",\"n\":3},\"geometry\":"
	      "{\"type\":\"MultiPolygon\",\"coordinates\":[[[[0,0],[10,0],[10,10],[0,10],[0,0]],"
	      "[[3,3],[7,3],[7,7],[3,7],[3,3]]],[[[20,0],[21,0],[21,1],[20,0]]]]}},"
	      "{\"type\":\"Feature\",\"properties\":{\"name\":\"core\"},\"geometry\":"
	      "{\"type\":\"Polygon\",\"coordinates\":[[[4,4],[6,4],[6,6],[4,6],[4,4]]]}}]}",
	      fp);
	fclose(fp);
	twin_layer *l = NULL;
	svt_err e = {0};
	cr_assert_eq(twin_layer_load(p, NULL, &l, &e), 0, "%s", e.msg);
	for (int pass = 0; pass < 2; pass++) {
		cr_expect_eq(twin_layer_locate(l, 1, 1), 0);         /* lat 1, lon 1 */
		cr_expect_eq(twin_layer_locate(l, 5, 5), 1);         /* in the hole: core */
		cr_expect_eq(twin_layer_locate(l, 6.5, 6.5), -1);    /* hole, outside core */
		cr_expect_eq(twin_layer_locate(l, 0.2, 20.8), 0);    /* island */
		cr_expect_eq(twin_layer_locate(l, 0.8, 20.2), -1);   /* outside the triangle */
		cr_expect_str_eq(twin_layer_prop(l, 0, "n"), "3");
		if (pass == 0) {
			cr_assert_eq(twin_layer_save_geojson(l, q, &e), 0, "%s", e.msg);
			twin_layer_destroy(l);
			l = NULL;
			cr_assert_eq(twin_layer_load(q, NULL, &l, &e), 0, "%s", e.msg);
		}
	}
	twin_layer_destroy(l);
	/* Bad inputs fail cleanly. */
	fp = fopen(p, "w");
	fputs("{\"type\":\"FeatureCollection\",\"features\":[{\"type\":\"Feature\",\"geometry\":"
	      "{\"type\":\"Polygon\",\"coordinates\":[[[0,0],[1]]]}}]}", fp);
	fclose(fp);
	cr_expect_eq(twin_layer_load(p, NULL, &l, &e), SVT_E_FORMAT);
	cr_expect_null(l);
	snprintf(q, sizeof(q), "%s/c.shp", dir);
	fp = fopen(q, "w");
	fputs("not a shapefile at all, not even close to one hundred bytes of header......"
	      "..........................................", fp);
	fclose(fp);
	cr_expect_eq(twin_layer_load(q, NULL, &l, &e), SVT_E_FORMAT);
	unlink(p);
	unlink(q);
	snprintf(q, sizeof(q), "%s/b.geojson", dir);
	unlink(q);
	rmdir(dir);
}

/* A truncated copy of the real shapefile, beside its intact .shx and .dbf (so OGR reads the
 * short .shp), must fail, never read past the end; without its .shx it fails too. */
/* GDAL absent at run time (SVT_DL_HIDE makes it look so; each test is its own process): a
 * layer is refused with the library and the package to install, before any file is read. */
Test(twin_layer, gdal_missing_at_run_time_names_the_package)
{
	setenv("SVT_DL_HIDE", "libgdal", 1);
	twin_layer *l = NULL;
	svt_err e = {0};
	cr_expect_eq(twin_layer_load("/nonexistent/districts.geojson", NULL, &l, &e),
		     SVT_E_UNSUPPORTED, "%s", e.msg);
	cr_expect_null(l);
	cr_expect(strstr(e.msg, "libgdal.so.") != NULL, "%s", e.msg);
	cr_expect(strstr(e.msg, "install the Debian package libgdal") != NULL, "%s", e.msg);
	unsetenv("SVT_DL_HIDE");
}

Test(twin_layer, truncated_shapefile)
{
	const char *src = real(GU_SHP);
	char side[4096];
	uint8_t *d = NULL, *shx = NULL, *dbf = NULL;
	size_t n = 0, nshx = 0, ndbf = 0;
	cr_assert_eq(svt_file_read(src, 1 << 24, &d, &n, NULL), 0);
	snprintf(side, sizeof(side), "%.*sshx", (int)strlen(src) - 3, src);
	cr_assert_eq(svt_file_read(side, 1 << 24, &shx, &nshx, NULL), 0);
	snprintf(side, sizeof(side), "%.*sdbf", (int)strlen(src) - 3, src);
	cr_assert_eq(svt_file_read(side, 1 << 24, &dbf, &ndbf, NULL), 0);
	char dir[] = "/tmp/svt_twin_shpXXXXXX";
	cr_assert(mkdtemp(dir));
	char p[512], px[512], pd[512];
	snprintf(p, sizeof(p), "%s/t.shp", dir);
	snprintf(px, sizeof(px), "%s/t.shx", dir);
	snprintf(pd, sizeof(pd), "%s/t.dbf", dir);
	size_t cuts[] = {99, 100 + 50, n / 2, n - 1};
	for (int with_index = 1; with_index >= 0; with_index--) {
		if (with_index) {
			cr_assert_eq(svt_file_write_atomic(px, shx, nshx, NULL), 0);
			cr_assert_eq(svt_file_write_atomic(pd, dbf, ndbf, NULL), 0);
		} else {
			unlink(px);
		}
		for (size_t k = 0; k < 4; k++) {
			cr_assert_eq(svt_file_write_atomic(p, d, cuts[k], NULL), 0);
			twin_layer_opts o;
			twin_layer_opts_default(&o);
			o.epsg = 5174;
			twin_layer *l = NULL;
			svt_err e = {0};
			cr_expect_eq(twin_layer_load(p, &o, &l, &e), SVT_E_FORMAT, "cut %zu (shx %d): %s",
				     cuts[k], with_index, e.msg);
			cr_expect_null(l);
		}
	}
	unlink(p);
	unlink(pd);
	rmdir(dir);
	free(d);
	free(shx);
	free(dbf);
}

/* Seeded byte mutations of the real .shp and .dbf: every load returns a status (the sanitizer
 * build catches any read out of bounds); a mutation of a vertex still loads. */
Test(twin_layer, mutated_shapefile_never_crashes)
{
	char shp_src[4096], dbf_src[4096];
	snprintf(shp_src, sizeof(shp_src), "%s", real(GU_SHP));
	snprintf(dbf_src, sizeof(dbf_src), "%s", shp_src);
	memcpy(dbf_src + strlen(dbf_src) - 3, "dbf", 3);
	uint8_t *shp = NULL, *dbf = NULL;
	size_t nshp = 0, ndbf = 0;
	cr_assert_eq(svt_file_read(shp_src, 1 << 24, &shp, &nshp, NULL), 0);
	cr_assert_eq(svt_file_read(dbf_src, 1 << 24, &dbf, &ndbf, NULL), 0);
	char dir[] = "/tmp/svt_twin_mutXXXXXX";
	cr_assert(mkdtemp(dir));
	char ps[512], pd[512];
	snprintf(ps, sizeof(ps), "%s/m.shp", dir);
	snprintf(pd, sizeof(pd), "%s/m.dbf", dir);
	uint8_t *ms = malloc(nshp), *md = malloc(ndbf);
	cr_assert(ms && md);
	uint64_t x = 0x243f6a8885a308d3ull;
	size_t ok = 0, fail = 0;
	for (int it = 0; it < 120; it++) {
		memcpy(ms, shp, nshp);
		memcpy(md, dbf, ndbf);
		int k = 1 + it % 4;
		for (int m = 0; m < k; m++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			/* Half the time hit the headers and record headers, where lengths live. */
			size_t span = (x >> 40) % 2 ? 200 : nshp;
			size_t at = (size_t)(x % span);
			ms[at < nshp ? at : nshp - 1] = (uint8_t)(x >> 24);
			if (it % 3 == 0)
				md[(size_t)((x >> 8) % 64) % ndbf] = (uint8_t)(x >> 32);
		}
		FILE *fs = fopen(ps, "wb"), *fd = fopen(pd, "wb");
		cr_assert(fs && fd);
		cr_assert_eq(fwrite(ms, 1, nshp, fs), nshp);
		cr_assert_eq(fwrite(md, 1, ndbf, fd), ndbf);
		fclose(fs);
		fclose(fd);
		twin_layer_opts o;
		twin_layer_opts_default(&o);
		o.epsg = 5174;
		twin_layer *l = NULL;
		int rc = twin_layer_load(ps, &o, &l, NULL);
		if (rc == 0) {
			ok++;
			(void)twin_layer_locate(l, 37.5666, 126.9784);
		} else {
			fail++;
			cr_expect_null(l);
		}
		twin_layer_destroy(l);
	}
	cr_log_info("mutations: %zu loaded, %zu refused", ok, fail);
	cr_expect_gt(ok + fail, 0);
	unlink(ps);
	unlink(pd);
	rmdir(dir);
	free(ms);
	free(md);
	free(shp);
	free(dbf);
}

/* Any vector format OGR reads: the JUSO gu layer converted by ogr2ogr (GDAL's own writer) to
 * GeoPackage, FlatGeobuf, KML and to a Shapefile in EPSG:5179 gives the same landmarks and
 * the same districts at 400 points as the GeoJSON (a reprojected copy within 1e-6 degrees of
 * a boundary may differ: none here). Skips, saying so, without ogr2ogr. */
Test(twin_layer, any_ogr_format)
{
	const char *src = real(GU_JUSO);
	if (system("ogr2ogr --version >/dev/null 2>&1") != 0)
		cr_skip_test("ogr2ogr (Debian gdal-bin) absent: other formats not checked");
	char dir[] = "/tmp/svt_twin_fmtXXXXXX";
	cr_assert(mkdtemp(dir));
	twin_layer *ref = load(GU_JUSO, 0);
	const char *fmt[][3] = {{"GPKG", "gu.gpkg", ""},
				{"FlatGeobuf", "gu.fgb", ""},
				{"KML", "gu.kml", ""},
				{"ESRI Shapefile", "gu5179.shp", "-t_srs EPSG:5179 -lco ENCODING=UTF-8"}};
	for (size_t k = 0; k < 4; k++) {
		char out[512], cmd[5000];
		snprintf(out, sizeof(out), "%s/%s", dir, fmt[k][1]);
		snprintf(cmd, sizeof(cmd), "ogr2ogr -f '%s' %s '%s' '%s' >/dev/null 2>&1", fmt[k][0],
			 fmt[k][2], out, src);
		cr_assert_eq(system(cmd), 0, "%s", cmd);
		twin_layer *l = NULL;
		svt_err e = {0};
		cr_assert_eq(twin_layer_load(out, NULL, &l, &e), 0, "%s: %s", fmt[k][0], e.msg);
		cr_expect_eq(twin_layer_count(l), twin_layer_count(ref), "%s", fmt[k][0]);
		size_t same = 0, n = 0;
		for (int i = 0; i < 20; i++)
			for (int j = 0; j < 20; j++) {
				double lat = 37.47 + 0.011 * i, lon = 126.82 + 0.017 * j;
				long a = twin_layer_locate(ref, lat, lon), b = twin_layer_locate(l, lat, lon);
				n++;
				same += (a < 0 && b < 0) ||
					(a >= 0 && b >= 0 &&
					 !strcmp(twin_layer_prop(ref, (size_t)a, "SIG_CD") ? twin_layer_prop(ref, (size_t)a, "SIG_CD") : "",
						 twin_layer_prop(l, (size_t)b, "SIG_CD") ? twin_layer_prop(l, (size_t)b, "SIG_CD") : ""));
			}
		cr_expect_eq(same, n, "%s: %zu of %zu points agree", fmt[k][0], same, n);
		long ch = twin_layer_locate(l, 37.5666, 126.9784);
		cr_assert_geq(ch, 0, "%s: City Hall outside every feature", fmt[k][0]);
		cr_expect_str_eq(twin_layer_prop(l, (size_t)ch, "SIG_ENG_NM"), "Jung-gu", "%s", fmt[k][0]);
		cr_expect_str_eq(twin_layer_name(l, (size_t)ch), "중구", "%s", fmt[k][0]);
		twin_layer_destroy(l);
	}
	twin_layer_destroy(ref);
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	cr_assert_eq(system(cmd), 0);
}
