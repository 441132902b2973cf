/* jpeg.c: JPEG decode for the GPU path. The decoder object, libjpeg-turbo (the CPU decoder, and
 * the fallback for what nvJPEG cannot or may not decode), and the dispatch to nvJPEG in
 * jpeg.cu when the context is on CUDA. nvJPEG itself is loaded at run time there, so this
 * file, and a binary without CUDA, need nothing beyond libjpeg-turbo. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <turbojpeg.h>

#include "gpu/gpu_internal.h"
#ifdef SVT_HAVE_CUDA
#include "gpu/gpu_cuda.h"
#endif

enum { JPEG_MAX_BATCH = 256, JPEG_MAX_SIDE = 1 << 15 };

struct gpu_jpeg {
	gpu_ctx *ctx;
	int max_batch;
	tjhandle tj;
	gpu_jpeg_backend backend;
	char desc[320];
	struct gpu_nvjpeg *nv; /* CUDA context: device slots (+ nvJPEG when loaded); else NULL */
	struct {
		uint8_t *p;
		size_t cap;
	} host[JPEG_MAX_BATCH]; /* C path: the output of slot k */
};

#ifdef SVT_HAVE_CUDA
static const char *backend_name(gpu_jpeg_backend b)
{
	return b == GPU_JPEG_NV_HARDWARE ? "nvjpeg-hardware"
	       : b == GPU_JPEG_NV_HYBRID ? "nvjpeg-hybrid"
					 : "libjpeg-turbo";
}
#endif

/* After a fatal error libjpeg-turbo 2.1's handle can refuse the next, valid image ("Bogus
 * Huffman table definition"): a failed frame gets a fresh handle so it never harms the next. */
static void turbo_reset(gpu_jpeg *j)
{
	tjhandle t = tjInitDecompress();
	if (t) {
		tjDestroy(j->tj);
		j->tj = t;
	}
}

/* The libjpeg-turbo header: size of the RGB output; SVT_E_FORMAT / SVT_E_UNSUPPORTED / limits. */
static int turbo_header(void *arg, const uint8_t *data, size_t len, int *w, int *h, svt_err *err)
{
	gpu_jpeg *j = arg;
	int subsamp, cs;
	if (len == 0 || len > (size_t)0x7fffffff)
		return svt_err_set(err, SVT_E_INPUT, "jpeg: bad length %zu", len);
	if (tjDecompressHeader3(j->tj, data, (unsigned long)len, w, h, &subsamp, &cs) < 0) {
		int rc = svt_err_set(err, SVT_E_FORMAT, "JPEG header: %s", tjGetErrorStr2(j->tj));
		turbo_reset(j);
		return rc;
	}
	if (cs == TJCS_CMYK || cs == TJCS_YCCK)
		return svt_err_set(err, SVT_E_UNSUPPORTED, "JPEG: CMYK/YCCK colour is not supported");
	if (*w < 1 || *h < 1 || *w > JPEG_MAX_SIDE || *h > JPEG_MAX_SIDE)
		return svt_err_set(err, SVT_E_LIMIT, "JPEG: %dx%d is beyond %d px a side", *w, *h,
				   JPEG_MAX_SIDE);
	return 0;
}

/* Decodes into dst (stride bytes a row) as RGB. A warning (corrupt but decodable data) keeps
 * the pixels, as the ingest decoder does; a fatal error is SVT_E_FORMAT. */
static int turbo_decode(void *arg, const uint8_t *data, size_t len, uint8_t *dst, size_t stride,
			int w, int h, int *warning, svt_err *err)
{
	gpu_jpeg *j = arg;
	*warning = 0;
	if (tjDecompress2(j->tj, data, (unsigned long)len, dst, w, (int)stride, h, TJPF_RGB,
			  TJFLAG_LIMITSCANS) < 0) {
		if (tjGetErrorCode(j->tj) != TJERR_WARNING) {
			int rc = svt_err_set(err, SVT_E_FORMAT, "JPEG: %s", tjGetErrorStr2(j->tj));
			turbo_reset(j);
			return rc;
		}
		/* The ingest decoder's words, so a job says the same on either path. */
		*warning = 1;
		svt_err_set(err, SVT_OK, "JPEG corrupt but decodable: %s", tjGetErrorStr2(j->tj));
	}
	return 0;
}

int gpu_jpeg_create(gpu_ctx *ctx, int max_batch, gpu_jpeg **out, svt_err *err)
{
	int rc = 0;
	gpu_jpeg *j = NULL;
	*out = NULL;
	if (!ctx || max_batch < 1 || max_batch > JPEG_MAX_BATCH)
		return svt_err_set(err, SVT_E_INPUT, "jpeg: need a context and 1..%d frames a batch",
				   JPEG_MAX_BATCH);
	if (!(j = calloc(1, sizeof(*j))))
		return svt_err_set(err, SVT_E_NOMEM, "jpeg: no memory for a decoder");
	j->ctx = ctx;
	j->max_batch = max_batch;
	j->backend = GPU_JPEG_TURBO;
	if (!(j->tj = tjInitDecompress())) {
		rc = svt_err_set(err, SVT_E_NOMEM, "jpeg: libjpeg-turbo: %s", tjGetErrorStr2(NULL));
		goto cleanup;
	}
	snprintf(j->desc, sizeof(j->desc), "libjpeg-turbo (CPU context: frames in host memory)");
#ifdef SVT_HAVE_CUDA
	if (ctx->cu) {
		const char *env = getenv("SVT_NVJPEG");
		int use = !(env && strcmp(env, "off") == 0);
		char why[256] = "";
		if ((rc = gpu_nvjpeg_create(ctx->cu, max_batch, use, &j->nv, &j->backend, why,
					    sizeof(why), err)))
			goto cleanup;
		if (j->backend == GPU_JPEG_TURBO)
			snprintf(j->desc, sizeof(j->desc),
				 "libjpeg-turbo + upload (frames on the device; no nvJPEG: %s)",
				 use ? why : "SVT_NVJPEG=off");
		else
			snprintf(j->desc, sizeof(j->desc), "%s (%s)", backend_name(j->backend), why);
	}
#else
	snprintf(j->desc, sizeof(j->desc), "libjpeg-turbo (this build has no CUDA)");
#endif
cleanup:
	if (rc) {
		gpu_jpeg_destroy(j);
		return rc;
	}
	*out = j;
	return 0;
}

void gpu_jpeg_destroy(gpu_jpeg *j)
{
	if (!j)
		return;
#ifdef SVT_HAVE_CUDA
	gpu_nvjpeg_destroy(j->nv);
#endif
	for (int k = 0; k < JPEG_MAX_BATCH; k++)
		free(j->host[k].p);
	if (j->tj)
		tjDestroy(j->tj);
	free(j);
}

const char *gpu_jpeg_describe(const gpu_jpeg *j)
{
	return j ? j->desc : "none";
}

gpu_jpeg_backend gpu_jpeg_backend_of(const gpu_jpeg *j)
{
	return j ? j->backend : GPU_JPEG_TURBO;
}

/* The C path: every frame decoded by libjpeg-turbo into host slot k. */
static void decode_host(gpu_jpeg *j, int k, const uint8_t *data, size_t len, gpu_jpeg_frame *f)
{
	svt_err e = {0};
	int w = 0, h = 0;
	int rc = turbo_header(j, data, len, &w, &h, &e);
	size_t stride = (size_t)w * 3, need = stride * (size_t)h;
	if (!rc && need > j->host[k].cap) {
		uint8_t *p = realloc(j->host[k].p, need);
		if (!p)
			rc = svt_err_set(&e, SVT_E_NOMEM, "jpeg: no memory for a %dx%d frame", w, h);
		else {
			j->host[k].p = p;
			j->host[k].cap = need;
		}
	}
	int warning = 0;
	if (!rc)
		rc = turbo_decode(j, data, len, j->host[k].p, stride, w, h, &warning, &e);
	f->backend = GPU_JPEG_TURBO;
	f->on_device = 0;
	f->rc = rc;
	f->warning = warning;
	if (rc || warning)
		snprintf(f->msg, sizeof(f->msg), "%.*s", (int)sizeof(f->msg) - 1, e.msg);
	if (rc)
		return;
	f->img = (gpu_image){j->host[k].p, w, h, 3, stride};
}

int gpu_jpeg_decode_batch(gpu_jpeg *j, const uint8_t *const *data, const size_t *len, int n,
			  gpu_jpeg_frame *out, svt_err *err)
{
	if (!j || !data || !len || !out || n < 0 || n > j->max_batch)
		return svt_err_set(err, SVT_E_INPUT, "jpeg: bad batch (n %d, at most %d)", n,
				   j ? j->max_batch : 0);
	for (int k = 0; k < n; k++) {
		memset(&out[k], 0, sizeof(out[k]));
		if (!data[k]) {
			out[k].rc = SVT_E_INPUT;
			snprintf(out[k].msg, sizeof(out[k].msg), "jpeg: NULL data");
		}
	}
#ifdef SVT_HAVE_CUDA
	if (j->nv) {
		gpu_jpeg_cpu cpu = {turbo_header, turbo_decode, j};
		return gpu_nvjpeg_decode(j->nv, data, len, n, out, &cpu, err);
	}
#endif
	for (int k = 0; k < n; k++)
		if (data[k])
			decode_host(j, k, data[k], len[k], &out[k]);
	return 0;
}

int gpu_jpeg_frame_download(gpu_jpeg *j, const gpu_jpeg_frame *f, gpu_image *dst, svt_err *err)
{
	if (!j || !f || !dst || f->rc || !f->img.data || !dst->data ||
	    dst->width != f->img.width || dst->height != f->img.height || dst->channels != 3 ||
	    dst->stride < (size_t)dst->width * 3)
		return svt_err_set(err, SVT_E_INPUT, "jpeg: download needs a decoded frame and a "
				   "host RGB image of its size");
#ifdef SVT_HAVE_CUDA
	if (f->on_device)
		return gpu_cuda_download_image(j->ctx->cu, &f->img, dst, err);
#endif
	if (f->on_device)
		return svt_err_set(err, SVT_E_INPUT, "jpeg: a device frame in a build without CUDA");
	for (int y = 0; y < f->img.height; y++)
		memcpy(dst->data + (size_t)y * dst->stride, f->img.data + (size_t)y * f->img.stride,
		       (size_t)f->img.width * 3);
	return 0;
}
