/* ingest_xmp.c: GPano (and the exif: GPS copy) from an XMP packet, parsed with libxml2.
 *
 * XMP writes a property either as an attribute of rdf:Description or as a child element of it
 * (<GPano:PoseHeadingDegrees>176.3</GPano:PoseHeadingDegrees>): both forms are read, matched
 * by namespace URI, never by prefix (writers choose their own prefixes).
 */
#include "ingest/ingest_internal.h"

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char NS_GPANO[] = "http://ns.google.com/photos/1.0/panorama/";
static const char NS_EXIF[] = "http://ns.adobe.com/exif/1.0/";

static pthread_once_t xml_once = PTHREAD_ONCE_INIT;
static void xml_init(void) { xmlInitParser(); }

/* libxml2 prints some errors (encoding conversion) to stderr even with XML_PARSE_NOERROR; the
 * message reaches the caller through svt_err instead. The handlers are per thread. */
static void xml_quiet(void *ctx, const char *msg, ...)
{
	(void)ctx;
	(void)msg;
}

typedef struct xmp_gps {
	int have_lat, have_lon, have_alt, have_dir, alt_below;
	char dir_ref;
	double lat, lon, alt, dir;
} xmp_gps;

static int parse_int(const char *s, int *out)
{
	double v;
	if (ingest_parse_number(s, &v) || v < -2147483647.0 || v > 2147483647.0 || v != floor(v))
		return -1;
	*out = (int)v;
	return 0;
}

/* XMP rationals are written "1361690/1000"; plain numbers are accepted too. */
static int parse_rational(const char *s, double *out)
{
	long long n, d;
	char tail;
	if (sscanf(s, "%lld/%lld%c", &n, &d, &tail) == 2) {
		if (d == 0)
			return -1;
		*out = (double)n / (double)d;
		return 0;
	}
	return ingest_parse_number(s, out);
}

/* Adobe XMP GPS coordinate: "DDD,MM,SSk" or "DDD,MM.mmk", k one of NSEW. */
static int parse_xmp_coord(const char *s, double *out)
{
	size_t n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\n'))
		n--;
	if (n < 2 || n > 63)
		return -1;
	char k = s[n - 1];
	if (k != 'N' && k != 'S' && k != 'E' && k != 'W')
		return -1;
	char tmp[64];
	memcpy(tmp, s, n - 1);
	tmp[n - 1] = 0;
	double d, m, sec = 0;
	char c;
	if (sscanf(tmp, "%lf,%lf,%lf%c", &d, &m, &sec, &c) != 3 &&
	    !(sscanf(tmp, "%lf,%lf%c", &d, &m, &c) == 2 && (sec = 0, 1)))
		return -1;
	if (d < 0 || m < 0 || m >= 60 || sec < 0 || sec >= 60)
		return -1;
	double v = d + m / 60.0 + sec / 3600.0;
	*out = (k == 'S' || k == 'W') ? -v : v;
	return 0;
}

/* A pose angle in [lo, hi] (a heading of 360 is 0); NAN when val is no number, and also when
 * it is one out of range, which m then records as ignored. */
static double pose_angle(ingest_meta *m, const char *val, double lo, double hi)
{
	double d;
	if (ingest_parse_number(val, &d))
		return NAN;
	if (!(d >= lo && d <= hi)) {
		m->ignored |= INGEST_IGN_POSE;
		return NAN;
	}
	return hi == 360 && d == 360 ? 0 : d;
}

static void gpano_prop(ingest_meta *m, const char *name, const char *val)
{
	ingest_gpano *g = &m->gpano;
	int known = 1;
	if (!strcmp(name, "ProjectionType"))
		g->equirectangular = !strcmp(val, "equirectangular");
	/* The pose within the ranges GPano gives them (heading [0, 360], pitch [-90, 90], roll
	 * [-180, 180]); a value outside is a corrupt tag and reads as none (the heading then
	 * comes from EXIF or the direction of travel, said in the frame's flags). */
	else if (!strcmp(name, "PoseHeadingDegrees"))
		g->pose_heading = pose_angle(m, val, 0, 360);
	else if (!strcmp(name, "PosePitchDegrees"))
		g->pose_pitch = pose_angle(m, val, -90, 90);
	else if (!strcmp(name, "PoseRollDegrees"))
		g->pose_roll = pose_angle(m, val, -180, 180);
	else if (!strcmp(name, "FullPanoWidthPixels"))
		known = !parse_int(val, &g->full_w);
	else if (!strcmp(name, "FullPanoHeightPixels"))
		known = !parse_int(val, &g->full_h);
	else if (!strcmp(name, "CroppedAreaImageWidthPixels"))
		known = !parse_int(val, &g->crop_w);
	else if (!strcmp(name, "CroppedAreaImageHeightPixels"))
		known = !parse_int(val, &g->crop_h);
	else if (!strcmp(name, "CroppedAreaLeftPixels"))
		known = !parse_int(val, &g->crop_left);
	else if (!strcmp(name, "CroppedAreaTopPixels"))
		known = !parse_int(val, &g->crop_top);
	else
		known = 0; /* UsePanoramaViewer, capture software...: not ours */
	if (known)
		m->has |= INGEST_HAS_GPANO;
}

static void exif_prop(xmp_gps *g, const char *name, const char *val)
{
	if (!strcmp(name, "GPSLatitude"))
		g->have_lat = !parse_xmp_coord(val, &g->lat);
	else if (!strcmp(name, "GPSLongitude"))
		g->have_lon = !parse_xmp_coord(val, &g->lon);
	else if (!strcmp(name, "GPSAltitude"))
		g->have_alt = !parse_rational(val, &g->alt);
	else if (!strcmp(name, "GPSAltitudeRef"))
		g->alt_below = !strcmp(val, "1");
	else if (!strcmp(name, "GPSImgDirection"))
		g->have_dir = !parse_rational(val, &g->dir);
	else if (!strcmp(name, "GPSImgDirectionRef"))
		g->dir_ref = (val[0] == 'T' || val[0] == 'M') && !val[1] ? val[0] : '?';
}

static void prop(ingest_meta *m, xmp_gps *g, const xmlChar *ns, const xmlChar *name,
		 const char *val)
{
	if (!ns || !name || !val)
		return;
	if (!strcmp((const char *)ns, NS_GPANO))
		gpano_prop(m, (const char *)name, val);
	else if (!strcmp((const char *)ns, NS_EXIF))
		exif_prop(g, (const char *)name, val);
}

/* Iterative walk: hostile XMP can nest deeply, recursion could blow the stack. */
static void walk(xmlNode *root, ingest_meta *m, xmp_gps *g)
{
	xmlNode *n = root;
	while (n) {
		if (n->type == XML_ELEMENT_NODE) {
			for (xmlAttr *a = n->properties; a; a = a->next) {
				if (!a->ns)
					continue;
				xmlChar *v = xmlNodeListGetString(n->doc, a->children, 1);
				prop(m, g, a->ns->href, a->name, (const char *)v);
				xmlFree(v);
			}
			/* Element form: a property element holding only text. */
			if (n->ns && n->children && n->children->type == XML_TEXT_NODE &&
			    !n->children->next) {
				xmlChar *v = xmlNodeGetContent(n);
				prop(m, g, n->ns->href, n->name, (const char *)v);
				xmlFree(v);
			}
		}
		if (n->children && n->type == XML_ELEMENT_NODE) {
			n = n->children;
			continue;
		}
		while (n && !n->next && n != root)
			n = n->parent;
		if (!n || n == root)
			break;
		n = n->next;
	}
}

int ingest_xmp_parse(const uint8_t *xmp, size_t len, ingest_meta *meta, svt_err *err)
{
	pthread_once(&xml_once, xml_init);
	/* Packets are padded with spaces and sometimes NULs after the trailer. */
	while (len > 0 && (xmp[len - 1] == 0 || xmp[len - 1] == ' ' || xmp[len - 1] == '\n' ||
			   xmp[len - 1] == '\r' || xmp[len - 1] == '\t'))
		len--;
	if (len == 0)
		return SVT_OK;
	if (len > 0x7fffffff)
		return svt_err_set(err, SVT_E_FORMAT, "XMP packet of %zu bytes is too large", len);
	/* No network, no entity substitution, no DTD loading: the packet is untrusted. */
	xmlGenericErrorFunc old_fn = xmlGenericError;
	void *old_ctx = xmlGenericErrorContext;
	xmlSetGenericErrorFunc(NULL, xml_quiet);
	xmlDoc *doc = xmlReadMemory((const char *)xmp, (int)len, "xmp.xml", NULL,
				    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	xmlSetGenericErrorFunc(old_ctx, old_fn);
	if (!doc) {
		const xmlError *e = xmlGetLastError();
		char msg[160] = "not well-formed";
		if (e && e->message) {
			snprintf(msg, sizeof(msg), "%s", e->message);
			size_t n = strlen(msg);
			while (n && msg[n - 1] == '\n')
				msg[--n] = 0;
		}
		return svt_err_set(err, SVT_E_FORMAT, "XMP does not parse: %s (line %d)", msg,
				   e ? e->line : 0);
	}
	xmp_gps g = {0};
	xmlNode *root = xmlDocGetRootElement(doc);
	if (root)
		walk(root, meta, &g);
	xmlFreeDoc(doc);
	/* The XMP copy of the GPS position is only a fallback: EXIF is the primary record. */
	if (!(meta->has & INGEST_HAS_GPS) && g.have_lat && g.have_lon && fabs(g.lat) <= 90 &&
	    fabs(g.lon) <= 180) {
		meta->lat = g.lat;
		meta->lon = g.lon;
		meta->has |= INGEST_HAS_GPS;
		meta->src_gps = INGEST_SRC_XMP;
		double a = g.alt_below ? -fabs(g.alt) : g.alt;
		if (g.have_alt && !(meta->has & INGEST_HAS_ALT) && !ingest_alt_plausible(a))
			meta->ignored |= INGEST_IGN_ALT;
		if (g.have_alt && !(meta->has & INGEST_HAS_ALT) && ingest_alt_plausible(a)) {
			meta->alt = a;
			meta->has |= INGEST_HAS_ALT;
			meta->src_alt = INGEST_SRC_XMP;
		}
	}
	if (!(meta->has & INGEST_HAS_HEADING) && g.have_dir && g.dir >= 0 && g.dir <= 360) {
		meta->heading = g.dir >= 360 ? 0 : g.dir;
		meta->heading_ref = g.dir_ref ? g.dir_ref : '?';
		meta->has |= INGEST_HAS_HEADING;
		meta->src_heading = INGEST_SRC_XMP;
	}
	return SVT_OK;
}
