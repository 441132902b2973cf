/* cuda_ctx.cu: the CUDA side of gpu_ctx: device probe, stream, events, buffers that grow and
 * stay, the chunked pinned upload. Every CUDA error becomes SVT_E_CUDA; nothing aborts. */
#include <stdio.h>
#include <string.h>

#include "gpu/cuda_common.cuh"

static int probe_devices(void)
{
	int n = 0;
	/* No driver, no device, or a driver older than this runtime: all mean "no device". */
	if (cudaGetDeviceCount(&n) != cudaSuccess) {
		(void)cudaGetLastError();
		return 0;
	}
	return n;
}

extern "C" int gpu_cuda_device_count(void)
{
	static const int n = probe_devices(); /* thread-safe once-only initialisation (C++11) */
	return n;
}

extern "C" int gpu_cuda_create(gpu_cuda **out, char *name, size_t name_cap, svt_err *err)
{
	int rc = 0;
	gpu_cuda *c = (gpu_cuda *)calloc(1, sizeof(*c));
	*out = NULL;
	if (!c)
		return svt_err_set(err, SVT_E_NOMEM, "gpu: no memory for the CUDA context");
	c->device = 0;
	CUDA_CK(cudaSetDevice(c->device));
	CUDA_CK(cudaGetDeviceProperties(&c->prop, c->device));
	CUDA_CK(cudaStreamCreateWithFlags(&c->up, cudaStreamNonBlocking));
	CUDA_CK(cudaStreamCreateWithFlags(&c->down, cudaStreamNonBlocking));
	for (int k = 0; k < GPU_CUDA_BANDS; k++)
		CUDA_CK(cudaEventCreateWithFlags(&c->band_done[k], cudaEventDisableTiming));
	CUDA_CK(cudaEventCreate(&c->k0));
	CUDA_CK(cudaEventCreate(&c->k1));
	{
		int khz = 0, bits = 0;
		CUDA_CK(cudaDeviceGetAttribute(&khz, cudaDevAttrMemoryClockRate, c->device));
		CUDA_CK(cudaDeviceGetAttribute(&bits, cudaDevAttrGlobalMemoryBusWidth, c->device));
		c->mem_bw_gbs = 2.0 * khz * 1e3 * (bits / 8.0) / 1e9;
	}
	/* A device older than the kernels' image (and too old for the PTX) cannot launch any of
	 * them: refuse it here, so AUTO uses the C path instead of failing at the first launch. */
	if ((rc = gpu_cuda_kernel_probe(err)))
		goto done;
	snprintf(name, name_cap, "cuda:%s", c->prop.name);
	*out = c;
	return 0;
done:
	gpu_cuda_destroy(c);
	return rc;
}

extern "C" void gpu_cuda_destroy(gpu_cuda *c)
{
	if (!c)
		return;
	if (c->up)
		cudaStreamSynchronize(c->up);
	if (c->down)
		cudaStreamSynchronize(c->down);
	gpu_cuda_buf_free(&c->h_in, 1);
	gpu_cuda_buf_free(&c->h_out, 1);
	gpu_cuda_buf_free(&c->d_in, 0);
	gpu_cuda_buf_free(&c->d_out, 0);
	for (int k = 0; k < 4; k++)
		gpu_cuda_buf_free(&c->d_aux[k], 0);
	for (int k = 0; k < GPU_CUDA_BANDS; k++)
		if (c->band_done[k])
			cudaEventDestroy(c->band_done[k]);
	if (c->k0)
		cudaEventDestroy(c->k0);
	if (c->k1)
		cudaEventDestroy(c->k1);
	if (c->up)
		cudaStreamDestroy(c->up);
	if (c->down)
		cudaStreamDestroy(c->down);
	(void)cudaGetLastError();
	free(c);
}

int gpu_cuda_buf_reserve(gpu_cuda_buf *b, size_t need, int pinned, svt_err *err)
{
	int rc = 0;
	if (need <= b->cap)
		return 0;
	gpu_cuda_buf_free(b, pinned);
	/* Grow by a quarter more than asked so slowly growing inputs do not reallocate often. */
	size_t cap = need + need / 4;
	if (pinned)
		CUDA_CK(cudaMallocHost(&b->p, cap));
	else
		CUDA_CK(cudaMalloc(&b->p, cap));
	b->cap = cap;
done:
	return rc;
}

void gpu_cuda_buf_free(gpu_cuda_buf *b, int pinned)
{
	if (b->p) {
		if (pinned)
			cudaFreeHost(b->p);
		else
			cudaFree(b->p);
	}
	b->p = NULL;
	b->cap = 0;
}

int gpu_cuda_upload_image(gpu_cuda *c, const gpu_image *img, svt_err *err)
{
	size_t bytes = (size_t)img->width * (size_t)img->channels * (size_t)img->height;
	int rc = gpu_cuda_buf_reserve(&c->d_in, bytes, 0, err);
	return rc ? rc : gpu_cuda_upload_image_to(c, img, c->d_in.p, err);
}

int gpu_cuda_upload_image_to(gpu_cuda *c, const gpu_image *img, void *d_dst, svt_err *err)
{
	int rc = 0;
	size_t row = (size_t)img->width * (size_t)img->channels;
	size_t bytes = row * (size_t)img->height;
	const size_t chunk = (size_t)4 << 20;
	size_t rows_per = chunk / row ? chunk / row : 1;
	CUDA_CK(cudaStreamSynchronize(c->up));
	if ((rc = gpu_cuda_buf_reserve(&c->h_in, bytes, 1, err)))
		return rc;
	for (size_t y0 = 0; y0 < (size_t)img->height; y0 += rows_per) {
		size_t n = (size_t)img->height - y0 < rows_per ? (size_t)img->height - y0 : rows_per;
		unsigned char *h = (unsigned char *)c->h_in.p + y0 * row;
		if (img->stride == row) {
			memcpy(h, img->data + y0 * row, n * row);
		} else {
			for (size_t y = 0; y < n; y++)
				memcpy(h + y * row, img->data + (y0 + y) * img->stride, row);
		}
		CUDA_CK(cudaMemcpyAsync((unsigned char *)d_dst + y0 * row, h, n * row,
					cudaMemcpyHostToDevice, c->up));
	}
done:
	return rc;
}

int gpu_cuda_upload_bytes(gpu_cuda *c, void *d_dst, const void *src, size_t bytes, svt_err *err)
{
	int rc = 0;
	const size_t chunk = (size_t)4 << 20;
	CUDA_CK(cudaStreamSynchronize(c->up));
	if ((rc = gpu_cuda_buf_reserve(&c->h_in, bytes, 1, err)))
		return rc;
	for (size_t o = 0; o < bytes; o += chunk) {
		size_t n = bytes - o < chunk ? bytes - o : chunk;
		memcpy((unsigned char *)c->h_in.p + o, (const unsigned char *)src + o, n);
		CUDA_CK(cudaMemcpyAsync((unsigned char *)d_dst + o, (unsigned char *)c->h_in.p + o, n,
					cudaMemcpyHostToDevice, c->up));
	}
done:
	return rc;
}

void gpu_cuda_time_read(gpu_cuda *c)
{
	float ms = 0;
	if (cudaEventElapsedTime(&ms, c->k0, c->k1) != cudaSuccess) {
		(void)cudaGetLastError();
		ms = 0;
	}
	c->last_ms = ms;
}

extern "C" double gpu_cuda_last_ms(const gpu_cuda *c)
{
	return c->last_ms;
}

extern "C" void gpu_cuda_device_info(const gpu_cuda *c, gpu_device_info *info)
{
	snprintf(info->name, sizeof(info->name), "%s", c->prop.name);
	info->sm_count = c->prop.multiProcessorCount;
	info->mem_bytes = c->prop.totalGlobalMem;
	info->mem_bw_gbs = c->mem_bw_gbs;
}

extern "C" int gpu_cuda_download_image(gpu_cuda *c, const gpu_image *dev, gpu_image *host,
				       svt_err *err)
{
	int rc = 0;
	size_t row = (size_t)dev->width * (size_t)dev->channels;
	CUDA_CK(cudaMemcpy2DAsync(host->data, host->stride, dev->data, dev->stride, row,
				  (size_t)dev->height, cudaMemcpyDeviceToHost, c->up));
	CUDA_CK(cudaStreamSynchronize(c->up));
done:
	return rc;
}

extern "C" int gpu_cuda_healthy(gpu_cuda *c)
{
	/* A sticky error (an illegal address, a lost device) is returned by every later call,
	 * so a synchronisation that succeeds after clearing the last error means the context is
	 * intact and the failed call may be retried elsewhere. */
	(void)cudaGetLastError();
	if (cudaStreamSynchronize(c->up) != cudaSuccess || cudaStreamSynchronize(c->down) != cudaSuccess ||
	    cudaDeviceSynchronize() != cudaSuccess) {
		(void)cudaGetLastError();
		return 0;
	}
	return 1;
}

extern "C" int gpu_cuda_host_register(void *p, size_t bytes, svt_err *err)
{
	cudaError_t e = cudaHostRegister(p, bytes, cudaHostRegisterDefault);
	if (e == cudaSuccess)
		return 0;
	(void)cudaGetLastError();
	return svt_err_set(err, SVT_E_CUDA, "cudaHostRegister of %zu bytes failed: %s", bytes,
			   cudaGetErrorString(e));
}

extern "C" void gpu_cuda_host_unregister(void *p)
{
	if (cudaHostUnregister(p) != cudaSuccess)
		(void)cudaGetLastError();
}

extern "C" int gpu_cuda_host_is_pinned(const void *p)
{
	cudaPointerAttributes a;
	if (cudaPointerGetAttributes(&a, p) != cudaSuccess) {
		(void)cudaGetLastError();
		return 0;
	}
	return a.type == cudaMemoryTypeHost;
}
