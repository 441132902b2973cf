/* pinhole.c: perspective photos to the view size: undistort (OpenCV model), resize and
 * centre-crop in one resampling pass, with the K of the stored pixels exact.
 *
 * The reference is a plain loop per view pixel: ray from the view's K, distortion forward
 * into the source (the forward model needs no iteration, unlike undistorting points), bilinear
 * taps, and a box prefilter sized by the pixel's footprint when the view is coarser than the
 * photo. A CUDA counterpart would follow view.cu's shape; it is not written yet. */
#include "gpu/gpu.h"

#include <math.h>
#include <string.h>

static void distort(const gpu_pinhole_cam *c, double x, double y, double *u, double *v)
{
	double r2 = x * x + y * y;
	double rad = 1.0 + r2 * (c->k1 + r2 * (c->k2 + r2 * c->k3));
	double xd = x * rad + 2.0 * c->p1 * x * y + c->p2 * (r2 + 2.0 * x * x);
	double yd = y * rad + c->p1 * (r2 + 2.0 * y * y) + 2.0 * c->p2 * x * y;
	*u = c->fx * xd + c->cx;
	*v = c->fy * yd + c->cy;
}

/* Where the view point (u, v) (view pixels, +0.5 centres) lands in the source's pixels. */
static void view_to_src(const gpu_pinhole_cam *src, const gpu_pinhole_cam *view, double u,
			double v, double *us, double *vs)
{
	distort(src, (u - view->cx) / view->fx, (v - view->cy) / view->fy, us, vs);
}

static int border_inside(const gpu_pinhole_cam *src, const gpu_pinhole_cam *view)
{
	const int n = 64;
	for (int k = 0; k <= n; k++) {
		double t = (double)k / n;
		double pts[4][2] = {{t * view->width, 0},
				    {t * view->width, view->height},
				    {0, t * view->height},
				    {view->width, t * view->height}};
		for (int e = 0; e < 4; e++) {
			double us, vs;
			view_to_src(src, view, pts[e][0], pts[e][1], &us, &vs);
			/* a hair of slack for rounding at an exact fit */
			if (!(us >= -1e-6 && us <= src->width + 1e-6 && vs >= -1e-6 &&
			      vs <= src->height + 1e-6))
				return 0;
		}
	}
	return 1;
}

static void view_at(const gpu_pinhole_cam *src, int w, int h, double s, double z,
		    gpu_pinhole_cam *out)
{
	memset(out, 0, sizeof(*out));
	out->width = w;
	out->height = h;
	out->fx = src->fx * s * z;
	out->fy = src->fy * s * z;
	/* The source's image centre goes to the view's centre (a centre crop); a principal point
	 * off the centre stays off it by the same scaled amount. */
	out->cx = w / 2.0 + (src->cx - src->width / 2.0) * s * z;
	out->cy = h / 2.0 + (src->cy - src->height / 2.0) * s * z;
}

int gpu_pinhole_fit(const gpu_pinhole_cam *src, int width, int height, gpu_pinhole_cam *out,
		    svt_err *err)
{
	if (!src || !out || width < 1 || height < 1 || src->width < 1 || src->height < 1)
		return svt_err_set(err, SVT_E_INPUT, "gpu_pinhole_fit: bad sizes");
	if (!(src->fx > 0) || !(src->fy > 0) || !isfinite(src->fx) || !isfinite(src->fy))
		return svt_err_set(err, SVT_E_INPUT, "gpu_pinhole_fit: source focal %g x %g",
				   src->fx, src->fy);
	double sx = (double)width / src->width, sy = (double)height / src->height;
	double s = sx > sy ? sx : sy;
	view_at(src, width, height, s, 1.0, out);
	if (border_inside(src, out))
		return SVT_OK;
	/* Distortion pushes the border out: zoom in until it fits (bisection: the border's
	 * reach shrinks monotonically with zoom for any lens a photo is taken with). */
	double lo = 1.0, hi = 4.0;
	view_at(src, width, height, s, hi, out);
	if (!border_inside(src, out))
		return SVT_OK; /* a lens this wild keeps 4x and clamps at the edge */
	for (int it = 0; it < 40; it++) {
		double mid = 0.5 * (lo + hi);
		view_at(src, width, height, s, mid, out);
		if (border_inside(src, out))
			hi = mid;
		else
			lo = mid;
	}
	view_at(src, width, height, s, hi, out);
	return SVT_OK;
}

/* Bilinear tap at source pixel coordinates (us, vs) (+0.5 centres), clamped to the edge. */
static void tap(const gpu_image *src, double us, double vs, double *acc)
{
	double x = us - 0.5, y = vs - 0.5;
	if (x < 0)
		x = 0;
	if (y < 0)
		y = 0;
	if (x > src->width - 1)
		x = src->width - 1;
	if (y > src->height - 1)
		y = src->height - 1;
	int x0 = (int)x, y0 = (int)y;
	int x1 = x0 + 1 < src->width ? x0 + 1 : x0, y1 = y0 + 1 < src->height ? y0 + 1 : y0;
	double ax = x - x0, ay = y - y0;
	const uint8_t *r0 = src->data + (size_t)y0 * src->stride;
	const uint8_t *r1 = src->data + (size_t)y1 * src->stride;
	int ch = src->channels;
	for (int c = 0; c < ch; c++) {
		double top = r0[x0 * ch + c] * (1 - ax) + r0[x1 * ch + c] * ax;
		double bot = r1[x0 * ch + c] * (1 - ax) + r1[x1 * ch + c] * ax;
		acc[c] += top * (1 - ay) + bot * ay;
	}
}

static int taps_for(double footprint, int antialias)
{
	if (!antialias || !(footprint > 1.25))
		return 1;
	double n = ceil(footprint / 1.25);
	return n > 16 ? 16 : (int)n;
}

int gpu_pinhole_resample_ref(const gpu_image *src, const gpu_pinhole_cam *src_cam,
			     const gpu_pinhole_cam *view, int antialias, gpu_image *dst,
			     svt_err *err)
{
	if (!src || !src->data || !dst || !dst->data || !src_cam || !view)
		return svt_err_set(err, SVT_E_INPUT, "gpu_pinhole_resample_ref: NULL argument");
	if (src->channels < 1 || src->channels > 4 || dst->channels != src->channels ||
	    dst->width != view->width || dst->height != view->height || src->width < 1 ||
	    src->height < 1 || src->width != src_cam->width || src->height != src_cam->height ||
	    !(view->fx > 0) || !(view->fy > 0))
		return svt_err_set(err, SVT_E_INPUT,
				   "gpu_pinhole_resample_ref: sizes disagree (src %dx%dx%d, camera "
				   "%dx%d, view %dx%d, dst %dx%dx%d)",
				   src->width, src->height, src->channels, src_cam->width,
				   src_cam->height, view->width, view->height, dst->width,
				   dst->height, dst->channels);
	int ch = src->channels;
	for (int j = 0; j < dst->height; j++) {
		uint8_t *row = dst->data + (size_t)j * dst->stride;
		for (int i = 0; i < dst->width; i++) {
			double u0, v0, ux, vx, uy, vy;
			view_to_src(src_cam, view, i + 0.5, j + 0.5, &u0, &v0);
			view_to_src(src_cam, view, i + 1.5, j + 0.5, &ux, &vx);
			view_to_src(src_cam, view, i + 0.5, j + 1.5, &uy, &vy);
			double fpx = fmax(fabs(ux - u0), fabs(vx - v0));
			double fpy = fmax(fabs(uy - u0), fabs(vy - v0));
			int nx = taps_for(fpx, antialias), ny = taps_for(fpy, antialias);
			double acc[4] = {0, 0, 0, 0};
			for (int b = 0; b < ny; b++)
				for (int a = 0; a < nx; a++) {
					double us, vs;
					view_to_src(src_cam, view, i + (a + 0.5) / nx,
						    j + (b + 0.5) / ny, &us, &vs);
					tap(src, us, vs, acc);
				}
			double inv = 1.0 / (nx * ny);
			for (int c = 0; c < ch; c++) {
				double val = acc[c] * inv + 0.5;
				row[i * ch + c] = (uint8_t)(val < 0 ? 0 : val > 255 ? 255 : val);
			}
		}
	}
	return SVT_OK;
}
