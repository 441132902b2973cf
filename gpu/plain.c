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

/* Stores v as element k of a dtype array, rounded once from double to float, then to the
 * dtype by the exported conversions (round to nearest even). */
static void plain_store(void *dst, size_t k, gpu_dtype t, double v)
{
	float f = (float)v;
	if (t == GPU_DTYPE_F32)
		((float *)dst)[k] = f;
	else if (t == GPU_DTYPE_F16)
		((uint16_t *)dst)[k] = gpu_f32_to_f16(f);
	else
		((uint16_t *)dst)[k] = gpu_f32_to_bf16(f);
}

int gpu_tensor_from_image_plain(const gpu_image *src, int out_w, int out_h, const float *mean,
				const float *std, gpu_dtype dtype, void *dst, svt_err *err)
{
	float a[4], b[4];
	int rc = gpu_tensor_params(src, out_w, out_h, mean, std, dtype, dst, a, b, err);
	if (rc)
		return rc;
	int W = src->width, H = src->height, ch = src->channels;
	double sx = (double)W / out_w, sy = (double)H / out_h;
	int nx = plain_count(sx), ny = plain_count(sy); /* sub-samples when shrinking > 1.25x */
	for (int c = 0; c < ch; c++)
		for (int y = 0; y < out_h; y++)
			for (int x = 0; x < out_w; x++) {
				double sum = 0;
				for (int bb = 0; bb < ny; bb++)
					for (int aa = 0; aa < nx; aa++) {
						/* half-pixel centres, clamped to the edge pixels' centres */
						double fx = (x + (aa + 0.5) / nx) * sx - 0.5;
						double fy = (y + (bb + 0.5) / ny) * sy - 0.5;
						fx = fmin(fmax(fx, 0), W - 1);
						fy = fmin(fmax(fy, 0), H - 1);
						int x0 = (int)floor(fx), y0 = (int)floor(fy);
						int x1 = x0 + 1 < W ? x0 + 1 : x0, y1 = y0 + 1 < H ? y0 + 1 : y0;
						double wx = fx - x0, wy = fy - y0;
#define PX(X, Y) ((double)src->data[(size_t)(Y) * src->stride + (size_t)(X) * ch + c])
						sum += (1 - wx) * (1 - wy) * PX(x0, y0) + wx * (1 - wy) * PX(x1, y0) +
						       (1 - wx) * wy * PX(x0, y1) + wx * wy * PX(x1, y1);
#undef PX
					}
				double v = sum / (nx * ny);
				double m = mean ? mean[c] : 0, s = std ? std[c] : 1;
				plain_store(dst, ((size_t)c * out_h + y) * out_w + x, dtype,
					    (v / 255.0 - m) / s);
			}
	return 0;
}

int gpu_plucker_rays_plain(const double *w2c, const double *K, int n, int img_w, int img_h,
			   int patch, gpu_dtype dtype, void *dst, svt_err *err)
{
	double RC[12];
	/* the argument checks only (camera 0's parameters are not used here) */
	if (n < 1)
		return svt_err_set(err, SVT_E_INPUT, "plucker: n %d < 1", n);
	for (int b = 0; b < n; b++) {
		int rc = gpu_plucker_check(w2c + 16 * (size_t)b, K + 4 * (size_t)b, 1, img_w, img_h,
					   patch, dtype, dst, RC, err);
		if (rc)
			return rc;
	}
	int ow = img_w / patch, oh = img_h / patch;
	for (int b = 0; b < n; b++) {
		const double *M = w2c + 16 * (size_t)b, *k = K + 4 * (size_t)b;
		/* w2c = [R t]: the centre is C = -R^T t, a camera ray r becomes R^T r in the world */
		double C[3];
		for (int i = 0; i < 3; i++)
			C[i] = -(M[i] * M[3] + M[4 + i] * M[7] + M[8 + i] * M[11]);
		for (int j = 0; j < oh; j++)
			for (int i = 0; i < ow; i++) {
				double u = (i + 0.5) * patch, v = (j + 0.5) * patch;
				double r[3] = {(u - k[2]) / k[0], (v - k[3]) / k[1], 1};
				double d[3];
				for (int q = 0; q < 3; q++)
					d[q] = M[q] * r[0] + M[4 + q] * r[1] + M[8 + q] * r[2];
				double len = sqrt(d[0] * d[0] + d[1] * d[1] + d[2] * d[2]);
				for (int q = 0; q < 3; q++)
					d[q] /= len;
				double m[3] = {C[1] * d[2] - C[2] * d[1], C[2] * d[0] - C[0] * d[2],
					       C[0] * d[1] - C[1] * d[0]};
				double six[6] = {m[0], m[1], m[2], d[0], d[1], d[2]};
				for (int q = 0; q < 6; q++)
					plain_store(dst, (((size_t)b * 6 + q) * oh + j) * ow + i, dtype, six[q]);
			}
	}
	return 0;
}

int gpu_depth_to_points_plain(const gpu_depth *d, const gpu_image *color, const double w2c[16],
			      gpu_point *out, size_t cap, size_t *n_out, svt_err *err)
{
	int rc = gpu_depth_check(d, color, w2c, out, n_out, err);
	if (rc)
		return rc;
	size_t n = 0;
	for (int y = 0; y < d->height; y += d->step)
		for (int x = 0; x < d->width; x += d->step) {
			const uint8_t *row = (const uint8_t *)d->data + (size_t)y * d->stride;
			double v;
			if (d->is_float) {
				float f;
				memcpy(&f, row + 4 * (size_t)x, 4);
				v = f;
			} else {
				uint16_t q;
				memcpy(&q, row + 2 * (size_t)x, 2);
				v = q;
			}
			double m = v * d->scale;
			if (!(m > 0) || m < d->min_m || m > d->max_m)
				continue;
			double pc[3];
			if (d->model == GPU_DEPTH_PINHOLE) { /* z-depth along the optical axis */
				pc[0] = (x + 0.5 - d->cx) / d->fx * m;
				pc[1] = (y + 0.5 - d->cy) / d->fy * m;
				pc[2] = m;
			} else { /* range along the panorama ray */
				double dir[3];
				gpu_equirect_unproject(x, y, d->width, d->height, dir);
				for (int k = 0; k < 3; k++)
					pc[k] = dir[k] * m;
			}
			/* x_world = R^T (x_cam - t) */
			double q[3] = {pc[0] - w2c[3], pc[1] - w2c[7], pc[2] - w2c[11]};
			gpu_point p;
			p.x = (float)(w2c[0] * q[0] + w2c[4] * q[1] + w2c[8] * q[2]);
			p.y = (float)(w2c[1] * q[0] + w2c[5] * q[1] + w2c[9] * q[2]);
			p.z = (float)(w2c[2] * q[0] + w2c[6] * q[1] + w2c[10] * q[2]);
			p.r = p.g = p.b = 255;
			p.a = 255;
			if (color) {
				int cx = (int)floor((x + 0.5) * color->width / d->width);
				int cy = (int)floor((y + 0.5) * color->height / d->height);
				const uint8_t *c = color->data + (size_t)cy * color->stride +
						   (size_t)cx * color->channels;
				p.r = c[0];
				p.g = color->channels >= 3 ? c[1] : c[0];
				p.b = color->channels >= 3 ? c[2] : c[0];
			}
			if (n == cap)
				return svt_err_set(err, SVT_E_LIMIT, "depth: more than %zu points", cap);
			out[n++] = p;
		}
	*n_out = n;
	return 0;
}
