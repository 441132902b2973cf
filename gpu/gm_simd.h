/* gm_simd.h (private to gpu/): gm_atan2f (gpu_math.h) four lanes at a time (SSE2), eight
 * (AVX2) and sixteen (AVX-512F; both for functions compiled with that target after a run-time
 * check), shared by the colour view (view.c) and the view maps (view_map.c). The same IEEE
 * single operations in the same order as the scalar code, with no FMA, so every lane gives
 * the scalar result's bits: one body per lane width, side by side. */
#ifndef SVT_GPU_GM_SIMD_H
#define SVT_GPU_GM_SIMD_H

#include "gpu/gpu_math.h"

#ifdef __SSE2__
#include <emmintrin.h>

static inline __m128 sel(__m128 m, __m128 a, __m128 b)
{
	return _mm_or_ps(_mm_and_ps(m, a), _mm_andnot_ps(m, b));
}

static inline __m128 atan2_ps(__m128 y, __m128 x)
{
	const __m128 sign = _mm_set1_ps(-0.0f), zero = _mm_setzero_ps();
	__m128 ax = _mm_andnot_ps(sign, x), ay = _mm_andnot_ps(sign, y);
	__m128 mx = _mm_max_ps(ax, ay), mn = _mm_min_ps(ax, ay);
	__m128 a = sel(_mm_cmpgt_ps(mx, zero), _mm_div_ps(mn, mx), zero);
	__m128 s = _mm_mul_ps(a, a);
	__m128 p = _mm_set1_ps(0.006811808794736862f);
	p = _mm_sub_ps(_mm_mul_ps(p, s), _mm_set1_ps(0.03360426053404808f));
	p = _mm_add_ps(_mm_mul_ps(p, s), _mm_set1_ps(0.07962370663881302f));
	p = _mm_sub_ps(_mm_mul_ps(p, s), _mm_set1_ps(0.1323334276676178f));
	p = _mm_add_ps(_mm_mul_ps(p, s), _mm_set1_ps(0.19807815551757812f));
	p = _mm_sub_ps(_mm_mul_ps(p, s), _mm_set1_ps(0.3331736922264099f));
	p = _mm_add_ps(_mm_mul_ps(p, s), _mm_set1_ps(0.9999961256980896f));
	__m128 r = _mm_mul_ps(p, a);
	r = sel(_mm_cmpgt_ps(ay, ax), _mm_sub_ps(_mm_set1_ps(GM_HALF_PI_F), r), r);
	r = sel(_mm_cmplt_ps(x, zero), _mm_sub_ps(_mm_set1_ps(GM_PI_F), r), r);
	return sel(_mm_cmplt_ps(y, zero), _mm_xor_ps(r, sign), r);
}
#endif

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

__attribute__((target("avx2"))) static inline __m256 sel8(__m256 m, __m256 a, __m256 b)
{
	return _mm256_blendv_ps(b, a, m);
}

__attribute__((target("avx2"))) static inline __m256 atan2_8(__m256 y, __m256 x)
{
	const __m256 sign = _mm256_set1_ps(-0.0f), zero = _mm256_setzero_ps();
	__m256 ax = _mm256_andnot_ps(sign, x), ay = _mm256_andnot_ps(sign, y);
	__m256 mx = _mm256_max_ps(ax, ay), mn = _mm256_min_ps(ax, ay);
	__m256 a = sel8(_mm256_cmp_ps(mx, zero, _CMP_GT_OQ), _mm256_div_ps(mn, mx), zero);
	__m256 s = _mm256_mul_ps(a, a);
	__m256 p = _mm256_set1_ps(0.006811808794736862f);
	p = _mm256_sub_ps(_mm256_mul_ps(p, s), _mm256_set1_ps(0.03360426053404808f));
	p = _mm256_add_ps(_mm256_mul_ps(p, s), _mm256_set1_ps(0.07962370663881302f));
	p = _mm256_sub_ps(_mm256_mul_ps(p, s), _mm256_set1_ps(0.1323334276676178f));
	p = _mm256_add_ps(_mm256_mul_ps(p, s), _mm256_set1_ps(0.19807815551757812f));
	p = _mm256_sub_ps(_mm256_mul_ps(p, s), _mm256_set1_ps(0.3331736922264099f));
	p = _mm256_add_ps(_mm256_mul_ps(p, s), _mm256_set1_ps(0.9999961256980896f));
	__m256 r = _mm256_mul_ps(p, a);
	r = sel8(_mm256_cmp_ps(ay, ax, _CMP_GT_OQ), _mm256_sub_ps(_mm256_set1_ps(GM_HALF_PI_F), r), r);
	r = sel8(_mm256_cmp_ps(x, zero, _CMP_LT_OQ), _mm256_sub_ps(_mm256_set1_ps(GM_PI_F), r), r);
	return sel8(_mm256_cmp_ps(y, zero, _CMP_LT_OQ), _mm256_xor_ps(r, sign), r);
}

__attribute__((target("avx512f"))) static inline __m512 sel16(__mmask16 m, __m512 a, __m512 b)
{
	return _mm512_mask_blend_ps(m, b, a);
}

/* -v as the scalar code's unary minus: the sign bit flipped (0 - v would make -0 of +0). */
__attribute__((target("avx512f"))) static inline __m512 neg16(__m512 v)
{
	return _mm512_castsi512_ps(
		_mm512_xor_si512(_mm512_castps_si512(v), _mm512_set1_epi32((int)0x80000000u)));
}

/* atan2_8 sixteen lanes at a time: the same operations in the same order. */
__attribute__((target("avx512f"))) static inline __m512 atan2_16(__m512 y, __m512 x)
{
	const __m512 zero = _mm512_setzero_ps();
	__m512 ax = _mm512_abs_ps(x), ay = _mm512_abs_ps(y);
	__m512 mx = _mm512_max_ps(ax, ay), mn = _mm512_min_ps(ax, ay);
	__m512 a = _mm512_maskz_div_ps(_mm512_cmp_ps_mask(mx, zero, _CMP_GT_OQ), mn, mx);
	__m512 s = _mm512_mul_ps(a, a);
	__m512 p = _mm512_set1_ps(0.006811808794736862f);
	p = _mm512_sub_ps(_mm512_mul_ps(p, s), _mm512_set1_ps(0.03360426053404808f));
	p = _mm512_add_ps(_mm512_mul_ps(p, s), _mm512_set1_ps(0.07962370663881302f));
	p = _mm512_sub_ps(_mm512_mul_ps(p, s), _mm512_set1_ps(0.1323334276676178f));
	p = _mm512_add_ps(_mm512_mul_ps(p, s), _mm512_set1_ps(0.19807815551757812f));
	p = _mm512_sub_ps(_mm512_mul_ps(p, s), _mm512_set1_ps(0.3331736922264099f));
	p = _mm512_add_ps(_mm512_mul_ps(p, s), _mm512_set1_ps(0.9999961256980896f));
	__m512 r = _mm512_mul_ps(p, a);
	r = sel16(_mm512_cmp_ps_mask(ay, ax, _CMP_GT_OQ),
		  _mm512_sub_ps(_mm512_set1_ps(GM_HALF_PI_F), r), r);
	r = sel16(_mm512_cmp_ps_mask(x, zero, _CMP_LT_OQ), _mm512_sub_ps(_mm512_set1_ps(GM_PI_F), r),
		  r);
	return sel16(_mm512_cmp_ps_mask(y, zero, _CMP_LT_OQ), neg16(r), r);
}
#endif

#endif
