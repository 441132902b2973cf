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
 *     direction moves the nearest column (measured 0.8 %: one output row's worth). */
#include <math.h>
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
