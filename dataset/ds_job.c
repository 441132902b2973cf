/* ds_job.c: the job's life: options, create, run (the stages in order), stats, destroy, and
 * what it reports through the callbacks. Stages, each a module call:
 *   ingest_capture_scan      frames + metadata + checks (rejects with reasons)   ds_georef.c
 *   geo_crs / geo_enu        WGS84 -> projected CRS and the ENU frame, headings   ds_georef.c
 *   twin_store               the capture in the twin, labels, depth points        ds_twin.c
 *   twin_clips_assemble      clips, split by geography, parts                     ds_clips.c
 *   ingest_pool + gpu_view   decode and views (CUDA or the C reference)           ds_views.c
 *   fmt_writer               shards as .tmp, renamed when complete, manifest last ds_clips.c
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dataset/ds_internal.h"

void dataset_opts_default(dataset_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->epsg = 0; /* the capture's default (geo_crs_default_for) */
	o->default_tz_min = 9 * 60; /* Asia/Seoul (ingest_meta_opts_default) */
	o->clip_frames = 57;
	o->width = 1280;
	o->height = 704;
	o->hfov_deg = 90.0;
	o->view_dir = DATASET_VIEW_TRAVEL;
	o->seed = 1;
	o->split_buffer_m = 50.0;
	o->fps = 16.0;
	o->out_frames = 121;
	o->latent_stride = 4;
	o->view_random_deg = 90.0;
	o->refs = 5;
	o->ref_min_cover = 0.3;
	o->ref_radius_m = 30.0;
	o->ref_lookahead_m = 30.0;
	o->ref_warps = 1;
}

int dataset_job_create(const dataset_opts *o, dataset_job **out, svt_err *err)
{
	if (!out)
		return svt_err_set(err, SVT_E_INPUT, "dataset_job_create: NULL out");
	*out = NULL;
	int rc0;
	if (!o || !o->capture || !*o->capture || !o->out || !*o->out)
		return svt_err_set(err, SVT_E_INPUT, "dataset: a capture and an output directory "
				   "are required");
	if (o->clip_frames < 1 || o->clip_frames > 4096)
		return svt_err_set(err, SVT_E_INPUT, "dataset: clip_frames %d out of [1, 4096]",
				   o->clip_frames);
	if (o->epsg > 0) {
		int rc = geo_crs_check_projected(o->epsg, err);
		if (rc)
			return rc;
	}
	if (!(o->photo_fov_deg >= 0 && o->photo_fov_deg < 180))
		return svt_err_set(err, SVT_E_INPUT, "dataset: photo field of view %g out of "
				   "[0, 180)", o->photo_fov_deg);
	if (o->default_tz_min < -12 * 60 || o->default_tz_min > 14 * 60)
		return svt_err_set(err, SVT_E_INPUT, "dataset: time zone %+d min out of "
				   "[-12:00, +14:00]", o->default_tz_min);
	if (o->clip_stride < 0 || o->epsg < 0 || !(o->hfov_deg > 0 && o->hfov_deg < 180) ||
	    o->width < 16 || o->height < 16 || o->width > 16384 || o->height > 16384)
		return svt_err_set(err, SVT_E_INPUT, "dataset: stride, crs, fov or view size out of "
				   "range");
	if ((rc0 = ds_densify_check(o, err)))
		return rc0;
	if (o->spacing_m > 0 && o->spacing_s > 0)
		return svt_err_set(err, SVT_E_INPUT, "dataset: spacing_m and spacing_s exclude "
				   "each other");
	if (o->part_count < 0 || o->part_index < 0 ||
	    (o->part_count > 1 && o->part_index >= o->part_count) ||
	    (o->part_count <= 1 && o->part_index > 0))
		return svt_err_set(err, SVT_E_INPUT, "dataset: part %d of %d", o->part_index,
				   o->part_count);
	if (o->threads < 0 || o->threads > 1024)
		return svt_err_set(err, SVT_E_INPUT, "dataset: threads %d out of [0, 1024] (0: every "
				   "core)", o->threads);
	/* Sizes, distances and times that are numbers at all (NaN and infinities slip past a
	 * "> 0" test, and a shard size past 2^64 bytes is no size). */
	if (!(o->shard_mb >= 0 && o->shard_mb <= 1e7) || !(o->split_buffer_m >= 0 &&
							    o->split_buffer_m <= 1e6) ||
	    !isfinite(o->track_offset_s) || !(o->spacing_m >= 0 && o->spacing_m <= 1e5) ||
	    !(o->spacing_s >= 0 && o->spacing_s <= 1e6))
		return svt_err_set(err, SVT_E_INPUT, "dataset: shard_mb %g (0-1e7), split_buffer_m %g "
				   "(0-1e6), track_offset_s %g, spacing_m %g or spacing_s %g out of "
				   "range", o->shard_mb, o->split_buffer_m, o->track_offset_s,
				   o->spacing_m, o->spacing_s);
	if (o->refs < 0 || o->refs > 64 || !(o->ref_min_gap_s >= 0) || !(o->ref_min_cover >= 0) ||
	    !(o->ref_min_cover <= 1) || !(o->ref_radius_m > 0) || !(o->ref_lookahead_m >= 0))
		return svt_err_set(err, SVT_E_INPUT, "dataset: refs %d, ref_min_gap %g, "
				   "ref_min_cover %g, ref_radius %g or ref_lookahead %g out of range",
				   o->refs, o->ref_min_gap_s, o->ref_min_cover, o->ref_radius_m,
				   o->ref_lookahead_m);
	dataset_job *j = calloc(1, sizeof(*j));
	if (!j)
		return svt_err_set(err, SVT_E_NOMEM, "no memory for a job");
	j->o = *o;
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	j->threads = o->threads > 0 ? o->threads : (int)(cores > 0 ? cores : 1);
	j->store_first = SIZE_MAX;
	snprintf(j->st.backend, sizeof(j->st.backend), "-");
	j->st.width = o->width;
	j->st.height = o->height;
	/* The capture's name prefixes its clip ids and shard names: the last path component,
	 * reduced to [A-Za-z0-9_-]. */
	const char *base = strrchr(o->capture, '/');
	base = base && base[1] ? base + 1 : o->capture;
	size_t bl = strcspn(base, "/");
	snprintf(j->name, sizeof(j->name), "%.*s", (int)(bl < 48 ? bl : 48), base);
	for (char *p = j->name; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		      *p == '-' || *p == '_'))
			*p = '_';
	*out = j;
	return SVT_OK;
}

void ds_report_frame(dataset_job *j, size_t i, const char *clip)
{
	if (!j->cb || !j->cb->frame)
		return;
	const ingest_frame *f = &j->cap->frames[i];
	dataset_frame_result r = {.index = i, .path = f->path, .reason = (int)f->reason,
				  .reason_name = ingest_reason_name(f->reason),
				  .why = f->reason == INGEST_OK ? "" : f->why, .clip = clip};
	j->cb->frame(j->cb->user, &r);
}

void ds_report_progress(dataset_job *j, size_t step)
{
	j->prog_done += step;
	if (j->prog_done > j->prog_total)
		j->prog_total = j->prog_done;
	if (j->cb && j->cb->progress)
		j->cb->progress(j->cb->user, "views", j->prog_done, j->prog_total);
}

void ds_reject_late(dataset_job *j, size_t k, int reason, const char *why)
{
	size_t i = j->cap_idx[k];
	ingest_frame *f = &j->cap->frames[i];
	f->reason = (ingest_reason)reason;
	size_t n = strnlen(why, sizeof(f->why) - 1);
	memcpy(f->why, why, n); /* truncating a long decoder message is fine */
	f->why[n] = '\0';
	j->cap->n_kept--;
	j->cap->n_rejected[reason]++;
	j->alive[k] = 0;
	ds_report_frame(j, i, NULL);
}

/* The writer, resuming unless fresh: the clips of this capture whose twin tiles changed since
 * they were cut stop the resume (they and what follows are rewritten). */
static int job_writer(dataset_job *j, svt_err *err)
{
	const dataset_opts *o = &j->o;
	fmt_writer_opts wo;
	fmt_writer_opts_default(&wo);
	wo.resume = !o->fresh;
	wo.threads = j->threads;
	wo.gate = j->gate;
	wo.trash = j->trash;
	const char **stale = NULL;
	size_t nstale = 0;
	int rc;
	/* A twin that cannot say which clips are stale fails the job: resuming without knowing
	 * would keep clips cut from tiles that have changed. */
	if (j->store && (rc = twin_store_stale_shards(j->store, &stale, &nstale, err)))
		return svt_err_prefix(err, "stale shards of the twin");
	size_t m = 0, pl = strlen(j->name);
	for (size_t i = 0; i < nstale; i++)
		if (!strncmp(stale[i], j->name, pl) && stale[i][pl] == '-')
			stale[m++] = stale[i];
	wo.resume_stop = stale;
	wo.n_resume_stop = m;
	if (m)
		svt_log_info("%zu clips of %s depend on twin tiles changed since they were cut", m,
			     j->name);
	if (o->shard_mb > 0)
		wo.target_bytes = (uint64_t)(o->shard_mb * 1e6);
	rc = SVT_OK;
	if (o->codec)
		rc = fmt_codec_parse(o->codec, &wo.codec, &wo.level, err);
	if (!rc)
		rc = fmt_writer_create(o->out, j->name, &j->info, &wo, &j->writer, err);
	free(stale);
	if (rc)
		return rc;
	size_t rs, rcl;
	fmt_writer_resumed(j->writer, &rs, &rcl);
	if (rcl)
		svt_log_info("resuming: %zu clips in %zu shards of an earlier run are kept", rcl, rs);
	return SVT_OK;
}

/* A build that cuts no clip fails with the one reason that holds (dataset_stats.no_clip_why). */
static int job_no_clip(dataset_job *j, svt_err *err)
{
	const dataset_opts *o = &j->o;
	char *why = j->st.no_clip_why;
	size_t cap = sizeof(j->st.no_clip_why), longest = 0, run = 0, alive = 0;
	for (size_t k = 0; k < j->n; k++) {
		if (!j->alive[k]) {
			run = 0;
			continue;
		}
		alive++;
		run = (k > 0 && j->alive[k - 1] && j->tf[k].seq == j->tf[k - 1].seq) ? run + 1 : 1;
		if (run > longest)
			longest = run;
	}
	if (!alive)
		snprintf(why, cap, "every usable frame failed when it was cut (see rejects.jsonl)");
	else if (j->st.clips_dropped)
		snprintf(why, cap, "all %zu clips fell within the split buffer of another split "
			 "(--split-buffer %g m)", j->st.clips_dropped, o->split_buffer_m);
	else if (o->spacing_m > 0 || o->spacing_s > 0)
		snprintf(why, cap, "no sequence gives %d frames at the requested spacing (the "
			 "longest holds %zu usable frames)", o->clip_frames, longest);
	else
		snprintf(why, cap, "no sequence holds %d usable frames in a row (the longest "
			 "holds %zu): use --clip-frames %zu or less", o->clip_frames, longest,
			 longest);
	return svt_err_set(err, SVT_E_INPUT, "no clip written: %s", why);
}

static void job_count(dataset_job *j)
{
	const ingest_capture *c = j->cap;
	if (!c)
		return;
	j->st.frames_scanned = c->n;
	j->st.frames_rejected = 0;
	for (int r = 1; r < INGEST_REASON_COUNT && r < 32; r++) {
		j->st.rejected_by_reason[r] = c->n_rejected[r];
		j->st.frames_rejected += c->n_rejected[r];
	}
	j->st.frames_kept = c->n - j->st.frames_rejected;
}

/* The job's phases on the debug log (-v), seconds since dataset_job_run began: where a
 * build's serial start and its tail go. */
static void job_mark(const dataset_job *j, const char *phase)
{
	svt_log_debug("job: %s at %.3f s", phase, svt_now() - j->t0);
}

int dataset_job_run(dataset_job *j, const dataset_callbacks *cb, svt_err *err)
{
	if (!j)
		return svt_err_set(err, SVT_E_INPUT, "dataset_job_run: NULL job");
	if (j->ran)
		return svt_err_set(err, SVT_E_INPUT, "dataset_job_run: a job runs once");
	j->ran = 1;
	j->cb = cb;
	j->t0 = svt_now();
	const dataset_opts *o = &j->o;
	int rc;
	/* Options that cannot work are refused before OUT is touched; then OUT: an output that
	 * cannot be written or is in use says so before any work. */
	if ((rc = ds_twin_preflight(j, err)) || (rc = ds_guard_out(j, err)))
		goto done;
	job_mark(j, "output guarded");
	if ((rc = ds_scan(j, err)))
		goto done;
	job_mark(j, "capture scanned");
	for (size_t i = 0; i < j->cap->n; i++)
		if (j->cap->frames[i].reason != INGEST_OK)
			ds_report_frame(j, i, NULL);
	if ((rc = ds_georeference(j, err)))
		goto report;
	job_mark(j, "georeferenced");
	/* A refused rerun (another capture, other options) leaves OUT as it was, its
	 * rejects.jsonl included. */
	if ((rc = ds_guard_config(j, err)))
		goto done;
	job_mark(j, "configuration checked");
	if ((rc = svt_trash_create(o->out, &j->trash, err)) || (rc = ds_twin_open(j, err)) ||
	    (rc = ds_densify_plan(j, err)))
		goto report;
	job_mark(j, "twin opened");
	if ((rc = gpu_ctx_create(o->cpu_only ? GPU_MODE_CPU : GPU_MODE_AUTO, &j->gpu, err)))
		goto report;
	/* Frames run side by side on the workers, so each kernel call runs on one thread. */
	gpu_ctx_set_cpu_threads(j->gpu, 1);
	snprintf(j->st.backend, sizeof(j->st.backend), "%s", gpu_ctx_backend(j->gpu));
	svt_log_info("views on %s, %d workers", gpu_ctx_backend(j->gpu), j->threads);
	if (!(j->gate = svt_gate_create(j->threads))) {
		rc = svt_err_set(err, SVT_E_NOMEM, "no memory for the thread gate");
		goto report;
	}
	svt_gate_enter(j->gate);
	/* The twin's fusion shares a call's tiles out over the job's threads (in its gate):
	 * the last clip's fusion, after the views, is otherwise one thread's alone. */
	twin_store_set_threads(j->store, j->threads, j->gate);
	if ((rc = ds_workers_create(j, j->threads, &j->workers, err)) ||
	    (rc = job_writer(j, err))) {
		svt_gate_leave(j->gate);
		goto report;
	}
	/* Everything this run replaces has left its name by now (the twin's files, the shards the
	 * writer will not keep): their blocks are freed beside the clips. */
	svt_trash_start(j->trash, j->gate);
	job_mark(j, "workers started");
	rc = ds_clips_run(j, err);
	job_mark(j, "clips cut");
	ds_workers_destroy(j->workers);
	j->workers = NULL;
	if (!rc && !j->st.clips_written && !j->st.clips_resumed && !j->st.clips_skipped_part)
		rc = job_no_clip(j, err);
	/* The last shard is committed while the last clip's points are still being fused (two
	 * tails that would otherwise run one after the other on one core). A run killed in
	 * between leaves committed clips whose points the twin lacks: the rerun cuts them again
	 * for their points only (ds_clips.c, clip_needs_points), as after any kill. */
	if (rc)
		fmt_writer_abort(j->writer);
	else
		rc = fmt_writer_close(j->writer, err);
	j->writer = NULL;
	job_mark(j, "last shard committed");
	svt_err jerr = {0};
	int jrc = ds_points_join(j, rc ? &jerr : err);
	if (!rc)
		rc = jrc;
	job_mark(j, "points fused");
	if (!rc)
		rc = ds_twin_record_tiles(j, err);
	job_mark(j, "tiles recorded");
	svt_gate_leave(j->gate);
	j->st.committed = rc == SVT_OK;
report:;
	/* The rejects are written whatever happened after the scan: they say what was wrong. */
	char rej[4096];
	svt_err e2 = {0};
	if (!svt_path_join(rej, sizeof(rej), o->out, "rejects.jsonl", &e2) &&
	    ingest_capture_write_rejects(j->cap, rej, &e2))
		svt_log_warn("%s", e2.msg);
done:
	/* The store is saved by the calls that change it; closing frees it (and its memory). */
	twin_store_close(j->store);
	twin_store_close(j->ref_store);
	j->store = j->ref_store = NULL;
	job_mark(j, "twin closed");
	/* Before the lock goes: a trash is this OUT's, removed under its lock. */
	svt_trash_destroy(j->trash);
	j->trash = NULL;
	ds_guard_release(j);
	job_mark(j, "trash removed");
	job_count(j);
	j->st.seconds = svt_now() - j->t0;
	return rc;
}

void dataset_job_stats(const dataset_job *j, dataset_stats *s)
{
	if (!s)
		return;
	if (!j) {
		memset(s, 0, sizeof(*s));
		return;
	}
	*s = j->st;
}

void dataset_job_destroy(dataset_job *j)
{
	if (!j)
		return;
	ds_workers_destroy(j->workers);
	ds_refs_destroy(j->refs);
	fmt_writer_abort(j->writer);
	twin_store_close(j->store);
	twin_store_close(j->ref_store);
	svt_trash_destroy(j->trash);
	ds_guard_release(j);
	free(j->config_json);
	for (size_t i = 0; i < j->nrecs; i++)
		free(j->recs[i].kidx);
	free(j->recs);
	free(j->district);
	free(j->dong);
	gpu_ctx_destroy(j->gpu);
	svt_gate_destroy(j->gate);
	geo_crs_destroy(j->crs);
	geo_enu_destroy(j->enu);
	ingest_capture_destroy(j->cap);
	free(j->cap_idx);
	free(j->tf);
	free(j->travel);
	free(j->pano_R);
	free(j->alive);
	free(j->points_done);
	free(j->pts);
	free(j->fuse_pts);
	free(j->pfr);
	free(j->fuse_fr);
	for (int b = 0; b < 2; b++) {
		free(j->buf[b].views);
		free(j->buf[b].vdepth);
		free(j->buf[b].w2c);
		free(j->buf[b].K);
		free(j->buf[b].heading);
	}
	free(j->llh);
	free(j->proj);
	free(j->dist);
	free(j->time_us);
	free(j->tz_min);
	free(j->tz_assumed);
	free(j->clip_tf);
	free(j);
}
