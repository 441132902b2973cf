/* ds_merge.c: `svtwin merge OUT`, the job that runs after a cluster build's ranks
 * (--dependency=afterok): every rank's done marker checked against the run record (the missing
 * ones named as a Slurm --array list to resubmit), the ranks' shards made one dataset
 * (fmt_dataset_merge: no clip or frame twice), every clip checked to lie in a cell its rank
 * owns (so no cell, hence no tile, has two writers), and the ranks' twin parts merged into
 * OUT/twin or the run's --twin (twin_store_merge_points: their point files adopted as parts,
 * merged on read; twin_store_merge_shards: the shard -> tile records). */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dataset/ds_internal.h"

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *f)
{
	(void)sb;
	(void)flag;
	(void)f;
	return remove(p) != 0 && errno != ENOENT;
}

void ds_rm_tree(const char *dir)
{
	if (access(dir, F_OK) == 0)
		nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Appends rank r to a Slurm --array list, folding runs into ranges ("1,3-5"). */
static void missing_add(dataset_merge_report *rep, int r, int *run_start, int *last)
{
	size_t len = strlen(rep->missing);
	if (*last >= 0 && r == *last + 1) {
		/* extend the run: rewrite its tail */
		char *comma = strrchr(rep->missing, ',');
		char *tail = comma ? comma + 1 : rep->missing;
		len = (size_t)(tail - rep->missing);
		snprintf(rep->missing + len, sizeof(rep->missing) - len, "%d-%d", *run_start, r);
	} else {
		snprintf(rep->missing + len, sizeof(rep->missing) - len, "%s%d", len ? "," : "", r);
		*run_start = r;
	}
	*last = r;
	rep->n_missing++;
}

/* The ranks' twin parts into the run's twin: OUT/twin, made from nothing, or the --twin the
 * ranks read (target), under its build lock. Either way the result is built in a copy (a fresh
 * store, or a snapshot of target) and moved in last, so the twin is the old one or the merged
 * one, never half of it: the capture's frames once (every rank added the whole capture; kept
 * when target has it already), then every part's points, then every part's shard records. */
static int merge_twin(const char *out, int ranks, const char *capture, const char *districts,
		      const char *dongs, const char *target, size_t *tiles, size_t *shards,
		      svt_err *err)
{
	char tmp[4200], final[4096], old[4200], dir[4200];
	twin_store *src = NULL, *dst = NULL, **parts = NULL;
	const char **paths = NULL;
	fmt_lock *lock = NULL;
	int rc;
	*tiles = *shards = 0;
	if (target)
		snprintf(final, sizeof(final), "%s", target);
	else if ((rc = svt_path_join(final, sizeof(final), out, "twin", err)))
		return rc;
	snprintf(tmp, sizeof(tmp), "%s.tmp", final);
	/* The shared twin: no build adds to it while the parts are folded in (readers may go
	 * on reading it: they see the old store until the merged one is moved in). */
	if (target && (rc = fmt_lock_acquire(target, &lock, err)))
		return svt_err_prefix(err, "the twin %s", target);
	ds_rm_tree(tmp);
	twin_store_opts so;
	twin_store_opts_default(&so);
	so.no_create = 1;
	snprintf(dir, sizeof(dir), "%s/rank-0/twin", out);
	if ((rc = twin_store_open(dir, &so, &src, err)))
		goto done;
	size_t n = twin_store_frame_count(src);
	const twin_frame *fr = twin_store_frames(src);
	if (!n || !fr) {
		rc = svt_err_set(err, SVT_E_INPUT, "%s holds no frames", dir);
		goto done;
	}
	twin_store_opts dopt;
	twin_store_opts_default(&dopt);
	dopt.epsg = twin_store_epsg(src);
	dopt.tile_m = twin_store_tile_m(src);
	dopt.have_origin = 1;
	twin_store_origin(src, dopt.origin_llh);
	const char *cname = twin_store_frame_capture(src, 0);
	/* The parts go into T with the capture, in one move: T holding the capture means they
	 * are in it (this merge run again) or the capture was built into T before; folding the
	 * points in once more would count them twice. */
	if (target) {
		twin_store *t = NULL;
		if ((rc = twin_store_open(target, &so, &t, err)))
			goto done;
		int have = twin_store_capture_find(t, cname, NULL, NULL);
		twin_store_close(t);
		if (have) {
			svt_log_info("merge: the twin %s holds capture %s already: its frames, points "
				     "and shard records are kept as they are", target, cname);
			goto done;
		}
		if ((rc = twin_store_snapshot(target, tmp, err)))
			goto done;
	}
	if ((rc = twin_store_open(tmp, &dopt, &dst, err)))
		goto done;
	/* As a one-rank build does: a layer the twin has already is kept. */
	const char *lname[2] = {"districts", "dongs"}, *lpath[2] = {districts, dongs};
	for (int L = 0; L < 2; L++) {
		int have = 0;
		for (size_t k = 0; k < twin_store_layer_count(dst); k++)
			have |= !strcmp(twin_store_layer_name(dst, k), lname[L]);
		if (lpath[L] && lpath[L][0] && !have &&
		    (rc = twin_store_add_layer(dst, lname[L], lpath[L], NULL, err)))
			goto done;
	}
	if (!twin_store_capture_find(dst, cname, NULL, NULL)) {
		if (!(paths = calloc(n, sizeof(*paths)))) {
			rc = svt_err_set(err, SVT_E_NOMEM, "no memory for %zu paths", n);
			goto done;
		}
		for (size_t i = 0; i < n; i++)
			paths[i] = twin_store_frame_path(src, i);
		twin_capture_in in = {.name = cname, .source = capture && capture[0] ? capture : dir,
				      .frames = fr, .n = n, .enu_origin_llh = dopt.origin_llh,
				      .paths = paths};
		if ((rc = twin_store_add_capture(dst, &in, NULL, err)))
			goto done;
	}
	free(paths);
	paths = NULL;
	twin_store_close(src);
	src = NULL;
	if (!(parts = calloc((size_t)ranks, sizeof(*parts)))) {
		rc = svt_err_set(err, SVT_E_NOMEM, "no memory for %d stores", ranks);
		goto done;
	}
	for (int r = 0; r < ranks; r++) {
		snprintf(dir, sizeof(dir), "%s/rank-%d/twin", out, r);
		if ((rc = twin_store_open(dir, &so, &parts[r], err)))
			goto done;
	}
	if ((rc = twin_store_merge_points(dst, parts, (size_t)ranks, NULL, err)) ||
	    (rc = twin_store_merge_shards(dst, parts, (size_t)ranks, shards, err)))
		goto done;
	*tiles = twin_store_tile_count(dst);
	twin_store_close(dst);
	dst = NULL;
	/* The old twin goes aside, the new one in, the old one away. */
	snprintf(old, sizeof(old), "%s.old", final);
	ds_rm_tree(old);
	if (access(final, F_OK) == 0 && rename(final, old) != 0) {
		rc = svt_err_set(err, SVT_E_IO, "rename %s: %s", final, strerror(errno));
		goto done;
	}
	if (rename(tmp, final) != 0) {
		rc = svt_err_set(err, SVT_E_IO, "rename %s -> %s: %s", tmp, final, strerror(errno));
		if (access(old, F_OK) == 0)
			rename(old, final); /* the old twin back */
		goto done;
	}
	ds_rm_tree(old);
	rc = svt_dir_sync_of(final, err);
done:
	free(paths);
	for (int r = 0; parts && r < ranks; r++)
		twin_store_close(parts[r]);
	free(parts);
	twin_store_close(src);
	twin_store_close(dst);
	if (rc)
		ds_rm_tree(tmp);
	fmt_lock_release(lock);
	return rc;
}

/* The deal of cells the ranks cut by (OUT/rank-<r>/cells.json): the same text from every
 * rank (they computed it from the same clip list), or from none (*cells = NULL: the hash). */
static int merge_cells(const char *out, int ranks, dataset_cells **cells, svt_err *err)
{
	uint8_t *first = NULL;
	size_t n0 = 0;
	int have0 = 0, rc = SVT_OK;
	*cells = NULL;
	for (int r = 0; r < ranks && !rc; r++) {
		char path[4200];
		uint8_t *d = NULL;
		size_t n = 0;
		snprintf(path, sizeof(path), "%s/rank-%d/%s", out, r, DATASET_CELLS_FILE);
		int have = access(path, F_OK) == 0;
		if (have && (rc = svt_file_read(path, 64u << 20, &d, &n, err)))
			break;
		if (r == 0) {
			have0 = have;
			first = d;
			n0 = n;
			continue;
		}
		if (have != have0 || (have && (n != n0 || memcmp(d, first, n))))
			rc = svt_err_set(err, SVT_E_INPUT, "rank %d cut by another deal of cells "
					 "than rank 0 (%s): the ranks did not see one clip list", r,
					 path);
		free(d);
	}
	if (!rc && have0) {
		char *text = malloc(n0 + 1);
		if (!text)
			rc = svt_err_set(err, SVT_E_NOMEM, "no memory for the cells");
		else {
			memcpy(text, first, n0);
			text[n0] = 0;
			rc = dataset_cells_from_json(text, cells, err);
			free(text);
		}
	}
	free(first);
	return rc;
}

int dataset_merge(const char *out, dataset_merge_report *rep, svt_err *err)
{
	if (!out || !rep)
		return svt_err_set(err, SVT_E_INPUT, "dataset_merge: NULL argument");
	memset(rep, 0, sizeof(*rep));
	double t0 = svt_now();
	fmt_config *rec = NULL;
	char **parts = NULL;
	fmt_merge_result res = {0};
	dataset_cells *cells = NULL;
	int ranks = 0;
	int rc = ds_run_record_read(out, &rec, err);
	if (rc)
		return rc;
	double cell_m = 0;
	fmt_config_get_real(rec, "cell_m", &cell_m);
	ranks = ds_run_record_count(rec, "ranks");
	int clip_frames = ds_run_record_count(rec, "clip_frames");
	int stride = ds_run_record_count(rec, "stride");
	if (ranks < 1 || clip_frames < 1) {
		rc = svt_err_set(err, SVT_E_FORMAT, "%s/%s: no rank count or clip length", out,
				 DATASET_RUN_RECORD);
		goto done;
	}
	rep->ranks = ranks;
	int run_start = -1, last = -1;
	for (int r = 0; r < ranks; r++) {
		char path[4096], *want = NULL;
		uint8_t *have = NULL;
		size_t hn = 0;
		if ((rc = ds_marker_path(out, r, path, sizeof(path), err)) ||
		    (rc = ds_marker_expected(rec, r, &want, err)))
			goto done;
		int ok = !svt_file_read(path, 1 << 20, &have, &hn, NULL) && hn == strlen(want) &&
			 !memcmp(have, want, hn);
		free(have);
		free(want);
		if (!ok)
			missing_add(rep, r, &run_start, &last);
	}
	if (rep->n_missing) {
		rc = svt_err_set(err, SVT_E_NOTFOUND, "%d of %d ranks have not finished: rerun them "
				 "with sbatch --array=%s (or `svtwin build ... --rank R --ranks %d`)",
				 rep->n_missing, ranks, rep->missing, ranks);
		goto done;
	}
	if (!(parts = calloc((size_t)ranks, sizeof(*parts)))) {
		rc = svt_err_set(err, SVT_E_NOMEM, "no memory for %d parts", ranks);
		goto done;
	}
	for (int r = 0; r < ranks; r++) {
		char name[32];
		snprintf(name, sizeof(name), "rank-%d", r);
		if (!(parts[r] = strdup(name))) {
			rc = svt_err_set(err, SVT_E_NOMEM, "no memory");
			goto done;
		}
	}
	/* Checked first, written last: the twin, then the master file and the manifest (the
	 * dataset's completeness marker), so a killed merge leaves no manifest naming a
	 * dataset whose twin is not merged. */
	fmt_merge_opts mo = {.frames_unique = stride == 0 || stride >= clip_frames,
			     .check_only = 1};
	if ((rc = fmt_dataset_merge(out, (const char *const *)parts, (size_t)ranks, &mo, &res,
				    err)))
		goto done;
	/* One writer per cell: each clip's first frame lies in a cell its rank owns, in the one
	 * deal every rank cut by (or, from ranks that had none, the hash). */
	if ((rc = merge_cells(out, ranks, &cells, err)))
		goto done;
	for (size_t i = 0; i < res.n_clips; i++) {
		const fmt_merge_clip *c = &res.clips[i];
		int owner = cells ? dataset_cells_owner(cells, c->e0, c->n0)
				  : dataset_rank_owner(c->e0, c->n0, cell_m, ranks);
		if (owner != (int)c->part) {
			rc = svt_err_set(err, SVT_E_INPUT, "clip %s is in rank-%zu, but its cell "
					 "belongs to rank %d: the ranks were not built with one "
					 "partition", c->id, c->part, owner);
			goto done;
		}
	}
	rep->clips = res.n_clips;
	rep->frames = res.n_frames;
	double t1 = svt_now();
	const char *target = fmt_config_get_str(rec, "twin");
	if (target && !target[0])
		target = NULL;
	if (target)
		snprintf(rep->twin, sizeof(rep->twin), "%s", target);
	else
		snprintf(rep->twin, sizeof(rep->twin), "%s/twin", out);
	rc = merge_twin(out, ranks, fmt_config_get_str(rec, "capture"),
			fmt_config_get_str(rec, "districts"), fmt_config_get_str(rec, "dongs"), target,
			&rep->tiles, &rep->shards, err);
	rep->seconds_twin = svt_now() - t1;
	if (rc) {
		svt_err_prefix(err, "merging the twin parts");
		goto done;
	}
	svt_log_info("merge: the twin %s, %zu tiles and %zu shard records, in %.3f s", rep->twin,
		     rep->tiles, rep->shards, rep->seconds_twin);
	fmt_merge_result_free(&res);
	mo.check_only = 0;
	if ((rc = fmt_dataset_merge(out, (const char *const *)parts, (size_t)ranks, &mo, &res,
				    err)))
		goto done;
	svt_log_info("merge: %zu clips of %d ranks checked twice, master file and manifest "
		     "written; the dataset part %.3f s", res.n_clips, ranks,
		     svt_now() - t0 - rep->seconds_twin);
done:
	rep->seconds = svt_now() - t0;
	for (int r = 0; parts && r < ranks; r++)
		free(parts[r]);
	free(parts);
	fmt_merge_result_free(&res);
	dataset_cells_destroy(cells);
	fmt_config_destroy(rec);
	return rc;
}
