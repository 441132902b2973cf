/* cmd_geo.c: `svtwin geo`: transforms points read on standard input through geo/'s own batch
 * path, so that a user can check any point against another tool (cs2cs, cct, pyproj).
 *
 * Lines are read in batches of 65536 points, each batch goes through one proj_trans_generic
 * call (geo_crs_* / geo_enu_*), and output is written through a large stdio buffer rather
 * than one write per line. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "geo/geo.h"

#define BATCH 65536

static void usage(FILE *f)
{
	fprintf(f,
		"usage: svtwin geo [--to EPSG:N] [--from EPSG:M] [--inverse] [--strict] [-p DIGITS]\n"
		"       svtwin geo --enu LAT,LON,H [--inverse] [--strict] [-p DIGITS]\n"
		"\n"
		"Reads points on standard input, one per line, and prints them transformed.\n"
		"  --to EPSG:N      target CRS (default EPSG:%d); input is `lon lat [h]` (degrees,\n"
		"                   WGS84), output `easting northing [h]` whatever the EPSG axis order\n"
		"  --from EPSG:M    source CRS instead of WGS84 (EPSG:4326): input `E N [h]` of M\n"
		"  --inverse        the other way: input in --to's CRS, output in --from's\n"
		"  --enu LAT,LON,H  local east-north-up frame at that origin: input `lon lat [h]`,\n"
		"                   output `e n u` in metres (with --inverse: `e n u` -> `lon lat h`)\n"
		"  -p, --precision  decimals printed (default 4 for metres = 0.1 mm, 9 for degrees)\n"
		"  --strict         stop at the first bad line (default: report it and go on)\n"
		"\n"
		"Numbers are separated by spaces, tabs or commas; text after the numbers is copied\n"
		"through. Blank lines and lines starting with '#' are copied unchanged, so output line\n"
		"k always answers input line k. A line that does not parse, or that PROJ cannot\n"
		"transform, prints `* *` in its place and a message with its line number on stderr;\n"
		"the exit status is then 1 (with --strict, processing stops at that line).\n",
		GEO_EPSG_DEFAULT);
}

static int parse_epsg(const char *s, int *out)
{
	if (!strncasecmp(s, "EPSG:", 5))
		s += 5;
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || *end || v <= 0 || v > 999999)
		return -1;
	*out = (int)v;
	return 0;
}

/* One batch of input lines. Lines that are not points keep their text in `pass`. */
typedef struct batch {
	size_t n;
	double x[BATCH], y[BATCH], z[BATCH];
	unsigned char has_z[BATCH];
	unsigned char kind[BATCH]; /* 0 point, 1 copy through, 2 parse error */
	size_t line_no[BATCH];
	size_t tail_off[BATCH]; /* offset into text (trailing text or the copied line) */
	char *text;
	size_t text_len, text_cap;
} batch;

static int text_add(batch *b, const char *s, size_t len, size_t *off)
{
	if (b->text_len + len + 1 > b->text_cap) {
		size_t cap = b->text_cap ? b->text_cap * 2 : 1 << 20;
		while (cap < b->text_len + len + 1)
			cap *= 2;
		char *t = realloc(b->text, cap);
		if (!t)
			return -1;
		b->text = t;
		b->text_cap = cap;
	}
	*off = b->text_len;
	memcpy(b->text + b->text_len, s, len);
	b->text[b->text_len + len] = '\0';
	b->text_len += len + 1;
	return 0;
}

static const char *skip_sep(const char *p)
{
	while (*p == ' ' || *p == '\t' || *p == ',')
		p++;
	return p;
}

/* Parses `a b [c] [trailing text]`; returns the number of numbers (2 or 3) or -1. */
static int parse_point(const char *s, double v[3], const char **tail)
{
	const char *p = skip_sep(s);
	int n = 0;
	while (n < 3) {
		char *end;
		if (!*p)
			break;
		double d = strtod(p, &end);
		if (end == p || (*end && !strchr(" \t,", *end)))
			break;
		if (!isfinite(d))
			return -1;
		v[n++] = d;
		p = skip_sep(end);
	}
	if (n < 2)
		return -1;
	*tail = p;
	return n;
}

typedef struct run {
	geo_crs *crs;
	geo_enu *enu;
	int inverse, strict, prec_z, prec_out, geo_out;
	size_t errors;
} run;

static void print_num(FILE *o, double v, int prec)
{
	/* avoid "-0.0000" for values that round to zero */
	if (fabs(v) < 0.5 * pow(10, -prec))
		v = 0.0;
	fprintf(o, "%.*f", prec, v);
}

/* Transforms the batch's points and prints every line; returns 0 or 1 (stop: --strict). */
static int batch_flush(run *r, batch *b, FILE *o)
{
	size_t np = 0;
	/* compact the points into the front of x/y/z for one proj_trans_generic call */
	for (size_t i = 0; i < b->n; i++)
		if (b->kind[i] == 0) {
			b->x[np] = b->x[i];
			b->y[np] = b->y[i];
			b->z[np] = b->z[i];
			np++;
		}
	svt_err e = {0}; /* per-point failures are reported line by line below */
	if (np) {
		if (r->enu)
			r->inverse ? geo_enu_inverse(r->enu, b->x, b->y, b->z, sizeof(double), np, &e)
				   : geo_enu_forward(r->enu, b->x, b->y, b->z, sizeof(double), np, &e);
		else
			r->inverse ? geo_crs_inverse(r->crs, b->x, b->y, b->z, sizeof(double), np, &e)
				   : geo_crs_forward(r->crs, b->x, b->y, b->z, sizeof(double), np, &e);
	}
	/* The results sit at 0..np-1; walk the lines in order, consuming points. */
	size_t k = 0;
	for (size_t i = 0; i < b->n; i++) {
		if (b->kind[i] == 1) {
			fputs(b->text + b->tail_off[i], o);
			fputc('\n', o);
			continue;
		}
		if (b->kind[i] == 2) {
			fputs("* *\n", o);
			continue; /* message already printed while parsing */
		}
		size_t j = k++;
		if (!isfinite(b->x[j]) || !isfinite(b->y[j])) {
			fputs("* *\n", o);
			fprintf(stderr,
				"svtwin geo: line %zu: PROJ cannot transform this point (outside the"
				" CRS's domain or not a valid coordinate)\n",
				b->line_no[i]);
			r->errors++;
			if (r->strict)
				return 1;
			continue;
		}
		print_num(o, b->x[j], r->prec_out);
		fputc(' ', o);
		print_num(o, b->y[j], r->prec_out);
		/* ENU work always prints 3 components (u or h); otherwise h only where given */
		if (b->has_z[i] || r->enu) {
			fputc(' ', o);
			print_num(o, b->z[j], r->prec_z);
		}
		const char *tail = b->text + b->tail_off[i];
		if (*tail) {
			fputc(' ', o);
			fputs(tail, o);
		}
		fputc('\n', o);
	}
	b->n = 0;
	b->text_len = 0;
	return 0;
}

int cmd_geo(int argc, char **argv)
{
	int to = 0, from = 4326, inverse = 0, strict = 0, prec = -1, have_enu = 0;
	double enu0[3] = {0, 0, 0};
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(a, "--to") && v) {
			if (parse_epsg(v, &to)) {
				fprintf(stderr, "svtwin geo: bad --to '%s' (want EPSG:N)\n", v);
				return 2;
			}
			i++;
		} else if (!strcmp(a, "--from") && v) {
			if (parse_epsg(v, &from)) {
				fprintf(stderr, "svtwin geo: bad --from '%s' (want EPSG:N)\n", v);
				return 2;
			}
			i++;
		} else if (!strcmp(a, "--enu") && v) {
			int en = 0;
			if (sscanf(v, "%lf,%lf,%lf%n", &enu0[0], &enu0[1], &enu0[2], &en) != 3 || v[en] ||
			    !isfinite(enu0[0]) || !isfinite(enu0[1]) || !isfinite(enu0[2])) {
				fprintf(stderr, "svtwin geo: bad --enu '%s' (want LAT,LON,H)\n", v);
				return 2;
			}
			have_enu = 1;
			i++;
		} else if (!strcmp(a, "--inverse")) {
			inverse = 1;
		} else if (!strcmp(a, "--strict")) {
			strict = 1;
		} else if ((!strcmp(a, "-p") || !strcmp(a, "--precision")) && v) {
			long long pv;
			svt_err perr = {0};
			if (svt_parse_int("--precision", v, 0, 15, &pv, &perr)) {
				fprintf(stderr, "svtwin geo: %s\n", perr.msg);
				return 2;
			}
			prec = (int)pv;
			i++;
		} else {
			fprintf(stderr, "svtwin geo: unknown or incomplete option '%s'\n", a);
			usage(stderr);
			return 2;
		}
	}
	if (have_enu && (to || from != 4326)) {
		fprintf(stderr, "svtwin geo: --enu works from WGS84 lon/lat; drop --to/--from\n");
		return 2;
	}
	if (!to)
		to = GEO_EPSG_DEFAULT;

	run r = {.inverse = inverse, .strict = strict};
	svt_err e = {0};
	int rc = 0;
	batch *b = calloc(1, sizeof(*b));
	char *line = NULL;
	size_t cap = 0;
	static char obuf[1 << 20];
	if (!b) {
		fprintf(stderr, "svtwin geo: out of memory\n");
		return 1;
	}
	if (have_enu) {
		if (geo_enu_create(enu0[0], enu0[1], enu0[2], &r.enu, &e)) {
			rc = cli_fail("geo", &e);
			goto done;
		}
		r.geo_out = inverse;
	} else {
		if (geo_crs_create_pair(from, to, &r.crs, &e)) {
			rc = cli_fail("geo", &e);
			goto done;
		}
		r.geo_out = geo_crs_is_geographic(r.crs, inverse ? 0 : 1);
	}
	r.prec_out = prec >= 0 ? prec : (r.geo_out ? 9 : 4);
	r.prec_z = prec >= 0 ? prec : 4; /* heights and up are metres */
	setvbuf(stdout, obuf, _IOFBF, sizeof(obuf));

	size_t line_no = 0;
	ssize_t len;
	while ((len = getline(&line, &cap, stdin)) >= 0) {
		line_no++;
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		size_t i = b->n;
		b->line_no[i] = line_no;
		const char *s = skip_sep(line);
		double v[3];
		const char *tail;
		int k;
		if (!*s || *s == '#') {
			b->kind[i] = 1;
			if (text_add(b, line, (size_t)len, &b->tail_off[i]))
				goto nomem;
		} else if ((k = parse_point(line, v, &tail)) < 0) {
			fprintf(stderr, "svtwin geo: line %zu: expected 2 or 3 numbers, got '%.60s'\n",
				line_no, line);
			r.errors++;
			b->kind[i] = 2;
			b->tail_off[i] = 0;
			if (strict) {
				b->n++;
				batch_flush(&r, b, stdout);
				rc = 1;
				goto done;
			}
		} else {
			b->kind[i] = 0;
			b->x[i] = v[0];
			b->y[i] = v[1];
			b->z[i] = k == 3 ? v[2] : 0.0;
			b->has_z[i] = k == 3;
			if (text_add(b, tail, strlen(tail), &b->tail_off[i]))
				goto nomem;
		}
		if (++b->n == BATCH && batch_flush(&r, b, stdout)) {
			rc = 1;
			goto done;
		}
	}
	if (b->n && batch_flush(&r, b, stdout))
		rc = 1;
	if (r.errors)
		rc = 1;
	goto done;
nomem:
	fprintf(stderr, "svtwin geo: out of memory\n");
	rc = 1;
done:
	if (fflush(stdout) != 0 && !rc) {
		fprintf(stderr, "svtwin geo: write failed: %s\n", strerror(errno));
		rc = 1;
	}
	if (r.errors)
		fprintf(stderr, "svtwin geo: %zu line(s) failed\n", r.errors);
	free(line);
	if (b)
		free(b->text);
	free(b);
	geo_crs_destroy(r.crs);
	geo_enu_destroy(r.enu);
	return rc;
}
