/* twin_internal.h: the store's insides, shared by twin_store.c, twin_points.c and
 * twin_query.c. Not a public header. */
#ifndef SVT_TWIN_INTERNAL_H
#define SVT_TWIN_INTERNAL_H

#include "geo/geo.h"
#include "twin/twin.h"

typedef struct tile {
	int tx, ty;
	uint64_t gen;
	size_t n_points;
	size_t f0, nf; /* range of by_tile */
} tile;

typedef struct capture {
	char *name, *source;
	size_t first, count;
	uint64_t gen;
} capture;

typedef struct layer_ref {
	char *name;
	twin_layer *l;
	long *lab; /* per frame */
} layer_ref;

typedef struct shard_dep {
	char *name;
	uint64_t gen;
	int *txy;
	size_t n;
} shard_dep;

struct twin_store {
	char *dir;
	int epsg;
	double tile_m, voxel_m;
	int have_origin;
	double origin[3];
	uint64_t gen;
	geo_crs *crs;
	geo_enu *enu;

	twin_frame *f;
	char **path;
	int *cap_of;
	int *ftx, *fty;
	size_t nf, capf;

	capture *caps;
	size_t ncaps;
	layer_ref *layers;
	size_t nlayers;
	tile *tiles; /* sorted by (tx, ty) */
	size_t ntiles, captiles;
	size_t *by_tile; /* frame indices grouped by tile, in tile order */
	shard_dep *shards;
	size_t nshards;
	gpu_ctx *gpu; /* borrowed (twin_store_set_gpu): pre-reduces incoming points */
};

/* Index of tile (tx, ty), or -(insertion point) - 1 when absent. */
long twin_tile_find(const twin_store *s, int tx, int ty);
/* Finds or inserts tile (tx, ty); its index, or a negative status. */
long twin_tile_get(twin_store *s, int tx, int ty, svt_err *err);
/* Tile of a projected point; -1 when not finite or absurdly far. */
int twin_tile_of(const twin_store *s, double e, double n, int *tx, int *ty);
/* Writes tiles/<tx>_<ty>.json of tile t, and twin.json. */
int twin_tile_write(const twin_store *s, size_t t, svt_err *err);
int twin_meta_write(const twin_store *s, svt_err *err);
/* The rigid map from the ENU frame at origin a to the store's: x_s = M x_a + t. */
int twin_enu_change(twin_store *s, const double a[3], double M[9], double t[3], svt_err *err);

#endif
