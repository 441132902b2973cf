/* view_map.c: a view's ray map built once per view (gpu.h, "View maps") and the depth view
 * read through it. The depth view otherwise evaluates two scalar atan2 per output pixel for
 * a map the colour view of the same frame has just computed: the projection is the same, only
 * the source size (the kc/oc/kr/orow scaling) differs, and that scaling is applied here at
 * lookup time with the same float operations as gm_view_map, so the result is bit-identical.
 * One row of it (gpu_view_depth_row) is also what the colour view calls as it makes each row's
 * rays, when it cuts both views in one pass (gpu_view_from_equirect_depth).
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gpu/gm_simd.h"
#include "gpu/gpu_internal.h"

#if defined(__x86_64__) && defined(__GNUC__)
#define VIEW_MAP_AVX2 1
/* The same eight lanes at a time on CPUs with AVX2 (checked at run time); no FMA, so the
 * bits are those of the SSE2 and scalar code. */

/* Pixels [0, n8) of a row (n8 a multiple of 8); bx..bz and y2 as in map_row. */
__attribute__((target("avx2"))) static void map_row_avx2(const gm_view *g, float bx, float by,
							 float bz, float y2, int n8, float *lon,
							 float *lat, float *norm)
{
	const __m256 vbx = _mm256_set1_ps(bx), vby = _mm256_set1_ps(by), vbz = _mm256_set1_ps(bz);
	const __m256 r0 = _mm256_set1_ps(g->R[0]), r3 = _mm256_set1_ps(g->R[3]);
	const __m256 r6 = _mm256_set1_ps(g->R[6]), cx = _mm256_set1_ps(g->cx);
	const __m256 ifx = _mm256_set1_ps(g->ifx), vy2 = _mm256_set1_ps(y2);
	const __m256 one = _mm256_set1_ps(1.0f), sign = _mm256_set1_ps(-0.0f);
	const __m256 eight = _mm256_set1_ps(8.0f);
	__m256 u = _mm256_setr_ps(0.5f, 1.5f, 2.5f, 3.5f, 4.5f, 5.5f, 6.5f, 7.5f);
	for (int i = 0; i < n8; i += 8, u = _mm256_add_ps(u, eight)) {
		__m256 x = _mm256_mul_ps(_mm256_sub_ps(u, cx), ifx);
		__m256 dx = _mm256_add_ps(_mm256_mul_ps(r0, x), vbx);
		__m256 dy = _mm256_add_ps(_mm256_mul_ps(r3, x), vby);
		__m256 dz = _mm256_add_ps(_mm256_mul_ps(r6, x), vbz);
		__m256 h = _mm256_sqrt_ps(_mm256_add_ps(_mm256_mul_ps(dx, dx), _mm256_mul_ps(dz, dz)));
		_mm256_storeu_ps(lon + i, atan2_8(dx, dz));
		_mm256_storeu_ps(lat + i, atan2_8(_mm256_xor_ps(dy, sign), h));
		_mm256_storeu_ps(norm + i, _mm256_sqrt_ps(_mm256_add_ps(
						   _mm256_add_ps(_mm256_mul_ps(x, x), vy2), one)));
	}
}
#endif

/* One row j of the map: lon, lat and norm of pixels [0, n). */
static void map_row(const gm_view *g, int j, int n, float *lon, float *lat, float *norm)
{
	float v = (float)j + 0.5f, bx, by, bz;
	gm_view_rowbase(g, v, &bx, &by, &bz);
	float y = GM_MUL(v - g->cy, g->ify);
	float y2 = GM_MUL(y, y);
	int i = 0;
#ifdef VIEW_MAP_AVX2
	if (__builtin_cpu_supports("avx2")) {
		i = n & ~7;
		map_row_avx2(g, bx, by, bz, y2, i, lon, lat, norm);
	}
#endif
#ifdef __SSE2__
	const __m128 vbx = _mm_set1_ps(bx), vby = _mm_set1_ps(by), vbz = _mm_set1_ps(bz);
	const __m128 r0 = _mm_set1_ps(g->R[0]), r3 = _mm_set1_ps(g->R[3]);
	const __m128 r6 = _mm_set1_ps(g->R[6]), cx = _mm_set1_ps(g->cx);
	const __m128 ifx = _mm_set1_ps(g->ifx), vy2 = _mm_set1_ps(y2), one = _mm_set1_ps(1.0f);
	const __m128 sign = _mm_set1_ps(-0.0f), four = _mm_set1_ps(4.0f);
	__m128 u = _mm_add_ps(_mm_setr_ps(0.5f, 1.5f, 2.5f, 3.5f), _mm_set1_ps((float)i));
	for (; i + 4 <= n; i += 4, u = _mm_add_ps(u, four)) {
		__m128 x = _mm_mul_ps(_mm_sub_ps(u, cx), ifx);
		__m128 dx = _mm_add_ps(_mm_mul_ps(r0, x), vbx);
		__m128 dy = _mm_add_ps(_mm_mul_ps(r3, x), vby);
		__m128 dz = _mm_add_ps(_mm_mul_ps(r6, x), vbz);
		__m128 h = _mm_sqrt_ps(_mm_add_ps(_mm_mul_ps(dx, dx), _mm_mul_ps(dz, dz)));
		_mm_storeu_ps(lon + i, atan2_ps(dx, dz));
		_mm_storeu_ps(lat + i, atan2_ps(_mm_xor_ps(dy, sign), h));
		/* (x^2 + y^2) + 1, the order of gm_depth_view_pixel */
		_mm_storeu_ps(norm + i, _mm_sqrt_ps(_mm_add_ps(_mm_add_ps(_mm_mul_ps(x, x), vy2), one)));
	}
#endif
	for (; i < n; i++) {
		float u = (float)i + 0.5f;
		float x = (u - g->cx) * g->ifx;
		float dx = GM_ADD(GM_MUL(g->R[0], x), bx);
		float dy = GM_ADD(GM_MUL(g->R[3], x), by);
		float dz = GM_ADD(GM_MUL(g->R[6], x), bz);
		float h = sqrtf(GM_ADD(GM_MUL(dx, dx), GM_MUL(dz, dz)));
		lon[i] = gm_atan2f(dx, dz);
		lat[i] = gm_atan2f(-dy, h);
		norm[i] = sqrtf(GM_ADD(GM_ADD(GM_MUL(x, x), y2), 1.0f));
	}
}

int gpu_view_map_reserve(const gpu_view *v, gpu_view_map *m, svt_err *err)
{
	if (!v || !m)
		return svt_err_set(err, SVT_E_INPUT, "view map: NULL argument");
	if (v->width < 1 || v->height < 1 || v->width > (1 << 16) || v->height > (1 << 16) ||
	    !(v->fx > 0) || !(v->fy > 0))
		return svt_err_set(err, SVT_E_INPUT, "view map: bad view %dx%d", v->width,
				   v->height);
	size_t px = (size_t)v->width * (size_t)v->height;
	if (px > m->cap) {
		gpu_view_map_free(m);
		m->lon = malloc(px * sizeof(float));
		m->lat = malloc(px * sizeof(float));
		m->norm = malloc(px * sizeof(float));
		if (!m->lon || !m->lat || !m->norm) {
			gpu_view_map_free(m);
			return svt_err_set(err, SVT_E_NOMEM, "view map: no memory for %zu pixels", px);
		}
		m->cap = px;
	}
	m->width = v->width;
	m->height = v->height;
	return SVT_OK;
}

int gpu_view_map_build(const gpu_view *v, gpu_view_map *m, svt_err *err)
{
	int rc = gpu_view_map_reserve(v, m, err);
	if (rc)
		return rc;
	/* The source size only scales the map (kc, oc, kr, orow): any size gives the same rays. */
	gm_view g;
	gpu_view_to_gm(v, 2, 1, &g);
	for (int j = 0; j < v->height; j++) {
		size_t o = (size_t)j * (size_t)v->width;
		map_row(&g, j, v->width, m->lon + o, m->lat + o, m->norm + o);
	}
	return SVT_OK;
}

void gpu_view_map_free(gpu_view_map *m)
{
	if (!m)
		return;
	free(m->lon);
	free(m->lat);
	free(m->norm);
	memset(m, 0, sizeof(*m));
}

#ifdef VIEW_MAP_AVX2
/* Pixels [0, n8) of a row from 16-bit depth (n8 a multiple of 8), eight at a time: the nearest
 * taps from the rays, wrapped as gm_wrap_tap does, the samples gathered, and the same float
 * operations as the scalar loop (a multiply, the range tests, one division), so the same bits.
 * A group whose columns fall outside [-W, 2W) (never, from atan2's range; kept for safety) is
 * left to the scalar loop: the index returned is the first pixel not written. Each sample is read as the 32 bits
 * ending at it (or, in column 0, starting at it), so no read leaves the image. */
__attribute__((target("avx2"))) static int depth_row_u16_avx2(const gpu_depth *src,
								  const gm_view *gv,
								  const float *lon,
								  const float *lat,
								  const float *norm, int n8,
								  float scale, float min_m,
								  float max_m, float *row)
{
	const int W = src->width, H = src->height;
	const __m256i vW = _mm256_set1_epi32(W), vH = _mm256_set1_epi32(H);
	const __m256i half = _mm256_set1_epi32(W / 2), zero = _mm256_setzero_si256();
	const __m256i mone = _mm256_set1_epi32(-1), twoH1 = _mm256_set1_epi32(2 * H - 1);
	const __m256i lo16 = _mm256_set1_epi32(0xffff), stride = _mm256_set1_epi32((int)src->stride);
	const __m256 vs = _mm256_set1_ps(scale), vmin = _mm256_set1_ps(min_m);
	const __m256 vmax = _mm256_set1_ps(max_m), fz = _mm256_setzero_ps();
	const __m256 kc = _mm256_set1_ps(gv->kc), oc = _mm256_set1_ps(gv->oc);
	const __m256 kr = _mm256_set1_ps(gv->kr), orow = _mm256_set1_ps(gv->orow);
	const __m256 fhalf = _mm256_set1_ps(0.5f);
	const int *base = (const int *)(const void *)src->data;
	int i = 0;
	for (; i < n8; i += 8) {
		/* The nearest sample, floor(col + 0.5) and floor(row + 0.5), computed here as the
		 * scalar loop does (a multiply, an add; floor is exact): no tap array. */
		__m256 cf = _mm256_add_ps(_mm256_add_ps(_mm256_mul_ps(_mm256_loadu_ps(lon + i), kc), oc), fhalf);
		__m256 rf = _mm256_add_ps(_mm256_sub_ps(orow, _mm256_mul_ps(_mm256_loadu_ps(lat + i), kr)), fhalf);
		__m256i x = _mm256_cvttps_epi32(_mm256_floor_ps(cf));
		__m256i y = _mm256_cvttps_epi32(_mm256_floor_ps(rf));
		__m256i top = _mm256_cmpgt_epi32(zero, y);                 /* y < 0 */
		__m256i bot = _mm256_cmpgt_epi32(y, _mm256_sub_epi32(vH, _mm256_set1_epi32(1)));
		y = _mm256_blendv_epi8(y, _mm256_sub_epi32(mone, y), top);
		y = _mm256_blendv_epi8(y, _mm256_sub_epi32(twoH1, y), bot);
		x = _mm256_add_epi32(x, _mm256_and_si256(half, _mm256_or_si256(top, bot)));
		/* x % W for x in [-W, 2W) */
		__m256i out = _mm256_or_si256(_mm256_cmpgt_epi32(_mm256_sub_epi32(zero, vW), x),
					      _mm256_cmpgt_epi32(x, _mm256_sub_epi32(
							     _mm256_add_epi32(vW, vW), _mm256_set1_epi32(1))));
		/* y must end in [0, H) too (|y| < H before the wrap) */
		out = _mm256_or_si256(out, _mm256_or_si256(_mm256_cmpgt_epi32(zero, y),
							   _mm256_cmpgt_epi32(y, _mm256_sub_epi32(vH, _mm256_set1_epi32(1)))));
		if (!_mm256_testz_si256(out, out))
			break;
		x = _mm256_add_epi32(x, _mm256_and_si256(vW, _mm256_cmpgt_epi32(zero, x)));
		x = _mm256_sub_epi32(x, _mm256_andnot_si256(_mm256_cmpgt_epi32(vW, x), vW));
		__m256i pos = _mm256_cmpgt_epi32(x, zero);                 /* x > 0 */
		__m256i off = _mm256_add_epi32(_mm256_mullo_epi32(y, stride), _mm256_add_epi32(x, x));
		off = _mm256_add_epi32(off, _mm256_and_si256(pos, _mm256_set1_epi32(-2)));
		__m256i g = _mm256_i32gather_epi32(base, off, 1);
		g = _mm256_srlv_epi32(g, _mm256_and_si256(pos, _mm256_set1_epi32(16)));
		g = _mm256_and_si256(g, lo16);
		__m256 range = _mm256_mul_ps(_mm256_cvtepi32_ps(g), vs);
		__m256 ok = _mm256_and_ps(_mm256_and_ps(_mm256_cmp_ps(range, vmin, _CMP_GE_OQ),
							_mm256_cmp_ps(range, vmax, _CMP_LE_OQ)),
					  _mm256_cmp_ps(range, fz, _CMP_GT_OQ));
		__m256 d = _mm256_div_ps(range, _mm256_loadu_ps(norm + i));
		_mm256_storeu_ps(row + i, _mm256_and_ps(ok, d));
	}
	return i;
}
#endif

void gpu_view_depth_gm(const gpu_depth *src, gm_view *g)
{
	/* The same scaling constants as gpu_view_to_gm at the source's size. */
	gpu_view v0;
	gpu_view_pinhole(&v0, 2, 2, 90.0);
	gpu_view_to_gm(&v0, src->width, src->height, g);
}

void gpu_view_depth_row(const gm_view *g, const gpu_depth *src, const float *lon,
			const float *lat, const float *norm, int w, int *tap, float *row)
{
	const float scale = (float)src->scale, min_m = (float)src->min_m, max_m = (float)src->max_m;
	const uint8_t *base = src->data;
	int i = 0;
#ifdef VIEW_MAP_AVX2
	/* 16-bit depth (the captures' PNGs), little-endian like this CPU */
	if (!src->is_float && src->width >= 2 && __builtin_cpu_supports("avx2") &&
	    gpu_view_simd() >= 1 && src->stride * (size_t)src->height < ((size_t)1 << 31))
		i = depth_row_u16_avx2(src, g, lon, lat, norm, w & ~7, scale, min_m, max_m, row);
#endif
	/* The rest: the nearest source sample of each pixel, floor(col + 0.5), floor(row + 0.5),
	 * then the scalar loop. */
	const int i0 = i;
#ifdef __SSE2__
	const __m128 kc = _mm_set1_ps(g->kc), oc = _mm_set1_ps(g->oc), kr = _mm_set1_ps(g->kr);
	const __m128 orow = _mm_set1_ps(g->orow), half = _mm_set1_ps(0.5f);
	for (; i + 4 <= w; i += 4) {
		__m128 c = _mm_add_ps(_mm_add_ps(_mm_mul_ps(_mm_loadu_ps(lon + i), kc), oc), half);
		__m128 r = _mm_add_ps(_mm_sub_ps(orow, _mm_mul_ps(_mm_loadu_ps(lat + i), kr)), half);
		/* floor: truncate, then one less where truncation went up (negative values) */
		__m128i ci = _mm_cvttps_epi32(c), ri = _mm_cvttps_epi32(r);
		ci = _mm_add_epi32(ci, _mm_castps_si128(_mm_cmpgt_ps(_mm_cvtepi32_ps(ci), c)));
		ri = _mm_add_epi32(ri, _mm_castps_si128(_mm_cmpgt_ps(_mm_cvtepi32_ps(ri), r)));
		_mm_storeu_si128((__m128i *)(void *)(tap + 2 * i), _mm_unpacklo_epi32(ci, ri));
		_mm_storeu_si128((__m128i *)(void *)(tap + 2 * i + 4), _mm_unpackhi_epi32(ci, ri));
	}
#endif
	for (; i < w; i++) {
		float c = GM_ADD(GM_MUL(lon[i], g->kc), g->oc);
		float r = GM_SUB(g->orow, GM_MUL(lat[i], g->kr));
		tap[2 * i] = (int)floorf(c + 0.5f);
		tap[2 * i + 1] = (int)floorf(r + 0.5f);
	}
	for (i = i0; i < w; i++) {
		int x, y;
		gm_wrap_tap(tap[2 * i], tap[2 * i + 1], src->width, src->height, &x, &y);
		const uint8_t *p = base + (size_t)y * src->stride;
		float range;
		if (src->is_float) {
			float f;
			memcpy(&f, p + 4 * (size_t)x, 4);
			range = GM_MUL(f, scale);
		} else {
			unsigned short q;
			memcpy(&q, p + 2 * (size_t)x, 2);
			if (q == 0) {
				row[i] = 0.0f;
				continue;
			}
			range = GM_MUL((float)q, scale);
		}
		row[i] = (!(range >= min_m && range <= max_m) || !(range > 0.0f)) ? 0.0f
										  : range / norm[i];
	}
}

int gpu_view_depth_from_map(const gpu_view_map *m, const gpu_depth *src, float *dst,
			    size_t dst_stride, svt_err *err)
{
	if (!m || !m->lon || !dst)
		return svt_err_set(err, SVT_E_INPUT, "depth view: NULL argument");
	int rc = gpu_depth_src_check(src, err);
	if (rc)
		return rc;
	if (dst_stride < (size_t)m->width * sizeof(float))
		return svt_err_set(err, SVT_E_INPUT, "depth view: output stride %zu too small",
				   dst_stride);
	gm_view g;
	gpu_view_depth_gm(src, &g);
	int *tap = malloc(2 * (size_t)m->width * sizeof(int));
	if (!tap)
		return svt_err_set(err, SVT_E_NOMEM, "depth view: no memory for a row");
	for (int j = 0; j < m->height; j++) {
		size_t o = (size_t)j * (size_t)m->width;
		gpu_view_depth_row(&g, src, m->lon + o, m->lat + o, m->norm + o, m->width, tap,
				   (float *)((uint8_t *)dst + (size_t)j * dst_stride));
	}
	free(tap);
	return SVT_OK;
}
