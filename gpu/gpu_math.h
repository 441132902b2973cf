/* gpu_math.h (private to gpu/): the per-pixel math shared by the C references and the CUDA
 * kernels, so both paths evaluate the same float operations in the same order. Only the
 * compiler's FMA contraction (on by default in nvcc, absent on x86-64 without -mfma) can make
 * them differ, by an ulp or so; the parity tests declare their tolerance for that.
 *
 * Plain C11 when compiled by a C compiler; __host__ __device__ under nvcc.
 */
#ifndef SVT_GPU_MATH_H
#define SVT_GPU_MATH_H

#ifdef __CUDACC__
#define GM_FN static __host__ __device__ __forceinline__
#else
#define GM_FN static inline
#endif

/* Float multiply/add/subtract that the device compiler may not contract into an FMA (nvcc
 * fuses a*b+c by default; the host build never does: the Makefile passes -ffp-contract=off and
 * baseline x86-64 has no FMA). Used wherever a rounding difference could move a tap or a
 * fixed-point weight, so the kernels compute the same map bit for bit as the references. */
#if defined(__CUDA_ARCH__)
#define GM_MUL(a, b) __fmul_rn((a), (b))
#define GM_ADD(a, b) __fadd_rn((a), (b))
#define GM_SUB(a, b) __fsub_rn((a), (b))
#define GM_DMUL(a, b) __dmul_rn((a), (b))
#define GM_DADD(a, b) __dadd_rn((a), (b))
#else
#define GM_DMUL(a, b) ((a) * (b))
#define GM_DADD(a, b) ((a) + (b))
#define GM_MUL(a, b) ((a) * (b))
#define GM_ADD(a, b) ((a) + (b))
#define GM_SUB(a, b) ((a) - (b))
#endif

/* Parity between the C paths and the kernels is exact only under IEEE semantics: fast-math
 * (gcc/clang -ffast-math, nvcc --use_fast_math) reorders, flushes denormals and approximates
 * division, so it is refused at compile time rather than found as a failed parity test. */
#if defined(__FAST_MATH__) || defined(__USE_FAST_MATH__)
#error "svtwin's gpu/ must not be built with fast-math (-ffast-math / --use_fast_math)"
#endif

#include <math.h>
#include <stddef.h>
#include <string.h>

#define GM_PI_F 3.14159265358979323846f
#define GM_HALF_PI_F 1.57079632679489661923f

/* Output pixels whose footprint in the source exceeds this many source pixels (along either
 * output axis) are supersampled with ceil(footprint / GM_AA_STEP) samples along that axis, so
 * that sub-samples are never more than GM_AA_STEP source pixels apart. Below it one bilinear
 * tap already spans the gap between neighbouring output samples. */
#define GM_AA_STEP 1.25f
/* At most this many sub-samples per axis (footprints beyond 10 source px, only next to the
 * poles or for thumbnails of huge panoramas, are box-filtered with 8 x 8 samples). */
#define GM_AA_MAX 8

GM_FN float gm_minf(float a, float b) { return a < b ? a : b; }
GM_FN float gm_maxf(float a, float b) { return a > b ? a : b; }
GM_FN float gm_absf(float a) { return a < 0.0f ? -a : a; }

/* atan2 in float, max abs error 3.3e-7 rad (a degree-13 odd minimax polynomial on [0, 1] plus
 * octant reduction): 1e-3 px even on a 16384-px-wide panorama, and several times faster than
 * libm's atan2f because it never branches on special cases we cannot meet (x = y = 0 gives
 * 0). */
GM_FN float gm_atan2f(float y, float x)
{
	float ax = gm_absf(x), ay = gm_absf(y);
	float mx = gm_maxf(ax, ay), mn = gm_minf(ax, ay);
	float a = mx > 0.0f ? mn / mx : 0.0f;
	float s = a * a;
	float p = 0.006811808794736862f;
	p = GM_SUB(GM_MUL(p, s), 0.03360426053404808f);
	p = GM_ADD(GM_MUL(p, s), 0.07962370663881302f);
	p = GM_SUB(GM_MUL(p, s), 0.1323334276676178f);
	p = GM_ADD(GM_MUL(p, s), 0.19807815551757812f);
	p = GM_SUB(GM_MUL(p, s), 0.3331736922264099f);
	p = GM_ADD(GM_MUL(p, s), 0.9999961256980896f);
	float r = GM_MUL(p, a);
	r = ay > ax ? GM_HALF_PI_F - r : r;
	r = x < 0.0f ? GM_PI_F - r : r;
	return y < 0.0f ? -r : r;
}

/* A view reduced to what the per-pixel map needs, in float. */
typedef struct gm_view {
	float R[9];          /* view camera -> panorama frame, row-major */
	float ifx, ify, cx, cy;
	float kc, oc;        /* col = lon * kc + oc */
	float kr, orow;      /* row = orow - lat * kr */
	int W, H;            /* source size */
} gm_view;

/* Source position (col, row) of the output point (u, v) (pixel centre of (i, j) is
 * (i + 0.5, j + 0.5)). bx/by/bz are the per-row part R[:,1] y + R[:,2], computed once per row
 * by gm_view_rowbase so the C loop and the CUDA thread evaluate the same expression. */
GM_FN void gm_view_rowbase(const gm_view *g, float v, float *bx, float *by, float *bz)
{
	float y = (v - g->cy) * g->ify;
	*bx = GM_ADD(GM_MUL(g->R[1], y), g->R[2]);
	*by = GM_ADD(GM_MUL(g->R[4], y), g->R[5]);
	*bz = GM_ADD(GM_MUL(g->R[7], y), g->R[8]);
}

GM_FN void gm_view_map(const gm_view *g, float u, float bx, float by, float bz, float *col,
		       float *row)
{
	float x = (u - g->cx) * g->ifx;
	float dx = GM_ADD(GM_MUL(g->R[0], x), bx);
	float dy = GM_ADD(GM_MUL(g->R[3], x), by);
	float dz = GM_ADD(GM_MUL(g->R[6], x), bz);
	float h = sqrtf(GM_ADD(GM_MUL(dx, dx), GM_MUL(dz, dz)));
	*col = GM_ADD(GM_MUL(gm_atan2f(dx, dz), g->kc), g->oc);
	*row = GM_SUB(g->orow, GM_MUL(gm_atan2f(-dy, h), g->kr));
}

/* A column difference taken the short way round the seam. */
GM_FN float gm_wrapdiff(float d, float W)
{
	if (d > 0.5f * W)
		d -= W;
	else if (d < -0.5f * W)
		d += W;
	return d;
}

/* Sub-samples per axis for a footprint of s source pixels (1 when no antialiasing is due). */
GM_FN int gm_aa_count(float s)
{
	if (!(s > GM_AA_STEP))
		return 1;
	float n = ceilf(s / GM_AA_STEP);
	return n >= (float)GM_AA_MAX ? GM_AA_MAX : (int)n;
}

/* Catmull-Rom (Keys a = -0.5) weights for fractional offset t in [0, 1). */
GM_FN void gm_cubic_weights(float t, float w[4])
{
	float t2 = t * t, t3 = t2 * t;
	w[0] = -0.5f * t3 + t2 - 0.5f * t;
	w[1] = 1.5f * t3 - 2.5f * t2 + 1.0f;
	w[2] = -1.5f * t3 + 2.0f * t2 + 0.5f * t;
	w[3] = 0.5f * t3 - 0.5f * t2;
}

/* Wraps a source tap (x, y), possibly outside the image, onto the sphere: columns modulo W;
 * a row above the top (y < 0) is row -1 - y seen from the other side of the pole, i.e. column
 * + W/2 (and likewise below the bottom). Valid for |y| < H. */
GM_FN void gm_wrap_tap(int x, int y, int W, int H, int *ox, int *oy)
{
	if (y < 0) {
		y = -1 - y;
		x += W / 2;
	} else if (y >= H) {
		y = 2 * H - 1 - y;
		x += W / 2;
	}
	x %= W;
	if (x < 0)
		x += W;
	*ox = x;
	*oy = y;
}

/* A source image as the samplers see it (both paths: host memory on the C path, device memory
 * in the kernels). */
typedef struct gm_src {
	const unsigned char *data;
	size_t stride;
	int W, H, ch;
} gm_src;

/* Bilinear weights are 7-bit fixed point (position resolution 1/128 px, at most 1/256 px off;
 * the map itself stays float). Integer arithmetic makes the C reference (scalar or SSE2) and
 * the CUDA kernel agree exactly once they agree on (ix, iy, wx, wy). The floor is computed as
 * (int)(c + 1) - 1, valid for c > -1, which every map position satisfies (col, row >= -0.5). */
#define GM_QB 7
#define GM_Q (1 << GM_QB)
GM_FN void gm_bilinear_q(float c, float r, int *ix, int *iy, int *wx, int *wy)
{
	int x = (int)(c + 1.0f) - 1, y = (int)(r + 1.0f) - 1;
	*ix = x;
	*iy = y;
	*wx = (int)GM_ADD(GM_MUL(c - (float)x, (float)GM_Q), 0.5f);
	*wy = (int)GM_ADD(GM_MUL(r - (float)y, (float)GM_Q), 0.5f);
}

/* Bilinear sample at source position (c, r) (pixel centres at integers), wrapped over seam and
 * poles, added into acc[0..ch) in units of 1/GM_Q^2. */
GM_FN void gm_sample_bilinear(const gm_src *s, float c, float r, unsigned *acc)
{
	int ix, iy, wx, wy;
	gm_bilinear_q(c, r, &ix, &iy, &wx, &wy);
	const unsigned char *p00, *p01, *p10, *p11;
	if (ix >= 0 && ix < s->W - 1 && iy >= 0 && iy < s->H - 1) {
		p00 = s->data + (size_t)iy * s->stride + (size_t)ix * s->ch;
		p01 = p00 + s->ch;
		p10 = p00 + s->stride;
		p11 = p10 + s->ch;
	} else {
		int x, y;
		gm_wrap_tap(ix, iy, s->W, s->H, &x, &y);
		p00 = s->data + (size_t)y * s->stride + (size_t)x * s->ch;
		gm_wrap_tap(ix + 1, iy, s->W, s->H, &x, &y);
		p01 = s->data + (size_t)y * s->stride + (size_t)x * s->ch;
		gm_wrap_tap(ix, iy + 1, s->W, s->H, &x, &y);
		p10 = s->data + (size_t)y * s->stride + (size_t)x * s->ch;
		gm_wrap_tap(ix + 1, iy + 1, s->W, s->H, &x, &y);
		p11 = s->data + (size_t)y * s->stride + (size_t)x * s->ch;
	}
	/* Constant trip counts keep acc in registers on the device. */
	for (int k = 0; k < 4; k++) {
		if (k >= s->ch)
			break;
		unsigned top = (unsigned)p00[k] * (unsigned)(GM_Q - wx) + (unsigned)p01[k] * (unsigned)wx;
		unsigned bot = (unsigned)p10[k] * (unsigned)(GM_Q - wx) + (unsigned)p11[k] * (unsigned)wx;
		acc[k] += top * (unsigned)(GM_Q - wy) + bot * (unsigned)wy;
	}
}

/* Catmull-Rom bicubic sample (4 x 4 taps), wrapped, added into acc[0..ch). */
GM_FN void gm_sample_bicubic(const gm_src *s, float c, float r, float *acc)
{
	float x0 = floorf(c), y0 = floorf(r);
	int ix = (int)x0, iy = (int)y0;
	float wx[4], wy[4];
	gm_cubic_weights(c - x0, wx);
	gm_cubic_weights(r - y0, wy);
	int inside = ix >= 1 && ix < s->W - 2 && iy >= 1 && iy < s->H - 2;
	float sum[4] = {0, 0, 0, 0};
	for (int m = 0; m < 4; m++) {
		float row[4] = {0, 0, 0, 0};
		for (int n = 0; n < 4; n++) {
			int x = ix - 1 + n, y = iy - 1 + m;
			if (!inside)
				gm_wrap_tap(x, y, s->W, s->H, &x, &y);
			const unsigned char *p = s->data + (size_t)y * s->stride + (size_t)x * s->ch;
			for (int k = 0; k < 4; k++)
				if (k < s->ch)
					row[k] += wx[n] * (float)p[k];
		}
		for (int k = 0; k < 4; k++)
			if (k < s->ch)
				sum[k] += wy[m] * row[k];
	}
	for (int k = 0; k < 4; k++)
		acc[k] += sum[k];
}

GM_FN unsigned char gm_to_u8(float v)
{
	v = v < 0.0f ? 0.0f : (v > 255.0f ? 255.0f : v);
	return (unsigned char)(v + 0.5f);
}

/* One output pixel (i, j) given its own source position (c, r) and its footprint (sx, sy)
 * along the output axes: a single tap, or the mean of nx x ny sub-samples (at most 64, so the
 * fixed-point sums stay below 2^32). */
GM_FN void gm_view_pixel(const gm_view *g, const gm_src *s, int bicubic, int i, int j, float c,
			 float r, float sx, float sy, unsigned char *out)
{
	float acc[4] = {0, 0, 0, 0};
	unsigned qacc[4] = {0, 0, 0, 0};
	int nx = gm_aa_count(sx), ny = gm_aa_count(sy);
	if (nx == 1 && ny == 1) {
		if (bicubic) {
			gm_sample_bicubic(s, c, r, acc);
			for (int k = 0; k < 4; k++)
				if (k < s->ch)
					out[k] = gm_to_u8(acc[k]);
		} else {
			gm_sample_bilinear(s, c, r, qacc);
			for (int k = 0; k < 4; k++)
				if (k < s->ch)
					out[k] = (unsigned char)((qacc[k] + (GM_Q * GM_Q / 2)) >> (2 * GM_QB));
		}
		return;
	}
	for (int b = 0; b < ny; b++) {
		float v = (float)j + ((float)b + 0.5f) / (float)ny;
		float bx, by, bz;
		gm_view_rowbase(g, v, &bx, &by, &bz);
		for (int a = 0; a < nx; a++) {
			float u = (float)i + ((float)a + 0.5f) / (float)nx;
			float cc, rr;
			gm_view_map(g, u, bx, by, bz, &cc, &rr);
			if (bicubic)
				gm_sample_bicubic(s, cc, rr, acc);
			else
				gm_sample_bilinear(s, cc, rr, qacc);
		}
	}
	unsigned n = (unsigned)(nx * ny);
	float inv = 1.0f / (float)n;
	for (int k = 0; k < 4; k++) {
		if (k >= s->ch)
			break;
		if (bicubic)
			out[k] = gm_to_u8(acc[k] * inv);
		else
			out[k] = (unsigned char)((qacc[k] + n * (GM_Q * GM_Q / 2)) / (n * GM_Q * GM_Q));
	}
}

/* Footprint of the output pixel from its source position (c, r), its right neighbour's (cr,
 * rr) and its lower neighbour's (cd, rd). */
GM_FN void gm_footprint(float W, float c, float r, float cr, float rr, float cd, float rd,
			float *sx, float *sy)
{
	*sx = gm_maxf(gm_absf(gm_wrapdiff(cr - c, W)), gm_absf(rr - r));
	*sy = gm_maxf(gm_absf(gm_wrapdiff(cd - c, W)), gm_absf(rd - r));
}
/* Output pixel (i, j) of view g from source s into out (rows stride bytes apart): its
 * source position, with aa its right and lower neighbours' for the footprint, then one tap or
 * the supersampled prefilter. What one CUDA thread of the view kernel runs, and what
 * gpu_view_from_equirect_px runs on the CPU pixel by pixel (the fast C path's yardstick). */
GM_FN void gm_view_px(const gm_view *g, const gm_src *s, size_t stride, int i, int j,
		      int bicubic, int aa, unsigned char *out)
{
	float bx, by, bz, c, r, sx = 0.0f, sy = 0.0f;
	gm_view_rowbase(g, (float)j + 0.5f, &bx, &by, &bz);
	gm_view_map(g, (float)i + 0.5f, bx, by, bz, &c, &r);
	if (aa) {
		float cr, rr, cd, rd, dx, dy, dz;
		gm_view_map(g, (float)(i + 1) + 0.5f, bx, by, bz, &cr, &rr);
		gm_view_rowbase(g, (float)(j + 1) + 0.5f, &dx, &dy, &dz);
		gm_view_map(g, (float)i + 0.5f, dx, dy, dz, &cd, &rd);
		gm_footprint((float)s->W, c, r, cr, rr, cd, rd, &sx, &sy);
	}
	gm_view_pixel(g, s, bicubic, i, j, c, r, sx, sy, out + (size_t)j * stride + (size_t)i * s->ch);
}

/* ---- Element conversions and per-element kernels shared by the other kernels ---------------- */

/* Bit casts through memcpy: defined behaviour in C and C++, one move after optimisation on
 * both the host and the device. */
GM_FN unsigned gm_f2u(float f)
{
	unsigned u;
	memcpy(&u, &f, sizeof(u));
	return u;
}
GM_FN float gm_u2f(unsigned u)
{
	float f;
	memcpy(&f, &u, sizeof(f));
	return f;
}
#define GM_F2U(f) gm_f2u(f)
#define GM_U2F(u) gm_u2f(u)

/* float -> IEEE half, round to nearest even, overflow to Inf, NaN kept quiet. */
GM_FN unsigned short gm_f32_to_f16(float f)
{
	unsigned x = GM_F2U(f);
	unsigned sign = (x >> 16) & 0x8000u, e = (x >> 23) & 0xffu, m = x & 0x7fffffu;
	if (e == 0xffu)
		return (unsigned short)(sign | 0x7c00u | (m ? 0x200u | (m >> 13) : 0u));
	int ne = (int)e - 127 + 15;
	if (ne >= 31)
		return (unsigned short)(sign | 0x7c00u);
	if (ne <= 0) {
		if (ne < -10)
			return (unsigned short)sign;
		m |= 0x800000u;
		int shift = 14 - ne;
		unsigned r = m >> shift, rem = m & ((1u << shift) - 1u), half = 1u << (shift - 1);
		if (rem > half || (rem == half && (r & 1u)))
			r++;
		return (unsigned short)(sign | r);
	}
	unsigned r = ((unsigned)ne << 10) | (m >> 13), rem = m & 0x1fffu;
	if (rem > 0x1000u || (rem == 0x1000u && (r & 1u)))
		r++; /* a carry moves into the exponent, up to Inf: still correct */
	return (unsigned short)(sign | r);
}

GM_FN unsigned short gm_f32_to_bf16(float f)
{
	unsigned x = GM_F2U(f);
	if ((x & 0x7f800000u) == 0x7f800000u && (x & 0x7fffffu))
		return (unsigned short)((x >> 16) | 0x40u);
	return (unsigned short)((x + 0x7fffu + ((x >> 16) & 1u)) >> 16);
}

/* Stores v as element k of a dtype array (0 f32, 1 f16, 2 bf16). */
GM_FN void gm_store(void *dst, size_t k, int dtype, float v)
{
	if (dtype == 0)
		((float *)dst)[k] = v;
	else if (dtype == 1)
		((unsigned short *)dst)[k] = gm_f32_to_f16(v);
	else
		((unsigned short *)dst)[k] = gm_f32_to_bf16(v);
}

/* Tensor resize: value of channel-interleaved output pixel (x, y) of an out_w x out_h resize
 * of s (bilinear, half-pixel centres, clamped edges, box prefilter when shrinking), into
 * acc[0..ch). */
GM_FN void gm_resize_pixel(const gm_src *s, int x, int y, float scx, float scy, int nx, int ny,
			   float *acc)
{
	for (int b = 0; b < ny; b++) {
		float fy = GM_SUB(GM_MUL((float)y + ((float)b + 0.5f) / (float)ny, scy), 0.5f);
		fy = gm_minf(gm_maxf(fy, 0.0f), (float)(s->H - 1));
		float y0 = floorf(fy);
		int iy = (int)y0, iy1 = iy + 1 < s->H ? iy + 1 : iy;
		float wy = fy - y0;
		for (int a = 0; a < nx; a++) {
			float fx = GM_SUB(GM_MUL((float)x + ((float)a + 0.5f) / (float)nx, scx), 0.5f);
			fx = gm_minf(gm_maxf(fx, 0.0f), (float)(s->W - 1));
			float x0 = floorf(fx);
			int ix = (int)x0, ix1 = ix + 1 < s->W ? ix + 1 : ix;
			float wx = fx - x0;
			const unsigned char *r0 = s->data + (size_t)iy * s->stride;
			const unsigned char *r1 = s->data + (size_t)iy1 * s->stride;
			for (int k = 0; k < 4; k++) {
				if (k >= s->ch)
					break;
				float p00 = r0[ix * s->ch + k], p01 = r0[ix1 * s->ch + k];
				float p10 = r1[ix * s->ch + k], p11 = r1[ix1 * s->ch + k];
				float top = GM_ADD(p00, GM_MUL(wx, p01 - p00));
				float bot = GM_ADD(p10, GM_MUL(wx, p11 - p10));
				acc[k] += GM_ADD(top, GM_MUL(wy, bot - top));
			}
		}
	}
}

/* Plucker ray of camera (R row-major w2c rotation, C centre) through the normalised image
 * point (x, y) = ((u - cx) / fx, (v - cy) / fy): six values m = C x d, d (d unit, world).
 * Double precision. */
GM_FN void gm_plucker_xy(const double *R, const double *C, double x, double y, double out[6])
{
	double d0 = R[0] * x + R[3] * y + R[6];
	double d1 = R[1] * x + R[4] * y + R[7];
	double d2 = R[2] * x + R[5] * y + R[8];
	double n = 1.0 / sqrt(d0 * d0 + d1 * d1 + d2 * d2);
	d0 *= n;
	d1 *= n;
	d2 *= n;
	out[0] = C[1] * d2 - C[2] * d1;
	out[1] = C[2] * d0 - C[0] * d2;
	out[2] = C[0] * d1 - C[1] * d0;
	out[3] = d0;
	out[4] = d1;
	out[5] = d2;
}

/* The same at image point (u, v) with K = fx, fy, cx, cy. */
GM_FN void gm_plucker(const double *R, const double *C, const double *K, double u, double v,
		      double out[6])
{
	gm_plucker_xy(R, C, (u - K[2]) / K[0], (v - K[3]) / K[1], out);
}

/* Order-preserving map of a float to an unsigned key (larger float, larger key). */
GM_FN unsigned gm_float_key(float f)
{
	unsigned u = GM_F2U(f);
	return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}
GM_FN float gm_key_float(unsigned k)
{
	return GM_U2F((k & 0x80000000u) ? (k & 0x7fffffffu) : ~k);
}

/* Voxel grid: cells floor(p / v) with |index| < 2^20, packed z-major so that key order is
 * (z, y, x). Returns 0 when out of range. q gets the offsets within the cell in 1/65536. */
#define GM_VOX_BITS 21
#define GM_VOX_HALF (1 << 20)
GM_FN int gm_voxel_key(float x, float y, float z, double inv_v, unsigned long long *key,
		       unsigned q[3])
{
	double p[3] = {(double)x * inv_v, (double)y * inv_v, (double)z * inv_v};
	long long ix[3];
	for (int k = 0; k < 3; k++) {
		if (!(p[k] > -(double)GM_VOX_HALF && p[k] < (double)GM_VOX_HALF))
			return 0;
		double f = floor(p[k]);
		ix[k] = (long long)f;
		double o = (p[k] - f) * 65536.0;
		q[k] = o >= 65535.0 ? 65535u : (unsigned)o;
	}
	*key = ((unsigned long long)(ix[2] + GM_VOX_HALF) << (2 * GM_VOX_BITS)) |
	       ((unsigned long long)(ix[1] + GM_VOX_HALF) << GM_VOX_BITS) |
	       (unsigned long long)(ix[0] + GM_VOX_HALF);
	return 1;
}

GM_FN unsigned long long gm_hash64(unsigned long long k)
{
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdULL;
	k ^= k >> 33;
	k *= 0xc4ceb9fe1a85ec53ULL;
	k ^= k >> 33;
	return k;
}

/* BEV cell of a point; 0 when outside the raster or the z range. */
GM_FN int gm_bev_cell(double px, double py, double pz, double cx, double cy, double sh,
		      double ch, double inv_res, int w, int h, double zmin, double zmax, int *ci,
		      int *cj)
{
	if (!(pz >= zmin && pz <= zmax))
		return 0;
	double dx = px - cx, dy = py - cy;
	double fwd = GM_DADD(GM_DMUL(dx, sh), GM_DMUL(dy, ch));
	double rgt = GM_DADD(GM_DMUL(dx, ch), -GM_DMUL(dy, sh));
	double fi = floor(GM_DADD(0.5 * w, GM_DMUL(rgt, inv_res)));
	double fj = floor(GM_DADD(0.5 * h, -GM_DMUL(fwd, inv_res)));
	if (!(fi >= 0 && fi < w && fj >= 0 && fj < h))
		return 0;
	*ci = (int)fi;
	*cj = (int)fj;
	return 1;
}

/* Pinhole projection of a world point for the z-buffer; 0 when behind near or outside. */
GM_FN int gm_project(const double *P, const double *K, double near_m, int w, int h, float x,
		     float y, float z, int *pi, int *pj, float *zc)
{
	double X = GM_DADD(GM_DADD(GM_DADD(GM_DMUL(P[0], x), GM_DMUL(P[1], y)), GM_DMUL(P[2], z)), P[3]);
	double Y = GM_DADD(GM_DADD(GM_DADD(GM_DMUL(P[4], x), GM_DMUL(P[5], y)), GM_DMUL(P[6], z)), P[7]);
	double Z = GM_DADD(GM_DADD(GM_DADD(GM_DMUL(P[8], x), GM_DMUL(P[9], y)), GM_DMUL(P[10], z)), P[11]);
	if (!(Z > near_m))
		return 0;
	double u = floor(GM_DMUL(K[0], X) / Z + K[2]), v = floor(GM_DMUL(K[1], Y) / Z + K[3]);
	if (!(u >= 0 && u < w && v >= 0 && v < h))
		return 0;
	*pi = (int)u;
	*pj = (int)v;
	*zc = (float)Z;
	return 1;
}

/* One occupied voxel while accumulating (both paths). */
typedef struct gm_vox {
	unsigned long long key, cnt, s[3], c[3];
} gm_vox;
#define GM_VOX_EMPTY 0xffffffffffffffffULL

/* ---- Depth views --------------------------------------------------------------------------- */

/* The depth panorama as the depth-view kernel sees it (host memory on the C path, device memory
 * in the kernel). */
typedef struct gm_dsrc {
	const unsigned char *data;
	size_t stride;
	int W, H, is_float;
	float scale, min_m, max_m;
} gm_dsrc;

/* Z-depth (metres along the view's optical axis) of output pixel (i, j): the NEAREST depth
 * sample of the ray (depth is never interpolated: a blend of a facade and the sky behind it
 * is a depth nothing has), converted from range to z by the ray's cosine to the axis. 0 when
 * the sample is invalid (0, non-finite, outside [min_m, max_m]). */
GM_FN float gm_depth_view_pixel(const gm_view *g, const gm_dsrc *s, int i, int j)
{
	float u = (float)i + 0.5f, v = (float)j + 0.5f, bx, by, bz, c, r;
	gm_view_rowbase(g, v, &bx, &by, &bz);
	gm_view_map(g, u, bx, by, bz, &c, &r);
	int x, y;
	gm_wrap_tap((int)floorf(c + 0.5f), (int)floorf(r + 0.5f), s->W, s->H, &x, &y);
	const unsigned char *row = s->data + (size_t)y * s->stride;
	float range;
	if (s->is_float) {
		float f;
		memcpy(&f, row + 4 * (size_t)x, 4);
		range = GM_MUL(f, s->scale);
	} else {
		unsigned short q;
		memcpy(&q, row + 2 * (size_t)x, 2);
		if (q == 0)
			return 0.0f;
		range = GM_MUL((float)q, s->scale);
	}
	if (!(range >= s->min_m && range <= s->max_m) || !(range > 0.0f))
		return 0.0f;
	float xc = GM_MUL(u - g->cx, g->ifx), yc = GM_MUL(v - g->cy, g->ify);
	float n2 = GM_ADD(GM_ADD(GM_MUL(xc, xc), GM_MUL(yc, yc)), 1.0f);
	return range / sqrtf(n2);
}

#endif
