/* tensor.c: data-loader tensors (resize + normalise + HWC -> CHW in float16/bfloat16/float32)
 * and Plucker ray maps: C references and dispatchers. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gpu/gpu_internal.h"
#ifdef SVT_HAVE_CUDA
#include "gpu/gpu_cuda.h"
#endif

size_t gpu_dtype_size(gpu_dtype t)
{
	return t == GPU_DTYPE_F32 ? 4 : 2;
}

uint16_t gpu_f32_to_f16(float f)
{
	return gm_f32_to_f16(f);
}

float gpu_f16_to_f32(uint16_t h)
{
	unsigned sign = (unsigned)(h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
	if (e == 0x1f)
		return gm_u2f(sign | 0x7f800000u | (m << 13));
	if (e == 0) {
		float v = (float)m * (1.0f / 16777216.0f); /* m * 2^-24, exact */
		return sign ? -v : v;
	}
	return gm_u2f(sign | ((e + 112u) << 23) | (m << 13));
}

uint16_t gpu_f32_to_bf16(float f)
{
	return gm_f32_to_bf16(f);
}

float gpu_bf16_to_f32(uint16_t h)
{
	return gm_u2f((unsigned)h << 16);
}

int gpu_tensor_params(const gpu_image *src, int out_w, int out_h, const float *mean,
		      const float *std, gpu_dtype dtype, const void *dst, float a[4], float b[4],
		      svt_err *err)
{
	if (!src || !src->data || !dst)
		return svt_err_set(err, SVT_E_INPUT, "tensor: NULL image or output");
	if (src->width < 1 || src->height < 1 || src->channels < 1 || src->channels > 4 ||
	    src->stride < (size_t)src->width * src->channels)
		return svt_err_set(err, SVT_E_INPUT, "tensor: bad image %dx%dx%d", src->width,
				   src->height, src->channels);
	if (out_w < 1 || out_h < 1 || out_w > (1 << 16) || out_h > (1 << 16))
		return svt_err_set(err, SVT_E_INPUT, "tensor: bad size %dx%d", out_w, out_h);
	if (dtype != GPU_DTYPE_F32 && dtype != GPU_DTYPE_F16 && dtype != GPU_DTYPE_BF16)
		return svt_err_set(err, SVT_E_INPUT, "tensor: unknown dtype %d", (int)dtype);
	for (int c = 0; c < src->channels; c++) {
		float m = mean ? mean[c] : 0.0f, sd = std ? std[c] : 1.0f;
		if (!isfinite(m) || !isfinite(sd) || sd == 0.0f)
			return svt_err_set(err, SVT_E_INPUT, "tensor: bad mean/std for channel %d", c);
		/* (v / 255 - m) / sd as one multiply-add per element. */
		a[c] = 1.0f / (255.0f * sd);
		b[c] = -m / sd;
	}
	return 0;
}

typedef struct tensor_job {
	gm_src s;
	int ow, oh, nx, ny, dtype;
	float scx, scy, a[4], b[4];
	void *dst;
} tensor_job;

/* Row-wise evaluation of gm_resize_pixel: the horizontal taps and weights depend only on the
 * output column, so they are tabulated once (the same float expressions, hence the same
 * values); the per-pixel work is then the lerps in gm_resize_pixel's order. */
typedef struct tensor_col {
	int x0, x1;
	float wx;
} tensor_col;

static int tensor_rows(const tensor_job *J, svt_err *err)
{
	const gm_src *s = &J->s;
	int ow = J->ow, nx = J->nx, ny = J->ny, ch = s->ch;
	size_t plane = (size_t)ow * J->oh;
	float inv = 1.0f / (float)(nx * ny);
	tensor_col *tc = malloc(sizeof(*tc) * (size_t)ow * nx);
	float *acc = malloc(sizeof(float) * (size_t)ow * 4);
	if (!tc || !acc) {
		free(tc);
		free(acc);
		return svt_err_set(err, SVT_E_NOMEM, "tensor: no memory for column tables");
	}
	for (int x = 0; x < ow; x++)
		for (int a = 0; a < nx; a++) {
			float fx = ((float)x + ((float)a + 0.5f) / (float)nx) * J->scx - 0.5f;
			fx = gm_minf(gm_maxf(fx, 0.0f), (float)(s->W - 1));
			float x0 = floorf(fx);
			int ix = (int)x0;
			tensor_col *t = &tc[(size_t)x * nx + a];
			t->x0 = ix * ch;
			t->x1 = (ix + 1 < s->W ? ix + 1 : ix) * ch;
			t->wx = fx - x0;
		}
	for (int y = 0; y < J->oh; y++) {
		memset(acc, 0, sizeof(float) * (size_t)ow * 4);
		for (int b = 0; b < ny; b++) {
			float fy = ((float)y + ((float)b + 0.5f) / (float)ny) * J->scy - 0.5f;
			fy = gm_minf(gm_maxf(fy, 0.0f), (float)(s->H - 1));
			float y0 = floorf(fy);
			int iy = (int)y0, iy1 = iy + 1 < s->H ? iy + 1 : iy;
			float wy = fy - y0;
			const unsigned char *r0 = s->data + (size_t)iy * s->stride;
			const unsigned char *r1 = s->data + (size_t)iy1 * s->stride;
			for (int x = 0; x < ow; x++)
				for (int a = 0; a < nx; a++) {
					const tensor_col *t = &tc[(size_t)x * nx + a];
					for (int k = 0; k < ch; k++) {
						float p00 = r0[t->x0 + k], p01 = r0[t->x1 + k];
						float p10 = r1[t->x0 + k], p11 = r1[t->x1 + k];
						float top = p00 + t->wx * (p01 - p00), bot = p10 + t->wx * (p11 - p10);
						acc[4 * x + k] += top + wy * (bot - top);
					}
				}
		}
		size_t row = (size_t)y * ow;
		for (int k = 0; k < ch; k++) {
			float a = J->a[k], b = J->b[k];
			if (J->dtype == 0) {
				float *d = (float *)J->dst + k * plane + row;
				for (int x = 0; x < ow; x++)
					d[x] = acc[4 * x + k] * inv * a + b;
			} else if (J->dtype == 1) {
				uint16_t *d = (uint16_t *)J->dst + k * plane + row;
				for (int x = 0; x < ow; x++)
					d[x] = gm_f32_to_f16(acc[4 * x + k] * inv * a + b);
			} else {
				uint16_t *d = (uint16_t *)J->dst + k * plane + row;
				for (int x = 0; x < ow; x++)
					d[x] = gm_f32_to_bf16(acc[4 * x + k] * inv * a + b);
			}
		}
	}
	free(tc);
	free(acc);
	return 0;
}

int gpu_tensor_from_image_ref(const gpu_image *src, int out_w, int out_h, const float *mean,
			      const float *std, gpu_dtype dtype, void *dst, svt_err *err)
{
	tensor_job J;
	memset(&J, 0, sizeof(J));
	int rc = gpu_tensor_params(src, out_w, out_h, mean, std, dtype, dst, J.a, J.b, err);
	if (rc)
		return rc;
	J.s = (gm_src){src->data, src->stride, src->width, src->height, src->channels};
	J.ow = out_w;
	J.oh = out_h;
	J.scx = (float)src->width / (float)out_w;
	J.scy = (float)src->height / (float)out_h;
	J.nx = gm_aa_count(J.scx);
	J.ny = gm_aa_count(J.scy);
	J.dtype = (int)dtype;
	J.dst = dst;
	return tensor_rows(&J, err);
}

int gpu_tensor_from_image(gpu_ctx *ctx, const gpu_image *src, int out_w, int out_h,
			  const float *mean, const float *std, gpu_dtype dtype, void *dst,
			  svt_err *err)
{
#ifdef SVT_HAVE_CUDA
	if (ctx && ctx->cu) {
		float a[4], b[4];
		int rc = gpu_tensor_params(src, out_w, out_h, mean, std, dtype, dst, a, b, err);
		if (rc)
			return rc;
		rc = gpu_cuda_tensor_from_image(ctx->cu, src, out_w, out_h, a, b, (int)dtype, dst, err);
		if (!gpu_ctx_fallback(ctx, rc, "tensor", err))
			return rc;
	}
#endif
	(void)ctx;
	return gpu_tensor_from_image_ref(src, out_w, out_h, mean, std, dtype, dst, err);
}

/* ---- Plucker ray maps ---------------------------------------------------------------------- */

int gpu_plucker_check(const double *w2c, const double *K, int n, int img_w, int img_h,
		      int patch, gpu_dtype dtype, const void *dst, double *RC, svt_err *err)
{
	if (!w2c || !K || !dst || n < 1)
		return svt_err_set(err, SVT_E_INPUT, "plucker: NULL input or no camera");
	if (patch < 1 || img_w < patch || img_h < patch || img_w > (1 << 16) || img_h > (1 << 16))
		return svt_err_set(err, SVT_E_INPUT, "plucker: bad size %dx%d / patch %d", img_w,
				   img_h, patch);
	if (dtype != GPU_DTYPE_F32 && dtype != GPU_DTYPE_F16 && dtype != GPU_DTYPE_BF16)
		return svt_err_set(err, SVT_E_INPUT, "plucker: unknown dtype %d", (int)dtype);
	for (int b = 0; b < n; b++) {
		const double *P = w2c + 16 * b, *k = K + 4 * b;
		if (!(k[0] > 0) || !(k[1] > 0) || !isfinite(k[2]) || !isfinite(k[3]))
			return svt_err_set(err, SVT_E_INPUT, "plucker: camera %d: bad intrinsics", b);
		double *R = RC + 12 * b, *C = R + 9;
		for (int i = 0; i < 3; i++)
			for (int j = 0; j < 3; j++)
				R[3 * i + j] = P[4 * i + j];
		/* C = -R^T t */
		for (int j = 0; j < 3; j++)
			C[j] = -(P[j] * P[3] + P[4 + j] * P[7] + P[8 + j] * P[11]);
		for (int k2 = 0; k2 < 12; k2++)
			if (!isfinite(R[k2]))
				return svt_err_set(err, SVT_E_INPUT, "plucker: camera %d: pose not finite",
						   b);
	}
	return 0;
}

int gpu_plucker_rays_ref(const double *w2c, const double *K, int n, int img_w, int img_h,
			 int patch, gpu_dtype dtype, void *dst, svt_err *err)
{
	double *RC = malloc(sizeof(double) * 12 * (size_t)(n > 0 ? n : 1)), *xs = NULL;
	if (!RC)
		return svt_err_set(err, SVT_E_NOMEM, "plucker: no memory");
	int rc = gpu_plucker_check(w2c, K, n, img_w, img_h, patch, dtype, dst, RC, err);
	if (rc)
		goto done;
	int ow = img_w / patch, oh = img_h / patch;
	size_t plane = (size_t)ow * oh;
	/* x depends only on the column: tabulated (the same expression, the same value). */
	xs = malloc(sizeof(double) * (size_t)ow);
	if (!xs) {
		rc = svt_err_set(err, SVT_E_NOMEM, "plucker: no memory");
		goto done;
	}
	for (int b = 0; b < n; b++) {
		const double *k = K + 4 * b, *R = RC + 12 * b, *C = R + 9;
		for (int i = 0; i < ow; i++)
			xs[i] = ((i + 0.5) * patch - k[2]) / k[0];
		for (int j = 0; j < oh; j++) {
			double y = ((j + 0.5) * patch - k[3]) / k[1];
			size_t base = (size_t)b * 6 * plane + (size_t)j * ow;
			for (int i = 0; i < ow; i++) {
				double o[6];
				gm_plucker_xy(R, C, xs[i], y, o);
				if (dtype == GPU_DTYPE_F32) {
					for (int c = 0; c < 6; c++)
						((float *)dst)[base + c * plane + i] = (float)o[c];
				} else if (dtype == GPU_DTYPE_F16) {
					for (int c = 0; c < 6; c++)
						((uint16_t *)dst)[base + c * plane + i] = gm_f32_to_f16((float)o[c]);
				} else {
					for (int c = 0; c < 6; c++)
						((uint16_t *)dst)[base + c * plane + i] = gm_f32_to_bf16((float)o[c]);
				}
			}
		}
	}
done:
	free(RC);
	free(xs);
	return rc;
}

int gpu_plucker_rays(gpu_ctx *ctx, const double *w2c, const double *K, int n, int img_w,
		     int img_h, int patch, gpu_dtype dtype, void *dst, svt_err *err)
{
#ifdef SVT_HAVE_CUDA
	if (ctx && ctx->cu) {
		double *RC = malloc(sizeof(double) * 12 * (size_t)(n > 0 ? n : 1));
		if (!RC)
			return svt_err_set(err, SVT_E_NOMEM, "plucker: no memory");
		int rc = gpu_plucker_check(w2c, K, n, img_w, img_h, patch, dtype, dst, RC, err);
		if (!rc)
			rc = gpu_cuda_plucker(ctx->cu, RC, K, n, img_w / patch, img_h / patch, patch,
					      (int)dtype, dst, err);
		free(RC);
		if (!gpu_ctx_fallback(ctx, rc, "plucker", err))
			return rc;
	}
#endif
	(void)ctx;
	return gpu_plucker_rays_ref(w2c, K, n, img_w, img_h, patch, dtype, dst, err);
}
