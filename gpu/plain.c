/* plain.c: the plain references of the views (gpu.h, "Plain references"): the conventions of
 * gpu.h written out once more, in double precision and in the most direct form, so that a
 * reader can check them line by line against the documentation. Nothing here is shared with
 * the fast paths (gpu_math.h) on purpose: a mistake there cannot hide here. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "gpu/gpu_internal.h"

/* Where output position (u, vv) of view v reads a W x H panorama: the ray through the point
 * ((u - cx) / fx, (vv - cy) / fy, 1) of the view camera, turned into the panorama frame by R,
 * projected with the panorama convention (gpu_equirect_project). */
static void plain_map(const gpu_view *v, int W, int H, double u, double vv, double *col,
		      double *row)
{
	double x = (u - v->cx) / v->fx, y = (vv - v->cy) / v->fy;
	double d[3];
	for (int k = 0; k < 3; k++)
		d[k] = v->R[3 * k] * x + v->R[3 * k + 1] * y + v->R[3 * k + 2];
	gpu_equirect_project(d, W, H, col, row);
}

/* Pixel (x, y) of the panorama, for any integer x and any y in (-H, 2H): columns wrap modulo
 * W; a row above the top is row -1 - y seen across the pole (column + W/2); likewise below. */
static const uint8_t *plain_tap(const gpu_image *s, int x, int y)
{
	int W = s->width, H = s->height;
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
	return s->data + (size_t)y * s->stride + (size_t)x * (size_t)s->channels;
}

/* Catmull-Rom (a = -0.5) weight of a tap at distance t from the sample position. */
static double plain_cubic(double t)
{
	t = fabs(t);
	if (t < 1)
		return 1.5 * t * t * t - 2.5 * t * t + 1;
	if (t < 2)
		return -0.5 * t * t * t + 2.5 * t * t - 4 * t + 2;
	return 0;
}

/* The interpolated value of channel k at source position (c, r) (pixel centres at integers). */
static double plain_sample(const gpu_image *s, gpu_interp interp, double c, double r, int k)
{
	int x0 = (int)floor(c), y0 = (int)floor(r);
	double fx = c - x0, fy = r - y0, sum = 0;
	if (interp == GPU_INTERP_BILINEAR) {
		sum += (1 - fx) * (1 - fy) * plain_tap(s, x0, y0)[k];
		sum += fx * (1 - fy) * plain_tap(s, x0 + 1, y0)[k];
		sum += (1 - fx) * fy * plain_tap(s, x0, y0 + 1)[k];
		sum += fx * fy * plain_tap(s, x0 + 1, y0 + 1)[k];
		return sum;
	}
	for (int m = -1; m <= 2; m++)
		for (int n = -1; n <= 2; n++)
			sum += plain_cubic(n - fx) * plain_cubic(m - fy) * plain_tap(s, x0 + n, y0 + m)[k];
	return sum;
}

/* Sub-samples along an output axis whose footprint is s source pixels: 1 up to 1.25 px, else
 * ceil(s / 1.25), at most 8 (gpu_view's antialias rule). */
static int plain_count(double s)
{
	if (!(s > 1.25))
		return 1;
	double n = ceil(s / 1.25);
	return n > 8 ? 8 : (int)n;
}

/* A column difference taken the short way round the seam. */
static double plain_wrap(double d, int W)
{
	return d > 0.5 * W ? d - W : d < -0.5 * W ? d + W : d;
}

int gpu_view_from_equirect_plain(const gpu_image *src, const gpu_view *v, gpu_image *dst,
				 svt_err *err)
{
	int rc = gpu_view_check(src, v, dst, err);
	if (rc)
		return rc;
	int W = src->width, H = src->height;
	for (int j = 0; j < v->height; j++)
		for (int i = 0; i < v->width; i++) {
			int nx = 1, ny = 1;
			if (v->antialias) {
				/* footprint: displacement to the right and lower neighbours' positions */
				double c, r, cr, rr, cd, rd;
				plain_map(v, W, H, i + 0.5, j + 0.5, &c, &r);
				plain_map(v, W, H, i + 1.5, j + 0.5, &cr, &rr);
				plain_map(v, W, H, i + 0.5, j + 1.5, &cd, &rd);
				nx = plain_count(fmax(fabs(plain_wrap(cr - c, W)), fabs(rr - r)));
				ny = plain_count(fmax(fabs(plain_wrap(cd - c, W)), fabs(rd - r)));
			}
			uint8_t *out = dst->data + (size_t)j * dst->stride + (size_t)i * src->channels;
			for (int k = 0; k < src->channels; k++) {
				double sum = 0;
				for (int b = 0; b < ny; b++)
					for (int a = 0; a < nx; a++) {
						double c, r;
						plain_map(v, W, H, i + (a + 0.5) / nx, j + (b + 0.5) / ny, &c,
							  &r);
						sum += plain_sample(src, v->interp, c, r, k);
					}
				double val = floor(sum / (nx * ny) + 0.5);
				out[k] = (uint8_t)(val < 0 ? 0 : val > 255 ? 255 : val);
			}
		}
	return 0;
}

int gpu_view_depth_from_equirect_plain(const gpu_depth *src, const gpu_view *v, float *dst,
				       size_t dst_stride, svt_err *err)
{
	int rc = gpu_depth_view_check(src, v, dst, dst_stride, err);
	if (rc)
		return rc;
	for (int j = 0; j < v->height; j++) {
		float *row = (float *)((uint8_t *)dst + (size_t)j * dst_stride);
		for (int i = 0; i < v->width; i++) {
			double c, r;
			plain_map(v, src->width, src->height, i + 0.5, j + 0.5, &c, &r);
			/* the nearest sample, wrapped as a colour tap is */
			int x = (int)floor(c + 0.5), y = (int)floor(r + 0.5);
			int W = src->width, H = src->height;
			if (y < 0) {
				y = -1 - y;
				x += W / 2;
			} else if (y >= H) {
				y = 2 * H - 1 - y;
				x += W / 2;
			}
			x = ((x % W) + W) % W;
			const uint8_t *p = (const uint8_t *)src->data + (size_t)y * src->stride;
			double range;
			if (src->is_float) {
				float f;
				memcpy(&f, p + 4 * (size_t)x, 4);
				range = f * src->scale;
			} else {
				uint16_t q;
				memcpy(&q, p + 2 * (size_t)x, 2);
				range = q * src->scale;
			}
			/* invalid: 0, NaN, or outside [min_m, max_m] */
			if (!(range > 0) || !(range >= src->min_m && range <= src->max_m)) {
				row[i] = 0;
				continue;
			}
			/* z along the optical axis of a ray of length `range` through pixel (i, j) */
			double xc = (i + 0.5 - v->cx) / v->fx, yc = (j + 0.5 - v->cy) / v->fy;
			row[i] = (float)(range / sqrt(xc * xc + yc * yc + 1));
		}
	}
	return 0;
}
