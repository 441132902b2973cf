/* view.cu: equirectangular -> pinhole view on the device. One thread per output pixel runs
 * the same gpu_math.h code as the C reference (view.c): its own source position, its right and
 * lower neighbours' for the footprint, then one tap or the supersampled box prefilter. The
 * output is cut in bands: band k downloads on a second stream while band k+1 computes. */
#include <stdlib.h>
#include <string.h>

#include "gpu/cuda_common.cuh"


__global__ void view_kernel(gm_view g, gm_src s, int w, int h, int j0, int j1, int bicubic,
			    int aa, unsigned char *out)
{
	int i = blockIdx.x * blockDim.x + threadIdx.x;
	int j = j0 + blockIdx.y * blockDim.y + threadIdx.y;
	if (i >= w || j >= j1)
		return;
	gm_view_px(&g, &s, (size_t)w * s.ch, i, j, bicubic, aa, out);
}

/* One view of one panorama, for the launch that cuts several frames' views at once. */
struct gm_view_job {
	gm_view g;
	gm_src s;
	int w, h, bicubic, aa;
	unsigned char *out;
};

/* blockIdx.z picks the job: every frame of a batch in one launch. */
__global__ void views_multi_kernel(const gm_view_job *jobs)
{
	const gm_view_job *J = &jobs[blockIdx.z];
	int i = blockIdx.x * blockDim.x + threadIdx.x;
	int j = blockIdx.y * blockDim.y + threadIdx.y;
	if (i >= J->w || j >= J->h)
		return;
	gm_view g = J->g;
	gm_src s = J->s;
	gm_view_px(&g, &s, (size_t)J->w * s.ch, i, j, J->bicubic, J->aa, J->out);
}

extern "C" int gpu_cuda_views_multi(gpu_cuda *c, const gpu_image *src, const gpu_view *v, int n,
				    gpu_image *dst, svt_err *err)
{
	int rc = 0, mw = 0, mh = 0;
	size_t total = 0, off = 0, jb = (size_t)n * sizeof(gm_view_job);
	gm_view_job *jobs = (gm_view_job *)malloc(jb);
	dim3 block(32, 8);
	if (!jobs)
		return svt_err_set(err, SVT_E_NOMEM, "views: no memory for %d jobs", n);
	for (int k = 0; k < n; k++)
		total += (size_t)v[k].width * src[k].channels * (size_t)v[k].height;
	if ((rc = gpu_cuda_buf_reserve(&c->d_out, total, 0, err)) ||
	    (rc = gpu_cuda_buf_reserve(&c->h_out, total, 1, err)) ||
	    (rc = gpu_cuda_buf_reserve(&c->d_aux[3], jb, 0, err)))
		goto done;
	for (int k = 0; k < n; k++) {
		gm_view_job *J = &jobs[k];
		gpu_view_to_gm(&v[k], src[k].width, src[k].height, &J->g);
		J->s.data = (const unsigned char *)src[k].data;
		J->s.stride = src[k].stride;
		J->s.W = src[k].width;
		J->s.H = src[k].height;
		J->s.ch = src[k].channels;
		J->w = v[k].width;
		J->h = v[k].height;
		J->bicubic = v[k].interp == GPU_INTERP_BICUBIC;
		J->aa = v[k].antialias;
		J->out = (unsigned char *)c->d_out.p + off;
		off += (size_t)J->w * J->s.ch * J->h;
		mw = J->w > mw ? J->w : mw;
		mh = J->h > mh ? J->h : mh;
	}
	if ((rc = gpu_cuda_upload_bytes(c, c->d_aux[3].p, jobs, jb, err)))
		goto done;
	GPU_CUDA_TIME_START(c);
	views_multi_kernel<<<dim3((unsigned)((mw + 31) / 32), (unsigned)((mh + 7) / 8), (unsigned)n),
			     block, 0, c->up>>>((const gm_view_job *)c->d_aux[3].p);
	CUDA_CK(cudaGetLastError());
	GPU_CUDA_TIME_STOP(c);
	/* Each view straight into its destination when that is packed pinned memory (a clip
	 * buffer pinned once), else through the staging buffer. */
	off = 0;
	for (int k = 0; k < n; k++) {
		size_t row = (size_t)v[k].width * src[k].channels, bytes = row * v[k].height;
		int direct = dst[k].stride == row && gpu_cuda_host_is_pinned(dst[k].data);
		CUDA_CK(cudaMemcpyAsync(direct ? dst[k].data : (unsigned char *)c->h_out.p + off,
					(unsigned char *)c->d_out.p + off, bytes,
					cudaMemcpyDeviceToHost, c->up));
		jobs[k].h = direct ? -1 : jobs[k].h; /* marks a view already in place */
		off += bytes;
	}
	CUDA_CK(cudaStreamSynchronize(c->up));
	gpu_cuda_time_read(c);
	off = 0;
	for (int k = 0; k < n; k++) {
		size_t row = (size_t)v[k].width * src[k].channels;
		for (int j = 0; j < v[k].height && jobs[k].h >= 0; j++)
			memcpy(dst[k].data + (size_t)j * dst[k].stride,
			       (unsigned char *)c->h_out.p + off + (size_t)j * row, row);
		off += row * (size_t)v[k].height;
	}
done:
	free(jobs);
	if (rc) {
		cudaStreamSynchronize(c->up);
		(void)cudaGetLastError();
	}
	return rc;
}

extern "C" int gpu_cuda_views_from_equirect(gpu_cuda *c, const gpu_image *src, const gpu_view *v,
					    int n, gpu_image *dst, svt_err *err)
{
	int rc = gpu_cuda_upload_image(c, src, err);
	return rc ? rc : gpu_cuda_views_from_device(c, src, c->d_in.p, v, n, dst, err);
}

extern "C" int gpu_cuda_views_from_device(gpu_cuda *c, const gpu_image *src, const void *d_src,
					  const gpu_view *v, int n, gpu_image *dst, svt_err *err)
{
	int rc = 0;
	int ch = src->channels;
	size_t total = 0, off = 0;
	gm_src s;
	dim3 block(32, 8);
	int direct[64] = {0};
	for (int k = 0; k < n; k++)
		total += (size_t)v[k].width * ch * (size_t)v[k].height;
	if ((rc = gpu_cuda_buf_reserve(&c->h_out, total, 1, err)) ||
	    (rc = gpu_cuda_buf_reserve(&c->d_out, total, 0, err)))
		goto done;
	s.data = (const unsigned char *)d_src;
	s.stride = (size_t)src->width * (size_t)ch;
	s.W = src->width;
	s.H = src->height;
	s.ch = ch;
	/* Each view is cut in bands: band b downloads on c->down while band b + 1 computes on
	 * c->up (events order the two streams). A packed destination in pinned memory (a clip
	 * buffer the caller pinned once, gpu_ctx_host_pin) takes the DMA directly: no staging
	 * copy. */
	for (int k = 0; k < n && k < 64; k++)
		direct[k] = dst[k].stride == (size_t)v[k].width * ch && gpu_cuda_host_is_pinned(dst[k].data);
	GPU_CUDA_TIME_START(c);
	for (int k = 0; k < n; k++) {
		int w = v[k].width, h = v[k].height;
		size_t row = (size_t)w * ch;
		unsigned char *hb = k < 64 && direct[k] ? dst[k].data
							: (unsigned char *)c->h_out.p + off;
		gm_view g;
		gpu_view_to_gm(&v[k], src->width, src->height, &g);
		for (int b = 0; b < GPU_CUDA_BANDS; b++) {
			int j0 = (int)((long long)h * b / GPU_CUDA_BANDS);
			int j1 = (int)((long long)h * (b + 1) / GPU_CUDA_BANDS);
			if (j0 >= j1)
				continue;
			dim3 grid((unsigned)((w + 31) / 32), (unsigned)((j1 - j0 + 7) / 8));
			view_kernel<<<grid, block, 0, c->up>>>(
				g, s, w, h, j0, j1, v[k].interp == GPU_INTERP_BICUBIC, v[k].antialias,
				(unsigned char *)c->d_out.p + off);
			CUDA_CK(cudaGetLastError());
			CUDA_CK(cudaEventRecord(c->band_done[b], c->up));
			CUDA_CK(cudaStreamWaitEvent(c->down, c->band_done[b], 0));
			CUDA_CK(cudaMemcpyAsync(hb + (size_t)j0 * row,
						(unsigned char *)c->d_out.p + off + (size_t)j0 * row,
						(size_t)(j1 - j0) * row, cudaMemcpyDeviceToHost,
						c->down));
		}
		off += row * (size_t)h;
	}
	GPU_CUDA_TIME_STOP(c);
	CUDA_CK(cudaStreamSynchronize(c->down));
	CUDA_CK(cudaStreamSynchronize(c->up));
	gpu_cuda_time_read(c);
	off = 0;
	for (int k = 0; k < n; k++) {
		size_t row = (size_t)v[k].width * ch;
		for (int j = 0; j < v[k].height && !(k < 64 && direct[k]); j++)
			memcpy(dst[k].data + (size_t)j * dst[k].stride,
			       (unsigned char *)c->h_out.p + off + (size_t)j * row, row);
		off += row * (size_t)v[k].height;
	}
done:
	if (rc) {
		/* Leave the streams idle so the next call starts clean. */
		cudaStreamSynchronize(c->up);
		cudaStreamSynchronize(c->down);
		(void)cudaGetLastError();
	}
	return rc;
}

extern "C" int gpu_cuda_view_from_equirect(gpu_cuda *c, const gpu_image *src, const gpu_view *v,
					   gpu_image *dst, svt_err *err)
{
	return gpu_cuda_views_from_equirect(c, src, v, 1, dst, err);
}

extern "C" int gpu_cuda_kernel_probe(svt_err *err)
{
	cudaFuncAttributes a;
	cudaError_t e = cudaFuncGetAttributes(&a, view_kernel);
	if (e == cudaSuccess)
		return 0;
	(void)cudaGetLastError();
	int dev = 0, major = 0, minor = 0;
	cudaGetDevice(&dev);
	cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev);
	cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, dev);
	(void)cudaGetLastError();
	return svt_err_set(err, SVT_E_NODEV,
			   "gpu: this binary has no kernel for compute capability %d.%d (built for "
			   "sm_90 + compute_90 PTX): %s", major, minor, cudaGetErrorString(e));
}
