/* cosmos.c: `svtwin export cosmos`: the folder layouts Cosmos's post-training loaders read
 * (ANCHORS section 7), written clip by clip from a verified dataset. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "export/export.h"
#include "formats/formats.h"

#define BATCH 8 /* frames read from the shard per call */

int export_layout_parse(const char *s, export_layout *out, svt_err *err)
{
	static const char *const names[] = {"predict", "transfer", "gen3c"};
	for (int i = 0; s && i < 3; i++)
		if (!strcmp(s, names[i])) {
			*out = (export_layout)i;
			return SVT_OK;
		}
	return svt_err_set(err, SVT_E_INPUT, "layout '%s': want predict, transfer or gen3c",
			   s ? s : "");
}

const char *export_layout_name(export_layout l)
{
	return l == EXPORT_PREDICT ? "predict" : l == EXPORT_TRANSFER ? "transfer" : "gen3c";
}

void export_opts_default(export_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->layout = EXPORT_PREDICT;
	o->crf = 18;
	o->encoder = "libx264";
	o->verify = 1;
}

int export_clip_check(export_layout l, int T, int W, int H, double fps, int has_depth,
		      svt_err *err)
{
	if (W < 2 || H < 2 || W % 2 || H % 2)
		return svt_err_set(err, SVT_E_LIMIT, "%dx%d: H.264 yuv420p needs even sizes", W, H);
	if (!(fps > 0))
		return svt_err_set(err, SVT_E_LIMIT, "no frame rate");
	if (l == EXPORT_PREDICT && T < EXPORT_PREDICT_MIN_FRAMES)
		return svt_err_set(err, SVT_E_LIMIT,
				   "%d frames: predict2.5's loader needs at least %d (it draws "
				   "randint(0, T - 93), which fails for exactly 93); build with "
				   "--clip-frames 97 or 121", T, EXPORT_PREDICT_MIN_FRAMES);
	if (l == EXPORT_TRANSFER) {
		if (T < EXPORT_TRANSFER_MIN_FRAMES)
			return svt_err_set(err, SVT_E_LIMIT, "%d frames: transfer2.5 needs at least "
					   "%d; build with --clip-frames 97 or 121", T,
					   EXPORT_TRANSFER_MIN_FRAMES);
		if (fps < EXPORT_TRANSFER_MIN_FPS || fps > EXPORT_TRANSFER_MAX_FPS)
			return svt_err_set(err, SVT_E_LIMIT,
					   "%.3g fps: transfer2.5 wants %.0f-%.0f fps%s", fps,
					   EXPORT_TRANSFER_MIN_FPS, EXPORT_TRANSFER_MAX_FPS,
					   fps < EXPORT_TRANSFER_MIN_FPS
						   ? " (a sparse capture: densify the clips first)"
						   : "");
		if (T / fps < EXPORT_TRANSFER_MIN_SECONDS)
			return svt_err_set(err, SVT_E_LIMIT, "%.2f s: transfer2.5 needs at least "
					   "%.0f s", T / fps, EXPORT_TRANSFER_MIN_SECONDS);
	}
	if (l == EXPORT_GEN3C && !has_depth)
		return svt_err_set(err, SVT_E_LIMIT, "no depth: GEN3C needs depth.npz");
	return SVT_OK;
}

void export_c2w_3x4(const double *m, double c[12])
{
	for (int i = 0; i < 3; i++) {
		for (int j = 0; j < 3; j++)
			c[4 * i + j] = m[4 * j + i];
		c[4 * i + 3] = -(m[i] * m[3] + m[4 + i] * m[7] + m[8 + i] * m[11]);
	}
}

void export_depth_inv_range(const float *d, size_t n, double *lo, double *hi)
{
	for (size_t i = 0; i < n; i++)
		if (d[i] > 0 && isfinite(d[i])) {
			double v = 1.0 / d[i];
			*lo = v < *lo ? v : *lo;
			*hi = v > *hi ? v : *hi;
		}
}

void export_depth_grey(const float *d, size_t n, double lo, double hi, uint8_t *out)
{
	double span = hi - lo;
	for (size_t i = 0; i < n; i++) {
		if (!(d[i] > 0 && isfinite(d[i]))) {
			out[i] = 0;
			continue;
		}
		double g = span > 0 ? (1.0 / d[i] - lo) / span * 255.0 : 255.0;
		out[i] = (uint8_t)(g < 0 ? 0 : g > 255 ? 255 : g + 0.5);
	}
}

/* ---- files ---------------------------------------------------------------------------------- */

/* snprintf for paths: a path longer than the buffer is cut, and the OS then refuses it
 * (PATH_MAX is 4096, the buffers are larger). */
__attribute__((format(printf, 3, 4))) static void pathf(char *out, size_t cap, const char *fmt,
							 ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(out, cap, fmt, ap);
	va_end(ap);
}

static int exists(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0;
}

/* fsync of a finished temporary file, then the rename that gives it its final name. */
static int commit_file(const char *tmp, const char *final, svt_err *err)
{
	int fd = open(tmp, O_RDONLY);
	if (fd < 0 || fsync(fd)) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		return svt_err_set(err, SVT_E_IO, "%s: %s", tmp, strerror(e));
	}
	close(fd);
	if (rename(tmp, final))
		return svt_err_set(err, SVT_E_IO, "rename %s: %s", final, strerror(errno));
	return svt_dir_sync_of(final, err);
}

static int write_text(const char *path, const char *text, svt_err *err)
{
	return svt_file_write_atomic(path, text, strlen(text), err);
}

/* A clip being exported: what every writer of its files needs. */
typedef struct clip_job {
	fmt_reader *r;
	size_t i;
	fmt_clip_data cd;
	const export_opts *o;
	export_report *rep;
	const char *root;
	uint8_t *rgb;   /* BATCH frames */
	float *depth;   /* BATCH depth maps */
	uint16_t *h16;  /* BATCH depth maps as half bits */
} clip_job;

/* A batch of frames handed to the encoder in a second thread, so that the calling thread
 * (which owns every HDF5 call) reads and decodes the next batch meanwhile. */
typedef struct encode_batch {
	export_video *v;
	const uint8_t *rgb;
	size_t frame_bytes;
	int n, rc;
	svt_err err;
} encode_batch;

static void *encode_batch_run(void *arg)
{
	encode_batch *b = arg;
	b->rc = SVT_OK;
	for (int k = 0; !b->rc && k < b->n; k++)
		b->rc = export_video_frame(b->v, b->rgb + (size_t)k * b->frame_bytes, &b->err);
	return NULL;
}

static int encode_rgb(clip_job *j, const char *final, svt_err *err)
{
	char tmp[4200];
	pathf(tmp, sizeof(tmp), "%s.tmp", final);
	export_video *v = NULL;
	size_t fb = (size_t)j->cd.W * j->cd.H * 3;
	uint8_t *buf[2] = {j->rgb, malloc(BATCH * fb)};
	int rc = buf[1] ? SVT_OK : svt_err_set(err, SVT_E_NOMEM, "frames of %s", j->cd.id);
	int T = j->cd.T;
	if (!rc)
		rc = export_video_open(tmp, j->cd.W, j->cd.H, j->cd.fps, j->o, &v, err);
	if (!rc)
		rc = fmt_reader_frames(j->r, j->i, 0, T < BATCH ? T : BATCH, buf[0], err);
	for (int t0 = 0, cur = 0; !rc && t0 < T; t0 += BATCH, cur ^= 1) {
		encode_batch b = {v, buf[cur], fb, T - t0 < BATCH ? T - t0 : BATCH, 0, {0}};
		pthread_t th;
		int threaded = pthread_create(&th, NULL, encode_batch_run, &b) == 0;
		if (!threaded)
			encode_batch_run(&b); /* no thread to be had: one after the other */
		int t1 = t0 + BATCH;
		if (t1 < T)
			rc = fmt_reader_frames(j->r, j->i, t1, T - t1 < BATCH ? T - t1 : BATCH,
					       buf[cur ^ 1], err);
		if (threaded)
			pthread_join(th, NULL);
		if (b.rc && !rc) {
			*err = b.err;
			rc = b.rc;
		}
	}
	if (!rc) {
		rc = export_video_close(v, err);
		v = NULL;
	}
	export_video_abort(v);
	free(buf[1]);
	if (!rc) {
		j->rep->frames += (size_t)j->cd.T;
		rc = commit_file(tmp, final, err);
	}
	if (rc)
		unlink(tmp);
	return rc;
}

/* transfer2.5's depth control: two passes over the depth (range, then grey frames). */
static int encode_depth(clip_job *j, const char *final, svt_err *err)
{
	char tmp[4200];
	pathf(tmp, sizeof(tmp), "%s.tmp", final);
	size_t px = (size_t)j->cd.W * j->cd.H;
	double lo = INFINITY, hi = -INFINITY;
	int rc = SVT_OK;
	export_video *v = NULL;
	for (int t0 = 0; !rc && t0 < j->cd.T; t0 += BATCH) {
		int n = j->cd.T - t0 < BATCH ? j->cd.T - t0 : BATCH;
		if (!(rc = fmt_reader_depth(j->r, j->i, t0, n, j->depth, err)))
			export_depth_inv_range(j->depth, (size_t)n * px, &lo, &hi);
	}
	if (!rc && !(lo <= hi))
		rc = svt_err_set(err, SVT_E_FORMAT, "clip %s: no valid depth", j->cd.id);
	if (!rc)
		rc = export_video_open(tmp, j->cd.W, j->cd.H, j->cd.fps, j->o, &v, err);
	uint8_t *g = (uint8_t *)j->h16; /* px bytes of grey, reused per frame */
	for (int t0 = 0; !rc && t0 < j->cd.T; t0 += BATCH) {
		int n = j->cd.T - t0 < BATCH ? j->cd.T - t0 : BATCH;
		rc = fmt_reader_depth(j->r, j->i, t0, n, j->depth, err);
		for (int k = 0; !rc && k < n; k++) {
			export_depth_grey(j->depth + k * px, px, lo, hi, g);
			for (size_t p = 0; p < px; p++)
				j->rgb[3 * p] = j->rgb[3 * p + 1] = j->rgb[3 * p + 2] = g[p];
			rc = export_video_frame(v, j->rgb, err);
		}
	}
	if (!rc) {
		rc = export_video_close(v, err);
		v = NULL;
	}
	export_video_abort(v);
	if (!rc) {
		j->rep->frames += (size_t)j->cd.T;
		rc = commit_file(tmp, final, err);
	}
	if (rc)
		unlink(tmp);
	return rc;
}

/* One line per frame: fx fy cx cy, then camera-to-world 3x4 row-major (OpenCV axes, ENU m). */
static int write_cameras(clip_job *j, const char *path, svt_err *err)
{
	size_t cap = (size_t)j->cd.T * 16 * 26 + 16;
	char *s = malloc(cap);
	if (!s)
		return svt_err_set(err, SVT_E_NOMEM, "cameras of %s", j->cd.id);
	size_t k = 0;
	for (int t = 0; t < j->cd.T; t++) {
		double c[12];
		export_c2w_3x4(j->cd.w2c + 16 * t, c);
		const double *K = j->cd.K + 4 * t;
		k += (size_t)snprintf(s + k, cap - k, "%.17g %.17g %.17g %.17g", K[0], K[1], K[2], K[3]);
		for (int q = 0; q < 12; q++)
			k += (size_t)snprintf(s + k, cap - k, " %.17g", c[q]);
		k += (size_t)snprintf(s + k, cap - k, "\n");
	}
	int rc = svt_file_write_atomic(path, s, k, err);
	free(s);
	return rc;
}

/* The clip's caption: its windows' texts in order, repeats dropped, joined by spaces. */
static int clip_caption(clip_job *j, char **out, svt_err *err)
{
	fmt_caption *caps = NULL;
	int n = 0, rc = fmt_reader_captions(j->r, j->i, &caps, &n, err);
	if (rc)
		return rc;
	size_t len = 1;
	for (int k = 0; k < n; k++)
		len += strlen(caps[k].caption) + 1;
	char *s = calloc(1, len);
	if (!s) {
		free(caps);
		return svt_err_set(err, SVT_E_NOMEM, "caption of %s", j->cd.id);
	}
	for (int k = 0; k < n; k++) {
		if (k && !strcmp(caps[k].caption, caps[k - 1].caption))
			continue;
		if (s[0])
			strcat(s, " ");
		strcat(s, caps[k].caption);
	}
	free(caps);
	*out = s;
	return SVT_OK;
}

static int gen3c_npz(clip_job *j, const char *dir, svt_err *err)
{
	char p1[4200], p2[4200], p3[4200];
	pathf(p1, sizeof(p1), "%s/depth.npz", dir);
	pathf(p2, sizeof(p2), "%s/mask.npz", dir);
	pathf(p3, sizeof(p3), "%s/camera.npz", dir);
	size_t T = (size_t)j->cd.T, px = (size_t)j->cd.W * j->cd.H;
	size_t shape3[3] = {T, (size_t)j->cd.H, (size_t)j->cd.W}, s44[3] = {T, 4, 4},
	       s33[3] = {T, 3, 3};
	export_npz *zd = NULL, *zm = NULL, *zc = NULL;
	float *cam = malloc(T * 16 * sizeof(float));
	uint8_t *mask = (uint8_t *)j->depth; /* BATCH * px bytes: fits in the float buffer */
	int rc = cam ? SVT_OK : svt_err_set(err, SVT_E_NOMEM, "cameras of %s", j->cd.id);
	if (rc || (rc = export_npz_open(p1, &zd, err)) || (rc = export_npz_open(p2, &zm, err)) ||
	    (rc = export_npz_begin(zd, "depth", "<f2", 3, shape3, err)) ||
	    (rc = export_npz_begin(zm, "mask", "|b1", 3, shape3, err)))
		goto cleanup;
	for (size_t t0 = 0; !rc && t0 < T; t0 += BATCH) {
		int n = (int)(T - t0 < BATCH ? T - t0 : BATCH);
		if ((rc = fmt_reader_depth_f16(j->r, j->i, (int)t0, n, j->h16, err)))
			break;
		/* Valid depth is what the shard stores as non-zero: its writer stores every
		 * invalid input (no return, non-finite, negative, too far) as 0. */
		for (size_t p = 0; p < (size_t)n * px; p++)
			mask[p] = j->h16[p] != 0;
		if (!(rc = export_npz_data(zd, j->h16, (size_t)n * px * 2, err)))
			rc = export_npz_data(zm, mask, (size_t)n * px, err);
	}
	if (rc)
		goto cleanup;
	rc = export_npz_close(zd, err);
	zd = NULL;
	if (!rc)
		rc = export_npz_close(zm, err);
	zm = NULL;
	if (rc || (rc = export_npz_open(p3, &zc, err)))
		goto cleanup;
	for (size_t k = 0; k < T * 16; k++)
		cam[k] = (float)j->cd.w2c[k];
	if ((rc = export_npz_begin(zc, "w2c", "<f4", 3, s44, err)) ||
	    (rc = export_npz_data(zc, cam, T * 16 * sizeof(float), err)))
		goto cleanup;
	for (size_t t = 0; t < T; t++) {
		const double *K = j->cd.K + 4 * t;
		float m[9] = {(float)K[0], 0, (float)K[2], 0, (float)K[1], (float)K[3], 0, 0, 1};
		memcpy(cam + 9 * t, m, sizeof(m));
	}
	if ((rc = export_npz_begin(zc, "intrinsics", "<f4", 3, s33, err)) ||
	    (rc = export_npz_data(zc, cam, T * 9 * sizeof(float), err)))
		goto cleanup;
	rc = export_npz_close(zc, err);
	zc = NULL;
cleanup:
	export_npz_abort(zd);
	export_npz_abort(zm);
	export_npz_abort(zc);
	free(cam);
	return rc;
}

/* Removes a folder this export made (files only, no subfolders). */
static void rm_flat_dir(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *e;
	char p[4400];
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
			pathf(p, sizeof(p), "%s/%s", dir, e->d_name);
			unlink(p);
		}
	closedir(d);
	rmdir(dir);
}

/* The further control videos a transfer clip can carry: depth now; the warped reference
 * (the twin rendered from the clip's cameras) is a hook for shards that will store one under
 * /clips/<id>/warped: has() says whether the shard holds it, encode() writes folder/<id>.mp4.
 * Until formats/ reads such a dataset, has() is 0 and no warped/ folder is made. */
typedef struct control_kind {
	const char *folder;
	int (*has)(const clip_job *j);
	int (*encode)(clip_job *j, const char *final, svt_err *err);
} control_kind;

static int has_depth(const clip_job *j)
{
	return j->cd.has_depth;
}

static int has_warped(const clip_job *j)
{
	(void)j;
	return 0;
}

static const control_kind controls[] = {
	{"depth", has_depth, encode_depth},
	{"warped", has_warped, NULL},
};

/* The files a complete clip has, the video last (the completeness marker). */
static int clip_paths(const clip_job *j, char paths[][4200], int *n)
{
	const char *root = j->root, *id = j->cd.id;
	int k = 0;
	switch (j->o->layout) {
	case EXPORT_PREDICT:
		pathf(paths[k++], 4200, "%s/metas/%s.txt", root, id);
		pathf(paths[k++], 4200, "%s/cameras/%s.txt", root, id);
		pathf(paths[k++], 4200, "%s/videos/%s.mp4", root, id);
		break;
	case EXPORT_TRANSFER:
		pathf(paths[k++], 4200, "%s/captions/%s.json", root, id);
		pathf(paths[k++], 4200, "%s/cameras/%s.txt", root, id);
		for (size_t c = 0; c < SVT_ARRAY_LEN(controls); c++)
			if (controls[c].has(j) && controls[c].encode)
				pathf(paths[k++], 4200, "%s/%s/%s.mp4", root, controls[c].folder, id);
		pathf(paths[k++], 4200, "%s/videos/%s.mp4", root, id);
		break;
	case EXPORT_GEN3C:
		pathf(paths[k++], 4200, "%s/%s/rgb.mp4", root, id);
		break;
	}
	*n = k;
	return SVT_OK;
}

static int clip_complete(const clip_job *j)
{
	char paths[8][4200];
	int n = 0;
	clip_paths(j, paths, &n);
	for (int k = 0; k < n; k++)
		if (!exists(paths[k]))
			return 0;
	return 1;
}

static int mkdir_in(const char *root, const char *name, svt_err *err)
{
	char p[4200];
	pathf(p, sizeof(p), "%s/%s", root, name);
	return svt_mkdirs(p, err);
}

/* GEN3C: the clip's folder is written as <id>.tmp and renamed whole. */
static int clip_write_gen3c(clip_job *j, svt_err *err)
{
	char p[4400], q[4400];
	pathf(q, sizeof(q), "%s/%s.tmp", j->root, j->cd.id);
	rm_flat_dir(q);
	int rc = svt_mkdirs(q, err);
	if (rc)
		return rc;
	pathf(p, sizeof(p), "%s/cameras.txt", q);
	if ((rc = write_cameras(j, p, err)) || (rc = gen3c_npz(j, q, err)))
		goto cleanup;
	pathf(p, sizeof(p), "%s/rgb.mp4", q);
	if ((rc = encode_rgb(j, p, err)))
		goto cleanup;
	pathf(p, sizeof(p), "%s/%s", j->root, j->cd.id);
	rm_flat_dir(p); /* --force: the earlier complete folder */
	if (rename(q, p))
		rc = svt_err_set(err, SVT_E_IO, "rename %s: %s", p, strerror(errno));
	else
		rc = svt_dir_sync_of(p, err);
cleanup:
	if (rc)
		rm_flat_dir(q);
	return rc;
}

/* A clip that failed and was not complete before leaves none of its files: a loader that walks
 * metas/, captions/ or cameras/ (not videos/) must not meet one without its video. GEN3C
 * folders are written whole or not at all already. */
static void clip_discard(const clip_job *j)
{
	if (j->o->layout == EXPORT_GEN3C)
		return;
	char paths[8][4200];
	int n = 0;
	clip_paths(j, paths, &n);
	for (int k = 0; k < n; k++)
		unlink(paths[k]);
}

static int clip_write(clip_job *j, svt_err *err)
{
	const char *root = j->root, *id = j->cd.id;
	char p[4200];
	char *cap = NULL, *text = NULL;
	int rc = clip_caption(j, &cap, err);
	if (rc)
		return rc;
	switch (j->o->layout) {
	case EXPORT_PREDICT:
		pathf(p, sizeof(p), "%s/metas/%s.txt", root, id);
		if ((rc = write_text(p, cap, err)))
			break;
		pathf(p, sizeof(p), "%s/cameras/%s.txt", root, id);
		if ((rc = write_cameras(j, p, err)))
			break;
		pathf(p, sizeof(p), "%s/videos/%s.mp4", root, id);
		rc = encode_rgb(j, p, err);
		break;
	case EXPORT_TRANSFER: {
		json_t *o = json_pack("{s:s}", "caption", cap);
		text = o ? json_dumps(o, JSON_ENSURE_ASCII) : NULL;
		json_decref(o);
		if (!text) {
			rc = svt_err_set(err, SVT_E_NOMEM, "caption JSON of %s", id);
			break;
		}
		pathf(p, sizeof(p), "%s/captions/%s.json", root, id);
		if ((rc = write_text(p, text, err)))
			break;
		pathf(p, sizeof(p), "%s/cameras/%s.txt", root, id);
		if ((rc = write_cameras(j, p, err)))
			break;
		for (size_t c = 0; !rc && c < SVT_ARRAY_LEN(controls); c++)
			if (controls[c].has(j) && controls[c].encode &&
			    !(rc = mkdir_in(root, controls[c].folder, err))) {
				pathf(p, sizeof(p), "%s/%s/%s.mp4", root, controls[c].folder, id);
				rc = controls[c].encode(j, p, err);
			}
		if (rc)
			break;
		pathf(p, sizeof(p), "%s/videos/%s.mp4", root, id);
		rc = encode_rgb(j, p, err);
		break;
	}
	case EXPORT_GEN3C:
		rc = clip_write_gen3c(j, err);
		break;
	}
	free(cap);
	free(text);
	return rc;
}

/* ---- roots and the manifest ----------------------------------------------------------------- */

typedef struct root_state {
	char split[16];
	char dir[4096];
	char *lines;   /* manifest.jsonl being built */
	size_t len, cap;
	int ready;     /* folders made, layout checked */
} root_state;

/* A root holds one layout and one split: the predict loader reads a captions/ folder (the
 * transfer kind) before metas/ and would then see empty captions; gen3c folders beside videos/
 * would be read as clips by neither. */
static int root_prepare(root_state *rs, const export_opts *o, svt_err *err)
{
	static const char *const foreign[3][3] = {
		{"captions", "depth", NULL}, {"metas", NULL, NULL}, {"videos", "metas", "captions"}};
	char p[4200];
	for (int k = 0; k < 3 && foreign[o->layout][k]; k++) {
		pathf(p, sizeof(p), "%s/%s", rs->dir, foreign[o->layout][k]);
		if (exists(p))
			return svt_err_set(err, SVT_E_INPUT,
					   "%s holds %s/, a folder of another layout: a %s root must "
					   "not (Cosmos's loaders would misread it); export to another "
					   "directory", rs->dir, foreign[o->layout][k],
					   export_layout_name(o->layout));
	}
	/* An earlier export into this root must have been the same layout and split. */
	pathf(p, sizeof(p), "%s/manifest.jsonl", rs->dir);
	FILE *f = fopen(p, "r");
	if (f) {
		char line[4096];
		int bad = 0;
		while (!bad && fgets(line, sizeof(line), f)) {
			json_t *j = json_loads(line, 0, NULL);
			const char *s = json_string_value(json_object_get(j, "split"));
			const char *l = json_string_value(json_object_get(j, "layout"));
			bad = (s && strcmp(s, rs->split)) || (l && strcmp(l, export_layout_name(o->layout)));
			json_decref(j);
		}
		fclose(f);
		if (bad)
			return svt_err_set(err, SVT_E_INPUT, "%s was exported with another split or "
					   "layout (its manifest.jsonl): splits and layouts never mix "
					   "in one root", rs->dir);
	}
	if (o->layout == EXPORT_GEN3C) {
		rs->ready = 1;
		return svt_mkdirs(rs->dir, err);
	}
	const char *need[3] = {"videos", o->layout == EXPORT_PREDICT ? "metas" : "captions",
			       "cameras"};
	for (int k = 0; k < 3; k++) {
		int rc = mkdir_in(rs->dir, need[k], err);
		if (rc)
			return rc;
	}
	rs->ready = 1;
	return SVT_OK;
}

static int manifest_add(root_state *rs, const clip_job *j, const char *shard, svt_err *err)
{
	json_t *o = json_pack("{s:s, s:s, s:i, s:f, s:b, s:i, s:i, s:s, s:s}", "clip", j->cd.id,
			      "shard", shard, "frames", j->cd.T, "fps", j->cd.fps, "fps_nominal",
			      j->cd.fps_nominal, "width", j->cd.W, "height", j->cd.H, "split",
			      j->cd.split, "layout", export_layout_name(j->o->layout));
	char *s = o ? json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
	json_decref(o);
	size_t n = s ? strlen(s) : 0;
	if (s && rs->len + n + 2 > rs->cap) {
		size_t cap = 2 * (rs->len + n + 2);
		char *t = realloc(rs->lines, cap);
		if (t) {
			rs->lines = t;
			rs->cap = cap;
		}
	}
	if (!s || rs->len + n + 2 > rs->cap) {
		free(s);
		return svt_err_set(err, SVT_E_NOMEM, "manifest line of %s", j->cd.id);
	}
	memcpy(rs->lines + rs->len, s, n);
	rs->len += n;
	rs->lines[rs->len++] = '\n';
	rs->lines[rs->len] = 0;
	free(s);
	return SVT_OK;
}

static root_state *root_for(root_state *roots, int *nroots, const char *out, const char *split,
			    const export_opts *o)
{
	for (int k = 0; k < *nroots; k++)
		if (!strcmp(roots[k].split, split))
			return &roots[k];
	if (*nroots >= 3)
		return NULL;
	root_state *rs = &roots[(*nroots)++];
	snprintf(rs->split, sizeof(rs->split), "%s", split);
	if (o->split)
		snprintf(rs->dir, sizeof(rs->dir), "%s", out);
	else
		snprintf(rs->dir, sizeof(rs->dir), "%s/%s", out, split);
	return rs;
}

static int dataset_verified(const char *dataset, FILE *log, svt_err *err)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);
	if (!m)
		return svt_err_set(err, SVT_E_NOMEM, "verify report");
	int rc = fmt_dataset_verify(dataset, m, err);
	fclose(m);
	if (rc) {
		if (log && buf)
			fputs(buf, log);
		if (rc > 0)
			rc = svt_err_set(err, SVT_E_FORMAT, "%s does not verify (`svtwin verify %s`): "
					 "export reads verified shards only", dataset, dataset);
	}
	free(buf);
	return rc;
}

int export_cosmos_run(const char *dataset, const char *out_dir, const export_opts *o,
		      export_report *rep, FILE *log, svt_err *err)
{
	if (!dataset || !out_dir || !o || !rep)
		return svt_err_set(err, SVT_E_INPUT, "export_cosmos_run: NULL argument");
	memset(rep, 0, sizeof(*rep));
	/* x264's and x265's CRF scale; threads 0 is the encoder's own choice (every core). */
	if (o->crf < 0 || o->crf > 51 || o->threads < 0)
		return svt_err_set(err, SVT_E_INPUT, "export: crf %d (0-51) or threads %d (>= 0) out "
				   "of range", o->crf, o->threads);
	if (!export_video_available())
		return export_video_open(out_dir, 2, 2, 1, o, &(export_video *){NULL}, err);
	if (o->split && strcmp(o->split, "train") && strcmp(o->split, "val") &&
	    strcmp(o->split, "test"))
		return svt_err_set(err, SVT_E_INPUT, "split '%s': want train, val or test", o->split);
	int rc = SVT_OK;
	fmt_reader *r = NULL;
	root_state roots[3];
	int nroots = 0;
	memset(roots, 0, sizeof(roots));
	clip_job j = {0};
	char path[4096];
	double t_start = svt_now();
	if (o->verify && (rc = dataset_verified(dataset, log, err)))
		goto cleanup;
	if ((rc = svt_path_join(path, sizeof(path), dataset, "master.h5", err)) ||
	    (rc = fmt_reader_open(path, &r, err)) || (rc = svt_mkdirs(out_dir, err)))
		goto cleanup;
	j.r = r;
	j.o = o;
	j.rep = rep;
	for (size_t i = 0; i < fmt_reader_clip_count(r); i++) {
		svt_err e = {0};
		fmt_clip_data_free(&j.cd);
		if ((rc = fmt_reader_clip(r, i, &j.cd, err)))
			goto cleanup;
		j.i = i;
		if (o->split && strcmp(j.cd.split, o->split))
			continue;
		if (export_clip_check(o->layout, j.cd.T, j.cd.W, j.cd.H, j.cd.fps, j.cd.has_depth,
				      &e)) {
			rep->refused++;
			if (log)
				fprintf(log, "refused %s (%s): %s\n", j.cd.id,
					export_layout_name(o->layout), e.msg);
			continue;
		}
		if (log && o->layout == EXPORT_PREDICT && j.cd.fps < EXPORT_TRANSFER_MIN_FPS)
			fprintf(log, "note %s: %.3g fps%s: predict2.5's loader takes the container's "
				"rate, but its checkpoints are Fps-16 and post-training wants 10-60 fps\n",
				j.cd.id, j.cd.fps, j.cd.fps_nominal ? " (nominal)" : "");
		root_state *rs = root_for(roots, &nroots, out_dir, j.cd.split, o);
		if (!rs) {
			rc = svt_err_set(err, SVT_E_FORMAT, "clip %s: split '%s'", j.cd.id, j.cd.split);
			goto cleanup;
		}
		if (!rs->ready && (rc = root_prepare(rs, o, err)))
			goto cleanup;
		j.root = rs->dir;
		size_t px = (size_t)j.cd.W * j.cd.H;
		free(j.rgb);
		free(j.depth);
		free(j.h16);
		j.rgb = malloc(BATCH * px * 3);
		j.depth = malloc(BATCH * px * sizeof(float));
		j.h16 = malloc(BATCH * px * sizeof(uint16_t));
		if (!j.rgb || !j.depth || !j.h16) {
			rc = svt_err_set(err, SVT_E_NOMEM, "clip %s: %d x %d frames", j.cd.id, j.cd.W,
					 j.cd.H);
			goto cleanup;
		}
		const char *shard = "";
		fmt_reader_clip_shard(r, i, &shard);
		int was_complete = clip_complete(&j);
		if (!o->force && was_complete) {
			rep->skipped++;
		} else if (clip_write(&j, &e)) {
			if (!was_complete) /* --force over a complete clip keeps what it had */
				clip_discard(&j);
			rep->failed++;
			if (log)
				fprintf(log, "failed %s: %s (%s)\n", j.cd.id, e.msg,
					svt_status_name(e.code));
			if (e.code == SVT_E_UNSUPPORTED) { /* no encoder: every clip would fail */
				*err = e;
				rc = e.code;
				goto cleanup;
			}
			continue;
		} else {
			rep->written++;
			svt_log_info("export: %s -> %s (%d frames)", j.cd.id, rs->dir, j.cd.T);
		}
		if ((rc = manifest_add(rs, &j, shard ? shard : "", err)))
			goto cleanup;
	}
	/* Each root's manifest lists the clips it holds complete, written last and atomically. */
	for (int k = 0; k < nroots; k++) {
		pathf(path, sizeof(path), "%s/manifest.jsonl", roots[k].dir);
		if ((rc = svt_file_write_atomic(path, roots[k].lines ? roots[k].lines : "",
						roots[k].len, err)))
			goto cleanup;
	}
cleanup:
	rep->seconds = svt_now() - t_start;
	for (int k = 0; k < 3; k++)
		free(roots[k].lines);
	fmt_clip_data_free(&j.cd);
	free(j.rgb);
	free(j.depth);
	free(j.h16);
	fmt_reader_close(r);
	return rc;
}
