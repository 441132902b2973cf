/* twin_shards_merge.c: what a cluster build's merge needs from the twin besides its points
 * (twin_store_merge_points, twin_points.c): the ranks' shard -> tile records made the merged
 * store's, so that stale-shard queries answer on it as on a one-rank build's store, and a
 * snapshot of a store (a consistent copy to fold the ranks' parts into before it replaces the
 * original whole). */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "twin/twin_internal.h"

/* One shard record of a source store: its name and tiles. */
typedef struct shard_rec {
	char *name;
	int *txy;
	size_t n, cap;
} shard_rec;

static void recs_free(shard_rec *r, size_t n)
{
	for (size_t i = 0; r && i < n; i++) {
		free(r[i].name);
		free(r[i].txy);
	}
	free(r);
}

/* Every shard of s with its tiles, in record order. No shards table (a store that never
 * recorded one) is none. */
static int recs_read(const twin_store *s, shard_rec **out, size_t *nout, svt_err *err)
{
	sqlite3_stmt *st = NULL;
	shard_rec *r = NULL;
	size_t n = 0, cap = 0;
	int rc = SVT_OK, step;
	*out = NULL;
	*nout = 0;
	if (sqlite3_prepare_v2(s->db, "SELECT s.name, t.tx, t.ty FROM shards s LEFT JOIN "
				      "shard_tiles t ON t.shard = s.fid ORDER BY s.fid, t.tx, t.ty",
			       -1, &st, NULL) != SQLITE_OK)
		return SVT_OK; /* no table: nothing recorded */
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(st, 0);
		if (!name)
			continue;
		if (!n || strcmp(r[n - 1].name, name)) {
			if (n == cap) {
				size_t nc = cap ? 2 * cap : 64;
				shard_rec *p = realloc(r, nc * sizeof(*p));
				if (!p) {
					rc = svt_err_set(err, SVT_E_NOMEM, "no memory for shard records");
					goto cleanup;
				}
				r = p;
				cap = nc;
			}
			memset(&r[n], 0, sizeof(r[n]));
			if (!(r[n].name = strdup(name))) {
				rc = svt_err_set(err, SVT_E_NOMEM, "no memory for shard records");
				goto cleanup;
			}
			n++;
		}
		if (sqlite3_column_type(st, 1) == SQLITE_NULL)
			continue; /* a shard without tiles */
		shard_rec *c = &r[n - 1];
		if (c->n == c->cap) {
			size_t nc = c->cap ? 2 * c->cap : 8;
			int *p = realloc(c->txy, 2 * nc * sizeof(int));
			if (!p) {
				rc = svt_err_set(err, SVT_E_NOMEM, "no memory for shard tiles");
				goto cleanup;
			}
			c->txy = p;
			c->cap = nc;
		}
		c->txy[2 * c->n] = sqlite3_column_int(st, 1);
		c->txy[2 * c->n + 1] = sqlite3_column_int(st, 2);
		c->n++;
	}
	if (step != SQLITE_DONE)
		rc = twin_db_err(s->db, "shards", err);
cleanup:
	sqlite3_finalize(st);
	if (rc) {
		recs_free(r, n);
		return rc;
	}
	*out = r;
	*nout = n;
	return SVT_OK;
}

int twin_store_merge_shards(twin_store *dst, twin_store *const *src, size_t nsrc,
			    size_t *n_shards, svt_err *err)
{
	if (!dst || (nsrc && !src))
		return svt_err_set(err, SVT_E_INPUT, "twin_store_merge_shards: NULL store");
	if (n_shards)
		*n_shards = 0;
	/* One transaction per shard (the rule of a record stays in twin_store_record_shard):
	 * without an fsync each (synchronous NORMAL: WAL commits are synced at the checkpoint,
	 * which closing the store does), so that a city's 10^5 clips do not cost 10^5 fsyncs.
	 * A merge writes a copy that is moved in after it is closed, so nothing is lost by it. */
	int rc = twin_db_exec(dst->db, "PRAGMA synchronous = NORMAL", err);
	for (size_t k = 0; k < nsrc && !rc; k++) {
		shard_rec *r = NULL;
		size_t n = 0;
		if (!src[k]) {
			rc = svt_err_set(err, SVT_E_INPUT, "twin_store_merge_shards: NULL store");
			break;
		}
		if (src[k]->epsg != dst->epsg || src[k]->tile_m != dst->tile_m) {
			rc = svt_err_set(err, SVT_E_INPUT, "%s and %s differ in CRS or tile size: "
					 "their shards' tiles are not the same tiles", src[k]->dir,
					 dst->dir);
			break;
		}
		if ((rc = recs_read(src[k], &r, &n, err))) {
			svt_err_prefix(err, "%s", src[k]->dir);
			break;
		}
		/* Recorded anew in dst (its generation, its tiles): the record a one-rank build
		 * makes at its end, after all its points are fused. The rule of what a record is
		 * stays in twin_store_record_shard. */
		for (size_t i = 0; i < n && !rc; i++)
			rc = twin_store_record_shard(dst, r[i].name, r[i].txy, r[i].n, err);
		if (!rc && n_shards)
			*n_shards += n;
		recs_free(r, n);
	}
	svt_err e2 = {0};
	int rc2 = twin_db_exec(dst->db, "PRAGMA synchronous = FULL", rc ? &e2 : err);
	return rc ? rc : rc2;
}

int twin_store_snapshot(const char *src_dir, const char *dst_dir, svt_err *err)
{
	if (!src_dir || !dst_dir)
		return svt_err_set(err, SVT_E_INPUT, "twin_store_snapshot: NULL argument");
	char db[4200], out[4200], sp[4500], dp[4500], spd[4200], dpd[4200];
	sqlite3 *h = NULL;
	DIR *d = NULL;
	char *sql = NULL;
	int rc;
	snprintf(db, sizeof(db), "%s/%s", src_dir, TWIN_GPKG_NAME);
	snprintf(out, sizeof(out), "%s/%s", dst_dir, TWIN_GPKG_NAME);
	snprintf(spd, sizeof(spd), "%s/%s", src_dir, TWIN_POINTS_DIR);
	snprintf(dpd, sizeof(dpd), "%s/%s", dst_dir, TWIN_POINTS_DIR);
	if (access(db, F_OK) != 0)
		return svt_err_set(err, SVT_E_NOTFOUND, "%s: no twin store", src_dir);
	if (access(out, F_OK) == 0)
		return svt_err_set(err, SVT_E_INPUT, "%s already holds a twin store", dst_dir);
	if ((rc = svt_mkdirs(dpd, err)))
		return rc;
	/* One read transaction: the copy is the store as of one commit (WAL readers never see
	 * half of one), whatever writes it meanwhile. */
	if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
		rc = svt_err_set(err, SVT_E_IO, "%s: %s", db, h ? sqlite3_errmsg(h) : "cannot open");
		goto cleanup;
	}
	sqlite3_busy_timeout(h, 10000);
	if (!(sql = sqlite3_mprintf("VACUUM INTO %Q", out))) {
		rc = svt_err_set(err, SVT_E_NOMEM, "no memory");
		goto cleanup;
	}
	if ((rc = twin_db_exec(h, sql, err))) {
		svt_err_prefix(err, "copying %s", db);
		goto cleanup;
	}
	/* The copy keeps the store's WAL journal (VACUUM INTO writes a rollback-journal file):
	 * readers of the store stay safe while it is written. */
	sqlite3_close(h);
	h = NULL;
	if (sqlite3_open_v2(out, &h, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
		rc = svt_err_set(err, SVT_E_IO, "%s: %s", out, h ? sqlite3_errmsg(h) : "cannot open");
		goto cleanup;
	}
	if ((rc = twin_db_exec(h, "PRAGMA journal_mode = WAL", err)))
		goto cleanup;
	/* Point files are never rewritten in place (a change writes a file of a new
	 * generation), so the copy shares them by hard link. */
	if ((d = opendir(spd))) {
		struct dirent *e;
		while ((e = readdir(d))) {
			if (e->d_name[0] == '.')
				continue;
			snprintf(sp, sizeof(sp), "%s/%s", spd, e->d_name);
			snprintf(dp, sizeof(dp), "%s/%s", dpd, e->d_name);
			if (link(sp, dp) != 0) {
				rc = svt_err_set(err, SVT_E_IO, "link %s -> %s: %s (the copy must be "
						 "on the store's file system)", sp, dp, strerror(errno));
				goto cleanup;
			}
		}
	}
	rc = svt_dir_sync_of(out, err);
cleanup:
	if (d)
		closedir(d);
	sqlite3_free(sql);
	sqlite3_close(h);
	return rc;
}
