/* writer.c: the shard writer (docs/shard-format.md).
 *
 * The calling thread owns every HDF5 call; a pool of worker threads only compresses frames
 * (fmt_chunk_encode, no HDF5) into slots that the calling thread then stores with
 * H5Dwrite_chunk. Slots bound the memory held: 2 x threads + 1 frames in flight. With
 * opts.gate, the compression threads and the caller (while it holds a place) share the gate's
 * places: the caller gives its place up while it waits for a slot.
 *
 * A shard is built in memory (fmt_h5_create_mem: its compressed size in RAM, up to
 * opts.target_bytes) and written to PREFIX-NNNNN.h5.tmp (O_DIRECT where the file system takes
 * it): the pages wholly inside stored chunks while it is built (chunk_stream), the rest of the
 * closed image at its commit, hashed from memory meanwhile; fmt_h5_commit_image then renames
 * it, keeping the buffer for the next shard; master.h5 and
 * manifest.json are written after the last shard, atomically, so a manifest never names a
 * shard that is not whole.
 */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "formats/fmt_internal.h"

enum { S_FREE, S_QUEUED, S_BUSY, S_DONE, S_FAILED, S_WRITING };

typedef struct slot {
	int state;
	int t;
	int depth;         /* 0: a frame chunk, 1: a depth chunk */
	int f32;           /* depth given as float: converted to float16 on the worker */
	size_t n;          /* input bytes */
	uint64_t seq;
	uint8_t *in;       /* the frame, copied from the caller */
	uint8_t *out;      /* the encoded chunk */
	size_t out_cap, out_n;
	svt_err err;
} slot;

typedef struct shard_rec {
	char file[FMT_ID_MAX];
	uint64_t bytes, frames;
	size_t clips;
	char sha256[65];
} shard_rec;

struct fmt_writer {
	char dir[3800], prefix[64], created[32];
	fmt_shard_info info;
	char *source;
	char *build_config;     /* copy of info->build_config (NULL: none) */
	fmt_writer_opts o;

	/* the shard being written */
	int shard_no;
	char fname[FMT_ID_MAX], tmp[4100], final[4090];
	hid_t file, clips;
	fmt_h5_image image;     /* the in-memory shard's buffer, kept past its close */
	size_t shard_first;     /* its first row in all[] */
	uint64_t shard_bytes, shard_frames;

	/* the clip being written */
	int in_clip;
	uint64_t *stored;       /* its chunks' (address, size) pairs, forgotten if it is dropped */
	size_t nstored, capstored;
	size_t stream_min;      /* final pages handed to the image's writing thread from this many */
	hid_t clip_g, frames_ds, depth_ds;
	int T, H, W, depth;
	const uint8_t *valid;   /* densified clip: its mask, written at fmt_clip_end */
	size_t frame_bytes, in_cap;
	uint8_t *submitted;     /* 2T flags: frame t handed in, then depth t */
	int n_written, n_depth_written;
	fmt_index_row row;

	fmt_index_row *all;     /* every committed clip, in order */
	size_t nall, capall;
	shard_rec *shards;
	size_t nshards, capshards;

	/* compression pool */
	pthread_mutex_t mu;
	pthread_cond_t cv_work, cv_done;
	pthread_t *th;
	int nth, stop;
	slot *slots;
	int nslots;
	uint64_t seq;
	int failed;             /* a fatal error happened: only close/abort remain */
	size_t resumed_shards, resumed_clips;
};

/* ---- compression pool -------------------------------------------------------------------- */

static slot *next_queued(fmt_writer *w)
{
	slot *best = NULL;
	for (int i = 0; i < w->nslots; i++)
		if (w->slots[i].state == S_QUEUED && (!best || w->slots[i].seq < best->seq))
			best = &w->slots[i];
	return best;
}

/* The one rule for a chunk's bytes: a frame as JPEG (FMT_CODEC_JPEG) or through the codec's
 * filter pipeline; depth (float16 already) always through the pipeline, 2-byte elements for
 * shuffle and blosc, its shuffle into scratch (n bytes; the free half of the buffer that held
 * the depth as float). */
static int encode(fmt_codec c, int level, int fl, int W, int H, int depth, const uint8_t *in,
		  size_t n, uint8_t *scratch, uint8_t **out, size_t *cap, size_t *out_n,
		  svt_err *err)
{
	return c == FMT_CODEC_JPEG && !depth
		       ? fmt_jpeg_encode(in, W, H, level, out, cap, out_n, err)
		       : fmt_chunk_encode_in(c, level, fl, depth ? 2 : 1, in, n, scratch, out, cap,
					     out_n, err);
}

static void *worker_main(void *arg)
{
	fmt_writer *w = arg;
	pthread_mutex_lock(&w->mu);
	for (;;) {
		slot *s = NULL;
		while (!w->stop && !(s = next_queued(w)))
			pthread_cond_wait(&w->cv_work, &w->mu);
		if (!s)
			break;
		s->state = S_BUSY;
		fmt_codec c = w->o.codec;
		int level = w->o.level, fl = w->o.fletcher32, W = w->W, H = w->H;
		pthread_mutex_unlock(&w->mu);
		/* The work counts against the caller's --threads (opts.gate): taken after the
		 * lock is given up, given back before it is taken again. */
		svt_gate_enter(w->o.gate);
		svt_err e = {0};
		if (s->f32) {
			/* float -> float16 here, in parallel, rather than on the caller's thread.
			 * In place: half i goes to bytes [2i, 2i+2), after float i (at 4i) is read. */
			size_t np = s->n / 4;
			fmt_depth_to_f16((const float *)(void *)s->in, s->in, np);
			s->n = 2 * np;
			s->f32 = 0;
		}
		/* A depth slot holds H x W floats: the halves' shuffle goes into its second half. */
		int rc = encode(c, level, fl, W, H, s->depth, s->in, s->n,
				s->depth ? s->in + s->n : NULL, &s->out, &s->out_cap, &s->out_n, &e);
		svt_gate_leave(w->o.gate);
		pthread_mutex_lock(&w->mu);
		s->state = rc ? S_FAILED : S_DONE;
		if (rc)
			s->err = e;
		pthread_cond_broadcast(&w->cv_done);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

static void pool_stop(fmt_writer *w)
{
	if (!w->th)
		return;
	pthread_mutex_lock(&w->mu);
	w->stop = 1;
	pthread_cond_broadcast(&w->cv_work);
	pthread_mutex_unlock(&w->mu);
	for (int i = 0; i < w->nth; i++)
		pthread_join(w->th[i], NULL);
	free(w->th);
	w->th = NULL;
}

/* A JPEG frame is element t of the variable-length /frames_jpeg. */
static int jpeg_store(fmt_writer *w, int t, const uint8_t *bytes, size_t n, svt_err *err)
{
	hsize_t off = (hsize_t)t, one = 1;
	hid_t fs = H5Dget_space(w->frames_ds), ms = H5Screate_simple(1, &one, NULL);
	hid_t vt = H5Tvlen_create(H5T_NATIVE_UINT8);
	hvl_t v = {n, (void *)bytes};
	int rc = SVT_OK;
	if (fs < 0 || ms < 0 || vt < 0 ||
	    H5Sselect_hyperslab(fs, H5S_SELECT_SET, &off, NULL, &one, NULL) < 0 ||
	    H5Dwrite(w->frames_ds, vt, ms, fs, H5P_DEFAULT, &v) < 0)
		rc = svt_err_set(err, SVT_E_HDF5, "%s%s%s: cannot write JPEG frame %d of clip %s",
				 fmt_h5_errno() ? strerror(fmt_h5_errno()) : "",
				 fmt_h5_errno() ? ": " : "", w->tmp, t, w->row.clip_id);
	if (vt >= 0)
		H5Tclose(vt);
	if (ms >= 0)
		H5Sclose(ms);
	if (fs >= 0)
		H5Sclose(fs);
	if (!rc) {
		w->shard_bytes += n;
		w->n_written++;
	}
	return rc;
}

/* Where a stored chunk lies in the shard, for the image to write its pages to disk while the
 * shard is still being built (fmt_h5_image_stream, 8 MiB at a time at least;
 * SVT_SHARD_STREAM_MIN=BYTES sets another amount: tests stream every chunk). A chunk whose
 * place HDF5 does not say is only left to the commit. */
static size_t stream_min(void)
{
	const char *s = getenv("SVT_SHARD_STREAM_MIN");
	char *end = NULL;
	unsigned long long v = s && *s ? strtoull(s, &end, 10) : 0;
	return s && *s && end && !*end ? (size_t)v : (size_t)8 << 20;
}

static int chunk_stream(fmt_writer *w, hid_t ds, const hsize_t *off, svt_err *err)
{
	unsigned mask = 0;
	haddr_t addr = HADDR_UNDEF;
	hsize_t size = 0;
	if (H5Dget_chunk_info_by_coord(ds, off, &mask, &addr, &size) < 0 || addr == HADDR_UNDEF ||
	    size == 0)
		return SVT_OK;
	if (w->nstored + 2 > w->capstored) {
		size_t nc = w->capstored ? 2 * w->capstored : 256;
		uint64_t *p = realloc(w->stored, nc * sizeof(*p));
		if (!p)
			return svt_err_set(err, SVT_E_NOMEM, "chunk list of clip %s", w->row.clip_id);
		w->stored = p;
		w->capstored = nc;
	}
	w->stored[w->nstored++] = (uint64_t)addr;
	w->stored[w->nstored++] = (uint64_t)size;
	int rc = fmt_h5_image_note(&w->image, (uint64_t)addr, (uint64_t)size, 0, err);
	return rc ? rc : fmt_h5_image_stream(&w->image, w->tmp, w->stream_min, err);
}

/* Stores encoded chunk t (of the frames, or of the depth maps) of the clip being written. */
static int chunk_put(fmt_writer *w, int t, int depth, const uint8_t *bytes, size_t n,
		     svt_err *err)
{
	if (w->o.codec == FMT_CODEC_JPEG && !depth)
		return jpeg_store(w, t, bytes, n, err);
	hsize_t off[4] = {(hsize_t)t, 0, 0, 0};
	hid_t ds = depth ? w->depth_ds : w->frames_ds;
	if (H5Dwrite_chunk(ds, H5P_DEFAULT, 0, off, n, bytes) < 0)
		return svt_err_set(err, SVT_E_HDF5, "%s%s%s: cannot write %s %d of clip %s",
				   fmt_h5_errno() ? strerror(fmt_h5_errno()) : "",
				   fmt_h5_errno() ? ": " : "", w->tmp, depth ? "depth" : "frame", t,
				   w->row.clip_id);
	w->shard_bytes += n;
	if (depth)
		w->n_depth_written++;
	else
		w->n_written++;
	return chunk_stream(w, ds, off, err);
}

static int chunk_store(fmt_writer *w, slot *s, svt_err *err)
{
	return chunk_put(w, s->t, s->depth, s->out, s->out_n, err);
}

enum { DRAIN_NOWAIT, DRAIN_ONE_FREE, DRAIN_ALL };

/* Stores every encoded chunk; then waits as mode asks. Returns the first error seen (an
 * encoding error of a worker or a write error), having still freed every slot. */
static int pool_drain(fmt_writer *w, int mode, svt_err *err)
{
	int rc = SVT_OK;
	pthread_mutex_lock(&w->mu);
	for (;;) {
		slot *d = NULL;
		int nfree = 0, pending = 0;
		for (int i = 0; i < w->nslots; i++) {
			slot *s = &w->slots[i];
			if ((s->state == S_DONE || s->state == S_FAILED) && !d)
				d = s;
			else if (s->state == S_FREE)
				nfree++;
			else if (s->state == S_QUEUED || s->state == S_BUSY)
				pending++;
		}
		if (d) {
			if (d->state == S_FAILED) {
				if (!rc) {
					rc = d->err.code ? d->err.code : SVT_E_FORMAT;
					if (err)
						*err = d->err;
				}
			} else {
				d->state = S_WRITING;
				pthread_mutex_unlock(&w->mu);
				if (!rc)
					rc = chunk_store(w, d, err);
				pthread_mutex_lock(&w->mu);
			}
			d->state = S_FREE;
			continue;
		}
		if (mode == DRAIN_NOWAIT || (mode == DRAIN_ONE_FREE && nfree > 0) ||
		    (mode == DRAIN_ALL && pending == 0))
			break;
		/* Waiting, the caller's place in the gate goes to the compression threads. */
		int paused = svt_gate_pause(w->o.gate);
		pthread_cond_wait(&w->cv_done, &w->mu);
		if (paused) {
			pthread_mutex_unlock(&w->mu);
			svt_gate_resume(w->o.gate, paused);
			pthread_mutex_lock(&w->mu);
		}
	}
	pthread_mutex_unlock(&w->mu);
	return rc;
}

/* ---- shards ------------------------------------------------------------------------------ */

/* Shard k's path, DIR/PREFIX-NNNNN.h5 (name, when given, gets PREFIX-NNNNN.h5): the one rule
 * for what a writer's shards are called. */
static int shard_path(const fmt_writer *w, int k, char name[FMT_ID_MAX], char *path, size_t cap,
		      svt_err *err)
{
	char own[FMT_ID_MAX];
	if (!name)
		name = own;
	snprintf(name, FMT_ID_MAX, "%.48s-%05u.h5", w->prefix, (unsigned)k % 100000u);
	return svt_path_join(path, cap, w->dir, name, err);
}

static int shard_open(fmt_writer *w, svt_err *err)
{
	int rc;
	if (w->shard_no > 99999)
		return svt_err_set(err, SVT_E_LIMIT, "more than 100000 shards: raise the target size");
	if ((rc = shard_path(w, w->shard_no, w->fname, w->final, sizeof(w->final), err)))
		return rc;
	snprintf(w->tmp, sizeof(w->tmp), "%s.tmp", w->final);
	/* A killed run's tmp (the folder is ours: its lock is held): HDF5's create would first
	 * read it whole into memory (the core driver's open of an existing file). */
	if (unlink(w->tmp) != 0 && errno != ENOENT)
		return svt_err_set(err, SVT_E_IO, "%s: cannot remove %s", strerror(errno), w->tmp);
	w->file = fmt_h5_create_mem(w->tmp, &w->image, err);
	if (w->file < 0)
		return err ? err->code : SVT_E_HDF5;
	w->shard_first = w->nall;
	w->shard_bytes = 0;
	w->shard_frames = 0;
	if ((rc = fmt_root_attrs_write(w->file, "shard", &w->info, fmt_codec_name(w->o.codec),
				       w->o.fletcher32, w->created, err)))
		return rc;
	w->clips = H5Gcreate2(w->file, "clips", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
	if (w->clips < 0)
		return svt_err_set(err, SVT_E_HDF5, "%s: cannot create /clips", w->tmp);
	return SVT_OK;
}

static void shard_drop(fmt_writer *w)
{
	if (w->depth_ds >= 0)
		H5Dclose(w->depth_ds);
	if (w->frames_ds >= 0)
		H5Dclose(w->frames_ds);
	if (w->clip_g >= 0)
		H5Gclose(w->clip_g);
	if (w->clips >= 0)
		H5Gclose(w->clips);
	if (w->file >= 0)
		fmt_h5_discard(w->file, w->tmp);
	fmt_h5_image_release(&w->image);
	w->depth_ds = w->frames_ds = w->clip_g = w->clips = w->file = H5I_INVALID_HID;
}

/* Appends a committed shard (file name, counts) to the manifest's list: its SHA-256 and size
 * given (hex, written in this run) or read from path (a shard kept by a resume). */
static int shards_push(fmt_writer *w, const char *name, const char *path, const char *hex,
		       uint64_t bytes, size_t clips, uint64_t frames, svt_err *err)
{
	if (w->nshards == w->capshards) {
		size_t nc = w->capshards ? 2 * w->capshards : 8;
		shard_rec *p = realloc(w->shards, nc * sizeof(*p));
		if (!p)
			return svt_err_set(err, SVT_E_NOMEM, "shard list");
		w->shards = p;
		w->capshards = nc;
	}
	shard_rec *s = &w->shards[w->nshards];
	memset(s, 0, sizeof(*s));
	snprintf(s->file, sizeof(s->file), "%s", name);
	s->clips = clips;
	s->frames = frames;
	int rc = SVT_OK;
	if (hex) {
		memcpy(s->sha256, hex, 65);
		s->bytes = bytes;
	} else {
		rc = fmt_file_sha256(path, s->sha256, &s->bytes, err);
	}
	if (!rc)
		w->nshards++;
	return rc;
}

static int shard_finish(fmt_writer *w, svt_err *err)
{
	int rc;
	size_t n = w->nall - w->shard_first;
	if ((rc = fmt_index_write(w->file, w->all + w->shard_first, n, w->o.fletcher32, err)) ||
	    (rc = fmt_attr_put_i64(w->file, "num_clips", (int64_t)n, err)) ||
	    (rc = fmt_attr_put_i64(w->file, "num_frames", (int64_t)w->shard_frames, err)))
		return rc;
	H5Gclose(w->clips);
	w->clips = H5I_INVALID_HID;
	hid_t f = w->file;
	w->file = H5I_INVALID_HID;
	char hex[65];
	uint64_t bytes = 0;
	if ((rc = fmt_h5_commit_image(f, &w->image, w->tmp, w->final, w->o.gate, hex, &bytes,
				      err)))
		return rc;
	if ((rc = shards_push(w, w->fname, w->final, hex, bytes, n, w->shard_frames, err)))
		return rc;
	w->shard_no++;
	svt_log_debug("committed %s: %zu clips, %llu bytes", w->final, n,
		      (unsigned long long)w->shards[w->nshards - 1].bytes);
	return SVT_OK;
}

/* ---- create ------------------------------------------------------------------------------ */

void fmt_writer_opts_default(fmt_writer_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->codec = fmt_codec_default(&o->level);
	o->fletcher32 = 1;
	o->threads = 0;
	o->target_bytes = 500ull * 1000 * 1000;
}

static int name_ok(const char *s, size_t max)
{
	size_t n = strlen(s);
	if (n == 0 || n >= max)
		return 0;
	for (const char *p = s; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		      *p == '_' || *p == '-' || *p == '.'))
			return 0;
	return strcmp(s, ".") && strcmp(s, "..");
}

static int clip_id_taken(const fmt_writer *w, const char *id);

static int rows_reserve(fmt_writer *w, size_t more, svt_err *err)
{
	if (w->nall + more <= w->capall)
		return SVT_OK;
	size_t nc = w->capall ? 2 * w->capall : 64;
	while (nc < w->nall + more)
		nc *= 2;
	fmt_index_row *p = realloc(w->all, nc * sizeof(*p));
	if (!p)
		return svt_err_set(err, SVT_E_NOMEM, "clip index");
	w->all = p;
	w->capall = nc;
	return SVT_OK;
}

/* Takes over the committed shards of an interrupted (or finished) run: PREFIX-00000.h5,
 * -00001.h5, ... while they exist and open as schema-v1 shards. A shard that does not open is
 * where the earlier run's commit stopped being trustworthy: it and those after it are
 * rewritten (the stale-shard sweep at close removes any left over). */
static int resume_shards(fmt_writer *w, svt_err *err)
{
	int rc = SVT_OK;
	for (int k = 0; k < 100000; k++) {
		char name[FMT_ID_MAX], path[4200];
		if ((rc = shard_path(w, k, name, path, sizeof(path), err)))
			return rc;
		if (access(path, F_OK) != 0)
			break;
		fmt_reader *r = NULL;
		svt_err e2 = {0};
		if (fmt_reader_open(path, &r, &e2)) {
			svt_log_warn("%s does not open (%s): it will be rewritten", path, e2.msg);
			break;
		}
		fmt_reader_close(r);
		hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
		fmt_index_row *rows = NULL;
		size_t n = 0;
		if (f < 0)
			return svt_err_set(err, SVT_E_HDF5, "cannot reopen %s", path);
		rc = fmt_index_read(f, &rows, &n, err);
		H5Fclose(f);
		if (rc)
			return svt_err_prefix(err, "resuming %s", path);
		if ((rc = rows_reserve(w, n, err))) {
			free(rows);
			return rc;
		}
		int stop = 0;
		for (size_t i = 0; i < n && !stop; i++)
			for (size_t q = 0; q < w->o.n_resume_stop && !stop; q++)
				stop = !strcmp(rows[i].clip_id, w->o.resume_stop[q]);
		if (stop) {
			svt_log_info("%s holds clips whose sources changed: it and the shards after "
				     "it are rewritten", path);
			free(rows);
			break;
		}
		uint64_t frames = 0;
		for (size_t i = 0; i < n; i++) {
			w->all[w->nall + i] = rows[i];
			frames += (uint64_t)rows[i].num_frames;
		}
		w->nall += n;
		free(rows);
		if ((rc = shards_push(w, name, path, NULL, 0, n, frames, err)))
			return rc;
		w->shard_no = k + 1;
		w->resumed_shards++;
		w->resumed_clips += n;
	}
	return SVT_OK;
}

/* The shards from shard_no on, which this writer rewrites or leaves out: into the trash
 * (the close's sweep would otherwise unlink those it does not reach). */
static int trash_replaced(fmt_writer *w, svt_err *err)
{
	for (int k = w->shard_no; k < 100000; k++) {
		char path[4200];
		int rc = shard_path(w, k, NULL, path, sizeof(path), err);
		if (rc)
			return rc;
		if (access(path, F_OK) != 0)
			break;
		if ((rc = svt_trash_put(w->o.trash, path, err)))
			return rc;
	}
	return SVT_OK;
}

int fmt_writer_has_clip(const fmt_writer *w, const char *id)
{
	return w && id && clip_id_taken(w, id);
}

void fmt_writer_resumed(const fmt_writer *w, size_t *shards, size_t *clips)
{
	*shards = w ? w->resumed_shards : 0;
	*clips = w ? w->resumed_clips : 0;
}

int fmt_writer_create(const char *dir, const char *prefix, const fmt_shard_info *info,
		      const fmt_writer_opts *opts, fmt_writer **out, svt_err *err)
{
	int rc = SVT_OK;
	fmt_writer *w = NULL;
	if (!dir || !prefix || !info || !out)
		return svt_err_set(err, SVT_E_INPUT, "fmt_writer_create: NULL argument");
	*out = NULL;
	if (!name_ok(prefix, 49))
		return svt_err_set(err, SVT_E_INPUT, "shard prefix '%s': 1-48 of [A-Za-z0-9_.-]",
				   prefix);
	if (strlen(dir) >= sizeof(w->dir))
		return svt_err_set(err, SVT_E_INPUT, "directory path too long");
	fmt_h5_quiet();
	fmt_writer_opts o;
	if (opts)
		o = *opts;
	else
		fmt_writer_opts_default(&o);
	if ((unsigned)o.codec > FMT_CODEC_JPEG)
		return svt_err_set(err, SVT_E_INPUT, "unknown codec %d", (int)o.codec);
	if (!fmt_codec_available(o.codec))
		return svt_err_set(err, SVT_E_UNSUPPORTED,
				   "codec %s: HDF5 filter %d is not available (install its plugin: %s; "
				   "or set HDF5_PLUGIN_PATH)",
				   fmt_codec_name(o.codec), fmt_codec_filter_id(o.codec),
				   o.codec == FMT_CODEC_ZSTD
					   ? "Debian 12 has none, scripts/install-deps.sh links PyPI "
					     "hdf5plugin's"
					   : o.codec == FMT_CODEC_BLOSC ? "Debian hdf5-filter-plugin-blosc-serial"
									: "Debian hdf5-filter-plugin");
	if (o.target_bytes == 0)
		o.target_bytes = 500ull * 1000 * 1000;
	if (o.threads <= 0) {
		long nc = sysconf(_SC_NPROCESSORS_ONLN);
		o.threads = nc > 0 ? (int)nc : 1;
	}
	if (o.threads > 64)
		o.threads = 64;

	if (!(w = calloc(1, sizeof(*w))))
		return svt_err_set(err, SVT_E_NOMEM, "writer");
	w->file = w->clips = w->clip_g = w->frames_ds = w->depth_ds = H5I_INVALID_HID;
	snprintf(w->dir, sizeof(w->dir), "%s", dir);
	snprintf(w->prefix, sizeof(w->prefix), "%s", prefix);
	w->o = o;
	w->stream_min = stream_min();
	w->info = *info;
	w->source = strdup(info->source ? info->source : "");
	w->info.source = w->source;
	w->build_config = info->build_config ? strdup(info->build_config) : NULL;
	w->info.build_config = w->build_config;
	fmt_utc_now(w->created, sizeof(w->created));
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv_work, NULL);
	pthread_cond_init(&w->cv_done, NULL);
	w->nslots = 2 * o.threads + 1;
	w->slots = calloc((size_t)w->nslots, sizeof(slot));
	w->th = calloc((size_t)o.threads, sizeof(pthread_t));
	if (!w->source || !w->slots || !w->th) {
		rc = svt_err_set(err, SVT_E_NOMEM, "writer");
		goto done;
	}
	for (w->nth = 0; w->nth < o.threads; w->nth++) {
		if (pthread_create(&w->th[w->nth], NULL, worker_main, w) != 0) {
			rc = svt_err_set(err, SVT_E_NOMEM, "cannot start compression threads");
			goto done;
		}
	}
	if ((rc = svt_mkdirs(dir, err)) || (o.resume && (rc = resume_shards(w, err))) ||
	    (o.trash && (rc = trash_replaced(w, err))) || (rc = shard_open(w, err)))
		goto done;
	*out = w;
	w = NULL;
done:
	fmt_writer_abort(w);
	return rc;
}

/* ---- clips ------------------------------------------------------------------------------- */

static int clip_id_taken(const fmt_writer *w, const char *id)
{
	for (size_t i = 0; i < w->nall; i++)
		if (!strcmp(w->all[i].clip_id, id))
			return 1;
	return 0;
}

static const char *resolution_bin(int W, int H)
{
	if (W == 1280 && H == 704)
		return "1280x704";
	if (W == 768 && H == 432)
		return "768x432";
	return "other";
}

static int all_finite(const double *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isfinite(v[i]))
			return 0;
	return 1;
}

static int clip_check(const fmt_writer *w, const fmt_clip_desc *c, svt_err *err)
{
	if (!c->id || !name_ok(c->id, FMT_ID_MAX))
		return svt_err_set(err, SVT_E_INPUT, "clip id '%s': 1-63 of [A-Za-z0-9_.-]",
				   c->id ? c->id : "(null)");
	if (clip_id_taken(w, c->id))
		return svt_err_set(err, SVT_E_INPUT, "clip id %s is already in the dataset", c->id);
	if (c->T < 1 || c->H < 1 || c->W < 1 || (uint64_t)c->H * (uint64_t)c->W * 3 > 0x7fff0000ull)
		return svt_err_set(err, SVT_E_INPUT, "clip %s: bad size T=%d H=%d W=%d", c->id, c->T,
				   c->H, c->W);
	if (!c->w2c || !c->K || !c->llh || !c->time_us)
		return svt_err_set(err, SVT_E_INPUT, "clip %s: w2c, K, llh and time_us are required",
				   c->id);
	size_t T = (size_t)c->T;
	if (!all_finite(c->w2c, 16 * T) || !all_finite(c->K, 4 * T) || !all_finite(c->llh, 3 * T))
		return svt_err_set(err, SVT_E_INPUT, "clip %s: non-finite pose, K or position", c->id);
	if (!(c->fps > 0) || !isfinite(c->fps))
		return svt_err_set(err, SVT_E_INPUT, "clip %s: fps %g", c->id, c->fps);
	if (!c->split || (strcmp(c->split, "train") && strcmp(c->split, "val") &&
			  strcmp(c->split, "test")))
		return svt_err_set(err, SVT_E_INPUT, "clip %s: split must be train, val or test",
				   c->id);
	if (c->district && strlen(c->district) >= FMT_DISTRICT_MAX)
		return svt_err_set(err, SVT_E_INPUT, "clip %s: district label over %d bytes", c->id,
				   FMT_DISTRICT_MAX - 1);
	if (c->n_captions < 0 || (c->n_captions > 0 && !c->captions))
		return svt_err_set(err, SVT_E_INPUT, "clip %s: captions", c->id);
	for (int i = 0; i < c->n_captions; i++) {
		const fmt_caption *k = &c->captions[i];
		if (k->start_frame < 0 || k->end_frame < k->start_frame || k->end_frame >= c->T ||
		    !k->caption)
			return svt_err_set(err, SVT_E_INPUT, "clip %s: caption %d covers [%d, %d]",
					   c->id, i, k->start_frame, k->end_frame);
	}
	return fmt_clip_synth_check(c, err);
}

typedef struct caption_rec {
	int32_t start_frame, end_frame;
	const char *caption;
} caption_rec;

static int clip_write_meta(fmt_writer *w, const fmt_clip_desc *c, svt_err *err)
{
	int rc = SVT_OK;
	hsize_t T = (hsize_t)c->T;
	hsize_t d44[3] = {T, 4, 4}, d4[2] = {T, 4}, d3[2] = {T, 3}, d1[1] = {T};
	hid_t g = w->clip_g, vs = H5Tcopy(H5T_C_S1), ct = H5I_INVALID_HID;
	caption_rec *caps = NULL;
	char *src = NULL;
	H5Tset_size(vs, H5T_VARIABLE);
	H5Tset_cset(vs, H5T_CSET_UTF8);
	int fl = w->o.fletcher32;
	if ((rc = fmt_ds_put(g, "w2c", H5T_NATIVE_DOUBLE, 3, d44, c->w2c, fl, err)) ||
	    (rc = fmt_ds_put(g, "K", H5T_NATIVE_DOUBLE, 2, d4, c->K, fl, err)) ||
	    (rc = fmt_ds_put(g, "llh", H5T_NATIVE_DOUBLE, 2, d3, c->llh, fl, err)) ||
	    (rc = fmt_ds_put(g, "timestamps", H5T_NATIVE_INT64, 1, d1, c->time_us, fl, err)) ||
	    (c->proj && (rc = fmt_ds_put(g, "proj", H5T_NATIVE_DOUBLE, 2, d3, c->proj, fl, err))) ||
	    (c->heading &&
	     (rc = fmt_ds_put(g, "heading", H5T_NATIVE_DOUBLE, 1, d1, c->heading, fl, err))) ||
	    (c->dist_m && (rc = fmt_ds_put(g, "dist_m", H5T_NATIVE_DOUBLE, 1, d1, c->dist_m, fl, err))) ||
	    (c->tz_offset_min && (rc = fmt_ds_put(g, "tz_offset_min", H5T_NATIVE_INT32, 1, d1,
						  c->tz_offset_min, fl, err))) ||
	    (c->tz_assumed && (rc = fmt_ds_put(g, "tz_assumed", H5T_NATIVE_UINT8, 1, d1,
					       c->tz_assumed, fl, err))))
		goto done;

	caps = calloc(c->n_captions ? (size_t)c->n_captions : 1, sizeof(*caps));
	if (!caps) {
		rc = svt_err_set(err, SVT_E_NOMEM, "captions");
		goto done;
	}
	for (int i = 0; i < c->n_captions; i++)
		caps[i] = (caption_rec){c->captions[i].start_frame, c->captions[i].end_frame,
					c->captions[i].caption};
	ct = H5Tcreate(H5T_COMPOUND, sizeof(caption_rec));
	H5Tinsert(ct, "start_frame", HOFFSET(caption_rec, start_frame), H5T_NATIVE_INT32);
	H5Tinsert(ct, "end_frame", HOFFSET(caption_rec, end_frame), H5T_NATIVE_INT32);
	H5Tinsert(ct, "caption", HOFFSET(caption_rec, caption), vs);
	hsize_t nc = (hsize_t)c->n_captions;
	if ((rc = fmt_ds_put(g, "captions", ct, 1, &nc, caps, fl, err)))
		goto done;

	if (c->source_frames) {
		/* Fixed-length strings (as wide as the longest name): HDF5 1.10 refuses filters,
		 * Fletcher32 included, on variable-length string datasets. */
		size_t n = 0, wmax = 1, cur = 0;
		for (const char *p = c->source_frames;; p++) {
			if (*p == '\n' || !*p) {
				n += cur > 0;
				wmax = cur + 1 > wmax ? cur + 1 : wmax;
				cur = 0;
				if (!*p)
					break;
			} else {
				cur++;
			}
		}
		src = calloc(n ? n : 1, wmax);
		if (!src) {
			rc = svt_err_set(err, SVT_E_NOMEM, "source_frames");
			goto done;
		}
		size_t k = 0;
		for (const char *p = c->source_frames; *p;) {
			size_t len = strcspn(p, "\n");
			if (len)
				memcpy(src + wmax * k++, p, len);
			p += len + (p[len] == '\n');
		}
		hid_t ft = H5Tcopy(H5T_C_S1);
		H5Tset_size(ft, wmax);
		H5Tset_cset(ft, H5T_CSET_UTF8);
		hsize_t dk = k;
		rc = fmt_ds_put(g, "source_frames", ft, 1, &dk, src, fl, err);
		H5Tclose(ft);
		if (rc)
			goto done;
	}

	if ((rc = fmt_attr_put_f64v(g, "fps", &c->fps, 1, err)) ||
	    (rc = fmt_attr_put_i32(g, "fps_nominal", c->fps_nominal ? 1 : 0, err)) ||
	    (rc = fmt_attr_put_i32(g, "num_frames", c->T, err)) ||
	    (rc = fmt_attr_put_i32(g, "width", c->W, err)) ||
	    (rc = fmt_attr_put_i32(g, "height", c->H, err)) ||
	    (rc = fmt_attr_put_str(g, "resolution_bin", resolution_bin(c->W, c->H), err)) ||
	    (rc = fmt_attr_put_str(g, "split", c->split, err)) ||
	    (rc = fmt_attr_put_str(g, "district", c->district ? c->district : "", err)) ||
	    (rc = fmt_attr_put_i32(g, "has_depth", c->depth ? 1 : 0, err)))
		goto done;
	if (c->camera_model && (rc = fmt_attr_put_str(g, "camera_model", c->camera_model, err)))
		goto done;
	if ((rc = fmt_clip_synth_write(g, c, fl, err)))
		goto done;
	w->valid = c->valid;
done:
	free(caps);
	free(src);
	if (ct >= 0)
		H5Tclose(ct);
	H5Tclose(vs);
	return rc;
}

static void clip_row(fmt_writer *w, const fmt_clip_desc *c)
{
	fmt_index_row *r = &w->row;
	memset(r, 0, sizeof(*r));
	size_t T = (size_t)c->T;
	snprintf(r->clip_id, sizeof(r->clip_id), "%s", c->id);
	snprintf(r->shard, sizeof(r->shard), "%s", w->fname);
	r->num_frames = c->T;
	r->width = c->W;
	r->height = c->H;
	r->fps = c->fps;
	r->lat0 = c->llh[0];
	r->lon0 = c->llh[1];
	double la = 0, lo = 0, e = 0, n = 0;
	for (size_t t = 0; t < T; t++) {
		la += c->llh[3 * t];
		lo += c->llh[3 * t + 1];
		if (c->proj) {
			e += c->proj[3 * t];
			n += c->proj[3 * t + 1];
		}
	}
	r->lat_c = la / (double)T;
	r->lon_c = lo / (double)T;
	r->e_c = c->proj ? e / (double)T : NAN;
	r->n_c = c->proj ? n / (double)T : NAN;
	r->heading0 = c->heading ? c->heading[0] : NAN;
	r->length_m = c->dist_m ? c->dist_m[T - 1] : NAN;
	r->t0_us = c->time_us[0];
	snprintf(r->district, sizeof(r->district), "%s", c->district ? c->district : "");
	snprintf(r->split, sizeof(r->split), "%s", c->split);
	r->has_depth = c->depth ? 1 : 0;
}

static int depth_create(fmt_writer *w, const fmt_clip_desc *c, svt_err *err)
{
	int rc = SVT_OK;
	hsize_t dims[3] = {(hsize_t)c->T, (hsize_t)c->H, (hsize_t)c->W};
	hsize_t chunk[3] = {1, (hsize_t)c->H, (hsize_t)c->W};
	hid_t sp = H5Screate_simple(3, dims, NULL), dcpl = H5Pcreate(H5P_DATASET_CREATE),
	      ft = fmt_f16_type();
	H5Pset_chunk(dcpl, 3, chunk);
	H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER);
	if ((rc = fmt_dcpl_set_codec(dcpl, w->o.codec, w->o.level, 2 * (size_t)c->H * (size_t)c->W,
				     2, w->o.fletcher32, err)))
		goto done;
	w->depth_ds = H5Dcreate2(w->clip_g, "depth", ft, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
	if (w->depth_ds < 0)
		rc = svt_err_set(err, SVT_E_HDF5, "%s: cannot create /clips/%s/depth", w->tmp, c->id);
	else
		rc = fmt_attr_put_str(w->depth_ds, "units", "m (float16, 0 = invalid)", err);
done:
	H5Tclose(ft);
	H5Pclose(dcpl);
	H5Sclose(sp);
	return rc;
}

/* /clips/<id>/frames_jpeg: T variable-length uint8 sequences, each one frame's JPEG. Not
 * chunked: HDF5 filters (Fletcher32 included) would apply to the heap references only; JPEG's
 * own structure is the integrity check (verify decodes every frame). */
static int jpeg_create(fmt_writer *w, const fmt_clip_desc *c, svt_err *err)
{
	hsize_t T = (hsize_t)c->T;
	hid_t sp = H5Screate_simple(1, &T, NULL), vt = H5Tvlen_create(H5T_NATIVE_UINT8);
	int rc = SVT_OK;
	w->frames_ds = sp >= 0 && vt >= 0 ? H5Dcreate2(w->clip_g, "frames_jpeg", vt, sp, H5P_DEFAULT,
							H5P_DEFAULT, H5P_DEFAULT)
					  : H5I_INVALID_HID;
	if (w->frames_ds < 0)
		rc = svt_err_set(err, SVT_E_HDF5, "%s: cannot create /clips/%s/frames_jpeg", w->tmp,
				 c->id);
	if (!rc && !(rc = fmt_attr_put_str(w->frames_ds, "encoding", "jpeg", err)) &&
	    !(rc = fmt_attr_put_i32(w->frames_ds, "quality", w->o.level, err)) &&
	    !(rc = fmt_attr_put_i32(w->frames_ds, "height", c->H, err)))
		rc = fmt_attr_put_i32(w->frames_ds, "width", c->W, err);
	if (vt >= 0)
		H5Tclose(vt);
	if (sp >= 0)
		H5Sclose(sp);
	return rc;
}

int fmt_clip_begin(fmt_writer *w, const fmt_clip_desc *c, svt_err *err)
{
	int rc = SVT_OK;
	hid_t sp = H5I_INVALID_HID, dcpl = H5I_INVALID_HID;
	if (!w || !c)
		return svt_err_set(err, SVT_E_INPUT, "fmt_clip_begin: NULL argument");
	if (w->failed)
		return svt_err_set(err, SVT_E_INPUT, "the writer failed earlier; abort it");
	if (w->in_clip)
		return svt_err_set(err, SVT_E_INPUT, "clip %s is not ended", w->row.clip_id);
	if ((rc = clip_check(w, c, err)))
		return rc;
	if (w->file < 0 && (rc = shard_open(w, err)))
		goto done;

	size_t fb = (size_t)c->H * (size_t)c->W * 3;
	/* A slot holds a frame, or a depth map as float until a worker halves it. */
	size_t need = c->depth && (size_t)c->H * (size_t)c->W * 4 > fb ? (size_t)c->H * (size_t)c->W * 4 : fb;
	if (need > w->in_cap) {
		for (int i = 0; i < w->nslots; i++) {
			uint8_t *p = realloc(w->slots[i].in, need);
			if (!p) {
				rc = svt_err_set(err, SVT_E_NOMEM, "frame buffers of %zu bytes", need);
				goto done;
			}
			w->slots[i].in = p;
		}
		w->in_cap = need;
	}
	free(w->submitted);
	if (!(w->submitted = calloc(2 * (size_t)c->T, 1))) {
		rc = svt_err_set(err, SVT_E_NOMEM, "clip %s", c->id);
		goto done;
	}
	w->frame_bytes = fb;
	w->T = c->T;
	w->H = c->H;
	w->W = c->W;
	w->depth = c->depth != 0;
	w->n_written = w->n_depth_written = 0;
	clip_row(w, c);

	w->clip_g = H5Gcreate2(w->clips, c->id, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
	if (w->clip_g < 0) {
		rc = svt_err_set(err, SVT_E_HDF5, "%s: cannot create /clips/%s", w->tmp, c->id);
		goto done;
	}
	if ((rc = clip_write_meta(w, c, err)))
		goto done;
	if (w->o.codec == FMT_CODEC_JPEG) {
		if ((rc = jpeg_create(w, c, err)))
			goto done;
		goto frames_done;
	}
	hsize_t dims[4] = {(hsize_t)c->T, (hsize_t)c->H, (hsize_t)c->W, 3};
	hsize_t chunk[4] = {1, (hsize_t)c->H, (hsize_t)c->W, 3};
	sp = H5Screate_simple(4, dims, NULL);
	dcpl = H5Pcreate(H5P_DATASET_CREATE);
	H5Pset_chunk(dcpl, 4, chunk);
	/* Every chunk is written whole; fill values would only cost time. */
	H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER);
	if ((rc = fmt_dcpl_set_codec(dcpl, w->o.codec, w->o.level, fb, 1, w->o.fletcher32, err)))
		goto done;
	w->frames_ds = H5Dcreate2(w->clip_g, "frames", H5T_NATIVE_UINT8, sp, H5P_DEFAULT, dcpl,
				  H5P_DEFAULT);
	if (w->frames_ds < 0) {
		rc = svt_err_set(err, SVT_E_HDF5, "%s: cannot create /clips/%s/frames", w->tmp, c->id);
		goto done;
	}
frames_done:
	if (w->depth && (rc = depth_create(w, c, err)))
		goto done;
	w->shard_bytes += (size_t)c->T * 256; /* poses, positions, times: an estimate */
	w->in_clip = 1;
done:
	if (sp >= 0)
		H5Sclose(sp);
	if (dcpl >= 0)
		H5Pclose(dcpl);
	if (rc)
		w->failed = 1;
	return rc;
}

/* A free slot for the next chunk, storing finished chunks while waiting for one. Only this
 * thread frees or queues slots, so the slot found stays free until slot_queue. */
static int slot_get(fmt_writer *w, slot **out, svt_err *err)
{
	int rc = pool_drain(w, DRAIN_ONE_FREE, err);
	if (rc) {
		w->failed = 1;
		return rc;
	}
	*out = NULL;
	/* Under the lock: the workers write the other slots' states meanwhile. */
	pthread_mutex_lock(&w->mu);
	for (int i = 0; i < w->nslots && !*out; i++)
		if (w->slots[i].state == S_FREE)
			*out = &w->slots[i];
	pthread_mutex_unlock(&w->mu);
	return SVT_OK;
}

static void slot_queue(fmt_writer *w, slot *s)
{
	pthread_mutex_lock(&w->mu);
	s->seq = w->seq++;
	s->state = S_QUEUED;
	pthread_cond_signal(&w->cv_work);
	pthread_mutex_unlock(&w->mu);
}

int fmt_clip_frame(fmt_writer *w, int t, const uint8_t *rgb, svt_err *err)
{
	if (!w || !rgb)
		return svt_err_set(err, SVT_E_INPUT, "fmt_clip_frame: NULL argument");
	if (w->failed)
		return svt_err_set(err, SVT_E_INPUT, "the writer failed earlier; abort it");
	if (!w->in_clip)
		return svt_err_set(err, SVT_E_INPUT, "fmt_clip_frame outside a clip");
	if (t < 0 || t >= w->T || w->submitted[t])
		return svt_err_set(err, SVT_E_INPUT, "clip %s: frame %d is out of range or repeated",
				   w->row.clip_id, t);
	slot *s = NULL;
	int rc = slot_get(w, &s, err);
	if (rc)
		return rc;
	memcpy(s->in, rgb, w->frame_bytes);
	s->t = t;
	s->depth = 0;
	s->f32 = 0;
	s->n = w->frame_bytes;
	w->submitted[t] = 1;
	slot_queue(w, s);
	return SVT_OK;
}

int fmt_clip_depth(fmt_writer *w, int t, const float *depth, svt_err *err)
{
	if (!w || !depth)
		return svt_err_set(err, SVT_E_INPUT, "fmt_clip_depth: NULL argument");
	if (w->failed)
		return svt_err_set(err, SVT_E_INPUT, "the writer failed earlier; abort it");
	if (!w->in_clip || !w->depth)
		return svt_err_set(err, SVT_E_INPUT, "fmt_clip_depth outside a clip begun with depth");
	if (t < 0 || t >= w->T || w->submitted[w->T + t])
		return svt_err_set(err, SVT_E_INPUT, "clip %s: depth %d is out of range or repeated",
				   w->row.clip_id, t);
	slot *s = NULL;
	int rc = slot_get(w, &s, err);
	if (rc)
		return rc;
	size_t np = (size_t)w->H * (size_t)w->W;
	memcpy(s->in, depth, np * sizeof(float)); /* halved on a worker (worker_main) */
	s->t = t;
	s->depth = 1;
	s->f32 = 1;
	s->n = 4 * np;
	w->submitted[w->T + t] = 1;
	slot_queue(w, s);
	return SVT_OK;
}

int fmt_writer_encode_frame(const fmt_writer *w, int W, int H, const uint8_t *rgb, fmt_chunk *c,
			    svt_err *err)
{
	if (!w || !rgb || !c || W <= 0 || H <= 0)
		return svt_err_set(err, SVT_E_INPUT, "fmt_writer_encode_frame: bad argument");
	return encode(w->o.codec, w->o.level, w->o.fletcher32, W, H, 0, rgb,
		      (size_t)W * (size_t)H * 3, NULL, &c->data, &c->cap, &c->n, err);
}

int fmt_writer_encode_depth(const fmt_writer *w, int W, int H, float *depth, fmt_chunk *c,
			    svt_err *err)
{
	if (!w || !depth || !c || W <= 0 || H <= 0)
		return svt_err_set(err, SVT_E_INPUT, "fmt_writer_encode_depth: bad argument");
	size_t np = (size_t)W * (size_t)H;
	fmt_depth_to_f16(depth, (uint8_t *)depth, np);
	/* The halves fill the first half of the floats' bytes; the second is the shuffle's. */
	return encode(w->o.codec, w->o.level, w->o.fletcher32, W, H, 1, (const uint8_t *)depth,
		      2 * np, (uint8_t *)depth + 2 * np, &c->data, &c->cap, &c->n, err);
}

/* Stores caller-encoded chunk t: the checks of fmt_clip_frame / fmt_clip_depth, then the
 * store on this thread (chunks the pool still holds are stored first, in their order). */
static int encoded_put(fmt_writer *w, int t, int depth, const fmt_chunk *c, svt_err *err)
{
	const char *what = depth ? "fmt_clip_depth_encoded" : "fmt_clip_frame_encoded";
	if (!w || !c || !c->data || !c->n)
		return svt_err_set(err, SVT_E_INPUT, "%s: NULL or empty argument", what);
	if (w->failed)
		return svt_err_set(err, SVT_E_INPUT, "the writer failed earlier; abort it");
	if (!w->in_clip || (depth && !w->depth))
		return svt_err_set(err, SVT_E_INPUT, "%s outside a clip%s", what,
				   depth ? " begun with depth" : "");
	if (t < 0 || t >= w->T || w->submitted[depth ? w->T + t : t])
		return svt_err_set(err, SVT_E_INPUT, "clip %s: %s %d is out of range or repeated",
				   w->row.clip_id, depth ? "depth" : "frame", t);
	int rc = pool_drain(w, DRAIN_NOWAIT, err);
	if (!rc)
		rc = chunk_put(w, t, depth, c->data, c->n, err);
	if (rc) {
		w->failed = 1;
		return rc;
	}
	w->submitted[depth ? w->T + t : t] = 1;
	return SVT_OK;
}

int fmt_clip_frame_encoded(fmt_writer *w, int t, const fmt_chunk *c, svt_err *err)
{
	return encoded_put(w, t, 0, c, err);
}

int fmt_clip_depth_encoded(fmt_writer *w, int t, const fmt_chunk *c, svt_err *err)
{
	return encoded_put(w, t, 1, c, err);
}

void fmt_chunk_free(fmt_chunk *c)
{
	if (!c)
		return;
	free(c->data);
	*c = (fmt_chunk){0};
}

static int rows_push(fmt_writer *w, svt_err *err)
{
	int rc = rows_reserve(w, 1, err);
	if (!rc)
		w->all[w->nall++] = w->row;
	return rc;
}

/* Closes the clip's datasets and group; drop: unlinks it too (an incomplete clip leaves the
 * shard valid; its space is not reclaimed). */
static void clip_close(fmt_writer *w, int drop)
{
	w->valid = NULL;
	H5Dclose(w->frames_ds);
	if (w->depth_ds >= 0)
		H5Dclose(w->depth_ds);
	H5Gclose(w->clip_g);
	w->depth_ds = w->frames_ds = w->clip_g = H5I_INVALID_HID;
	w->in_clip = 0;
	if (drop) {
		/* Its chunks' space is free for HDF5 to give out again: their pages are no longer
		 * final (those written already are written again at the commit). */
		for (size_t i = 0; i + 1 < w->nstored; i += 2)
			fmt_h5_image_note(&w->image, w->stored[i], w->stored[i + 1], 1, NULL);
		H5Ldelete(w->clips, w->row.clip_id, H5P_DEFAULT);
	}
	w->nstored = 0;
}

void fmt_clip_abort(fmt_writer *w)
{
	if (!w || !w->in_clip)
		return;
	svt_err e = {0};
	if (pool_drain(w, DRAIN_ALL, &e))
		w->failed = 1; /* a chunk could not be stored: the shard itself is in doubt */
	clip_close(w, 1);
}

int fmt_clip_end(fmt_writer *w, svt_err *err)
{
	if (!w)
		return svt_err_set(err, SVT_E_INPUT, "fmt_clip_end: NULL writer");
	if (!w->in_clip)
		return svt_err_set(err, SVT_E_INPUT, "fmt_clip_end outside a clip");
	int rc = pool_drain(w, DRAIN_ALL, err);
	if (!rc && w->n_written != w->T)
		rc = svt_err_set(err, SVT_E_INPUT, "clip %s: %d of %d frames given", w->row.clip_id,
				 w->n_written, w->T);
	if (!rc && w->depth && w->n_depth_written != w->T)
		rc = svt_err_set(err, SVT_E_INPUT, "clip %s: %d of %d depth maps given",
				 w->row.clip_id, w->n_depth_written, w->T);
	if (!rc && w->valid)
		rc = fmt_clip_valid_write(w->clip_g, w->valid, w->T, w->H, w->W, w->o.fletcher32,
					  err);
	clip_close(w, rc != SVT_OK);
	if (rc)
		return rc;
	if ((rc = rows_push(w, err)))
		goto fail;
	w->shard_frames += (uint64_t)w->T;
	if (w->shard_bytes >= w->o.target_bytes && (rc = shard_finish(w, err)))
		goto fail;
	return SVT_OK;
fail:
	w->failed = 1;
	return rc;
}

/* ---- close ------------------------------------------------------------------------------- */

int fmt_master_write(const char *dir, const fmt_shard_info *info, const char *codec,
		     int fletcher, const char *created, const fmt_index_row *rows, size_t n,
		     int64_t frames, svt_err *err)
{
	int rc = SVT_OK;
	char final[4096], tmp[4200], path[FMT_ID_MAX + 8];
	hid_t f = H5I_INVALID_HID, g = H5I_INVALID_HID;
	if ((rc = svt_path_join(final, sizeof(final), dir, "master.h5", err)))
		return rc;
	snprintf(tmp, sizeof(tmp), "%s.tmp", final);
	f = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
	if (f < 0) {
		rc = svt_err_set(err, SVT_E_HDF5, "cannot create %s", tmp);
		goto done;
	}
	if ((rc = fmt_root_attrs_write(f, "master", info, codec, fletcher, created, err)) ||
	    (rc = fmt_attr_put_i64(f, "num_clips", (int64_t)n, err)) ||
	    (rc = fmt_attr_put_i64(f, "num_frames", frames, err)))
		goto done;
	g = H5Gcreate2(f, "clips", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
	if (g < 0) {
		rc = svt_err_set(err, SVT_E_HDF5, "%s: cannot create /clips", tmp);
		goto done;
	}
	for (size_t i = 0; i < n; i++) {
		/* Relative file names (SHARD, or PART/SHARD after a merge): HDF5 also looks in the
		 * master's own directory. */
		snprintf(path, sizeof(path), "/clips/%s", rows[i].clip_id);
		if (H5Lcreate_external(rows[i].shard, path, g, rows[i].clip_id, H5P_DEFAULT,
				       H5P_DEFAULT) < 0) {
			rc = svt_err_set(err, SVT_E_HDF5, "%s: cannot link %s", tmp, path);
			goto done;
		}
	}
	H5Gclose(g);
	g = H5I_INVALID_HID;
	if ((rc = fmt_index_write(f, rows, n, fletcher, err)))
		goto done;
	rc = fmt_h5_commit(f, tmp, final, err);
	f = H5I_INVALID_HID;
done:
	if (g >= 0)
		H5Gclose(g);
	if (f >= 0)
		fmt_h5_discard(f, tmp);
	return rc;
}

static int master_write(fmt_writer *w, svt_err *err)
{
	uint64_t frames = 0;
	for (size_t i = 0; i < w->nshards; i++)
		frames += w->shards[i].frames;
	return fmt_master_write(w->dir, &w->info, fmt_codec_name(w->o.codec), w->o.fletcher32,
				w->created, w->all, w->nall, (int64_t)frames, err);
}

static int manifest_write(fmt_writer *w, svt_err *err)
{
	int rc = SVT_OK;
	char path[4096];
	char *text = NULL;
	json_t *m = json_object(), *arr = json_array();
	uint64_t frames = 0;
	if ((rc = svt_path_join(path, sizeof(path), w->dir, "manifest.json", err)))
		goto done;
	for (size_t i = 0; i < w->nshards; i++) {
		const shard_rec *s = &w->shards[i];
		frames += s->frames;
		json_array_append_new(
			arr, json_pack("{s:s, s:I, s:I, s:I, s:s, s:s}", "file", s->file, "bytes",
				       (json_int_t)s->bytes, "clips", (json_int_t)s->clips, "frames",
				       (json_int_t)s->frames, "sha256", s->sha256, "codec",
				       fmt_codec_name(w->o.codec)));
	}
	json_object_set_new(m, "schema", json_string(FMT_SCHEMA_NAME));
	json_object_set_new(m, "schema_version", json_integer(FMT_SCHEMA_VERSION));
	json_object_set_new(m, "writer", json_string("svtwin " SVT_VERSION));
	json_object_set_new(m, "created_utc", json_string(w->created));
	json_object_set_new(m, "codec", json_string(fmt_codec_name(w->o.codec)));
	json_object_set_new(m, "codec_level", json_integer(w->o.level));
	json_object_set_new(m, "fletcher32", json_boolean(w->o.fletcher32));
	json_object_set_new(m, "complete", json_true());
	json_object_set_new(m, "shards", arr);
	arr = NULL;
	json_object_set_new(m, "master", json_string("master.h5"));
	json_object_set_new(m, "total_clips", json_integer((json_int_t)w->nall));
	json_object_set_new(m, "total_frames", json_integer((json_int_t)frames));
	text = json_dumps(m, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	if (!text) {
		rc = svt_err_set(err, SVT_E_NOMEM, "manifest");
		goto done;
	}
	size_t len = strlen(text);
	text[len] = '\n'; /* json_dumps leaves room for the NUL we overwrite */
	rc = svt_file_write_atomic(path, text, len + 1, err);
done:
	free(text);
	json_decref(arr);
	json_decref(m);
	return rc;
}

int fmt_writer_close(fmt_writer *w, svt_err *err)
{
	if (!w)
		return svt_err_set(err, SVT_E_INPUT, "fmt_writer_close: NULL writer");
	int rc = SVT_OK;
	if (w->failed) {
		rc = svt_err_set(err, SVT_E_INPUT, "the writer failed earlier; nothing committed");
		goto fail;
	}
	if (w->in_clip) {
		rc = svt_err_set(err, SVT_E_INPUT, "clip %s was not ended", w->row.clip_id);
		goto fail;
	}
	pool_stop(w);
	if (w->file >= 0) {
		/* An empty trailing shard (rotation right before close) is dropped, but a dataset
		 * always holds at least one shard. */
		if (w->nall == w->shard_first && w->nshards > 0)
			shard_drop(w);
		else if ((rc = shard_finish(w, err)))
			goto fail;
	}
	if ((rc = master_write(w, err)) || (rc = manifest_write(w, err)))
		goto fail;
	/* Shards a previous, larger build of this prefix left behind would read as unlisted
	 * shards: the manifest just written replaced them, so they go. */
	for (int k = w->shard_no; k < 100000; k++) {
		char p[4200];
		if (shard_path(w, k, NULL, p, sizeof(p), NULL) || unlink(p) != 0)
			break;
	}
	fmt_writer_abort(w); /* only frees: nothing is open any more */
	return SVT_OK;
fail:
	fmt_writer_abort(w);
	return rc;
}

void fmt_writer_abort(fmt_writer *w)
{
	if (!w)
		return;
	pool_stop(w);
	shard_drop(w);
	for (int i = 0; w->slots && i < w->nslots; i++) {
		free(w->slots[i].in);
		free(w->slots[i].out);
	}
	free(w->slots);
	free(w->submitted);
	free(w->all);
	free(w->stored);
	free(w->shards);
	free(w->source);
	free(w->build_config);
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->cv_work);
	pthread_cond_destroy(&w->cv_done);
	free(w);
}

hid_t fmt_writer_clip_group(const fmt_writer *w)
{
	return w && w->in_clip ? w->clip_g : H5I_INVALID_HID;
}

void fmt_writer_codec(const fmt_writer *w, fmt_codec *c, int *level, int *fletcher)
{
	*c = w->o.codec;
	*level = w->o.level;
	*fletcher = w->o.fletcher32;
}
