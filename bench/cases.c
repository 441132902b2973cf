/* cases.c: the shared case tables (cases.h) and their inputs. Tolerances are against the
 * plain double-precision reference; why each is what it is:
 *   bilinear: the fast paths quantise the bilinear weights to 1/128 px (half an LSB of a
 *     255-step edge at worst) and map in float (atan2 to 3e-7 rad, 1e-3 px): together at
 *     most 1 LSB, 2 where rounding at .5 adds one;
 *   bicubic: float accumulation of 16 weighted taps: 2 LSB;
 *   frac_over: pixels whose footprint lies on a multiple of 1.25 px, where 1e-3 px of map
 *     error changes the sub-sample count (the result is then a different, equally valid,
 *     box filter); measured under 0.5 % on these cases, declared 1 %;
 *   depth: float map and float division: 2e-6 relative; nearest-sample ties: 0.5 %, and 2 %
 *     looking straight up, where the columns converge on the pole and a float ulp of the
 *     direction moves the nearest column (measured 0.8 %: one output row's worth);
 *   tensor: f32: the fast paths place samples in float (1e-4 px at 1280 px), which on an edge
 *     of 255 per px is 0.03 of a level: 2e-4 after normalisation by std 0.225 (measured
 *     5.4e-5); f16 / bf16: one unit in the last place of the dtype, 2^-9 / 2^-6 relative (a
 *     unit of the binade above when the two round to either side of a power of two);
 *   Plucker: the fast paths compute in double too (CUDA may fuse into FMA): 1 ulp of the dtype;
 *   depth -> points: double on every path (CUDA's sin/cos are 1 ulp off glibc's): 1e-5 m plus
 *     1e-6 relative, exact count, order and colour;
 *   warp: the fast C path sums the projection in another order (per-row and per-column terms),
 *     so a landing within an ulp of a pixel edge may cross it and change a pixel (and its
 *     footprint's neighbours): 0.1 % of the target (measured 0 on these cases); CUDA runs the
 *     reference's code (an FMA ulp at most): the same 0.1 %;
 *   densify: CUDA runs the reference's code: 0.1 % for an FMA ulp. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bench/cases.h"

const bc_view_case bc_view_cases[] = {
	{"bilinear 1:1, centre", 1024, 512, 3, 320, 176, 90, 0, 0, 0, GPU_INTERP_BILINEAR, 1, 2, 0.01},
	{"bilinear across the seam", 1024, 512, 3, 320, 176, 90, 180, 10, 5, GPU_INTERP_BILINEAR, 1,
	 2, 0.01},
	{"bilinear north pole", 1024, 512, 3, 200, 200, 120, 33, 89, 0, GPU_INTERP_BILINEAR, 1, 2,
	 0.01},
	{"bicubic south pole, grey", 1024, 512, 1, 200, 200, 120, -120, -90, 45, GPU_INTERP_BICUBIC,
	 1, 2, 0.01},
	{"bilinear decimation, RGBA", 2048, 1024, 4, 64, 48, 90, 10, 0, 0, GPU_INTERP_BILINEAR, 1, 2,
	 0.01},
	{"bicubic upsampling, no AA", 513, 257, 3, 640, 352, 60, -179, 0, 0, GPU_INTERP_BICUBIC, 0, 2,
	 0.0},
	{"bilinear shard view", 4096, 2048, 3, 1280, 704, 90, 75, -20, 0, GPU_INTERP_BILINEAR, 1, 2,
	 0.01},
};
const int bc_n_view_cases = (int)(sizeof(bc_view_cases) / sizeof(bc_view_cases[0]));

const bc_depth_case bc_depth_cases[] = {
	{"uint16 mm, forward", 1024, 512, 0, 320, 176, 90, 0, 0, 2e-6, 0.005},
	{"float m with holes, seam and pitch", 1000, 500, 1, 256, 144, 100, 178, 30, 2e-6, 0.005},
	{"uint16 mm, straight up", 512, 256, 0, 128, 128, 120, 0, 90, 2e-6, 0.02},
};
const int bc_n_depth_cases = (int)(sizeof(bc_depth_cases) / sizeof(bc_depth_cases[0]));

static unsigned bc_lcg(unsigned *s)
{
	*s = *s * 1664525u + 1013904223u;
	return *s >> 8;
}

const bc_tensor_case bc_tensor_cases[] = {
	{"1280x704 f32 CHW, same size", 1280, 704, 3, 1280, 704, GPU_DTYPE_F32, 1, 0, 2e-4},
	{"1280x704 -> 224x224 f32 (prefilter)", 1280, 704, 3, 224, 224, GPU_DTYPE_F32, 1, 0, 2e-4},
	{"1024x512 -> 1536x768 f16 (upsample)", 1024, 512, 3, 1536, 768, GPU_DTYPE_F16, 1, 1.0 / 512,
	 2e-4},
	{"2048x1024 RGBA -> 256x128 bf16", 2048, 1024, 4, 256, 128, GPU_DTYPE_BF16, 0, 1.0 / 64, 1e-3},
};
const int bc_n_tensor_cases = (int)(sizeof(bc_tensor_cases) / sizeof(bc_tensor_cases[0]));

const bc_plucker_case bc_plucker_cases[] = {
	{"4 cameras 1280x704 f32 per pixel", 4, 1280, 704, 1, GPU_DTYPE_F32, 2.0 / (1 << 23), 1e-7},
	{"16 cameras 1280x704 f16 patch 16", 16, 1280, 704, 16, GPU_DTYPE_F16, 1.0 / 1024, 1e-4},
	{"8 cameras 640x352 bf16 patch 8", 8, 640, 352, 8, GPU_DTYPE_BF16, 1.0 / 128, 1e-3},
};
const int bc_n_plucker_cases = (int)(sizeof(bc_plucker_cases) / sizeof(bc_plucker_cases[0]));

const bc_points_case bc_points_cases[] = {
	{"equirect uint16 2048x1024 step 4, colour", 2048, 1024, 0, 4, GPU_DEPTH_EQUIRECT, 1, 1e-6,
	 1e-5},
	{"equirect float 1000x500 step 1 with holes", 1000, 500, 1, 1, GPU_DEPTH_EQUIRECT, 0, 1e-6,
	 1e-5},
	{"pinhole uint16 640x352 step 2, colour", 640, 352, 0, 2, GPU_DEPTH_PINHOLE, 1, 1e-6, 1e-5},
};
const int bc_n_points_cases = (int)(sizeof(bc_points_cases) / sizeof(bc_points_cases[0]));

const bc_warp_case bc_warp_cases[] = {
	{"1280x704 shard warp, 2 m on, 8 deg", 1280, 704, 1280, 704, 640, 640, 8, 0.3, 0, 2.0, 0.001},
	{"320x176 -> 480x264 magnified 1.5x", 320, 176, 480, 264, 160, 240, -5, -0.5, 0.1, 1.0, 0.001},
	{"640x352 2 m to the right, turned 25 deg", 640, 352, 640, 352, 320, 320, -25, 2.0, -0.3,
	 0.5, 0.001},
};
const int bc_n_warp_cases = (int)(sizeof(bc_warp_cases) / sizeof(bc_warp_cases[0]));

const bc_densify_case bc_densify_cases[] = {
	{"1280x704 halfway", 1280, 704, 640, 0.5, 6, 0.001},
	{"320x176 a quarter on, turning", 320, 176, 160, 0.25, -20, 0.001},
};
const int bc_n_densify_cases = (int)(sizeof(bc_densify_cases) / sizeof(bc_densify_cases[0]));

/* A pinhole camera at C (world: x right, y down, z forward) turned yaw degrees about y. */
static void bc_cam(gpu_warp_cam *c, int w, int h, double f, double yaw, const double C[3])
{
	double a = yaw * M_PI / 180, R[9] = {cos(a), 0, -sin(a), 0, 1, 0, sin(a), 0, cos(a)};
	memset(c, 0, sizeof(*c));
	c->width = w, c->height = h;
	c->K[0] = c->K[1] = f;
	c->K[2] = 0.5 * w + 0.25, c->K[3] = 0.5 * h - 0.25;
	for (int i = 0; i < 3; i++) {
		for (int j = 0; j < 3; j++)
			c->w2c[4 * i + j] = R[3 * i + j];
		c->w2c[4 * i + 3] = -(R[3 * i] * C[0] + R[3 * i + 1] * C[1] + R[3 * i + 2] * C[2]);
	}
	c->w2c[15] = 1;
}

/* The street seen from the source camera (at the origin, looking along +z): z-depth of the
 * ground 1.6 m below, walls 8 m to either side, boxes, the sky (and 1 % of pixels) empty. */
static void bc_street(const gpu_warp_cam *c, uint8_t **rgb, float **depth)
{
	bc_view_case vc = {"warp", c->width, c->height, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
	gpu_image col = bc_view_source(&vc);
	size_t n = (size_t)c->width * c->height;
	*rgb = malloc(n * 3);
	*depth = malloc(n * sizeof(float));
	unsigned seed = (unsigned)n;
	for (int y = 0; *rgb && *depth && col.data && y < c->height; y++)
		for (int x = 0; x < c->width; x++) {
			double rx = (x + 0.5 - c->K[2]) / c->K[0], ry = (y + 0.5 - c->K[3]) / c->K[1];
			double t = 1e9;
			if (ry > 1e-3)
				t = 1.6 / ry;
			if (fabs(rx) > 1e-3 && 8 / fabs(rx) < t)
				t = 8 / fabs(rx);
			if (((int)floor(rx * 6) + (int)floor(ry * 6)) % 4 == 0 && t > 9)
				t = 9; /* a box face 9 m on */
			size_t k = (size_t)y * c->width + x;
			(*depth)[k] = t < 80 && bc_lcg(&seed) % 100 ? (float)t : 0.0f;
			memcpy(*rgb + 3 * k, col.data + (size_t)y * col.stride + 3 * (size_t)x, 3);
		}
	bc_free(col.data);
}

void bc_warp_setup(const bc_warp_case *c, gpu_warp_cam *src, gpu_warp_cam *dst, uint8_t **rgb,
		   float **depth)
{
	double O[3] = {0, 0, 0}, T[3] = {c->tx, c->ty, c->tz};
	bc_cam(src, c->sw, c->sh, c->fs, 0, O);
	bc_cam(dst, c->dw, c->dh, c->fd, c->yaw, T);
	bc_street(src, rgb, depth);
}

void bc_densify_setup(const bc_densify_case *c, gpu_densify_src *a, gpu_densify_src *b,
		      double w2c[16], double K[4])
{
	gpu_warp_cam ca, cb, ct;
	double A[3] = {0, 0, 0}, B[3] = {0.2, 0, 2.0}, T[3] = {0.2 * c->u, 0, 2.0 * c->u};
	bc_cam(&ca, c->w, c->h, c->f, 0, A);
	bc_cam(&cb, c->w, c->h, c->f, c->yaw, B);
	bc_cam(&ct, c->w, c->h, c->f, c->yaw * c->u, T);
	uint8_t *ra, *rb;
	float *da, *db;
	bc_street(&ca, &ra, &da);
	bc_street(&cb, &rb, &db); /* the same street seen turned: another view, same rule */
	memset(a, 0, sizeof(*a));
	memset(b, 0, sizeof(*b));
	a->rgb = ra, a->depth = da, b->rgb = rb, b->depth = db;
	memcpy(a->w2c, ca.w2c, sizeof(a->w2c));
	memcpy(b->w2c, cb.w2c, sizeof(b->w2c));
	memcpy(a->K, ca.K, sizeof(a->K));
	memcpy(b->K, cb.K, sizeof(b->K));
	memcpy(w2c, ct.w2c, 16 * sizeof(double));
	memcpy(K, ct.K, 4 * sizeof(double));
}

bc_diff bc_warp_compare(const uint8_t *got_rgb, const uint8_t *got_mask, const uint8_t *ref_rgb,
			const uint8_t *ref_mask, size_t n)
{
	bc_diff d = {0, 0, n};
	for (size_t k = 0; k < n; k++) {
		int bad = got_mask[k] != ref_mask[k] || memcmp(got_rgb + 3 * k, ref_rgb + 3 * k, 3);
		d.over += (size_t)bad;
		d.max_abs = bad ? 1 : d.max_abs;
	}
	return d;
}

void bc_plucker_setup(const bc_plucker_case *c, double *w2c, double *K)
{
	for (int b = 0; b < c->n; b++) {
		/* camera b at angle a on a 3 m circle, 1.6 m up, yawed outwards: R = Ry(a) Rx(0.1) */
		double a = 2 * M_PI * b / c->n, p = 0.1;
		double R[9] = {cos(a), 0, -sin(a), sin(a) * sin(p), cos(p), cos(a) * sin(p),
			       sin(a) * cos(p), -sin(p), cos(a) * cos(p)};
		double C[3] = {3 * sin(a), -1.6, 3 * cos(a)};
		double *M = w2c + 16 * (size_t)b;
		memset(M, 0, 16 * sizeof(double));
		for (int i = 0; i < 3; i++) {
			for (int j = 0; j < 3; j++)
				M[4 * i + j] = R[3 * i + j];
			M[4 * i + 3] = -(R[3 * i] * C[0] + R[3 * i + 1] * C[1] + R[3 * i + 2] * C[2]);
		}
		M[15] = 1;
		double *k = K + 4 * (size_t)b;
		k[0] = k[1] = 0.5 * c->img_w / tan(0.5 * (60 + 5 * b) * M_PI / 180);
		k[2] = 0.5 * c->img_w + b;
		k[3] = 0.5 * c->img_h - b;
	}
}

gpu_depth bc_points_source(const bc_points_case *c, double w2c[16])
{
	bc_depth_case dc = {c->name, c->W, c->H, c->is_float, 0, 0, 0, 0, 0, 0, 0};
	gpu_depth d = bc_depth_source(&dc);
	d.model = c->model;
	d.step = c->step;
	if (c->model == GPU_DEPTH_PINHOLE) {
		d.fx = d.fy = 0.5 * c->W;
		d.cx = 0.5 * c->W;
		d.cy = 0.5 * c->H;
	}
	/* a pose turned 30 degrees about the vertical and moved: every term of R^T (x - t) counts */
	double a = 30 * M_PI / 180;
	double M[16] = {cos(a), 0, sin(a), 1.5, 0, 1, 0, -0.25, -sin(a), 0, cos(a), 4, 0, 0, 0, 1};
	memcpy(w2c, M, sizeof(M));
	return d;
}

static double bc_elem(gpu_dtype t, const void *p, size_t k)
{
	if (t == GPU_DTYPE_F32)
		return ((const float *)p)[k];
	if (t == GPU_DTYPE_F16)
		return gpu_f16_to_f32(((const uint16_t *)p)[k]);
	return gpu_bf16_to_f32(((const uint16_t *)p)[k]);
}

bc_diff bc_dtype_compare(gpu_dtype t, const void *got, const void *ref, size_t n, double rel,
			 double abs_tol)
{
	bc_diff d = {0, 0, n};
	for (size_t k = 0; k < n; k++) {
		double a = bc_elem(t, got, k), b = bc_elem(t, ref, k);
		if (isnan(a) || isnan(b)) {
			d.over += isnan(a) != isnan(b);
			continue;
		}
		double e = fabs(a - b);
		d.max_abs = e > d.max_abs ? e : d.max_abs;
		d.over += e > abs_tol + rel * fabs(b);
	}
	return d;
}

/* Smooth shading, hard-edged blocks and noise: a panorama's mix, with a padded stride. */
gpu_image bc_view_source(const bc_view_case *c)
{
	size_t stride = (size_t)c->W * c->ch + 7;
	gpu_image s = {malloc(stride * c->H), c->W, c->H, c->ch, stride};
	unsigned seed = (unsigned)(c->W * 31 + c->H);
	if (!s.data)
		return s;
	for (int y = 0; y < c->H; y++)
		for (int x = 0; x < c->W; x++)
			for (int k = 0; k < c->ch; k++) {
				double v = 128 + 90 * sin(x * 0.031 + k) * cos(y * 0.047);
				if (((x / 37) + (y / 23)) % 5 == 0)
					v = k & 1 ? 250 : 5;
				v += (double)(bc_lcg(&seed) % 21) - 10;
				s.data[(size_t)y * stride + (size_t)x * c->ch + k] =
					(uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
			}
	return s;
}

void bc_view_setup(const bc_view_case *c, gpu_view *v)
{
	gpu_view_pinhole(v, c->w, c->h, c->fov);
	gpu_view_rotation(c->yaw, c->pitch, c->roll, v->R);
	v->interp = c->interp;
	v->antialias = c->aa;
}

/* A room-like range field (1.5 to 40 m) with holes: 0, and for float NaN, +Inf, -1. */
gpu_depth bc_depth_source(const bc_depth_case *c)
{
	size_t px = c->is_float ? 4 : 2, stride = (size_t)c->W * px + 12;
	uint8_t *p = malloc(stride * c->H);
	gpu_depth d = {p, c->W, c->H, stride, c->is_float, c->is_float ? 1.0 : 0.001, 0.1, 100,
		       GPU_DEPTH_EQUIRECT, 0, 0, 0, 0, 1};
	unsigned seed = (unsigned)(c->W + 7 * c->H);
	if (!p)
		return d;
	for (int y = 0; y < c->H; y++)
		for (int x = 0; x < c->W; x++) {
			double m = 1.5 + 38.5 * (0.5 + 0.5 * sin(x * 0.013) * cos(y * 0.029));
			unsigned r = bc_lcg(&seed) % 100;
			uint8_t *q = p + (size_t)y * stride + (size_t)x * px;
			if (c->is_float) {
				float f = (float)m;
				if (r == 0)
					f = NAN;
				else if (r == 1)
					f = INFINITY;
				else if (r == 2)
					f = 0;
				else if (r == 3)
					f = -1;
				memcpy(q, &f, 4);
			} else {
				uint16_t u = r == 0 ? 0 : (uint16_t)(m * 1000 + 0.5);
				memcpy(q, &u, 2);
			}
		}
	return d;
}

void bc_depth_setup(const bc_depth_case *c, gpu_view *v)
{
	gpu_view_pinhole(v, c->w, c->h, c->fov);
	gpu_view_rotation(c->yaw, c->pitch, 0, v->R);
}

void bc_free(void *p)
{
	free(p);
}

bc_diff bc_view_compare(const bc_view_case *c, const gpu_image *got, const gpu_image *ref)
{
	bc_diff d = {0, 0, 0};
	for (int j = 0; j < ref->height; j++)
		for (int b = 0; b < ref->width * ref->channels; b++) {
			double e = fabs((double)got->data[(size_t)j * got->stride + b] -
					(double)ref->data[(size_t)j * ref->stride + b]);
			d.max_abs = e > d.max_abs ? e : d.max_abs;
			d.over += e > c->max_lsb;
			d.total++;
		}
	return d;
}

bc_diff bc_depth_compare(const bc_depth_case *c, const float *got, const float *ref,
			 size_t *zero_mismatch)
{
	bc_diff d = {0, 0, 0};
	size_t n = (size_t)c->w * c->h;
	*zero_mismatch = 0;
	for (size_t k = 0; k < n; k++) {
		double a = got[k], b = ref[k];
		d.total++;
		if (!isfinite(a) || !isfinite(b)) { /* no path may emit NaN or Inf */
			d.over++;
			d.max_abs = INFINITY;
			continue;
		}
		if ((a == 0) != (b == 0)) {
			(*zero_mismatch)++;
			d.over++;
			continue;
		}
		double e = b == 0 ? 0 : fabs(a - b) / b;
		d.max_abs = e > d.max_abs ? e : d.max_abs;
		d.over += e > c->rel;
	}
	return d;
}
