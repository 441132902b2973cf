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
