/* test_gpu_kernels.c: the kernels beyond the perspective view (cubemap, tensors, Plucker rays,
 * depth -> points, voxels, bird's-eye rasters, z-buffer) against analytic cases, on the C
 * reference and through the dispatcher. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "geo/geo.h"
#include "gpu/gpu.h"

static unsigned lcg(unsigned *s)
{
	*s = *s * 1664525u + 1013904223u;
	return *s >> 8;
}

/* ---- conversions --------------------------------------------------------------------------- */

Test(gpu_tensor, half_and_bfloat_conversions)
{
	cr_expect_eq(gpu_f32_to_f16(1.0f), 0x3c00);
	cr_expect_eq(gpu_f32_to_f16(-2.0f), 0xc000);
	cr_expect_eq(gpu_f32_to_f16(65504.0f), 0x7bff);
	cr_expect_eq(gpu_f32_to_f16(65520.0f), 0x7c00, "rounds to Inf");
	cr_expect_eq(gpu_f32_to_f16(0.1f), 0x2e66);
	cr_expect_eq(gpu_f32_to_f16(5.9604645e-8f), 0x0001, "smallest subnormal");
	cr_expect_eq(gpu_f32_to_f16(2.9e-8f), 0x0000, "below half the smallest subnormal");
	cr_expect_eq(gpu_f32_to_f16(1.0f + 1.0f / 2048), 0x3c00, "tie to even (down)");
	cr_expect_eq(gpu_f32_to_f16(1.0f + 3.0f / 2048), 0x3c02, "tie to even (up)");
	cr_expect(isnan(gpu_f16_to_f32(gpu_f32_to_f16(NAN))));
	cr_expect(isinf(gpu_f16_to_f32(gpu_f32_to_f16(INFINITY))));
	/* Every finite half survives half -> float -> half. */
	for (unsigned h = 0; h < 65536; h++) {
		if ((h & 0x7c00) == 0x7c00)
			continue;
		cr_assert_eq(gpu_f32_to_f16(gpu_f16_to_f32((uint16_t)h)), h, "half 0x%04x", h);
	}
	cr_expect_eq(gpu_f32_to_bf16(1.0f), 0x3f80);
	float t;
	uint32_t u = 0x3f808000; /* tie: even stays */
	memcpy(&t, &u, 4);
	cr_expect_eq(gpu_f32_to_bf16(t), 0x3f80);
	u = 0x3f818000; /* tie: odd rounds up */
	memcpy(&t, &u, 4);
	cr_expect_eq(gpu_f32_to_bf16(t), 0x3f82);
	cr_expect(isnan(gpu_bf16_to_f32(gpu_f32_to_bf16(NAN))));
	cr_expect_eq(gpu_bf16_to_f32(gpu_f32_to_bf16(3.0f)), 3.0f);
}

/* ---- tensors ------------------------------------------------------------------------------- */

Test(gpu_tensor, normalise_and_layout)
{
	uint8_t px[4 * 3 * 3];
	for (int k = 0; k < 12; k++) {
		px[3 * k] = 10;
		px[3 * k + 1] = 128;
		px[3 * k + 2] = 255;
	}
	gpu_image src = {px, 4, 3, 3, 12};
	float mean[3] = {0.485f, 0.456f, 0.406f}, sd[3] = {0.229f, 0.224f, 0.225f};
	float out[36];
	svt_err err = {0};
	cr_assert_eq(gpu_tensor_from_image_ref(&src, 4, 3, mean, sd, GPU_DTYPE_F32, out, &err), 0,
		     "%s", err.msg);
	double v[3] = {10, 128, 255};
	for (int c = 0; c < 3; c++)
		for (int k = 0; k < 12; k++)
			cr_assert(fabs(out[c * 12 + k] - (v[c] / 255 - mean[c]) / sd[c]) < 1e-5,
				  "c %d k %d: %f", c, k, out[c * 12 + k]);
	uint16_t h[36], b[36];
	cr_assert_eq(gpu_tensor_from_image_ref(&src, 4, 3, mean, sd, GPU_DTYPE_F16, h, &err), 0);
	cr_assert_eq(gpu_tensor_from_image_ref(&src, 4, 3, mean, sd, GPU_DTYPE_BF16, b, &err), 0);
	for (int k = 0; k < 36; k++) {
		cr_assert_eq(h[k], gpu_f32_to_f16(out[k]));
		cr_assert_eq(b[k], gpu_f32_to_bf16(out[k]));
	}
	cr_expect_eq(gpu_tensor_from_image_ref(&src, 4, 3, mean, (float[]){1, 0, 1}, GPU_DTYPE_F32,
					       out, &err),
		     SVT_E_INPUT, "std 0 refused");
}

/* Horizontal gradient src(x) = x: identity size is exact, a 2x shrink is the exact mean of
 * each pixel pair (two sub-samples), a 1.5x enlargement interpolates linearly. */
Test(gpu_tensor, resize_gradient)
{
	const int W = 256, H = 8;
	uint8_t *px = malloc(W * H);
	for (int y = 0; y < H; y++)
		for (int x = 0; x < W; x++)
			px[y * W + x] = (uint8_t)x;
	gpu_image src = {px, W, H, 1, W};
	float mean[1] = {0}, sd[1] = {1.0f / 255}; /* output = raw value */
	float out[384 * 12];
	svt_err err = {0};
	cr_assert_eq(gpu_tensor_from_image_ref(&src, W, H, mean, sd, GPU_DTYPE_F32, out, &err), 0);
	for (int x = 0; x < W; x++)
		cr_assert(fabs(out[3 * W + x] - x) < 1e-3, "identity x %d: %f", x, out[3 * W + x]);
	cr_assert_eq(gpu_tensor_from_image_ref(&src, W / 2, H / 2, mean, sd, GPU_DTYPE_F32, out,
					       &err),
		     0);
	for (int x = 0; x < W / 2; x++)
		cr_assert(fabs(out[x] - (2 * x + 0.5)) < 1e-3, "shrink x %d: %f", x, out[x]);
	cr_assert_eq(gpu_tensor_from_image_ref(&src, 384, 12, mean, sd, GPU_DTYPE_F32, out, &err), 0);
	for (int x = 0; x < 384; x++) {
		double sx = fmin(fmax((x + 0.5) * W / 384.0 - 0.5, 0), W - 1);
		cr_assert(fabs(out[5 * 384 + x] - sx) < 2e-3, "enlarge x %d: %f vs %f", x,
			  out[5 * 384 + x], sx);
	}
	free(px);
}

/* ---- Plucker -------------------------------------------------------------------------------- */

static void w2c_from(const double Rc2w[9], const double C[3], double w2c[16])
{
	memset(w2c, 0, 16 * sizeof(double));
	for (int i = 0; i < 3; i++) {
		for (int j = 0; j < 3; j++)
			w2c[4 * i + j] = Rc2w[3 * j + i];
		w2c[4 * i + 3] = -(Rc2w[i] * C[0] + Rc2w[3 + i] * C[1] + Rc2w[6 + i] * C[2]);
	}
	w2c[15] = 1;
}

Test(gpu_rays, plucker_analytic)
{
	double R[9], C[3] = {1.5, -2, 0.7}, w2c[32], K[8] = {100, 110, 64, 48, 50, 50, 32, 24};
	gpu_view_rotation(30, -10, 5, R);
	w2c_from(R, C, w2c);
	double I[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1}, O[3] = {0, 0, 0};
	w2c_from(I, O, w2c + 16);
	int W = 128, H = 96;
	float *out = malloc(sizeof(float) * 2 * 6 * W * H);
	svt_err err = {0};
	cr_assert_eq(gpu_plucker_rays_ref(w2c, K, 2, W, H, 1, GPU_DTYPE_F32, out, &err), 0, "%s",
		     err.msg);
	size_t plane = (size_t)W * H;
	for (int j = 0; j < H; j += 7)
		for (int i = 0; i < W; i += 5) {
			float *p = out + (size_t)j * W + i;
			double m[3] = {p[0], p[plane], p[2 * plane]}, d[3] = {p[3 * plane], p[4 * plane],
									      p[5 * plane]};
			double dn = sqrt(d[0] * d[0] + d[1] * d[1] + d[2] * d[2]);
			cr_assert(fabs(dn - 1) < 1e-6);
			cr_assert(fabs(m[0] * d[0] + m[1] * d[1] + m[2] * d[2]) < 1e-5, "m.d = 0");
			double cm[3] = {C[1] * d[2] - C[2] * d[1], C[2] * d[0] - C[0] * d[2],
					C[0] * d[1] - C[1] * d[0]};
			for (int k = 0; k < 3; k++)
				cr_assert(fabs(cm[k] - m[k]) < 1e-5);
			/* C + 4 d projects back onto the pixel centre. */
			double X[3] = {C[0] + 4 * d[0], C[1] + 4 * d[1], C[2] + 4 * d[2]}, xc[3];
			for (int r = 0; r < 3; r++)
				xc[r] = w2c[4 * r] * X[0] + w2c[4 * r + 1] * X[1] + w2c[4 * r + 2] * X[2] +
					w2c[4 * r + 3];
			cr_assert(fabs(K[0] * xc[0] / xc[2] + K[2] - (i + 0.5)) < 1e-3);
			cr_assert(fabs(K[1] * xc[1] / xc[2] + K[3] - (j + 0.5)) < 1e-3);
		}
	/* Camera 2 (identity at the origin): moment 0, centre pixel (32, 24) looks along +z. */
	float *q = out + 6 * plane;
	cr_expect(fabs(q[5 * plane + 23 * W + 31] - 0.999906) < 1e-4);
	for (int k = 0; k < 3; k++)
		cr_expect(fabs(q[k * plane + 23 * W + 31]) < 1e-7);
	/* Patch resolution: patch 16 gives 8 x 6 positions at patch centres. */
	uint16_t *ph = malloc(sizeof(uint16_t) * 2 * 6 * 8 * 6);
	cr_assert_eq(gpu_plucker_rays_ref(w2c, K, 2, W, H, 16, GPU_DTYPE_BF16, ph, &err), 0);
	/* Patch (2, 1) centre = pixel (40, 24) - 0.5. */
	int ii = 40, jj = 24;
	for (int k = 0; k < 6; k++)
		cr_expect(fabs(gpu_bf16_to_f32(ph[k * 48 + 1 * 8 + 2]) -
			       (out[k * plane + (size_t)(jj - 1) * W + (ii - 1)] +
				out[k * plane + (size_t)jj * W + ii]) /
				       2) < 0.02 * (1 + fabs(out[k * plane + (size_t)jj * W + ii])),
			  "patch channel %d", k);
	free(ph);
	free(out);
}

/* ---- Depth -> points ------------------------------------------------------------------------ */

Test(gpu_points, depth_pinhole_plane_and_equirect_sphere)
{
	const int W = 40, H = 30;
	uint16_t dm[40 * 30];
	for (int k = 0; k < W * H; k++)
		dm[k] = 5000; /* 5 m */
	dm[3 * W + 7] = 0;   /* no depth */
	gpu_depth d = {dm, W, H, W * 2, 0, 0.001, 0.1, 100, GPU_DEPTH_PINHOLE, 20, 20, 20, 15, 1};
	double I[16] = {1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1};
	gpu_point *pts = malloc(sizeof(gpu_point) * W * H);
	size_t n = 0;
	svt_err err = {0};
	cr_assert_eq(gpu_depth_to_points_ref(&d, NULL, I, pts, W * H, &n, &err), 0, "%s", err.msg);
	cr_assert_eq(n, (size_t)W * H - 1);
	size_t k = 0;
	for (int j = 0; j < H; j++)
		for (int i = 0; i < W; i++) {
			if (j == 3 && i == 7)
				continue;
			gpu_point p = pts[k++]; /* row-major order, hole skipped */
			cr_assert(fabs(p.z - 5) < 1e-6);
			cr_assert(fabs(p.x - (i + 0.5 - 20) / 20 * 5) < 1e-5, "(%d,%d) x %f", i, j, p.x);
			cr_assert(fabs(p.y - (j + 0.5 - 15) / 20 * 5) < 1e-5);
			cr_assert(p.r == 255 && p.a == 255);
		}
	cr_expect_eq(gpu_depth_to_points_ref(&d, NULL, I, pts, 100, &n, &err), SVT_E_LIMIT);

	/* Equirect range 10 m from a camera at C turned by yaw 40: every point is 10 m from C
	 * along the panorama's own pixel direction; the colour comes from a half-size image. */
	double R[9], C[3] = {100, -50, 2}, w2c[16];
	gpu_view_rotation(40, 0, 0, R);
	w2c_from(R, C, w2c);
	for (int q = 0; q < W * H; q++)
		dm[q] = 10000;
	d.model = GPU_DEPTH_EQUIRECT;
	d.step = 2;
	uint8_t col[20 * 15 * 3];
	for (int q = 0; q < 20 * 15; q++) {
		col[3 * q] = (uint8_t)(q % 20);
		col[3 * q + 1] = (uint8_t)(q / 20);
		col[3 * q + 2] = 7;
	}
	gpu_image cimg = {col, 20, 15, 3, 60};
	cr_assert_eq(gpu_depth_to_points_ref(&d, &cimg, w2c, pts, W * H, &n, &err), 0, "%s",
		     err.msg);
	cr_assert_eq(n, (size_t)(W / 2) * (H / 2));
	for (size_t q = 0; q < n; q++) {
		int i = (int)(q % 20) * 2, j = (int)(q / 20) * 2;
		double dir[3], pw[3] = {pts[q].x - C[0], pts[q].y - C[1], pts[q].z - C[2]};
		gpu_equirect_unproject(i, j, W, H, dir);
		double wd[3];
		for (int r = 0; r < 3; r++)
			wd[r] = R[3 * r] * dir[0] + R[3 * r + 1] * dir[1] + R[3 * r + 2] * dir[2];
		for (int r = 0; r < 3; r++)
			cr_assert(fabs(pw[r] - 10 * wd[r]) < 1e-4, "point %zu axis %d", q, r);
		cr_assert_eq(pts[q].r, i / 2);
		cr_assert_eq(pts[q].g, j / 2);
		cr_assert_eq(pts[q].b, 7);
	}
	free(pts);
}

/* ---- Voxels --------------------------------------------------------------------------------- */

Test(gpu_points, voxel_means_order_and_determinism)
{
	gpu_point in[6] = {
		{0.1f, 0.1f, 0.1f, 10, 20, 30, 255}, {0.3f, 0.2f, 0.4f, 30, 40, 50, 255},
		{2.5f, 0.5f, 0.5f, 0, 0, 0, 255},    {-0.5f, 0.5f, 0.5f, 100, 100, 100, 255},
		{0.2f, 0.3f, 0.1f, 20, 30, 40, 255}, {1e9f, 0, 0, 1, 1, 1, 255},
	};
	gpu_point out[8], out2[8];
	size_t n = 0, n2 = 0, dropped = 0;
	svt_err err = {0};
	cr_assert_eq(gpu_voxel_downsample_ref(in, 6, 1.0, out, 8, &n, &dropped, &err), 0, "%s",
		     err.msg);
	cr_assert_eq(n, 3);
	cr_assert_eq(dropped, 1);
	/* Sorted by (z, y, x) index: all in z 0, y 0; x -1, 0, 2. */
	cr_expect(fabs(out[0].x + 0.5) < 1e-4 && out[0].a == 1 && out[0].r == 100);
	cr_expect(fabs(out[1].x - 0.2) < 1e-4 && fabs(out[1].y - 0.2) < 1e-4 &&
		  fabs(out[1].z - 0.2) < 1e-4, "mean (%f %f %f)", out[1].x, out[1].y, out[1].z);
	cr_expect(out[1].r == 20 && out[1].g == 30 && out[1].b == 40 && out[1].a == 3);
	cr_expect(fabs(out[2].x - 2.5) < 1e-4);
	/* Many frames merged: the same set twice in shuffled order gives the same voxels with
	 * double the counts, byte for byte the same positions. */
	gpu_point both[12];
	int perm[12] = {11, 3, 7, 0, 5, 9, 1, 10, 2, 6, 4, 8};
	for (int k = 0; k < 12; k++)
		both[k] = in[perm[k] % 6];
	cr_assert_eq(gpu_voxel_downsample_ref(both, 12, 1.0, out2, 8, &n2, NULL, &err), 0);
	cr_assert_eq(n2, n);
	for (size_t k = 0; k < n; k++) {
		cr_expect(out2[k].x == out[k].x && out2[k].y == out[k].y && out2[k].z == out[k].z);
		cr_expect(out2[k].a == 2 * out[k].a);
	}
	cr_expect_eq(gpu_voxel_downsample_ref(in, 6, 1.0, out, 2, &n, NULL, &err), SVT_E_LIMIT);
	cr_expect_eq(gpu_voxel_downsample_ref(in, 6, 0.0, out, 8, &n, NULL, &err), SVT_E_INPUT);
}

/* Random points: every output voxel's mean lies inside its voxel, counts add up. */
Test(gpu_points, voxel_random_consistency)
{
	unsigned s = 99;
	size_t N = 20000;
	gpu_point *in = malloc(sizeof(gpu_point) * N), *out = malloc(sizeof(gpu_point) * N);
	for (size_t k = 0; k < N; k++)
		in[k] = (gpu_point){(lcg(&s) % 100000) / 1000.0f - 50, (lcg(&s) % 100000) / 1000.0f - 50,
				    (lcg(&s) % 10000) / 1000.0f, (uint8_t)k, 0, 0, 255};
	size_t n = 0;
	svt_err err = {0};
	cr_assert_eq(gpu_voxel_downsample_ref(in, N, 2.0, out, N, &n, NULL, &err), 0);
	size_t total = 0;
	for (size_t k = 0; k < n; k++) {
		total += out[k].a;
		cr_assert(out[k].a < 255);
		if (k) {
			double a[3] = {floor(out[k - 1].z / 2), floor(out[k - 1].y / 2), floor(out[k - 1].x / 2)};
			double b[3] = {floor(out[k].z / 2), floor(out[k].y / 2), floor(out[k].x / 2)};
			cr_assert(a[0] < b[0] || (a[0] == b[0] && (a[1] < b[1] || (a[1] == b[1] && a[2] < b[2]))),
				  "output not sorted at %zu", k);
		}
	}
	cr_expect_eq(total, N);
	free(in);
	free(out);
}

/* ---- Bird's-eye rasters --------------------------------------------------------------------- */

Test(gpu_points, bev_cells_heading_and_highest)
{
	gpu_point p[5] = {
		{500, 1003, 1.0f, 1, 2, 3, 255},  /* 3 m north of the centre */
		{500, 1003.5f, 2.0f, 4, 5, 6, 255}, /* same cell, higher */
		{500, 1003.2f, 2.0f, 7, 8, 9, 255}, /* same height: the later point wins */
		{502.2f, 1000, 1.0f, 0, 0, 0, 255}, /* 2.2 m east */
		{500, 1003, 50.0f, 0, 0, 0, 255},   /* above z_max: ignored */
	};
	gpu_bev b = {500, 1000, 0, 1.0, 10, 10, -5, 10};
	uint8_t occ[100], rgb[300];
	float ht[100];
	svt_err err = {0};
	cr_assert_eq(gpu_bev_raster_ref(p, 5, &b, occ, ht, rgb, &err), 0, "%s", err.msg);
	int c = 2 * 10 + 5; /* fwd 3 -> j = floor(5 - 3.x) = 1 or 2; right 0 -> i = 5 */
	int c1 = 1 * 10 + 5;
	cr_expect_eq(occ[c], 1, "3.0 m north: row 2");
	cr_expect_eq(occ[c1], 2, "3.2 and 3.5 m north: row 1");
	cr_expect_eq(ht[c1], 2.0f);
	cr_expect(rgb[3 * c1] == 7, "tie on height: later point");
	cr_expect_eq(occ[5 * 10 + 7], 1, "2.2 m east: column 7");
	cr_expect(isnan(ht[0]) && occ[0] == 0 && rgb[0] == 0);
	/* Heading 90: the raster's up is east, so the east point is 2.2 m forward: row 2. */
	b.heading_deg = 90;
	cr_assert_eq(gpu_bev_raster_ref(p, 5, &b, occ, ht, rgb, &err), 0);
	cr_expect_eq(occ[2 * 10 + 5], 1);
	/* north is now left: 3 m left -> column 2 */
	cr_expect_eq(occ[5 * 10 + 2], 1);
	cr_expect_eq(occ[5 * 10 + 1], 2);
}

/* ---- Z-buffer ------------------------------------------------------------------------------- */

Test(gpu_points, zbuffer_nearest_wins)
{
	double I[16] = {1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1}, K[4] = {50, 50, 32, 24};
	gpu_point p[5] = {
		{0.1f, 0.1f, 4.0f, 1, 1, 1, 255},  /* pixel (33, 25) */
		{0.05f, 0.05f, 2.0f, 2, 2, 2, 255}, /* same pixel, nearer */
		{0.05f, 0.05f, 2.0f, 3, 3, 3, 255}, /* same pixel and depth: earlier point stays */
		{0, 0, -3.0f, 4, 4, 4, 255},        /* behind */
		{-1.0f, 0, 1.0f, 5, 5, 5, 255},     /* u = -18: outside */
	};
	float depth[64 * 48];
	uint8_t rgb[64 * 48 * 3];
	svt_err err = {0};
	cr_assert_eq(gpu_points_to_depth_ref(p, 5, I, K, 64, 48, 0.1, depth, rgb, &err), 0, "%s",
		     err.msg);
	int c = 25 * 64 + 33;
	cr_expect_eq(depth[c], 2.0f);
	cr_expect_eq(rgb[3 * c], 2);
	int hits = 0;
	for (int k = 0; k < 64 * 48; k++)
		hits += depth[k] != 0;
	cr_expect_eq(hits, 1);
	cr_expect_eq(gpu_points_to_depth_ref(p, 5, I, K, 64, 48, -1, depth, rgb, &err), SVT_E_INPUT);
}

/* ---- Cubemap -------------------------------------------------------------------------------- */

Test(gpu_view, cubemap_faces_look_along_axes)
{
	const int W = 512, H = 256;
	gpu_image src = {malloc(W * H * 3), W, H, 3, W * 3};
	for (int y = 0; y < H; y++)
		for (int x = 0; x < W; x++) {
			double d[3];
			gpu_equirect_unproject(x, y, W, H, d);
			for (int k = 0; k < 3; k++)
				src.data[(y * W + x) * 3 + k] = (uint8_t)lround(128 + 120 * d[k]);
		}
	gpu_image faces[GPU_CUBE_FACES];
	for (int f = 0; f < GPU_CUBE_FACES; f++)
		faces[f] = (gpu_image){malloc(33 * 33 * 3), 33, 33, 3, 33 * 3};
	svt_err err = {0};
	gpu_ctx *ctx = NULL;
	cr_assert_eq(gpu_ctx_create(GPU_MODE_AUTO, &ctx, &err), 0);
	cr_assert_eq(gpu_cubemap_from_equirect(ctx, &src, 33, GPU_INTERP_BILINEAR, 1, faces, &err),
		     0, "%s", err.msg);
	static const int axis[6][3] = {{1, 0, 0}, {-1, 0, 0}, {0, 1, 0}, {0, -1, 0}, {0, 0, 1}, {0, 0, -1}};
	for (int f = 0; f < GPU_CUBE_FACES; f++) {
		const uint8_t *c = faces[f].data + (16 * 33 + 16) * 3;
		for (int k = 0; k < 3; k++)
			cr_expect(abs(c[k] - (128 + 120 * axis[f][k])) <= 1, "face %d channel %d: %d", f,
				  k, c[k]);
		/* The face's own view gives the same bytes. */
		gpu_view v;
		gpu_cubemap_face_view(f, 33, &v);
		gpu_image one = {malloc(33 * 33 * 3), 33, 33, 3, 33 * 3};
		cr_assert_eq(gpu_view_from_equirect(ctx, &src, &v, &one, &err), 0);
		cr_expect(memcmp(one.data, faces[f].data, 33 * 33 * 3) == 0, "face %d", f);
		free(one.data);
	}
	/* Down face (+y): its top edge is towards the front (+z). */
	const uint8_t *top = faces[2].data + (0 * 33 + 16) * 3;
	cr_expect(top[2] > 128 + 40, "down face top edge looks forward: z channel %d", top[2]);
	gpu_ctx_destroy(ctx);
	for (int f = 0; f < GPU_CUBE_FACES; f++)
		free(faces[f].data);
	free(src.data);
}

/* Kernels chained: an equirect depth map of flat ground 2.5 m below the camera -> points (all
 * at z = 0 in ENU) -> a sparse depth map in a pinhole camera looking down the street, whose
 * depths match the plane's analytic depth; and -> a BEV raster whose occupied cells have
 * height 0. */
Test(gpu_points, ground_plane_through_the_chain)
{
	const int W = 512, H = 256;
	uint16_t *dm = calloc((size_t)W * H, 2);
	for (int y = H / 2; y < H; y++)
		for (int x = 0; x < W; x++) {
			double d[3];
			gpu_equirect_unproject(x, y, W, H, d);
			if (d[1] > 0.05) /* below the horizon: range to the ground */
				dm[y * W + x] = (uint16_t)lround(2.5 / d[1] * 1000);
		}
	double Rp[9], C[3] = {0, 0, 2.5}, w2c[16];
	geo_rot_from_hpr(0, 0, 0, Rp);
	w2c_from(Rp, C, w2c);
	gpu_depth d = {dm, W, H, W * 2, 0, 0.001, 0.1, 60, GPU_DEPTH_EQUIRECT, 0, 0, 0, 0, 1};
	gpu_point *pts = malloc(sizeof(gpu_point) * W * H);
	size_t n = 0;
	svt_err err = {0};
	cr_assert_eq(gpu_depth_to_points_ref(&d, NULL, w2c, pts, W * H, &n, &err), 0, "%s", err.msg);
	cr_assert(n > 10000);
	for (size_t k = 0; k < n; k++)
		cr_assert(fabs(pts[k].z) < 0.01, "point %zu z %f", k, pts[k].z); /* mm rounding */

	/* A camera 1 m to the east, pitched 30 degrees down, looking north. */
	double Rv[9], Cv[3] = {1, 0, 2.5}, w2cv[16], K[4] = {100, 100, 80, 60};
	geo_rot_from_hpr(0, -30, 0, Rv);
	w2c_from(Rv, Cv, w2cv);
	float depth[160 * 120];
	cr_assert_eq(gpu_points_to_depth_ref(pts, n, w2cv, K, 160, 120, 0.1, depth, NULL, &err), 0);
	int hits = 0;
	for (int j = 0; j < 120; j++)
		for (int i = 0; i < 160; i++) {
			if (depth[j * 160 + i] == 0)
				continue;
			hits++;
			/* A ray (x, y, 1) meets the ground at z_cam = 2.5 / -(R_c2w (x, y, 1)).z. A point
			 * lands anywhere inside the pixel, so its depth lies between the depths at the
			 * pixel's corners (the plane's depth is monotonic across a pixel). */
			double lo = 1e9, hi = 0;
			for (int cj = 0; cj < 2; cj++)
				for (int ci = 0; ci < 2; ci++) {
					double x = (i + ci - 80) / 100.0, y = (j + cj - 60) / 100.0;
					double dz = Rv[6] * x + Rv[7] * y + Rv[8];
					double z = dz < 0 ? 2.5 / -dz : 1e9;
					lo = fmin(lo, z);
					hi = fmax(hi, z);
				}
			float got = depth[j * 160 + i];
			cr_assert(got >= lo * 0.995 - 0.01 && got <= hi * 1.005 + 0.01,
				  "(%d,%d) %f not in [%f, %f]", i, j, got, lo, hi);
		}
	cr_expect(hits > 2000, "%d pixels hit", hits);

	gpu_bev b = {0, 0, 0, 0.5, 40, 40, -1, 1};
	uint8_t occ[1600];
	float ht[1600];
	cr_assert_eq(gpu_bev_raster_ref(pts, n, &b, occ, ht, NULL, &err), 0);
	int occd = 0;
	for (int c = 0; c < 1600; c++)
		if (occ[c]) {
			occd++;
			cr_assert(fabs(ht[c]) < 0.01);
		}
	cr_expect(occd > 1000, "%d cells", occd);
	free(dm);
	free(pts);
}

/* Exact counts beyond the 255 the point's a can hold. */
Test(gpu_points, voxel_exact_counts)
{
	size_t N = 1000;
	gpu_point *in = malloc(sizeof(gpu_point) * N), out[4];
	for (size_t k = 0; k < N; k++)
		in[k] = (gpu_point){k < 700 ? 0.5f : 1.5f, 0.5f, 0.5f, 10, 10, 10, 255};
	uint32_t counts[4] = {0};
	size_t n = 0;
	svt_err err = {0};
	cr_assert_eq(gpu_voxel_downsample_counts(NULL, in, N, 1.0, out, counts, 4, &n, NULL, &err), 0,
		     "%s", err.msg);
	cr_assert_eq(n, 2);
	cr_expect(counts[0] == 700 && counts[1] == 300, "%u %u", counts[0], counts[1]);
	cr_expect(out[0].a == 255 && out[1].a == 255);
	free(in);
}
