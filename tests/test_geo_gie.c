/* test_geo_gie.c: runs the declarative control-point table tests/geo/control_points.txt
 * (format described at its top, modelled on PROJ's .gie files) through geo/'s public API.
 * Run from the repository root (make test does), or point SVT_GEO_CONTROL_POINTS at it. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "geo/geo.h"

enum op_kind { OP_NONE, OP_CRS, OP_ENU, OP_WMM };

typedef struct gie {
	enum op_kind kind;
	int from, to;
	double enu0[3];
	geo_crs *crs;
	geo_enu *enu;
	int inverse;
	double tol_m;   /* distance tolerance, metres (or nT for wmm) */
	double tol_deg; /* wmm declination tolerance */
	double acc[4];
	int nacc;
	int checks, failures;
} gie;

static int parse_nums(char *s, double *v, int max)
{
	int n = 0;
	char *tok, *save = NULL;
	for (tok = strtok_r(s, " \t", &save); tok && n < max; tok = strtok_r(NULL, " \t", &save)) {
		char *end;
		v[n] = strtod(tok, &end);
		if (*end)
			return -1;
		n++;
	}
	return n;
}

static double unit_m(const char *u)
{
	if (!strcmp(u, "m") || !strcmp(u, "nT"))
		return 1.0;
	if (!strcmp(u, "cm"))
		return 1e-2;
	if (!strcmp(u, "mm"))
		return 1e-3;
	if (!strcmp(u, "um"))
		return 1e-6;
	return NAN;
}

static void release(gie *g)
{
	geo_crs_destroy(g->crs);
	geo_enu_destroy(g->enu);
	g->crs = NULL;
	g->enu = NULL;
}

/* Applies the current operation in one direction to p (3 values). */
static int apply(gie *g, int inverse, double p[3], svt_err *e)
{
	if (g->kind == OP_CRS)
		return inverse ? geo_crs_inverse(g->crs, p, p + 1, p + 2, sizeof(double), 1, e)
			       : geo_crs_forward(g->crs, p, p + 1, p + 2, sizeof(double), 1, e);
	return inverse ? geo_enu_inverse(g->enu, p, p + 1, p + 2, sizeof(double), 1, e)
		       : geo_enu_forward(g->enu, p, p + 1, p + 2, sizeof(double), 1, e);
}

/* Is this output geographic (lon/lat degrees)? */
static int out_geographic(const gie *g, int inverse)
{
	if (g->kind == OP_ENU)
		return inverse;
	return geo_crs_is_geographic(g->crs, !inverse);
}

/* Distance between two outputs: geodesic metres for lon/lat, planar metres otherwise;
 * heights (3rd value) compared separately by the caller when given. */
static double out_dist(const gie *g, int inverse, const double a[3], const double b[3])
{
	if (out_geographic(g, inverse))
		return geo_distance_m(a[1], a[0], b[1], b[0]);
	return hypot(a[0] - b[0], a[1] - b[1]);
}

static void fail(gie *g, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void fail(gie *g, int line, const char *fmt, ...)
{
	va_list ap;
	char msg[512];
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "control_points.txt:%d: %s\n", line, msg);
	g->failures++;
}

static void do_expect(gie *g, int line, char *rest)
{
	svt_err e = {0};
	g->checks++;
	if (g->kind == OP_WMM) {
		double ex[4], b[3];
		if (parse_nums(rest, ex, 4) != 4 || g->nacc != 4) {
			fail(g, line, "wmm needs accept YEAR H_KM LAT LON / expect X Y Z D");
			return;
		}
		geo_wmm_field(g->acc[2], g->acc[3], g->acc[1] * 1000.0, g->acc[0], b);
		double D = atan2(b[1], b[0]) * 180 / M_PI;
		for (int i = 0; i < 3; i++)
			if (!(fabs(b[i] - ex[i]) <= g->tol_m))
				fail(g, line, "wmm component %d: %.2f, expected %.1f (tol %.2f nT)", i,
				     b[i], ex[i], g->tol_m);
		if (!(fabs(D - ex[3]) <= g->tol_deg))
			fail(g, line, "wmm declination %.4f, expected %.2f", D, ex[3]);
		double Dapi = geo_declination_deg(g->acc[2], g->acc[3], g->acc[0]);
		if (g->acc[1] == 0 && fabs(Dapi - D) > 1e-12)
			fail(g, line, "geo_declination_deg %.6f != field's %.6f", Dapi, D);
		return;
	}
	double p[3] = {g->acc[0], g->acc[1], g->nacc > 2 ? g->acc[2] : 0.0};
	int rc = apply(g, g->inverse, p, &e);
	if (!strncmp(rest, "failure", 7)) {
		if (rc == 0)
			fail(g, line, "expected failure, got %.6f %.6f", p[0], p[1]);
		return;
	}
	double ex[3] = {0, 0, 0};
	int ne = parse_nums(rest, ex, 3);
	if (ne < 2) {
		fail(g, line, "bad expect line");
		return;
	}
	if (rc) {
		fail(g, line, "transform failed: %s", e.msg);
		return;
	}
	double d = out_dist(g, g->inverse, p, ex);
	if (!(d <= g->tol_m))
		fail(g, line, "got %.6f %.6f: %.4f mm from %.6f %.6f (tol %.4f mm)", p[0], p[1],
		     d * 1e3, ex[0], ex[1], g->tol_m * 1e3);
	if (ne == 3 && !(fabs(p[2] - ex[2]) <= g->tol_m))
		fail(g, line, "height %.6f, expected %.6f", p[2], ex[2]);
}

static void do_roundtrip(gie *g, int line, char *rest)
{
	double v[2] = {0};
	char unit[8] = "mm";
	int n = 100;
	double tol = 0.1e-3;
	if (sscanf(rest, "%d %lf %7s", &n, &v[0], unit) == 3)
		tol = v[0] * unit_m(unit);
	g->checks++;
	double p[3] = {g->acc[0], g->acc[1], g->nacc > 2 ? g->acc[2] : 0.0};
	/* Round trips start from the accepted input in the block's current direction. */
	for (int i = 0; i < n; i++) {
		svt_err e = {0};
		if (apply(g, g->inverse, p, &e) || apply(g, !g->inverse, p, &e)) {
			fail(g, line, "roundtrip failed at %d: %s", i, e.msg);
			return;
		}
	}
	double d = out_dist(g, !g->inverse, p, g->acc);
	if (!(d <= tol))
		fail(g, line, "roundtrip x%d drifted %.6f mm (tol %.4f mm)", n, d * 1e3, tol * 1e3);
}

Test(geo_gie, control_points)
{
	const char *path = getenv("SVT_GEO_CONTROL_POINTS");
	if (!path)
		path = "tests/geo/control_points.txt";
	FILE *f = fopen(path, "r");
	cr_assert_not_null(f, "cannot open %s (run from the repository root)", path);
	gie g = {.tol_m = 1e-3, .tol_deg = 0.01};
	char buf[512];
	int line = 0;
	while (fgets(buf, sizeof(buf), f)) {
		line++;
		buf[strcspn(buf, "\r\n#")] = '\0';
		char *kw = buf + strspn(buf, " \t");
		if (!*kw)
			continue;
		char *rest = kw + strcspn(kw, " \t");
		if (*rest)
			*rest++ = '\0';
		rest += strspn(rest, " \t");
		if (!strcmp(kw, "operation")) {
			release(&g);
			g.inverse = 0;
			g.nacc = 0;
			char what[16];
			double a, b, c;
			svt_err e = {0};
			if (sscanf(rest, "crs %d %d", &g.from, &g.to) == 2) {
				g.kind = OP_CRS;
				if (geo_crs_create_pair(g.from, g.to, &g.crs, &e))
					fail(&g, line, "crs %d -> %d: %s", g.from, g.to, e.msg);
			} else if (sscanf(rest, "enu %lf %lf %lf", &a, &b, &c) == 3) {
				g.kind = OP_ENU;
				if (geo_enu_create(a, b, c, &g.enu, &e))
					fail(&g, line, "enu: %s", e.msg);
			} else if (sscanf(rest, "%15s", what) == 1 && !strcmp(what, "wmm")) {
				g.kind = OP_WMM;
			} else {
				fail(&g, line, "unknown operation '%s'", rest);
				g.kind = OP_NONE;
			}
		} else if (!strcmp(kw, "direction")) {
			g.inverse = !strcmp(rest, "inverse");
		} else if (!strcmp(kw, "tolerance")) {
			double v;
			char unit[8];
			if (sscanf(rest, "%lf %7s", &v, unit) != 2 || isnan(unit_m(unit)))
				fail(&g, line, "bad tolerance '%s'", rest);
			else
				g.tol_m = v * unit_m(unit);
		} else if (!strcmp(kw, "tolerance_deg")) {
			g.tol_deg = atof(rest);
		} else if (!strcmp(kw, "accept")) {
			g.nacc = parse_nums(rest, g.acc, 4);
			if (g.nacc < 2)
				fail(&g, line, "bad accept line");
		} else if (!strcmp(kw, "expect")) {
			if (g.kind == OP_NONE || (g.kind != OP_WMM && !g.crs && !g.enu))
				fail(&g, line, "expect without a working operation");
			else
				do_expect(&g, line, rest);
		} else if (!strcmp(kw, "roundtrip")) {
			if (g.kind == OP_CRS || g.kind == OP_ENU)
				do_roundtrip(&g, line, rest);
			else
				fail(&g, line, "roundtrip needs crs or enu");
		} else {
			fail(&g, line, "unknown keyword '%s'", kw);
		}
	}
	fclose(f);
	release(&g);
	fprintf(stderr, "control points: %d checks, %d failures\n", g.checks, g.failures);
	cr_assert_geq(g.checks, 30, "the table ran only %d checks", g.checks);
	cr_assert_eq(g.failures, 0, "%d control-point failures (see stderr)", g.failures);
}
