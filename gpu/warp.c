/* warp.c: forward warp of a view into another camera with its depth and a z-buffer (the C
 * reference, the fast C path and dispatch), and the coverage a reference view gives a target
 * view. The reference's per-pixel math is gm_warp_point and gm_warp_footprint (warp_math.h),
 * shared with warp.cu. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gpu/gpu_internal.h"
#include "gpu/warp_math.h"
#ifdef SVT_HAVE_CUDA
#include "gpu/gpu_cuda.h"
#endif

static int cam_check(const gpu_warp_cam *c, const char *what, svt_err *err)
{
	if (c->width < 1 || c->height < 1 || c->width > (1 << 15) || c->height > (1 << 15))
		return svt_err_set(err, SVT_E_INPUT, "warp: bad %s size %dx%d", what, c->width,
				   c->height);
	if (!(c->K[0] > 0) || !(c->K[1] > 0) || !isfinite(c->K[2]) || !isfinite(c->K[3]))
		return svt_err_set(err, SVT_E_INPUT, "warp: bad %s intrinsics", what);
	for (int i = 0; i < 16; i++)
		if (!isfinite(c->w2c[i]))
			return svt_err_set(err, SVT_E_INPUT, "warp: %s pose not finite", what);
	return SVT_OK;
}

/* Checks the arguments and fills P: T = dst.w2c * src.w2c^-1 (rigid: [R^T | -R^T t]). */
static int warp_prepare(const gpu_warp_cam *src, const uint8_t *rgb, size_t rgb_stride,
			const float *depth, size_t depth_stride, const gpu_warp_cam *dst,
			double near_m, const uint8_t *out_rgb, const uint8_t *out_mask, int step,
			int footprint, gm_warp *P, svt_err *err)
{
	if (!src || !depth || !dst || !out_mask || (rgb && !out_rgb) || (!rgb && out_rgb))
		return svt_err_set(err, SVT_E_INPUT, "warp: NULL argument (colour and its output "
				   "go together)");
	int rc = cam_check(src, "source", err);
	if (!rc)
		rc = cam_check(dst, "target", err);
	if (rc)
		return rc;
	if (depth_stride < (size_t)src->width * sizeof(float) ||
	    (rgb && rgb_stride < (size_t)src->width * 3))
		return svt_err_set(err, SVT_E_INPUT, "warp: source stride too small");
	if (!(near_m >= 0) || step < 1)
		return svt_err_set(err, SVT_E_INPUT, "warp: near plane %g or step %d", near_m, step);
	memset(P, 0, sizeof(*P));
	const double *A = src->w2c, *B = dst->w2c;
	/* src camera -> world: x_w = R_s^T (x_s - t_s). */
	double Ri[9], ti[3];
	for (int r = 0; r < 3; r++)
		for (int c = 0; c < 3; c++)
			Ri[3 * r + c] = A[4 * c + r];
	for (int r = 0; r < 3; r++)
		ti[r] = -(Ri[3 * r] * A[3] + Ri[3 * r + 1] * A[7] + Ri[3 * r + 2] * A[11]);
	for (int r = 0; r < 3; r++) {
		for (int c = 0; c < 3; c++)
			P->T[4 * r + c] = B[4 * r] * Ri[c] + B[4 * r + 1] * Ri[3 + c] +
					  B[4 * r + 2] * Ri[6 + c];
		P->T[4 * r + 3] = B[4 * r] * ti[0] + B[4 * r + 1] * ti[1] + B[4 * r + 2] * ti[2] +
				  B[4 * r + 3];
	}
	memcpy(P->sK, src->K, sizeof(P->sK));
	P->sifx = 1.0 / src->K[0];
	P->sify = 1.0 / src->K[1];
	P->dK[0] = dst->K[0] / step;
	P->dK[1] = dst->K[1] / step;
	P->dK[2] = dst->K[2] / step;
	P->dK[3] = dst->K[3] / step;
	P->sw = (src->width + step - 1) / step;
	P->sh = (src->height + step - 1) / step;
	P->dw = step == 1 ? dst->width : (dst->width + step - 1) / step;
	P->dh = step == 1 ? dst->height : (dst->height + step - 1) / step;
	P->step = step;
	P->src_w = src->width;
	P->near_m = near_m;
	P->footprint = footprint != 0;
	return SVT_OK;
}

static void zb_min(unsigned long long *zb, size_t c, unsigned long long key)
{
	if (key < zb[c])
		zb[c] = key;
}

/* Splats one landing at (u, v) with z dz of source sample s: its pixel, and its footprint
 * when P asks for one (the block clipped to the target). */
static void splat_one(const gm_warp *P, unsigned long long *zb, double u, double v, float dz,
		      unsigned s)
{
	size_t cell[5];
	unsigned long long key[5];
	int n = gm_warp_splat(P, u, v, dz, s, cell, key);
	for (int k = 0; k < n; k++)
		zb_min(zb, cell[k], key[k]);
}

/* Turns the z-buffer into the outputs (shared by the reference and the fast path: the
 * z-buffer is the result, this only reads it out). */
static size_t warp_resolve(const gm_warp *P, const unsigned long long *zb, size_t zb_stride,
			   const uint8_t *rgb, size_t rgb_stride, uint8_t *out_rgb,
			   uint8_t *out_mask, float *out_depth)
{
	static const uint8_t black[3] = {0, 0, 0};
	size_t nv = 0, dw = (size_t)P->dw;
	int packed = P->step == 1 && rgb_stride == (size_t)P->sw * 3;
	for (size_t y = 0; y < (size_t)P->dh; y++) {
		const unsigned long long *zr = zb + y * zb_stride;
		for (size_t x = 0; x < dw; x++) {
			size_t c = y * dw + x;
			unsigned long long k = zr[x];
			/* Without branches on hit: half the pixels of a warp are empty, at random. */
			unsigned hit = k != GM_WARP_EMPTY;
			nv += hit;
			out_mask[c] = (uint8_t)(hit * (1 + (unsigned)(k & 1)));
			if (out_depth)
				out_depth[c] = hit ? gm_u2f((unsigned)(k >> 32)) : 0.0f;
			if (!out_rgb)
				continue;
			size_t idx = (size_t)((k & 0xffffffffu) >> 1);
			const uint8_t *s = black;
			if (packed)
				s = hit ? rgb + 3 * idx : black;
			else if (hit)
				s = rgb + (idx / (size_t)P->sw) * P->step * rgb_stride +
				    (idx % (size_t)P->sw) * P->step * 3;
			out_rgb[3 * c] = s[0];
			out_rgb[3 * c + 1] = s[1];
			out_rgb[3 * c + 2] = s[2];
		}
	}
	return nv;
}

/* A z-buffer of (dw + 2 pad) x (dh + 2 pad) keys, all empty. */
static unsigned long long *zb_new(const gm_warp *P, int pad, svt_err *err)
{
	size_t px = (size_t)(P->dw + 2 * pad) * (size_t)(P->dh + 2 * pad);
	unsigned long long *zb = malloc(px * sizeof(*zb));
	if (!zb) {
		svt_err_set(err, SVT_E_NOMEM, "warp: no memory for a %dx%d z-buffer", P->dw, P->dh);
		return NULL;
	}
	memset(zb, 0xff, px * sizeof(*zb)); /* GM_WARP_EMPTY */
	return zb;
}

/* The reference on prepared parameters (one thread, plain loops, warp_math.h's code: what
 * the kernel runs). */
static int warp_ref_run(const gm_warp *P, const uint8_t *rgb, size_t rgb_stride,
			const float *depth, size_t depth_stride, uint8_t *out_rgb,
			uint8_t *out_mask, float *out_depth, size_t *n_valid, svt_err *err)
{
	unsigned long long *zb = zb_new(P, 0, err);
	if (!zb)
		return SVT_E_NOMEM;
	for (int b = 0; b < P->sh; b++) {
		const float *row = (const float *)((const uint8_t *)depth +
						   (size_t)b * P->step * depth_stride);
		for (int a = 0; a < P->sw; a++) {
			double u, v;
			float z;
			if (gm_warp_point(P, a, b, row[a * P->step], &u, &v, &z))
				splat_one(P, zb, u, v, z, (unsigned)((size_t)b * P->sw + a));
		}
	}
	size_t nv = warp_resolve(P, zb, (size_t)P->dw, rgb, rgb_stride, out_rgb, out_mask,
				 out_depth);
	free(zb);
	if (n_valid)
		*n_valid = nv;
	return SVT_OK;
}

static inline void zb_min_fast(unsigned long long *p, unsigned long long key)
{
	*p = key < *p ? key : *p;
}

/* What the fast path's row projection needs: the column terms (source ray x of column a
 * turned by T: tx, ty, tz), the row's terms and T's translation, the target's intrinsics and
 * size. */
typedef struct warp_row {
	const double *tx, *ty, *tz;
	double rx, ry, rz, t0, t1, t2;
	double fx, fy, cx, cy, dw, dh, near_m;
} warp_row;

/* Projects samples [a0, a1) of a row of depths z (every step-th float): target position
 * u[a], v[a], z dz[a] and ok[a] = 1 where it lands. The order of operations is the AVX2
 * version's, lane for lane: the same bits. */
static void row_project(const warp_row *w, const float *z, int step, int a0, int a1, double *u,
			double *v, float *dz, uint8_t *ok)
{
	for (int a = a0; a < a1; a++) {
		float zf = z[(size_t)a * step];
		double zd = zf;
		double Z = zd * (w->tz[a] + w->rz) + w->t2;
		double iz = 1.0 / Z;
		double uu = w->fx * ((zd * (w->tx[a] + w->rx) + w->t0) * iz) + w->cx;
		double vv = w->fy * ((zd * (w->ty[a] + w->ry) + w->t1) * iz) + w->cy;
		u[a] = uu, v[a] = vv, dz[a] = (float)Z;
		ok[a] = zf > 0.0f && zf < 3.0e38f && Z > w->near_m && uu >= 0 && uu < w->dw &&
			vv >= 0 && vv < w->dh;
	}
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
/* Four samples a step (unit step only): row_project's operations in the same order, no FMA. */
__attribute__((target("avx2"))) static int row_project_avx2(const warp_row *w, const float *z,
							     int n, double *u, double *v,
							     float *dz, uint8_t *ok)
{
	const __m256d rx = _mm256_set1_pd(w->rx), ry = _mm256_set1_pd(w->ry),
		      rz = _mm256_set1_pd(w->rz), t0 = _mm256_set1_pd(w->t0),
		      t1 = _mm256_set1_pd(w->t1), t2 = _mm256_set1_pd(w->t2),
		      fx = _mm256_set1_pd(w->fx), fy = _mm256_set1_pd(w->fy),
		      cx = _mm256_set1_pd(w->cx), cy = _mm256_set1_pd(w->cy),
		      dw = _mm256_set1_pd(w->dw), dh = _mm256_set1_pd(w->dh),
		      nr = _mm256_set1_pd(w->near_m), one = _mm256_set1_pd(1.0),
		      zero = _mm256_setzero_pd();
	const __m128 big = _mm_set1_ps(3.0e38f), fzero = _mm_setzero_ps();
	int a = 0;
	for (; a + 4 <= n; a += 4) {
		__m128 zf = _mm_loadu_ps(z + a);
		__m256d zd = _mm256_cvtps_pd(zf);
		__m256d Z = _mm256_add_pd(
			_mm256_mul_pd(zd, _mm256_add_pd(_mm256_loadu_pd(w->tz + a), rz)), t2);
		__m256d iz = _mm256_div_pd(one, Z);
		__m256d X = _mm256_add_pd(
			_mm256_mul_pd(zd, _mm256_add_pd(_mm256_loadu_pd(w->tx + a), rx)), t0);
		__m256d Y = _mm256_add_pd(
			_mm256_mul_pd(zd, _mm256_add_pd(_mm256_loadu_pd(w->ty + a), ry)), t1);
		__m256d uu = _mm256_add_pd(_mm256_mul_pd(fx, _mm256_mul_pd(X, iz)), cx);
		__m256d vv = _mm256_add_pd(_mm256_mul_pd(fy, _mm256_mul_pd(Y, iz)), cy);
		_mm256_storeu_pd(u + a, uu);
		_mm256_storeu_pd(v + a, vv);
		_mm_storeu_ps(dz + a, _mm256_cvtpd_ps(Z));
		__m128 zok = _mm_and_ps(_mm_cmpgt_ps(zf, fzero), _mm_cmplt_ps(zf, big));
		__m256d m = _mm256_and_pd(_mm256_cmp_pd(Z, nr, _CMP_GT_OQ),
					  _mm256_cmp_pd(uu, zero, _CMP_GE_OQ));
		m = _mm256_and_pd(m, _mm256_cmp_pd(uu, dw, _CMP_LT_OQ));
		m = _mm256_and_pd(m, _mm256_cmp_pd(vv, zero, _CMP_GE_OQ));
		m = _mm256_and_pd(m, _mm256_cmp_pd(vv, dh, _CMP_LT_OQ));
		int bits = _mm256_movemask_pd(m) & _mm_movemask_ps(zok);
		ok[a] = bits & 1, ok[a + 1] = (bits >> 1) & 1;
		ok[a + 2] = (bits >> 2) & 1, ok[a + 3] = (bits >> 3) & 1;
	}
	return a;
}
#endif

/* The fast C path: the same landings with the per-pixel work cut to what varies per pixel.
 * A source ray is (cu[a], rv[b], 1) with cu, rv the column's and the row's terms, so the
 * target point is z (Tc[a] + Tr[b]) + t with Tc per column and Tr per row (3 products and 3
 * sums a pixel instead of 11 products), then one reciprocal and the projection, a row at a
 * time (four samples at once with AVX2), then the landings into the z-buffer. The z-buffer
 * has a border of one pixel, so that a footprint (whose block always holds the pixel the
 * landing falls in) is unchecked updates. The sums are associated differently from
 * gm_warp_point, so a landing within an ulp of a pixel edge may fall on the other side (the
 * declared tolerance of bench/cases.c and test_gpu_warp.c). */
static int warp_fast_run(const gm_warp *P, const uint8_t *rgb, size_t rgb_stride,
			 const float *depth, size_t depth_stride, uint8_t *out_rgb,
			 uint8_t *out_mask, float *out_depth, size_t *n_valid, svt_err *err)
{
	int sw = P->sw;
	size_t zs = (size_t)P->dw + 2; /* the padded row */
	unsigned long long *zb = zb_new(P, 1, err);
	/* Column terms (3 sw), then a row's u, v (2 sw), its z and flags. */
	double *tc = malloc((size_t)sw * (5 * sizeof(double) + sizeof(float) + 1));
	int rc = SVT_OK;
	if (!zb || !tc) {
		rc = svt_err_set(err, SVT_E_NOMEM, "warp: no memory for column terms");
		goto cleanup;
	}
	const double *T = P->T;
	double *tx = tc, *ty = tc + sw, *tz = tc + 2 * (size_t)sw, *U = tc + 3 * (size_t)sw;
	double *V = tc + 4 * (size_t)sw;
	float *DZ = (float *)(tc + 5 * (size_t)sw);
	uint8_t *OK = (uint8_t *)(DZ + sw);
	for (int a = 0; a < sw; a++) {
		double cu = ((double)a * P->step + 0.5 - P->sK[2]) * P->sifx;
		tx[a] = T[0] * cu;
		ty[a] = T[4] * cu;
		tz[a] = T[8] * cu;
	}
	warp_row w = {tx, ty, tz, 0, 0, 0, T[3], T[7], T[11], P->dK[0], P->dK[1], P->dK[2],
		      P->dK[3], P->dw, P->dh, P->near_m};
#if defined(__x86_64__) && defined(__GNUC__)
	int avx2 = P->step == 1 && __builtin_cpu_supports("avx2");
#endif
	unsigned long long *z0 = zb + zs + 1; /* pixel (0, 0) */
	for (int b = 0; b < P->sh; b++) {
		const float *row = (const float *)((const uint8_t *)depth +
						   (size_t)b * P->step * depth_stride);
		double rv = ((double)b * P->step + 0.5 - P->sK[3]) * P->sify;
		w.rx = T[1] * rv + T[2], w.ry = T[5] * rv + T[6], w.rz = T[9] * rv + T[10];
		int a0 = 0;
#if defined(__x86_64__) && defined(__GNUC__)
		if (avx2)
			a0 = row_project_avx2(&w, row, sw, U, V, DZ, OK);
#endif
		row_project(&w, row, P->step, a0, sw, U, V, DZ, OK);
		unsigned long long base = (unsigned long long)((size_t)b * sw) << 1;
		for (int a = 0; a < sw; a++) {
			if (!OK[a])
				continue;
			double u = U[a], v = V[a];
			float dz = DZ[a];
			unsigned long long s2 = base + ((unsigned long long)a << 1);
			unsigned long long kd = ((unsigned long long)gm_f2u(dz) << 32) | s2;
			int i = (int)u, j = (int)v;
			if (!P->footprint) {
				zb_min_fast(z0 + (size_t)j * zs + i, kd);
				continue;
			}
			unsigned long long kf =
				((unsigned long long)gm_f2u(dz * DZ_NEAR_PENALTY) << 32) | s2 | 1;
			/* The block starts at (floor(u - 0.5), floor(v - 0.5)): i or i - 1 (u - i
			 * is exact), without a branch on it. */
			int di = u - (double)i < 0.5, dj = v - (double)j < 0.5;
			unsigned long long *q = z0 + (ptrdiff_t)(j - dj) * (ptrdiff_t)zs + (i - di);
			/* The landing's own pixel is q[dj zs + di]: all four take kf, it takes kd. */
			zb_min_fast(q, kf);
			zb_min_fast(q + 1, kf);
			zb_min_fast(q + zs, kf);
			zb_min_fast(q + zs + 1, kf);
			zb_min_fast(q + (size_t)dj * zs + (size_t)di, kd);
		}
	}
	size_t nv = warp_resolve(P, z0, zs, rgb, rgb_stride, out_rgb, out_mask, out_depth);
	if (n_valid)
		*n_valid = nv;
cleanup:
	free(zb);
	free(tc);
	return rc;
}

int gpu_warp_splat_ref(const gpu_warp_cam *src, const uint8_t *rgb, size_t rgb_stride,
		       const float *depth, size_t depth_stride, const gpu_warp_cam *dst,
		       double near_m, int footprint, uint8_t *out_rgb, uint8_t *out_mask,
		       float *out_depth, size_t *n_valid, svt_err *err)
{
	gm_warp P;
	int rc = warp_prepare(src, rgb, rgb_stride, depth, depth_stride, dst, near_m, out_rgb,
			      out_mask, 1, footprint, &P, err);
	if (rc)
		return rc;
	return warp_ref_run(&P, rgb, rgb_stride, depth, depth_stride, out_rgb, out_mask,
			    out_depth, n_valid, err);
}

/* Runs prepared parameters on the device when ctx has one (falling back as the other
 * kernels do), else on the fast C path. */
static int warp_dispatch(gpu_ctx *ctx, const gm_warp *P, const uint8_t *rgb, size_t rgb_stride,
			 const float *depth, size_t depth_stride, uint8_t *out_rgb,
			 uint8_t *out_mask, float *out_depth, size_t *n_valid, svt_err *err)
{
#ifdef SVT_HAVE_CUDA
	if (ctx && ctx->cu) {
		int rc = gpu_cuda_warp(ctx->cu, P, rgb, rgb_stride, depth, depth_stride, out_rgb,
				       out_mask, out_depth, err);
		if (!rc) {
			if (n_valid) {
				size_t nv = 0, px = (size_t)P->dw * P->dh;
				for (size_t c = 0; c < px; c++)
					nv += out_mask[c] != 0;
				*n_valid = nv;
			}
			return SVT_OK;
		}
		if (!gpu_ctx_fallback(ctx, rc, "warp", err))
			return rc;
	}
#endif
	(void)ctx;
	return warp_fast_run(P, rgb, rgb_stride, depth, depth_stride, out_rgb, out_mask,
			     out_depth, n_valid, err);
}

int gpu_warp_splat(gpu_ctx *ctx, const gpu_warp_cam *src, const uint8_t *rgb, size_t rgb_stride,
		   const float *depth, size_t depth_stride, const gpu_warp_cam *dst, double near_m,
		   uint8_t *out_rgb, uint8_t *out_mask, float *out_depth, size_t *n_valid,
		   svt_err *err)
{
	gm_warp P;
	int rc = warp_prepare(src, rgb, rgb_stride, depth, depth_stride, dst, near_m, out_rgb,
			      out_mask, 1, 1, &P, err);
	if (rc)
		return rc;
	return warp_dispatch(ctx, &P, rgb, rgb_stride, depth, depth_stride, out_rgb, out_mask,
			     out_depth, n_valid, err);
}

int gpu_warp_coverage(gpu_ctx *ctx, const gpu_warp_cam *src, const float *depth,
		      size_t depth_stride, const gpu_warp_cam *dst, int step, double *cover,
		      svt_err *err)
{
	if (!cover)
		return svt_err_set(err, SVT_E_INPUT, "warp coverage: NULL cover");
	*cover = 0;
	gm_warp P;
	uint8_t one = 0;
	int rc = warp_prepare(src, NULL, 0, depth, depth_stride, dst, 0.05, NULL, &one, step, 1,
			      &P, err);
	if (rc)
		return rc;
	size_t px = (size_t)P.dw * P.dh, nv = 0;
	uint8_t *mask = malloc(px);
	if (!mask)
		return svt_err_set(err, SVT_E_NOMEM, "warp coverage: no memory");
	rc = warp_dispatch(ctx, &P, NULL, 0, depth, depth_stride, NULL, mask, NULL, &nv, err);
	free(mask);
	if (!rc)
		*cover = (double)nv / (double)px;
	return rc;
}
