/* twin.h: the georeferenced model of the city the captures cover: frames, trajectories,
 * tiles, labels; clips cut from it and split by geography.
 *
 * Positions are kept in three forms: WGS84 lat/lon/h, the projected CRS (E, N, h) and the
 * dataset's ENU frame. Poses are OpenCV world(ENU)-to-camera (geo.h).
 */
#ifndef SVT_TWIN_H
#define SVT_TWIN_H

#include "base/svt.h"

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
} twin_clip_opts;

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

/* Cuts frames (sorted by time) into clips of opts->frames consecutive frames of one sequence,
 * dropping stationary frames; never crosses a sequence cut. */
int twin_clips_assemble(const twin_frame *frames, size_t n, const twin_clip_opts *opts,
			twin_clip_list *out, svt_err *err);
void twin_clip_list_free(twin_clip_list *l);

/* Distance along the track (metres, ENU) of each frame from the first of its sequence. */
void twin_frames_distance(const twin_frame *frames, size_t n, double *dist_m);

#endif
