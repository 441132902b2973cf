/* formats.h: Cosmos-style HDF5 training shards (docs/shard-format.md): writer, reader, verifier.
 *
 * hid_t never leaves this module. A writer or reader is used by one thread at a time.
 * A shard is written as NAME.h5.tmp and renamed to NAME.h5 only after flush, close and fsync,
 * so no half-written file ever carries a final name.
 */
#ifndef SVT_FORMATS_H
#define SVT_FORMATS_H

#include "base/svt.h"

#define FMT_SCHEMA_NAME "svtwin.cosmos_shard"
#define FMT_SCHEMA_VERSION 1

/* Root attributes of a shard: the conventions and frames every clip in it shares. */
typedef struct fmt_shard_info {
	int crs_epsg;            /* projected CRS of the projected coordinates (5186) */
	double enu_origin_llh[3];/* lat, lon, h of the ENU origin of w2c */
	double enu_origin_proj[3];/* the same origin in crs_epsg (E, N, h) */
	const char *source;      /* capture path or name, free text */
	double split_buffer_m;   /* geographic split buffer the clips were cut with (0: none);
				  * `svtwin verify` checks that no two splits come closer */
	const char *crs_source;  /* how crs_epsg was chosen ("default: ..." or "user"), stored as
				  * the root attribute "crs_source"; NULL: not stored */
	const char *build_config; /* the build's configuration record (fmt_config_to_json), stored
				  * as the root attribute "build_config"; NULL: none. Copied by
				  * fmt_writer_create. */
} fmt_shard_info;

typedef enum fmt_codec {
	FMT_CODEC_NONE = 0,
	FMT_CODEC_GZIP,  /* deflate + shuffle, always available */
	FMT_CODEC_LZ4,   /* HDF5 filter 32004 (plugin) */
	FMT_CODEC_ZSTD,  /* HDF5 filter 32015 (plugin) */
	FMT_CODEC_BLOSC, /* HDF5 filter 32001 (plugin) */
	FMT_CODEC_JPEG,  /* each frame a JPEG (level = quality), /frames_jpeg; lossy */
} fmt_codec;

/* Parses "none", "gzip", "lz4", "zstd", "blosc", "jpeg" (optionally ":level"; for jpeg the
 * quality, 1-100, default 90). */
int fmt_codec_parse(const char *s, fmt_codec *codec, int *level, svt_err *err);
const char *fmt_codec_name(fmt_codec c);
/* True when the codec's HDF5 filter can encode in this process. */
int fmt_codec_available(fmt_codec c);
/* The default frame codec: LZ4 when HDF5 can load filter 32004 (the plugin), otherwise gzip
 * level 1. Writes the codec's default level to *level when level is not NULL. */
fmt_codec fmt_codec_default(int *level);

typedef struct fmt_writer_opts {
	fmt_codec codec;
	int level;
	int fletcher32;          /* per-chunk checksums (default 1) */
	int threads;             /* compression threads (0 = number of cores) */
	svt_gate *gate;          /* NULL, or the caller's CPU gate (base/svt.h): a compression
				  * runs only in a free place of it; a caller holding a place gives
				  * it up while it waits for the compression threads */
	uint64_t target_bytes;   /* rotate shards at this size (default 500 MB) */
	int resume;              /* 1: keep the committed shards PREFIX-NNNNN.h5 already in DIR
				  * (numbered from 0 without a gap; each must open and pass the
				  * schema check) and go on after them: their clips count as
				  * written (fmt_writer_has_clip), the manifest lists them */
	const char *const *resume_stop; /* clip ids that must be rewritten: resumption stops at
				  * the first shard holding one (it and later shards are rewritten) */
	size_t n_resume_stop;
	svt_trash *trash;        /* NULL, or where the shards this writer will not keep go at
				  * create (base/svt.h): PREFIX-NNNNN.h5 after the last one resumed
				  * (all of them without resume) leave their names at once, instead
				  * of each being freed by the rename of its successor over it, on
				  * the commit's critical path (45 ms for a 218 MB shard on ext4) */
} fmt_writer_opts;

void fmt_writer_opts_default(fmt_writer_opts *o);

/* One caption window over frames [start_frame, end_frame]. */
typedef struct fmt_caption {
	int start_frame, end_frame;
	const char *caption;
} fmt_caption;

/* What a clip holds besides its frames. Arrays have T rows; optional ones may be NULL.
 * The writer copies everything it needs before fmt_clip_begin returns. */
typedef struct fmt_clip_desc {
	const char *id;          /* unique in the dataset, [A-Za-z0-9_.-] */
	int T, H, W;             /* frames, height, width (3 channels, uint8) */
	const double *w2c;       /* T x 4 x 4, OpenCV world (ENU) -> camera */
	const double *K;         /* T x 4: fx, fy, cx, cy in pixels of the stored frames */
	const double *llh;       /* T x 3: lat, lon, h */
	const double *proj;      /* T x 3: E, N, h in the shard's CRS (optional) */
	const double *heading;   /* T: degrees clockwise from true north (optional) */
	const double *dist_m;    /* T: distance along the track (optional) */
	const int64_t *time_us;  /* T: microseconds since the epoch, UTC */
	const int32_t *tz_offset_min; /* T: the zone each frame's local time was in, minutes
				  * east of UTC (optional, dataset tz_offset_min) */
	const uint8_t *tz_assumed; /* T: 1 where the file had no zone and the build's default
				  * was taken (optional, dataset tz_assumed) */
	double fps;              /* true fps, or the nominal rate if fps_nominal */
	int fps_nominal;
	const char *split;       /* "train", "val", "test" */
	const char *district;    /* optional label */
	const fmt_caption *captions;
	int n_captions;
	const char *source_frames; /* optional: newline-separated source file names */
	int depth;               /* 1: a depth map follows for every frame (fmt_clip_depth) */
	const char *camera_model; /* optional: the camera the frames were cut from, "equirect"
				  * or "pinhole" (ingest_camera_model_name), clip attribute
				  * camera_model */
	/* Video-rate clips (dataset/ds_densify.c, docs/shard-format.md "Densified clips"):
	 * all NULL / 0 for a clip of keyframes only. */
	const char *densify;     /* "warp" or "freeze": clip attribute densify */
	const uint8_t *frame_kind; /* T: FMT_FRAME_KEY, _WARP, _REPEAT, _SLOT, _MODEL */
	const int32_t *frame_src;  /* T x 2: the bracketing keyframes (0-based, in key order) */
	const float *frame_blend;  /* T: weight of frame_src[1] (0 at a keyframe) */
	const uint8_t *valid;      /* T x H x W: 1 = a pixel seen by a source (NULL: all);
				    * read at fmt_clip_end: filled while the frames are given */
	int num_keyframes;       /* clip attribute num_keyframes */
	int latent_stride;       /* clip attribute latent_stride (4 or 8) */
	const int64_t *key_time_us; /* num_keyframes: the keyframes' capture times */
	const char *camera_action; /* clip attribute camera_action (NULL: none) */
} fmt_clip_desc;

/* What a frame of a densified clip is (dataset frame_kind). */
enum {
	FMT_FRAME_KEY = 0,    /* a keyframe's own view */
	FMT_FRAME_WARP = 1,   /* synthesized from its two source keyframes (forward splat) */
	FMT_FRAME_REPEAT = 2, /* freeze layout: a keyframe repeated to fill its latent */
	FMT_FRAME_SLOT = 3,   /* freeze layout: left for the interpolator (black, invalid) */
	FMT_FRAME_MODEL = 4,  /* a frame the interpolator made (svtwin densify import) */
};

typedef struct fmt_writer fmt_writer;

/* Opens DIR/PREFIX-00000.h5.tmp for writing; rotation opens the next number. Free with
 * fmt_writer_close (commit) or fmt_writer_abort (remove the temporary file). */
int fmt_writer_create(const char *dir, const char *prefix, const fmt_shard_info *info,
		      const fmt_writer_opts *opts, fmt_writer **out, svt_err *err);
/* 1 when a clip with this id is already committed (a resumed shard) or written. */
int fmt_writer_has_clip(const fmt_writer *w, const char *id);
/* Shards and clips taken over from an earlier run by opts.resume. */
void fmt_writer_resumed(const fmt_writer *w, size_t *shards, size_t *clips);
/* Starts a clip; frames follow with fmt_clip_frame t = 0..T-1, then fmt_clip_end. */
int fmt_clip_begin(fmt_writer *w, const fmt_clip_desc *clip, svt_err *err);
/* Adds frame t (H x W x 3 uint8, rows packed). The writer compresses in its own threads; rgb
 * may be reused by the caller as soon as this returns. */
int fmt_clip_frame(fmt_writer *w, int t, const uint8_t *rgb, svt_err *err);
/* Adds the depth map of frame t (H x W metres, float) to a clip begun with desc.depth = 1.
 * Stored as float16 metres; 0 means invalid, and so do non-finite, negative and over-65504 m
 * inputs. depth may be reused as soon as this returns. */
int fmt_clip_depth(fmt_writer *w, int t, const float *depth, svt_err *err);
/* Frames encoded where the caller's work is (its own threads, beside the views), stored by
 * the writer without another copy: fmt_writer_encode_frame / _depth turn a frame into the
 * exact chunk the writer's own threads would make of it (its codec, level and Fletcher32:
 * the same stored bytes as fmt_clip_frame / fmt_clip_depth), and fmt_clip_frame_encoded /
 * fmt_clip_depth_encoded store such a chunk as frame t of the clip being written. The
 * encoders read only the writer's options, so any thread may call them at any time; the
 * store calls belong to the writer's thread like every other. A chunk's buffer is the
 * caller's, grown as needed and reused from frame to frame (fmt_chunk_free). */
typedef struct fmt_chunk {
	uint8_t *data;
	size_t n, cap;
} fmt_chunk;
/* Encodes an H x W x 3 frame (rows packed). */
int fmt_writer_encode_frame(const fmt_writer *w, int W, int H, const uint8_t *rgb, fmt_chunk *c,
			    svt_err *err);
/* Encodes an H x W depth map (metres, float; fmt_clip_depth's rules). depth is overwritten:
 * it is halved in place to the stored float16 before it is encoded. */
int fmt_writer_encode_depth(const fmt_writer *w, int W, int H, float *depth, fmt_chunk *c,
			    svt_err *err);
int fmt_clip_frame_encoded(fmt_writer *w, int t, const fmt_chunk *c, svt_err *err);
int fmt_clip_depth_encoded(fmt_writer *w, int t, const fmt_chunk *c, svt_err *err);
void fmt_chunk_free(fmt_chunk *c);
/* Ends the clip: waits for its chunks to be stored. A clip missing any frame (or depth map)
 * is refused and dropped from the shard; the writer can go on with the next clip. */
int fmt_clip_end(fmt_writer *w, svt_err *err);
/* Drops the clip being written (begun, frames given or not): it is unlinked from the shard,
 * whose space it took stays there unused; the writer goes on with the next clip. For a
 * caller that gives frames as they are made and meets a bad one. */
void fmt_clip_abort(fmt_writer *w);
/* Finishes the current shard (flush, close, fsync, rename) and writes DIR/manifest.json.
 * Frees w whatever happens. */
int fmt_writer_close(fmt_writer *w, svt_err *err);
/* Drops the shard being written (its .tmp file is removed). Frees w; NULL is harmless. */
void fmt_writer_abort(fmt_writer *w);

/* ---- Reading ----------------------------------------------------------------------------- */

typedef struct fmt_reader fmt_reader;

/* Opens a shard read-only and checks its schema name and version. */
int fmt_reader_open(const char *path, fmt_reader **out, svt_err *err);
void fmt_reader_close(fmt_reader *r);
int fmt_reader_info(fmt_reader *r, fmt_shard_info *info, svt_err *err);
size_t fmt_reader_clip_count(const fmt_reader *r);
/* Id of clip i (owned by r). Clips come in /index order, the order they were written. */
const char *fmt_reader_clip_id(const fmt_reader *r, size_t i);
/* File name of the shard holding clip i (for a master file, the shard its link points to). */
int fmt_reader_clip_shard(const fmt_reader *r, size_t i, const char **shard);
/* 1 when r reads a master file (kind "master", clips are external links to shards). */
int fmt_reader_is_master(const fmt_reader *r);
/* Reads a root string attribute (schema, source, codec, created_utc...) into buf. */
int fmt_reader_attr_str(fmt_reader *r, const char *name, char *buf, size_t cap, svt_err *err);

/* A clip's arrays read back (owned by the struct; free with fmt_clip_data_free). */
typedef struct fmt_clip_data {
	char id[128];
	int T, H, W;
	double *w2c, *K, *llh, *proj, *heading, *dist_m;
	int64_t *time_us;
	double fps;
	int fps_nominal;
	char split[16];
	int has_depth;           /* 1: fmt_reader_depth reads its depth maps */
} fmt_clip_data;

int fmt_reader_clip(fmt_reader *r, size_t i, fmt_clip_data *out, svt_err *err);
void fmt_clip_data_free(fmt_clip_data *c);
/* Reads frames [t0, t0+n) of clip i into rgb (n x H x W x 3, caller-allocated). */
int fmt_reader_frames(fmt_reader *r, size_t i, int t0, int n, uint8_t *rgb, svt_err *err);

/* Number of HDF5 objects (files, groups, datasets, types, attributes) open in this process:
 * 0 once every reader and writer is closed. A leak check for tests and tools. */
long fmt_open_object_count(void);

/* Reads depth maps [t0, t0+n) of clip i into depth (n x H x W metres, float, 0 = invalid,
 * caller-allocated). SVT_E_NOTFOUND when the clip has no depth. */
int fmt_reader_depth(fmt_reader *r, size_t i, int t0, int n, float *depth, svt_err *err);

/* Prints a human description of a shard (the `svtwin inspect` output) to f (a FILE *). */
int fmt_shard_inspect(const char *path, void *file, svt_err *err);

/* Checks every shard of a dataset directory against the schema, the checksums, the counts and
 * the manifest; prints findings to f (a FILE *). Returns 0 when all is well. */
int fmt_dataset_verify(const char *dir, void *file, svt_err *err);

/* ---- One build per OUT ------------------------------------------------------------------- */

typedef struct fmt_lock fmt_lock;

/* Takes the exclusive lock of a build's output directory: flock(LOCK_EX | LOCK_NB) on
 * DIR/.svtwin.lock (DIR must exist), then writes the holder's pid, host and start time into it.
 * Another live holder makes this fail at once with SVT_E_BUSY and a message naming it (pid,
 * host, start time) and how to proceed. The kernel drops a flock when its process dies, so a
 * lock left by a killed build never blocks; its stale text is kept for fmt_lock_previous. The
 * lock is held until fmt_lock_release (the descriptor is close-on-exec). The file itself is
 * never removed: unlinking a flock file lets two processes lock two different inodes. */
int fmt_lock_acquire(const char *dir, fmt_lock **out, svt_err *err);

/* What the lock file said when it was taken over from a holder that did not release it (a
 * killed or crashed build: "pid 123 on host, started ..."), or NULL after a clean release.
 * Owned by l. */
const char *fmt_lock_previous(const fmt_lock *l);

/* Empties the lock file (a clean end) and releases the lock. NULL does nothing. */
void fmt_lock_release(fmt_lock *l);

/* ---- Build configuration record ---------------------------------------------------------- */

/* What a dataset was made from: the options that shape its data (key -> value, set by the
 * caller: size, codec, crs, clip_frames...) and the capture's identity (its files' names
 * relative to the capture root, sizes and SHA-256 contents, reduced to a count, a byte total
 * and one digest). Compared on a rerun so that a build never resumes into shards made
 * differently. Not thread-safe; one owner. */
typedef struct fmt_config fmt_config;

int fmt_config_create(fmt_config **out, svt_err *err);
void fmt_config_destroy(fmt_config *c); /* NULL does nothing */

/* Sets an option (replacing one of the same key). Keys are the option names without "--". */
int fmt_config_set_str(fmt_config *c, const char *key, const char *value, svt_err *err);
int fmt_config_set_int(fmt_config *c, const char *key, int64_t value, svt_err *err);
int fmt_config_set_real(fmt_config *c, const char *key, double value, svt_err *err);
/* An option's value: 1 when the record holds it as that type (an integer is a number for
 * _get_real), 0 otherwise (*value untouched). */
int fmt_config_get_int(const fmt_config *c, const char *key, int64_t *value);
int fmt_config_get_real(const fmt_config *c, const char *key, double *value);
/* A string option, owned by c; NULL when absent or not a string. */
const char *fmt_config_get_str(const fmt_config *c, const char *key);

/* Records the capture's identity from its n files (paths as the scan found them; root the
 * capture folder or file they were found under, whose prefix is cut from the names so that a
 * moved capture keeps its identity). Reads every file once (SHA-256, OpenSSL), on up to
 * threads threads side by side (files are hashed apart; the same digest for any count). The
 * digest is SHA-256 over the sorted lines "name\tsize\tsha256\n". */
int fmt_config_set_capture(fmt_config *c, const char *root, const char *const *paths, size_t n,
			   int threads, svt_err *err);

/* The capture's digest (64 hex digits) as recorded by fmt_config_set_capture, or NULL before
 * it. Owned by c. */
const char *fmt_config_capture_digest(const fmt_config *c);

/* The record as canonical JSON (sorted keys, compact): equal records give equal strings.
 * *json is malloc'd; the caller frees it. */
int fmt_config_to_json(const fmt_config *c, char **json, svt_err *err);
/* Parses a record written by fmt_config_to_json. SVT_E_FORMAT when it is not one. */
int fmt_config_from_json(const char *json, fmt_config **out, svt_err *err);

/* Compares the record a dataset was built with (was) to this run's (now). Returns 0 when they
 * match, 1 when they differ, with msg (cap bytes) saying what differs ("size: 256x256 before,
 * 512x512 now; capture: 10 files (2.6 MB, sha256 1a2b3c4d...) before, 3 files ... now") and
 * how to proceed (--fresh to rebuild OUT, or another OUT). Never fails. */
int fmt_config_compare(const fmt_config *was, const fmt_config *now, char *msg, size_t cap);

/* Writes the record to DIR/build-config.json atomically (svt_file_write_atomic). */
int fmt_config_write(const fmt_config *c, const char *dir, svt_err *err);
/* Reads DIR/build-config.json; SVT_E_NOTFOUND when the directory holds none (a first build, or
 * one made before the record existed). */
int fmt_config_read(const char *dir, fmt_config **out, svt_err *err);
/* ---- Clip extras (formats/clip_extra.c, reader.c) ------------------------------------ */

/* Reads clip i's caption windows into *caps (n entries; one malloc'd block holding the strings
 * too: free(*caps)). A clip without captions gives n = 0 and *caps = NULL. */
int fmt_reader_captions(fmt_reader *r, size_t i, fmt_caption **caps, int *n, svt_err *err);
/* Reads depth maps [t0, t0+n) of clip i as stored: IEEE half bits (n x H x W, little-endian
 * numpy float16 once written out), caller-allocated. SVT_E_NOTFOUND without depth. */
int fmt_reader_depth_f16(fmt_reader *r, size_t i, int t0, int n, uint16_t *depth, svt_err *err);


/* ---- Merging the parts of a build (formats/merge.c) ------------------------------------- */

typedef struct fmt_merge_opts {
	int frames_unique;       /* 1: clips do not overlap (stride >= clip frames), so a frame
				  * (its time) in two clips means two parts cut the same frames */
	int check_only;          /* 1: every check and res, nothing written */
} fmt_merge_opts;

/* A clip of the merged dataset: its id, the part it came from, its first frame's projected
 * position (E, N). */
typedef struct fmt_merge_clip {
	char id[64];
	size_t part;
	double e0, n0;
} fmt_merge_clip;

typedef struct fmt_merge_result {
	fmt_merge_clip *clips;   /* sorted by id (malloc'd; fmt_merge_result_free) */
	size_t n_clips;
	uint64_t n_frames;
} fmt_merge_result;

/* Merges the committed datasets OUT/parts[i] (each a directory a writer closed: manifest.json
 * and master.h5) into one dataset in OUT: OUT/master.h5 links every part's clips (files named
 * PART/SHARD, relative) and OUT/manifest.json lists every part's shards the same way, both
 * written atomically; the shards themselves stay where they are. Refuses (SVT_E_INPUT, naming
 * both parts) a clip id in two parts, with o->frames_unique overlapping clips, and parts of
 * different CRS or ENU origin. Sizes are checked against the parts' manifests; hashes are
 * taken from them (`svtwin verify OUT` rehashes). res lists the clips, sorted by id. */
int fmt_dataset_merge(const char *out, const char *const *parts, size_t nparts,
		      const fmt_merge_opts *o, fmt_merge_result *res, svt_err *err);
void fmt_merge_result_free(fmt_merge_result *r); /* NULL does nothing */
/* ---- Changing a committed dataset (formats/shard_edit.c) -------------------------------- */

/* The caption windows of one clip: caps[k] (its caption is the long one) with shorts[k] (the
 * short caption, may be NULL). */
typedef struct fmt_clip_captions {
	const char *clip_id;
	const fmt_caption *caps;
	const char *const *shorts;
	int n;
} fmt_clip_captions;

/* Replaces the captions of the listed clips of dataset dir (its master.h5 says where each
 * clip is): every clip and window is checked first (SVT_E_NOTFOUND, SVT_E_INPUT: nothing is
 * changed), then each shard concerned is rewritten once, atomically, and manifest.json with
 * it. The captions dataset gains a caption_short field. */
int fmt_dataset_set_captions(const char *dir, const fmt_clip_captions *sets, size_t n,
			     svt_err *err);

/* The way back from the freeze layout: rgb (T x H x W x 3) is the video a learned
 * interpolator made for freeze clip clip_id of dataset dir (same T, H, W). Its slot frames
 * become the clip's frames (frame_kind FMT_FRAME_MODEL, valid), the keyframes keep their own
 * views, the repeats are dropped from every per-frame dataset; captions windows, num_frames,
 * fps (the true mean rate) and densify ("imported") follow; the shard, manifest.json and
 * master.h5 are rewritten, each atomically. *T_new: the clip's frames now. */
int fmt_dataset_import_frames(const char *dir, const char *clip_id, const uint8_t *rgb, int T,
			      int H, int W, int *T_new, svt_err *err);
/* ---- References and warped views of a clip (formats/refs.c; docs/shard-format.md) -------- */

enum { FMT_REF_TRAJECTORY = 0, FMT_REF_LOOKAHEAD = 1 };
enum { FMT_DEPTH_NONE = 0, FMT_DEPTH_CAPTURE = 1, FMT_DEPTH_TWIN = 2 };

/* A clip's retrieved street-view references (R of them, h x w each, the clip's size) and,
 * optionally, its warped views. Arrays are caller-owned and copied. */
typedef struct fmt_clip_refs {
	int R, H, W, T;
	const uint8_t *rgb;        /* R x H x W x 3 */
	const float *depth;        /* R x H x W z-depth, metres (0: none) */
	const double *w2c;         /* R x 4 x 4, the clip's world frame */
	const double *K;           /* R x 4 */
	const int64_t *time_us;    /* R */
	const char *const *run;    /* R capture (run) names */
	const char *const *source; /* R source panorama paths */
	const int32_t *target;     /* R: the clip frame each pairs with (-1: the lookahead) */
	const int32_t *kind;       /* R: FMT_REF_* */
	const int32_t *depth_src;  /* R: FMT_DEPTH_* */
	const double *coverage;    /* R: fraction of its target view it covers */
	const char *const *split;  /* R: the split of the place each comes from (verify) */
	const char *const *district; /* R: its district label ("" when none) */
	const char *holdout;       /* the build's held-out districts (clip attribute), or NULL */
	const int32_t *in_holdout; /* R: 1 when it comes from the holdout (may be NULL) */
	int clip_in_holdout;       /* the clip lies in the holdout */
	const uint8_t *warp;       /* T x H x W x 3, or NULL: no warps */
	const uint8_t *warp_mask;  /* T x H x W (1 landed, 2 filled by a footprint, 0 none) */
	const int32_t *warp_ref;   /* T: the reference warped into frame t (-1: none) */
} fmt_clip_refs;

/* Writes r into the clip being written (between fmt_clip_begin and fmt_clip_end): group
 * refs/ and datasets warp, warp_mask, warp_ref, and the clip attributes num_refs (trajectory
 * references) and has_lookahead. The references' pixels are chunked per image, their depth
 * stored as float16; the warps in 64-row bands, all-zero bands not written; all with the
 * frames' codec (gzip level 1 when the frames are JPEG). */
int fmt_clip_refs_write(fmt_writer *w, const fmt_clip_refs *r, svt_err *err);

#endif
