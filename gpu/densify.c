/* densify.c: an in-between frame synthesized from the two views that bracket it (gpu.h,
 * gpu_densify_frame): forward splat with a z-buffer per source, then a per-pixel resolve
 * (densify_math.h). The C reference is two plain loops; the CUDA path (densify.cu) runs the
 * same steps, one thread per source pixel (atomicMin on the same 64-bit keys) and one per
 * target pixel, so its bytes equal the reference's. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gpu/densify_math.h"
#include "gpu/gpu_internal.h"
#ifdef SVT_HAVE_CUDA
#include "gpu/gpu_cuda.h"
#endif

#ifdef SVT_HAVE_CUDA
int gpu_cuda_densify(gpu_cuda *c, const dz_params *pa, const dz_params *pb,
		     const gpu_densify_src *a, const gpu_densify_src *b, uint8_t *rgb,
		     uint8_t *valid, svt_err *err);
#endif

static int finite_v(const double *v, int n)
{
	for (int i = 0; i < n; i++)
		if (!isfinite(v[i]))
			return 0;
	return 1;
}

static int args_check(const gpu_densify_src *a, const gpu_densify_src *b, double u,
		      const double w2c[16], const double K[4], int W, int H, const uint8_t *rgb,
		      const uint8_t *valid, svt_err *err)
{
	if (!a || !b || !w2c || !K || !rgb || !valid || !a->rgb || !b->rgb || !a->depth ||
	    !b->depth)
		return svt_err_set(err, SVT_E_INPUT, "gpu_densify_frame: NULL argument");
	if (W < 1 || H < 1 || (double)W * H > 4294967295.0 / 2)
		return svt_err_set(err, SVT_E_INPUT, "gpu_densify_frame: bad size %dx%d", W, H);
	if (!(u >= 0.0 && u <= 1.0))
		return svt_err_set(err, SVT_E_INPUT, "gpu_densify_frame: u = %g outside [0, 1]", u);
	const double *Ks[3] = {K, a->K, b->K};
	for (int i = 0; i < 3; i++)
		if (!finite_v(Ks[i], 4) || !(Ks[i][0] > 0) || !(Ks[i][1] > 0))
			return svt_err_set(err, SVT_E_INPUT, "gpu_densify_frame: bad intrinsics");
	if (!finite_v(w2c, 16) || !finite_v(a->w2c, 16) || !finite_v(b->w2c, 16))
		return svt_err_set(err, SVT_E_INPUT, "gpu_densify_frame: non-finite pose");
	return SVT_OK;
}

/* M = w2c_t * inverse(w2c_s) for rigid poses: inverse = [R^T | -R^T t]. */
static void params_of(const gpu_densify_src *s, double u, const double w2c[16],
		      const double K[4], int W, int H, dz_params *p)
{
	double c2w[12];
	for (int i = 0; i < 3; i++) {
		double t = 0;
		for (int k = 0; k < 3; k++) {
			c2w[4 * i + k] = s->w2c[4 * k + i];
			t -= s->w2c[4 * k + i] * s->w2c[4 * k + 3];
		}
		c2w[4 * i + 3] = t;
	}
	for (int i = 0; i < 3; i++)
		for (int k = 0; k < 4; k++) {
			double v = 0;
			for (int m = 0; m < 3; m++)
				v += w2c[4 * i + m] * c2w[4 * m + k];
			p->M[4 * i + k] = v + (k == 3 ? w2c[4 * i + 3] : 0.0);
		}
	memcpy(p->sK, s->K, sizeof(p->sK));
	memcpy(p->tK, K, sizeof(p->tK));
	p->W = W;
	p->H = H;
	p->wb = (int)lrint(u * 256.0);
}

static void splat_ref(const dz_params *p, const float *depth, uint64_t *zb)
{
	int W = p->W, H = p->H;
	for (size_t i = 0; i < (size_t)W * H; i++)
		zb[i] = DZ_EMPTY;
	for (int y = 0; y < H; y++)
		for (int x = 0; x < W; x++) {
			int ix, iy, ex, ey;
			uint64_t key, knear;
			if (!dz_project(p, x, y, depth[(size_t)y * W + x], &ix, &iy, &ex, &ey, &key,
					&knear))
				continue;
			for (int dy = 0; dy < 2; dy++)
				for (int dx = 0; dx < 2; dx++) {
					int tx = ix + dx, ty = iy + dy;
					if (tx < 0 || ty < 0 || tx >= W || ty >= H)
						continue;
					uint64_t k = tx == ex && ty == ey ? key : knear;
					uint64_t *z = &zb[(size_t)ty * W + tx];
					if (k < *z)
						*z = k;
				}
		}
}

int gpu_densify_frame_ref(const gpu_densify_src *a, const gpu_densify_src *b, double u,
			  const double w2c[16], const double K[4], int W, int H, uint8_t *rgb,
			  uint8_t *valid, svt_err *err)
{
	int rc = args_check(a, b, u, w2c, K, W, H, rgb, valid, err);
	if (rc)
		return rc;
	size_t n = (size_t)W * H;
	uint64_t *za = malloc(n * sizeof(uint64_t)), *zb = malloc(n * sizeof(uint64_t));
	if (!za || !zb) {
		rc = svt_err_set(err, SVT_E_NOMEM, "no memory for a %dx%d z-buffer", W, H);
		goto cleanup;
	}
	dz_params pa, pb;
	params_of(a, u, w2c, K, W, H, &pa);
	params_of(b, u, w2c, K, W, H, &pb);
	splat_ref(&pa, a->depth, za);
	splat_ref(&pb, b->depth, zb);
	for (size_t i = 0; i < n; i++)
		dz_resolve(&pa, za[i], zb[i], a->rgb, b->rgb, rgb + 3 * i, valid + i);
cleanup:
	free(za);
	free(zb);
	return rc;
}

int gpu_densify_frame(gpu_ctx *ctx, const gpu_densify_src *a, const gpu_densify_src *b,
		      double u, const double w2c[16], const double K[4], int W, int H,
		      uint8_t *rgb, uint8_t *valid, svt_err *err)
{
#ifdef SVT_HAVE_CUDA
	if (ctx && ctx->cu) {
		int rc = args_check(a, b, u, w2c, K, W, H, rgb, valid, err);
		if (rc)
			return rc;
		dz_params pa, pb;
		params_of(a, u, w2c, K, W, H, &pa);
		params_of(b, u, w2c, K, W, H, &pb);
		rc = gpu_cuda_densify(ctx->cu, &pa, &pb, a, b, rgb, valid, err);
		if (!gpu_ctx_fallback(ctx, rc, "densify", err))
			return rc;
	}
#endif
	(void)ctx;
	return gpu_densify_frame_ref(a, b, u, w2c, K, W, H, rgb, valid, err);
}
