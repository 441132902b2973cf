/* twin.h: the georeferenced model of the city the captures cover: frames, trajectories,
 * tiles, labels; clips cut from it and split by geography.
 *
 * Positions are kept in three forms: WGS84 lat/lon/h, the projected CRS (E, N, h) and the
 * dataset's ENU frame. Poses are OpenCV world(ENU)-to-camera (geo.h).
 */
#ifndef SVT_TWIN_H
#define SVT_TWIN_H

#include "base/svt.h"
#include "gpu/gpu.h" /* gpu_point: the point type the depth and voxel kernels produce */

/* One georeferenced frame. */
typedef struct twin_frame {
	int64_t time_us;
	double llh[3];       /* lat, lon, h */
	double proj[3];      /* E, N, h in the twin's CRS */
	double enu[3];       /* e, n, u in the twin's ENU frame */
	double heading;      /* direction of travel / camera heading, degrees from true north */
	double w2c[16];      /* pose of the panorama (or camera) */
	int seq;             /* sequence id (cuts at gaps) */
	unsigned flags;      /* twin_frame_flags */
	int src;             /* index into the capture's frames */
} twin_frame;

enum twin_frame_flags {
	TWIN_FRAME_HEADING_DERIVED = 1u << 0, /* heading from the track, not the file */
	TWIN_FRAME_STATIONARY = 1u << 1,
};

/* Clip assembly options. */
typedef struct twin_clip_opts {
	int frames;         /* frames per clip: 1 + 8k (121, 57 by default in Cosmos) */
	int stride;         /* first-frame step between clips (frames); = frames for no overlap */
	double min_step_m;  /* frames closer than this to the previous kept one are stationary */
	double spacing_m;   /* > 0: resample each sequence to this spacing along the track */
	double spacing_s;   /* > 0: resample each sequence to this spacing in time (not both) */
} twin_clip_opts;

/* Defaults: 57 frames, stride 57 (no overlap), min_step_m 0.5, no resampling. Always set opts
 * through this first, so fields added later get their defaults. */
void twin_clip_opts_default(twin_clip_opts *o);

/* A clip: indices into the frames array, consecutive in one sequence. */
typedef struct twin_clip {
	size_t first;       /* unused when idx is set */
	int n;
	size_t *idx;        /* n frame indices (owned) */
	int seq;
	char split[16];
} twin_clip;

typedef struct twin_clip_list {
	twin_clip *clips;
	size_t n;
} twin_clip_list;

/* Cuts frames into clips. A sequence is a maximal run of consecutive frames with the same seq
 * (a seq change is a cut; frames must be in time order within a run, else SVT_E_INPUT). In each
 * sequence, frames flagged TWIN_FRAME_STATIONARY or closer than min_step_m (ENU, 3D) to the
 * previous kept frame are dropped; then, if spacing_m or spacing_s is set, the kept frames are
 * resampled to that spacing (the nearest real frame to each target, no frame twice); clips of
 * exactly opts->frames kept frames start at kept positions 0, stride, 2 stride, ... while a
 * whole clip fits (a short tail is left out). clip.idx lists indices into frames (owned by the
 * list), clip.first = idx[0], clip.split is empty. *out is overwritten (not freed first): free
 * it with twin_clip_list_free. On failure *out is empty. Reentrant. */
int twin_clips_assemble(const twin_frame *frames, size_t n, const twin_clip_opts *opts,
			twin_clip_list *out, svt_err *err);
/* Frees the clips and their idx arrays and empties the list; NULL is harmless. */
void twin_clip_list_free(twin_clip_list *l);

/* Distance along the track (metres, ENU 3D, summed frame to frame) of each frame from the
 * first frame of its sequence (seq runs as above). dist_m has n entries, caller-owned. */
void twin_frames_distance(const twin_frame *frames, size_t n, double *dist_m);

/* ---- Splits by geography ----------------------------------------------------------------- */

/* TWIN_SPLIT_DROP: twin_clip_split's answer for a clip that belongs to no split (it must be
 * dropped). Not a negative value, so that it is never read as an svt_status. */
enum { TWIN_SPLIT_TRAIN = 0, TWIN_SPLIT_VAL = 1, TWIN_SPLIT_TEST = 2, TWIN_SPLIT_COUNT = 3,
       TWIN_SPLIT_DROP = TWIN_SPLIT_COUNT };

/* The plane of the projected CRS is cut into tiles of tile_m and blocks of block_tiles x
 * block_tiles tiles. Each block gets a split from a hash of (seed, block column, block row)
 * mapped through the cumulative ratios, so a block's split depends only on the seed, the
 * ratios and where it is: adding captures never moves an existing place to another split.
 * A clip is kept only if every one of its frames lies at least buffer_m / 2 inside the region
 * of its split (away from every block of another split); two kept clips of different splits
 * are then at least buffer_m apart everywhere (docs/twin.md). */
typedef struct twin_split_opts {
	double tile_m;     /* 100 */
	int block_tiles;   /* 5: blocks of 500 m */
	double buffer_m;   /* 50: minimum distance between frames of different splits */
	double ratio[TWIN_SPLIT_COUNT]; /* train, val, test: 0.8, 0.1, 0.1 (normalised) */
	uint64_t seed;     /* 0 */
} twin_split_opts;

void twin_split_opts_default(twin_split_opts *o);
/* "train", "val", "test"; "" for anything else (a dropped clip). Static strings. */
const char *twin_split_name(int split);
/* The split index of a name, or -1. */
int twin_split_from_name(const char *name);
/* Checks o (positive tile, block, finite buffer >= 0, ratios >= 0 with a positive sum). */
int twin_split_opts_check(const twin_split_opts *o, svt_err *err);
/* The split of the block holding projected point (e, n). o must pass twin_split_opts_check
 * (else -1). Pure, thread-safe. */
int twin_split_of_point(const twin_split_opts *o, double e, double n);
/* The split a clip gets from its frames' projected positions (frames[idx].proj): the split of
 * the first frame's block, or TWIN_SPLIT_DROP when some frame lies closer than buffer_m / 2 to
 * a block of another split or has no finite position (the clip must be dropped). Also
 * TWIN_SPLIT_DROP when o fails twin_split_opts_check or an argument is NULL. Pure,
 * thread-safe. */
int twin_clip_split(const twin_split_opts *o, const twin_frame *frames, const twin_clip *clip);
/* Assigns every clip of l its split (clip.split = twin_split_name) and removes (frees) the
 * clips that must be dropped, keeping the order of the rest. *n_dropped (may be NULL) gets
 * how many were removed; counts (may be NULL) gets the kept clips per split. */
int twin_splits_assign(const twin_split_opts *o, const twin_frame *frames, size_t n_frames,
		       twin_clip_list *l, size_t *n_dropped, size_t counts[TWIN_SPLIT_COUNT],
		       svt_err *err);

/* A leak found by twin_splits_check: points a and b of different splits closer than the
 * buffer. */
typedef struct twin_split_violation {
	size_t a, b;
	double dist_m;
} twin_split_violation;

/* The leak check `svtwin verify` runs: points xy[2 i], xy[2 i + 1] (planar metres: projected
 * E, N or ENU e, n) each with a split (split[i] < 0: ignored). Counts the pairs of points of
 * different splits closer than buffer_m into *n_violations and writes up to max_report of
 * them into report (may be NULL). Grid hashing: O(n) for spread points. Returns 0 whatever
 * it finds (the count says); SVT_E_INPUT / SVT_E_NOMEM on failure. Thread-safe. */
int twin_splits_check(const double *xy, const int *split, size_t n, double buffer_m,
		      size_t *n_violations, twin_split_violation *report, size_t max_report,
		      svt_err *err);
/* Same for WGS84 lat/lon points (degrees): converted to a local plane about their mean
 * (WGS84 radii of curvature; error under 1e-3 relative within 50 km), for callers that have
 * only llh (a shard's llh dataset). */
int twin_splits_check_llh(const double *lat, const double *lon, const int *split, size_t n,
			  double buffer_m, size_t *n_violations, twin_split_violation *report,
			  size_t max_report, svt_err *err);

/* ---- Vector layers and labels ------------------------------------------------------------ */

/* A set of polygon features (districts, dongs, any zone) held in WGS84 lon/lat, each with a
 * name and its properties, indexed for point-in-polygon (a grid over the layer's bbox, then
 * each feature's bbox, then the even-odd rule over all its rings, which handles holes and
 * multipolygons). Read-only after loading: concurrent lookups from several threads are safe. */
typedef struct twin_layer twin_layer;

typedef struct twin_layer_opts {
	int epsg;               /* source CRS; 0 = the layer's own (a .prj, GeoPackage SRS,
				 * GeoJSON "crs"; the Korean 1985 modified belts 5173-5177 are
				 * recognised by their parameters), else 4326 */
	const char *name_field; /* property that names a feature; NULL = the first present of
				 * name, NAME, SIG_KOR_NM, EMD_KOR_NM, ADM_NM, adm_nm, ADMNM */
	const char *encoding;   /* text encoding of a .dbf (OGR's ENCODING); NULL = OGR's
				 * reading of the .cpg / LDID, and a string that is still not
				 * valid UTF-8 is taken as CP949 */
	const char *layer;      /* layer of a multi-layer source (GeoPackage, KML); NULL = first */
} twin_layer_opts;

void twin_layer_opts_default(twin_layer_opts *o);
/* Loads a polygon layer from any vector source GDAL/OGR reads (GeoPackage, ESRI Shapefile,
 * GeoJSON, FlatGeobuf, KML...): Polygon / MultiPolygon features (curves linearised; a
 * feature without geometry is kept, empty, so feature i stays record i), vertices
 * transformed to WGS84 through OGR/PROJ (datum shifts included: EPSG:5174 uses "Korean 1985
 * to WGS 84"). opts may be NULL. A file OGR cannot read or that breaks mid-way is
 * SVT_E_FORMAT; a missing file SVT_E_NOTFOUND. Free with twin_layer_destroy (NULL
 * harmless). Reentrant (GDAL's error handler is pushed per thread). */
int twin_layer_load(const char *path, const twin_layer_opts *opts, twin_layer **out,
		    svt_err *err);
void twin_layer_destroy(twin_layer *l);
size_t twin_layer_count(const twin_layer *l);
/* The feature's name (UTF-8, owned by l; "" when it has none). */
const char *twin_layer_name(const twin_layer *l, size_t i);
/* A property of feature i as a string (numbers formatted at load), owned by l; NULL when
 * absent. Thread-safe. */
const char *twin_layer_prop(const twin_layer *l, size_t i, const char *key);
/* Layer bbox in degrees: lon_min, lat_min, lon_max, lat_max. */
void twin_layer_bbox(const twin_layer *l, double bbox[4]);
/* 1 when feature i contains (lat, lon). */
int twin_layer_contains(const twin_layer *l, size_t i, double lat, double lon);
/* The first feature containing (lat, lon) (features in file order), or -1. Thread-safe. */
long twin_layer_locate(const twin_layer *l, double lat, double lon);
/* The feature whose name or any string property equals name (ASCII case-insensitive), or -1:
 * "중구", "Jung-gu" and "11140" all find Jung-gu in the JUSO layer. */
long twin_layer_find(const twin_layer *l, const char *name);
/* Writes the layer as a GeoJSON FeatureCollection in WGS84 (the store keeps its layers so).
 * Atomic. */
int twin_layer_save_geojson(const twin_layer *l, const char *path, svt_err *err);

/* Labels frames: lab[i] = twin_layer_locate(l, frames[i].llh[0], frames[i].llh[1]). */
void twin_frames_label(const twin_layer *l, const twin_frame *frames, size_t n, long *lab);
/* A clip's label: the most common frame label among its frames (ties: the one of the
 * middle frame, then the lowest); -1 when none of its frames is labelled. */
long twin_clip_label(const twin_clip *c, const long *frame_labels);

/* ---- The persistent store ---------------------------------------------------------------- */

/* A twin store is a directory holding one SQLite file laid out as an OGC GeoPackage,
 * DIR/twin.gpkg (tables in docs/twin.md: frames and tiles as feature tables with R*Tree
 * indexes, captures, layers as feature tables, frame labels, shards and their tiles), and
 * DIR/points/<tx>_<ty>.*.las (fused points per tile, LAS 1.4). Every mutating call is one
 * transaction (WAL journal): a killed writer loses nothing committed and readers never see
 * half a capture. Nothing is loaded whole on open; queries use the R*Tree indexes. A store is
 * used by one thread at a time (it owns PROJ contexts and an SQLite connection); other
 * processes may read it while one writes.
 *
 * Tiles: tile (tx, ty) covers tx * tile_m <= E < (tx + 1) * tile_m, and the same for N, in the
 * store's projected CRS. The store's generation counts mutations; each tile remembers the
 * generation that last changed it (frames or points), so twin_store_dirty_tiles(since) names
 * the tiles a rebuild must look at, and twin_store_stale_shards the shards cut from them. */
typedef struct twin_store twin_store;

typedef struct twin_store_opts {
	int epsg;              /* projected CRS of the tiles: GEO_EPSG_DEFAULT (5186) */
	double tile_m;         /* 100 */
	double voxel_m;        /* fused point voxel: 0.05 */
	int have_origin;       /* 1: ENU origin below; 0: the first frame ever added */
	double origin_llh[3];  /* lat, lon, h of the store's ENU frame */
	int no_create;         /* 1: fail with SVT_E_NOTFOUND instead of creating a store */
} twin_store_opts;

void twin_store_opts_default(twin_store_opts *o);

/* 1 when dir holds a twin (its twin.gpkg), else 0. */
int twin_store_exists(const char *dir);

/* Opens the store in dir, or creates it (and dir) when dir holds no twin.gpkg (unless
 * opts->no_create: SVT_E_NOTFOUND); opts (NULL = defaults) apply only at creation: an
 * existing store keeps its own. Reads only the store's metadata (constant time in its size).
 * A store of the earlier JSON layout (twin.json) is refused with SVT_E_FORMAT and a message
 * naming the command that migrates it (twin_store_migrate). Free with twin_store_close (NULL
 * harmless), which writes nothing. */
int twin_store_open(const char *dir, const twin_store_opts *opts, twin_store **out,
		    svt_err *err);
void twin_store_close(twin_store *s);

/* One capture handed to the store. frames[i].llh must be set (WGS84); proj and enu are
 * recomputed in the store's CRS and ENU frame. Poses: when enu_origin_llh is given,
 * frames[i].w2c is in the caller's ENU frame with that origin and is re-expressed in the
 * store's (an exact rigid change of frame); when NULL, w2c is rebuilt from llh and heading
 * (pitch, roll 0). seq values are kept distinct from other captures' (offset). paths (may be
 * NULL) name each frame's source file. name must be unique in the store (SVT_E_INPUT). */
typedef struct twin_capture_in {
	const char *name;
	const char *source;
	const twin_frame *frames;
	size_t n;
	const double *enu_origin_llh;
	const char *const *paths;
} twin_capture_in;

/* Removes the store in dir (its GeoPackage with its journal files, then the LAS files under points),
 * leaving dir and any other file in it. The caller makes sure no one has it open (the main
 * job holds the folder's build lock). A dir without a store is not an error. With a trash
 * (base/svt.h), the files leave their names the same way and at once, and their blocks are
 * freed by the trash's thread (a rebuild's --fresh: ~100 MB of LAS files for the samples). */
int twin_store_remove(const char *dir, svt_trash *trash, svt_err *err);

/* Removes capture name and everything the store holds of it, in one transaction: its frames
 * (the later frames move down: store index i stays fid i + 1, so other captures' first frames
 * change; twin_store_capture_find gives the new ones), their labels and fused-frame records,
 * and its contributions to the fused points of every tile (the other captures' parts are kept
 * as they are). The tiles it touched get a new generation, so the shards cut from them are
 * stale. What `svtwin build --fresh` does to its capture in a shared --twin before adding it
 * again. SVT_E_NOTFOUND when the store has no such capture. */
int twin_store_remove_capture(twin_store *s, const char *name, svt_err *err);

/* Adds a capture: appends its frames (store indices *first .. *first + n - 1; first may be
 * NULL), labels them with every layer, bumps the generation and marks the tiles its frames
 * fall in (no other tile changes); one transaction: on failure the store is as before. */
int twin_store_add_capture(twin_store *s, const twin_capture_in *in, size_t *first,
			   svt_err *err);

/* The most parts one capture keeps in one tile between compactions. Fusion writes a call's
 * points as a new part, so a tile's capture is rewritten once every TWIN_PARTS_MAX calls into
 * it rather than on every call, while a reader merges at most TWIN_PARTS_MAX parts of the
 * capture (their concatenation sorted, their voxel lists merged): 8 cuts the rewrites of the
 * old points eightfold and keeps a reader's extra work, for parts that overlap little (a drive
 * passing by), about the size of the points themselves and at worst 8 times it. */
#define TWIN_PARTS_MAX 8

/* Fuses coloured points (ENU of the frame with origin origin_llh, e.g. a capture's; NULL =
 * the store's own frame) into the tiles they fall in: points are moved into the store's ENU
 * frame, binned by tile (projected CRS), and merged per tile on a voxel_m grid of the
 * store's ENU frame as weighted means (each voxel keeps how many points it merged, so adding
 * points later gives the same means as adding them all at once, up to float rounding). Each
 * tile touched gets a new part holding the call's own points merged (nothing read or
 * rewritten) until its capture has TWIN_PARTS_MAX parts there; the next call compacts them
 * with its points into one. Only the tiles touched change; their generation is bumped. The a
 * channel of the input is ignored (each point counts once). At most UINT32_MAX - 1 points a
 * call (SVT_E_INPUT beyond). The store keeps the fusion's working memory (8 bytes a point
 * of the largest call, about 300 a point of its largest tile) until it is closed, for the next
 * call to reuse. */
int twin_store_add_points(twin_store *s, const gpu_point *pts, size_t n,
			  const double origin_llh[3], svt_err *err);

/* twin_store_add_points that also records, in the same transaction, the store frames whose
 * depth the points came from (frames[0..nframes), store indices, all of one capture): a build
 * killed between two fusions finds exactly which frames are fused (twin_store_frames_fused)
 * and fuses the others on its rerun, never one twice. The points go into the part of the
 * capture of frames[0] in each tile (twin_store_add_points: capture 0's), so that capture's
 * contribution can be removed again (twin_store_remove_capture). */
int twin_store_add_points_of(twin_store *s, const gpu_point *pts, size_t n,
			     const double origin_llh[3], const size_t *frames, size_t nframes,
			     svt_err *err);
/* out[i] = 1 when store frame first + i has had its depth fused with a record
 * (twin_store_add_points_of), else 0. */
int twin_store_frames_fused(twin_store *s, size_t first, size_t n, unsigned char *out,
			    svt_err *err);

/* Lends the store a gpu context (not owned; NULL to stop): twin_store_add_points then first
 * reduces each tile's incoming points with gpu_voxel_downsample (CUDA when ctx has a device,
 * its C reference otherwise) on the same voxel grid, and merges the result weighted by each
 * voxel's count. Same means as without it; a voxel that gathers over 255 points in one call
 * weighs 255 against later merges (the kernel's cap). ctx must outlive its use by s. */
void twin_store_set_gpu(twin_store *s, gpu_ctx *ctx);

/* Lets one fusion call (twin_store_add_points*) work on up to n threads: the caller's and
 * n - 1 helpers, each helper in a place of gate (NULL: an open gate) while it works, so the
 * caller's thread budget bounds them. The tiles' points, merges and files are shared out;
 * what touches the database stays on the caller's thread, in tile order, so the files and
 * rows are the same for any n. Default 1; not with a GPU context (twin_store_set_gpu). */
void twin_store_set_threads(twin_store *s, int n, svt_gate *gate);

/* Adds (or replaces) a named vector layer: loads path with o (may be NULL), stores it as the
 * GeoPackage feature table layer_<name> (WGS84), relabels every frame and, as labels go into
 * shards, marks every tile holding frames as changed; one transaction.
 * name: [A-Za-z0-9_-], <= 63. */
int twin_store_add_layer(twin_store *s, const char *name, const char *path,
			 const twin_layer_opts *o, svt_err *err);

/* Migrates a store of the JSON layout (version 1: twin.json, frames/, tiles/, layers/,
 * shards.json) in dir into the GeoPackage layout in place: frames, poses, labels, fused
 * points, tile and shard generations kept (the same shards stale as before). Built aside and
 * moved in last (a killed migration leaves the old store untouched); twin.json becomes
 * twin.json.v1 and the old files stay. *n_frames (may be NULL) gets the frames migrated.
 * `svtwin twin migrate DIR` calls it. */
int twin_store_migrate(const char *dir, size_t *n_frames, svt_err *err);

/* The GeoPackage file of the store (DIR/twin.gpkg), owned by s. */
const char *twin_store_path(const twin_store *s);
/* 1 when the store holds a capture called name (its store indices in *first, *n; may be
 * NULL), else 0. One indexed lookup. */
int twin_store_capture_find(const twin_store *s, const char *name, size_t *first, size_t *n);

/* One frame with everything the store knows of it, read by one indexed lookup (no cache):
 * what a caller printing a few frames of a large store wants. Strings are truncated to fit. */
typedef struct twin_frame_record {
	twin_frame f;
	int tx, ty;
	char capture[256];
	char path[1024];
	char labels[2048]; /* JSON object {layer: feature name} */
} twin_frame_record;
int twin_store_frame_record(const twin_store *s, size_t i, twin_frame_record *out, svt_err *err);

/* What the store holds. Pointers are owned by s and valid until the next mutating call.
 * twin_store_frames and the per-frame accessors (path, capture, tile, label) read every
 * frame into memory on first use (then answer from memory until the next mutation): use
 * the queries for a large store. */
int twin_store_epsg(const twin_store *s);
double twin_store_tile_m(const twin_store *s);
void twin_store_origin(const twin_store *s, double llh[3]);
uint64_t twin_store_generation(const twin_store *s);
size_t twin_store_frame_count(const twin_store *s);
const twin_frame *twin_store_frames(const twin_store *s);
const char *twin_store_frame_path(const twin_store *s, size_t i);    /* "" when unknown */
const char *twin_store_frame_capture(const twin_store *s, size_t i); /* capture name */
void twin_store_frame_tile(const twin_store *s, size_t i, int *tx, int *ty);
/* The trajectory of sequence seq: the store indices of its frames in time order (ties: store
 * order); *idx malloc'd (caller frees); *n = 0 when no frame has that seq. */
int twin_store_trajectory(const twin_store *s, int seq, size_t **idx, size_t *n, svt_err *err);
size_t twin_store_layer_count(const twin_store *s);
const char *twin_store_layer_name(const twin_store *s, size_t k);
const twin_layer *twin_store_layer(const twin_store *s, size_t k);
/* The name of frame i's feature in layer k ("" when outside every feature). */
const char *twin_store_frame_label(const twin_store *s, size_t i, size_t k);

typedef struct twin_tile_info {
	int tx, ty;
	uint64_t gen;      /* generation that last changed the tile */
	size_t n_frames;
	size_t n_points;
} twin_tile_info;

size_t twin_store_tile_count(const twin_store *s);
/* Tile k in (tx, ty) order. */
int twin_store_tile(const twin_store *s, size_t k, twin_tile_info *out);
/* The fused points of tile (tx, ty), in the store's ENU frame (a = min(weight, 255)), in voxel
 * order: the tile's parts (one per capture, or per rank after a cluster merge) merged voxel by
 * voxel as weighted means (for one part, the part as stored); *pts is malloc'd (caller frees),
 * NULL with *n = 0 when the tile has none. */
int twin_store_tile_points(const twin_store *s, int tx, int ty, gpu_point **pts, size_t *n,
			   svt_err *err);

/* Writes the fused points inside feature `feature` of layer l (feature -1: any of its
 * features; l NULL: every point of the store) as one LAS 1.4 file at path (atomic): point
 * format 7 with RGB and the "weight" extra bytes, projected E, N and ellipsoidal h in the
 * store's CRS (OGC WKT in the header). *n_out (may be NULL) gets the point count. Tiles are
 * found through their R*Tree. */
int twin_store_export_points(twin_store *s, const twin_layer *l, long feature, const char *path,
			     size_t *n_out, svt_err *err);

/* Tiles changed after generation since: *txy (malloc'd, caller frees) holds tx, ty pairs. */
int twin_store_dirty_tiles(const twin_store *s, uint64_t since, int **txy, size_t *n,
			   svt_err *err);
/* The tiles a clip (indices into the store's frames) depends on: those its frames lie in,
 * unique, in (tx, ty) order; *txy malloc'd (pairs). */
int twin_store_clip_tiles(const twin_store *s, const twin_clip *c, int **txy, size_t *n,
			  svt_err *err);
/* Records that shard `name` was cut from tiles txy[0..n) at the current generation
 * (replacing an earlier record of that name); persisted in the shards tables. */
int twin_store_record_shard(twin_store *s, const char *name, const int *txy, size_t n,
			    svt_err *err);
/* Shards recorded earlier one of whose tiles changed after they were recorded, or which
 * depend on a tile the store no longer has: the shards a rebuild must rewrite. *names is a
 * malloc'd array of pointers owned by s (free only the array). */
int twin_store_stale_shards(const twin_store *s, const char ***names, size_t *n, svt_err *err);

/* Merges the fused points of the stores src[0..nsrc) into dst: every part of every source's
 * tiles (one capture's points in a tile) becomes a part of dst's tile, its file adopted as it
 * is (a hard link; a copy across file systems), nothing rewritten; readers merge a tile's
 * parts as weighted voxel means, so dst answers as one fusion of all their points (up to
 * rounding, in any order): how the twin parts of a cluster build's ranks become one. Each
 * tile given parts gets its merged point count (the parts' voxel fields, read in place) and a
 * new generation; one transaction. Captures are matched by name: every capture of a source
 * must be in dst (twin_store_add_capture first), and the stores must share CRS, tile and voxel
 * sizes and ENU origin (SVT_E_INPUT otherwise, dst as before). *n_tiles (may be NULL) gets
 * the tiles given parts. */
int twin_store_merge_points(twin_store *dst, twin_store *const *src, size_t nsrc,
			    size_t *n_tiles, svt_err *err);

/* Carries the shard records (twin_store_record_shard) of the stores src[0..nsrc) into dst, in
 * one transaction: each shard with its tiles, recorded at dst's generation, stale when it was
 * stale in its store or dst lacks one of its tiles (and, like any record, once one of its
 * tiles changes later). Call it after twin_store_merge_points, so that the merge's own
 * change to the tiles does not make them stale. A shard name recorded by two sources (or
 * already in dst) is SVT_E_INPUT, dst as before. *n_shards (may be NULL) gets how many. How a
 * cluster merge keeps the ranks' shard records, so stale-shard queries work on the merged
 * twin. */
int twin_store_merge_shards(twin_store *dst, twin_store *const *src, size_t nsrc,
			    size_t *n_shards, svt_err *err);

/* Copies the store in src_dir into dst_dir (which must hold none), as of one commit: the
 * GeoPackage by SQLite's VACUUM INTO (in WAL mode), the point files by hard link (they are
 * never rewritten in place; dst_dir must be on the same file system). The way to change a
 * store as a whole: change the copy, then move it in. (twin_snapshot.c) */
int twin_store_snapshot(const char *src_dir, const char *dst_dir, svt_err *err);

/* ---- Queries ------------------------------------------------------------------------------ */

/* Frames within radius_m (geodesic, WGS84) of lat, lon, nearest first; *idx malloc'd (caller
 * frees); dist_m (may be NULL) gets a malloc'd array of their distances. Uses the tile index:
 * only tiles within reach are looked at. */
int twin_store_query_near(twin_store *s, double lat, double lon, double radius_m, size_t **idx,
			  double **dist_m, size_t *n, svt_err *err);
/* Frames labelled with the feature called name (twin_layer_find: any name or property) in
 * layer layer_name (NULL: the first layer that has such a feature), in store order.
 * SVT_E_NOTFOUND when no layer has it. */
int twin_store_query_district(const twin_store *s, const char *layer_name, const char *name,
			      size_t **idx, size_t *n, svt_err *err);
/* Frames inside feature k of any layer l (point in polygon), in store order. */
int twin_store_query_polygon(const twin_store *s, const twin_layer *l, size_t k, size_t **idx,
			     size_t *n, svt_err *err);
/* The frame nearest a pose: the least dist_m + deg_weight_m * (heading difference, degrees)
 * over all frames (heading NaN: position only). -1 when the store is empty. *score (may be
 * NULL) gets the winning score. */
long twin_store_nearest_pose(twin_store *s, double lat, double lon, double heading,
			     double deg_weight_m, double *score);

/* ---- Captions ----------------------------------------------------------------------------- */

/* What a clip's caption is made of: only what the metadata says. */
typedef struct twin_caption_in {
	const double *heading;   /* n view headings, degrees from true north */
	int n;
	int64_t time_us;         /* the first frame's time (UTC) */
	int tz_offset_min;       /* its local time zone */
	double dist_m;           /* distance covered */
	double span_s;           /* time taken */
	const char *district;    /* "" or NULL when unknown */
	const char *dong;        /* "" or NULL when unknown */
	const char *region;      /* optional wider place ("Seoul") a layer names; NULL: none */
} twin_caption_in;

/* Clips slower than this (metres per second) are captioned a walk, faster ones a drive. */
#define TWIN_CAPTION_WALK_MAX_MPS 2.5

/* The compass point ("north", "northeast", ... "northwest") of a heading in degrees. */
const char *twin_caption_cardinal(double heading_deg);
/* "in the morning" (05-12), "in the afternoon" (12-17), "in the evening" (17-20), "at night"
 * for a UTC time and a time zone offset. */
const char *twin_caption_time_of_day(int64_t time_us, int tz_offset_min);
/* One caption for a clip: "A street-level <walk|drive> heading <the circular mean of the
 * headings as a compass point> through <dong>, <district>[, <region>] <time of day>, seen from
 * a forward-facing camera, <dist> m in <span> s." into out. The place is only what the layers
 * name (no place without them, never a city assumed); walk or drive follows the speed
 * (TWIN_CAPTION_WALK_MAX_MPS; "sequence" when the time span is unknown). Written into out (cap bytes, always terminated,
 * truncated when short). Returns the length it needed (as snprintf). Pure, thread-safe. */
int twin_clip_caption(const twin_caption_in *in, char *out, size_t cap);

/* ---- Retrieval of street views (twin_retrieve.c) ----------------------------------------- */

/* Every panorama of the store offers TWIN_VIEW_YAWS views, at yaws 0, 45, ... 315 degrees
 * clockwise from its own heading (or, with any_yaw, the one view looking exactly where the
 * query looks). A query scores a view by distance (geodesic, metres) + deg_weight_m x the
 * heading difference (degrees, 0..180) and answers the best views, one per panorama, through
 * the store's spatial index (twin_store_query_near): what the Seoul World Model recipe
 * retrieves near a camera's path (docs/twin.md). */
#define TWIN_VIEW_YAWS 8

typedef struct twin_view_query {
	double lat, lon;         /* where the camera is (WGS84) */
	double heading;          /* where it looks, degrees from true north; NaN: position only */
	double radius_m;         /* candidates within this (30) */
	double deg_weight_m;     /* metres a degree of heading difference costs (0.1) */
	int any_yaw;             /* 1: the view at exactly the query heading, not the 8 yaws */
	const char *exclude_capture; /* leave out this capture (capture run); NULL: none */
	int exclude_seq;         /* leave out this sequence; -1 (default): none */
	int64_t time_us;         /* with min_gap_s > 0: leave out frames closer in time than */
	double min_gap_s;        /* min_gap_s to time_us (0: no time rule) */
	/* Optional: a frame is a candidate only when this returns nonzero (splits, holdouts). */
	int (*accept)(void *user, size_t frame, const twin_frame_record *r);
	void *accept_user;
} twin_view_query;

/* One view retrieved. */
typedef struct twin_view_hit {
	size_t frame;            /* store index of the panorama */
	double yaw_deg;          /* the view's yaw from the panorama's heading, [0, 360) */
	double heading;          /* the view's heading from north, [0, 360) */
	double dist_m, score;
	int64_t time_us;
	int seq;
	size_t pose;             /* twin_store_views_along: the trajectory pose it was found for */
	char capture[64];        /* the capture (run) it comes from (truncated to 63) */
} twin_view_hit;

/* Defaults as listed above (position 0, 0: set lat, lon). */
void twin_view_query_default(twin_view_query *q);
/* The k best views near q (lowest score first, ties: lower store index), one per panorama,
 * into out (k entries, caller-owned); *n how many. 0, SVT_E_INPUT or a store error. */
int twin_store_views_near(twin_store *s, const twin_view_query *q, size_t k, twin_view_hit *out,
			  size_t *n, svt_err *err);
/* Views along a trajectory of npts poses (lat, lon, heading each; heading may be NULL): the
 * best view of each pose (q's rules, its lat/lon/heading replaced), no panorama twice (a
 * panorama goes to the pose it scores best for), then, when more than k, k spread evenly
 * along the trajectory; in pose order. out has k entries. */
int twin_store_views_along(twin_store *s, const twin_view_query *q, const double *lat,
			   const double *lon, const double *heading, size_t npts, size_t k,
			   twin_view_hit *out, size_t *n, svt_err *err);

#endif
