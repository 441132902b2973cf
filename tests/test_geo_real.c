/* test_geo_real.c: geo/ against real Korean data (SVT_REAL_DATA): the 643 Seoul UTM-K
 * centroids of admdongkor, and the EPSG:5174 (Bessel) seoul_maps shapefile against the
 * independent JUSO WGS84 polygons, with and without the datum shift. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "geo/geo.h"

static const char *real_dir(void)
{
	const char *d = getenv("SVT_REAL_DATA");
	char probe[1024];
	if (!d || !*d)
		return NULL;
	snprintf(probe, sizeof(probe), "%s/README.md", d);
	FILE *f = fopen(probe, "r");
	if (!f)
		return NULL;
	fclose(f);
	return d;
}

#define NEED_REAL(d)                                                                           \
	const char *d = real_dir();                                                            \
	if (!d)                                                                                \
		cr_skip_test("SVT_REAL_DATA unset or absent: real-data geo tests skipped")

static char *slurp(const char *dir, const char *rel, size_t *len)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	uint8_t *data = NULL;
	size_t n = 0;
	svt_err e = {0};
	cr_assert_eq(svt_file_read(path, 64u << 20, &data, &n, &e), 0, "%s", e.msg);
	char *s = realloc(data, n + 1);
	cr_assert_not_null(s);
	s[n] = '\0';
	if (len)
		*len = n;
	return s;
}

Test(geo_real, admdongkor_seoul_centroids_invert_into_seoul)
{
	NEED_REAL(dir);
	char *tsv = slurp(dir, "admdongkor/coordinate_UTMK_with_names.tsv", NULL);
	size_t cap = 8192, n = 0;
	double *x = malloc(cap * sizeof(double)), *y = malloc(cap * sizeof(double));
	char *save = NULL;
	int header = 1;
	for (char *ln = strtok_r(tsv, "\n", &save); ln; ln = strtok_r(NULL, "\n", &save)) {
		if (header) {
			header = 0;
			continue;
		}
		/* SERIAL ADMCD ADMNM X Y */
		char *f[5];
		int k = 0;
		for (char *p = ln; k < 5; k++) {
			f[k] = p;
			p = strchr(p, '\t');
			if (!p) {
				k++;
				break;
			}
			*p++ = '\0';
		}
		cr_assert_eq(k, 5, "bad row");
		if (strncmp(f[1], "11", 2) != 0)
			continue;
		cr_assert_lt(n, cap);
		x[n] = atof(f[3]);
		y[n] = atof(f[4]);
		n++;
	}
	cr_assert_eq(n, 643, "Seoul rows: %zu", n);
	double *x0 = malloc(n * sizeof(double)), *y0 = malloc(n * sizeof(double));
	memcpy(x0, x, n * sizeof(double));
	memcpy(y0, y, n * sizeof(double));

	geo_crs *c = NULL;
	svt_err e = {0};
	cr_assert_eq(geo_crs_create(5179, &c, &e), 0, "%s", e.msg);
	cr_assert_eq(geo_crs_inverse(c, x, y, NULL, sizeof(double), n, &e), 0, "%s", e.msg);
	double lo0 = 1e9, lo1 = -1e9, la0 = 1e9, la1 = -1e9;
	for (size_t i = 0; i < n; i++) {
		cr_assert(x[i] > 126.76 && x[i] < 127.19 && y[i] > 37.41 && y[i] < 37.72,
			  "centroid %zu -> %.6f %.6f outside Seoul", i, x[i], y[i]);
		lo0 = fmin(lo0, x[i]);
		lo1 = fmax(lo1, x[i]);
		la0 = fmin(la0, y[i]);
		la1 = fmax(la1, y[i]);
	}
	/* ANCHORS.md: 126.795-127.177 E, 37.441-37.685 N */
	cr_assert(fabs(lo0 - 126.795) < 0.001 && fabs(lo1 - 127.177) < 0.001, "%f %f", lo0, lo1);
	cr_assert(fabs(la0 - 37.441) < 0.001 && fabs(la1 - 37.685) < 0.001, "%f %f", la0, la1);

	/* 5179 -> 5186 directly and back through the pair path: same datum, so exact to um. */
	geo_crs *p = NULL;
	cr_assert_eq(geo_crs_create_pair(5179, 5186, &p, &e), 0, "%s", e.msg);
	memcpy(x, x0, n * sizeof(double));
	memcpy(y, y0, n * sizeof(double));
	cr_assert_eq(geo_crs_forward(p, x, y, NULL, sizeof(double), n, &e), 0, "%s", e.msg);
	cr_assert_eq(geo_crs_inverse(p, x, y, NULL, sizeof(double), n, &e), 0, "%s", e.msg);
	for (size_t i = 0; i < n; i++)
		cr_assert(fabs(x[i] - x0[i]) < 1e-6 && fabs(y[i] - y0[i]) < 1e-6, "roundtrip %zu", i);
	geo_crs_destroy(p);
	geo_crs_destroy(c);
	free(x);
	free(y);
	free(x0);
	free(y0);
	free(tsv);
}

/* ---- seoul_maps: a minimal ESRI shapefile polygon reader (spec: ESRI White Paper 1998) ---- */

typedef struct gu {
	char name[64];
	double bb_shift[4];   /* lon0 lat0 lon1 lat1, 5174 with the datum shift */
	double bb_noshift[4]; /* Bessel lon/lat read as if WGS84 */
	double bb_juso[4];
	int have_juso;
} gu;

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static int32_t le32(const uint8_t *p)
{
	return (int32_t)((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
			 (uint32_t)p[3] << 24);
}
static double le64d(const uint8_t *p)
{
	double d;
	memcpy(&d, p, 8); /* x86-64 and every target we build on is little-endian */
	return d;
}

static void bb_reset(double b[4])
{
	b[0] = b[1] = INFINITY;
	b[2] = b[3] = -INFINITY;
}
static void bb_add(double b[4], double lon, double lat)
{
	b[0] = fmin(b[0], lon);
	b[1] = fmin(b[1], lat);
	b[2] = fmax(b[2], lon);
	b[3] = fmax(b[3], lat);
}

static void juso_bbox(json_t *coords, double b[4])
{
	/* Nested arrays down to [lon, lat] pairs, whatever the polygon nesting. */
	if (json_is_array(coords) && json_array_size(coords) >= 2 &&
	    json_is_number(json_array_get(coords, 0))) {
		bb_add(b, json_number_value(json_array_get(coords, 0)),
		       json_number_value(json_array_get(coords, 1)));
		return;
	}
	size_t i;
	json_t *v;
	json_array_foreach(coords, i, v) juso_bbox(v, b);
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

Test(geo_real, seoul_maps_5174_lands_on_juso_wgs84)
{
	NEED_REAL(dir);
	size_t shp_n, dbf_n;
	uint8_t *shp = (uint8_t *)slurp(dir, "seoul_maps/kostat/2013/shp/original/seoul_municipalities.shp",
					&shp_n);
	uint8_t *dbf = (uint8_t *)slurp(dir, "seoul_maps/kostat/2013/shp/original/seoul_municipalities.dbf",
					&dbf_n);
	cr_assert(shp_n > 100 && be32(shp) == 9994, "not a shapefile");
	cr_assert_eq(le32(shp + 32), 5, "shape type %d, expected polygon", le32(shp + 32));

	/* dbf: 25 records of code, name (CP949), name_eng, base_year; match on name_eng. */
	uint32_t nrec = (uint32_t)le32(dbf + 4);
	unsigned hlen = dbf[8] | dbf[9] << 8, rlen = dbf[10] | dbf[11] << 8;
	cr_assert_eq(nrec, 25);
	unsigned off = 1, eng_off = 0, eng_len = 0;
	for (const uint8_t *fd = dbf + 32; *fd != 0x0d; fd += 32) {
		if (!strncmp((const char *)fd, "name_eng", 11)) {
			eng_off = off;
			eng_len = fd[16];
		}
		off += fd[16];
	}
	cr_assert(eng_len > 0, "no name_eng field");

	gu g[25];
	memset(g, 0, sizeof(g));
	geo_crs *shift = NULL, *noshift = NULL;
	svt_err e = {0};
	cr_assert_eq(geo_crs_create(5174, &shift, &e), 0, "%s", e.msg);
	/* Korean 1985 geographic <-> 5174: the projection alone, no datum shift. */
	cr_assert_eq(geo_crs_create_pair(4162, 5174, &noshift, &e), 0, "%s", e.msg);

	size_t pos = 100;
	int gangdong_checked = 0;
	for (uint32_t r = 0; r < nrec; r++) {
		cr_assert(pos + 8 <= shp_n);
		size_t clen = (size_t)be32(shp + pos + 4) * 2;
		const uint8_t *c = shp + pos + 8;
		cr_assert(pos + 8 + clen <= shp_n);
		cr_assert_eq(le32(c), 5);
		int nparts = le32(c + 36), npts = le32(c + 40);
		const uint8_t *pts = c + 44 + 4 * nparts;
		cr_assert(npts > 3 && (size_t)(pts - c) + 16 * (size_t)npts <= clen);
		double *x = malloc(2 * npts * sizeof(double)), *y = x + npts;
		double *x2 = malloc(2 * npts * sizeof(double)), *y2 = x2 + npts;
		for (int i = 0; i < npts; i++) {
			x[i] = x2[i] = le64d(pts + 16 * i);
			y[i] = y2[i] = le64d(pts + 16 * i + 8);
		}
		cr_assert_eq(geo_crs_inverse(shift, x, y, NULL, sizeof(double), npts, &e), 0, "%s", e.msg);
		cr_assert_eq(geo_crs_inverse(noshift, x2, y2, NULL, sizeof(double), npts, &e), 0, "%s",
			     e.msg);
		const char *nm = (const char *)dbf + hlen + r * rlen + eng_off;
		int l = (int)eng_len;
		while (l > 0 && nm[l - 1] == ' ')
			l--;
		while (l > 0 && *nm == ' ')
			nm++, l--;
		snprintf(g[r].name, sizeof(g[r].name), "%.*s", l, nm);
		bb_reset(g[r].bb_shift);
		bb_reset(g[r].bb_noshift);
		bb_reset(g[r].bb_juso);
		for (int i = 0; i < npts; i++) {
			bb_add(g[r].bb_shift, x[i], y[i]);
			bb_add(g[r].bb_noshift, x2[i], y2[i]);
		}
		/* SOURCE.md: Gangdong-gu's first vertex 209921.859375, 450900.78125 is
		 * 127.1130834, 37.5603312 with the shift and 127.1151958, 37.5575332 (the KOSTAT
		 * GeoJSON's value) without it. */
		if (!strcmp(g[r].name, "Gangdong-gu")) {
			cr_assert(fabs(le64d(pts) - 209921.859375) < 1e-9);
			cr_assert(fabs(x[0] - 127.1130834) < 2e-7 && fabs(y[0] - 37.5603312) < 2e-7,
				  "shifted %.7f %.7f", x[0], y[0]);
			cr_assert(fabs(x2[0] - 127.1151958) < 2e-7 && fabs(y2[0] - 37.5575332) < 2e-7,
				  "unshifted %.7f %.7f", x2[0], y2[0]);
			gangdong_checked = 1;
		}
		free(x);
		free(x2);
		pos += 8 + clen;
	}
	cr_assert(gangdong_checked);

	char *js = slurp(dir, "seoul_maps/juso/2015/json/seoul_municipalities_geo_simple.json", NULL);
	json_error_t je;
	json_t *root = json_loads(js, 0, &je);
	cr_assert_not_null(root, "JUSO json: %s", je.text);
	json_t *feats = json_object_get(root, "features"), *ft;
	size_t fi;
	json_array_foreach(feats, fi, ft)
	{
		const char *nm = json_string_value(
			json_object_get(json_object_get(ft, "properties"), "SIG_ENG_NM"));
		cr_assert_not_null(nm);
		for (int r = 0; r < 25; r++)
			if (!strcmp(g[r].name, nm)) {
				juso_bbox(json_object_get(json_object_get(ft, "geometry"), "coordinates"),
					  g[r].bb_juso);
				g[r].have_juso = 1;
			}
	}
	/* Per-gu bbox edge offsets in metres (lon scaled at Seoul's latitude), signed, median
	 * over the 25 gu for each of the 4 edges. The median of the signed offset measures the
	 * systematic shift a datum error makes; single edges differ by tens of metres both ways
	 * because the JUSO 2015 layer is simplified and its boundaries are two years newer. */
	const double mlat = 110950.0, mlon = 111320.0 * cos(37.55 * M_PI / 180.0);
	double med_shift[4], med_noshift[4];
	for (int k = 0; k < 4; k++) {
		double a[25], b[25];
		for (int r = 0; r < 25; r++) {
			cr_assert(g[r].have_juso, "%s has no JUSO polygon", g[r].name);
			double sc = (k % 2 == 0) ? mlon : mlat;
			a[r] = (g[r].bb_shift[k] - g[r].bb_juso[k]) * sc;
			b[r] = (g[r].bb_noshift[k] - g[r].bb_juso[k]) * sc;
		}
		qsort(a, 25, sizeof(double), cmp_d);
		qsort(b, 25, sizeof(double), cmp_d);
		med_shift[k] = a[12];
		med_noshift[k] = b[12];
	}
	fprintf(stderr,
		"seoul_maps median bbox-edge offsets (m) W S E N: with shift %.1f %.1f %.1f %.1f;"
		" without %.1f %.1f %.1f %.1f\n",
		med_shift[0], med_shift[1], med_shift[2], med_shift[3], med_noshift[0],
		med_noshift[1], med_noshift[2], med_noshift[3]);
	for (int k = 0; k < 4; k++) {
		cr_assert_leq(fabs(med_shift[k]), 10.0, "edge %d: %.1f m with the datum shift", k,
			      med_shift[k]);
		/* ~0.0021 deg east (185 m), ~0.0028 deg south (310 m): the Tokyo-datum error */
		cr_assert_geq(fabs(med_noshift[k]), 150.0, "edge %d: only %.1f m without the shift",
			      k, med_noshift[k]);
	}
	json_decref(root);
	free(js);
	free(shp);
	free(dbf);
	geo_crs_destroy(shift);
	geo_crs_destroy(noshift);
}

/* kapture_berlin trajectories.txt: world-to-device rows convert to OpenCV w2c and back
 * exactly, and a world point maps the same through the quaternion and through the 4x4. */
Test(geo_real, kapture_berlin_trajectories)
{
	NEED_REAL(dir);
	char *txt = slurp(dir, "kapture_berlin/sensors/trajectories.txt", NULL);
	char *save = NULL;
	int rows = 0;
	for (char *ln = strtok_r(txt, "\n", &save); ln; ln = strtok_r(NULL, "\n", &save)) {
		if (ln[0] == '#')
			continue;
		/* timestamp, device_id, qw, qx, qy, qz, tx, ty, tz: the device id has spaces but
		 * no commas, so take the last 7 comma-separated fields */
		double v[7];
		char *p = ln + strlen(ln);
		for (int k = 6; k >= 0; k--) {
			while (p > ln && p[-1] != ',')
				p--;
			cr_assert(p > ln, "row has fewer than 9 fields");
			v[k] = strtod(p, NULL);
			p--;
		}
		double w2c[16], q2[4], t2[3];
		geo_pose_from_kapture(v, v + 4, w2c);
		/* rotation part orthonormal, det +1 */
		double *R = w2c;
		double det = R[0] * (R[5] * R[10] - R[6] * R[9]) - R[1] * (R[4] * R[10] - R[6] * R[8]) +
			     R[2] * (R[4] * R[9] - R[5] * R[8]);
		cr_assert(fabs(det - 1.0) < 1e-12, "det %.15f", det);
		geo_pose_to_kapture(w2c, q2, t2);
		double s = v[0] < 0 ? -1 : 1;
		for (int k = 0; k < 4; k++)
			cr_assert(fabs(q2[k] - s * v[k]) < 1e-15, "q[%d] %.17g vs %.17g", k, q2[k], v[k]);
		for (int k = 0; k < 3; k++)
			cr_assert_eq(t2[k], v[4 + k]);
		/* x_dev = q x q* + t against the matrix */
		double X[3] = {1.5, -2.0, 3.25}, qv[3] = {v[1], v[2], v[3]}, w = v[0];
		double c1[3] = {qv[1] * X[2] - qv[2] * X[1] + w * X[0],
				qv[2] * X[0] - qv[0] * X[2] + w * X[1],
				qv[0] * X[1] - qv[1] * X[0] + w * X[2]};
		for (int k = 0; k < 3; k++) {
			double r = X[k] + 2.0 * (qv[(k + 1) % 3] * c1[(k + 2) % 3] -
						 qv[(k + 2) % 3] * c1[(k + 1) % 3]) + v[4 + k];
			double m = w2c[4 * k] * X[0] + w2c[4 * k + 1] * X[1] + w2c[4 * k + 2] * X[2] +
				   w2c[4 * k + 3];
			cr_assert(fabs(r - m) < 1e-12, "component %d: %.15f vs %.15f", k, r, m);
		}
		rows++;
	}
	cr_assert_eq(rows, 3);
	free(txt);
}
