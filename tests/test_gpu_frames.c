/* test_gpu_frames.c: the clip seam (gpu_frame_batch). Ground truth: the job's own per-frame
 * calls, each against its C reference: libjpeg-turbo's decode of the same bytes, then
 * gpu_view_from_equirect_ref, gpu_view_depth_from_equirect_ref and gpu_depth_to_points_ref.
 * On the C path the batch must give those bytes exactly (it is the job's CPU path); a corrupt
 * frame fails alone with its reason, a truncated one decodes with a warning as the ingest
 * decoder says, a host panorama runs beside the JPEGs. On a CUDA device (skipped without
 * one, saying so) the batch with the libjpeg-turbo + upload decoder must give the same
 * bytes, and with nvJPEG the views stay within nvJPEG's declared decode tolerance (max |d| 8,
 * test_gpu_jpeg.c) while the depth view, which reads no colour, stays exact. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <turbojpeg.h>

#include "gpu/gpu.h"

enum { PW = 512, PH = 256, DW = 256, DH = 128, VW = 160, VH = 96, N = 5 };

static unsigned lcg(unsigned *s)
{
	*s = *s * 1664525u + 1013904223u;
	return *s >> 8;
}

/* A smooth panorama with some edges, encoded at quality 95. */
static unsigned char *pano_jpeg(unsigned seed, unsigned long *len, uint8_t **rgb_out)
{
	uint8_t *p = malloc((size_t)PW * PH * 3);
	cr_assert(p);
	for (int y = 0; y < PH; y++)
		for (int x = 0; x < PW; x++) {
			uint8_t *q = p + ((size_t)y * PW + x) * 3;
			q[0] = (uint8_t)(x * 255 / (PW - 1));
			q[1] = (uint8_t)(y * 255 / (PH - 1));
			q[2] = (uint8_t)((((x / 16) + (y / 16) + seed) & 1) ? 200 : 40);
		}
	tjhandle tj = tjInitCompress();
	unsigned char *out = NULL;
	cr_assert(tj);
	cr_assert_eq(tjCompress2(tj, p, PW, 0, PH, TJPF_RGB, &out, len, TJSAMP_420, 95, 0), 0);
	tjDestroy(tj);
	*rgb_out = p;
	return out;
}

/* libjpeg-turbo's pixels of the same bytes: what the job's C path decodes. */
static uint8_t *turbo(const unsigned char *jpg, unsigned long len)
{
	tjhandle tj = tjInitDecompress();
	uint8_t *p = malloc((size_t)PW * PH * 3);
	cr_assert(tj && p);
	int r = tjDecompress2(tj, jpg, len, p, PW, 0, PH, TJPF_RGB, 0);
	cr_assert(r == 0 || tjGetErrorCode(tj) == TJERR_WARNING, "%s", tjGetErrorStr2(tj));
	tjDestroy(tj);
	return p;
}

typedef struct fixture {
	unsigned char *jpg[N];
	unsigned long len[N];
	uint8_t *rgb[N], *dec[N];
	uint16_t *dm;
	gpu_depth d;
	gpu_image host_pano;
} fixture;

/* Frames 0, 1: JPEGs; 2: a corrupt JPEG; 3: a host panorama; 4: a truncated JPEG (decodes
 * with a warning). Every good frame has the depth map. */
static void fixture_make(fixture *fx)
{
	memset(fx, 0, sizeof(*fx));
	for (int k = 0; k < N; k++)
		fx->jpg[k] = pano_jpeg((unsigned)k, &fx->len[k], &fx->rgb[k]);
	memset(fx->jpg[2] + 20, 0x00, 200); /* tables gone: not decodable */
	fx->len[4] = fx->len[4] * 2 / 3;     /* entropy data cut: a warning, pixels kept */
	for (int k = 0; k < N; k++)
		fx->dec[k] = k == 2 ? NULL : turbo(fx->jpg[k], fx->len[k]);
	fx->host_pano = (gpu_image){fx->rgb[3], PW, PH, 3, (size_t)PW * 3};
	unsigned s = 5;
	fx->dm = malloc(sizeof(uint16_t) * DW * DH);
	cr_assert(fx->dm);
	for (int k = 0; k < DW * DH; k++)
		fx->dm[k] = lcg(&s) % 7 == 0 ? 0 : (uint16_t)(400 + lcg(&s) % 50000);
	fx->d = (gpu_depth){fx->dm, DW, DH, DW * 2, 0, 0.001, 0.3, 65.535, GPU_DEPTH_EQUIRECT,
			    0, 0, 0, 0, 4};
}

static void fixture_free(fixture *fx)
{
	for (int k = 0; k < N; k++) {
		tjFree(fx->jpg[k]);
		free(fx->rgb[k]);
		free(fx->dec[k]);
	}
	free(fx->dm);
}

static const size_t CAP = (size_t)(DW / 4) * (DH / 4);

/* The batch's frames over fx, outputs freshly allocated and poisoned. */
static void frames_make(const fixture *fx, gpu_frame *f)
{
	for (int k = 0; k < N; k++) {
		memset(&f[k], 0, sizeof(f[k]));
		if (k == 3)
			f[k].pano = &fx->host_pano;
		else {
			f[k].jpeg = fx->jpg[k];
			f[k].jpeg_len = fx->len[k];
		}
		gpu_view_pinhole(&f[k].view, VW, VH, 90);
		gpu_view_rotation(40.0 * k - 60, 10 - 7.0 * k, 0, f[k].view.R);
		f[k].out = (gpu_image){malloc((size_t)VW * VH * 3), VW, VH, 3, (size_t)VW * 3};
		f[k].depth = &fx->d;
		f[k].vdepth = malloc(sizeof(float) * VW * VH);
		f[k].vdepth_stride = VW * sizeof(float);
		double w2c[16] = {1, 0, 0, 3.0 * k, 0, 0, -1, 1.6, 0, 1, 0, -2, 0, 0, 0, 1};
		memcpy(f[k].w2c, w2c, sizeof(w2c));
		f[k].pts = malloc(sizeof(gpu_point) * CAP);
		f[k].cap = CAP;
		cr_assert(f[k].out.data && f[k].vdepth && f[k].pts);
		memset(f[k].out.data, 0x5a, (size_t)VW * VH * 3);
		for (int i = 0; i < VW * VH; i++)
			f[k].vdepth[i] = -9.0f;
	}
}

static void frames_free(gpu_frame *f)
{
	for (int k = 0; k < N; k++) {
		free(f[k].out.data);
		free(f[k].vdepth);
		free(f[k].pts);
	}
}

/* Frame k against the references run one by one on the same panorama pixels. max_d: the
 * largest view difference allowed (0: equal bytes); points compared only when exact_pts. */
static void expect_frame(const fixture *fx, const gpu_frame *f, int k, int max_d, int exact_pts)
{
	svt_err err = {0};
	const uint8_t *px = k == 3 ? fx->rgb[3] : fx->dec[k];
	gpu_image src = {(uint8_t *)px, PW, PH, 3, (size_t)PW * 3};
	uint8_t *view = malloc((size_t)VW * VH * 3);
	float *z = malloc(sizeof(float) * VW * VH);
	gpu_point *pts = malloc(sizeof(gpu_point) * CAP);
	gpu_image dst = {view, VW, VH, 3, (size_t)VW * 3};
	size_t np = 0;
	cr_assert_eq(gpu_view_from_equirect_ref(&src, &f->view, &dst, &err), 0, "%s", err.msg);
	cr_assert_eq(gpu_view_depth_from_equirect_ref(&fx->d, &f->view, z, VW * sizeof(float), &err),
		     0, "%s", err.msg);
	cr_assert_eq(gpu_depth_to_points_ref(&fx->d, &src, f->w2c, pts, CAP, &np, &err), 0, "%s",
		     err.msg);
	int worst = 0;
	for (size_t i = 0; i < (size_t)VW * VH * 3; i++) {
		int dd = abs((int)view[i] - (int)f->out.data[i]);
		worst = dd > worst ? dd : worst;
	}
	cr_expect_leq(worst, max_d, "frame %d: view differs by %d", k, worst);
	cr_expect(memcmp(z, f->vdepth, sizeof(float) * VW * VH) == 0, "frame %d: depth view", k);
	cr_expect_eq(f->npts, np, "frame %d: %zu points, reference %zu", k, f->npts, np);
	cr_expect_gt(np, 100);
	if (exact_pts)
		cr_expect(memcmp(pts, f->pts, np * sizeof(gpu_point)) == 0, "frame %d: points", k);
	free(view);
	free(z);
	free(pts);
}

static void run_case(gpu_ctx *ctx, int max_d, int exact_pts)
{
	fixture fx;
	fixture_make(&fx);
	gpu_frame f[N];
	gpu_frame_batch *b = NULL;
	svt_err err = {0};
	cr_assert_eq(gpu_frame_batch_create(ctx, N, &b, &err), 0, "%s", err.msg);
	cr_assert(strstr(gpu_frame_batch_describe(b), "decode:"));
	for (int round = 0; round < 2; round++) { /* twice: slots reused */
		frames_make(&fx, f);
		cr_assert_eq(gpu_frame_batch_run(b, f, N, &err), 0, "%s", err.msg);
		cr_expect_eq(f[2].rc, SVT_E_FORMAT, "the corrupt frame: rc %d", f[2].rc);
		cr_expect(f[2].msg[0], "the corrupt frame has no reason");
		cr_expect_eq(f[2].npts, 0);
		for (int k = 0; k < N; k++)
			if (k != 2) {
				cr_expect_eq(f[k].rc, 0, "frame %d: %s", k, f[k].msg);
				expect_frame(&fx, &f[k], k, max_d, exact_pts);
			}
		if (f[4].backend == GPU_JPEG_TURBO) {
			cr_expect(f[4].warning, "the truncated frame decoded without a warning");
			cr_expect(strstr(f[4].msg, "corrupt but decodable"), "%s", f[4].msg);
		}
		cr_expect_eq(f[0].warning, 0);
		frames_free(f);
	}
	gpu_frame_batch_destroy(b);
	fixture_free(&fx);
}

Test(gpu_frames, c_path_equals_the_per_frame_references)
{
	gpu_ctx *ctx = NULL;
	svt_err err = {0};
	cr_assert_eq(gpu_ctx_create(GPU_MODE_CPU, &ctx, &err), 0, "%s", err.msg);
	run_case(ctx, 0, 1);
	gpu_ctx_destroy(ctx);
}

Test(gpu_frames, bad_arguments)
{
	gpu_ctx *ctx = NULL;
	gpu_frame_batch *b = NULL;
	svt_err err = {0};
	cr_assert_eq(gpu_ctx_create(GPU_MODE_CPU, &ctx, &err), 0, "%s", err.msg);
	cr_expect_eq(gpu_frame_batch_create(ctx, 0, &b, &err), SVT_E_INPUT);
	cr_expect_eq(gpu_frame_batch_create(NULL, 4, &b, &err), SVT_E_INPUT);
	cr_assert_eq(gpu_frame_batch_create(ctx, 2, &b, &err), 0, "%s", err.msg);
	gpu_frame f[3];
	memset(f, 0, sizeof(f));
	cr_expect_eq(gpu_frame_batch_run(b, f, 3, &err), SVT_E_INPUT, "more than max_frames");
	cr_expect_eq(gpu_frame_batch_run(b, f, 1, &err), SVT_E_INPUT, "a frame with no panorama");
	cr_expect_eq(gpu_frame_batch_run(b, f, 0, &err), 0, "an empty batch");
	/* Pinning is a no-op on the C path. */
	cr_expect_eq(gpu_ctx_host_pin(ctx, f, sizeof(f)), 0);
	gpu_ctx_host_unpin(ctx, f);
	gpu_frame_batch_destroy(b);
	gpu_frame_batch_destroy(NULL);
	gpu_ctx_destroy(ctx);
}

static gpu_ctx *cuda_or_skip(void)
{
	if (!gpu_device_available())
		cr_skip_test("no CUDA device: this build has no CUDA or no usable GPU/driver; the "
			     "device half of the frame batch is not checked");
	gpu_ctx *ctx = NULL;
	svt_err err = {0};
	cr_assert_eq(gpu_ctx_create(GPU_MODE_REQUIRE, &ctx, &err), 0, "%s", err.msg);
	return ctx;
}

/* libjpeg-turbo + upload on the device: the same pixels, so the same bytes everywhere (the
 * views read the device copy, points its colours in place). */
Test(gpu_frames, cuda_turbo_upload_equals_the_references)
{
	gpu_ctx *ctx = cuda_or_skip();
	setenv("SVT_NVJPEG", "off", 1);
	run_case(ctx, 0, 1);
	unsetenv("SVT_NVJPEG");
	gpu_ctx_destroy(ctx);
}

/* nvJPEG: its IDCT and upsampling differ from libjpeg-turbo's by up to 8 levels, so views
 * within 8 and point colours not compared byte for byte (counts and depth views exact). */
Test(gpu_frames, cuda_nvjpeg_within_decode_tolerance)
{
	gpu_ctx *ctx = cuda_or_skip();
	run_case(ctx, 8, 0);
	gpu_ctx_destroy(ctx);
}
