/* ds_guard.c: what keeps a build's output right: one writer per OUT (and per twin store), an
 * output found unwritable before any work, and a rerun that resumes only into a dataset made
 * from the same capture with the same options (formats/: fmt_lock, fmt_config).
 *
 * Order in dataset_job_run: ds_guard_out before the scan (a bad OUT costs nothing and says so
 * first), ds_guard_config after the georeference (the CRS is then known) and before the twin or
 * any shard is touched, so a refused rerun leaves everything as it was. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dataset/ds_internal.h"

/* Creates OUT, proves a file can be created and written in it (EACCES, EROFS, ENOSPC show
 * here, not after the scan), and takes its lock. */
static int guard_dir(const char *dir, const char *what, fmt_lock **lock, svt_err *err)
{
	int rc = svt_mkdirs(dir, err);
	if (rc)
		return svt_err_prefix(err, "%s %s cannot be created", what, dir);
	char probe[4096];
	if ((rc = svt_path_join(probe, sizeof(probe), dir, ".svtwin-write-probe", err)))
		return rc;
	int fd = open(probe, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return svt_err_set(err, SVT_E_IO, "%s %s is not writable: %s", what, dir,
				   strerror(errno));
	int bad = write(fd, "ok\n", 3) != 3 ? errno : 0;
	if (!bad && fsync(fd) != 0)
		bad = errno;
	close(fd);
	unlink(probe);
	if (bad)
		return svt_err_set(err, SVT_E_IO, "%s %s cannot be written: %s", what, dir,
				   strerror(bad));
	if ((rc = fmt_lock_acquire(dir, lock, err)))
		return rc;
	const char *prev = fmt_lock_previous(*lock);
	if (prev)
		svt_log_info("%s %s: an earlier build ended without releasing it (%.*s); its "
			     "committed work is checked and kept", what, dir,
			     (int)strcspn(prev, "\n"), prev);
	return SVT_OK;
}

int ds_guard_out(dataset_job *j, svt_err *err)
{
	int rc = guard_dir(j->o.out, "output directory", &j->lock, err);
	if (rc)
		return rc;
	char tdir[4096];
	if (j->o.twin)
		snprintf(tdir, sizeof(tdir), "%s", j->o.twin);
	else if ((rc = svt_path_join(tdir, sizeof(tdir), j->o.out, "twin", err)))
		return rc;
	return guard_dir(tdir, "twin store", &j->twin_lock, err);
}

static const char *view_name(dataset_view_dir v)
{
	return v == DATASET_VIEW_PANO ? "pano" : v == DATASET_VIEW_RANDOM ? "random" : "travel";
}

/* The options that shape the data and came to the record later (views turned at random,
 * densified clips, references, the holdout, a shared twin): each written only where it is in
 * effect and differs from its default, so that an OUT recorded before them with the defaults
 * is still the same build, and one that differs is refused (a rerun with --densify or --refs
 * changed once kept the earlier clips beside new ones of another kind). */
static int config_later_options(const dataset_opts *o, fmt_config *c, svt_err *err)
{
	dataset_opts d;
	dataset_opts_default(&d);
	int rc = SVT_OK;
	if (o->view_dir == DATASET_VIEW_RANDOM)
		rc = fmt_config_set_real(c, "view-random", o->view_random_deg, err);
	if (!rc && o->densify != DATASET_DENSIFY_NONE &&
	    ((rc = fmt_config_set_str(c, "densify",
				      o->densify == DATASET_DENSIFY_WARP ? "warp" : "freeze", err)) ||
	     (rc = fmt_config_set_real(c, "fps", o->fps, err)) ||
	     (rc = fmt_config_set_int(c, "frames", o->out_frames, err)) ||
	     (rc = fmt_config_set_int(c, "latent-stride", o->latent_stride, err)) ||
	     (rc = fmt_config_set_real(c, "frames-per-m", o->frames_per_m, err))))
		return rc;
	if (!rc && o->refs != d.refs)
		rc = fmt_config_set_int(c, "refs", o->refs, err);
	if (!rc && o->refs > 0 && o->ref_min_gap_s != d.ref_min_gap_s)
		rc = fmt_config_set_real(c, "ref-min-gap", o->ref_min_gap_s, err);
	if (!rc && o->refs > 0 && o->ref_min_cover != d.ref_min_cover)
		rc = fmt_config_set_real(c, "ref-min-cover", o->ref_min_cover, err);
	if (!rc && o->refs > 0 && o->ref_warps != d.ref_warps)
		rc = fmt_config_set_int(c, "warps", o->ref_warps != 0, err);
	if (!rc && o->holdout && o->holdout[0])
		rc = fmt_config_set_str(c, "holdout", o->holdout, err);
	/* Another twin is other references and another home for the points. */
	if (!rc && o->twin && o->twin[0])
		rc = fmt_config_set_str(c, "twin", o->twin, err);
	return rc;
}

/* The options that shape the data (not threads, --cpu or --shard-mb: they change how, not
 * what). */
static int config_options(dataset_job *j, fmt_config *c, svt_err *err)
{
	const dataset_opts *o = &j->o;
	char buf[64];
	int rc;
	snprintf(buf, sizeof(buf), "%dx%d", o->width, o->height);
	if ((rc = fmt_config_set_str(c, "size", buf, err)))
		return rc;
	snprintf(buf, sizeof(buf), "EPSG:%d", j->info.crs_epsg);
	if ((rc = fmt_config_set_str(c, "crs", buf, err)) ||
	    (rc = fmt_config_set_str(c, "codec", o->codec ? o->codec : "default", err)) ||
	    (rc = fmt_config_set_int(c, "clip-frames", o->clip_frames, err)) ||
	    (rc = fmt_config_set_int(c, "stride", o->clip_stride > 0 ? o->clip_stride
								       : o->clip_frames, err)) ||
	    (rc = fmt_config_set_real(c, "fov", o->hfov_deg, err)) ||
	    (rc = fmt_config_set_str(c, "view", view_name(o->view_dir), err)) ||
	    (rc = fmt_config_set_real(c, "spacing-m", o->spacing_m, err)) ||
	    (rc = fmt_config_set_real(c, "spacing-s", o->spacing_s, err)) ||
	    (rc = fmt_config_set_int(c, "seed", (int64_t)o->seed, err)) ||
	    (rc = fmt_config_set_real(c, "split-buffer", o->split_buffer_m, err)) ||
	    (rc = fmt_config_set_int(c, "keep-corrupt", o->keep_corrupt != 0, err)) ||
	    (rc = fmt_config_set_int(c, "panorama", o->panorama != 0, err)) ||
	    (rc = fmt_config_set_real(c, "photo-fov", o->photo_fov_deg, err)) ||
	    (rc = fmt_config_set_int(c, "tz", o->default_tz_min, err)) ||
	    (rc = fmt_config_set_str(c, "track", o->track ? o->track : "", err)) ||
	    (rc = fmt_config_set_real(c, "track-offset", o->track_offset_s, err)) ||
	    (rc = fmt_config_set_str(c, "districts", o->districts ? o->districts : "", err)) ||
	    (rc = fmt_config_set_str(c, "dongs", o->dongs ? o->dongs : "", err)))
		return rc;
	snprintf(buf, sizeof(buf), "%d/%d", o->part_index, o->part_count > 1 ? o->part_count : 1);
	if ((rc = fmt_config_set_str(c, "part", buf, err)))
		return rc;
	return config_later_options(o, c, err);
}

/* True when OUT holds shards (committed or temporary) or a manifest: a record left by a build
 * that failed before writing anything binds nothing. */
static int out_has_data(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int found = 0;
	while (d && !found && (e = readdir(d)))
		found = strstr(e->d_name, ".h5") != NULL || !strcmp(e->d_name, "manifest.json");
	if (d)
		closedir(d);
	return found;
}

int ds_guard_config(dataset_job *j, svt_err *err)
{
	fmt_config *now = NULL, *was = NULL;
	const char **paths = NULL;
	char msg[2048];
	int rc = fmt_config_create(&now, err);
	if (rc)
		goto done;
	/* Every file the scan found, kept or not, and the files that place them (a kapture's
	 * text files, the track): a capture is the same only with the same files. */
	static const char *const kfiles[] = {"sensors.txt", "rigs.txt", "trajectories.txt",
					     "records_camera.txt", "records_gnss.txt"};
	size_t nx = 2 * SVT_ARRAY_LEN(kfiles) + 1, np = 0;
	char (*extra)[4096] = calloc(nx, sizeof(*extra));
	paths = calloc(j->cap->n + nx, sizeof(*paths));
	if (!paths || !extra) {
		free(extra);
		rc = svt_err_set(err, SVT_E_NOMEM, "no memory for %zu paths", j->cap->n);
		goto done;
	}
	for (size_t i = 0; i < j->cap->n; i++)
		paths[np++] = j->cap->frames[i].path;
	size_t ne = 0;
	if (j->o.track)
		snprintf(extra[ne++], sizeof(extra[0]), "%s", j->o.track);
	if (ingest_kapture_detect(j->o.capture))
		for (size_t k = 0; k < SVT_ARRAY_LEN(kfiles); k++) {
			snprintf(extra[ne++], sizeof(extra[0]), "%s/%s", j->o.capture, kfiles[k]);
			snprintf(extra[ne++], sizeof(extra[0]), "%s/sensors/%s", j->o.capture,
				 kfiles[k]);
		}
	for (size_t k = 0; k < ne; k++)
		if (access(extra[k], R_OK) == 0)
			paths[np++] = extra[k];
	rc = config_options(j, now, err);
	if (!rc)
		rc = fmt_config_set_capture(now, j->o.capture, paths, np, j->threads, err);
	free(extra);
	if (rc)
		goto done;
	const char *dg = fmt_config_capture_digest(now);
	/* The twin knows the capture by its content: the name is only the readable part. */
	snprintf(j->twin_name, sizeof(j->twin_name), "%s@%.16s", j->name, dg ? dg : "");
	if (!j->o.fresh) {
		rc = fmt_config_read(j->o.out, &was, err);
		if (rc == SVT_E_NOTFOUND) {
			svt_err_clear(err);
			rc = SVT_OK;
		} else if (rc) {
			goto done;
		} else if (fmt_config_compare(was, now, msg, sizeof(msg)) && out_has_data(j->o.out)) {
			rc = svt_err_set(err, SVT_E_INPUT, "%s was built differently: %s", j->o.out,
					 msg);
			goto done;
		}
	}
	if ((rc = fmt_config_write(now, j->o.out, err)) ||
	    (rc = fmt_config_to_json(now, &j->config_json, err)))
		goto done;
	j->info.build_config = j->config_json;
done:
	free(paths);
	fmt_config_destroy(now);
	fmt_config_destroy(was);
	return rc;
}

void ds_guard_release(dataset_job *j)
{
	fmt_lock_release(j->twin_lock);
	fmt_lock_release(j->lock);
	j->twin_lock = j->lock = NULL;
}
