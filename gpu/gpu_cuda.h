/* gpu_cuda.h (private to gpu/): the C-callable entry points of the CUDA code in the gpu/ .cu files.
 * Only the gpu/ .c files include it, and only when SVT_HAVE_CUDA is defined; CUDA types stay in the .cu
 * files. Every function returns 0 or a negative svt_status (SVT_E_CUDA with
 * cudaGetErrorString's text for a failed CUDA call, SVT_E_NODEV when no device); none aborts.
 */
#ifndef SVT_GPU_CUDA_H
#define SVT_GPU_CUDA_H

#include "gpu/gpu.h"
#include "gpu/gpu_math.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gpu_cuda gpu_cuda;

/* Number of usable CUDA devices (0 when there is no driver, no device, or the driver is older
 * than the runtime). Never fails. */
int gpu_cuda_device_count(void);

/* Opens device 0: a non-blocking stream, no buffers yet (they grow on first use). name gets
 * "cuda:<device name>". Free with gpu_cuda_destroy (NULL is harmless). */
int gpu_cuda_create(gpu_cuda **out, char *name, size_t name_cap, svt_err *err);
void gpu_cuda_destroy(gpu_cuda *c);
void gpu_cuda_device_info(const gpu_cuda *c, gpu_device_info *info);
double gpu_cuda_last_ms(const gpu_cuda *c);

/* The kernels on the device; arguments already checked by the caller (the gpu/ .c files), outputs
 * written exactly as the C references write them (gpu.h). */
int gpu_cuda_view_from_equirect(gpu_cuda *c, const gpu_image *src, const gpu_view *v,
				gpu_image *dst, svt_err *err);
/* n views of one panorama, uploaded once (the cubemap). */
int gpu_cuda_views_from_equirect(gpu_cuda *c, const gpu_image *src, const gpu_view *v, int n,
				 gpu_image *dst, svt_err *err);
/* a, b: per-channel multiply-add from gpu_tensor_params. */
int gpu_cuda_tensor_from_image(gpu_cuda *c, const gpu_image *src, int out_w, int out_h,
			       const float *a, const float *b, int dtype, void *dst, svt_err *err);
/* RC: per camera rotation (9) and centre (3). */
int gpu_cuda_plucker(gpu_cuda *c, const double *RC, const double *K, int n, int out_w,
		     int out_h, int patch, int dtype, void *dst, svt_err *err);
/* g: the view's float parameters at the depth map's size; s: the source (host pointers). */
int gpu_cuda_view_depth(gpu_cuda *c, const gm_view *g, const gm_dsrc *s, int out_w, int out_h,
			float *dst, size_t dst_stride, svt_err *err);
/* color_on_device: color->data is device memory (a decoded frame, packed or strided), read in
 * place; else a host image, uploaded. */
/* n depth views in one launch: g[k], s[k] (host sources, uploaded packed), out_w[k] x out_h[k]
 * floats into dst[k] (dst_stride[k] bytes a row). */
int gpu_cuda_view_depth_multi(gpu_cuda *c, const gm_view *g, const gm_dsrc *s, const int *out_w,
			      const int *out_h, int n, float *const *dst, const size_t *dst_stride,
			      svt_err *err);
int gpu_cuda_depth_to_points(gpu_cuda *c, const gpu_depth *d, const gpu_image *color,
			     int color_on_device, const double w2c[16], gpu_point *out, size_t cap, size_t *n_out,
			     svt_err *err);
/* Accumulates the points into voxels; *vox (malloc'd here, caller frees) gets the *m
 * occupied voxels sorted by key on the device (CUB radix sort). */
int gpu_cuda_voxel_accumulate(gpu_cuda *c, const gpu_point *in, size_t n, double inv_v,
			      void **vox, size_t *m, size_t *n_dropped, svt_err *err);
int gpu_cuda_bev(gpu_cuda *c, const gpu_point *pts, size_t n, const gpu_bev *b, uint8_t *occ,
		 float *height, uint8_t *rgb, svt_err *err);
int gpu_cuda_points_to_depth(gpu_cuda *c, const gpu_point *pts, size_t n, const double w2c[16],
			     const double K[4], int width, int height, double near_m,
			     float *depth, uint8_t *rgb, svt_err *err);


/* n views of a panorama already in device memory (d_src: packed rows of src's size; src->data
 * is ignored), downloaded into the host images dst. No upload. */
int gpu_cuda_views_from_device(gpu_cuda *c, const gpu_image *src, const void *d_src,
			       const gpu_view *v, int n, gpu_image *dst, svt_err *err);
/* One view each of n panoramas already in device memory (src[k].data device pointers, any
 * stride), in one launch (blockIdx.z = frame), downloaded into the host images dst. */
int gpu_cuda_views_multi(gpu_cuda *c, const gpu_image *src, const gpu_view *v, int n,
			 gpu_image *dst, svt_err *err);
/* Copies a packed device image (dev->data device memory) into the host image host. */
int gpu_cuda_download_image(gpu_cuda *c, const gpu_image *dev, gpu_image *host, svt_err *err);
/* 1 when the context can still run work after a failed call (the error was not sticky: an
 * allocation failure, a bad launch configuration), 0 when the context is lost. */
int gpu_cuda_healthy(gpu_cuda *c);

/* cudaHostRegister / cudaHostUnregister (gpu_ctx_host_pin), and whether p lies in pinned
 * or registered host memory (the view download then skips its staging copy). */
int gpu_cuda_host_register(void *p, size_t bytes, svt_err *err);
void gpu_cuda_host_unregister(void *p);
int gpu_cuda_host_is_pinned(const void *p);

/* ---- nvJPEG (jpeg.cu) ---- */
typedef struct gpu_nvjpeg gpu_nvjpeg;
/* The CPU decoder jpeg.c lends the device side for what nvJPEG cannot decode: header gives the
 * RGB size, decode writes RGB rows stride bytes apart into dst (pinned memory). */
typedef struct gpu_jpeg_cpu {
	int (*header)(void *arg, const uint8_t *data, size_t len, int *w, int *h, svt_err *err);
	/* *warning: 1 when the data were corrupt but decodable (err's message says how). */
	int (*decode)(void *arg, const uint8_t *data, size_t len, uint8_t *dst, size_t stride,
		      int w, int h, int *warning, svt_err *err);
	void *arg;
} gpu_jpeg_cpu;
/* Device slots for max_batch frames and, when use_nvjpeg and the library loads and accepts
 * the device, an nvJPEG handle: *backend says which (GPU_JPEG_TURBO: none; why says why,
 * else which library file). Fails only when CUDA itself fails. */
int gpu_nvjpeg_create(gpu_cuda *c, int max_batch, int use_nvjpeg, gpu_nvjpeg **out,
		      gpu_jpeg_backend *backend, char *why, size_t why_cap, svt_err *err);
void gpu_nvjpeg_destroy(gpu_nvjpeg *nv);
/* gpu_jpeg_decode_batch on the device (frames already cleared; those with rc set skipped). */
int gpu_nvjpeg_decode(gpu_nvjpeg *nv, const uint8_t *const *data, const size_t *len, int n,
		      gpu_jpeg_frame *out, const gpu_jpeg_cpu *cpu, svt_err *err);
/* cudaFuncGetAttributes on a kernel: 0 when this device can run the kernels of this binary,
 * SVT_E_NODEV with the reason (no sm_90 image and no PTX the driver can JIT). */
int gpu_cuda_kernel_probe(svt_err *err);

/* Forward warp (warp.cu): P = the parameters warp.c prepares (gm_warp, gpu/warp_math.h). */
struct gm_warp;
int gpu_cuda_warp(gpu_cuda *c, const struct gm_warp *P, const uint8_t *rgb, size_t rgb_stride,
		  const float *depth, size_t depth_stride, uint8_t *out_rgb, uint8_t *out_mask,
		  float *out_depth, svt_err *err);

#ifdef __cplusplus
}
#endif

#endif
