/* dataset.h: the main job as a library: a capture -> ingest -> geo -> twin clips -> views ->
 * Cosmos-style HDF5 shards (docs/architecture.md). `svtwin build` parses options into a
 * dataset_opts and prints what the callbacks and dataset_job_stats report; tests, cluster
 * drivers and bindings call the same four functions:
 *
 *   dataset_job *j;  dataset_job_create(&opts, &j, &err);
 *   dataset_job_run(j, &callbacks, &err);     per-frame results and progress on the way
 *   dataset_job_stats(j, &stats);             counts for the summary
 *   dataset_job_destroy(j);
 *
 * The job only orchestrates: every rule (headings, clips, splits, labels, captions, poses,
 * shard layout) lives in the module that owns it (ingest/ geo/ twin/ gpu/ formats/).
 *
 * Per-frame failures (a file that does not decode, a frame without a position) are never
 * fatal: the frame is reported with its reason (callback, OUT/rejects.jsonl, the stats) and the
 * job goes on. A killed job leaves no half-written file under a final name; rerunning the same
 * options resumes (keeps the clips committed) unless opts.fresh is set.
 *
 * A part of the work: several processes can share one build. Each is given the same capture
 * and options, its own OUT (and twin), and part_index / part_count: the clips of capture
 * sequence s go to part s % part_count (ingest cuts sequences at gaps and every 1000 frames).
 * Sequences, not clips, are dealt out because a frame that fails late reassembles the clips of
 * its own sequence only: each part then cuts exactly the clips a whole build cuts in its
 * sequences, with the same ids, so the parts' shards together hold the whole build's clips.
 * A clip predicate can narrow the work further (tiles, a region); it should decide by place
 * or sequence, for the same reason.
 */
#ifndef SVT_DATASET_H
#define SVT_DATASET_H

#include "base/svt.h"

typedef enum dataset_view_dir {
	DATASET_VIEW_TRAVEL = 0, /* the view looks along the direction of travel, level */
	DATASET_VIEW_PANO = 1,   /* the view looks at the panorama's centre (its heading) */
	DATASET_VIEW_RANDOM = 2, /* along travel turned by a yaw drawn per clip within
				  * +-view_random_deg (seeded by opts.seed and the clip) */
} dataset_view_dir;

/* How a clip reaches video rate (dataset/ds_densify.c, docs/shard-format.md "Densified
 * clips"). */
typedef enum dataset_densify {
	DATASET_DENSIFY_NONE = 0,   /* keyframes only (the capture's own rate) */
	DATASET_DENSIFY_WARP = 1,   /* in-between frames synthesized from the two bracketing
				     * keyframes' views and depth (gpu_densify_frame) */
	DATASET_DENSIFY_FREEZE = 2, /* Intermittent Freeze-Frame: keyframes repeated 4 times on
				     * latent boundaries, slots left for a learned interpolator */
} dataset_densify;

/* What a clip predicate sees about a clip before it is cut (see dataset_opts.clip_filter). */
typedef struct dataset_clip_info {
	const char *id;          /* the clip id, stable across runs and parts */
	size_t ordinal;          /* clips of this capture in order, 0-based */
	int seq;                 /* the capture sequence it is cut from */
	int frames;              /* frames in the clip */
	double proj_first[3];    /* projected position (E, N, h) of its first frame */
	double proj_last[3];     /* and of its last */
} dataset_clip_info;

typedef struct dataset_opts {
	const char *capture;     /* directory or file */
	const char *out;         /* output directory */
	int epsg;                /* projected CRS; 0 (the default): the capture's
				  * (geo_crs_default_for its first frame). Frames the CRS does
				  * not cover are rejected (outside_crs), never the job. */
	int clip_frames;         /* 57 */
	int clip_stride;         /* 0 = clip_frames (no overlap) */
	int width, height;       /* view size, 1280x704 */
	double hfov_deg;         /* 90: views cut from panoramas (a perspective photo keeps
				  * its own field of view, fitted to the view size) */
	int panorama;            /* 1: every frame is an equirectangular panorama */
	double photo_fov_deg;    /* > 0: horizontal field of view of photos whose camera
				  * nothing else gives (ingest_camera_opts.fov_deg); 0: reject */
	int default_tz_min;      /* zone of times without one, minutes east of UTC: +540 */
	dataset_view_dir view_dir;
	const char *codec;       /* NULL = the writer's default; else "lz4", "zstd:3", "jpeg:90"... */
	int cpu_only;            /* force the C reference */
	int threads;             /* worker threads (decode, views, compression); 0 = cores */
	const char *track;       /* optional GPS track */
	double track_offset_s;
	uint64_t seed;           /* seed of the geographic split, 1 */
	int keep_corrupt;        /* keep frames whose JPEG decoded with warnings */
	double shard_mb;         /* rotate shards at this size (MB, 0 = the writer's 500) */
	int fresh;               /* 0: resume, keeping the clips already committed in OUT;
				  * 1: rewrite every shard, rebuild OUT/twin (a shared twin:
				  * replace this capture's entries, twin_store_remove_capture) */
	const char *twin;        /* twin store directory (NULL = OUT/twin) */
	const char *refs_twin;   /* a twin read (never written) for the references of other runs
				  * and whose CRS, tile and ENU origin the twin is made with: a
				  * cluster rank's --twin (dataset_rank_run). NULL: the twin */
	const char *districts;   /* optional GeoJSON/Shapefile of districts for labels */
	const char *dongs;       /* optional GeoJSON/Shapefile of dongs (neighbourhoods) */
	double spacing_m;        /* > 0: clips resampled to this spacing along the track */
	double spacing_s;        /* > 0: clips resampled to this spacing in time */
	double split_buffer_m;   /* geographic split buffer (twin_split_opts), 50 */
	/* A part of the work (see the file comment): sequence s goes to part s % part_count. */
	int part_index;          /* 0 */
	int part_count;          /* 0 or 1: the whole build */
	/* Optional: a clip is cut only when this returns nonzero (after the part rule). Called on
	 * the thread that runs the job. */
	int (*clip_filter)(void *user, const dataset_clip_info *clip);
	void *clip_filter_user;
	/* Called once (with clip_filter_user) before the first clip is cut, with every clip the
	 * capture gives (as clip_filter sees them, in order; a frame rejected later changes the
	 * clips after it, which clip_filter then sees): a predicate that decides from the whole
	 * list (a cluster rank's balanced cells, ds_rank.c). Nonzero fails the job. NULL: none. */
	int (*clip_plan)(void *user, const dataset_clip_info *clips, size_t n);
	/* Video rate (ds_densify.c). With densify set, clip_frames keyframes per clip follow
	 * from out_frames and the capture's median keyframe interval (the option is ignored),
	 * and consecutive clips share their boundary keyframe unless clip_stride is set. */
	dataset_densify densify;  /* NONE */
	double fps;              /* frames per second of a densified clip, 16 */
	int out_frames;          /* frames per densified clip, 1 + latent_stride k: 121 */
	int latent_stride;       /* 4 (1+4k: predict2) or 8 (1+8k: Tokenize1), 4 */
	double frames_per_m;     /* > 0: frames spaced this many per metre along the track
				  * instead of 1/fps apart in time (fps is then their mean rate) */
	double view_random_deg;  /* DATASET_VIEW_RANDOM: the +-range of the yaw, 90 */
	/* Street-view references per clip (dataset/ds_refs.c, docs/shard-format.md): up to refs
	 * views of other capture runs in the twin along the clip's trajectory, each kept when it
	 * covers at least ref_min_cover of its target view; plus a lookahead reference and the
	 * nearest reference warped into every frame. 0 turns them off. */
	int refs;                /* 5 */
	double ref_min_gap_s;    /* 0: any other capture run; > 0: also this far apart in time */
	double ref_min_cover;    /* 0.3 */
	double ref_radius_m;     /* candidates within this of a frame, 30 */
	double ref_lookahead_m;  /* the lookahead reference this far past the clip's end, 30 */
	int ref_warps;           /* 1: warped views (warp, warp_mask) */
	const char *holdout;     /* what goes to test whole: a polygon file (any vector source
				  * OGR reads) or comma-separated district names of the districts
				  * layer; NULL: none */
} dataset_opts;

/* Defaults as listed above. Always set opts through this first, so that fields added later
 * get their defaults. */
void dataset_opts_default(dataset_opts *o);

/* The outcome of one capture frame. */
typedef struct dataset_frame_result {
	size_t index;            /* the frame in the capture's scan order */
	const char *path;        /* its file */
	int reason;              /* ingest_reason: 0 (INGEST_OK) when kept */
	const char *reason_name; /* ingest_reason_name(reason) */
	const char *why;         /* the detail of a reject ("" when kept) */
	const char *clip;        /* written: the clip id it went into (NULL otherwise) */
} dataset_frame_result;

/* Callbacks, all optional, called on the thread that runs the job; the pointers they get are
 * valid during the call only. */
typedef struct dataset_callbacks {
	/* Every rejected frame (once, at the scan or when it fails later) and every frame written
	 * into a clip (once per clip that holds it). */
	void (*frame)(void *user, const dataset_frame_result *r);
	/* Progress of a stage ("views"): done units of about total (total is an estimate that
	 * is refined as clips go). */
	void (*progress)(void *user, const char *stage, size_t done, size_t total);
	void *user;
} dataset_callbacks;

/* Counts of a run, for the summary. */
typedef struct dataset_stats {
	size_t frames_scanned, frames_kept, frames_rejected;
	size_t rejected_by_reason[32]; /* indexed by ingest_reason (INGEST_REASON_COUNT <= 32) */
	size_t clips_written, clips_resumed, clips_dropped, clips_skipped_part;
	size_t split_counts[3];  /* train, val, test (written this run) */
	size_t frames_written;   /* views written */
	size_t decode_warnings;  /* frames kept although their JPEG decoded with warnings */
	size_t points_total, depth_frames; /* depth points fused into the twin */
	int width, height;
	int epsg, epsg_default;  /* the CRS used; 1: chosen by default for the capture */
	size_t tz_assumed;       /* kept frames whose time had no zone (default_tz_min taken) */
	char backend[32];        /* "cpu" or "cuda" ("-" before the run) */
	double seconds;          /* wall time of dataset_job_run */
	/* Where the main thread's time went (the workers cut views meanwhile): waiting for the
	 * workers, fusing depth points into the twin, handing clips to the writer. */
	double seconds_wait_views, seconds_fuse, seconds_write;
	int committed;           /* the shards and manifest of this run are committed */
	/* References (ds_refs.c): kept, candidates dropped by the coverage filter or for want
	 * of depth, warped frames, frames without a warp, and the time they took. */
	size_t refs_written, refs_dropped_cover, refs_no_depth, warps_written, warps_missing;
	size_t clips_holdout;    /* clips sent to test by the holdout */
	double seconds_refs;
	/* CPU seconds (all threads) of the clips' own views (decode, colour and depth views;
	 * not the twin's depth points) and of the references with their warps: what
	 * the references cost against the views (bench/refs_bench.py). */
	double seconds_views_cpu, seconds_refs_cpu;
	/* Why no clip was cut when none was (a sentence; "" otherwise). */
	char no_clip_why[256];
} dataset_stats;

typedef struct dataset_job dataset_job;

/* Checks opts and creates a job (nothing is read or written yet). opts and the strings it
 * points to must outlive the job. Free with dataset_job_destroy. Returns 0 or SVT_E_INPUT
 * (a bad option, with its name in err) or SVT_E_NOMEM. */
int dataset_job_create(const dataset_opts *opts, dataset_job **out, svt_err *err);

/* Runs the job once: scan, georeference, twin, clips, views, shards, manifest. Per-frame
 * failures go to cb->frame, OUT/rejects.jsonl and the stats, never to the return value.
 * Returns 0 or a negative svt_status for a failure of the job itself (no usable frame, an
 * output that cannot be written...), with err filled. cb may be NULL. A job runs once: a
 * second call returns SVT_E_INPUT. Not thread-safe on one job; separate jobs may run in
 * parallel in one process when their OUT and twin differ. */
int dataset_job_run(dataset_job *j, const dataset_callbacks *cb, svt_err *err);

/* The counts of the run so far (all zero before it). */
void dataset_job_stats(const dataset_job *j, dataset_stats *s);

/* Frees the job; NULL is harmless. */
void dataset_job_destroy(dataset_job *j);


/* ---- Cluster builds (dataset/ds_rank.c, dataset/ds_merge.c; docs/cluster.md) ------------
 *
 * N ranks (a Slurm array, srun tasks, mpirun processes) share one build of one capture into
 * one OUT without talking to each other: every rank scans the capture's metadata and assembles
 * the clip list a one-rank build assembles, and cuts only the clips it owns: those whose first
 * frame lies in a partition cell (cell_m, default the twin's 100 m tile) dealt to it
 * (dataset_cells_deal: contiguous runs of cells of about equal work).
 * Clip ids, splits and frames are therefore exactly a one-rank build's. Rank r writes
 * OUT/rank-<r>/ (shards, manifest, master, its part of the twin) and, once committed, the done
 * marker OUT/rank-<r>/done.json (atomically). OUT/run.json records the configuration and the
 * rank count; a rank of another configuration or count is refused. dataset_merge then makes
 * OUT one dataset. */

#define DATASET_CELL_M 100.0          /* default partition cell: the twin's tile */
#define DATASET_RUN_RECORD "run.json"
#define DATASET_DONE_MARKER "done.json"

typedef struct dataset_rank {
	int rank, ranks;
	int ranks_from_array;    /* ranks is SLURM_ARRAY_TASK_COUNT: the run record's wins */
	char from[48];           /* where the rank came from: "--rank", "SLURM_ARRAY_TASK_ID",
				  * "SLURM_PROCID", "OMPI_COMM_WORLD_RANK" */
} dataset_rank;

/* The rank and rank count of this process: rank/ranks when given (>= 0 / > 0; -1 / 0 when
 * not), else the environment: OMPI_COMM_WORLD_RANK/SIZE (mpirun), SLURM_ARRAY_TASK_ID/COUNT
 * (an sbatch array, 0-based: --array=0-N-1), SLURM_PROCID/SLURM_NTASKS (srun), in that order.
 * A given value that contradicts the environment is refused (SVT_E_INPUT), and so is a rank
 * outside 0..ranks-1 or no rank at all. */
int dataset_rank_resolve(int rank, int ranks, dataset_rank *out, svt_err *err);

/* The rank (0..ranks-1) owning the partition cell of projected position (e, n): a fixed 64-bit
 * hash of the cell's integer coordinates, the same on every machine. cell_m <= 0: the
 * default. */
int dataset_rank_owner(double e, double n, double cell_m, int ranks);

/* The cells of a capture dealt to ranks by their work (what every rank of a build computes
 * from the same clip list, so that no rank talks to another): the cells holding a clip's first
 * frame, in (E, N) order (strips of cells: neighbours stay together, fewer twin tiles are
 * shared), cut into ranks contiguous runs of about equal frames (a cell goes to the rank in
 * whose share its middle falls). A cell holding no clip's first frame (a clip moved by a late
 * reject) falls back to dataset_rank_owner. Deterministic: the same clips give the same deal
 * on every machine and every rerun. */
typedef struct dataset_cells dataset_cells;

int dataset_cells_deal(const dataset_clip_info *clips, size_t n, double cell_m, int ranks,
		       dataset_cells **out, svt_err *err);
/* The owner of (e, n) in the deal. */
int dataset_cells_owner(const dataset_cells *c, double e, double n);
/* The frames (the deal's weights) rank r got, and their total. */
void dataset_cells_load(const dataset_cells *c, int r, uint64_t *mine, uint64_t *total);
/* The deal as JSON text ({"cell_m", "ranks", "cells": [[cx, cy, rank, frames], ...]}), malloc'd;
 * and back. */
int dataset_cells_to_json(const dataset_cells *c, char **json, svt_err *err);
int dataset_cells_from_json(const char *json, dataset_cells **out, svt_err *err);
void dataset_cells_destroy(dataset_cells *c);
#define DATASET_CELLS_FILE "cells.json" /* OUT/rank-<r>/: the deal the rank cut by */

/* Runs rank r's part of the build opts describes (opts.out is the cluster's OUT; opts.part_count
 * must be unset; opts.clip_filter, if any, narrows further): checks or writes the run record,
 * skips a rank whose done marker is there and matches, else builds (resuming what a killed run
 * of this rank committed) into OUT/rank-<r>/ and writes the marker. opts.twin (optional) is an
 * existing twin the rank only reads (the references of other runs, opts.refs_twin) and the
 * merge folds the ranks' parts into; the rank's own part is OUT/rank-<r>/twin either way. st
 * (may be NULL) gets the job's counts. */
int dataset_rank_run(const dataset_opts *opts, const dataset_rank *r, double cell_m,
		     const dataset_callbacks *cb, dataset_stats *st, svt_err *err);

/* The rank count recorded in OUT/run.json, or a negative status (SVT_E_NOTFOUND: none). */
int dataset_run_ranks(const char *out, svt_err *err);

typedef struct dataset_merge_report {
	int ranks;               /* of the run */
	int n_missing;           /* ranks without a valid done marker */
	char missing[1024];      /* them as a Slurm --array list: "1,3-5" ("" when none) */
	size_t clips, tiles;     /* clips in the merged dataset, twin tiles merged */
	size_t shards;           /* shard records made in the merged twin */
	char twin[4096];         /* the twin merged into: OUT/twin or the run's --twin */
	uint64_t frames;
	double seconds;          /* the whole merge */
	double seconds_twin;     /* of which merging the twin parts */
} dataset_merge_report;

/* Makes OUT (a cluster build's output) one dataset: checks every rank's done marker against
 * the run record (missing or stale ones are named in rep->missing, as an --array= list to
 * resubmit, and the merge fails with SVT_E_NOTFOUND), checks that no clip, frame or partition
 * cell is in two ranks, then writes OUT/manifest.json and OUT/master.h5 (fmt_dataset_merge)
 * and the merged twin (the ranks' twin parts: frames once, points as weighted voxel
 * means, shard records) in OUT/twin, or folded into the run's --twin under its lock, each
 * atomically. rep may not be NULL. */
int dataset_merge(const char *out, dataset_merge_report *rep, svt_err *err);
/* Puts captions written by a vision-language model into dataset dir (built by a job), in
 * place: jsonl holds one window per line, {"clip_id": ID, "start": FIRST, "end": LAST,
 * "long": TEXT, "short": TEXT} (frames inclusive; long <= 280 words, short <= 30). Each
 * window's camera action from the clip's poses (straight, left turn, right turn, stop) is
 * prepended to both as a sentence; the windows replace the clip's captions (long in
 * caption, short in caption_short). Everything is checked before any shard changes; each
 * shard and manifest.json are replaced atomically. *n_windows: the windows stored. */
int dataset_captions_import(const char *dir, const char *jsonl, size_t *n_windows,
			    svt_err *err);

/* The way back from DATASET_DENSIFY_FREEZE: each video (named CLIP_ID.mp4 or any container
 * FFmpeg reads; exactly the clip's frames, scaled to its size if need be) is what a learned
 * interpolator made of freeze clip CLIP_ID of dataset dir; its slot frames become the clip's
 * frames and the repeats are dropped (fmt_dataset_import_frames), one clip after another, each
 * shard, manifest.json and master.h5 replaced atomically. *frames: the imported clips' frames.
 * SVT_E_UNSUPPORTED in a build without FFmpeg's libraries. */
int dataset_densify_import(const char *dir, const char *const *videos, size_t n,
			   size_t *frames, svt_err *err);

#endif
