/* nvjpeg_abi_check.c: compiled (never linked) by scripts/device-check.sh prepare against the
 * real nvjpeg.h, to check the values and layouts gpu/jpeg.cu declares for itself (it does not
 * include nvjpeg.h, which not every CUDA install has). Not part of `make test`. */
#include <stddef.h>
#include <nvjpeg.h>

_Static_assert(NVJPEG_STATUS_SUCCESS == 0, "status");
_Static_assert(NVJPEG_MAX_COMPONENT == 4, "components");
_Static_assert(NVJPEG_BACKEND_GPU_HYBRID == 2, "hybrid backend");
_Static_assert(NVJPEG_BACKEND_HARDWARE == 3, "hardware backend");
_Static_assert(NVJPEG_OUTPUT_RGBI == 5, "interleaved RGB");
_Static_assert(sizeof(nvjpegImage_t) == 4 * sizeof(void *) + 4 * sizeof(size_t), "image size");
_Static_assert(offsetof(nvjpegImage_t, pitch) == 4 * sizeof(void *), "image pitch");
_Static_assert(sizeof(nvjpegStatus_t) == sizeof(int), "status is an int");
_Static_assert(sizeof(nvjpegBackend_t) == sizeof(int), "backend is an int");
_Static_assert(sizeof(nvjpegOutputFormat_t) == sizeof(int), "format is an int");
_Static_assert(sizeof(nvjpegChromaSubsampling_t) == sizeof(int), "subsampling is an int");

/* The argument order jpeg.cu's function pointers assume. */
#define SAME(f, T) _Static_assert(_Generic(&f, T: 1, default: 0), #f " signature")
SAME(nvjpegCreateEx, nvjpegStatus_t (*)(nvjpegBackend_t, nvjpegDevAllocator_t *,
					nvjpegPinnedAllocator_t *, unsigned int, nvjpegHandle_t *));
SAME(nvjpegGetImageInfo, nvjpegStatus_t (*)(nvjpegHandle_t, const unsigned char *, size_t, int *,
					    nvjpegChromaSubsampling_t *, int *, int *));
SAME(nvjpegDecode, nvjpegStatus_t (*)(nvjpegHandle_t, nvjpegJpegState_t, const unsigned char *,
				      size_t, nvjpegOutputFormat_t, nvjpegImage_t *, cudaStream_t));
SAME(nvjpegDecodeBatchedInitialize, nvjpegStatus_t (*)(nvjpegHandle_t, nvjpegJpegState_t, int, int,
						       nvjpegOutputFormat_t));
SAME(nvjpegDecodeBatched, nvjpegStatus_t (*)(nvjpegHandle_t, nvjpegJpegState_t,
					     const unsigned char *const *, const size_t *,
					     nvjpegImage_t *, cudaStream_t));
SAME(nvjpegJpegStreamParse, nvjpegStatus_t (*)(nvjpegHandle_t, const unsigned char *, size_t, int,
					       int, nvjpegJpegStream_t));
SAME(nvjpegDecodeBatchedSupported, nvjpegStatus_t (*)(nvjpegHandle_t, nvjpegJpegStream_t, int *));
