/* twin_migrate.c: a store of the JSON layout (version 1: twin.json, frames/<c>.jsonl,
 * layers/<name>.geojson, tiles/<tx>_<ty>.pts, shards.json) into the GeoPackage layout.
 *
 * Frames keep their stored positions, poses, sequences and flags exactly (nothing is
 * recomputed), fused points their weights and voxels, tiles and shards their generations (so a
 * shard stale before is stale after, and only those). The new store is built in DIR/.migrate
 * and moved in last: DIR/twin.gpkg appearing is the commit point, and twin.json is renamed
 * twin.json.v1 after it; the old files stay (remove frames/, tiles/, layers/ once satisfied).
 */
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "twin/twin_internal.h"

int twin_store_import_capture(twin_store *s, const char *name, const char *source,
			      const twin_frame *f, size_t n, const char *const *paths, svt_err *err);
int twin_points_import_tile(twin_store *s, int tx, int ty, const double *enu,
			    const uint8_t *rgb, const uint32_t *w, size_t n, svt_err *err);

static int darr(json_t *a, double *v, size_t n)
{
	if (!json_is_array(a) || json_array_size(a) != n)
		return -1;
	for (size_t i = 0; i < n; i++) {
		json_t *x = json_array_get(a, i);
		if (!json_is_number(x))
			return -1;
		v[i] = json_number_value(x);
	}
	return 0;
}

/* Reads frames/<c>.jsonl: count frames. */
static int read_frames(const char *dir, size_t c, size_t count, twin_frame **out, char ***paths,
		       svt_err *err)
{
	char p[4200];
	snprintf(p, sizeof(p), "%s/frames/%zu.jsonl", dir, c);
	FILE *fp = fopen(p, "r");
	if (!fp)
		return svt_err_set(err, SVT_E_NOTFOUND, "%s: %s", p, strerror(errno));
	twin_frame *f = calloc(count + 1, sizeof(*f));
	char **pa = calloc(count + 1, sizeof(char *));
	int rc = f && pa ? SVT_OK : svt_err_set(err, SVT_E_NOMEM, "no memory");
	size_t i = 0;
	while (!rc && i < count) {
		json_error_t je;
		json_t *j = json_loadf(fp, JSON_DISABLE_EOF_CHECK, &je);
		json_t *hd = j ? json_object_get(j, "heading") : NULL;
		const char *path = j ? json_string_value(json_object_get(j, "path")) : NULL;
		if (!j || darr(json_object_get(j, "llh"), f[i].llh, 3) ||
		    darr(json_object_get(j, "proj"), f[i].proj, 3) ||
		    darr(json_object_get(j, "enu"), f[i].enu, 3) ||
		    darr(json_object_get(j, "w2c"), f[i].w2c, 16)) {
			json_decref(j);
			rc = svt_err_set(err, SVT_E_FORMAT, "%s: line %zu is not a frame", p, i + 1);
			break;
		}
		f[i].time_us = (int64_t)json_integer_value(json_object_get(j, "time_us"));
		f[i].heading = json_is_number(hd) ? json_number_value(hd) : NAN;
		f[i].seq = (int)json_integer_value(json_object_get(j, "seq"));
		f[i].flags = (unsigned)json_integer_value(json_object_get(j, "flags"));
		f[i].src = (int)json_integer_value(json_object_get(j, "src"));
		pa[i] = strdup(path ? path : "");
		json_decref(j);
		if (!pa[i])
			rc = svt_err_set(err, SVT_E_NOMEM, "no memory");
		i++;
	}
	fclose(fp);
	*out = f;
	*paths = pa;
	return rc;
}

static void free_paths(char **p, size_t n)
{
	for (size_t i = 0; p && i < n; i++)
		free(p[i]);
	free(p);
}

/* tiles/<tx>_<ty>.pts (v1): 64-byte header, then f32 x, y, z (relative to the header's f64
 * offset, store ENU), u8 r, g, b, pad, u32 weight. */
static int import_pts(twin_store *s, const char *dir, int tx, int ty, svt_err *err)
{
	char p[4200];
	snprintf(p, sizeof(p), "%s/tiles/%d_%d.pts", dir, tx, ty);
	uint8_t *d = NULL;
	size_t size = 0;
	int rc = svt_file_read(p, (size_t)1 << 34, &d, &size, err);
	if (rc)
		return rc;
	uint64_t cnt = 0;
	uint32_t ver = 0, rec = 0;
	if (size >= 64) {
		memcpy(&ver, d + 8, 4);
		memcpy(&rec, d + 12, 4);
		memcpy(&cnt, d + 16, 8);
	}
	if (size < 64 || memcmp(d, "SVTPTS1", 8) || ver != 1 || rec != 20 ||
	    cnt != (size - 64) / 20 || 64 + cnt * 20 != size) {
		free(d);
		return svt_err_set(err, SVT_E_FORMAT, "%s: not a v1 points file", p);
	}
	double off[3];
	memcpy(off, d + 24, sizeof(off));
	double *enu = malloc((cnt ? cnt : 1) * 3 * sizeof(double));
	uint8_t *rgb = malloc((cnt ? cnt : 1) * 3);
	uint32_t *w = malloc((cnt ? cnt : 1) * sizeof(uint32_t));
	if (!enu || !rgb || !w) {
		rc = svt_err_set(err, SVT_E_NOMEM, "no memory");
		goto done;
	}
	for (uint64_t i = 0; i < cnt; i++) {
		const uint8_t *r = d + 64 + 20 * i;
		for (int a = 0; a < 3; a++) {
			float v;
			memcpy(&v, r + 4 * a, 4);
			enu[3 * i + a] = off[a] + v;
			rgb[3 * i + a] = r[12 + a];
		}
		memcpy(&w[i], r + 16, 4);
	}
	rc = twin_points_import_tile(s, tx, ty, enu, rgb, w, (size_t)cnt, err);
done:
	free(d);
	free(enu);
	free(rgb);
	free(w);
	return rc;
}

/* The old generations of tiles and shards, and of the store (one transaction). */
static int import_gens(twin_store *s, json_t *meta, json_t *shards, svt_err *err)
{
	int rc = twin_tx_begin(s, err);
	json_t *tiles = json_object_get(meta, "tiles");
	for (size_t t = 0; !rc && t < json_array_size(tiles); t++) {
		json_t *jt = json_array_get(tiles, t);
		char *q = sqlite3_mprintf("UPDATE tiles SET gen = %lld WHERE tx = %d AND ty = %d",
					  (long long)json_integer_value(json_array_get(jt, 2)),
					  (int)json_integer_value(json_array_get(jt, 0)),
					  (int)json_integer_value(json_array_get(jt, 1)));
		rc = q ? twin_db_exec(s->db, q, err) : svt_err_set(err, SVT_E_NOMEM, "no memory");
		sqlite3_free(q);
	}
	json_t *arr = json_object_get(shards, "shards");
	for (size_t k = 0; !rc && k < json_array_size(arr); k++) {
		json_t *js = json_array_get(arr, k);
		char *q = sqlite3_mprintf("UPDATE shards SET gen = %lld WHERE name = %Q",
					  (long long)json_integer_value(json_object_get(js, "gen")),
					  json_string_value(json_object_get(js, "name")));
		rc = q ? twin_db_exec(s->db, q, err) : svt_err_set(err, SVT_E_NOMEM, "no memory");
		sqlite3_free(q);
	}
	/* Staleness as v1 defined it: a tile changed after the shard, or a tile it lacks. */
	if (!rc)
		rc = twin_db_exec(s->db,
				  "UPDATE shards SET stale = (missing OR EXISTS (SELECT 1 FROM shard_tiles "
				  "st JOIN tiles t ON t.tx = st.tx AND t.ty = st.ty WHERE st.shard = "
				  "shards.fid AND t.gen > shards.gen))",
				  err);
	if (!rc) {
		s->gen = (uint64_t)json_integer_value(json_object_get(meta, "gen"));
		rc = twin_meta_put_gen(s, err);
	}
	if (!rc)
		rc = twin_tx_commit(s, err);
	if (rc)
		twin_tx_rollback(s);
	return rc;
}

static int migrate_into(twin_store *s, const char *dir, json_t *meta, json_t *shards,
			svt_err *err)
{
	int rc = SVT_OK;
	json_t *layers = json_object_get(meta, "layers");
	for (size_t k = 0; !rc && k < json_array_size(layers); k++) {
		const char *nm = json_string_value(json_object_get(json_array_get(layers, k), "name"));
		char p[4200];
		snprintf(p, sizeof(p), "%s/layers/%s.geojson", dir, nm ? nm : "");
		twin_layer_opts lo;
		twin_layer_opts_default(&lo);
		lo.epsg = 4326;
		rc = twin_store_add_layer(s, nm, p, &lo, err);
	}
	json_t *caps = json_object_get(meta, "captures");
	for (size_t c = 0; !rc && c < json_array_size(caps); c++) {
		json_t *jc = json_array_get(caps, c);
		size_t count = (size_t)json_integer_value(json_object_get(jc, "count"));
		twin_frame *f = NULL;
		char **paths = NULL;
		rc = read_frames(dir, c, count, &f, &paths, err);
		if (!rc)
			rc = twin_store_import_capture(s, json_string_value(json_object_get(jc, "name")),
						       json_string_value(json_object_get(jc, "source")),
						       f, count, (const char *const *)paths, err);
		free(f);
		free_paths(paths, count);
	}
	json_t *tiles = json_object_get(meta, "tiles");
	for (size_t t = 0; !rc && t < json_array_size(tiles); t++) {
		json_t *jt = json_array_get(tiles, t);
		if (json_integer_value(json_array_get(jt, 4)) > 0)
			rc = import_pts(s, dir, (int)json_integer_value(json_array_get(jt, 0)),
					(int)json_integer_value(json_array_get(jt, 1)), err);
	}
	json_t *arr = json_object_get(shards, "shards");
	for (size_t k = 0; !rc && k < json_array_size(arr); k++) {
		json_t *js = json_array_get(arr, k), *jt = json_object_get(js, "tiles");
		size_t n = json_array_size(jt);
		int *txy = malloc((n ? n : 1) * 2 * sizeof(int));
		if (!txy)
			return svt_err_set(err, SVT_E_NOMEM, "no memory");
		for (size_t i = 0; i < n; i++) {
			txy[2 * i] = (int)json_integer_value(json_array_get(json_array_get(jt, i), 0));
			txy[2 * i + 1] = (int)json_integer_value(json_array_get(json_array_get(jt, i), 1));
		}
		rc = twin_store_record_shard(s, json_string_value(json_object_get(js, "name")), txy, n,
					     err);
		free(txy);
	}
	return rc ? rc : import_gens(s, meta, shards, err);
}

/* Moves every file of from/points into to/points (same file system: renames). */
static int move_points(const char *from, const char *to, svt_err *err)
{
	char a[4300], b[4300];
	snprintf(a, sizeof(a), "%s/%s", from, TWIN_POINTS_DIR);
	snprintf(b, sizeof(b), "%s/%s", to, TWIN_POINTS_DIR);
	int rc = svt_mkdirs(b, err);
	DIR *d = rc ? NULL : opendir(a);
	if (!rc && !d)
		return svt_err_set(err, SVT_E_IO, "%s: %s", a, strerror(errno));
	struct dirent *e;
	while (!rc && (e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		char x[4600], y[4600];
		snprintf(x, sizeof(x), "%s/%s", a, e->d_name);
		snprintf(y, sizeof(y), "%s/%s", b, e->d_name);
		if (rename(x, y) != 0)
			rc = svt_err_set(err, SVT_E_IO, "rename %s: %s", x, strerror(errno));
	}
	if (d)
		closedir(d);
	return rc;
}

int twin_store_migrate(const char *dir, size_t *n_frames, svt_err *err)
{
	if (!dir)
		return svt_err_set(err, SVT_E_INPUT, "twin_store_migrate: NULL argument");
	char p[4200], tmp[4200], q[4400];
	struct stat st;
	snprintf(p, sizeof(p), "%s/%s", dir, TWIN_GPKG_NAME);
	if (stat(p, &st) == 0)
		return svt_err_set(err, SVT_E_INPUT, "%s already holds %s: nothing to migrate", dir,
				   TWIN_GPKG_NAME);
	snprintf(p, sizeof(p), "%s/twin.json", dir);
	json_error_t je;
	json_t *meta = json_load_file(p, JSON_REJECT_DUPLICATES, &je), *shards = NULL;
	const char *fmt = json_string_value(json_object_get(meta, "format"));
	if (!meta || !fmt || strcmp(fmt, "svtwin-twin") ||
	    json_integer_value(json_object_get(meta, "version")) != 1) {
		json_decref(meta);
		return svt_err_set(err, meta ? SVT_E_FORMAT : SVT_E_NOTFOUND,
				   "%s: not a twin store of the JSON layout v1", p);
	}
	snprintf(p, sizeof(p), "%s/shards.json", dir);
	shards = json_load_file(p, 0, &je);
	snprintf(tmp, sizeof(tmp), "%s/.migrate", dir);
	snprintf(q, sizeof(q), "rm -rf '%s'", tmp);
	int rc = system(q) == 0 ? SVT_OK : svt_err_set(err, SVT_E_IO, "cannot clear %s", tmp);
	twin_store_opts o;
	twin_store_opts_default(&o);
	o.epsg = (int)json_integer_value(json_object_get(meta, "crs_epsg"));
	o.tile_m = json_number_value(json_object_get(meta, "tile_m"));
	o.voxel_m = json_number_value(json_object_get(meta, "voxel_m"));
	o.have_origin = darr(json_object_get(meta, "enu_origin_llh"), o.origin_llh, 3) == 0;
	twin_store *s = NULL;
	if (!rc)
		rc = twin_store_open(tmp, &o, &s, err);
	if (!rc)
		rc = migrate_into(s, dir, meta, shards, err);
	size_t nf = s ? twin_store_frame_count(s) : 0;
	twin_store_close(s);
	/* Points files first, the GeoPackage last (its appearance commits the migration). */
	if (!rc)
		rc = move_points(tmp, dir, err);
	if (!rc) {
		char a[4300], b[4300];
		snprintf(a, sizeof(a), "%s/%s", tmp, TWIN_GPKG_NAME);
		snprintf(b, sizeof(b), "%s/%s", dir, TWIN_GPKG_NAME);
		if (rename(a, b) != 0)
			rc = svt_err_set(err, SVT_E_IO, "rename %s: %s", a, strerror(errno));
		snprintf(a, sizeof(a), "%s/twin.json", dir);
		snprintf(b, sizeof(b), "%s/twin.json.v1", dir);
		if (!rc && rename(a, b) != 0)
			rc = svt_err_set(err, SVT_E_IO, "rename %s: %s", a, strerror(errno));
	}
	snprintf(q, sizeof(q), "rm -rf '%s'", tmp);
	if (system(q) != 0 && !rc)
		rc = svt_err_set(err, SVT_E_IO, "cannot remove %s", tmp);
	if (!rc && n_frames)
		*n_frames = nf;
	json_decref(meta);
	json_decref(shards);
	return rc;
}
