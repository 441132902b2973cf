/* test_gpu_depth.c: the depth-view kernel (gpu_view_depth_from_equirect) on analytic depth
 * panoramas, and its CUDA path against the C reference (skipped without a device). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "geo/geo.h"
#include "gpu/gpu.h"

enum { DW = 1024, DH = 512 };

/* A depth panorama (uint16 mm) of a ground plane h metres below the camera, 0 (sky) above
 * the horizon. Each pixel holds the range of its own centre ray. */
static uint16_t *ground_pano(double h)
{
	uint16_t *d = malloc(sizeof(uint16_t) * DW * DH);
	for (int r = 0; r < DH; r++) {
		double lat = (0.5 - (r + 0.5) / DH) * M_PI;
		double range = lat < -1e-3 ? h / sin(-lat) : 0;
		uint16_t q = range > 0 && range < 65.0 ? (uint16_t)lround(range * 1000) : 0;
		for (int c = 0; c < DW; c++)
			d[r * DW + c] = q;
	}
	return d;
}

static gpu_depth depth_of(const void *data, int is_float)
{
	gpu_depth d = {.data = data, .width = DW, .height = DH,
		       .stride = (size_t)DW * (is_float ? 4 : 2), .is_float = is_float,
		       .scale = is_float ? 1.0 : 0.001, .min_m = 0.1, .max_m = 100,
		       .model = GPU_DEPTH_EQUIRECT, .step = 1};
	return d;
}

/* A view looking 30 degrees down at the ground: z-depth is h / (ray's down component) times
 * the ray's forward component, within what nearest sampling of a 1024-wide panorama allows. */
Test(depth_view, ground_plane_matches_analytic_z)
{
	const double h = 2.5;
	uint16_t *pano = ground_pano(h);
	gpu_depth d = depth_of(pano, 0);
	gpu_view v;
	gpu_view_pinhole(&v, 320, 180, 90);
	gpu_view_rotation(20, -30, 0, v.R);
	float *z = malloc(sizeof(float) * 320 * 180);
	svt_err err = {0};
	cr_assert_eq(gpu_view_depth_from_equirect_ref(&d, &v, z, 320 * sizeof(float), &err), 0,
		     "%s", err.msg);
	int checked = 0;
	double worst = 0;
	for (int j = 0; j < 180; j++)
		for (int i = 0; i < 320; i++) {
			double x = (i + 0.5 - v.cx) / v.fx, y = (j + 0.5 - v.cy) / v.fy, n = sqrt(x * x + y * y + 1);
			double dc[3] = {x / n, y / n, 1 / n}, dp[3];
			for (int k = 0; k < 3; k++)
				dp[k] = v.R[3 * k] * dc[0] + v.R[3 * k + 1] * dc[1] + v.R[3 * k + 2] * dc[2];
			/* Only rays clearly below the horizon (lat < -12 deg): there nearest sampling
			 * moves the range by at most cot(lat) * pi / (2 H) ~ 1.5 %. */
			if (dp[1] < sin(12 * M_PI / 180))
				continue;
			double want = h / dp[1] * dc[2];
			if (want > 60)
				continue;
			double rel = fabs(z[j * 320 + i] - want) / want;
			worst = fmax(worst, rel);
			checked++;
		}
	cr_assert_gt(checked, 1000);
	cr_expect_lt(worst, 0.02, "worst relative z error %.4f", worst);
	/* Above the horizon the source is sky: invalid stays 0. */
	gpu_view_rotation(0, 45, 0, v.R);
	cr_assert_eq(gpu_view_depth_from_equirect_ref(&d, &v, z, 320 * sizeof(float), &err), 0);
	for (int k = 0; k < 320 * 180; k++)
		cr_assert_eq(z[k], 0.0f, "pixel %d of a view of the sky has depth %g", k, z[k]);
	free(z);
	free(pano);
}

/* A constant 10 m range (float32 source) seen across the +-180 seam: z = 10 cos(angle to the
 * axis) for every pixel, with no seam artefact. */
Test(depth_view, constant_range_across_the_seam)
{
	float *pano = malloc(sizeof(float) * DW * DH);
	for (int k = 0; k < DW * DH; k++)
		pano[k] = 10.0f;
	gpu_depth d = depth_of(pano, 1);
	gpu_view v;
	gpu_view_pinhole(&v, 256, 256, 100);
	gpu_view_rotation(180, 0, 0, v.R);
	float *z = malloc(sizeof(float) * 256 * 256);
	svt_err err = {0};
	cr_assert_eq(gpu_view_depth_from_equirect_ref(&d, &v, z, 256 * sizeof(float), &err), 0);
	for (int j = 0; j < 256; j++)
		for (int i = 0; i < 256; i++) {
			double x = (i + 0.5 - v.cx) / v.fx, y = (j + 0.5 - v.cy) / v.fy;
			double want = 10.0 / sqrt(x * x + y * y + 1);
			cr_assert_float_eq(z[j * 256 + i], want, 1e-4, "(%d,%d): %g vs %g", i, j,
					   z[j * 256 + i], want);
		}
	free(z);
	free(pano);
}

Test(depth_view, refuses_bad_input)
{
	uint16_t px[4] = {0};
	gpu_depth d = depth_of(px, 0);
	d.width = 3;
	gpu_view v;
	gpu_view_pinhole(&v, 8, 8, 90);
	float z[64];
	svt_err err = {0};
	cr_expect_eq(gpu_view_depth_from_equirect_ref(&d, &v, z, 8 * sizeof(float), &err), SVT_E_INPUT);
	d = depth_of(px, 0);
	d.model = GPU_DEPTH_PINHOLE;
	cr_expect_eq(gpu_view_depth_from_equirect_ref(&d, &v, z, 8 * sizeof(float), &err),
		     SVT_E_UNSUPPORTED);
	d = depth_of(px, 0);
	cr_expect_eq(gpu_view_depth_from_equirect_ref(&d, &v, z, 4, &err), SVT_E_INPUT);
}

/* CUDA against the C reference on a seeded random depth panorama; guard floats after the
 * output must stay untouched. */
Test(depth_view, cuda_matches_reference)
{
	if (!gpu_device_available())
		cr_skip_test("no CUDA device: this build has no CUDA or no usable GPU/driver; depth "
			     "view parity not checked");
	gpu_ctx *ctx = NULL;
	svt_err err = {0};
	cr_assert_eq(gpu_ctx_create(GPU_MODE_REQUIRE, &ctx, &err), 0, "%s", err.msg);
	uint16_t *pano = malloc(sizeof(uint16_t) * DW * DH);
	uint32_t s = 12345;
	for (int k = 0; k < DW * DH; k++) {
		s = s * 1664525u + 1013904223u;
		pano[k] = (s >> 20) % 7 == 0 ? 0 : (uint16_t)(500 + (s >> 16) % 40000);
	}
	gpu_depth d = depth_of(pano, 0);
	enum { W = 640, H = 352, GUARD = 64 };
	float *a = malloc(sizeof(float) * (W * H + GUARD)), *b = malloc(sizeof(float) * (W * H + GUARD));
	for (int k = 0; k < W * H + GUARD; k++)
		a[k] = b[k] = -7.0f;
	double yaw[] = {0, 179.9, -120}, pitch[] = {0, 60, -80};
	for (int q = 0; q < 3; q++) {
		gpu_view v;
		gpu_view_pinhole(&v, W, H, 90);
		gpu_view_rotation(yaw[q], pitch[q], 5, v.R);
		cr_assert_eq(gpu_view_depth_from_equirect_ref(&d, &v, a, W * sizeof(float), &err), 0);
		cr_assert_eq(gpu_view_depth_from_equirect(ctx, &d, &v, b, W * sizeof(float), &err), 0,
			     "%s", err.msg);
		size_t differ = 0;
		for (int k = 0; k < W * H; k++)
			differ += a[k] != b[k] && !(isnan(a[k]) && isnan(b[k]));
		/* The same uncontracted float math on both sides (GM_MUL / GM_ADD, IEEE division
		 * and sqrt): every pixel equal. */
		cr_expect_eq(differ, 0, "case %d: %zu pixels differ", q, differ);
		for (int k = W * H; k < W * H + GUARD; k++)
			cr_assert_eq(b[k], -7.0f, "guard float %d overwritten", k - W * H);
	}
	free(a);
	free(b);
	free(pano);
	gpu_ctx_destroy(ctx);
}
