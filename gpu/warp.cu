/* warp.cu: the forward warp on the device, running warp_math.h's code of the reference
 * (warp.c). Landings and their footprints race for a target pixel through a 64-bit atomicMin
 * on (z bits, source index, fill bit), the reference's key, so the result equals the
 * reference's. */
#include <stdlib.h>
#include <string.h>

#include "gpu/cuda_common.cuh"
extern "C" {
#include "gpu/warp_math.h"
}

__global__ void warp_splat_kernel(gm_warp P, const float *depth, unsigned long long *zb)
{
	int a = blockIdx.x * blockDim.x + threadIdx.x, b = blockIdx.y;
	if (a >= P.sw)
		return;
	float z = depth[(size_t)b * P.step * P.src_w + (size_t)a * P.step]; /* packed rows */
	double u, v;
	float dz;
	if (!gm_warp_point(&P, a, b, z, &u, &v, &dz))
		return;
	unsigned s = (unsigned)((size_t)b * P.sw + a);
	size_t cell[5];
	unsigned long long key[5];
	int n = gm_warp_splat(&P, u, v, dz, s, cell, key);
	for (int k = 0; k < n; k++)
		atomicMin(&zb[cell[k]], key[k]);
}

__global__ void warp_finish_kernel(gm_warp P, const unsigned long long *zb, const uint8_t *rgb,
				   uint8_t *out_rgb, uint8_t *out_mask, float *out_depth)
{
	size_t c = (size_t)blockIdx.x * blockDim.x + threadIdx.x, px = (size_t)P.dw * P.dh;
	if (c >= px)
		return;
	unsigned long long k = zb[c];
	int hit = k != GM_WARP_EMPTY;
	out_mask[c] = (uint8_t)(hit ? 1 + (k & 1) : 0);
	out_depth[c] = hit ? gm_u2f((unsigned)(k >> 32)) : 0.0f;
	if (!rgb)
		return;
	unsigned idx = (unsigned)((k & 0xffffffffu) >> 1);
	const uint8_t *s = hit ? rgb + ((size_t)(idx / P.sw) * P.step * P.src_w +
					(size_t)(idx % P.sw) * P.step) * 3
			       : NULL;
	for (int k3 = 0; k3 < 3; k3++)
		out_rgb[3 * c + k3] = s ? s[k3] : 0;
}

/* Packs a strided host image of rows x row_bytes into device memory. */
static int upload_rows(gpu_cuda *c, void *d, const void *h, size_t stride, size_t row_bytes,
		       int rows, svt_err *err)
{
	gpu_image img = {(uint8_t *)h, (int)row_bytes, rows, 1, stride}; /* only read */
	return gpu_cuda_upload_image_to(c, &img, d, err);
}

extern "C" int gpu_cuda_warp(gpu_cuda *c, const gm_warp *P, const uint8_t *rgb,
			     size_t rgb_stride, const float *depth, size_t depth_stride,
			     uint8_t *out_rgb, uint8_t *out_mask, float *out_depth, svt_err *err)
{
	int rc = 0;
	/* The source packed on the device: src_w columns, the rows up to the last sample's. */
	size_t rows = (size_t)(P->sh - 1) * P->step + 1, px = (size_t)P->dw * P->dh;
	size_t dbytes = (size_t)P->src_w * rows * 4, cbytes = rgb ? (size_t)P->src_w * rows * 3 : 0;
	size_t obytes = px * (1 + 4 + (out_rgb ? 3 : 0));
	unsigned char *o, *ho;
	if ((rc = gpu_cuda_buf_reserve(&c->d_in, dbytes + cbytes, 0, err)) ||
	    (rc = gpu_cuda_buf_reserve(&c->d_aux[0], px * 8, 0, err)) ||
	    (rc = gpu_cuda_buf_reserve(&c->d_out, obytes, 0, err)) ||
	    (rc = gpu_cuda_buf_reserve(&c->h_out, obytes, 1, err)))
		goto done;
	if ((rc = upload_rows(c, c->d_in.p, depth, depth_stride, (size_t)P->src_w * 4, (int)rows,
			      err)))
		goto done;
	if (rgb && (rc = upload_rows(c, (unsigned char *)c->d_in.p + dbytes, rgb, rgb_stride,
				     (size_t)P->src_w * 3, (int)rows, err)))
		goto done;
	o = (unsigned char *)c->d_out.p;
	CUDA_CK(cudaMemsetAsync(c->d_aux[0].p, 0xff, px * 8, c->up));
	GPU_CUDA_TIME_START(c);
	warp_splat_kernel<<<dim3((unsigned)((P->sw + 255) / 256), (unsigned)P->sh), 256, 0,
			    c->up>>>(*P, (const float *)c->d_in.p, (unsigned long long *)c->d_aux[0].p);
	warp_finish_kernel<<<(unsigned)((px + 255) / 256), 256, 0, c->up>>>(
		*P, (const unsigned long long *)c->d_aux[0].p,
		rgb ? (const uint8_t *)c->d_in.p + dbytes : NULL, out_rgb ? o + px * 5 : NULL, o,
		(float *)(o + px));
	CUDA_CK(cudaGetLastError());
	GPU_CUDA_TIME_STOP(c);
	CUDA_CK(cudaMemcpyAsync(c->h_out.p, o, obytes, cudaMemcpyDeviceToHost, c->up));
	CUDA_CK(cudaStreamSynchronize(c->up));
	gpu_cuda_time_read(c);
	ho = (unsigned char *)c->h_out.p;
	memcpy(out_mask, ho, px);
	if (out_depth)
		memcpy(out_depth, ho + px, px * 4);
	if (out_rgb)
		memcpy(out_rgb, ho + px * 5, px * 3);
done:
	if (rc) {
		cudaStreamSynchronize(c->up);
		(void)cudaGetLastError();
	}
	return rc;
}
