/* ingest_internal.h: helpers shared by the ingest .c files; not part of the public API. */
#ifndef SVT_INGEST_INTERNAL_H
#define SVT_INGEST_INTERNAL_H

#include "ingest/ingest.h"

enum ingest_blob_kind { INGEST_BLOB_UNKNOWN = 0, INGEST_BLOB_JPEG, INGEST_BLOB_PNG };

/* What a container walk finds without decoding: the header size and where the metadata blocks
 * sit. Pointers point into the caller's buffer (not owned). exif points at TIFF data (the
 * "Exif\0\0" prefix skipped). */
typedef struct ingest_blob {
	int kind;
	int width, height, channels, bit_depth;
	int progressive;   /* JPEG: SOF2 */
	const uint8_t *exif;
	size_t exif_len;
	const uint8_t *xmp;
	size_t xmp_len;
	int has_eoi;       /* JPEG: an EOI marker follows the entropy-coded data */
} ingest_blob;

/* Walks the JPEG markers or PNG chunks of buf. Returns SVT_E_FORMAT (with the reason) when the
 * buffer is neither, or when the header is cut short before the size is known. */
int ingest_blob_scan(const uint8_t *buf, size_t size, ingest_blob *b, svt_err *err);

/* The same on the first bytes of a file (partial = 1): SVT_E_NOTFOUND when those bytes do not
 * hold every JPEG header up to the scan (then read the whole file), and for any PNG; has_eoi
 * is left for the caller to find in the file's tail. */
int ingest_blob_scan_head(const uint8_t *buf, size_t size, int partial, ingest_blob *b,
			  svt_err *err);

/* ingest_meta_read_mem on an already scanned buffer (b from ingest_blob_scan[_head]). */
int ingest_meta_read_blob(const ingest_blob *b, const ingest_meta_opts *opts, ingest_meta *meta,
			  svt_err *err);

/* Checks width x height x channels x bytes against lim; SVT_E_LIMIT with the reason. */
int ingest_limits_check(const ingest_limits *lim, int width, int height, int channels,
			int bytes_per_sample, svt_err *err);

/* EXIF Orientation (1..8) from raw TIFF data, read with a bounds-checked IFD0 walk (no
 * allocation, for the decoder's hot path); 1 when absent or malformed. */
int ingest_tiff_orientation(const uint8_t *tiff, size_t len);

/* Parses the GPano fields (and the XMP copy of the exif GPS position, used only when EXIF has
 * none) out of an XMP packet with libxml2. Fills meta->gpano and sets INGEST_HAS_GPANO when
 * any GPano property is present. SVT_E_FORMAT when the XML does not parse. */
int ingest_xmp_parse(const uint8_t *xmp, size_t len, ingest_meta *meta, svt_err *err);

/* Days since 1970-01-01 of a proleptic Gregorian date (no timezone involved, no libc). */
int64_t ingest_days_from_civil(int y, int m, int d);

/* Formats time_us (UTC) as ISO 8601 with the offset tz_min ("2018-06-08T13:24:10.000+09:00");
 * tz_min 0 writes "Z". */
void ingest_time_format(int64_t time_us, int tz_min, char *out, size_t cap);

/* The finite number that is all of s (blanks after it allowed) into *out: 0, else -1 and *out
 * untouched ("37.5abc", "", "nan" are none). The one rule for numbers in metadata text: XMP
 * values, kapture fields, GPX/CSV track fields. */
int ingest_parse_number(const char *s, double *out);

/* Great-circle distance in metres (spherical, mean radius): ample for 0.1 m duplicate checks
 * and gap cuts between neighbouring frames. */
double ingest_dist_m(double lat1, double lon1, double lat2, double lon2);

/* Initial bearing from point 1 to point 2, degrees clockwise from north in [0, 360). */
double ingest_bearing_deg(double lat1, double lon1, double lat2, double lon2);

/* kapture files, for ingest_kapture_parse_mem. */
enum { KF_SENSORS, KF_RIGS, KF_TRAJ, KF_CAMERA, KF_GNSS, KF_COUNT };

/* Parses one kapture file's text (buf, n: any bytes) as file `which`, adding cameras and
 * records to k and joining what that file alone gives. The fuzz targets' entry point. */
int ingest_kapture_parse_mem(ingest_kapture *k, int which, const uint8_t *buf, size_t n,
			     svt_err *err);

#endif
