/* clip_extra.c: the reader of a clip's caption windows, for the exports (export/) that copy
 * them out (its depth as stored: fmt_reader_depth_f16, reader.c). */
#include <stdlib.h>
#include <string.h>

#include "formats/fmt_internal.h"

typedef struct caption_rec {
	int32_t start_frame, end_frame;
	char *caption;
} caption_rec;

int fmt_reader_captions(fmt_reader *r, size_t i, fmt_caption **caps, int *n, svt_err *err)
{
	if (!r || !caps || !n)
		return svt_err_set(err, SVT_E_INPUT, "fmt_reader_captions: NULL argument");
	*caps = NULL;
	*n = 0;
	if (i >= fmt_reader_clip_count(r))
		return svt_err_set(err, SVT_E_INPUT, "clip %zu of %zu", i, fmt_reader_clip_count(r));
	const char *id = fmt_reader_clip_id(r, i);
	char p[FMT_ID_MAX + 16];
	snprintf(p, sizeof(p), "clips/%s/captions", id);
	int rc = SVT_OK;
	hid_t ds = H5I_INVALID_HID, sp = H5I_INVALID_HID, ct = H5I_INVALID_HID;
	hid_t vs = H5Tcopy(H5T_C_S1);
	caption_rec *rec = NULL;
	hssize_t m = 0;
	H5Tset_size(vs, H5T_VARIABLE);
	H5Tset_cset(vs, H5T_CSET_UTF8);
	ct = H5Tcreate(H5T_COMPOUND, sizeof(caption_rec));
	H5Tinsert(ct, "start_frame", HOFFSET(caption_rec, start_frame), H5T_NATIVE_INT32);
	H5Tinsert(ct, "end_frame", HOFFSET(caption_rec, end_frame), H5T_NATIVE_INT32);
	H5Tinsert(ct, "caption", HOFFSET(caption_rec, caption), vs);
	if (H5Lexists(fmt_reader_h5file(r), p, H5P_DEFAULT) <= 0)
		goto cleanup; /* no captions dataset: none */
	ds = H5Dopen2(fmt_reader_h5file(r), p, H5P_DEFAULT);
	sp = ds >= 0 ? H5Dget_space(ds) : H5I_INVALID_HID;
	m = sp >= 0 ? H5Sget_simple_extent_npoints(sp) : -1;
	if (m < 0 || m > 1000000) {
		rc = svt_err_set(err, SVT_E_FORMAT, "/%s is unreadable", p);
		goto cleanup;
	}
	if (m == 0)
		goto cleanup;
	rec = calloc((size_t)m, sizeof(*rec));
	if (!rec) {
		rc = svt_err_set(err, SVT_E_NOMEM, "captions of %s", id);
		goto cleanup;
	}
	if (H5Dread(ds, ct, H5S_ALL, H5S_ALL, H5P_DEFAULT, rec) < 0) {
		rc = svt_err_set(err, SVT_E_FORMAT, "/%s: read failed", p);
		goto cleanup;
	}
	/* One block: the array, then the strings, so that one free() releases it. */
	size_t bytes = (size_t)m * sizeof(fmt_caption);
	for (hssize_t k = 0; k < m; k++)
		bytes += strlen(rec[k].caption ? rec[k].caption : "") + 1;
	fmt_caption *out = malloc(bytes);
	if (!out) {
		rc = svt_err_set(err, SVT_E_NOMEM, "captions of %s", id);
		goto cleanup;
	}
	char *s = (char *)(out + m);
	for (hssize_t k = 0; k < m; k++) {
		size_t len = strlen(rec[k].caption ? rec[k].caption : "");
		memcpy(s, rec[k].caption ? rec[k].caption : "", len + 1);
		out[k] = (fmt_caption){rec[k].start_frame, rec[k].end_frame, s};
		s += len + 1;
	}
	*caps = out;
	*n = (int)m;
cleanup:
	if (rec) {
		H5Dvlen_reclaim(ct, sp, H5P_DEFAULT, rec);
		free(rec);
	}
	if (sp >= 0)
		H5Sclose(sp);
	if (ds >= 0)
		H5Dclose(ds);
	H5Tclose(ct);
	H5Tclose(vs);
	return rc;
}
