/* test_gpu_warp.c: the forward warp (gpu_warp_splat, gpu_warp_coverage): its C reference on
 * analytic scenes, against the samples generator's ground truth (capture runs of the same
 * street: warped static pixels match the target frame), and the CUDA path against the
 * reference (skipped, saying so, without a device). */
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gpu/gpu.h"
#include "ingest/ingest.h"

enum { W = 64, H = 48 };

static void cam_identity(gpu_warp_cam *c, int w, int h, double f)
{
	memset(c, 0, sizeof(*c));
	c->width = w;
	c->height = h;
	c->K[0] = c->K[1] = f;
	c->K[2] = 0.5 * w;
	c->K[3] = 0.5 * h;
	c->w2c[0] = c->w2c[5] = c->w2c[10] = c->w2c[15] = 1.0;
}

/* A textured source: colour from the pixel index, depth z everywhere. */
static void plane_src(uint8_t *rgb, float *depth, int w, int h, float z)
{
	for (int j = 0; j < h; j++)
		for (int i = 0; i < w; i++) {
			uint8_t *p = rgb + 3 * ((size_t)j * w + i);
			p[0] = (uint8_t)(i * 3), p[1] = (uint8_t)(j * 5), p[2] = (uint8_t)(i ^ j);
			depth[(size_t)j * w + i] = z;
		}
}

Test(gpu_warp, identity_is_exact)
{
	gpu_warp_cam c;
	cam_identity(&c, W, H, 50);
	uint8_t rgb[W * H * 3], out[W * H * 3], mask[W * H];
	float depth[W * H], od[W * H];
	plane_src(rgb, depth, W, H, 10.0f);
	size_t nv = 0;
	svt_err err = {0};
	cr_assert_eq(gpu_warp_splat_ref(&c, rgb, W * 3, depth, W * 4, &c, 0.1, 1, out, mask, od,
					&nv, &err), 0, "%s", err.msg);
	cr_assert_eq(nv, (size_t)W * H);
	cr_assert_eq(memcmp(out, rgb, sizeof(rgb)), 0, "the same camera gives the source back");
	for (int k = 0; k < W * H; k++) {
		cr_assert_eq(mask[k], 1, "every pixel is a landing, none a fill");
		cr_assert_float_eq(od[k], 10.0f, 1e-5);
	}
	/* The fast C path (gpu_warp_splat on the CPU) too. */
	cr_assert_eq(gpu_warp_splat(NULL, &c, rgb, W * 3, depth, W * 4, &c, 0.1, out, mask, od, &nv,
				    &err), 0, "%s", err.msg);
	cr_assert_eq(nv, (size_t)W * H);
	cr_assert_eq(memcmp(out, rgb, sizeof(rgb)), 0);
}

/* The target 1 m to the right of the source sees a plane at 10 m shifted left by f / 10 =
 * 5 px: target pixel i shows source pixel i + 5; the last 5 columns are left empty by the
 * 1-px splat; the footprint fills the first of them (from column W - 1), no more. */
Test(gpu_warp, translation_shifts_by_disparity)
{
	gpu_warp_cam s, d;
	cam_identity(&s, W, H, 50);
	d = s;
	d.w2c[3] = -1.0; /* camera centre at x = +1 */
	uint8_t rgb[W * H * 3], out[W * H * 3], mask[W * H];
	float depth[W * H];
	plane_src(rgb, depth, W, H, 10.0f);
	svt_err err = {0};
	for (int fp = 0; fp <= 1; fp++) {
		cr_assert_eq(gpu_warp_splat_ref(&s, rgb, W * 3, depth, W * 4, &d, 0.1, fp, out, mask,
						NULL, NULL, &err), 0, "%s", err.msg);
		for (int j = 0; j < H; j++)
			for (int i = 0; i < W; i++) {
				int k = j * W + i;
				if (fp && i == W - 5) {
					/* From source column W - 1, row j or j - 1 (landings on
					 * the pixel centres: which block reaches is rounding). */
					int row = out[3 * k + 1] / 5;
					cr_assert_eq(mask[k], 2, "column %d filled", i);
					cr_assert_eq(out[3 * k], (uint8_t)((W - 1) * 3), "row %d", j);
					cr_assert(row == j || row == j - 1, "row %d shows row %d", j, row);
					continue;
				}
				if (i >= W - 5) {
					cr_assert_eq(mask[k], 0, "column %d has no source", i);
					continue;
				}
				cr_assert_eq(mask[k], 1, "pixel %d,%d", i, j);
				cr_assert_eq(memcmp(out + 3 * k, rgb + 3 * (k + 5), 3), 0, "pixel %d,%d",
					     i, j);
			}
	}
}

/* Two surfaces landing on one target pixel: the nearer wins (z-buffer). */
Test(gpu_warp, nearer_wins)
{
	gpu_warp_cam s, d;
	cam_identity(&s, W, H, 50);
	d = s;
	d.w2c[3] = -1.0;
	uint8_t rgb[W * H * 3], out[W * H * 3], mask[W * H];
	float depth[W * H];
	plane_src(rgb, depth, W, H, 20.0f);
	/* A near patch (5 m: disparity 10 px) at columns 30..39 that lands where the far plane
	 * (disparity 2.5 px) of columns ~22..31 lands too. */
	for (int j = 0; j < H; j++)
		for (int i = 30; i < 40; i++) {
			depth[j * W + i] = 5.0f;
			rgb[3 * (j * W + i)] = 255, rgb[3 * (j * W + i) + 1] = 0, rgb[3 * (j * W + i) + 2] = 0;
		}
	svt_err err = {0};
	float od[W * H];
	cr_assert_eq(gpu_warp_splat_ref(&s, rgb, W * 3, depth, W * 4, &d, 0.1, 1, out, mask, od,
					NULL, &err), 0, "%s", err.msg);
	for (int j = 0; j < H; j++)
		for (int i = 20; i < 30; i++) {
			int k = j * W + i;
			cr_assert_eq(mask[k], 1);
			cr_assert_eq(out[3 * k], 255, "pixel %d,%d shows the near patch", i, j);
			cr_assert_float_eq(od[k], 5.0f, 1e-4);
		}
}

/* Coverage: the same view covers all of it; a view turned 180 degrees covers none; the
 * no-depth view covers none. */
Test(gpu_warp, coverage_drops_a_view_looking_away)
{
	gpu_warp_cam s, away;
	cam_identity(&s, W, H, 50);
	away = s;
	away.w2c[0] = -1.0, away.w2c[10] = -1.0; /* yaw 180: x and z flip */
	uint8_t rgb[W * H * 3];
	float depth[W * H];
	plane_src(rgb, depth, W, H, 10.0f);
	double cov;
	svt_err err = {0};
	cr_assert_eq(gpu_warp_coverage(NULL, &s, depth, W * 4, &s, 4, &cov, &err), 0, "%s", err.msg);
	cr_assert_float_eq(cov, 1.0, 1e-9);
	cr_assert_eq(gpu_warp_coverage(NULL, &s, depth, W * 4, &away, 4, &cov, &err), 0, "%s",
		     err.msg);
	cr_assert_float_eq(cov, 0.0, 1e-12);
	memset(depth, 0, sizeof(depth));
	cr_assert_eq(gpu_warp_coverage(NULL, &s, depth, W * 4, &s, 1, &cov, &err), 0, "%s", err.msg);
	cr_assert_float_eq(cov, 0.0, 1e-12);
}

/* A view magnified 1.5 times (the target's focal length 75 against 50, same pose): the 1-px
 * splat leaves every third column and row empty; the footprint fills every pixel, each from a
 * source pixel next to the one its centre sees. */
Test(gpu_warp, footprint_fills_magnification_holes)
{
	gpu_warp_cam s, d;
	cam_identity(&s, W, H, 50);
	cam_identity(&d, W, H, 75);
	uint8_t rgb[W * H * 3], out[W * H * 3], mask[W * H];
	float depth[W * H];
	plane_src(rgb, depth, W, H, 10.0f);
	svt_err err = {0};
	size_t n1, n2, holes = 0;
	cr_assert_eq(gpu_warp_splat_ref(&s, rgb, W * 3, depth, W * 4, &d, 0.1, 0, out, mask, NULL,
					&n1, &err), 0, "%s", err.msg);
	cr_assert_eq(gpu_warp_splat_ref(&s, rgb, W * 3, depth, W * 4, &d, 0.1, 1, out, mask, NULL,
					&n2, &err), 0, "%s", err.msg);
	cr_assert_lt(n1, (size_t)(0.5 * W * H), "1-px splat: %zu of %d pixels", n1, W * H);
	cr_assert_eq(n2, (size_t)W * H, "footprint: %zu of %d pixels", n2, W * H);
	for (int j = 0; j < H; j++)
		for (int i = 0; i < W; i++) {
			int k = j * W + i;
			holes += mask[k] == 2;
			/* The source pixel the target pixel centre sees, and the one it shows. */
			double si = (i + 0.5 - 0.5 * W) / 1.5 + 0.5 * W, sj = (j + 0.5 - 0.5 * H) / 1.5 + 0.5 * H;
			int gi = out[3 * k] / 3, gj = out[3 * k + 1] / 5;
			cr_assert(fabs(gi + 0.5 - si) <= 1.0 && fabs(gj + 0.5 - sj) <= 1.0,
				  "pixel %d,%d shows source %d,%d, sees %.2f,%.2f", i, j, gi, gj, si, sj);
		}
	cr_assert_eq(holes, n2 - n1, "the mask marks the filled pixels (2)");
}

/* A near patch magnified over a far plane (the target 1.5 m nearer: the patch at 5 m grows
 * 1.43x, the plane at 20 m 1.08x): with the 1-px splat the far plane shows through the
 * patch's cracks; with the footprint the patch stays whole. */
Test(gpu_warp, footprint_keeps_a_magnified_surface_closed)
{
	gpu_warp_cam s, d;
	cam_identity(&s, W, H, 50);
	d = s;
	d.w2c[11] = -1.5; /* camera centre at z = +1.5 */
	uint8_t rgb[W * H * 3], out[W * H * 3], mask[W * H];
	float depth[W * H];
	plane_src(rgb, depth, W, H, 20.0f);
	for (int j = 16; j < 32; j++)
		for (int i = 24; i < 40; i++) {
			depth[j * W + i] = 5.0f;
			rgb[3 * (j * W + i)] = 255, rgb[3 * (j * W + i) + 1] = 1;
		}
	svt_err err = {0};
	int through[2] = {0, 0};
	for (int fp = 0; fp <= 1; fp++) {
		cr_assert_eq(gpu_warp_splat_ref(&s, rgb, W * 3, depth, W * 4, &d, 0.1, fp, out, mask,
						NULL, NULL, &err), 0, "%s", err.msg);
		/* The patch spans source columns 24..40 about the centre 32: 16 px * 1.43 about
		 * the target's centre; its inner part (10 px each side) must be patch. */
		for (int j = 24 - 8; j < 24 + 8; j++)
			for (int i = 32 - 8; i < 32 + 8; i++)
				through[fp] += !(out[3 * (j * W + i)] == 255 && out[3 * (j * W + i) + 1] == 1);
	}
	cr_assert_gt(through[0], 0, "the 1-px splat shows the background through the cracks");
	cr_assert_eq(through[1], 0, "%d background pixels inside the patch", through[1]);
}

/* The fast C path (gpu_warp_splat on the CPU: per-row and per-column terms) against the
 * reference on a random scene, rotated and shifted. Declared tolerance: the fast path sums
 * in another order, so a landing within an ulp of a pixel edge may fall on the other side;
 * at most 0.1 % of the pixels may differ in mask or colour, the valid count by as much. */
Test(gpu_warp, fast_path_matches_reference)
{
	enum { SW = 333, SH = 211, DW = 301, DH = 190 };
	gpu_warp_cam s, d;
	cam_identity(&s, SW, SH, 200);
	cam_identity(&d, DW, DH, 260);
	double a = 0.2;
	d.w2c[0] = cos(a), d.w2c[2] = -sin(a), d.w2c[8] = sin(a), d.w2c[10] = cos(a);
	d.w2c[3] = -0.7, d.w2c[7] = 0.1, d.w2c[11] = 0.3;
	uint8_t *rgb = malloc(SW * SH * 3);
	float *depth = malloc(sizeof(float) * SW * SH);
	uint32_t st = 11;
	for (int k = 0; k < SW * SH; k++) {
		st = st * 1664525u + 1013904223u;
		rgb[3 * k] = (uint8_t)(st >> 24), rgb[3 * k + 1] = (uint8_t)(st >> 16);
		rgb[3 * k + 2] = (uint8_t)(st >> 8);
		depth[k] = (st >> 28) == 0 ? 0.0f : 4.0f + (float)((k / SW) % 50) / 10.0f;
	}
	size_t px = DW * DH, n1, n2, dm = 0, dc = 0;
	uint8_t *o1 = malloc(px * 3), *o2 = malloc(px * 3), *m1 = malloc(px), *m2 = malloc(px);
	svt_err err = {0};
	cr_assert_eq(gpu_warp_splat_ref(&s, rgb, SW * 3, depth, SW * 4, &d, 0.1, 1, o1, m1, NULL,
					&n1, &err), 0, "%s", err.msg);
	cr_assert_eq(gpu_warp_splat(NULL, &s, rgb, SW * 3, depth, SW * 4, &d, 0.1, o2, m2, NULL,
				    &n2, &err), 0, "%s", err.msg);
	for (size_t k = 0; k < px; k++) {
		dm += m1[k] != m2[k];
		dc += memcmp(o1 + 3 * k, o2 + 3 * k, 3) != 0;
	}
	cr_log_info("fast vs reference: %zu masks, %zu colours of %zu differ; valid %zu vs %zu",
		    dm, dc, px, n1, n2);
	cr_assert_gt(n1, px / 2, "the scene covers the target (%zu)", n1);
	cr_assert_leq(dm, px / 1000);
	cr_assert_leq(dc, px / 1000);
	cr_assert_leq(n1 > n2 ? n1 - n2 : n2 - n1, px / 1000);
	free(rgb), free(depth), free(o1), free(o2), free(m1), free(m2);
}

Test(gpu_warp, bad_arguments)
{
	gpu_warp_cam s;
	cam_identity(&s, W, H, 50);
	float depth[W * H] = {0};
	uint8_t mask[W * H];
	svt_err err = {0};
	cr_assert_eq(gpu_warp_splat_ref(&s, NULL, 0, depth, W * 4, &s, 0.1, 1, NULL, NULL, NULL,
					NULL, &err), SVT_E_INPUT);
	s.K[0] = -1;
	cr_assert_eq(gpu_warp_splat_ref(&s, NULL, 0, depth, W * 4, &s, 0.1, 1, NULL, mask, NULL,
					NULL, &err), SVT_E_INPUT);
	cr_assert(strstr(err.msg, "intrinsics"), "%s", err.msg);
	cr_assert_eq(gpu_warp_splat(NULL, &s, NULL, 0, depth, W * 4, &s, 0.1, NULL, mask, NULL,
				    NULL, &err), SVT_E_INPUT);
	cr_assert(strstr(err.msg, "intrinsics"), "%s", err.msg);
}

/* ---- against the generator's capture runs ------------------------------------------------ */

static json_t *gt_load(const char *dir)
{
	char p[4200];
	snprintf(p, sizeof(p), "%.4000s/ground_truth.json", dir);
	json_error_t je;
	return json_load_file(p, 0, &je);
}

static void gt_vec(json_t *f, const char *key, double *v, int n)
{
	json_t *a = json_object_get(f, key);
	for (int i = 0; i < n; i++)
		v[i] = json_real_value(json_array_get(a, (size_t)i));
}

/* A pinhole view cut from frame f of capture dir looking yaw degrees right of the panorama's
 * centre: colour, z-depth, its camera, and (when the run has one) its static mask. */
typedef struct cut {
	gpu_warp_cam cam;
	uint8_t *rgb, *mask;
	float *depth;
} cut;

static void cut_view(const char *dir, json_t *f, int vw, int vh, double hfov, cut *c)
{
	char p[8400];
	svt_err err = {0};
	ingest_decoder *dec = NULL;
	ingest_image img = {0}, dimg = {0}, mimg = {0};
	ingest_decode_opts o;
	cr_assert_eq(ingest_decoder_create(&dec, &err), 0, "%s", err.msg);
	gpu_view v;
	gpu_view_pinhole(&v, vw, vh, hfov);
	v.interp = GPU_INTERP_BILINEAR;
	/* World pose of the view: R_c2w = R_pano v.R (identity yaw here). */
	double Rp[9], C[3];
	gt_vec(f, "R_c2w", Rp, 9);
	gt_vec(f, "enu", C, 3);
	memset(&c->cam, 0, sizeof(c->cam));
	c->cam.width = vw, c->cam.height = vh;
	c->cam.K[0] = v.fx, c->cam.K[1] = v.fy, c->cam.K[2] = v.cx, c->cam.K[3] = v.cy;
	for (int r = 0; r < 3; r++) {
		for (int k = 0; k < 3; k++)
			c->cam.w2c[4 * r + k] = Rp[3 * k + r];
		c->cam.w2c[4 * r + 3] = -(Rp[r] * C[0] + Rp[3 + r] * C[1] + Rp[6 + r] * C[2]);
	}
	c->cam.w2c[15] = 1;
	ingest_decode_opts_default(&o);
	o.want_channels = 3;
	int warn = 0;
	snprintf(p, sizeof(p), "%.4000s/%.4000s", dir, json_string_value(json_object_get(f, "file")));
	cr_assert_eq(ingest_decode_file(dec, p, &o, &img, &warn, &err), 0, "%s", err.msg);
	c->rgb = malloc((size_t)vw * vh * 3);
	gpu_image src = {img.data, img.width, img.height, img.channels, img.stride};
	gpu_image dst = {c->rgb, vw, vh, 3, (size_t)vw * 3};
	cr_assert_eq(gpu_view_from_equirect(NULL, &src, &v, &dst, &err), 0, "%s", err.msg);
	o.want_channels = 0;
	snprintf(p, sizeof(p), "%.4000s/%.4000s", dir, json_string_value(json_object_get(f, "depth")));
	cr_assert_eq(ingest_decode_file(dec, p, &o, &dimg, &warn, &err), 0, "%s", err.msg);
	gpu_depth d = {.data = dimg.data, .width = dimg.width, .height = dimg.height,
		       .stride = dimg.stride, .scale = 0.001, .min_m = 0.3, .max_m = 65.535,
		       .model = GPU_DEPTH_EQUIRECT, .step = 1};
	c->depth = malloc(sizeof(float) * vw * vh);
	cr_assert_eq(gpu_view_depth_from_equirect(NULL, &d, &v, c->depth, (size_t)vw * 4, &err), 0,
		     "%s", err.msg);
	c->mask = NULL;
	const char *m = json_string_value(json_object_get(f, "static_mask"));
	if (m) {
		/* The mask at the depth maps' size, cut like colour: nearest-ish through bilinear
		 * on a 3-channel copy, static where it stays at 255. */
		snprintf(p, sizeof(p), "%.4000s/%.4000s", dir, m);
		o.want_channels = 3;
		cr_assert_eq(ingest_decode_file(dec, p, &o, &mimg, &warn, &err), 0, "%s", err.msg);
		uint8_t *m3 = malloc((size_t)vw * vh * 3);
		gpu_image ms = {mimg.data, mimg.width, mimg.height, mimg.channels, mimg.stride};
		gpu_image md = {m3, vw, vh, 3, (size_t)vw * 3};
		cr_assert_eq(gpu_view_from_equirect(NULL, &ms, &v, &md, &err), 0, "%s", err.msg);
		c->mask = malloc((size_t)vw * vh);
		for (int k = 0; k < vw * vh; k++)
			c->mask[k] = m3[3 * k] == 255;
		free(m3);
	}
	ingest_image_free(&img);
	ingest_image_free(&dimg);
	ingest_image_free(&mimg);
	ingest_decoder_destroy(dec);
}

static void cut_free(cut *c)
{
	free(c->rgb);
	free(c->depth);
	free(c->mask);
}

/* Mean absolute error (0..255) over target pixels that are static (target mask), valid in
 * the warp, and away from the image border, with the target's light gain undone; *n the
 * pixels compared. */
static double static_mae(const cut *t, const uint8_t *warp, const uint8_t *valid,
			 const double gain[3], size_t *n)
{
	double s = 0;
	size_t m = 0;
	int w = t->cam.width, h = t->cam.height;
	for (int j = 2; j < h - 2; j++)
		for (int i = 2; i < w - 2; i++) {
			int k = j * w + i;
			if (!valid[k] || (t->mask && !t->mask[k]))
				continue;
			for (int q = 0; q < 3; q++)
				s += fabs(t->rgb[3 * k + q] / gain[q] - warp[3 * k + q]);
			m++;
		}
	*n = m;
	return m ? s / (3.0 * m) : 1e9;
}

/* Run 1's frame 6 is the target; the reference is run 0's frame nearest to it (no
 * transients, other light), warped with its own depth into the target camera. Static pixels
 * must match within MAE 9 of 255 (measured 4.9; 5.5 with the 1-px splat) (JPEG, resampling at both cuts, the splat and the
 * edges of occlusions); the same warp with depth scaled by 1.3 (the wrong geometry) must be
 * clearly worse, so the check sees the geometry and not only a blurry street. */
Test(gpu_warp, static_pixels_match_across_runs, .timeout = 60)
{
	const char *b = getenv("SVT_BUILD");
	char d0[4096], d1[4096];
	snprintf(d0, sizeof(d0), "%.4000s/samples/runs/run0", b ? b : "build");
	snprintf(d1, sizeof(d1), "%.4000s/samples/runs/run1", b ? b : "build");
	json_t *g0 = gt_load(d0), *g1 = gt_load(d1);
	if (!g0 || !g1)
		cr_skip_test("no capture runs in %s (make samples writes them)", d0);
	json_t *ft = json_array_get(json_object_get(g1, "frames"), 6);
	double ct[3], best = 1e9, gain[3];
	gt_vec(ft, "enu", ct, 3);
	gt_vec(g1, "light_gain", gain, 3);
	json_t *fr = NULL;
	json_t *fs = json_object_get(g0, "frames");
	for (size_t i = 0; i < json_array_size(fs); i++) {
		double c[3];
		gt_vec(json_array_get(fs, i), "enu", c, 3);
		double dd = hypot(c[0] - ct[0], c[1] - ct[1]);
		if (dd < best)
			best = dd, fr = json_array_get(fs, i);
	}
	cr_assert(fr && best > 0.5 && best < 6.0, "reference %.2f m away", best);
	enum { VW = 320, VH = 176 };
	cut t, r;
	cut_view(d1, ft, VW, VH, 90.0, &t);
	cut_view(d0, fr, VW, VH, 90.0, &r);
	cr_assert(t.mask, "run 1 has static masks");
	size_t nstatic = 0;
	for (int k = 0; k < VW * VH; k++)
		nstatic += t.mask[k];
	cr_assert(nstatic < (size_t)VW * VH, "the target view shows some transient");
	uint8_t *warp = malloc(VW * VH * 3), *valid = malloc(VW * VH);
	size_t nv, n, nv1, n1;
	svt_err err = {0};
	/* The 1-px splat first: the baseline the footprint must improve on. */
	cr_assert_eq(gpu_warp_splat_ref(&r.cam, r.rgb, VW * 3, r.depth, VW * 4, &t.cam, 0.1, 0, warp,
					valid, NULL, &nv1, &err), 0, "%s", err.msg);
	double mae1 = static_mae(&t, warp, valid, gain, &n1);
	cr_assert_eq(gpu_warp_splat_ref(&r.cam, r.rgb, VW * 3, r.depth, VW * 4, &t.cam, 0.1, 1, warp,
					valid, NULL, &nv, &err), 0, "%s", err.msg);
	cr_assert_gt(nv, (size_t)(0.3 * VW * VH), "the reference covers %zu of %d pixels", nv,
		     VW * VH);
	double mae = static_mae(&t, warp, valid, gain, &n);
	cr_log_info("static MAE %.2f over %zu pixels with the footprint (%zu valid); 1-px splat "
		    "%.2f over %zu (%zu valid) (reference %.2f m away)", mae, n, nv, mae1, n1, nv1,
		    best);
	cr_assert_gt(n, (size_t)(0.25 * VW * VH));
	cr_assert_lt(mae, 9.0, "warped static pixels differ from the target: MAE %.2f", mae);
	/* The footprint fills holes: at least 2 % more valid pixels (measured 41666 against 24610), and the
	 * error over the larger set is no worse than the 1-px splat's (0.25 of 255 slack). */
	cr_assert_gt(nv, nv1 + nv1 / 50, "coverage %zu vs %zu with the 1-px splat", nv, nv1);
	cr_assert_lt(mae, mae1 + 0.25, "MAE %.2f with the footprint vs %.2f", mae, mae1);
	/* The fast C path gives the same figures within its tolerance. */
	size_t nvf, nf;
	cr_assert_eq(gpu_warp_splat(NULL, &r.cam, r.rgb, VW * 3, r.depth, VW * 4, &t.cam, 0.1, warp,
				    valid, NULL, &nvf, &err), 0, "%s", err.msg);
	double maef = static_mae(&t, warp, valid, gain, &nf);
	cr_assert_leq(nvf > nv ? nvf - nv : nv - nvf, (size_t)VW * VH / 1000);
	cr_assert_float_eq(maef, mae, 0.05, "fast path MAE %.3f vs %.3f", maef, mae);
	for (int k = 0; k < VW * VH; k++)
		r.depth[k] *= 1.3f;
	cr_assert_eq(gpu_warp_splat_ref(&r.cam, r.rgb, VW * 3, r.depth, VW * 4, &t.cam, 0.1, 1, warp,
					valid, NULL, &nv, &err), 0, "%s", err.msg);
	double bad = static_mae(&t, warp, valid, gain, &n);
	cr_log_info("with depth x1.3: MAE %.2f", bad);
	cr_assert_gt(bad, mae * 1.25, "wrong depth must do worse: %.2f vs %.2f", bad, mae);
	free(warp);
	free(valid);
	cut_free(&t);
	cut_free(&r);
	json_decref(g0);
	json_decref(g1);
}

/* ---- CUDA against the reference ---------------------------------------------------------- */

Test(gpu_warp, cuda_matches_reference)
{
	if (!gpu_device_available())
		cr_skip_test("no CUDA device: %s",
			     "this build has no CUDA or no usable GPU/driver; warp parity not checked");
	gpu_ctx *ctx = NULL;
	svt_err err = {0};
	cr_assert_eq(gpu_ctx_create(GPU_MODE_REQUIRE, &ctx, &err), 0, "%s", err.msg);
	enum { SW = 333, SH = 211 };
	gpu_warp_cam s, d;
	cam_identity(&s, SW, SH, 200);
	cam_identity(&d, 301, 190, 180);
	double a = 0.2;
	d.w2c[0] = cos(a), d.w2c[2] = -sin(a), d.w2c[8] = sin(a), d.w2c[10] = cos(a);
	d.w2c[3] = -0.7, d.w2c[7] = 0.1, d.w2c[11] = 0.3;
	uint8_t *rgb = malloc(SW * SH * 3);
	float *depth = malloc(sizeof(float) * SW * SH);
	uint32_t st = 7;
	for (int k = 0; k < SW * SH; k++) {
		st = st * 1664525u + 1013904223u;
		rgb[3 * k] = (uint8_t)(st >> 24), rgb[3 * k + 1] = (uint8_t)(st >> 16);
		rgb[3 * k + 2] = (uint8_t)(st >> 8);
		depth[k] = (st >> 28) == 0 ? 0.0f : 2.0f + (float)((st >> 8) & 0xffff) / 4096.0f;
	}
	size_t px = 301 * 190, n1, n2;
	uint8_t *o1 = malloc(px * 3), *o2 = malloc(px * 3), *m1 = malloc(px), *m2 = malloc(px);
	float *z1 = malloc(px * 4), *z2 = malloc(px * 4);
	cr_assert_eq(gpu_warp_splat_ref(&s, rgb, SW * 3, depth, SW * 4, &d, 0.1, 1, o1, m1, z1,
					&n1, &err), 0, "%s", err.msg);
	cr_assert_eq(gpu_warp_splat(ctx, &s, rgb, SW * 3, depth, SW * 4, &d, 0.1, o2, m2, z2, &n2,
				    &err), 0, "%s", err.msg);
	cr_assert_eq(n1, n2);
	cr_assert_eq(memcmp(m1, m2, px), 0, "masks differ");
	cr_assert_eq(memcmp(o1, o2, px * 3), 0, "colours differ");
	cr_assert_eq(memcmp(z1, z2, px * 4), 0, "depths differ");
	double c1, c2;
	cr_assert_eq(gpu_warp_coverage(NULL, &s, depth, SW * 4, &d, 3, &c1, &err), 0);
	cr_assert_eq(gpu_warp_coverage(ctx, &s, depth, SW * 4, &d, 3, &c2, &err), 0);
	cr_assert_float_eq(c1, c2, 1e-3); /* the CPU side is the fast path (its tolerance) */
	free(rgb), free(depth), free(o1), free(o2), free(m1), free(m2), free(z1), free(z2);
	gpu_ctx_destroy(ctx);
}
