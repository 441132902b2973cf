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

/* One depth view of one depth panorama, for the launch that cuts several frames' at once. */
struct gm_dview_job {
	gm_view g;
	gm_dsrc s;
	int w, h;
	float *out;
};

/* blockIdx.z picks the job: every frame of a batch in one launch. */
__global__ void depth_view_multi_kernel(const gm_dview_job *jobs)
{
	const gm_dview_job *J = &jobs[blockIdx.z];
	int i = blockIdx.x * blockDim.x + threadIdx.x, j = blockIdx.y * blockDim.y + threadIdx.y;
	if (i >= J->w || j >= J->h)
		return;
	gm_view g = J->g;
	gm_dsrc s = J->s;
	J->out[(size_t)j * J->w + i] = gm_depth_view_pixel(&g, &s, i, j);
}

extern "C" int gpu_cuda_view_depth_multi(gpu_cuda *c, const gm_view *g, const gm_dsrc *s,
					 const int *out_w, const int *out_h, int n,
					 float *const *dst, const size_t *dst_stride, svt_err *err)
{
	int rc = 0, mw = 0, mh = 0;
	size_t in_total = 0, out_total = 0, jb = (size_t)n * sizeof(gm_dview_job), ino = 0, outo = 0;
	gm_dview_job *jobs = (gm_dview_job *)malloc(jb);
	int *staged = (int *)calloc((size_t)n, sizeof(int));
	if (!jobs || !staged) {
		free(jobs);
		free(staged);
		return svt_err_set(err, SVT_E_NOMEM, "depth views: no memory for %d jobs", n);
	}
	for (int k = 0; k < n; k++) {
		in_total += ((size_t)s[k].W * (s[k].is_float ? 4 : 2) * s[k].H + 15) & ~(size_t)15;
		out_total += (size_t)out_w[k] * out_h[k] * sizeof(float);
	}
	if ((rc = gpu_cuda_buf_reserve(&c->d_in, in_total, 0, err)) ||
	    (rc = gpu_cuda_buf_reserve(&c->d_out, out_total, 0, err)) ||
	    (rc = gpu_cuda_buf_reserve(&c->h_out, out_total, 1, err)) ||
	    (rc = gpu_cuda_buf_reserve(&c->d_aux[3], jb, 0, err)))
		goto done;
	for (int k = 0; k < n; k++) {
		gm_dview_job *J = &jobs[k];
		size_t row = (size_t)s[k].W * (s[k].is_float ? 4 : 2);
		unsigned char *d_src = (unsigned char *)c->d_in.p + ino;
		/* The depth maps packed one after the other (rows tight) on the way up. */
		gpu_image img = {(uint8_t *)s[k].data, (int)row, s[k].H, 1, s[k].stride};
		if ((rc = gpu_cuda_upload_image_to(c, &img, d_src, err)))
			goto done;
		J->g = g[k];
		J->s = s[k];
		J->s.data = d_src;
		J->s.stride = row;
		J->w = out_w[k];
		J->h = out_h[k];
		J->out = (float *)((unsigned char *)c->d_out.p + outo);
		ino += (row * s[k].H + 15) & ~(size_t)15;
		outo += (size_t)out_w[k] * out_h[k] * sizeof(float);
		mw = J->w > mw ? J->w : mw;
		mh = J->h > mh ? J->h : mh;
	}
	if ((rc = gpu_cuda_upload_bytes(c, c->d_aux[3].p, jobs, jb, err)))
		goto done;
	GPU_CUDA_TIME_START(c);
	depth_view_multi_kernel<<<dim3((unsigned)((mw + 31) / 32), (unsigned)((mh + 7) / 8),
				       (unsigned)n), dim3(32, 8), 0, c->up>>>(
		(const gm_dview_job *)c->d_aux[3].p);
	CUDA_CK(cudaGetLastError());
	GPU_CUDA_TIME_STOP(c);
	/* Straight into packed pinned destinations (the job's clip buffer), else staged. */
	outo = 0;
	for (int k = 0; k < n; k++) {
		size_t row = (size_t)out_w[k] * sizeof(float), bytes = row * out_h[k];
		int direct = dst_stride[k] == row && gpu_cuda_host_is_pinned(dst[k]);
		staged[k] = !direct;
		CUDA_CK(cudaMemcpyAsync(direct ? (unsigned char *)dst[k] : (unsigned char *)c->h_out.p + outo,
					(unsigned char *)c->d_out.p + outo, bytes,
					cudaMemcpyDeviceToHost, c->up));
		outo += bytes;
	}
	CUDA_CK(cudaStreamSynchronize(c->up));
	gpu_cuda_time_read(c);
	outo = 0;
	for (int k = 0; k < n; k++) {
		size_t row = (size_t)out_w[k] * sizeof(float);
		for (int j = 0; j < out_h[k] && staged[k]; j++)
			memcpy((unsigned char *)dst[k] + (size_t)j * dst_stride[k],
			       (const unsigned char *)c->h_out.p + outo + (size_t)j * row, row);
		outo += row * out_h[k];
	}
done:
	free(jobs);
	free(staged);
	if (rc) {
		cudaStreamSynchronize(c->up);
		(void)cudaGetLastError();
	}
	return rc;
}
