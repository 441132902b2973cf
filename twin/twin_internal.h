/* twin_internal.h: the store's insides, shared by twin_store.c, twin_gpkg.c, twin_points.c,
 * twin_las.c and twin_query.c. Not a public header. */
#ifndef SVT_TWIN_INTERNAL_H
#define SVT_TWIN_INTERNAL_H

#include <sqlite3.h>

#include "geo/geo.h"
#include "twin/twin.h"

/* The GeoPackage file inside a store directory, and the folder of per-tile LAS files. */
#define TWIN_GPKG_NAME "twin.gpkg"
#define TWIN_POINTS_DIR "points"

typedef struct tile {
	int tx, ty;
	uint64_t gen;
	size_t n_frames, n_points;
} tile;

typedef struct layer_ref {
	char *name;
	twin_layer *l; /* loaded from the GeoPackage on first use (NULL until then) */
} layer_ref;

/* What is read lazily and dropped on every mutation: the frames (for twin_store_frames and
 * the per-frame accessors), the tile list and the names handed out by stale_shards. */
typedef struct frame_cache {
	int valid;
	size_t n; /* frames held (paths to free) */
	twin_frame *f;
	char **path;
	int *cap_of;
	int *tx, *ty;
	long **lab; /* [layer][frame] */
	size_t nlab;
	char **cap_names;
	size_t ncaps;
} frame_cache;

enum { TWIN_ST_COUNT = 32 };

struct twin_store {
	char *dir, *db_path;
	sqlite3 *db;
	int epsg;
	double tile_m, voxel_m;
	int have_origin;
	double origin[3];
	uint64_t gen;
	size_t nf;    /* frames: store index i is fid i + 1 */
	int seq_next; /* first seq value free for the next capture */
	geo_crs *crs; /* WGS84 -> the store's projected CRS */
	geo_enu *enu;
	char *wkt; /* OGC WKT of the projected CRS (LAS files), on first use */
	layer_ref *layers;
	size_t nlayers;
	gpu_ctx *gpu; /* borrowed (twin_store_set_gpu): pre-reduces incoming points */
	struct twin_scratch *scratch; /* the fusion's working memory between calls (twin_points.c) */
	/* twin_store_set_threads: a fusion call's tiles on fuse_threads threads, the helpers in
	 * places of fuse_gate, each with its own scratch and PROJ objects (fuse_aux, fuse_naux) */
	int fuse_threads, fuse_naux;
	svt_gate *fuse_gate;
	struct twin_fuse_aux *fuse_aux;

	frame_cache fc;
	tile *tiles; /* cache, sorted by (tx, ty); NULL until asked for */
	size_t ntiles;
	int tiles_valid;
	char **stale; /* names last returned by twin_store_stale_shards */
	size_t nstale;
	sqlite3_stmt *st[TWIN_ST_COUNT]; /* prepared once (twin_stmt) */
};

/* ---- twin_gpkg.c: the GeoPackage layout ---------------------------------------------------- */

/* Creates the GeoPackage core tables, the SRS rows (4326, the store's epsg) and the store's
 * own tables with their R*Tree indexes, inside the caller's transaction. */
int twin_gpkg_create_schema(sqlite3 *db, int epsg, svt_err *err);
/* Registers a feature table (gpkg_contents, gpkg_geometry_columns, the R*Tree and its
 * gpkg_extensions row); geom_type "POINT", "POLYGON", "MULTIPOLYGON"; z: 0 or 1. */
int twin_gpkg_add_feature_table(sqlite3 *db, const char *table, const char *geom_type,
				int srs_id, int z, svt_err *err);
/* Drops a feature table and everything that registers it. */
int twin_gpkg_drop_feature_table(sqlite3 *db, const char *table, svt_err *err);
/* Updates gpkg_contents' last_change of a table and grows its extent to hold box (x0, y0,
 * x1, y1; NULL: extent unchanged). */
int twin_gpkg_touch(sqlite3 *db, const char *table, const double box[4], svt_err *err);
/* GeoPackage geometry blobs (little-endian, ISO WKB): a point (x, y, z; no envelope) and an
 * axis-aligned rectangle polygon (with its xy envelope). buf: 61 / 141 bytes at least. */
size_t twin_gpkg_point_blob(uint8_t *buf, int srs_id, double x, double y, double z);
size_t twin_gpkg_rect_blob(uint8_t *buf, int srs_id, double x0, double y0, double x1,
			   double y1);
/* Wraps WKB into a GeoPackage blob with an xy envelope; *out malloc'd. */
int twin_gpkg_wkb_blob(const uint8_t *wkb, size_t n, int srs_id, const double env[4],
		       uint8_t **out, size_t *nout, svt_err *err);
/* OGC WKT of an EPSG CRS (malloc'd), through PROJ. */
int twin_crs_wkt(int epsg, char **wkt, svt_err *err);

/* sqlite helpers: run SQL (no rows), and turn the connection's last error into err. */
int twin_db_exec(sqlite3 *db, const char *sql, svt_err *err);
int twin_db_err(sqlite3 *db, const char *what, svt_err *err);

/* ---- twin_store.c --------------------------------------------------------------------------- */

/* Tile of a projected point; -1 when not finite or absurdly far. */
int twin_tile_of(const twin_store *s, double e, double n, int *tx, int *ty);
/* The rigid map from the ENU frame at origin a to the store's: x_s = M x_a + t. */
int twin_enu_change(twin_store *s, const double a[3], double M[9], double t[3], svt_err *err);
/* Drops the lazy caches (after a mutation). */
void twin_cache_drop(twin_store *s);
/* Loads the frame cache when it is not valid. */
int twin_cache_frames(twin_store *s, svt_err *err);
/* Layer k, loaded from the GeoPackage on first use; NULL on failure (err filled). */
twin_layer *twin_layer_ref_get(twin_store *s, size_t k, svt_err *err);
/* Statement id (< TWIN_ST_COUNT, one per SQL text) prepared on first use, reset and with
 * its bindings cleared; NULL on failure (err filled). */
sqlite3_stmt *twin_stmt(twin_store *s, int id, const char *sql, svt_err *err);
/* BEGIN IMMEDIATE / COMMIT / ROLLBACK. */
int twin_tx_begin(twin_store *s, svt_err *err);
int twin_tx_commit(twin_store *s, svt_err *err);
void twin_tx_rollback(twin_store *s);
/* Writes the generation (and frame count) into twin_meta inside a transaction. */
int twin_meta_put_gen(twin_store *s, svt_err *err);
/* Finds or creates tile (tx, ty) in the tiles table; sets its generation, adds dframes to
 * n_frames and, when n_points >= 0, sets n_points and points_file. */
int twin_tile_upsert(twin_store *s, int tx, int ty, uint64_t gen, size_t dframes,
		     long long n_points, const char *points_file, svt_err *err);

/* ---- twin_query.c / twin_points.c ------------------------------------------------------------ */

/* The projected box (x0, y0, x1, y1) holding feature k of l (its lon/lat box's edges
 * sampled, plus a margin); SVT_E_NOTFOUND when the feature has no geometry. */
int twin_feature_box(twin_store *s, const twin_layer *l, size_t k, double box[4], svt_err *err);

/* A smooth map between the store's ENU frame and its projected CRS over a box, exact at its
 * nodes (PROJ) and trilinear between them: nodes at most TWIN_MAP_CELL_M apart across, two
 * levels in height. Both directions are smooth to second order over a city (their second
 * derivatives are of the order of 1/R, R the Earth's radius), so the interpolation error is
 * at most about cell^2 / (8 R) x a small factor: ~1e-5 m for 25 m cells (tested against
 * PROJ: < 1e-4 m). */
#define TWIN_MAP_CELL_M 25.0
typedef struct twin_map {
	double lo[3], step[3];
	int n[3];
	double *v; /* n[0] * n[1] * n[2] nodes, 3 values each */
} twin_map;
enum { TWIN_MAP_ENU_TO_PROJ = 0, TWIN_MAP_PROJ_TO_ENU = 1 };
/* Builds the map of direction dir over the box lo..hi (source coordinates). */
int twin_map_build(twin_store *s, int dir, const double lo[3], const double hi[3], twin_map *m,
		   svt_err *err);
void twin_map_apply(const twin_map *m, const double in[3], double out[3]);
/* twin_map_apply for n points: each an in[3] in_stride bytes after the one before, its result
 * an out[3] out_stride bytes apart; the same bits (four at a time on AVX2). */
void twin_map_apply_n(const twin_map *m, const double *in, size_t in_stride, double *out,
		      size_t out_stride, size_t n);
void twin_map_free(twin_map *m);
/* Exact transformation of n points in place (xyz interleaved), the map's reference. */
int twin_map_exact(twin_store *s, int dir, double *xyz, size_t n, svt_err *err);

/* ---- twin_points.c: a capture's points (twin_store_remove_capture) ---------------------------- */

/* Inside the caller's transaction: deletes the fused-frame records of store frames
 * [first, first + n) and moves the later ones down by n (their frames are renumbered), drops
 * every part of capture cap (captures.fid) from the tiles and gives those tiles the point count
 * of their other parts and generation gen. The dropped parts' files are pushed on *gone, to
 * unlink after the commit (twin_points_names_release). */
int twin_points_drop_capture(twin_store *s, sqlite3_int64 cap, size_t first, size_t n,
			     uint64_t gen, char ***gone, size_t *ngone, svt_err *err);
/* Frees the fusion's working memory (twin_store_close; NULL: no-op). */
void twin_points_scratch_free(struct twin_scratch *sc);
void twin_points_aux_free(struct twin_fuse_aux *x, int n);
/* Frees a list of point file names, unlinking the files first when unlink_them. */
void twin_points_names_release(const twin_store *s, char **v, size_t n, int unlink_them);

/* ---- twin_layer.c (for the store) ----------------------------------------------------------- */

/* Feature i's geometry (WGS84 lon/lat MultiPolygon) as ISO WKB, owned by l; NULL with *n 0
 * when it has none. */
const uint8_t *twin_layer_wkb(const twin_layer *l, size_t i, size_t *n);
/* Feature i's bbox (lon_min, lat_min, lon_max, lat_max). */
void twin_layer_feature_bbox(const twin_layer *l, size_t i, double bbox[4]);
/* The property keys of the layer, in first-seen order (owned by l). */
size_t twin_layer_keys(const twin_layer *l, const char *const **keys);

#endif
