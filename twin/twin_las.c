/* twin_las.c: LAS 1.4 point files (ASPRS LAS 1.4 R15), point data record format 7 (xyz,
 * GPS time, RGB) with one extra byte field, "weight" (uint32: the input points a fused point
 * stands for), and the CRS as OGC WKT in a LASF_Projection VLR (record 2112; global encoding
 * bit 4 set), so PDAL, CloudCompare and QGIS open them georeferenced.
 *
 * No Debian 12 library writes LAS 1.4 from C (liblas stops at 1.3 and is unmaintained; PDAL
 * has only a C++ API), and the records are fixed-size little-endian, so they are written here;
 * the tests read them back with an independent reader (laspy or pdal) when one is installed.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "twin/twin_las.h"

#define LAS_HEADER 375
#define VLR_HEADER 54
#define EB_DESC 192
#define REC_LEN 52 /* 36 (format 7) + 4 (weight) + 12 (vox_i, vox_j, vox_k) */
#define N_EXTRA 4
#define WKT_BIT 0x10

static void p16(uint8_t *b, uint16_t v)
{
	b[0] = (uint8_t)v;
	b[1] = (uint8_t)(v >> 8);
}
/* Written out rather than a loop: gcc merges these into one store (the loop stayed a loop,
 * seven of them a LAS record). */
static void p32(uint8_t *b, uint32_t v)
{
	b[0] = (uint8_t)v;
	b[1] = (uint8_t)(v >> 8);
	b[2] = (uint8_t)(v >> 16);
	b[3] = (uint8_t)(v >> 24);
}
static void p64(uint8_t *b, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		b[i] = (uint8_t)(v >> (8 * i));
}
static void pf64(uint8_t *b, double d)
{
	uint64_t u;
	memcpy(&u, &d, 8);
	p64(b, u);
}
static uint16_t g16(const uint8_t *b) { return (uint16_t)(b[0] | b[1] << 8); }
static uint32_t g32(const uint8_t *b)
{
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}
static uint64_t g64(const uint8_t *b) { return (uint64_t)g32(b) | (uint64_t)g32(b + 4) << 32; }
static double gf64(const uint8_t *b)
{
	uint64_t u = g64(b);
	double d;
	memcpy(&d, &u, 8);
	return d;
}

static void vlr_header(uint8_t *b, const char *user, uint16_t id, uint16_t len, const char *desc)
{
	memset(b, 0, VLR_HEADER);
	strncpy((char *)b + 2, user, 16);
	p16(b + 18, id);
	p16(b + 20, len);
	strncpy((char *)b + 22, desc, 32);
}

/* *q = round(x) (halfway away from zero) when |round(x)| < 2^31 - 1, else -1 (NaN too): the
 * same integers as round() without a libm call a coordinate. The fraction x - trunc(x) is
 * exact below 2^31, so the halfway test is too. */
static int las_quantize(double x, int32_t *q)
{
	if (!(fabs(x) < 2147483646.5))
		return -1;
	int32_t k = (int32_t)x; /* toward zero */
	double d = x - (double)k;
	*q = k + (d >= 0.5) - (d <= -0.5); /* no branch: the fractions are random (mispredicted
					    * half the time, the branches cost more than round()) */
	return 0;
}

int twin_las_encode_into(const twin_las_point *pts, size_t n, const char *wkt,
			 const double offset[3], double scale, uint8_t **buf, size_t *cap,
			 size_t *nout, svt_err *err)
{
	*nout = 0;
	size_t wlen = strlen(wkt) + 1;
	if (wlen > 65535 || !(scale > 0))
		return svt_err_set(err, SVT_E_INPUT, "LAS: WKT too long or bad scale");
	size_t vlrs = VLR_HEADER + wlen + VLR_HEADER + N_EXTRA * EB_DESC;
	size_t off = LAS_HEADER + vlrs, size = off + n * REC_LEN;
	if (size > *cap || !*buf) {
		/* a half more than asked: the next file of a fusion is often a little larger, and
		 * pages never written are never faulted in; block-aligned and whole blocks, so the
		 * file can be written from it directly (svt_file_write_atomic_direct) */
		size_t c = (size + size / 2 + SVT_BLOCK - 1) & ~(SVT_BLOCK - 1);
		void *q = NULL;
		if (posix_memalign(&q, SVT_BLOCK, c) != 0)
			return svt_err_set(err, SVT_E_NOMEM, "LAS: no memory for %zu points", n);
		free(*buf);
		*buf = q;
		*cap = c;
	}
	uint8_t *b = *buf;
	/* Every byte is written: the header and VLRs cleared, each record cleared before its
	 * fields (the buffer is reused, so nothing may be left from the last file). */
	memset(b, 0, off);
	double lo[3] = {INFINITY, INFINITY, INFINITY}, hi[3] = {-INFINITY, -INFINITY, -INFINITY};
	for (size_t i = 0; i < n; i++) {
		uint8_t *r = b + off + i * REC_LEN;
		memset(r, 0, REC_LEN);
		for (int a = 0; a < 3; a++) {
			int32_t q;
			if (las_quantize((pts[i].xyz[a] - offset[a]) / scale, &q))
				return svt_err_set(err, SVT_E_INPUT, "LAS: point %zu out of range", i);
			p32(r + 4 * a, (uint32_t)q);
			double v = offset[a] + (double)q * scale;
			/* fmin / fmax for numbers (v is one), inline: two calls a coordinate else */
			lo[a] = lo[a] < v ? lo[a] : v;
			hi[a] = hi[a] > v ? hi[a] : v;
		}
		r[14] = 0x11; /* return 1 of 1 */
		for (int c = 0; c < 3; c++)
			p16(r + 30 + 2 * c, (uint16_t)(pts[i].rgb[c] * 257u)); /* 8 -> 16 bit */
		p32(r + 36, pts[i].weight);
		for (int a = 0; a < 3; a++)
			p32(r + 40 + 4 * a, (uint32_t)pts[i].vox[a]);
	}
	if (!n)
		for (int a = 0; a < 3; a++)
			lo[a] = hi[a] = 0;
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	memcpy(b, "LASF", 4);
	p16(b + 6, WKT_BIT);
	b[24] = 1;
	b[25] = 4;
	strncpy((char *)b + 26, "svtwin", 32);
	strncpy((char *)b + 58, "svtwin twin store", 32);
	p16(b + 90, (uint16_t)(tm.tm_yday + 1));
	p16(b + 92, (uint16_t)(tm.tm_year + 1900));
	p16(b + 94, LAS_HEADER);
	p32(b + 96, (uint32_t)off);
	p32(b + 100, 2);
	b[104] = 7;
	p16(b + 105, REC_LEN);
	for (int a = 0; a < 3; a++) {
		pf64(b + 131 + 8 * a, scale);
		pf64(b + 155 + 8 * a, offset[a]);
		pf64(b + 179 + 16 * a, hi[a]);
		pf64(b + 187 + 16 * a, lo[a]);
	}
	p64(b + 247, n);
	p64(b + 255, n); /* all first returns */
	uint8_t *v = b + LAS_HEADER;
	vlr_header(v, "LASF_Projection", 2112, (uint16_t)wlen, "OGC WKT coordinate system");
	memcpy(v + VLR_HEADER, wkt, wlen);
	v += VLR_HEADER + wlen;
	vlr_header(v, "LASF_Spec", 4, N_EXTRA * EB_DESC, "Extra bytes");
	static const char *const names[N_EXTRA] = {"weight", "vox_i", "vox_j", "vox_k"};
	static const char *const descs[N_EXTRA] = {"input points merged", "voxel index east",
						   "voxel index north", "voxel index up"};
	for (int k = 0; k < N_EXTRA; k++) {
		uint8_t *d = v + VLR_HEADER + k * EB_DESC;
		d[2] = k == 0 ? 5 : 6; /* unsigned long, long */
		strncpy((char *)d + 4, names[k], 32);
		strncpy((char *)d + 160, descs[k], 32);
	}
	*nout = size;
	return SVT_OK;
}

int twin_las_encode(const twin_las_point *pts, size_t n, const char *wkt, const double offset[3],
		    double scale, uint8_t **out, size_t *nout, svt_err *err)
{
	size_t cap = 0;
	*out = NULL;
	int rc = twin_las_encode_into(pts, n, wkt, offset, scale, out, &cap, nout, err);
	if (rc) {
		free(*out);
		*out = NULL;
	}
	return rc;
}

int twin_las_decode(const uint8_t *b, size_t size, twin_las_point **pts, size_t *n,
		    char **wkt, svt_err *err)
{
	size_t cap = 0;
	*pts = NULL;
	int rc = twin_las_decode_into(b, size, pts, &cap, n, wkt, err);
	if (rc) {
		free(*pts);
		*pts = NULL;
	}
	return rc;
}

int twin_las_decode_into(const uint8_t *b, size_t size, twin_las_point **pts, size_t *cap,
			 size_t *n, char **wkt, svt_err *err)
{
	*n = 0;
	if (wkt)
		*wkt = NULL;
	if (size < LAS_HEADER || memcmp(b, "LASF", 4) != 0 || b[24] != 1 || b[25] != 4 ||
	    g16(b + 94) != LAS_HEADER || b[104] != 7)
		return svt_err_set(err, SVT_E_FORMAT, "not a LAS 1.4 file of point format 7");
	uint32_t off = g32(b + 96), nvlr = g32(b + 100);
	uint16_t rl = g16(b + 105);
	uint64_t cnt = g64(b + 247);
	if (rl < 36 || off < LAS_HEADER || off > size || cnt > (size - off) / rl)
		return svt_err_set(err, SVT_E_FORMAT, "LAS: %llu records of %u bytes at %u do not fit "
				   "in %zu bytes", (unsigned long long)cnt, rl, off, size);
	double sc[3], of[3];
	for (int a = 0; a < 3; a++) {
		sc[a] = gf64(b + 131 + 8 * a);
		of[a] = gf64(b + 155 + 8 * a);
		if (!(sc[a] > 0) || !isfinite(of[a]))
			return svt_err_set(err, SVT_E_FORMAT, "LAS: bad scale or offset");
	}
	/* The WKT VLR, when asked for. */
	size_t at = LAS_HEADER;
	for (uint32_t k = 0; wkt && k < nvlr && at + VLR_HEADER <= off; k++) {
		uint16_t id = g16(b + at + 18), len = g16(b + at + 20);
		if (at + VLR_HEADER + len > off)
			break;
		if (id == 2112 && !strncmp((const char *)b + at + 2, "LASF_Projection", 16) && len &&
		    (*wkt = malloc(len + 1u))) {
			memcpy(*wkt, b + at + VLR_HEADER, len);
			(*wkt)[len] = 0;
		}
		at += VLR_HEADER + len;
	}
	if (cnt > *cap || !*pts) {
		size_t c = (size_t)cnt + (size_t)cnt / 2 + 1; /* as twin_las_encode_into */
		twin_las_point *q = malloc(c * sizeof(*q));
		if (!q) {
			if (wkt) {
				free(*wkt);
				*wkt = NULL;
			}
			return svt_err_set(err, SVT_E_NOMEM, "LAS: no memory for %llu points",
					   (unsigned long long)cnt);
		}
		free(*pts);
		*pts = q;
		*cap = c;
	}
	twin_las_point *p = *pts;
	for (uint64_t i = 0; i < cnt; i++) {
		const uint8_t *r = b + off + i * rl;
		for (int a = 0; a < 3; a++)
			p[i].xyz[a] = of[a] + (double)(int32_t)g32(r + 4 * a) * sc[a];
		for (int c = 0; c < 3; c++)
			p[i].rgb[c] = (uint8_t)((g16(r + 30 + 2 * c) + 128u) / 257u);
		p[i].weight = rl >= 40 ? g32(r + 36) : 1;
		p[i].has_vox = rl >= REC_LEN;
		for (int a = 0; a < 3; a++)
			p[i].vox[a] = p[i].has_vox ? (int32_t)g32(r + 40 + 4 * a) : 0;
		if (!p[i].weight)
			p[i].weight = 1;
	}
	*n = (size_t)cnt;
	return SVT_OK;
}

int twin_las_voxels(const uint8_t *b, size_t size, const uint8_t **vox, size_t *stride,
		    size_t *n, svt_err *err)
{
	*vox = NULL;
	*stride = 0;
	*n = 0;
	if (size < LAS_HEADER || memcmp(b, "LASF", 4) != 0 || b[24] != 1 || b[25] != 4 ||
	    g16(b + 94) != LAS_HEADER || b[104] != 7)
		return svt_err_set(err, SVT_E_FORMAT, "not a LAS 1.4 file of point format 7");
	uint32_t off = g32(b + 96);
	uint16_t rl = g16(b + 105);
	uint64_t cnt = g64(b + 247);
	if (rl < REC_LEN)
		return svt_err_set(err, SVT_E_FORMAT, "LAS: records of %u bytes have no voxel fields",
				   rl);
	if (off < LAS_HEADER || off > size || cnt > (size - off) / rl)
		return svt_err_set(err, SVT_E_FORMAT, "LAS: %llu records of %u bytes at %u do not fit "
				   "in %zu bytes", (unsigned long long)cnt, rl, off, size);
	*vox = b + off + 40;
	*stride = rl;
	*n = (size_t)cnt;
	return SVT_OK;
}
