/* transient.c: what changes between capture runs of the same street: parked cars at the kerbs,
 * pedestrians on the sidewalks and the light (time of day). The buildings, road and poles come
 * from the scene's seed alone, so every run sees the same static city; the transients come
 * from (seed, run), so no two runs share a car. This is the ground truth the cross-temporal
 * reference tests check against (ANCHORS.md section 6: references from another run must not
 * copy transients). The lateral offsets follow scene.c's cross-section (v positive to the
 * left of travel): road [-5.25, 22.75], sidewalks 6 m beyond both edges.
 */
#include "samples/samples.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RUN_STREAM 0x7a4e51u /* seed stream of the transients, apart from the scene's */

static const float CAR_COLOURS[][3] = {
	{0.92f, 0.92f, 0.90f}, {0.08f, 0.08f, 0.09f}, {0.55f, 0.56f, 0.58f}, {0.62f, 0.08f, 0.07f},
	{0.10f, 0.20f, 0.45f}, {0.80f, 0.80f, 0.82f}, {0.20f, 0.30f, 0.22f},
};

static int push(smp_tbox **b, int *n, int *cap, const smp_tbox *t)
{
	if (*n == *cap) {
		int nc = *cap ? 2 * *cap : 64;
		smp_tbox *p = realloc(*b, (size_t)nc * sizeof(*p));
		if (!p)
			return -1;
		*b = p;
		*cap = nc;
	}
	(*b)[(*n)++] = *t;
	return 0;
}

int smp_run_make(const double (*path)[2], int n, uint64_t seed, int run, double ground_u,
		 smp_tbox **boxes, int *nboxes, smp_run_look *look, svt_err *err)
{
	*boxes = NULL;
	*nboxes = 0;
	memset(look, 0, sizeof(*look));
	smp_rng r;
	smp_rng_init(&r, seed ^ smp_hash64((uint64_t)run), RUN_STREAM);
	smp_tbox *b = NULL;
	int nb = 0, cap = 0;
	for (int k = 0; k + 1 < n; k++) {
		double ex = path[k + 1][0] - path[k][0], ey = path[k + 1][1] - path[k][1];
		double L = hypot(ex, ey);
		if (L < 1.0)
			continue;
		double ux = ex / L, uy = ey / L, lx = -uy, ly = ux; /* along, left */
		/* Parked cars: one slot every 7 m at each kerb, taken with probability 0.45 (the
		 * first and last 10 m of a segment stay free: junctions). */
		for (int side = 0; side < 2; side++) {
			double v = side ? 22.75 - 1.15 : -5.25 + 1.15;
			for (double a = 10.0; a < L - 10.0; a += 7.0) {
				if (smp_rng_uniform(&r, 0, 1) >= 0.45) {
					smp_rng_uniform(&r, 0, 1); /* keep the stream aligned */
					continue;
				}
				int col = (int)smp_rng_uniform(&r, 0, (double)SVT_ARRAY_LEN(CAR_COLOURS));
				double s = a + smp_rng_uniform(&r, -1.0, 1.0);
				smp_tbox t = {.cx = path[k][0] + ux * s + lx * v,
					      .cy = path[k][1] + uy * s + ly * v,
					      .hx = 2.3, .hy = 0.92, .z0 = ground_u,
					      .z1 = ground_u + 1.45, .ca = ux, .sa = uy, .kind = 0};
				memcpy(t.rgb, CAR_COLOURS[col % (int)SVT_ARRAY_LEN(CAR_COLOURS)],
				       sizeof(t.rgb));
				if (push(&b, &nb, &cap, &t))
					goto nomem;
			}
		}
		/* Pedestrians: about one per 9 m of each sidewalk, anywhere across it. */
		for (int side = 0; side < 2; side++) {
			for (double a = 5.0; a < L - 5.0; a += 9.0) {
				if (smp_rng_uniform(&r, 0, 1) >= 0.6) {
					smp_rng_uniform(&r, 0, 1);
					smp_rng_uniform(&r, 0, 1);
					continue;
				}
				double v = side ? smp_rng_uniform(&r, 23.5, 28.0)
						: smp_rng_uniform(&r, -10.5, -6.0);
				double s = a + smp_rng_uniform(&r, -3.0, 3.0);
				float shade = (float)(0.15 + 0.6 * fmod(s * 0.37 + v, 1.0));
				smp_tbox t = {.cx = path[k][0] + ux * s + lx * v,
					      .cy = path[k][1] + uy * s + ly * v,
					      .hx = 0.25, .hy = 0.22, .z0 = ground_u,
					      .z1 = ground_u + 1.72, .ca = ux, .sa = uy, .kind = 1,
					      .rgb = {shade, 0.5f * shade + 0.1f, 0.3f}};
				if (push(&b, &nb, &cap, &t))
					goto nomem;
			}
		}
	}
	/* Time of day: a warmer or cooler light, within -12 % .. +6 % of the default capture. */
	double g = smp_uniform(seed, RUN_STREAM, (uint64_t)run, 0.88, 1.06);
	double tint = smp_uniform(seed, RUN_STREAM + 1, (uint64_t)run, -0.03, 0.03);
	look->gain[0] = g * (1 + tint);
	look->gain[1] = g;
	look->gain[2] = g * (1 - tint);
	look->n_gain = 3;
	look->boxes = b;
	look->n = nb;
	*boxes = b;
	*nboxes = nb;
	return SVT_OK;
nomem:
	free(b);
	return svt_err_set(err, SVT_E_NOMEM, "transients: out of memory");
}

double smp_tbox_hit(const smp_tbox *b, const double o[3], const double d[3], int *face)
{
	/* Into the box's axes: x along, y across. */
	double rx = o[0] - b->cx, ry = o[1] - b->cy;
	double lo[3] = {rx * b->ca + ry * b->sa, -rx * b->sa + ry * b->ca, o[2]};
	double ld[3] = {d[0] * b->ca + d[1] * b->sa, -d[0] * b->sa + d[1] * b->ca, d[2]};
	double mn[3] = {-b->hx, -b->hy, b->z0}, mx[3] = {b->hx, b->hy, b->z1};
	double tn = -DBL_MAX, tf = DBL_MAX;
	int axis = -1;
	for (int i = 0; i < 3; i++) {
		if (fabs(ld[i]) < 1e-15) {
			if (lo[i] < mn[i] || lo[i] > mx[i])
				return DBL_MAX;
			continue;
		}
		double t0 = (mn[i] - lo[i]) / ld[i], t1 = (mx[i] - lo[i]) / ld[i];
		if (t0 > t1) {
			double t = t0;
			t0 = t1, t1 = t;
		}
		if (t0 > tn)
			tn = t0, axis = i;
		if (t1 < tf)
			tf = t1;
		if (tn > tf)
			return DBL_MAX;
	}
	if (tn <= 1e-6 || axis < 0)
		return DBL_MAX;
	*face = axis == 2 ? 4 : 2 * axis + (ld[axis] > 0 ? 1 : 0);
	return tn;
}

void smp_tbox_shade(const smp_tbox *b, int face, const double sun[3], double c[3])
{
	double n[3] = {0, 0, 1};
	if (face < 4) {
		/* Face 2 axis + 1: the ray ran along +axis and entered the low face (normal -axis). */
		double ax = face < 2 ? b->ca : -b->sa, ay = face < 2 ? b->sa : b->ca;
		double sg = (face & 1) ? -1.0 : 1.0;
		n[0] = sg * ax, n[1] = sg * ay, n[2] = 0;
	}
	double lam = n[0] * sun[0] + n[1] * sun[1] + n[2] * sun[2];
	double k = 0.5 + 0.5 * (lam > 0 ? lam : 0);
	for (int i = 0; i < 3; i++)
		c[i] = b->rgb[i] * k;
	/* Windows on a car's upper half read darker. */
	if (b->kind == 0 && face < 4)
		for (int i = 0; i < 3; i++)
			c[i] *= 0.9;
}

