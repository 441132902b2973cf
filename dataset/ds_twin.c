/* ds_twin.c: the job's use of the twin store (twin/): the capture added once with its depth
 * points, district and dong labels, and each clip's tiles recorded so that a later change to
 * those tiles marks exactly the clips (and shards) that depend on them. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dataset/ds_internal.h"

/* The twin's folder: --twin, or OUT's own. */
static int twin_dir(const dataset_opts *o, char *dir, size_t cap, svt_err *err)
{
	if (o->twin) {
		if (snprintf(dir, cap, "%s", o->twin) >= (int)cap)
			return svt_err_set(err, SVT_E_INPUT, "--twin path too long: %s", o->twin);
		return SVT_OK;
	}
	return svt_path_join(dir, cap, o->out, "twin", err);
}

int ds_twin_preflight(const dataset_job *j, svt_err *err)
{
	/* A refused --fresh run once emptied OUT's twin (its removal came first) and rewrote its
	 * build-config.json before the layers and the holdout were checked. */
	const dataset_opts *o = &j->o;
	twin_split_opts so;
	twin_split_opts_default(&so);
	so.seed = o->seed;
	so.buffer_m = o->split_buffer_m;
	int rc = twin_split_opts_check(&so, err);
	if (rc)
		return rc;
	twin_layer *d = NULL, *g = NULL;
	if (o->districts && (rc = twin_layer_load(o->districts, NULL, &d, err)))
		return svt_err_prefix(err, "districts layer %s", o->districts);
	if (o->dongs && (rc = twin_layer_load(o->dongs, NULL, &g, err))) {
		twin_layer_destroy(d);
		return svt_err_prefix(err, "dongs layer %s", o->dongs);
	}
	twin_layer_destroy(g);
	/* The districts the build will have: a kept twin's own layer (one built with
	 * --districts before wins over the file: ds_twin_open keeps it), checked once that twin
	 * is open; else the file's, or none. */
	char dir[4096];
	rc = twin_dir(o, dir, sizeof(dir), err);
	int kept = !rc && !(o->fresh && !o->twin) && twin_store_exists(dir);
	if (!rc && !kept)
		rc = ds_refs_holdout_names_check(o->holdout, d, err);
	twin_layer_destroy(d);
	return rc;
}

/* Adds the capture to the twin store (creating it with the job's ENU origin) and labels
 * every kept frame with the districts layer when one is given. A capture already in the
 * store (a rerun) is not added twice. */
int ds_twin_open(dataset_job *j, svt_err *err)
{
	const dataset_opts *o = &j->o;
	char dir[4096];
	int rc;
	j->store_first = SIZE_MAX;
	if ((rc = twin_dir(o, dir, sizeof(dir), err)))
		return rc;
	twin_store_opts so;
	twin_store_opts_default(&so);
	so.epsg = j->st.epsg;
	so.have_origin = 1;
	memcpy(so.origin_llh, j->info.enu_origin_llh, sizeof(so.origin_llh));
	/* A twin read for references (a cluster rank's --twin): it must exist, and the twin is
	 * made in its CRS, tiles and ENU frame, so that the merge folds it in voxel for voxel
	 * and its points are those a one-rank build into it fuses. */
	if (o->refs_twin) {
		twin_store_opts ro;
		twin_store_opts_default(&ro);
		ro.no_create = 1;
		if ((rc = twin_store_open(o->refs_twin, &ro, &j->ref_store, err)))
			return svt_err_prefix(err, "the twin of the references %s", o->refs_twin);
		so.epsg = twin_store_epsg(j->ref_store);
		so.tile_m = twin_store_tile_m(j->ref_store);
		twin_store_origin(j->ref_store, so.origin_llh);
	}
	/* --fresh rebuilds what OUT owns, its own twin included (the capture's entries and points
	 * are then made again, not kept from the run being replaced); in a shared twin (--twin)
	 * only this capture's entries are replaced (below), the others' stay. After the
	 * references' twin opened: a run refused for want of it keeps OUT's twin. */
	if (o->fresh && !o->twin) {
		if ((rc = twin_store_remove(dir, j->trash, err)))
			return svt_err_prefix(err, "--fresh");
		svt_log_info("--fresh: the twin %s is rebuilt", dir);
	}
	if ((rc = twin_store_open(dir, &so, &j->store, err)))
		return svt_err_prefix(err, "twin store %s", dir);
	/* A layer already in the store is kept: replacing it marks every tile changed, which
	 * would make every shard stale on each rerun. */
	const char *lname[2] = {"districts", "dongs"}, *lpath[2] = {o->districts, o->dongs};
	for (int L = 0; L < 2; L++) {
		int have = 0;
		for (size_t k = 0; k < twin_store_layer_count(j->store); k++)
			have |= !strcmp(twin_store_layer_name(j->store, k), lname[L]);
		if (lpath[L] && !have &&
		    (rc = twin_store_add_layer(j->store, lname[L], lpath[L], NULL, err)))
			return svt_err_prefix(err, "%s layer %s", lname[L], lpath[L]);
	}

	/* The layers known, a --holdout of names is checked before the twin is changed. */
	for (size_t k = 0; k < twin_store_layer_count(j->store); k++)
		if (!strcmp(twin_store_layer_name(j->store, k), "districts"))
			j->districts = twin_store_layer(j->store, k);
		else if (!strcmp(twin_store_layer_name(j->store, k), "dongs"))
			j->dongs = twin_store_layer(j->store, k);
	if ((rc = ds_refs_holdout_check(j, err)))
		return rc;

	size_t first = 0;
	if (o->fresh && o->twin && twin_store_capture_find(j->store, j->twin_name, NULL, NULL)) {
		if ((rc = twin_store_remove_capture(j->store, j->twin_name, err)))
			return svt_err_prefix(err, "--fresh: removing %s from the twin %s",
					      j->twin_name, dir);
		svt_log_info("--fresh: %s's frames and points removed from the shared twin %s",
			     j->twin_name, dir);
	}
	/* By content (name@digest, ds_guard_config): another capture that happens to share the
	 * folder's name is another capture. */
	if (twin_store_capture_find(j->store, j->twin_name, &first, NULL)) {
		svt_log_info("capture %s is already in the twin %s", j->twin_name, dir);
		j->store_first = first; /* frames were added in the same order */
	}
	if (j->store_first == SIZE_MAX) {
		const char **paths = calloc(j->n, sizeof(char *));
		if (!paths)
			return svt_err_set(err, SVT_E_NOMEM, "no memory for %zu paths", j->n);
		for (size_t k = 0; k < j->n; k++)
			paths[k] = j->cap->frames[j->cap_idx[k]].path;
		twin_capture_in in = {.name = j->twin_name, .source = o->capture, .frames = j->tf,
				      .n = j->n, .enu_origin_llh = j->info.enu_origin_llh,
				      .paths = paths};
		rc = twin_store_add_capture(j->store, &in, &j->store_first, err);
		free(paths);
		if (rc)
			return svt_err_prefix(err, "adding %s to the twin %s", j->twin_name, dir);
		j->capture_new = 1;
	}
	/* Which frames' depth the twin already holds: a rerun after an interrupted build fuses
	 * exactly the others (twin_store_add_points_of records them with the points). */
	if ((rc = twin_store_frames_fused(j->store, j->store_first, j->n, j->points_done, err)))
		return svt_err_prefix(err, "twin store %s", dir);

	j->district = malloc(j->n * sizeof(long));
	j->dong = malloc(j->n * sizeof(long));
	if (!j->district || !j->dong)
		return svt_err_set(err, SVT_E_NOMEM, "no memory for labels");
	for (size_t k = 0; k < j->n; k++)
		j->district[k] = j->dong[k] = -1;
	if (j->districts)
		twin_frames_label(j->districts, j->tf, j->n, j->district);
	if (j->dongs)
		twin_frames_label(j->dongs, j->tf, j->n, j->dong);

	twin_split_opts_default(&j->split);
	j->split.seed = o->seed;
	j->split.buffer_m = o->split_buffer_m;
	j->info.split_buffer_m = o->split_buffer_m;
	return twin_split_opts_check(&j->split, err);
}

/* Remembers a clip of this run for ds_twin_record_tiles. */
int ds_clip_remember(dataset_job *j, const char *id, const size_t *kidx, int T, int seq,
		     svt_err *err)
{
	if (j->nrecs == j->caprecs) {
		size_t nc = j->caprecs ? 2 * j->caprecs : 16;
		ds_clip_rec *p = realloc(j->recs, nc * sizeof(*p));
		if (!p)
			return svt_err_set(err, SVT_E_NOMEM, "no memory for clip records");
		j->recs = p;
		j->caprecs = nc;
	}
	ds_clip_rec *r = &j->recs[j->nrecs];
	r->kidx = malloc((size_t)T * sizeof(size_t));
	if (!r->kidx)
		return svt_err_set(err, SVT_E_NOMEM, "no memory for clip records");
	memcpy(r->kidx, kidx, (size_t)T * sizeof(size_t));
	snprintf(r->id, sizeof(r->id), "%s", id);
	r->n = T;
	r->seq = seq;
	j->nrecs++;
	return SVT_OK;
}

/* Records, for every clip of this run, the twin tiles it was cut from (twin_store_clip_tiles
 * and twin_store_record_shard): a later capture or layer that changes one of those tiles
 * makes the clip stale, and a rerun rewrites the shards holding stale clips. */
int ds_twin_record_tiles(dataset_job *j, svt_err *err)
{
	if (!j->store || j->store_first == SIZE_MAX)
		return SVT_OK;
	int rc = SVT_OK;
	for (size_t c = 0; !rc && c < j->nrecs; c++) {
		const ds_clip_rec *r = &j->recs[c];
		size_t *si = malloc((size_t)r->n * sizeof(size_t));
		int *txy = NULL;
		size_t ntile = 0;
		if (!si)
			return svt_err_set(err, SVT_E_NOMEM, "no memory for tiles");
		for (int t = 0; t < r->n; t++)
			si[t] = j->store_first + r->kidx[t];
		twin_clip sc = {.first = si[0], .n = r->n, .idx = si, .seq = r->seq};
		rc = twin_store_clip_tiles(j->store, &sc, &txy, &ntile, err);
		if (!rc)
			rc = twin_store_record_shard(j->store, r->id, txy, ntile, err);
		free(txy);
		free(si);
		if (rc)
			svt_err_prefix(err, "recording clip %s in the twin", r->id);
	}
	return rc;
}

/* The fusion of one clip's points, on its own thread while the main thread writes the clip
 * (the store is only ever touched by one thread at a time: the next fusion starts after this
 * one is joined). */
static void fuse_run(dataset_job *j)
{
	svt_err_clear(&j->fuse_err);
	j->fuse_rc = twin_store_add_points_of(j->store, j->fuse_pts, j->fuse_n,
					      j->info.enu_origin_llh, j->fuse_fr, j->fuse_nfr,
					      &j->fuse_err);
}

/* The fusion thread works in a place of the job's gate, like every other thread. */
static void *fuse_main(void *arg)
{
	dataset_job *j = arg;
	svt_gate_enter(j->gate);
	fuse_run(j);
	svt_gate_leave(j->gate);
	return NULL;
}

int ds_points_join(dataset_job *j, svt_err *err)
{
	if (!j->fusing)
		return SVT_OK;
	int paused = svt_gate_pause(j->gate);
	pthread_join(j->fuse_th, NULL);
	svt_gate_resume(j->gate, paused);
	j->fusing = 0;
	j->st.points_total += j->fuse_n;
	j->fuse_n = j->fuse_nfr = 0;
	if (!j->fuse_rc)
		return SVT_OK;
	if (err)
		*err = j->fuse_err;
	return svt_err_prefix(err, "fusing points into the twin");
}

int ds_points_flush(dataset_job *j, svt_err *err)
{
	int rc = ds_points_join(j, err);
	if (rc || (!j->npts && !j->npfr) || !j->store)
		return rc;
	/* The queue changes hands: the fusion reads fuse_pts while the workers' next points
	 * are queued into pts. */
	gpu_point *p = j->fuse_pts;
	size_t cap = j->fuse_cap;
	j->fuse_pts = j->pts;
	j->fuse_cap = j->cappts;
	j->fuse_n = j->npts;
	j->pts = p;
	j->cappts = cap;
	j->npts = 0;
	size_t *fr = j->fuse_fr, frcap = j->fuse_capfr;
	j->fuse_fr = j->pfr;
	j->fuse_capfr = j->cappfr;
	j->fuse_nfr = j->npfr;
	j->pfr = fr;
	j->cappfr = frcap;
	j->npfr = 0;
	if (pthread_create(&j->fuse_th, NULL, fuse_main, j) != 0) {
		/* No thread: fuse here (in the caller's place of the gate). */
		fuse_run(j);
		j->st.points_total += j->fuse_n;
		j->fuse_n = j->fuse_nfr = 0;
		if (j->fuse_rc) {
			if (err)
				*err = j->fuse_err;
			return svt_err_prefix(err, "fusing points into the twin");
		}
		return SVT_OK;
	}
	j->fusing = 1;
	return SVT_OK;
}
