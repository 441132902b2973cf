/* npz.c: numpy .npz archives (a zip of .npy members, stored) written in a stream. zlib gives
 * the CRC-32; the zip and .npy headers are a few fixed fields (numpy's format.py, PKWARE
 * APPNOTE 4.3), so no zip library is needed. Each member's local header is written with its
 * sizes (known from the shape) and its CRC patched in once the data is written. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "export/export.h"

#define NPZ_MAX_MEMBERS 16
#define NPZ_NAME_MAX 64

typedef struct npz_member {
	char name[NPZ_NAME_MAX + 4];
	uint32_t crc, size, offset;
} npz_member;

struct export_npz {
	FILE *f;
	char path[4096];
	npz_member m[NPZ_MAX_MEMBERS];
	int n;
	int open_member;       /* 1 while data of m[n-1] is being written */
	uint64_t want, got;    /* data bytes of the open member */
	uint32_t crc;
};

static void put16(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, v & 0xffff);
	put16(p + 2, v >> 16);
}

/* 1980-01-01 00:00 in MS-DOS time and date: a fixed stamp keeps archives reproducible. */
#define DOS_TIME 0
#define DOS_DATE ((0 << 9) | (1 << 5) | 1)

int export_npz_open(const char *path, export_npz **out, svt_err *err)
{
	*out = NULL;
	export_npz *z = calloc(1, sizeof(*z));
	if (!z)
		return svt_err_set(err, SVT_E_NOMEM, "npz %s", path);
	snprintf(z->path, sizeof(z->path), "%s", path);
	if (!(z->f = fopen(path, "wb"))) {
		int e = errno;
		free(z);
		return svt_err_set(err, SVT_E_IO, "%s: %s", path, strerror(e));
	}
	*out = z;
	return SVT_OK;
}

static int finish_member(export_npz *z, svt_err *err)
{
	npz_member *m = &z->m[z->n - 1];
	if (z->got != z->want)
		return svt_err_set(err, SVT_E_INPUT, "%s: array %s got %llu of %llu bytes", z->path,
				   m->name, (unsigned long long)z->got, (unsigned long long)z->want);
	m->crc = z->crc;
	uint8_t b[4];
	put32(b, m->crc);
	long end = ftell(z->f);
	if (end < 0 || fseek(z->f, (long)m->offset + 14, SEEK_SET) || fwrite(b, 4, 1, z->f) != 1 ||
	    fseek(z->f, end, SEEK_SET))
		return svt_err_set(err, SVT_E_IO, "%s: %s", z->path, strerror(errno));
	z->open_member = 0;
	return SVT_OK;
}

int export_npz_begin(export_npz *z, const char *name, const char *dtype, int rank,
		     const size_t *shape, svt_err *err)
{
	if (!z || !name || !dtype || rank < 0 || rank > 8 || (rank && !shape))
		return svt_err_set(err, SVT_E_INPUT, "export_npz_begin: bad argument");
	if (z->open_member && finish_member(z, err))
		return err ? err->code : SVT_E_INPUT;
	if (z->n >= NPZ_MAX_MEMBERS || strlen(name) > NPZ_NAME_MAX)
		return svt_err_set(err, SVT_E_LIMIT, "%s: too many arrays or name too long", z->path);
	size_t item = dtype[2] == '2' ? 2 : dtype[2] == '4' ? 4 : dtype[2] == '8' ? 8 : 1;
	uint64_t count = 1;
	char hdr[512];
	int k = snprintf(hdr, sizeof(hdr), "{'descr': '%s', 'fortran_order': False, 'shape': (",
			 dtype);
	for (int i = 0; i < rank; i++) {
		count *= shape[i];
		k += snprintf(hdr + k, sizeof(hdr) - (size_t)k, "%zu%s", shape[i],
			      rank == 1 ? "," : i + 1 < rank ? ", " : "");
	}
	k += snprintf(hdr + k, sizeof(hdr) - (size_t)k, "), }");
	/* numpy pads the header with spaces and a newline to a multiple of 64 bytes in all. */
	size_t total = 10 + (size_t)k + 1;
	size_t pad = (64 - total % 64) % 64;
	memset(hdr + k, ' ', pad);
	hdr[(size_t)k + pad] = '\n';
	size_t hlen = (size_t)k + pad + 1;
	uint64_t data = count * item, size = 10 + hlen + data;
	long off = ftell(z->f);
	if (size > 0xffffffffull || off < 0 || (uint64_t)off + size > 0xffffffffull)
		return svt_err_set(err, SVT_E_LIMIT, "%s: array %s of %llu bytes needs zip64", z->path,
				   name, (unsigned long long)size);
	npz_member *m = &z->m[z->n++];
	snprintf(m->name, sizeof(m->name), "%s.npy", name);
	m->size = (uint32_t)size;
	m->offset = (uint32_t)off;
	size_t nl = strlen(m->name);
	uint8_t lh[30];
	put32(lh, 0x04034b50);
	put16(lh + 4, 20);
	put16(lh + 6, 0);
	put16(lh + 8, 0);   /* stored */
	put16(lh + 10, DOS_TIME);
	put16(lh + 12, DOS_DATE);
	put32(lh + 14, 0);  /* CRC, patched by finish_member */
	put32(lh + 18, m->size);
	put32(lh + 22, m->size);
	put16(lh + 26, (uint32_t)nl);
	put16(lh + 28, 0);
	uint8_t npy[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, 0, 0};
	put16(npy + 8, (uint32_t)hlen);
	if (fwrite(lh, 30, 1, z->f) != 1 || fwrite(m->name, nl, 1, z->f) != 1 ||
	    fwrite(npy, 10, 1, z->f) != 1 || fwrite(hdr, hlen, 1, z->f) != 1)
		return svt_err_set(err, SVT_E_IO, "%s: %s", z->path, strerror(errno));
	z->crc = (uint32_t)crc32(crc32(0L, Z_NULL, 0), npy, 10);
	z->crc = (uint32_t)crc32(z->crc, (const Bytef *)hdr, (uInt)hlen);
	z->want = data;
	z->got = 0;
	z->open_member = 1;
	return SVT_OK;
}

int export_npz_data(export_npz *z, const void *data, size_t n, svt_err *err)
{
	if (!z || !z->open_member || (n && !data))
		return svt_err_set(err, SVT_E_INPUT, "export_npz_data: no array begun");
	if (z->got + n > z->want)
		return svt_err_set(err, SVT_E_INPUT, "%s: more bytes than the shape holds", z->path);
	const uint8_t *p = data;
	for (size_t done = 0; done < n;) {
		uInt step = (uInt)(n - done > (1u << 30) ? (1u << 30) : n - done);
		z->crc = (uint32_t)crc32(z->crc, p + done, step);
		done += step;
	}
	if (n && fwrite(data, n, 1, z->f) != 1)
		return svt_err_set(err, SVT_E_IO, "%s: %s", z->path, strerror(errno));
	z->got += n;
	return SVT_OK;
}

int export_npz_close(export_npz *z, svt_err *err)
{
	if (!z)
		return svt_err_set(err, SVT_E_INPUT, "export_npz_close: NULL");
	int rc = SVT_OK;
	if (z->open_member && (rc = finish_member(z, err)))
		goto cleanup;
	long cd = ftell(z->f);
	uint32_t cd_size = 0;
	for (int i = 0; i < z->n; i++) {
		npz_member *m = &z->m[i];
		size_t nl = strlen(m->name);
		uint8_t c[46] = {0};
		put32(c, 0x02014b50);
		put16(c + 4, 20);
		put16(c + 6, 20);
		put16(c + 10, 0);
		put16(c + 12, DOS_TIME);
		put16(c + 14, DOS_DATE);
		put32(c + 16, m->crc);
		put32(c + 20, m->size);
		put32(c + 24, m->size);
		put16(c + 28, (uint32_t)nl);
		put32(c + 42, m->offset);
		if (fwrite(c, 46, 1, z->f) != 1 || fwrite(m->name, nl, 1, z->f) != 1) {
			rc = svt_err_set(err, SVT_E_IO, "%s: %s", z->path, strerror(errno));
			goto cleanup;
		}
		cd_size += (uint32_t)(46 + nl);
	}
	uint8_t e[22] = {0};
	put32(e, 0x06054b50);
	put16(e + 8, (uint32_t)z->n);
	put16(e + 10, (uint32_t)z->n);
	put32(e + 12, cd_size);
	put32(e + 16, (uint32_t)cd);
	if (cd < 0 || fwrite(e, 22, 1, z->f) != 1 || fflush(z->f) || fsync(fileno(z->f)))
		rc = svt_err_set(err, SVT_E_IO, "%s: %s", z->path, strerror(errno));
cleanup:
	if (fclose(z->f) && !rc)
		rc = svt_err_set(err, SVT_E_IO, "%s: %s", z->path, strerror(errno));
	free(z);
	return rc;
}

void export_npz_abort(export_npz *z)
{
	if (!z)
		return;
	fclose(z->f);
	free(z);
}
