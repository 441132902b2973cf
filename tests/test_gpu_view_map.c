/* test_gpu_view_map.c: the depth view read through a view's ray map (gpu/view_map.c) is the
 * depth view of the per-pixel reference (gpu_view_depth_from_equirect_ref), bit for bit:
 * seeded random views (any heading, pitch and roll, some holding a pole, several fields of view
 * and sizes, odd widths that leave SSE2 and scalar tails after the AVX2 lanes),
 * uint16 and float sources with padded rows, invalid samples (0, out of range, NaN), and one
 * map serving two source sizes; under each cap of the lanes. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "gpu/gpu.h"
#include "gpu/gpu_internal.h"

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static double urand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (double)(rng >> 11) / 9007199254740992.0;
}

/* A depth panorama W x H: smooth ranges with holes (0), too near / too far and (float) NaN. */
static void *depth_pano(int W, int H, int is_float, size_t *stride)
{
	size_t bpp = is_float ? 4 : 2;
	*stride = (size_t)W * bpp + 24; /* padded rows */
	uint8_t *d = calloc((size_t)H, *stride);
	for (int y = 0; y < H; y++)
		for (int x = 0; x < W; x++) {
			double r = 5.0 + 20.0 * (0.5 + 0.5 * sin(x * 0.05) * cos(y * 0.07));
			double u = urand();
			if (u < 0.03)
				r = 0.0;
			else if (u < 0.05)
				r = 0.1; /* below min_m */
			else if (u < 0.06)
				r = 70.0; /* above max_m */
			uint8_t *p = d + (size_t)y * *stride + (size_t)x * bpp;
			if (is_float) {
				float f = (u > 0.06 && u < 0.065) ? NAN : (float)r;
				memcpy(p, &f, 4);
			} else {
				unsigned short q = (unsigned short)(r * 1000.0 > 65535 ? 65535 : r * 1000.0);
				memcpy(p, &q, 2);
			}
		}
	return d;
}

/* A context of the C path. */
static gpu_ctx *cpu_ctx(void)
{
	gpu_ctx *ctx = NULL;
	svt_err err = {0};
	cr_assert_eq(gpu_ctx_create(GPU_MODE_CPU, &ctx, &err), 0, "%s", err.msg);
	return ctx;
}

/* A W x H RGB panorama of random bytes (malloc'd). */
static uint8_t *noise_rgb(int W, int H)
{
	uint8_t *p = malloc((size_t)W * H * 3);
	cr_assert(p);
	for (size_t i = 0; i < (size_t)W * H * 3; i++)
		p[i] = (uint8_t)(urand() * 256);
	return p;
}

static void compare(const gpu_view *v, const gpu_view_map *m, const gpu_depth *d)
{
	size_t n = (size_t)v->width * v->height;
	float *a = malloc(n * sizeof(float)), *b = malloc(n * sizeof(float));
	svt_err err = {0};
	cr_assert_eq(gpu_view_depth_from_equirect_ref(d, v, a, (size_t)v->width * 4, &err), 0,
		     "%s", err.msg);
	cr_assert_eq(gpu_view_depth_from_map(m, d, b, (size_t)v->width * 4, &err), 0, "%s",
		     err.msg);
	size_t bad = 0, nonzero = 0;
	for (size_t i = 0; i < n; i++) {
		bad += memcmp(&a[i], &b[i], 4) != 0;
		nonzero += a[i] != 0.0f;
	}
	cr_expect_eq(bad, 0, "%zu of %zu pixels differ (%dx%d)", bad, n, v->width, v->height);
	cr_expect_gt(nonzero, n / 2, "the case is mostly empty");
	free(a);
	free(b);
}

Test(view_map, depth_view_equals_the_reference)
{
	const int sizes[][2] = {{64, 32}, {161, 90}, {320, 176}, {13, 5}};
	const double fovs[] = {60, 90, 120};
	gpu_view_map m = {0};
	svt_err err = {0};
	/* under each cap of the lanes the depth row has: every path this CPU has (AVX2, SSE2) */
	for (int c = 0; c < 48; c++) {
		gpu_view_simd_cap(1 - c / 24);
		gpu_view v;
		const int *sz = sizes[c % 4];
		gpu_view_pinhole(&v, sz[0], sz[1], fovs[c % 3]);
		/* every fourth view holds a pole, where the columns of its rays converge */
		double pitch = c % 4 == 2 ? (c % 8 == 2 ? 80.0 : -80.0) : 60.0 * (urand() - 0.5);
		gpu_view_rotation(360.0 * urand(), pitch, 20.0 * (urand() - 0.5), v.R);
		cr_assert_eq(gpu_view_map_build(&v, &m, &err), 0, "%s", err.msg);
		/* One map, two sources of different sizes and types. */
		for (int s = 0; s < 2; s++) {
			int W = s ? 1024 : 400, H = W / 2, is_float = (c + s) % 2;
			size_t stride;
			void *pano = depth_pano(W, H, is_float, &stride);
			gpu_depth d = {.data = pano, .width = W, .height = H, .stride = stride,
				       .is_float = is_float, .scale = is_float ? 1.0 : 0.001,
				       .min_m = 0.3, .max_m = 65.535, .model = GPU_DEPTH_EQUIRECT,
				       .step = 1};
			compare(&v, &m, &d);
			free(pano);
		}
	}
	gpu_view_simd_cap(2);
	gpu_view_map_free(&m);
	gpu_view_map_free(&m);
	gpu_view_map_free(NULL);
}

/* The colour view that keeps its rays (gpu_view_from_equirect_map: a whole map for a caller
 * to read later) cuts the same pixels as the plain call and leaves gpu_view_map_build's map,
 * bit for bit: random views, bilinear and bicubic, antialiased or not, widths that end in
 * every lane tail, one thread and three (bands of rows). */
Test(view_map, colour_view_keeps_the_same_map)
{
	const int sizes[][2] = {{64, 32}, {161, 90}, {13, 5}, {203, 40}, {1279, 20}};
	const int W = 512, H = 256;
	uint8_t *pano = noise_rgb(W, H);
	gpu_image src = {pano, W, H, 3, (size_t)W * 3};
	gpu_ctx *ctx = cpu_ctx();
	svt_err err = {0};
	gpu_view_map want = {0}, got = {0};
	for (int c = 0; c < 20; c++) {
		gpu_view v;
		const int *sz = sizes[c % 5];
		gpu_view_pinhole(&v, sz[0], sz[1], c % 2 ? 60.0 : 100.0);
		gpu_view_rotation(360.0 * urand(), 60.0 * (urand() - 0.5), 20.0 * (urand() - 0.5), v.R);
		v.interp = c % 4 == 3 ? GPU_INTERP_BICUBIC : GPU_INTERP_BILINEAR;
		v.antialias = c % 3 != 0;
		gpu_ctx_set_cpu_threads(ctx, c % 2 ? 3 : 1);
		size_t n = (size_t)v.width * v.height;
		uint8_t *a = malloc(3 * n), *b = malloc(3 * n);
		gpu_image da = {a, v.width, v.height, 3, (size_t)v.width * 3};
		gpu_image db = {b, v.width, v.height, 3, (size_t)v.width * 3};
		cr_assert_eq(gpu_view_from_equirect_ref(&src, &v, &da, &err), 0, "%s", err.msg);
		cr_assert_eq(gpu_view_from_equirect_map(ctx, &src, &v, &db, &got, &err), 0, "%s",
			     err.msg);
		cr_assert_eq(gpu_view_map_build(&v, &want, &err), 0, "%s", err.msg);
		cr_expect_eq(memcmp(a, b, 3 * n), 0, "case %d: the colour view differs", c);
		cr_assert_eq(got.width, v.width);
		cr_assert_eq(got.height, v.height);
		size_t bad = 0;
		for (size_t i = 0; i < n; i++)
			bad += memcmp(&got.lon[i], &want.lon[i], 4) != 0 ||
			       memcmp(&got.lat[i], &want.lat[i], 4) != 0 ||
			       memcmp(&got.norm[i], &want.norm[i], 4) != 0;
		cr_expect_eq(bad, 0, "case %d (%dx%d): %zu of %zu rays differ", c, v.width,
			     v.height, bad, n);
		free(a);
		free(b);
	}
	gpu_view_map_free(&want);
	gpu_view_map_free(&got);
	gpu_ctx_destroy(ctx);
	free(pano);
}

Test(view_map, bad_arguments)
{
	gpu_view v;
	gpu_view_pinhole(&v, 0, 10, 90);
	gpu_view_map m = {0};
	svt_err err = {0};
	cr_expect_eq(gpu_view_map_build(&v, &m, &err), SVT_E_INPUT);
	cr_expect_eq(gpu_view_map_build(NULL, &m, &err), SVT_E_INPUT);
	gpu_view_pinhole(&v, 8, 4, 90);
	cr_assert_eq(gpu_view_map_build(&v, &m, &err), 0);
	uint16_t px[8] = {0};
	float out[32];
	gpu_depth d = {.data = px, .width = 3, .height = 1, .stride = 6, .scale = 0.001,
		       .min_m = 0.3, .max_m = 60, .model = GPU_DEPTH_EQUIRECT};
	cr_expect_eq(gpu_view_depth_from_map(&m, &d, out, 32, &err), SVT_E_INPUT, "odd width");
	d.width = 4;
	d.stride = 8;
	d.model = GPU_DEPTH_PINHOLE;
	cr_expect_eq(gpu_view_depth_from_map(&m, &d, out, 32, &err), SVT_E_UNSUPPORTED);
	d.model = GPU_DEPTH_EQUIRECT;
	cr_expect_eq(gpu_view_depth_from_map(&m, &d, out, 8, &err), SVT_E_INPUT, "short stride");
	cr_expect_eq(gpu_view_depth_from_map(&m, &d, out, 32, &err), 0, "%s", err.msg);
	gpu_view_map_free(&m);
}

/* The colour and depth views in one pass (gpu_view_from_equirect_depth: each row's depth cut
 * from its rays as they are made, no frame map) give the colour view of the plain call and the
 * depth view of the per-pixel reference, byte for byte: random views (some holding a pole),
 * antialiased or not, one thread and three (bands of rows), 16-bit and float depth maps of
 * other sizes than the panorama, under each lanes cap. */
Test(view_map, colour_and_depth_in_one_pass)
{
	const int sizes[][2] = {{64, 32}, {161, 90}, {13, 5}, {203, 40}};
	const int W = 512, H = 256;
	uint8_t *pano = noise_rgb(W, H);
	gpu_image src = {pano, W, H, 3, (size_t)W * 3};
	gpu_ctx *ctx = cpu_ctx();
	svt_err err = {0};
	for (int c = 0; c < 36; c++) {
		gpu_view_simd_cap(2 - c / 12);
		gpu_view v;
		const int *sz = sizes[c % 4];
		gpu_view_pinhole(&v, sz[0], sz[1], c % 2 ? 60.0 : 100.0);
		double pitch = c % 5 == 2 ? 80.0 : 60.0 * (urand() - 0.5);
		gpu_view_rotation(360.0 * urand(), pitch, 20.0 * (urand() - 0.5), v.R);
		v.interp = c % 4 == 3 ? GPU_INTERP_BICUBIC : GPU_INTERP_BILINEAR;
		v.antialias = c % 3 != 0;
		gpu_ctx_set_cpu_threads(ctx, c % 2 ? 3 : 1);
		int DW = c % 3 ? 400 : 1024, is_float = c % 4 == 1;
		size_t stride;
		void *dp = depth_pano(DW, DW / 2, is_float, &stride);
		gpu_depth d = {.data = dp, .width = DW, .height = DW / 2, .stride = stride,
			       .is_float = is_float, .scale = is_float ? 1.0 : 0.001, .min_m = 0.3,
			       .max_m = 65.535, .model = GPU_DEPTH_EQUIRECT, .step = 1};
		size_t n = (size_t)v.width * v.height;
		uint8_t *a = malloc(3 * n), *b = malloc(3 * n);
		float *da = malloc(n * sizeof(float)), *db = malloc(n * sizeof(float));
		gpu_image ia = {a, v.width, v.height, 3, (size_t)v.width * 3};
		gpu_image ib = {b, v.width, v.height, 3, (size_t)v.width * 3};
		cr_assert_eq(gpu_view_from_equirect(ctx, &src, &v, &ia, &err), 0, "%s", err.msg);
		cr_assert_eq(gpu_view_depth_from_equirect_ref(&d, &v, da, (size_t)v.width * 4, &err),
			     0, "%s", err.msg);
		cr_assert_eq(gpu_view_from_equirect_depth(ctx, &src, &v, &ib, &d, db,
							  (size_t)v.width * 4, &err),
			     0, "%s", err.msg);
		cr_expect_eq(memcmp(a, b, 3 * n), 0, "case %d: the colour view differs", c);
		size_t bad = 0;
		for (size_t i = 0; i < n; i++)
			bad += memcmp(&da[i], &db[i], 4) != 0;
		cr_expect_eq(bad, 0, "case %d (%dx%d, depth %dx%d%s): %zu of %zu depths differ", c,
			     v.width, v.height, DW, DW / 2, is_float ? " float" : "", bad, n);
		free(a), free(b), free(da), free(db), free(dp);
	}
	gpu_view_simd_cap(2);
	/* A bad depth map is refused before anything is cut. */
	uint8_t out[3 * 64 * 32];
	float dout[64 * 32];
	gpu_view v;
	gpu_view_pinhole(&v, 64, 32, 90.0);
	gpu_image io = {out, 64, 32, 3, 64 * 3};
	gpu_depth bad = {.data = out, .width = 0, .height = 4, .stride = 8, .scale = 0.001,
			 .max_m = 60, .model = GPU_DEPTH_EQUIRECT};
	cr_expect_eq(gpu_view_from_equirect_depth(ctx, &src, &v, &io, &bad, dout, 64 * 4, &err),
		     SVT_E_INPUT);
	gpu_ctx_destroy(ctx);
	free(pano);
}

/* No lane reads outside the depth map (the AVX2 gathers read the 32 bits ending at each
 * sample, or starting at it in column 0): a 16-bit map whose first byte starts a page and
 * whose last byte ends one, between two pages that fault when read, cut by views that reach
 * its top and bottom rows and both ends of them (pitched to the poles, every yaw; narrow views
 * a degree from them across the seam), under each lanes cap; and the depths are the
 * reference's. */
Test(view_map, depth_lanes_read_only_the_map)
{
	const int W = 512, H = 256; /* 256 KiB: whole pages */
	size_t bytes = (size_t)W * H * 2, pg = (size_t)sysconf(_SC_PAGESIZE);
	uint8_t *region = mmap(NULL, bytes + 2 * pg, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	cr_assert(region != MAP_FAILED);
	cr_assert_eq(mprotect(region, pg, PROT_NONE), 0);
	cr_assert_eq(mprotect(region + pg + bytes, pg, PROT_NONE), 0);
	uint16_t *dm = (uint16_t *)(void *)(region + pg);
	for (size_t i = 0; i < (size_t)W * H; i++)
		dm[i] = (uint16_t)(1000 + (i * 2654435761u >> 20) % 20000);
	gpu_depth d = {.data = dm, .width = W, .height = H, .stride = (size_t)W * 2, .scale = 0.001,
		       .min_m = 0.3, .max_m = 65.535, .model = GPU_DEPTH_EQUIRECT, .step = 1};
	gpu_view_map m = {0};
	svt_err err = {0};
	for (int c = 0; c < 48; c++) {
		gpu_view_simd_cap(1 - c / 24);
		gpu_view v;
		gpu_view_pinhole(&v, c % 2 ? 160 : 45, c % 2 ? 96 : 30, c % 3 ? 90.0 : 40.0);
		gpu_view_rotation(7.5 * c, c % 4 < 2 ? 75.0 + c % 10 : -75.0 - c % 10, 0.0, v.R);
		cr_assert_eq(gpu_view_map_build(&v, &m, &err), 0, "%s", err.msg);
		compare(&v, &m, &d);
	}
	/* Narrow views a degree from the poles, across the seam: groups of sixteen taps on the
	 * first and last rows at both ends of them, a few columns apart (the lanes' loads). */
	for (int c = 0; c < 60; c++) {
		gpu_view_simd_cap(1 - c / 30);
		gpu_view v;
		gpu_view_pinhole(&v, 160, 96, 1.0);
		double p = 89.0 + 0.1 * (c / 2 % 3);
		gpu_view_rotation(170.0 + c % 20, c % 2 ? p : -p, 0.0, v.R);
		cr_assert_eq(gpu_view_map_build(&v, &m, &err), 0, "%s", err.msg);
		compare(&v, &m, &d);
	}
	gpu_view_simd_cap(2);
	gpu_view_map_free(&m);
	munmap(region, bytes + 2 * pg);
}
