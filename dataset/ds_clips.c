/* ds_clips.c: the clip loop: clips assembled from the frames still alive (twin), split by
 * geography, skipped when committed by an earlier run or given to another part, cut (views)
 * and written (formats). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dataset/ds_internal.h"

/* The name of the feature of layer l that labels the clip (twin_clip_label), or "". */
static const char *clip_label(const twin_layer *l, const long *frame_lab, const size_t *kidx,
			      int T)
{
	if (!l || T <= 0)
		return "";
	twin_clip c = {.first = kidx[0], .n = T, .idx = (size_t *)kidx};
	long f = twin_clip_label(&c, frame_lab);
	return f >= 0 ? twin_layer_name(l, (size_t)f) : "";
}

static void clip_id(const dataset_job *j, const size_t *kidx, int seq, char id[64])
{
	snprintf(id, 64, "%.40s-s%03d-f%05d", j->name, seq % 1000, j->tf[kidx[0]].src % 100000);
}

/* Writes one assembled clip: views (and depth views), poses and metadata. */
static int clip_write(dataset_job *j, const size_t *kidx, int T, int seq, const char *split,
		      svt_err *err)
{
	const dataset_opts *o = &j->o;
	char id[64];
	clip_id(j, kidx, seq, id);

	for (int t = 0; t < T; t++) {
		const twin_frame *f = &j->tf[kidx[t]];
		memcpy(j->llh + 3 * t, f->llh, 3 * sizeof(double));
		memcpy(j->proj + 3 * t, f->proj, 3 * sizeof(double));
		j->time_us[t] = f->time_us;
		j->clip_tf[t] = *f; /* one sequence: distances run from the clip's first frame */
	}
	twin_frames_distance(j->clip_tf, (size_t)T, j->dist);
	double span_s = (double)(j->time_us[T - 1] - j->time_us[0]) / 1e6;
	double fps = (T > 1 && span_s > 0) ? (T - 1) / span_s : 10.0;

	/* District and dong: the label of the clip's frames (twin_clip_label's rule). */
	const char *district = clip_label(j->districts, j->district, kidx, T);
	const char *dong = clip_label(j->dongs, j->dong, kidx, T);
	/* One caption window over the clip, from what the metadata says. */
	const ingest_meta *m0 = &j->cap->frames[j->cap_idx[kidx[0]]].meta;
	twin_caption_in ci = {.heading = j->heading, .n = T, .time_us = j->time_us[0],
			      .tz_offset_min = m0->tz_offset_min, .dist_m = j->dist[T - 1],
			      .span_s = span_s, .district = district, .dong = dong};
	char caption[320];
	twin_clip_caption(&ci, caption, sizeof(caption));
	fmt_caption cap = {0, T - 1, caption};

	fmt_clip_desc d = {
		.id = id, .T = T, .H = o->height, .W = o->width,
		.w2c = j->w2c, .K = j->K, .llh = j->llh, .proj = j->proj,
		.heading = j->heading, .dist_m = j->dist, .time_us = j->time_us,
		.fps = fps, .fps_nominal = !(T > 1 && span_s > 0),
		.split = split, .district = district, .captions = &cap, .n_captions = 1,
		.depth = j->clip_depth,
	};
	int rc = fmt_clip_begin(j->writer, &d, err);
	size_t view_bytes = (size_t)o->width * (size_t)o->height * 3;
	size_t depth_px = (size_t)o->width * o->height;
	for (int t = 0; !rc && t < T; t++) {
		rc = fmt_clip_frame(j->writer, t, j->views + t * view_bytes, err);
		if (!rc && j->clip_depth)
			rc = fmt_clip_depth(j->writer, t, j->vdepth + t * depth_px, err);
	}
	if (!rc)
		rc = fmt_clip_end(j->writer, err);
	if (rc)
		return svt_err_prefix(err, "writing clip %s", id);
	j->st.clips_written++;
	j->st.frames_written += (size_t)T;
	for (int t = 0; t < T; t++)
		ds_report_frame(j, j->cap_idx[kidx[t]], id);
	return SVT_OK;
}

/* The part rule (dataset.h): a clip belongs to part (its sequence) % part_count, so that the
 * clips of one part never depend on what another part decodes (a late reject reassembles the
 * clips of its own sequence only); then the predicate, if any. */
static int clip_in_part(const dataset_job *j, const char *id, size_t ordinal,
			const size_t *kidx, const twin_clip *c)
{
	if (j->o.part_count > 1 && c->seq % j->o.part_count != j->o.part_index)
		return 0;
	if (!j->o.clip_filter)
		return 1;
	dataset_clip_info ci = {.id = id, .ordinal = ordinal, .frames = c->n, .seq = c->seq};
	memcpy(ci.proj_first, j->tf[kidx[0]].proj, sizeof(ci.proj_first));
	memcpy(ci.proj_last, j->tf[kidx[c->n - 1]].proj, sizeof(ci.proj_last));
	return j->o.clip_filter(j->o.clip_filter_user, &ci) != 0;
}

/* Clips are assembled from the frames still alive from `start` on; only the first is used, so
 * that a frame failing to decode is dropped and the clip reassembled without it. */
int ds_clips_run(dataset_job *j, svt_err *err)
{
	const dataset_opts *o = &j->o;
	twin_clip_opts co;
	twin_clip_opts_default(&co);
	co.frames = o->clip_frames;
	co.stride = o->clip_stride > 0 ? o->clip_stride : o->clip_frames;
	co.spacing_m = o->spacing_m;
	co.spacing_s = o->spacing_s;

	size_t T = (size_t)co.frames;
	size_t view_bytes = (size_t)o->width * (size_t)o->height * 3;
	twin_frame *sub = calloc(j->n, sizeof(*sub));
	size_t *map = calloc(j->n, sizeof(*map));
	size_t *kidx = calloc(T, sizeof(*kidx));
	j->views = malloc(T * view_bytes);
	j->w2c = calloc(16 * T, sizeof(double));
	j->K = calloc(4 * T, sizeof(double));
	j->llh = calloc(3 * T, sizeof(double));
	j->proj = calloc(3 * T, sizeof(double));
	j->heading = calloc(T, sizeof(double));
	j->dist = calloc(T, sizeof(double));
	j->time_us = calloc(T, sizeof(int64_t));
	j->clip_tf = calloc(T, sizeof(twin_frame));
	twin_clip_list cl = {0};
	int rc = SVT_OK;
	if (!sub || !map || !kidx || !j->views || !j->w2c || !j->K || !j->llh || !j->proj ||
	    !j->heading || !j->dist || !j->time_us || !j->clip_tf) {
		rc = svt_err_set(err, SVT_E_NOMEM, "no memory for a clip of %zu views", T);
		goto done;
	}
	size_t start = 0, ordinal = 0;
	for (;;) {
		size_t m = 0;
		for (size_t k = start; k < j->n; k++)
			if (j->alive[k]) {
				sub[m] = j->tf[k];
				map[m++] = k;
			}
		twin_clip_list_free(&cl);
		if (m == 0 || (rc = twin_clips_assemble(sub, m, &co, &cl, err)))
			break;
		if (cl.n == 0)
			break;
		const twin_clip *c = &cl.clips[0];
		for (int t = 0; t < c->n; t++)
			kidx[t] = map[c->idx[t]];
		if (j->prog_total == 0)
			j->prog_total = cl.n * T; /* an estimate: refined as clips go */
		char id[64];
		clip_id(j, kidx, c->seq, id);
		int split = twin_clip_split(&j->split, sub, c);
		if (!clip_in_part(j, id, ordinal, kidx, c)) {
			/* Another part's clip: its frames are neither decoded nor recorded here. */
			j->st.clips_skipped_part++;
			ds_report_progress(j, (size_t)c->n);
		} else if (split >= 0 && fmt_writer_has_clip(j->writer, id)) {
			/* Committed by an earlier, interrupted run of this job. */
			if ((rc = ds_clip_remember(j, id, kidx, c->n, c->seq, err)))
				break;
			j->st.clips_resumed++;
			ds_report_progress(j, (size_t)c->n);
		} else if (split == TWIN_SPLIT_DROP) {
			/* Within the buffer of another split's block: no place may be in two. */
			j->st.clips_dropped++;
		} else {
			int rejected = 0;
			rc = ds_clip_views(j, kidx, c->n, &rejected, err);
			/* The points queued before a failure are fused all the same: their frames
			 * are marked done and would not be visited again. */
			int prc = rc ? SVT_OK : ds_points_flush(j, err);
			if (prc)
				rc = prc;
			if (rc)
				break;
			if (rejected)
				continue; /* a frame was dropped: reassemble from the same start */
			if ((rc = clip_write(j, kidx, c->n, c->seq, twin_split_name(split), err)) ||
			    (rc = ds_clip_remember(j, id, kidx, c->n, c->seq, err)))
				break;
			j->st.split_counts[split]++;
		}
		ordinal++;
		start = (size_t)co.stride < (size_t)c->n ? kidx[co.stride] : kidx[c->n - 1] + 1;
	}
done:
	twin_clip_list_free(&cl);
	free(sub);
	free(map);
	free(kidx);
	return rc;
}
