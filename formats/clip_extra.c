/* clip_extra.c: readers of a clip's captions and of its depth as stored (float16 bits), for
 * the exports (export/) that copy them out without a conversion of their own. */
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

int fmt_reader_depth_f16(fmt_reader *r, size_t i, int t0, int n, uint16_t *depth, svt_err *err)
{
	if (!r || !depth)
		return svt_err_set(err, SVT_E_INPUT, "fmt_reader_depth_f16: NULL argument");
	if (i >= fmt_reader_clip_count(r))
		return svt_err_set(err, SVT_E_INPUT, "clip %zu of %zu", i, fmt_reader_clip_count(r));
	const char *id = fmt_reader_clip_id(r, i);
	char p[FMT_ID_MAX + 16];
	snprintf(p, sizeof(p), "clips/%s/depth", id);
	if (H5Lexists(fmt_reader_h5file(r), p, H5P_DEFAULT) <= 0)
		return svt_err_set(err, SVT_E_NOTFOUND, "clip %s has no depth", id);
	int rc = SVT_OK;
	hid_t ds = H5Dopen2(fmt_reader_h5file(r), p, H5P_DEFAULT), ms = H5I_INVALID_HID;
	hid_t fs = ds >= 0 ? H5Dget_space(ds) : H5I_INVALID_HID, ht = fmt_f16_type();
	hsize_t d[3] = {0};
	if (fs < 0 || H5Sget_simple_extent_ndims(fs) != 3 ||
	    H5Sget_simple_extent_dims(fs, d, NULL) < 0) {
		rc = svt_err_set(err, SVT_E_FORMAT, "/%s is not [T,H,W]", p);
		goto cleanup;
	}
	if (t0 < 0 || n < 1 || (hsize_t)t0 + (hsize_t)n > d[0]) {
		rc = svt_err_set(err, SVT_E_INPUT, "depth [%d, %d) of clip %s (T = %llu)", t0, t0 + n,
				 id, (unsigned long long)d[0]);
		goto cleanup;
	}
	hsize_t start[3] = {(hsize_t)t0, 0, 0}, count[3] = {(hsize_t)n, d[1], d[2]};
	ms = H5Screate_simple(3, count, NULL);
	if (H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL) < 0 ||
	    H5Dread(ds, ht, ms, fs, H5P_DEFAULT, depth) < 0)
		rc = svt_err_set(err, SVT_E_FORMAT, "depth [%d, %d) of clip %s: read failed "
				 "(checksum mismatch, corrupt chunk or missing filter)", t0, t0 + n, id);
cleanup:
	if (ms >= 0)
		H5Sclose(ms);
	if (fs >= 0)
		H5Sclose(fs);
	if (ds >= 0)
		H5Dclose(ds);
	H5Tclose(ht);
	return rc;
}
