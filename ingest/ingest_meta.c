/* ingest_meta.c: EXIF (libexif) and XMP GPano (libxml2, ingest_xmp.c) of a JPEG or PNG.
 *
 * GPS tags are read from ifd[EXIF_IFD_GPS] only: their numbers overlap the Interoperability
 * tags, so a search over all IFDs would mix them up. libexif is told neither to "fix" the data
 * (FOLLOW_SPECIFICATION would add default tags and change types) nor to drop tags it does not
 * know (OffsetTimeOriginal is recent), so we see what the file holds and judge it ourselves.
 */
#include "ingest/ingest_internal.h"

#include <ctype.h>
#include <libexif/exif-data.h>
#include <libexif/exif-log.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ingest_meta_opts_default(ingest_meta_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->default_tz_min = 9 * 60; /* Asia/Seoul, no daylight saving since 1988 */
}

const char *ingest_source_name(ingest_source s)
{
	switch (s) {
	case INGEST_SRC_NONE: return "none";
	case INGEST_SRC_EXIF: return "exif";
	case INGEST_SRC_XMP: return "xmp";
	case INGEST_SRC_GPANO: return "gpano";
	case INGEST_SRC_TRACK: return "track";
	case INGEST_SRC_KAPTURE: return "kapture";
	case INGEST_SRC_DERIVED: return "derived";
	case INGEST_SRC_EXIF_GPS: return "exif_gps";
	}
	return "unknown";
}

static void meta_init(ingest_meta *m)
{
	memset(m, 0, sizeof(*m));
	m->heading_ref = '?';
	m->orientation = 1;
	m->pitch = m->roll = NAN;
	m->gpano.pose_heading = m->gpano.pose_pitch = m->gpano.pose_roll = NAN;
}

/* ---- libexif helpers ------------------------------------------------------------------- */

typedef struct exif_ctx {
	ExifData *ed;
	ExifByteOrder order;
	char corrupt[160]; /* first "corrupt data" message from libexif */
} exif_ctx;

static void exif_log_cb(ExifLog *log, ExifLogCode code, const char *domain, const char *fmt,
			va_list args, void *data)
{
	(void)log;
	(void)domain;
	exif_ctx *c = data;
	if (code == EXIF_LOG_CODE_CORRUPT_DATA && !c->corrupt[0])
		vsnprintf(c->corrupt, sizeof(c->corrupt), fmt, args);
}

static const char *fmt_name(ExifFormat f)
{
	const char *n = exif_format_get_name(f);
	return n ? n : "unknown";
}

static ExifEntry *gps_entry(exif_ctx *c, ExifTag t)
{
	return exif_content_get_entry(c->ed->ifd[EXIF_IFD_GPS], t);
}

/* Reads n rationals of e into v. A wrong type or size is bad metadata, said by name. */
static int entry_rationals(exif_ctx *c, ExifEntry *e, const char *name, unsigned min_n,
			   unsigned max_n, double *v, unsigned *got, svt_err *err)
{
	if (e->format != EXIF_FORMAT_RATIONAL && e->format != EXIF_FORMAT_SRATIONAL)
		return svt_err_set(err, SVT_E_FORMAT, "EXIF %s has type %s, expected RATIONAL", name,
				   fmt_name(e->format));
	if (e->components < min_n || e->components > max_n || !e->data ||
	    e->size < e->components * 8)
		return svt_err_set(err, SVT_E_FORMAT, "EXIF %s has %lu values, expected %u to %u",
				   name, (unsigned long)e->components, min_n, max_n);
	for (unsigned i = 0; i < e->components; i++) {
		double num, den;
		if (e->format == EXIF_FORMAT_RATIONAL) {
			ExifRational r = exif_get_rational(e->data + 8 * i, c->order);
			num = r.numerator;
			den = r.denominator;
		} else {
			ExifSRational r = exif_get_srational(e->data + 8 * i, c->order);
			num = r.numerator;
			den = r.denominator;
		}
		if (den == 0) {
			/* 0/0 is how some writers say "unknown"; anything else is garbage. */
			if (num == 0 && i > 0) {
				v[i] = 0;
				continue;
			}
			return svt_err_set(err, SVT_E_FORMAT, "EXIF %s value %u has a zero denominator",
					   name, i);
		}
		v[i] = num / den;
	}
	*got = (unsigned)e->components;
	return SVT_OK;
}

/* First character of an ASCII (or, from sloppy writers, BYTE/UNDEFINED) ref tag; 0 if none. */
static char entry_ref(ExifEntry *e)
{
	if (!e || !e->data || e->size == 0)
		return 0;
	if (e->format != EXIF_FORMAT_ASCII && e->format != EXIF_FORMAT_BYTE &&
	    e->format != EXIF_FORMAT_UNDEFINED)
		return 0;
	return (char)toupper(e->data[0]);
}

/* Copies an ASCII entry into out (NUL-terminated). 0 when absent or not text. */
static int entry_text(ExifEntry *e, char *out, size_t cap)
{
	out[0] = 0;
	if (!e || !e->data || e->size == 0)
		return 0;
	if (e->format != EXIF_FORMAT_ASCII && e->format != EXIF_FORMAT_UNDEFINED)
		return -1;
	size_t n = e->size < cap - 1 ? e->size : cap - 1;
	memcpy(out, e->data, n);
	out[n] = 0;
	/* trim trailing NULs and spaces */
	while (n > 0 && (out[n - 1] == 0 || out[n - 1] == ' '))
		out[--n] = 0;
	return 1;
}

static int deg_from_dms(const double *v, unsigned n, double *deg)
{
	double d = v[0] + (n > 1 ? v[1] / 60.0 : 0) + (n > 2 ? v[2] / 3600.0 : 0);
	if (!isfinite(d) || d < 0)
		return -1;
	*deg = d;
	return 0;
}

/* "+09:00", "-0530", "Z" -> minutes east of UTC. */
static int parse_offset(const char *s, int *min)
{
	while (*s == ' ')
		s++;
	if (*s == 'Z' && s[1] == 0) {
		*min = 0;
		return 0;
	}
	int sign = *s == '-' ? -1 : *s == '+' ? 1 : 0;
	if (!sign)
		return -1;
	int h, m;
	if (sscanf(s + 1, "%2d:%2d", &h, &m) != 2 && sscanf(s + 1, "%2d%2d", &h, &m) != 2)
		return -1;
	if (h > 14 || m > 59 || h < 0 || m < 0)
		return -1;
	*min = sign * (h * 60 + m);
	return 0;
}

/* "YYYY:MM:DD HH:MM:SS" (or with '-' in the date, or 'T') -> seconds of local time since the
 * epoch as if it were UTC. -1 when blank or invalid. */
static int parse_datetime(const char *s, int64_t *local_s)
{
	int Y, M, D, h, m, sec;
	char c1, c2, sep;
	if (sscanf(s, "%4d%c%2d%c%2d%c%2d:%2d:%2d", &Y, &c1, &M, &c2, &D, &sep, &h, &m, &sec) != 9)
		return -1;
	if ((c1 != ':' && c1 != '-') || c2 != c1 || (sep != ' ' && sep != 'T'))
		return -1;
	if (Y < 1900 || Y > 2200 || M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || m > 59 ||
	    sec > 60 || h < 0 || m < 0 || sec < 0)
		return -1;
	*local_s = ingest_days_from_civil(Y, M, D) * 86400 + h * 3600 + m * 60 + sec;
	return 0;
}

static int exif_gps(exif_ctx *c, ingest_meta *m, svt_err *err)
{
	if (!c->ed->ifd[EXIF_IFD_GPS])
		return SVT_OK;
	double v[3];
	unsigned n;
	int rc;
	ExifEntry *lat = gps_entry(c, EXIF_TAG_GPS_LATITUDE);
	ExifEntry *lon = gps_entry(c, EXIF_TAG_GPS_LONGITUDE);
	if (lat && lon) {
		double la, lo;
		if ((rc = entry_rationals(c, lat, "GPSLatitude", 1, 3, v, &n, err)))
			return rc;
		if (deg_from_dms(v, n, &la))
			return svt_err_set(err, SVT_E_FORMAT, "EXIF GPSLatitude is not a valid angle");
		if ((rc = entry_rationals(c, lon, "GPSLongitude", 1, 3, v, &n, err)))
			return rc;
		if (deg_from_dms(v, n, &lo))
			return svt_err_set(err, SVT_E_FORMAT, "EXIF GPSLongitude is not a valid angle");
		char lr = entry_ref(gps_entry(c, EXIF_TAG_GPS_LATITUDE_REF));
		char or = entry_ref(gps_entry(c, EXIF_TAG_GPS_LONGITUDE_REF));
		if (lr && lr != 'N' && lr != 'S')
			return svt_err_set(err, SVT_E_FORMAT, "EXIF GPSLatitudeRef is '%c', not N or S", lr);
		if (or && or != 'E' && or != 'W')
			return svt_err_set(err, SVT_E_FORMAT, "EXIF GPSLongitudeRef is '%c', not E or W", or);
		if (lr == 'S')
			la = -la;
		if (or == 'W')
			lo = -lo;
		if (fabs(la) > 90.0 || fabs(lo) > 180.0)
			return svt_err_set(err, SVT_E_FORMAT,
					   "EXIF GPS position %.7f, %.7f is out of range", la, lo);
		m->lat = la;
		m->lon = lo;
		m->has |= INGEST_HAS_GPS;
		m->src_gps = INGEST_SRC_EXIF;
	} else if (lat || lon) {
		return svt_err_set(err, SVT_E_FORMAT, "EXIF has GPS%s but no GPS%s",
				   lat ? "Latitude" : "Longitude", lat ? "Longitude" : "Latitude");
	}

	ExifEntry *alt = gps_entry(c, EXIF_TAG_GPS_ALTITUDE);
	if (alt) {
		if ((rc = entry_rationals(c, alt, "GPSAltitude", 1, 1, v, &n, err)))
			return rc;
		ExifEntry *ar = gps_entry(c, EXIF_TAG_GPS_ALTITUDE_REF);
		int below = 0;
		if (ar && ar->data && ar->size >= 1)
			below = ar->format == EXIF_FORMAT_ASCII ? ar->data[0] == '1' : ar->data[0] == 1;
		/* A negative SRATIONAL altitude with ref 1 would flip twice: take the magnitude. */
		double a = below ? -fabs(v[0]) : v[0];
		/* Far below the Dead Sea's shore or above airliners' routes is no street-level
		 * camera: a corrupt tag (4294967295/1 is one firmware's "unknown"), which would put
		 * the frame kilometres up; the frame is kept without an altitude, as if untagged. */
		if (ingest_alt_plausible(a)) {
			m->alt = a;
			m->has |= INGEST_HAS_ALT;
			m->src_alt = INGEST_SRC_EXIF;
		} else {
			m->ignored |= INGEST_IGN_ALT;
		}
	}

	ExifEntry *dir = gps_entry(c, EXIF_TAG_GPS_IMG_DIRECTION);
	if (dir) {
		if ((rc = entry_rationals(c, dir, "GPSImgDirection", 1, 1, v, &n, err)))
			return rc;
		if (!(v[0] >= 0 && v[0] <= 360.0))
			return svt_err_set(err, SVT_E_FORMAT,
					   "EXIF GPSImgDirection %.3f is outside [0, 360]", v[0]);
		char r = entry_ref(gps_entry(c, EXIF_TAG_GPS_IMG_DIRECTION_REF));
		m->heading = v[0] >= 360.0 ? 0.0 : v[0];
		m->heading_ref = r == 'T' || r == 'M' ? r : '?';
		m->has |= INGEST_HAS_HEADING;
		m->src_heading = INGEST_SRC_EXIF;
	}

	ExifEntry *dop = gps_entry(c, EXIF_TAG_GPS_DOP);
	if (dop) {
		if ((rc = entry_rationals(c, dop, "GPSDOP", 1, 1, v, &n, err)))
			return rc;
		m->dop = v[0];
		m->has |= INGEST_HAS_DOP;
	}
	return SVT_OK;
}

/* GPS date + time (UTC). Returns 1 when found, 0 when absent, <0 when malformed. */
static int exif_gps_time(exif_ctx *c, int64_t *time_us, svt_err *err)
{
	if (!c->ed->ifd[EXIF_IFD_GPS])
		return 0;
	ExifEntry *ts = gps_entry(c, EXIF_TAG_GPS_TIME_STAMP);
	ExifEntry *ds = gps_entry(c, EXIF_TAG_GPS_DATE_STAMP);
	if (!ts || !ds)
		return 0;
	double v[3];
	unsigned n;
	int rc = entry_rationals(c, ts, "GPSTimeStamp", 3, 3, v, &n, err);
	if (rc)
		return rc;
	char date[32];
	if (entry_text(ds, date, sizeof(date)) <= 0)
		return svt_err_set(err, SVT_E_FORMAT, "EXIF GPSDateStamp has type %s, expected ASCII",
				   fmt_name(ds->format));
	int Y, M, D;
	char s1, s2;
	if (sscanf(date, "%4d%c%2d%c%2d", &Y, &s1, &M, &s2, &D) != 5 || M < 1 || M > 12 ||
	    D < 1 || D > 31 || Y < 1900 || Y > 2200)
		return svt_err_set(err, SVT_E_FORMAT, "EXIF GPSDateStamp \"%s\" is not a date", date);
	if (v[0] < 0 || v[0] >= 24 || v[1] < 0 || v[1] >= 60 || v[2] < 0 || v[2] >= 61)
		return svt_err_set(err, SVT_E_FORMAT, "EXIF GPSTimeStamp %g:%g:%g is not a time", v[0],
				   v[1], v[2]);
	double sod = v[0] * 3600 + v[1] * 60 + v[2];
	*time_us = ingest_days_from_civil(Y, M, D) * 86400 * 1000000LL + llround(sod * 1e6);
	return 1;
}

static int exif_time(exif_ctx *c, const ingest_meta_opts *o, ingest_meta *m, svt_err *err)
{
	ExifContent *ex = c->ed->ifd[EXIF_IFD_EXIF];
	ExifContent *i0 = c->ed->ifd[EXIF_IFD_0];
	static const struct {
		int ifd;
		ExifTag dt, sub, off;
		const char *name;
	} cands[] = {
		{EXIF_IFD_EXIF, EXIF_TAG_DATE_TIME_ORIGINAL, EXIF_TAG_SUB_SEC_TIME_ORIGINAL,
		 EXIF_TAG_OFFSET_TIME_ORIGINAL, "DateTimeOriginal"},
		{EXIF_IFD_EXIF, EXIF_TAG_DATE_TIME_DIGITIZED, EXIF_TAG_SUB_SEC_TIME_DIGITIZED,
		 EXIF_TAG_OFFSET_TIME_DIGITIZED, "DateTimeDigitized"},
		{EXIF_IFD_0, EXIF_TAG_DATE_TIME, EXIF_TAG_SUB_SEC_TIME, EXIF_TAG_OFFSET_TIME,
		 "DateTime"},
	};
	int have_local = 0;
	int64_t local_us = 0;
	int tz = o->default_tz_min, assumed = 1;
	for (size_t i = 0; i < SVT_ARRAY_LEN(cands) && !have_local; i++) {
		ExifContent *ifd = cands[i].ifd == EXIF_IFD_EXIF ? ex : i0;
		if (!ifd)
			continue;
		ExifEntry *e = exif_content_get_entry(ifd, cands[i].dt);
		char s[64];
		int t = entry_text(e, s, sizeof(s));
		if (t < 0)
			return svt_err_set(err, SVT_E_FORMAT, "EXIF %s has type %s, expected ASCII",
					   cands[i].name, fmt_name(e->format));
		int64_t ls;
		if (t == 0 || parse_datetime(s, &ls))
			continue; /* blank ("    :  :  ") or absent: try the next one */
		local_us = ls * 1000000;
		/* Sub-seconds live in the EXIF IFD for all three. */
		char sub[32];
		if (ex && entry_text(exif_content_get_entry(ex, cands[i].sub), sub, sizeof(sub)) > 0) {
			int64_t frac = 0, scale = 1000000;
			for (const char *p = sub; *p && isdigit((unsigned char)*p) && scale > 1; p++) {
				scale /= 10;
				frac += (*p - '0') * scale;
			}
			local_us += frac;
		}
		char off[32];
		int mins;
		if (ex && entry_text(exif_content_get_entry(ex, cands[i].off), off, sizeof(off)) > 0 &&
		    parse_offset(off, &mins) == 0) {
			tz = mins;
			assumed = 0;
		}
		have_local = 1;
	}
	int64_t gps_us = 0;
	int g = exif_gps_time(c, &gps_us, err);
	if (g < 0)
		return g;
	m->tz_offset_min = tz;
	m->tz_assumed = assumed;
	if (g == 1) {
		/* GPS time is UTC and preferred (ANCHORS 2); the zone above still says what local
		 * time the camera showed. */
		m->time_us = gps_us;
		m->has |= INGEST_HAS_TIME;
		m->src_time = INGEST_SRC_EXIF_GPS;
	} else if (have_local) {
		m->time_us = local_us - (int64_t)tz * 60 * 1000000;
		m->has |= INGEST_HAS_TIME;
		m->src_time = INGEST_SRC_EXIF;
	}
	return SVT_OK;
}

/* One positive number from a RATIONAL/SHORT/LONG entry of the EXIF IFD; 0 when absent, of
 * another type or not positive. Optics tags are advisory: a bad one leaves the camera unknown
 * (the frame is then rejected for that reason), it does not make the metadata bad. */
static double exif_number(exif_ctx *c, ExifTag t)
{
	ExifContent *ex = c->ed->ifd[EXIF_IFD_EXIF];
	ExifEntry *e = ex ? exif_content_get_entry(ex, t) : NULL;
	double v = 0;
	if (!e || !e->data || e->components < 1)
		return 0;
	if (e->format == EXIF_FORMAT_RATIONAL && e->size >= 8) {
		ExifRational r = exif_get_rational(e->data, c->order);
		v = r.denominator ? (double)r.numerator / r.denominator : 0;
	} else if (e->format == EXIF_FORMAT_SHORT && e->size >= 2) {
		v = exif_get_short(e->data, c->order);
	} else if (e->format == EXIF_FORMAT_LONG && e->size >= 4) {
		v = exif_get_long(e->data, c->order);
	}
	return isfinite(v) && v > 0 ? v : 0;
}

/* The same as a size or code: 0 unless it fits an int (a LONG can hold 4e9; casting that to
 * int is undefined). */
static int exif_int(exif_ctx *c, ExifTag t)
{
	double v = exif_number(c, t);
	return v >= 1 && v <= 1e6 ? (int)v : 0;
}

static void exif_focal(exif_ctx *c, ingest_meta *m)
{
	ingest_focal *f = &m->focal;
	f->focal_mm = exif_number(c, EXIF_TAG_FOCAL_LENGTH);
	f->focal_35mm = exif_number(c, EXIF_TAG_FOCAL_LENGTH_IN_35MM_FILM);
	f->plane_xres = exif_number(c, EXIF_TAG_FOCAL_PLANE_X_RESOLUTION);
	f->plane_yres = exif_number(c, EXIF_TAG_FOCAL_PLANE_Y_RESOLUTION);
	f->plane_unit = exif_int(c, EXIF_TAG_FOCAL_PLANE_RESOLUTION_UNIT);
	f->pixel_w = exif_int(c, EXIF_TAG_PIXEL_X_DIMENSION);
	f->pixel_h = exif_int(c, EXIF_TAG_PIXEL_Y_DIMENSION);
	if (f->focal_mm > 0 || f->focal_35mm > 0)
		m->has |= INGEST_HAS_FOCAL;
}

static int read_exif(const uint8_t *tiff, size_t len, int is_png, const ingest_meta_opts *o,
		     ingest_meta *m, svt_err *err)
{
	exif_ctx c = {0};
	ExifLog *log = NULL;
	uint8_t *copy = NULL;
	int rc = SVT_OK;
	const uint8_t *data = tiff - 6; /* JPEG: the "Exif\0\0" header sits right before */
	size_t dlen = len + 6;
	if (is_png) {
		copy = malloc(dlen);
		if (!copy)
			return svt_err_set(err, SVT_E_NOMEM, "no memory for EXIF");
		memcpy(copy, "Exif\0\0", 6);
		memcpy(copy + 6, tiff, len);
		data = copy;
	}
	if (len < 8 || !((tiff[0] == 'I' && tiff[1] == 'I') || (tiff[0] == 'M' && tiff[1] == 'M'))) {
		rc = svt_err_set(err, SVT_E_FORMAT, "EXIF block of %zu bytes has no TIFF header", len);
		goto done;
	}
	c.ed = exif_data_new();
	log = exif_log_new();
	if (!c.ed || !log) {
		rc = svt_err_set(err, SVT_E_NOMEM, "no memory for EXIF");
		goto done;
	}
	exif_log_set_func(log, exif_log_cb, &c);
	exif_data_log(c.ed, log);
	exif_data_unset_option(c.ed, EXIF_DATA_OPTION_FOLLOW_SPECIFICATION);
	exif_data_unset_option(c.ed, EXIF_DATA_OPTION_IGNORE_UNKNOWN_TAGS);
	exif_data_set_option(c.ed, EXIF_DATA_OPTION_DONT_CHANGE_MAKER_NOTE);
	exif_data_load_data(c.ed, data, (unsigned int)(dlen > 0xffffffffu ? 0xffffffffu : dlen));
	c.order = exif_data_get_byte_order(c.ed);

	ExifEntry *oe = c.ed->ifd[EXIF_IFD_0]
				? exif_content_get_entry(c.ed->ifd[EXIF_IFD_0], EXIF_TAG_ORIENTATION)
				: NULL;
	if (oe && oe->format == EXIF_FORMAT_SHORT && oe->size >= 2) {
		int v = exif_get_short(oe->data, c.order);
		if (v >= 1 && v <= 8) {
			m->orientation = v;
			m->has |= INGEST_HAS_ORIENTATION;
		}
	}
	if ((rc = exif_gps(&c, m, err)) || (rc = exif_time(&c, o, m, err)))
		goto done;
	exif_focal(&c, m);
	/* libexif skips entries it finds corrupt and goes on; if that cost us the GPS block, say
	 * so instead of reporting a silent "no GPS". */
	if (c.corrupt[0] && !(m->has & INGEST_HAS_GPS) && !c.ed->ifd[EXIF_IFD_GPS]) {
		rc = svt_err_set(err, SVT_E_FORMAT, "EXIF is corrupt: %s", c.corrupt);
		goto done;
	}
done:
	if (c.ed)
		exif_data_unref(c.ed);
	if (log)
		exif_log_unref(log);
	free(copy);
	return rc;
}

int ingest_meta_read_mem(const uint8_t *buf, size_t size, const ingest_meta_opts *opts,
			 ingest_meta *meta, svt_err *err)
{
	ingest_blob b;
	int rc = ingest_blob_scan(buf, size, &b, err);
	if (rc) {
		meta_init(meta);
		return rc;
	}
	return ingest_meta_read_blob(&b, opts, meta, err);
}

int ingest_meta_read_blob(const ingest_blob *bp, const ingest_meta_opts *opts, ingest_meta *meta,
			  svt_err *err)
{
	ingest_meta_opts def;
	if (!opts) {
		ingest_meta_opts_default(&def);
		opts = &def;
	}
	meta_init(meta);
	meta->tz_offset_min = opts->default_tz_min;
	const ingest_blob b = *bp;
	int rc;
	meta->width = b.width;
	meta->height = b.height;
	meta->has |= INGEST_HAS_SIZE;
	if (b.exif && (rc = read_exif(b.exif, b.exif_len, b.kind == INGEST_BLOB_PNG, opts, meta, err)))
		return rc;
	if (b.xmp && (rc = ingest_xmp_parse(b.xmp, b.xmp_len, meta, err)))
		return rc;
	if (meta->has & INGEST_HAS_GPANO) {
		ingest_gpano *g = &meta->gpano;
		int w = g->crop_w > 0 ? g->crop_w : g->full_w;
		int h = g->crop_h > 0 ? g->crop_h : g->full_h;
		g->size_mismatch = (w > 0 && w != meta->width) || (h > 0 && h != meta->height);
		if (isfinite(g->pose_pitch)) {
			meta->pitch = g->pose_pitch;
			meta->has |= INGEST_HAS_PITCH;
		}
		if (isfinite(g->pose_roll)) {
			meta->roll = g->pose_roll;
			meta->has |= INGEST_HAS_ROLL;
		}
	}
	return SVT_OK;
}

int ingest_meta_read_file(const char *path, const ingest_meta_opts *opts, ingest_meta *meta,
			  svt_err *err)
{
	uint8_t *buf = NULL;
	size_t n = 0;
	/* Metadata sits in the first segments; reading the whole file keeps the walk simple and
	 * lets a PNG's eXIf chunk come after IDAT. */
	int rc = svt_file_read(path, (size_t)1 << 30, &buf, &n, err);
	if (rc) {
		meta_init(meta);
		return rc;
	}
	rc = ingest_meta_read_mem(buf, n, opts, meta, err);
	free(buf);
	if (rc)
		return svt_err_prefix(err, "%s", path);
	return SVT_OK;
}
