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
	if (ctx && ctx->cu)
		return gpu_cuda_view_from_equirect(ctx->cu, src, v, dst, err);
#endif
	return gpu_view_ref_run(src, v, dst, ctx ? ctx->cpu_threads : 1, err);
}
