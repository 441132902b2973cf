/* warp_math.h (private to gpu/): the per-pixel math of the forward warp, shared by the C
 * reference (warp.c) and the kernel (warp.cu) so both evaluate the same operations in the
 * same order (gpu_math.h's rules). */
#ifndef SVT_WARP_MATH_H
#define SVT_WARP_MATH_H

#include "gpu/densify_math.h"
#include "gpu/gpu_math.h"

/* What one warp call needs: T = dst w2c * inverse(src w2c) (rows of [R | t]), both cameras'
 * intrinsics and sizes, the source sampling step (every step-th pixel, at its own centre) and
 * the near plane. Source sample (a, b) is pixel (a step, b step). */
typedef struct gm_warp {
	double T[12];
	double sK[4], dK[4];
	double sifx, sify;   /* 1 / source fx, fy: a multiply per pixel instead of a divide */
	int sw, sh;        /* source samples across, down */
	int dw, dh;        /* target size */
	int step;
	int src_w;         /* source width in pixels (the packed device copy's row) */
	double near_m;
	int footprint;     /* 1: every landing also fills its 2 x 2 footprint (gm_warp_footprint) */
} gm_warp;

#define GM_WARP_EMPTY 0xffffffffffffffffULL

/* Source sample (a, b) with z-depth z -> where it lands in the target (continuous pixel
 * position *pu, *pv: pixel (i, j) covers [i, i + 1) x [j, j + 1)) and its z there; 0 when it
 * lands nowhere (no depth, behind the near plane, its pixel outside the target). */
GM_FN int gm_warp_point(const gm_warp *P, int a, int b, float z, double *pu, double *pv,
			float *dz)
{
	if (!(z > 0.0f) || !(z < 3.0e38f))
		return 0;
	double zz = (double)z;
	double u = GM_DADD((double)(a * P->step), 0.5), v = GM_DADD((double)(b * P->step), 0.5);
	double x = GM_DMUL(GM_DMUL(u - P->sK[2], P->sifx), zz);
	double y = GM_DMUL(GM_DMUL(v - P->sK[3], P->sify), zz);
	const double *T = P->T;
	double X = GM_DADD(GM_DADD(GM_DADD(GM_DMUL(T[0], x), GM_DMUL(T[1], y)), GM_DMUL(T[2], zz)), T[3]);
	double Y = GM_DADD(GM_DADD(GM_DADD(GM_DMUL(T[4], x), GM_DMUL(T[5], y)), GM_DMUL(T[6], zz)), T[7]);
	double Z = GM_DADD(GM_DADD(GM_DADD(GM_DMUL(T[8], x), GM_DMUL(T[9], y)), GM_DMUL(T[10], zz)), T[11]);
	if (!(Z > P->near_m))
		return 0;
	double iz = 1.0 / Z;
	double qu = GM_DADD(GM_DMUL(GM_DMUL(P->dK[0], X), iz), P->dK[2]);
	double qv = GM_DADD(GM_DMUL(GM_DMUL(P->dK[1], Y), iz), P->dK[3]);
	if (!(qu >= 0 && qu < P->dw && qv >= 0 && qv < P->dh))
		return 0;
	*pu = qu;
	*pv = qv;
	*dz = (float)Z;
	return 1;
}

/* The z-buffer key of a landing: nearer first, then the lower source sample, then the pixel
 * the sample falls in before the rest of its footprint (the low bit, fill = 1: what the mask
 * tells apart). Source sample indices stay below 2^31 (sizes up to 2^15 a side). */
GM_FN unsigned long long gm_warp_key(float dz, unsigned idx, unsigned fill)
{
	return ((unsigned long long)gm_f2u(dz) << 32) | (idx << 1) | fill;
}

/* The footprint of a landing at (u, v): the pixel it falls in, and the 2 x 2 block of pixel
 * centres nearest (u, v), starting at (*i0, *j0), at the penalised depth *zf (densify's rule,
 * DZ_NEAR_PENALTY: on one surface every pixel keeps the sample that falls in it and the block
 * only fills the cracks a magnified view leaves; a nearer surface still wins over a crack's
 * farther background). */
GM_FN void gm_warp_footprint(double u, double v, float dz, int *i0, int *j0, float *zf)
{
	*i0 = (int)floor(u - 0.5);
	*j0 = (int)floor(v - 0.5);
	*zf = GM_MUL(dz, DZ_NEAR_PENALTY);
}

/* The z-buffer cells a landing at (u, v) (z dz, source sample s) competes for and its key in
 * each: the pixel it falls in, then, when P asks for a footprint, the other cells of its
 * 2 x 2 block inside the target. Returns how many (at most 5); the C reference and the CUDA
 * kernel each keep the smallest key of every cell their own way. */
GM_FN int gm_warp_splat(const gm_warp *P, double u, double v, float dz, unsigned s,
			size_t cell[5], unsigned long long key[5])
{
	int i = (int)u, j = (int)v; /* u, v >= 0: floor */
	int n = 0;
	cell[n] = (size_t)j * P->dw + i;
	key[n++] = gm_warp_key(dz, s, 0);
	if (!P->footprint)
		return n;
	int i0, j0;
	float zf;
	gm_warp_footprint(u, v, dz, &i0, &j0, &zf);
	unsigned long long kf = gm_warp_key(zf, s, 1);
	for (int y = j0; y <= j0 + 1; y++)
		for (int x = i0; x <= i0 + 1; x++)
			if (x >= 0 && y >= 0 && x < P->dw && y < P->dh && (x != i || y != j)) {
				cell[n] = (size_t)y * P->dw + x;
				key[n++] = kf;
			}
	return n;
}

#endif
