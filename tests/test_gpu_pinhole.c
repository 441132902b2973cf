/* test_gpu_pinhole.c: perspective frames undistorted, resized and centre-cropped, against ground
 * truth: a synthetic photo rendered through a known K and OpenCV distortion (the pattern is an
 * analytic function of the ideal ray, so every output pixel has a known value), and a real
 * photo (opensfm_lund) downscaled by exactly 4, whose box average is computed here. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>

#include "gpu/gpu.h"
#include "ingest/ingest.h"
#include "test_ingest_util.h"

static double ray_pattern(double x, double y)
{
	return 128.0 + 100.0 * sin(2 * M_PI * x / 0.4) * cos(2 * M_PI * y / 0.5);
}

/* Ideal point from a distorted one, by the fixed-point iteration of OpenCV's undistortPoints
 * (written here independently of the library's forward model). */
static void undistort_pt(const gpu_pinhole_cam *c, double u, double v, double *x, double *y)
{
	double xd = (u - c->cx) / c->fx, yd = (v - c->cy) / c->fy;
	double xx = xd, yy = yd;
	for (int it = 0; it < 200; it++) {
		double r2 = xx * xx + yy * yy;
		double rad = 1 + c->k1 * r2 + c->k2 * r2 * r2 + c->k3 * r2 * r2 * r2;
		double dx = 2 * c->p1 * xx * yy + c->p2 * (r2 + 2 * xx * xx);
		double dy = c->p1 * (r2 + 2 * yy * yy) + 2 * c->p2 * xx * yy;
		xx = (xd - dx) / rad;
		yy = (yd - dy) / rad;
	}
	*x = xx;
	*y = yy;
}

static void check_synthetic(gpu_pinhole_cam cam, int vw, int vh, double max_mean, double max_abs)
{
	gpu_image src = {.width = cam.width, .height = cam.height, .channels = 1,
			 .stride = (size_t)cam.width};
	src.data = malloc(src.stride * src.height);
	for (int j = 0; j < src.height; j++)
		for (int i = 0; i < src.width; i++) {
			double x, y;
			undistort_pt(&cam, i + 0.5, j + 0.5, &x, &y);
			src.data[(size_t)j * src.stride + i] = (uint8_t)lround(ray_pattern(x, y));
		}
	gpu_pinhole_cam view;
	svt_err e = {0};
	cr_assert_eq(gpu_pinhole_fit(&cam, vw, vh, &view, &e), 0, "%s", e.msg);
	cr_assert(view.k1 == 0 && view.p1 == 0, "the view is undistorted");
	gpu_image dst = {.width = vw, .height = vh, .channels = 1, .stride = (size_t)vw};
	dst.data = malloc(dst.stride * vh);
	cr_assert_eq(gpu_pinhole_resample_ref(&src, &cam, &view, 1, &dst, &e), 0, "%s", e.msg);
	double sum = 0, worst = 0;
	for (int j = 0; j < vh; j++)
		for (int i = 0; i < vw; i++) {
			double x = (i + 0.5 - view.cx) / view.fx, y = (j + 0.5 - view.cy) / view.fy;
			double d = fabs(dst.data[(size_t)j * dst.stride + i] - ray_pattern(x, y));
			sum += d;
			worst = fmax(worst, d);
		}
	double mean = sum / (vw * vh);
	cr_assert(mean < max_mean && worst < max_abs, "mean %.3f max %.3f (k1 %g)", mean, worst,
		  cam.k1);
	free(src.data);
	free(dst.data);
}

Test(pinhole, barrel_distortion_matches_analytic)
{
	gpu_pinhole_cam c = {.width = 800, .height = 600, .fx = 620, .fy = 615, .cx = 404,
			     .cy = 297, .k1 = -0.18, .k2 = 0.04, .p1 = 0.0012, .p2 = -0.0009};
	check_synthetic(c, 400, 256, 1.0, 6.0); /* downscale about 2x and a crop to 25:16 */
}

Test(pinhole, pincushion_zooms_in_until_the_border_is_real)
{
	/* kapture_berlin's RADIAL lens (k1 > 0 pushes the border outwards) at a quarter size */
	gpu_pinhole_cam c = {.width = 816, .height = 612, .fx = 3147.3191028463957 / 4,
			     .fy = 3147.3191028463957 / 4, .cx = 408, .cy = 306,
			     .k1 = 0.022672104712876825, .k2 = -0.0009966053789495556};
	gpu_pinhole_cam v;
	svt_err e = {0};
	cr_assert_eq(gpu_pinhole_fit(&c, 256, 192, &v, &e), 0, "%s", e.msg);
	double s = 256.0 / 816;
	cr_assert(v.fx > c.fx * s * 1.001, "zoomed: %f vs %f", v.fx, c.fx * s);
	cr_assert(v.fx < c.fx * s * 1.05, "but not much: %f vs %f", v.fx, c.fx * s);
	/* the view's corners, through the lens (test's own inverse), land inside the photo */
	double corners[4][2] = {{0, 0}, {256, 0}, {0, 192}, {256, 192}};
	for (int k = 0; k < 4; k++) {
		double x = (corners[k][0] - v.cx) / v.fx, y = (corners[k][1] - v.cy) / v.fy;
		double r2 = x * x + y * y, rad = 1 + c.k1 * r2 + c.k2 * r2 * r2;
		double u = c.fx * x * rad + c.cx, w = c.fy * y * rad + c.cy;
		cr_assert(u >= -1e-3 && u <= 816 + 1e-3 && w >= -1e-3 && w <= 612 + 1e-3,
			  "corner %d -> %f %f", k, u, w);
		cr_assert(fabs(u - (k & 1 ? 816 : 0)) < 1.0 || fabs(w - (k & 2 ? 612 : 0)) < 1.0,
			  "corner %d -> %f %f is tight on the border", k, u, w);
	}
	check_synthetic(c, 256, 192, 1.5, 8.0);
}

Test(pinhole, upscale_without_distortion)
{
	gpu_pinhole_cam c = {.width = 320, .height = 240, .fx = 300, .fy = 300, .cx = 160,
			     .cy = 120};
	check_synthetic(c, 512, 512, 1.0, 4.0); /* 1.6x up and a square crop */
}

/* opensfm_lund/images/01.jpg (1024x768, no distortion) to 256x192: exactly a 4x4 box mean. */
Test(pinhole, real_photo_box_downscale)
{
	ingest_decoder *d = NULL;
	ingest_image img = {0};
	svt_err e = {0};
	const char *path = real_path("opensfm_lund/images/01.jpg");
	cr_assert_eq(ingest_decoder_create(&d, &e), 0, "%s", e.msg);
	cr_assert_eq(ingest_decode_file(d, path, NULL, &img, NULL, &e), 0, "%s", e.msg);
	cr_assert_eq(img.width, 1024);
	gpu_image src = {.data = img.data, .width = img.width, .height = img.height,
			 .channels = img.channels, .stride = img.stride};
	gpu_pinhole_cam c = {.width = 1024, .height = 768, .fx = 995.5, .fy = 995.5, .cx = 512,
			     .cy = 384};
	gpu_pinhole_cam v;
	cr_assert_eq(gpu_pinhole_fit(&c, 256, 192, &v, &e), 0, "%s", e.msg);
	cr_assert_float_eq(v.fx, 995.5 / 4, 1e-9);
	cr_assert_float_eq(v.cx, 128, 1e-9);
	cr_assert_float_eq(v.cy, 96, 1e-9);
	gpu_image dst = {.width = 256, .height = 192, .channels = 3, .stride = 256 * 3};
	dst.data = malloc(dst.stride * 192);
	cr_assert_eq(gpu_pinhole_resample_ref(&src, &c, &v, 1, &dst, &e), 0, "%s", e.msg);
	int worst = 0;
	for (int j = 0; j < 192; j++)
		for (int i = 0; i < 256; i++)
			for (int ch = 0; ch < 3; ch++) {
				int s = 0;
				for (int b = 0; b < 4; b++)
					for (int a = 0; a < 4; a++)
						s += img.data[(size_t)(4 * j + b) * img.stride +
							      (4 * i + a) * 3 + ch];
				int want = (s + 8) / 16;
				int got = dst.data[(size_t)j * dst.stride + i * 3 + ch];
				worst = abs(got - want) > worst ? abs(got - want) : worst;
			}
	cr_assert(worst <= 1, "worst %d", worst);
	free(dst.data);
	ingest_image_free(&img);
	ingest_decoder_destroy(d);
}

Test(pinhole, refuses_mismatched_sizes)
{
	uint8_t px[12] = {0};
	gpu_image src = {.data = px, .width = 2, .height = 2, .channels = 3, .stride = 6};
	gpu_image dst = {.data = px, .width = 2, .height = 2, .channels = 1, .stride = 2};
	gpu_pinhole_cam c = {.width = 2, .height = 2, .fx = 2, .fy = 2, .cx = 1, .cy = 1};
	svt_err e = {0};
	cr_assert_eq(gpu_pinhole_resample_ref(&src, &c, &c, 1, &dst, &e), SVT_E_INPUT);
	gpu_pinhole_cam bad = c, v;
	bad.fx = 0;
	cr_assert_eq(gpu_pinhole_fit(&bad, 4, 4, &v, &e), SVT_E_INPUT);
}

/* The same photo to a non-integer scale (1024x768 -> 300x225, 3.41x) against an independent
 * resampler: Pillow's BOX filter (exact area weights) under Debian's /usr/bin/python3. The
 * kernel's 3x3-tap box prefilter approximates the area mean; on this real photo they agree
 * to within a level on average. Skips when Pillow is not there. */
Test(pinhole, real_photo_matches_pillow_box)
{
	const char *path = real_path("opensfm_lund/images/01.jpg");
	if (system("/usr/bin/python3 -c 'import PIL' 2>/dev/null") != 0)
		cr_skip_test("/usr/bin/python3 has no Pillow (python3-pil): comparison skipped");
	char out[64], cmd[1024];
	snprintf(out, sizeof(out), "/tmp/svt-pinhole-pil-%d.rgb", (int)getpid());
	snprintf(cmd, sizeof(cmd),
		 "/usr/bin/python3 -c \"from PIL import Image; "
		 "im = Image.open('%s').convert('RGB').resize((300, 225), Image.BOX); "
		 "open('%s', 'wb').write(im.tobytes())\"",
		 path, out);
	cr_assert_eq(system(cmd), 0, "%s", cmd);
	size_t n = 0;
	uint8_t *pil = slurp(out, &n);
	unlink(out);
	cr_assert_eq(n, 300 * 225 * 3);

	ingest_decoder *d = NULL;
	ingest_image img = {0};
	svt_err e = {0};
	cr_assert_eq(ingest_decoder_create(&d, &e), 0, "%s", e.msg);
	cr_assert_eq(ingest_decode_file(d, path, NULL, &img, NULL, &e), 0, "%s", e.msg);
	gpu_image src = {.data = img.data, .width = img.width, .height = img.height,
			 .channels = 3, .stride = img.stride};
	gpu_pinhole_cam c = {.width = 1024, .height = 768, .fx = 995.5, .fy = 995.5, .cx = 512,
			     .cy = 384};
	gpu_pinhole_cam v;
	cr_assert_eq(gpu_pinhole_fit(&c, 300, 225, &v, &e), 0, "%s", e.msg);
	cr_assert_float_eq(v.fx, 995.5 * 300 / 1024, 1e-9);
	gpu_image dst = {.width = 300, .height = 225, .channels = 3, .stride = 900};
	dst.data = malloc(900 * 225);
	cr_assert_eq(gpu_pinhole_resample_ref(&src, &c, &v, 1, &dst, &e), 0, "%s", e.msg);
	double sum = 0;
	int worst = 0;
	for (size_t i = 0; i < n; i++) {
		int dd = abs((int)dst.data[i] - (int)pil[i]);
		sum += dd;
		worst = dd > worst ? dd : worst;
	}
	double mean = sum / n;
	cr_assert(mean < 1.5, "mean |kernel - Pillow BOX| %.3f (max %d)", mean, worst);
	/* and without the prefilter it is plainly worse: the antialiasing does something */
	cr_assert_eq(gpu_pinhole_resample_ref(&src, &c, &v, 0, &dst, &e), 0, "%s", e.msg);
	double sum0 = 0;
	for (size_t i = 0; i < n; i++)
		sum0 += abs((int)dst.data[i] - (int)pil[i]);
	cr_assert(sum0 / n > 1.5 * mean, "aliased %.3f vs prefiltered %.3f", sum0 / n, mean);
	free(pil);
	free(dst.data);
	ingest_image_free(&img);
	ingest_decoder_destroy(d);
}
