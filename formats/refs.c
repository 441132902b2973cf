/* refs.c: a clip's street-view references and warped views in the shard (clips/<id>/refs/,
 * clips/<id>/warp*), docs/shard-format.md. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "formats/fmt_internal.h"

/* Rows of a chunk of the warps: bands, so that a band nothing lands in (sky, or beyond the
 * reference's view) is an all-zero chunk, never written (it reads back as the fill value 0). */
#define WARP_BAND_ROWS 64

/* 1 when n bytes are all zero. */
static int all_zero(const uint8_t *p, size_t n)
{
	size_t i = 0;
	for (; i + 8 <= n; i += 8) {
		uint64_t v;
		memcpy(&v, p + i, 8);
		if (v)
			return 0;
	}
	for (; i < n; i++)
		if (p[i])
			return 0;
	return 1;
}

/* An image stack (n images of dims[1..]) chunked one image (band = 0) or band rows of one
 * image a chunk, compressed with the shard's frame codec (gzip level 1 when the frames are
 * JPEG: these are not frames). With skip_zero, chunks whose bytes are all zero are not
 * written. file_type (the type stored, the memory type when H5I_INVALID_HID) differs from
 * type for the float16 depth: data is then already in file_type's bytes. */
static int stack_put(fmt_writer *w, hid_t loc, const char *name, hid_t type, hid_t file_type,
		     int rank, const hsize_t *dims, int band, int skip_zero, const void *data,
		     svt_err *err)
{
	int rc = SVT_OK;
	hsize_t chunk[4];
	if (file_type < 0)
		file_type = type;
	for (int i = 0; i < rank; i++)
		chunk[i] = i == 0 ? 1 : dims[i];
	if (band > 0 && (hsize_t)band < dims[1])
		chunk[1] = (hsize_t)band;
	hid_t sp = H5Screate_simple(rank, dims, NULL), dcpl = H5Pcreate(H5P_DATASET_CREATE);
	hid_t ds = H5I_INVALID_HID;
	size_t elem = H5Tget_size(file_type), chunk_bytes = elem, row_bytes = elem;
	for (int i = 1; i < rank; i++)
		chunk_bytes *= (size_t)chunk[i];
	for (int i = 2; i < rank; i++)
		row_bytes *= (size_t)dims[i];
	fmt_codec codec;
	int level, fletcher;
	fmt_writer_codec(w, &codec, &level, &fletcher);
	if (codec == FMT_CODEC_JPEG)
		codec = FMT_CODEC_GZIP, level = 1;
	if (dims[0] > 0) {
		H5Pset_chunk(dcpl, rank, chunk);
		if ((rc = fmt_dcpl_set_codec(dcpl, codec, level, chunk_bytes, elem, fletcher, err)))
			goto done;
	}
	ds = H5Dcreate2(loc, name, file_type, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
	if (ds < 0) {
		rc = svt_err_set(err, SVT_E_HDF5, "cannot create dataset %s", name);
		goto done;
	}
	if (dims[0] == 0)
		goto done;
	/* Chunk by chunk, compressed here (fmt_chunk_encode, the bytes the dataset's filters
	 * decode, as the writer stores frames) and stored with H5Dwrite_chunk: no copy through
	 * HDF5's pipeline. A band past the last row is padded with zeros (the fill). */
	size_t img_bytes = row_bytes * (size_t)dims[1];
	uint8_t *enc = NULL, *pad = NULL;
	size_t enc_cap = 0;
	for (hsize_t t = 0; t < dims[0] && !rc; t++)
		for (hsize_t y = 0; y < dims[1] && !rc; y += chunk[1]) {
			hsize_t rows = dims[1] - y < chunk[1] ? dims[1] - y : chunk[1];
			const uint8_t *p = (const uint8_t *)data + t * img_bytes + y * row_bytes;
			if (skip_zero && all_zero(p, rows * row_bytes))
				continue;
			if (rows < chunk[1]) {
				if (!pad && !(pad = calloc(1, chunk_bytes))) {
					rc = svt_err_set(err, SVT_E_NOMEM, "no memory for %s", name);
					break;
				}
				memcpy(pad, p, rows * row_bytes);
				memset(pad + rows * row_bytes, 0, chunk_bytes - rows * row_bytes);
				p = pad;
			}
			size_t n = 0;
			hsize_t off[4] = {t, y, 0, 0};
			if ((rc = fmt_chunk_encode(codec, level, fletcher, elem, p, chunk_bytes, &enc,
						   &enc_cap, &n, err)))
				break;
			if (H5Dwrite_chunk(ds, H5P_DEFAULT, 0, off, n, enc) < 0)
				rc = svt_err_set(err, SVT_E_HDF5, "cannot write dataset %s", name);
		}
	free(enc);
	free(pad);
done:
	if (ds >= 0)
		H5Dclose(ds);
	H5Pclose(dcpl);
	H5Sclose(sp);
	return rc;
}

/* The references' z-depth as float16 (the frames' depth rule, writer.c: a finite positive
 * depth a half holds, else 0), little-endian in the file, stored like the frames' depth. */
static int depth_put(fmt_writer *w, hid_t loc, const hsize_t *dims, const float *depth,
		     svt_err *err)
{
	size_t n = (size_t)(dims[0] * dims[1] * dims[2]);
	uint8_t *h = malloc(n ? 2 * n : 1);
	if (!h)
		return svt_err_set(err, SVT_E_NOMEM, "no memory for the references' depth");
	fmt_depth_to_f16(depth, h, n);
	hid_t ft = fmt_f16_type();
	int rc = stack_put(w, loc, "depth", ft, ft, 3, dims, 0, 0, h, err);
	H5Tclose(ft);
	free(h);
	return rc;
}

/* n strings as one fixed-length string dataset (as wide as the longest). */
static int strings_put(hid_t loc, const char *name, const char *const *v, int n, svt_err *err)
{
	size_t wmax = 1;
	if (n < 0)
		return svt_err_set(err, SVT_E_INPUT, "%s: %d strings", name, n);
	for (int i = 0; i < n; i++)
		if (v[i] && strlen(v[i]) + 1 > wmax)
			wmax = strlen(v[i]) + 1;
	char *buf = calloc(n > 0 ? (size_t)n : 1, wmax);
	if (!buf)
		return svt_err_set(err, SVT_E_NOMEM, "no memory for %s", name);
	for (int i = 0; i < n; i++)
		if (v[i])
			memcpy(buf + wmax * i, v[i], strlen(v[i]));
	hid_t ft = H5Tcopy(H5T_C_S1);
	H5Tset_size(ft, wmax);
	H5Tset_cset(ft, H5T_CSET_UTF8);
	hsize_t d = (hsize_t)n;
	int rc = fmt_ds_put(loc, name, ft, 1, &d, buf, 0, err);
	H5Tclose(ft);
	free(buf);
	return rc;
}

int fmt_clip_refs_write(fmt_writer *w, const fmt_clip_refs *r, svt_err *err)
{
	hid_t g = fmt_writer_clip_group(w);
	if (g < 0 || !r)
		return svt_err_set(err, SVT_E_INPUT, "fmt_clip_refs_write outside a clip");
	if (r->R < 0 || r->H < 1 || r->W < 1 || (r->R > 0 && (!r->rgb || !r->depth || !r->w2c ||
							       !r->K || !r->time_us || !r->run ||
							       !r->source || !r->target || !r->kind ||
							       !r->depth_src || !r->coverage)) ||
	    (r->warp && (!r->warp_mask || !r->warp_ref || r->T < 1)))
		return svt_err_set(err, SVT_E_INPUT, "clip references: missing arrays");
	int rc = SVT_OK, ntraj = 0, look = 0;
	for (int i = 0; i < r->R; i++) {
		ntraj += r->kind[i] == FMT_REF_TRAJECTORY;
		look |= r->kind[i] == FMT_REF_LOOKAHEAD;
	}
	hid_t rg = H5Gcreate2(g, "refs", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
	if (rg < 0)
		return svt_err_set(err, SVT_E_HDF5, "cannot create group refs");
	hsize_t R = (hsize_t)r->R, H = (hsize_t)r->H, W = (hsize_t)r->W, T = (hsize_t)r->T;
	hsize_t d_rgb[4] = {R, H, W, 3}, d_dep[3] = {R, H, W}, d44[3] = {R, 4, 4}, d4[2] = {R, 4};
	hsize_t d1[1] = {R};
	if ((rc = stack_put(w, rg, "rgb", H5T_NATIVE_UINT8, H5I_INVALID_HID, 4, d_rgb, 0, 0,
			    r->rgb, err)) ||
	    (rc = depth_put(w, rg, d_dep, r->depth, err)) ||
	    (rc = fmt_ds_put(rg, "w2c", H5T_NATIVE_DOUBLE, 3, d44, r->w2c, 0, err)) ||
	    (rc = fmt_ds_put(rg, "K", H5T_NATIVE_DOUBLE, 2, d4, r->K, 0, err)) ||
	    (rc = fmt_ds_put(rg, "timestamps", H5T_NATIVE_INT64, 1, d1, r->time_us, 0, err)) ||
	    (rc = fmt_ds_put(rg, "target_frame", H5T_NATIVE_INT32, 1, d1, r->target, 0, err)) ||
	    (rc = fmt_ds_put(rg, "kind", H5T_NATIVE_INT32, 1, d1, r->kind, 0, err)) ||
	    (rc = fmt_ds_put(rg, "depth_source", H5T_NATIVE_INT32, 1, d1, r->depth_src, 0, err)) ||
	    (rc = fmt_ds_put(rg, "coverage", H5T_NATIVE_DOUBLE, 1, d1, r->coverage, 0, err)) ||
	    (rc = strings_put(rg, "run", r->run, r->R, err)) ||
	    (rc = strings_put(rg, "source_frame", r->source, r->R, err)) ||
	    (r->split && (rc = strings_put(rg, "split", r->split, r->R, err))) ||
	    (r->district && (rc = strings_put(rg, "district", r->district, r->R, err))) ||
	    (r->holdout && (rc = fmt_attr_put_str(g, "holdout_districts", r->holdout, err))) ||
	    (r->holdout && (rc = fmt_attr_put_i32(g, "in_holdout", r->clip_in_holdout, err))) ||
	    (r->holdout && r->in_holdout &&
	     (rc = fmt_ds_put(rg, "in_holdout", H5T_NATIVE_INT32, 1, d1, r->in_holdout, 0, err))) ||
	    (rc = fmt_attr_put_i32(rg, "num_refs", ntraj, err)))
		goto done;
	if (r->warp) {
		hsize_t w_rgb[4] = {T, H, W, 3}, w_m[3] = {T, H, W}, w1[1] = {T};
		if ((rc = stack_put(w, g, "warp", H5T_NATIVE_UINT8, H5I_INVALID_HID, 4, w_rgb,
				    WARP_BAND_ROWS, 1, r->warp, err)) ||
		    (rc = stack_put(w, g, "warp_mask", H5T_NATIVE_UINT8, H5I_INVALID_HID, 3, w_m,
				    WARP_BAND_ROWS, 1, r->warp_mask, err)) ||
		    (rc = fmt_ds_put(g, "warp_ref", H5T_NATIVE_INT32, 1, w1, r->warp_ref, 0, err)))
			goto done;
	}
	if ((rc = fmt_attr_put_i32(g, "num_refs", ntraj, err)) ||
	    (rc = fmt_attr_put_i32(g, "has_lookahead", look, err)) ||
	    (rc = fmt_attr_put_i32(g, "has_warp", r->warp ? 1 : 0, err)))
		goto done;
done:
	H5Gclose(rg);
	return rc;
}
