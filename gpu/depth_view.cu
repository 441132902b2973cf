/* depth_view.cu: the depth-view kernel: one thread per output pixel running
 * gm_depth_view_pixel, the reference's code (depth_view.c). Nearest sampling, so the output
 * equals the reference's except where float rounding moves a sample across an exact tie. */
#include <string.h>

#include "gpu/cuda_common.cuh"

__global__ void depth_view_kernel(gm_view g, gm_dsrc s, int w, int h, float *out)
{
	int i = blockIdx.x * blockDim.x + threadIdx.x, j = blockIdx.y * blockDim.y + threadIdx.y;
	if (i < w && j < h)
		out[(size_t)j * w + i] = gm_depth_view_pixel(&g, &s, i, j);
}

extern "C" int gpu_cuda_view_depth(gpu_cuda *c, const gm_view *g, const gm_dsrc *s, int out_w,
				   int out_h, float *dst, size_t dst_stride, svt_err *err)
{
	int rc = 0;
	size_t px = s->is_float ? 4 : 2, row = (size_t)s->W * px, in_bytes = row * s->H;
	size_t out_row = (size_t)out_w * sizeof(float), out_bytes = out_row * out_h;
	gm_dsrc ds = *s;
	dim3 block(32, 8), grid((unsigned)((out_w + 31) / 32), (unsigned)((out_h + 7) / 8));
	if ((rc = gpu_cuda_buf_reserve(&c->d_in, in_bytes, 0, err)) ||
	    (rc = gpu_cuda_buf_reserve(&c->d_out, out_bytes, 0, err)) ||
	    (rc = gpu_cuda_buf_reserve(&c->h_out, out_bytes, 1, err)))
		goto done;
	/* Pack the rows on the way up: the device copy has stride = width * pixel size. */
	if (s->stride == row) {
		if ((rc = gpu_cuda_upload_bytes(c, c->d_in.p, s->data, in_bytes, err)))
			goto done;
	} else {
		CUDA_CK(cudaMemcpy2DAsync(c->d_in.p, row, s->data, s->stride, row, (size_t)s->H,
					  cudaMemcpyHostToDevice, c->up));
	}
	ds.data = (const unsigned char *)c->d_in.p;
	ds.stride = row;
	GPU_CUDA_TIME_START(c);
	depth_view_kernel<<<grid, block, 0, c->up>>>(*g, ds, out_w, out_h, (float *)c->d_out.p);
	CUDA_CK(cudaGetLastError());
	GPU_CUDA_TIME_STOP(c);
	CUDA_CK(cudaMemcpyAsync(c->h_out.p, c->d_out.p, out_bytes, cudaMemcpyDeviceToHost, c->up));
	CUDA_CK(cudaStreamSynchronize(c->up));
	gpu_cuda_time_read(c);
	for (int j = 0; j < out_h; j++)
		memcpy((unsigned char *)dst + (size_t)j * dst_stride,
		       (const unsigned char *)c->h_out.p + (size_t)j * out_row, out_row);
done:
	if (rc) {
		cudaStreamSynchronize(c->up);
		(void)cudaGetLastError();
	}
	return rc;
}
