/* test_gpu_densify.c: gpu_densify_frame (gpu/densify.c, densify.cu).
 * - The C reference against an analytic scene: a textured plane facing the cameras, seen from
 *   two sources 2 m apart along the optical axis, the frame between them compared with the
 *   plane rendered exactly at the target pose (PSNR threshold below), and a target turned
 *   away from both sources marked invalid.
 * - Far pixels (depth 0: sky) move by rotation only.
 * - The CUDA path against the reference: the same bytes (z-buffer keys compared as integers,
 *   the blend in fixed point, doubles without contraction). Skips, saying so, without a GPU
 *   (SVT_GPU_PARITY_SELFTEST=1 runs it with the C path on both sides). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "geo/geo.h"
#include "gpu/gpu.h"

#define W 160
#define H 96
#define PLANE_Z 12.0
/* Nearest-pixel splats of a smooth texture (measured 38.6 dB; repeating a source: 17.2). */
#define PLANE_PSNR_MIN_DB 35.0

static const double Kc[4] = {80.0, 80.0, 80.0, 48.0}; /* 90 degrees horizontal */

/* The plane's colour at world (X, Y): smooth, varied. */
static void texture(double X, double Y, uint8_t c[3])
{
	c[0] = (uint8_t)lrint(127.5 + 120 * sin(X * 0.9));
	c[1] = (uint8_t)lrint(127.5 + 120 * cos(Y * 1.1));
	c[2] = (uint8_t)lrint(127.5 + 120 * sin(0.5 * X + 0.7 * Y));
}

/* Camera at (0, 0, cz) looking along +Z (identity rotation): its view of the plane and its
 * z-depth. */
static void render(double cz, uint8_t *rgb, float *depth, double w2c[16])
{
	memset(w2c, 0, 16 * sizeof(double));
	w2c[0] = w2c[5] = w2c[10] = w2c[15] = 1.0;
	w2c[11] = -cz;
	for (int y = 0; y < H; y++)
		for (int x = 0; x < W; x++) {
			double z = PLANE_Z - cz;
			double X = (x + 0.5 - Kc[2]) / Kc[0] * z, Y = (y + 0.5 - Kc[3]) / Kc[1] * z;
			texture(X, Y, rgb + 3 * (y * W + x));
			if (depth)
				depth[y * W + x] = (float)z;
		}
}

static double psnr_region(const uint8_t *a, const uint8_t *b, int m)
{
	double se = 0;
	size_t n = 0;
	for (int y = m; y < H - m; y++)
		for (int x = m; x < W - m; x++)
			for (int c = 0; c < 3; c++) {
				double d = (double)a[3 * (y * W + x) + c] - b[3 * (y * W + x) + c];
				se += d * d;
				n++;
			}
	return se == 0 ? 99.0 : 10 * log10(255.0 * 255.0 / (se / n));
}

typedef struct scene {
	uint8_t ra[W * H * 3], rb[W * H * 3], rt[W * H * 3], out[W * H * 3], valid[W * H];
	float da[W * H], db[W * H];
	gpu_densify_src a, b;
	double w2c_t[16];
} scene;

static scene *scene_make(void)
{
	scene *s = calloc(1, sizeof(*s));
	cr_assert(s);
	render(0.0, s->ra, s->da, s->a.w2c);
	render(2.0, s->rb, s->db, s->b.w2c);
	render(1.0, s->rt, NULL, s->w2c_t);
	s->a.rgb = s->ra, s->a.depth = s->da, s->b.rgb = s->rb, s->b.depth = s->db;
	memcpy(s->a.K, Kc, sizeof(Kc));
	memcpy(s->b.K, Kc, sizeof(Kc));
	return s;
}

Test(densify, plane_between_two_sources_matches_truth)
{
	scene *s = scene_make();
	svt_err err = {0};
	cr_assert_eq(gpu_densify_frame_ref(&s->a, &s->b, 0.5, s->w2c_t, Kc, W, H, s->out,
					   s->valid, &err), 0, "%s", err.msg);
	size_t nv = 0;
	for (int i = 0; i < W * H; i++)
		nv += s->valid[i];
	/* The target sees only what source a (behind it) sees: all of it is covered. */
	cr_assert_eq(nv, (size_t)W * H, "%zu of %d pixels valid", nv, W * H);
	double p = psnr_region(s->out, s->rt, 2);
	double p_near = psnr_region(s->ra, s->rt, 2);
	cr_log_info("plane: synthesized %.2f dB, nearest source %.2f dB", p, p_near);
	cr_assert_gt(p, PLANE_PSNR_MIN_DB, "synthesized frame %.2f dB", p);
	cr_assert_gt(p, p_near + 6.0, "synthesized %.2f dB vs nearest source %.2f dB", p, p_near);
	free(s);
}

Test(densify, what_no_source_sees_is_invalid)
{
	scene *s = scene_make();
	svt_err err = {0};
	/* Turned 90 degrees about the sources' y axis: the plane (ahead of them, along +Z) is out
	 * of the target's view, and nothing the sources saw lies in it. */
	double w2c[16], C[3] = {0, 0, 1};
	double Ry[9] = {0, 0, -1, 0, 1, 0, 1, 0, 0}; /* camera-to-world: forward = world -X */
	geo_pose_w2c(C, Ry, w2c);
	cr_assert_eq(gpu_densify_frame_ref(&s->a, &s->b, 0.5, w2c, Kc, W, H, s->out, s->valid,
					   &err), 0, "%s", err.msg);
	size_t nv = 0, nonblack = 0;
	for (int i = 0; i < W * H; i++) {
		nv += s->valid[i];
		if (!s->valid[i])
			nonblack += s->out[3 * i] | s->out[3 * i + 1] | s->out[3 * i + 2];
	}
	cr_assert_lt(nv, (size_t)W * H / 20, "%zu pixels valid looking away", nv);
	cr_assert_eq(nonblack, 0, "invalid pixels must be black");
	free(s);
}

Test(densify, far_pixels_move_by_rotation_only)
{
	scene *s = scene_make();
	svt_err err = {0};
	memset(s->da, 0, sizeof(s->da)); /* all sky */
	memset(s->db, 0, sizeof(s->db));
	/* Target far away along the baseline: a pure translation leaves the sky where it was. */
	double w2c[16];
	memcpy(w2c, s->w2c_t, sizeof(w2c));
	w2c[11] = -1000.0;
	cr_assert_eq(gpu_densify_frame_ref(&s->a, &s->b, 0.0, w2c, Kc, W, H, s->out, s->valid,
					   &err), 0, "%s", err.msg);
	/* u = 0: source a's colours; where both land (everywhere) the blend weight of b is 0. */
	cr_assert_eq(memcmp(s->out, s->ra, sizeof(s->ra)), 0);
	free(s);
}

Test(densify, unknown_depth_is_not_splatted)
{
	scene *s = scene_make();
	svt_err err = {0};
	for (int i = 0; i < W * H; i++)
		s->da[i] = s->db[i] = NAN; /* depth unknown (twin points explained nothing) */
	cr_assert_eq(gpu_densify_frame_ref(&s->a, &s->b, 0.5, s->w2c_t, Kc, W, H, s->out,
					   s->valid, &err), 0, "%s", err.msg);
	for (int i = 0; i < W * H; i++)
		cr_assert_eq(s->valid[i], 0, "pixel %d valid from NaN depth", i);
	free(s);
}

Test(densify, bad_arguments_refused)
{
	scene *s = scene_make();
	svt_err err = {0};
	cr_assert_eq(gpu_densify_frame_ref(&s->a, &s->b, 1.5, s->w2c_t, Kc, W, H, s->out,
					   s->valid, &err), SVT_E_INPUT);
	double badK[4] = {0, 80, 80, 48};
	cr_assert_eq(gpu_densify_frame_ref(&s->a, &s->b, 0.5, s->w2c_t, badK, W, H, s->out,
					   s->valid, &err), SVT_E_INPUT);
	cr_assert_eq(gpu_densify_frame_ref(NULL, &s->b, 0.5, s->w2c_t, Kc, W, H, s->out,
					   s->valid, &err), SVT_E_INPUT);
	free(s);
}

Test(densify, cuda_matches_reference)
{
	gpu_ctx *c = NULL;
	svt_err err = {0};
	if (getenv("SVT_GPU_PARITY_SELFTEST")) {
		cr_assert_eq(gpu_ctx_create(GPU_MODE_CPU, &c, &err), 0, "%s", err.msg);
	} else {
		if (!gpu_device_available())
			cr_skip_test("no CUDA device: %s", "this build has no CUDA or no usable "
				     "GPU/driver; densify parity not checked");
		cr_assert_eq(gpu_ctx_create(GPU_MODE_REQUIRE, &c, &err), 0, "%s", err.msg);
	}
	scene *s = scene_make();
	/* A rougher case than the plane: seeded noise in depth (some far) and colour. */
	unsigned st = 7;
	for (int i = 0; i < W * H; i++) {
		st = st * 1664525u + 1013904223u;
		s->da[i] = (st >> 28) == 0 ? 0.0f : 3.0f + (float)(st >> 8) / 16777216.0f * 20.0f;
		st = st * 1664525u + 1013904223u;
		s->db[i] = (st >> 28) == 1 ? 0.0f : 3.0f + (float)(st >> 8) / 16777216.0f * 20.0f;
		s->ra[3 * i] = (uint8_t)(st >> 24);
	}
	static uint8_t ref[W * H * 3], vref[W * H];
	/* The target moved off the baseline and turned a little. */
	double w2c[16], C[3] = {0.3, -0.1, 1.0};
	double q[4] = {0.999, 0.02, -0.03, 0.01}, Rs[9];
	double nq = sqrt(q[0] * q[0] + q[1] * q[1] + q[2] * q[2] + q[3] * q[3]);
	for (int k = 0; k < 4; k++)
		q[k] /= nq;
	geo_rot_from_quat(q, Rs);
	geo_pose_w2c(C, Rs, w2c);
	for (int k = 0; k < 5; k++) {
		double u = k / 4.0;
		cr_assert_eq(gpu_densify_frame_ref(&s->a, &s->b, u, w2c, Kc, W, H, ref, vref, &err), 0,
			     "%s", err.msg);
		cr_assert_eq(gpu_densify_frame(c, &s->a, &s->b, u, w2c, Kc, W, H, s->out, s->valid,
					       &err), 0, "%s", err.msg);
		cr_assert_eq(memcmp(vref, s->valid, sizeof(vref)), 0, "u = %g: masks differ", u);
		cr_assert_eq(memcmp(ref, s->out, sizeof(ref)), 0, "u = %g: pixels differ", u);
	}
	free(s);
	gpu_ctx_destroy(c);
}
