/* shard_edit.c: changing committed shards in place (captions written by a VLM, frames made by
 * an interpolator): a copy of the shard is edited under a temporary name and committed like a
 * new shard (flush, close, fsync, rename), then manifest.json's record of it (bytes, sha256,
 * frames) and its totals are rewritten atomically. Each file is replaced atomically; a run
 * killed between the shard's rename and the manifest's leaves a manifest whose checksum
 * `svtwin verify` reports, and rerunning the same import (idempotent) repairs it. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "formats/fmt_internal.h"

static int file_copy(const char *from, const char *to, svt_err *err)
{
	int rc = SVT_OK;
	FILE *in = fopen(from, "rb"), *out = NULL;
	char *buf = malloc(1 << 20);
	if (!in || !buf) {
		rc = svt_err_set(err, in ? SVT_E_NOMEM : SVT_E_IO, "%s: %s", from,
				 in ? "no memory" : strerror(errno));
		goto cleanup;
	}
	if (!(out = fopen(to, "wb"))) {
		rc = svt_err_set(err, SVT_E_IO, "%s: %s", to, strerror(errno));
		goto cleanup;
	}
	size_t n;
	while ((n = fread(buf, 1, 1 << 20, in)) > 0)
		if (fwrite(buf, 1, n, out) != n) {
			rc = svt_err_set(err, SVT_E_IO, "%s: %s", to, strerror(errno));
			goto cleanup;
		}
	if (ferror(in))
		rc = svt_err_set(err, SVT_E_IO, "%s: read failed", from);
cleanup:
	if (out && fclose(out) && !rc)
		rc = svt_err_set(err, SVT_E_IO, "%s: %s", to, strerror(errno));
	if (in)
		fclose(in);
	free(buf);
	if (rc)
		unlink(to);
	return rc;
}

/* manifest.json's record of shard `name`: bytes, sha256 and frames (frame_delta added) and
 * total_frames, written atomically. */
static int manifest_update(const char *dir, const char *name, const char *path,
			   int64_t frame_delta, svt_err *err)
{
	char mpath[4096], hex[65];
	uint64_t bytes = 0;
	json_error_t je;
	int rc = svt_path_join(mpath, sizeof(mpath), dir, "manifest.json", err);
	if (rc || (rc = fmt_file_sha256(path, hex, &bytes, err)))
		return rc;
	json_t *m = json_load_file(mpath, 0, &je), *shards = json_object_get(m, "shards");
	char *text = NULL;
	int found = 0;
	if (!json_is_array(shards)) {
		rc = svt_err_set(err, SVT_E_FORMAT, "%s: %s", mpath, m ? "no shards" : je.text);
		goto cleanup;
	}
	size_t i;
	json_t *s;
	json_array_foreach(shards, i, s) {
		if (strcmp(json_string_value(json_object_get(s, "file")) ?: "", name))
			continue;
		found = 1;
		json_object_set_new(s, "bytes", json_integer((json_int_t)bytes));
		json_object_set_new(s, "sha256", json_string(hex));
		json_int_t fr = json_integer_value(json_object_get(s, "frames"));
		json_object_set_new(s, "frames", json_integer(fr + frame_delta));
	}
	if (!found) {
		rc = svt_err_set(err, SVT_E_FORMAT, "%s does not list %s", mpath, name);
		goto cleanup;
	}
	json_int_t tf = json_integer_value(json_object_get(m, "total_frames"));
	json_object_set_new(m, "total_frames", json_integer(tf + frame_delta));
	if (!(text = json_dumps(m, JSON_INDENT(2) | JSON_PRESERVE_ORDER))) {
		rc = svt_err_set(err, SVT_E_NOMEM, "manifest");
		goto cleanup;
	}
	size_t len = strlen(text);
	text[len] = '\n';
	rc = svt_file_write_atomic(mpath, text, len + 1, err);
cleanup:
	free(text);
	json_decref(m);
	return rc;
}

int fmt_shard_edit(const char *dir, const char *name,
		   int (*edit)(void *user, hid_t file, int64_t *frame_delta, svt_err *err),
		   void *user, svt_err *err)
{
	char final[4096], tmp[4200];
	int64_t delta = 0;
	int rc = svt_path_join(final, sizeof(final), dir, name, err);
	if (rc)
		return rc;
	snprintf(tmp, sizeof(tmp), "%s.edit.tmp", final);
	fmt_h5_quiet();
	if ((rc = file_copy(final, tmp, err)))
		return rc;
	hid_t f = H5Fopen(tmp, H5F_ACC_RDWR, H5P_DEFAULT);
	if (f < 0) {
		unlink(tmp);
		return svt_err_set(err, SVT_E_IO, "%s: cannot open for writing", tmp);
	}
	if ((rc = edit(user, f, &delta, err))) {
		fmt_h5_discard(f, tmp);
		return rc;
	}
	int64_t nf = 0;
	if (delta && (rc = fmt_attr_get_i64(f, "num_frames", &nf, err)) == SVT_OK) {
		H5Adelete(f, "num_frames");
		rc = fmt_attr_put_i64(f, "num_frames", nf + delta, err);
	}
	if (rc) {
		fmt_h5_discard(f, tmp);
		return rc;
	}
	if ((rc = fmt_h5_commit(f, tmp, final, err)))
		return rc;
	return manifest_update(dir, name, final, delta, err);
}

/* ---- captions in place ----------------------------------------------------------------- */

typedef struct cap2_rec {
	int32_t start_frame, end_frame;
	const char *caption, *caption_short;
} cap2_rec;

typedef struct cap_edit {
	const fmt_clip_captions *sets;
	size_t n;
	const char *shard;      /* the shard being edited */
	const char *const *shard_of; /* per set */
} cap_edit;

static int captions_edit(void *user, hid_t file, int64_t *frame_delta, svt_err *err)
{
	cap_edit *ce = user;
	*frame_delta = 0;
	int rc = SVT_OK;
	hid_t vs = H5Tcopy(H5T_C_S1), ct = H5Tcreate(H5T_COMPOUND, sizeof(cap2_rec));
	H5Tset_size(vs, H5T_VARIABLE);
	H5Tset_cset(vs, H5T_CSET_UTF8);
	H5Tinsert(ct, "start_frame", HOFFSET(cap2_rec, start_frame), H5T_NATIVE_INT32);
	H5Tinsert(ct, "end_frame", HOFFSET(cap2_rec, end_frame), H5T_NATIVE_INT32);
	H5Tinsert(ct, "caption", HOFFSET(cap2_rec, caption), vs);
	H5Tinsert(ct, "caption_short", HOFFSET(cap2_rec, caption_short), vs);
	cap2_rec *recs = NULL;
	for (size_t i = 0; !rc && i < ce->n; i++) {
		const fmt_clip_captions *s = &ce->sets[i];
		if (strcmp(ce->shard_of[i], ce->shard))
			continue;
		char p[FMT_ID_MAX + 16];
		snprintf(p, sizeof(p), "clips/%s", s->clip_id);
		hid_t g = H5Gopen2(file, p, H5P_DEFAULT);
		if (g < 0) {
			rc = svt_err_set(err, SVT_E_FORMAT, "%s: no /%s", ce->shard, p);
			break;
		}
		free(recs);
		recs = calloc((size_t)s->n + 1, sizeof(*recs));
		if (!recs) {
			rc = svt_err_set(err, SVT_E_NOMEM, "captions");
		} else {
			for (int k = 0; k < s->n; k++)
				recs[k] = (cap2_rec){s->caps[k].start_frame, s->caps[k].end_frame,
						     s->caps[k].caption,
						     s->shorts && s->shorts[k] ? s->shorts[k] : ""};
			hsize_t nc = (hsize_t)s->n;
			if (H5Lexists(g, "captions", H5P_DEFAULT) > 0 &&
			    H5Ldelete(g, "captions", H5P_DEFAULT) < 0)
				rc = svt_err_set(err, SVT_E_HDF5, "%s: cannot replace the captions", p);
			else
				rc = fmt_ds_put(g, "captions", ct, 1, &nc, recs, 0, err);
		}
		H5Gclose(g);
	}
	free(recs);
	H5Tclose(ct);
	H5Tclose(vs);
	return rc;
}

int fmt_dataset_set_captions(const char *dir, const fmt_clip_captions *sets, size_t n,
			     svt_err *err)
{
	char mpath[4096];
	fmt_reader *r = NULL;
	const char **shard_of = calloc(n ? n : 1, sizeof(char *));
	int rc = svt_path_join(mpath, sizeof(mpath), dir, "master.h5", err);
	if (!shard_of)
		rc = svt_err_set(err, SVT_E_NOMEM, "captions");
	if (rc || (rc = fmt_reader_open(mpath, &r, err)))
		goto cleanup;
	/* Every clip and window checked before any shard changes. */
	for (size_t i = 0; i < n; i++) {
		size_t c = fmt_reader_clip_count(r), k;
		for (k = 0; k < c && strcmp(fmt_reader_clip_id(r, k), sets[i].clip_id); k++)
			;
		if (k == c) {
			rc = svt_err_set(err, SVT_E_NOTFOUND, "clip %s is not in %s", sets[i].clip_id,
					 dir);
			goto cleanup;
		}
		fmt_reader_clip_shard(r, k, &shard_of[i]);
		int T = fmt_reader_index_row(r, k)->num_frames;
		for (int w = 0; w < sets[i].n; w++) {
			const fmt_caption *cw = &sets[i].caps[w];
			if (cw->start_frame < 0 || cw->end_frame < cw->start_frame ||
			    cw->end_frame >= T || !cw->caption) {
				rc = svt_err_set(err, SVT_E_INPUT, "clip %s: window [%d, %d] of %d frames",
						 sets[i].clip_id, cw->start_frame, cw->end_frame, T);
				goto cleanup;
			}
		}
	}
	/* One rewrite per shard. */
	for (size_t i = 0; !rc && i < n; i++) {
		size_t k;
		for (k = 0; k < i && strcmp(shard_of[k], shard_of[i]); k++)
			;
		if (k < i)
			continue; /* that shard is done */
		cap_edit ce = {sets, n, shard_of[i], shard_of};
		rc = fmt_shard_edit(dir, shard_of[i], captions_edit, &ce, err);
	}
cleanup:
	fmt_reader_close(r); /* the shard names point into r */
	free(shard_of);
	return rc;
}

/* ---- frames made by an interpolator, in place ------------------------------------------- */

typedef struct idx_nf {
	char clip_id[FMT_ID_MAX];
	int32_t num_frames;
	double fps;
} idx_nf;

/* Sets the /index num_frames and fps of clip id (a partial compound write: the other fields
 * stay). */
static int index_set_frames(hid_t file, const char *id, int T, double fps, svt_err *err)
{
	int rc = SVT_OK;
	hid_t ds = H5Dopen2(file, "index", H5P_DEFAULT), st = H5Tcopy(H5T_C_S1);
	hid_t mt = H5Tcreate(H5T_COMPOUND, sizeof(idx_nf)), sp = H5I_INVALID_HID;
	idx_nf *rows = NULL;
	H5Tset_size(st, FMT_ID_MAX);
	H5Tinsert(mt, "clip_id", HOFFSET(idx_nf, clip_id), st);
	H5Tinsert(mt, "num_frames", HOFFSET(idx_nf, num_frames), H5T_NATIVE_INT32);
	H5Tinsert(mt, "fps", HOFFSET(idx_nf, fps), H5T_NATIVE_DOUBLE);
	hssize_t n = ds >= 0 ? H5Sget_simple_extent_npoints(sp = H5Dget_space(ds)) : -1;
	if (n < 1 || !(rows = calloc((size_t)n, sizeof(*rows))) ||
	    H5Dread(ds, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, rows) < 0) {
		rc = svt_err_set(err, SVT_E_HDF5, "/index unreadable");
		goto cleanup;
	}
	int found = 0;
	for (hssize_t i = 0; i < n; i++)
		if (!strncmp(rows[i].clip_id, id, FMT_ID_MAX))
			rows[i].num_frames = T, rows[i].fps = fps, found = 1;
	if (!found)
		rc = svt_err_set(err, SVT_E_FORMAT, "/index has no clip %s", id);
	else if (H5Dwrite(ds, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, rows) < 0)
		rc = svt_err_set(err, SVT_E_HDF5, "cannot update /index");
cleanup:
	free(rows);
	if (sp >= 0)
		H5Sclose(sp);
	H5Tclose(mt);
	H5Tclose(st);
	if (ds >= 0)
		H5Dclose(ds);
	return rc;
}

typedef struct frames_edit {
	const char *id;
	const uint8_t *model;  /* T_old x H x W x 3 */
	int T_old, T_new;
	int *keep;             /* T_new: the old frame each new one is */
	double fps;            /* the clip's true mean rate once imported */
	uint8_t *kind_old;
} frames_edit;

/* Rows keep[] of dataset `name` of g (first dimension T_old) rewritten as a dataset of T_new
 * rows with the same type, filters and chunking (capped at T_new). For frames, rows whose old
 * kind is a slot come from the model; for frame_kind, slots become FMT_FRAME_MODEL; for valid,
 * those rows are whole. */
static int rows_subset(hid_t g, const char *name, const frames_edit *fe, svt_err *err)
{
	int rc = SVT_OK;
	hid_t ds = H5Dopen2(g, name, H5P_DEFAULT), ft = H5Dget_type(ds), sp = H5Dget_space(ds);
	hid_t dcpl = H5Dget_create_plist(ds), nsp = H5I_INVALID_HID, nds = H5I_INVALID_HID;
	hsize_t d[8] = {0}, ch[8] = {0};
	int rank = H5Sget_simple_extent_ndims(sp);
	uint8_t *buf = NULL, *nb = NULL;
	if (rank < 1 || rank > 8 || H5Sget_simple_extent_dims(sp, d, NULL) < 0 || H5Tis_variable_str(ft) > 0 ||
	    H5Tget_class(ft) == H5T_VLEN) {
		rc = svt_err_set(err, SVT_E_UNSUPPORTED, "%s: cannot rewrite %s", fe->id, name);
		goto cleanup;
	}
	size_t row = H5Tget_size(ft);
	for (int k = 1; k < rank; k++)
		row *= (size_t)d[k];
	if (!(buf = malloc(row * (size_t)fe->T_old)) || !(nb = malloc(row * (size_t)fe->T_new))) {
		rc = svt_err_set(err, SVT_E_NOMEM, "%s: %s", fe->id, name);
		goto cleanup;
	}
	if (H5Dread(ds, ft, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0) {
		rc = svt_err_set(err, SVT_E_HDF5, "%s: cannot read %s", fe->id, name);
		goto cleanup;
	}
	int is_frames = !strcmp(name, "frames"), is_kind = !strcmp(name, "frame_kind"),
	    is_valid = !strcmp(name, "valid");
	for (int t = 0; t < fe->T_new; t++) {
		int o = fe->keep[t], slot = fe->kind_old[o] == FMT_FRAME_SLOT;
		uint8_t *dst = nb + row * (size_t)t;
		if (slot && is_frames)
			memcpy(dst, fe->model + row * (size_t)o, row);
		else if (slot && is_kind)
			*dst = FMT_FRAME_MODEL;
		else if (slot && is_valid)
			memset(dst, 1, row);
		else
			memcpy(dst, buf + row * (size_t)o, row);
	}
	if (H5Pget_layout(dcpl) == H5D_CHUNKED && H5Pget_chunk(dcpl, rank, ch) == rank) {
		if (ch[0] > (hsize_t)fe->T_new)
			ch[0] = (hsize_t)fe->T_new;
		H5Pset_chunk(dcpl, rank, ch);
	}
	d[0] = (hsize_t)fe->T_new;
	nsp = H5Screate_simple(rank, d, NULL);
	char tmpname[80];
	snprintf(tmpname, sizeof(tmpname), "%.64s.new", name);
	nds = H5Dcreate2(g, tmpname, ft, nsp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
	if (nds < 0 || H5Dwrite(nds, ft, H5S_ALL, H5S_ALL, H5P_DEFAULT, nb) < 0) {
		rc = svt_err_set(err, SVT_E_HDF5, "%s: cannot write %s", fe->id, name);
		goto cleanup;
	}
	/* Its attributes (units, encoding...) go with it. */
	int na = H5Aget_num_attrs(ds);
	for (int k = 0; k < na; k++) {
		hid_t a = H5Aopen_by_idx(ds, ".", H5_INDEX_NAME, H5_ITER_INC, (hsize_t)k, H5P_DEFAULT,
					 H5P_DEFAULT);
		char an[128];
		H5Aget_name(a, sizeof(an), an);
		hid_t at = H5Aget_type(a), as = H5Aget_space(a);
		hssize_t np = H5Sget_simple_extent_npoints(as);
		size_t sz = H5Tget_size(at) * (size_t)(np > 0 ? np : 1);
		void *v = calloc(1, sz + 16);
		hid_t na2 = v ? H5Acreate2(nds, an, at, as, H5P_DEFAULT, H5P_DEFAULT) : -1;
		if (na2 < 0 || H5Aread(a, at, v) < 0 || H5Awrite(na2, at, v) < 0)
			rc = svt_err_set(err, SVT_E_HDF5, "%s: attribute %s of %s", fe->id, an, name);
		if (v && H5Tis_variable_str(at) > 0)
			H5Dvlen_reclaim(at, as, H5P_DEFAULT, v);
		free(v);
		if (na2 >= 0)
			H5Aclose(na2);
		H5Tclose(at);
		H5Sclose(as);
		H5Aclose(a);
	}
	H5Dclose(nds);
	nds = H5I_INVALID_HID;
	H5Dclose(ds);
	ds = H5I_INVALID_HID;
	if (!rc && (H5Ldelete(g, name, H5P_DEFAULT) < 0 ||
		    H5Lmove(g, tmpname, g, name, H5P_DEFAULT, H5P_DEFAULT) < 0))
		rc = svt_err_set(err, SVT_E_HDF5, "%s: cannot replace %s", fe->id, name);
cleanup:
	free(buf);
	free(nb);
	if (nds >= 0)
		H5Dclose(nds);
	if (nsp >= 0)
		H5Sclose(nsp);
	H5Pclose(dcpl);
	H5Sclose(sp);
	H5Tclose(ft);
	if (ds >= 0)
		H5Dclose(ds);
	return rc;
}

typedef struct cap_se {
	int32_t s, e;
} cap_se;

static int frames_edit_fn(void *user, hid_t file, int64_t *frame_delta, svt_err *err)
{
	frames_edit *fe = user;
	char p[FMT_ID_MAX + 16];
	snprintf(p, sizeof(p), "clips/%s", fe->id);
	int rc = SVT_OK;
	hid_t g = H5Gopen2(file, p, H5P_DEFAULT);
	if (g < 0)
		return svt_err_set(err, SVT_E_FORMAT, "no /%s", p);
	/* Every dataset with a row per frame. */
	H5G_info_t gi;
	H5Gget_info(g, &gi);
	char names[32][64];
	int nn = 0;
	for (hsize_t k = 0; k < gi.nlinks && nn < 32; k++) {
		char nm[64];
		H5Lget_name_by_idx(g, ".", H5_INDEX_NAME, H5_ITER_INC, k, nm, sizeof(nm), H5P_DEFAULT);
		if (!strcmp(nm, "captions") || !strcmp(nm, "key_timestamps") ||
		    !strcmp(nm, "source_frames"))
			continue;
		hid_t ds = H5Dopen2(g, nm, H5P_DEFAULT);
		if (ds < 0)
			continue;
		hid_t sp = H5Dget_space(ds);
		hsize_t d[8] = {0};
		if (H5Sget_simple_extent_ndims(sp) >= 1 && H5Sget_simple_extent_dims(sp, d, NULL) >= 1 &&
		    d[0] == (hsize_t)fe->T_old)
			snprintf(names[nn++], 64, "%s", nm);
		H5Sclose(sp);
		H5Dclose(ds);
	}
	for (int k = 0; !rc && k < nn; k++)
		rc = rows_subset(g, names[k], fe, err);
	/* Captions: windows onto the kept frames (a dropped repeat maps to its keyframe). */
	if (!rc && H5Lexists(g, "captions", H5P_DEFAULT) > 0) {
		hid_t ds = H5Dopen2(g, "captions", H5P_DEFAULT), sp = H5Dget_space(ds);
		hid_t mt = H5Tcreate(H5T_COMPOUND, sizeof(cap_se));
		H5Tinsert(mt, "start_frame", HOFFSET(cap_se, s), H5T_NATIVE_INT32);
		H5Tinsert(mt, "end_frame", HOFFSET(cap_se, e), H5T_NATIVE_INT32);
		hssize_t n = H5Sget_simple_extent_npoints(sp);
		cap_se *c = n > 0 ? calloc((size_t)n, sizeof(*c)) : NULL;
		if (n > 0 && (!c || H5Dread(ds, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, c) < 0))
			rc = svt_err_set(err, SVT_E_HDF5, "%s: captions unreadable", fe->id);
		for (hssize_t i = 0; !rc && i < n; i++) {
			int s = 0, e = fe->T_new - 1;
			for (int t = 0; t < fe->T_new; t++) {
				if (fe->keep[t] <= c[i].s)
					s = t;
				if (fe->keep[t] >= c[i].e) {
					e = t;
					break;
				}
			}
			c[i].s = s, c[i].e = e < s ? s : e;
		}
		if (!rc && n > 0 && H5Dwrite(ds, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, c) < 0)
			rc = svt_err_set(err, SVT_E_HDF5, "%s: cannot update captions", fe->id);
		free(c);
		H5Tclose(mt);
		H5Sclose(sp);
		H5Dclose(ds);
	}
	/* Attributes: the new count, the layout it now is, its true mean rate. */
	if (!rc) {
		int64_t *ts = malloc((size_t)fe->T_new * sizeof(int64_t));
		hid_t ds = H5Dopen2(g, "timestamps", H5P_DEFAULT);
		double fps = 0;
		if (ts && H5Dread(ds, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, ts) >= 0 &&
		    ts[fe->T_new - 1] > ts[0])
			fps = (fe->T_new - 1) / ((double)(ts[fe->T_new - 1] - ts[0]) / 1e6);
		fe->fps = fps;
		H5Dclose(ds);
		free(ts);
		H5Adelete(g, "num_frames");
		H5Adelete(g, "densify");
		H5Adelete(g, "fps");
		if (!(rc = fmt_attr_put_i32(g, "num_frames", fe->T_new, err)) &&
		    !(rc = fmt_attr_put_str(g, "densify", "imported", err)))
			rc = fmt_attr_put_f64v(g, "fps", &fps, 1, err);
	}
	H5Gclose(g);
	if (!rc)
		rc = index_set_frames(file, fe->id, fe->T_new, fe->fps, err);
	*frame_delta = (int64_t)fe->T_new - fe->T_old;
	return rc;
}

static int master_edit_fn(void *user, hid_t file, int64_t *frame_delta, svt_err *err)
{
	frames_edit *fe = user;
	*frame_delta = (int64_t)fe->T_new - fe->T_old;
	return index_set_frames(file, fe->id, fe->T_new, fe->fps, err);
}

int fmt_dataset_import_frames(const char *dir, const char *clip_id, const uint8_t *rgb, int T,
			      int H, int W, int *T_new, svt_err *err)
{
	char mpath[4096], shard[FMT_ID_MAX];
	fmt_reader *r = NULL;
	frames_edit fe = {.id = clip_id, .model = rgb, .T_old = T};
	int rc = svt_path_join(mpath, sizeof(mpath), dir, "master.h5", err);
	if (rc || (rc = fmt_reader_open(mpath, &r, err)))
		goto cleanup;
	size_t k, n = fmt_reader_clip_count(r);
	for (k = 0; k < n && strcmp(fmt_reader_clip_id(r, k), clip_id); k++)
		;
	if (k == n) {
		rc = svt_err_set(err, SVT_E_NOTFOUND, "clip %s is not in %s", clip_id, dir);
		goto cleanup;
	}
	const fmt_index_row *row = fmt_reader_index_row(r, k);
	if (row->num_frames != T || row->height != H || row->width != W) {
		rc = svt_err_set(err, SVT_E_INPUT, "clip %s is %dx%dx%d, the video %dx%dx%d", clip_id,
				 row->num_frames, row->height, row->width, T, H, W);
		goto cleanup;
	}
	snprintf(shard, sizeof(shard), "%s", row->shard);
	/* The layout: which frames are slots, which repeats (only a freeze clip qualifies). */
	char p[FMT_ID_MAX + 32], mode[16] = "";
	snprintf(p, sizeof(p), "clips/%s", clip_id);
	hid_t g = H5Gopen2(fmt_reader_h5file(r), p, H5P_DEFAULT);
	fe.kind_old = malloc((size_t)T);
	fe.keep = malloc((size_t)T * sizeof(int));
	if (g < 0 || !fe.kind_old || !fe.keep) {
		rc = svt_err_set(err, g < 0 ? SVT_E_FORMAT : SVT_E_NOMEM, "clip %s", clip_id);
		if (g >= 0)
			H5Gclose(g);
		goto cleanup;
	}
	fmt_attr_get_str(g, "densify", mode, sizeof(mode), NULL);
	hid_t kd = strcmp(mode, "freeze") ? H5I_INVALID_HID : H5Dopen2(g, "frame_kind", H5P_DEFAULT);
	if (kd < 0 || H5Dread(kd, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, fe.kind_old) < 0 ||
	    H5Lexists(g, "frames", H5P_DEFAULT) <= 0)
		rc = svt_err_set(err, SVT_E_INPUT, "clip %s is not a freeze-layout clip with raw "
				 "frames (densify '%s')", clip_id, mode[0] ? mode : "none");
	if (kd >= 0)
		H5Dclose(kd);
	H5Gclose(g);
	if (rc)
		goto cleanup;
	fmt_reader_close(r);
	r = NULL;
	for (int t = 0; t < T; t++)
		if (fe.kind_old[t] != FMT_FRAME_REPEAT)
			fe.keep[fe.T_new++] = t;
	if ((rc = fmt_shard_edit(dir, shard, frames_edit_fn, &fe, err)))
		goto cleanup;
	/* The master's /index row and frame count follow (the master is in no manifest record:
	 * its frames are the total the manifest already says). */
	char mfinal[4096], mtmp[4200];
	snprintf(mfinal, sizeof(mfinal), "%s", mpath);
	snprintf(mtmp, sizeof(mtmp), "%s.edit.tmp", mpath);
	if ((rc = file_copy(mfinal, mtmp, err)))
		goto cleanup;
	hid_t mf = H5Fopen(mtmp, H5F_ACC_RDWR, H5P_DEFAULT);
	int64_t d = 0, nf = 0;
	if (mf < 0) {
		unlink(mtmp);
		rc = svt_err_set(err, SVT_E_IO, "%s: cannot open for writing", mtmp);
		goto cleanup;
	}
	if ((rc = master_edit_fn(&fe, mf, &d, err)) ||
	    (rc = fmt_attr_get_i64(mf, "num_frames", &nf, err)) ||
	    (H5Adelete(mf, "num_frames"), rc = fmt_attr_put_i64(mf, "num_frames", nf + d, err))) {
		fmt_h5_discard(mf, mtmp);
		goto cleanup;
	}
	rc = fmt_h5_commit(mf, mtmp, mfinal, err);
	if (!rc && T_new)
		*T_new = fe.T_new;
cleanup:
	fmt_reader_close(r);
	free(fe.kind_old);
	free(fe.keep);
	return rc;
}
