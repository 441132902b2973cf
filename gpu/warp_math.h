/* warp_math.h (private to gpu/): the per-pixel math of the forward warp, shared by the C
 * reference (warp.c) and the kernel (warp.cu) so both evaluate the same operations in the
 * same order (gpu_math.h's rules). */
#ifndef SVT_WARP_MATH_H
#define SVT_WARP_MATH_H

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
} gm_warp;

#define GM_WARP_EMPTY 0xffffffffffffffffULL

/* Source sample (a, b) with z-depth z -> its target pixel and z; 0 when it lands nowhere
 * (no depth, behind the near plane, outside). */
GM_FN int gm_warp_pixel(const gm_warp *P, int a, int b, float z, int *di, int *dj, float *dz)
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
	double pu = floor(GM_DADD(GM_DMUL(GM_DMUL(P->dK[0], X), iz), P->dK[2]));
	double pv = floor(GM_DADD(GM_DMUL(GM_DMUL(P->dK[1], Y), iz), P->dK[3]));
	if (!(pu >= 0 && pu < P->dw && pv >= 0 && pv < P->dh))
		return 0;
	*di = (int)pu;
	*dj = (int)pv;
	*dz = (float)Z;
	return 1;
}

/* The z-buffer key of a landing: nearer first, then the lower source sample. */
GM_FN unsigned long long gm_warp_key(float dz, unsigned idx)
{
	return ((unsigned long long)gm_f2u(dz) << 32) | idx;
}

#endif
