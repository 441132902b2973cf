/* ingest_blob.c: container walks (JPEG markers, PNG chunks), size limits, small shared helpers.
 * Everything here reads untrusted bytes: every length is checked against the buffer before use. */
#include "ingest/ingest_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char XMP_SIG[] = "http://ns.adobe.com/xap/1.0/"; /* followed by NUL */

static unsigned be16(const uint8_t *p) { return (unsigned)p[0] << 8 | p[1]; }
static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

void ingest_limits_default(ingest_limits *lim)
{
	lim->max_width = 30000;
	lim->max_height = 15000;
	lim->max_pixels = 268435456ull;
	lim->max_file_bytes = 512ull << 20;
}

int ingest_limits_check(const ingest_limits *lim, int width, int height, int channels,
			int bytes_per_sample, svt_err *err)
{
	if (width <= 0 || height <= 0)
		return svt_err_set(err, SVT_E_FORMAT, "image header gives a size of %dx%d", width,
				   height);
	if ((lim->max_width > 0 && width > lim->max_width) ||
	    (lim->max_height > 0 && height > lim->max_height))
		return svt_err_set(err, SVT_E_LIMIT, "image is %dx%d, over the limit %dx%d", width,
				   height, lim->max_width, lim->max_height);
	uint64_t px = (uint64_t)width * (uint64_t)height;
	if (lim->max_pixels > 0 && px > lim->max_pixels)
		return svt_err_set(err, SVT_E_LIMIT,
				   "image is %dx%d = %llu pixels, over the limit of %llu", width,
				   height, (unsigned long long)px,
				   (unsigned long long)lim->max_pixels);
	/* Decoded bytes must also fit a size_t and the pixel budget at its sample size. */
	uint64_t bytes = px * (uint64_t)(channels > 0 ? channels : 1) *
			 (uint64_t)(bytes_per_sample > 0 ? bytes_per_sample : 1);
	if (bytes > (uint64_t)SIZE_MAX / 2)
		return svt_err_set(err, SVT_E_LIMIT, "image of %dx%d does not fit in memory", width,
				   height);
	return SVT_OK;
}

static int is_sof(unsigned m)
{
	/* SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC). */
	return m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC;
}

static int jpeg_scan(const uint8_t *buf, size_t size, int partial, ingest_blob *b, svt_err *err)
{
	size_t pos = 2;
	int have_sof = 0;
	while (pos + 4 <= size) {
		if (buf[pos] != 0xFF)
			return svt_err_set(err, SVT_E_FORMAT,
					   "JPEG: expected a marker at byte %zu, found 0x%02x", pos,
					   buf[pos]);
		unsigned m = buf[pos + 1];
		if (m == 0xFF) { /* fill byte */
			pos++;
			continue;
		}
		if (m == 0xD8 || m == 0x01 || (m >= 0xD0 && m <= 0xD7)) { /* no length */
			pos += 2;
			continue;
		}
		if (m == 0xD9)
			break;
		unsigned len = be16(buf + pos + 2);
		if (partial && len >= 2 && pos + 2 + len > size)
			return svt_err_set(err, SVT_E_NOTFOUND, "JPEG: headers go past the first %zu bytes",
					   size);
		if (len < 2 || pos + 2 + len > size)
			return svt_err_set(err, SVT_E_FORMAT,
					   "JPEG: segment 0x%02x at byte %zu runs past the end (%u bytes)",
					   m, pos, len);
		const uint8_t *seg = buf + pos + 4;
		size_t seglen = len - 2;
		if (m == 0xE1) {
			if (!b->exif && seglen >= 6 && memcmp(seg, "Exif\0\0", 6) == 0) {
				b->exif = seg + 6;
				b->exif_len = seglen - 6;
			} else if (!b->xmp && seglen >= sizeof(XMP_SIG) &&
				   memcmp(seg, XMP_SIG, sizeof(XMP_SIG)) == 0) {
				/* sizeof includes the NUL that ends the signature */
				b->xmp = seg + sizeof(XMP_SIG);
				b->xmp_len = seglen - sizeof(XMP_SIG);
			}
		} else if (is_sof(m) && !have_sof) {
			if (seglen < 6)
				return svt_err_set(err, SVT_E_FORMAT, "JPEG: SOF segment too short");
			b->bit_depth = seg[0];
			b->height = (int)be16(seg + 1);
			b->width = (int)be16(seg + 3);
			b->channels = seg[5];
			b->progressive = m == 0xC2 || m == 0xC6 || m == 0xCA || m == 0xCE;
			have_sof = 1;
		} else if (m == 0xDA) {
			/* Entropy-coded data follows: metadata segments come before it. */
			if (!have_sof)
				return svt_err_set(err, SVT_E_FORMAT, "JPEG: scan data before any SOF");
			break;
		}
		pos += 2 + len;
	}
	if (!have_sof && partial && pos + 4 > size)
		return svt_err_set(err, SVT_E_NOTFOUND, "JPEG: headers go past the first %zu bytes",
				   size);
	if (!have_sof)
		return svt_err_set(err, SVT_E_FORMAT, "JPEG: no frame header (SOF) in %zu bytes",
				   size);
	if (partial)
		return SVT_OK; /* the caller looks for EOI in the file's tail */
	/* EOI near the end: a cheap truncation hint (trailers such as MPF gain maps also end in
	 * EOI, and some writers pad with zeros, so look at the tail only). */
	size_t tail = size > 65536 ? size - 65536 : 0;
	for (size_t i = size; i-- > tail + 1;)
		if (buf[i - 1] == 0xFF && buf[i] == 0xD9) {
			b->has_eoi = 1;
			break;
		}
	return SVT_OK;
}

static int png_scan(const uint8_t *buf, size_t size, ingest_blob *b, svt_err *err)
{
	size_t pos = 8;
	int have_ihdr = 0;
	while (pos + 12 <= size) {
		uint32_t len = be32(buf + pos);
		const uint8_t *type = buf + pos + 4;
		if (len > size - pos - 12)
			return svt_err_set(err, SVT_E_FORMAT,
					   "PNG: chunk %.4s at byte %zu runs past the end", type, pos);
		const uint8_t *d = buf + pos + 8;
		if (memcmp(type, "IHDR", 4) == 0) {
			if (len < 13)
				return svt_err_set(err, SVT_E_FORMAT, "PNG: IHDR too short");
			uint32_t w = be32(d), h = be32(d + 4);
			/* PNG allows 2^31-1; clamp so int never overflows and limits still refuse. */
			b->width = w > 0x7fffffffu ? 0x7fffffff : (int)w;
			b->height = h > 0x7fffffffu ? 0x7fffffff : (int)h;
			b->bit_depth = d[8];
			switch (d[9]) {
			case 0: b->channels = 1; break;
			case 2: b->channels = 3; break;
			case 3: b->channels = 3; break;
			case 4: b->channels = 2; break;
			case 6: b->channels = 4; break;
			default:
				return svt_err_set(err, SVT_E_FORMAT, "PNG: unknown colour type %d",
						   d[9]);
			}
			have_ihdr = 1;
		} else if (memcmp(type, "eXIf", 4) == 0 && !b->exif) {
			b->exif = d;
			b->exif_len = len;
		} else if (memcmp(type, "iTXt", 4) == 0 && !b->xmp) {
			static const char kw[] = "XML:com.adobe.xmp";
			/* keyword NUL, compression flag, method, language NUL, translated NUL, text */
			if (len > sizeof(kw) + 2 && memcmp(d, kw, sizeof(kw)) == 0 &&
			    d[sizeof(kw)] == 0) {
				size_t p = sizeof(kw) + 2;
				while (p < len && d[p]) /* language tag */
					p++;
				p++;
				while (p < len && d[p]) /* translated keyword */
					p++;
				p++;
				if (p < len) {
					b->xmp = d + p;
					b->xmp_len = len - p;
				}
			}
		} else if (memcmp(type, "IDAT", 4) == 0 || memcmp(type, "IEND", 4) == 0) {
			if (memcmp(type, "IEND", 4) == 0)
				b->has_eoi = 1;
			if (!have_ihdr)
				break;
		}
		pos += 12 + (size_t)len;
	}
	if (!have_ihdr)
		return svt_err_set(err, SVT_E_FORMAT, "PNG: no IHDR chunk");
	return SVT_OK;
}

int ingest_blob_scan(const uint8_t *buf, size_t size, ingest_blob *b, svt_err *err)
{
	return ingest_blob_scan_head(buf, size, 0, b, err);
}

int ingest_blob_scan_head(const uint8_t *buf, size_t size, int partial, ingest_blob *b,
			  svt_err *err)
{
	memset(b, 0, sizeof(*b));
	if (!buf || size == 0)
		return svt_err_set(err, SVT_E_FORMAT, "empty file");
	if (size >= 3 && buf[0] == 0xFF && buf[1] == 0xD8 && buf[2] == 0xFF) {
		b->kind = INGEST_BLOB_JPEG;
		return jpeg_scan(buf, size, partial, b, err);
	}
	if (size >= 8 && memcmp(buf, "\x89PNG\r\n\x1a\n", 8) == 0) {
		b->kind = INGEST_BLOB_PNG;
		if (partial) /* eXIf may follow IDAT: PNGs are read whole */
			return svt_err_set(err, SVT_E_NOTFOUND, "PNG: read whole");
		return png_scan(buf, size, b, err);
	}
	return svt_err_set(err, SVT_E_FORMAT,
			   "not a JPEG or PNG (first bytes %02x %02x %02x %02x, %zu bytes)",
			   buf[0], size > 1 ? buf[1] : 0, size > 2 ? buf[2] : 0,
			   size > 3 ? buf[3] : 0, size);
}

int ingest_image_probe_mem(const uint8_t *buf, size_t size, int *width, int *height,
			   int *channels, svt_err *err)
{
	ingest_blob b;
	int rc = ingest_blob_scan(buf, size, &b, err);
	if (rc)
		return rc;
	if (width)
		*width = b.width;
	if (height)
		*height = b.height;
	if (channels)
		*channels = b.channels;
	return SVT_OK;
}

int ingest_tiff_orientation(const uint8_t *t, size_t len)
{
	if (!t || len < 8)
		return 1;
	int le;
	if (t[0] == 'I' && t[1] == 'I')
		le = 1;
	else if (t[0] == 'M' && t[1] == 'M')
		le = 0;
	else
		return 1;
#define RD16(p) (le ? (unsigned)((p)[0] | (p)[1] << 8) : be16(p))
#define RD32(p) (le ? (uint32_t)((p)[0] | (p)[1] << 8 | (p)[2] << 16 | (uint32_t)(p)[3] << 24) : be32(p))
	uint32_t ifd = RD32(t + 4);
	if (ifd > len - 2)
		return 1;
	unsigned n = RD16(t + ifd);
	for (unsigned i = 0; i < n; i++) {
		size_t e = (size_t)ifd + 2 + 12 * (size_t)i;
		if (e + 12 > len)
			return 1;
		if (RD16(t + e) == 0x0112 && RD16(t + e + 2) == 3) {
			unsigned v = RD16(t + e + 8);
			return v >= 1 && v <= 8 ? (int)v : 1;
		}
	}
#undef RD16
#undef RD32
	return 1;
}

int64_t ingest_days_from_civil(int y, int m, int d)
{
	/* H. Hinnant's days_from_civil. */
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int *y, int *m, int *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t yy = yoe + era * 400;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = (int)(yy + (*m <= 2));
}

int ingest_parse_number(const char *s, double *out)
{
	char *end;
	double v = strtod(s, &end);
	if (end == s)
		return -1;
	while (*end == ' ' || *end == '\t' || *end == '\n' || *end == '\r')
		end++;
	if (*end || !isfinite(v))
		return -1;
	*out = v;
	return 0;
}

void ingest_time_format(int64_t time_us, int tz_min, char *out, size_t cap)
{
	int64_t local = time_us + (int64_t)tz_min * 60 * 1000000;
	int64_t secs = local >= 0 ? local / 1000000 : -((-local + 999999) / 1000000);
	int64_t us = local - secs * 1000000;
	int64_t days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
	int64_t sod = secs - days * 86400;
	int y, mo, d;
	civil_from_days(days, &y, &mo, &d);
	char zone[16];
	if (tz_min == 0)
		snprintf(zone, sizeof(zone), "Z");
	else
		snprintf(zone, sizeof(zone), "%c%02d:%02d", tz_min < 0 ? '-' : '+',
			 (tz_min < 0 ? -tz_min : tz_min) / 60, (tz_min < 0 ? -tz_min : tz_min) % 60);
	snprintf(out, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%06lld%s", y, mo, d, (int)(sod / 3600),
		 (int)(sod / 60 % 60), (int)(sod % 60), (long long)us, zone);
}

#define EARTH_R 6371008.8

double ingest_dist_m(double lat1, double lon1, double lat2, double lon2)
{
	double p1 = lat1 * M_PI / 180, p2 = lat2 * M_PI / 180;
	double dp = p2 - p1, dl = (lon2 - lon1) * M_PI / 180;
	double a = sin(dp / 2) * sin(dp / 2) + cos(p1) * cos(p2) * sin(dl / 2) * sin(dl / 2);
	return 2 * EARTH_R * atan2(sqrt(a), sqrt(1 - a));
}

double ingest_bearing_deg(double lat1, double lon1, double lat2, double lon2)
{
	double p1 = lat1 * M_PI / 180, p2 = lat2 * M_PI / 180, dl = (lon2 - lon1) * M_PI / 180;
	double y = sin(dl) * cos(p2);
	double x = cos(p1) * sin(p2) - sin(p1) * cos(p2) * cos(dl);
	double b = fmod(atan2(y, x) * 180 / M_PI + 360.0, 360.0);
	return b >= 360.0 ? 0.0 : b;
}
