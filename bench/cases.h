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
