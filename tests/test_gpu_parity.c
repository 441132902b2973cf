/* test_gpu_parity.c: each CUDA kernel against its C reference on seeded inputs. Declared
 * tolerances: the view map, bilinear taps (fixed point), tensors and the point kernels'
 * integer decisions are computed with the same uncontracted float operations on both sides
 * (gpu_math.h GM_MUL/GM_ADD), so those outputs must be equal; bicubic views may differ by
 * 1 LSB and Plucker rays by 1 ulp of their dtype (nvcc contracts a*b+c into FMA there);
 * positions from depth by 1e-6 relative. Guard bytes after every output row and after the
 * buffer must be untouched. Skips when no CUDA device is usable (always on machines without a
 * GPU, and in CUDA=0 builds). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gpu/gpu.h"

#define GUARD 0xA5
#define GUARD_TAIL 64

static unsigned lcg(unsigned *s)
{
	*s = *s * 1664525u + 1013904223u;
	return *s >> 8;
}

/* SVT_GPU_PARITY_SELFTEST=1 runs the comparisons with the C path on both sides, to check the
 * tests themselves (guards, tolerances, argument set-up) on a machine without a GPU. */
static gpu_ctx *cuda_ctx_or_skip(void)
{
	if (getenv("SVT_GPU_PARITY_SELFTEST")) {
		gpu_ctx *c = NULL;
		svt_err err = {0};
		cr_assert_eq(gpu_ctx_create(GPU_MODE_CPU, &c, &err), 0, "%s", err.msg);
		return c;
	}
	if (!gpu_device_available())
		cr_skip_test("no CUDA device: %s",
			     "this build has no CUDA or no usable GPU/driver; parity not checked");
	gpu_ctx *c = NULL;
	svt_err err = {0};
	cr_assert_eq(gpu_ctx_create(GPU_MODE_REQUIRE, &c, &err), 0, "%s", err.msg);
	cr_assert(gpu_ctx_is_cuda(c));
	return c;
}

/* An output image whose rows are padded with guard bytes, and a guard tail after it. */
static gpu_image guarded_image(int w, int h, int ch, size_t *total)
{
	size_t stride = (size_t)w * ch + 13;
	*total = stride * h + GUARD_TAIL;
	gpu_image g = {malloc(*total), w, h, ch, stride};
	cr_assert(g.data);
	memset(g.data, GUARD, *total);
	return g;
}

static void check_guards(const gpu_image *g, size_t total)
{
	for (int j = 0; j < g->height; j++)
		for (size_t b = (size_t)g->width * g->channels; b < g->stride; b++)
			cr_assert_eq(g->data[(size_t)j * g->stride + b], GUARD, "row %d guard byte %zu", j,
				     b);
	for (size_t b = g->stride * g->height; b < total; b++)
		cr_assert_eq(g->data[b], GUARD, "tail guard byte %zu", b);
}

Test(gpu_parity, view_from_equirect)
{
	gpu_ctx *c = cuda_ctx_or_skip();
	unsigned s = 1234;
	static const struct {
		int W, H, ch, w, h;
		double fov, yaw, pitch, roll;
		gpu_interp interp;
		int aa;
	} cases[] = {
		{1024, 512, 3, 320, 176, 90, 0, 0, 0, GPU_INTERP_BILINEAR, 1},
		{1024, 512, 3, 320, 176, 90, 180, 10, 5, GPU_INTERP_BILINEAR, 1},
		{1024, 512, 3, 200, 200, 120, 33, 89, 0, GPU_INTERP_BILINEAR, 1},   /* north pole */
		{1024, 512, 1, 200, 200, 120, -120, -90, 45, GPU_INTERP_BICUBIC, 1}, /* south pole */
		{2048, 1024, 4, 64, 48, 90, 10, 0, 0, GPU_INTERP_BILINEAR, 1},      /* decimation */
		{2048, 1024, 3, 64, 48, 90, 10, 0, 0, GPU_INTERP_BILINEAR, 0},
		{513, 257, 3, 1280, 704, 60, -179, 0, 0, GPU_INTERP_BICUBIC, 0},   /* upsampling */
		{4096, 2048, 3, 1280, 704, 90, 75, -20, 0, GPU_INTERP_BILINEAR, 1},
	};
	for (size_t n = 0; n < sizeof(cases) / sizeof(cases[0]); n++) {
		int W = cases[n].W, H = cases[n].H, ch = cases[n].ch;
		gpu_image src = {malloc(((size_t)W * ch + 7) * H), W, H, ch, (size_t)W * ch + 7};
		cr_assert(src.data);
		for (size_t b = 0; b < (size_t)H * src.stride; b++)
			src.data[b] = (uint8_t)(lcg(&s) & 255);
		gpu_view v;
		gpu_view_pinhole(&v, cases[n].w, cases[n].h, cases[n].fov);
		gpu_view_rotation(cases[n].yaw, cases[n].pitch, cases[n].roll, v.R);
		v.interp = cases[n].interp;
		v.antialias = cases[n].aa;
		size_t ta, tb;
		gpu_image ref = guarded_image(v.width, v.height, ch, &ta);
		gpu_image dev = guarded_image(v.width, v.height, ch, &tb);
		svt_err err = {0};
		cr_assert_eq(gpu_view_from_equirect_ref(&src, &v, &ref, &err), 0, "%s", err.msg);
		/* Twice: the second call reuses the context's buffers. */
		for (int rep = 0; rep < 2; rep++)
			cr_assert_eq(gpu_view_from_equirect(c, &src, &v, &dev, &err), 0, "%s", err.msg);
		size_t off1 = 0;
		for (int j = 0; j < v.height; j++)
			for (int b = 0; b < v.width * ch; b++) {
				int d = abs((int)ref.data[j * ref.stride + b] - (int)dev.data[j * dev.stride + b]);
				int tol = cases[n].interp == GPU_INTERP_BICUBIC ? 1 : 0;
				cr_assert(d <= tol, "case %zu: (%d, %d) ref %d cuda %d", n, b / ch, j,
					  ref.data[j * ref.stride + b], dev.data[j * dev.stride + b]);
				off1 += d;
			}
		cr_log_info("view case %zu: %zu bytes differ (by 1 LSB, bicubic only)", n, off1);
		check_guards(&dev, tb);
		free(src.data);
		free(ref.data);
		free(dev.data);
	}
	gpu_ctx_destroy(c);
}

/* Cubemap faces of size x size from a 1024 x 512 random panorama (rows padded by pad bytes)
 * on the device against the reference, every byte within tol. */
static void cubemap_case(unsigned seed, int size, size_t pad, gpu_interp interp, int tol)
{
	gpu_ctx *c = cuda_ctx_or_skip();
	unsigned s = seed;
	size_t stride = 1024 * 3 + pad;
	gpu_image src = {malloc(stride * 512), 1024, 512, 3, stride};
	cr_assert(src.data);
	for (size_t b = 0; b < stride * 512; b++)
		src.data[b] = (uint8_t)(lcg(&s) & 255);
	gpu_image ref[GPU_CUBE_FACES], dev[GPU_CUBE_FACES];
	size_t tot[GPU_CUBE_FACES], t2;
	for (int f = 0; f < GPU_CUBE_FACES; f++) {
		ref[f] = guarded_image(size, size, 3, &t2);
		dev[f] = guarded_image(size, size, 3, &tot[f]);
	}
	svt_err err = {0};
	cr_assert_eq(gpu_cubemap_from_equirect_ref(&src, size, interp, 1, ref, &err), 0);
	cr_assert_eq(gpu_cubemap_from_equirect(c, &src, size, interp, 1, dev, &err), 0, "%s",
		     err.msg);
	for (int f = 0; f < GPU_CUBE_FACES; f++) {
		for (int j = 0; j < size; j++)
			for (int b = 0; b < size * 3; b++)
				cr_assert(abs((int)ref[f].data[j * ref[f].stride + b] -
					      (int)dev[f].data[j * dev[f].stride + b]) <= tol,
					  "face %d row %d byte %d beyond %d LSB", f, j, b, tol);
		check_guards(&dev[f], tot[f]);
		free(ref[f].data);
		free(dev[f].data);
	}
	free(src.data);
	gpu_ctx_destroy(c);
}

/* Cubemap, bilinear: the faces come from the same fixed-point taps as the view, so every
 * byte must equal the reference's; a source with padded rows. */
Test(gpu_parity, cubemap_bilinear_padded) { cubemap_case(78, 200, 9, GPU_INTERP_BILINEAR, 0); }

/* Tensors from a frame with padded rows (a view inside a wider buffer): the upload packs the
 * rows, the bytes must equal the reference's. */
Test(gpu_parity, tensor_strided_source)
{
	gpu_ctx *c = cuda_ctx_or_skip();
	unsigned s = 6;
	size_t stride = 1280 * 3 + 4000;
	gpu_image src = {malloc(stride * 704), 1280, 704, 3, stride};
	cr_assert(src.data);
	for (size_t b = 0; b < stride * 704; b++)
		src.data[b] = (uint8_t)(lcg(&s) & 255);
	svt_err err = {0};
	static const int sizes[2][2] = {{224, 224}, {1280, 704}};
	for (int z = 0; z < 2; z++)
		for (int t = 0; t < 3; t++) {
			size_t n = (size_t)3 * sizes[z][0] * sizes[z][1], es = t == 0 ? 4 : 2;
			uint8_t *a = malloc(n * es + GUARD_TAIL), *b = malloc(n * es + GUARD_TAIL);
			cr_assert(a && b);
			memset(b, GUARD, n * es + GUARD_TAIL);
			cr_assert_eq(gpu_tensor_from_image_ref(&src, sizes[z][0], sizes[z][1], NULL, NULL,
							       (gpu_dtype)t, a, &err), 0);
			cr_assert_eq(gpu_tensor_from_image(c, &src, sizes[z][0], sizes[z][1], NULL, NULL,
							   (gpu_dtype)t, b, &err), 0, "%s", err.msg);
			cr_assert(memcmp(a, b, n * es) == 0, "tensor %dx%d dtype %d differs",
				  sizes[z][0], sizes[z][1], t);
			for (size_t k = n * es; k < n * es + GUARD_TAIL; k++)
				cr_assert_eq(b[k], GUARD);
			free(a);
			free(b);
		}
	free(src.data);
	gpu_ctx_destroy(c);
}

/* Cubemap: six faces in one upload equal the reference within 1 LSB. */
Test(gpu_parity, cubemap) { cubemap_case(77, 129, 0, GPU_INTERP_BICUBIC, 1); }

/* Tensors: equal to the reference's bytes; Plucker rays: f16/bf16 within 1 ulp, f32 within
 * 1e-6 relative (double FMA on the device); guard elements after the outputs untouched. */
static void check_u16(const uint16_t *a, const uint16_t *b, size_t n, const char *what)
{
	for (size_t k = 0; k < n; k++)
		cr_assert(abs((int)a[k] - (int)b[k]) <= 1, "%s element %zu: %04x vs %04x", what, k,
			  a[k], b[k]);
}

Test(gpu_parity, tensor_and_plucker)
{
	gpu_ctx *c = cuda_ctx_or_skip();
	unsigned s = 5;
	gpu_image src = {malloc(1000 * 600 * 3), 1000, 600, 3, 1000 * 3};
	for (size_t b = 0; b < 1000 * 600 * 3; b++)
		src.data[b] = (uint8_t)(lcg(&s) & 255);
	float mean[3] = {0.485f, 0.456f, 0.406f}, sd[3] = {0.229f, 0.224f, 0.225f};
	static const int sizes[3][2] = {{224, 224}, {1000, 600}, {1600, 960}};
	svt_err err = {0};
	for (int z = 0; z < 3; z++)
		for (int t = 0; t < 3; t++) {
			size_t n = (size_t)3 * sizes[z][0] * sizes[z][1], es = t == 0 ? 4 : 2;
			uint8_t *a = malloc(n * es + GUARD_TAIL), *b = malloc(n * es + GUARD_TAIL);
			memset(b, GUARD, n * es + GUARD_TAIL);
			cr_assert_eq(gpu_tensor_from_image_ref(&src, sizes[z][0], sizes[z][1], mean, sd,
							       (gpu_dtype)t, a, &err), 0);
			cr_assert_eq(gpu_tensor_from_image(c, &src, sizes[z][0], sizes[z][1], mean, sd,
							   (gpu_dtype)t, b, &err), 0, "%s", err.msg);
			cr_assert(memcmp(a, b, n * es) == 0, "tensor %dx%d dtype %d differs",
				  sizes[z][0], sizes[z][1], t);
			for (size_t k = n * es; k < n * es + GUARD_TAIL; k++)
				cr_assert_eq(b[k], GUARD);
			free(a);
			free(b);
		}
	free(src.data);

	double w2c[16 * 4], K[4 * 4];
	for (int cam = 0; cam < 4; cam++) {
		double R[9];
		gpu_view_rotation(lcg(&s) % 360, (double)(lcg(&s) % 60) - 30, 0, R);
		for (int i = 0; i < 3; i++) {
			for (int j = 0; j < 3; j++)
				w2c[16 * cam + 4 * i + j] = R[3 * j + i];
			w2c[16 * cam + 4 * i + 3] = (double)(lcg(&s) % 2000) / 10 - 100;
		}
		w2c[16 * cam + 12] = w2c[16 * cam + 13] = w2c[16 * cam + 14] = 0;
		w2c[16 * cam + 15] = 1;
		K[4 * cam] = K[4 * cam + 1] = 600 + cam;
		K[4 * cam + 2] = 640;
		K[4 * cam + 3] = 352;
	}
	for (int t = 0; t < 3; t++) {
		size_t n = (size_t)4 * 6 * 1280 * 704, es = t == 0 ? 4 : 2;
		uint8_t *a = malloc(n * es + GUARD_TAIL), *b = malloc(n * es + GUARD_TAIL);
		memset(b, GUARD, n * es + GUARD_TAIL);
		cr_assert_eq(gpu_plucker_rays_ref(w2c, K, 4, 1280, 704, 1, (gpu_dtype)t, a, &err), 0);
		cr_assert_eq(gpu_plucker_rays(c, w2c, K, 4, 1280, 704, 1, (gpu_dtype)t, b, &err), 0,
			     "%s", err.msg);
		if (t == 0) {
			for (size_t k = 0; k < n; k++)
				cr_assert(fabsf(((float *)a)[k] - ((float *)b)[k]) <=
					  1e-6f * (1 + fabsf(((float *)a)[k])));
		} else {
			check_u16((uint16_t *)a, (uint16_t *)b, n, "plucker");
		}
		for (size_t k = n * es; k < n * es + GUARD_TAIL; k++)
			cr_assert_eq(b[k], GUARD);
		free(a);
		free(b);
	}
	gpu_ctx_destroy(c);
}

/* Point kernels: integer decisions on both paths, so outputs are equal (positions computed in
 * double then rounded to float: equal unless FMA moves a double by an ulp across a float
 * rounding boundary; declared tolerance 1 float ulp for positions, exact for counts, order,
 * colours, cells and the z-buffer winners). */
static int close_f(float a, float b)
{
	return a == b || fabsf(a - b) <= 1e-6f * fabsf(a);
}

Test(gpu_parity, point_kernels)
{
	gpu_ctx *c = cuda_ctx_or_skip();
	unsigned s = 31;
	const int W = 1024, H = 512;
	uint16_t *dm = malloc(sizeof(uint16_t) * W * H);
	for (int k = 0; k < W * H; k++)
		dm[k] = (lcg(&s) % 5 == 0) ? 0 : (uint16_t)(500 + lcg(&s) % 40000);
	uint8_t *col = malloc(2048 * 1024 * 3);
	for (int k = 0; k < 2048 * 1024 * 3; k++)
		col[k] = (uint8_t)lcg(&s);
	gpu_image cimg = {col, 2048, 1024, 3, 2048 * 3};
	gpu_depth d = {dm, W, H, W * 2, 0, 0.001, 0.3, 35, GPU_DEPTH_EQUIRECT, 0, 0, 0, 0, 1};
	double w2c[16] = {0.6, 0.8, 0, 10, -0.8, 0.6, 0, -20, 0, 0, 1, 1.5, 0, 0, 0, 1};
	size_t cap = (size_t)W * H;
	gpu_point *a = malloc(sizeof(gpu_point) * (cap + 4)), *b = malloc(sizeof(gpu_point) * (cap + 4));
	memset(b, GUARD, sizeof(gpu_point) * (cap + 4));
	size_t na = 0, nb = 0;
	svt_err err = {0};
	cr_assert_eq(gpu_depth_to_points_ref(&d, &cimg, w2c, a, cap, &na, &err), 0);
	cr_assert_eq(gpu_depth_to_points(c, &d, &cimg, w2c, b, cap, &nb, &err), 0, "%s", err.msg);
	cr_assert_eq(na, nb);
	for (size_t k = 0; k < na; k++)
		cr_assert(close_f(a[k].x, b[k].x) && close_f(a[k].y, b[k].y) &&
			  close_f(a[k].z, b[k].z) && !memcmp(&a[k].r, &b[k].r, 4), "point %zu", k);
	for (size_t k = nb * sizeof(gpu_point); k < (cap + 4) * sizeof(gpu_point); k++)
		cr_assert_eq(((uint8_t *)b)[k], GUARD);

	/* The reference's points feed the next three kernels on both paths. */
	gpu_point *va = malloc(sizeof(gpu_point) * na), *vb = malloc(sizeof(gpu_point) * na);
	size_t ma = 0, mb = 0, da = 0, db = 0;
	cr_assert_eq(gpu_voxel_downsample_ref(a, na, 0.25, va, na, &ma, &da, &err), 0);
	cr_assert_eq(gpu_voxel_downsample(c, a, na, 0.25, vb, na, &mb, &db, &err), 0, "%s", err.msg);
	cr_assert_eq(ma, mb);
	cr_assert_eq(da, db);
	cr_assert(memcmp(va, vb, ma * sizeof(gpu_point)) == 0, "voxels differ");

	gpu_bev bev = {10, -20, 33, 0.2, 400, 300, -5, 20};
	size_t cells = 400 * 300;
	uint8_t *oa = malloc(cells * 4), *ob = malloc(cells * 4 + GUARD_TAIL);
	float *ha = malloc(cells * 4), *hb = malloc(cells * 4);
	memset(ob, GUARD, cells * 4 + GUARD_TAIL);
	cr_assert_eq(gpu_bev_raster_ref(a, na, &bev, oa, ha, oa + cells, &err), 0);
	cr_assert_eq(gpu_bev_raster(c, a, na, &bev, ob, hb, ob + cells, &err), 0, "%s", err.msg);
	cr_assert(memcmp(oa, ob, cells * 4) == 0, "bev occupancy/colour differ");
	for (size_t k = 0; k < cells; k++)
		cr_assert((isnan(ha[k]) && isnan(hb[k])) || ha[k] == hb[k], "height cell %zu", k);
	for (size_t k = cells * 4; k < cells * 4 + GUARD_TAIL; k++)
		cr_assert_eq(ob[k], GUARD);

	double K[4] = {640, 640, 640, 352};
	float *za = malloc(1280 * 704 * 4), *zb = malloc(1280 * 704 * 4);
	uint8_t *ra = malloc(1280 * 704 * 3), *rb = malloc(1280 * 704 * 3);
	cr_assert_eq(gpu_points_to_depth_ref(a, na, w2c, K, 1280, 704, 0.1, za, ra, &err), 0);
	cr_assert_eq(gpu_points_to_depth(c, a, na, w2c, K, 1280, 704, 0.1, zb, rb, &err), 0, "%s",
		     err.msg);
	size_t diff = 0;
	for (size_t k = 0; k < 1280 * 704; k++)
		diff += !close_f(za[k], zb[k]) || memcmp(ra + 3 * k, rb + 3 * k, 3);
	cr_assert_eq(diff, 0, "%zu z-buffer pixels differ", diff);

	free(dm), free(col), free(a), free(b), free(va), free(vb), free(oa), free(ob), free(ha),
		free(hb), free(za), free(zb), free(ra), free(rb);
	gpu_ctx_destroy(c);
}

/* Depth -> points as the pipeline feeds it, and the cases the equirect uint16 test above leaves
 * out: step 4 over a padded-stride uint16 panorama with a colour image of another size (the
 * job's call), a pinhole float32 map with 0 / NaN / Inf / negative / out-of-range samples and
 * no colour, and SVT_E_LIMIT. The trig terms come from one host table and every multiply and
 * add is rounded alone on both paths (points_math.h), so points must be bit-equal, and each
 * path's own points must fall in the same voxels (the voxel grid fed by both paths' output,
 * not only by the reference's). */
Test(gpu_parity, depth_points_pipeline_cases)
{
	gpu_ctx *c = cuda_ctx_or_skip();
	enum { W = 1024, H = 512, PADB = 10 };
	unsigned s = 91;
	size_t ustride = W * 2 + PADB;
	uint8_t *um = malloc(ustride * H);
	for (int y = 0; y < H; y++)
		for (int x = 0; x < W; x++) {
			uint16_t v = (lcg(&s) % 6 == 0) ? 0 : (uint16_t)(300 + lcg(&s) % 65000);
			memcpy(um + (size_t)y * ustride + 2 * x, &v, 2);
		}
	size_t fstride = W * 4 + 12;
	uint8_t *fm = malloc(fstride * H);
	const float bad[] = {0.0f, NAN, INFINITY, -3.0f, 900.0f};
	for (int y = 0; y < H; y++)
		for (int x = 0; x < W; x++) {
			unsigned r = lcg(&s);
			float v = r % 5 == 0 ? bad[r % 25 / 5] : 0.4f + (float)(lcg(&s) % 80000) * 0.001f;
			memcpy(fm + (size_t)y * fstride + 4 * x, &v, 4);
		}
	uint8_t *col = malloc(1500 * 700 * 3);
	for (int k = 0; k < 1500 * 700 * 3; k++)
		col[k] = (uint8_t)lcg(&s);
	gpu_image cimg = {col, 1500, 700, 3, 1500 * 3};
	gpu_depth cases[2] = {
		{um, W, H, ustride, 0, 0.001, 0.3, 65.535, GPU_DEPTH_EQUIRECT, 0, 0, 0, 0, 4},
		{fm, W, H, fstride, 1, 1.0, 0.3, 80, GPU_DEPTH_PINHOLE, 700, 690, 511.3, 260.8, 1},
	};
	const gpu_image *colors[2] = {&cimg, NULL};
	double w2c[16] = {0.6, 0.8, 0, 10, -0.8, 0.6, 0, -20, 0, 0, 1, 1.5, 0, 0, 0, 1};
	size_t cap = (size_t)W * H;
	gpu_point *a = malloc(sizeof(gpu_point) * (cap + 4)), *b = malloc(sizeof(gpu_point) * (cap + 4));
	gpu_point *va = malloc(sizeof(gpu_point) * cap), *vb = malloc(sizeof(gpu_point) * cap);
	svt_err err = {0};
	for (int q = 0; q < 2; q++) {
		size_t na = 0, nb = 0, ma = 0, mb = 0;
		memset(b, GUARD, sizeof(gpu_point) * (cap + 4));
		cr_assert_eq(gpu_depth_to_points_ref(&cases[q], colors[q], w2c, a, cap, &na, &err), 0,
			     "%s", err.msg);
		cr_assert_eq(gpu_depth_to_points(c, &cases[q], colors[q], w2c, b, cap, &nb, &err), 0,
			     "case %d: %s", q, err.msg);
		cr_assert_gt(na, 1000, "case %d: only %zu points", q, na);
		cr_assert_eq(na, nb, "case %d", q);
		cr_assert(memcmp(a, b, na * sizeof(gpu_point)) == 0, "case %d: points differ", q);
		for (size_t k = nb * sizeof(gpu_point); k < (cap + 4) * sizeof(gpu_point); k++)
			cr_assert_eq(((uint8_t *)b)[k], GUARD, "case %d: guard byte %zu", q, k);
		cr_assert_eq(gpu_voxel_downsample_ref(a, na, 0.05, va, cap, &ma, NULL, &err), 0);
		cr_assert_eq(gpu_voxel_downsample(c, b, nb, 0.05, vb, cap, &mb, NULL, &err), 0, "%s",
			     err.msg);
		cr_assert_eq(ma, mb, "case %d", q);
		cr_assert(memcmp(va, vb, ma * sizeof(gpu_point)) == 0, "case %d: voxels differ", q);
		/* One point short of the count: SVT_E_LIMIT on both paths, nothing valid. */
		size_t n0 = 7, n1 = 7;
		cr_expect_eq(gpu_depth_to_points_ref(&cases[q], colors[q], w2c, a, na - 1, &n0, &err),
			     SVT_E_LIMIT);
		cr_expect_eq(gpu_depth_to_points(c, &cases[q], colors[q], w2c, b, na - 1, &n1, &err),
			     SVT_E_LIMIT);
		cr_expect_eq(n0, 0);
		cr_expect_eq(n1, 0);
	}
	free(um), free(fm), free(col), free(a), free(b), free(va), free(vb);
	gpu_ctx_destroy(c);
}

/* Depth view at the shard's size from a half-size float32 depth panorama (random ranges, a
 * seventh invalid: 0, NaN or beyond max_m), into rows padded with guard floats (the stride
 * path the uint16 case in test_gpu_depth.c does not cover). The view map, the nearest tap and
 * range -> z are the same uncontracted float math on both sides (GM_MUL / GM_ADD, IEEE
 * division and sqrt): every pixel must be equal. */
Test(gpu_parity, depth_view_float_padded)
{
	gpu_ctx *c = cuda_ctx_or_skip();
	enum { DW = 2048, DH = 1024, W = 1280, H = 704, PAD = 7 };
	unsigned s = 77;
	float *dm = malloc(sizeof(float) * DW * DH);
	cr_assert(dm);
	for (int k = 0; k < DW * DH; k++) {
		unsigned r = lcg(&s);
		dm[k] = r % 7 == 0 ? (r % 3 == 0 ? 0.0f : r % 3 == 1 ? NAN : 500.0f)
				   : 0.5f + (float)(lcg(&s) % 60000) * 0.001f;
	}
	gpu_depth d = {dm, DW, DH, DW * sizeof(float), 1, 1.0, 0.3, 80, GPU_DEPTH_EQUIRECT,
		       0, 0, 0, 0, 1};
	size_t stride = (W + PAD) * sizeof(float), n = (size_t)(W + PAD) * H + GUARD_TAIL;
	float *a = malloc(n * sizeof(float)), *b = malloc(n * sizeof(float));
	cr_assert(a && b);
	double yaw[] = {30, 180, -90}, pitch[] = {-20, 75, -85};
	svt_err err = {0};
	for (int q = 0; q < 3; q++) {
		for (size_t k = 0; k < n; k++)
			a[k] = b[k] = -7.0f;
		gpu_view v;
		gpu_view_pinhole(&v, W, H, 90);
		gpu_view_rotation(yaw[q], pitch[q], 0, v.R);
		cr_assert_eq(gpu_view_depth_from_equirect_ref(&d, &v, a, stride, &err), 0, "%s",
			     err.msg);
		cr_assert_eq(gpu_view_depth_from_equirect(c, &d, &v, b, stride, &err), 0, "%s",
			     err.msg);
		size_t differ = 0;
		for (int y = 0; y < H; y++) {
			for (int x = 0; x < W; x++) {
				float fa = a[(size_t)y * (W + PAD) + x], fb = b[(size_t)y * (W + PAD) + x];
				differ += fa != fb;
			}
			for (int x = W; x < W + PAD; x++)
				cr_assert_eq(b[(size_t)y * (W + PAD) + x], -7.0f,
					     "case %d row %d guard float %d overwritten", q, y, x - W);
		}
		for (size_t k = (size_t)(W + PAD) * H; k < n; k++)
			cr_assert_eq(b[k], -7.0f, "case %d tail guard overwritten", q);
		cr_expect_eq(differ, 0, "case %d: %zu pixels differ", q, differ);
	}
	free(dm), free(a), free(b);
	gpu_ctx_destroy(c);
}
