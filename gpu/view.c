/* view.c: equirectangular -> pinhole view, the C11 reference, and the panorama projection.
 *
 * The reference walks the output row by row. For each row it maps the pixel centres of that
 * row and of the next one (one extra column and row, so every pixel sees its right and lower
 * neighbour's source position) with the shared float math of gpu_math.h; the footprint from
 * those differences decides between one tap and a supersampled box prefilter. No per-pixel
 * allocation, no libm atan2 (gm_atan2f is 3e-7 rad accurate).
 */
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "gpu/gm_simd.h"
#include "gpu/gpu_internal.h"
#ifdef SVT_HAVE_CUDA
#include "gpu/gpu_cuda.h"
#endif

void gpu_view_pinhole(gpu_view *v, int width, int height, double hfov_deg)
{
	memset(v, 0, sizeof(*v));
	v->R[0] = v->R[4] = v->R[8] = 1.0;
	v->width = width;
	v->height = height;
	v->fx = v->fy = 0.5 * width / tan(0.5 * hfov_deg * M_PI / 180.0);
	v->cx = 0.5 * width;
	v->cy = 0.5 * height;
	v->interp = GPU_INTERP_BILINEAR;
	v->antialias = 1;
}

static void mat3_mul(const double *a, const double *b, double *c)
{
	for (int i = 0; i < 3; i++)
		for (int k = 0; k < 3; k++)
			c[3 * i + k] = a[3 * i] * b[k] + a[3 * i + 1] * b[3 + k] + a[3 * i + 2] * b[6 + k];
}

void gpu_view_rotation(double yaw_deg, double pitch_deg, double roll_deg, double R[9])
{
	double y = yaw_deg * M_PI / 180.0, p = pitch_deg * M_PI / 180.0, r = roll_deg * M_PI / 180.0;
	/* Ry turns forward (z) towards right (x) for yaw > 0; Rx with this sign turns z towards -y
	 * (up) for pitch > 0: the same matrices as geo's Base(h) Rx Rz seen in the camera frame. */
	double Ry[9] = {cos(y), 0, sin(y), 0, 1, 0, -sin(y), 0, cos(y)};
	double Rx[9] = {1, 0, 0, 0, cos(p), -sin(p), 0, sin(p), cos(p)};
	double Rz[9] = {cos(r), -sin(r), 0, sin(r), cos(r), 0, 0, 0, 1};
	double t[9];
	mat3_mul(Ry, Rx, t);
	mat3_mul(t, Rz, R);
}

void gpu_equirect_project(const double d[3], int W, int H, double *col, double *row)
{
	double lon = atan2(d[0], d[2]);
	double lat = atan2(-d[1], hypot(d[0], d[2]));
	*col = (lon / (2.0 * M_PI) + 0.5) * W - 0.5;
	*row = (0.5 - lat / M_PI) * H - 0.5;
}

void gpu_equirect_unproject(double col, double row, int W, int H, double d[3])
{
	double lon = ((col + 0.5) / W - 0.5) * 2.0 * M_PI;
	double lat = (0.5 - (row + 0.5) / H) * M_PI;
	d[0] = cos(lat) * sin(lon);
	d[1] = -sin(lat);
	d[2] = cos(lat) * cos(lon);
}

int gpu_view_params_check(const gpu_view *v, svt_err *err)
{
	if (v->width < 1 || v->height < 1 || v->width > (1 << 16) || v->height > (1 << 16))
		return svt_err_set(err, SVT_E_INPUT, "view: bad view size %dx%d", v->width,
				   v->height);
	if (!(v->fx > 0) || !(v->fy > 0) || !isfinite(v->fx) || !isfinite(v->fy) ||
	    !isfinite(v->cx) || !isfinite(v->cy))
		return svt_err_set(err, SVT_E_INPUT, "view: bad intrinsics fx %g fy %g cx %g cy %g",
				   v->fx, v->fy, v->cx, v->cy);
	for (int k = 0; k < 9; k++)
		if (!isfinite(v->R[k]))
			return svt_err_set(err, SVT_E_INPUT, "view: rotation not finite");
	/* The map assumes a rotation: a matrix that scales directions (entries of 3e38 overflow
	 * the float map to Inf/NaN and then the tap indices) would read outside the panorama.
	 * R R^T = I within 1e-6 (a rotation stored in float is orthonormal to ~1e-7). */
	for (int i = 0; i < 3; i++)
		for (int j = 0; j < 3; j++) {
			double d = 0;
			for (int k = 0; k < 3; k++)
				d += v->R[3 * i + k] * v->R[3 * j + k];
			if (!(fabs(d - (i == j ? 1.0 : 0.0)) <= GPU_VIEW_ORTHO_TOL))
				return svt_err_set(err, SVT_E_INPUT,
						   "view: rotation not orthonormal (row %d . row %d "
						   "= %g)", i, j, d);
		}
	return 0;
}

int gpu_view_check(const gpu_image *src, const gpu_view *v, const gpu_image *dst, svt_err *err)
{
	if (!src || !v || !dst || !src->data || !dst->data)
		return svt_err_set(err, SVT_E_INPUT, "view: NULL image or view");
	if (src->width < 2 || src->height < 2 || src->channels < 1 || src->channels > 4 ||
	    src->stride < (size_t)src->width * (size_t)src->channels)
		return svt_err_set(err, SVT_E_INPUT, "view: bad panorama %dx%dx%d stride %zu",
				   src->width, src->height, src->channels, src->stride);
	if (src->width > (1 << 20) || src->height > (1 << 20))
		return svt_err_set(err, SVT_E_LIMIT, "view: panorama %dx%d too large", src->width,
				   src->height);
	int rc = gpu_view_params_check(v, err);
	if (rc)
		return rc;
	if (v->interp != GPU_INTERP_BILINEAR && v->interp != GPU_INTERP_BICUBIC)
		return svt_err_set(err, SVT_E_INPUT, "view: unknown interpolation %d", v->interp);
	if (dst->width != v->width || dst->height != v->height ||
	    dst->channels != src->channels ||
	    dst->stride < (size_t)dst->width * (size_t)dst->channels)
		return svt_err_set(err, SVT_E_INPUT,
				   "view: output %dx%dx%d stride %zu does not fit view %dx%d of a "
				   "%d-channel panorama",
				   dst->width, dst->height, dst->channels, dst->stride, v->width,
				   v->height, src->channels);
	return 0;
}

void gpu_view_to_gm(const gpu_view *v, int W, int H, gm_view *g)
{
	for (int k = 0; k < 9; k++)
		g->R[k] = (float)v->R[k];
	g->ifx = (float)(1.0 / v->fx);
	g->ify = (float)(1.0 / v->fy);
	g->cx = (float)v->cx;
	g->cy = (float)v->cy;
	g->kc = (float)(W / (2.0 * M_PI));
	g->oc = (float)(0.5 * W - 0.5);
	g->kr = (float)(H / M_PI);
	g->orow = (float)(0.5 * H - 0.5);
	g->W = W;
	g->H = H;
}

void gpu_view_source_position(const gpu_view *v, int W, int H, double u, double vv,
			      double *col, double *row)
{
	gm_view g;
	float bx, by, bz, c, r;
	gpu_view_to_gm(v, W, H, &g);
	gm_view_rowbase(&g, (float)vv, &bx, &by, &bz);
	gm_view_map(&g, (float)u, bx, by, bz, &c, &r);
	*col = c;
	*row = r;
}

/* How far beyond its source position (c, r) a pixel's taps reach, in source pixels: bicubic
 * reads floor(c) - 1 .. floor(c) + 2, bilinear floor(c) .. floor(c) + 1; one more for the
 * float map's rounding. */
#define BOX_TAP_REACH 3

int gpu_view_source_box(const gpu_view *v, int W, int H, int box[4])
{
	box[0] = box[1] = 0;
	box[2] = W;
	box[3] = H;
	if (!v || v->width < 1 || v->height < 1 || W < 4 || H < 4 || !(v->fx > 0) || !(v->fy > 0))
		return 0;
	/* A pole in view (or near its edge): every column, rows to the pole. The panorama's
	 * north is -y (latitude atan2(-dy, hypot(dx, dz))); in the camera's frame the pole is
	 * row 1 of R (d_cam = R^T d_pano), negated for the north. */
	int north = 0, south = 0;
	for (int s = -1; s <= 1; s += 2) {
		double x = s * v->R[3], y = s * v->R[4], z = s * v->R[5];
		if (z <= 0)
			continue;
		double u = v->cx + v->fx * x / z, w = v->cy + v->fy * y / z;
		if (u > -2.0 && u < v->width + 2.0 && w > -2.0 && w < v->height + 2.0)
			*(s < 0 ? &north : &south) = 1;
	}
	gm_view g;
	gpu_view_to_gm(v, W, H, &g);
	/* The edge of [0, w] x [0, h] (every sample, antialiasing's included, lies in it), one
	 * output pixel a step, the columns unwrapped across the seam. Without a pole inside,
	 * the walk goes round no turn. */
	const int w = v->width, h = v->height, n = 2 * (w + h);
	float Wf = (float)W;
	double cmin = INFINITY, cmax = -INFINITY, rmin = INFINITY, rmax = -INFINITY, step = 0;
	double cu = 0, c_prev = 0, r_prev = 0;
	for (int k = 0; k < n; k++) {
		float uu, vv;
		if (k < w)
			uu = (float)k, vv = 0.0f;
		else if (k < w + h)
			uu = (float)w, vv = (float)(k - w);
		else if (k < 2 * w + h)
			uu = (float)(w - (k - w - h)), vv = (float)h;
		else
			uu = 0.0f, vv = (float)(h - (k - 2 * w - h));
		float bx, by, bz, c, r;
		gm_view_rowbase(&g, vv, &bx, &by, &bz);
		gm_view_map(&g, uu, bx, by, bz, &c, &r);
		if (!isfinite(c) || !isfinite(r))
			return 0;
		if (k == 0) {
			cu = c;
		} else {
			double dc = gm_wrapdiff(c - (float)c_prev, Wf);
			cu += dc;
			step = fmax(step, fmax(fabs(dc), fabs(r - r_prev)));
		}
		c_prev = c;
		r_prev = r;
		cmin = fmin(cmin, cu);
		cmax = fmax(cmax, cu);
		rmin = fmin(rmin, r);
		rmax = fmax(rmax, r);
	}
	/* The taps' reach, and the longest step of the walk: more than the edge can bulge
	 * between two samples (its curvature is of the order of the step over the view). */
	double m = ceil(step) + BOX_TAP_REACH;
	double x0 = floor(cmin) - m, x1 = ceil(cmax) + m + 1;
	double y0 = floor(rmin) - m, y1 = ceil(rmax) + m + 1;
	/* Rows past the top or bottom wrap over the pole half a turn round (gm_wrap_tap): row -1
	 * is row 0 elsewhere. So does a pole in view. Columns past the seam wrap to the far side. */
	int full_w = north || south || y0 < 0 || y1 > H || x0 < 0 || x1 > W || x1 - x0 >= W;
	if (north || y0 < 0)
		y1 = fmax(y1, -y0), y0 = 0;
	if (south || y1 > H)
		y0 = fmin(y0, 2.0 * H - y1), y1 = H;
	box[0] = full_w ? 0 : (int)x0;
	box[2] = full_w ? W : (int)x1;
	box[1] = y0 < 0 ? 0 : (int)y0;
	box[3] = y1 > H ? H : (int)y1;
	return box[0] > 0 || box[1] > 0 || box[2] < W || box[3] < H;
}

/* The widest x86 lanes the fast views may use (gpu_view_simd_cap): 2 AVX-512, 1 AVX2, 0 SSE2
 * (x86-64's baseline), each only where the CPU has it. */
static atomic_int view_simd = 2;

int gpu_view_simd_cap(int level)
{
	return atomic_exchange(&view_simd, level);
}

int gpu_view_simd(void)
{
	return atomic_load_explicit(&view_simd, memory_order_relaxed);
}

typedef struct view_job {
	const gpu_image *src;
	const gpu_view *v;
	gpu_image *dst;
	gm_view g;
	int parts, bands;
	atomic_int next; /* next band to take */
	float *buf;      /* per part: 4 map rows, 4 tap-index rows of (width + 1), need flags */
	size_t per_part; /* floats per part */
	gpu_view_map *map; /* non-NULL: the rays of every row go there too (gpu_view_map) */
	/* Non-NULL dsrc: each row's depth view too, from its rays as they are made (in the map,
	 * or, without one, in the part's own two rows of rays) (gpu_view_ref_run_depth). */
	const gpu_depth *dsrc;
	gm_view gd;       /* the depth view's parameters (gpu_view_depth_gm) */
	float *ddst;
	size_t dstride;
} view_job;

/* The SSE2, AVX2 and AVX-512 versions of gm_view_map / gm_footprint below (atan2_ps, sel,
 * atan2_8, sel8, atan2_16, sel16: gpu/gm_simd.h) use the same IEEE single operations in the
 * same order (no FMA on baseline x86-64), so they give bit-identical results to the scalar
 * code in gpu_math.h that the CUDA kernel runs. */

/* Where a row's rays go as well when the view keeps its map (view_job.map): longitude,
 * latitude and norm of the row's first n pixels (the map's width: the colour rows are one
 * longer), y2 the row's y^2 for the norm, as gpu_view_map_build computes them. */
typedef struct map_keep {
	float *lon, *lat, *norm;
	float y2;
	int n;
} map_keep;

#if defined(__x86_64__) && defined(__GNUC__)
#define VIEW_HAVE_AVX2 1
/* x86-64 with GCC: the AVX2 and AVX-512 paths below, for CPUs that have them (checked at run
 * time). 8-lane AVX2 version of the row map. No FMA: separate multiplies and adds, so the
 * results are bit-identical to the SSE2 and scalar code (gm_view_map) on any x86-64. */

/* The weight pairs (Q - wx, wx) and (Q - wy, wy) of eight taps, as pmaddwd takes them. */
__attribute__((target("avx2"))) static inline void tap8_weights(const int *wx, const int *wy,
								__m256i *hx, __m256i *hy)
{
	const __m256i q = _mm256_set1_epi32(GM_Q);
	const __m256i vwx = _mm256_loadu_si256((const __m256i *)(const void *)wx);
	const __m256i vwy = _mm256_loadu_si256((const __m256i *)(const void *)wy);
	*hx = _mm256_or_si256(_mm256_slli_epi32(vwx, 16), _mm256_sub_epi32(q, vwx));
	*hy = _mm256_or_si256(_mm256_slli_epi32(vwy, 16), _mm256_sub_epi32(q, vwy));
}

/* One channel of eight taps from its (left, right) 16-bit pairs on the top row (t) and the
 * bottom row (b): tap_q_sum's integer operations, the same rounding. */
__attribute__((target("avx2"))) static inline __m256i tap8_mix(__m256i t, __m256i b, __m256i hx,
							       __m256i hy)
{
	__m256i top = _mm256_madd_epi16(t, hx), bot = _mm256_madd_epi16(b, hx);
	/* top, bot <= 255 * GM_Q: they fit the int16 halves of a pmaddwd pair */
	__m256i sum = _mm256_madd_epi16(_mm256_or_si256(top, _mm256_slli_epi32(bot, 16)), hy);
	return _mm256_srli_epi32(_mm256_add_epi32(sum, _mm256_set1_epi32(GM_Q * GM_Q / 2)),
				 2 * GM_QB);
}

/* [R G B 0] x 8 -> 24 packed bytes at out: 12 from each 128-bit lane. */
__attribute__((target("avx2"))) static inline void tap8_store(__m256i res, uint8_t *out)
{
	const __m256i pack = _mm256_setr_epi8(0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, -1, -1, -1, -1,
					      0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, -1, -1, -1, -1);
	res = _mm256_shuffle_epi8(res, pack);
	uint8_t t[32];
	_mm256_storeu_si256((__m256i *)(void *)t, res);
	memcpy(out, t, 12);
	memcpy(out + 12, t + 16, 12);
}

/* Eight bilinear taps of a 3-channel source at once (pixels i..i+7 of a row, every tap
 * inside: ix + 2 < W, iy + 1 < H, as tap_q asks): the four corners gathered as 32-bit words,
 * then per channel tap_q_sum's integer operations (pmaddwd on (Q - wx, wx) and (Q - wy, wy)
 * pairs, the same rounding), so the same bytes as eight tap_q calls. Offsets are 32-bit: the
 * caller checks that the source is under 2 GiB. Writes 24 bytes. */
__attribute__((target("avx2"))) static void tap8_rgb_avx2(const gm_src *s, const int *ix,
							  const int *iy, const int *wx,
							  const int *wy, uint8_t *out)
{
	const __m256i x = _mm256_loadu_si256((const __m256i *)(const void *)ix);
	const __m256i y = _mm256_loadu_si256((const __m256i *)(const void *)iy);
	const __m256i off = _mm256_add_epi32(_mm256_mullo_epi32(y, _mm256_set1_epi32((int)s->stride)),
					     _mm256_add_epi32(x, _mm256_add_epi32(x, x)));
	const int *p00 = (const int *)(const void *)s->data;
	const int *p01 = (const int *)(const void *)(s->data + 3);
	const int *p10 = (const int *)(const void *)(s->data + s->stride);
	const int *p11 = (const int *)(const void *)(s->data + s->stride + 3);
	const __m256i a = _mm256_i32gather_epi32(p00, off, 1), b = _mm256_i32gather_epi32(p01, off, 1);
	const __m256i c = _mm256_i32gather_epi32(p10, off, 1), d = _mm256_i32gather_epi32(p11, off, 1);
	const __m256i ff = _mm256_set1_epi32(0xff);
	__m256i hx, hy;
	tap8_weights(wx, wy, &hx, &hy);
	__m256i res = _mm256_setzero_si256();
	for (int k = 0; k < 3; k++) {
		__m256i ak = _mm256_and_si256(_mm256_srli_epi32(a, 8 * k), ff);
		__m256i bk = _mm256_and_si256(_mm256_srli_epi32(b, 8 * k), ff);
		__m256i ck = _mm256_and_si256(_mm256_srli_epi32(c, 8 * k), ff);
		__m256i dk = _mm256_and_si256(_mm256_srli_epi32(d, 8 * k), ff);
		__m256i v = tap8_mix(_mm256_or_si256(ak, _mm256_slli_epi32(bk, 16)),
				     _mm256_or_si256(ck, _mm256_slli_epi32(dk, 16)), hx, hy);
		res = _mm256_or_si256(res, _mm256_slli_epi32(v, 8 * k));
	}
	tap8_store(res, out);
}

/* The least of four ints. */
static inline int min4i(const int *v)
{
	int a = v[0] < v[1] ? v[0] : v[1], b = v[2] < v[3] ? v[2] : v[3];
	return a < b ? a : b;
}

/* tap8_rgb_avx2 without gathers (AVX2 has no cross-lane byte permute; AMD's gathers are slow:
 * on a Zen 3 guest tap8_rgb_avx2 was 12 % of a one-thread build). Each 128-bit lane's four
 * pixels start on two neighbouring source rows at most and within 4 columns (so where the view
 * magnifies, or nearly: the shard's frames are magnified 2.5x), so the 16 bytes from the
 * lane's least column on each of its two or three rows hold every tap; those rows are loaded
 * into the lane and the taps' bytes picked out with pshufb, then tap8_rgb_avx2's integer
 * operations, so the same bytes. Returns 0, having written nothing, when a lane does not
 * qualify or its loads would leave the row. The pixels are inside (inside8). Writes 24 bytes. */
__attribute__((target("avx2"))) static int tap8_rgb_window(const gm_src *s, const int *ix,
							  const int *iy, const int *wx,
							  const int *wy, uint8_t *out)
{
	const int xa = min4i(ix), xb = min4i(ix + 4), ya = min4i(iy), yb = min4i(iy + 4);
	/* 16 bytes from column x stay in the row: 3 x + 16 <= 3 W */
	if (3 * xa + 16 > 3 * s->W || 3 * xb + 16 > 3 * s->W)
		return 0;
	const __m256i x = _mm256_loadu_si256((const __m256i *)(const void *)ix);
	const __m256i y = _mm256_loadu_si256((const __m256i *)(const void *)iy);
	const __m256i dx = _mm256_sub_epi32(x, _mm256_setr_epi32(xa, xa, xa, xa, xb, xb, xb, xb));
	const __m256i dy = _mm256_sub_epi32(y, _mm256_setr_epi32(ya, ya, ya, ya, yb, yb, yb, yb));
	/* dx, dy >= 0 (from the lanes' minima): dx <= 3, dy <= 1 */
	if (!_mm256_testz_si256(dx, _mm256_set1_epi32(~3)) ||
	    !_mm256_testz_si256(dy, _mm256_set1_epi32(~1)))
		return 0;
	const size_t st = s->stride;
	const uint8_t *pa = s->data + (size_t)ya * st + (size_t)xa * 3;
	const uint8_t *pb = s->data + (size_t)yb * st + (size_t)xb * 3;
#define LOAD16(q) _mm_loadu_si128((const __m128i *)(const void *)(q))
#define ROWS(qa, qb) _mm256_inserti128_si256(_mm256_castsi128_si256(LOAD16(qa)), LOAD16(qb), 1)
	const __m256i r0 = ROWS(pa, pb), r1 = ROWS(pa + st, pb + st);
	/* A lane's third row only where one of its pixels starts on its second (and then that
	 * row exists: inside8 holds iy + 1 < H). */
	const int two = !_mm256_testz_si256(dy, dy);
	__m256i r2 = r1;
	if (two) {
		const int ta = (ya != iy[0]) | (ya != iy[1]) | (ya != iy[2]) | (ya != iy[3]);
		const int tb = (yb != iy[4]) | (yb != iy[5]) | (yb != iy[6]) | (yb != iy[7]);
		r2 = ROWS(ta ? pa + 2 * st : pa + st, tb ? pb + 2 * st : pb + st);
	}
#undef ROWS
#undef LOAD16
	const __m256i dym = _mm256_sub_epi32(_mm256_setzero_si256(), dy); /* -1: second row */
	/* per pixel, bytes (left tap, 0, right tap, 0) of channel 0: offsets 3 dx and 3 dx + 3 */
	const __m256i a3 = _mm256_add_epi32(dx, _mm256_add_epi32(dx, dx));
	const __m256i ctl = _mm256_add_epi32(_mm256_add_epi32(a3, _mm256_slli_epi32(a3, 16)),
					     _mm256_set1_epi32((int)0x80038000)); /* no carries: a3 <= 9 */
	__m256i hx, hy;
	tap8_weights(wx, wy, &hx, &hy);
	__m256i res = _mm256_setzero_si256();
	for (int k = 0; k < 3; k++) {
		const __m256i c = _mm256_add_epi32(ctl, _mm256_set1_epi32(k * 0x10001));
		__m256i t = _mm256_shuffle_epi8(r0, c), b = _mm256_shuffle_epi8(r1, c);
		if (two) {
			t = _mm256_blendv_epi8(t, b, dym);
			b = _mm256_blendv_epi8(b, _mm256_shuffle_epi8(r2, c), dym);
		}
		res = _mm256_or_si256(res, _mm256_slli_epi32(tap8_mix(t, b, hx, hy), 8 * k));
	}
	tap8_store(res, out);
	return 1;
}

/* Maps i in [0, n8) (n8 a multiple of 8) of row j; with k, its rays go to k too. */
__attribute__((target("avx2"))) static void map_row_avx2(const gm_view *g, float bx, float by,
							 float bz, int n8, float *col, float *row,
							 const map_keep *k)
{
	const __m256 vbx = _mm256_set1_ps(bx), vby = _mm256_set1_ps(by), vbz = _mm256_set1_ps(bz);
	const __m256 r0 = _mm256_set1_ps(g->R[0]), r3 = _mm256_set1_ps(g->R[3]);
	const __m256 r6 = _mm256_set1_ps(g->R[6]);
	const __m256 cx = _mm256_set1_ps(g->cx), ifx = _mm256_set1_ps(g->ifx);
	const __m256 kc = _mm256_set1_ps(g->kc), oc = _mm256_set1_ps(g->oc);
	const __m256 kr = _mm256_set1_ps(g->kr), orow = _mm256_set1_ps(g->orow);
	const __m256 sign = _mm256_set1_ps(-0.0f), eight = _mm256_set1_ps(8.0f);
	__m256 u = _mm256_setr_ps(0.5f, 1.5f, 2.5f, 3.5f, 4.5f, 5.5f, 6.5f, 7.5f);
	for (int i = 0; i < n8; i += 8, u = _mm256_add_ps(u, eight)) {
		__m256 x = _mm256_mul_ps(_mm256_sub_ps(u, cx), ifx);
		__m256 dx = _mm256_add_ps(_mm256_mul_ps(r0, x), vbx);
		__m256 dy = _mm256_add_ps(_mm256_mul_ps(r3, x), vby);
		__m256 dz = _mm256_add_ps(_mm256_mul_ps(r6, x), vbz);
		__m256 h = _mm256_sqrt_ps(_mm256_add_ps(_mm256_mul_ps(dx, dx), _mm256_mul_ps(dz, dz)));
		__m256 lon = atan2_8(dx, dz), lat = atan2_8(_mm256_xor_ps(dy, sign), h);
		_mm256_storeu_ps(col + i, _mm256_add_ps(_mm256_mul_ps(lon, kc), oc));
		_mm256_storeu_ps(row + i, _mm256_sub_ps(orow, _mm256_mul_ps(lat, kr)));
		if (k && i < k->n) {
			/* The map's own rows are w long (n8 may reach w + 1: a masked tail) */
			__m256 nrm = _mm256_sqrt_ps(_mm256_add_ps(
				_mm256_add_ps(_mm256_mul_ps(x, x), _mm256_set1_ps(k->y2)),
				_mm256_set1_ps(1.0f)));
			if (i + 8 <= k->n) {
				_mm256_storeu_ps(k->lon + i, lon);
				_mm256_storeu_ps(k->lat + i, lat);
				_mm256_storeu_ps(k->norm + i, nrm);
			} else {
				float t[3][8];
				_mm256_storeu_ps(t[0], lon);
				_mm256_storeu_ps(t[1], lat);
				_mm256_storeu_ps(t[2], nrm);
				for (int q = 0; i + q < k->n; q++) {
					k->lon[i + q] = t[0][q];
					k->lat[i + q] = t[1][q];
					k->norm[i + q] = t[2][q];
				}
			}
		}
	}
}

#define VIEW_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512vbmi")))

/* map_row_avx2 sixteen lanes at a time (n16 a multiple of 16). */
VIEW_AVX512 static void map_row_avx512(const gm_view *g, float bx, float by, float bz, int n16,
				       float *col, float *row, const map_keep *k)
{
	const __m512 vbx = _mm512_set1_ps(bx), vby = _mm512_set1_ps(by), vbz = _mm512_set1_ps(bz);
	const __m512 r0 = _mm512_set1_ps(g->R[0]), r3 = _mm512_set1_ps(g->R[3]);
	const __m512 r6 = _mm512_set1_ps(g->R[6]);
	const __m512 cx = _mm512_set1_ps(g->cx), ifx = _mm512_set1_ps(g->ifx);
	const __m512 kc = _mm512_set1_ps(g->kc), oc = _mm512_set1_ps(g->oc);
	const __m512 kr = _mm512_set1_ps(g->kr), orow = _mm512_set1_ps(g->orow);
	const __m512 sixteen = _mm512_set1_ps(16.0f);
	__m512 u = _mm512_setr_ps(0.5f, 1.5f, 2.5f, 3.5f, 4.5f, 5.5f, 6.5f, 7.5f, 8.5f, 9.5f,
				  10.5f, 11.5f, 12.5f, 13.5f, 14.5f, 15.5f);
	for (int i = 0; i < n16; i += 16, u = _mm512_add_ps(u, sixteen)) {
		__m512 x = _mm512_mul_ps(_mm512_sub_ps(u, cx), ifx);
		__m512 dx = _mm512_add_ps(_mm512_mul_ps(r0, x), vbx);
		__m512 dy = _mm512_add_ps(_mm512_mul_ps(r3, x), vby);
		__m512 dz = _mm512_add_ps(_mm512_mul_ps(r6, x), vbz);
		__m512 h = _mm512_sqrt_ps(_mm512_add_ps(_mm512_mul_ps(dx, dx), _mm512_mul_ps(dz, dz)));
		__m512 lon = atan2_16(dx, dz);
		__m512 lat = atan2_16(neg16(dy), h);
		_mm512_storeu_ps(col + i, _mm512_add_ps(_mm512_mul_ps(lon, kc), oc));
		_mm512_storeu_ps(row + i, _mm512_sub_ps(orow, _mm512_mul_ps(lat, kr)));
		if (k && i < k->n) {
			__m512 nrm = _mm512_sqrt_ps(_mm512_add_ps(
				_mm512_add_ps(_mm512_mul_ps(x, x), _mm512_set1_ps(k->y2)),
				_mm512_set1_ps(1.0f)));
			__mmask16 m = i + 16 <= k->n ? (__mmask16)0xffff
						     : (__mmask16)((1u << (k->n - i)) - 1);
			_mm512_mask_storeu_ps(k->lon + i, m, lon);
			_mm512_mask_storeu_ps(k->lat + i, m, lat);
			_mm512_mask_storeu_ps(k->norm + i, m, nrm);
		}
	}
}

/* Both read the CPU model libgcc fills in at start-up (cheap), under the cap the tests set
 * (gpu_view_simd_cap) to run every path on one machine. */
static int cpu_has_vbmi(void)
{
	return atomic_load_explicit(&view_simd, memory_order_relaxed) >= 2 &&
	       __builtin_cpu_supports("avx512vbmi") && __builtin_cpu_supports("avx512bw") &&
	       __builtin_cpu_supports("avx512vl");
}

static int cpu_has_avx2(void)
{
	return atomic_load_explicit(&view_simd, memory_order_relaxed) >= 1 &&
	       __builtin_cpu_supports("avx2");
}
#endif

/* Where row j's rays go, if anywhere: the frame's map, or rays (3 rows of w: lon, lat, norm). */
static const map_keep *keep_row(const gm_view *g, int j, int w, gpu_view_map *map, float *rays,
				map_keep *k)
{
	float *lon, *lat, *norm;
	if (map) {
		if (j >= map->height)
			return NULL;
		size_t o = (size_t)j * (size_t)map->width;
		lon = map->lon + o, lat = map->lat + o, norm = map->norm + o;
	} else if (rays) {
		lon = rays, lat = rays + w, norm = rays + 2 * w;
	} else {
		return NULL;
	}
	float y = GM_MUL((float)j + 0.5f - g->cy, g->ify);
	*k = (map_keep){lon, lat, norm, GM_MUL(y, y), w};
	return k;
}

/* Source positions of the pixel centres (i + 0.5, j + 0.5), i in [0, n); with k, row j's rays
 * too (the same rays: the colour view and the depth view share them). */
static void map_row(const gm_view *g, int j, int n, float *col, float *row, const map_keep *k)
{
	float bx, by, bz;
	gm_view_rowbase(g, (float)j + 0.5f, &bx, &by, &bz);
	int i = 0;
#ifdef VIEW_HAVE_AVX2
	if (cpu_has_vbmi()) {
		i = n & ~15;
		map_row_avx512(g, bx, by, bz, i, col, row, k);
	} else if (cpu_has_avx2()) {
		i = n & ~7;
		map_row_avx2(g, bx, by, bz, i, col, row, k);
	}
#endif
#ifdef __SSE2__
	const __m128 vbx = _mm_set1_ps(bx), vby = _mm_set1_ps(by), vbz = _mm_set1_ps(bz);
	const __m128 r0 = _mm_set1_ps(g->R[0]), r3 = _mm_set1_ps(g->R[3]), r6 = _mm_set1_ps(g->R[6]);
	const __m128 cx = _mm_set1_ps(g->cx), ifx = _mm_set1_ps(g->ifx);
	const __m128 kc = _mm_set1_ps(g->kc), oc = _mm_set1_ps(g->oc);
	const __m128 kr = _mm_set1_ps(g->kr), orow = _mm_set1_ps(g->orow);
	const __m128 sign = _mm_set1_ps(-0.0f), four = _mm_set1_ps(4.0f);
	/* exact: integers + 0.5 below 2^22 */
	__m128 u = _mm_add_ps(_mm_setr_ps(0.5f, 1.5f, 2.5f, 3.5f), _mm_set1_ps((float)i));
	for (; i + 4 <= n && (!k || i + 4 <= k->n); i += 4, u = _mm_add_ps(u, four)) {
		__m128 x = _mm_mul_ps(_mm_sub_ps(u, cx), ifx);
		__m128 dx = _mm_add_ps(_mm_mul_ps(r0, x), vbx);
		__m128 dy = _mm_add_ps(_mm_mul_ps(r3, x), vby);
		__m128 dz = _mm_add_ps(_mm_mul_ps(r6, x), vbz);
		__m128 h = _mm_sqrt_ps(_mm_add_ps(_mm_mul_ps(dx, dx), _mm_mul_ps(dz, dz)));
		__m128 lon = atan2_ps(dx, dz), lat = atan2_ps(_mm_xor_ps(dy, sign), h);
		_mm_storeu_ps(col + i, _mm_add_ps(_mm_mul_ps(lon, kc), oc));
		_mm_storeu_ps(row + i, _mm_sub_ps(orow, _mm_mul_ps(lat, kr)));
		if (k) {
			_mm_storeu_ps(k->lon + i, lon);
			_mm_storeu_ps(k->lat + i, lat);
			_mm_storeu_ps(k->norm + i, _mm_sqrt_ps(_mm_add_ps(
				_mm_add_ps(_mm_mul_ps(x, x), _mm_set1_ps(k->y2)), _mm_set1_ps(1.0f))));
		}
	}
#endif
	for (; i < n; i++) {
		if (!k || i >= k->n) {
			gm_view_map(g, (float)i + 0.5f, bx, by, bz, col + i, row + i);
			continue;
		}
		/* gm_view_map's operations, the angles kept (gpu/view_map.c's scalar loop) */
		float x = ((float)i + 0.5f - g->cx) * g->ifx;
		float dx = GM_ADD(GM_MUL(g->R[0], x), bx);
		float dy = GM_ADD(GM_MUL(g->R[3], x), by);
		float dz = GM_ADD(GM_MUL(g->R[6], x), bz);
		float h = sqrtf(GM_ADD(GM_MUL(dx, dx), GM_MUL(dz, dz)));
		float lon = gm_atan2f(dx, dz), lat = gm_atan2f(-dy, h);
		col[i] = GM_ADD(GM_MUL(lon, g->kc), g->oc);
		row[i] = GM_SUB(g->orow, GM_MUL(lat, g->kr));
		k->lon[i] = lon;
		k->lat[i] = lat;
		k->norm[i] = sqrtf(GM_ADD(GM_ADD(GM_MUL(x, x), k->y2), 1.0f));
	}
}

/* need[i] = 1 where pixel i of the row needs the prefilter (footprint > GM_AA_STEP). */
#ifdef __SSE2__
/* need_bytes[m]: the four bytes (bit k of m) in memory order, for one 32-bit store. */
#define NEED4(m) ((uint32_t)((m) & 1) | (uint32_t)(((m) >> 1) & 1) << 8 | \
		  (uint32_t)(((m) >> 2) & 1) << 16 | (uint32_t)(((m) >> 3) & 1) << 24)
static const uint32_t need_bytes[16] = {NEED4(0),  NEED4(1),  NEED4(2),  NEED4(3),
					NEED4(4),  NEED4(5),  NEED4(6),  NEED4(7),
					NEED4(8),  NEED4(9),  NEED4(10), NEED4(11),
					NEED4(12), NEED4(13), NEED4(14), NEED4(15)};
#undef NEED4
#endif

#ifdef VIEW_HAVE_AVX2
/* footprint_row's SSE2 loop sixteen lanes at a time: the same operations, the flags of
 * sixteen pixels in one store (tap16_rgb_vbmi reads them back as one load). Returns the
 * pixels done (a multiple of 16). */
VIEW_AVX512 static int footprint_row_avx512(float W, int w, const float *c0, const float *r0,
					    const float *c1, const float *r1, uint8_t *need)
{
	const __m512 hw = _mm512_set1_ps(0.5f * W), nhw = _mm512_set1_ps(-0.5f * W);
	const __m512 vw = _mm512_set1_ps(W), step = _mm512_set1_ps(GM_AA_STEP);
	const __m128i one = _mm_set1_epi8(1);
	int i = 0;
	for (; i + 16 <= w; i += 16) {
		__m512 c = _mm512_loadu_ps(c0 + i), r = _mm512_loadu_ps(r0 + i);
		__m512 dc = _mm512_sub_ps(_mm512_loadu_ps(c0 + i + 1), c);
		__m512 ec = _mm512_sub_ps(_mm512_loadu_ps(c1 + i), c);
		dc = sel16(_mm512_cmp_ps_mask(dc, hw, _CMP_GT_OQ), _mm512_sub_ps(dc, vw),
			   sel16(_mm512_cmp_ps_mask(dc, nhw, _CMP_LT_OQ), _mm512_add_ps(dc, vw), dc));
		ec = sel16(_mm512_cmp_ps_mask(ec, hw, _CMP_GT_OQ), _mm512_sub_ps(ec, vw),
			   sel16(_mm512_cmp_ps_mask(ec, nhw, _CMP_LT_OQ), _mm512_add_ps(ec, vw), ec));
		__m512 sx = _mm512_max_ps(_mm512_abs_ps(dc),
					  _mm512_abs_ps(_mm512_sub_ps(_mm512_loadu_ps(r0 + i + 1), r)));
		__m512 sy = _mm512_max_ps(_mm512_abs_ps(ec),
					  _mm512_abs_ps(_mm512_sub_ps(_mm512_loadu_ps(r1 + i), r)));
		__mmask16 m = _mm512_cmp_ps_mask(sx, step, _CMP_GT_OQ) |
			      _mm512_cmp_ps_mask(sy, step, _CMP_GT_OQ);
		_mm_storeu_si128((__m128i *)(void *)(need + i), _mm_maskz_mov_epi8(m, one));
	}
	return i;
}

/* footprint_row's SSE2 loop eight lanes at a time, for CPUs with AVX2 but not AVX-512 (AMD
 * Zen 2/3, which many GPU nodes carry): the same operations, so the same flags. Returns the
 * pixels done (a multiple of 8). */
__attribute__((target("avx2"))) static int footprint_row_avx2(float W, int w, const float *c0,
							     const float *r0, const float *c1,
							     const float *r1, uint8_t *need)
{
	const __m256 hw = _mm256_set1_ps(0.5f * W), nhw = _mm256_set1_ps(-0.5f * W);
	const __m256 vw = _mm256_set1_ps(W), step = _mm256_set1_ps(GM_AA_STEP);
	const __m256 sign = _mm256_set1_ps(-0.0f);
	int i = 0;
	for (; i + 8 <= w; i += 8) {
		__m256 c = _mm256_loadu_ps(c0 + i), r = _mm256_loadu_ps(r0 + i);
		__m256 dc = _mm256_sub_ps(_mm256_loadu_ps(c0 + i + 1), c);
		__m256 ec = _mm256_sub_ps(_mm256_loadu_ps(c1 + i), c);
		dc = sel8(_mm256_cmp_ps(dc, hw, _CMP_GT_OQ), _mm256_sub_ps(dc, vw),
			  sel8(_mm256_cmp_ps(dc, nhw, _CMP_LT_OQ), _mm256_add_ps(dc, vw), dc));
		ec = sel8(_mm256_cmp_ps(ec, hw, _CMP_GT_OQ), _mm256_sub_ps(ec, vw),
			  sel8(_mm256_cmp_ps(ec, nhw, _CMP_LT_OQ), _mm256_add_ps(ec, vw), ec));
		__m256 sx = _mm256_max_ps(_mm256_andnot_ps(sign, dc),
					  _mm256_andnot_ps(sign, _mm256_sub_ps(_mm256_loadu_ps(r0 + i + 1), r)));
		__m256 sy = _mm256_max_ps(_mm256_andnot_ps(sign, ec),
					  _mm256_andnot_ps(sign, _mm256_sub_ps(_mm256_loadu_ps(r1 + i), r)));
		int m = _mm256_movemask_ps(_mm256_or_ps(_mm256_cmp_ps(sx, step, _CMP_GT_OQ),
							 _mm256_cmp_ps(sy, step, _CMP_GT_OQ)));
		memcpy(need + i, &need_bytes[m & 15], 4);
		memcpy(need + i + 4, &need_bytes[m >> 4], 4);
	}
	return i;
}

/* index_row's SSE2 loop eight lanes at a time (AVX2); returns the pixels done. */
__attribute__((target("avx2"))) static int index_row_avx2(int w, const float *c0,
							  const float *r0, int *ix, int *iy,
							  int *wx, int *wy)
{
	const __m256 one = _mm256_set1_ps(1.0f), q = _mm256_set1_ps((float)GM_Q);
	const __m256 half = _mm256_set1_ps(0.5f);
	const __m256i ione = _mm256_set1_epi32(1);
	int i = 0;
	for (; i + 8 <= w; i += 8) {
		__m256 c = _mm256_loadu_ps(c0 + i), r = _mm256_loadu_ps(r0 + i);
		__m256i x = _mm256_sub_epi32(_mm256_cvttps_epi32(_mm256_add_ps(c, one)), ione);
		__m256i y = _mm256_sub_epi32(_mm256_cvttps_epi32(_mm256_add_ps(r, one)), ione);
		__m256 fx = _mm256_sub_ps(c, _mm256_cvtepi32_ps(x));
		__m256 fy = _mm256_sub_ps(r, _mm256_cvtepi32_ps(y));
		_mm256_storeu_si256((__m256i *)(void *)(ix + i), x);
		_mm256_storeu_si256((__m256i *)(void *)(iy + i), y);
		_mm256_storeu_si256((__m256i *)(void *)(wx + i),
				    _mm256_cvttps_epi32(_mm256_add_ps(_mm256_mul_ps(fx, q), half)));
		_mm256_storeu_si256((__m256i *)(void *)(wy + i),
				    _mm256_cvttps_epi32(_mm256_add_ps(_mm256_mul_ps(fy, q), half)));
	}
	return i;
}

/* index_row's SSE2 loop sixteen lanes at a time; returns the pixels done. */
VIEW_AVX512 static int index_row_avx512(int w, const float *c0, const float *r0, int *ix,
					int *iy, int *wx, int *wy)
{
	const __m512 one = _mm512_set1_ps(1.0f), q = _mm512_set1_ps((float)GM_Q);
	const __m512 half = _mm512_set1_ps(0.5f);
	const __m512i ione = _mm512_set1_epi32(1);
	int i = 0;
	for (; i + 16 <= w; i += 16) {
		__m512 c = _mm512_loadu_ps(c0 + i), r = _mm512_loadu_ps(r0 + i);
		__m512i x = _mm512_sub_epi32(_mm512_cvttps_epi32(_mm512_add_ps(c, one)), ione);
		__m512i y = _mm512_sub_epi32(_mm512_cvttps_epi32(_mm512_add_ps(r, one)), ione);
		__m512 fx = _mm512_sub_ps(c, _mm512_cvtepi32_ps(x));
		__m512 fy = _mm512_sub_ps(r, _mm512_cvtepi32_ps(y));
		_mm512_storeu_si512(ix + i, x);
		_mm512_storeu_si512(iy + i, y);
		_mm512_storeu_si512(wx + i, _mm512_cvttps_epi32(_mm512_add_ps(_mm512_mul_ps(fx, q), half)));
		_mm512_storeu_si512(wy + i, _mm512_cvttps_epi32(_mm512_add_ps(_mm512_mul_ps(fy, q), half)));
	}
	return i;
}
#endif

static void footprint_row(float W, int w, const float *c0, const float *r0, const float *c1,
			  const float *r1, uint8_t *need)
{
	int i = 0;
#ifdef VIEW_HAVE_AVX2
	if (cpu_has_vbmi())
		i = footprint_row_avx512(W, w, c0, r0, c1, r1, need);
	else if (cpu_has_avx2())
		i = footprint_row_avx2(W, w, c0, r0, c1, r1, need);
#endif
#ifdef __SSE2__
	const __m128 hw = _mm_set1_ps(0.5f * W), nhw = _mm_set1_ps(-0.5f * W), vw = _mm_set1_ps(W);
	const __m128 sign = _mm_set1_ps(-0.0f), step = _mm_set1_ps(GM_AA_STEP);
	for (; i + 4 <= w; i += 4) {
		__m128 c = _mm_loadu_ps(c0 + i), r = _mm_loadu_ps(r0 + i);
		__m128 dc = _mm_sub_ps(_mm_loadu_ps(c0 + i + 1), c);
		__m128 ec = _mm_sub_ps(_mm_loadu_ps(c1 + i), c);
		dc = sel(_mm_cmpgt_ps(dc, hw), _mm_sub_ps(dc, vw),
			 sel(_mm_cmplt_ps(dc, nhw), _mm_add_ps(dc, vw), dc));
		ec = sel(_mm_cmpgt_ps(ec, hw), _mm_sub_ps(ec, vw),
			 sel(_mm_cmplt_ps(ec, nhw), _mm_add_ps(ec, vw), ec));
		__m128 sx = _mm_max_ps(_mm_andnot_ps(sign, dc),
				       _mm_andnot_ps(sign, _mm_sub_ps(_mm_loadu_ps(r0 + i + 1), r)));
		__m128 sy = _mm_max_ps(_mm_andnot_ps(sign, ec),
				       _mm_andnot_ps(sign, _mm_sub_ps(_mm_loadu_ps(r1 + i), r)));
		int m = _mm_movemask_ps(_mm_or_ps(_mm_cmpgt_ps(sx, step), _mm_cmpgt_ps(sy, step)));
		/* the four flags in one store: byte k of need_bytes[m] is bit k of m */
		memcpy(need + i, &need_bytes[m], 4);
	}
#endif
	for (; i < w; i++) {
		float sx, sy;
		gm_footprint(W, c0[i], r0[i], c0[i + 1], r0[i + 1], c1[i], r1[i], &sx, &sy);
		need[i] = sx > GM_AA_STEP || sy > GM_AA_STEP;
	}
}

/* Fixed-point tap positions of a row (gm_bilinear_q lane by lane: the same operations). */
static void index_row(int w, const float *c0, const float *r0, int *ix, int *iy, int *wx,
		      int *wy)
{
	int i = 0;
#ifdef VIEW_HAVE_AVX2
	if (cpu_has_vbmi())
		i = index_row_avx512(w, c0, r0, ix, iy, wx, wy);
	else if (cpu_has_avx2())
		i = index_row_avx2(w, c0, r0, ix, iy, wx, wy);
#endif
#ifdef __SSE2__
	const __m128 one = _mm_set1_ps(1.0f), q = _mm_set1_ps((float)GM_Q), half = _mm_set1_ps(0.5f);
	const __m128i ione = _mm_set1_epi32(1);
	for (; i + 4 <= w; i += 4) {
		__m128 c = _mm_loadu_ps(c0 + i), r = _mm_loadu_ps(r0 + i);
		__m128i x = _mm_sub_epi32(_mm_cvttps_epi32(_mm_add_ps(c, one)), ione);
		__m128i y = _mm_sub_epi32(_mm_cvttps_epi32(_mm_add_ps(r, one)), ione);
		__m128 fx = _mm_sub_ps(c, _mm_cvtepi32_ps(x)), fy = _mm_sub_ps(r, _mm_cvtepi32_ps(y));
		_mm_storeu_si128((__m128i *)(ix + i), x);
		_mm_storeu_si128((__m128i *)(iy + i), y);
		_mm_storeu_si128((__m128i *)(wx + i), _mm_cvttps_epi32(_mm_add_ps(_mm_mul_ps(fx, q), half)));
		_mm_storeu_si128((__m128i *)(wy + i), _mm_cvttps_epi32(_mm_add_ps(_mm_mul_ps(fy, q), half)));
	}
#endif
	for (; i < w; i++)
		gm_bilinear_q(c0[i], r0[i], ix + i, iy + i, wx + i, wy + i);
}

#ifdef __SSE2__
static inline __m128i load4(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return _mm_cvtsi32_si128((int)v);
}

/* One bilinear tap of a 3- or 4-channel pixel whose four taps are inside (ix + 2 < W so the
 * 4-byte loads stay in the row, iy + 1 < H): gm_sample_bilinear's integer arithmetic with
 * pmaddwd. Writes 4 bytes when store4 (the 4th lands on the next pixel, written later). */
static inline __m128i tap_q_sum(const gm_src *s, int ix, int iy, int wx, int wy)
{
	const uint8_t *p00 = s->data + (size_t)iy * s->stride + (size_t)ix * s->ch;
	const uint8_t *p10 = p00 + s->stride;
	const __m128i z = _mm_setzero_si128();
	__m128i ab = _mm_unpacklo_epi8(_mm_unpacklo_epi8(load4(p00), load4(p00 + s->ch)), z);
	__m128i cd = _mm_unpacklo_epi8(_mm_unpacklo_epi8(load4(p10), load4(p10 + s->ch)), z);
	__m128i whx = _mm_set1_epi32((wx << 16) | (GM_Q - wx));
	__m128i top = _mm_madd_epi16(ab, whx), bot = _mm_madd_epi16(cd, whx);
	__m128i tb = _mm_unpacklo_epi16(_mm_packs_epi32(top, top), _mm_packs_epi32(bot, bot));
	return _mm_madd_epi16(tb, _mm_set1_epi32((wy << 16) | (GM_Q - wy)));
}

static inline void store_px(uint32_t o, uint8_t *out, int store4)
{
	if (store4) {
		memcpy(out, &o, 4);
	} else {
		out[0] = (uint8_t)o;
		out[1] = (uint8_t)(o >> 8);
		out[2] = (uint8_t)(o >> 16);
	}
}

static inline void tap_q(const gm_src *s, int ix, int iy, int wx, int wy, uint8_t *out,
			 int store4)
{
	__m128i v = tap_q_sum(s, ix, iy, wx, wy);
	v = _mm_srli_epi32(_mm_add_epi32(v, _mm_set1_epi32(GM_Q * GM_Q / 2)), 2 * GM_QB);
	v = _mm_packus_epi16(_mm_packs_epi32(v, v), _mm_setzero_si128());
	store_px((uint32_t)_mm_cvtsi128_si32(v), out, store4);
}

/* Four positions u of one row (rowbase bx, by, bz): gm_view_map lane by lane. */
static inline void map4(const gm_view *g, __m128 u, float bx, float by, float bz, float *col,
			float *row)
{
	const __m128 sign = _mm_set1_ps(-0.0f);
	__m128 x = _mm_mul_ps(_mm_sub_ps(u, _mm_set1_ps(g->cx)), _mm_set1_ps(g->ifx));
	__m128 dx = _mm_add_ps(_mm_mul_ps(_mm_set1_ps(g->R[0]), x), _mm_set1_ps(bx));
	__m128 dy = _mm_add_ps(_mm_mul_ps(_mm_set1_ps(g->R[3]), x), _mm_set1_ps(by));
	__m128 dz = _mm_add_ps(_mm_mul_ps(_mm_set1_ps(g->R[6]), x), _mm_set1_ps(bz));
	__m128 h = _mm_sqrt_ps(_mm_add_ps(_mm_mul_ps(dx, dx), _mm_mul_ps(dz, dz)));
	_mm_storeu_ps(col, _mm_add_ps(_mm_mul_ps(atan2_ps(dx, dz), _mm_set1_ps(g->kc)),
				      _mm_set1_ps(g->oc)));
	_mm_storeu_ps(row, _mm_sub_ps(_mm_set1_ps(g->orow),
				      _mm_mul_ps(atan2_ps(_mm_xor_ps(dy, sign), h), _mm_set1_ps(g->kr))));
}

/* A supersampled bilinear pixel of 3 or 4 channels: gm_view_pixel's sub-samples, mapped four
 * at a time and tapped with pmaddwd where inside; the same integers, so the same bytes. */
static void pixel_aa_fast(const gm_view *g, const gm_src *s, int i, int j, float sx, float sy,
			  uint8_t *out, int store4)
{
	int nx = gm_aa_count(sx), ny = gm_aa_count(sy);
	float us[GM_AA_MAX + 3], cs[GM_AA_MAX + 3], rs[GM_AA_MAX + 3];
	__m128i acc = _mm_setzero_si128();
	unsigned qacc[4] = {0, 0, 0, 0};
	for (int a = 0; a < ((nx + 3) & ~3); a++) /* whole lanes: the extra ones are unused */
		us[a] = (float)i + ((float)a + 0.5f) / (float)nx;
	for (int b = 0; b < ny; b++) {
		float v = (float)j + ((float)b + 0.5f) / (float)ny;
		float bx, by, bz;
		gm_view_rowbase(g, v, &bx, &by, &bz);
		for (int a = 0; a < nx; a += 4)
			map4(g, _mm_loadu_ps(us + a), bx, by, bz, cs + a, rs + a);
		for (int a = 0; a < nx; a++) {
			int ix, iy, wx, wy;
			gm_bilinear_q(cs[a], rs[a], &ix, &iy, &wx, &wy);
			if (ix >= 0 && ix < s->W - 2 && iy >= 0 && iy < s->H - 1)
				acc = _mm_add_epi32(acc, tap_q_sum(s, ix, iy, wx, wy));
			else
				gm_sample_bilinear(s, cs[a], rs[a], qacc);
		}
	}
	unsigned t[4], n = (unsigned)(nx * ny), o = 0;
	_mm_storeu_si128((__m128i *)t, acc);
	for (int k = 0; k < s->ch; k++)
		o |= ((t[k] + qacc[k] + n * (GM_Q * GM_Q / 2)) / (n * GM_Q * GM_Q)) << (8 * k);
	store_px(o, out, store4);
}
#endif

/* Rows [j0, j1) on worker k's buffers. */
#ifdef __SSE2__
static inline __m128 load4f(const uint8_t *p)
{
	__m128i z = _mm_setzero_si128();
	return _mm_cvtepi32_ps(_mm_unpacklo_epi16(_mm_unpacklo_epi8(load4(p), z), z));
}

/* Catmull-Rom tap of a 3- or 4-channel pixel whose 16 taps are inside (1 <= ix, ix + 3 < W,
 * 1 <= iy, iy + 2 < H): gm_sample_bicubic + gm_to_u8 with one channel per lane, the same float
 * operations in the same order. Returns 0 when not inside. */
static inline int tap_cubic(const gm_src *s, float c, float r, uint8_t *out, int store4)
{
	float x0 = floorf(c), y0 = floorf(r);
	int ix = (int)x0, iy = (int)y0;
	if (!(ix >= 1 && ix < s->W - 3 && iy >= 1 && iy < s->H - 2))
		return 0;
	float wx[4], wy[4];
	gm_cubic_weights(c - x0, wx);
	gm_cubic_weights(r - y0, wy);
	const uint8_t *p = s->data + (size_t)(iy - 1) * s->stride + (size_t)(ix - 1) * s->ch;
	__m128 sum = _mm_setzero_ps();
	for (int m = 0; m < 4; m++, p += s->stride) {
		__m128 row = _mm_setzero_ps();
		for (int n = 0; n < 4; n++)
			row = _mm_add_ps(row, _mm_mul_ps(_mm_set1_ps(wx[n]), load4f(p + n * s->ch)));
		sum = _mm_add_ps(sum, _mm_mul_ps(_mm_set1_ps(wy[m]), row));
	}
	/* acc = 0 + sum, exact; then gm_to_u8. */
	sum = _mm_min_ps(_mm_max_ps(sum, _mm_setzero_ps()), _mm_set1_ps(255.0f));
	__m128i q = _mm_cvttps_epi32(_mm_add_ps(sum, _mm_set1_ps(0.5f)));
	q = _mm_packus_epi16(_mm_packs_epi32(q, q), _mm_setzero_si128());
	uint32_t o = (uint32_t)_mm_cvtsi128_si32(q);
	if (store4) {
		memcpy(out, &o, 4);
	} else {
		out[0] = (uint8_t)o;
		out[1] = (uint8_t)(o >> 8);
		out[2] = (uint8_t)(o >> 16);
	}
	return 1;
}
#endif

#ifdef VIEW_HAVE_AVX2
/* Pixels i..i+7 need no prefilter and all their taps are inside (tap_q's condition). */
__attribute__((target("avx2"))) static inline int inside8(const gm_src *s, const uint8_t *need,
							  const int *qx, const int *qy)
{
	uint64_t nd;
	memcpy(&nd, need, 8);
	if (nd)
		return 0;
	/* 0 <= x < W - 2 and 0 <= y < H - 1, eight lanes */
	const __m256i x = _mm256_loadu_si256((const __m256i *)(const void *)qx);
	const __m256i y = _mm256_loadu_si256((const __m256i *)(const void *)qy);
	const __m256i m1 = _mm256_set1_epi32(-1);
	__m256i ok = _mm256_and_si256(_mm256_cmpgt_epi32(x, m1),
				      _mm256_cmpgt_epi32(_mm256_set1_epi32(s->W - 2), x));
	ok = _mm256_and_si256(ok, _mm256_and_si256(_mm256_cmpgt_epi32(y, m1),
						   _mm256_cmpgt_epi32(_mm256_set1_epi32(s->H - 1), y)));
	return _mm256_movemask_epi8(ok) == -1;
}
#endif

#ifdef VIEW_HAVE_AVX2
/* Sixteen bilinear taps of a 3-channel source without gathers, where the CPU has AVX-512
 * VBMI: when the sixteen pixels need no prefilter, are inside (tap_q's condition), start on
 * two neighbouring source rows at most and within 20 source columns (always so where the
 * footprint stays under GM_AA_STEP, unless the row moves by more than one across the group),
 * the two or three source rows they read are loaded once (masked loads that never leave the
 * row) and the taps' bytes picked out with byte permutes; then tap8_rgb_avx2's integer
 * operations, so the same bytes. Returns 0, having written nothing, when the group does not
 * qualify. Writes 48 bytes. */
VIEW_AVX512 static int tap16_rgb_vbmi(const gm_src *s, const uint8_t *need, const int *ix,
				      const int *iy, const int *wx, const int *wy, uint8_t *out)
{
	const __m128i nd = _mm_loadu_si128((const __m128i *)(const void *)need);
	if (!_mm_testz_si128(nd, nd))
		return 0;
	const __m512i x = _mm512_loadu_si512(ix), y = _mm512_loadu_si512(iy);
	/* inside: 0 <= x < W - 2 and 0 <= y < H - 1, as unsigned compares */
	if (_mm512_cmpge_epu32_mask(x, _mm512_set1_epi32(s->W - 2)) |
	    _mm512_cmpge_epu32_mask(y, _mm512_set1_epi32(s->H - 1)))
		return 0;
	/* The group's extent: its minima, then the spans as unsigned differences. Where the map
	 * runs monotonic along the row (nearly always) the minima are at one end; else (a span
	 * that looks too wide) they are reduced over the group. */
	int x0 = ix[0] < ix[15] ? ix[0] : ix[15], y0 = iy[0] < iy[15] ? iy[0] : iy[15];
	__m512i dx = _mm512_sub_epi32(x, _mm512_set1_epi32(x0));
	__m512i dy = _mm512_sub_epi32(y, _mm512_set1_epi32(y0));
	const __m512i span_x = _mm512_set1_epi32(19), span_y = _mm512_set1_epi32(1);
	if (_mm512_cmpgt_epu32_mask(dx, span_x) | _mm512_cmpgt_epu32_mask(dy, span_y)) {
		x0 = _mm512_reduce_min_epi32(x);
		y0 = _mm512_reduce_min_epi32(y);
		dx = _mm512_sub_epi32(x, _mm512_set1_epi32(x0));
		dy = _mm512_sub_epi32(y, _mm512_set1_epi32(y0));
		if (_mm512_cmpgt_epu32_mask(dx, span_x) | _mm512_cmpgt_epu32_mask(dy, span_y))
			return 0;
	}
	const int two_rows = _mm512_test_epi32_mask(dy, dy) != 0;
	/* Bytes loaded from each row: the 63 from column x0 where they stay inside the row
	 * (the taps read at most columns x0 .. x0 + 20), else only those the taps read. */
	__mmask64 lm = ((__mmask64)1 << 63) - 1;
	if (x0 + 21 > s->W)
		lm = ((__mmask64)1 << (3 * _mm512_reduce_max_epi32(dx) + 6)) - 1;
	const uint8_t *p = s->data + (size_t)y0 * s->stride + (size_t)x0 * 3;
	const __m512i r0 = _mm512_maskz_loadu_epi8(lm, p);
	const __m512i r1 = _mm512_maskz_loadu_epi8(lm, p + s->stride);
	const __m512i r2 = two_rows ? _mm512_maskz_loadu_epi8(lm, p + 2 * s->stride) : r1;
	/* per pixel: byte offset of its left tap in the row, bit 6 = its top row is the second */
	const __m512i a = _mm512_add_epi32(_mm512_add_epi32(dx, _mm512_add_epi32(dx, dx)),
					   _mm512_slli_epi32(dy, 6));
	/* word pairs (left, right tap) per output byte: offsets a and a + 3 */
	const __m512i a3 = _mm512_add_epi32(a, _mm512_set1_epi32(3));
	const __m512i d = _mm512_or_si512(a, _mm512_slli_epi32(a3, 16));
	const __m512i q = _mm512_set1_epi32(GM_Q);
	const __m512i vwx = _mm512_loadu_si512(wx), vwy = _mm512_loadu_si512(wy);
	const __m512i hx = _mm512_or_si512(_mm512_slli_epi32(vwx, 16), _mm512_sub_epi32(q, vwx));
	const __m512i hy = _mm512_or_si512(_mm512_slli_epi32(vwy, 16), _mm512_sub_epi32(q, vwy));
	const __m512i half = _mm512_set1_epi32(GM_Q * GM_Q / 2);
	const __mmask64 lo = 0x5555555555555555ULL; /* the low byte of every word */
	/* output byte o = 3 p + c of the 48: dword m of part k is o = 16 k + m */
	static const int32_t pix[3][16] = {
		{0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4, 5},
		{5, 5, 6, 6, 6, 7, 7, 7, 8, 8, 8, 9, 9, 9, 10, 10},
		{10, 11, 11, 11, 12, 12, 12, 13, 13, 13, 14, 14, 14, 15, 15, 15}};
	/* its channel (o mod 3), on both halves of the dword */
#define C0 0
#define C1 0x10001
#define C2 0x20002
	static const int32_t chan[3][16] = {
		{C0, C1, C2, C0, C1, C2, C0, C1, C2, C0, C1, C2, C0, C1, C2, C0},
		{C1, C2, C0, C1, C2, C0, C1, C2, C0, C1, C2, C0, C1, C2, C0, C1},
		{C2, C0, C1, C2, C0, C1, C2, C0, C1, C2, C0, C1, C2, C0, C1, C2}};
#undef C0
#undef C1
#undef C2
	for (int k = 0; k < 3; k++) {
		const __m512i pk = _mm512_loadu_si512(pix[k]);
		const __m512i cc = _mm512_loadu_si512(chan[k]);
		const __m512i idx = _mm512_add_epi32(_mm512_permutexvar_epi32(pk, d), cc);
		const __m512i t = _mm512_maskz_permutex2var_epi8(lo, r0, idx, r1);
		const __m512i b = _mm512_maskz_permutex2var_epi8(lo, r1, idx, r2);
		const __m512i h = _mm512_permutexvar_epi32(pk, hx);
		const __m512i top = _mm512_madd_epi16(t, h), bot = _mm512_madd_epi16(b, h);
		const __m512i sum = _mm512_madd_epi16(_mm512_or_si512(top, _mm512_slli_epi32(bot, 16)),
						      _mm512_permutexvar_epi32(pk, hy));
		const __m512i v = _mm512_srli_epi32(_mm512_add_epi32(sum, half), 2 * GM_QB);
		_mm_storeu_si128((__m128i *)(void *)(out + 16 * k), _mm512_cvtepi32_epi8(v));
	}
	return 1;
}
#endif

static void view_band(view_job *J, int k, int j0, int j1)
{
	const gpu_view *v = J->v;
	int w = v->width, n = w + 1;
	float *c0 = J->buf + (size_t)J->per_part * k, *r0 = c0 + n, *c1 = r0 + n, *r1 = c1 + n;
	int *qx = (int *)(r1 + n), *qy = qx + n, *qwx = qy + n, *qwy = qwx + n;
	uint8_t *need = (uint8_t *)(qwy + n);
	gm_src s = {J->src->data, J->src->stride, J->src->width, J->src->height,
		    J->src->channels};
	const gm_view *g = &J->g;
	float Wf = (float)s.W;
	int bicubic = v->interp == GPU_INTERP_BICUBIC, aa = v->antialias;
#ifdef __SSE2__
	int fast = !bicubic && (s.ch == 3 || s.ch == 4);
	int fast_cubic = bicubic && (s.ch == 3 || s.ch == 4);
#else
	int fast = 0;
#endif
	if (j0 >= j1)
		return;
#ifdef VIEW_HAVE_AVX2
	/* Eight taps at once where the CPU has AVX2 (32-bit gather offsets: sources under
	 * 2 GiB). */
	int fast8 = fast && s.ch == 3 && cpu_has_avx2() &&
		    (size_t)s.H * s.stride < ((size_t)1 << 31) - 64;
	/* Sixteen at once, without gathers, where it has AVX-512 VBMI (tap16_rgb_vbmi). */
	int fast16 = fast && s.ch == 3 && cpu_has_vbmi();
#endif
	memset(need, 0, (size_t)w);
	/* With a depth view and no map to fill, row j's rays go to one of two rows of the part's
	 * own (j & 1), kept until depth row j is cut. */
	float *rays[2] = {NULL, NULL};
	int *dtap = NULL;
	if (J->dsrc && !J->map) {
		rays[0] = c0 + 9 * (size_t)n;
		rays[1] = rays[0] + 3 * (size_t)w;
		dtap = (int *)(rays[1] + 3 * (size_t)w);
	} else if (J->dsrc) {
		dtap = (int *)(c0 + 9 * (size_t)n);
	}
	map_keep kk;
	map_row(g, j0, n, c0, r0, keep_row(g, j0, w, J->map, rays[j0 & 1], &kk));
	for (int j = j0; j < j1; j++) {
		if (aa) {
			/* Row j1 is the next band's first: its map row is that band's to write. */
			map_row(g, j + 1, n, c1, r1,
				j + 1 < j1 ? keep_row(g, j + 1, w, J->map, rays[(j + 1) & 1], &kk)
					   : NULL);
			footprint_row(Wf, w, c0, r0, c1, r1, need);
		}
		if (fast)
			index_row(w, c0, r0, qx, qy, qwx, qwy);
		uint8_t *out = J->dst->data + (size_t)j * J->dst->stride;
		for (int i = 0; i < w; i++, out += s.ch) {
#ifdef VIEW_HAVE_AVX2
			if (fast16 && i + 16 <= w &&
			    tap16_rgb_vbmi(&s, need + i, qx + i, qy + i, qwx + i, qwy + i, out)) {
				i += 15;
				out += 15 * 3;
				continue;
			}
			if (fast8 && i + 8 <= w && inside8(&s, need + i, qx + i, qy + i)) {
				if (!tap8_rgb_window(&s, qx + i, qy + i, qwx + i, qwy + i, out))
					tap8_rgb_avx2(&s, qx + i, qy + i, qwx + i, qwy + i, out);
				i += 7;
				out += 7 * 3;
				continue;
			}
#endif
			if (!need[i]) {
#ifdef __SSE2__
				if (fast && qx[i] >= 0 && qx[i] < s.W - 2 && qy[i] >= 0 &&
				    qy[i] < s.H - 1) {
					tap_q(&s, qx[i], qy[i], qwx[i], qwy[i], out, s.ch == 4 || i + 1 < w);
					continue;
				}
				if (fast_cubic && tap_cubic(&s, c0[i], r0[i], out, s.ch == 4 || i + 1 < w))
					continue;
#endif
				gm_view_pixel(g, &s, bicubic, i, j, c0[i], r0[i], 0.0f, 0.0f, out);
			} else {
				float sx, sy;
				gm_footprint(Wf, c0[i], r0[i], c0[i + 1], r0[i + 1], c1[i], r1[i], &sx,
					     &sy);
#ifdef __SSE2__
				if (fast) {
					pixel_aa_fast(g, &s, i, j, sx, sy, out, s.ch == 4 || i + 1 < w);
					continue;
				}
#endif
				gm_view_pixel(g, &s, bicubic, i, j, c0[i], r0[i], sx, sy, out);
			}
		}
		if (J->dsrc) {
			/* Row j's depth from its rays, still in cache. */
			const map_keep *k = keep_row(g, j, w, J->map, rays[j & 1], &kk);
			gpu_view_depth_row(&J->gd, J->dsrc, k->lon, k->lat, k->norm, w, dtap,
					   (float *)((uint8_t *)J->ddst + (size_t)j * J->dstride));
		}
		if (aa) {
			float *t = c0;
			c0 = c1;
			c1 = t;
			t = r0;
			r0 = r1;
			r1 = t;
		} else if (j + 1 < j1) {
			map_row(g, j + 1, n, c0, r0,
				keep_row(g, j + 1, w, J->map, rays[(j + 1) & 1], &kk));
		}
	}
}

/* Worker k takes bands of rows from a shared counter: the cost per row varies a lot (rows near
 * a pole supersample), so fixed halves would leave one thread idle. */
static void view_part(void *arg, int k)
{
	view_job *J = arg;
	int h = J->v->height;
	for (;;) {
		int b = atomic_fetch_add(&J->next, 1);
		if (b >= J->bands)
			break;
		view_band(J, k, (int)((long long)h * b / J->bands),
			  (int)((long long)h * (b + 1) / J->bands));
	}
}

int gpu_view_ref_run(const gpu_image *src, const gpu_view *v, gpu_image *dst, int threads,
		     svt_err *err)
{
	return gpu_view_ref_run_map(src, v, dst, threads, NULL, err);
}

/* The colour view, with map its rays, with dsrc its depth view into ddst as well. */
static int view_run(const gpu_image *src, const gpu_view *v, gpu_image *dst, int threads,
		    gpu_view_map *map, const gpu_depth *dsrc, float *ddst, size_t dstride,
		    svt_err *err)
{
	int rc = gpu_view_check(src, v, dst, err);
	if (!rc && map)
		rc = gpu_view_map_reserve(v, map, err);
	if (!rc && dsrc)
		rc = gpu_depth_view_check(dsrc, v, ddst, dstride, err);
	if (rc)
		return rc;
	view_job J;
	memset(&J, 0, sizeof(J));
	J.src = src;
	J.v = v;
	J.dst = dst;
	J.map = map;
	if ((J.dsrc = dsrc)) {
		gpu_view_depth_gm(dsrc, &J.gd);
		J.ddst = ddst;
		J.dstride = dstride;
	}
	gpu_view_to_gm(v, src->width, src->height, &J.g);
	J.parts = threads < 1 ? 1 : (threads > v->height ? v->height : threads);
	/* One band per thread when single-threaded; else bands of at least 16 rows. */
	J.bands = J.parts == 1 ? 1 : (v->height / 16 > J.parts * 8 ? J.parts * 8 : J.parts);
	if (J.parts > 1 && v->height / 16 > J.parts && v->height / 16 < J.parts * 8)
		J.bands = v->height / 16;
	atomic_init(&J.next, 0);
	/* 4 map rows, 4 tap-index rows and the flags; with a depth view, 2 rows of rays and
	 * the depth row's taps (8 w). */
	J.per_part = 9 * (size_t)(v->width + 1) + (dsrc ? 8 * (size_t)v->width : 0);
	J.buf = malloc(sizeof(float) * J.per_part * (size_t)J.parts);
	if (!J.buf)
		return svt_err_set(err, SVT_E_NOMEM, "view: no memory for %d row maps", J.parts);
	gpu_parallel(J.parts, view_part, &J);
	free(J.buf);
	return 0;
}

int gpu_view_ref_run_map(const gpu_image *src, const gpu_view *v, gpu_image *dst, int threads,
			 gpu_view_map *map, svt_err *err)
{
	return view_run(src, v, dst, threads, map, NULL, NULL, 0, err);
}

int gpu_view_ref_run_depth(const gpu_image *src, const gpu_view *v, gpu_image *dst, int threads,
			   const gpu_depth *dsrc, float *ddst, size_t dstride, svt_err *err)
{
	return view_run(src, v, dst, threads, NULL, dsrc, ddst, dstride, err);
}

int gpu_view_from_equirect_ref(const gpu_image *src, const gpu_view *v, gpu_image *dst,
			       svt_err *err)
{
	return gpu_view_ref_run(src, v, dst, 1, err);
}

int gpu_view_from_equirect_px(const gpu_image *src, const gpu_view *v, gpu_image *dst,
			      svt_err *err)
{
	int rc = gpu_view_check(src, v, dst, err);
	if (rc)
		return rc;
	gm_view g;
	gpu_view_to_gm(v, src->width, src->height, &g);
	gm_src s = {src->data, src->stride, src->width, src->height, src->channels};
	int bicubic = v->interp == GPU_INTERP_BICUBIC;
	for (int j = 0; j < v->height; j++)
		for (int i = 0; i < v->width; i++)
			gm_view_px(&g, &s, dst->stride, i, j, bicubic, v->antialias, dst->data);
	return SVT_OK;
}

/* ---- Cubemap -------------------------------------------------------------------------------- */

void gpu_cubemap_face_view(int face, int size, gpu_view *v)
{
	static const double yp[GPU_CUBE_FACES][2] = {{90, 0}, {-90, 0}, {0, -90},
						     {0, 90}, {0, 0},   {180, 0}};
	int f = face < 0 || face >= GPU_CUBE_FACES ? 4 : face;
	gpu_view_pinhole(v, size, size, 90.0);
	gpu_view_rotation(yp[f][0], yp[f][1], 0.0, v->R);
}

static int cube_views(const gpu_image *src, int size, gpu_interp interp, int antialias,
		      gpu_image faces[GPU_CUBE_FACES], gpu_view views[GPU_CUBE_FACES], svt_err *err)
{
	if (!faces)
		return svt_err_set(err, SVT_E_INPUT, "cubemap: NULL faces");
	for (int f = 0; f < GPU_CUBE_FACES; f++) {
		gpu_cubemap_face_view(f, size, &views[f]);
		views[f].interp = interp;
		views[f].antialias = antialias;
		int rc = gpu_view_check(src, &views[f], &faces[f], err);
		if (rc)
			return svt_err_prefix(err, "cubemap face %d", f);
	}
	return 0;
}

int gpu_cubemap_from_equirect_ref(const gpu_image *src, int size, gpu_interp interp,
				  int antialias, gpu_image faces[GPU_CUBE_FACES], svt_err *err)
{
	gpu_view views[GPU_CUBE_FACES];
	int rc = cube_views(src, size, interp, antialias, faces, views, err);
	for (int f = 0; !rc && f < GPU_CUBE_FACES; f++)
		rc = gpu_view_ref_run(src, &views[f], &faces[f], 1, err);
	return rc;
}

int gpu_cubemap_from_equirect(gpu_ctx *ctx, const gpu_image *src, int size, gpu_interp interp,
			      int antialias, gpu_image faces[GPU_CUBE_FACES], svt_err *err)
{
	gpu_view views[GPU_CUBE_FACES];
	int rc = cube_views(src, size, interp, antialias, faces, views, err);
	if (rc)
		return rc;
#ifdef SVT_HAVE_CUDA
	if (ctx && ctx->cu) {
		rc = gpu_cuda_views_from_equirect(ctx->cu, src, views, GPU_CUBE_FACES, faces, err);
		if (!gpu_ctx_fallback(ctx, rc, "cubemap", err))
			return rc;
	}
#endif
	for (int f = 0; !rc && f < GPU_CUBE_FACES; f++)
		rc = gpu_view_ref_run(src, &views[f], &faces[f], ctx ? ctx->cpu_threads : 1, err);
	return rc;
}
