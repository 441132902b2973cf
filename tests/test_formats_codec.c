/* test_formats_codec.c: white-box test of formats/' private chunk encoder (the one file
 * outside formats/ that sees hid_t, because its subject is the byte format HDF5 expects).
 *
 * The writer stores pre-compressed chunks with H5Dwrite_chunk, so its bytes must be exactly
 * what HDF5's own filter pipeline would store. Here HDF5 writes the same data through its
 * pipeline (H5Dwrite) and the raw chunk it stored (H5Dread_chunk) is compared byte for byte
 * with fmt_chunk_encode's output. For plugin codecs the encoder may legitimately differ from
 * the plugin's (library versions), so those are checked by decoding through HDF5 instead. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>

#include "formats/fmt_internal.h"

static uint8_t *pattern(size_t n, uint32_t seed)
{
	uint8_t *p = malloc(n);
	cr_assert(p);
	uint32_t x = seed | 1;
	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		p[i] = (uint8_t)((i / 7) % 50 + (x & 7));
	}
	return p;
}

/* HDF5 writes n bytes of data as one chunk of a uint8 dataset with the codec's filters;
 * returns the raw chunk it stored (malloc'd) and its size. With ours != NULL, the chunk is
 * instead written raw with H5Dwrite_chunk and read back through the pipeline into *back. */
static uint8_t *h5_chunk(fmt_codec c, int level, int fletcher, size_t elem, const uint8_t *data,
			 size_t n, const uint8_t *ours, size_t ours_n, uint8_t **back,
			 size_t *out_n)
{
	char path[] = "/tmp/svt-codec-XXXXXX";
	int fd = mkstemp(path);
	cr_assert(fd >= 0);
	close(fd);
	fmt_h5_quiet();
	hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
	cr_assert(f >= 0);
	hsize_t d = n / elem;
	hid_t ty = elem == 2 ? H5T_STD_U16LE : H5T_STD_U8LE;
	hid_t sp = H5Screate_simple(1, &d, NULL), dcpl = H5Pcreate(H5P_DATASET_CREATE);
	H5Pset_chunk(dcpl, 1, &d);
	svt_err e = {0};
	cr_assert_eq(fmt_dcpl_set_codec(dcpl, c, level, n, elem, fletcher, &e), 0, "%s", e.msg);
	hid_t ds = H5Dcreate2(f, "x", ty, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
	cr_assert(ds >= 0);
	hsize_t off = 0;
	uint8_t *raw = NULL;
	if (ours) {
		cr_assert(H5Dwrite_chunk(ds, H5P_DEFAULT, 0, &off, ours_n, ours) >= 0);
		*back = malloc(n);
		if (H5Dread(ds, ty, H5S_ALL, H5S_ALL, H5P_DEFAULT, *back) < 0) {
			free(*back);
			*back = NULL; /* the caller decides whether that was expected */
		}
	} else {
		cr_assert(H5Dwrite(ds, ty, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) >= 0);
		H5Fflush(f, H5F_SCOPE_LOCAL);
		hsize_t sz = 0;
		cr_assert(H5Dget_chunk_storage_size(ds, &off, &sz) >= 0);
		raw = malloc(sz);
		uint32_t mask = 0;
		cr_assert(H5Dread_chunk(ds, H5P_DEFAULT, &off, &mask, raw) >= 0);
		cr_assert_eq(mask, 0, "HDF5 skipped a filter");
		*out_n = sz;
	}
	H5Dclose(ds);
	H5Pclose(dcpl);
	H5Sclose(sp);
	H5Fclose(f);
	unlink(path);
	return raw;
}

static void same_bytes_as_hdf5_elem(fmt_codec c, int level, int fletcher, size_t elem, size_t n)
{
	uint8_t *data = pattern(n, (uint32_t)n), *ours = NULL;
	size_t cap = 0, on = 0, hn = 0;
	svt_err e = {0};
	cr_assert_eq(fmt_chunk_encode(c, level, fletcher, elem, data, n, &ours, &cap, &on, &e), 0,
		     "%s", e.msg);
	uint8_t *theirs = h5_chunk(c, level, fletcher, elem, data, n, NULL, 0, NULL, &hn);
	cr_assert_eq(on, hn, "%s n=%zu: %zu bytes, HDF5 stored %zu", fmt_codec_name(c), n, on, hn);
	cr_assert_eq(memcmp(ours, theirs, on), 0, "%s n=%zu: bytes differ from HDF5's",
		     fmt_codec_name(c), n);
	free(theirs);
	free(ours);
	free(data);
}

static void same_bytes_as_hdf5(fmt_codec c, int level, int fletcher, size_t n)
{
	same_bytes_as_hdf5_elem(c, level, fletcher, 1, n);
}

Test(codec, none_fletcher_matches_hdf5)
{
	same_bytes_as_hdf5(FMT_CODEC_NONE, 0, 1, 4096);
	same_bytes_as_hdf5(FMT_CODEC_NONE, 0, 1, 1001);   /* odd length: the last byte's rule */
	same_bytes_as_hdf5(FMT_CODEC_NONE, 0, 1, 270000); /* many 360-word folds */
}

Test(codec, gzip_matches_hdf5)
{
	same_bytes_as_hdf5(FMT_CODEC_GZIP, 1, 0, 100000);
	same_bytes_as_hdf5(FMT_CODEC_GZIP, 1, 1, 100000);
	same_bytes_as_hdf5(FMT_CODEC_GZIP, 6, 1, 33333);
	/* 2-byte elements (depth maps): the shuffle is real there. */
	same_bytes_as_hdf5_elem(FMT_CODEC_GZIP, 1, 1, 2, 2 * 50000);
	/* Counts that are not a multiple of the vector shuffle's 16 elements: the tail's rule. */
	same_bytes_as_hdf5_elem(FMT_CODEC_GZIP, 1, 0, 2, 2 * 50007);
	same_bytes_as_hdf5_elem(FMT_CODEC_GZIP, 1, 0, 2, 2 * 15);
}

Test(codec, float16_conversion)
{
	struct {
		float f;
		uint16_t h;
	} v[] = {{0.0f, 0x0000}, {1.0f, 0x3c00}, {-2.0f, 0xc000}, {65504.0f, 0x7bff},
		 {0.1f, 0x2e66}, {1.0f / 3, 0x3555}, {2049.0f, 0x6800} /* tie: to even, 2048 */,
		 {2051.0f, 0x6802} /* tie: to even, 2052 */, {5.9604645e-8f, 0x0001},
		 {6.1035156e-5f, 0x0400} /* smallest normal */, {1e-9f, 0x0000},
		 {65520.0f, 0x7c00} /* rounds past the largest half: infinity */,
		 {123.456f, 0x57b7}};
	for (size_t i = 0; i < SVT_ARRAY_LEN(v); i++)
		cr_assert_eq(fmt_f16_from_f32(v[i].f), v[i].h, "%g -> 0x%04x, expected 0x%04x",
			     (double)v[i].f, fmt_f16_from_f32(v[i].f), v[i].h);
	/* HDF5's own half type (h5py's definition) reads those bits back as the same values. */
	hid_t t = fmt_f16_type();
	cr_assert_eq(H5Tget_size(t), 2);
	for (size_t i = 0; i < SVT_ARRAY_LEN(v) - 2; i++) {
		uint16_t h = fmt_f16_from_f32(v[i].f);
		float back = 0;
		uint8_t buf[8] = {0};
		memcpy(buf, &h, 2);
		cr_assert(H5Tconvert(t, H5T_NATIVE_FLOAT, 1, buf, NULL, H5P_DEFAULT) >= 0);
		memcpy(&back, buf, 4);
		cr_assert(fabsf(back - v[i].f) <= fabsf(v[i].f) * (1.0f / 2048) + 3e-8f,
			  "%g came back as %g", (double)v[i].f, (double)back);
	}
	H5Tclose(t);
}

/* The bulk depth conversion (F16C where the CPU has it) gives the scalar rule's bits on every
 * kind of value: normal, subnormal, ties, the largest half and past it, 0, negative, NaN,
 * infinity, and a sweep of depths. */
Test(codec, float16_depth_bulk_matches_scalar)
{
	enum { N = 100003 };
	float *in = malloc(sizeof(float) * N);
	uint8_t *out = malloc(2 * (size_t)N);
	cr_assert(in && out);
	const float special[] = {0.0f, -0.0f, -1.0f, NAN, INFINITY, -INFINITY, 65504.0f, 65505.0f,
				 65519.0f, 65520.0f, 5.9604645e-8f, 2.9802322e-8f, 1e-9f, 1e-40f,
				 2049.0f, 2051.0f, 6.1035156e-5f, 0.1f};
	uint32_t st = 5;
	for (int i = 0; i < N; i++) {
		st = st * 1664525u + 1013904223u;
		if (i < (int)SVT_ARRAY_LEN(special))
			in[i] = special[i];
		else if (i % 3 == 0)
			in[i] = (float)(st >> 8) / (1 << 24) * 80.0f; /* 0..80 m */
		else
			memcpy(&in[i], &st, 4); /* any bits */
	}
	fmt_depth_to_f16(in, out, N);
	for (int i = 0; i < N; i++) {
		float d = in[i];
		uint16_t want = d > 0 && d <= 65504.0f ? fmt_f16_from_f32(d) : 0;
		uint16_t got = (uint16_t)(out[2 * i] | out[2 * i + 1] << 8);
		cr_assert_eq(got, want, "%d: %g -> 0x%04x, scalar 0x%04x", i, (double)d, got, want);
	}
	free(in);
	free(out);
}

static void decodes_through_hdf5(fmt_codec c, int level)
{
	if (!fmt_codec_available(c))
		cr_skip_test("%s: its HDF5 filter plugin is not installed here", fmt_codec_name(c));
	size_t sizes[] = {1, 17, 4096, 704 * 1280 * 3};
	for (size_t k = 0; k < SVT_ARRAY_LEN(sizes); k++) {
		size_t n = sizes[k];
		uint8_t *data = pattern(n, 7), *ours = NULL, *back = NULL;
		if (k == 1)
			for (size_t i = 0; i < n; i++) /* incompressible: the stored-raw path */
				data[i] = (uint8_t)(i * 151 + 89);
		size_t cap = 0, on = 0;
		svt_err e = {0};
		cr_assert_eq(fmt_chunk_encode(c, level, 1, 1, data, n, &ours, &cap, &on, &e), 0, "%s",
			     e.msg);
		h5_chunk(c, level, 1, 1, data, n, ours, on, &back, NULL);
		cr_assert(back, "%s n=%zu: HDF5 could not decode the chunk", fmt_codec_name(c), n);
		cr_assert_eq(memcmp(back, data, n), 0, "%s n=%zu: decoded bytes differ",
			     fmt_codec_name(c), n);
		free(back);
		/* A flipped byte is caught by Fletcher32, never decoded into wrong pixels. */
		ours[on / 2] ^= 0x10;
		h5_chunk(c, level, 1, 1, data, n, ours, on, &back, NULL);
		cr_assert_null(back, "%s n=%zu: a corrupt chunk was decoded", fmt_codec_name(c), n);
		free(ours);
		free(data);
	}
}

Test(codec, lz4_decodes_through_plugin) { decodes_through_hdf5(FMT_CODEC_LZ4, 0); }
Test(codec, blosc_decodes_through_plugin) { decodes_through_hdf5(FMT_CODEC_BLOSC, 5); }
Test(codec, zstd_decodes_through_plugin) { decodes_through_hdf5(FMT_CODEC_ZSTD, 3); }
Test(codec, gzip_decodes) { decodes_through_hdf5(FMT_CODEC_GZIP, 1); }

Test(codec, fletcher32_reference_values)
{
	/* Values from HDF5's algorithm by hand: "ab" -> sum1 = 0x6162, sum2 = 0x6162. */
	cr_assert_eq(fmt_fletcher32("ab", 2), 0x61626162u);
	/* Odd length: the last byte counts as the high byte of a word: sum1 = 0x6162 + 0x6300,
	 * sum2 = 0x6162 + 0xc462 = 0x125c4, folded to 0x25c5. */
	cr_assert_eq(fmt_fletcher32("abc", 3), 0x25c5c462u);
}

/* The Debian plugin links the same liblz4, so its encoder gives the same bytes as ours. */
Test(codec, lz4_matches_plugin_encoder)
{
	if (!fmt_codec_available(FMT_CODEC_LZ4))
		cr_skip_test("lz4: its HDF5 filter plugin is not installed here");
	same_bytes_as_hdf5(FMT_CODEC_LZ4, 0, 1, 704 * 1280 * 3);
	same_bytes_as_hdf5(FMT_CODEC_LZ4, 0, 0, 4096);
	/* float16 depth: shuffle then LZ4, the pipeline fmt_dcpl_set_codec declares. */
	same_bytes_as_hdf5_elem(FMT_CODEC_LZ4, 0, 1, 2, 2 * 704 * 1280);
}

/* No Zstd plugin on Debian 12, so the bytes are checked against the format the hdf5plugin
 * filter (32015) decodes: one Zstd frame, then Fletcher32 little-endian. */
Test(codec, zstd_chunk_is_a_zstd_frame)
{
	size_t n = 100000, cap = 0, on = 0;
	uint8_t *data = pattern(n, 3), *ours = NULL, *back = malloc(n);
	svt_err e = {0};
	cr_assert_eq(fmt_chunk_encode(FMT_CODEC_ZSTD, 3, 1, 1, data, n, &ours, &cap, &on, &e), 0,
		     "%s", e.msg);
	uint32_t f = fmt_fletcher32(ours, on - 4);
	cr_assert_eq(ours[on - 4] | ours[on - 3] << 8 | ours[on - 2] << 16 | (uint32_t)ours[on - 1] << 24,
		     f);
	cr_assert_eq(ZSTD_getFrameContentSize(ours, on - 4), n);
	cr_assert_eq(ZSTD_decompress(back, n, ours, on - 4), n);
	cr_assert_eq(memcmp(back, data, n), 0);
	free(back);
	free(ours);
	free(data);
}

/* The depth packing (F16C where the CPU has it, in place) gives fmt_f16_from_f32's bits for
 * every valid depth and 0 for the rest: the rounding ties, subnormals, the edges of the range,
 * NaN, infinities, negatives, and 200000 pseudo-random floats of every exponent, at every
 * length modulo 8 (the vector loop's tail). */
Test(codec, depth_halves_match_the_scalar_rule)
{
	enum { N = 200000 };
	static float in[N + 64];
	static uint8_t copy[4 * (N + 64)];
	const float edge[] = {0.0f, -0.0f, 1.0f, -2.0f, 65504.0f, 65504.01f, 65519.0f, 65520.0f,
			      2049.0f, 2051.0f, 5.9604645e-8f, 2.9802322e-8f, 2.98e-8f,
			      6.1035156e-5f, 6.1e-5f, 1e-9f, 1e-40f, 0.1f, 123.456f, NAN, -NAN,
			      INFINITY, -INFINITY, 3.4e38f};
	size_t ne = SVT_ARRAY_LEN(edge);
	for (size_t i = 0; i < ne; i++)
		in[i] = edge[i];
	uint32_t x = 12345;
	for (size_t i = ne; i < N + 64; i++) {
		x = x * 1664525u + 1013904223u;
		uint32_t b = x;
		memcpy(&in[i], &b, 4);
	}
	for (size_t n = N; n < N + 9; n++) {
		memcpy(copy, in, 4 * n);
		fmt_depth_to_f16((const float *)(void *)copy, copy, n);
		for (size_t i = 0; i < n; i++) {
			float d = in[i];
			uint16_t want = d > 0 && d <= 65504.0f ? fmt_f16_from_f32(d) : 0;
			uint16_t got = (uint16_t)(copy[2 * i] | copy[2 * i + 1] << 8);
			cr_assert_eq(got, want, "n %zu, depth %d (%g, bits 0x%08x): 0x%04x, expected "
				     "0x%04x", n, (int)i, (double)d, (unsigned)x, got, want);
		}
	}
}
