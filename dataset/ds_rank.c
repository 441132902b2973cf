/* ds_rank.c: one rank of a cluster build (docs/cluster.md): where its rank and rank count come
 * from (the command line, a Slurm array, srun, mpirun), which clips it owns (a hash of the
 * partition cell of a clip's first frame), the run record every rank checks (one configuration
 * and one rank count per OUT) and the done marker a rank writes once its part is committed.
 *
 * Every rank scans the whole capture's metadata and assembles the same clip list a one-rank
 * build assembles (cheap: no pixel is decoded); it cuts and writes only the clips it owns, into
 * OUT/rank-<r>/ (shards, manifest, its part of the twin). No rank talks to another. */
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dataset/ds_internal.h"

int dataset_rank_owner(double e, double n, double cell_m, int ranks)
{
	if (ranks <= 1)
		return 0;
	if (!(cell_m > 0))
		cell_m = DATASET_CELL_M;
	int64_t cx = (int64_t)floor(e / cell_m), cy = (int64_t)floor(n / cell_m);
	uint64_t h = svt_hash64((uint64_t)cx * 0x100000001b3ULL ^ svt_hash64((uint64_t)cy));
	return (int)(h % (uint64_t)ranks);
}

/* ---- The deal of cells ---------------------------------------------------------------- */

typedef struct cell_ent {
	int64_t cx, cy;
	uint64_t frames;
	int rank;
} cell_ent;

struct dataset_cells {
	double cell_m;
	int ranks;
	cell_ent *c; /* sorted by (cx, cy) */
	size_t n;
};

static int cell_cmp(const void *a, const void *b)
{
	const cell_ent *p = a, *q = b;
	if (p->cx != q->cx)
		return p->cx < q->cx ? -1 : 1;
	return p->cy < q->cy ? -1 : (p->cy > q->cy);
}

void dataset_cells_destroy(dataset_cells *c)
{
	if (!c)
		return;
	free(c->c);
	free(c);
}

/* Every frame's weight shared out: the cell whose middle falls in rank r's share of the
 * total goes to r (shares are contiguous along the sorted cells). */
static void cells_assign(dataset_cells *d)
{
	uint64_t total = 0, before = 0;
	for (size_t i = 0; i < d->n; i++)
		total += d->c[i].frames;
	for (size_t i = 0; i < d->n; i++) {
		/* (before + w / 2) * ranks / total in integers: 2 before + w over 2 total */
		uint64_t mid = 2 * before + d->c[i].frames;
		int r = total ? (int)(mid * (uint64_t)d->ranks / (2 * total)) : 0;
		d->c[i].rank = r < d->ranks ? r : d->ranks - 1;
		before += d->c[i].frames;
	}
}

int dataset_cells_deal(const dataset_clip_info *clips, size_t n, double cell_m, int ranks,
		       dataset_cells **out, svt_err *err)
{
	if (!out || (n && !clips) || ranks < 1)
		return svt_err_set(err, SVT_E_INPUT, "dataset_cells_deal: bad argument");
	*out = NULL;
	dataset_cells *d = calloc(1, sizeof(*d));
	if (!d || !(d->c = calloc(n ? n : 1, sizeof(*d->c)))) {
		dataset_cells_destroy(d);
		return svt_err_set(err, SVT_E_NOMEM, "no memory for %zu cells", n);
	}
	d->cell_m = cell_m > 0 ? cell_m : DATASET_CELL_M;
	d->ranks = ranks;
	for (size_t i = 0; i < n; i++) {
		d->c[i].cx = (int64_t)floor(clips[i].proj_first[0] / d->cell_m);
		d->c[i].cy = (int64_t)floor(clips[i].proj_first[1] / d->cell_m);
		d->c[i].frames = clips[i].frames > 0 ? (uint64_t)clips[i].frames : 1;
	}
	qsort(d->c, n, sizeof(*d->c), cell_cmp);
	size_t m = 0;
	for (size_t i = 0; i < n; i++) {
		if (m && !cell_cmp(&d->c[i], &d->c[m - 1]))
			d->c[m - 1].frames += d->c[i].frames;
		else
			d->c[m++] = d->c[i];
	}
	d->n = m;
	cells_assign(d);
	*out = d;
	return SVT_OK;
}

int dataset_cells_owner(const dataset_cells *d, double e, double n)
{
	if (!d)
		return 0;
	cell_ent key = {.cx = (int64_t)floor(e / d->cell_m), .cy = (int64_t)floor(n / d->cell_m)};
	const cell_ent *hit = d->n ? bsearch(&key, d->c, d->n, sizeof(*d->c), cell_cmp) : NULL;
	return hit ? hit->rank : dataset_rank_owner(e, n, d->cell_m, d->ranks);
}

void dataset_cells_load(const dataset_cells *d, int r, uint64_t *mine, uint64_t *total)
{
	*mine = *total = 0;
	for (size_t i = 0; d && i < d->n; i++) {
		*total += d->c[i].frames;
		if (d->c[i].rank == r)
			*mine += d->c[i].frames;
	}
}

int dataset_cells_to_json(const dataset_cells *d, char **json, svt_err *err)
{
	json_t *root = json_object(), *arr = json_array();
	int rc = SVT_OK;
	*json = NULL;
	if (!root || !arr) {
		json_decref(arr);
		rc = svt_err_set(err, SVT_E_NOMEM, "no memory for the cells");
		goto cleanup;
	}
	json_object_set_new(root, "cell_m", json_real(d->cell_m));
	json_object_set_new(root, "ranks", json_integer(d->ranks));
	json_object_set_new(root, "cells", arr);
	for (size_t i = 0; i < d->n; i++)
		json_array_append_new(arr, json_pack("[IIiI]", (json_int_t)d->c[i].cx,
						     (json_int_t)d->c[i].cy, d->c[i].rank,
						     (json_int_t)d->c[i].frames));
	if (!(*json = json_dumps(root, JSON_COMPACT)))
		rc = svt_err_set(err, SVT_E_NOMEM, "no memory for the cells");
cleanup:
	json_decref(root);
	return rc;
}

int dataset_cells_from_json(const char *text, dataset_cells **out, svt_err *err)
{
	json_error_t je;
	json_t *root = json_loads(text, 0, &je);
	json_t *arr = json_object_get(root, "cells");
	dataset_cells *d = NULL;
	int rc = SVT_OK;
	*out = NULL;
	double cell_m = json_number_value(json_object_get(root, "cell_m"));
	int ranks = (int)json_integer_value(json_object_get(root, "ranks"));
	if (!root || !json_is_array(arr) || !(cell_m > 0) || ranks < 1) {
		rc = svt_err_set(err, SVT_E_FORMAT, "not a deal of cells: %s", root ? "fields" :
				 je.text);
		goto cleanup;
	}
	size_t n = json_array_size(arr);
	if (!(d = calloc(1, sizeof(*d))) || !(d->c = calloc(n ? n : 1, sizeof(*d->c)))) {
		rc = svt_err_set(err, SVT_E_NOMEM, "no memory for %zu cells", n);
		goto cleanup;
	}
	d->cell_m = cell_m;
	d->ranks = ranks;
	d->n = n;
	for (size_t i = 0; i < n; i++) {
		json_t *e = json_array_get(arr, i);
		json_int_t cx, cy, fr;
		int r;
		if (json_unpack(e, "[IIiI]", &cx, &cy, &r, &fr) || r < 0 || r >= ranks ||
		    (i && cell_cmp(&(cell_ent){.cx = cx, .cy = cy}, &d->c[i - 1]) <= 0)) {
			rc = svt_err_set(err, SVT_E_FORMAT, "cell %zu of the deal is not a cell "
					 "[cx, cy, rank, frames] in order", i);
			goto cleanup;
		}
		d->c[i] = (cell_ent){.cx = cx, .cy = cy, .frames = (uint64_t)fr, .rank = r};
	}
	*out = d;
	d = NULL;
cleanup:
	dataset_cells_destroy(d);
	json_decref(root);
	return rc;
}

/* An environment variable as a non-negative int; -1 when unset, -2 when not a number. */
static long env_int(const char *name)
{
	const char *s = getenv(name);
	if (!s || !*s)
		return -1;
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	return (*end || errno || v < 0 || v > 1000000) ? -2 : v;
}

int dataset_rank_resolve(int rank, int ranks, dataset_rank *out, svt_err *err)
{
	if (!out)
		return svt_err_set(err, SVT_E_INPUT, "dataset_rank_resolve: NULL out");
	memset(out, 0, sizeof(*out));
	/* Most specific first: an MPI process (mpirun, also inside a Slurm job), a task of a
	 * Slurm array (whose batch step also has SLURM_PROCID 0), a task of srun. */
	static const struct {
		const char *rank, *count;
	} src[] = {
		{"OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE"},
		{"SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_COUNT"},
		{"SLURM_PROCID", "SLURM_NTASKS"},
	};
	long er = -1, en = -1;
	const char *from = NULL;
	for (size_t i = 0; i < SVT_ARRAY_LEN(src) && !from; i++) {
		er = env_int(src[i].rank);
		if (er == -1)
			continue;
		en = env_int(src[i].count);
		if (er == -2 || en == -2)
			return svt_err_set(err, SVT_E_INPUT, "%s=%s, %s=%s: not a rank and a count",
					   src[i].rank, getenv(src[i].rank), src[i].count,
					   getenv(src[i].count) ? getenv(src[i].count) : "");
		from = src[i].rank;
	}
	/* A Slurm array resubmitted for its missing tasks (--array=1,3) has another
	 * SLURM_ARRAY_TASK_COUNT: the count comes from --ranks or the run record, not from it. */
	int array = from && !strcmp(from, "SLURM_ARRAY_TASK_ID");
	if (rank >= 0 && er >= 0 && rank != er)
		return svt_err_set(err, SVT_E_INPUT, "--rank %d, but %s says %ld: refusing to guess "
				   "which is meant", rank, from, er);
	if (ranks > 0 && en > 0 && ranks != en && !array)
		return svt_err_set(err, SVT_E_INPUT, "--ranks %d, but %s says %ld", ranks,
				   !strcmp(from, "OMPI_COMM_WORLD_RANK") ? "OMPI_COMM_WORLD_SIZE"
									  : "SLURM_NTASKS", en);
	out->rank = rank >= 0 ? rank : (int)er;
	out->ranks = ranks > 0 ? ranks : (int)en;
	out->ranks_from_array = array && ranks <= 0;
	snprintf(out->from, sizeof(out->from), "%s", rank >= 0 ? "--rank" : from ? from : "");
	if (out->rank < 0)
		return svt_err_set(err, SVT_E_INPUT, "no rank: give --rank R --ranks N or run under "
				   "a Slurm array, srun or mpirun");
	if (out->ranks < 1)
		return svt_err_set(err, SVT_E_INPUT, "no rank count: give --ranks N");
	/* An array's count is checked against the run record by dataset_rank_run. */
	if (out->rank >= out->ranks && !out->ranks_from_array)
		return svt_err_set(err, SVT_E_INPUT, "rank %d of %d: ranks are 0..%d (a Slurm array "
				   "is --array=0-%d)", out->rank, out->ranks, out->ranks - 1,
				   out->ranks - 1);
	return SVT_OK;
}

int ds_run_config(const dataset_opts *o, int ranks, double cell_m, fmt_config **out,
		  svt_err *err)
{
	fmt_config *c = NULL;
	int rc = fmt_config_create(&c, err);
	char size[32];
	snprintf(size, sizeof(size), "%dx%d", o->width, o->height);
	if (!rc)
		rc = fmt_config_set_str(c, "capture", o->capture, err);
	if (!rc)
		rc = fmt_config_set_int(c, "ranks", ranks, err);
	if (!rc)
		rc = fmt_config_set_real(c, "cell_m", cell_m, err);
	/* How cells go to ranks (dataset_cells_deal): a run begun with the hash alone (before the
	 * deal) is refused rather than finished with another partition. */
	if (!rc)
		rc = fmt_config_set_str(c, "deal", "cells by frames", err);
	if (!rc)
		rc = fmt_config_set_str(c, "size", size, err);
	if (!rc)
		rc = fmt_config_set_int(c, "crs", o->epsg, err);
	if (!rc)
		rc = fmt_config_set_int(c, "clip_frames", o->clip_frames, err);
	if (!rc)
		rc = fmt_config_set_int(c, "stride", o->clip_stride, err);
	if (!rc)
		rc = fmt_config_set_real(c, "fov", o->hfov_deg, err);
	if (!rc)
		rc = fmt_config_set_int(c, "view", (int64_t)o->view_dir, err);
	if (!rc)
		rc = fmt_config_set_str(c, "codec", o->codec ? o->codec : "default", err);
	if (!rc)
		rc = fmt_config_set_int(c, "seed", (int64_t)o->seed, err);
	if (!rc)
		rc = fmt_config_set_real(c, "split_buffer", o->split_buffer_m, err);
	if (!rc)
		rc = fmt_config_set_real(c, "spacing_m", o->spacing_m, err);
	if (!rc)
		rc = fmt_config_set_real(c, "spacing_s", o->spacing_s, err);
	if (!rc)
		rc = fmt_config_set_str(c, "track", o->track ? o->track : "", err);
	if (!rc)
		rc = fmt_config_set_real(c, "track_offset", o->track_offset_s, err);
	if (!rc)
		rc = fmt_config_set_int(c, "keep_corrupt", o->keep_corrupt, err);
	if (!rc)
		rc = fmt_config_set_str(c, "districts", o->districts ? o->districts : "", err);
	if (!rc)
		rc = fmt_config_set_str(c, "dongs", o->dongs ? o->dongs : "", err);
	if (!rc)
		rc = fmt_config_set_real(c, "view_random", o->view_random_deg, err);
	if (!rc)
		rc = fmt_config_set_int(c, "densify", (int64_t)o->densify, err);
	if (!rc)
		rc = fmt_config_set_real(c, "fps", o->fps, err);
	if (!rc)
		rc = fmt_config_set_int(c, "frames", o->out_frames, err);
	if (!rc)
		rc = fmt_config_set_int(c, "latent_stride", o->latent_stride, err);
	if (!rc)
		rc = fmt_config_set_real(c, "frames_per_m", o->frames_per_m, err);
	if (!rc)
		rc = fmt_config_set_int(c, "refs", o->refs, err);
	if (!rc)
		rc = fmt_config_set_real(c, "ref_min_gap", o->ref_min_gap_s, err);
	if (!rc)
		rc = fmt_config_set_real(c, "ref_min_cover", o->ref_min_cover, err);
	if (!rc)
		rc = fmt_config_set_int(c, "ref_warps", o->ref_warps, err);
	if (!rc)
		rc = fmt_config_set_str(c, "holdout", o->holdout ? o->holdout : "", err);
	if (rc) {
		fmt_config_destroy(c);
		return rc;
	}
	*out = c;
	return SVT_OK;
}

int ds_run_record_read(const char *out, fmt_config **rec, svt_err *err)
{
	char path[4096];
	uint8_t *data = NULL;
	size_t n = 0;
	int rc;
	*rec = NULL;
	if ((rc = svt_path_join(path, sizeof(path), out, DATASET_RUN_RECORD, err)))
		return rc;
	if (access(path, F_OK) != 0)
		return svt_err_set(err, SVT_E_NOTFOUND, "%s: no run record (no rank has started)",
				   path);
	if ((rc = svt_file_read(path, 1 << 20, &data, &n, err)))
		return rc;
	char *s = malloc(n + 1);
	if (!s) {
		free(data);
		return svt_err_set(err, SVT_E_NOMEM, "no memory for %s", path);
	}
	memcpy(s, data, n);
	s[n] = 0;
	free(data);
	rc = fmt_config_from_json(s, rec, err);
	free(s);
	return rc ? svt_err_prefix(err, "%s", path) : SVT_OK;
}

int ds_run_record_count(const fmt_config *rec, const char *key)
{
	int64_t n = 0;
	return fmt_config_get_int(rec, key, &n) && n > 0 && n <= INT32_MAX ? (int)n : 0;
}

int dataset_run_ranks(const char *out, svt_err *err)
{
	fmt_config *rec = NULL;
	int rc = ds_run_record_read(out, &rec, err);
	if (rc)
		return rc;
	int n = ds_run_record_count(rec, "ranks");
	fmt_config_destroy(rec);
	return n > 0 ? n : svt_err_set(err, SVT_E_FORMAT, "%s/%s: no rank count", out,
				       DATASET_RUN_RECORD);
}

/* The run record: written by the first rank to start, checked by every later one (and by a
 * rerun): another configuration or rank count in the same OUT is refused. */
static int run_record_check(const char *out, const fmt_config *now, svt_err *err)
{
	fmt_config *was = NULL;
	svt_err e = {0};
	int rc = ds_run_record_read(out, &was, &e);
	if (rc == SVT_E_NOTFOUND) {
		/* Ranks start together: each writes its own file and link() makes the first one
		 * the record (atomic, and it fails with EEXIST for the others, who then compare). */
		char path[4096], mine[4200], host[64] = "", *json = NULL;
		gethostname(host, sizeof(host) - 1);
		if ((rc = svt_path_join(path, sizeof(path), out, DATASET_RUN_RECORD, err)) ||
		    (rc = fmt_config_to_json(now, &json, err)))
			return rc;
		snprintf(mine, sizeof(mine), "%s.%s.%ld", path, host, (long)getpid());
		rc = svt_file_write_atomic(mine, json, strlen(json), err);
		free(json);
		if (rc)
			return rc;
		int linked = link(mine, path) == 0, e2 = errno;
		unlink(mine);
		if (linked)
			return svt_dir_sync_of(path, err);
		if (e2 != EEXIST)
			return svt_err_set(err, SVT_E_IO, "cannot create %s: %s", path, strerror(e2));
		if ((rc = ds_run_record_read(out, &was, err)))
			return rc;
	} else if (rc) {
		if (err)
			*err = e;
		return rc;
	}
	char msg[2048];
	int differs = fmt_config_compare(was, now, msg, sizeof(msg));
	fmt_config_destroy(was);
	if (differs)
		return svt_err_set(err, SVT_E_INPUT, "%s was started with another configuration or "
				   "rank count: %s", out, msg);
	return SVT_OK;
}

int ds_marker_path(const char *out, int rank, char *path, size_t cap, svt_err *err)
{
	int n = snprintf(path, cap, "%s/rank-%d/%s", out, rank, DATASET_DONE_MARKER);
	return n < 0 || (size_t)n >= cap ? svt_err_set(err, SVT_E_INPUT, "path too long") : SVT_OK;
}

int ds_marker_expected(const fmt_config *rec, int rank, char **json, svt_err *err)
{
	char *base = NULL;
	fmt_config *m = NULL;
	int rc = fmt_config_to_json(rec, &base, err);
	if (!rc)
		rc = fmt_config_from_json(base, &m, err);
	if (!rc)
		rc = fmt_config_set_int(m, "rank", rank, err);
	if (!rc)
		rc = fmt_config_to_json(m, json, err);
	free(base);
	fmt_config_destroy(m);
	return rc;
}

/* The clip predicate of a rank: the owner of the clip's first frame's cell in the deal made
 * from the whole clip list (the plan), then the caller's own predicate if any. */
typedef struct rank_filter {
	int rank, ranks;
	double cell_m;
	int (*user_fn)(void *, const dataset_clip_info *);
	int (*user_plan)(void *, const dataset_clip_info *, size_t);
	void *user;
	dataset_cells *cells;
} rank_filter;

static int rank_plan_fn(void *user, const dataset_clip_info *c, size_t n)
{
	rank_filter *f = user;
	dataset_cells_destroy(f->cells);
	f->cells = NULL;
	if (dataset_cells_deal(c, n, f->cell_m, f->ranks, &f->cells, NULL))
		return -1;
	uint64_t mine, total;
	dataset_cells_load(f->cells, f->rank, &mine, &total);
	svt_log_info("rank %d of %d: %llu of the %llu frames of %zu clips (%.2f of an equal "
		     "share)", f->rank, f->ranks, (unsigned long long)mine,
		     (unsigned long long)total, n, total ? (double)mine * f->ranks / total : 0);
	return f->user_plan ? f->user_plan(f->user, c, n) : 0;
}

static int rank_filter_fn(void *user, const dataset_clip_info *c)
{
	const rank_filter *f = user;
	int owner = f->cells ? dataset_cells_owner(f->cells, c->proj_first[0], c->proj_first[1])
			     : dataset_rank_owner(c->proj_first[0], c->proj_first[1], f->cell_m,
						  f->ranks);
	if (owner != f->rank)
		return 0;
	return f->user_fn ? f->user_fn(f->user, c) : 1;
}

int dataset_rank_run(const dataset_opts *o, const dataset_rank *r, double cell_m,
		     const dataset_callbacks *cb, dataset_stats *st, svt_err *err)
{
	if (!o || !r || !o->out || !o->capture)
		return svt_err_set(err, SVT_E_INPUT, "dataset_rank_run: NULL argument");
	if (st)
		memset(st, 0, sizeof(*st));
	if (o->part_count > 1)
		return svt_err_set(err, SVT_E_INPUT, "a cluster rank and --part exclude each other");
	if (o->refs_twin)
		return svt_err_set(err, SVT_E_INPUT, "dataset_rank_run: opts.refs_twin is the "
				   "rank's own (give the twin as opts.twin)");
	/* --twin: read by every rank (references of other runs), written only by the merge; by
	 * its absolute path, which the run record keeps for the merge (run in another folder). */
	char twin[PATH_MAX] = "";
	if (o->twin && !realpath(o->twin, twin))
		return svt_err_set(err, SVT_E_NOTFOUND, "--twin %s: %s (a cluster rank reads an "
				   "existing twin; without --twin the merge makes OUT/twin)", o->twin,
				   strerror(errno));
	if (!(cell_m > 0))
		cell_m = DATASET_CELL_M;
	fmt_config *now = NULL;
	dataset_job *job = NULL;
	char dir[4096], marker[4200], *want = NULL;
	int rc, ranks = r->ranks;
	if ((rc = svt_mkdirs(o->out, err)))
		return rc;
	/* A Slurm array's task count is recorded by its first run: a resubmission of some of its
	 * tasks (--array=1,3) counts fewer. */
	if (r->ranks_from_array) {
		svt_err e = {0};
		int rec = dataset_run_ranks(o->out, &e);
		if (rec > 0)
			ranks = rec;
	}
	if (r->rank >= ranks) {
		rc = svt_err_set(err, SVT_E_INPUT, "rank %d of a run of %d ranks", r->rank, ranks);
		goto done;
	}
	if ((rc = ds_run_config(o, ranks, cell_m, &now, err)) ||
	    (twin[0] && (rc = fmt_config_set_str(now, "twin", twin, err))) ||
	    (rc = run_record_check(o->out, now, err)))
		goto done;
	snprintf(dir, sizeof(dir), "%s/rank-%d", o->out, r->rank);
	if ((rc = ds_marker_path(o->out, r->rank, marker, sizeof(marker), err)) ||
	    (rc = ds_marker_expected(now, r->rank, &want, err)))
		goto done;
	/* Done already (the marker is written last): a rerun of the whole array redoes only the
	 * ranks without one. */
	uint8_t *have = NULL;
	size_t hn = 0;
	if (!svt_file_read(marker, 1 << 20, &have, &hn, NULL)) {
		int same = hn == strlen(want) && !memcmp(have, want, hn);
		free(have);
		if (same) {
			svt_log_info("rank %d of %d: done already (%s)", r->rank, ranks, marker);
			goto done;
		}
	}
	unlink(marker); /* this rank's part is being redone: not done until it is committed */
	/* A killed run's twin part is kept: it records which frames' points it fused (with the
	 * points, in one transaction), so the rerun cuts the kept shards' clips again only for the
	 * points they lack (ds_clips.c, points_only). */
	dataset_opts ro = *o;
	rank_filter f = {r->rank, ranks, cell_m, o->clip_filter, o->clip_plan, o->clip_filter_user,
			 NULL};
	char *cjson = NULL;
	ro.out = dir;
	ro.twin = NULL; /* the rank's part: OUT/rank-<r>/twin */
	ro.refs_twin = twin[0] ? twin : NULL;
	ro.clip_filter = rank_filter_fn;
	ro.clip_filter_user = &f;
	ro.clip_plan = rank_plan_fn;
	if ((rc = dataset_job_create(&ro, &job, err)))
		goto done;
	rc = dataset_job_run(job, cb, err);
	if (st)
		dataset_job_stats(job, st);
	/* The deal the rank cut by, for the merge's check that every cell had one writer. */
	char cpath[4300];
	snprintf(cpath, sizeof(cpath), "%s/%s", dir, DATASET_CELLS_FILE);
	if (!rc && f.cells &&
	    !(rc = dataset_cells_to_json(f.cells, &cjson, err)))
		rc = svt_file_write_atomic(cpath, cjson, strlen(cjson), err);
	else if (!rc)
		unlink(cpath);
	if (!rc)
		rc = svt_file_write_atomic(marker, want, strlen(want), err);
	free(cjson);
	dataset_cells_destroy(f.cells);
done:
	dataset_job_destroy(job);
	fmt_config_destroy(now);
	free(want);
	return rc;
}
