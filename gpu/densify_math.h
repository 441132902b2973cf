/* densify_math.h (private to gpu/): the per-pixel steps of the densify splat and blend, shared
 * by the C reference (densify.c) and the kernels (densify.cu) so both evaluate the same double
 * operations in the same order (no FMA contraction: GM_DMUL / GM_DADD on the device). */
#ifndef SVT_DENSIFY_MATH_H
#define SVT_DENSIFY_MATH_H

#include <stdint.h>

#include "gpu/gpu_math.h"

/* A source projected into the target: M = w2c_target * c2w_source (3 x 4, row-major). */
typedef struct dz_params {
	double M[12];
	double sK[4], tK[4]; /* source and target fx, fy, cx, cy */
	int W, H;
	int wb;              /* blend weight of source b in 1/256 */
} dz_params;

#define DZ_EMPTY 0xffffffffffffffffull

/* A neighbour splat counts this much farther than the pixel the point falls in, so that on
 * one surface every target pixel takes the point that falls in it and the footprint only
 * fills cracks (a plain 2 x 2 minimum would shift the image by half a pixel). */
#define DZ_NEAR_PENALTY 1.01f

/* Source pixel (x, y) with depth z: the target pixel its footprint starts at (ix, iy: the
 * 2 x 2 block ix..ix+1, iy..iy+1), the pixel it falls in (ex, ey) and the z-buffer keys
 * (depth bits << 32 | pixel index) there (*key) and in the rest of the block (*knear);
 * 0 when it lands behind the target camera. Far points are at FLT_MAX (infinity for the
 * neighbours). */
GM_FN int dz_project(const dz_params *p, int x, int y, float z, int *ix, int *iy, int *ex,
		     int *ey, uint64_t *key, uint64_t *knear)
{
	double rx = ((double)x + 0.5 - p->sK[2]) / p->sK[0];
	double ry = ((double)y + 0.5 - p->sK[3]) / p->sK[1];
	if (z != z)
		return 0; /* NaN: no depth known, not splatted */
	int far = !(z > 0.0f) || !(z < 1e30f);
	const double *M = p->M;
	double X, Y, Z;
	if (far) { /* a direction: rotation only */
		X = GM_DADD(GM_DADD(GM_DMUL(M[0], rx), GM_DMUL(M[1], ry)), M[2]);
		Y = GM_DADD(GM_DADD(GM_DMUL(M[4], rx), GM_DMUL(M[5], ry)), M[6]);
		Z = GM_DADD(GM_DADD(GM_DMUL(M[8], rx), GM_DMUL(M[9], ry)), M[10]);
	} else {
		double zd = (double)z, px = GM_DMUL(rx, zd), py = GM_DMUL(ry, zd);
		X = GM_DADD(GM_DADD(GM_DADD(GM_DMUL(M[0], px), GM_DMUL(M[1], py)), GM_DMUL(M[2], zd)), M[3]);
		Y = GM_DADD(GM_DADD(GM_DADD(GM_DMUL(M[4], px), GM_DMUL(M[5], py)), GM_DMUL(M[6], zd)), M[7]);
		Z = GM_DADD(GM_DADD(GM_DADD(GM_DMUL(M[8], px), GM_DMUL(M[9], py)), GM_DMUL(M[10], zd)), M[11]);
	}
	if (!(Z > 1e-6))
		return 0;
	double u = GM_DADD(GM_DMUL(p->tK[0], X / Z), p->tK[2]);
	double v = GM_DADD(GM_DMUL(p->tK[1], Y / Z), p->tK[3]);
	if (!(u > -1.0 && u < p->W + 1.0 && v > -1.0 && v < p->H + 1.0))
		return 0;
	/* The four pixel centres nearest (u, v): a footprint of one source pixel never leaves a
	 * crack where the view is magnified by less than 2. */
	*ix = (int)floor(u - 0.5);
	*iy = (int)floor(v - 0.5);
	*ex = (int)floor(u);
	*ey = (int)floor(v);
	float zt = far ? 3.402823466e38f : (float)Z;
	float zn = far ? INFINITY : GM_MUL(zt, DZ_NEAR_PENALTY);
	uint32_t idx = (uint32_t)(y * p->W + x);
	*key = ((uint64_t)gm_f2u(zt) << 32) | idx;
	*knear = ((uint64_t)gm_f2u(zn) << 32) | idx;
	return 1;
}

/* Resolves target pixel from the two z-buffer keys: rgb and valid. */
GM_FN void dz_resolve(const dz_params *p, uint64_t ka, uint64_t kb, const uint8_t *ra,
		      const uint8_t *rb, uint8_t *out, uint8_t *valid)
{
	if (ka == DZ_EMPTY && kb == DZ_EMPTY) {
		out[0] = out[1] = out[2] = 0;
		*valid = 0;
		return;
	}
	*valid = 1;
	const uint8_t *ca = ka == DZ_EMPTY ? NULL : ra + 3 * (size_t)(uint32_t)ka;
	const uint8_t *cb = kb == DZ_EMPTY ? NULL : rb + 3 * (size_t)(uint32_t)kb;
	if (ca && cb) {
		float za = gm_u2f((uint32_t)(ka >> 32)), zb = gm_u2f((uint32_t)(kb >> 32));
		int fa = za >= 3.402823466e38f, fb = zb >= 3.402823466e38f, same;
		if (fa || fb) {
			same = fa && fb;
		} else {
			float lo = za < zb ? za : zb, d = za > zb ? za - zb : zb - za;
			same = d <= GM_ADD(GM_MUL(0.05f, lo), 0.05f);
		}
		if (!same) {
			if (za < zb)
				cb = NULL;
			else
				ca = NULL;
		}
	}
	if (ca && cb) {
		for (int c = 0; c < 3; c++)
			out[c] = (uint8_t)((ca[c] * (256 - p->wb) + cb[c] * p->wb + 128) >> 8);
	} else {
		const uint8_t *s = ca ? ca : cb;
		out[0] = s[0];
		out[1] = s[1];
		out[2] = s[2];
	}
}

#endif
