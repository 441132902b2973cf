/* ds_internal.h: the job's state, shared by the files of dataset/ (not installed).
 *
 * Index spaces: capture frame i (ingest's scan order); kept frame k (the frames that passed
 * the scan, cap_idx[k] = i); clip position t (0..T-1, kidx[t] = k); store frame store_first+k.
 */
#ifndef SVT_DS_INTERNAL_H
#define SVT_DS_INTERNAL_H

#include <pthread.h>

#include "dataset/dataset.h"
#include "formats/formats.h"
#include "geo/geo.h"
#include "gpu/gpu.h"
#include "ingest/ingest.h"
#include "twin/twin.h"

/* A clip of this run (written or resumed): its tiles are recorded in the twin at the end,
 * once all points are fused, so that a later change marks exactly its shards. */
typedef struct ds_clip_rec {
	char id[64];
	int n, seq;
	size_t *kidx;
} ds_clip_rec;

/* One clip's views and what the workers found for it. */
typedef struct ds_buf {
	uint8_t *views;      /* T x H x W x 3 */
	float *vdepth;       /* T x H x W metres (allocated with the first clip with depth) */
	double *w2c, *K, *heading;
	int clip_depth;      /* every frame of the clip has a depth map */
	double yaw_off;      /* DATASET_VIEW_RANDOM: the clip's yaw from travel, degrees */
	const char *camera_model; /* the frames' camera ("equirect", "pinhole" or "mixed") */
	int stream;          /* cameras set at submit: frames go to the writer as they come */
	struct ds_slot *slots; /* the workers' per-frame results (ds_views.c) */
} ds_buf;

struct dataset_job {
	dataset_opts o;
	const dataset_callbacks *cb;
	int ran;
	ingest_capture *cap;
	size_t n;            /* kept frames */
	size_t *cap_idx;     /* kept frame -> capture frame */
	twin_frame *tf;      /* kept frames, georeferenced */
	double *travel;      /* direction of travel per kept frame, degrees */
	double *pano_R;      /* panorama camera-to-ENU rotation per kept frame, 9 each */
	unsigned char *alive;
	geo_crs *crs;
	geo_enu *enu;
	gpu_ctx *gpu;
	fmt_writer *writer;
	fmt_shard_info info;
	twin_store *store;   /* the persistent twin the shards are cut from */
	twin_store *ref_store; /* opts.refs_twin, read only: references come from it */
	size_t store_first;  /* store index of kept frame 0 (SIZE_MAX: not in the store) */
	int capture_new;     /* the capture entered the store in this run: its depth is fused */
	long *district, *dong; /* per kept frame: feature of the layer, or -1 */
	const twin_layer *districts, *dongs;
	twin_split_opts split;
	char name[64];       /* capture name, the prefix of clip ids */
	/* Two clips in flight: the workers cut one while the main thread fuses and writes the
	 * other (ds_buf, sized for clip_frames). */
	ds_buf buf[2];
	/* the clip being written */
	double *llh, *proj, *dist;
	int64_t *time_us;
	int32_t *tz_min;
	uint8_t *tz_assumed;
	twin_frame *clip_tf; /* the clip's frames, for twin_frames_distance */
	struct ds_workers *workers; /* the run's pool (ds_views.c) */
	int threads;         /* its size: opts.threads or the cores */
	/* At most `threads` of the build's threads work at once (base/svt.h's gate): the
	 * workers, the fusion thread, the writer's compression threads and the main thread
	 * (which holds a place from the workers' start to the writer's close, given up while
	 * it waits). */
	svt_gate *gate;
	/* What this run replaces (--fresh: its own twin's files, the old shards), renamed away at
	 * once and removed by a thread beside the run (base/svt.h svt_trash). */
	svt_trash *trash;
	/* depth -> points fused into the twin's tiles, once per frame */
	gpu_point *pts;
	size_t npts, cappts;
	size_t *pfr, npfr, cappfr; /* the store frames those points came from */
	size_t *fuse_fr, fuse_nfr, fuse_capfr;
	/* the points being fused on the fusion thread (ds_twin.c) */
	gpu_point *fuse_pts;
	size_t fuse_n, fuse_cap;
	int fusing, fuse_rc;
	pthread_t fuse_th;
	svt_err fuse_err;
	unsigned char *points_done; /* per kept frame: its depth is fused (this run or, as the
				     * twin records, an earlier one) */
	ds_clip_rec *recs;
	size_t nrecs, caprecs;
	size_t prog_done, prog_total;
	double t0;
	/* ds_guard.c: one writer per OUT and twin; the build's configuration record */
	fmt_lock *lock, *twin_lock;
	char *config_json;
	char twin_name[128]; /* the capture in the twin: name@digest of its content */
	dataset_stats st;
	struct ds_refs *refs; /* the references' state (ds_refs.c), made with the first clip */
};

/* ds_guard.c: OUT (and the twin's folder) created, proved writable and locked, before the
 * scan; the configuration compared with an earlier build's (a differing rerun refused) and
 * recorded, after the georeference; the locks released at the end. */
int ds_guard_out(dataset_job *j, svt_err *err);
int ds_guard_config(dataset_job *j, svt_err *err);
void ds_guard_release(dataset_job *j);

/* ds_georef.c: scan the capture; positions, headings and panorama poses of the kept frames. */
int ds_scan(dataset_job *j, svt_err *err);
int ds_georeference(dataset_job *j, svt_err *err);

/* ds_twin.c: the capture into the twin store and labels; the clips' tiles recorded at the end;
 * the depth points of a clip fused into the store. */
int ds_twin_open(dataset_job *j, svt_err *err);
/* What ds_twin_open would refuse, refused before OUT or the twin is touched: the split
 * options, the layers' files, a --holdout of names no districts layer of this build holds. */
int ds_twin_preflight(const dataset_job *j, svt_err *err);
int ds_twin_record_tiles(dataset_job *j, svt_err *err);
/* Hands the queued points to the fusion thread (after joining the one before); ds_points_join
 * waits for it and returns its status. */
int ds_points_flush(dataset_job *j, svt_err *err);
int ds_points_join(dataset_job *j, svt_err *err);
int ds_clip_remember(dataset_job *j, const char *id, const size_t *kidx, int T, int seq,
		     svt_err *err);

/* ds_views.c: the run's workers (n threads; destroy(NULL) is harmless). */
typedef struct ds_workers ds_workers;
int ds_workers_create(dataset_job *j, int n, ds_workers **out, svt_err *err);
void ds_workers_destroy(ds_workers *p);

/* ds_views.c: hands clip kidx[0..T) to the workers, cut into buffer b (returns at once);
 * write: the clip goes into the shard (its frames are encoded on the workers where the clip
 * holds no raw views: ds_views_frame_put), 0 when it is cut for its points only. */
int ds_views_submit(dataset_job *j, int b, const size_t *kidx, int T, int write, svt_err *err);
/* Waits until position t of buffer b's clip is done: *good = 1 when it gave its encoded
 * frame (its depth points are then queued for the twin), 0 when it failed (ds_views_wait
 * reports why). Returns 0 or a negative status (no memory for the queue). */
int ds_views_frame_wait(dataset_job *j, int b, int t, int *good, svt_err *err);
/* Gives frame t of buffer b's clip (and its depth, with depth) to the writer: the chunks its
 * worker encoded, or the raw views the buffer holds. */
int ds_views_frame_put(dataset_job *j, int b, int t, int depth, svt_err *err);
/* Waits for buffer b's clip. Every frame that failed is rejected (ds_reject_late, in clip
 * order), its good frames' depth points are queued for the twin, and *rejected is set: the
 * caller reassembles the clip. Returns 0 or a negative status on a job error. */
int ds_views_wait(dataset_job *j, int b, int T, int *rejected, svt_err *err);

/* ds_clips.c: the clip loop and the clip writer. */
int ds_clips_run(dataset_job *j, svt_err *err);

/* ds_densify.c: video-rate clips. check: the options; plan: keyframes per clip from the
 * capture's intervals (before the workers start); yaw: the view's yaw offset of a clip
 * (DATASET_VIEW_RANDOM) from its first kept frame; write: clip d (keyframes in B, frames kidx
 * of the job) densified and written in its place, with its references (ds_refs_write). */
int ds_densify_check(const dataset_opts *o, svt_err *err);
int ds_densify_plan(dataset_job *j, svt_err *err);
double ds_view_yaw(const dataset_job *j, size_t k0);
int ds_densify_write(dataset_job *j, const ds_buf *B, const fmt_clip_desc *d,
		     const size_t *kidx, svt_err *err);
/* ds_densify_twin.c: z-depth of T keyframe views (w2c, K; proj: their positions) from the
 * twin's fused points, NaN where no point explains a pixel; SVT_E_NOTFOUND without points. */
int ds_densify_twin_depth(dataset_job *j, const double *w2c, const double *K,
			  const double *proj, int T, int W, int H, float *depth, svt_err *err);
/* The camera action of frames [t0, t1] of poses w2c (4x4 each; ds_densify.c documents the
 * thresholds): "straight", "left turn", "right turn" or "stop". */
const char *ds_camera_action(const double *w2c, int t0, int t1);
/* The sentence prepended to a caption window for an action. */
const char *ds_action_sentence(const char *action);
/* The frames a clip stores when they are not its T keyframes (a densified clip): N frames
 * with poses w2c (4x4 each) and intrinsics K (4 each), and key_out[t], the frame that shows
 * keyframe t (the last frame when the layout ends before it). */
typedef struct ds_refs_frames {
	int N;
	const double *w2c, *K;
	const int *key_out;
} ds_refs_frames;
/* ds_refs.c: the clip's street-view references and warped views, retrieved from the twin and
 * written into the clip being written (between its frames and fmt_clip_end); nothing when
 * opts.refs is 0 or the twin holds no other capture near it. split: the clip's. References
 * are chosen along the T keyframes (kidx); out (NULL: the keyframes themselves) gives the
 * frames stored, which every one gets a warp and to which target_frame refers. */
int ds_refs_write(dataset_job *j, const ds_buf *B, const size_t *kidx, int T, int split,
		  const ds_refs_frames *out, svt_err *err);
void ds_refs_destroy(struct ds_refs *r);
/* *held = 1 when the clip lies in the holdout (opts.holdout: district names, or a polygon
 * file): it goes to test whole. Fails when the polygon file does not load. */
int ds_refs_holdout_clip(dataset_job *j, const size_t *kidx, int T, int *held, svt_err *err);
/* Refuses a holdout of district names that names a district the layer lacks (or that has no
 * layer to name), once the twin's layers are known. */
int ds_refs_holdout_check(const dataset_job *j, svt_err *err);
/* The same against a given districts layer (NULL: none). */
int ds_refs_holdout_names_check(const char *list, const twin_layer *districts, svt_err *err);

/* ds_job.c: per-frame results and progress through the callbacks. */
void ds_report_frame(dataset_job *j, size_t capture_index, const char *clip);
void ds_report_progress(dataset_job *j, size_t step);
/* Rejects kept frame k after the scan, with its reason, and reports it. */
void ds_reject_late(dataset_job *j, size_t k, int reason, const char *why);


/* ds_rank.c: the run record and done markers (shared with ds_merge.c). */
int ds_run_config(const dataset_opts *o, int ranks, double cell_m, fmt_config **out,
		  svt_err *err);
int ds_run_record_read(const char *out, fmt_config **rec, svt_err *err);
/* A count the run record holds (ranks, clip_frames, stride): a positive int, or 0 when absent
 * or not one. */
int ds_run_record_count(const fmt_config *rec, const char *key);
int ds_marker_path(const char *out, int rank, char *path, size_t cap, svt_err *err);
/* The marker rank r of the run recorded as rec writes (canonical JSON, malloc'd). */
int ds_marker_expected(const fmt_config *rec, int rank, char **json, svt_err *err);
/* ds_merge.c: removes a directory tree the job owns (a twin being redone or replaced). */
void ds_rm_tree(const char *dir);

#endif
