/* test_gpu_jpeg.c: the JPEG decoder of the GPU path (gpu_jpeg_*) and the batched view entry
 * that reads its frames where they lie (gpu_views_from_image).
 *
 * Ground truth: images encoded here from known pixels (the decode must come back within the
 * JPEG's own error, PSNR >= 38 dB at quality 95 4:4:4, 25 dB where chroma is subsampled
 * across the pattern's hard colour edges) and libjpeg-turbo's decode of the same
 * bytes. Declared tolerance for nvJPEG against libjpeg-turbo (different IDCT and chroma
 * upsampling): max |d| <= 8, mean |d| <= 1.0 per sample; the libjpeg-turbo + upload path must
 * be byte-equal. The device tests skip, saying so, without a usable CUDA device. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <turbojpeg.h>

#include "gpu/gpu.h"

static uint8_t *pattern(int w, int h, unsigned seed)
{
	uint8_t *p = malloc((size_t)w * h * 3);
	cr_assert(p);
	for (int y = 0; y < h; y++)
		for (int x = 0; x < w; x++) {
			uint8_t *q = p + ((size_t)y * w + x) * 3;
			/* smooth gradients plus a few hard edges: what panoramas hold */
			q[0] = (uint8_t)(x * 255 / (w - 1));
			q[1] = (uint8_t)(y * 255 / (h - 1));
			q[2] = (uint8_t)((((x / 16) + (y / 16) + seed) & 1) ? 200 : 40);
		}
	return p;
}

static unsigned char *encode(const uint8_t *rgb, int w, int h, int samp, int progressive,
			     unsigned long *len)
{
	tjhandle tj = tjInitCompress();
	unsigned char *out = NULL;
	cr_assert(tj);
	cr_assert_eq(tjCompress2(tj, rgb, w, 0, h, TJPF_RGB, &out, len, samp, 95,
				 progressive ? TJFLAG_PROGRESSIVE : 0),
		     0, "%s", tjGetErrorStr2(tj));
	tjDestroy(tj);
	return out;
}

static uint8_t *turbo(const unsigned char *jpg, unsigned long len, int w, int h)
{
	tjhandle tj = tjInitDecompress();
	uint8_t *p = malloc((size_t)w * h * 3);
	cr_assert(tj && p);
	cr_assert_eq(tjDecompress2(tj, jpg, len, p, w, 0, h, TJPF_RGB, 0), 0);
	tjDestroy(tj);
	return p;
}

static double psnr(const uint8_t *a, const uint8_t *b, size_t n)
{
	double se = 0;
	for (size_t i = 0; i < n; i++)
		se += (double)(a[i] - b[i]) * (a[i] - b[i]);
	return se == 0 ? 99.0 : 10.0 * log10(255.0 * 255.0 / (se / n));
}

static gpu_image host_image(int w, int h)
{
	gpu_image g = {malloc((size_t)w * h * 3 + 7), w, h, 3, (size_t)w * 3};
	cr_assert(g.data);
	return g;
}

/* A batch on ctx: three good frames of different sizes and subsamplings, a progressive one, a
 * corrupt one; checks each frame's outcome against the known pixels and libjpeg-turbo. */
static void batch_case(gpu_ctx *ctx, int exact_to_turbo)
{
	enum { N = 5 };
	static const struct {
		int w, h, samp, prog;
	} c[N] = {{256, 128, TJSAMP_444, 0}, {512, 256, TJSAMP_420, 0}, {200, 100, TJSAMP_422, 0},
		  {128, 64, TJSAMP_444, 1}, {64, 32, TJSAMP_444, 0}};
	unsigned char *jpg[N];
	unsigned long jl[N];
	uint8_t *rgb[N];
	const uint8_t *data[N];
	size_t len[N];
	for (int k = 0; k < N; k++) {
		rgb[k] = pattern(c[k].w, c[k].h, (unsigned)k);
		jpg[k] = encode(rgb[k], c[k].w, c[k].h, c[k].samp, c[k].prog, &jl[k]);
		data[k] = jpg[k];
		len[k] = jl[k];
	}
	len[N - 1] = jl[N - 1] / 3; /* truncated in the middle of the scan, and its header kept */
	memset(jpg[N - 1] + 2, 0, 40);  /* ...and its tables gone: not decodable at all */

	svt_err err = {0};
	gpu_jpeg *j = NULL;
	cr_assert_eq(gpu_jpeg_create(ctx, N, &j, &err), 0, "%s", err.msg);
	cr_log_info("decoder: %s", gpu_jpeg_describe(j));
	gpu_jpeg_frame f[N];
	for (int round = 0; round < 2; round++) { /* twice: slots reused, same result */
		cr_assert_eq(gpu_jpeg_decode_batch(j, data, len, N, f, &err), 0, "%s", err.msg);
		for (int k = 0; k < N - 1; k++) {
			cr_assert_eq(f[k].rc, 0, "frame %d: %s", k, f[k].msg);
			cr_assert_eq(f[k].img.width, c[k].w);
			cr_assert_eq(f[k].img.height, c[k].h);
			cr_assert_eq(f[k].img.channels, 3);
			cr_assert_eq(f[k].on_device, gpu_ctx_is_cuda(ctx));
			gpu_image h = host_image(c[k].w, c[k].h);
			cr_assert_eq(gpu_jpeg_frame_download(j, &f[k], &h, &err), 0, "%s", err.msg);
			size_t ns = (size_t)c[k].w * c[k].h * 3;
			double p = psnr(h.data, rgb[k], ns);
			cr_expect(p >= (c[k].samp == TJSAMP_444 ? 38.0 : 25.0), "frame %d: PSNR %.1f dB",
				  k, p);
			uint8_t *t = turbo(jpg[k], jl[k], c[k].w, c[k].h);
			if (exact_to_turbo || f[k].backend == GPU_JPEG_TURBO) {
				cr_expect_eq(memcmp(h.data, t, ns), 0, "frame %d differs from "
					     "libjpeg-turbo", k);
			} else {
				double sum = 0;
				int mx = 0;
				for (size_t i = 0; i < ns; i++) {
					int d = abs(h.data[i] - t[i]);
					sum += d;
					mx = d > mx ? d : mx;
				}
				cr_expect(mx <= 8 && sum / ns <= 1.0,
					  "frame %d (nvJPEG): max |d| %d, mean %.3f vs libjpeg-turbo", k,
					  mx, sum / ns);
			}
			free(t);
			free(h.data);
		}
		cr_expect_neq(f[N - 1].rc, 0, "the corrupt frame must fail alone");
		cr_expect(strlen(f[N - 1].msg) > 0, "and say why");
	}
	/* n beyond the batch size is refused, nothing else happens */
	cr_expect_eq(gpu_jpeg_decode_batch(j, data, len, N + 1, f, &err), SVT_E_INPUT);
	gpu_jpeg_destroy(j);
	for (int k = 0; k < N; k++) {
		tjFree(jpg[k]);
		free(rgb[k]);
	}
}

static gpu_ctx *cuda_or_skip(void)
{
	if (!gpu_device_available())
		cr_skip_test("no CUDA device: this build has no CUDA or no usable GPU/driver; nvJPEG "
			     "and device frames not checked");
	gpu_ctx *c = NULL;
	svt_err err = {0};
	cr_assert_eq(gpu_ctx_create(GPU_MODE_REQUIRE, &c, &err), 0, "%s", err.msg);
	return c;
}

Test(gpu_jpeg, cpu_context_decodes_with_libjpeg_turbo)
{
	gpu_ctx *ctx = NULL;
	svt_err err = {0};
	cr_assert_eq(gpu_ctx_create(GPU_MODE_CPU, &ctx, &err), 0, "%s", err.msg);
	batch_case(ctx, 1);
	gpu_jpeg *j = NULL;
	cr_assert_eq(gpu_jpeg_create(ctx, 1, &j, &err), 0);
	cr_expect_eq(gpu_jpeg_backend_of(j), GPU_JPEG_TURBO);
	cr_expect(strstr(gpu_jpeg_describe(j), "libjpeg-turbo") != NULL, "%s", gpu_jpeg_describe(j));
	gpu_jpeg_destroy(j);
	gpu_jpeg_destroy(NULL);
	cr_expect_eq(gpu_jpeg_create(ctx, 0, &j, &err), SVT_E_INPUT);
	cr_expect_eq(gpu_jpeg_create(NULL, 4, &j, &err), SVT_E_INPUT);
	gpu_ctx_destroy(ctx);
}

/* AUTO on a machine without a GPU: the decoder still works and says it is on the CPU. */
Test(gpu_jpeg, auto_context_falls_back_and_says_so)
{
	gpu_ctx *ctx = NULL;
	svt_err err = {0};
	cr_assert_eq(gpu_ctx_create(GPU_MODE_AUTO, &ctx, &err), 0, "%s", err.msg);
	gpu_jpeg *j = NULL;
	cr_assert_eq(gpu_jpeg_create(ctx, 2, &j, &err), 0, "%s", err.msg);
	const char *d = gpu_jpeg_describe(j);
	if (!gpu_ctx_is_cuda(ctx)) {
		cr_expect_eq(gpu_jpeg_backend_of(j), GPU_JPEG_TURBO);
		cr_expect(strstr(d, "libjpeg-turbo") && (strstr(d, "CPU") || strstr(d, "no CUDA")),
			  "%s", d);
	} else {
		cr_log_info("CUDA context; decoder %s", d);
	}
	gpu_jpeg_destroy(j);
	gpu_ctx_destroy(ctx);
}

Test(gpu_jpeg, device_decode_matches_libjpeg_turbo)
{
	gpu_ctx *ctx = cuda_or_skip();
	batch_case(ctx, 0);
	gpu_ctx_destroy(ctx);
}

/* SVT_NVJPEG=off on a CUDA context: libjpeg-turbo + upload, byte-equal, frames on the device. */
Test(gpu_jpeg, device_without_nvjpeg_uploads_turbo_frames)
{
	gpu_ctx *ctx = cuda_or_skip();
	setenv("SVT_NVJPEG", "off", 1);
	batch_case(ctx, 1);
	unsetenv("SVT_NVJPEG");
	gpu_ctx_destroy(ctx);
}

/* A real panorama decoded on ctx, then views cut from the frame where it lies: equal to the
 * views of libjpeg-turbo's host decode through gpu_view_from_equirect_ref (bilinear: exact). */
static void views_case(gpu_ctx *ctx)
{
	const char *root = getenv("SVT_REAL_DATA");
	char path[1024];
	if (!root)
		cr_skip_test("SVT_REAL_DATA unset: no real panorama to decode");
	snprintf(path, sizeof(path), "%s/pannellum_jordan_pond/examplepano.jpg", root);
	FILE *fp = fopen(path, "rb");
	if (!fp)
		cr_skip_test("%s absent", path);
	fseek(fp, 0, SEEK_END);
	long n = ftell(fp);
	fseek(fp, 0, SEEK_SET);
	uint8_t *buf = malloc((size_t)n);
	cr_assert(buf && fread(buf, 1, (size_t)n, fp) == (size_t)n);
	fclose(fp);

	svt_err err = {0};
	gpu_jpeg *j = NULL;
	gpu_jpeg_frame f;
	const uint8_t *data[1] = {buf};
	size_t len[1] = {(size_t)n};
	cr_assert_eq(gpu_jpeg_create(ctx, 1, &j, &err), 0, "%s", err.msg);
	cr_assert_eq(gpu_jpeg_decode_batch(j, data, len, 1, &f, &err), 0, "%s", err.msg);
	cr_assert_eq(f.rc, 0, "%s", f.msg);
	gpu_image host = host_image(f.img.width, f.img.height);
	cr_assert_eq(gpu_jpeg_frame_download(j, &f, &host, &err), 0, "%s", err.msg);

	enum { NV = 3 };
	gpu_view v[NV];
	gpu_image got[NV], want[NV];
	for (int k = 0; k < NV; k++) {
		gpu_view_pinhole(&v[k], 160, 96, 90);
		gpu_view_rotation(120.0 * k, 10.0 * k, 0, v[k].R);
		got[k] = host_image(160, 96);
		want[k] = host_image(160, 96);
		cr_assert_eq(gpu_view_from_equirect_ref(&host, &v[k], &want[k], &err), 0, "%s",
			     err.msg);
	}
	cr_assert_eq(gpu_views_from_image(ctx, &f.img, f.on_device, v, NV, got, &err), 0, "%s",
		     err.msg);
	for (int k = 0; k < NV; k++) {
		/* nvJPEG's pixels may differ from libjpeg-turbo's: compare against the views of the
		 * pixels this frame actually holds (downloaded above), which must be exact. */
		cr_expect_eq(memcmp(got[k].data, want[k].data, (size_t)160 * 96 * 3), 0, "view %d", k);
		free(got[k].data);
		free(want[k].data);
	}
	free(host.data);
	gpu_jpeg_destroy(j);
	free(buf);
}

Test(gpu_jpeg, views_of_a_host_frame_equal_the_reference)
{
	gpu_ctx *ctx = NULL;
	svt_err err = {0};
	cr_assert_eq(gpu_ctx_create(GPU_MODE_CPU, &ctx, &err), 0, "%s", err.msg);
	views_case(ctx);
	/* a device source on a CPU context is refused */
	uint8_t px[64 * 32 * 3] = {0};
	gpu_image src = {px, 64, 32, 3, 64 * 3}, dst = host_image(16, 16);
	gpu_view v;
	gpu_view_pinhole(&v, 16, 16, 90);
	cr_expect_eq(gpu_views_from_image(ctx, &src, 1, &v, 1, &dst, &err), SVT_E_INPUT);
	cr_expect(strstr(err.msg, "CUDA") != NULL, "%s", err.msg);
	free(dst.data);
	gpu_ctx_destroy(ctx);
}

Test(gpu_jpeg, views_of_a_device_frame_equal_the_reference)
{
	gpu_ctx *ctx = cuda_or_skip();
	views_case(ctx);
	gpu_ctx_destroy(ctx);
}
