/* codec.c: frame codecs, encoded outside HDF5 so that the writer compresses in its own threads.
 *
 * Each encoder produces exactly the bytes the codec's HDF5 filter would produce for the chunk,
 * then Fletcher32 exactly as H5Z_filter_fletcher32 appends it; the chunk then goes to the file
 * with H5Dwrite_chunk and any reader decodes it through the ordinary filter pipeline.
 */
#include <arpa/inet.h>
#include <blosc.h>
#include <lz4.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <turbojpeg.h>
#include <zlib.h>
#include <zstd.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "formats/fmt_internal.h"

static void quiet_once(void)
{
	/* No HDF5 exit handler: after a flush fails (a full disk) HDF5 1.10 can never close that
	 * file (H5C_set_slist_enabled: "slist already enabled?"), and its atexit handler then
	 * crashes closing it again (SIGSEGV in H5F__close_cb). Every file is closed explicitly, so
	 * the handler has nothing to do otherwise. Effective only before HDF5's first use, which
	 * every formats/ entry point makes through here. */
	H5dont_atexit();
	H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

void fmt_h5_quiet(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, quiet_once);
}

static const char *const names[] = {"none", "gzip", "lz4", "zstd", "blosc", "jpeg"};

const char *fmt_codec_name(fmt_codec c)
{
	return (unsigned)c < SVT_ARRAY_LEN(names) ? names[c] : "unknown";
}

int fmt_codec_filter_id(fmt_codec c)
{
	switch (c) {
	case FMT_CODEC_GZIP: return H5Z_FILTER_DEFLATE;
	case FMT_CODEC_LZ4: return FMT_FILTER_LZ4;
	case FMT_CODEC_ZSTD: return FMT_FILTER_ZSTD;
	case FMT_CODEC_BLOSC: return FMT_FILTER_BLOSC;
	default: return 0;
	}
}

static int default_level(fmt_codec c)
{
	switch (c) {
	case FMT_CODEC_GZIP: return 1; /* frames: level 1 is 3x faster than 6 for 5% more bytes */
	case FMT_CODEC_ZSTD: return 3;
	case FMT_CODEC_BLOSC: return 5;
	case FMT_CODEC_JPEG: return 90;
	default: return 0;
	}
}

int fmt_codec_parse(const char *s, fmt_codec *codec, int *level, svt_err *err)
{
	if (!s || !codec || !level)
		return svt_err_set(err, SVT_E_INPUT, "codec: NULL argument");
	size_t nl = strcspn(s, ":");
	for (size_t i = 0; i < SVT_ARRAY_LEN(names); i++) {
		if (strlen(names[i]) != nl || strncmp(s, names[i], nl))
			continue;
		int lv = default_level((fmt_codec)i);
		if (s[nl] == ':') {
			char *end = NULL;
			long v = strtol(s + nl + 1, &end, 10);
			int hi = i == FMT_CODEC_ZSTD ? 22 : i == FMT_CODEC_JPEG ? 100 : 9;
			int lo = i == FMT_CODEC_JPEG ? 1 : 0;
			if (!end || *end || end == s + nl + 1 || v < lo || v > hi)
				return svt_err_set(err, SVT_E_INPUT, "codec '%s': level must be %d..%d", s,
						   lo, hi);
			lv = (int)v;
		}
		*codec = (fmt_codec)i;
		*level = lv;
		return SVT_OK;
	}
	return svt_err_set(err, SVT_E_INPUT, "unknown codec '%s' (none, gzip, lz4, zstd, blosc, jpeg)",
			   s);
}

int fmt_codec_available(fmt_codec c)
{
	fmt_h5_quiet();
	switch (c) {
	case FMT_CODEC_NONE: return 1;
	case FMT_CODEC_GZIP:
	case FMT_CODEC_JPEG: /* frames are JPEG; depth maps beside them take gzip */
		return H5Zfilter_avail(H5Z_FILTER_DEFLATE) > 0;
	case FMT_CODEC_LZ4:
	case FMT_CODEC_ZSTD:
	case FMT_CODEC_BLOSC:
		/* We encode with the linked library; HDF5 must be able to decode (the plugin). */
		return H5Zfilter_avail((H5Z_filter_t)fmt_codec_filter_id(c)) > 0;
	}
	return 0;
}

fmt_codec fmt_codec_default(int *level)
{
	fmt_codec c = fmt_codec_available(FMT_CODEC_LZ4) ? FMT_CODEC_LZ4 : FMT_CODEC_GZIP;
	if (level)
		*level = default_level(c);
	return c;
}

#if defined(__x86_64__) && defined(__GNUC__)
#define FLETCHER_AVX2 1
#include <immintrin.h>
/* Whole blocks of 360 words, eight words at a time. Over a block the scalar loop's sums are
 * s1 + sum w_k and s2 + 360 s1 + sum (360 - k) w_k, identities of arithmetic modulo 2^32 (the
 * loop's own uint32 wrap), so these are its exact values; each block is then folded as the
 * loop folds it. */
__attribute__((target("avx2"))) static const uint8_t *fletcher_blocks_avx2(const uint8_t *p,
									   size_t blocks,
									   uint32_t *s1,
									   uint32_t *s2)
{
	const __m128i swap = _mm_setr_epi8(1, 0, 3, 2, 5, 4, 7, 6, 9, 8, 11, 10, 13, 12, 15, 14);
	const __m256i w0 = _mm256_setr_epi32(360, 359, 358, 357, 356, 355, 354, 353);
	const __m256i eight = _mm256_set1_epi32(8);
	for (size_t b = 0; b < blocks; b++) {
		__m256i a1 = _mm256_setzero_si256(), a2 = a1, w = w0;
		for (int i = 0; i < 360; i += 8, p += 16) {
			/* big-endian words, as the filter reads them */
			__m128i x = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(const void *)p),
						     swap);
			__m256i v = _mm256_cvtepu16_epi32(x);
			a1 = _mm256_add_epi32(a1, v);
			a2 = _mm256_add_epi32(a2, _mm256_mullo_epi32(v, w));
			w = _mm256_sub_epi32(w, eight);
		}
		uint32_t t[2][8];
		_mm256_storeu_si256((__m256i *)(void *)t[0], a1);
		_mm256_storeu_si256((__m256i *)(void *)t[1], a2);
		uint32_t t1 = 0, t2 = 0;
		for (int k = 0; k < 8; k++) {
			t1 += t[0][k];
			t2 += t[1][k];
		}
		*s2 += 360u * *s1 + t2;
		*s1 += t1;
		*s1 = (*s1 & 0xffff) + (*s1 >> 16);
		*s2 = (*s2 & 0xffff) + (*s2 >> 16);
	}
	return p;
}
#endif

uint32_t fmt_fletcher32(const void *data, size_t len)
{
	const uint8_t *p = data;
	size_t words = len / 2;
	uint32_t s1 = 0, s2 = 0;
#ifdef FLETCHER_AVX2
	if (__builtin_cpu_supports("avx2")) {
		p = fletcher_blocks_avx2(p, words / 360, &s1, &s2);
		words %= 360;
	}
#endif
	/* 360 sums is the most that cannot overflow before folding (as in HDF5). */
	while (words) {
		size_t k = words > 360 ? 360 : words;
		words -= k;
		do {
			s1 += (uint32_t)(((uint16_t)p[0] << 8) | p[1]);
			p += 2;
			s2 += s1;
		} while (--k);
		s1 = (s1 & 0xffff) + (s1 >> 16);
		s2 = (s2 & 0xffff) + (s2 >> 16);
	}
	if (len % 2) {
		s1 += (uint32_t)((uint16_t)*p << 8);
		s2 += s1;
		s1 = (s1 & 0xffff) + (s1 >> 16);
		s2 = (s2 & 0xffff) + (s2 >> 16);
	}
	s1 = (s1 & 0xffff) + (s1 >> 16);
	s2 = (s2 & 0xffff) + (s2 >> 16);
	return (s2 << 16) | s1;
}

static int grow(uint8_t **out, size_t *cap, size_t need, svt_err *err)
{
	if (*cap >= need)
		return SVT_OK;
	uint8_t *p = realloc(*out, need);
	if (!p)
		return svt_err_set(err, SVT_E_NOMEM, "chunk buffer of %zu bytes", need);
	*out = p;
	*cap = need;
	return SVT_OK;
}

static void put_be32(uint8_t *p, uint32_t v)
{
	uint32_t b = htonl(v);
	memcpy(p, &b, 4);
}

/* H5Z-LZ4 (filter 32004): 8-byte BE original size, 4-byte BE block size, then per block a
 * 4-byte BE compressed size and the block; a block that does not shrink is stored raw with
 * its compressed size equal to its size (that is how the decoder tells). One block per chunk:
 * the filter's default block size is 1 GiB, far above a frame. */
static int enc_lz4(const uint8_t *src, size_t n, uint8_t **out, size_t *cap, size_t *on,
		   svt_err *err)
{
	if (n == 0 || n > (size_t)LZ4_MAX_INPUT_SIZE)
		return svt_err_set(err, SVT_E_LIMIT, "lz4: chunk of %zu bytes", n);
	size_t bound = (size_t)LZ4_compressBound((int)n);
	int rc = grow(out, cap, 16 + (bound > n ? bound : n) + 4, err);
	if (rc)
		return rc;
	uint8_t *o = *out;
	uint32_t hi = htonl((uint32_t)((uint64_t)n >> 32)), lo = htonl((uint32_t)n);
	memcpy(o, &hi, 4);
	memcpy(o + 4, &lo, 4);
	put_be32(o + 8, (uint32_t)n);
	int c = LZ4_compress_default((const char *)src, (char *)o + 16, (int)n, (int)bound);
	if (c <= 0)
		return svt_err_set(err, SVT_E_FORMAT, "lz4: compression failed");
	if ((size_t)c >= n) {
		memcpy(o + 16, src, n);
		c = (int)n;
	}
	put_be32(o + 12, (uint32_t)c);
	*on = 16 + (size_t)c;
	return SVT_OK;
}

/* H5Z_filter_shuffle: byte k of every element, then byte k+1...; a trailing partial element
 * (n not a multiple of elem) is copied as is. */
static void shuffle(const uint8_t *src, size_t n, size_t elem, uint8_t *dst)
{
	size_t ne = n / elem, i0 = 0;
#ifdef __SSE2__
	/* 2-byte elements (float16 depth, every depth chunk) sixteen at a time: the low bytes
	 * and the high bytes of two vectors packed apart (the generic loop, strided, ran at
	 * 1.2 GB/s: 7 % of a build's depth cost). */
	if (elem == 2) {
		const __m128i lo8 = _mm_set1_epi16(0xff);
		for (; i0 + 16 <= ne; i0 += 16) {
			__m128i a = _mm_loadu_si128((const __m128i *)(const void *)(src + 2 * i0));
			__m128i b = _mm_loadu_si128((const __m128i *)(const void *)(src + 2 * i0 + 16));
			__m128i lo = _mm_packus_epi16(_mm_and_si128(a, lo8), _mm_and_si128(b, lo8));
			__m128i hi = _mm_packus_epi16(_mm_srli_epi16(a, 8), _mm_srli_epi16(b, 8));
			_mm_storeu_si128((__m128i *)(void *)(dst + i0), lo);
			_mm_storeu_si128((__m128i *)(void *)(dst + ne + i0), hi);
		}
	}
#endif
	for (size_t k = 0; k < elem; k++)
		for (size_t i = i0; i < ne; i++)
			dst[k * ne + i] = src[i * elem + k];
	memcpy(dst + ne * elem, src + ne * elem, n - ne * elem);
}

/* Whether the codec's pipeline starts with HDF5's shuffle filter for elements of elem bytes
 * (the rule of fmt_dcpl_set_codec and fmt_chunk_encode both). gzip has it on every dataset (the
 * identity on bytes); LZ4 on wider elements only (float16 depth: its high bytes, smooth
 * across a frame, then compress by themselves: 0.46 -> 0.34 MB a depth frame on the samples,
 * and LZ4 runs faster on it); blosc shuffles inside its own filter. */
static int pipeline_shuffles(fmt_codec c, size_t elem)
{
	return c == FMT_CODEC_GZIP || c == FMT_CODEC_JPEG || (c == FMT_CODEC_LZ4 && elem > 1);
}

/* deflate is compress2's zlib stream, as H5Z_filter_deflate writes it. */
static int enc_gzip(const uint8_t *src, size_t n, int level, uint8_t **out, size_t *cap,
		    size_t *on, svt_err *err)
{
	uLongf len = compressBound((uLong)n);
	int rc = grow(out, cap, (size_t)len + 4, err);
	if (!rc && compress2(*out, &len, src, (uLong)n, level) != Z_OK)
		rc = svt_err_set(err, SVT_E_FORMAT, "gzip: compress2 failed");
	if (!rc)
		*on = (size_t)len;
	return rc;
}

static int enc_zstd(const uint8_t *src, size_t n, int level, uint8_t **out, size_t *cap,
		    size_t *on, svt_err *err)
{
	size_t bound = ZSTD_compressBound(n);
	int rc = grow(out, cap, bound + 4, err);
	if (rc)
		return rc;
	size_t c = ZSTD_compress(*out, bound, src, n, level);
	if (ZSTD_isError(c))
		return svt_err_set(err, SVT_E_FORMAT, "zstd: %s", ZSTD_getErrorName(c));
	*on = c;
	return SVT_OK;
}

static int enc_blosc(const uint8_t *src, size_t n, size_t elem, int level, uint8_t **out,
		     size_t *cap, size_t *on, svt_err *err)
{
	size_t bound = n + BLOSC_MAX_OVERHEAD;
	int rc = grow(out, cap, bound + 4, err);
	if (rc)
		return rc;
	/* The _ctx call keeps no global state, so workers may run it at once. */
	int c = blosc_compress_ctx(level, BLOSC_SHUFFLE, elem, n, src, *out, bound, "lz4", 0, 1);
	if (c <= 0)
		return svt_err_set(err, SVT_E_FORMAT, "blosc: compression failed (%d)", c);
	*on = (size_t)c;
	return SVT_OK;
}

int fmt_chunk_encode(fmt_codec c, int level, int fletcher, size_t elem, const uint8_t *src,
		     size_t n, uint8_t **out, size_t *cap, size_t *out_n, svt_err *err)
{
	return fmt_chunk_encode_in(c, level, fletcher, elem, src, n, NULL, out, cap, out_n, err);
}

int fmt_chunk_encode_in(fmt_codec c, int level, int fletcher, size_t elem, const uint8_t *src,
			size_t n, uint8_t *scratch, uint8_t **out, size_t *cap, size_t *out_n,
			svt_err *err)
{
	if (elem < 1)
		elem = 1;
	int rc;
	/* The shuffle filter first (a no-op on 1-byte elements), into the caller's scratch or a
	 * buffer of this call's. */
	uint8_t *own = NULL;
	if (pipeline_shuffles(c, elem) && elem > 1 && n > elem) {
		if (!scratch && !(scratch = own = malloc(n)))
			return svt_err_set(err, SVT_E_NOMEM, "shuffle buffer");
		shuffle(src, n, elem, scratch);
		src = scratch;
	}
	switch (c) {
	case FMT_CODEC_NONE:
		if ((rc = grow(out, cap, n + 4, err)))
			return rc;
		memcpy(*out, src, n);
		*out_n = n;
		break;
	case FMT_CODEC_GZIP: rc = enc_gzip(src, n, level, out, cap, out_n, err); break;
	case FMT_CODEC_LZ4: rc = enc_lz4(src, n, out, cap, out_n, err); break;
	case FMT_CODEC_ZSTD: rc = enc_zstd(src, n, level, out, cap, out_n, err); break;
	case FMT_CODEC_BLOSC: rc = enc_blosc(src, n, elem, level, out, cap, out_n, err); break;
	/* JPEG frames go through fmt_jpeg_encode; what comes here (depth) is kept lossless. */
	case FMT_CODEC_JPEG: rc = enc_gzip(src, n, 1, out, cap, out_n, err); break;
	default: rc = svt_err_set(err, SVT_E_INPUT, "unknown codec %d", (int)c); break;
	}
	free(own);
	if (rc)
		return rc;
	if (fletcher) {
		/* Every encoder reserved 4 spare bytes. H5Z_filter_fletcher32 appends with
		 * UINT32ENCODE, i.e. little-endian. */
		uint32_t f = fmt_fletcher32(*out, *out_n);
		uint8_t *p = *out + *out_n;
		p[0] = (uint8_t)f;
		p[1] = (uint8_t)(f >> 8);
		p[2] = (uint8_t)(f >> 16);
		p[3] = (uint8_t)(f >> 24);
		*out_n += 4;
	}
	return SVT_OK;
}

int fmt_dcpl_set_codec(hid_t dcpl, fmt_codec c, int level, size_t chunk_bytes, size_t elem,
		       int fletcher, svt_err *err)
{
	if (pipeline_shuffles(c, elem) && H5Pset_shuffle(dcpl) < 0)
		return svt_err_set(err, SVT_E_HDF5, "cannot set the shuffle filter");
	herr_t h = 0;
	switch (c) {
	case FMT_CODEC_NONE: break;
	case FMT_CODEC_GZIP: h = H5Pset_deflate(dcpl, (unsigned)level); break;
	case FMT_CODEC_JPEG: /* the datasets beside JPEG frames (depth): gzip level 1 */
		h = H5Pset_deflate(dcpl, 1);
		break;
	case FMT_CODEC_LZ4: {
		unsigned cd[1] = {0}; /* 0: the filter's default block size (1 GiB) */
		h = H5Pset_filter(dcpl, FMT_FILTER_LZ4, H5Z_FLAG_MANDATORY, 1, cd);
		break;
	}
	case FMT_CODEC_ZSTD: {
		unsigned cd[1] = {(unsigned)level};
		h = H5Pset_filter(dcpl, FMT_FILTER_ZSTD, H5Z_FLAG_MANDATORY, 1, cd);
		break;
	}
	case FMT_CODEC_BLOSC: {
		/* filter version, format version, typesize, chunk bytes (the plugin's set_local
		 * rewrites the first four), level, shuffle, compressor (1 = lz4). */
		unsigned cd[7] = {2, BLOSC_VERSION_FORMAT, (unsigned)elem, (unsigned)chunk_bytes,
				  (unsigned)level, BLOSC_SHUFFLE, BLOSC_LZ4};
		h = H5Pset_filter(dcpl, FMT_FILTER_BLOSC, H5Z_FLAG_MANDATORY, 7, cd);
		break;
	}
	}
	if (h >= 0 && fletcher)
		h = H5Pset_fletcher32(dcpl);
	if (h < 0)
		return svt_err_set(err, SVT_E_HDF5, "cannot set the %s filter (is its plugin installed?)",
				   fmt_codec_name(c));
	return SVT_OK;
}

uint16_t fmt_f16_from_f32(float f)
{
	uint32_t x;
	memcpy(&x, &f, 4);
	uint32_t sign = (x >> 16) & 0x8000, mant = x & 0x7fffff;
	int32_t e8 = (int32_t)((x >> 23) & 0xff), exp = e8 - 127 + 15;
	if (e8 == 0xff)
		return (uint16_t)(sign | 0x7c00 | (mant ? 0x200 : 0));
	if (exp >= 31)
		return (uint16_t)(sign | 0x7c00);
	if (exp <= 0) { /* a half subnormal (or zero): units of 2^-24 */
		if (exp < -10)
			return (uint16_t)sign;
		mant |= 0x800000;
		uint32_t shift = (uint32_t)(14 - exp), h = mant >> shift;
		uint32_t rem = mant & ((1u << shift) - 1), mid = 1u << (shift - 1);
		if (rem > mid || (rem == mid && (h & 1)))
			h++;
		return (uint16_t)(sign | h);
	}
	uint32_t h = sign | ((uint32_t)exp << 10) | (mant >> 13), rem = mant & 0x1fff;
	if (rem > 0x1000 || (rem == 0x1000 && (h & 1)))
		h++; /* a carry into the exponent is the right result, up to infinity */
	return (uint16_t)h;
}

/* One depth as the shard stores it: finite positive depths a half can hold, else 0. */
static uint16_t depth_half(float d)
{
	return d > 0 && d <= 65504.0f ? fmt_f16_from_f32(d) : 0;
}

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
/* Eight at a time with the CPU's F16C conversion: round to nearest even, subnormals
 * included, the same bits as fmt_f16_from_f32 (tests/test_formats_codec.c compares). */
__attribute__((target("avx,f16c"))) static size_t depth_half_f16c(const float *in, uint8_t *out,
								 size_t n)
{
	const __m256 zero = _mm256_setzero_ps(), top = _mm256_set1_ps(65504.0f);
	size_t i = 0;
	for (; i + 8 <= n; i += 8) {
		__m256 d = _mm256_loadu_ps(in + i);
		/* Ordered compares: NaN fails both, like the scalar rule. */
		__m256 ok = _mm256_and_ps(_mm256_cmp_ps(d, zero, _CMP_GT_OQ),
					  _mm256_cmp_ps(d, top, _CMP_LE_OQ));
		__m128i h = _mm256_cvtps_ph(_mm256_and_ps(d, ok), _MM_FROUND_TO_NEAREST_INT);
		_mm_storeu_si128((__m128i *)(void *)(out + 2 * i), h);
	}
	return i;
}
#endif

void fmt_depth_to_f16(const float *in, uint8_t *out, size_t n)
{
	size_t i = 0;
#if (defined(__x86_64__) || defined(__i386__)) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	if (__builtin_cpu_supports("f16c") && __builtin_cpu_supports("avx"))
		i = depth_half_f16c(in, out, n);
#endif
	for (; i < n; i++) {
		float d;
		memcpy(&d, (const uint8_t *)in + 4 * i, 4);
		uint16_t v = depth_half(d);
		out[2 * i] = (uint8_t)v;
		out[2 * i + 1] = (uint8_t)(v >> 8);
	}
}

hid_t fmt_f16_type(void)
{
	hid_t t = H5Tcopy(H5T_IEEE_F32LE);
	H5Tset_fields(t, 15, 10, 5, 0, 10);
	H5Tset_size(t, 2);
	H5Tset_ebias(t, 15);
	return t;
}

int fmt_jpeg_encode(const uint8_t *rgb, int W, int H, int quality, uint8_t **out, size_t *cap,
		    size_t *out_n, svt_err *err)
{
	tjhandle tj = tjInitCompress();
	if (!tj)
		return svt_err_set(err, SVT_E_NOMEM, "jpeg: cannot create a TurboJPEG compressor");
	int rc = grow(out, cap, tjBufSize(W, H, TJSAMP_420), err);
	unsigned long len = (unsigned long)*cap;
	/* TJFLAG_NOREALLOC: TurboJPEG writes into our buffer, sized by tjBufSize. */
	if (!rc && tjCompress2(tj, rgb, W, 0, H, TJPF_RGB, out, &len, TJSAMP_420, quality,
			       TJFLAG_NOREALLOC) != 0)
		rc = svt_err_set(err, SVT_E_FORMAT, "jpeg: %s", tjGetErrorStr2(tj));
	if (!rc)
		*out_n = (size_t)len;
	tjDestroy(tj);
	return rc;
}

int fmt_jpeg_decode(const uint8_t *jpg, size_t n, int W, int H, uint8_t *rgb, svt_err *err)
{
	tjhandle tj = tjInitDecompress();
	if (!tj)
		return svt_err_set(err, SVT_E_NOMEM, "jpeg: cannot create a TurboJPEG decompressor");
	int w = 0, h = 0, sub = 0, cs = 0, rc = SVT_OK;
	if (tjDecompressHeader3(tj, jpg, (unsigned long)n, &w, &h, &sub, &cs) != 0)
		rc = svt_err_set(err, SVT_E_FORMAT, "jpeg frame: %s", tjGetErrorStr2(tj));
	else if (w != W || h != H)
		rc = svt_err_set(err, SVT_E_FORMAT, "jpeg frame is %dx%d, the clip says %dx%d", w, h,
				 W, H);
	else if (tjDecompress2(tj, jpg, (unsigned long)n, rgb, W, 0, H, TJPF_RGB,
			       TJFLAG_STOPONWARNING) != 0)
		rc = svt_err_set(err, SVT_E_FORMAT, "jpeg frame: %s", tjGetErrorStr2(tj));
	tjDestroy(tj);
	return rc;
}
