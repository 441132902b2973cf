/* depth_view.c: the depth a perspective view sees, cut from a depth panorama (C reference and
 * dispatch). The per-pixel code is gm_depth_view_pixel (gpu_math.h), shared with the kernel in
 * depth_view.cu. */
#include <math.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>

#include "gpu/gpu_internal.h"
#ifdef SVT_HAVE_CUDA
#include "gpu/gpu_cuda.h"
#endif

int gpu_depth_src_check(const gpu_depth *src, svt_err *err)
{
	if (!src || !src->data)
		return svt_err_set(err, SVT_E_INPUT, "depth view: NULL argument");
	if (src->model != GPU_DEPTH_EQUIRECT)
		return svt_err_set(err, SVT_E_UNSUPPORTED, "depth view: the source must be an "
				   "equirectangular depth map");
	if (src->width < 2 || src->height < 1 || src->width % 2 || src->width > (1 << 16) ||
	    src->height > (1 << 16))
		return svt_err_set(err, SVT_E_INPUT, "depth view: bad source size %dx%d",
				   src->width, src->height);
	size_t px = src->is_float ? 4 : 2;
	if (src->stride < (size_t)src->width * px)
		return svt_err_set(err, SVT_E_INPUT, "depth view: source stride %zu too small",
				   src->stride);
	if (!(src->scale > 0) || !(src->max_m >= src->min_m))
		return svt_err_set(err, SVT_E_INPUT, "depth view: bad scale or range");
	return SVT_OK;
}

int gpu_depth_view_check(const gpu_depth *src, const gpu_view *v, const float *dst,
			    size_t dst_stride, svt_err *err)
{
	if (!v || !dst)
		return svt_err_set(err, SVT_E_INPUT, "depth view: NULL argument");
	int rc = gpu_depth_src_check(src, err);
	if (!rc)
		rc = gpu_view_params_check(v, err);
	if (rc)
		return rc;
	if (dst_stride < (size_t)v->width * sizeof(float))
		return svt_err_set(err, SVT_E_INPUT, "depth view: output stride %zu too small",
				   dst_stride);
	return SVT_OK;
}

static void dsrc_of(const gpu_depth *d, gm_dsrc *s)
{
	s->data = d->data;
	s->stride = d->stride;
	s->W = d->width;
	s->H = d->height;
	s->is_float = d->is_float;
	s->scale = (float)d->scale;
	s->min_m = (float)d->min_m;
	s->max_m = (float)d->max_m;
}

int gpu_view_depth_from_equirect_ref(const gpu_depth *src, const gpu_view *v, float *dst,
				     size_t dst_stride, svt_err *err)
{
	int rc = gpu_depth_view_check(src, v, dst, dst_stride, err);
	if (rc)
		return rc;
	gm_view g;
	gm_dsrc s;
	gpu_view_to_gm(v, src->width, src->height, &g);
	dsrc_of(src, &s);
	for (int j = 0; j < v->height; j++) {
		float *row = (float *)((uint8_t *)dst + (size_t)j * dst_stride);
		for (int i = 0; i < v->width; i++)
			row[i] = gm_depth_view_pixel(&g, &s, i, j);
	}
	return SVT_OK;
}

int gpu_view_depth_from_equirect(gpu_ctx *ctx, const gpu_depth *src, const gpu_view *v,
				 float *dst, size_t dst_stride, svt_err *err)
{
#ifdef SVT_HAVE_CUDA
	if (ctx && ctx->cu) {
		int rc = gpu_depth_view_check(src, v, dst, dst_stride, err);
		if (rc)
			return rc;
		gm_view g;
		gm_dsrc s;
		gpu_view_to_gm(v, src->width, src->height, &g);
		dsrc_of(src, &s);
		rc = gpu_cuda_view_depth(ctx->cu, &g, &s, v->width, v->height, dst, dst_stride, err);
		if (!gpu_ctx_fallback(ctx, rc, "depth view", err))
			return rc;
	}
#endif
	(void)ctx;
	return gpu_view_depth_from_equirect_ref(src, v, dst, dst_stride, err);
}

int gpu_view_depth_multi(gpu_ctx *ctx, const gpu_depth *const *src, const gpu_view *v, int n,
			 float *const *dst, const size_t *dst_stride, svt_err *err)
{
	int rc = 0;
	if (!src || !v || !dst || !dst_stride || n < 0)
		return svt_err_set(err, SVT_E_INPUT, "depth views: NULL argument or n %d < 0", n);
	for (int k = 0; k < n; k++)
		if ((rc = gpu_depth_view_check(src[k], &v[k], dst[k], dst_stride[k], err)))
			return svt_err_prefix(err, "frame %d", k);
#ifdef SVT_HAVE_CUDA
	if (ctx && ctx->cu && n > 0) {
		gm_view *g = malloc((size_t)n * sizeof(*g));
		gm_dsrc *s = malloc((size_t)n * sizeof(*s));
		int *w = malloc((size_t)n * sizeof(*w)), *h = malloc((size_t)n * sizeof(*h));
		if (!g || !s || !w || !h)
			rc = svt_err_set(err, SVT_E_NOMEM, "depth views: no memory for %d jobs", n);
		for (int k = 0; !rc && k < n; k++) {
			gpu_view_to_gm(&v[k], src[k]->width, src[k]->height, &g[k]);
			dsrc_of(src[k], &s[k]);
			w[k] = v[k].width;
			h[k] = v[k].height;
		}
		if (!rc)
			rc = gpu_cuda_view_depth_multi(ctx->cu, g, s, w, h, n, dst, dst_stride, err);
		free(g);
		free(s);
		free(w);
		free(h);
		if (!gpu_ctx_fallback(ctx, rc, "depth views", err))
			return rc;
	}
#endif
	(void)ctx;
	for (int k = 0; k < n && !rc; k++)
		if ((rc = gpu_view_depth_from_equirect_ref(src[k], &v[k], dst[k], dst_stride[k], err)))
			svt_err_prefix(err, "frame %d", k);
	return rc;
}
