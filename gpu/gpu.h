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
	/* Prefilter when the view samples the source coarser than 1:1: an output pixel whose
	 * footprint (the source displacement between it and its right / lower neighbour, the
	 * longer of the column and row components, taken the short way round the seam) exceeds
	 * 1.25 source px along an output axis is the mean of ceil(footprint / 1.25) sub-samples
	 * along that axis (at most 8), spread evenly over the pixel's area: a box prefilter over
	 * the pixel's footprint. Pixels at or under 1.25 px cost one tap as without it. */
	int antialias;
} gpu_view;

/* Fills v for a centred pinhole view (cx = width/2, cy = height/2, square pixels) of hfov_deg
 * horizontal field of view, looking along the panorama's forward axis (R = identity),
 * bilinear, antialiased. Callers then set R, interp, antialias as needed. */
void gpu_view_pinhole(gpu_view *v, int width, int height, double hfov_deg);

/* R (view camera -> panorama frame) for a view turned yaw degrees clockwise (to the right)
 * from the panorama's centre, pitch degrees up and roll degrees about its forward axis:
 * R = Ry(yaw) Rx(pitch) Rz(roll) in the panorama's OpenCV frame, which equals
 * geo_rot_from_hpr(0,0,0)^T geo_rot_from_hpr(yaw, pitch, roll) (docs/conventions.md). */
void gpu_view_rotation(double yaw_deg, double pitch_deg, double roll_deg, double R[9]);

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

/* The device behind a CUDA context (zeros and "cpu" on the C path). */
typedef struct gpu_device_info {
	char name[256];
	int sm_count;
	size_t mem_bytes;
	double mem_bw_gbs; /* theoretical peak: 2 x memory clock x bus width */
} gpu_device_info;
void gpu_ctx_device_info(const gpu_ctx *ctx, gpu_device_info *info);
/* Device time (ms) of the kernels of the last call on ctx, between an event recorded before the
 * first kernel and one after the last (uploads and downloads excluded); 0 on the C path. For
 * the benchmark's bandwidth figures. */
double gpu_ctx_last_device_ms(const gpu_ctx *ctx);

/* Worker threads the C reference may use for one call (default 1; clamped to [1, 64]). The
 * output does not depend on it. */
void gpu_ctx_set_cpu_threads(gpu_ctx *ctx, int n);

/* ---- Equirectangular -> perspective ------------------------------------------------------ */

/* Cuts view v out of the panorama src into dst (caller-allocated, v->width x v->height,
 * src->channels channels, 1 to 4). Sampling wraps across the +-180 degree seam (columns modulo
 * W) and over the poles (a tap above the top row reads row -1 - y at column + W/2). Output is
 * the interpolated value rounded to nearest and clamped to [0, 255]. The CUDA path equals the
 * reference byte for byte for bilinear and within 1 LSB for bicubic (tests/test_gpu_parity.c;
 * docs/gpu.md). The _ref variant is
 * the plain C11 reference, single-threaded, reentrant. Fails with SVT_E_INPUT on bad sizes. */
int gpu_view_from_equirect(gpu_ctx *ctx, const gpu_image *src, const gpu_view *v,
			   gpu_image *dst, svt_err *err);
int gpu_view_from_equirect_ref(const gpu_image *src, const gpu_view *v, gpu_image *dst,
			       svt_err *err);
/* The view pixel by pixel with exactly the code one thread of the CUDA kernel runs
 * (gm_view_px in gpu_math.h), on the CPU: the yardstick the fast C path (row maps, SSE2 and
 * AVX2 lanes, fixed-point taps) must equal byte for byte (tests/test_gpu_ref.c), device or
 * not. Slow (every map evaluated three times a pixel); for tests. */
int gpu_view_from_equirect_px(const gpu_image *src, const gpu_view *v, gpu_image *dst,
			      svt_err *err);

/* Where a unit direction d (panorama frame) lands in the panorama, in pixel coordinates
 * (col, row) of the convention above; and the inverse. */
void gpu_equirect_project(const double d[3], int W, int H, double *col, double *row);
void gpu_equirect_unproject(double col, double row, int W, int H, double d[3]);

/* Where output position (u, v) of view v (pixel (i, j) centred at (i + 0.5, j + 0.5)) reads a
 * W x H panorama, computed with the same float arithmetic the kernels use (tests check it
 * against gpu_equirect_project in double precision: within 0.01 px). col in [-0.5, W - 0.5]. */
void gpu_view_source_position(const gpu_view *v, int W, int H, double u, double vv,
			      double *col, double *row);

/* The source pixels view v reads from a W x H panorama, on any path, with any interpolation
 * and antialiasing: box = {x0, y0, x1, y1}, every pixel read lies in [x0, x1) x [y0, y1). So a
 * decoder may leave the rest of the panorama undecoded (ingest_decode_opts.roi). The box
 * comes from the edge of the view's rectangle (the extreme longitudes and latitudes of a
 * region of the sphere without a pole lie on its edge), walked one output pixel at a time,
 * widened by the longest step of that walk plus the taps' reach; a view that holds a pole,
 * crosses the panorama's seam or reads rows across its top or bottom edge (which wrap over
 * the pole) gets the full width. Returns 1 when the box is smaller than the panorama, else 0
 * (box the whole panorama). */
int gpu_view_source_box(const gpu_view *v, int W, int H, int box[4]);

/* ---- Equirectangular -> cubemap ------------------------------------------------------------ */

/* Cube faces, in this order, look along +x (right), -x (left), +y (down), -y (up), +z (front),
 * -z (back) of the panorama frame. Each face is a 90-degree pinhole view (gpu_view) of size x
 * size pixels with R = gpu_view_rotation(yaw, pitch, 0) for (yaw, pitch) = (90, 0), (-90, 0),
 * (0, -90), (0, 90), (0, 0), (180, 0): the side faces are upright; the down face has the
 * front at its top edge, the up face the front at its bottom edge. */
enum { GPU_CUBE_FACES = 6 };
void gpu_cubemap_face_view(int face, int size, gpu_view *v);

/* Cuts the six faces (faces[k]: caller-allocated size x size, src->channels channels) with
 * the view sampler (same interpolation, seam/pole wrapping and antialiasing). On CUDA the
 * panorama is uploaded once for the six faces. */
int gpu_cubemap_from_equirect(gpu_ctx *ctx, const gpu_image *src, int size, gpu_interp interp,
			      int antialias, gpu_image faces[GPU_CUBE_FACES], svt_err *err);
int gpu_cubemap_from_equirect_ref(const gpu_image *src, int size, gpu_interp interp,
				  int antialias, gpu_image faces[GPU_CUBE_FACES], svt_err *err);

/* ---- Tensors --------------------------------------------------------------------------------- */

typedef enum gpu_dtype {
	GPU_DTYPE_F32 = 0,  /* 4 bytes */
	GPU_DTYPE_F16 = 1,  /* IEEE binary16, 2 bytes, round to nearest even */
	GPU_DTYPE_BF16 = 2, /* bfloat16, 2 bytes, round to nearest even */
} gpu_dtype;
size_t gpu_dtype_size(gpu_dtype t);
/* Conversions both paths use (round to nearest even; NaN stays NaN, overflow -> Inf). */
uint16_t gpu_f32_to_f16(float f);
float gpu_f16_to_f32(uint16_t h);
uint16_t gpu_f32_to_bf16(float f);
float gpu_bf16_to_f32(uint16_t h);

/* A data-loader tensor from an 8-bit HWC image: resized to out_w x out_h (bilinear with
 * half-pixel centres, x_src = (x + 0.5) W / out_w - 0.5, edges clamped; when shrinking by more
 * than 1.25x along an axis each output is the mean of ceil(scale / 1.25) sub-samples along it,
 * as the view's prefilter), then (v / 255 - mean[c]) / std[c], written planar CHW
 * (dst[(c * out_h + y) * out_w + x]) as dtype. mean/std have src->channels entries (NULL:
 * mean 0, std 1). dst is caller-allocated, channels * out_h * out_w elements. */
int gpu_tensor_from_image(gpu_ctx *ctx, const gpu_image *src, int out_w, int out_h,
			  const float *mean, const float *std, gpu_dtype dtype, void *dst,
			  svt_err *err);
int gpu_tensor_from_image_ref(const gpu_image *src, int out_w, int out_h, const float *mean,
			      const float *std, gpu_dtype dtype, void *dst, svt_err *err);

/* Plucker ray maps for n cameras: camera b has world-to-camera w2c[16 b .. 16 b + 15]
 * (row-major, OpenCV axes) and intrinsics K[4 b ..] = fx, fy, cx, cy in pixels of an
 * img_w x img_h image. The map has out_w = img_w / patch by out_h = img_h / patch positions
 * (patch = 1: every pixel), position (i, j) taking the ray through the patch centre
 * ((i + 0.5) patch, (j + 0.5) patch). Six channels: the moment o x d (o the camera centre in
 * world coordinates) then the unit direction d (world). Layout [n][6][out_h][out_w] as dtype
 * into dst (caller-allocated). Directions are computed in double, then rounded to dtype. */
int gpu_plucker_rays(gpu_ctx *ctx, const double *w2c, const double *K, int n, int img_w,
		     int img_h, int patch, gpu_dtype dtype, void *dst, svt_err *err);
int gpu_plucker_rays_ref(const double *w2c, const double *K, int n, int img_w, int img_h,
			 int patch, gpu_dtype dtype, void *dst, svt_err *err);

/* ---- Point sets ------------------------------------------------------------------------------ */

/* A coloured point in the world (ENU) frame: 16 bytes. */
typedef struct gpu_point {
	float x, y, z;
	uint8_t r, g, b, a; /* a: 255, or the number of points merged, capped (voxel output) */
} gpu_point;

typedef enum gpu_depth_model {
	GPU_DEPTH_PINHOLE = 0,  /* value = z along the optical axis; intrinsics fx fy cx cy */
	GPU_DEPTH_EQUIRECT = 1, /* value = range along the ray; the panorama convention */
} gpu_depth_model;

/* A depth map: uint16 (units of `scale` metres, e.g. 0.001 for millimetres) or float32
 * (metres times scale), 0 / NaN / outside [min_m, max_m] = no point. */
typedef struct gpu_depth {
	const void *data;
	int width, height;
	size_t stride;      /* bytes per row */
	int is_float;       /* 0: uint16, 1: float32 */
	double scale;       /* metres per unit */
	double min_m, max_m;
	gpu_depth_model model;
	double fx, fy, cx, cy; /* pinhole intrinsics, pixels of the depth map */
	int step;           /* use every step-th pixel in both directions (>= 1) */
} gpu_depth;

/* Back-projects the depth map into the world: x_world = R^T (x_cam - t) for w2c = [R t].
 * color (NULL: white) is any size: pixel (i, j) takes the colour at the same relative
 * position (nearest: floor((i + 0.5) color->width / depth->width)). Points are written in
 * row-major pixel order (deterministic on both paths) into out (cap points); *n_out gets the
 * count. SVT_E_LIMIT when more than cap points would be produced (nothing is then valid). */
int gpu_depth_to_points(gpu_ctx *ctx, const gpu_depth *d, const gpu_image *color,
			const double w2c[16], gpu_point *out, size_t cap, size_t *n_out,
			svt_err *err);
int gpu_depth_to_points_ref(const gpu_depth *d, const gpu_image *color, const double w2c[16],
			    gpu_point *out, size_t cap, size_t *n_out, svt_err *err);

/* The depth a perspective view sees: for view v (the same rotation and intrinsics as the
 * colour view cut by gpu_view_from_equirect) and a depth panorama src (model
 * GPU_DEPTH_EQUIRECT: range along the ray, at its own resolution, which may differ from the
 * colour panorama's), writes the z-depth in metres along the view's optical axis of every
 * pixel into dst (v->height rows of v->width floats, dst_stride bytes apart). Nearest sample,
 * never interpolated and never antialiased (a blend of a facade and the sky behind it is a
 * depth nothing has); 0 where the source is invalid. Exact on both paths up to float rounding
 * of the chosen sample at exact ties. */
int gpu_view_depth_from_equirect(gpu_ctx *ctx, const gpu_depth *src, const gpu_view *v,
				 float *dst, size_t dst_stride, svt_err *err);
int gpu_view_depth_from_equirect_ref(const gpu_depth *src, const gpu_view *v, float *dst,
				     size_t dst_stride, svt_err *err);

/* Voxel downsampling on a hash grid: the n points (the point sets of many frames of a tile,
 * concatenated) become one point per occupied cube of voxel_m metres (cells indexed
 * floor(p / voxel_m), |index| < 2^20): the mean position and mean colour of its points,
 * a = min(count, 255). Sums are accumulated in integers (position offsets within the voxel in
 * 1/2^16 voxel units), so the result does not depend on input order or the backend, and the
 * output is sorted by voxel index (z, then y, then x). out holds at most cap points;
 * SVT_E_LIMIT beyond. Points outside the index range are dropped and counted in *n_dropped
 * (may be NULL). */
int gpu_voxel_downsample(gpu_ctx *ctx, const gpu_point *in, size_t n, double voxel_m,
			 gpu_point *out, size_t cap, size_t *n_out, size_t *n_dropped,
			 svt_err *err);
int gpu_voxel_downsample_ref(const gpu_point *in, size_t n, double voxel_m, gpu_point *out,
			     size_t cap, size_t *n_out, size_t *n_dropped, svt_err *err);
/* The same, also writing each output voxel's exact point count to counts[k] (may be NULL;
 * caller-allocated, cap entries), for callers that merge voxel sets again with weights (the
 * point's a saturates at 255). */
int gpu_voxel_downsample_counts(gpu_ctx *ctx, const gpu_point *in, size_t n, double voxel_m,
				gpu_point *out, uint32_t *counts, size_t cap, size_t *n_out,
				size_t *n_dropped, svt_err *err);

/* A bird's-eye raster around a pose: width x height cells of res_m metres, centred on
 * (cx, cy) of the ENU frame, rotated so that the raster's up (row 0 side) points along
 * heading_deg (clockwise from north) and its right 90 degrees clockwise from that. With
 * fwd, right the point's offsets from the centre along those axes (computed in double), it
 * falls in cell i = floor(width/2 + right/res), j = floor(height/2 - fwd/res). Only points
 * with z in [z_min, z_max] count. */
typedef struct gpu_bev {
	double cx, cy, heading_deg;
	double res_m;
	int width, height;
	double z_min, z_max;
} gpu_bev;

/* Rasterises points: occ (width x height, may be NULL) = min(points in the cell, 255);
 * height (may be NULL) = max z in the cell, NaN where empty; rgb (width x height x 3, may be
 * NULL) = the colour of the highest point (ties: the later point), 0 where empty.
 * Deterministic on both paths (integer atomics on the GPU). */
int gpu_bev_raster(gpu_ctx *ctx, const gpu_point *pts, size_t n, const gpu_bev *b, uint8_t *occ,
		   float *height, uint8_t *rgb, svt_err *err);
int gpu_bev_raster_ref(const gpu_point *pts, size_t n, const gpu_bev *b, uint8_t *occ,
		       float *height, uint8_t *rgb, svt_err *err);

/* A sparse depth map of the points seen by a pinhole camera (w2c, K = fx fy cx cy, width x
 * height): each point with z > near_m lands in pixel floor(fx x/z + cx), floor(fy y/z + cy)
 * (projection in double); the nearest wins (ties: the earlier point). depth (z in metres, 0
 * where empty) and rgb (may be NULL; 0 where empty) are caller-allocated. near_m >= 0. */
int gpu_points_to_depth(gpu_ctx *ctx, const gpu_point *pts, size_t n, const double w2c[16],
			const double K[4], int width, int height, double near_m, float *depth,
			uint8_t *rgb, svt_err *err);
int gpu_points_to_depth_ref(const gpu_point *pts, size_t n, const double w2c[16],
			    const double K[4], int width, int height, double near_m,
			    float *depth, uint8_t *rgb, svt_err *err);

/* ---- Perspective (pinhole) frames --------------------------------------------------------- */

/* A pinhole camera on an image of width x height pixels: K in that image's pixels with pixel
 * (i, j) centred at (i + 0.5, j + 0.5), and OpenCV's distortion (k1 k2 p1 p2 k3) mapping the
 * ideal normalised point (x, y) to the one the lens images:
 *     r2 = x^2 + y^2,  x' = x (1 + k1 r2 + k2 r2^2 + k3 r2^3) + 2 p1 x y + p2 (r2 + 2 x^2),
 *     y' = y (1 + k1 r2 + k2 r2^2 + k3 r2^3) + p1 (r2 + 2 y^2) + 2 p2 x y,
 *     u = fx x' + cx,  v = fy y' + cy. */
typedef struct gpu_pinhole_cam {
	int width, height;
	double fx, fy, cx, cy;
	double k1, k2, p1, p2, k3;
} gpu_pinhole_cam;

/* The undistorted camera of a width x height view cut from src: src's ideal camera scaled to
 * cover the view and centre-cropped, zoomed in further (at most 4x) until every view pixel's
 * footprint maps inside the source, so no stored pixel is invented at the photo's border.
 * out has zero distortion; its K is exact for the view's pixels. SVT_E_INPUT on bad sizes or a
 * source with no focal. Reentrant. */
int gpu_pinhole_fit(const gpu_pinhole_cam *src, int width, int height, gpu_pinhole_cam *out,
		    svt_err *err);

/* Resamples the photo src (taken with src_cam, at src's size) into dst for the undistorted
 * camera view (dst->width x dst->height must equal view's, channels src's; dst->data owned by
 * the caller): each view pixel's ray is distorted into the source and sampled bilinearly. With
 * antialias, a view pixel whose footprint in the source exceeds 1.25 px along an axis is the
 * mean of ceil(footprint / 1.25) samples along it (at most 16), spread evenly over its area
 * (the same box prefilter as gpu_view). Samples outside the source clamp to its edge. The plain
 * C11 reference (no CUDA counterpart yet): single-threaded, reentrant. */
int gpu_pinhole_resample_ref(const gpu_image *src, const gpu_pinhole_cam *src_cam,
			     const gpu_pinhole_cam *view, int antialias, gpu_image *dst,
			     svt_err *err);

/* ---- JPEG decode on the device ----------------------------------------------------------- */

/* Which decoder produced a frame. */
typedef enum gpu_jpeg_backend {
	GPU_JPEG_TURBO = 0,       /* libjpeg-turbo on the CPU */
	GPU_JPEG_NV_HARDWARE = 1, /* nvJPEG's hardware engine (A100/A30, Hopper, Ada, Blackwell) */
	GPU_JPEG_NV_HYBRID = 2,   /* nvJPEG's GPU-assisted Huffman + CUDA IDCT backend */
} gpu_jpeg_backend;

typedef struct gpu_jpeg gpu_jpeg;

/* One decoded panorama: interleaved RGB (3 channels, stride = 3 x width). img.data is device
 * memory when on_device (a CUDA context: pass it to gpu_views_from_image with src_on_device =
 * 1), host memory otherwise; either way the decoder owns it and it stays valid until the next
 * gpu_jpeg_decode_batch or gpu_jpeg_destroy. rc is 0 or the frame's own failure (SVT_E_FORMAT
 * for a corrupt JPEG, ...), msg its reason: one bad frame never fails the batch. */
typedef struct gpu_jpeg_frame {
	gpu_image img;
	int on_device;
	gpu_jpeg_backend backend;
	int rc;
	/* 1: libjpeg-turbo decoded corrupt but decodable data (pixels kept, msg says how, as the
	 * ingest decoder's warning); nvJPEG's frames carry no such check (always 0). */
	int warning;
	char msg[160];
} gpu_jpeg_frame;

/* Creates a decoder for batches of up to max_batch JPEGs (1 to 256) on ctx (which must outlive
 * it; the decoder uses ctx's stream, so one thread at a time for both). On a CUDA context it
 * loads nvJPEG at run time (dlopen of $SVT_NVJPEG, else libnvjpeg.so.13, libnvjpeg.so, then
 * /usr/local/cuda/lib64/libnvjpeg.so.13): the hardware backend when the device has one, else
 * the GPU hybrid backend; when neither loads, or SVT_NVJPEG=off, libjpeg-turbo decodes and the
 * frames are uploaded, so output stays on the device. On a CPU context libjpeg-turbo decodes
 * into host memory. gpu_jpeg_describe says which and why. Device and host output buffers grow
 * to the largest frame seen and are kept (nothing allocated per frame once stable).
 * gpu_jpeg_destroy(NULL) does nothing. */
int gpu_jpeg_create(gpu_ctx *ctx, int max_batch, gpu_jpeg **out, svt_err *err);
void gpu_jpeg_destroy(gpu_jpeg *j);
/* The decoder used for frames it supports ("nvjpeg-hardware", "nvjpeg-hybrid" or
 * "libjpeg-turbo"), plus the reason when nvJPEG is not used; owned by j. */
const char *gpu_jpeg_describe(const gpu_jpeg *j);
gpu_jpeg_backend gpu_jpeg_backend_of(const gpu_jpeg *j);

/* Decodes n (<= max_batch) JPEGs data[k] of len[k] bytes into out[k]. On the hardware backend
 * the images nvjpegDecodeBatchedSupported accepts (baseline, single scan, not 4:1:0/4:1:1) go
 * in one batched call; the others, and every image when a batched call fails, are decoded
 * alone (hybrid, or libjpeg-turbo + upload). Returns 0 when the batch ran (check each
 * out[k].rc), SVT_E_CUDA when the device failed (nothing valid), SVT_E_INPUT on bad
 * arguments. Returns after the frames are complete on ctx's stream. */
int gpu_jpeg_decode_batch(gpu_jpeg *j, const uint8_t *const *data, const size_t *len, int n,
			  gpu_jpeg_frame *out, svt_err *err);

/* Copies a decoded frame to host memory dst (caller-allocated, same size, stride >= 3 x
 * width), from the device or the host. For tests and callers that need the pixels on the CPU. */
int gpu_jpeg_frame_download(gpu_jpeg *j, const gpu_jpeg_frame *f, gpu_image *dst, svt_err *err);

/* n views of one panorama src in one call (dst[k] caller-allocated host images as for
 * gpu_view_from_equirect, same output bytes). src_on_device = 1: src->data is device memory of
 * ctx's device (a gpu_jpeg frame), packed rows, read in place with no upload; only valid on a
 * CUDA context (SVT_E_INPUT otherwise). src_on_device = 0: a host image, uploaded once for all
 * n views. On the C path the views run one after another on ctx's threads. When the device
 * fails in a way that is not sticky (no kernel image for this GPU, out of memory), a host
 * source falls back to the C path for this call, logging why. */
int gpu_views_from_image(gpu_ctx *ctx, const gpu_image *src, int src_on_device,
			 const gpu_view *v, int n, gpu_image *dst, svt_err *err);

/* ---- A clip's frames in one call (gpu/frames.c) ------------------------------------------ */

/* One frame of a batch: its panorama (a JPEG file's bytes, decoded in the batch, or a
 * panorama already decoded in host memory), what to cut from it, and what became of it. */
typedef struct gpu_frame {
	/* in (owned by the caller, valid during gpu_frame_batch_run) */
	const uint8_t *jpeg;     /* the panorama as a JPEG file; or NULL and pano set */
	size_t jpeg_len;
	const gpu_image *pano;   /* a host panorama (PNG, an oriented JPEG...) when jpeg is NULL */
	gpu_view view;           /* the colour view, cut into out (host, caller-allocated) */
	gpu_image out;
	const gpu_depth *depth;  /* its equirect depth panorama in host memory (NULL: none) */
	float *vdepth;           /* the depth view through view (NULL: not cut) */
	size_t vdepth_stride;
	double w2c[16];          /* depth -> points with the panorama's colours into pts */
	gpu_point *pts;          /* (NULL: no points), cap points */
	size_t cap;
	/* out */
	size_t npts;
	int rc;                  /* the frame's own decode failure (nothing cut), else 0 */
	int warning;             /* decoded corrupt but decodable data (see gpu_jpeg_frame) */
	char msg[160];           /* why, for rc or warning */
	gpu_jpeg_backend backend; /* which decoder made the panorama */
} gpu_frame;

typedef struct gpu_frame_batch gpu_frame_batch;

/* A batch runner for up to max_frames (1 to 256) frames on ctx (which must outlive it; one
 * thread at a time for both), with its own gpu_jpeg decoder (see gpu_jpeg_create for which
 * backend and why). gpu_frame_batch_destroy(NULL) does nothing. */
int gpu_frame_batch_create(gpu_ctx *ctx, int max_frames, gpu_frame_batch **out, svt_err *err);
void gpu_frame_batch_destroy(gpu_frame_batch *b);
/* The context and the decoder in words ("frames on cuda:..., decode: nvjpeg-hardware (...)"),
 * with the reason when nvJPEG is not used; owned by b. */
const char *gpu_frame_batch_describe(const gpu_frame_batch *b);
/* Decodes the n frames' JPEGs in one gpu_jpeg_decode_batch, then cuts each frame's colour
 * view, depth view (when depth and vdepth) and points (when depth and pts) from its panorama
 * where the decode left it: on a CUDA context in device memory, read in place by every kernel
 * (no upload of the panorama; the colour views of all device frames in one launch, written
 * straight into destinations pinned with gpu_ctx_host_pin; the depth views likewise in one
 * launch from the uploaded depth maps; points a frame at a time); on the C path in host
 * memory, through the same dispatchers
 * (gpu_views_from_image, gpu_view_depth_from_equirect, gpu_depth_to_points) with the same
 * output bytes. A frame whose JPEG does not decode gets rc / msg and nothing cut; the batch
 * goes on. Returns non-zero (err says which frame) only when a kernel or the device fails. */
int gpu_frame_batch_run(gpu_frame_batch *b, gpu_frame *f, int n, svt_err *err);

/* Pins (page-locks and registers with the device) host memory the caller keeps for many
 * calls, e.g. a clip's view buffer: the view kernels then download into it directly, with no
 * staging copy. No-op returning 0 on the C path; a failure to pin is not an error (the calls
 * then stage as before) and is logged once. Unpin before freeing (NULL harmless). */
int gpu_ctx_host_pin(gpu_ctx *ctx, void *p, size_t bytes);
void gpu_ctx_host_unpin(gpu_ctx *ctx, void *p);


/* ---- Plain references ------------------------------------------------------------------------ */

/* The views again as the conventions above state them, written to be checked by eye: one
 * loop over output pixels, every position in double precision with libm's atan2 (no float
 * map, no fixed-point weights, no SIMD, no threads). They are the yardstick the fast C path
 * (gpu_*_ref: float map shared with the kernels, SSE2/AVX2, threads) and the CUDA path are
 * measured against with declared tolerances (bench/cases.c, tests/test_gpu_ref.c); slow by
 * design. Same arguments, checks and output layout as the dispatching entry of the same name
 * without _plain. */
int gpu_view_from_equirect_plain(const gpu_image *src, const gpu_view *v, gpu_image *dst,
				 svt_err *err);
int gpu_view_depth_from_equirect_plain(const gpu_depth *src, const gpu_view *v, float *dst,
				       size_t dst_stride, svt_err *err);
/* The same for the tensor (bilinear resize with its box prefilter, normalisation, CHW layout:
 * every value in double, rounded once to the dtype), the Plucker rays (C = -R^T t, d = R^T
 * K^-1 (u, v, 1) normalised, m = C x d) and depth -> points (x_world = R^T (x_cam - t), the
 * panorama direction from gpu_equirect_unproject). */
int gpu_tensor_from_image_plain(const gpu_image *src, int out_w, int out_h, const float *mean,
				const float *std, gpu_dtype dtype, void *dst, svt_err *err);
int gpu_plucker_rays_plain(const double *w2c, const double *K, int n, int img_w, int img_h,
			   int patch, gpu_dtype dtype, void *dst, svt_err *err);
int gpu_depth_to_points_plain(const gpu_depth *d, const gpu_image *color, const double w2c[16],
			      gpu_point *out, size_t cap, size_t *n_out, svt_err *err);
/* ---- View maps (gpu/view_map.c) ----------------------------------------------------------- */

/* A view's ray map: for every output pixel centre (i + 0.5, j + 0.5), the longitude
 * (atan2(dx, dz)) and latitude (atan2(-dy, hypot(dx, dz))) of its ray in the panorama's frame,
 * in radians, exactly as the per-pixel map (gm_view_map) computes them, and the ray's length
 * for a unit z (sqrt(1 + x^2 + y^2): range -> z-depth). It depends on the view only, not on
 * the source size, so one map serves every panorama cut with that view whatever its size
 * (colour, depth). Buffers owned by the map; reused by later builds when large enough. */
typedef struct gpu_view_map {
	int width, height;
	float *lon, *lat, *norm; /* width * height each, row-major */
	size_t cap;              /* pixels allocated */
} gpu_view_map;

/* Builds (or rebuilds) m for view v on the C path (SSE2 four lanes where the CPU has it, the
 * same IEEE single operations in the same order as the scalar map, so bit-identical). Free
 * with gpu_view_map_free. Thread-safe on distinct maps. */
int gpu_view_map_build(const gpu_view *v, gpu_view_map *m, svt_err *err);
/* Frees the map's buffers and zeroes it; NULL is harmless. */
void gpu_view_map_free(gpu_view_map *m);
/* gpu_view_from_equirect that leaves the view's ray map in map as well (gpu_view_map_build's
 * bits): on the C path the colour view computes those rays anyway, so a depth view of the
 * same frame (gpu_view_depth_from_map) costs no second map. map NULL: the plain call. */
int gpu_view_from_equirect_map(gpu_ctx *ctx, const gpu_image *src, const gpu_view *v,
			       gpu_image *dst, gpu_view_map *map, svt_err *err);
/* The colour view of src and the depth view of dsrc (the same frame's depth map, any size:
 * gpu_view_depth_from_equirect's contract and, on the C path, gpu_view_depth_from_map's bits)
 * in one call. On the C path in one pass over the view's rows: each row's depth is cut from
 * its rays while they are still in cache, and no frame-sized map is made or read back. On a
 * CUDA context both run on the device. */
int gpu_view_from_equirect_depth(gpu_ctx *ctx, const gpu_image *src, const gpu_view *v,
				 gpu_image *dst, const gpu_depth *dsrc, float *ddst,
				 size_t dstride, svt_err *err);
/* The depth view of src through the map: the same output as gpu_view_depth_from_equirect_ref
 * for the view the map was built from, bit for bit (nearest sample, range -> z, 0 where the
 * source is invalid), without evaluating the map per pixel. C path; thread-safe. */
int gpu_view_depth_from_map(const gpu_view_map *m, const gpu_depth *src, float *dst,
			    size_t dst_stride, svt_err *err);


/* ---- Densify: an in-between frame from two bracketing views (gpu/densify.c, densify.cu) -- */

/* One source of a synthesized frame: a pinhole view (W x H x 3, rows packed) with its z-depth
 * in metres (W x H; 0, negative or infinite = far: the sky; NaN = unknown, not splatted), its OpenCV
 * world-to-camera pose and intrinsics (fx, fy, cx, cy; pixel centres at +0.5). */
typedef struct gpu_densify_src {
	const uint8_t *rgb;
	const float *depth;
	double w2c[16];
	double K[4];
} gpu_densify_src;

/* Renders the frame seen from target pose w2c / K (W x H, the sources' size) between source
 * a (weight 1 - u) and b (weight u), u in [0, 1]: every source pixel is unprojected with its
 * depth and forward-splatted into the target with a z-buffer (far pixels at infinity, by
 * rotation only): into the pixel it falls in, and into the 3 others of its 2 x 2 block as
 * 1 % farther (crack filling that never displaces a point of the same surface); where both sources land on the same surface (depths within
 * 5 % + 5 cm, or both far) the colours are blended by u, else the nearer surface wins; a hole
 * in one source is filled from the other; what neither covers is black with valid = 0
 * (valid[p] = 1 elsewhere). Deterministic: z-buffer ties go to the lower source pixel index.
 * The CUDA path (ctx on a GPU) gives the same bytes as the reference. */
int gpu_densify_frame(gpu_ctx *ctx, const gpu_densify_src *a, const gpu_densify_src *b,
		      double u, const double w2c[16], const double K[4], int W, int H,
		      uint8_t *rgb, uint8_t *valid, svt_err *err);
/* The C reference (plain loops, single thread). */
int gpu_densify_frame_ref(const gpu_densify_src *a, const gpu_densify_src *b, double u,
			  const double w2c[16], const double K[4], int W, int H, uint8_t *rgb,
			  uint8_t *valid, svt_err *err);
/* ---- Forward warp (gpu/warp.c, gpu/warp.cu) ------------------------------------------------ */

/* A pinhole camera with its pose, as a shard stores a view: pixel (i, j) covers
 * [i, i + 1) x [j, j + 1) (centre i + 0.5 at u = fx x / z + cx), w2c OpenCV world -> camera,
 * row-major 4x4. */
typedef struct gpu_warp_cam {
	int width, height;
	double K[4];   /* fx, fy, cx, cy */
	double w2c[16];
} gpu_warp_cam;

/* Forward-splats a source view into a target camera with the source's z-depth and a
 * z-buffer: every source pixel with a finite depth > 0 is lifted at its centre to the world,
 * projected into dst and kept where it is nearer than near_m (> near_m in dst) and nearest of
 * all that land on that target pixel (ties: the lower source index). Each landing also
 * covers its footprint, the 2 x 2 block of target pixel centres nearest it, at a depth 1 %
 * farther (gpu_densify_frame's crack filling): a pixel keeps the sample that falls in it on
 * one surface, and the holes a magnified view leaves between landings (up to 2x) are filled
 * from the surface around them, never by a farther one showing through. out_rgb (dst packed
 * W x H x 3, may be NULL when rgb is NULL) gets the winning source colour, 0 where nothing
 * lands; out_mask (W x H, required) 1 where a sample landed, 2 where a footprint filled the
 * pixel, else 0; out_depth (W x H, may be NULL) its z in dst (1 % farther on filled pixels),
 * 0 elsewhere; *n_valid (may be NULL) the number of pixels with mask != 0. rgb is
 * src->width x src->height x 3 with rgb_stride bytes a row, depth floats with depth_stride
 * bytes a row. The CPU runs a fast C path (per-row and per-column terms) that equals the
 * reference but for landings on a pixel edge (test_gpu_warp.c's declared tolerance); the
 * CUDA path equals the reference byte for byte (up to an FMA ulp, see gpu_math.h) through
 * the same integer z-buffer keys. */
int gpu_warp_splat(gpu_ctx *ctx, const gpu_warp_cam *src, const uint8_t *rgb, size_t rgb_stride,
		   const float *depth, size_t depth_stride, const gpu_warp_cam *dst, double near_m,
		   uint8_t *out_rgb, uint8_t *out_mask, float *out_depth, size_t *n_valid,
		   svt_err *err);
/* The C reference of gpu_warp_splat (plain loops, one thread, the kernel's per-pixel code).
 * footprint 1 is gpu_warp_splat's rule; 0 splats every sample to its one pixel (the baseline
 * the ground-truth test measures the footprint against; the mask is then 0 or 1). */
int gpu_warp_splat_ref(const gpu_warp_cam *src, const uint8_t *rgb, size_t rgb_stride,
		       const float *depth, size_t depth_stride, const gpu_warp_cam *dst,
		       double near_m, int footprint, uint8_t *out_rgb, uint8_t *out_mask,
		       float *out_depth, size_t *n_valid, svt_err *err);
/* The fraction of dst's pixels a source view covers when reprojected with its depth (the
 * reference filter of docs/shard-format.md): gpu_warp_splat at 1/step of both resolutions
 * (every step-th source pixel, the target's intrinsics scaled by 1/step), valid pixels over
 * all. step >= 1; 4 costs 1/16 of the full splat. */
int gpu_warp_coverage(gpu_ctx *ctx, const gpu_warp_cam *src, const float *depth,
		      size_t depth_stride, const gpu_warp_cam *dst, int step, double *cover,
		      svt_err *err);

#endif
