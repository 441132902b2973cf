/* test_gpu.c: the equirectangular -> pinhole view against analytic cases (C reference, and the
 * dispatcher on whatever backend this machine has). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "geo/geo.h"
#include "gpu/gpu.h"


static gpu_image image_new(int w, int h, int ch)
{
	gpu_image g = {calloc((size_t)w * h * ch, 1), w, h, ch, (size_t)w * ch};
	cr_assert(g.data);
	return g;
}

/* Double-precision direction of output pixel (i, j) of view v, in the panorama frame. */
static void view_dir(const gpu_view *v, double u, double vv, double d[3])
{
	double x = (u - v->cx) / v->fx, y = (vv - v->cy) / v->fy;
	for (int k = 0; k < 3; k++)
		d[k] = v->R[3 * k] * x + v->R[3 * k + 1] * y + v->R[3 * k + 2];
	double n = sqrt(d[0] * d[0] + d[1] * d[1] + d[2] * d[2]);
	for (int k = 0; k < 3; k++)
		d[k] /= n;
}

static unsigned lcg(unsigned *s)
{
	*s = *s * 1664525u + 1013904223u;
	return *s >> 8;
}

Test(gpu_project, known_directions)
{
	const int W = 4096, H = 2048;
	double c, r;
	double fwd[3] = {0, 0, 1}, right[3] = {1, 0, 0}, up[3] = {0, -1, 0}, back[3] = {0, 0, -1};
	gpu_equirect_project(fwd, W, H, &c, &r);
	cr_expect(fabs(c - (W / 2 - 0.5)) < 1e-9 && fabs(r - (H / 2 - 0.5)) < 1e-9, "%f %f", c, r);
	gpu_equirect_project(right, W, H, &c, &r);
	cr_expect(fabs(c - (0.75 * W - 0.5)) < 1e-9 && fabs(r - (H / 2 - 0.5)) < 1e-9);
	gpu_equirect_project(up, W, H, &c, &r);
	cr_expect(fabs(r - (-0.5)) < 1e-9, "up lands on the top edge: row %f", r);
	gpu_equirect_project(back, W, H, &c, &r);
	cr_expect(fabs(c - (W - 0.5)) < 1e-9 || fabs(c - (-0.5)) < 1e-9, "back on the seam %f", c);
	/* 30 degrees left, 20 up. */
	double lon = -30 * M_PI / 180, lat = 20 * M_PI / 180;
	double d[3] = {cos(lat) * sin(lon), -sin(lat), cos(lat) * cos(lon)};
	gpu_equirect_project(d, W, H, &c, &r);
	cr_expect(fabs(c - ((-30.0 / 360 + 0.5) * W - 0.5)) < 1e-9);
	cr_expect(fabs(r - ((0.5 - 20.0 / 180) * H - 0.5)) < 1e-9);
}

Test(gpu_project, round_trip)
{
	unsigned s = 7;
	for (int n = 0; n < 10000; n++) {
		double col = (lcg(&s) % 1000000) / 1e6 * 8192 - 0.5;
		double row = (lcg(&s) % 1000000) / 1e6 * 4096 - 0.5;
		double d[3], c, r;
		gpu_equirect_unproject(col, row, 8192, 4096, d);
		cr_assert(fabs(d[0] * d[0] + d[1] * d[1] + d[2] * d[2] - 1) < 1e-12);
		gpu_equirect_project(d, 8192, 4096, &c, &r);
		double dc = fabs(c - col);
		if (dc > 4096)
			dc = 8192 - dc;
		/* At the poles the column is undefined; elsewhere both must round trip. */
		if (fabs(row + 0.5) > 1e-6 && fabs(row - 4095.5) > 1e-6)
			cr_assert(dc < 1e-6, "col %f -> %f", col, c);
		cr_assert(fabs(r - row) < 1e-6, "row %f -> %f", row, r);
	}
}

/* The kernels' float map agrees with the double-precision projection within 0.01 px for any
 * view: a known direction lands on its predicted pixel. */
Test(gpu_view, source_position_within_001px)
{
	const int W = 8192, H = 4096;
	unsigned s = 11;
	double worst = 0;
	for (int n = 0; n < 200; n++) {
		gpu_view v;
		gpu_view_pinhole(&v, 1280, 704, 30 + lcg(&s) % 120);
		gpu_view_rotation((double)(lcg(&s) % 3600) / 10 - 180, (double)(lcg(&s) % 1700) / 10 - 85,
				  (double)(lcg(&s) % 600) / 10 - 30, v.R);
		for (int m = 0; m < 50; m++) {
			double u = (lcg(&s) % 12800) / 10.0, vv = (lcg(&s) % 7040) / 10.0, d[3], c0, r0,
			       c1, r1;
			view_dir(&v, u, vv, d);
			gpu_equirect_project(d, W, H, &c0, &r0);
			/* Within 2 px of a pole the column is ill-conditioned (a row spans the whole
			 * circle); the row is still checked. */
			gpu_view_source_position(&v, W, H, u, vv, &c1, &r1);
			double dc = fabs(c1 - c0);
			if (dc > W / 2)
				dc = W - dc;
			if (r0 > 2 && r0 < H - 3) {
				cr_assert(dc < 0.01, "col %f vs %f", c1, c0);
				worst = fmax(worst, dc);
			}
			cr_assert(fabs(r1 - r0) < 0.01, "row %f vs %f", r1, r0);
			worst = fmax(worst, fabs(r1 - r0));
		}
	}
	cr_log_info("worst map error %.5f px", worst);
}

/* Pano = x coordinate (0..255): bilinear and Catmull-Rom reproduce linear content exactly, so
 * each output pixel reads its source column to the rounding of the output. */
static void gradient_case(gpu_interp interp)
{
	gpu_image src = image_new(256, 128, 1);
	for (int y = 0; y < 128; y++)
		for (int x = 0; x < 256; x++)
			src.data[y * 256 + x] = (uint8_t)x;
	gpu_view v;
	gpu_view_pinhole(&v, 160, 90, 60);
	gpu_view_rotation(10, 5, 3, v.R);
	v.interp = interp;
	gpu_image dst = image_new(160, 90, 1);
	svt_err err = {0};
	cr_assert_eq(gpu_view_from_equirect_ref(&src, &v, &dst, &err), 0, "%s", err.msg);
	for (int j = 0; j < 90; j++)
		for (int i = 0; i < 160; i++) {
			double d[3], c, r;
			view_dir(&v, i + 0.5, j + 0.5, d);
			gpu_equirect_project(d, 256, 128, &c, &r);
			cr_assert(c > 2 && c < 252);
			int got = dst.data[j * 160 + i];
			cr_assert(fabs(got - c) <= 0.5 + 0.01, "(%d,%d) %d vs %.3f", i, j, got, c);
		}
	free(src.data);
	free(dst.data);
}

Test(gpu_view, gradient_bilinear_exact) { gradient_case(GPU_INTERP_BILINEAR); }
Test(gpu_view, gradient_bicubic_exact) { gradient_case(GPU_INTERP_BICUBIC); }

/* A smooth marker at a known direction: its centroid in the view lands on the pixel predicted
 * by pinhole projection of that direction. */
Test(gpu_view, marker_lands_on_predicted_pixel)
{
	const int W = 2048, H = 1024;
	gpu_image src = image_new(W, H, 1);
	double lon = 25 * M_PI / 180, lat = 12 * M_PI / 180;
	double m[3] = {cos(lat) * sin(lon), -sin(lat), cos(lat) * cos(lon)};
	for (int y = 0; y < H; y++)
		for (int x = 0; x < W; x++) {
			double d[3];
			gpu_equirect_unproject(x, y, W, H, d);
			double a = acos(fmin(1, d[0] * m[0] + d[1] * m[1] + d[2] * m[2]));
			double sig = 1.0 * M_PI / 180;
			src.data[(size_t)y * W + x] = (uint8_t)lround(250 * exp(-0.5 * a * a / (sig * sig)));
		}
	gpu_view v;
	gpu_view_pinhole(&v, 320, 240, 70);
	gpu_view_rotation(20, 8, -4, v.R);
	gpu_image dst = image_new(320, 240, 1);
	svt_err err = {0};
	cr_assert_eq(gpu_view_from_equirect_ref(&src, &v, &dst, &err), 0, "%s", err.msg);
	/* Predicted pixel: x_cam = R^T m, then the pinhole. */
	double xc[3];
	for (int k = 0; k < 3; k++)
		xc[k] = v.R[k] * m[0] + v.R[3 + k] * m[1] + v.R[6 + k] * m[2];
	double pu = v.fx * xc[0] / xc[2] + v.cx, pv = v.fy * xc[1] / xc[2] + v.cy;
	double sw = 0, su = 0, sv = 0;
	for (int j = 0; j < 240; j++)
		for (int i = 0; i < 320; i++) {
			double w = dst.data[j * 320 + i];
			if (w < 3)
				continue; /* the flat floor would bias the centroid towards the centre */
			sw += w;
			su += w * (i + 0.5);
			sv += w * (j + 0.5);
		}
	cr_assert(sw > 0);
	/* The marker is not exactly symmetric in the image (perspective), so the centroid moves a
	 * little; a shift of the mapping by 0.05 px would show. */
	cr_expect(fabs(su / sw - pu) < 0.05 && fabs(sv / sw - pv) < 0.05,
		  "centroid (%.3f, %.3f), predicted (%.3f, %.3f)", su / sw, sv / sw, pu, pv);
	free(src.data);
	free(dst.data);
}

/* Pano whose content is a function of direction: 128 + 120 d (three channels), continuous
 * over the seam and the poles. Every view pixel must equal that function of its own ray. */
static gpu_image direction_pano(int W, int H)
{
	gpu_image src = image_new(W, H, 3);
	for (int y = 0; y < H; y++)
		for (int x = 0; x < W; x++) {
			double d[3];
			gpu_equirect_unproject(x, y, W, H, d);
			for (int k = 0; k < 3; k++)
				src.data[((size_t)y * W + x) * 3 + k] = (uint8_t)lround(128 + 120 * d[k]);
		}
	return src;
}

static void direction_case(gpu_image *src, double yaw, double pitch, double roll, double fov,
			   int aa, gpu_interp interp, double tol)
{
	gpu_view v;
	gpu_view_pinhole(&v, 200, 150, fov);
	gpu_view_rotation(yaw, pitch, roll, v.R);
	v.antialias = aa;
	v.interp = interp;
	gpu_image dst = image_new(200, 150, 3);
	svt_err err = {0};
	cr_assert_eq(gpu_view_from_equirect_ref(src, &v, &dst, &err), 0, "%s", err.msg);
	double worst = 0;
	for (int j = 0; j < 150; j++)
		for (int i = 0; i < 200; i++) {
			double d[3];
			view_dir(&v, i + 0.5, j + 0.5, d);
			for (int k = 0; k < 3; k++) {
				double e = fabs(dst.data[(j * 200 + i) * 3 + k] - (128 + 120 * d[k]));
				worst = fmax(worst, e);
				cr_assert(e <= tol, "yaw %g pitch %g: (%d,%d,%d) %d vs %.2f", yaw, pitch,
					  i, j, k, dst.data[(j * 200 + i) * 3 + k], 128 + 120 * d[k]);
			}
		}
	cr_log_info("yaw %g pitch %g: worst %.3f", yaw, pitch, worst);
	free(dst.data);
}

Test(gpu_view, function_of_direction_everywhere)
{
	gpu_image src = direction_pano(1024, 512);
	/* Straight ahead, across the seam (yaw 180), over each pole, rolled, bicubic. The
	 * tolerance covers the pano's own rounding (0.5) and curvature of the content between
	 * pixels. */
	direction_case(&src, 0, 0, 0, 90, 1, GPU_INTERP_BILINEAR, 1.0);
	direction_case(&src, 180, 0, 0, 90, 1, GPU_INTERP_BILINEAR, 1.0);
	direction_case(&src, -170, 30, 10, 100, 1, GPU_INTERP_BILINEAR, 1.0);
	direction_case(&src, 40, 90, 0, 100, 1, GPU_INTERP_BILINEAR, 1.0);
	direction_case(&src, 40, -90, 0, 100, 1, GPU_INTERP_BILINEAR, 1.0);
	direction_case(&src, 180, 80, 0, 60, 0, GPU_INTERP_BILINEAR, 1.0);
	direction_case(&src, 180, -75, 20, 120, 1, GPU_INTERP_BICUBIC, 1.0);
	free(src.data);
}

/* No black (or otherwise broken) column where the view crosses +-180 degrees: along the
 * equator row of a yaw 180 view of random texture, every output equals a bilinear sample
 * computed here in double precision with explicit wrap. */
Test(gpu_view, seam_and_yaw90_match_predicted_region)
{
	const int W = 514, H = 257; /* W = 2 mod 4: yaw 90 centre is a pixel centre; H odd */
	gpu_image src = image_new(W, H, 1);
	unsigned s = 3;
	for (int n = 0; n < W * H; n++)
		src.data[n] = (uint8_t)(lcg(&s) & 255);
	/* With and without antialiasing: the footprint test must take column differences the
	 * short way round the seam, or the seam pixels would be needlessly supersampled. */
	double yaws[4] = {90, 180, 90, 179.7}; /* 179.7: the seam off a pixel centre */
	for (int t = 0; t < 4; t++) {
		gpu_view v;
		/* Odd sizes put the centre row and column on the axis. 141 px over 90 degrees samples
		 * the 514-px pano at 1.16 source px per pixel: just under the prefilter threshold. */
		int vw = t >= 2 ? 141 : 301;
		gpu_view_pinhole(&v, vw, 101, 90);
		gpu_view_rotation(yaws[t], 0, 0, v.R);
		v.antialias = t >= 2;
		gpu_image dst = image_new(vw, 101, 1);
		svt_err err = {0};
		cr_assert_eq(gpu_view_from_equirect_ref(&src, &v, &dst, &err), 0, "%s", err.msg);
		int jc = 50;
		for (int i = 0; i < vw; i++) {
			double d[3], c, r;
			view_dir(&v, i + 0.5, jc + 0.5, d);
			gpu_equirect_project(d, W, H, &c, &r);
			cr_assert(fabs(r - (H - 1) / 2.0) < 1e-6);
			int x0 = (int)floor(c);
			double f = c - x0;
			int xa = ((x0 % W) + W) % W, xb = (xa + 1) % W;
			double want = (1 - f) * src.data[(H / 2) * W + xa] + f * src.data[(H / 2) * W + xb];
			/* Rounding (0.5) plus the 7-bit weights (tap positions within 1/256 px). */
			double tol = 0.5 + abs(src.data[(H / 2) * W + xb] - src.data[(H / 2) * W + xa]) / 256.0 + 1e-3;
			cr_assert(fabs(dst.data[jc * vw + i] - want) <= tol, "yaw %g i %d: %d vs %.2f",
				  yaws[t], i, dst.data[jc * vw + i], want);
		}
		if (yaws[t] == 90) /* yaw 90 centre pixel: exactly source pixel (385, 128) */
			cr_assert_eq(dst.data[jc * vw + vw / 2], src.data[128 * W + 385]);
		free(dst.data);
	}
	free(src.data);
}

/* Taps over a pole read the row mirrored at column + W/2, taps past the last column column 0:
 * a 1-pixel view reads a position between row 0 and the row "above" it. */
Test(gpu_view, taps_wrap_over_pole_and_seam)
{
	const int W = 8, H = 4;
	gpu_image src = image_new(W, H, 1);
	src.data[0 * W + 6] = 255; /* row 0, the column opposite column 2 */
	src.data[3 * W + 0] = 200; /* row 3 (bottom), column 0: right of column 7 */
	struct {
		double lon_col, lat_deg, want;
	} cases[] = {
		/* lat 80: row -0.2778, weight 0.2778 on the mirrored tap (row 0, col 6). */
		{2, 80, 0.27777778 * 255},
		/* lat -80 at column 7.5: half of the wrapped bottom tap (row 3, col 0) plus the
		 * taps below the bottom, mirrored to row 3 at columns 3 and 4 (zero). */
		{7.5, -80, 0.5 * (1 - 0.27777778) * 200},
	};
	for (size_t n = 0; n < sizeof(cases) / sizeof(cases[0]); n++) {
		gpu_view v;
		gpu_view_pinhole(&v, 1, 1, 1);
		double lon = ((cases[n].lon_col + 0.5) / W - 0.5) * 360;
		gpu_view_rotation(lon, cases[n].lat_deg, 0, v.R);
		v.antialias = 0;
		uint8_t out = 0;
		gpu_image dst = {&out, 1, 1, 1, 1};
		svt_err err = {0};
		cr_assert_eq(gpu_view_from_equirect_ref(&src, &v, &dst, &err), 0, "%s", err.msg);
		/* Rounding plus 7-bit weights: 1/256 px of a 255-step edge. */
		cr_expect(fabs(out - cases[n].want) <= 0.5 + 255 / 256.0 + 1e-3, "case %zu: %d vs %.2f", n, out,
			  cases[n].want);
	}
	free(src.data);
}

/* 1-px stripes seen from far away: the box prefilter averages them to mid grey; without it the
 * view aliases (shows the test can fail). */
Test(gpu_view, antialias_prefilters_decimation)
{
	const int W = 2048, H = 1024;
	gpu_image src = image_new(W, H, 1);
	for (int y = 0; y < H; y++)
		for (int x = 0; x < W; x++)
			src.data[y * W + x] = (x + y) & 1 ? 255 : 0;
	double sd[2];
	for (int aa = 0; aa < 2; aa++) {
		gpu_view v;
		gpu_view_pinhole(&v, 64, 48, 90); /* footprint ~ 10 source px */
		v.antialias = aa;
		gpu_image dst = image_new(64, 48, 1);
		svt_err err = {0};
		cr_assert_eq(gpu_view_from_equirect_ref(&src, &v, &dst, &err), 0, "%s", err.msg);
		double m = 0, m2 = 0;
		for (int n = 0; n < 64 * 48; n++) {
			m += dst.data[n];
			m2 += (double)dst.data[n] * dst.data[n];
		}
		m /= 64 * 48;
		sd[aa] = sqrt(m2 / (64 * 48) - m * m);
		if (aa)
			cr_expect(fabs(m - 127.5) < 3, "mean %f", m);
		free(dst.data);
	}
	cr_expect(sd[1] < 12, "antialiased view still aliases: sd %.1f", sd[1]);
	cr_expect(sd[0] > 40, "without the prefilter the view should alias: sd %.1f", sd[0]);
	free(src.data);
}

/* The view rotation equals geo's convention: Base(0)^T Base(yaw) Rx(pitch) Rz(roll). */
Test(gpu_view, rotation_matches_geo)
{
	double yaw = 37, pitch = -12, roll = 5, R[9], B0[9], Bv[9];
	gpu_view_rotation(yaw, pitch, roll, R);
	geo_rot_from_hpr(0, 0, 0, B0);
	geo_rot_from_hpr(yaw, pitch, roll, Bv);
	for (int i = 0; i < 3; i++)
		for (int k = 0; k < 3; k++) {
			double s = 0;
			for (int m = 0; m < 3; m++)
				s += B0[3 * m + i] * Bv[3 * m + k];
			cr_expect(fabs(s - R[3 * i + k]) < 1e-12, "R[%d][%d] %f vs %f", i, k, R[3 * i + k],
				  s);
		}
	/* yaw > 0 turns the forward axis to the right (+x), pitch > 0 up (-y). */
	gpu_view_rotation(90, 0, 0, R);
	cr_expect(fabs(R[2] - 1) < 1e-12);
	gpu_view_rotation(0, 90, 0, R);
	cr_expect(fabs(R[5] + 1) < 1e-12);
}

Test(gpu_ctx, backends_and_dispatch)
{
	svt_err err = {0};
	gpu_ctx *c = NULL;
	cr_assert_eq(gpu_ctx_create(GPU_MODE_CPU, &c, &err), 0, "%s", err.msg);
	cr_expect_str_eq(gpu_ctx_backend(c), "cpu");
	cr_expect(!gpu_ctx_is_cuda(c));
	gpu_ctx_destroy(c);
	gpu_ctx_destroy(NULL);

	gpu_ctx *r = NULL;
	int rc = gpu_ctx_create(GPU_MODE_REQUIRE, &r, &err);
	if (gpu_device_available()) {
		cr_expect_eq(rc, 0, "%s", err.msg);
		cr_expect(gpu_ctx_is_cuda(r));
	} else {
		cr_expect_eq(rc, SVT_E_NODEV);
		cr_expect_null(r);
		cr_expect(strlen(err.msg) > 0);
	}
	gpu_ctx_destroy(r);

	/* AUTO dispatch (CUDA or C), with 1 and 3 threads, equals the reference within 1 LSB. */
	gpu_image src = direction_pano(512, 256);
	gpu_view v;
	gpu_view_pinhole(&v, 97, 61, 80);
	gpu_view_rotation(170, 50, 0, v.R);
	gpu_image want = image_new(97, 61, 3), got = image_new(97, 61, 3);
	cr_assert_eq(gpu_view_from_equirect_ref(&src, &v, &want, &err), 0, "%s", err.msg);
	cr_assert_eq(gpu_ctx_create(GPU_MODE_AUTO, &c, &err), 0, "%s", err.msg);
	for (int t = 1; t <= 3; t += 2) {
		gpu_ctx_set_cpu_threads(c, t);
		memset(got.data, 0, 97 * 61 * 3);
		cr_assert_eq(gpu_view_from_equirect(c, &src, &v, &got, &err), 0, "%s", err.msg);
		for (int n = 0; n < 97 * 61 * 3; n++) {
			if (gpu_ctx_is_cuda(c))
				cr_assert(abs(got.data[n] - want.data[n]) <= 1);
			else
				cr_assert_eq(got.data[n], want.data[n], "threads %d byte %d", t, n);
		}
	}
	gpu_ctx_destroy(c);
	free(src.data);
	free(want.data);
	free(got.data);
}

Test(gpu_view, bad_arguments)
{
	svt_err err = {0};
	gpu_image src = image_new(64, 32, 3), dst = image_new(16, 16, 3);
	gpu_view v;
	gpu_view_pinhole(&v, 16, 16, 90);
	dst.channels = 1;
	cr_expect_eq(gpu_view_from_equirect_ref(&src, &v, &dst, &err), SVT_E_INPUT);
	cr_expect(strlen(err.msg) > 0);
	dst.channels = 3;
	v.fx = 0;
	cr_expect_eq(gpu_view_from_equirect_ref(&src, &v, &dst, &err), SVT_E_INPUT);
	gpu_view_pinhole(&v, 16, 16, 90);
	v.R[4] = NAN;
	cr_expect_eq(gpu_view_from_equirect_ref(&src, &v, &dst, &err), SVT_E_INPUT);
	gpu_view_pinhole(&v, 16, 16, 90);
	src.stride = 10;
	cr_expect_eq(gpu_view_from_equirect_ref(&src, &v, &dst, &err), SVT_E_INPUT);
	free(src.data);
	free(dst.data);
}

/* A matrix that is not a rotation must be refused before any sampling: entries of 3e38
 * overflowed the float map and once sent the C path's taps outside the panorama. Checked on
 * every view entry (colour, cubemap through its faces, depth) and on both dispatch modes. */
Test(gpu_view, rotation_must_be_orthonormal)
{
	svt_err err = {0};
	gpu_image src = image_new(64, 32, 3), dst = image_new(16, 16, 3);
	gpu_ctx *ctx = NULL;
	cr_assert_eq(gpu_ctx_create(GPU_MODE_AUTO, &ctx, &err), 0, "%s", err.msg);
	uint16_t dsrc[64 * 32];
	for (int k = 0; k < 64 * 32; k++)
		dsrc[k] = 5000;
	gpu_depth d = {.data = dsrc, .width = 64, .height = 32, .stride = 64 * 2, .scale = 0.001,
		       .min_m = 0.1, .max_m = 100, .model = GPU_DEPTH_EQUIRECT, .step = 1};
	float depth[16 * 16];
	static const double bad[][9] = {
		{3e38, 3e38, 3e38, 3e38, 3e38, 3e38, 3e38, 3e38, 3e38},
		{2, 0, 0, 0, 2, 0, 0, 0, 2},       /* scales */
		{1, 0, 0, 0, 1, 0, 0, 0, 0},       /* singular */
		{1, 0.01, 0, 0, 1, 0, 0, 0, 1},    /* shear, 1e-2 off */
		{1, 0, 0, 0, 1, 0, 0, 0, 1 + 1e-5}, /* just outside the 1e-6 tolerance */
	};
	for (size_t b = 0; b < sizeof(bad) / sizeof(bad[0]); b++) {
		gpu_view v;
		gpu_view_pinhole(&v, 16, 16, 90);
		memcpy(v.R, bad[b], sizeof(v.R));
		err.msg[0] = 0;
		cr_expect_eq(gpu_view_from_equirect_ref(&src, &v, &dst, &err), SVT_E_INPUT, "case %zu",
			     b);
		cr_expect(strstr(err.msg, "orthonormal") != NULL, "case %zu: %s", b, err.msg);
		cr_expect_eq(gpu_view_from_equirect(ctx, &src, &v, &dst, &err), SVT_E_INPUT);
		cr_expect_eq(gpu_view_depth_from_equirect(ctx, &d, &v, depth, 16 * sizeof(float), &err),
			     SVT_E_INPUT, "depth, case %zu", b);
		cr_expect_eq(gpu_view_depth_from_equirect_ref(&d, &v, depth, 16 * sizeof(float), &err),
			     SVT_E_INPUT, "depth ref, case %zu", b);
	}
	/* Real rotations pass, including a reflection-free one stored in float precision. */
	gpu_view v;
	gpu_view_pinhole(&v, 16, 16, 90);
	gpu_view_rotation(37, -12, 5, v.R);
	for (int k = 0; k < 9; k++)
		v.R[k] = (float)v.R[k];
	cr_expect_eq(gpu_view_from_equirect(ctx, &src, &v, &dst, &err), 0, "%s", err.msg);
	cr_expect_eq(gpu_view_depth_from_equirect(ctx, &d, &v, depth, 16 * sizeof(float), &err), 0,
		     "%s", err.msg);
	gpu_ctx_destroy(ctx);
	free(src.data);
	free(dst.data);
}
