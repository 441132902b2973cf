/* pipeline.h: the main job (`svtwin build`): capture -> ingest -> geo -> twin clips -> views ->
 * shards. It only orchestrates: every stage is a module call. */
#ifndef SVT_PIPELINE_H
#define SVT_PIPELINE_H

#include "base/svt.h"

typedef enum pipeline_view_dir {
	PIPELINE_VIEW_TRAVEL = 0, /* the view looks along the direction of travel, level */
	PIPELINE_VIEW_PANO = 1,   /* the view looks at the panorama's centre (its heading) */
} pipeline_view_dir;

typedef struct pipeline_opts {
	const char *capture;     /* directory or file */
	const char *out;         /* output directory */
	int epsg;                /* projected CRS, 5186 */
	int clip_frames;         /* 57 */
	int clip_stride;         /* 0 = clip_frames (no overlap) */
	int width, height;       /* view size, 1280x704 */
	double hfov_deg;         /* 90 */
	pipeline_view_dir view_dir;
	const char *codec;       /* NULL = the writer's default */
	int cpu_only;            /* force the C reference */
	int threads;             /* decode threads, 0 = cores */
	const char *track;       /* optional GPS track */
	double track_offset_s;
	double val_frac, test_frac; /* split ratios */
	uint64_t seed;
	int keep_corrupt;        /* keep frames whose JPEG decoded with warnings */
	double shard_mb;         /* rotate shards at this size (MB, 0 = the writer's 500) */
	int fresh;               /* 0: resume, keeping the clips already committed in OUT;
				  * 1: rewrite every shard */
	const char *twin;        /* twin store directory (NULL = OUT/twin) */
	const char *districts;   /* optional GeoJSON/Shapefile of districts for labels */
	const char *dongs;       /* optional GeoJSON/Shapefile of dongs (neighbourhoods) */
	double spacing_m;        /* > 0: clips resampled to this spacing along the track */
	double spacing_s;        /* > 0: clips resampled to this spacing in time */
	double split_buffer_m;   /* geographic split buffer (twin_split_opts) */
} pipeline_opts;

void pipeline_opts_default(pipeline_opts *o);

/* Runs the whole job; per-frame failures are reported in OUT/rejects.jsonl and the summary,
 * never fatal. Returns 0 or a negative svt_status for a failure of the job itself. */
int pipeline_run(const pipeline_opts *o, svt_err *err);

#endif
