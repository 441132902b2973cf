/* gpu_internal.h (private to gpu/): the context shared by the dispatchers, and the helpers
 * the references share. Not installed; never included outside gpu/. */
#ifndef SVT_GPU_INTERNAL_H
#define SVT_GPU_INTERNAL_H

#include "gpu/gpu.h"
#include "gpu/gpu_math.h"

struct gpu_cuda; /* defined in the CUDA sources (gpu_cuda.h); NULL on the C path */

struct gpu_ctx {
	gpu_mode mode;
	int cpu_threads;
	char backend[160];
	struct gpu_cuda *cu;
};

/* How far from orthonormal a view rotation may be: max |(R R^T - I)_ij|. */
#define GPU_VIEW_ORTHO_TOL 1e-6
/* Checks a view's size, intrinsics (finite, fx, fy > 0) and rotation (finite, orthonormal);
 * SVT_E_INPUT with a message when wrong. Shared by every view-shaped kernel. */
int gpu_view_params_check(const gpu_view *v, svt_err *err);
/* Checks src, v, dst for gpu_view_from_equirect; SVT_E_INPUT with a message when wrong. */
int gpu_view_check(const gpu_image *src, const gpu_view *v, const gpu_image *dst,
		   svt_err *err);
/* Checks an equirectangular depth source (model, size, stride, scale and range): the part of
 * the depth view's checks the ray-map path (view_map.c) shares. */
int gpu_depth_src_check(const gpu_depth *src, svt_err *err);
/* Checks the arguments of gpu_view_depth_from_equirect (every path). */
int gpu_depth_view_check(const gpu_depth *src, const gpu_view *v, const float *dst,
			 size_t dst_stride, svt_err *err);
/* The float parameters both paths use for view v of a W x H panorama. */
void gpu_view_to_gm(const gpu_view *v, int W, int H, gm_view *g);
/* The C reference on `threads` threads (rows split in bands; output independent of it). */
int gpu_view_ref_run(const gpu_image *src, const gpu_view *v, gpu_image *dst, int threads,
		     svt_err *err);
/* gpu_view_ref_run that also fills map (non-NULL) with the view's ray map, the bits of
 * gpu_view_map_build, computed once for both (gpu_view_from_equirect_map). */
int gpu_view_ref_run_map(const gpu_image *src, const gpu_view *v, gpu_image *dst, int threads,
			 gpu_view_map *map, svt_err *err);
/* gpu_view_ref_run that also cuts the depth view of dsrc into ddst, row by row from the rays
 * as they are made (gpu_view_from_equirect_depth's C path). */
int gpu_view_ref_run_depth(const gpu_image *src, const gpu_view *v, gpu_image *dst, int threads,
			   const gpu_depth *dsrc, float *ddst, size_t dstride, svt_err *err);
/* Caps the x86 lanes the fast colour view (2: AVX-512 VBMI, 1: AVX2, 0: SSE2 only) and the
 * depth row (AVX2 from 1; AVX-512 versions measured no faster, docs/gpu.md) use, a CPU's own
 * lack of one still ruling; returns the cap before:
 * the tests run every path on one machine and compare each with the per-pixel code.
 * Process-wide; default 2. gpu_view_simd reads it. */
int gpu_view_simd_cap(int level);
int gpu_view_simd(void);
/* view_map.c: m checked against v and sized for it (its contents left to the caller). */
int gpu_view_map_reserve(const gpu_view *v, gpu_view_map *m, svt_err *err);
/* view_map.c: the depth view's float parameters for source src (its size), and one row of it
 * from that row's rays (lon, lat, norm: w each; tap: scratch of 2 w ints): the row
 * gpu_view_depth_from_map writes, which the colour view also calls as it makes each row's
 * rays (gpu_view_ref_run_depth). src checked by the caller. */
void gpu_view_depth_gm(const gpu_depth *src, gm_view *g);
void gpu_view_depth_row(const gm_view *g, const gpu_depth *src, const float *lon,
			const float *lat, const float *norm, int w, int *tap, float *row);

/* After a CUDA call returned rc: 1 when it failed without losing the context (not sticky),
 * so the caller runs the C path for this call; logs why and clears err. 0 otherwise. */
int gpu_ctx_fallback(gpu_ctx *ctx, int rc, const char *what, svt_err *err);

/* Runs fn(arg, k) for every k in [0, n), on up to n threads (the caller's thread runs k = 0);
 * a part whose thread cannot start runs on the caller's thread, so all parts always run. */
void gpu_parallel(int n, void (*fn)(void *arg, int k), void *arg);

/* Argument checks shared by the dispatchers and references; see gpu.h for the contracts. */
int gpu_tensor_params(const gpu_image *src, int out_w, int out_h, const float *mean,
		      const float *std, gpu_dtype dtype, const void *dst, float a[4], float b[4],
		      svt_err *err);
/* Fills RC[12 b ..] with camera b's rotation (9) and centre (3). */
int gpu_plucker_check(const double *w2c, const double *K, int n, int img_w, int img_h,
		      int patch, gpu_dtype dtype, const void *dst, double *RC, svt_err *err);
int gpu_depth_check(const gpu_depth *d, const gpu_image *color, const double w2c[16],
		    const gpu_point *out, size_t *n_out, svt_err *err);
/* One view each of n panoramas (view k of src[k] into dst[k]): on a CUDA context with every
 * src[k] in device memory (on_device), one launch for all n; otherwise view by view through
 * gpu_views_from_image. */
int gpu_views_multi(gpu_ctx *ctx, const gpu_image *src, int on_device, const gpu_view *v, int n,
		    gpu_image *dst, svt_err *err);
/* n depth views (view v[k] of src[k] into dst[k], dst_stride[k] bytes a row): one launch for
 * all on a CUDA context (the C path for this call on a failure that is not sticky), one by
 * one on the C path; the same output as gpu_view_depth_from_equirect. */
int gpu_view_depth_multi(gpu_ctx *ctx, const gpu_depth *const *src, const gpu_view *v, int n,
			 float *const *dst, const size_t *dst_stride, svt_err *err);
/* gpu_depth_to_points with a colour image that may live on the device (color_on_device: a
 * decoded frame of ctx's CUDA device, read in place; SVT_E_INPUT on a CPU context). */
int gpu_depth_to_points_src(gpu_ctx *ctx, const gpu_depth *d, const gpu_image *color,
			    int color_on_device, const double w2c[16], gpu_point *out, size_t cap,
			    size_t *n_out, svt_err *err);
/* Sorts the occupied voxels by key (unless sorted: the device sorted them already; a radix
 * sort in C otherwise) and writes the output points (shared final step). */
int gpu_voxel_finish(gm_vox *v, size_t m, int sorted, double voxel_m, gpu_point *out,
		     uint32_t *counts, size_t cap, size_t *n_out, svt_err *err);
int gpu_bev_check(const gpu_point *pts, size_t n, const gpu_bev *b, svt_err *err);
int gpu_zbuf_check(const gpu_point *pts, size_t n, const double w2c[16], const double K[4],
		   int width, int height, const float *depth, svt_err *err);

#endif
