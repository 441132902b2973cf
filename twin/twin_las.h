/* twin_las.h: LAS 1.4 point files of the twin (twin_las.c). Internal to twin/ and its tests. */
#ifndef SVT_TWIN_LAS_H
#define SVT_TWIN_LAS_H

#include "base/svt.h"

/* One point: position in the file's CRS (metres), 8-bit colour, weight (input points) and
 * the voxel of the store's grid it was merged in (extra bytes vox_i, vox_j, vox_k: a merged
 * point keeps its voxel exactly, whatever the rounding of its position). */
typedef struct twin_las_point {
	double xyz[3];
	uint8_t rgb[3];
	uint32_t weight;
	int32_t vox[3];
	int has_vox; /* decode: 1 when the file has the vox fields */
} twin_las_point;

/* Encodes pts as a LAS 1.4 file (point format 7 + extra bytes "weight", "vox_i/j/k", RGB scaled to 16
 * bit, coordinates quantised to scale metres about offset, the CRS as OGC WKT in its VLR);
 * *out malloc'd. SVT_E_INPUT when a point is beyond the int32 range of the quantisation. */
int twin_las_encode(const twin_las_point *pts, size_t n, const char *wkt, const double offset[3],
		    double scale, uint8_t **out, size_t *nout, svt_err *err);
/* twin_las_encode into a buffer the caller keeps between files: *buf (*cap bytes; NULL, 0 at
 * first) is replaced by a larger one when the file does not fit, *nout is the file's size. The
 * bytes are those twin_las_encode gives. A buffer this call allocates is SVT_BLOCK-aligned and
 * whole blocks long (svt_file_write_atomic_direct can write it); free it with free(). On
 * failure *buf stays the caller's, its bytes undefined. */
int twin_las_encode_into(const twin_las_point *pts, size_t n, const char *wkt,
			 const double offset[3], double scale, uint8_t **buf, size_t *cap,
			 size_t *nout, svt_err *err);
/* Decodes a LAS 1.4 file of point format 7 (every size checked against the buffer:
 * SVT_E_FORMAT); weight 1 when the records have no extra bytes. *pts malloc'd; *wkt (may be
 * NULL) gets the WKT VLR, malloc'd, or NULL. */
int twin_las_decode(const uint8_t *b, size_t size, twin_las_point **pts, size_t *n,
		    char **wkt, svt_err *err);
/* twin_las_decode into a buffer the caller keeps between files: *pts (*cap points; NULL, 0 at
 * first) is replaced by a larger one when the records do not fit; *n gets their count. */
int twin_las_decode_into(const uint8_t *b, size_t size, twin_las_point **pts, size_t *cap,
			 size_t *n, char **wkt, svt_err *err);

/* The voxel fields (vox_i, vox_j, vox_k) of a LAS file's records, read in place: *vox points
 * at the first record's, *stride bytes apart, *n records (twin_las_voxel_at reads one).
 * SVT_E_FORMAT when the file is not one of these or its records have no voxel fields. */
int twin_las_voxels(const uint8_t *b, size_t size, const uint8_t **vox, size_t *stride,
		    size_t *n, svt_err *err);
/* Inline: a tile's point count reads it for every record of its parts (little-endian int32). */
static inline void twin_las_voxel_at(const uint8_t *vox, size_t stride, size_t i, int32_t out[3])
{
	const uint8_t *r = vox + i * stride;
	for (int a = 0; a < 3; a++, r += 4)
		out[a] = (int32_t)((uint32_t)r[0] | (uint32_t)r[1] << 8 | (uint32_t)r[2] << 16 |
				   (uint32_t)r[3] << 24);
}

#endif
