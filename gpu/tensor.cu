/* tensor.cu: data-loader tensors and Plucker ray maps on the device, one thread per output
 * position running the gpu_math.h code of the references (tensor.c). */
#include <string.h>

#include "gpu/cuda_common.cuh"

__global__ void tensor_kernel(gm_src s, int ow, int oh, float scx, float scy, int nx, int ny,
			      float a0, float a1, float a2, float a3, float b0, float b1, float b2,
			      float b3, int dtype, void *dst)
{
	int x = blockIdx.x * blockDim.x + threadIdx.x, y = blockIdx.y * blockDim.y + threadIdx.y;
	if (x >= ow || y >= oh)
		return;
	float acc[4] = {0, 0, 0, 0};
	float a[4] = {a0, a1, a2, a3}, b[4] = {b0, b1, b2, b3};
	gm_resize_pixel(&s, x, y, scx, scy, nx, ny, acc);
	float inv = 1.0f / (float)(nx * ny);
	size_t plane = (size_t)ow * oh;
	for (int k = 0; k < 4; k++)
		if (k < s.ch)
			gm_store(dst, k * plane + (size_t)y * ow + x, dtype,
				 GM_ADD(GM_MUL(GM_MUL(acc[k], inv), a[k]), b[k]));
}

extern "C" int gpu_cuda_tensor_from_image(gpu_cuda *c, const gpu_image *src, int out_w,
					  int out_h, const float *a, const float *b, int dtype,
					  void *dst, svt_err *err)
{
	int rc = 0;
	size_t bytes = (size_t)out_w * out_h * src->channels * (dtype == 0 ? 4 : 2);
	gm_src s;
	float aa[4] = {0, 0, 0, 0}, bb[4] = {0, 0, 0, 0};
	float scx = (float)src->width / (float)out_w, scy = (float)src->height / (float)out_h;
	dim3 block(32, 8), grid((unsigned)((out_w + 31) / 32), (unsigned)((out_h + 7) / 8));
	for (int k = 0; k < src->channels; k++) {
		aa[k] = a[k];
		bb[k] = b[k];
	}
	if ((rc = gpu_cuda_buf_reserve(&c->d_out, bytes, 0, err)) ||
	    (rc = gpu_cuda_buf_reserve(&c->h_out, bytes, 1, err)) ||
	    (rc = gpu_cuda_upload_image(c, src, err)))
		goto done;
	s.data = (const unsigned char *)c->d_in.p;
	s.stride = (size_t)src->width * src->channels;
	s.W = src->width;
	s.H = src->height;
	s.ch = src->channels;
	GPU_CUDA_TIME_START(c);
	tensor_kernel<<<grid, block, 0, c->up>>>(s, out_w, out_h, scx, scy, gm_aa_count(scx),
						 gm_aa_count(scy), aa[0], aa[1], aa[2], aa[3], bb[0],
						 bb[1], bb[2], bb[3], dtype, c->d_out.p);
	CUDA_CK(cudaGetLastError());
	GPU_CUDA_TIME_STOP(c);
	CUDA_CK(cudaMemcpyAsync(c->h_out.p, c->d_out.p, bytes, cudaMemcpyDeviceToHost, c->up));
	CUDA_CK(cudaStreamSynchronize(c->up));
	gpu_cuda_time_read(c);
	memcpy(dst, c->h_out.p, bytes);
done:
	if (rc) {
		cudaStreamSynchronize(c->up);
		(void)cudaGetLastError();
	}
	return rc;
}

__global__ void plucker_kernel(const double *RC, const double *K, int n, int ow, int oh,
			       int patch, int dtype, void *dst)
{
	int i = blockIdx.x * blockDim.x + threadIdx.x, j = blockIdx.y * blockDim.y + threadIdx.y;
	int b = blockIdx.z;
	if (i >= ow || j >= oh || b >= n)
		return;
	double o[6];
	gm_plucker(RC + 12 * b, RC + 12 * b + 9, K + 4 * b, (i + 0.5) * patch, (j + 0.5) * patch, o);
	size_t plane = (size_t)ow * oh;
	for (int k = 0; k < 6; k++)
		gm_store(dst, ((size_t)b * 6 + k) * plane + (size_t)j * ow + i, dtype, (float)o[k]);
}

extern "C" int gpu_cuda_plucker(gpu_cuda *c, const double *RC, const double *K, int n, int out_w,
				int out_h, int patch, int dtype, void *dst, svt_err *err)
{
	int rc = 0;
	size_t bytes = (size_t)n * 6 * out_w * out_h * (dtype == 0 ? 4 : 2);
	size_t pbytes = sizeof(double) * 16 * (size_t)n;
	double *hp, *dp;
	dim3 block(32, 8), grid((unsigned)((out_w + 31) / 32), (unsigned)((out_h + 7) / 8), (unsigned)n);
	if (n > 65535)
		return svt_err_set(err, SVT_E_LIMIT, "plucker: %d cameras in one call, at most 65535",
				   n);
	if ((rc = gpu_cuda_buf_reserve(&c->d_out, bytes, 0, err)) ||
	    (rc = gpu_cuda_buf_reserve(&c->h_out, bytes, 1, err)) ||
	    (rc = gpu_cuda_buf_reserve(&c->h_in, pbytes, 1, err)) ||
	    (rc = gpu_cuda_buf_reserve(&c->d_aux[0], pbytes, 0, err)))
		goto done;
	hp = (double *)c->h_in.p;
	dp = (double *)c->d_aux[0].p;
	memcpy(hp, RC, sizeof(double) * 12 * n);
	memcpy(hp + 12 * n, K, sizeof(double) * 4 * n);
	CUDA_CK(cudaMemcpyAsync(dp, hp, pbytes, cudaMemcpyHostToDevice, c->up));
	GPU_CUDA_TIME_START(c);
	plucker_kernel<<<grid, block, 0, c->up>>>(dp, dp + 12 * n, n, out_w, out_h, patch, dtype,
						  c->d_out.p);
	CUDA_CK(cudaGetLastError());
	GPU_CUDA_TIME_STOP(c);
	CUDA_CK(cudaMemcpyAsync(c->h_out.p, c->d_out.p, bytes, cudaMemcpyDeviceToHost, c->up));
	CUDA_CK(cudaStreamSynchronize(c->up));
	gpu_cuda_time_read(c);
	memcpy(dst, c->h_out.p, bytes);
done:
	if (rc) {
		cudaStreamSynchronize(c->up);
		(void)cudaGetLastError();
	}
	return rc;
}
