/* twin_store.c: the persistent twin, one SQLite file laid out as an OGC GeoPackage
 * (DIR/twin.gpkg; tables in docs/twin.md), beside per-tile LAS point files (DIR/points/).
 *
 * Every mutation is one transaction (WAL journal, synchronous FULL): a killed writer loses
 * nothing committed, and readers (other processes, QGIS) never see half a capture. Nothing is
 * read whole on open: queries go through the R*Tree indexes, and the frames are read into
 * memory only when a caller asks for all of them (twin_store_frames and the per-frame
 * accessors), then dropped at the next mutation.
 */
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "geo/geo.h"
#include "twin/twin.h"
#include "twin/twin_internal.h"

#define STORE_FORMAT "svtwin-twin"
#define STORE_VERSION 2

/* Statement ids of this file (twin_stmt). */
enum {
	ST_FRAME_INSERT = 0,
	ST_FRAME_RTREE,
	ST_TILE_FIND,
	ST_TILE_UPDATE,
	ST_TILE_INSERT,
	ST_TILE_RTREE,
	ST_LABEL_INSERT,
	ST_META_PUT,
	ST_FRAME_TILE,
	ST_FRAME_RECORD,
	ST_SHARDS_MARK,
};

void twin_store_opts_default(twin_store_opts *o)
{
	if (!o)
		return;
	memset(o, 0, sizeof(*o));
	o->epsg = GEO_EPSG_DEFAULT;
	o->tile_m = 100.0;
	o->voxel_m = 0.05;
}

/* ---- Small helpers ----------------------------------------------------------------------- */

int twin_tile_of(const twin_store *s, double e, double n, int *tx, int *ty)
{
	double fx = floor(e / s->tile_m), fy = floor(n / s->tile_m);
	if (!isfinite(fx) || !isfinite(fy) || fabs(fx) > 1e9 || fabs(fy) > 1e9)
		return -1;
	*tx = (int)fx;
	*ty = (int)fy;
	return 0;
}

static int name_ok(const char *n, size_t max)
{
	size_t len = n ? strlen(n) : 0;
	if (len == 0 || len > max)
		return 0;
	for (size_t i = 0; i < len; i++) {
		char c = n[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

sqlite3_stmt *twin_stmt(twin_store *s, int id, const char *sql, svt_err *err)
{
	if (!s->st[id] &&
	    sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s->st[id], NULL) !=
		    SQLITE_OK) {
		twin_db_err(s->db, "prepare", err);
		s->st[id] = NULL;
		return NULL;
	}
	sqlite3_reset(s->st[id]);
	sqlite3_clear_bindings(s->st[id]);
	return s->st[id];
}

int twin_tx_begin(twin_store *s, svt_err *err)
{
	return twin_db_exec(s->db, "BEGIN IMMEDIATE", err);
}

int twin_tx_commit(twin_store *s, svt_err *err)
{
	return twin_db_exec(s->db, "COMMIT", err);
}

void twin_tx_rollback(twin_store *s)
{
	if (!sqlite3_get_autocommit(s->db))
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
}

static int meta_put(twin_store *s, const char *key, int type, double d, long long i,
		    svt_err *err)
{
	sqlite3_stmt *st = twin_stmt(
		s, ST_META_PUT, "INSERT OR REPLACE INTO twin_meta(key, value) VALUES (?, ?)", err);
	if (!st)
		return SVT_E_IO;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	if (type == 'd')
		sqlite3_bind_double(st, 2, d);
	else if (type == 'i')
		sqlite3_bind_int64(st, 2, i);
	else
		sqlite3_bind_null(st, 2);
	if (sqlite3_step(st) != SQLITE_DONE)
		return twin_db_err(s->db, "twin_meta", err);
	return SVT_OK;
}

int twin_meta_put_gen(twin_store *s, svt_err *err)
{
	int rc;
	if ((rc = meta_put(s, "gen", 'i', 0, (long long)s->gen, err)) ||
	    (rc = meta_put(s, "frames", 'i', 0, (long long)s->nf, err)) ||
	    (rc = meta_put(s, "seq_next", 'i', 0, s->seq_next, err)))
		return rc;
	return SVT_OK;
}

static int meta_put_origin(twin_store *s, svt_err *err)
{
	const char *k[3] = {"origin_lat", "origin_lon", "origin_h"};
	for (int a = 0; a < 3; a++) {
		int rc = meta_put(s, k[a], s->have_origin ? 'd' : 0, s->origin[a], 0, err);
		if (rc)
			return rc;
	}
	return SVT_OK;
}

static int tile_upsert_row(twin_store *s, int tx, int ty, uint64_t gen, size_t dframes,
			   long long n_points, const char *points_file, svt_err *err);

/* A tile changed at generation gen: the shards cut from it before are stale from now on
 * (marked here, so the stale query reads an index instead of joining tiles and shards). */
static int shards_mark(twin_store *s, int tx, int ty, uint64_t gen, svt_err *err)
{
	sqlite3_stmt *st = twin_stmt(s, ST_SHARDS_MARK,
				     "UPDATE shards SET stale = 1 WHERE stale = 0 AND gen < ?3 AND fid "
				     "IN (SELECT shard FROM shard_tiles WHERE tx = ?1 AND ty = ?2)",
				     err);
	if (!st)
		return SVT_E_IO;
	sqlite3_bind_int(st, 1, tx);
	sqlite3_bind_int(st, 2, ty);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)gen);
	if (sqlite3_step(st) != SQLITE_DONE)
		return twin_db_err(s->db, "shards", err);
	return SVT_OK;
}

int twin_tile_upsert(twin_store *s, int tx, int ty, uint64_t gen, size_t dframes,
		     long long n_points, const char *points_file, svt_err *err)
{
	int rc = tile_upsert_row(s, tx, ty, gen, dframes, n_points, points_file, err);
	return rc ? rc : shards_mark(s, tx, ty, gen, err);
}

static int tile_upsert_row(twin_store *s, int tx, int ty, uint64_t gen, size_t dframes,
			   long long n_points, const char *points_file, svt_err *err)
{
	sqlite3_stmt *st = twin_stmt(s, ST_TILE_FIND, "SELECT fid FROM tiles WHERE tx = ? AND ty = ?",
				     err);
	if (!st)
		return SVT_E_IO;
	sqlite3_bind_int(st, 1, tx);
	sqlite3_bind_int(st, 2, ty);
	int r = sqlite3_step(st);
	if (r == SQLITE_ROW) {
		sqlite3_int64 fid = sqlite3_column_int64(st, 0);
		sqlite3_reset(st);
		sqlite3_stmt *up = twin_stmt(
			s, ST_TILE_UPDATE,
			"UPDATE tiles SET gen = ?2, n_frames = n_frames + ?3, "
			"n_points = CASE WHEN ?4 >= 0 THEN ?4 ELSE n_points END, "
			"points_file = CASE WHEN ?4 >= 0 THEN ?5 ELSE points_file END WHERE fid = ?1",
			err);
		if (!up)
			return SVT_E_IO;
		sqlite3_bind_int64(up, 1, fid);
		sqlite3_bind_int64(up, 2, (sqlite3_int64)gen);
		sqlite3_bind_int64(up, 3, (sqlite3_int64)dframes);
		sqlite3_bind_int64(up, 4, n_points);
		sqlite3_bind_text(up, 5, points_file, -1, SQLITE_TRANSIENT);
		if (sqlite3_step(up) != SQLITE_DONE)
			return twin_db_err(s->db, "tiles", err);
		return SVT_OK;
	}
	if (r != SQLITE_DONE)
		return twin_db_err(s->db, "tiles", err);
	sqlite3_stmt *in = twin_stmt(s, ST_TILE_INSERT,
				     "INSERT INTO tiles(geom, tx, ty, gen, n_frames, n_points, "
				     "points_file) VALUES (?, ?, ?, ?, ?, ?, ?)",
				     err);
	if (!in)
		return SVT_E_IO;
	uint8_t blob[160];
	double x0 = tx * s->tile_m, y0 = ty * s->tile_m, x1 = x0 + s->tile_m, y1 = y0 + s->tile_m;
	size_t nb = twin_gpkg_rect_blob(blob, s->epsg, x0, y0, x1, y1);
	sqlite3_bind_blob(in, 1, blob, (int)nb, SQLITE_TRANSIENT);
	sqlite3_bind_int(in, 2, tx);
	sqlite3_bind_int(in, 3, ty);
	sqlite3_bind_int64(in, 4, (sqlite3_int64)gen);
	sqlite3_bind_int64(in, 5, (sqlite3_int64)dframes);
	sqlite3_bind_int64(in, 6, n_points > 0 ? n_points : 0);
	sqlite3_bind_text(in, 7, n_points >= 0 ? points_file : NULL, -1, SQLITE_TRANSIENT);
	if (sqlite3_step(in) != SQLITE_DONE)
		return twin_db_err(s->db, "tiles", err);
	sqlite3_int64 fid = sqlite3_last_insert_rowid(s->db);
	sqlite3_stmt *rt = twin_stmt(s, ST_TILE_RTREE,
				     "INSERT INTO rtree_tiles_geom VALUES (?, ?, ?, ?, ?)", err);
	if (!rt)
		return SVT_E_IO;
	sqlite3_bind_int64(rt, 1, fid);
	sqlite3_bind_double(rt, 2, x0);
	sqlite3_bind_double(rt, 3, x1);
	sqlite3_bind_double(rt, 4, y0);
	sqlite3_bind_double(rt, 5, y1);
	if (sqlite3_step(rt) != SQLITE_DONE)
		return twin_db_err(s->db, "rtree_tiles_geom", err);
	return SVT_OK;
}

/* ---- Caches --------------------------------------------------------------------------------- */

static void frame_cache_free(frame_cache *c)
{
	for (size_t i = 0; c->path && i < c->n; i++)
		free(c->path[i]);
	free(c->path);
	free(c->f);
	free(c->cap_of);
	free(c->tx);
	free(c->ty);
	for (size_t k = 0; k < c->nlab; k++)
		free(c->lab[k]);
	free(c->lab);
	for (size_t k = 0; k < c->ncaps; k++)
		free(c->cap_names[k]);
	free(c->cap_names);
	memset(c, 0, sizeof(*c));
}

void twin_cache_drop(twin_store *s)
{
	frame_cache_free(&s->fc);
	free(s->tiles);
	s->tiles = NULL;
	s->ntiles = 0;
	s->tiles_valid = 0;
}

int twin_cache_frames(twin_store *s, svt_err *err)
{
	if (s->fc.valid)
		return SVT_OK;
	frame_cache_free(&s->fc);
	frame_cache *c = &s->fc;
	size_t n = s->nf;
	int rc = SVT_OK;
	sqlite3_stmt *st = NULL;
	c->f = calloc(n + 1, sizeof(*c->f));
	c->path = calloc(n + 1, sizeof(*c->path));
	c->cap_of = calloc(n + 1, sizeof(int));
	c->tx = calloc(n + 1, sizeof(int));
	c->ty = calloc(n + 1, sizeof(int));
	c->lab = calloc(s->nlayers + 1, sizeof(long *));
	if (!c->f || !c->path || !c->cap_of || !c->tx || !c->ty || !c->lab) {
		rc = svt_err_set(err, SVT_E_NOMEM, "store: no memory for %zu frames", n);
		goto done;
	}
	if (sqlite3_prepare_v2(s->db,
			       "SELECT fid, capture, src, time_us, lat, lon, h, e, n, h_proj, enu_e, "
			       "enu_n, enu_u, heading, w2c, seq, flags, tx, ty, path FROM frames "
			       "ORDER BY fid",
			       -1, &st, NULL) != SQLITE_OK) {
		rc = twin_db_err(s->db, "frames", err);
		goto done;
	}
	size_t i = 0;
	int r;
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		if (i >= n || sqlite3_column_int64(st, 0) != (sqlite3_int64)i + 1 ||
		    sqlite3_column_bytes(st, 14) != 16 * (int)sizeof(double)) {
			rc = svt_err_set(err, SVT_E_FORMAT, "%s: frame %zu is not where it should be",
					 s->db_path, i);
			goto done;
		}
		twin_frame *f = &c->f[i];
		c->cap_of[i] = sqlite3_column_int(st, 1) - 1;
		f->src = sqlite3_column_int(st, 2);
		f->time_us = sqlite3_column_int64(st, 3);
		for (int a = 0; a < 3; a++) {
			f->llh[a] = sqlite3_column_double(st, 4 + a);
			f->proj[a] = sqlite3_column_double(st, 7 + a);
			f->enu[a] = sqlite3_column_double(st, 10 + a);
		}
		f->heading = sqlite3_column_type(st, 13) == SQLITE_NULL ? NAN
									: sqlite3_column_double(st, 13);
		memcpy(f->w2c, sqlite3_column_blob(st, 14), sizeof(f->w2c));
		f->seq = sqlite3_column_int(st, 15);
		f->flags = (unsigned)sqlite3_column_int(st, 16);
		c->tx[i] = sqlite3_column_int(st, 17);
		c->ty[i] = sqlite3_column_int(st, 18);
		const char *p = (const char *)sqlite3_column_text(st, 19);
		if (!(c->path[i] = strdup(p ? p : ""))) {
			rc = svt_err_set(err, SVT_E_NOMEM, "store: no memory");
			goto done;
		}
		c->n = ++i;
	}
	if (r != SQLITE_DONE || i != n) {
		rc = r != SQLITE_DONE ? twin_db_err(s->db, "frames", err)
				      : svt_err_set(err, SVT_E_FORMAT, "%s: %zu frames, meta says %zu",
						    s->db_path, i, n);
		goto done;
	}
	sqlite3_finalize(st);
	st = NULL;
	/* Capture names. */
	if (sqlite3_prepare_v2(s->db, "SELECT fid, name FROM captures ORDER BY fid", -1, &st,
			       NULL) != SQLITE_OK) {
		rc = twin_db_err(s->db, "captures", err);
		goto done;
	}
	/* Indexed by fid - 1: a removed capture (twin_store_remove_capture) leaves a hole. */
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		sqlite3_int64 fid = sqlite3_column_int64(st, 0);
		const char *nm = (const char *)sqlite3_column_text(st, 1);
		while ((sqlite3_int64)c->ncaps < fid) {
			char **cn = realloc(c->cap_names, (c->ncaps + 1) * sizeof(*cn));
			if (cn)
				c->cap_names = cn;
			if (!cn || !(cn[c->ncaps] = strdup((sqlite3_int64)c->ncaps + 1 == fid && nm ?
								   nm : ""))) {
				rc = svt_err_set(err, SVT_E_NOMEM, "store: no memory");
				goto done;
			}
			c->ncaps++;
		}
	}
	sqlite3_finalize(st);
	st = NULL;
	/* Labels, per layer. */
	if (sqlite3_prepare_v2(s->db, "SELECT frame, feature FROM frame_labels WHERE layer = ?", -1,
			       &st, NULL) != SQLITE_OK) {
		rc = twin_db_err(s->db, "frame_labels", err);
		goto done;
	}
	for (size_t k = 0; k < s->nlayers; k++) {
		if (!(c->lab[k] = malloc((n + 1) * sizeof(long)))) {
			rc = svt_err_set(err, SVT_E_NOMEM, "store: no memory");
			goto done;
		}
		c->nlab = k + 1;
		for (size_t j = 0; j < n; j++)
			c->lab[k][j] = -1;
		sqlite3_reset(st);
		sqlite3_bind_text(st, 1, s->layers[k].name, -1, SQLITE_STATIC);
		while (sqlite3_step(st) == SQLITE_ROW) {
			sqlite3_int64 fr = sqlite3_column_int64(st, 0);
			if (fr >= 1 && (size_t)fr <= n)
				c->lab[k][fr - 1] = (long)sqlite3_column_int64(st, 1);
		}
	}
	c->valid = 1;
done:
	sqlite3_finalize(st);
	if (rc)
		frame_cache_free(c);
	return rc;
}

static int tiles_load(twin_store *s, svt_err *err)
{
	if (s->tiles_valid)
		return SVT_OK;
	sqlite3_stmt *st = NULL;
	int rc = SVT_OK, r;
	free(s->tiles);
	s->tiles = NULL;
	s->ntiles = 0;
	size_t cap = 0;
	if (sqlite3_prepare_v2(s->db,
			       "SELECT tx, ty, gen, n_frames, n_points FROM tiles ORDER BY tx, ty",
			       -1, &st, NULL) != SQLITE_OK)
		return twin_db_err(s->db, "tiles", err);
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		if (s->ntiles == cap) {
			cap = cap ? 2 * cap : 256;
			tile *t = realloc(s->tiles, cap * sizeof(*t));
			if (!t) {
				rc = svt_err_set(err, SVT_E_NOMEM, "store: no memory");
				goto done;
			}
			s->tiles = t;
		}
		tile *t = &s->tiles[s->ntiles++];
		t->tx = sqlite3_column_int(st, 0);
		t->ty = sqlite3_column_int(st, 1);
		t->gen = (uint64_t)sqlite3_column_int64(st, 2);
		t->n_frames = (size_t)sqlite3_column_int64(st, 3);
		t->n_points = (size_t)sqlite3_column_int64(st, 4);
	}
	if (r != SQLITE_DONE)
		rc = twin_db_err(s->db, "tiles", err);
	else
		s->tiles_valid = 1;
done:
	sqlite3_finalize(st);
	return rc;
}

/* ---- Layers (read back from their feature tables on first use) ---------------------------- */

int twin_layer_read_table(sqlite3 *db, const char *table, twin_layer **out, svt_err *err);

twin_layer *twin_layer_ref_get(twin_store *s, size_t k, svt_err *err)
{
	if (k >= s->nlayers)
		return NULL;
	if (!s->layers[k].l) {
		char table[96];
		snprintf(table, sizeof(table), "layer_%s", s->layers[k].name);
		if (twin_layer_read_table(s->db, table, &s->layers[k].l, err))
			return NULL;
	}
	return s->layers[k].l;
}

static int layers_load_names(twin_store *s, svt_err *err)
{
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(s->db, "SELECT name FROM twin_layers ORDER BY pos", -1, &st, NULL) !=
	    SQLITE_OK)
		return twin_db_err(s->db, "twin_layers", err);
	int rc = SVT_OK;
	while (sqlite3_step(st) == SQLITE_ROW) {
		layer_ref *lr = realloc(s->layers, (s->nlayers + 1) * sizeof(*lr));
		const char *nm = (const char *)sqlite3_column_text(st, 0);
		if (!lr) {
			rc = svt_err_set(err, SVT_E_NOMEM, "store: no memory");
			break;
		}
		s->layers = lr;
		lr[s->nlayers].l = NULL;
		if (!(lr[s->nlayers].name = strdup(nm ? nm : ""))) {
			rc = svt_err_set(err, SVT_E_NOMEM, "store: no memory");
			break;
		}
		s->nlayers++;
	}
	sqlite3_finalize(st);
	return rc;
}

/* ---- Open / close -------------------------------------------------------------------------- */

void twin_store_close(twin_store *s)
{
	if (!s)
		return;
	twin_cache_drop(s);
	for (size_t k = 0; k < s->nstale; k++)
		free(s->stale[k]);
	free(s->stale);
	for (size_t k = 0; k < s->nlayers; k++) {
		free(s->layers[k].name);
		twin_layer_destroy(s->layers[k].l);
	}
	free(s->layers);
	for (int k = 0; k < TWIN_ST_COUNT; k++)
		sqlite3_finalize(s->st[k]);
	sqlite3_close(s->db);
	geo_crs_destroy(s->crs);
	geo_enu_destroy(s->enu);
	free(s->wkt);
	twin_points_scratch_free(s->scratch);
	twin_points_aux_free(s->fuse_aux, s->fuse_naux);
	free(s->db_path);
	free(s->dir);
	free(s);
}

static int geo_setup(twin_store *s, svt_err *err)
{
	int rc = SVT_OK;
	if (!s->crs && (rc = geo_crs_create(s->epsg, &s->crs, err)))
		return rc;
	if (s->have_origin && !s->enu)
		rc = geo_enu_create(s->origin[0], s->origin[1], s->origin[2], &s->enu, err);
	return rc;
}

static int db_open(twin_store *s, const char *path, int flags, svt_err *err)
{
	if (sqlite3_open_v2(path, &s->db, flags, NULL) != SQLITE_OK) {
		int rc = svt_err_set(err, SVT_E_IO, "%s: %s", path,
				     s->db ? sqlite3_errmsg(s->db) : "cannot open");
		sqlite3_close(s->db);
		s->db = NULL;
		return rc;
	}
	sqlite3_busy_timeout(s->db, 30000);
	sqlite3_extended_result_codes(s->db, 1);
	return SVT_OK;
}

/* Reads twin_meta into s; SVT_E_FORMAT when the file is not a store of this version. */
static int meta_load(twin_store *s, svt_err *err)
{
	sqlite3_stmt *st = NULL;
	int seen = 0, rc = SVT_OK;
	if (sqlite3_prepare_v2(s->db, "SELECT key, value FROM twin_meta", -1, &st, NULL) !=
	    SQLITE_OK)
		return svt_err_set(err, SVT_E_FORMAT, "%s is not an svtwin twin: %s", s->db_path,
				   sqlite3_errmsg(s->db));
	const char *fmt = "";
	long long version = 0;
	char fmtbuf[32] = "";
	double org[3] = {NAN, NAN, NAN};
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *k = (const char *)sqlite3_column_text(st, 0);
		if (!k)
			continue;
		if (!strcmp(k, "format")) {
			const char *v = (const char *)sqlite3_column_text(st, 1);
			snprintf(fmtbuf, sizeof(fmtbuf), "%s", v ? v : "");
			fmt = fmtbuf;
		} else if (!strcmp(k, "version"))
			version = sqlite3_column_int64(st, 1);
		else if (!strcmp(k, "crs_epsg"))
			s->epsg = sqlite3_column_int(st, 1), seen |= 1;
		else if (!strcmp(k, "tile_m"))
			s->tile_m = sqlite3_column_double(st, 1), seen |= 2;
		else if (!strcmp(k, "voxel_m"))
			s->voxel_m = sqlite3_column_double(st, 1), seen |= 4;
		else if (!strcmp(k, "gen"))
			s->gen = (uint64_t)sqlite3_column_int64(st, 1), seen |= 8;
		else if (!strcmp(k, "frames"))
			s->nf = (size_t)sqlite3_column_int64(st, 1), seen |= 16;
		else if (!strcmp(k, "seq_next"))
			s->seq_next = sqlite3_column_int(st, 1);
		else if (!strcmp(k, "origin_lat") && sqlite3_column_type(st, 1) != SQLITE_NULL)
			org[0] = sqlite3_column_double(st, 1);
		else if (!strcmp(k, "origin_lon") && sqlite3_column_type(st, 1) != SQLITE_NULL)
			org[1] = sqlite3_column_double(st, 1);
		else if (!strcmp(k, "origin_h") && sqlite3_column_type(st, 1) != SQLITE_NULL)
			org[2] = sqlite3_column_double(st, 1);
	}
	sqlite3_finalize(st);
	if (strcmp(fmt, STORE_FORMAT) != 0 || version != STORE_VERSION || seen != 31 ||
	    s->epsg <= 0 || !(s->tile_m > 0) || !(s->voxel_m > 0))
		return svt_err_set(err, SVT_E_FORMAT, "%s: not an %s v%d store", s->db_path,
				   STORE_FORMAT, STORE_VERSION);
	if (isfinite(org[0]) && isfinite(org[1]) && isfinite(org[2])) {
		memcpy(s->origin, org, sizeof(org));
		s->have_origin = 1;
	}
	return rc;
}

/* Creates a new store file: built under a temporary name and renamed, so a killed creation
 * leaves no half store under the final name. */
static int store_create(twin_store *s, const twin_store_opts *o, svt_err *err)
{
	char tmp[4200];
	snprintf(tmp, sizeof(tmp), "%s.tmp", s->db_path);
	unlink(tmp);
	int rc;
	if ((rc = db_open(s, tmp, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, err)))
		return rc;
	s->epsg = o->epsg;
	s->tile_m = o->tile_m;
	s->voxel_m = o->voxel_m;
	s->have_origin = o->have_origin;
	memcpy(s->origin, o->origin_llh, sizeof(s->origin));
	if ((rc = twin_db_exec(s->db, "PRAGMA journal_mode = WAL; BEGIN", err)) ||
	    (rc = twin_gpkg_create_schema(s->db, s->epsg, err)))
		goto done;
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(s->db,
			       "INSERT INTO twin_meta(key, value) VALUES ('format', ?), "
			       "('version', ?), ('crs_epsg', ?), ('tile_m', ?), ('voxel_m', ?)",
			       -1, &st, NULL) != SQLITE_OK) {
		rc = twin_db_err(s->db, "twin_meta", err);
		goto done;
	}
	sqlite3_bind_text(st, 1, STORE_FORMAT, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, STORE_VERSION);
	sqlite3_bind_int(st, 3, s->epsg);
	sqlite3_bind_double(st, 4, s->tile_m);
	sqlite3_bind_double(st, 5, s->voxel_m);
	int r = sqlite3_step(st);
	sqlite3_finalize(st);
	if (r != SQLITE_DONE) {
		rc = twin_db_err(s->db, "twin_meta", err);
		goto done;
	}
	if ((rc = twin_meta_put_gen(s, err)) || (rc = meta_put_origin(s, err)) ||
	    (rc = twin_db_exec(s->db, "COMMIT", err)))
		goto done;
done:
	for (int k = 0; k < TWIN_ST_COUNT; k++) {
		sqlite3_finalize(s->st[k]);
		s->st[k] = NULL;
	}
	sqlite3_close(s->db);
	s->db = NULL;
	if (!rc && rename(tmp, s->db_path) != 0)
		rc = svt_err_set(err, SVT_E_IO, "rename %s: %s", tmp, strerror(errno));
	if (rc)
		unlink(tmp);
	return rc;
}

/* A store of the earlier JSON layout (twin.json and frames files) is refused with the command
 * that migrates it (twin_store_migrate). */
static int legacy_check(const char *dir, svt_err *err)
{
	char p[4200];
	snprintf(p, sizeof(p), "%s/twin.json", dir);
	struct stat st;
	if (stat(p, &st) != 0)
		return SVT_OK;
	json_error_t je;
	json_t *j = json_load_file(p, 0, &je);
	const char *fmt = json_string_value(json_object_get(j, "format"));
	int legacy = fmt && strcmp(fmt, STORE_FORMAT) == 0;
	json_decref(j);
	if (legacy)
		return svt_err_set(err, SVT_E_FORMAT,
				   "%s is a twin store of the JSON layout (version 1); migrate it "
				   "with: svtwin twin migrate %s",
				   dir, dir);
	return svt_err_set(err, SVT_E_FORMAT, "%s: twin.json is not an svtwin twin", dir);
}

int twin_store_open(const char *dir, const twin_store_opts *opts, twin_store **out,
		    svt_err *err)
{
	if (!dir || !out)
		return svt_err_set(err, SVT_E_INPUT, "twin_store_open: NULL argument");
	*out = NULL;
	twin_store_opts o;
	twin_store_opts_default(&o);
	if (opts)
		o = *opts;
	twin_store *s = calloc(1, sizeof(*s));
	if (!s)
		return svt_err_set(err, SVT_E_NOMEM, "store: no memory");
	int rc = SVT_OK;
	char p[4200];
	struct stat st;
	if (!(s->dir = strdup(dir)) ||
	    snprintf(p, sizeof(p), "%s/%s", dir, TWIN_GPKG_NAME) >= (int)sizeof(p) ||
	    !(s->db_path = strdup(p))) {
		rc = svt_err_set(err, SVT_E_NOMEM, "store: no memory or path too long");
		goto done;
	}
	if (stat(s->db_path, &st) != 0) {
		if ((rc = legacy_check(dir, err)))
			goto done;
		if (o.no_create) {
			rc = svt_err_set(err, SVT_E_NOTFOUND, "%s is not a twin store (no %s)", dir,
					 TWIN_GPKG_NAME);
			goto done;
		}
		if (o.epsg <= 0 || !(o.tile_m > 0) || !isfinite(o.tile_m) || !(o.voxel_m > 0) ||
		    !isfinite(o.voxel_m)) {
			rc = svt_err_set(err, SVT_E_INPUT,
					 "store options: EPSG %d, tile %g m, voxel %g m", o.epsg,
					 o.tile_m, o.voxel_m);
			goto done;
		}
		char pts[4200];
		snprintf(pts, sizeof(pts), "%s/%s", dir, TWIN_POINTS_DIR);
		if ((rc = svt_mkdirs(dir, err)) || (rc = svt_mkdirs(pts, err)) ||
		    (rc = store_create(s, &o, err)))
			goto done;
	}
	/* A store the process may not write (a read-only copy, another user's) opens read-only:
	 * queries work, mutations fail with the database's message. */
	svt_err first = {0};
	if (db_open(s, s->db_path, SQLITE_OPEN_READWRITE, &first) &&
	    (rc = db_open(s, s->db_path, SQLITE_OPEN_READONLY, err)))
		goto done;
	/* WAL (set at creation): readers see the last commit while a writer works; FULL: a
	 * commit survives a killed process and a power cut. */
	if ((rc = meta_load(s, err)) ||
	    (rc = twin_db_exec(s->db, "PRAGMA synchronous = FULL;", err)) ||
	    (rc = geo_setup(s, err)) ||
	    (rc = layers_load_names(s, err)))
		goto done;
done:
	if (rc) {
		twin_store_close(s);
		return rc;
	}
	*out = s;
	return SVT_OK;
}

/* ---- Accessors ------------------------------------------------------------------------------ */

int twin_store_epsg(const twin_store *s) { return s ? s->epsg : 0; }
double twin_store_tile_m(const twin_store *s) { return s ? s->tile_m : 0.0; }
void twin_store_origin(const twin_store *s, double llh[3])
{
	if (s && llh)
		memcpy(llh, s->origin, sizeof(s->origin));
}
uint64_t twin_store_generation(const twin_store *s) { return s ? s->gen : 0; }
size_t twin_store_frame_count(const twin_store *s) { return s ? s->nf : 0; }
const char *twin_store_path(const twin_store *s) { return s ? s->db_path : ""; }

/* The accessors below read the frames into memory on first use: a store is used by one
 * thread at a time, so the cache may be filled behind a const pointer. */
static const frame_cache *fcache(const twin_store *s)
{
	svt_err tmp = {0};
	if (!s || twin_cache_frames((twin_store *)s, &tmp))
		return NULL;
	return &s->fc;
}

const twin_frame *twin_store_frames(const twin_store *s)
{
	const frame_cache *c = fcache(s);
	return c ? c->f : NULL;
}
const char *twin_store_frame_path(const twin_store *s, size_t i)
{
	const frame_cache *c = fcache(s);
	return c && i < s->nf && c->path[i] ? c->path[i] : "";
}
const char *twin_store_frame_capture(const twin_store *s, size_t i)
{
	const frame_cache *c = fcache(s);
	if (!c || i >= s->nf || c->cap_of[i] < 0 || (size_t)c->cap_of[i] >= c->ncaps)
		return "";
	return c->cap_names[c->cap_of[i]];
}
void twin_store_frame_tile(const twin_store *s, size_t i, int *tx, int *ty)
{
	const frame_cache *c = fcache(s);
	if (!c || i >= s->nf)
		return;
	if (tx)
		*tx = c->tx[i];
	if (ty)
		*ty = c->ty[i];
}
size_t twin_store_layer_count(const twin_store *s) { return s ? s->nlayers : 0; }
const char *twin_store_layer_name(const twin_store *s, size_t k)
{
	return s && k < s->nlayers ? s->layers[k].name : "";
}
const twin_layer *twin_store_layer(const twin_store *s, size_t k)
{
	svt_err tmp = {0};
	return s ? twin_layer_ref_get((twin_store *)s, k, &tmp) : NULL;
}
const char *twin_store_frame_label(const twin_store *s, size_t i, size_t k)
{
	const frame_cache *c = fcache(s);
	if (!c || i >= s->nf || k >= s->nlayers || k >= c->nlab || c->lab[k][i] < 0)
		return "";
	const twin_layer *l = twin_store_layer(s, k);
	return l ? twin_layer_name(l, (size_t)c->lab[k][i]) : "";
}
size_t twin_store_tile_count(const twin_store *s)
{
	svt_err tmp = {0};
	if (!s || tiles_load((twin_store *)s, &tmp))
		return 0;
	return s->ntiles;
}
int twin_store_tile(const twin_store *s, size_t k, twin_tile_info *out)
{
	if (!s || !out || k >= twin_store_tile_count(s))
		return SVT_E_INPUT;
	out->tx = s->tiles[k].tx;
	out->ty = s->tiles[k].ty;
	out->gen = s->tiles[k].gen;
	out->n_frames = s->tiles[k].n_frames;
	out->n_points = s->tiles[k].n_points;
	return SVT_OK;
}

int twin_store_frame_record(const twin_store *s, size_t i, twin_frame_record *out, svt_err *err)
{
	if (!s || !out)
		return svt_err_set(err, SVT_E_INPUT, "twin_store_frame_record: NULL argument");
	if (i >= s->nf)
		return svt_err_set(err, SVT_E_INPUT, "frame %zu of %zu", i, s->nf);
	sqlite3_stmt *st = twin_stmt(
		(twin_store *)s, ST_FRAME_RECORD,
		"SELECT f.src, f.time_us, f.lat, f.lon, f.h, f.e, f.n, f.h_proj, f.enu_e, f.enu_n, "
		"f.enu_u, f.heading, f.w2c, f.seq, f.flags, f.tx, f.ty, c.name, f.path, f.labels "
		"FROM frames f JOIN captures c ON c.fid = f.capture WHERE f.fid = ?",
		err);
	if (!st)
		return SVT_E_IO;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)i + 1);
	if (sqlite3_step(st) != SQLITE_ROW || sqlite3_column_bytes(st, 12) != 16 * (int)sizeof(double)) {
		sqlite3_reset(st);
		return svt_err_set(err, SVT_E_FORMAT, "%s: frame %zu is missing", s->db_path, i);
	}
	memset(out, 0, sizeof(*out));
	twin_frame *f = &out->f;
	f->src = sqlite3_column_int(st, 0);
	f->time_us = sqlite3_column_int64(st, 1);
	for (int a = 0; a < 3; a++) {
		f->llh[a] = sqlite3_column_double(st, 2 + a);
		f->proj[a] = sqlite3_column_double(st, 5 + a);
		f->enu[a] = sqlite3_column_double(st, 8 + a);
	}
	f->heading = sqlite3_column_type(st, 11) == SQLITE_NULL ? NAN : sqlite3_column_double(st, 11);
	memcpy(f->w2c, sqlite3_column_blob(st, 12), sizeof(f->w2c));
	f->seq = sqlite3_column_int(st, 13);
	f->flags = (unsigned)sqlite3_column_int(st, 14);
	out->tx = sqlite3_column_int(st, 15);
	out->ty = sqlite3_column_int(st, 16);
	const char *c = (const char *)sqlite3_column_text(st, 17);
	const char *p = (const char *)sqlite3_column_text(st, 18);
	const char *l = (const char *)sqlite3_column_text(st, 19);
	snprintf(out->capture, sizeof(out->capture), "%s", c ? c : "");
	snprintf(out->path, sizeof(out->path), "%s", p ? p : "");
	snprintf(out->labels, sizeof(out->labels), "%s", l ? l : "{}");
	sqlite3_reset(st);
	return SVT_OK;
}

int twin_store_capture_find(const twin_store *s, const char *name, size_t *first, size_t *n)
{
	if (!s || !name)
		return 0;
	sqlite3_stmt *st = NULL;
	int found = 0;
	if (sqlite3_prepare_v2(s->db, "SELECT first_frame, frame_count FROM captures WHERE name = ?",
			       -1, &st, NULL) != SQLITE_OK)
		return 0;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW) {
		found = 1;
		if (first)
			*first = (size_t)sqlite3_column_int64(st, 0);
		if (n)
			*n = (size_t)sqlite3_column_int64(st, 1);
	}
	sqlite3_finalize(st);
	return found;
}

/* ---- Adding a capture ----------------------------------------------------------------------- */

/* Rotation ECEF -> ENU at (lat, lon) degrees, row-major. */
static void ecef_to_enu_R(double lat, double lon, double R[9])
{
	double p = lat * M_PI / 180.0, l = lon * M_PI / 180.0;
	double sp = sin(p), cp = cos(p), sl = sin(l), cl = cos(l);
	double r[9] = {-sl, cl, 0, -sp * cl, -sp * sl, cp, cp * cl, cp * sl, sp};
	memcpy(R, r, sizeof(r));
}

int twin_enu_change(twin_store *s, const double a[3], double M[9], double t[3], svt_err *err)
{
	double Ra[9], Rs[9];
	ecef_to_enu_R(a[0], a[1], Ra);
	ecef_to_enu_R(s->origin[0], s->origin[1], Rs);
	for (int i = 0; i < 3; i++)
		for (int j = 0; j < 3; j++) {
			double v = 0;
			for (int k = 0; k < 3; k++)
				v += Rs[3 * i + k] * Ra[3 * j + k]; /* Rs Ra^T */
			M[3 * i + j] = v;
		}
	double x = a[1], y = a[0], z = a[2];
	int rc = geo_enu_forward(s->enu, &x, &y, &z, sizeof(double), 1, err);
	t[0] = x;
	t[1] = y;
	t[2] = z;
	return rc;
}

/* Fills proj and enu of f[0..n) from their llh, and their tiles. */
static int frames_georef(twin_store *s, twin_frame *f, size_t n, int *tx, int *ty, svt_err *err)
{
	double *xyz = malloc((n ? n : 1) * 3 * sizeof(double));
	if (!xyz)
		return svt_err_set(err, SVT_E_NOMEM, "store: no memory");
	int rc = SVT_OK;
	for (int pass = 0; pass < 2 && !rc; pass++) {
		for (size_t i = 0; i < n; i++) {
			xyz[3 * i] = f[i].llh[1];
			xyz[3 * i + 1] = f[i].llh[0];
			xyz[3 * i + 2] = f[i].llh[2];
		}
		rc = pass == 0 ? geo_crs_forward(s->crs, xyz, xyz + 1, xyz + 2, 3 * sizeof(double), n, err)
			       : geo_enu_forward(s->enu, xyz, xyz + 1, xyz + 2, 3 * sizeof(double), n, err);
		for (size_t i = 0; !rc && i < n; i++)
			memcpy(pass == 0 ? f[i].proj : f[i].enu, xyz + 3 * i, 3 * sizeof(double));
	}
	free(xyz);
	for (size_t i = 0; !rc && i < n; i++)
		if (twin_tile_of(s, f[i].proj[0], f[i].proj[1], &tx[i], &ty[i]))
			rc = svt_err_set(err, SVT_E_INPUT, "frame %zu has no usable projected position", i);
	return rc;
}

/* Re-expresses the poses of f[0..n), given in the ENU frame at a, in the store's. */
static int poses_rebase(twin_store *s, twin_frame *f, size_t n, const double a[3], svt_err *err)
{
	double M[9], t[3];
	int rc = twin_enu_change(s, a, M, t, err);
	if (rc)
		return rc;
	for (size_t i = 0; i < n; i++) {
		double *w = f[i].w2c, R2[9], t2[3];
		/* x_cam = R x_a + tc, x_a = M^T (x_s - t): R' = R M^T, t' = tc - R' t. */
		for (int r = 0; r < 3; r++)
			for (int c = 0; c < 3; c++) {
				double v = 0;
				for (int k = 0; k < 3; k++)
					v += w[4 * r + k] * M[3 * c + k];
				R2[3 * r + c] = v;
			}
		for (int r = 0; r < 3; r++)
			t2[r] = w[4 * r + 3] -
				(R2[3 * r] * t[0] + R2[3 * r + 1] * t[1] + R2[3 * r + 2] * t[2]);
		for (int r = 0; r < 3; r++) {
			for (int c = 0; c < 3; c++)
				w[4 * r + c] = R2[3 * r + c];
			w[4 * r + 3] = t2[r];
		}
		w[12] = w[13] = w[14] = 0.0;
		w[15] = 1.0;
	}
	return SVT_OK;
}

/* The frame's labels as a JSON object {layer: name} for the frames table (for people and
 * QGIS; queries use frame_labels). *out malloc'd. */
static char *labels_json(twin_store *s, const long *lab)
{
	json_t *o = json_object();
	for (size_t k = 0; o && k < s->nlayers; k++) {
		svt_err tmp = {0};
		const twin_layer *l = twin_layer_ref_get(s, k, &tmp);
		json_object_set_new(o, s->layers[k].name,
				    json_string(l && lab[k] >= 0 ? twin_layer_name(l, (size_t)lab[k])
								 : ""));
	}
	char *t = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(o);
	return t;
}

static void time_utc(int64_t us, char *buf, size_t cap)
{
	time_t t = (time_t)(us >= 0 ? us / 1000000 : (us - 999999) / 1000000);
	struct tm tm;
	if (!gmtime_r(&t, &tm) || !strftime(buf, cap, "%Y-%m-%dT%H:%M:%S", &tm)) {
		buf[0] = 0;
		return;
	}
	size_t l = strlen(buf);
	snprintf(buf + l, cap - l, ".%06lldZ", (long long)(us - (int64_t)t * 1000000));
}

static int label_insert(twin_store *s, const char *layer, size_t frame, long feature,
			svt_err *err)
{
	sqlite3_stmt *st = twin_stmt(s, ST_LABEL_INSERT,
				     "INSERT OR REPLACE INTO frame_labels(layer, frame, feature) "
				     "VALUES (?, ?, ?)",
				     err);
	if (!st)
		return SVT_E_IO;
	sqlite3_bind_text(st, 1, layer, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)frame + 1);
	sqlite3_bind_int64(st, 3, feature);
	if (sqlite3_step(st) != SQLITE_DONE)
		return twin_db_err(s->db, "frame_labels", err);
	return SVT_OK;
}

static int pair_cmp(const void *a, const void *b)
{
	const int *p = a, *q = b;
	if (p[0] != q[0])
		return p[0] < q[0] ? -1 : 1;
	return p[1] < q[1] ? -1 : (p[1] > q[1]);
}

/* Inserts frames f[0..n) of capture cap (fid) as store indices s->nf.. and their R*Tree
 * rows and labels; then the tiles they fall in. Inside the caller's transaction. */
static int frames_insert(twin_store *s, sqlite3_int64 cap, const twin_frame *f, size_t n,
			 const int *tx, const int *ty, const char *const *paths, svt_err *err)
{
	int rc = SVT_OK;
	long *lab = calloc(s->nlayers + 1, sizeof(long));
	int *txy = malloc((n ? n : 1) * 2 * sizeof(int));
	if (!lab || !txy) {
		rc = svt_err_set(err, SVT_E_NOMEM, "store: no memory");
		goto done;
	}
	for (size_t k = 0; k < s->nlayers; k++)
		if (!twin_layer_ref_get(s, k, err)) {
			rc = err ? err->code : SVT_E_FORMAT;
			goto done;
		}
	sqlite3_stmt *st = twin_stmt(
		s, ST_FRAME_INSERT,
		"INSERT INTO frames(fid, geom, capture, src, time_us, time_utc, lat, lon, h, e, n, "
		"h_proj, enu_e, enu_n, enu_u, heading, w2c, seq, flags, tx, ty, path, labels) "
		"VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, "
		"?18, ?19, ?20, ?21, ?22, ?23)",
		err);
	if (!st) {
		rc = SVT_E_IO;
		goto done;
	}
	for (size_t i = 0; i < n; i++) {
		sqlite3_int64 fid = (sqlite3_int64)(s->nf + i) + 1;
		uint8_t blob[64];
		char tbuf[48];
		size_t nb = twin_gpkg_point_blob(blob, s->epsg, f[i].proj[0], f[i].proj[1],
						 f[i].proj[2]);
		for (size_t k = 0; k < s->nlayers; k++)
			lab[k] = twin_layer_locate(s->layers[k].l, f[i].llh[0], f[i].llh[1]);
		char *lj = s->nlayers ? labels_json(s, lab) : NULL;
		time_utc(f[i].time_us, tbuf, sizeof(tbuf));
		sqlite3_reset(st);
		sqlite3_bind_int64(st, 1, fid);
		sqlite3_bind_blob(st, 2, blob, (int)nb, SQLITE_TRANSIENT);
		sqlite3_bind_int64(st, 3, cap);
		sqlite3_bind_int(st, 4, f[i].src);
		sqlite3_bind_int64(st, 5, f[i].time_us);
		sqlite3_bind_text(st, 6, tbuf, -1, SQLITE_TRANSIENT);
		for (int a = 0; a < 3; a++) {
			sqlite3_bind_double(st, 7 + a, f[i].llh[a]);
			sqlite3_bind_double(st, 10 + a, f[i].proj[a]);
			sqlite3_bind_double(st, 13 + a, f[i].enu[a]);
		}
		if (isfinite(f[i].heading))
			sqlite3_bind_double(st, 16, f[i].heading);
		else
			sqlite3_bind_null(st, 16);
		sqlite3_bind_blob(st, 17, f[i].w2c, (int)sizeof(f[i].w2c), SQLITE_TRANSIENT);
		sqlite3_bind_int(st, 18, f[i].seq);
		sqlite3_bind_int(st, 19, (int)f[i].flags);
		sqlite3_bind_int(st, 20, tx[i]);
		sqlite3_bind_int(st, 21, ty[i]);
		sqlite3_bind_text(st, 22, paths && paths[i] ? paths[i] : "", -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 23, lj ? lj : "{}", -1, SQLITE_TRANSIENT);
		free(lj);
		if (sqlite3_step(st) != SQLITE_DONE) {
			rc = twin_db_err(s->db, "frames", err);
			goto done;
		}
		sqlite3_stmt *rt = twin_stmt(s, ST_FRAME_RTREE,
					     "INSERT INTO rtree_frames_geom VALUES (?, ?, ?, ?, ?)", err);
		if (!rt) {
			rc = SVT_E_IO;
			goto done;
		}
		sqlite3_bind_int64(rt, 1, fid);
		sqlite3_bind_double(rt, 2, f[i].proj[0]);
		sqlite3_bind_double(rt, 3, f[i].proj[0]);
		sqlite3_bind_double(rt, 4, f[i].proj[1]);
		sqlite3_bind_double(rt, 5, f[i].proj[1]);
		if (sqlite3_step(rt) != SQLITE_DONE) {
			rc = twin_db_err(s->db, "rtree_frames_geom", err);
			goto done;
		}
		for (size_t k = 0; k < s->nlayers; k++)
			if (lab[k] >= 0 && (rc = label_insert(s, s->layers[k].name, s->nf + i, lab[k], err)))
				goto done;
		txy[2 * i] = tx[i];
		txy[2 * i + 1] = ty[i];
	}
	qsort(txy, n, 2 * sizeof(int), pair_cmp);
	for (size_t a = 0; a < n;) {
		size_t b = a;
		while (b < n && !pair_cmp(&txy[2 * a], &txy[2 * b]))
			b++;
		if ((rc = twin_tile_upsert(s, txy[2 * a], txy[2 * a + 1], s->gen + 1, b - a, -1, NULL,
					   err)))
			goto done;
		a = b;
	}
done:
	free(lab);
	free(txy);
	return rc;
}

int twin_store_add_capture(twin_store *s, const twin_capture_in *in, size_t *first,
			   svt_err *err)
{
	if (!s || !in || (in->n && !in->frames))
		return svt_err_set(err, SVT_E_INPUT, "twin_store_add_capture: NULL argument");
	if (!in->name || !*in->name)
		return svt_err_set(err, SVT_E_INPUT, "a capture needs a name");
	if (twin_store_capture_find(s, in->name, NULL, NULL))
		return svt_err_set(err, SVT_E_INPUT, "capture %s is already in the store", in->name);
	for (size_t i = 0; i < in->n; i++) {
		const double *llh = in->frames[i].llh;
		if (!isfinite(llh[0]) || !isfinite(llh[1]) || !isfinite(llh[2]) || fabs(llh[0]) > 90 ||
		    fabs(llh[1]) > 180)
			return svt_err_set(err, SVT_E_INPUT, "capture %s frame %zu: bad position",
					   in->name, i);
		for (int k = 0; in->enu_origin_llh && k < 16; k++)
			if (!isfinite(in->frames[i].w2c[k]))
				return svt_err_set(err, SVT_E_INPUT, "capture %s frame %zu: bad pose",
						   in->name, i);
		if (!in->enu_origin_llh && !isfinite(in->frames[i].heading))
			return svt_err_set(err, SVT_E_INPUT,
					   "capture %s frame %zu: no heading to build its pose from",
					   in->name, i);
	}
	int rc = SVT_OK, had_origin = s->have_origin, began = 0;
	twin_frame *f = malloc((in->n ? in->n : 1) * sizeof(*f));
	int *tx = malloc((in->n ? in->n : 1) * sizeof(int)), *ty = malloc((in->n ? in->n : 1) * sizeof(int));
	sqlite3_stmt *st = NULL;
	if (!f || !tx || !ty) {
		rc = svt_err_set(err, SVT_E_NOMEM, "store: no memory");
		goto done;
	}
	if (!s->have_origin && in->n) {
		memcpy(s->origin, in->frames[0].llh, sizeof(s->origin));
		s->have_origin = 1;
		if ((rc = geo_setup(s, err)))
			goto done;
	}
	if (in->n && !s->enu) {
		rc = svt_err_set(err, SVT_E_INPUT, "store has no ENU origin");
		goto done;
	}
	int seq_min = 0, seq_max = -1;
	for (size_t i = 0; i < in->n; i++)
		if (in->frames[i].seq < seq_min)
			seq_min = in->frames[i].seq;
	for (size_t i = 0; i < in->n; i++) {
		f[i] = in->frames[i];
		f[i].seq = in->frames[i].seq - seq_min + s->seq_next;
		if (f[i].seq > seq_max)
			seq_max = f[i].seq;
	}
	if ((rc = frames_georef(s, f, in->n, tx, ty, err)))
		goto done;
	if (in->enu_origin_llh) {
		if ((rc = poses_rebase(s, f, in->n, in->enu_origin_llh, err)))
			goto done;
	} else {
		for (size_t i = 0; i < in->n; i++)
			if ((rc = geo_pose_from_gps(s->enu, f[i].llh[0], f[i].llh[1], f[i].llh[2],
						    f[i].heading, 0.0, 0.0, f[i].w2c, err)))
				goto done;
	}
	if ((rc = twin_tx_begin(s, err)))
		goto done;
	began = 1;
	sqlite3_int64 cap_fid = 0;
	if (sqlite3_prepare_v2(s->db,
			       "INSERT INTO captures(name, source, first_frame, frame_count, gen, "
			       "added_utc) VALUES (?, ?, ?, ?, ?, strftime('%Y-%m-%dT%H:%M:%SZ','now'))",
			       -1, &st, NULL) != SQLITE_OK) {
		rc = twin_db_err(s->db, "captures", err);
		goto done;
	}
	sqlite3_bind_text(st, 1, in->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, in->source ? in->source : "", -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)s->nf);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)in->n);
	sqlite3_bind_int64(st, 5, (sqlite3_int64)s->gen + 1);
	if (sqlite3_step(st) != SQLITE_DONE) {
		rc = twin_db_err(s->db, "captures", err);
		goto done;
	}
	cap_fid = sqlite3_last_insert_rowid(s->db);
	if ((rc = frames_insert(s, cap_fid, f, in->n, tx, ty, in->paths, err)))
		goto done;
	size_t old_nf = s->nf;
	int old_seq = s->seq_next;
	s->gen++;
	s->nf += in->n;
	if (seq_max >= s->seq_next)
		s->seq_next = seq_max + 1;
	double fb[4] = {INFINITY, INFINITY, -INFINITY, -INFINITY}, tb[4];
	for (size_t i = 0; i < in->n; i++) {
		fb[0] = fmin(fb[0], f[i].proj[0]);
		fb[1] = fmin(fb[1], f[i].proj[1]);
		fb[2] = fmax(fb[2], f[i].proj[0]);
		fb[3] = fmax(fb[3], f[i].proj[1]);
	}
	tb[0] = floor(fb[0] / s->tile_m) * s->tile_m;
	tb[1] = floor(fb[1] / s->tile_m) * s->tile_m;
	tb[2] = (floor(fb[2] / s->tile_m) + 1) * s->tile_m;
	tb[3] = (floor(fb[3] / s->tile_m) + 1) * s->tile_m;
	if ((!had_origin && (rc = meta_put_origin(s, err))) || (rc = twin_meta_put_gen(s, err)) ||
	    (rc = twin_gpkg_touch(s->db, "frames", in->n ? fb : NULL, err)) ||
	    (rc = twin_gpkg_touch(s->db, "tiles", in->n ? tb : NULL, err)) ||
	    (rc = twin_tx_commit(s, err))) {
		s->gen--;
		s->nf = old_nf;
		s->seq_next = old_seq;
		goto done;
	}
	began = 0;
	twin_cache_drop(s);
	if (first)
		*first = old_nf;
done:
	sqlite3_finalize(st);
	if (rc) {
		if (began)
			twin_tx_rollback(s);
		if (!had_origin) {
			s->have_origin = 0;
			geo_enu_destroy(s->enu);
			s->enu = NULL;
		}
	}
	free(f);
	free(tx);
	free(ty);
	return rc;
}

/* A capture of a v1 store (twin_migrate.c): frames as they were stored (positions, poses,
 * sequences unchanged), labelled with the store's layers; one transaction. */
int twin_store_import_capture(twin_store *s, const char *name, const char *source,
			      const twin_frame *f, size_t n, const char *const *paths, svt_err *err)
{
	if (!name || twin_store_capture_find(s, name, NULL, NULL))
		return svt_err_set(err, SVT_E_FORMAT, "capture %s: no name or twice", name ? name : "");
	int *tx = malloc((n ? n : 1) * sizeof(int)), *ty = malloc((n ? n : 1) * sizeof(int));
	sqlite3_stmt *st = NULL;
	int rc = tx && ty ? SVT_OK : svt_err_set(err, SVT_E_NOMEM, "no memory"), seq_max = -1;
	for (size_t i = 0; !rc && i < n; i++) {
		if (twin_tile_of(s, f[i].proj[0], f[i].proj[1], &tx[i], &ty[i]))
			rc = svt_err_set(err, SVT_E_FORMAT, "capture %s frame %zu: bad position", name, i);
		if (f[i].seq > seq_max)
			seq_max = f[i].seq;
	}
	if (rc || (rc = twin_tx_begin(s, err)))
		goto done;
	if (sqlite3_prepare_v2(s->db,
			       "INSERT INTO captures(name, source, first_frame, frame_count, gen, "
			       "added_utc) VALUES (?, ?, ?, ?, ?, strftime('%Y-%m-%dT%H:%M:%SZ','now'))",
			       -1, &st, NULL) != SQLITE_OK) {
		rc = twin_db_err(s->db, "captures", err);
		goto fail;
	}
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, source ? source : "", -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)s->nf);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)n);
	sqlite3_bind_int64(st, 5, (sqlite3_int64)s->gen + 1);
	if (sqlite3_step(st) != SQLITE_DONE) {
		rc = twin_db_err(s->db, "captures", err);
		goto fail;
	}
	if ((rc = frames_insert(s, sqlite3_last_insert_rowid(s->db), f, n, tx, ty, paths, err)))
		goto fail;
	s->gen++;
	s->nf += n;
	int old_seq = s->seq_next;
	if (seq_max >= s->seq_next)
		s->seq_next = seq_max + 1;
	double fb[4] = {INFINITY, INFINITY, -INFINITY, -INFINITY};
	for (size_t i = 0; i < n; i++) {
		fb[0] = fmin(fb[0], f[i].proj[0]);
		fb[1] = fmin(fb[1], f[i].proj[1]);
		fb[2] = fmax(fb[2], f[i].proj[0]);
		fb[3] = fmax(fb[3], f[i].proj[1]);
	}
	if ((rc = twin_meta_put_gen(s, err)) ||
	    (rc = twin_gpkg_touch(s->db, "frames", n ? fb : NULL, err)) ||
	    (rc = twin_gpkg_touch(s->db, "tiles", NULL, err)) || (rc = twin_tx_commit(s, err))) {
		s->gen--;
		s->nf -= n;
		s->seq_next = old_seq;
		goto fail;
	}
	twin_cache_drop(s);
	goto done;
fail:
	twin_tx_rollback(s);
done:
	sqlite3_finalize(st);
	free(tx);
	free(ty);
	return rc;
}

/* ---- Layers ------------------------------------------------------------------------------- */

int twin_layer_write_table(sqlite3 *db, const twin_layer *l, const char *table, svt_err *err);

/* Relabels every frame with layer k (frame_labels rows and the frames' labels column). */
static int relabel_all(twin_store *s, size_t k, svt_err *err)
{
	sqlite3_stmt *sel = NULL, *up = NULL;
	int rc = SVT_OK;
	long *lab = calloc(s->nlayers + 1, sizeof(long));
	char *del = sqlite3_mprintf("DELETE FROM frame_labels WHERE layer = %Q", s->layers[k].name);
	if (!lab || !del) {
		rc = svt_err_set(err, SVT_E_NOMEM, "store: no memory");
		goto done;
	}
	for (size_t j = 0; j < s->nlayers; j++)
		if (!twin_layer_ref_get(s, j, err)) {
			rc = err ? err->code : SVT_E_FORMAT;
			goto done;
		}
	if ((rc = twin_db_exec(s->db, del, err)))
		goto done;
	if (sqlite3_prepare_v2(s->db, "SELECT fid, lat, lon FROM frames ORDER BY fid", -1, &sel,
			       NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(s->db, "UPDATE frames SET labels = ? WHERE fid = ?", -1, &up, NULL) !=
		    SQLITE_OK) {
		rc = twin_db_err(s->db, "frames", err);
		goto done;
	}
	while (sqlite3_step(sel) == SQLITE_ROW) {
		sqlite3_int64 fid = sqlite3_column_int64(sel, 0);
		double lat = sqlite3_column_double(sel, 1), lon = sqlite3_column_double(sel, 2);
		for (size_t j = 0; j < s->nlayers; j++)
			lab[j] = twin_layer_locate(s->layers[j].l, lat, lon);
		if (lab[k] >= 0 && (rc = label_insert(s, s->layers[k].name, (size_t)fid - 1, lab[k], err)))
			goto done;
		char *lj = labels_json(s, lab);
		sqlite3_reset(up);
		sqlite3_bind_text(up, 1, lj ? lj : "{}", -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(up, 2, fid);
		free(lj);
		if (sqlite3_step(up) != SQLITE_DONE) {
			rc = twin_db_err(s->db, "frames", err);
			goto done;
		}
	}
done:
	sqlite3_free(del);
	sqlite3_finalize(sel);
	sqlite3_finalize(up);
	free(lab);
	return rc;
}

int twin_store_exists(const char *dir)
{
	char p[4096];
	return dir && snprintf(p, sizeof(p), "%s/%s", dir, TWIN_GPKG_NAME) < (int)sizeof(p) &&
	       access(p, F_OK) == 0;
}

int twin_store_add_layer(twin_store *s, const char *name, const char *path,
			 const twin_layer_opts *o, svt_err *err)
{
	if (!s || !path)
		return svt_err_set(err, SVT_E_INPUT, "twin_store_add_layer: NULL argument");
	if (!name_ok(name, 63))
		return svt_err_set(err, SVT_E_INPUT, "layer name '%s': use [A-Za-z0-9_-], <= 63",
				   name ? name : "");
	twin_layer *l = NULL;
	int rc = twin_layer_load(path, o, &l, err);
	if (rc)
		return rc;
	char table[96];
	snprintf(table, sizeof(table), "layer_%s", name);
	size_t k = 0;
	while (k < s->nlayers && strcmp(s->layers[k].name, name) != 0)
		k++;
	int added = 0;
	twin_layer *old = k < s->nlayers ? s->layers[k].l : NULL;
	if (k == s->nlayers) {
		layer_ref *lr = realloc(s->layers, (s->nlayers + 1) * sizeof(*lr));
		if (!lr || !(lr[k].name = strdup(name))) {
			if (lr)
				s->layers = lr;
			twin_layer_destroy(l);
			return svt_err_set(err, SVT_E_NOMEM, "store: no memory");
		}
		s->layers = lr;
		s->nlayers++;
		added = 1;
	}
	s->layers[k].l = l;
	char *sql = NULL;
	uint64_t old_gen = s->gen;
	if ((rc = twin_tx_begin(s, err)))
		goto fail;
	if ((rc = twin_gpkg_drop_feature_table(s->db, table, err)) ||
	    (rc = twin_layer_write_table(s->db, l, table, err)) ||
	    (rc = twin_gpkg_add_feature_table(s->db, table, "MULTIPOLYGON", 4326, 0, err)))
		goto fail;
	/* The R*Tree of the layer's features. */
	for (size_t i = 0; i < twin_layer_count(l); i++) {
		double bb[4];
		twin_layer_feature_bbox(l, i, bb);
		if (!isfinite(bb[0]))
			continue;
		char *q = sqlite3_mprintf("INSERT INTO \"rtree_%w_geom\" VALUES (%lld, %.17g, %.17g, "
					  "%.17g, %.17g)",
					  table, (long long)i + 1, bb[0], bb[2], bb[1], bb[3]);
		rc = q ? twin_db_exec(s->db, q, err) : svt_err_set(err, SVT_E_NOMEM, "no memory");
		sqlite3_free(q);
		if (rc)
			goto fail;
	}
	s->gen++;
	sql = sqlite3_mprintf("INSERT OR REPLACE INTO twin_layers(name, table_name, pos, features, "
			      "source, gen) VALUES (%Q, %Q, %lld, %lld, %Q, %lld);"
			      "UPDATE tiles SET gen = %lld WHERE n_frames > 0;"
			      "UPDATE shards SET stale = 1 WHERE stale = 0 AND gen < %lld AND fid IN "
			      "(SELECT st.shard FROM shard_tiles st JOIN tiles t ON t.tx = st.tx AND "
			      "t.ty = st.ty WHERE t.n_frames > 0);",
			      name, table, (long long)k, (long long)twin_layer_count(l), path,
			      (long long)s->gen, (long long)s->gen, (long long)s->gen);
	if (!sql) {
		rc = svt_err_set(err, SVT_E_NOMEM, "no memory");
		goto fail;
	}
	double lb[4];
	twin_layer_bbox(l, lb);
	if ((rc = twin_db_exec(s->db, sql, err)) || (rc = twin_gpkg_touch(s->db, table, lb, err)) ||
	    (rc = relabel_all(s, k, err)) || (rc = twin_meta_put_gen(s, err)) ||
	    (rc = twin_tx_commit(s, err)))
		goto fail;
	sqlite3_free(sql);
	twin_layer_destroy(old);
	twin_cache_drop(s);
	return SVT_OK;
fail:
	sqlite3_free(sql);
	twin_tx_rollback(s);
	s->gen = old_gen;
	s->layers[k].l = old;
	twin_layer_destroy(l);
	if (added) {
		s->nlayers--;
		free(s->layers[k].name);
	}
	return rc;
}

/* ---- Dependencies: dirty tiles and stale shards -------------------------------------------- */

static int pairs_query(twin_store *s, const char *sql, sqlite3_int64 arg, int **txy, size_t *n,
		       svt_err *err)
{
	sqlite3_stmt *st = NULL;
	*txy = NULL;
	*n = 0;
	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
		return twin_db_err(s->db, "tiles", err);
	sqlite3_bind_int64(st, 1, arg);
	size_t cap = 16;
	int rc = SVT_OK;
	*txy = malloc(cap * 2 * sizeof(int));
	while (*txy && sqlite3_step(st) == SQLITE_ROW) {
		if (*n == cap) {
			int *q = realloc(*txy, 2 * cap * 2 * sizeof(int));
			if (!q)
				break;
			*txy = q;
			cap *= 2;
		}
		(*txy)[2 * *n] = sqlite3_column_int(st, 0);
		(*txy)[2 * *n + 1] = sqlite3_column_int(st, 1);
		(*n)++;
	}
	if (!*txy || *n == cap)
		rc = svt_err_set(err, SVT_E_NOMEM, "store: no memory");
	sqlite3_finalize(st);
	if (rc) {
		free(*txy);
		*txy = NULL;
		*n = 0;
	}
	return rc;
}

int twin_store_dirty_tiles(const twin_store *s, uint64_t since, int **txy, size_t *n,
			   svt_err *err)
{
	if (!s || !txy || !n)
		return svt_err_set(err, SVT_E_INPUT, "twin_store_dirty_tiles: NULL argument");
	return pairs_query((twin_store *)s, "SELECT tx, ty FROM tiles WHERE gen > ? ORDER BY tx, ty",
			   (sqlite3_int64)since, txy, n, err);
}

int twin_store_clip_tiles(const twin_store *s, const twin_clip *c, int **txy, size_t *n,
			  svt_err *err)
{
	if (!s || !c || !txy || !n || (c->n > 0 && !c->idx))
		return svt_err_set(err, SVT_E_INPUT, "twin_store_clip_tiles: NULL argument");
	twin_store *w = (twin_store *)s;
	*n = 0;
	*txy = malloc((c->n > 0 ? (size_t)c->n : 1) * 2 * sizeof(int));
	if (!*txy)
		return svt_err_set(err, SVT_E_NOMEM, "store: no memory");
	for (int k = 0; k < c->n; k++) {
		sqlite3_stmt *st = c->idx[k] < s->nf
					   ? twin_stmt(w, ST_FRAME_TILE,
						       "SELECT tx, ty FROM frames WHERE fid = ?", err)
					   : NULL;
		if (st)
			sqlite3_bind_int64(st, 1, (sqlite3_int64)c->idx[k] + 1);
		if (!st || sqlite3_step(st) != SQLITE_ROW) {
			free(*txy);
			*txy = NULL;
			return svt_err_set(err, SVT_E_INPUT, "clip frame %zu of %zu", c->idx[k], s->nf);
		}
		(*txy)[2 * k] = sqlite3_column_int(st, 0);
		(*txy)[2 * k + 1] = sqlite3_column_int(st, 1);
	}
	qsort(*txy, (size_t)(c->n > 0 ? c->n : 0), 2 * sizeof(int), pair_cmp);
	size_t m = 0;
	for (int k = 0; k < c->n; k++)
		if (m == 0 || pair_cmp(&(*txy)[2 * (m - 1)], &(*txy)[2 * k]) != 0) {
			(*txy)[2 * m] = (*txy)[2 * k];
			(*txy)[2 * m + 1] = (*txy)[2 * k + 1];
			m++;
		}
	*n = m;
	return SVT_OK;
}

int twin_store_record_shard(twin_store *s, const char *name, const int *txy, size_t n,
			    svt_err *err)
{
	if (!s || !name || !*name || (n && !txy))
		return svt_err_set(err, SVT_E_INPUT, "twin_store_record_shard: bad argument");
	int rc = twin_tx_begin(s, err);
	if (rc)
		return rc;
	sqlite3_stmt *st = NULL;
	/* A tile the store does not have makes the shard stale for good (tiles are never
	 * removed), so it is noted once here instead of being looked for on every query. */
	int missing = 0;
	if (sqlite3_prepare_v2(s->db, "SELECT 1 FROM tiles WHERE tx = ? AND ty = ?", -1, &st,
			       NULL) != SQLITE_OK)
		goto dberr;
	for (size_t i = 0; i < n && !missing; i++) {
		sqlite3_reset(st);
		sqlite3_bind_int(st, 1, txy[2 * i]);
		sqlite3_bind_int(st, 2, txy[2 * i + 1]);
		missing = sqlite3_step(st) != SQLITE_ROW;
	}
	sqlite3_finalize(st);
	st = NULL;
	if (sqlite3_prepare_v2(s->db,
			       "INSERT INTO shards(name, gen, missing, stale) VALUES (?1, ?2, ?3, ?3) "
			       "ON CONFLICT(name) DO UPDATE SET gen = excluded.gen, missing = "
			       "excluded.missing, stale = excluded.stale",
			       -1, &st, NULL) != SQLITE_OK)
		goto dberr;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)s->gen);
	sqlite3_bind_int(st, 3, missing);
	if (sqlite3_step(st) != SQLITE_DONE)
		goto dberr;
	sqlite3_finalize(st);
	st = NULL;
	char *sql = sqlite3_mprintf("DELETE FROM shard_tiles WHERE shard = (SELECT fid FROM shards "
				    "WHERE name = %Q)",
				    name);
	rc = sql ? twin_db_exec(s->db, sql, err) : svt_err_set(err, SVT_E_NOMEM, "no memory");
	sqlite3_free(sql);
	if (rc)
		goto fail;
	if (sqlite3_prepare_v2(s->db,
			       "INSERT OR IGNORE INTO shard_tiles(shard, tx, ty) VALUES ((SELECT fid "
			       "FROM shards WHERE name = ?), ?, ?)",
			       -1, &st, NULL) != SQLITE_OK)
		goto dberr;
	for (size_t i = 0; i < n; i++) {
		sqlite3_reset(st);
		sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
		sqlite3_bind_int(st, 2, txy[2 * i]);
		sqlite3_bind_int(st, 3, txy[2 * i + 1]);
		if (sqlite3_step(st) != SQLITE_DONE)
			goto dberr;
	}
	sqlite3_finalize(st);
	st = NULL;
	if ((rc = twin_tx_commit(s, err)))
		goto fail;
	return SVT_OK;
dberr:
	rc = twin_db_err(s->db, "shards", err);
fail:
	sqlite3_finalize(st);
	twin_tx_rollback(s);
	return rc;
}

int twin_store_stale_shards(const twin_store *s, const char ***names, size_t *n, svt_err *err)
{
	if (!s || !names || !n)
		return svt_err_set(err, SVT_E_INPUT, "twin_store_stale_shards: NULL argument");
	twin_store *w = (twin_store *)s;
	*n = 0;
	*names = NULL;
	for (size_t k = 0; k < w->nstale; k++)
		free(w->stale[k]);
	w->nstale = 0;
	/* Shards are marked stale when one of their tiles changes (twin_tile_upsert, layers)
	 * or when recorded with a tile the store lacks (tiles are never removed). */
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(s->db, "SELECT fid, name FROM shards WHERE stale = 1 ORDER BY fid", -1,
			       &st, NULL) != SQLITE_OK)
		return twin_db_err(s->db, "shards", err);
	int rc = SVT_OK, r;
	size_t cap = 0;
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		if (w->nstale == cap) {
			cap = cap ? 2 * cap : 16;
			char **q = realloc(w->stale, cap * sizeof(*q));
			if (!q) {
				rc = svt_err_set(err, SVT_E_NOMEM, "store: no memory");
				break;
			}
			w->stale = q;
		}
		const char *nm = (const char *)sqlite3_column_text(st, 1);
		if (!(w->stale[w->nstale] = strdup(nm ? nm : ""))) {
			rc = svt_err_set(err, SVT_E_NOMEM, "store: no memory");
			break;
		}
		w->nstale++;
	}
	if (!rc && r != SQLITE_DONE)
		rc = twin_db_err(s->db, "shards", err);
	sqlite3_finalize(st);
	if (rc)
		return rc;
	*names = malloc((w->nstale ? w->nstale : 1) * sizeof(char *));
	if (!*names)
		return svt_err_set(err, SVT_E_NOMEM, "store: no memory");
	for (size_t k = 0; k < w->nstale; k++)
		(*names)[k] = w->stale[k];
	*n = w->nstale;
	return SVT_OK;
}

int twin_store_merge_shards(twin_store *dst, twin_store *const *src, size_t nsrc,
			    size_t *n_shards, svt_err *err)
{
	if (!dst || (nsrc && !src))
		return svt_err_set(err, SVT_E_INPUT, "twin_store_merge_shards: NULL store");
	if (n_shards)
		*n_shards = 0;
	sqlite3_stmt *rs = NULL, *rt = NULL, *ws = NULL, *wt = NULL, *have = NULL;
	size_t total = 0;
	sqlite3_stmt *old = NULL, *drop_t = NULL, *drop_s = NULL;
	sqlite3_int64 fid0 = 0; /* records up to fid0 were in dst before this merge */
	int rc = twin_tx_begin(dst, err);
	if (rc)
		return rc;
	if (sqlite3_prepare_v2(dst->db, "SELECT COALESCE(MAX(fid), 0) FROM shards", -1, &old,
			       NULL) != SQLITE_OK ||
	    sqlite3_step(old) != SQLITE_ROW) {
		rc = twin_db_err(dst->db, "shards", err);
		goto done;
	}
	fid0 = sqlite3_column_int64(old, 0);
	sqlite3_finalize(old);
	old = NULL;
	if (sqlite3_prepare_v2(dst->db, "SELECT fid FROM shards WHERE name = ?", -1, &old,
			       NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(dst->db, "DELETE FROM shard_tiles WHERE shard = ?", -1, &drop_t,
			       NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(dst->db, "DELETE FROM shards WHERE fid = ?", -1, &drop_s,
			       NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(dst->db, "INSERT INTO shards(name, gen, missing, stale) VALUES "
			       "(?1, ?2, ?3, ?4)", -1, &ws, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(dst->db, "INSERT OR IGNORE INTO shard_tiles(shard, tx, ty) VALUES "
			       "(?, ?, ?)", -1, &wt, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(dst->db, "SELECT 1 FROM tiles WHERE tx = ? AND ty = ?", -1, &have,
			       NULL) != SQLITE_OK) {
		rc = twin_db_err(dst->db, "shards", err);
		goto done;
	}
	for (size_t k = 0; k < nsrc; k++) {
		if (!src[k]) {
			rc = svt_err_set(err, SVT_E_INPUT, "twin_store_merge_shards: NULL store");
			goto done;
		}
		sqlite3_finalize(rs);
		sqlite3_finalize(rt);
		rs = rt = NULL;
		if (sqlite3_prepare_v2(src[k]->db, "SELECT fid, name, missing, stale FROM shards "
				       "ORDER BY fid", -1, &rs, NULL) != SQLITE_OK ||
		    sqlite3_prepare_v2(src[k]->db, "SELECT tx, ty FROM shard_tiles WHERE shard = ? "
				       "ORDER BY tx, ty", -1, &rt, NULL) != SQLITE_OK) {
			rc = twin_db_err(src[k]->db, "shards", err);
			goto done;
		}
		int r;
		while ((r = sqlite3_step(rs)) == SQLITE_ROW) {
			const char *name = (const char *)sqlite3_column_text(rs, 1);
			int missing = sqlite3_column_int(rs, 2), stale = sqlite3_column_int(rs, 3);
			/* Recorded at dst's generation (after its points are merged): stale in dst
			 * exactly when it was in its part, or when dst lacks one of its tiles, and
			 * from then on when one of its tiles changes. */
			/* A record dst held before the merge (a shard of that name from an earlier
			 * build into a shared twin) is replaced, as twin_store_record_shard does in a
			 * one-rank build; a name two parts recorded is refused below. */
			sqlite3_reset(old);
			sqlite3_bind_text(old, 1, name ? name : "", -1, SQLITE_TRANSIENT);
			if (sqlite3_step(old) == SQLITE_ROW && sqlite3_column_int64(old, 0) <= fid0) {
				sqlite3_int64 of = sqlite3_column_int64(old, 0);
				sqlite3_reset(drop_t);
				sqlite3_bind_int64(drop_t, 1, of);
				sqlite3_reset(drop_s);
				sqlite3_bind_int64(drop_s, 1, of);
				if (sqlite3_step(drop_t) != SQLITE_DONE ||
				    sqlite3_step(drop_s) != SQLITE_DONE) {
					rc = twin_db_err(dst->db, "shards", err);
					goto done;
				}
			}
			sqlite3_reset(ws);
			sqlite3_bind_text(ws, 1, name ? name : "", -1, SQLITE_TRANSIENT);
			sqlite3_bind_int64(ws, 2, (sqlite3_int64)dst->gen);
			sqlite3_bind_int(ws, 3, missing);
			sqlite3_bind_int(ws, 4, stale);
			if (sqlite3_step(ws) != SQLITE_DONE) {
				rc = sqlite3_extended_errcode(dst->db) == SQLITE_CONSTRAINT_UNIQUE
					     ? svt_err_set(err, SVT_E_INPUT, "shard %s is recorded by two "
							   "parts (%s and another)", name ? name : "?",
							   src[k]->dir)
					     : twin_db_err(dst->db, "shards", err);
				goto done;
			}
			sqlite3_int64 fid = sqlite3_last_insert_rowid(dst->db);
			int lacks = 0;
			sqlite3_reset(rt);
			sqlite3_bind_int64(rt, 1, sqlite3_column_int64(rs, 0));
			while ((r = sqlite3_step(rt)) == SQLITE_ROW) {
				int tx = sqlite3_column_int(rt, 0), ty = sqlite3_column_int(rt, 1);
				sqlite3_reset(wt);
				sqlite3_bind_int64(wt, 1, fid);
				sqlite3_bind_int(wt, 2, tx);
				sqlite3_bind_int(wt, 3, ty);
				sqlite3_reset(have);
				sqlite3_bind_int(have, 1, tx);
				sqlite3_bind_int(have, 2, ty);
				lacks |= sqlite3_step(have) != SQLITE_ROW;
				if (sqlite3_step(wt) != SQLITE_DONE) {
					rc = twin_db_err(dst->db, "shard_tiles", err);
					goto done;
				}
			}
			if (r != SQLITE_DONE) {
				rc = twin_db_err(src[k]->db, "shard_tiles", err);
				goto done;
			}
			if (lacks && !missing) {
				char *sql = sqlite3_mprintf("UPDATE shards SET missing = 1, stale = 1 "
							    "WHERE fid = %lld", (long long)fid);
				rc = sql ? twin_db_exec(dst->db, sql, err)
					 : svt_err_set(err, SVT_E_NOMEM, "no memory");
				sqlite3_free(sql);
				if (rc)
					goto done;
			}
			total++;
		}
		if (r != SQLITE_DONE) {
			rc = twin_db_err(src[k]->db, "shards", err);
			goto done;
		}
	}
	rc = twin_tx_commit(dst, err);
done:
	sqlite3_finalize(old);
	sqlite3_finalize(drop_t);
	sqlite3_finalize(drop_s);
	sqlite3_finalize(rs);
	sqlite3_finalize(rt);
	sqlite3_finalize(ws);
	sqlite3_finalize(wt);
	sqlite3_finalize(have);
	if (rc)
		twin_tx_rollback(dst);
	else if (n_shards)
		*n_shards = total;
	return rc;
}

/* ---- Removing a capture ---------------------------------------------------------------------- */

/* Runs sql with ?1 = a, ?2 = b, ?3 = c (int64), no rows. */
static int exec3(twin_store *s, const char *sql, sqlite3_int64 a, sqlite3_int64 b,
		 sqlite3_int64 c, svt_err *err)
{
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
		return twin_db_err(s->db, "twin", err);
	int np = sqlite3_bind_parameter_count(st);
	sqlite3_int64 v[3] = {a, b, c};
	for (int k = 0; k < np && k < 3; k++)
		sqlite3_bind_int64(st, k + 1, v[k]);
	int r = sqlite3_step(st);
	sqlite3_finalize(st);
	return r == SQLITE_DONE ? SVT_OK : twin_db_err(s->db, "twin", err);
}

int twin_store_remove_capture(twin_store *s, const char *name, svt_err *err)
{
	if (!s || !name)
		return svt_err_set(err, SVT_E_INPUT, "twin_store_remove_capture: NULL argument");
	size_t first = 0, n = 0;
	if (!twin_store_capture_find(s, name, &first, &n))
		return svt_err_set(err, SVT_E_NOTFOUND, "capture %s is not in the store", name);
	sqlite3_stmt *st = NULL;
	sqlite3_int64 cap = 0;
	if (sqlite3_prepare_v2(s->db, "SELECT fid FROM captures WHERE name = ?", -1, &st, NULL) ==
	    SQLITE_OK) {
		sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
		if (sqlite3_step(st) == SQLITE_ROW)
			cap = sqlite3_column_int64(st, 0);
	}
	sqlite3_finalize(st);
	if (!cap)
		return twin_db_err(s->db, "captures", err);
	uint64_t gen = s->gen + 1;
	sqlite3_int64 f0 = (sqlite3_int64)first, f1 = (sqlite3_int64)(first + n),
		      dn = (sqlite3_int64)n, g = (sqlite3_int64)gen;
	char **gone = NULL;
	size_t ngone = 0, old_nf = s->nf;
	int rc = twin_tx_begin(s, err);
	if (rc)
		return rc;
	/* The tiles holding its frames lose them and change (the shards cut from them are stale);
	 * then its frames go and the later ones move down (store index i stays fid i + 1), with
	 * their R*Tree entries, labels, fused-frame records and captures' first frames. */
	if ((rc = exec3(s, "UPDATE shards SET stale = 1 WHERE stale = 0 AND gen < ?2 AND fid IN "
			"(SELECT t.shard FROM shard_tiles t WHERE EXISTS (SELECT 1 FROM frames f "
			"WHERE f.capture = ?1 AND f.tx = t.tx AND f.ty = t.ty))", cap, g, 0, err)) ||
	    (rc = exec3(s, "UPDATE tiles SET gen = ?2, n_frames = n_frames - (SELECT COUNT(*) FROM "
			"frames f WHERE f.capture = ?1 AND f.tx = tiles.tx AND f.ty = tiles.ty) "
			"WHERE EXISTS (SELECT 1 FROM frames f WHERE f.capture = ?1 AND "
			"f.tx = tiles.tx AND f.ty = tiles.ty)", cap, g, 0, err)) ||
	    (rc = exec3(s, "DELETE FROM frames WHERE capture = ?1", cap, 0, 0, err)) ||
	    (rc = exec3(s, "DELETE FROM rtree_frames_geom WHERE id > ?1", f0, 0, 0, err)) ||
	    (rc = exec3(s, "DELETE FROM frame_labels WHERE frame >= ?1 AND frame < ?2", f0, f1, 0,
			err)) ||
	    (rc = exec3(s, "UPDATE frames SET fid = -fid WHERE fid > ?1", f1, 0, 0, err)) ||
	    (rc = exec3(s, "UPDATE frames SET fid = -fid - ?1 WHERE fid < 0", dn, 0, 0, err)) ||
	    (rc = exec3(s, "INSERT INTO rtree_frames_geom SELECT fid, e, e, n, n FROM frames "
			"WHERE fid > ?1", f0, 0, 0, err)) ||
	    (rc = exec3(s, "UPDATE frame_labels SET frame = -frame - 1 WHERE frame >= ?1", f1, 0, 0,
			err)) ||
	    (rc = exec3(s, "UPDATE frame_labels SET frame = -frame - 1 - ?1 WHERE frame < 0", dn, 0,
			0, err)) ||
	    (rc = exec3(s, "DELETE FROM captures WHERE fid = ?1", cap, 0, 0, err)) ||
	    (rc = exec3(s, "UPDATE captures SET first_frame = first_frame - ?1 WHERE first_frame "
			"> ?2", dn, f0, 0, err)) ||
	    (rc = twin_points_drop_capture(s, cap, first, n, gen, &gone, &ngone, err)))
		goto done;
	s->gen = gen;
	s->nf -= n;
	if ((rc = twin_meta_put_gen(s, err)) || (rc = twin_gpkg_touch(s->db, "frames", NULL, err)) ||
	    (rc = twin_tx_commit(s, err))) {
		s->gen = gen - 1;
		s->nf = old_nf;
	}
done:
	if (rc)
		twin_tx_rollback(s);
	twin_cache_drop(s);
	twin_points_names_release(s, gone, ngone, rc == SVT_OK);
	return rc;
}

/* One of the store's files away: into the trash, or unlinked. */
static int remove_one(const char *path, svt_trash *trash, svt_err *err)
{
	if (trash)
		return svt_trash_put(trash, path, err);
	if (unlink(path) != 0 && errno != ENOENT)
		return svt_err_set(err, SVT_E_IO, "cannot remove %s: %s", path, strerror(errno));
	return SVT_OK;
}

int twin_store_remove(const char *dir, svt_trash *trash, svt_err *err)
{
	if (!dir)
		return svt_err_set(err, SVT_E_INPUT, "twin_store_remove: NULL dir");
	static const char *const files[] = {TWIN_GPKG_NAME, TWIN_GPKG_NAME "-wal",
					    TWIN_GPKG_NAME "-shm", TWIN_GPKG_NAME "-journal"};
	char path[4200];
	/* The GeoPackage first: without it the LAS files are orphans, never a store. */
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		int rc = remove_one(path, trash, err);
		if (rc)
			return rc;
	}
	snprintf(path, sizeof(path), "%s/%s", dir, TWIN_POINTS_DIR);
	DIR *d = opendir(path);
	struct dirent *e;
	while (d && (e = readdir(d))) {
		size_t l = strlen(e->d_name);
		if (l < 4 || strcmp(e->d_name + l - 4, ".las"))
			continue;
		char f[4500];
		snprintf(f, sizeof(f), "%s/%s", path, e->d_name);
		int rc = remove_one(f, trash, err);
		if (rc) {
			closedir(d);
			return rc;
		}
	}
	if (d)
		closedir(d);
	return SVT_OK;
}
