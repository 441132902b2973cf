/* fuzz_entry.h: one entry point per ingest parser, shared by the libFuzzer targets
 * (fuzz/fuzz_<name>.c, built by scripts/fuzz.sh with clang -fsanitize=fuzzer,address) and by
 * the Criterion smoke test (tests/test_ingest_fuzz.c, mutated seeds, no clang needed).
 * Each call must return normally whatever the bytes: errors are values, never crashes. */
#ifndef SVT_FUZZ_ENTRY_H
#define SVT_FUZZ_ENTRY_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ingest/ingest_internal.h"

enum fuzz_target { FUZZ_EXIF, FUZZ_XMP, FUZZ_GPX, FUZZ_NMEA, FUZZ_CSV, FUZZ_KAPTURE, FUZZ_DECODE,
		   FUZZ_N };

static const char *const fuzz_names[FUZZ_N] __attribute__((unused)) = {"exif", "xmp", "gpx", "nmea", "csv", "kapture",
					       "decode"};

/* A JPEG skeleton around a metadata payload: SOI, APP1 (prefix + payload), SOF0 16x16. */
static uint8_t *fuzz_wrap_app1(const char *prefix, size_t plen, const uint8_t *d, size_t n,
			       size_t *out_n)
{
	static const uint8_t sof[] = {0xFF, 0xC0, 0, 11, 8, 0, 16, 0, 16, 1, 1, 0x11, 0, 0xFF, 0xD9};
	if (n > 65000)
		n = 65000; /* an APP segment holds 64 KiB */
	size_t seg = 2 + plen + n;
	uint8_t *b = malloc(4 + seg + sizeof(sof));
	if (!b)
		return NULL;
	b[0] = 0xFF, b[1] = 0xD8, b[2] = 0xFF, b[3] = 0xE1;
	b[4] = (uint8_t)(seg >> 8), b[5] = (uint8_t)seg;
	memcpy(b + 6, prefix, plen);
	if (n)
		memcpy(b + 6 + plen, d, n);
	memcpy(b + 4 + seg, sof, sizeof(sof));
	*out_n = 4 + seg + sizeof(sof);
	return b;
}

/* Feeds the track reader with the first byte forced to the format's marker. */
static void fuzz_track(char lead, int avoid, const uint8_t *d, size_t n)
{
	uint8_t *b = malloc(n + 1);
	if (!b)
		return;
	memcpy(b, d, n);
	size_t m = n;
	if (!avoid) {
		if (!n || b[0] != (uint8_t)lead) {
			memmove(b + 1, b, n);
			b[0] = (uint8_t)lead;
			m = n + 1;
		}
	} else if (n && (b[0] == '<' || b[0] == '$' || b[0] == ' ' || b[0] == '\n')) {
		b[0] = '0';
	}
	ingest_track *t = NULL;
	svt_err e = {0};
	if (ingest_track_read_mem(b, m, &t, &e) == 0 && t->n > 0) {
		double la, lo, al, hd;
		ingest_track_at(t, t->pts[0].time_us + (t->pts[t->n - 1].time_us - t->pts[0].time_us) / 2,
				&la, &lo, &al, &hd, &e);
	}
	ingest_track_destroy(t);
	free(b);
}

static int fuzz_one(int target, const uint8_t *d, size_t n)
{
	svt_err e = {0};
	switch (target) {
	case FUZZ_EXIF: {
		ingest_meta m;
		if (n >= 2 && d[0] == 0xFF && d[1] == 0xD8) { /* a whole file */
			ingest_meta_read_mem(d, n, NULL, &m, &e);
			break;
		}
		size_t bn;
		uint8_t *b = fuzz_wrap_app1("Exif\0\0", 6, d, n, &bn);
		if (b && !ingest_meta_read_mem(b, bn, NULL, &m, &e)) {
			/* the optics tags feed the camera model: divisions, scales, casts */
			ingest_camera cam;
			char why[SVT_ERR_MSG_MAX];
			ingest_camera_resolve(&m, NULL, NULL, &cam, why, sizeof(why));
		}
		free(b);
		break;
	}
	case FUZZ_XMP: {
		ingest_meta m;
		memset(&m, 0, sizeof(m));
		if (n >= 2 && d[0] == 0xFF && d[1] == 0xD8) {
			ingest_blob bl;
			if (ingest_blob_scan(d, n, &bl, &e) == 0 && bl.xmp)
				ingest_xmp_parse(bl.xmp, bl.xmp_len, &m, &e);
			break;
		}
		ingest_xmp_parse(d, n, &m, &e);
		break;
	}
	case FUZZ_GPX: fuzz_track('<', 0, d, n); break;
	case FUZZ_NMEA: fuzz_track('$', 0, d, n); break;
	case FUZZ_CSV: fuzz_track(0, 1, d, n); break;
	case FUZZ_KAPTURE: {
		if (n == 0)
			break;
		ingest_kapture *k = calloc(1, sizeof(*k));
		if (!k)
			break;
		/* first byte picks the file; the same dataset takes two files so joins run */
		ingest_kapture_parse_mem(k, d[0] % KF_COUNT, d + 1, (n - 1) / 2, &e);
		ingest_kapture_parse_mem(k, (d[0] / KF_COUNT) % KF_COUNT, d + 1 + (n - 1) / 2,
					 n - 1 - (n - 1) / 2, &e);
		ingest_kapture_destroy(k);
		break;
	}
	case FUZZ_DECODE: {
		ingest_blob hb;
		ingest_blob_scan_head(d, n, 1, &hb, &e); /* the scan's head-only walk */
		ingest_decoder *dec = NULL;
		if (ingest_decoder_create(&dec, &e))
			break;
		ingest_decode_opts o;
		ingest_decode_opts_default(&o);
		/* small limits keep each run fast and prove they hold */
		o.limits.max_width = o.limits.max_height = 2048;
		o.limits.max_pixels = 1 << 20;
		o.want_channels = n ? d[n - 1] % 2 ? 0 : 3 : 3;
		ingest_image img = {0};
		int w = 0;
		ingest_decode_mem(dec, d, n, &o, &img, &w, &e);
		/* and a region of it (libjpeg's crop and skip: another decoder path) */
		if (hb.width > 0 && hb.height > 0) {
			o.roi[0] = hb.width / 4;
			o.roi[1] = hb.height / 4;
			o.roi[2] = hb.width / 2 + 1;
			o.roi[3] = hb.height / 2 + 1;
			o.roi_w = hb.width;
			o.roi_h = hb.height;
			ingest_decode_mem(dec, d, n, &o, &img, &w, &e);
		}
		ingest_image_free(&img);
		ingest_decoder_destroy(dec);
		break;
	}
	default: break;
	}
	return 0;
}

#endif
