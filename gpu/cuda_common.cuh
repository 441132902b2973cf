/* cuda_common.cuh (private to the gpu/ .cu files): the CUDA context, buffer growth and error checks
 * shared by the kernel files. C++ only. */
#ifndef SVT_CUDA_COMMON_CUH
#define SVT_CUDA_COMMON_CUH

#include <cuda_runtime.h>

extern "C" {
#include "base/svt.h"
#include "gpu/gpu_internal.h"
}
#include "gpu/gpu_cuda.h"

/* Buffers grow to the largest size asked for and are kept: no device allocation per frame
 * once the sizes are stable. */
struct gpu_cuda_buf {
	void *p;
	size_t cap;
};

enum { GPU_CUDA_BANDS = 4 };

struct gpu_cuda {
	int device;
	cudaStream_t up;   /* upload + kernels */
	cudaStream_t down; /* downloads, overlapping the next band's kernel */
	cudaEvent_t band_done[GPU_CUDA_BANDS];
	gpu_cuda_buf h_in, h_out;   /* pinned staging */
	gpu_cuda_buf d_in, d_out;   /* device */
	gpu_cuda_buf d_aux[4];      /* per-kernel scratch (parameters, tables) */
	cudaDeviceProp prop;
	double mem_bw_gbs;
	cudaEvent_t k0, k1; /* timing events around the kernels of one call */
	float last_ms;
};

/* Brackets the kernels of a call with the timing events (on c->up). */
#define GPU_CUDA_TIME_START(c) CUDA_CK(cudaEventRecord((c)->k0, (c)->up))
#define GPU_CUDA_TIME_STOP(c) CUDA_CK(cudaEventRecord((c)->k1, (c)->up))
/* After the stream is synchronised: stores the elapsed time (0 if it cannot be read). */
void gpu_cuda_time_read(gpu_cuda *c);

/* On a failed CUDA call: set err (SVT_E_CUDA, the call and cudaGetErrorString) and jump to
 * the function's `done:` label with rc set. */
#define CUDA_CK(call)                                                                      \
	do {                                                                                \
		cudaError_t e_ = (call);                                                    \
		if (e_ != cudaSuccess) {                                                    \
			rc = svt_err_set(err, SVT_E_CUDA, "%s failed: %s", #call,           \
					 cudaGetErrorString(e_));                           \
			goto done;                                                          \
		}                                                                           \
	} while (0)

/* Grows a device (pinned = 0) or pinned host (pinned = 1) buffer to at least need bytes. */
int gpu_cuda_buf_reserve(gpu_cuda_buf *b, size_t need, int pinned, svt_err *err);
void gpu_cuda_buf_free(gpu_cuda_buf *b, int pinned);

/* Copies a strided host image into d_in through the pinned staging buffer, in chunks so the
 * host copy of one chunk overlaps the DMA of the previous one. The device copy is packed
 * (stride = width * channels). Asynchronous on c->up. */
int gpu_cuda_upload_image(gpu_cuda *c, const gpu_image *img, svt_err *err);

/* Copies bytes of host memory to device memory d_dst through the pinned staging buffer, in
 * chunks (host copy of one chunk overlapping the DMA of the previous). Asynchronous on c->up.
 * Both upload functions first wait for c->up, so an upload never overwrites staging memory an
 * earlier upload's DMA is still reading. */
int gpu_cuda_upload_bytes(gpu_cuda *c, void *d_dst, const void *src, size_t bytes, svt_err *err);

/* Like gpu_cuda_upload_image, into device memory d_dst (packed rows) instead of d_in. */
int gpu_cuda_upload_image_to(gpu_cuda *c, const gpu_image *img, void *d_dst, svt_err *err);

#endif
