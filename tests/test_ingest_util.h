/* test_ingest_util.h: helpers for the ingest tests: real-data paths, JPEG/PNG/EXIF builders.
 * Header-only (static functions) so each Criterion binary stays one .c file. */
#ifndef SVT_TEST_INGEST_UTIL_H
#define SVT_TEST_INGEST_UTIL_H

#include <criterion/criterion.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <turbojpeg.h>
#include <unistd.h>
#include <zlib.h>

#include "ingest/ingest.h"

/* Days since 1970-01-01 (proleptic Gregorian), written independently of the library's. */
static __attribute__((unused)) int64_t ingest_days_from_civil_test(int y, int m, int d)
{
	static const int cum[12] = {0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334};
	int64_t days = 0;
	for (int yy = 1970; yy < y; yy++)
		days += (yy % 4 == 0 && (yy % 100 != 0 || yy % 400 == 0)) ? 366 : 365;
	days += cum[m - 1] + d - 1;
	if (m > 2 && (y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)))
		days++;
	return days;
}

/* Path of a file under SVT_REAL_DATA; skips the test when the folder is absent. */
static __attribute__((unused)) const char *real_path(const char *rel)
{
	static char buf[8][1024];
	static int k;
	const char *root = getenv("SVT_REAL_DATA");
	struct stat st;
	if (!root || stat(root, &st) != 0 || !S_ISDIR(st.st_mode))
		cr_skip_test("SVT_REAL_DATA (%s) is not a directory: real-data test skipped",
			     root ? root : "unset");
	char *b = buf[k++ % 8];
	snprintf(b, 1024, "%s/%s", root, rel);
	return b;
}

static __attribute__((unused)) uint8_t *slurp(const char *path, size_t *n)
{
	uint8_t *buf = NULL;
	svt_err e = {0};
	cr_assert_eq(svt_file_read(path, (size_t)1 << 30, &buf, n, &e), 0, "%s", e.msg);
	return buf;
}

static __attribute__((unused)) void spit(const char *path, const void *d, size_t n)
{
	FILE *f = fopen(path, "wb");
	cr_assert_not_null(f, "cannot write %s", path);
	cr_assert_eq(fwrite(d, 1, n, f), n);
	fclose(f);
}

/* A w x h RGB test pattern: left half red, right half blue, a gradient in green. */
static __attribute__((unused)) uint8_t *pattern(int w, int h)
{
	uint8_t *p = malloc((size_t)w * h * 3);
	for (int y = 0; y < h; y++)
		for (int x = 0; x < w; x++) {
			uint8_t *q = p + ((size_t)y * w + x) * 3;
			q[0] = x < w / 2 ? 220 : 20;
			q[1] = (uint8_t)(y * 255 / (h > 1 ? h - 1 : 1) / 4);
			q[2] = x < w / 2 ? 20 : 220;
		}
	return p;
}

/* Encodes an RGB buffer as JPEG (tjCompress2 exists in both the 2.x and 3.x libraries). */
static __attribute__((unused)) uint8_t *make_jpeg(const uint8_t *rgb, int w, int h, int subsamp, int quality, int flags,
			  size_t *n)
{
	tjhandle tj = tjInitCompress();
	cr_assert_not_null(tj);
	unsigned char *out = NULL;
	unsigned long len = 0;
	cr_assert_eq(tjCompress2(tj, rgb, w, w * 3, h, TJPF_RGB, &out, &len, subsamp, quality,
				 flags),
		     0, "%s", tjGetErrorStr2(tj));
	tjDestroy(tj);
	uint8_t *copy = malloc(len);
	memcpy(copy, out, len);
	tjFree(out);
	*n = len;
	return copy;
}

/* Inserts an APP segment (marker, payload) right after SOI. */
static __attribute__((unused)) uint8_t *jpeg_insert_app(const uint8_t *jpg, size_t n, int marker, const uint8_t *payload,
				size_t plen, size_t *out_n)
{
	uint8_t *o = malloc(n + plen + 4);
	o[0] = 0xFF;
	o[1] = 0xD8;
	o[2] = 0xFF;
	o[3] = (uint8_t)marker;
	o[4] = (uint8_t)((plen + 2) >> 8);
	o[5] = (uint8_t)((plen + 2) & 0xFF);
	memcpy(o + 6, payload, plen);
	memcpy(o + 6 + plen, jpg + 2, n - 2);
	*out_n = n + plen + 4;
	return o;
}

/* ---- a little-endian TIFF/EXIF builder ------------------------------------------------- */

typedef struct tent {
	uint16_t tag, type;
	uint32_t count;
	uint8_t data[64]; /* count * size bytes */
} tent;

static __attribute__((unused)) int tsize(int type)
{
	switch (type) {
	case 1: case 2: case 6: case 7: return 1;
	case 3: case 8: return 2;
	case 4: case 9: case 11: return 4;
	default: return 8;
	}
}

static __attribute__((unused)) tent t_ascii(uint16_t tag, const char *s)
{
	tent e = {tag, 2, (uint32_t)strlen(s) + 1, {0}};
	memcpy(e.data, s, strlen(s) + 1);
	return e;
}

static __attribute__((unused)) tent t_rat(uint16_t tag, int n, const uint32_t *numden)
{
	tent e = {tag, 5, (uint32_t)n, {0}};
	memcpy(e.data, numden, (size_t)n * 8); /* host is little-endian (x86-64, arm64) */
	return e;
}

static __attribute__((unused)) tent t_short(uint16_t tag, int n, const uint16_t *v)
{
	tent e = {tag, 3, (uint32_t)n, {0}};
	memcpy(e.data, v, (size_t)n * 2);
	return e;
}

static __attribute__((unused)) tent t_byte(uint16_t tag, uint8_t v)
{
	tent e = {tag, 1, 1, {v}};
	return e;
}

/* Writes IFD0 (with pointers to the EXIF and GPS IFDs when given) into "Exif\0\0" + TIFF. */
static __attribute__((unused)) uint8_t *tiff_build(const tent *ifd0, int n0, const tent *ex, int ne, const tent *gps,
			   int ng, size_t *len)
{
	uint8_t *b = calloc(1, 8192);
	memcpy(b, "Exif\0\0II*\0\x08\0\0\0", 14);
	uint8_t *t = b + 6;
	int n0t = n0 + (ne > 0) + (ng > 0);
	size_t off0 = 8, offe = off0 + 2 + 12 * (size_t)n0t + 4;
	size_t offg = offe + (ne ? 2 + 12 * (size_t)ne + 4 : 0);
	size_t data = offg + (ng ? 2 + 12 * (size_t)ng + 4 : 0);
	const tent *lists[3] = {ifd0, ex, gps};
	int ns[3] = {n0, ne, ng};
	size_t offs[3] = {off0, offe, offg};
	for (int l = 0; l < 3; l++) {
		if (l > 0 && ns[l] == 0)
			continue;
		size_t p = offs[l];
		int cnt = l == 0 ? n0t : ns[l];
		t[p] = (uint8_t)cnt;
		t[p + 1] = 0;
		p += 2;
		for (int i = 0; i < ns[l]; i++, p += 12) {
			const tent *e = &lists[l][i];
			memcpy(t + p, &e->tag, 2);
			memcpy(t + p + 2, &e->type, 2);
			memcpy(t + p + 4, &e->count, 4);
			size_t sz = (size_t)tsize(e->type) * e->count;
			if (sz <= 4) {
				memcpy(t + p + 8, e->data, sz);
			} else {
				uint32_t o = (uint32_t)data;
				memcpy(t + p + 8, &o, 4);
				memcpy(t + data, e->data, sz);
				data += sz + (sz & 1);
			}
		}
		if (l == 0) {
			uint16_t lt = 4;
			uint32_t one = 1;
			if (ne) {
				uint16_t tg = 0x8769;
				uint32_t o = (uint32_t)offe;
				memcpy(t + p, &tg, 2), memcpy(t + p + 2, &lt, 2), memcpy(t + p + 4, &one, 4);
				memcpy(t + p + 8, &o, 4);
				p += 12;
			}
			if (ng) {
				uint16_t tg = 0x8825;
				uint32_t o = (uint32_t)offg;
				memcpy(t + p, &tg, 2), memcpy(t + p + 2, &lt, 2), memcpy(t + p + 4, &one, 4);
				memcpy(t + p + 8, &o, 4);
				p += 12;
			}
		}
		memset(t + p, 0, 4); /* no next IFD */
	}
	*len = data + 6;
	return b;
}

/* A small JPEG carrying GPS (lat, lon in degrees; N/E when positive), an optional
 * GPSImgDirection (heading < 0: none) and a DateTimeOriginal string (NULL: none). */
static __attribute__((unused)) uint8_t *jpeg_with_gps(double lat, double lon, double heading, const char *dto,
			      const char *offset, size_t *n)
{
	uint8_t *rgb = pattern(32, 16);
	size_t jn;
	uint8_t *j = make_jpeg(rgb, 32, 16, TJSAMP_444, 90, 0, &jn);
	free(rgb);
	tent gps[6];
	int ng = 0;
	double al = lat < 0 ? -lat : lat, ao = lon < 0 ? -lon : lon;
	uint32_t la[6] = {(uint32_t)al, 1, 0, 1, (uint32_t)((al - (uint32_t)al) * 3600 * 10000 + 0.5), 10000};
	uint32_t lo[6] = {(uint32_t)ao, 1, 0, 1, (uint32_t)((ao - (uint32_t)ao) * 3600 * 10000 + 0.5), 10000};
	gps[ng++] = t_ascii(1, lat < 0 ? "S" : "N");
	gps[ng++] = t_rat(2, 3, la);
	gps[ng++] = t_ascii(3, lon < 0 ? "W" : "E");
	gps[ng++] = t_rat(4, 3, lo);
	if (heading >= 0) {
		uint32_t h[2] = {(uint32_t)(heading * 100 + 0.5), 100};
		gps[ng++] = t_ascii(0x10, "T");
		gps[ng++] = t_rat(0x11, 1, h);
	}
	tent ex[2];
	int ne = 0;
	if (dto)
		ex[ne++] = t_ascii(0x9003, dto);
	if (offset)
		ex[ne++] = t_ascii(0x9011, offset);
	size_t tl;
	uint8_t *tiff = tiff_build(NULL, 0, ex, ne, gps, ng, &tl);
	uint8_t *out = jpeg_insert_app(j, jn, 0xE1, tiff, tl, n);
	free(tiff);
	free(j);
	return out;
}

/* A temporary directory, removed by rm_tree. */
static __attribute__((unused)) char *temp_dir(void)
{
	char *d = strdup("/tmp/svt-ingest-XXXXXX");
	cr_assert_not_null(mkdtemp(d));
	return d;
}

static __attribute__((unused)) void rm_tree(char *d)
{
	char cmd[1200];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", d);
	free(d);
}

#endif
