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

/* Begins clip kidx[0..T) in the writer (its poses and metadata; frames follow), or, when the
 * clip is densified, writes it whole (ds_densify_write); *whole says which. */
static int clip_begin(dataset_job *j, const ds_buf *B, const size_t *kidx, int T, int seq,
		      const char *split, int *whole, svt_err *err)
{
	const dataset_opts *o = &j->o;
	char id[64];
	clip_id(j, kidx, seq, id);
	*whole = 0;

	for (int t = 0; t < T; t++) {
		const twin_frame *f = &j->tf[kidx[t]];
		memcpy(j->llh + 3 * t, f->llh, 3 * sizeof(double));
		memcpy(j->proj + 3 * t, f->proj, 3 * sizeof(double));
		j->time_us[t] = f->time_us;
		const ingest_meta *mt = &j->cap->frames[j->cap_idx[kidx[t]]].meta;
		j->tz_min[t] = mt->tz_offset_min;
		j->tz_assumed[t] = (uint8_t)(mt->tz_assumed != 0);
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
	twin_caption_in ci = {.heading = B->heading, .n = T, .time_us = j->time_us[0],
			      .tz_offset_min = m0->tz_offset_min, .dist_m = j->dist[T - 1],
			      .span_s = span_s, .district = district, .dong = dong};
	char caption[320], told[384];
	twin_clip_caption(&ci, caption, sizeof(caption));
	const char *action = ds_camera_action(B->w2c, 0, T - 1);
	fmt_caption cap = {0, T - 1, caption};
	/* The window's camera action leads its caption (the Seoul World Model's captions);
	 * a densified clip gets it from ds_densify_write, over its own poses. */
	if (o->densify == DATASET_DENSIFY_NONE) {
		snprintf(told, sizeof(told), "%s %s", ds_action_sentence(action), caption);
		cap.caption = told;
	}

	fmt_clip_desc d = {
		.id = id, .T = T, .H = o->height, .W = o->width,
		.w2c = B->w2c, .K = B->K, .llh = j->llh, .proj = j->proj,
		.heading = B->heading, .dist_m = j->dist, .time_us = j->time_us,
		.tz_offset_min = j->tz_min, .tz_assumed = j->tz_assumed,
		.fps = fps, .fps_nominal = !(T > 1 && span_s > 0),
		.split = split, .district = district, .captions = &cap, .n_captions = 1,
		.depth = B->clip_depth, .camera_model = B->camera_model,
		.camera_action = action,
	};
	if (o->densify != DATASET_DENSIFY_NONE) {
		*whole = 1;
		int rc = ds_densify_write(j, B, &d, kidx, err);
		return rc ? svt_err_prefix(err, "writing clip %s", id) : SVT_OK;
	}
	int rc = fmt_clip_begin(j->writer, &d, err);
	return rc ? svt_err_prefix(err, "writing clip %s", id) : SVT_OK;
}

/* Ends a begun clip whose frames are all given: its references, then the writer's end. */
static int clip_finish(dataset_job *j, const ds_buf *B, const size_t *kidx, int T, int seq,
		       const char *split, svt_err *err)
{
	int rc = ds_refs_write(j, B, kidx, T, twin_split_from_name(split), NULL, err);
	if (!rc)
		rc = fmt_clip_end(j->writer, err);
	if (rc) {
		char id[64];
		clip_id(j, kidx, seq, id);
		return svt_err_prefix(err, "writing clip %s", id);
	}
	return SVT_OK;
}

/* Writes one assembled clip whose frames are all cut: views (and depth views), poses and
 * metadata. */
static int clip_write(dataset_job *j, const ds_buf *B, const size_t *kidx, int T, int seq,
		      const char *split, svt_err *err)
{
	int whole = 0, rc = clip_begin(j, B, kidx, T, seq, split, &whole, err);
	for (int t = 0; !rc && !whole && t < T; t++)
		if ((rc = ds_views_frame_put(j, (int)(B - j->buf), t, B->clip_depth, err)))
			fmt_clip_abort(j->writer);
	if (!rc && !whole)
		rc = clip_finish(j, B, kidx, T, seq, split, err);
	return rc;
}

/* The clip's frames reported once it is committed to the writer (counted too unless
 * densify counted its own). */
static void clip_written(dataset_job *j, const size_t *kidx, int T, int seq)
{
	char id[64];
	clip_id(j, kidx, seq, id);
	if (j->o.densify == DATASET_DENSIFY_NONE) {
		j->st.clips_written++;
		j->st.frames_written += (size_t)T;
	}
	for (int t = 0; t < T; t++)
		ds_report_frame(j, j->cap_idx[kidx[t]], id);
}

/* A streamed clip (ds_buf.stream): begun in the writer at once, its frames given in clip
 * order as the workers finish them, so that compression, the writer's copies and the cutting
 * of the clip overlap and the last clip leaves no write behind it. Stops giving at the first
 * bad frame (ds_views_wait then rejects it and the clip is dropped: fmt_clip_abort; its
 * space in the shard stays unused). *begun: the writer holds the clip. */
static int clip_stream(dataset_job *j, int b, const size_t *kidx, int T, int seq, int split,
		       int *begun, svt_err *err)
{
	const ds_buf *B = &j->buf[b];
	int whole = 0, rc = clip_begin(j, B, kidx, T, seq, twin_split_name(split), &whole, err);
	*begun = !rc;
	for (int t = 0; !rc && t < T; t++) {
		int good = 0;
		if ((rc = ds_views_frame_wait(j, b, t, &good, err)) || !good)
			break;
		rc = ds_views_frame_put(j, b, t, B->clip_depth, err);
	}
	return rc;
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

/* opts.clip_plan: every clip of the first assembly (the clips a one-rank build cuts, late
 * rejects aside), in order, before any is cut or passed. */
static int clip_plan(dataset_job *j, const twin_clip_list *cl, const size_t *map,
		     svt_err *err)
{
	if (!j->o.clip_plan || !cl->n)
		return SVT_OK;
	dataset_clip_info *ci = calloc(cl->n, sizeof(*ci));
	char (*ids)[64] = calloc(cl->n, sizeof(*ids));
	int rc = SVT_OK;
	if (!ci || !ids) {
		rc = svt_err_set(err, SVT_E_NOMEM, "no memory for a plan of %zu clips", cl->n);
		goto cleanup;
	}
	for (size_t i = 0; i < cl->n; i++) {
		const twin_clip *c = &cl->clips[i];
		size_t k0 = map[c->idx[0]], k1 = map[c->idx[c->n - 1]];
		clip_id(j, &k0, c->seq, ids[i]);
		ci[i] = (dataset_clip_info){.id = ids[i], .ordinal = i, .frames = c->n,
					    .seq = c->seq};
		memcpy(ci[i].proj_first, j->tf[k0].proj, sizeof(ci[i].proj_first));
		memcpy(ci[i].proj_last, j->tf[k1].proj, sizeof(ci[i].proj_last));
	}
	if (j->o.clip_plan(j->o.clip_filter_user, ci, cl->n) != 0)
		rc = svt_err_set(err, SVT_E_INPUT, "the clip plan refused the capture's %zu clips",
				 cl->n);
cleanup:
	free(ci);
	free(ids);
	return rc;
}

/* A clip that needs cutting: where it is and what it is. */
typedef struct pending {
	size_t *kidx;        /* clip_frames */
	int n, seq, split;
	char id[64];
	size_t start;        /* where it was assembled from (to reassemble after a reject) */
	int points_only;     /* committed by an earlier run whose depth fusion it outlived:
			      * cut again for its points only, not written */
} pending;

/* True when a clip committed by an earlier run still has frames whose depth the twin does not
 * hold (the run was killed between writing the clip and fusing its points). */
static int clip_needs_points(const dataset_job *j, const pending *P)
{
	char dpath[4096];
	if (!j->store)
		return 0;
	for (int t = 0; t < P->n; t++) {
		size_t k = P->kidx[t];
		const ingest_frame *f = &j->cap->frames[j->cap_idx[k]];
		if (!j->points_done[k] && f->camera.model != INGEST_CAM_PINHOLE &&
		    ingest_depth_path(f->path, dpath, sizeof(dpath)))
			return 1;
	}
	return 0;
}

typedef struct clip_loop {
	twin_clip_opts co;
	twin_frame *sub;
	size_t *map;
	twin_clip_list cl;
	size_t start, ordinal;
	int planned; /* opts.clip_plan called */
} clip_loop;

/* Assembles clips from L->start on until one needs cutting (into *P; *found = 1) or none is
 * left (*found = 0). Clips of another part, committed by an earlier run or dropped by the
 * split are accounted for on the way and passed. Clips are assembled from the frames still
 * alive from `start` on and only the first is used, so that a frame failing to decode is
 * dropped and its clip reassembled without it. */
static int next_clip(dataset_job *j, clip_loop *L, pending *P, int *found, svt_err *err)
{
	int rc = SVT_OK;
	*found = 0;
	for (;;) {
		size_t m = 0;
		for (size_t k = L->start; k < j->n; k++)
			if (j->alive[k]) {
				L->sub[m] = j->tf[k];
				L->map[m++] = k;
			}
		twin_clip_list_free(&L->cl);
		if (m == 0 || (rc = twin_clips_assemble(L->sub, m, &L->co, &L->cl, err)) ||
		    L->cl.n == 0)
			return rc;
		if (!L->planned) {
			L->planned = 1;
			if ((rc = clip_plan(j, &L->cl, L->map, err)))
				return rc;
		}
		const twin_clip *c = &L->cl.clips[0];
		for (int t = 0; t < c->n; t++)
			P->kidx[t] = L->map[c->idx[t]];
		P->n = c->n;
		P->seq = c->seq;
		P->start = L->start;
		if (j->prog_total == 0)
			j->prog_total = L->cl.n * (size_t)L->co.frames; /* refined as clips go */
		clip_id(j, P->kidx, c->seq, P->id);
		P->split = twin_clip_split(&j->split, L->sub, c);
		int held;
		if ((rc = ds_refs_holdout_clip(j, P->kidx, P->n, &held, err)))
			return rc;
		if (held) { /* a held-out district: test whole */
			j->st.clips_holdout += P->split != TWIN_SPLIT_TEST;
			P->split = TWIN_SPLIT_TEST;
		}
		size_t stride = (size_t)L->co.stride;
		size_t after = stride < (size_t)c->n ? P->kidx[stride] : P->kidx[c->n - 1] + 1;
		if (!clip_in_part(j, P->id, L->ordinal, P->kidx, c)) {
			/* Another part's clip: its frames are neither decoded nor recorded here. */
			j->st.clips_skipped_part++;
			ds_report_progress(j, (size_t)c->n);
		} else if (P->split == TWIN_SPLIT_DROP) {
			/* Within the buffer of another split's block: no place may be in two. */
			j->st.clips_dropped++;
		} else if (fmt_writer_has_clip(j->writer, P->id)) {
			/* Committed by an earlier, interrupted run of this job. */
			if ((rc = ds_clip_remember(j, P->id, P->kidx, c->n, c->seq, err)))
				return rc;
			j->st.clips_resumed++;
			ds_report_progress(j, (size_t)c->n);
			if (clip_needs_points(j, P)) {
				P->points_only = 1;
				*found = 1;
				return SVT_OK;
			}
		} else {
			P->points_only = 0;
			*found = 1;
			return SVT_OK; /* L->start moves past it once it is cut */
		}
		L->ordinal++;
		L->start = after;
	}
}

/* The start after clip P (the next clip's first frame, stride frames on). */
static size_t start_after(const clip_loop *L, const pending *P)
{
	size_t stride = (size_t)L->co.stride;
	return stride < (size_t)P->n ? P->kidx[stride] : P->kidx[P->n - 1] + 1;
}

/* The clip loop, two clips in flight: clip P is cut on the workers into buffer b; once it is
 * done, the next clip Q is found and handed to the workers (buffer 1 - b) before P's points are
 * fused and P is written, so decoding runs on across clip boundaries. Q is assembled only
 * after P's rejects are known, so the clips are those of a loop with one clip at a time. */
int ds_clips_run(dataset_job *j, svt_err *err)
{
	const dataset_opts *o = &j->o;
	clip_loop L = {0};
	twin_clip_opts_default(&L.co);
	L.co.frames = o->clip_frames;
	L.co.stride = o->clip_stride > 0 ? o->clip_stride : o->clip_frames;
	L.co.spacing_m = o->spacing_m;
	L.co.spacing_s = o->spacing_s;

	size_t T = (size_t)L.co.frames;
	pending PQ[2] = {0};
	L.sub = calloc(j->n, sizeof(*L.sub));
	L.map = calloc(j->n, sizeof(*L.map));
	PQ[0].kidx = calloc(T, sizeof(size_t));
	PQ[1].kidx = calloc(T, sizeof(size_t));
	j->llh = calloc(3 * T, sizeof(double));
	j->proj = calloc(3 * T, sizeof(double));
	j->dist = calloc(T, sizeof(double));
	j->time_us = calloc(T, sizeof(int64_t));
	j->tz_min = calloc(T, sizeof(int32_t));
	j->tz_assumed = calloc(T, 1);
	j->clip_tf = calloc(T, sizeof(twin_frame));
	int rc = SVT_OK, found = 0, b = 0;
	if (!L.sub || !L.map || !PQ[0].kidx || !PQ[1].kidx || !j->llh || !j->proj || !j->dist ||
	    !j->time_us || !j->tz_min || !j->tz_assumed || !j->clip_tf) {
		rc = svt_err_set(err, SVT_E_NOMEM, "no memory for a clip of %zu views", T);
		goto done;
	}
	if ((rc = next_clip(j, &L, &PQ[b], &found, err)) || !found ||
	    (rc = ds_views_submit(j, b, PQ[b].kidx, PQ[b].n, !PQ[b].points_only, err)))
		goto done;
	while (found) {
		pending *P = &PQ[b], *Q = &PQ[1 - b];
		int rejected = 0, begun = 0;
		double t0 = svt_now();
		/* The writer takes one clip at a time: the one before is ended by now. */
		if (j->buf[b].stream &&
		    (rc = clip_stream(j, b, P->kidx, P->n, P->seq, P->split, &begun, err))) {
			fmt_clip_abort(j->writer);
			break;
		}
		rc = ds_views_wait(j, b, P->n, &rejected, err);
		j->st.seconds_wait_views += svt_now() - t0;
		if (rc || rejected)
			fmt_clip_abort(j->writer); /* a begun clip (streamed) is dropped */
		if (rc)
			break;
		if (rejected) {
			/* The points of its good frames are fused all the same (they are marked
			 * done); the clip is reassembled from the same start without the frame. */
			L.start = P->start;
			if ((rc = ds_points_flush(j, err)) || (rc = next_clip(j, &L, P, &found, err)))
				break;
			if (found && (rc = ds_views_submit(j, b, P->kidx, P->n, !P->points_only, err)))
				break;
			continue;
		}
		L.ordinal++;
		L.start = start_after(&L, P);
		int qfound = 0;
		if ((rc = next_clip(j, &L, Q, &qfound, err)) ||
		    (qfound && (rc = ds_views_submit(j, 1 - b, Q->kidx, Q->n, !Q->points_only, err))))
			break;
		double t1 = svt_now();
		rc = ds_points_flush(j, err);
		double t2 = svt_now();
		j->st.seconds_fuse += t2 - t1;
		if (rc)
			break;
		if (!P->points_only) {
			const char *sp = twin_split_name(P->split);
			if ((rc = begun ? clip_finish(j, &j->buf[b], P->kidx, P->n, P->seq, sp, err)
					: clip_write(j, &j->buf[b], P->kidx, P->n, P->seq, sp, err)) ||
			    (rc = ds_clip_remember(j, P->id, P->kidx, P->n, P->seq, err)))
				break;
			clip_written(j, P->kidx, P->n, P->seq);
			j->st.seconds_write += svt_now() - t2;
			j->st.split_counts[P->split]++;
		}
		found = qfound;
		b = 1 - b;
	}
done:;
	/* After a failure the fusion still running is joined; otherwise points still queued go
	 * to a last fusion, and the last one is left running: the caller commits the shards
	 * meanwhile and joins it (ds_points_join) before the twin is touched again. */
	svt_err jerr = {0};
	if (rc)
		ds_points_join(j, &jerr);
	else if (j->npts || j->npfr)
		rc = ds_points_flush(j, err);
	twin_clip_list_free(&L.cl);
	free(L.sub);
	free(L.map);
	free(PQ[0].kidx);
	free(PQ[1].kidx);
	return rc;
}
