/* export.h: Cosmos post-training folders from verified shards (docs/export.md).
 *
 * `svtwin export cosmos DATASET -o DIR --layout predict|transfer|gen3c` writes what Cosmos's own
 * dataloaders read, with no glue: H.264 mp4 videos (FFmpeg's libraries), captions, depth
 * controls, cameras, and a manifest.jsonl per root. Each clip is written atomically (.tmp then
 * rename; gen3c: a .tmp folder renamed), so a rerun skips complete clips and no half-written
 * file ever carries a final name. Splits go to separate roots (DIR/<split>/) or one split to
 * DIR (--split): never mixed.
 *
 * FFmpeg is an optional part of the build (SVT_HAVE_FFMPEG): without it every encoding call
 * returns SVT_E_UNSUPPORTED with the packages to install; the rules, the npz writer and the
 * camera text still work.
 */
#ifndef SVT_EXPORT_H
#define SVT_EXPORT_H

#include <stdio.h>

#include "base/svt.h"

typedef enum export_layout {
	EXPORT_PREDICT = 0, /* cosmos-predict2.5 Video2World: videos/, metas/ */
	EXPORT_TRANSFER,    /* cosmos-transfer2.5 single view: videos/, captions/, depth/ */
	EXPORT_GEN3C,       /* GEN3C: <clip>/rgb.mp4, depth.npz, mask.npz, camera.npz */
} export_layout;

/* The loaders' length and rate rules (ANCHORS section 7), the one place they live. */
#define EXPORT_PREDICT_MIN_FRAMES 94   /* randint(0, T - 93) raises for T = 93 */
#define EXPORT_TRANSFER_MIN_FRAMES 93
#define EXPORT_TRANSFER_MIN_FPS 10.0
#define EXPORT_TRANSFER_MAX_FPS 60.0
#define EXPORT_TRANSFER_MIN_SECONDS 3.0

/* Parses "predict", "transfer", "gen3c". */
int export_layout_parse(const char *s, export_layout *out, svt_err *err);
const char *export_layout_name(export_layout l);

/* 0 when a clip of T frames of W x H at fps may go into layout l; otherwise SVT_E_LIMIT with the
 * loader rule it breaks in err (why, and what to do). has_depth: gen3c needs depth. */
int export_clip_check(export_layout l, int T, int W, int H, double fps, int has_depth,
		      svt_err *err);

typedef struct export_opts {
	export_layout layout;
	const char *split;    /* NULL: every split, each in DIR/<split>/; else only this one, in DIR */
	int crf;              /* x264 CRF (0-51, default 18); nvenc: constant quality -cq */
	const char *encoder;  /* "libx264" (default), "h264_nvenc", or "auto" (nvenc when FFmpeg
			       * offers it and it opens, else libx264) */
	const char *preset;   /* encoder preset (NULL: the encoder's default, x264 "medium") */
	int threads;          /* encoder threads (0: every core) */
	int verify;           /* 1 (default): fmt_dataset_verify the dataset first */
	int force;            /* 1: rewrite complete clips too */
} export_opts;

void export_opts_default(export_opts *o);

typedef struct export_report {
	size_t written, skipped, refused, failed; /* clips */
	size_t frames;        /* frames encoded by this run (videos of all kinds) */
	double seconds;       /* wall time of the encoding */
} export_report;

/* Exports the dataset directory DATASET (its master.h5) into out_dir. Refused clips are printed
 * to log (a FILE *, may be NULL) with their reason and the run goes on; a clip that fails to
 * encode is reported and counted in failed. Returns 0 unless the run as a whole failed (dataset
 * unreadable or not verified, output not writable, FFmpeg absent). */
int export_cosmos_run(const char *dataset, const char *out_dir, const export_opts *o,
		      export_report *rep, FILE *log, svt_err *err);

/* ---- Video (FFmpeg) ---------------------------------------------------------------------- */

/* 1 when the build has FFmpeg and its libraries load here (they are loaded on first use). */
int export_video_available(void);

typedef struct export_video export_video;

/* Opens an H.264 yuv420p mp4 at path (written in place: callers give a .tmp name and rename),
 * W x H (even), at fps (a rational close to it: 1001-based rates are kept exact). */
int export_video_open(const char *path, int W, int H, double fps, const export_opts *o,
		      export_video **out, svt_err *err);
/* Encodes one RGB frame (H x W x 3, rows packed). rgb may be reused on return. */
int export_video_frame(export_video *v, const uint8_t *rgb, svt_err *err);
/* Flushes the encoder, writes the trailer and closes the file; frees v whatever happens. */
int export_video_close(export_video *v, svt_err *err);
/* Closes without finishing (the caller removes the file); NULL is harmless. */
void export_video_abort(export_video *v);
/* The encoder name export_video_open picks for o (after "auto"). */
const char *export_video_encoder(const export_opts *o);

/* ---- npz (numpy's zip of .npy files, stored, no compression) -------------------------------- */

/* A .npz being written, streamed array by array (a depth clip need not fit in memory twice). */
typedef struct export_npz export_npz;

/* Creates path (callers give a .tmp name and rename). */
int export_npz_open(const char *path, export_npz **out, svt_err *err);
/* Starts array name (key "name", member name.npy) of numpy descr dtype ("<f2", "<f4", "|b1",
 * "|u1") and the given shape (C order); its bytes follow with export_npz_data, exactly
 * prod(shape) * itemsize of them, in any number of calls. Up to 4 GiB per array (no zip64). */
int export_npz_begin(export_npz *z, const char *name, const char *dtype, int rank,
		     const size_t *shape, svt_err *err);
int export_npz_data(export_npz *z, const void *data, size_t n, svt_err *err);
/* Writes the central directory, fsyncs and closes; frees z whatever happens. Fails when an
 * array got fewer or more bytes than its shape. */
int export_npz_close(export_npz *z, svt_err *err);
/* Closes without finishing; NULL is harmless. */
void export_npz_abort(export_npz *z);

/* ---- Pure helpers (tested on their own) --------------------------------------------------- */

/* Camera-to-world 3x4 (row-major) of a world-to-camera 4x4 (row-major, rigid): [R^T | -R^T t]. */
void export_c2w_3x4(const double *w2c, double c2w[12]);

/* The transfer2.5 depth control is inverse depth 1/d min-max normalised over the whole clip.
 * export_depth_inv_range widens [*lo, *hi] (start at +inf, -inf) by the inverse depths of the
 * valid values (finite, > 0) of n depths; export_depth_grey then maps them to 0..255 grey
 * (near = bright; invalid = 0, as far as the farthest; a constant clip gives 255). */
void export_depth_inv_range(const float *depth, size_t n, double *lo, double *hi);
void export_depth_grey(const float *depth, size_t n, double lo, double hi, uint8_t *out);

#endif
