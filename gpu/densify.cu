/* densify.cu: the densify kernels (gpu.h, gpu_densify_frame): one thread per source pixel
 * splats its 2 x 2 footprint with atomicMin on the 64-bit keys of densify_math.h (depth bits,
 * then pixel index: the reference's "lower key wins", so the z-buffers equal the reference's
 * whatever the thread order), then one thread per target pixel resolves the two z-buffers. */
#include <string.h>

#include "gpu/cuda_common.cuh"
extern "C" {
#include "gpu/densify_math.h"
}

__global__ void densify_clear(unsigned long long *z, size_t n)
{
	size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
	if (i < n)
		z[i] = DZ_EMPTY;
}

__global__ void densify_splat(dz_params p, const float *depth, unsigned long long *zb)
{
	int x = blockIdx.x * blockDim.x + threadIdx.x, y = blockIdx.y * blockDim.y + threadIdx.y;
	if (x >= p.W || y >= p.H)
		return;
	int ix, iy, ex, ey;
	uint64_t key, knear;
	if (!dz_project(&p, x, y, depth[(size_t)y * p.W + x], &ix, &iy, &ex, &ey, &key, &knear))
		return;
	for (int dy = 0; dy < 2; dy++)
		for (int dx = 0; dx < 2; dx++) {
			int tx = ix + dx, ty = iy + dy;
			if (tx >= 0 && ty >= 0 && tx < p.W && ty < p.H)
				atomicMin(&zb[(size_t)ty * p.W + tx],
					  (unsigned long long)(tx == ex && ty == ey ? key : knear));
		}
}

__global__ void densify_resolve(dz_params p, const unsigned long long *za,
				const unsigned long long *zb, const uint8_t *ra, const uint8_t *rb,
				uint8_t *out, uint8_t *valid)
{
	size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
	if (i < (size_t)p.W * p.H)
		dz_resolve(&p, za[i], zb[i], ra, rb, out + 3 * i, valid + i);
}

extern "C" int gpu_cuda_densify(gpu_cuda *c, const dz_params *pa, const dz_params *pb,
				const gpu_densify_src *a, const gpu_densify_src *b, uint8_t *rgb,
				uint8_t *valid, svt_err *err)
{
	int rc = 0;
	size_t n = (size_t)pa->W * pa->H, rgbn = 3 * n, dn = n * sizeof(float);
	size_t zn = n * sizeof(unsigned long long);
	uint8_t *d_in, *d_out;
	unsigned long long *za, *zb;
	dim3 block(32, 8), grid((unsigned)((pa->W + 31) / 32), (unsigned)((pa->H + 7) / 8));
	unsigned lin = (unsigned)((n + 255) / 256);
	if ((rc = gpu_cuda_buf_reserve(&c->d_in, 2 * rgbn + 2 * dn, 0, err)) ||
	    (rc = gpu_cuda_buf_reserve(&c->d_aux[0], 2 * zn, 0, err)) ||
	    (rc = gpu_cuda_buf_reserve(&c->d_out, rgbn + n, 0, err)))
		goto done;
	d_in = (uint8_t *)c->d_in.p;
	d_out = (uint8_t *)c->d_out.p;
	za = (unsigned long long *)c->d_aux[0].p;
	zb = za + n;
	/* Depth first (4-byte aligned), then the colours. */
	if ((rc = gpu_cuda_upload_bytes(c, d_in, a->depth, dn, err)) ||
	    (rc = gpu_cuda_upload_bytes(c, d_in + dn, b->depth, dn, err)) ||
	    (rc = gpu_cuda_upload_bytes(c, d_in + 2 * dn, a->rgb, rgbn, err)) ||
	    (rc = gpu_cuda_upload_bytes(c, d_in + 2 * dn + rgbn, b->rgb, rgbn, err)))
		goto done;
	GPU_CUDA_TIME_START(c);
	densify_clear<<<(unsigned)((2 * n + 255) / 256), 256, 0, c->up>>>(za, 2 * n);
	densify_splat<<<grid, block, 0, c->up>>>(*pa, (const float *)d_in, za);
	densify_splat<<<grid, block, 0, c->up>>>(*pb, (const float *)(d_in + dn), zb);
	densify_resolve<<<lin, 256, 0, c->up>>>(*pa, za, zb, d_in + 2 * dn, d_in + 2 * dn + rgbn,
						d_out, d_out + rgbn);
	CUDA_CK(cudaGetLastError());
	GPU_CUDA_TIME_STOP(c);
	CUDA_CK(cudaMemcpyAsync(rgb, d_out, rgbn, cudaMemcpyDeviceToHost, c->up));
	CUDA_CK(cudaMemcpyAsync(valid, d_out + rgbn, n, cudaMemcpyDeviceToHost, c->up));
	CUDA_CK(cudaStreamSynchronize(c->up));
	gpu_cuda_time_read(c);
done:
	if (rc) {
		cudaStreamSynchronize(c->up);
		(void)cudaGetLastError();
	}
	return rc;
}
