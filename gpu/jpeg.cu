/* jpeg.cu: nvJPEG, loaded at run time, decoding into device slots that stay on the device.
 *
 * nvJPEG is opened with dlopen so that a binary built here runs where it is absent (then
 * libjpeg-turbo decodes and the frames are uploaded). The few declarations it needs are
 * written below with an nvj_ prefix instead of including nvjpeg.h, which is not part of every
 * CUDA install; they are the values and signatures of nvjpeg.h 13.x (PyPI nvidia-nvjpeg
 * 13.2), and scripts/device-check.sh prepare compiles tests/nvjpeg_abi_check.c against the
 * real header to keep them honest.
 *
 * Backends: NVJPEG_BACKEND_HARDWARE (the JPEG engines of A100/A30, Hopper, Ada, Blackwell;
 * nvjpegCreateEx fails elsewhere), batched, each image first checked with
 * nvjpegDecodeBatchedSupported; otherwise NVJPEG_BACKEND_GPU_HYBRID one image at a time.
 * Images neither accepts (progressive on the hardware engine, CMYK, a call that failed) go to
 * libjpeg-turbo into a pinned slot and are uploaded on the same stream.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include "gpu/cuda_common.cuh"

/* ---- the nvJPEG ABI used here (nvjpeg.h 13.x) ---- */
typedef int nvj_status;
enum { NVJ_SUCCESS = 0, NVJ_MAX_COMPONENT = 4 };
enum { NVJ_BACKEND_GPU_HYBRID = 2, NVJ_BACKEND_HARDWARE = 3 };
enum { NVJ_OUTPUT_RGBI = 5 };
typedef struct nvj_handle_s *nvj_handle;
typedef struct nvj_state_s *nvj_state;
typedef struct nvj_stream_s *nvj_stream;
typedef struct {
	unsigned char *channel[NVJ_MAX_COMPONENT];
	size_t pitch[NVJ_MAX_COMPONENT];
} nvj_image;

struct nvj_api {
	void *lib;
	char path[128];
	nvj_status (*CreateEx)(int backend, void *dev_alloc, void *pinned_alloc, unsigned flags,
			       nvj_handle *h);
	nvj_status (*Destroy)(nvj_handle h);
	nvj_status (*JpegStateCreate)(nvj_handle h, nvj_state *s);
	nvj_status (*JpegStateDestroy)(nvj_state s);
	nvj_status (*GetImageInfo)(nvj_handle h, const unsigned char *data, size_t len, int *nc,
				   int *subsampling, int *widths, int *heights);
	nvj_status (*Decode)(nvj_handle h, nvj_state s, const unsigned char *data, size_t len,
			     int fmt, nvj_image *dst, cudaStream_t st);
	nvj_status (*DecodeBatchedInitialize)(nvj_handle h, nvj_state s, int batch, int threads,
					      int fmt);
	nvj_status (*DecodeBatched)(nvj_handle h, nvj_state s, const unsigned char *const *data,
				    const size_t *lens, nvj_image *dst, cudaStream_t st);
	nvj_status (*JpegStreamCreate)(nvj_handle h, nvj_stream *js);
	nvj_status (*JpegStreamDestroy)(nvj_stream js);
	nvj_status (*JpegStreamParse)(nvj_handle h, const unsigned char *data, size_t len,
				      int save_meta, int save_stream, nvj_stream js);
	nvj_status (*DecodeBatchedSupported)(nvj_handle h, nvj_stream js, int *is_supported);
};

struct gpu_nvjpeg {
	gpu_cuda *c;
	int max_batch;
	nvj_api api;
	nvj_handle hd;      /* NULL: nvJPEG not used */
	nvj_state st;
	nvj_stream js;      /* parse stream for nvjpegDecodeBatchedSupported (hardware only) */
	int hardware;
	int batch_init;     /* batch size nvjpegDecodeBatchedInitialize was called with, 0: none */
	gpu_cuda_buf *dev;  /* device slot per frame: the decoded panorama */
	gpu_cuda_buf *pin;  /* pinned slot per frame for the libjpeg-turbo fallback */
	/* Per-batch scratch, sized max_batch at creation (nothing allocated per batch). */
	const unsigned char **bd;
	size_t *bl;
	nvj_image *bi;
	int *bk;
};

/* Resolves every entry nvJPEG must have from lib; why names the first one missing. */
static int nvj_syms(nvj_api *a, void *lib, const char *name, char *why, size_t cap)
{
#define NVJ_SYM(f)                                                                         \
	do {                                                                                \
		*(void **)&a->f = dlsym(lib, "nvjpeg" #f);                                  \
		if (!a->f) {                                                                \
			snprintf(why, cap, "%s lacks nvjpeg" #f, name);                     \
			return 0;                                                           \
		}                                                                           \
	} while (0)
	NVJ_SYM(CreateEx);
	NVJ_SYM(Destroy);
	NVJ_SYM(JpegStateCreate);
	NVJ_SYM(JpegStateDestroy);
	NVJ_SYM(GetImageInfo);
	NVJ_SYM(Decode);
	NVJ_SYM(DecodeBatchedInitialize);
	NVJ_SYM(DecodeBatched);
	NVJ_SYM(JpegStreamCreate);
	NVJ_SYM(JpegStreamDestroy);
	NVJ_SYM(JpegStreamParse);
	NVJ_SYM(DecodeBatchedSupported);
#undef NVJ_SYM
	return 1;
}

/* Opens the first library that loads and has every symbol; why gets the reasons otherwise. */
static int nvj_load(nvj_api *a, char *why, size_t cap)
{
	const char *env = getenv("SVT_NVJPEG");
	const char *cand[] = {env && *env ? env : NULL, "libnvjpeg.so.13", "libnvjpeg.so",
			      "/usr/local/cuda/lib64/libnvjpeg.so.13"};
	memset(a, 0, sizeof(*a));
	snprintf(why, cap, "libnvjpeg.so.13 not found (set SVT_NVJPEG to its path, or "
		 "LD_LIBRARY_PATH; PyPI nvidia-nvjpeg ships it in nvidia/cu13/lib)");
	for (size_t i = 0; i < sizeof(cand) / sizeof(cand[0]); i++) {
		void *lib = cand[i] ? dlopen(cand[i], RTLD_NOW | RTLD_LOCAL) : NULL;
		if (!lib)
			continue;
		if (nvj_syms(a, lib, cand[i], why, cap)) {
			a->lib = lib;
			snprintf(a->path, sizeof(a->path), "%s", cand[i]);
			return 1;
		}
		dlclose(lib);
	}
	return 0;
}

/* Tries one backend: handle, state (and the parse stream for the hardware one). */
static int nvj_open(gpu_nvjpeg *nv, int backend)
{
	nvj_api *a = &nv->api;
	if (a->CreateEx(backend, NULL, NULL, 0, &nv->hd) != NVJ_SUCCESS) {
		nv->hd = NULL;
		return 0;
	}
	if (a->JpegStateCreate(nv->hd, &nv->st) != NVJ_SUCCESS ||
	    (backend == NVJ_BACKEND_HARDWARE && a->JpegStreamCreate(nv->hd, &nv->js) != NVJ_SUCCESS)) {
		if (nv->st)
			a->JpegStateDestroy(nv->st);
		a->Destroy(nv->hd);
		nv->hd = NULL;
		nv->st = NULL;
		nv->js = NULL;
		return 0;
	}
	nv->hardware = backend == NVJ_BACKEND_HARDWARE;
	return 1;
}

extern "C" int gpu_nvjpeg_create(gpu_cuda *c, int max_batch, int use_nvjpeg, gpu_nvjpeg **out,
				 gpu_jpeg_backend *backend, char *why, size_t why_cap, svt_err *err)
{
	gpu_nvjpeg *nv = (gpu_nvjpeg *)calloc(1, sizeof(*nv));
	*out = NULL;
	*backend = GPU_JPEG_TURBO;
	if (!nv)
		return svt_err_set(err, SVT_E_NOMEM, "jpeg: no memory for the device decoder");
	nv->c = c;
	nv->max_batch = max_batch;
	nv->dev = (gpu_cuda_buf *)calloc((size_t)max_batch, sizeof(gpu_cuda_buf));
	nv->pin = (gpu_cuda_buf *)calloc((size_t)max_batch, sizeof(gpu_cuda_buf));
	nv->bd = (const unsigned char **)calloc((size_t)max_batch, sizeof(*nv->bd));
	nv->bl = (size_t *)calloc((size_t)max_batch, sizeof(*nv->bl));
	nv->bi = (nvj_image *)calloc((size_t)max_batch, sizeof(*nv->bi));
	nv->bk = (int *)calloc((size_t)max_batch, sizeof(*nv->bk));
	if (!nv->dev || !nv->pin || !nv->bd || !nv->bl || !nv->bi || !nv->bk) {
		gpu_nvjpeg_destroy(nv);
		return svt_err_set(err, SVT_E_NOMEM, "jpeg: no memory for the device decoder");
	}
	*out = nv;
	if (!use_nvjpeg) {
		snprintf(why, why_cap, "not asked for");
		return 0;
	}
	if (!nvj_load(&nv->api, why, why_cap))
		return 0;
	if (nvj_open(nv, NVJ_BACKEND_HARDWARE)) {
		*backend = GPU_JPEG_NV_HARDWARE;
		snprintf(why, why_cap, "%s, batched", nv->api.path);
	} else if (nvj_open(nv, NVJ_BACKEND_GPU_HYBRID)) {
		*backend = GPU_JPEG_NV_HYBRID;
		snprintf(why, why_cap, "%s; no hardware JPEG engine on this device", nv->api.path);
	} else {
		snprintf(why, why_cap, "%s loaded but refused the device (nvjpegCreateEx failed for "
			 "the hardware and GPU hybrid backends)", nv->api.path);
	}
	return 0;
}

extern "C" void gpu_nvjpeg_destroy(gpu_nvjpeg *nv)
{
	if (!nv)
		return;
	if (nv->c)
		cudaStreamSynchronize(nv->c->up);
	if (nv->hd) {
		if (nv->js)
			nv->api.JpegStreamDestroy(nv->js);
		if (nv->st)
			nv->api.JpegStateDestroy(nv->st);
		nv->api.Destroy(nv->hd);
	}
	/* The library stays loaded: nvJPEG may keep threads or atexit handlers of its own. */
	for (int k = 0; nv->dev && k < nv->max_batch; k++)
		gpu_cuda_buf_free(&nv->dev[k], 0);
	for (int k = 0; nv->pin && k < nv->max_batch; k++)
		gpu_cuda_buf_free(&nv->pin[k], 1);
	free(nv->dev);
	free(nv->pin);
	free(nv->bd);
	free(nv->bl);
	free(nv->bi);
	free(nv->bk);
	(void)cudaGetLastError();
	free(nv);
}

static void frame_fail(gpu_jpeg_frame *f, int rc, const char *msg)
{
	f->rc = rc;
	snprintf(f->msg, sizeof(f->msg), "%.*s", (int)sizeof(f->msg) - 1, msg);
}

/* Slot k holds a w x h RGB frame on the device. */
static void frame_set(gpu_nvjpeg *nv, int k, int w, int h, gpu_jpeg_backend b, gpu_jpeg_frame *f)
{
	f->img.data = (uint8_t *)nv->dev[k].p;
	f->img.width = w;
	f->img.height = h;
	f->img.channels = 3;
	f->img.stride = (size_t)w * 3;
	f->on_device = 1;
	f->backend = b;
	f->rc = 0;
}

/* libjpeg-turbo into pinned slot k, then an upload into device slot k on the stream. A bad
 * frame is reported in f; only a CUDA failure returns non-zero. */
static int cpu_frame(gpu_nvjpeg *nv, int k, const uint8_t *data, size_t len,
		     const gpu_jpeg_cpu *cpu, gpu_jpeg_frame *f, svt_err *err)
{
	int rc = 0, w = 0, h = 0, warning = 0;
	svt_err e = {};
	if (cpu->header(cpu->arg, data, len, &w, &h, &e)) {
		frame_fail(f, e.code, e.msg);
		return 0;
	}
	size_t bytes = (size_t)w * 3 * (size_t)h;
	/* Slot k is used once per batch and every batch ends synchronised, so the pinned slot is
	 * free, and this frame's decode overlaps the previous frame's upload. */
	if ((rc = gpu_cuda_buf_reserve(&nv->pin[k], bytes, 1, err)) ||
	    (rc = gpu_cuda_buf_reserve(&nv->dev[k], bytes, 0, err)))
		goto done;
	if (cpu->decode(cpu->arg, data, len, (uint8_t *)nv->pin[k].p, (size_t)w * 3, w, h, &warning,
			&e)) {
		frame_fail(f, e.code, e.msg);
		return 0;
	}
	CUDA_CK(cudaMemcpyAsync(nv->dev[k].p, nv->pin[k].p, bytes, cudaMemcpyHostToDevice,
				nv->c->up));
	frame_set(nv, k, w, h, GPU_JPEG_TURBO, f);
	if ((f->warning = warning))
		snprintf(f->msg, sizeof(f->msg), "%.*s", (int)sizeof(f->msg) - 1, e.msg);
done:
	return rc;
}

extern "C" int gpu_nvjpeg_decode(gpu_nvjpeg *nv, const uint8_t *const *data, const size_t *len,
				 int n, gpu_jpeg_frame *out, const gpu_jpeg_cpu *cpu, svt_err *err)
{
	int rc = 0, nb = 0;
	nvj_api *a = &nv->api;
	/* Per frame: 0 = CPU, 1 = nvJPEG alone (hybrid), 2 = in the hardware batch. */
	int route[256], W[256], H[256];
	for (int k = 0; k < n; k++) {
		route[k] = 0;
		W[k] = H[k] = 0;
		if (out[k].rc || !nv->hd)
			continue;
		int nc = 0, ss = 0, ws[NVJ_MAX_COMPONENT] = {0}, hs[NVJ_MAX_COMPONENT] = {0};
		if (a->GetImageInfo(nv->hd, data[k], len[k], &nc, &ss, ws, hs) != NVJ_SUCCESS ||
		    ws[0] < 1 || hs[0] < 1 || ws[0] > (1 << 15) || hs[0] > (1 << 15))
			continue; /* libjpeg-turbo says what is wrong with it */
		W[k] = ws[0];
		H[k] = hs[0];
		route[k] = 1;
		if (nv->hardware) {
			int unsupported = 1;
			if (a->JpegStreamParse(nv->hd, data[k], len[k], 0, 0, nv->js) == NVJ_SUCCESS &&
			    a->DecodeBatchedSupported(nv->hd, nv->js, &unsupported) == NVJ_SUCCESS &&
			    unsupported == 0)
				route[k] = 2;
			else
				route[k] = 0; /* the hardware handle decodes batches only */
		}
		if (route[k] &&
		    (rc = gpu_cuda_buf_reserve(&nv->dev[k], (size_t)W[k] * 3 * (size_t)H[k], 0, err)))
			goto done;
	}
	/* The hardware engine: one batched call for every supported frame. */
	for (int k = 0; k < n; k++)
		if (route[k] == 2) {
			nv->bd[nb] = data[k];
			nv->bl[nb] = len[k];
			memset(&nv->bi[nb], 0, sizeof(nv->bi[nb]));
			nv->bi[nb].channel[0] = (unsigned char *)nv->dev[k].p;
			nv->bi[nb].pitch[0] = (size_t)W[k] * 3;
			nv->bk[nb++] = k;
		}
	if (nb) {
		int ok = 1;
		if (nv->batch_init != nb) {
			ok = a->DecodeBatchedInitialize(nv->hd, nv->st, nb, 1, NVJ_OUTPUT_RGBI) ==
			     NVJ_SUCCESS;
			nv->batch_init = ok ? nb : 0;
		}
		ok = ok && a->DecodeBatched(nv->hd, nv->st, nv->bd, nv->bl, nv->bi, nv->c->up) ==
				   NVJ_SUCCESS;
		if (ok && cudaStreamSynchronize(nv->c->up) != cudaSuccess)
			ok = 0;
		for (int b = 0; b < nb; b++) {
			int k = nv->bk[b];
			if (ok)
				frame_set(nv, k, W[k], H[k], GPU_JPEG_NV_HARDWARE, &out[k]);
			else
				route[k] = 0; /* a failed batch: each frame again on the CPU */
		}
		if (!ok && !gpu_cuda_healthy(nv->c)) {
			rc = svt_err_set(err, SVT_E_CUDA, "jpeg: nvjpegDecodeBatched left the device "
					 "unusable");
			goto done;
		}
	}
	for (int k = 0; k < n; k++) {
		if (out[k].rc || (route[k] == 2 && out[k].on_device))
			continue;
		if (route[k] == 1) {
			nvj_image im;
			memset(&im, 0, sizeof(im));
			im.channel[0] = (unsigned char *)nv->dev[k].p;
			im.pitch[0] = (size_t)W[k] * 3;
			if (a->Decode(nv->hd, nv->st, data[k], len[k], NVJ_OUTPUT_RGBI, &im,
				      nv->c->up) == NVJ_SUCCESS) {
				frame_set(nv, k, W[k], H[k], GPU_JPEG_NV_HYBRID, &out[k]);
				continue;
			}
		}
		if ((rc = cpu_frame(nv, k, data[k], len[k], cpu, &out[k], err)))
			goto done;
	}
	CUDA_CK(cudaStreamSynchronize(nv->c->up));
done:
	if (rc)
		for (int k = 0; k < n; k++)
			if (!out[k].rc)
				frame_fail(&out[k], rc, "jpeg: the device failed");
	return rc;
}
