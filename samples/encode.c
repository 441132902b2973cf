/* encode.c: the generator's files: JPEG (TurboJPEG) carrying EXIF (libexif) and GPano XMP,
 * and 16-bit depth PNGs (libpng).
 *
 * The JPEG layout is SOI, APP1 Exif, APP1 XMP, then TurboJPEG's stream minus its JFIF APP0
 * (EXIF files put APP1 first; a JFIF marker beside it only confuses readers).
 */
#include "samples/samples.h"

#include <errno.h>
#include <libexif/exif-data.h>
#include <libexif/exif-utils.h>
#include <math.h>
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <turbojpeg.h>

/* ---- EXIF ---------------------------------------------------------------------------------- */

/* Adds an entry of n components to ifd and returns its zeroed data (owned by ed). GPS tags are
 * created by hand: exif_entry_initialize does not know them, and their numbers overlap the
 * interoperability IFD's. */
static unsigned char *exif_put(ExifData *ed, ExifIfd ifd, ExifTag tag, ExifFormat fmt,
			       unsigned long n)
{
	ExifMem *mem = exif_mem_new_default();
	ExifEntry *e = mem ? exif_entry_new_mem(mem) : NULL;
	unsigned char *data = NULL;
	size_t size = exif_format_get_size(fmt) * n;
	if (!e)
		goto done;
	e->data = exif_mem_alloc(mem, (ExifLong)size);
	if (!e->data)
		goto done;
	memset(e->data, 0, size);
	e->size = (unsigned int)size;
	e->tag = tag;
	e->format = fmt;
	e->components = n;
	exif_content_add_entry(ed->ifd[ifd], e);
	data = e->data;
done:
	if (e)
		exif_entry_unref(e);
	if (mem)
		exif_mem_unref(mem);
	return data;
}

static int exif_put_ascii(ExifData *ed, ExifIfd ifd, ExifTag tag, const char *s)
{
	size_t n = strlen(s) + 1;
	unsigned char *p = exif_put(ed, ifd, tag, EXIF_FORMAT_ASCII, n);
	if (!p)
		return -1;
	memcpy(p, s, n);
	return 0;
}

static int exif_put_rationals(ExifData *ed, ExifIfd ifd, ExifTag tag, const ExifRational *r,
			      int n)
{
	unsigned char *p = exif_put(ed, ifd, tag, EXIF_FORMAT_RATIONAL, (unsigned long)n);
	if (!p)
		return -1;
	ExifByteOrder o = exif_data_get_byte_order(ed);
	for (int i = 0; i < n; i++)
		exif_set_rational(p + 8 * i, o, r[i]);
	return 0;
}

static int exif_put_byte(ExifData *ed, ExifIfd ifd, ExifTag tag, const uint8_t *b, int n)
{
	unsigned char *p = exif_put(ed, ifd, tag, EXIF_FORMAT_BYTE, (unsigned long)n);
	if (!p)
		return -1;
	memcpy(p, b, (size_t)n);
	return 0;
}

static int exif_put_long(ExifData *ed, ExifIfd ifd, ExifTag tag, uint32_t v)
{
	unsigned char *p = exif_put(ed, ifd, tag, EXIF_FORMAT_LONG, 1);
	if (!p)
		return -1;
	exif_set_long(p, exif_data_get_byte_order(ed), v);
	return 0;
}

/* Degrees -> degrees, minutes, seconds with 1e-6 s resolution (3 cm / 1e6: far below 1 cm). */
static void to_dms(double deg, ExifRational r[3])
{
	double a = fabs(deg);
	uint32_t d = (uint32_t)floor(a);
	double mf = (a - d) * 60.0;
	uint32_t m = (uint32_t)floor(mf);
	uint64_t us = (uint64_t)llround((mf - m) * 60.0 * 1e6);
	if (us >= 60000000u) { /* rounding carried into the next minute */
		us -= 60000000u;
		if (++m == 60)
			m = 0, d++;
	}
	r[0] = (ExifRational){d, 1};
	r[1] = (ExifRational){m, 1};
	r[2] = (ExifRational){(ExifLong)us, 1000000};
}

/* Builds the APP1 Exif payload ("Exif\0\0" + TIFF) of m; *out is malloc'd. */
static int exif_build(const smp_meta *m, int W, int H, unsigned char **out, unsigned int *size,
		      svt_err *err)
{
	ExifData *ed = exif_data_new();
	int rc = SVT_OK;
	if (!ed)
		return svt_err_set(err, SVT_E_NOMEM, "exif: out of memory");
	/* Write exactly what is added: no "fixing" of the IFDs behind our back. */
	exif_data_unset_option(ed, EXIF_DATA_OPTION_FOLLOW_SPECIFICATION);
	exif_data_set_byte_order(ed, EXIF_BYTE_ORDER_INTEL);
	exif_data_set_data_type(ed, EXIF_DATA_TYPE_COMPRESSED);

	int Y, Mo, D, h, mi, s, us;
	char buf[64];
	int bad = 0;
	bad |= exif_put_ascii(ed, EXIF_IFD_0, EXIF_TAG_MAKE, "svtwin-samples");
	bad |= exif_put_ascii(ed, EXIF_IFD_0, EXIF_TAG_MODEL, "svtwin-samples");
	bad |= exif_put_ascii(ed, EXIF_IFD_0, EXIF_TAG_SOFTWARE, "svtwin-samples " SVT_VERSION);
	unsigned char *orient = exif_put(ed, EXIF_IFD_0, EXIF_TAG_ORIENTATION, EXIF_FORMAT_SHORT, 1);
	if (orient)
		exif_set_short(orient, EXIF_BYTE_ORDER_INTEL, 1);
	bad |= !orient;

	/* Local capture time with its zone, and sub-seconds. */
	smp_time_civil(m->time_us, m->tz_min, &Y, &Mo, &D, &h, &mi, &s, &us);
	snprintf(buf, sizeof(buf), "%04d:%02d:%02d %02d:%02d:%02d", Y, Mo, D, h, mi, s);
	bad |= exif_put_ascii(ed, EXIF_IFD_0, EXIF_TAG_DATE_TIME, buf);
	bad |= exif_put_ascii(ed, EXIF_IFD_EXIF, EXIF_TAG_DATE_TIME_ORIGINAL, buf);
	snprintf(buf, sizeof(buf), "%06d", us);
	bad |= exif_put_ascii(ed, EXIF_IFD_EXIF, EXIF_TAG_SUB_SEC_TIME_ORIGINAL, buf);
	int tz = m->tz_min < 0 ? -m->tz_min : m->tz_min;
	snprintf(buf, sizeof(buf), "%c%02d:%02d", m->tz_min < 0 ? '-' : '+', tz / 60, tz % 60);
	bad |= exif_put_ascii(ed, EXIF_IFD_EXIF, EXIF_TAG_OFFSET_TIME_ORIGINAL, buf);
	unsigned char *ver = exif_put(ed, EXIF_IFD_EXIF, EXIF_TAG_EXIF_VERSION,
				      EXIF_FORMAT_UNDEFINED, 4);
	if (ver)
		memcpy(ver, "0232", 4);
	bad |= !ver;
	bad |= exif_put_long(ed, EXIF_IFD_EXIF, EXIF_TAG_PIXEL_X_DIMENSION, (uint32_t)W);
	bad |= exif_put_long(ed, EXIF_IFD_EXIF, EXIF_TAG_PIXEL_Y_DIMENSION, (uint32_t)H);

	if (m->has_gps) {
		const uint8_t version[4] = {2, 3, 0, 0}, above = 0;
		ExifRational r[3];
		bad |= exif_put_byte(ed, EXIF_IFD_GPS, (ExifTag)EXIF_TAG_GPS_VERSION_ID, version, 4);
		bad |= exif_put_ascii(ed, EXIF_IFD_GPS, (ExifTag)EXIF_TAG_GPS_LATITUDE_REF,
				      m->lat < 0 ? "S" : "N");
		to_dms(m->lat, r);
		bad |= exif_put_rationals(ed, EXIF_IFD_GPS, (ExifTag)EXIF_TAG_GPS_LATITUDE, r, 3);
		bad |= exif_put_ascii(ed, EXIF_IFD_GPS, (ExifTag)EXIF_TAG_GPS_LONGITUDE_REF,
				      m->lon < 0 ? "W" : "E");
		to_dms(m->lon, r);
		bad |= exif_put_rationals(ed, EXIF_IFD_GPS, (ExifTag)EXIF_TAG_GPS_LONGITUDE, r, 3);
		/* The altitude written is the ellipsoidal height (docs/conventions.md). */
		uint8_t ref = m->h < 0 ? 1 : above;
		bad |= exif_put_byte(ed, EXIF_IFD_GPS, (ExifTag)EXIF_TAG_GPS_ALTITUDE_REF, &ref, 1);
		r[0] = (ExifRational){(ExifLong)llround(fabs(m->h) * 1000.0), 1000};
		bad |= exif_put_rationals(ed, EXIF_IFD_GPS, (ExifTag)EXIF_TAG_GPS_ALTITUDE, r, 1);
		/* UTC date and time of the fix. */
		smp_time_civil(m->time_us, 0, &Y, &Mo, &D, &h, &mi, &s, &us);
		r[0] = (ExifRational){(ExifLong)h, 1};
		r[1] = (ExifRational){(ExifLong)mi, 1};
		r[2] = (ExifRational){(ExifLong)(s * 1000000 + us), 1000000};
		bad |= exif_put_rationals(ed, EXIF_IFD_GPS, (ExifTag)EXIF_TAG_GPS_TIME_STAMP, r, 3);
		snprintf(buf, sizeof(buf), "%04d:%02d:%02d", Y, Mo, D);
		bad |= exif_put_ascii(ed, EXIF_IFD_GPS, (ExifTag)EXIF_TAG_GPS_DATE_STAMP, buf);
		bad |= exif_put_ascii(ed, EXIF_IFD_GPS, (ExifTag)EXIF_TAG_GPS_IMG_DIRECTION_REF, "T");
		r[0] = (ExifRational){(ExifLong)llround(m->heading * 1e6), 1000000};
		bad |= exif_put_rationals(ed, EXIF_IFD_GPS, (ExifTag)EXIF_TAG_GPS_IMG_DIRECTION, r, 1);
		bad |= exif_put_ascii(ed, EXIF_IFD_GPS, (ExifTag)EXIF_TAG_GPS_MAP_DATUM, "WGS-84");
	}
	if (bad) {
		rc = svt_err_set(err, SVT_E_NOMEM, "exif: out of memory building the tags");
		goto done;
	}
	*out = NULL;
	exif_data_save_data(ed, out, size);
	if (!*out || *size == 0) {
		rc = svt_err_set(err, SVT_E_FORMAT, "exif: libexif could not serialise the tags");
		goto done;
	}
	if (*size > 65533) {
		free(*out);
		*out = NULL;
		rc = svt_err_set(err, SVT_E_FORMAT, "exif: %u bytes do not fit one APP1", *size);
	}
done:
	exif_data_unref(ed);
	return rc;
}

/* ---- XMP ----------------------------------------------------------------------------------- */

static int xmp_build(const smp_meta *m, int W, int H, char *out, size_t cap)
{
	int n = snprintf(
		out, cap,
		"http://ns.adobe.com/xap/1.0/%c"
		"<?xpacket begin=\"\xEF\xBB\xBF\" id=\"W5M0MpCehiHzreSzNTczkc9d\"?>\n"
		"<x:xmpmeta xmlns:x=\"adobe:ns:meta/\" x:xmptk=\"svtwin-samples\">\n"
		" <rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\">\n"
		"  <rdf:Description rdf:about=\"\"\n"
		"    xmlns:GPano=\"http://ns.google.com/photos/1.0/panorama/\"\n"
		"   GPano:ProjectionType=\"equirectangular\"\n"
		"   GPano:UsePanoramaViewer=\"True\"\n"
		"   GPano:PoseHeadingDegrees=\"%.6f\"\n"
		"   GPano:PosePitchDegrees=\"%.6f\"\n"
		"   GPano:PoseRollDegrees=\"%.6f\"\n"
		"   GPano:FullPanoWidthPixels=\"%d\"\n"
		"   GPano:FullPanoHeightPixels=\"%d\"\n"
		"   GPano:CroppedAreaImageWidthPixels=\"%d\"\n"
		"   GPano:CroppedAreaImageHeightPixels=\"%d\"\n"
		"   GPano:CroppedAreaLeftPixels=\"0\"\n"
		"   GPano:CroppedAreaTopPixels=\"0\"/>\n"
		" </rdf:RDF>\n"
		"</x:xmpmeta>\n"
		"<?xpacket end=\"w\"?>",
		0, m->heading, m->pitch, m->roll, W, H, W, H);
	return n > 0 && (size_t)n < cap ? n : -1;
}

/* ---- JPEG ---------------------------------------------------------------------------------- */

static int compress_rgb(const uint8_t *rgb, int W, int H, unsigned char **jpg, size_t *size,
			svt_err *err)
{
	int rc = SVT_OK;
	*jpg = NULL;
	*size = 0;
#ifdef TJ_NUMINIT
	tjhandle tj = tj3Init(TJINIT_COMPRESS);
	if (!tj)
		return svt_err_set(err, SVT_E_NOMEM, "turbojpeg: cannot create a compressor");
	if (tj3Set(tj, TJPARAM_QUALITY, 90) || tj3Set(tj, TJPARAM_SUBSAMP, TJSAMP_420) ||
	    tj3Compress8(tj, rgb, W, 0, H, TJPF_RGB, jpg, size)) {
		rc = svt_err_set(err, SVT_E_FORMAT, "turbojpeg: %s", tj3GetErrorStr(tj));
		tj3Free(*jpg);
		*jpg = NULL;
	}
	tj3Destroy(tj);
#else
	tjhandle tj = tjInitCompress();
	unsigned long sz = 0;
	if (!tj)
		return svt_err_set(err, SVT_E_NOMEM, "turbojpeg: cannot create a compressor");
	if (tjCompress2(tj, rgb, W, 0, H, TJPF_RGB, jpg, &sz, TJSAMP_420, 90, 0)) {
		rc = svt_err_set(err, SVT_E_FORMAT, "turbojpeg: %s", tjGetErrorStr2(tj));
		tjFree(*jpg);
		*jpg = NULL;
	}
	*size = sz;
	tjDestroy(tj);
#endif
	return rc;
}

static void jpeg_free(unsigned char *p)
{
#ifdef TJ_NUMINIT
	tj3Free(p);
#else
	tjFree(p);
#endif
}

static int write_whole(const char *path, const unsigned char *data, size_t n, svt_err *err)
{
	FILE *f = fopen(path, "wb");
	if (!f)
		return svt_err_set(err, SVT_E_IO, "%s: %s", path, strerror(errno));
	int ok = fwrite(data, 1, n, f) == n;
	ok = (fclose(f) == 0) && ok;
	if (!ok)
		return svt_err_set(err, SVT_E_IO, "%s: write failed: %s", path, strerror(errno));
	return SVT_OK;
}

int smp_jpeg_write(const char *path, const uint8_t *rgb, int W, int H, const smp_meta *m,
		   double keep_frac, svt_err *err)
{
	unsigned char *jpg = NULL, *exif = NULL, *file = NULL;
	unsigned int exif_n = 0;
	size_t jpg_n = 0;
	char xmp[4096];
	int rc;
	if ((rc = compress_rgb(rgb, W, H, &jpg, &jpg_n, err)))
		goto done;
	if ((rc = exif_build(m, W, H, &exif, &exif_n, err)))
		goto done;
	int xmp_n = xmp_build(m, W, H, xmp, sizeof(xmp));
	if (xmp_n < 0) {
		rc = svt_err_set(err, SVT_E_INPUT, "xmp: packet too long");
		goto done;
	}
	if (jpg_n < 4 || jpg[0] != 0xFF || jpg[1] != 0xD8) {
		rc = svt_err_set(err, SVT_E_FORMAT, "turbojpeg returned no JPEG stream");
		goto done;
	}
	size_t skip = 2; /* past SOI, and past JFIF APP0 when TurboJPEG wrote one */
	if (jpg[2] == 0xFF && jpg[3] == 0xE0 && jpg_n > 6)
		skip = 4 + ((size_t)jpg[4] << 8 | jpg[5]);
	size_t total = 2 + 4 + exif_n + 4 + (size_t)xmp_n + (jpg_n - skip);
	file = malloc(total);
	if (!file) {
		rc = svt_err_set(err, SVT_E_NOMEM, "out of memory for %s", path);
		goto done;
	}
	size_t at = 0;
	file[at++] = 0xFF, file[at++] = 0xD8;
	file[at++] = 0xFF, file[at++] = 0xE1;
	file[at++] = (unsigned char)((exif_n + 2) >> 8), file[at++] = (unsigned char)(exif_n + 2);
	memcpy(file + at, exif, exif_n), at += exif_n;
	file[at++] = 0xFF, file[at++] = 0xE1;
	file[at++] = (unsigned char)((xmp_n + 2) >> 8), file[at++] = (unsigned char)(xmp_n + 2);
	memcpy(file + at, xmp, (size_t)xmp_n), at += (size_t)xmp_n;
	memcpy(file + at, jpg + skip, jpg_n - skip), at += jpg_n - skip;
	if (keep_frac < 1.0) /* a capture file cut short: headers intact, entropy data cut */
		at = (size_t)((double)at * keep_frac);
	rc = write_whole(path, file, at, err);
done:
	jpeg_free(jpg);
	free(exif);
	free(file);
	return rc;
}

/* ---- PNG ----------------------------------------------------------------------------------- */

static void png_on_error(png_structp png, png_const_charp msg)
{
	svt_err *err = png_get_error_ptr(png);
	svt_err_set(err, SVT_E_IO, "libpng: %s", msg);
	png_longjmp(png, 1);
}

static void png_on_warning(png_structp png, png_const_charp msg)
{
	(void)png;
	(void)msg;
}

/* One gray PNG of W x H samples of bits 8 or 16 (px: uint8_t or uint16_t, rows packed). */
static int png_gray_write(const char *path, const void *px, int W, int H, int bits,
			  svt_err *err)
{
	svt_err local = {0};
	svt_err *volatile e = err ? err : &local;
	FILE *volatile f = NULL;
	uint8_t *volatile row = NULL;
	png_structp png = NULL;
	png_infop info = NULL;
	volatile int rc = SVT_OK;
	f = fopen(path, "wb");
	if (!f)
		return svt_err_set(err, SVT_E_IO, "%s: %s", path, strerror(errno));
	row = malloc((size_t)W * (size_t)(bits / 8));
	png = png_create_write_struct(PNG_LIBPNG_VER_STRING, e, png_on_error, png_on_warning);
	info = png ? png_create_info_struct(png) : NULL;
	if (!row || !info) {
		rc = svt_err_set(err, SVT_E_NOMEM, "%s: out of memory", path);
		goto done;
	}
	if (setjmp(png_jmpbuf(png))) {
		rc = e->code ? e->code : SVT_E_IO;
		goto done;
	}
	png_init_io(png, f);
	png_set_compression_level(png, 3);
	/* Depth is smooth along rows and columns: the Up/Sub filters with fast deflate keep a
	 * 1 MB map near 100 KB for a fraction of the default settings' time. */
	if (bits == 16)
		png_set_filter(png, 0, PNG_FILTER_UP | PNG_FILTER_SUB);
	png_set_IHDR(png, info, (png_uint_32)W, (png_uint_32)H, bits, PNG_COLOR_TYPE_GRAY,
		     PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
	png_write_info(png, info);
	for (int y = 0; y < H; y++) {
		if (bits == 16) {
			const uint16_t *src = (const uint16_t *)px + (size_t)y * W;
			for (int x = 0; x < W; x++) { /* PNG samples are big-endian */
				row[2 * x] = (uint8_t)(src[x] >> 8);
				row[2 * x + 1] = (uint8_t)src[x];
			}
		} else {
			memcpy(row, (const uint8_t *)px + (size_t)y * W, (size_t)W);
		}
		png_write_row(png, row);
	}
	png_write_end(png, NULL);
done:
	png_destroy_write_struct(&png, &info);
	free(row);
	if (fclose(f) != 0 && rc == SVT_OK)
		rc = svt_err_set(err, SVT_E_IO, "%s: %s", path, strerror(errno));
	return rc;
}

int smp_png16_write(const char *path, const uint16_t *px, int W, int H, svt_err *err)
{
	return png_gray_write(path, px, W, H, 16, err);
}

int smp_png8_write(const char *path, const uint8_t *px, int W, int H, svt_err *err)
{
	return png_gray_write(path, px, W, H, 8, err);
}
