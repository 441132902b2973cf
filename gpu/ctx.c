/* ctx.c: the execution context (backend choice, CUDA resources) and the dispatchers that send
 * each kernel to CUDA or to its C reference. Without SVT_HAVE_CUDA nothing here refers to a
 * CUDA symbol. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gpu/gpu_internal.h"
#ifdef SVT_HAVE_CUDA
#include "gpu/gpu_cuda.h"
#endif

int gpu_device_available(void)
{
#ifdef SVT_HAVE_CUDA
	return gpu_cuda_device_count() > 0;
#else
	return 0;
#endif
}

int gpu_ctx_create(gpu_mode mode, gpu_ctx **out, svt_err *err)
{
	*out = NULL;
	if (mode != GPU_MODE_AUTO && mode != GPU_MODE_CPU && mode != GPU_MODE_REQUIRE)
		return svt_err_set(err, SVT_E_INPUT, "gpu: unknown mode %d", (int)mode);
	gpu_ctx *c = calloc(1, sizeof(*c));
	if (!c)
		return svt_err_set(err, SVT_E_NOMEM, "gpu: no memory for a context");
	c->mode = mode;
	c->cpu_threads = 1;
	snprintf(c->backend, sizeof(c->backend), "cpu");
	if (mode == GPU_MODE_CPU)
		goto done;
#ifdef SVT_HAVE_CUDA
	if (gpu_cuda_device_count() > 0) {
		svt_err e = {0};
		int rc = gpu_cuda_create(&c->cu, c->backend, sizeof(c->backend), &e);
		if (rc == 0)
			goto done;
		snprintf(c->backend, sizeof(c->backend), "cpu");
		if (mode == GPU_MODE_REQUIRE) {
			svt_err_set(err, rc, "%s", e.msg);
			free(c);
			return rc;
		}
		/* AUTO: a device that cannot be opened is no device; the C path serves. */
		svt_log_warn("gpu: CUDA device unusable (%s); using the C reference", e.msg);
		goto done;
	}
#endif
	if (mode == GPU_MODE_REQUIRE) {
		free(c);
		return svt_err_set(err, SVT_E_NODEV,
#ifdef SVT_HAVE_CUDA
				   "gpu: no usable CUDA device (no driver, no device, or a driver "
				   "older than the runtime)"
#else
				   "gpu: this build has no CUDA (built with CUDA=0 or without nvcc)"
#endif
		);
	}
done:
	*out = c;
	return 0;
}

void gpu_ctx_destroy(gpu_ctx *ctx)
{
	if (!ctx)
		return;
#ifdef SVT_HAVE_CUDA
	gpu_cuda_destroy(ctx->cu);
#endif
	free(ctx);
}

const char *gpu_ctx_backend(const gpu_ctx *ctx)
{
	return ctx ? ctx->backend : "none";
}

int gpu_ctx_is_cuda(const gpu_ctx *ctx)
{
	return ctx && ctx->cu != NULL;
}

void gpu_ctx_device_info(const gpu_ctx *ctx, gpu_device_info *info)
{
	memset(info, 0, sizeof(*info));
	snprintf(info->name, sizeof(info->name), "cpu");
#ifdef SVT_HAVE_CUDA
	if (ctx && ctx->cu)
		gpu_cuda_device_info(ctx->cu, info);
#else
	(void)ctx;
#endif
}

double gpu_ctx_last_device_ms(const gpu_ctx *ctx)
{
#ifdef SVT_HAVE_CUDA
	if (ctx && ctx->cu)
		return gpu_cuda_last_ms(ctx->cu);
#else
	(void)ctx;
#endif
	return 0.0;
}

int gpu_ctx_host_pin(gpu_ctx *ctx, void *p, size_t bytes)
{
#ifdef SVT_HAVE_CUDA
	if (ctx && ctx->cu && p && bytes) {
		svt_err e = {0};
		if (gpu_cuda_host_register(p, bytes, &e))
			svt_log_warn("gpu: %s: downloads into it are staged", e.msg);
	}
#else
	(void)ctx;
	(void)p;
	(void)bytes;
#endif
	return 0;
}

void gpu_ctx_host_unpin(gpu_ctx *ctx, void *p)
{
#ifdef SVT_HAVE_CUDA
	if (ctx && ctx->cu && p)
		gpu_cuda_host_unregister(p);
#else
	(void)ctx;
	(void)p;
#endif
}

void gpu_ctx_set_cpu_threads(gpu_ctx *ctx, int n)
{
	if (ctx)
		ctx->cpu_threads = n < 1 ? 1 : (n > 64 ? 64 : n);
}

typedef struct par_arg {
	void (*fn)(void *, int);
	void *arg;
	int k;
} par_arg;

static void *par_main(void *p)
{
	par_arg *a = p;
	a->fn(a->arg, a->k);
	return NULL;
}

void gpu_parallel(int n, void (*fn)(void *arg, int k), void *arg)
{
	enum { MAXT = 64 };
	pthread_t th[MAXT];
	par_arg pa[MAXT];
	int started[MAXT] = {0};
	int nt = n < MAXT ? n : MAXT;
	for (int k = 1; k < nt; k++) {
		pa[k] = (par_arg){fn, arg, k};
		started[k] = pthread_create(&th[k], NULL, par_main, &pa[k]) == 0;
	}
	if (n > 0)
		fn(arg, 0);
	for (int k = nt; k < n; k++)
		fn(arg, k);
	for (int k = 1; k < nt; k++) {
		if (started[k])
			pthread_join(th[k], NULL);
		else
			fn(arg, k);
	}
}

int gpu_view_from_equirect(gpu_ctx *ctx, const gpu_image *src, const gpu_view *v,
			   gpu_image *dst, svt_err *err)
{
	int rc = gpu_view_check(src, v, dst, err);
	if (rc)
		return rc;
#ifdef SVT_HAVE_CUDA
	if (ctx && ctx->cu) {
		rc = gpu_cuda_view_from_equirect(ctx->cu, src, v, dst, err);
		if (!gpu_ctx_fallback(ctx, rc, "view", err))
			return rc;
	}
#endif
	return gpu_view_ref_run(src, v, dst, ctx ? ctx->cpu_threads : 1, err);
}

int gpu_view_from_equirect_map(gpu_ctx *ctx, const gpu_image *src, const gpu_view *v,
			       gpu_image *dst, gpu_view_map *map, svt_err *err)
{
	if (!map)
		return gpu_view_from_equirect(ctx, src, v, dst, err);
#ifdef SVT_HAVE_CUDA
	if (ctx && ctx->cu) {
		/* The device view computes its rays on the device: the map is built apart. */
		int rc = gpu_view_from_equirect(ctx, src, v, dst, err);
		return rc ? rc : gpu_view_map_build(v, map, err);
	}
#endif
	return gpu_view_ref_run_map(src, v, dst, ctx ? ctx->cpu_threads : 1, map, err);
}

int gpu_view_from_equirect_depth(gpu_ctx *ctx, const gpu_image *src, const gpu_view *v,
				 gpu_image *dst, const gpu_depth *dsrc, float *ddst,
				 size_t dstride, svt_err *err)
{
#ifdef SVT_HAVE_CUDA
	if (ctx && ctx->cu) {
		int rc = gpu_view_from_equirect(ctx, src, v, dst, err);
		return rc ? rc : gpu_view_depth_from_equirect(ctx, dsrc, v, ddst, dstride, err);
	}
#endif
	return gpu_view_ref_run_depth(src, v, dst, ctx ? ctx->cpu_threads : 1, dsrc, ddst, dstride,
				      err);
}

int gpu_ctx_fallback(gpu_ctx *ctx, int rc, const char *what, svt_err *err)
{
#ifdef SVT_HAVE_CUDA
	if (rc != SVT_E_CUDA || !ctx || !ctx->cu || !gpu_cuda_healthy(ctx->cu))
		return 0;
	svt_log_warn("gpu: %s on CUDA failed (%s); this call runs on the C path", what,
		     err ? err->msg : "no message");
	svt_err_clear(err);
	return 1;
#else
	(void)ctx;
	(void)rc;
	(void)what;
	(void)err;
	return 0;
#endif
}

int gpu_views_from_image(gpu_ctx *ctx, const gpu_image *src, int src_on_device,
			 const gpu_view *v, int n, gpu_image *dst, svt_err *err)
{
	int rc = 0;
	if (!src || !v || !dst || n < 1)
		return svt_err_set(err, SVT_E_INPUT, "views: NULL argument or n %d < 1", n);
	if (src_on_device && !gpu_ctx_is_cuda(ctx))
		return svt_err_set(err, SVT_E_INPUT,
				   "views: a device panorama needs a CUDA context (this one is %s)",
				   gpu_ctx_backend(ctx));
	if (src_on_device && src->stride != (size_t)src->width * (size_t)src->channels)
		return svt_err_set(err, SVT_E_INPUT, "views: a device panorama must be packed");
	for (int k = 0; k < n; k++)
		if ((rc = gpu_view_check(src, &v[k], &dst[k], err)))
			return (void)svt_err_prefix(err, "view %d", k), rc;
#ifdef SVT_HAVE_CUDA
	if (ctx && ctx->cu) {
		rc = src_on_device ? gpu_cuda_views_from_device(ctx->cu, src, src->data, v, n, dst, err)
				   : gpu_cuda_views_from_equirect(ctx->cu, src, v, n, dst, err);
		/* A device source cannot be read on the C path: its failure stands. */
		if (src_on_device || !gpu_ctx_fallback(ctx, rc, "views", err))
			return rc;
	}
#endif
	for (int k = 0; k < n && !rc; k++)
		rc = gpu_view_ref_run(src, &v[k], &dst[k], ctx ? ctx->cpu_threads : 1, err);
	return rc;
}

int gpu_views_multi(gpu_ctx *ctx, const gpu_image *src, int on_device, const gpu_view *v, int n,
		    gpu_image *dst, svt_err *err)
{
	int rc = 0;
	if (!src || !v || !dst || n < 0)
		return svt_err_set(err, SVT_E_INPUT, "views: NULL argument or n %d < 0", n);
#ifdef SVT_HAVE_CUDA
	if (ctx && ctx->cu && on_device && n > 0) {
		for (int k = 0; k < n; k++)
			if ((rc = gpu_view_check(&src[k], &v[k], &dst[k], err)))
				return (void)svt_err_prefix(err, "frame %d", k), rc;
		/* A device source cannot be read on the C path: its failure stands. */
		return gpu_cuda_views_multi(ctx->cu, src, v, n, dst, err);
	}
#endif
	for (int k = 0; k < n && !rc; k++)
		if ((rc = gpu_views_from_image(ctx, &src[k], on_device, &v[k], 1, &dst[k], err)))
			svt_err_prefix(err, "frame %d", k);
	return rc;
}
