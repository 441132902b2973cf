/* test_gpu_ref.c: the fast C path and the CUDA path of the views, each against the plain
 * double-precision reference, on the cases and tolerances of bench/cases.c (the table
 * `svtwin bench kernels` times). Outputs sit between guard bytes (row padding and a tail) that
 * no path may touch; the depth cases carry NaN, Inf, 0 and negative samples that every path
 * must turn into 0 (no NaN or Inf out). The CUDA tests skip, saying so, without a device. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bench/cases.h"
#include "gpu/gpu.h"
#include "gpu/gpu_internal.h"

#define GUARD 0xA5
#define TAIL 64

static gpu_image guarded(int w, int h, int ch, size_t *total)
{
	size_t stride = (size_t)w * ch + 13;
	*total = stride * h + TAIL;
	gpu_image g = {malloc(*total), w, h, ch, stride};
	cr_assert(g.data);
	memset(g.data, GUARD, *total);
	return g;
}

static void guards_intact(const uint8_t *p, size_t row_bytes, size_t stride, int rows,
			  size_t total, const char *what)
{
	for (int j = 0; j < rows; j++)
		for (size_t b = row_bytes; b < stride; b++)
			cr_assert_eq(p[(size_t)j * stride + b], GUARD, "%s: row %d guard byte %zu", what,
				     j, b);
	for (size_t b = stride * rows; b < total; b++)
		cr_assert_eq(p[b], GUARD, "%s: tail guard byte %zu", what, b);
}

/* ctx NULL: the fast C path (gpu_view_from_equirect_ref); else gpu_view_from_equirect on ctx. */
static void view_cases(gpu_ctx *ctx, const char *path)
{
	for (int n = 0; n < bc_n_view_cases; n++) {
		const bc_view_case *c = &bc_view_cases[n];
		gpu_image src = bc_view_source(c);
		cr_assert(src.data);
		gpu_view v;
		bc_view_setup(c, &v);
		size_t tr, tg;
		gpu_image ref = guarded(c->w, c->h, c->ch, &tr), got = guarded(c->w, c->h, c->ch, &tg);
		svt_err err = {0};
		cr_assert_eq(gpu_view_from_equirect_plain(&src, &v, &ref, &err), 0, "%s", err.msg);
		for (int rep = 0; rep < 2; rep++) /* twice: buffers reused, same bytes */
			cr_assert_eq(ctx ? gpu_view_from_equirect(ctx, &src, &v, &got, &err)
					 : gpu_view_from_equirect_ref(&src, &v, &got, &err),
				     0, "%s", err.msg);
		bc_diff d = bc_view_compare(c, &got, &ref);
		cr_log_info("%s, %s: max |d| %.0f LSB, %zu of %zu over %d LSB", path, c->name,
			    d.max_abs, d.over, d.total, c->max_lsb);
		cr_expect(d.over <= c->frac_over * d.total,
			  "%s, %s: %zu of %zu samples beyond %d LSB of the plain reference (max %.0f; "
			  "allowed %.2f %%)",
			  path, c->name, d.over, d.total, c->max_lsb, d.max_abs, 100 * c->frac_over);
		guards_intact(got.data, (size_t)c->w * c->ch, got.stride, c->h, tg, c->name);
		guards_intact(ref.data, (size_t)c->w * c->ch, ref.stride, c->h, tr, "plain");
		free(ref.data);
		free(got.data);
		bc_free(src.data);
	}
}

static void depth_cases(gpu_ctx *ctx, const char *path)
{
	for (int n = 0; n < bc_n_depth_cases; n++) {
		const bc_depth_case *c = &bc_depth_cases[n];
		gpu_depth src = bc_depth_source(c);
		cr_assert(src.data);
		gpu_view v;
		bc_depth_setup(c, &v);
		size_t row = (size_t)c->w * sizeof(float), stride = row + 12;
		size_t total = stride * c->h + TAIL;
		uint8_t *ref = malloc(total), *got = malloc(total);
		cr_assert(ref && got);
		memset(ref, GUARD, total);
		memset(got, GUARD, total);
		svt_err err = {0};
		cr_assert_eq(gpu_view_depth_from_equirect_plain(&src, &v, (float *)ref, stride, &err), 0,
			     "%s", err.msg);
		cr_assert_eq(ctx ? gpu_view_depth_from_equirect(ctx, &src, &v, (float *)got, stride, &err)
				 : gpu_view_depth_from_equirect_ref(&src, &v, (float *)got, stride, &err),
			     0, "%s", err.msg);
		guards_intact(got, row, stride, c->h, total, c->name);
		/* pack the rows to compare */
		float *pr = malloc(row * c->h), *pg = malloc(row * c->h);
		cr_assert(pr && pg);
		for (int j = 0; j < c->h; j++) {
			memcpy((uint8_t *)pr + j * row, ref + j * stride, row);
			memcpy((uint8_t *)pg + j * row, got + j * stride, row);
		}
		size_t zm = 0;
		bc_diff d = bc_depth_compare(c, pg, pr, &zm);
		cr_log_info("%s, depth %s: max rel %.2g, %zu of %zu over, %zu valid/invalid swaps", path,
			    c->name, d.max_abs, d.over, d.total, zm);
		cr_expect(isfinite(d.max_abs), "%s, %s: a NaN or Inf came out", path, c->name);
		cr_expect(d.over <= c->frac_over * d.total,
			  "%s, depth %s: %zu of %zu beyond %.1g relative (%zu valid/invalid swaps)",
			  path, c->name, d.over, d.total, c->rel, zm);
		free(pr);
		free(pg);
		free(ref);
		free(got);
		bc_free((void *)src.data);
	}
}

static gpu_ctx *cuda_or_skip(void)
{
	if (!gpu_device_available())
		cr_skip_test("no CUDA device: this build has no CUDA or no usable GPU/driver; the CUDA "
			     "path was not compared with the plain reference");
	gpu_ctx *c = NULL;
	svt_err err = {0};
	cr_assert_eq(gpu_ctx_create(GPU_MODE_REQUIRE, &c, &err), 0, "%s", err.msg);
	return c;
}

Test(gpu_ref, fast_c_view_against_plain) { view_cases(NULL, "fast C"); }

/* The threaded C path gives the same bytes as the single-threaded one (gpu.h), and so the
 * same distance to the plain reference. */
Test(gpu_ref, threaded_c_view_against_plain)
{
	gpu_ctx *c = NULL;
	svt_err err = {0};
	cr_assert_eq(gpu_ctx_create(GPU_MODE_CPU, &c, &err), 0);
	gpu_ctx_set_cpu_threads(c, 3);
	view_cases(c, "C, 3 threads");
	gpu_ctx_destroy(c);
}

Test(gpu_ref, fast_c_depth_view_against_plain) { depth_cases(NULL, "fast C"); }

Test(gpu_ref, cuda_view_against_plain)
{
	gpu_ctx *c = cuda_or_skip();
	view_cases(c, "CUDA");
	gpu_ctx_destroy(c);
}

Test(gpu_ref, cuda_depth_view_against_plain)
{
	gpu_ctx *c = cuda_or_skip();
	depth_cases(c, "CUDA");
	gpu_ctx_destroy(c);
}

/* The plain reference itself against ground truth that needs no interpolation: a view looking
 * straight at a known pixel centre reads that pixel's value exactly. */
Test(gpu_ref, plain_reads_a_pixel_centre_exactly)
{
	uint8_t px[64 * 32 * 3];
	for (size_t k = 0; k < sizeof(px); k++)
		px[k] = (uint8_t)(k * 7);
	gpu_image src = {px, 64, 32, 3, 64 * 3};
	uint8_t o[3];
	gpu_image dst = {o, 1, 1, 3, 3};
	svt_err err = {0};
	/* panorama pixel (col 40, row 10): its direction, then a 1x1 view along it */
	double d[3];
	gpu_equirect_unproject(40, 10, 64, 32, d);
	double yaw = atan2(d[0], d[2]) * 180 / M_PI, pitch = asin(-d[1]) * 180 / M_PI;
	gpu_view v;
	gpu_view_pinhole(&v, 1, 1, 0.01);
	v.antialias = 0;
	gpu_view_rotation(yaw, pitch, 0, v.R);
	cr_assert_eq(gpu_view_from_equirect_plain(&src, &v, &dst, &err), 0, "%s", err.msg);
	for (int k = 0; k < 3; k++)
		cr_expect_eq(o[k], px[(10 * 64 + 40) * 3 + k], "channel %d", k);
}

/* ---- tensors, Plucker rays, depth -> points ---------------------------------------------- */

static const float MEAN[4] = {0.485f, 0.456f, 0.406f, 0.5f}, STD[4] = {0.229f, 0.224f, 0.225f, 0.25f};

/* A guarded dtype buffer of n elements. */
static uint8_t *guarded_buf(size_t bytes)
{
	uint8_t *p = malloc(bytes + TAIL);
	cr_assert(p);
	memset(p, GUARD, bytes + TAIL);
	return p;
}

static void tail_intact(const uint8_t *p, size_t bytes, const char *what)
{
	for (size_t b = bytes; b < bytes + TAIL; b++)
		cr_assert_eq(p[b], GUARD, "%s: tail guard byte %zu", what, b - bytes);
}

static void tensor_cases(gpu_ctx *ctx, const char *path)
{
	for (int n = 0; n < bc_n_tensor_cases; n++) {
		const bc_tensor_case *c = &bc_tensor_cases[n];
		bc_view_case vc = {c->name, c->W, c->H, c->ch, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
		gpu_image src = bc_view_source(&vc);
		cr_assert(src.data);
		size_t elems = (size_t)c->ch * c->out_w * c->out_h, bytes = elems * gpu_dtype_size(c->dtype);
		uint8_t *ref = guarded_buf(bytes), *got = guarded_buf(bytes);
		svt_err err = {0};
		const float *m = c->normalise ? MEAN : NULL, *s = c->normalise ? STD : NULL;
		cr_assert_eq(gpu_tensor_from_image_plain(&src, c->out_w, c->out_h, m, s, c->dtype, ref,
							 &err), 0, "%s", err.msg);
		cr_assert_eq(ctx ? gpu_tensor_from_image(ctx, &src, c->out_w, c->out_h, m, s, c->dtype,
							 got, &err)
				 : gpu_tensor_from_image_ref(&src, c->out_w, c->out_h, m, s, c->dtype, got,
							     &err),
			     0, "%s", err.msg);
		bc_diff d = bc_dtype_compare(c->dtype, got, ref, elems, c->rel, c->abs);
		cr_log_info("%s, tensor %s: max |d| %.3g, %zu of %zu over", path, c->name, d.max_abs,
			    d.over, d.total);
		cr_expect_eq(d.over, 0, "%s, tensor %s: %zu of %zu beyond %.3g + %.3g |ref| (max %.3g)",
			     path, c->name, d.over, d.total, c->abs, c->rel, d.max_abs);
		tail_intact(got, bytes, c->name);
		free(ref);
		free(got);
		bc_free(src.data);
	}
}

static void plucker_cases(gpu_ctx *ctx, const char *path)
{
	for (int n = 0; n < bc_n_plucker_cases; n++) {
		const bc_plucker_case *c = &bc_plucker_cases[n];
		double *w2c = malloc(sizeof(double) * 16 * c->n), *K = malloc(sizeof(double) * 4 * c->n);
		cr_assert(w2c && K);
		bc_plucker_setup(c, w2c, K);
		size_t elems = (size_t)c->n * 6 * (c->img_w / c->patch) * (c->img_h / c->patch);
		size_t bytes = elems * gpu_dtype_size(c->dtype);
		uint8_t *ref = guarded_buf(bytes), *got = guarded_buf(bytes);
		svt_err err = {0};
		cr_assert_eq(gpu_plucker_rays_plain(w2c, K, c->n, c->img_w, c->img_h, c->patch, c->dtype,
						    ref, &err), 0, "%s", err.msg);
		cr_assert_eq(ctx ? gpu_plucker_rays(ctx, w2c, K, c->n, c->img_w, c->img_h, c->patch,
						    c->dtype, got, &err)
				 : gpu_plucker_rays_ref(w2c, K, c->n, c->img_w, c->img_h, c->patch,
							c->dtype, got, &err),
			     0, "%s", err.msg);
		bc_diff d = bc_dtype_compare(c->dtype, got, ref, elems, c->rel, c->abs);
		cr_log_info("%s, plucker %s: max |d| %.3g, %zu of %zu over", path, c->name, d.max_abs,
			    d.over, d.total);
		cr_expect_eq(d.over, 0, "%s, plucker %s: %zu of %zu beyond tolerance (max %.3g)", path,
			     c->name, d.over, d.total, d.max_abs);
		tail_intact(got, bytes, c->name);
		free(ref);
		free(got);
		free(w2c);
		free(K);
	}
}

static void points_cases(gpu_ctx *ctx, const char *path)
{
	for (int n = 0; n < bc_n_points_cases; n++) {
		const bc_points_case *c = &bc_points_cases[n];
		double w2c[16];
		gpu_depth d = bc_points_source(c, w2c);
		cr_assert(d.data);
		bc_view_case vc = {c->name, 640, 320, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
		gpu_image col = bc_view_source(&vc);
		size_t cap = (size_t)d.width * d.height, nr = 0, ng = 0;
		gpu_point *ref = malloc(cap * sizeof(gpu_point)), *got = malloc(cap * sizeof(gpu_point));
		cr_assert(ref && got && col.data);
		svt_err err = {0};
		const gpu_image *cp = c->color ? &col : NULL;
		cr_assert_eq(gpu_depth_to_points_plain(&d, cp, w2c, ref, cap, &nr, &err), 0, "%s",
			     err.msg);
		cr_assert_eq(ctx ? gpu_depth_to_points(ctx, &d, cp, w2c, got, cap, &ng, &err)
				 : gpu_depth_to_points_ref(&d, cp, w2c, got, cap, &ng, &err),
			     0, "%s", err.msg);
		cr_assert_eq(ng, nr, "%s, points %s: %zu points, plain %zu", path, c->name, ng, nr);
		cr_assert_gt(nr, cap / 100, "%s: too few points for a test", c->name);
		size_t over = 0, colour = 0;
		double worst = 0;
		for (size_t k = 0; k < nr; k++) {
			const float *a = &got[k].x, *b = &ref[k].x;
			for (int q = 0; q < 3; q++) {
				double e = fabs((double)a[q] - b[q]);
				worst = e > worst ? e : worst;
				over += !(e <= c->abs + c->rel * fabs(b[q]));
			}
			colour += got[k].r != ref[k].r || got[k].g != ref[k].g || got[k].b != ref[k].b ||
				  got[k].a != ref[k].a;
		}
		cr_log_info("%s, points %s: %zu points, max |d| %.3g m", path, c->name, nr, worst);
		cr_expect_eq(over, 0, "%s, points %s: %zu coordinates beyond tolerance (max %.3g m)",
			     path, c->name, over, worst);
		cr_expect_eq(colour, 0, "%s, points %s: %zu colours differ", path, c->name, colour);
		/* the cap is honoured: one point short is SVT_E_LIMIT on every path */
		size_t n2 = 0;
		cr_expect_eq(ctx ? gpu_depth_to_points(ctx, &d, cp, w2c, got, nr - 1, &n2, &err)
				 : gpu_depth_to_points_ref(&d, cp, w2c, got, nr - 1, &n2, &err),
			     SVT_E_LIMIT);
		cr_expect_eq(gpu_depth_to_points_plain(&d, cp, w2c, ref, nr - 1, &n2, &err), SVT_E_LIMIT);
		free(ref);
		free(got);
		bc_free(col.data);
		bc_free((void *)d.data);
	}
}

/* ctx NULL: the fast C path (gpu_warp_splat on the CPU); else the device. Against
 * gpu_warp_splat_ref, with the footprint. */
static void warp_cases(gpu_ctx *ctx, const char *path)
{
	for (int n = 0; n < bc_n_warp_cases; n++) {
		const bc_warp_case *c = &bc_warp_cases[n];
		gpu_warp_cam s, d;
		uint8_t *rgb;
		float *depth;
		bc_warp_setup(c, &s, &d, &rgb, &depth);
		size_t px = (size_t)c->dw * c->dh, n1 = 0, n2 = 0;
		uint8_t *o1 = malloc(px * 3), *o2 = malloc(px * 3 + TAIL), *m1 = malloc(px);
		uint8_t *m2 = malloc(px + TAIL);
		cr_assert(rgb && depth && o1 && o2 && m1 && m2);
		memset(o2, GUARD, px * 3 + TAIL);
		memset(m2, GUARD, px + TAIL);
		svt_err err = {0};
		cr_assert_eq(gpu_warp_splat_ref(&s, rgb, (size_t)c->sw * 3, depth, (size_t)c->sw * 4,
						&d, 0.1, 1, o1, m1, NULL, &n1, &err), 0, "%s", err.msg);
		cr_assert_eq(gpu_warp_splat(ctx, &s, rgb, (size_t)c->sw * 3, depth, (size_t)c->sw * 4,
					    &d, 0.1, o2, m2, NULL, &n2, &err), 0, "%s", err.msg);
		bc_diff df = bc_warp_compare(o2, m2, o1, m1, px);
		size_t filled = 0;
		for (size_t k = 0; k < px; k++)
			filled += m1[k] == 2;
		cr_log_info("%s, warp %s: %zu of %zu pixels valid (%zu filled), %zu differ", path,
			    c->name, n1, px, filled, df.over);
		cr_assert_gt(n1, px / 4, "%s: the case covers too little (%zu)", c->name, n1);
		cr_expect_leq((double)df.over, c->frac_over * (double)px,
			      "%s, warp %s: %zu of %zu pixels differ", path, c->name, df.over, px);
		tail_intact(o2, px * 3, c->name);
		tail_intact(m2, px, c->name);
		free(rgb), free(depth), free(o1), free(o2), free(m1), free(m2);
	}
}

/* The device's densified frames against the reference (the CPU runs the reference). */
static void densify_cases(gpu_ctx *ctx, const char *path)
{
	for (int n = 0; n < bc_n_densify_cases; n++) {
		const bc_densify_case *c = &bc_densify_cases[n];
		gpu_densify_src a, b;
		double w2c[16], K[4];
		bc_densify_setup(c, &a, &b, w2c, K);
		size_t px = (size_t)c->w * c->h;
		uint8_t *o1 = malloc(px * 3), *o2 = malloc(px * 3), *m1 = malloc(px), *m2 = malloc(px);
		cr_assert(a.rgb && b.rgb && o1 && o2 && m1 && m2);
		svt_err err = {0};
		cr_assert_eq(gpu_densify_frame_ref(&a, &b, c->u, w2c, K, c->w, c->h, o1, m1, &err), 0,
			     "%s", err.msg);
		cr_assert_eq(gpu_densify_frame(ctx, &a, &b, c->u, w2c, K, c->w, c->h, o2, m2, &err), 0,
			     "%s", err.msg);
		bc_diff df = bc_warp_compare(o2, m2, o1, m1, px);
		size_t nv = 0;
		for (size_t k = 0; k < px; k++)
			nv += m1[k];
		cr_log_info("%s, densify %s: %zu of %zu valid, %zu differ", path, c->name, nv, px,
			    df.over);
		cr_assert_gt(nv, px / 2, "%s: the case covers too little (%zu)", c->name, nv);
		cr_expect_leq((double)df.over, c->frac_over * (double)px,
			      "%s, densify %s: %zu of %zu pixels differ", path, c->name, df.over, px);
		bc_free((void *)a.rgb), bc_free((void *)a.depth), bc_free((void *)b.rgb);
		bc_free((void *)b.depth);
		free(o1), free(o2), free(m1), free(m2);
	}
}

Test(gpu_ref, fast_c_warp_against_reference)
{
	warp_cases(NULL, "fast C");
	/* The CPU's densify is the reference itself: this checks the cases' inputs (coverage)
	 * that the CUDA test and the benchmark use. */
	densify_cases(NULL, "C reference");
}

Test(gpu_ref, cuda_warp_densify_against_reference)
{
	gpu_ctx *c = cuda_or_skip();
	warp_cases(c, "CUDA");
	densify_cases(c, "CUDA");
	gpu_ctx_destroy(c);
}

Test(gpu_ref, fast_c_tensor_plucker_points_against_plain)
{
	tensor_cases(NULL, "fast C");
	plucker_cases(NULL, "fast C");
	points_cases(NULL, "fast C");
}

Test(gpu_ref, cuda_tensor_plucker_points_against_plain)
{
	gpu_ctx *c = cuda_or_skip();
	tensor_cases(c, "CUDA");
	plucker_cases(c, "CUDA");
	points_cases(c, "CUDA");
	gpu_ctx_destroy(c);
}

/* The fast C path (row maps, SSE2 / AVX2 / AVX-512 lanes, the footprint flags four, eight
 * or sixteen at a time, fixed-point taps gathered or permuted) equals, byte for byte, the view
 * computed pixel by pixel with the code one thread of the CUDA kernel runs
 * (gpu_view_from_equirect_px): random views of a random RGB panorama, bilinear and bicubic,
 * antialiased (the panorama minified near the top: the prefilter's flags) or not, magnified
 * about 1.7x (as the shard's frames are: sixteen-pixel groups on two source rows), widths
 * that leave every lane tail, 1 and 3 threads; under each cap of the lanes
 * (gpu_view_simd_cap), so every path this CPU has runs. */
Test(view_fast, equals_the_kernels_code_pixel_by_pixel)
{
	const int W = 640, H = 320;
	const int sizes[][2] = {{97, 41}, {64, 32}, {203, 57}, {13, 7}, {179, 99}};
	uint8_t *pano = malloc((size_t)W * H * 3);
	uint64_t x = 0x2545F4914F6CDD1Dull;
	for (size_t i = 0; i < (size_t)W * H * 3; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		pano[i] = (uint8_t)(x >> 56);
	}
	gpu_image src = {pano, W, H, 3, (size_t)W * 3};
	gpu_ctx *ctx = NULL;
	svt_err err = {0};
	cr_assert_eq(gpu_ctx_create(GPU_MODE_CPU, &ctx, &err), 0, "%s", err.msg);
	size_t aa_cases = 0;
	for (int c = 0; c < 90; c++) {
		int cap = 2 - c / 30;
		gpu_view_simd_cap(cap);
		gpu_view v;
		const int *sz = sizes[c % 5];
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		double yaw = (double)(x >> 11) * 0x1.0p-53 * 360.0;
		/* wide views pitched up: the panorama's top rows are minified (the prefilter) */
		double fov = c % 3 == 0 ? 150.0 : c % 5 == 4 ? 60.0 : 70.0;
		double pitch = c % 3 == 0 ? 60.0 : -10.0 + c % 30;
		gpu_view_pinhole(&v, sz[0], sz[1], fov);
		gpu_view_rotation(yaw, pitch, 5.0 * (c % 5) - 10.0, v.R);
		v.interp = c % 4 == 1 ? GPU_INTERP_BICUBIC : GPU_INTERP_BILINEAR;
		v.antialias = c % 6 != 5;
		aa_cases += v.antialias && fov > 100;
		size_t n = (size_t)v.width * v.height * 3;
		uint8_t *a = malloc(n), *b = malloc(n);
		gpu_image da = {a, v.width, v.height, 3, (size_t)v.width * 3};
		gpu_image db = {b, v.width, v.height, 3, (size_t)v.width * 3};
		cr_assert_eq(gpu_view_from_equirect_px(&src, &v, &da, &err), 0, "%s", err.msg);
		gpu_ctx_set_cpu_threads(ctx, c % 2 ? 3 : 1);
		cr_assert_eq(gpu_view_from_equirect(ctx, &src, &v, &db, &err), 0, "%s", err.msg);
		size_t bad = 0, first = n;
		for (size_t i = 0; i < n; i++)
			if (a[i] != b[i]) {
				bad++;
				first = first < n ? first : i;
			}
		cr_expect_eq(bad, 0, "case %d (lanes cap %d, %dx%d, %s%s): %zu of %zu bytes differ, "
			     "first at pixel %zu", c, cap, v.width, v.height,
			     v.interp == GPU_INTERP_BICUBIC ? "bicubic" : "bilinear",
			     v.antialias ? ", antialiased" : "", bad, n, first / 3);
		free(a);
		free(b);
	}
	gpu_view_simd_cap(2);
	cr_expect_gt(aa_cases, 3);
	gpu_ctx_destroy(ctx);
	free(pano);
}

/* gpu_view_source_box bounds what a view reads: a panorama changed everywhere outside the box
 * gives the same view, byte for byte (the fast C path under each lanes cap, and the pixel by
 * pixel code the CUDA kernel runs). Random views, from a narrow magnified one to 150 degrees
 * minified with the prefilter, pitched up to the poles, rolled, across the seam, bilinear and
 * bicubic. And the box is a saving where it should be: the shard's 90-degree level view of a
 * 2:1 panorama reads under a third of its width and under half its rows; a view holding a
 * pole, or across the seam, reads every column. */
Test(view_box, a_panorama_changed_outside_the_box_gives_the_same_view)
{
	const int W = 640, H = 320;
	size_t pn = (size_t)W * H * 3;
	uint8_t *pano = malloc(pn), *other = malloc(pn);
	uint64_t x = 0x9E3779B97F4A7C15ull;
#define RND() (x ^= x << 13, x ^= x >> 7, x ^= x << 17, x)
	for (size_t i = 0; i < pn; i++)
		pano[i] = (uint8_t)(RND() >> 56);
	gpu_ctx *ctx = NULL;
	svt_err err = {0};
	cr_assert_eq(gpu_ctx_create(GPU_MODE_CPU, &ctx, &err), 0, "%s", err.msg);
	size_t boxed = 0, full_w = 0;
	for (int c = 0; c < 120; c++) {
		gpu_view v;
		double fov = (double)(20 + RND() % 131);
		int vw = 16 + (int)(RND() % 200), vh = 8 + (int)(RND() % 120);
		gpu_view_pinhole(&v, vw, vh, fov);
		double yaw = (double)(RND() % 3600) / 10.0;
		double pitch = c % 4 == 0 ? (double)(RND() % 1800) / 10.0 - 90.0
					  : (double)(RND() % 600) / 10.0 - 30.0;
		double roll = (double)(RND() % 400) / 10.0 - 20.0;
		gpu_view_rotation(yaw, pitch, roll, v.R);
		v.interp = c % 3 == 1 ? GPU_INTERP_BICUBIC : GPU_INTERP_BILINEAR;
		v.antialias = c % 5 != 4;
		int box[4];
		int part = gpu_view_source_box(&v, W, H, box);
		cr_assert(box[0] >= 0 && box[1] >= 0 && box[2] <= W && box[3] <= H &&
			  box[0] < box[2] && box[1] < box[3], "case %d: box %d %d %d %d", c, box[0],
			  box[1], box[2], box[3]);
		cr_assert_eq(part, box[0] > 0 || box[1] > 0 || box[2] < W || box[3] < H);
		boxed += part;
		full_w += box[0] == 0 && box[2] == W;
		/* Every byte outside the box another value. */
		memcpy(other, pano, pn);
		for (int r = 0; r < H; r++)
			for (int col = 0; col < W; col++)
				if (r < box[1] || r >= box[3] || col < box[0] || col >= box[2])
					for (int k = 0; k < 3; k++)
						other[((size_t)r * W + col) * 3 + k] ^= 0x5a;
		size_t n = (size_t)vw * vh * 3;
		uint8_t *a = malloc(n), *b = malloc(n);
		gpu_image sa = {pano, W, H, 3, (size_t)W * 3}, sb = {other, W, H, 3, (size_t)W * 3};
		gpu_image da = {a, vw, vh, 3, (size_t)vw * 3}, db = {b, vw, vh, 3, (size_t)vw * 3};
		cr_assert_eq(gpu_view_from_equirect_px(&sa, &v, &da, &err), 0, "%s", err.msg);
		for (int cap = 2; cap >= -1; cap--) {
			if (cap >= 0) {
				gpu_view_simd_cap(cap);
				cr_assert_eq(gpu_view_from_equirect(ctx, &sb, &v, &db, &err), 0, "%s",
					     err.msg);
			} else {
				cr_assert_eq(gpu_view_from_equirect_px(&sb, &v, &db, &err), 0, "%s",
					     err.msg);
			}
			size_t bad = 0;
			for (size_t i = 0; i < n; i++)
				bad += a[i] != b[i];
			cr_expect_eq(bad, 0, "case %d (%s, fov %.0f, yaw %.1f pitch %.1f roll %.1f, "
				     "%dx%d%s%s): box %d %d %d %d: %zu bytes differ", c,
				     cap >= 0 ? "fast C" : "per pixel", fov, yaw, pitch, roll, vw, vh,
				     v.interp == GPU_INTERP_BICUBIC ? ", bicubic" : "",
				     v.antialias ? ", antialiased" : "", box[0], box[1], box[2], box[3],
				     bad);
		}
		gpu_view_simd_cap(2);
		free(a);
		free(b);
	}
#undef RND
	cr_log_info("%zu of 120 views read part of the panorama, %zu every column", boxed, full_w);
	cr_expect_gt(boxed, 60);
	cr_expect_gt(full_w, 10);
	/* The shard's frame: 1280 x 704, 90 degrees, level, from 2048 x 1024. */
	gpu_view v;
	int box[4];
	gpu_view_pinhole(&v, 1280, 704, 90.0);
	gpu_view_rotation(30.0, 0.0, 0.0, v.R);
	cr_assert_eq(gpu_view_source_box(&v, 2048, 1024, box), 1);
	cr_expect_lt(box[2] - box[0], 2048 / 3, "%d columns", box[2] - box[0]);
	cr_expect_lt(box[3] - box[1], 1024 / 2, "%d rows", box[3] - box[1]);
	/* looking up at the north pole; across the seam (the panorama's back, yaw 180) */
	gpu_view_rotation(30.0, 80.0, 0.0, v.R);
	gpu_view_source_box(&v, 2048, 1024, box);
	cr_expect(box[0] == 0 && box[2] == 2048 && box[1] == 0, "pole: %d %d %d %d", box[0],
		  box[1], box[2], box[3]);
	gpu_view_rotation(180.0, 0.0, 0.0, v.R);
	gpu_view_source_box(&v, 2048, 1024, box);
	cr_expect(box[0] == 0 && box[2] == 2048 && box[3] - box[1] < 1024 / 2,
		  "seam: %d %d %d %d", box[0], box[1], box[2], box[3]);
	gpu_ctx_destroy(ctx);
	free(pano);
	free(other);
}
