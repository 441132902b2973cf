/* test_ingest_scan.c: the decode pool, capture scans with every rejection reason, tracks
 * (GPX, NMEA, CSV) and geotagging from a track. */
#include <math.h>

#include "tests/test_ingest_util.h"

/* ---- pool --------------------------------------------------------------------------------- */

Test(pool, in_order_bounded_with_a_failure)
{
	const char *paths[12];
	char bogus[] = "/nonexistent/frame.jpg";
	for (int i = 0; i < 10; i++) {
		char rel[64];
		snprintf(rel, sizeof(rel), "opensfm_lund/images/%02d.jpg", i + 1);
		paths[i < 5 ? i : i + 1] = strdup(real_path(rel));
	}
	paths[5] = bogus;
	paths[11] = strdup(real_path("exiftool_t_images/PNG.png"));
	const int depth = 3;
	ingest_pool *p = NULL;
	svt_err e = {0};
	cr_assert_eq(ingest_pool_create(paths, 12, 2, depth, NULL, &p, &e), 0, "%s", e.msg);
	ingest_image *seen[12] = {0};
	size_t nseen = 0;
	for (size_t k = 0; k < 12; k++) {
		size_t idx = 99;
		ingest_image *img = NULL;
		int warn = 0;
		svt_err fe = {0};
		cr_assert_eq(ingest_pool_next(p, &idx, &img, &warn, &fe, &e), 0, "%s", e.msg);
		cr_assert_eq(idx, k, "results come in input order");
		if (k == 5) {
			cr_assert_null(img);
			cr_assert_eq(fe.code, SVT_E_IO);
			cr_assert(strstr(fe.msg, "nonexistent"), "%s", fe.msg);
			continue;
		}
		cr_assert_not_null(img, "%s: %s", paths[k], fe.msg);
		cr_assert_eq(img->width, k == 11 ? 16 : 1024);
		int known = 0;
		for (size_t s = 0; s < nseen; s++)
			known |= seen[s] == img;
		if (!known)
			seen[nseen++] = img;
		ingest_pool_release(p, img);
	}
	cr_assert_leq(nseen, (size_t)depth, "at most depth images ever exist: %zu", nseen);
	ingest_image *img = NULL;
	cr_assert_eq(ingest_pool_next(p, NULL, &img, NULL, NULL, &e), SVT_E_NOTFOUND);
	ingest_pool_destroy(p);
	ingest_pool_destroy(NULL);
	for (int i = 0; i < 12; i++)
		if (i != 5)
			free((char *)paths[i]);
}

Test(pool, destroy_with_images_outstanding)
{
	const char *paths[4];
	for (int i = 0; i < 4; i++)
		paths[i] = strdup(real_path("exiftool_t_images/GPS.jpg"));
	ingest_pool *p = NULL;
	svt_err e = {0};
	cr_assert_eq(ingest_pool_create(paths, 4, 4, 2, NULL, &p, &e), 0);
	ingest_image *img = NULL;
	cr_assert_eq(ingest_pool_next(p, NULL, &img, NULL, NULL, &e), 0);
	cr_assert_not_null(img);
	ingest_pool_destroy(p); /* the held image is freed with the pool (ASan checks no leak) */
	for (int i = 0; i < 4; i++)
		free((char *)paths[i]);
}

/* ---- scans of real folders ---------------------------------------------------------------- */

Test(scan_real, lund_sequence_in_name_order)
{
	ingest_capture *c = NULL;
	svt_err e = {0};
	cr_assert_eq(ingest_capture_scan(real_path("opensfm_lund/images"), NULL, &c, &e), 0, "%s", e.msg);
	cr_assert_eq(c->n, 10);
	cr_assert_eq(c->n_kept, 10, "OpenSfM frames have no time: kept, in file-name order");
	for (size_t i = 0; i < c->n; i++) {
		char tail[32];
		snprintf(tail, sizeof(tail), "/%02zu.jpg", i + 1);
		cr_assert(strstr(c->frames[i].path, tail), "%s", c->frames[i].path);
		cr_assert_eq(c->frames[i].seq, 0);
	}
	char *json = NULL;
	cr_assert_eq(ingest_frame_to_json(&c->frames[0], &json, &e), 0);
	cr_assert(strstr(json, "\"lat\":55.698166666666"), "%s", json);
	cr_assert(strstr(json, "\"status\":\"ok\""), "%s", json);
	free(json);
	ingest_capture_destroy(c);
}

Test(scan_real, mapillary_reasons)
{
	ingest_capture *c = NULL;
	svt_err e = {0};
	cr_assert_eq(ingest_capture_scan(real_path("mapillary_tools"), NULL, &c, &e), 0, "%s", e.msg);
	cr_assert_eq(c->n, 10);
	size_t sum = c->n_kept;
	for (int r = 1; r < INGEST_REASON_COUNT; r++)
		sum += c->n_rejected[r];
	cr_assert_eq(sum, c->n);
	for (size_t i = 0; i < c->n; i++) {
		const ingest_frame *f = &c->frames[i];
		if (f->reason != INGEST_OK)
			cr_assert(f->why[0], "%s rejected as %s without detail", f->path,
				  ingest_reason_name(f->reason));
		if (strstr(f->path, "empty_exif") || strstr(f->path, "wrong_type"))
			cr_assert_eq(f->reason, INGEST_REJ_NO_GPS, "%s: %s", f->path, f->why);
		if (strstr(f->path, "adobe_coords"))
			cr_assert_eq(f->reason, INGEST_OK, "%s", f->why);
	}
	char *tmp = temp_dir();
	char rej[1200];
	snprintf(rej, sizeof(rej), "%s/rejects.jsonl", tmp);
	cr_assert_eq(ingest_capture_write_rejects(c, rej, &e), 0, "%s", e.msg);
	size_t n;
	uint8_t *txt = slurp(rej, &n);
	size_t lines = 0;
	for (size_t i = 0; i < n; i++)
		lines += txt[i] == '\n';
	cr_assert_eq(lines, c->n - c->n_kept);
	cr_assert(memmem(txt, n, "\"reason\":\"no_gps\"", 17));
	free(txt);
	rm_tree(tmp);
	ingest_capture_destroy(c);
}

/* ---- generated captures: every reason ------------------------------------------------------ */

static void put(const char *dir, const char *name, const uint8_t *b, size_t n)
{
	char p[1200];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	spit(p, b, n);
}

static void put_gps(const char *dir, const char *name, double lat, double lon, double hd,
		    const char *dto)
{
	size_t n;
	uint8_t *j = jpeg_with_gps(lat, lon, hd, dto, "+09:00", &n);
	put(dir, name, j, n);
	free(j);
}

static const ingest_frame *find(const ingest_capture *c, const char *name)
{
	for (size_t i = 0; i < c->n; i++) {
		const char *s = strrchr(c->frames[i].path, '/');
		if (s && !strcmp(s + 1, name))
			return &c->frames[i];
	}
	cr_assert_fail("frame %s not found", name);
	return NULL;
}

Test(scan_gen, every_reason)
{
	char *d = temp_dir();
	/* Along Sejong-daero, ~1.1 m per 0.00001 deg of latitude, one frame a second. */
	double lat0 = 37.5700, lon0 = 126.9769;
	put_gps(d, "a00.jpg", lat0, lon0, 180, "2024:05:01 10:00:00");
	put_gps(d, "a01.jpg", lat0 - 0.00005, lon0, 180, "2024:05:01 10:00:01");
	put_gps(d, "a02_dup.jpg", lat0 - 0.00005, lon0, 182, "2024:05:01 10:00:02");
	put_gps(d, "a03.jpg", lat0 - 0.00010, lon0, 180, "2024:05:01 10:00:03");
	/* 1 km in one second: 3600 km/h */
	put_gps(d, "a04_fast.jpg", lat0 - 0.00910, lon0, 180, "2024:05:01 10:00:04");
	put_gps(d, "a05.jpg", lat0 - 0.00015, lon0, 180, "2024:05:01 10:00:05");
	/* out 60 m east and back (60 m in 1 s is 216 km/h: under the speed limit) */
	put_gps(d, "a06_zig.jpg", lat0 - 0.00017, lon0 + 0.00068, 180, "2024:05:01 10:00:06");
	put_gps(d, "a07.jpg", lat0 - 0.00020, lon0, 180, "2024:05:01 10:00:07");
	/* two minutes later: a new sequence */
	put_gps(d, "b00.jpg", lat0 - 0.00025, lon0, 180, "2024:05:01 10:02:07");
	put_gps(d, "b01_null.jpg", 0.0, 0.0, 180, "2024:05:01 10:02:08");
	/* no GPS */
	uint8_t *rgb = pattern(32, 16);
	size_t n;
	uint8_t *j = make_jpeg(rgb, 32, 16, TJSAMP_444, 90, 0, &n);
	put(d, "c_nogps.jpg", j, n);
	free(j);
	/* truncated, with valid metadata */
	uint8_t *big = pattern(512, 256);
	for (int i = 0; i < 512 * 256 * 3; i++)
		big[i] = (uint8_t)(big[i] ^ (i * 2654435761u >> 24));
	size_t bn;
	uint8_t *bj = make_jpeg(big, 512, 256, TJSAMP_420, 90, 0, &bn);
	size_t gn;
	uint8_t *g = jpeg_with_gps(lat0 - 0.0003, lon0, 180, "2024:05:01 10:02:09", "+09:00", &gn);
	/* splice: the EXIF APP1 of g, then the big image's segments */
	size_t app_len = ((size_t)g[4] << 8 | g[5]) + 2;
	size_t tn = 2 + app_len + (bn - 2) * 6 / 10;
	uint8_t *t = malloc(tn);
	memcpy(t, g, 2 + app_len);
	memcpy(t + 2 + app_len, bj + 2, tn - 2 - app_len);
	put(d, "d_trunc.jpg", t, tn);
	put(d, "e_garbage.jpg", (const uint8_t *)"this is not an image at all", 27);
	put(d, "f_empty.jpg", (const uint8_t *)"", 0);
	put(d, "notes.txt", (const uint8_t *)"ignored", 7);

	ingest_scan_opts o;
	ingest_scan_opts_default(&o);
	o.threads = 2;
	ingest_capture *c = NULL;
	svt_err e = {0};
	cr_assert_eq(ingest_capture_scan(d, &o, &c, &e), 0, "%s", e.msg);
	cr_assert_eq(c->n, 14, "notes.txt is not a frame: %zu", c->n);
	struct {
		const char *name;
		ingest_reason r;
	} want[] = {
		{"a00.jpg", INGEST_OK}, {"a01.jpg", INGEST_OK}, {"a02_dup.jpg", INGEST_REJ_DUPLICATE},
		{"a03.jpg", INGEST_OK}, {"a04_fast.jpg", INGEST_REJ_SPEED}, {"a05.jpg", INGEST_OK},
		{"a06_zig.jpg", INGEST_REJ_ZIGZAG}, {"a07.jpg", INGEST_OK}, {"b00.jpg", INGEST_OK},
		{"b01_null.jpg", INGEST_REJ_NULL_ISLAND}, {"c_nogps.jpg", INGEST_REJ_NO_GPS},
		{"d_trunc.jpg", INGEST_REJ_UNDECODABLE}, {"e_garbage.jpg", INGEST_REJ_UNDECODABLE},
		{"f_empty.jpg", INGEST_REJ_UNDECODABLE},
	};
	for (size_t i = 0; i < SVT_ARRAY_LEN(want); i++) {
		const ingest_frame *f = find(c, want[i].name);
		cr_assert_eq(f->reason, want[i].r, "%s: %s (%s), want %s", want[i].name,
			     ingest_reason_name(f->reason), f->why, ingest_reason_name(want[i].r));
	}
	cr_assert(strstr(find(c, "d_trunc.jpg")->why, "warnings"), "%s", find(c, "d_trunc.jpg")->why);
	char sum[256];
	ingest_capture_summary(c, sum, sizeof(sum));
	cr_assert(strstr(sum, "14 frames, 6 kept, 8 rejected (undecodable 3, no_gps 1, null_island 1, "
			      "speed 1, zigzag 1, duplicate 1)"), "%s", sum);
	cr_assert_eq(find(c, "a00.jpg")->seq, 0);
	cr_assert_eq(find(c, "a07.jpg")->seq, 0);
	cr_assert_eq(find(c, "b00.jpg")->seq, 1, "cut at the 2-minute gap");
	/* Sorted by time: a00 first, b00 after a07. */
	cr_assert(strstr(c->frames[0].path, "a00.jpg"));
	char *json = NULL;
	cr_assert_eq(ingest_frame_to_json(find(c, "a02_dup.jpg"), &json, &e), 0);
	cr_assert(strstr(json, "\"reason\":\"duplicate\""), "%s", json);
	cr_assert(strstr(json, "\"time_utc\":\"2024-05-01T01:00:02.000000Z\""), "%s", json);
	free(json);
	ingest_capture_destroy(c);

	/* Corruption inside the data, with the end marker intact: only a full check sees it. */
	uint8_t *cj = malloc(bn);
	memcpy(cj, bj, bn);
	for (size_t i = bn / 3; i < bn / 3 + 64; i++)
		cj[i] = (uint8_t)(i * 37);
	size_t cn2;
	uint8_t *gj = jpeg_insert_app(cj, bn, 0xE1, g + 6, app_len - 4, &cn2);
	put(d, "g_corrupt.jpg", gj, cn2);
	free(cj), free(gj);
	o.verify_decode = 1;
	cr_assert_eq(ingest_capture_scan(d, &o, &c, &e), 0, "%s", e.msg);
	cr_assert_eq(find(c, "g_corrupt.jpg")->reason, INGEST_OK, "EOI present: not checked at level 1 (%s)", find(c, "g_corrupt.jpg")->why);
	cr_assert_eq(find(c, "d_trunc.jpg")->reason, INGEST_REJ_UNDECODABLE);
	ingest_capture_destroy(c);
	o.verify_decode = 2;
	cr_assert_eq(ingest_capture_scan(d, &o, &c, &e), 0, "%s", e.msg);
	cr_assert_eq(find(c, "g_corrupt.jpg")->reason, INGEST_REJ_UNDECODABLE, "%s",
		     find(c, "g_corrupt.jpg")->why);
	ingest_capture_destroy(c);
	o.verify_decode = 0;
	cr_assert_eq(ingest_capture_scan(d, &o, &c, &e), 0, "%s", e.msg);
	cr_assert_eq(find(c, "d_trunc.jpg")->reason, INGEST_OK, "level 0: header checks only");
	ingest_capture_destroy(c);
	o.verify_decode = 1;

	/* The size limit: the same folder with a 100-pixel width cap. */
	o.limits.max_width = 100;
	cr_assert_eq(ingest_capture_scan(d, &o, &c, &e), 0, "%s", e.msg);
	cr_assert_eq(find(c, "d_trunc.jpg")->reason, INGEST_REJ_TOO_LARGE, "%s", find(c, "d_trunc.jpg")->why);
	ingest_capture_destroy(c);
	/* Missing path: an error of the scan itself. */
	cr_assert_eq(ingest_capture_scan("/nonexistent/capture", &o, &c, &e), SVT_E_NOTFOUND);
	free(rgb), free(big), free(bj), free(g), free(t);
	rm_tree(d);
}

/* ---- tracks ---------------------------------------------------------------------------------- */

Test(track, exiftool_gpx_backwards_times)
{
	ingest_track *t = NULL;
	svt_err e = {0};
	cr_assert_eq(ingest_track_read(real_path("exiftool_t_images/Geotag.gpx"), &t, &e), 0, "%s", e.msg);
	cr_assert_eq(t->n, 9);
	for (size_t i = 1; i < t->n; i++)
		cr_assert_lt(t->pts[i - 1].time_us, t->pts[i].time_us, "sorted by time");
	/* first in time: 17:09:04 at 43.642824, -116.061502, ele 1507.003906 */
	int64_t t0 = (ingest_days_from_civil_test(2003, 5, 24) * 86400 + 17 * 3600 + 9 * 60 + 4) * 1000000LL;
	cr_assert_eq(t->pts[0].time_us, t0);
	cr_assert_float_eq(t->pts[0].lat, 43.642824, 1e-12);
	cr_assert_float_eq(t->pts[0].lon, -116.061502, 1e-12);
	cr_assert_float_eq(t->pts[0].alt, 1507.003906, 1e-9);
	/* halfway between 17:09:04 and 17:09:10 */
	double lat, lon, alt, hd;
	cr_assert_eq(ingest_track_at(t, t0 + 3000000, &lat, &lon, &alt, &hd, &e), 0);
	cr_assert_float_eq(lat, (43.642824 + 43.642545) / 2, 1e-9);
	cr_assert_float_eq(lon, (-116.061502 + -116.061587) / 2, 1e-9);
	cr_assert(hd > 180 && hd < 200, "heading %.2f: going south", hd);
	cr_assert_eq(ingest_track_at(t, t0 - 1, &lat, &lon, &alt, &hd, &e), SVT_E_NOTFOUND);
	cr_assert(strstr(e.msg, "outside the track"), "%s", e.msg);
	ingest_track_destroy(t);
}

static void nmea_line(char *out, size_t cap, const char *body)
{
	unsigned s = 0;
	for (const char *p = body; *p; p++)
		s ^= (unsigned char)*p;
	snprintf(out, cap, "$%s*%02X\r\n", body, s);
}

Test(track, nmea_gp_gn_checksums)
{
	char buf[2048] = "", l[200];
	nmea_line(l, sizeof(l), "GPGGA,235958.00,3734.0000,N,12658.0000,E,1,08,0.9,30.5,M,,M,,");
	strcat(buf, l);
	nmea_line(l, sizeof(l), "GNRMC,235959.00,A,3734.0060,N,12658.0000,E,10.0,0.0,311224,,,A");
	strcat(buf, l);
	nmea_line(l, sizeof(l), "GNGGA,235959.00,3734.0060,N,12658.0000,E,1,08,0.9,31.5,M,,M,,");
	strcat(buf, l);
	/* a corrupted digit: the checksum no longer matches */
	nmea_line(l, sizeof(l), "GNRMC,000000.00,A,3734.0120,N,12658.0000,E,10.0,0.0,010125,,,A");
	l[20] = '9';
	strcat(buf, l);
	nmea_line(l, sizeof(l), "GNRMC,000001.00,A,3734.0180,N,12658.0000,E,10.0,0.0,010125,,,A");
	strcat(buf, l);
	nmea_line(l, sizeof(l), "GPRMC,000002.00,V,,,,,,,010125,,,N"); /* no fix */
	strcat(buf, l);
	ingest_track *t = NULL;
	svt_err e = {0};
	cr_assert_eq(ingest_track_read_mem((const uint8_t *)buf, strlen(buf), &t, &e), 0, "%s", e.msg);
	cr_assert_eq(t->n, 3, "GGA 23:59:58 (dated before midnight), RMC+GGA 23:59:59 merged, RMC 00:00:01");
	int64_t d31 = ingest_days_from_civil_test(2024, 12, 31) * 86400LL;
	cr_assert_eq(t->pts[0].time_us, (d31 + 86398) * 1000000LL);
	cr_assert_float_eq(t->pts[0].lat, 37 + 34.0 / 60, 1e-12);
	cr_assert_float_eq(t->pts[0].lon, 126 + 58.0 / 60, 1e-12);
	cr_assert_float_eq(t->pts[0].alt, 30.5, 1e-12);
	cr_assert_eq(t->pts[1].time_us, (d31 + 86399) * 1000000LL);
	cr_assert_float_eq(t->pts[1].alt, 31.5, 1e-12, "GGA altitude merged into the RMC fix");
	cr_assert_eq(t->pts[2].time_us, (d31 + 86401) * 1000000LL, "the new day from RMC");
	cr_assert_eq(t->n_bad_lines, 1, "the corrupted sentence (a no-fix RMC is not an error)");
	ingest_track_destroy(t);
	/* A date field that is not six digits ("1a0125" once read as the 1st) is a bad line,
	 * with a valid checksum: the fix around it stays. */
	buf[0] = 0;
	nmea_line(l, sizeof(l), "GNRMC,000001.00,A,3734.0180,N,12658.0000,E,10.0,0.0,010125,,,A");
	strcat(buf, l);
	nmea_line(l, sizeof(l), "GNRMC,000002.00,A,3734.0240,N,12658.0000,E,10.0,0.0,1a0125,,,A");
	strcat(buf, l);
	cr_assert_eq(ingest_track_read_mem((const uint8_t *)buf, strlen(buf), &t, &e), 0, "%s", e.msg);
	cr_expect_eq(t->n, 1, "the 1a0125 fix was kept");
	cr_expect_eq(t->n_bad_lines, 1);
	ingest_track_destroy(t);
	/* Only bad lines: a clear error. */
	const char *bad = "$GPRMC,000000.00,A,3734.0000,N,12658.0000,E,1,0,010125,,,A*00\n";
	cr_assert_eq(ingest_track_read_mem((const uint8_t *)bad, strlen(bad), &t, &e), SVT_E_FORMAT);
	cr_assert(strstr(e.msg, "no usable point"), "%s", e.msg);
}

Test(track, csv_format)
{
	const char *csv = "# my logger\n"
			  "time,lat,lon,alt\n"
			  "2024-05-01T01:00:00Z,37.5700,126.9769,30\n"
			  "1714525210.5,37.5690,126.9769,\n"
			  "2024-05-01T10:00:20+09:00,37.5680,126.9769,32\n"
			  "garbage line\n";
	ingest_track *t = NULL;
	svt_err e = {0};
	cr_assert_eq(ingest_track_read_mem((const uint8_t *)csv, strlen(csv), &t, &e), 0, "%s", e.msg);
	cr_assert_eq(t->n, 3);
	int64_t t0 = (ingest_days_from_civil_test(2024, 5, 1) * 86400 + 3600) * 1000000LL;
	cr_assert_eq(t->pts[0].time_us, t0);
	cr_assert_eq(t->pts[1].time_us, t0 + 10500000, "epoch seconds with a fraction");
	cr_assert(isnan(t->pts[1].alt));
	cr_assert_eq(t->pts[2].time_us, t0 + 20000000, "ISO time with a +09:00 offset");
	ingest_track_destroy(t);
	/* A coordinate with trailing text is no coordinate (it was read as its prefix), in CSV and
	 * in GPX; blanks around a number are fine. */
	const char *junk = "time,lat,lon\n"
			   "2024-05-01T01:00:00Z,37.57abc,126.9769\n"
			   "2024-05-01T01:00:10Z, 37.5690 ,126.9769\n";
	cr_assert_eq(ingest_track_read_mem((const uint8_t *)junk, strlen(junk), &t, &e), 0, "%s",
		     e.msg);
	cr_expect_eq(t->n, 1);
	cr_expect_eq(t->n_bad_lines, 1);
	cr_expect_float_eq(t->pts[0].lat, 37.569, 1e-12);
	ingest_track_destroy(t);
	const char *gpx = "<?xml version='1.0'?><gpx version='1.1' creator='t' "
			  "xmlns='http://www.topografix.com/GPX/1/1'><trk><trkseg>"
			  "<trkpt lat='37.57x' lon='126.97'><time>2024-05-01T01:00:00Z</time></trkpt>"
			  "<trkpt lat='37.58' lon='126.97'><ele>12.5m</ele>"
			  "<time>2024-05-01T01:00:10Z</time></trkpt>"
			  "</trkseg></trk></gpx>";
	cr_assert_eq(ingest_track_read_mem((const uint8_t *)gpx, strlen(gpx), &t, &e), 0, "%s",
		     e.msg);
	cr_expect_eq(t->n, 1, "the 37.57x point was kept");
	cr_expect_float_eq(t->pts[0].lat, 37.58, 1e-12);
	cr_expect(isnan(t->pts[0].alt), "'12.5m' read as an altitude");
	ingest_track_destroy(t);
	/* An altitude no street-level fix has (here 1e9 m and -5000 m) is none; the fix stays. */
	const char *alts = "time,lat,lon,alt\n"
			   "2024-05-01T01:00:00Z,37.5700,126.9769,1e9\n"
			   "2024-05-01T01:00:10Z,37.5690,126.9769,-5000\n"
			   "2024-05-01T01:00:20Z,37.5680,126.9769,-20\n";
	cr_assert_eq(ingest_track_read_mem((const uint8_t *)alts, strlen(alts), &t, &e), 0, "%s",
		     e.msg);
	cr_assert_eq(t->n, 3);
	cr_expect(isnan(t->pts[0].alt) && isnan(t->pts[1].alt), "%g %g", t->pts[0].alt,
		  t->pts[1].alt);
	cr_expect_float_eq(t->pts[2].alt, -20, 1e-12);
	ingest_track_destroy(t);
}

/* A CMYK JPEG (Adobe's 4-component kind), well placed and timed: refused at the scan with
 * its reason, from the header (the decoder cannot give it RGB), not later in a clip. */
Test(scan_gen, cmyk_jpeg_is_refused_at_the_scan)
{
	char *d = temp_dir();
	uint8_t *px = malloc(32 * 16 * 4);
	cr_assert(px);
	for (int i = 0; i < 32 * 16 * 4; i++)
		px[i] = (uint8_t)(i * 7);
	tjhandle tj = tjInitCompress();
	cr_assert_not_null(tj);
	unsigned char *cj = NULL;
	unsigned long cn = 0;
	cr_assert_eq(tjCompress2(tj, px, 32, 32 * 4, 16, TJPF_CMYK, &cj, &cn, TJSAMP_444, 90, 0), 0,
		     "%s", tjGetErrorStr2(tj));
	tjDestroy(tj);
	/* Its position and time: the EXIF APP1 of a located JPEG, spliced in after SOI. */
	size_t gn;
	uint8_t *g = jpeg_with_gps(37.57, 126.9769, 180, "2024:05:01 10:00:00", "+09:00", &gn);
	size_t app_len = ((size_t)g[4] << 8 | g[5]) + 2, tn = 2 + app_len + cn - 2;
	uint8_t *t = malloc(tn);
	cr_assert(t);
	memcpy(t, g, 2 + app_len);
	memcpy(t + 2 + app_len, cj + 2, cn - 2);
	put(d, "cmyk.jpg", t, tn);
	put_gps(d, "rgb.jpg", 37.57001, 126.9769, 180, "2024:05:01 10:00:01");
	ingest_capture *c = NULL;
	svt_err e = {0};
	cr_assert_eq(ingest_capture_scan(d, NULL, &c, &e), 0, "%s", e.msg);
	const ingest_frame *f = find(c, "cmyk.jpg");
	cr_expect_eq(f->reason, INGEST_REJ_UNDECODABLE, "%s", ingest_reason_name(f->reason));
	cr_expect(strstr(f->why, "CMYK"), "%s", f->why);
	cr_expect_eq(find(c, "rgb.jpg")->reason, INGEST_OK);
	ingest_capture_destroy(c);
	tjFree(cj);
	free(t), free(g), free(px);
	rm_tree(d);
}

Test(scan_gen, geotag_from_track_with_offset)
{
	char *d = temp_dir();
	/* Frames with time but no GPS; the camera clock is 5 s behind the GPS clock. */
	uint8_t *rgb = pattern(32, 16);
	size_t jn, tl, n;
	uint8_t *j = make_jpeg(rgb, 32, 16, TJSAMP_444, 90, 0, &jn);
	const char *times[] = {"2024:05:01 10:00:00", "2024:05:01 10:00:05", "2024:05:01 10:01:00"};
	for (int i = 0; i < 3; i++) {
		tent ex[2] = {t_ascii(0x9003, times[i]), t_ascii(0x9011, "+09:00")};
		uint8_t *tiff = tiff_build(NULL, 0, ex, 2, NULL, 0, &tl);
		uint8_t *jo = jpeg_insert_app(j, jn, 0xE1, tiff, tl, &n);
		char name[32];
		snprintf(name, sizeof(name), "f%d.jpg", i);
		put(d, name, jo, n);
		free(tiff), free(jo);
	}
	char trk[1200];
	snprintf(trk, sizeof(trk), "%s/track.csv", d);
	const char *csv = "time,lat,lon,alt\n"
			  "2024-05-01T01:00:00Z,37.5700,126.9769,30\n"
			  "2024-05-01T01:00:10Z,37.5690,126.9769,40\n"
			  "2024-05-01T01:00:20Z,37.5680,126.9769,50\n";
	spit(trk, csv, strlen(csv));
	ingest_scan_opts o;
	ingest_scan_opts_default(&o);
	o.track_path = trk;
	o.track_offset_s = 5.0;
	ingest_capture *c = NULL;
	svt_err e = {0};
	cr_assert_eq(ingest_capture_scan(d, &o, &c, &e), 0, "%s", e.msg);
	const ingest_frame *f0 = find(c, "f0.jpg"), *f1 = find(c, "f1.jpg"), *f2 = find(c, "f2.jpg");
	cr_assert_eq(f0->reason, INGEST_OK, "%s", f0->why);
	/* 10:00:00+09:00 + 5 s = 01:00:05Z: halfway between the first two points */
	cr_assert_float_eq(f0->meta.lat, 37.5695, 1e-9);
	cr_assert_float_eq(f0->meta.alt, 35.0, 1e-9);
	cr_assert_eq(f0->meta.src_gps, INGEST_SRC_TRACK);
	cr_assert_eq(f0->meta.src_heading, INGEST_SRC_TRACK);
	cr_assert(fabs(f0->meta.heading - 180.0) < 0.01, "heading %.3f: due south", f0->meta.heading);
	cr_assert_eq(f1->reason, INGEST_OK, "%s", f1->why);
	cr_assert_float_eq(f1->meta.lat, 37.5690, 1e-9);
	cr_assert_eq(f2->reason, INGEST_REJ_OUTSIDE_TRACK, "%s", f2->why);
	cr_assert(strstr(f2->why, "outside the track"), "%s", f2->why);
	ingest_capture_destroy(c);
	free(j), free(rgb);
	rm_tree(d);
}

/* Large files are scanned from their head and tail only: the metadata must still be exact and
 * a cut-off file still caught. */
Test(scan_real, large_files_head_and_tail)
{
	size_t n;
	uint8_t *b = slurp(real_path("opensfm_berlin/images/01.jpg"), &n);
	cr_assert_gt(n, (size_t)(600 << 10), "the test needs a file larger than head + tail");
	char *d = temp_dir();
	char p[1200];
	snprintf(p, sizeof(p), "%s/a_whole.jpg", d);
	spit(p, b, n);
	snprintf(p, sizeof(p), "%s/b_cut.jpg", d);
	spit(p, b, n * 8 / 10);
	ingest_capture *c = NULL;
	svt_err e = {0};
	cr_assert_eq(ingest_capture_scan(d, NULL, &c, &e), 0, "%s", e.msg);
	cr_assert_eq(c->n, 2);
	const ingest_frame *w = &c->frames[0], *t = &c->frames[1];
	cr_assert(strstr(w->path, "a_whole"));
	cr_assert_eq(w->reason, INGEST_OK, "%s", w->why);
	cr_assert(fabs(w->meta.lat - 52.5189167) < 6e-8);
	cr_assert_float_eq(w->meta.alt, 27.0, 1e-9);
	cr_assert_eq(w->meta.width, 3264);
	cr_assert_eq(t->reason, INGEST_REJ_UNDECODABLE, "%s: %s", ingest_reason_name(t->reason), t->why);
	cr_assert(strstr(t->why, "truncated"), "%s", t->why);
	ingest_capture_destroy(c);
	free(b);
	rm_tree(d);
}
