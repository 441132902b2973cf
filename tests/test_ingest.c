/* test_ingest.c: decoding and metadata against the real files in SVT_REAL_DATA (values from
 * their SOURCE.md, checked there with exiftool -n) and generated edge cases. */
#include <math.h>

#include "tests/test_ingest_util.h"
/* after stdio.h (test_ingest_util.h): jpeglib.h uses FILE */
#include <jpeglib.h>

/* SOURCE.md values are rounded to 7 decimals (lat/lon). */
#define DEG_TOL 6e-8

static ingest_meta meta_of(const char *rel)
{
	ingest_meta m;
	svt_err e = {0};
	int rc = ingest_meta_read_file(real_path(rel), NULL, &m, &e);
	cr_assert_eq(rc, 0, "%s: %s", rel, e.msg);
	return m;
}

static void expect_pos(const ingest_meta *m, double lat, double lon)
{
	cr_assert(m->has & INGEST_HAS_GPS, "no GPS");
	cr_assert(fabs(m->lat - lat) < DEG_TOL, "lat %.9f != %.7f", m->lat, lat);
	cr_assert(fabs(m->lon - lon) < DEG_TOL, "lon %.9f != %.7f", m->lon, lon);
}

/* ---- exiftool's images ---------------------------------------------------------------- */

Test(meta_real, gps_jpg_west_ref_no_altitude)
{
	ingest_meta m = meta_of("exiftool_t_images/GPS.jpg");
	expect_pos(&m, 54.9896667, -1.9141667);
	cr_assert_eq(m.src_gps, INGEST_SRC_EXIF);
	cr_assert_not(m.has & INGEST_HAS_ALT, "GPS.jpg has no altitude");
	cr_assert_not(m.has & INGEST_HAS_HEADING);
	cr_assert_eq(m.width, 120);
	cr_assert_eq(m.height, 80);
}

Test(meta_real, apple_true_heading)
{
	ingest_meta m = meta_of("exiftool_t_images/Apple.jpg");
	expect_pos(&m, 53.3828472, -1.4566778);
	cr_assert(fabs(m.alt - 72.37) < 0.005, "alt %.4f", m.alt);
	cr_assert(m.has & INGEST_HAS_HEADING);
	cr_assert(fabs(m.heading - 342.0498753) < 1e-7, "heading %.9f", m.heading);
	cr_assert_eq(m.heading_ref, 'T');
}

Test(meta_real, google_magnetic_heading)
{
	ingest_meta m = meta_of("exiftool_t_images/Google.jpg");
	expect_pos(&m, 40.4000694, -3.7146472);
	cr_assert_float_eq(m.alt, 634.0, 1e-9);
	cr_assert_float_eq(m.heading, 164.0, 1e-9);
	cr_assert_eq(m.heading_ref, 'M', "magnetic ref must be kept");
	/* It has OffsetTimeOriginal, so the zone is not assumed. */
	cr_assert(m.has & INGEST_HAS_TIME);
	cr_assert_eq(m.tz_assumed, 0);
}

Test(meta_real, gopro_below_sea_level)
{
	ingest_meta m = meta_of("exiftool_t_images/GoPro.jpg");
	expect_pos(&m, 40.6584192, -73.9933543);
	cr_assert(m.has & INGEST_HAS_ALT);
	cr_assert(fabs(m.alt - -3.983) < 1e-9, "alt %.6f (AltitudeRef 1 = below sea level)", m.alt);
}

Test(meta_real, no_gps_files)
{
	const char *files[] = {"exiftool_t_images/ExifTool.jpg", "exiftool_t_images/XMP.jpg",
			       "exiftool_t_images/PNG.png",
			       "pannellum_jordan_pond/examplepano.jpg"};
	for (size_t i = 0; i < SVT_ARRAY_LEN(files); i++) {
		ingest_meta m = meta_of(files[i]);
		cr_assert_not(m.has & INGEST_HAS_GPS, "%s has no GPS", files[i]);
		cr_assert_not(m.has & INGEST_HAS_GPANO, "%s has no GPano", files[i]);
	}
	ingest_meta p = meta_of("exiftool_t_images/PNG.png");
	cr_assert_eq(p.width, 16);
	cr_assert_eq(p.height, 16);
	ingest_meta q = meta_of("pannellum_jordan_pond/examplepano.jpg");
	cr_assert_eq(q.width, 4096);
	cr_assert_eq(q.height, 2048);
}

/* ---- mapillary_tools ------------------------------------------------------------------ */

Test(meta_real, adobe_coords_gpano_and_size_mismatch)
{
	ingest_meta m = meta_of("mapillary_tools/adobe_coords.jpg");
	cr_assert(m.has & INGEST_HAS_GPANO);
	cr_assert(m.gpano.equirectangular);
	cr_assert_float_eq(m.gpano.pose_heading, 176.3, 1e-9);
	cr_assert_eq(m.gpano.full_w, 7776);
	cr_assert_eq(m.gpano.full_h, 3888);
	/* The pixels win: 32x28 from the SOF, and the disagreement is reported. */
	cr_assert_eq(m.width, 32);
	cr_assert_eq(m.height, 28);
	cr_assert_eq(m.gpano.size_mismatch, 1);
	/* Its GPS lives in XMP (exif: namespace, Adobe "DD,MM.mmmk" form) only. */
	expect_pos(&m, -0.0702668, 34.3819352);
	cr_assert_eq(m.src_gps, INGEST_SRC_XMP);
	cr_assert(fabs(m.alt - 1361.69) < 1e-9);
	cr_assert_float_eq(m.heading, 176.3, 1e-9);
	cr_assert_eq(m.heading_ref, 'T');
}

Test(meta_real, dsc00001_time_gps_preferred)
{
	ingest_meta m = meta_of("mapillary_tools/DSC00001.JPG");
	expect_pos(&m, 45.5169031, -122.5727650);
	cr_assert(fabs(m.alt - 70.3) < 1e-9);
	cr_assert_not(m.has & INGEST_HAS_HEADING);
	cr_assert_eq(m.width, 3840);
	cr_assert_eq(m.height, 2160);
	/* DateTimeOriginal 2018:06:08 13:24:10 with OffsetTimeOriginal -07:00 = 20:24:10Z; the GPS
	 * stamp says 20:24:11Z and is preferred (ANCHORS 2). */
	cr_assert(m.has & INGEST_HAS_TIME);
	cr_assert_eq(m.src_time, INGEST_SRC_EXIF_GPS);
	int64_t gps = (ingest_days_from_civil_test(2018, 6, 8) * 86400 + 20 * 3600 + 24 * 60 + 11) *
		      1000000LL;
	cr_assert_eq(m.time_us, gps, "time %lld", (long long)m.time_us);
	cr_assert_eq(m.tz_offset_min, -420);
	cr_assert_eq(m.tz_assumed, 0);
}

Test(meta_real, exif_cases_no_crash_clear_reason)
{
	const char *files[] = {
		"mapillary_tools/exif_cases/test_exif.jpg",
		"mapillary_tools/exif_cases/fixed_exif.jpg",
		"mapillary_tools/exif_cases/corrupt_exif.jpg",
		"mapillary_tools/exif_cases/corrupt_exif_2.jpg",
		"mapillary_tools/exif_cases/corrupt_exif_large_thumbnail.jpg",
		"mapillary_tools/exif_cases/corrupt_exif_wrong_type.jpg",
		"mapillary_tools/exif_cases/corrupt_exif_trusted_wrong_type.jpg",
		"mapillary_tools/exif_cases/empty_exif.jpg",
	};
	ingest_decoder *d = NULL;
	svt_err e = {0};
	cr_assert_eq(ingest_decoder_create(&d, &e), 0);
	for (size_t i = 0; i < SVT_ARRAY_LEN(files); i++) {
		ingest_meta m;
		svt_err me = {0};
		int rc = ingest_meta_read_file(real_path(files[i]), NULL, &m, &me);
		cr_assert(rc == 0 || (rc == SVT_E_FORMAT && me.msg[0]), "%s: rc %d '%s'", files[i],
			  rc, me.msg);
		ingest_image img = {0};
		int warn = 0;
		svt_err de = {0};
		rc = ingest_decode_file(d, real_path(files[i]), NULL, &img, &warn, &de);
		cr_assert(rc == 0 || de.msg[0], "%s: decode rc %d without a message", files[i], rc);
		ingest_image_free(&img);
	}
	ingest_decoder_destroy(d);

	ingest_meta t = meta_of("mapillary_tools/exif_cases/test_exif.jpg");
	expect_pos(&t, 35.9125167, 14.4988056);
	cr_assert_float_eq(t.alt, 69.0, 1e-9);
	cr_assert_float_eq(t.heading, 1.0, 1e-9);
	cr_assert_eq(t.heading_ref, 'T');
	ingest_meta f = meta_of("mapillary_tools/exif_cases/fixed_exif.jpg");
	expect_pos(&f, 48.0810453, -1.6678411);
	cr_assert(fabs(f.heading - 147.96) < 0.001, "heading %.5f", f.heading);
	cr_assert_eq(f.heading_ref, '?', "no GPSImgDirectionRef: unknown, not guessed");
	ingest_meta w = meta_of("mapillary_tools/exif_cases/corrupt_exif_wrong_type.jpg");
	cr_assert_not(w.has & INGEST_HAS_GPS);
}

/* ---- OpenSfM -------------------------------------------------------------------------- */

Test(meta_real, opensfm_berlin_and_lund)
{
	static const double berlin[3][3] = {{52.5189167, 13.4002944, 27},
					    {52.5189250, 13.4003889, 30},
					    {52.5190472, 13.4004472, 39}};
	for (int i = 0; i < 3; i++) {
		char rel[64];
		snprintf(rel, sizeof(rel), "opensfm_berlin/images/%02d.jpg", i + 1);
		ingest_meta m = meta_of(rel);
		expect_pos(&m, berlin[i][0], berlin[i][1]);
		cr_assert_float_eq(m.alt, berlin[i][2], 1e-9);
		cr_assert_not(m.has & INGEST_HAS_HEADING);
		cr_assert_eq(m.width, 3264);
		cr_assert_eq(m.height, 2448);
	}
	static const double lund[10][3] = {
		{55.6981667, 13.1953889, 37}, {55.6982417, 13.1952000, 38}, {55.6982639, 13.1951389, 38},
		{55.6982778, 13.1951194, 38}, {55.6983028, 13.1950972, 40}, {55.6983417, 13.1951444, 39},
		{55.6984111, 13.1950806, 37}, {55.6984750, 13.1950444, 36}, {55.6985389, 13.1950556, 36},
		{55.6985750, 13.1950500, 36}};
	for (int i = 0; i < 10; i++) {
		char rel[64];
		snprintf(rel, sizeof(rel), "opensfm_lund/images/%02d.jpg", i + 1);
		ingest_meta m = meta_of(rel);
		expect_pos(&m, lund[i][0], lund[i][1]);
		cr_assert_float_eq(m.alt, lund[i][2], 1e-9);
		cr_assert_eq(m.width, 1024);
	}
}

/* ---- decoding real files -------------------------------------------------------------- */

Test(decode_real, pannellum_full_scaled_and_reused)
{
	ingest_decoder *d = NULL;
	svt_err e = {0};
	cr_assert_eq(ingest_decoder_create(&d, &e), 0);
	ingest_decode_opts o;
	ingest_decode_opts_default(&o);
	ingest_image img = {0};
	int warn = 1;
	cr_assert_eq(ingest_decode_file(d, real_path("pannellum_jordan_pond/examplepano.jpg"), &o,
				       &img, &warn, &e), 0, "%s", e.msg);
	cr_assert_eq(img.width, 4096);
	cr_assert_eq(img.height, 2048);
	cr_assert_eq(img.channels, 3);
	cr_assert_eq(img.stride, 4096u * 3);
	cr_assert_eq(warn, 0);
	/* Sky at the top is brighter than the rock at the bottom in this photo. */
	long top = 0, bot = 0;
	for (int x = 0; x < 4096; x += 7) {
		top += img.data[(size_t)50 * img.stride + (size_t)x * 3 + 2];
		bot += img.data[(size_t)2000 * img.stride + (size_t)x * 3 + 2];
	}
	cr_assert_gt(top, bot);
	uint8_t *first = img.data;
	/* A smaller decode reuses the buffer. */
	o.min_width = 1000;
	cr_assert_eq(ingest_decode_file(d, real_path("pannellum_jordan_pond/examplepano.jpg"), &o,
				       &img, &warn, &e), 0, "%s", e.msg);
	cr_assert_eq(img.width, 1024, "1/4 is the smallest DCT scale still >= 1000: %d", img.width);
	cr_assert_eq(img.height, 512);
	cr_assert_eq(img.data, first, "buffer reused");
	o.min_width = 1;
	o.want_channels = 1;
	cr_assert_eq(ingest_decode_file(d, real_path("pannellum_jordan_pond/examplepano.jpg"), &o,
				       &img, &warn, &e), 0, "%s", e.msg);
	cr_assert_eq(img.width, 512);
	cr_assert_eq(img.channels, 1);
	ingest_image_free(&img);
	ingest_decoder_destroy(d);
}

Test(decode_real, progressive_and_png)
{
	ingest_decoder *d = NULL;
	svt_err e = {0};
	cr_assert_eq(ingest_decoder_create(&d, &e), 0);
	ingest_image img = {0};
	int warn = 0;
	cr_assert_eq(ingest_decode_file(d, real_path("mapillary_tools/adobe_coords.jpg"), NULL, &img,
				       &warn, &e), 0, "%s", e.msg);
	cr_assert_eq(img.width, 32);
	cr_assert_eq(img.height, 28);
	ingest_decode_opts o;
	ingest_decode_opts_default(&o);
	o.want_channels = 0;
	cr_assert_eq(ingest_decode_file(d, real_path("exiftool_t_images/PNG.png"), &o, &img, &warn,
				       &e), 0, "%s", e.msg);
	cr_assert_eq(img.width, 16);
	cr_assert_eq(img.channels, 1, "1-bit gray expands to 8-bit gray");
	cr_assert_eq(img.bit_depth, 8);
	o.want_channels = 3;
	cr_assert_eq(ingest_decode_file(d, real_path("exiftool_t_images/PNG.png"), &o, &img, &warn,
				       &e), 0, "%s", e.msg);
	cr_assert_eq(img.channels, 3);
	for (int i = 0; i < 16 * 16; i++)
		cr_assert(img.data[3 * i] == img.data[3 * i + 1] && img.data[3 * i] == img.data[3 * i + 2]);
	ingest_image_free(&img);
	ingest_decoder_destroy(d);
}

/* ---- generated cases ------------------------------------------------------------------ */

static int decode_buf(const uint8_t *b, size_t n, ingest_decode_opts *o, ingest_image *img,
		      int *warn, svt_err *e)
{
	ingest_decoder *d = NULL;
	cr_assert_eq(ingest_decoder_create(&d, e), 0);
	int rc = ingest_decode_mem(d, b, n, o, img, warn, e);
	ingest_decoder_destroy(d);
	return rc;
}

Test(decode_gen, subsampling_and_gray_round_trip)
{
	int w = 64, h = 48;
	uint8_t *rgb = pattern(w, h);
	const int samps[] = {TJSAMP_444, TJSAMP_422, TJSAMP_420, TJSAMP_GRAY};
	const int flags[] = {0, TJFLAG_PROGRESSIVE};
	for (size_t s = 0; s < SVT_ARRAY_LEN(samps); s++)
		for (size_t f = 0; f < SVT_ARRAY_LEN(flags); f++) {
			size_t n;
			uint8_t *j = make_jpeg(rgb, w, h, samps[s], 95, flags[f], &n);
			ingest_image img = {0};
			int warn = 0;
			svt_err e = {0};
			ingest_decode_opts o;
			ingest_decode_opts_default(&o);
			o.want_channels = 0;
			cr_assert_eq(decode_buf(j, n, &o, &img, &warn, &e), 0, "%s", e.msg);
			cr_assert_eq(img.width, w);
			cr_assert_eq(img.channels, samps[s] == TJSAMP_GRAY ? 1 : 3);
			if (samps[s] != TJSAMP_GRAY) {
				/* left red, right blue, away from the edge */
				const uint8_t *l = img.data + (size_t)20 * img.stride + 8 * 3;
				const uint8_t *r = img.data + (size_t)20 * img.stride + 56 * 3;
				cr_assert(l[0] > 180 && l[2] < 60, "samp %d: left %d,%d,%d", samps[s], l[0], l[1], l[2]);
				cr_assert(r[2] > 180 && r[0] < 60, "samp %d: right", samps[s]);
			}
			cr_assert_eq(warn, 0);
			ingest_image_free(&img);
			free(j);
		}
	free(rgb);
}

Test(decode_gen, exif_orientation_6_rotates)
{
	int w = 32, h = 16;
	uint8_t *rgb = pattern(w, h);
	size_t jn, n, tl;
	uint8_t *j = make_jpeg(rgb, w, h, TJSAMP_444, 100, 0, &jn);
	uint16_t six = 6;
	tent o6 = t_short(0x0112, 1, &six);
	uint8_t *tiff = tiff_build(&o6, 1, NULL, 0, NULL, 0, &tl);
	uint8_t *jo = jpeg_insert_app(j, jn, 0xE1, tiff, tl, &n);
	ingest_image img = {0};
	int warn = 0;
	svt_err e = {0};
	cr_assert_eq(decode_buf(jo, n, NULL, &img, &warn, &e), 0, "%s", e.msg);
	/* 90 degrees clockwise: 16 wide, 32 high; the source's left (red) half is now on top. */
	cr_assert_eq(img.width, 16);
	cr_assert_eq(img.height, 32);
	const uint8_t *top = img.data + (size_t)4 * img.stride + 8 * 3;
	const uint8_t *bot = img.data + (size_t)28 * img.stride + 8 * 3;
	cr_assert(top[0] > 180 && top[2] < 60, "top %d,%d,%d", top[0], top[1], top[2]);
	cr_assert(bot[2] > 180 && bot[0] < 60, "bottom %d,%d,%d", bot[0], bot[1], bot[2]);
	ingest_meta m;
	cr_assert_eq(ingest_meta_read_mem(jo, n, NULL, &m, &e), 0, "%s", e.msg);
	cr_assert_eq(m.orientation, 6);
	cr_assert_eq(m.width, 32, "meta size is the file's, before orientation");
	ingest_decode_opts o;
	ingest_decode_opts_default(&o);
	o.apply_orientation = 0;
	cr_assert_eq(decode_buf(jo, n, &o, &img, &warn, &e), 0, "%s", e.msg);
	cr_assert_eq(img.width, 32);
	ingest_image_free(&img);
	free(rgb), free(j), free(tiff), free(jo);
}

Test(decode_gen, truncated_jpeg_warns)
{
	int w = 256, h = 128;
	uint8_t *rgb = pattern(w, h);
	for (int i = 0; i < w * h * 3; i++)
		rgb[i] = (uint8_t)(rgb[i] ^ (i * 2654435761u >> 24)); /* texture: a long scan */
	size_t n;
	uint8_t *j = make_jpeg(rgb, w, h, TJSAMP_420, 90, 0, &n);
	ingest_image img = {0};
	int warn = 0;
	svt_err e = {0};
	int rc = decode_buf(j, n * 6 / 10, NULL, &img, &warn, &e);
	cr_assert_eq(rc, 0, "a truncated baseline JPEG is corrupt but decodable: %s", e.msg);
	cr_assert_eq(warn, 1, "the truncation must be reported as a warning");
	cr_assert(strstr(e.msg, "truncated") || strstr(e.msg, "end"), "%s", e.msg);
	cr_assert_eq(e.code, 0);
	/* Cut inside the header: fatal. */
	svt_err e2 = {0};
	rc = decode_buf(j, 100, NULL, &img, &warn, &e2);
	cr_assert_eq(rc, SVT_E_FORMAT, "%s", e2.msg);
	ingest_image_free(&img);
	free(j), free(rgb);
}

/* A JPEG with a restart marker every MCU row (libjpeg's API: TurboJPEG 2.x cannot ask). */
static uint8_t *make_jpeg_restart(const uint8_t *rgb, int w, int h, size_t *n)
{
	struct jpeg_compress_struct c;
	struct jpeg_error_mgr e;
	unsigned char *out = NULL;
	unsigned long len = 0;
	c.err = jpeg_std_error(&e);
	jpeg_create_compress(&c);
	jpeg_mem_dest(&c, &out, &len);
	c.image_width = (JDIMENSION)w;
	c.image_height = (JDIMENSION)h;
	c.input_components = 3;
	c.in_color_space = JCS_RGB;
	jpeg_set_defaults(&c);
	jpeg_set_quality(&c, 90, TRUE);
	c.restart_in_rows = 1;
	jpeg_start_compress(&c, TRUE);
	while (c.next_scanline < c.image_height) {
		JSAMPROW row = (JSAMPROW)(rgb + (size_t)c.next_scanline * (size_t)w * 3);
		jpeg_write_scanlines(&c, &row, 1);
	}
	jpeg_finish_compress(&c);
	jpeg_destroy_compress(&c);
	uint8_t *copy = malloc(len);
	memcpy(copy, out, len);
	free(out);
	*n = len;
	return copy;
}

/* Decodes region roi of the n-byte JPEG j into a buffer filled with 0xA5 beforehand and
 * compares it with the whole decode ref (same channels); returns whether the bottom row
 * (below the region and its margin) kept the fill, i.e. whether the region path ran. */
static int roi_check(const uint8_t *j, size_t n, const ingest_image *ref, int want, const int roi[4],
		     const char *what)
{
	ingest_image img = {0};
	size_t bytes = ref->stride * (size_t)ref->height;
	img.data = malloc(bytes);
	img.cap = bytes;
	memset(img.data, 0xA5, bytes);
	ingest_decode_opts o;
	ingest_decode_opts_default(&o);
	o.want_channels = want;
	memcpy(o.roi, roi, sizeof(o.roi));
	o.roi_w = ref->width;
	o.roi_h = ref->height;
	int warn = 0;
	svt_err e = {0};
	cr_assert_eq(decode_buf(j, n, &o, &img, &warn, &e), 0, "%s: %s", what, e.msg);
	cr_assert_eq(warn, 0, "%s: %s", what, e.msg);
	cr_assert_eq(img.width, ref->width);
	cr_assert_eq(img.height, ref->height);
	cr_assert_eq(img.stride, ref->stride);
	size_t bad = 0, px = (size_t)ref->channels;
	for (int y = roi[1]; y < roi[3]; y++)
		bad += memcmp(img.data + (size_t)y * img.stride + (size_t)roi[0] * px,
			      ref->data + (size_t)y * ref->stride + (size_t)roi[0] * px,
			      (size_t)(roi[2] - roi[0]) * px) != 0;
	cr_expect_eq(bad, 0, "%s: region %d %d %d %d: %zu rows differ from the whole decode", what,
		     roi[0], roi[1], roi[2], roi[3], bad);
	int kept = 1;
	const uint8_t *last = img.data + (size_t)(ref->height - 1) * img.stride;
	for (size_t i = 0; i < img.stride; i++)
		kept &= last[i] == 0xA5;
	ingest_image_free(&img);
	return kept;
}

/* A region of interest (ingest_decode_opts.roi) decodes to the whole decode's pixels, byte
 * for byte, for every chroma subsampling, grayscale, progressive scans and restart markers, at
 * odd sizes and offsets (regions of one pixel, at the edges, whole bands), RGB and gray out;
 * a region far from the bottom leaves the bottom rows undecoded. A truncated file still warns
 * with a region in its top rows (the entropy-coded data is read to its end). */
Test(decode_gen, region_equals_the_whole_decode)
{
	int w = 333, h = 201;
	uint8_t *rgb = pattern(w, h);
	for (int i = 0; i < w * h * 3; i++)
		rgb[i] = (uint8_t)(rgb[i] ^ (i * 2654435761u >> 26)); /* texture */
	const int samps[] = {TJSAMP_444, TJSAMP_422, TJSAMP_420, TJSAMP_440, TJSAMP_GRAY};
	uint64_t x = 0x853c49e6748fea9bull;
	size_t skipped = 0, cases = 0;
	for (size_t s = 0; s <= SVT_ARRAY_LEN(samps); s++)
		for (int prog = 0; prog < 2; prog++) {
			size_t n;
			uint8_t *j;
			if (s == SVT_ARRAY_LEN(samps)) {
				if (prog)
					continue;
				j = make_jpeg_restart(rgb, w, h, &n);
			} else {
				j = make_jpeg(rgb, w, h, samps[s], 90, prog ? TJFLAG_PROGRESSIVE : 0,
					      &n);
			}
			for (int want = 1; want <= 3; want += 2) {
				ingest_image ref = {0};
				ingest_decode_opts o;
				ingest_decode_opts_default(&o);
				o.want_channels = want;
				int warn = 0;
				svt_err e = {0};
				cr_assert_eq(decode_buf(j, n, &o, &ref, &warn, &e), 0, "%s", e.msg);
				char what[64];
				snprintf(what, sizeof(what), "samp %zu%s%s, %d channel(s)", s,
					 prog ? " progressive" : "",
					 s == SVT_ARRAY_LEN(samps) ? " restarts" : "", want);
				const int fixed[][4] = {{0, 0, 1, 1},     {w - 1, h - 1, w, h},
							{0, 0, w, 1},     {0, 40, w, 90},
							{150, 0, 151, h}, {17, 33, 201, 77},
							{1, 1, w - 1, 9}};
				for (int k = 0; k < 27; k++) {
					int roi[4];
					if (k < 7) {
						memcpy(roi, fixed[k], sizeof(roi));
					} else {
						x ^= x << 13, x ^= x >> 7, x ^= x << 17;
						roi[0] = (int)(x % (unsigned)w);
						roi[1] = (int)((x >> 16) % (unsigned)h);
						roi[2] = roi[0] + 1 + (int)((x >> 32) % (unsigned)(w - roi[0]));
						roi[3] = roi[1] + 1 + (int)((x >> 48) % (unsigned)(h - roi[1]));
					}
					int kept = roi_check(j, n, &ref, want, roi, what);
					cases++;
					if (roi[3] + 16 < h) {
						cr_expect(kept, "%s: region %d %d %d %d: the bottom row was "
							  "decoded", what, roi[0], roi[1], roi[2], roi[3]);
						skipped += kept;
					}
				}
				ingest_image_free(&ref);
			}
			free(j);
		}
	cr_log_info("%zu regions, %zu of them with the bottom left undecoded", cases, skipped);
	cr_expect_gt(skipped, 50);

	/* Truncated: the whole decode warns; so does a region in the top rows. */
	size_t n;
	uint8_t *j = make_jpeg(rgb, w, h, TJSAMP_420, 90, 0, &n);
	ingest_image img = {0};
	ingest_decode_opts o;
	ingest_decode_opts_default(&o);
	int warn = 0;
	svt_err e = {0};
	cr_assert_eq(decode_buf(j, n * 6 / 10, &o, &img, &warn, &e), 0, "%s", e.msg);
	cr_assert_eq(warn, 1);
	const int top[4] = {10, 0, 100, 16};
	memcpy(o.roi, top, sizeof(top));
	o.roi_w = w;
	o.roi_h = h;
	warn = 0;
	svt_err e2 = {0};
	cr_assert_eq(decode_buf(j, n * 6 / 10, &o, &img, &warn, &e2), 0, "%s", e2.msg);
	cr_expect_eq(warn, 1, "a region must see the truncation a whole decode sees");
	cr_expect_str_eq(e2.msg, e.msg);
	/* Another size than the file's: the region is not used (a whole decode, no warning). */
	o.roi_w = w + 1;
	cr_assert_eq(decode_buf(j, n, &o, &img, &warn, &e2), 0, "%s", e2.msg);
	cr_expect_eq(warn, 0);
	ingest_image_free(&img);
	free(j);
	free(rgb);
}

/* A region of a real panorama (pannellum's, 4096 x 2048) decodes to the whole decode's pixels:
 * the part a level 90-degree view of it reads, and random regions. */
Test(decode_real, region_of_a_real_panorama)
{
	size_t n;
	uint8_t *j = slurp(real_path("pannellum_jordan_pond/examplepano.jpg"), &n);
	ingest_image ref = {0};
	int warn = 0;
	svt_err e = {0};
	cr_assert_eq(decode_buf(j, n, NULL, &ref, &warn, &e), 0, "%s", e.msg);
	cr_assert_eq(ref.width, 4096);
	uint64_t x = 0x2545f4914f6cdd1dull;
	size_t skipped = 0;
	for (int k = 0; k < 12; k++) {
		int roi[4] = {1536, 700, 2560, 1350};
		if (k) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			roi[0] = (int)(x % 4000);
			roi[1] = (int)((x >> 16) % 2000);
			roi[2] = roi[0] + 1 + (int)((x >> 32) % (unsigned)(4096 - roi[0]));
			roi[3] = roi[1] + 1 + (int)((x >> 48) % (unsigned)(2048 - roi[1]));
		}
		skipped += roi_check(j, n, &ref, 3, roi, "examplepano.jpg");
	}
	cr_log_info("%zu of 12 regions left the bottom undecoded", skipped);
	cr_expect_gt(skipped, 0);
	ingest_image_free(&ref);
	free(j);
}

Test(decode_gen, garbage_empty_and_huge_headers_refused)
{
	ingest_image img = {0};
	int warn = 0;
	svt_err e = {0};
	uint8_t junk[512];
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (uint8_t)(i * 131 + 7);
	cr_assert_eq(decode_buf(junk, sizeof(junk), NULL, &img, &warn, &e), SVT_E_FORMAT);
	cr_assert(strstr(e.msg, "not a JPEG or PNG"), "%s", e.msg);
	cr_assert_eq(decode_buf(junk, 0, NULL, &img, &warn, &e), SVT_E_FORMAT);
	cr_assert(strstr(e.msg, "empty"), "%s", e.msg);
	/* Garbage after a JPEG signature. */
	junk[0] = 0xFF, junk[1] = 0xD8, junk[2] = 0xFF;
	cr_assert_eq(decode_buf(junk, sizeof(junk), NULL, &img, &warn, &e), SVT_E_FORMAT);

	/* A valid JPEG whose SOF claims 65535x65535: refused before any pixel allocation. */
	uint8_t *rgb = pattern(16, 16);
	size_t n;
	uint8_t *j = make_jpeg(rgb, 16, 16, TJSAMP_444, 90, 0, &n);
	for (size_t i = 2; i + 9 < n; i++)
		if (j[i] == 0xFF && j[i + 1] == 0xC0) {
			j[i + 5] = j[i + 6] = j[i + 7] = j[i + 8] = 0xFF;
			break;
		}
	svt_err el = {0};
	cr_assert_eq(decode_buf(j, n, NULL, &img, &warn, &el), SVT_E_LIMIT, "%s", el.msg);
	cr_assert(strstr(el.msg, "65535x65535"), "%s", el.msg);
	cr_assert_null(img.data, "nothing allocated");
	cr_assert_eq(img.cap, 0u);
	int W, H, C;
	cr_assert_eq(ingest_image_probe_mem(j, n, &W, &H, &C, &el), 0);
	cr_assert_eq(W, 65535);

	/* A PNG whose IHDR claims 100000x100000. */
	uint8_t png[8 + 25 + 12] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
	uint8_t *c = png + 8;
	c[3] = 13;
	memcpy(c + 4, "IHDR", 4);
	uint32_t dim = 100000;
	uint8_t be[4] = {(uint8_t)(dim >> 24), (uint8_t)(dim >> 16), (uint8_t)(dim >> 8), (uint8_t)dim};
	memcpy(c + 8, be, 4);
	memcpy(c + 12, be, 4);
	c[16] = 8, c[17] = 2; /* 8-bit RGB */
	uint32_t crc = (uint32_t)crc32(0, c + 4, 17);
	c[21] = (uint8_t)(crc >> 24), c[22] = (uint8_t)(crc >> 16), c[23] = (uint8_t)(crc >> 8), c[24] = (uint8_t)crc;
	memcpy(c + 25, "\0\0\0\0IEND\xae\x42\x60\x82", 12);
	svt_err ep = {0};
	cr_assert_eq(decode_buf(png, sizeof(png), NULL, &img, &warn, &ep), SVT_E_LIMIT, "%s", ep.msg);
	cr_assert(strstr(ep.msg, "100000x100000"), "%s", ep.msg);
	cr_assert_null(img.data);
	free(j), free(rgb);
}

/* px (w x h, libpng's simplified format fmt) as PNG bytes in memory (malloc'd, *len). */
static uint8_t *png_mem(const void *px, int w, int h, png_uint_32 fmt, png_alloc_size_t *len)
{
	png_image pi;
	memset(&pi, 0, sizeof(pi));
	pi.version = PNG_IMAGE_VERSION;
	pi.width = (png_uint_32)w;
	pi.height = (png_uint_32)h;
	pi.format = fmt;
	*len = 0;
	cr_assert(png_image_write_to_memory(&pi, NULL, len, 0, px, 0, NULL));
	uint8_t *mem = malloc(*len);
	cr_assert(mem && png_image_write_to_memory(&pi, mem, len, 0, px, 0, NULL));
	return mem;
}

Test(decode_gen, png_16bit_depth_map)
{
	int w = 40, h = 20;
	uint16_t *px = malloc(sizeof(uint16_t) * w * h);
	for (int i = 0; i < w * h; i++)
		px[i] = (uint16_t)(i * 81 + 1000); /* millimetres */
	png_alloc_size_t len;
	uint8_t *mem = png_mem(px, w, h, PNG_FORMAT_LINEAR_Y, &len);
	ingest_decode_opts o;
	ingest_decode_opts_default(&o);
	o.want_channels = 0;
	ingest_image img = {0};
	int warn = 0;
	svt_err e = {0};
	cr_assert_eq(decode_buf(mem, len, &o, &img, &warn, &e), 0, "%s", e.msg);
	cr_assert_eq(img.bit_depth, 16);
	cr_assert_eq(img.channels, 1);
	cr_assert_eq(img.stride, (size_t)w * 2);
	const uint16_t *got = (const uint16_t *)img.data;
	for (int i = 0; i < w * h; i++)
		cr_assert_eq(got[i], px[i], "pixel %d: %u != %u", i, got[i], px[i]);
	/* Truncated PNG: a clear fatal error. */
	svt_err et = {0};
	cr_assert_eq(decode_buf(mem, len / 2, &o, &img, &warn, &et), SVT_E_FORMAT);
	cr_assert(et.msg[0]);
	/* A changed byte of the compressed pixels is refused, and so is a changed byte of the
	 * zlib stream's Adler-32, which the decoder leaves unchecked (ingest_decode.c): the IDAT
	 * chunk's CRC-32 covers it. */
	size_t idat = 0, dlen = 0;
	for (size_t i = 8; i + 8 < len; i++)
		if (!memcmp(mem + i, "IDAT", 4)) {
			idat = i + 4;
			dlen = (size_t)mem[i - 4] << 24 | (size_t)mem[i - 3] << 16 |
			       (size_t)mem[i - 2] << 8 | mem[i - 1];
			break;
		}
	cr_assert(idat && dlen > 16, "no IDAT chunk");
	const size_t bad_at[2] = {idat + dlen / 2, idat + dlen - 2}; /* pixels; the Adler-32 */
	for (int k = 0; k < 2; k++) {
		mem[bad_at[k]] ^= 0x20;
		svt_err ec = {0};
		cr_expect_eq(decode_buf(mem, len, &o, &img, &warn, &ec), SVT_E_FORMAT,
			     "byte %zu of the IDAT data changed: %s", bad_at[k] - idat, ec.msg);
		cr_expect(ec.msg[0]);
		if (k)
			cr_expect(strstr(ec.msg, "CRC"), "%s", ec.msg);
		mem[bad_at[k]] ^= 0x20;
	}
	ingest_image_free(&img);
	free(mem), free(px);
}

Test(meta_gen, wrong_types_are_bad_metadata)
{
	uint8_t *rgb = pattern(16, 16);
	size_t jn, tl, n;
	uint8_t *j = make_jpeg(rgb, 16, 16, TJSAMP_444, 90, 0, &jn);
	uint16_t sv[3] = {37, 33, 0};
	tent gps[4] = {t_ascii(1, "N"), t_short(2, 3, sv), t_ascii(3, "E"), t_short(4, 3, sv)};
	uint8_t *tiff = tiff_build(NULL, 0, NULL, 0, gps, 4, &tl);
	uint8_t *jo = jpeg_insert_app(j, jn, 0xE1, tiff, tl, &n);
	ingest_meta m;
	svt_err e = {0};
	cr_assert_eq(ingest_meta_read_mem(jo, n, NULL, &m, &e), SVT_E_FORMAT);
	cr_assert(strstr(e.msg, "GPSLatitude has type Short, expected RATIONAL") ||
		  strstr(e.msg, "GPSLatitude has type"), "%s", e.msg);
	free(tiff), free(jo);

	/* Zero denominator; a ref that is neither N nor S; a date that is not one. */
	uint32_t bad[6] = {37, 0, 33, 1, 0, 1};
	tent g2[4] = {t_ascii(1, "N"), t_rat(2, 3, bad), t_ascii(3, "E"), t_rat(4, 3, bad)};
	tiff = tiff_build(NULL, 0, NULL, 0, g2, 4, &tl);
	jo = jpeg_insert_app(j, jn, 0xE1, tiff, tl, &n);
	cr_assert_eq(ingest_meta_read_mem(jo, n, NULL, &m, &e), SVT_E_FORMAT);
	cr_assert(strstr(e.msg, "zero denominator"), "%s", e.msg);
	free(tiff), free(jo);

	uint32_t ok[6] = {37, 1, 33, 1, 0, 1};
	tent g3[4] = {t_ascii(1, "X"), t_rat(2, 3, ok), t_ascii(3, "E"), t_rat(4, 3, ok)};
	tiff = tiff_build(NULL, 0, NULL, 0, g3, 4, &tl);
	jo = jpeg_insert_app(j, jn, 0xE1, tiff, tl, &n);
	cr_assert_eq(ingest_meta_read_mem(jo, n, NULL, &m, &e), SVT_E_FORMAT);
	cr_assert(strstr(e.msg, "GPSLatitudeRef"), "%s", e.msg);
	free(tiff), free(jo);

	/* A DateTimeOriginal stored as a number is a wrong type too. */
	uint16_t num = 2024;
	tent ex[1] = {t_short(0x9003, 1, &num)};
	tiff = tiff_build(NULL, 0, ex, 1, NULL, 0, &tl);
	jo = jpeg_insert_app(j, jn, 0xE1, tiff, tl, &n);
	cr_assert_eq(ingest_meta_read_mem(jo, n, NULL, &m, &e), SVT_E_FORMAT);
	cr_assert(strstr(e.msg, "DateTimeOriginal"), "%s", e.msg);
	free(tiff), free(jo);
	free(j), free(rgb);
}

/* An altitude no street-level camera has (4294967295/1, one firmware's "unknown"; 25 km) is
 * read as no altitude; the position stays. Below sea level with ref 1 is kept. */
Test(meta_gen, implausible_altitude_is_no_altitude)
{
	uint8_t *rgb = pattern(16, 16);
	size_t jn, tl, n;
	uint8_t *j = make_jpeg(rgb, 16, 16, TJSAMP_444, 90, 0, &jn);
	uint32_t la[6] = {37, 1, 34, 1, 0, 1}, lo[6] = {126, 1, 58, 1, 0, 1};
	const struct {
		uint32_t num, den;
		uint8_t below;
		int has;
		double want;
	} cases[] = {{4294967295u, 1, 0, 0, 0}, {25000, 1, 0, 0, 0}, {3000, 1, 1, 0, 0},
		     {61, 2, 0, 1, 30.5}, {400, 1, 1, 1, -400}, {19999, 1, 0, 1, 19999}};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint32_t al[2] = {cases[i].num, cases[i].den};
		tent gps[6] = {t_ascii(1, "N"), t_rat(2, 3, la), t_ascii(3, "E"), t_rat(4, 3, lo),
			       t_byte(5, cases[i].below), t_rat(6, 1, al)};
		uint8_t *tiff = tiff_build(NULL, 0, NULL, 0, gps, 6, &tl);
		uint8_t *jo = jpeg_insert_app(j, jn, 0xE1, tiff, tl, &n);
		ingest_meta m;
		svt_err e = {0};
		cr_assert_eq(ingest_meta_read_mem(jo, n, NULL, &m, &e), 0, "%s", e.msg);
		expect_pos(&m, 37 + 34.0 / 60, 126 + 58.0 / 60);
		cr_expect_eq((m.has & INGEST_HAS_ALT) != 0, cases[i].has, "%u/%u (ref %d): has alt %d",
			     cases[i].num, cases[i].den, cases[i].below, (m.has & INGEST_HAS_ALT) != 0);
		cr_expect_eq((m.ignored & INGEST_IGN_ALT) != 0, !cases[i].has,
			     "%u/%u: the drop is not recorded", cases[i].num, cases[i].den);
		if (cases[i].has)
			cr_expect_float_eq(m.alt, cases[i].want, 1e-9);
		/* ... and probe's record of the frame says so. */
		ingest_frame fr = {.path = (char *)"x.jpg", .meta = m};
		char *json = NULL;
		cr_assert_eq(ingest_frame_to_json(&fr, &json, &e), 0, "%s", e.msg);
		cr_expect_eq(strstr(json, "\"ignored\":[\"altitude\"]") != NULL, !cases[i].has,
			     "%s", json);
		free(json);
		free(tiff), free(jo);
	}
	free(j), free(rgb);
}

Test(meta_gen, time_zone_assumed_and_explicit)
{
	size_t n;
	ingest_meta m;
	svt_err e = {0};
	/* No zone: +09:00 assumed, never the host's zone. */
	uint8_t *j = jpeg_with_gps(37.5666, 126.9784, -1, "2024:05:01 12:00:00", NULL, &n);
	cr_assert_eq(ingest_meta_read_mem(j, n, NULL, &m, &e), 0, "%s", e.msg);
	int64_t utc3 = (ingest_days_from_civil_test(2024, 5, 1) * 86400 + 3 * 3600) * 1000000LL;
	cr_assert_eq(m.time_us, utc3);
	cr_assert_eq(m.tz_assumed, 1);
	cr_assert_eq(m.tz_offset_min, 540);
	cr_assert_eq(m.src_time, INGEST_SRC_EXIF);
	expect_pos(&m, 37.5666, 126.9784);
	free(j);
	/* An explicit zone wins. */
	j = jpeg_with_gps(37.5666, 126.9784, -1, "2024:05:01 12:00:00", "+02:00", &n);
	cr_assert_eq(ingest_meta_read_mem(j, n, NULL, &m, &e), 0, "%s", e.msg);
	cr_assert_eq(m.time_us, utc3 + 7 * 3600 * 1000000LL);
	cr_assert_eq(m.tz_assumed, 0);
	cr_assert_eq(m.tz_offset_min, 120);
	free(j);
	/* Another default zone when configured. */
	ingest_meta_opts mo;
	ingest_meta_opts_default(&mo);
	mo.default_tz_min = 0;
	j = jpeg_with_gps(37.5666, 126.9784, -1, "2024:05:01 12:00:00", NULL, &n);
	cr_assert_eq(ingest_meta_read_mem(j, n, &mo, &m, &e), 0, "%s", e.msg);
	cr_assert_eq(m.time_us, utc3 + 9 * 3600 * 1000000LL);
	free(j);
}

Test(meta_gen, xmp_element_form)
{
	static const char xmp[] =
		"http://ns.adobe.com/xap/1.0/\0"
		"<x:xmpmeta xmlns:x='adobe:ns:meta/'><rdf:RDF "
		"xmlns:rdf='http://www.w3.org/1999/02/22-rdf-syntax-ns#'>"
		"<rdf:Description xmlns:P='http://ns.google.com/photos/1.0/panorama/'>"
		"<P:ProjectionType>equirectangular</P:ProjectionType>"
		"<P:PoseHeadingDegrees>12.5</P:PoseHeadingDegrees>"
		"<P:PosePitchDegrees>-1.25</P:PosePitchDegrees>"
		"<P:CroppedAreaImageWidthPixels>32</P:CroppedAreaImageWidthPixels>"
		"<P:CroppedAreaImageHeightPixels>16</P:CroppedAreaImageHeightPixels>"
		"<P:FullPanoWidthPixels>32</P:FullPanoWidthPixels>"
		"<P:FullPanoHeightPixels>16</P:FullPanoHeightPixels>"
		"</rdf:Description></rdf:RDF></x:xmpmeta>";
	uint8_t *rgb = pattern(32, 16);
	size_t jn, n;
	uint8_t *j = make_jpeg(rgb, 32, 16, TJSAMP_444, 90, 0, &jn);
	uint8_t *jo = jpeg_insert_app(j, jn, 0xE1, (const uint8_t *)xmp, sizeof(xmp) - 1, &n);
	ingest_meta m;
	svt_err e = {0};
	cr_assert_eq(ingest_meta_read_mem(jo, n, NULL, &m, &e), 0, "%s", e.msg);
	cr_assert(m.has & INGEST_HAS_GPANO);
	cr_assert(m.gpano.equirectangular);
	cr_assert_float_eq(m.gpano.pose_heading, 12.5, 1e-12);
	cr_assert_float_eq(m.pitch, -1.25, 1e-12);
	cr_assert_eq(m.gpano.size_mismatch, 0, "GPano 32x16 matches the pixels");
	free(jo);
	/* A pose outside GPano's ranges is a corrupt tag: none, the panorama still GPano's. */
	const char *poses[][4] = {{"720", "0", "0", "heading"}, {"-5", "0", "0", "heading"},
				  {"10", "91", "0", "pitch"}, {"10", "0", "1e300", "roll"},
				  {"360", "-90", "180", "none"}};
	for (size_t i = 0; i < sizeof(poses) / sizeof(poses[0]); i++) {
		char x[1024];
		int xl = snprintf(x, sizeof(x), "http://ns.adobe.com/xap/1.0/%c<x:xmpmeta "
				  "xmlns:x='adobe:ns:meta/'><rdf:RDF xmlns:rdf='http://www.w3.org/"
				  "1999/02/22-rdf-syntax-ns#'><rdf:Description xmlns:P='http://ns."
				  "google.com/photos/1.0/panorama/' P:ProjectionType='equirectangular' "
				  "P:PoseHeadingDegrees='%s' P:PosePitchDegrees='%s' "
				  "P:PoseRollDegrees='%s'/></rdf:RDF></x:xmpmeta>",
				  0, poses[i][0], poses[i][1], poses[i][2]);
		jo = jpeg_insert_app(j, jn, 0xE1, (const uint8_t *)x, (size_t)xl, &n);
		cr_assert_eq(ingest_meta_read_mem(jo, n, NULL, &m, &e), 0, "%s", e.msg);
		cr_expect(m.gpano.equirectangular);
		const char *bad = poses[i][3];
		cr_expect_eq(isnan(m.gpano.pose_heading), !strcmp(bad, "heading"), "%s: heading %g",
			     poses[i][0], m.gpano.pose_heading);
		cr_expect_eq(isnan(m.gpano.pose_pitch), !strcmp(bad, "pitch"), "pitch %s", poses[i][1]);
		cr_expect_eq(isnan(m.gpano.pose_roll), !strcmp(bad, "roll"), "roll %s", poses[i][2]);
		cr_expect_eq((m.ignored & INGEST_IGN_POSE) != 0, strcmp(bad, "none") != 0,
			     "%s: the drop is not recorded", poses[i][0]);
		if (!strcmp(bad, "none"))
			cr_expect_eq(m.gpano.pose_heading, 0, "360 is north");
		free(jo);
	}
	/* Malformed XMP: a clear format error. */
	static const char badx[] = "http://ns.adobe.com/xap/1.0/\0<x:xmpmeta><rdf:RDF></x:xmpmeta>";
	jo = jpeg_insert_app(j, jn, 0xE1, (const uint8_t *)badx, sizeof(badx) - 1, &n);
	cr_assert_eq(ingest_meta_read_mem(jo, n, NULL, &m, &e), SVT_E_FORMAT);
	cr_assert(strstr(e.msg, "XMP"), "%s", e.msg);
	free(jo), free(j), free(rgb);
}

/* All eight EXIF orientations against the layouts the EXIF definition gives for a 2x2 grid of
 * quadrants [[R, G], [B, W]] (row-major, top row first). */
Test(decode_gen, exif_orientation_all_eight)
{
	enum { R, G, B, W };
	static const uint8_t col[4][3] = {{230, 20, 20}, {20, 230, 20}, {20, 20, 230}, {240, 240, 240}};
	static const int want[9][4] = {
		{0}, {R, G, B, W}, {G, R, W, B}, {W, B, G, R}, {B, W, R, G},
		{R, B, G, W}, {B, R, W, G}, {W, G, B, R}, {G, W, R, B},
	};
	int w = 32, h = 16;
	uint8_t *rgb = malloc((size_t)w * h * 3);
	for (int y = 0; y < h; y++)
		for (int x = 0; x < w; x++)
			memcpy(rgb + ((size_t)y * w + x) * 3, col[(y >= h / 2) * 2 + (x >= w / 2)], 3);
	size_t jn;
	uint8_t *j = make_jpeg(rgb, w, h, TJSAMP_444, 100, 0, &jn);
	for (uint16_t o = 1; o <= 8; o++) {
		size_t tl, n;
		tent e = t_short(0x0112, 1, &o);
		uint8_t *tiff = tiff_build(&e, 1, NULL, 0, NULL, 0, &tl);
		uint8_t *jo = jpeg_insert_app(j, jn, 0xE1, tiff, tl, &n);
		ingest_image img = {0};
		int warn = 0;
		svt_err err = {0};
		cr_assert_eq(decode_buf(jo, n, NULL, &img, &warn, &err), 0, "%s", err.msg);
		int sw = o >= 5;
		cr_assert_eq(img.width, sw ? h : w, "orientation %d", o);
		cr_assert_eq(img.height, sw ? w : h);
		for (int q = 0; q < 4; q++) {
			int x = (q & 1) ? img.width * 3 / 4 : img.width / 4;
			int y = (q & 2) ? img.height * 3 / 4 : img.height / 4;
			const uint8_t *p = img.data + (size_t)y * img.stride + (size_t)x * 3;
			const uint8_t *c = col[want[o][q]];
			for (int k = 0; k < 3; k++)
				cr_assert(abs(p[k] - c[k]) < 12, "orientation %d quadrant %d: %d,%d,%d", o, q,
					  p[0], p[1], p[2]);
		}
		ingest_image_free(&img);
		free(tiff), free(jo);
	}
	free(j), free(rgb);
}

Test(decode_gen, png_rgba_and_rgb16)
{
	int w = 8, h = 4;
	uint8_t px[8 * 4 * 4];
	for (int i = 0; i < w * h; i++) {
		px[4 * i + 0] = (uint8_t)(i * 7);
		px[4 * i + 1] = (uint8_t)(255 - i);
		px[4 * i + 2] = (uint8_t)(i * 3);
		px[4 * i + 3] = (uint8_t)(100 + i);
	}
	png_alloc_size_t len;
	uint8_t *mem = png_mem(px, w, h, PNG_FORMAT_RGBA, &len);
	ingest_decode_opts o;
	ingest_decode_opts_default(&o);
	o.want_channels = 0;
	ingest_image img = {0};
	int warn = 0;
	svt_err e = {0};
	cr_assert_eq(decode_buf(mem, len, &o, &img, &warn, &e), 0, "%s", e.msg);
	cr_assert_eq(img.channels, 4);
	cr_assert_eq(img.bit_depth, 8);
	cr_assert_eq(memcmp(img.data, px, sizeof(px)), 0, "RGBA kept exactly");
	o.want_channels = 3;
	cr_assert_eq(decode_buf(mem, len, &o, &img, &warn, &e), 0, "%s", e.msg);
	cr_assert_eq(img.channels, 3);
	for (int i = 0; i < w * h; i++)
		cr_assert(!memcmp(img.data + 3 * i, px + 4 * i, 3), "alpha stripped, colour kept at %d", i);
	o.want_channels = 1;
	cr_assert_eq(decode_buf(mem, len, &o, &img, &warn, &e), 0, "%s", e.msg);
	cr_assert_eq(img.channels, 1);
	free(mem);

	/* 16-bit RGB: native keeps 16 bits, RGB output scales to 8 */
	uint16_t p16[8 * 4 * 3];
	for (int i = 0; i < w * h * 3; i++)
		p16[i] = (uint16_t)(i * 683);
	mem = png_mem(p16, w, h, PNG_FORMAT_LINEAR_RGB, &len);
	o.want_channels = 0;
	cr_assert_eq(decode_buf(mem, len, &o, &img, &warn, &e), 0, "%s", e.msg);
	cr_assert_eq(img.bit_depth, 16);
	cr_assert_eq(img.channels, 3);
	cr_assert_eq(memcmp(img.data, p16, sizeof(p16)), 0, "16-bit RGB kept exactly");
	o.want_channels = 3;
	cr_assert_eq(decode_buf(mem, len, &o, &img, &warn, &e), 0, "%s", e.msg);
	cr_assert_eq(img.bit_depth, 8);
	for (int i = 0; i < w * h * 3; i++)
		cr_assert(abs((int)img.data[i] - (int)((p16[i] * 255u + 32767u) / 65535u)) <= 1, "sample %d", i);
	ingest_image_free(&img);
	free(mem);
}
