/* gpu.h: the spatial-tensor kernels. Each has one entry point that dispatches to a CUDA kernel
 * when a device is present and to its plain C11 reference otherwise; the reference is also
 * exported (suffix _ref) so tests compare the two.
 *
 * Panorama convention (docs/conventions.md): an equirectangular image of W x H pixels is a
 * camera whose frame has OpenCV axes (x right, y down, z forward at the centre column on the
 * equator). Longitude lon in [-pi, pi) runs left to right, latitude lat from +pi/2 (top row)
 * to -pi/2; pixel centres sit at +0.5:
 *     col = (lon / (2 pi) + 0.5) W - 0.5,   row = (0.5 - lat / pi) H - 0.5,
 *     direction = (cos lat sin lon, -sin lat, cos lat cos lon).
 * A pinhole view has intrinsics fx, fy, cx, cy in pixels of the output image, pixel (i, j)
 * centred at (i + 0.5, j + 0.5), and a rotation R (row-major, view camera -> panorama frame).
 * CUDA types never appear here.
 */
#ifndef SVT_GPU_H
#define SVT_GPU_H

#include "base/svt.h"

/* An 8-bit interleaved image; data is owned by whoever allocated it (stated at each call). */
typedef struct gpu_image {
	uint8_t *data;
	int width, height, channels;
	size_t stride; /* bytes per row */
} gpu_image;

typedef enum gpu_interp { GPU_INTERP_BILINEAR = 0, GPU_INTERP_BICUBIC = 1 } gpu_interp;

typedef struct gpu_view {
	double R[9];          /* view camera -> panorama frame */
	double fx, fy, cx, cy;
	int width, height;
	gpu_interp interp;
	int antialias;        /* prefilter when the view samples the source coarser than 1:1 */
} gpu_view;

/* Fills v for a centred pinhole view of hfov_deg horizontal field of view. */
void gpu_view_pinhole(gpu_view *v, int width, int height, double hfov_deg);

/* ---- Execution context ------------------------------------------------------------------- */

typedef enum gpu_mode {
	GPU_MODE_AUTO = 0,    /* CUDA when a usable device exists, else the C reference */
	GPU_MODE_CPU = 1,     /* always the C reference */
	GPU_MODE_REQUIRE = 2, /* fail with SVT_E_NODEV when no device */
} gpu_mode;

typedef struct gpu_ctx gpu_ctx;

/* Creates a context: picks the backend, and on CUDA owns a stream, pinned staging buffers and
 * device buffers reused across calls (no device allocation per frame). One thread at a time.
 * gpu_ctx_destroy(NULL) does nothing. */
int gpu_ctx_create(gpu_mode mode, gpu_ctx **out, svt_err *err);
void gpu_ctx_destroy(gpu_ctx *ctx);
/* "cpu" or "cuda:<device name>"; owned by ctx. */
const char *gpu_ctx_backend(const gpu_ctx *ctx);
int gpu_ctx_is_cuda(const gpu_ctx *ctx);

/* True when this build has CUDA and a device is usable (driver present and recent enough). */
int gpu_device_available(void);

/* ---- Equirectangular -> perspective ------------------------------------------------------ */

/* Cuts view v out of the panorama src into dst (caller-allocated, v->width x v->height,
 * src->channels channels). Sampling wraps across the +-180 degree seam and over the poles. */
int gpu_view_from_equirect(gpu_ctx *ctx, const gpu_image *src, const gpu_view *v,
			   gpu_image *dst, svt_err *err);
int gpu_view_from_equirect_ref(const gpu_image *src, const gpu_view *v, gpu_image *dst,
			       svt_err *err);

/* Where a unit direction d (panorama frame) lands in the panorama, in pixel coordinates
 * (col, row) of the convention above; and the inverse. */
void gpu_equirect_project(const double d[3], int W, int H, double *col, double *row);
void gpu_equirect_unproject(double col, double row, int W, int H, double d[3]);

#endif
