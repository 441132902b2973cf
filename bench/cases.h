/* cases.h: one table of cases per kernel with its declared tolerance, shared by the parity
 * tests (tests/test_gpu_ref.c) and `svtwin bench kernels` (as ggml's test-backend-ops shares
 * its cases): the fast C path and the CUDA path are each compared with the plain reference
 * (gpu.h, "Plain references") on every case, and the benchmark times the same cases. */
#ifndef SVT_BENCH_CASES_H
#define SVT_BENCH_CASES_H

#include <stddef.h>

#include "gpu/gpu.h"

/* Comparison of one output with the reference: max |d|, the number over the tolerance. */
typedef struct bc_diff {
	double max_abs;
	size_t over, total;
} bc_diff;

/* A colour view of a synthetic panorama. A path passes when every output sample is within
 * max_lsb of the plain reference, except at most frac_over of them (pixels whose footprint
 * sits on an antialias step, where the float map and the double one may pick different
 * sub-sample counts), and no guard byte moved. */
typedef struct bc_view_case {
	const char *name;
	int W, H, ch;          /* panorama */
	int w, h;              /* view */
	double fov, yaw, pitch, roll;
	gpu_interp interp;
	int aa;
	int max_lsb;
	double frac_over;
} bc_view_case;
extern const bc_view_case bc_view_cases[];
extern const int bc_n_view_cases;

/* A depth view of a synthetic depth panorama (uint16 mm or float m with NaN/Inf/0 holes).
 * Outputs are z in metres: equal within rel relative error, except at most frac_over of them
 * (nearest-sample ties, where the float map and the double one round to neighbouring source
 * pixels); a zero (invalid) output must be zero on every path. */
typedef struct bc_depth_case {
	const char *name;
	int W, H, is_float;
	int w, h;
	double fov, yaw, pitch;
	double rel;
	double frac_over;
} bc_depth_case;
extern const bc_depth_case bc_depth_cases[];
extern const int bc_n_depth_cases;

/* A tensor from an image (the view source of bench_cases' panorama generator). Values are
 * compared decoded to float: |d| <= abs + rel |ref|. */
typedef struct bc_tensor_case {
	const char *name;
	int W, H, ch, out_w, out_h;
	gpu_dtype dtype;
	int normalise; /* 1: ImageNet mean/std, 0: none */
	double rel, abs;
} bc_tensor_case;
extern const bc_tensor_case bc_tensor_cases[];
extern const int bc_n_tensor_cases;

/* Plucker rays of n cameras on a circle, looking out. Same comparison as the tensor. */
typedef struct bc_plucker_case {
	const char *name;
	int n, img_w, img_h, patch;
	gpu_dtype dtype;
	double rel, abs;
} bc_plucker_case;
extern const bc_plucker_case bc_plucker_cases[];
extern const int bc_n_plucker_cases;

/* Depth -> points: the same count and order on every path, colours equal, positions within
 * abs + rel |p| metres. */
typedef struct bc_points_case {
	const char *name;
	int W, H, is_float, step;
	gpu_depth_model model;
	int color;
	double rel, abs;
} bc_points_case;
extern const bc_points_case bc_points_cases[];
extern const int bc_n_points_cases;

/* A forward warp (gpu_warp_splat, with its footprint) of a synthetic street view: a ground
 * plane and walls with boxes, some pixels without depth, colour from bc_view_source. The
 * source camera at the origin; the target moved by (tx, ty, tz) metres and turned yaw degrees,
 * with focal lengths fs and fd (px; fd > fs magnifies). Paths are compared with the reference
 * (gpu_warp_splat_ref): at most frac_over of the target pixels may differ in mask or colour
 * (the fast C path associates the projection's sums differently, so a landing within an ulp
 * of a pixel edge may cross it; CUDA may fuse an FMA). */
typedef struct bc_warp_case {
	const char *name;
	int sw, sh, dw, dh;
	double fs, fd, yaw, tx, ty, tz;
	double frac_over;
} bc_warp_case;
extern const bc_warp_case bc_warp_cases[];
extern const int bc_n_warp_cases;

/* A densified frame (gpu_densify_frame) between two such views 2 m apart, at weight u: the
 * CUDA path against the reference (the CPU runs the reference itself), at most frac_over of
 * the pixels differing (an FMA ulp moving a landing). */
typedef struct bc_densify_case {
	const char *name;
	int w, h;
	double f, u, yaw;
	double frac_over;
} bc_densify_case;
extern const bc_densify_case bc_densify_cases[];
extern const int bc_n_densify_cases;

/* The inputs of a warp case: the two cameras, colour (sw x sh x 3, packed) and z-depth
 * (sw x sh floats, 0 where none), malloc'd (bc_free). */
void bc_warp_setup(const bc_warp_case *c, gpu_warp_cam *src, gpu_warp_cam *dst, uint8_t **rgb,
		   float **depth);
/* The two sources and the target pose of a densify case (rgb and depth malloc'd, bc_free). */
void bc_densify_setup(const bc_densify_case *c, gpu_densify_src *a, gpu_densify_src *b,
		      double w2c[16], double K[4]);
/* Pixels whose mask or colour differ between two warps or densified frames of n pixels. */
bc_diff bc_warp_compare(const uint8_t *got_rgb, const uint8_t *got_mask, const uint8_t *ref_rgb,
			const uint8_t *ref_mask, size_t n);

/* Inputs (malloc'd): a w2c pose and intrinsics per camera (K may be the depth's pinhole). */
void bc_plucker_setup(const bc_plucker_case *c, double *w2c, double *K);
gpu_depth bc_points_source(const bc_points_case *c, double w2c[16]);
/* |d| <= abs + rel |ref| over n dtype elements; NaN must be NaN on both sides. */
bc_diff bc_dtype_compare(gpu_dtype t, const void *got, const void *ref, size_t n, double rel,
			 double abs);

/* The inputs of a case, deterministic (malloc'd; free with bc_free). */
gpu_image bc_view_source(const bc_view_case *c);
void bc_view_setup(const bc_view_case *c, gpu_view *v);
gpu_depth bc_depth_source(const bc_depth_case *c);
void bc_depth_setup(const bc_depth_case *c, gpu_view *v);
void bc_free(void *p);

bc_diff bc_view_compare(const bc_view_case *c, const gpu_image *got, const gpu_image *ref);
/* zero_mismatch counts outputs zero on one side only (an invalid sample seen as valid). */
bc_diff bc_depth_compare(const bc_depth_case *c, const float *got, const float *ref,
			 size_t *zero_mismatch);

#endif
