/* warp.c: forward warp of a view into another camera with its depth and a z-buffer (C
 * reference and dispatch), and the coverage a reference view gives a target view. The
 * per-pixel math is gm_warp_pixel (warp_math.h), shared with warp.cu. */
#include <math.h>
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
			gm_warp *P, svt_err *err)
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
	return SVT_OK;
}

/* The reference on prepared parameters (one thread, plain loops). */
static int warp_ref_run(const gm_warp *P, const uint8_t *rgb, size_t rgb_stride,
			const float *depth, size_t depth_stride, uint8_t *out_rgb,
			uint8_t *out_mask, float *out_depth, size_t *n_valid, svt_err *err)
{
	size_t px = (size_t)P->dw * P->dh;
	unsigned long long *zb = malloc(px * sizeof(*zb));
	if (!zb)
		return svt_err_set(err, SVT_E_NOMEM, "warp: no memory for a %dx%d z-buffer", P->dw,
				   P->dh);
	for (size_t c = 0; c < px; c++)
		zb[c] = GM_WARP_EMPTY;
	for (int b = 0; b < P->sh; b++) {
		const float *row = (const float *)((const uint8_t *)depth +
						   (size_t)b * P->step * depth_stride);
		for (int a = 0; a < P->sw; a++) {
			int i, j;
			float z;
			if (!gm_warp_pixel(P, a, b, row[a * P->step], &i, &j, &z))
				continue;
			unsigned long long key = gm_warp_key(z, (unsigned)((size_t)b * P->sw + a));
			size_t c = (size_t)j * P->dw + i;
			if (key < zb[c])
				zb[c] = key;
		}
	}
	size_t nv = 0;
	for (size_t c = 0; c < px; c++) {
		int hit = zb[c] != GM_WARP_EMPTY;
		nv += (size_t)hit;
		out_mask[c] = (uint8_t)hit;
		if (out_depth)
			out_depth[c] = hit ? gm_u2f((unsigned)(zb[c] >> 32)) : 0.0f;
		if (out_rgb) {
			unsigned idx = (unsigned)(zb[c] & 0xffffffffu);
			const uint8_t *s = hit ? rgb + (size_t)(idx / P->sw) * P->step * rgb_stride +
							 (size_t)(idx % P->sw) * P->step * 3
					       : NULL;
			for (int k = 0; k < 3; k++)
				out_rgb[3 * c + k] = s ? s[k] : 0;
		}
	}
	free(zb);
	if (n_valid)
		*n_valid = nv;
	return SVT_OK;
}

int gpu_warp_splat_ref(const gpu_warp_cam *src, const uint8_t *rgb, size_t rgb_stride,
		       const float *depth, size_t depth_stride, const gpu_warp_cam *dst,
		       double near_m, uint8_t *out_rgb, uint8_t *out_mask, float *out_depth,
		       size_t *n_valid, svt_err *err)
{
	gm_warp P;
	int rc = warp_prepare(src, rgb, rgb_stride, depth, depth_stride, dst, near_m, out_rgb,
			      out_mask, 1, &P, err);
	if (rc)
		return rc;
	return warp_ref_run(&P, rgb, rgb_stride, depth, depth_stride, out_rgb, out_mask,
			    out_depth, n_valid, err);
}

/* Runs prepared parameters on the device when ctx has one (falling back as the other
 * kernels do), else on the reference. */
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
					nv += out_mask[c];
				*n_valid = nv;
			}
			return SVT_OK;
		}
		if (!gpu_ctx_fallback(ctx, rc, "warp", err))
			return rc;
	}
#endif
	(void)ctx;
	return warp_ref_run(P, rgb, rgb_stride, depth, depth_stride, out_rgb, out_mask, out_depth,
			    n_valid, err);
}

int gpu_warp_splat(gpu_ctx *ctx, const gpu_warp_cam *src, const uint8_t *rgb, size_t rgb_stride,
		   const float *depth, size_t depth_stride, const gpu_warp_cam *dst, double near_m,
		   uint8_t *out_rgb, uint8_t *out_mask, float *out_depth, size_t *n_valid,
		   svt_err *err)
{
	gm_warp P;
	int rc = warp_prepare(src, rgb, rgb_stride, depth, depth_stride, dst, near_m, out_rgb,
			      out_mask, 1, &P, err);
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
	int rc = warp_prepare(src, NULL, 0, depth, depth_stride, dst, 0.05, NULL, &one, step, &P,
			      err);
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
