/* twin_gpkg.c: the OGC GeoPackage (1.3) layout of the twin store: the core tables, SRS rows,
 * feature table registration with R*Tree indexes, and geometry blobs.
 *
 * The R*Trees (rtree_<table>_geom) are maintained by the store itself in the same transaction
 * as the rows they index, not by the standard triggers: those call ST_* SQL functions that
 * only SpatiaLite or GDAL register, so a plain sqlite3 connection could not write the table.
 * The gpkg_rtree_index extension is registered, so GDAL and QGIS use the indexes.
 */
#include <proj.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "twin/twin_internal.h"

int twin_db_err(sqlite3 *db, const char *what, svt_err *err)
{
	return svt_err_set(err, SVT_E_IO, "twin store: %s: %s", what,
			   db ? sqlite3_errmsg(db) : "no database");
}

int twin_db_exec(sqlite3 *db, const char *sql, svt_err *err)
{
	char *msg = NULL;
	if (sqlite3_exec(db, sql, NULL, NULL, &msg) == SQLITE_OK)
		return SVT_OK;
	int rc = svt_err_set(err, SVT_E_IO, "twin store: %s (in: %.80s)", msg ? msg : "?", sql);
	sqlite3_free(msg);
	return rc;
}

int twin_crs_wkt(int epsg, char **wkt, svt_err *err)
{
	*wkt = NULL;
	PJ_CONTEXT *ctx = proj_context_create();
	char code[32];
	snprintf(code, sizeof(code), "EPSG:%d", epsg);
	PJ *crs = ctx ? proj_create(ctx, code) : NULL;
	const char *w = crs ? proj_as_wkt(ctx, crs, PJ_WKT1_GDAL, NULL) : NULL;
	int rc = SVT_OK;
	if (!w)
		rc = svt_err_set(err, SVT_E_PROJ, "PROJ has no WKT for EPSG:%d", epsg);
	else if (!(*wkt = strdup(w)))
		rc = svt_err_set(err, SVT_E_NOMEM, "no memory");
	proj_destroy(crs);
	proj_context_destroy(ctx);
	return rc;
}

static int srs_insert(sqlite3 *db, const char *name, int id, const char *org, int org_id,
		      const char *def, const char *desc, svt_err *err)
{
	sqlite3_stmt *st = NULL;
	int rc = SVT_OK;
	if (sqlite3_prepare_v2(db,
			       "INSERT OR REPLACE INTO gpkg_spatial_ref_sys(srs_name, srs_id, "
			       "organization, organization_coordsys_id, definition, description) "
			       "VALUES (?, ?, ?, ?, ?, ?)",
			       -1, &st, NULL) != SQLITE_OK)
		return twin_db_err(db, "gpkg_spatial_ref_sys", err);
	sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int(st, 2, id);
	sqlite3_bind_text(st, 3, org, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int(st, 4, org_id);
	sqlite3_bind_text(st, 5, def, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 6, desc, -1, SQLITE_TRANSIENT);
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = twin_db_err(db, "gpkg_spatial_ref_sys", err);
	sqlite3_finalize(st);
	return rc;
}

/* The store's own tables (docs/twin.md "Tables"). */
static const char *const STORE_SQL =
	"CREATE TABLE twin_meta (key TEXT PRIMARY KEY NOT NULL, value);"
	"CREATE TABLE captures (fid INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, "
	" source TEXT NOT NULL, first_frame INTEGER NOT NULL, frame_count INTEGER NOT NULL, "
	" gen INTEGER NOT NULL, added_utc TEXT NOT NULL);"
	"CREATE TABLE frames (fid INTEGER PRIMARY KEY, geom POINT, capture INTEGER NOT NULL "
	" REFERENCES captures(fid), src INTEGER NOT NULL, time_us INTEGER NOT NULL, "
	" time_utc TEXT, lat REAL NOT NULL, lon REAL NOT NULL, h REAL NOT NULL, "
	" e REAL NOT NULL, n REAL NOT NULL, h_proj REAL NOT NULL, enu_e REAL NOT NULL, "
	" enu_n REAL NOT NULL, enu_u REAL NOT NULL, heading REAL, w2c BLOB NOT NULL, "
	" seq INTEGER NOT NULL, flags INTEGER NOT NULL, tx INTEGER NOT NULL, "
	" ty INTEGER NOT NULL, path TEXT NOT NULL, labels TEXT NOT NULL DEFAULT '{}');"
	"CREATE INDEX frames_seq ON frames(seq, time_us);"
	"CREATE INDEX frames_capture ON frames(capture);"
	"CREATE TABLE tiles (fid INTEGER PRIMARY KEY, geom POLYGON, tx INTEGER NOT NULL, "
	" ty INTEGER NOT NULL, gen INTEGER NOT NULL, n_frames INTEGER NOT NULL, "
	" n_points INTEGER NOT NULL, points_file TEXT, UNIQUE (tx, ty));"
	"CREATE INDEX tiles_gen ON tiles(gen);"
	"CREATE TABLE twin_layers (name TEXT PRIMARY KEY NOT NULL, table_name TEXT NOT NULL, "
	" pos INTEGER NOT NULL, features INTEGER NOT NULL, source TEXT NOT NULL, "
	" gen INTEGER NOT NULL);"
	"CREATE TABLE frame_labels (layer TEXT NOT NULL, frame INTEGER NOT NULL, "
	" feature INTEGER NOT NULL, PRIMARY KEY (layer, frame)) WITHOUT ROWID;"
	"CREATE INDEX frame_labels_feature ON frame_labels(layer, feature, frame);"
	"CREATE TABLE shards (fid INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, "
	" gen INTEGER NOT NULL, missing INTEGER NOT NULL, stale INTEGER NOT NULL);"
	"CREATE INDEX shards_stale ON shards(stale);"
	"CREATE TABLE shard_tiles (shard INTEGER NOT NULL REFERENCES shards(fid), "
	" tx INTEGER NOT NULL, ty INTEGER NOT NULL, PRIMARY KEY (shard, tx, ty)) WITHOUT ROWID;"
	"CREATE INDEX shard_tiles_tile ON shard_tiles(tx, ty);"
	"INSERT INTO gpkg_contents(table_name, data_type, identifier, description) VALUES "
	" ('captures', 'attributes', 'captures', 'svtwin: one row per capture'),"
	" ('shards', 'attributes', 'shards', 'svtwin: shards and the generation they were cut at'),"
	" ('shard_tiles', 'attributes', 'shard_tiles', 'svtwin: the tiles each shard depends on');";

int twin_gpkg_create_schema(sqlite3 *db, int epsg, svt_err *err)
{
	int rc;
	char *wkt = NULL;
	/* GeoPackage 1.3 core (OGC 12-128r18, tables 2.1.2-2.1.5). */
	if ((rc = twin_db_exec(
		     db,
		     "PRAGMA application_id = 1196444487;" /* 'GPKG' */
		     "PRAGMA user_version = 10300;"
		     "CREATE TABLE gpkg_spatial_ref_sys (srs_name TEXT NOT NULL, srs_id INTEGER "
		     " PRIMARY KEY, organization TEXT NOT NULL, organization_coordsys_id INTEGER "
		     " NOT NULL, definition TEXT NOT NULL, description TEXT);"
		     "CREATE TABLE gpkg_contents (table_name TEXT NOT NULL PRIMARY KEY, data_type "
		     " TEXT NOT NULL, identifier TEXT UNIQUE, description TEXT DEFAULT '', "
		     " last_change DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')), "
		     " min_x DOUBLE, min_y DOUBLE, max_x DOUBLE, max_y DOUBLE, srs_id INTEGER, "
		     " CONSTRAINT fk_gc_r_srs_id FOREIGN KEY (srs_id) REFERENCES "
		     " gpkg_spatial_ref_sys(srs_id));"
		     "CREATE TABLE gpkg_geometry_columns (table_name TEXT NOT NULL, column_name TEXT "
		     " NOT NULL, geometry_type_name TEXT NOT NULL, srs_id INTEGER NOT NULL, z "
		     " TINYINT NOT NULL, m TINYINT NOT NULL, CONSTRAINT pk_geom_cols PRIMARY KEY "
		     " (table_name, column_name), CONSTRAINT fk_gc_tn FOREIGN KEY (table_name) "
		     " REFERENCES gpkg_contents(table_name), CONSTRAINT fk_gc_srs FOREIGN KEY "
		     " (srs_id) REFERENCES gpkg_spatial_ref_sys (srs_id));"
		     "CREATE TABLE gpkg_extensions (table_name TEXT, column_name TEXT, "
		     " extension_name TEXT NOT NULL, definition TEXT NOT NULL, scope TEXT NOT NULL, "
		     " CONSTRAINT ge_tce UNIQUE (table_name, column_name, extension_name));",
		     err)))
		return rc;
	if ((rc = srs_insert(db, "Undefined cartesian SRS", -1, "NONE", -1, "undefined",
			     "undefined cartesian coordinate reference system", err)) ||
	    (rc = srs_insert(db, "Undefined geographic SRS", 0, "NONE", 0, "undefined",
			     "undefined geographic coordinate reference system", err)) ||
	    (rc = twin_crs_wkt(4326, &wkt, err)) ||
	    (rc = srs_insert(db, "WGS 84 geodetic", 4326, "EPSG", 4326, wkt,
			     "longitude/latitude coordinates in decimal degrees on the WGS 84 "
			     "spheroid", err)))
		goto done;
	free(wkt);
	wkt = NULL;
	if (epsg != 4326) {
		char name[32];
		snprintf(name, sizeof(name), "EPSG:%d", epsg);
		if ((rc = twin_crs_wkt(epsg, &wkt, err)) ||
		    (rc = srs_insert(db, name, epsg, "EPSG", epsg, wkt, "the twin's tiles", err)))
			goto done;
	}
	if ((rc = twin_db_exec(db, STORE_SQL, err)) ||
	    (rc = twin_gpkg_add_feature_table(db, "frames", "POINT", epsg, 1, err)) ||
	    (rc = twin_gpkg_add_feature_table(db, "tiles", "POLYGON", epsg, 0, err)))
		goto done;
done:
	free(wkt);
	return rc;
}

int twin_gpkg_add_feature_table(sqlite3 *db, const char *table, const char *geom_type,
				int srs_id, int z, svt_err *err)
{
	char *sql = sqlite3_mprintf(
		"INSERT INTO gpkg_contents(table_name, data_type, identifier, description, srs_id) "
		"VALUES (%Q, 'features', %Q, 'svtwin', %d);"
		"INSERT INTO gpkg_geometry_columns VALUES (%Q, 'geom', %Q, %d, %d, 0);"
		"CREATE VIRTUAL TABLE \"rtree_%w_geom\" USING rtree(id, minx, maxx, miny, maxy);"
		"INSERT INTO gpkg_extensions VALUES (%Q, 'geom', 'gpkg_rtree_index', "
		"'http://www.geopackage.org/spec120/#extension_rtree', 'write-only');",
		table, table, srs_id, table, geom_type, srs_id, z, table, table);
	if (!sql)
		return svt_err_set(err, SVT_E_NOMEM, "no memory");
	int rc = twin_db_exec(db, sql, err);
	sqlite3_free(sql);
	return rc;
}

int twin_gpkg_drop_feature_table(sqlite3 *db, const char *table, svt_err *err)
{
	char *sql = sqlite3_mprintf("DROP TABLE IF EXISTS \"%w\";"
				    "DROP TABLE IF EXISTS \"rtree_%w_geom\";"
				    "DELETE FROM gpkg_extensions WHERE table_name = %Q;"
				    "DELETE FROM gpkg_geometry_columns WHERE table_name = %Q;"
				    "DELETE FROM gpkg_contents WHERE table_name = %Q;",
				    table, table, table, table, table);
	if (!sql)
		return svt_err_set(err, SVT_E_NOMEM, "no memory");
	int rc = twin_db_exec(db, sql, err);
	sqlite3_free(sql);
	return rc;
}

int twin_gpkg_touch(sqlite3 *db, const char *table, const double box[4], svt_err *err)
{
	/* The extent grows with what was added: never a scan of the table. */
	char *sql = box ? sqlite3_mprintf(
			      "UPDATE gpkg_contents SET last_change = "
			      "strftime('%%Y-%%m-%%dT%%H:%%M:%%fZ','now'), "
			      "min_x = min(coalesce(min_x, %.17g), %.17g), "
			      "min_y = min(coalesce(min_y, %.17g), %.17g), "
			      "max_x = max(coalesce(max_x, %.17g), %.17g), "
			      "max_y = max(coalesce(max_y, %.17g), %.17g) WHERE table_name = %Q;",
			      box[0], box[0], box[1], box[1], box[2], box[2], box[3], box[3], table)
			: sqlite3_mprintf("UPDATE gpkg_contents SET last_change = "
					  "strftime('%%Y-%%m-%%dT%%H:%%M:%%fZ','now') WHERE table_name = %Q;",
					  table);
	if (!sql)
		return svt_err_set(err, SVT_E_NOMEM, "no memory");
	int rc = twin_db_exec(db, sql, err);
	sqlite3_free(sql);
	return rc;
}

static uint8_t *put_le32(uint8_t *b, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	return b + 4;
}

static uint8_t *put_le64d(uint8_t *b, double d)
{
	uint64_t u;
	memcpy(&u, &d, 8);
	for (int i = 0; i < 8; i++)
		b[i] = (uint8_t)(u >> (8 * i));
	return b + 8;
}

/* GeoPackage binary header (spec 2.1.3.1.1): "GP", version 0, flags (bit 0 little-endian,
 * bits 1-3 envelope type: 0 none, 1 xy), srs_id, envelope. */
static uint8_t *gp_header(uint8_t *b, int srs_id, const double *env)
{
	b[0] = 'G';
	b[1] = 'P';
	b[2] = 0;
	b[3] = (uint8_t)(0x01 | (env ? 0x02 : 0));
	b = put_le32(b + 4, (uint32_t)srs_id);
	if (env) { /* minx, maxx, miny, maxy */
		b = put_le64d(b, env[0]);
		b = put_le64d(b, env[2]);
		b = put_le64d(b, env[1]);
		b = put_le64d(b, env[3]);
	}
	return b;
}

size_t twin_gpkg_point_blob(uint8_t *buf, int srs_id, double x, double y, double z)
{
	uint8_t *b = gp_header(buf, srs_id, NULL);
	*b++ = 1;
	b = put_le32(b, 1001); /* ISO WKB Point Z */
	b = put_le64d(b, x);
	b = put_le64d(b, y);
	b = put_le64d(b, z);
	return (size_t)(b - buf);
}

size_t twin_gpkg_rect_blob(uint8_t *buf, int srs_id, double x0, double y0, double x1,
			   double y1)
{
	double env[4] = {x0, y0, x1, y1};
	uint8_t *b = gp_header(buf, srs_id, env);
	*b++ = 1;
	b = put_le32(b, 3); /* Polygon */
	b = put_le32(b, 1);
	b = put_le32(b, 5);
	const double xy[10] = {x0, y0, x1, y0, x1, y1, x0, y1, x0, y0};
	for (int i = 0; i < 10; i++)
		b = put_le64d(b, xy[i]);
	return (size_t)(b - buf);
}

int twin_gpkg_wkb_blob(const uint8_t *wkb, size_t n, int srs_id, const double env[4],
		       uint8_t **out, size_t *nout, svt_err *err)
{
	*out = malloc(40 + n);
	if (!*out)
		return svt_err_set(err, SVT_E_NOMEM, "no memory");
	uint8_t *b = gp_header(*out, srs_id, env);
	memcpy(b, wkb, n);
	*nout = (size_t)(b - *out) + n;
	return SVT_OK;
}
