/* ingest_track.c: GPS tracks from GPX 1.0/1.1 (libxml2), NMEA 0183 RMC/GGA (any talker: $GP,
 * $GN, $GL...; checksums verified) and CSV (docs/ingest.md), and interpolation in time. */
#include "ingest/ingest_internal.h"

#include <ctype.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct ptvec {
	ingest_track_point *v;
	size_t n, cap;
} ptvec;

static int pt_push(ptvec *p, int64_t t, double lat, double lon, double alt, svt_err *err)
{
	if (!(fabs(lat) <= 90.0) || !(fabs(lon) <= 180.0))
		return SVT_OK; /* not a position: skipped, like a bad line */
	if (!ingest_alt_plausible(alt))
		alt = NAN; /* corrupt or absent: the fix without an altitude */
	if (p->n == p->cap) {
		size_t nc = p->cap ? 2 * p->cap : 256;
		ingest_track_point *nv = realloc(p->v, nc * sizeof(*nv));
		if (!nv)
			return svt_err_set(err, SVT_E_NOMEM, "no memory for track points");
		p->v = nv;
		p->cap = nc;
	}
	p->v[p->n++] = (ingest_track_point){t, lat, lon, alt};
	return SVT_OK;
}

/* ISO 8601 "2003-05-24T19:40:03Z", with optional fraction and offset; no offset = UTC (GPX
 * requires UTC). Returns 0 and microseconds since the epoch. */
static int parse_iso(const char *s, int64_t *us)
{
	while (isspace((unsigned char)*s))
		s++;
	int Y, M, D, h, m, sec, n = 0;
	if (sscanf(s, "%4d-%2d-%2d%*[T ]%2d:%2d:%2d%n", &Y, &M, &D, &h, &m, &sec, &n) != 6 || !n)
		return -1;
	if (M < 1 || M > 12 || D < 1 || D > 31 || h < 0 || h > 23 || m < 0 || m > 59 || sec < 0 ||
	    sec > 60)
		return -1;
	const char *p = s + n;
	int64_t frac = 0;
	if (*p == '.') {
		int64_t scale = 1000000;
		for (p++; isdigit((unsigned char)*p); p++)
			if (scale > 1) {
				scale /= 10;
				frac += (*p - '0') * scale;
			}
	}
	int off = 0;
	if (*p == '+' || *p == '-') {
		int oh, om;
		if (sscanf(p + 1, "%2d:%2d", &oh, &om) != 2 && sscanf(p + 1, "%2d%2d", &oh, &om) != 2)
			return -1;
		off = (*p == '-' ? -1 : 1) * (oh * 60 + om);
	} else if (*p == 'Z') {
		p++;
	}
	*us = (ingest_days_from_civil(Y, M, D) * 86400 + h * 3600 + m * 60 + sec - off * 60) *
		      1000000LL + frac;
	return 0;
}

/* ---- GPX ---------------------------------------------------------------------------------- */

static pthread_once_t xml_once = PTHREAD_ONCE_INIT;
static void xml_init(void) { xmlInitParser(); }

/* libxml2 prints some errors (encoding conversion) to stderr even with XML_PARSE_NOERROR; the
 * message reaches the caller through svt_err instead. The handlers are per thread. */
static void xml_quiet(void *ctx, const char *msg, ...)
{
	(void)ctx;
	(void)msg;
}

static const char *child_text(xmlNode *n, const char *name, xmlChar **hold)
{
	for (xmlNode *c = n->children; c; c = c->next)
		if (c->type == XML_ELEMENT_NODE && !strcmp((const char *)c->name, name)) {
			*hold = xmlNodeGetContent(c);
			return (const char *)*hold;
		}
	return NULL;
}

static int gpx_read(const uint8_t *buf, size_t size, ptvec *pts, svt_err *err)
{
	pthread_once(&xml_once, xml_init);
	if (size > 0x7fffffff)
		return svt_err_set(err, SVT_E_LIMIT, "GPX of %zu bytes is too large", size);
	xmlGenericErrorFunc old_fn = xmlGenericError;
	void *old_ctx = xmlGenericErrorContext;
	xmlSetGenericErrorFunc(NULL, xml_quiet);
	xmlDoc *doc = xmlReadMemory((const char *)buf, (int)size, "track.gpx", NULL,
				    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	xmlSetGenericErrorFunc(old_ctx, old_fn);
	if (!doc) {
		const xmlError *e = xmlGetLastError();
		return svt_err_set(err, SVT_E_FORMAT, "GPX does not parse: %s",
				   e && e->message ? e->message : "not well-formed");
	}
	int rc = SVT_OK;
	xmlNode *root = xmlDocGetRootElement(doc);
	if (!root || strcmp((const char *)root->name, "gpx") != 0) {
		rc = svt_err_set(err, SVT_E_FORMAT, "not GPX: the root element is <%s>",
				 root ? (const char *)root->name : "");
		goto done;
	}
	/* Iterative walk over every trkpt (GPX 1.0 and 1.1 differ in namespace only). */
	xmlNode *n = root;
	while (n && !rc) {
		if (n->type == XML_ELEMENT_NODE && !strcmp((const char *)n->name, "trkpt")) {
			xmlChar *la = xmlGetProp(n, (const xmlChar *)"lat");
			xmlChar *lo = xmlGetProp(n, (const xmlChar *)"lon");
			xmlChar *th = NULL, *eh = NULL;
			const char *ts = child_text(n, "time", &th);
			const char *es = child_text(n, "ele", &eh);
			int64_t t;
			double lat = NAN, lon = NAN, alt = NAN;
			int pos = la && lo && !ingest_parse_number((const char *)la, &lat) &&
				  !ingest_parse_number((const char *)lo, &lon);
			if (es && ingest_parse_number(es, &alt))
				alt = NAN;
			if (pos && ts && !parse_iso(ts, &t))
				rc = pt_push(pts, t, lat, lon, alt, err);
			xmlFree(la);
			xmlFree(lo);
			xmlFree(th);
			xmlFree(eh);
		}
		if (n->children && n->type == XML_ELEMENT_NODE &&
		    strcmp((const char *)n->name, "trkpt") != 0) {
			n = n->children;
			continue;
		}
		while (n && !n->next && n != root)
			n = n->parent;
		if (!n || n == root)
			break;
		n = n->next;
	}
done:
	xmlFreeDoc(doc);
	return rc;
}

/* ---- NMEA --------------------------------------------------------------------------------- */

static int hexval(int c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10
	       : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Verifies "$...*hh" and cuts the checksum off. A sentence without a checksum is refused:
 * nothing else would catch a corrupted digit. */
static int nmea_check(char *line)
{
	char *star = strrchr(line, '*');
	if (line[0] != '$' || !star || !star[1] || !star[2])
		return -1;
	unsigned sum = 0;
	for (char *p = line + 1; p < star; p++)
		sum ^= (unsigned char)*p;
	int h1 = hexval(star[1]), h2 = hexval(star[2]);
	if (h1 < 0 || h2 < 0 || (unsigned)(h1 * 16 + h2) != sum)
		return -1;
	*star = 0;
	return 0;
}

/* Splits on commas in place; empty fields are kept. */
static int split(char *s, char **f, int max)
{
	int n = 0;
	f[n++] = s;
	for (char *p = s; *p && n < max; p++)
		if (*p == ',') {
			*p = 0;
			f[n++] = p + 1;
		}
	return n;
}

/* ddmm.mmmm + hemisphere -> degrees. */
static int nmea_coord(const char *v, const char *h, int lon, double *out)
{
	if (!*v || !*h)
		return -1;
	char *e;
	double x = strtod(v, &e);
	if (e == v || *e || x < 0)
		return -1;
	double deg = floor(x / 100.0), min = x - deg * 100.0;
	if (min >= 60.0 || deg > (lon ? 180 : 90))
		return -1;
	double d = deg + min / 60.0;
	if (*h == 'S' || *h == 'W')
		d = -d;
	else if (*h != (lon ? 'E' : 'N'))
		return -1;
	*out = d;
	return 0;
}

/* hhmmss.sss -> microseconds of the day. */
static int nmea_tod(const char *s, int64_t *us)
{
	if (strlen(s) < 6)
		return -1;
	for (int i = 0; i < 6; i++)
		if (!isdigit((unsigned char)s[i]))
			return -1;
	int h = (s[0] - '0') * 10 + s[1] - '0', m = (s[2] - '0') * 10 + s[3] - '0';
	int sec = (s[4] - '0') * 10 + s[5] - '0';
	if (h > 23 || m > 59 || sec > 60)
		return -1;
	int64_t frac = 0;
	if (s[6] == '.') {
		int64_t scale = 1000000;
		for (const char *p = s + 7; isdigit((unsigned char)*p); p++)
			if (scale > 1) {
				scale /= 10;
				frac += (*p - '0') * scale;
			}
	} else if (s[6]) {
		return -1;
	}
	*us = ((int64_t)h * 3600 + m * 60 + sec) * 1000000 + frac;
	return 0;
}

static int nmea_read(const uint8_t *buf, size_t size, ptvec *pts, size_t *bad, svt_err *err)
{
	char *text = malloc(size + 1);
	if (!text)
		return svt_err_set(err, SVT_E_NOMEM, "no memory for NMEA");
	memcpy(text, buf, size);
	text[size] = 0;
	int rc = SVT_OK;
	int64_t day = INT64_MIN, last_tod = -1;
	/* GGA has no date: it takes the date of the nearest RMC; GGA lines before the first RMC
	 * wait in `pending` until a date is known. */
	ptvec pending = {0};
	char *save = NULL;
	for (char *line = strtok_r(text, "\r\n", &save); line && !rc;
	     line = strtok_r(NULL, "\r\n", &save)) {
		while (*line == ' ' || *line == '\t')
			line++;
		if (!*line)
			continue;
		if (nmea_check(line)) {
			(*bad)++;
			continue;
		}
		char *f[24];
		int nf = split(line, f, 24);
		size_t tl = strlen(f[0]);
		if (tl != 6)
			continue;
		const char *type = f[0] + 3;
		int64_t tod;
		double lat, lon;
		if (!strcmp(type, "RMC")) {
			/* $xxRMC,time,status,lat,N,lon,E,speed,course,ddmmyy,... */
			if (nf < 10 || strcmp(f[2], "A") != 0 || nmea_tod(f[1], &tod) ||
			    nmea_coord(f[3], f[4], 0, &lat) || nmea_coord(f[5], f[6], 1, &lon) ||
			    strlen(f[9]) != 6 || strspn(f[9], "0123456789") != 6) {
				if (nf < 3 || strcmp(f[2], "V") != 0)
					(*bad)++;
				continue;
			}
			int dd = atoi((char[]){f[9][0], f[9][1], 0});
			int mm = atoi((char[]){f[9][2], f[9][3], 0});
			int yy = atoi((char[]){f[9][4], f[9][5], 0});
			if (dd < 1 || dd > 31 || mm < 1 || mm > 12) {
				(*bad)++;
				continue;
			}
			/* Two-digit years: 80-99 are 19xx (NMEA predates 2000), the rest 20xx. */
			day = ingest_days_from_civil(yy >= 80 ? 1900 + yy : 2000 + yy, mm, dd);
			last_tod = tod;
			for (size_t i = 0; i < pending.n && !rc; i++) {
				ingest_track_point *q = &pending.v[i];
				int64_t d = day - (q->time_us > tod ? 1 : 0); /* before midnight */
				rc = pt_push(pts, d * 86400000000LL + q->time_us, q->lat, q->lon, q->alt, err);
			}
			pending.n = 0;
			if (!rc)
				rc = pt_push(pts, day * 86400000000LL + tod, lat, lon, NAN, err);
		} else if (!strcmp(type, "GGA")) {
			/* $xxGGA,time,lat,N,lon,E,quality,nsat,hdop,alt,M,... */
			if (nf < 10 || nmea_tod(f[1], &tod) || nmea_coord(f[2], f[3], 0, &lat) ||
			    nmea_coord(f[4], f[5], 1, &lon) || !strcmp(f[6], "0") || !*f[6]) {
				(*bad)++;
				continue;
			}
			char *e;
			double alt = strtod(f[9], &e);
			if (e == f[9])
				alt = NAN;
			if (day == INT64_MIN) {
				rc = pt_push(&pending, tod, lat, lon, alt, err);
				continue;
			}
			if (last_tod >= 0 && tod + 43200000000LL < last_tod) { /* crossed midnight */
				day++;
			}
			last_tod = tod;
			rc = pt_push(pts, day * 86400000000LL + tod, lat, lon, alt, err);
		}
	}
	free(pending.v);
	free(text);
	return rc;
}

/* ---- CSV ---------------------------------------------------------------------------------- */

/* time,lat,lon[,alt]: time as ISO 8601 or as seconds since the epoch (UTC). '#' comments and a
 * header line whose first field is "time" are skipped. */
static int csv_read(const uint8_t *buf, size_t size, ptvec *pts, size_t *bad, svt_err *err)
{
	char *text = malloc(size + 1);
	if (!text)
		return svt_err_set(err, SVT_E_NOMEM, "no memory for CSV");
	memcpy(text, buf, size);
	text[size] = 0;
	int rc = SVT_OK;
	char *save = NULL;
	for (char *line = strtok_r(text, "\r\n", &save); line && !rc;
	     line = strtok_r(NULL, "\r\n", &save)) {
		while (isspace((unsigned char)*line))
			line++;
		if (!*line || *line == '#')
			continue;
		char *f[8];
		int nf = split(line, f, 8);
		for (int i = 0; i < nf; i++)
			while (isspace((unsigned char)*f[i]))
				f[i]++;
		if (!strncasecmp(f[0], "time", 4))
			continue;
		if (nf < 3) {
			(*bad)++;
			continue;
		}
		int64_t t;
		char *e;
		double secs = strtod(f[0], &e);
		int numeric = e != f[0] && (*e == 0 || isspace((unsigned char)*e));
		if (numeric && isfinite(secs) && fabs(secs) < 1e11)
			t = llround(secs * 1e6);
		else if (parse_iso(f[0], &t)) {
			(*bad)++;
			continue;
		}
		double lat, lon, alt = NAN;
		if (ingest_parse_number(f[1], &lat) || ingest_parse_number(f[2], &lon) || !(fabs(lat) <= 90) ||
		    !(fabs(lon) <= 180)) {
			(*bad)++;
			continue;
		}
		if (nf > 3 && *f[3] && ingest_parse_number(f[3], &alt))
			alt = NAN;
		rc = pt_push(pts, t, lat, lon, alt, err);
	}
	free(text);
	return rc;
}

/* ---- common ------------------------------------------------------------------------------- */

static int cmp_pt(const void *a, const void *b)
{
	const ingest_track_point *x = a, *y = b;
	return x->time_us < y->time_us ? -1 : x->time_us > y->time_us;
}

int ingest_track_read_mem(const uint8_t *buf, size_t size, ingest_track **out, svt_err *err)
{
	*out = NULL;
	size_t i = 0;
	if (size >= 3 && buf[0] == 0xEF && buf[1] == 0xBB && buf[2] == 0xBF)
		i = 3; /* UTF-8 BOM */
	while (i < size && isspace(buf[i]))
		i++;
	if (i >= size)
		return svt_err_set(err, SVT_E_FORMAT, "empty track file");
	ptvec pts = {0};
	size_t bad = 0;
	const char *kind;
	int rc;
	if (buf[i] == '<') {
		kind = "GPX";
		rc = gpx_read(buf, size, &pts, err);
	} else if (buf[i] == '$') {
		kind = "NMEA";
		rc = nmea_read(buf + i, size - i, &pts, &bad, err);
	} else {
		kind = "CSV";
		rc = csv_read(buf + i, size - i, &pts, &bad, err);
	}
	if (rc)
		goto fail;
	if (pts.n == 0) {
		rc = svt_err_set(err, SVT_E_FORMAT, "%s track has no usable point (%zu bad lines)",
				 kind, bad);
		goto fail;
	}
	qsort(pts.v, pts.n, sizeof(*pts.v), cmp_pt);
	/* Merge points sharing a time (an RMC and a GGA of the same fix). */
	size_t w = 0;
	for (size_t r = 0; r < pts.n; r++) {
		if (w > 0 && pts.v[w - 1].time_us == pts.v[r].time_us) {
			if (!isfinite(pts.v[w - 1].alt))
				pts.v[w - 1].alt = pts.v[r].alt;
			continue;
		}
		pts.v[w++] = pts.v[r];
	}
	pts.n = w;
	ingest_track *t = malloc(sizeof(*t));
	if (!t) {
		rc = svt_err_set(err, SVT_E_NOMEM, "no memory for a track");
		goto fail;
	}
	t->pts = pts.v;
	t->n = pts.n;
	t->n_bad_lines = bad;
	*out = t;
	return SVT_OK;
fail:
	free(pts.v);
	return rc;
}

int ingest_track_read(const char *path, ingest_track **out, svt_err *err)
{
	*out = NULL;
	uint8_t *buf = NULL;
	size_t n = 0;
	int rc = svt_file_read(path, (size_t)1 << 30, &buf, &n, err);
	if (rc)
		return rc;
	rc = ingest_track_read_mem(buf, n, out, err);
	free(buf);
	if (rc)
		return svt_err_prefix(err, "%s", path);
	return SVT_OK;
}

void ingest_track_destroy(ingest_track *t)
{
	if (!t)
		return;
	free(t->pts);
	free(t);
}

int ingest_track_at(const ingest_track *t, int64_t time_us, double *lat, double *lon,
		    double *alt, double *heading_deg, svt_err *err)
{
	if (!t || t->n == 0)
		return svt_err_set(err, SVT_E_INPUT, "empty track");
	const ingest_track_point *p = t->pts;
	if (time_us < p[0].time_us || time_us > p[t->n - 1].time_us) {
		char a[64], b[64], x[64];
		ingest_time_format(time_us, 0, x, sizeof(x));
		ingest_time_format(p[0].time_us, 0, a, sizeof(a));
		ingest_time_format(p[t->n - 1].time_us, 0, b, sizeof(b));
		return svt_err_set(err, SVT_E_NOTFOUND, "time %s is outside the track (%s .. %s)", x,
				   a, b);
	}
	/* Last point with time <= time_us. */
	size_t lo = 0, hi = t->n - 1;
	while (lo < hi) {
		size_t mid = lo + (hi - lo + 1) / 2;
		if (p[mid].time_us <= time_us)
			lo = mid;
		else
			hi = mid - 1;
	}
	size_t i = lo, j = lo + 1 < t->n ? lo + 1 : lo;
	double f = j == i ? 0.0 : (double)(time_us - p[i].time_us) / (double)(p[j].time_us - p[i].time_us);
	double dlon = p[j].lon - p[i].lon;
	if (dlon > 180)
		dlon -= 360;
	else if (dlon < -180)
		dlon += 360;
	double la = p[i].lat + f * (p[j].lat - p[i].lat);
	double lo_ = p[i].lon + f * dlon;
	if (lo_ > 180)
		lo_ -= 360;
	else if (lo_ < -180)
		lo_ += 360;
	if (lat)
		*lat = la;
	if (lon)
		*lon = lo_;
	if (alt)
		*alt = isfinite(p[i].alt) && isfinite(p[j].alt) ? p[i].alt + f * (p[j].alt - p[i].alt)
		       : f < 0.5 ? p[i].alt : p[j].alt;
	if (heading_deg) {
		/* Bearing of the bracketing segment; at the last point, of the one before. A
		 * segment shorter than 0.5 m says nothing about direction. */
		size_t a = i, b = j;
		if (a == b && a > 0)
			a--;
		*heading_deg = a != b && ingest_dist_m(p[a].lat, p[a].lon, p[b].lat, p[b].lon) >= 0.5
				       ? ingest_bearing_deg(p[a].lat, p[a].lon, p[b].lat, p[b].lon)
				       : NAN;
	}
	return SVT_OK;
}
