/* ingest_capture.c: scan a capture, read every frame's metadata, geotag from a track, run the
 * checks (each rejection gets a named reason and a detail) and cut sequences. */
#include "ingest/ingest_internal.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *ingest_reason_name(ingest_reason r)
{
	switch (r) {
	case INGEST_OK: return "ok";
	case INGEST_REJ_UNREADABLE: return "unreadable";
	case INGEST_REJ_UNDECODABLE: return "undecodable";
	case INGEST_REJ_TOO_LARGE: return "too_large";
	case INGEST_REJ_NO_GPS: return "no_gps";
	case INGEST_REJ_NULL_ISLAND: return "null_island";
	case INGEST_REJ_NO_TIME: return "no_time";
	case INGEST_REJ_OUTSIDE_TRACK: return "outside_track";
	case INGEST_REJ_SPEED: return "speed";
	case INGEST_REJ_ZIGZAG: return "zigzag";
	case INGEST_REJ_DUPLICATE: return "duplicate";
	case INGEST_REJ_BAD_METADATA: return "bad_metadata";
	case INGEST_REJ_HOSTILE_PATH: return "hostile_path";
	case INGEST_REJ_NO_CAMERA: return "no_camera";
	case INGEST_REJ_OUTSIDE_CRS: return "outside_crs";
	case INGEST_REASON_COUNT: break;
	}
	return "unknown";
}

void ingest_scan_opts_default(ingest_scan_opts *o)
{
	memset(o, 0, sizeof(*o));
	ingest_meta_opts_default(&o->meta);
	ingest_limits_default(&o->limits);
	o->dup_dist_m = 0.1;
	o->dup_angle_deg = 5.0;
	o->max_speed_kmh = 400.0;
	o->gap_s = 60.0;
	o->gap_m = 100.0;
	o->seq_max_frames = 1000;
	o->zigzag_min_m = 5.0;
	o->verify_decode = 1;
	o->reject_warnings = 1;
}

/* ---- file list -------------------------------------------------------------------------- */

typedef struct strvec {
	char **v;
	size_t n, cap;
} strvec;

static int strvec_push(strvec *s, const char *str, svt_err *err)
{
	if (s->n == s->cap) {
		size_t nc = s->cap ? 2 * s->cap : 64;
		char **nv = realloc(s->v, nc * sizeof(char *));
		if (!nv)
			return svt_err_set(err, SVT_E_NOMEM, "no memory for the file list");
		s->v = nv;
		s->cap = nc;
	}
	if (!(s->v[s->n] = strdup(str)))
		return svt_err_set(err, SVT_E_NOMEM, "no memory for the file list");
	s->n++;
	return SVT_OK;
}

static void strvec_free(strvec *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
}

static int is_image_name(const char *name)
{
	const char *dot = strrchr(name, '.');
	if (!dot)
		return 0;
	return !strcasecmp(dot, ".jpg") || !strcasecmp(dot, ".jpeg") || !strcasecmp(dot, ".png");
}

/* Recursive walk; symlinked directories are not followed (no loops), hidden entries skipped. */
static int walk_dir(const char *dir, strvec *out, int depth, svt_err *err)
{
	if (depth > 32)
		return SVT_OK;
	DIR *d = opendir(dir);
	if (!d)
		return svt_err_set(err, SVT_E_IO, "cannot open directory %s: %s", dir, strerror(errno));
	int rc = SVT_OK;
	struct dirent *e;
	char path[4096];
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		if (svt_path_join(path, sizeof(path), dir, e->d_name, err)) {
			rc = err ? err->code : SVT_E_INPUT;
			break;
		}
		struct stat st;
		if (lstat(path, &st) != 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			if ((rc = walk_dir(path, out, depth + 1, err)))
				break;
		} else if ((S_ISREG(st.st_mode) || S_ISLNK(st.st_mode)) && is_image_name(e->d_name)) {
			if ((rc = strvec_push(out, path, err)))
				break;
		}
	}
	closedir(d);
	return rc;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* ---- per-frame checks --------------------------------------------------------------------- */

static void reject(ingest_frame *f, ingest_reason r, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void reject(ingest_frame *f, ingest_reason r, const char *fmt, ...)
{
	f->reason = r;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(f->why, sizeof(f->why), fmt, ap);
	va_end(ap);
}

/* The bytes the metadata needs: a large JPEG's first HEAD_BYTES (its headers end at the first
 * scan) and its last TAIL_BYTES (for the end marker); anything else whole. A scan of a
 * capture thus reads a sliver of each file instead of all of it. */
#define HEAD_BYTES ((size_t)512 << 10)
#define TAIL_BYTES ((size_t)64 << 10)

static int read_at(int fd, uint8_t *buf, size_t n, off_t off)
{
	size_t got = 0;
	while (got < n) {
		ssize_t r = pread(fd, buf + got, n - got, off + (off_t)got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		got += (size_t)r;
	}
	return 0;
}

/* Fills *b from path; *buf (caller frees) holds the bytes b points into. */
static int frame_bytes(const char *path, uint64_t max_bytes, uint8_t **buf, ingest_blob *b,
		       svt_err *err)
{
	*buf = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return svt_err_set(err, SVT_E_IO, "cannot open %s: %s", path, strerror(errno));
	int rc = SVT_OK;
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		rc = svt_err_set(err, SVT_E_IO, "%s is not a regular file", path);
		goto done;
	}
	size_t size = (size_t)st.st_size;
	if (max_bytes && (uint64_t)st.st_size > max_bytes) {
		rc = svt_err_set(err, SVT_E_LIMIT, "%s: %zu bytes, over the limit of %llu", path, size,
				 (unsigned long long)max_bytes);
		goto done;
	}
	if (size > HEAD_BYTES + TAIL_BYTES) {
		uint8_t tail[4096];
		if (!(*buf = malloc(HEAD_BYTES)) || read_at(fd, *buf, HEAD_BYTES, 0)) {
			rc = *buf ? svt_err_set(err, SVT_E_IO, "cannot read %s", path)
				  : svt_err_set(err, SVT_E_NOMEM, "no memory");
			goto done;
		}
		rc = ingest_blob_scan_head(*buf, HEAD_BYTES, 1, b, err);
		if (rc == SVT_OK) {
			/* EOI within the last TAIL_BYTES, read in pages */
			int eoi = 0;
			uint8_t prev = 0;
			for (size_t off = size; off > size - TAIL_BYTES && !eoi;) {
				size_t n = off - (size - TAIL_BYTES) < sizeof(tail) ? off - (size - TAIL_BYTES)
										     : sizeof(tail);
				off -= n;
				if (read_at(fd, tail, n, (off_t)off)) {
					rc = svt_err_set(err, SVT_E_IO, "cannot read %s", path);
					goto done;
				}
				for (size_t i = n; i-- > 0;) {
					if (tail[i] == 0xFF && prev == 0xD9) {
						eoi = 1;
						break;
					}
					prev = tail[i];
				}
			}
			b->has_eoi = eoi;
			goto done;
		}
		if (rc != SVT_E_NOTFOUND)
			goto done;
		free(*buf); /* headers longer than the head, or a PNG: read it all */
		*buf = NULL;
	}
	if (!(*buf = malloc(size ? size : 1))) {
		rc = svt_err_set(err, SVT_E_NOMEM, "no memory for %zu bytes of %s", size, path);
		goto done;
	}
	if (size && read_at(fd, *buf, size, 0)) {
		rc = svt_err_set(err, SVT_E_IO, "cannot read %s", path);
		goto done;
	}
	rc = ingest_blob_scan(*buf, size, b, err);
done:
	close(fd);
	return rc;
}

/* Reads one file and runs the checks that need only this frame. kr: the frame's kapture
 * record, whose GNSS fix (EPSG:4326 only: ingest does not project) replaces EXIF's. */
static void frame_read(ingest_frame *f, const ingest_scan_opts *o, const ingest_track *trk,
		       const ingest_kapture_record *kr, const ingest_kapture_camera *kc,
		       int *suspect)
{
	*suspect = 0;
	svt_err e = {0};
	uint8_t *buf = NULL;
	ingest_blob b;
	int rc = frame_bytes(f->path, o->limits.max_file_bytes, &buf, &b, &e);
	if (rc) {
		reject(f, rc == SVT_E_LIMIT ? INGEST_REJ_TOO_LARGE
			  : rc == SVT_E_IO || rc == SVT_E_NOMEM ? INGEST_REJ_UNREADABLE
								 : INGEST_REJ_UNDECODABLE,
		       "%s", e.msg);
		goto done;
	}
	*suspect = !b.has_eoi;
	int bps = b.bit_depth > 8 ? 2 : 1;
	if ((rc = ingest_limits_check(&o->limits, b.width, b.height, b.channels, bps, &e))) {
		reject(f, rc == SVT_E_LIMIT ? INGEST_REJ_TOO_LARGE : INGEST_REJ_UNDECODABLE, "%s", e.msg);
		goto done;
	}
	/* What the decoder refuses, said from the header here (the frame is then never put in a
	 * clip to be cut out of it again when its decode fails). */
	if (b.kind == INGEST_BLOB_JPEG && (b.channels == 4 || b.bit_depth != 8)) {
		if (b.channels == 4)
			reject(f, INGEST_REJ_UNDECODABLE, "a CMYK/YCCK JPEG (4 components): only "
			       "RGB, YCbCr and gray JPEGs are decoded; convert it to RGB");
		else
			reject(f, INGEST_REJ_UNDECODABLE, "a JPEG of %d-bit samples: only 8-bit "
			       "JPEGs are decoded", b.bit_depth);
		goto done;
	}
	if (ingest_meta_read_blob(&b, &o->meta, &f->meta, &e)) {
		reject(f, INGEST_REJ_BAD_METADATA, "%s", e.msg);
		goto done;
	}
	ingest_meta *m = &f->meta;
	char why[SVT_ERR_MSG_MAX];
	ingest_reason cam_r = ingest_camera_resolve(m, kc, &o->camera, &f->camera, why, sizeof(why));
	if (kr && kr->has_gnss && kr->gnss_epsg == 4326 && fabs(kr->gnss_y) <= 90 &&
	    fabs(kr->gnss_x) <= 180) {
		m->lat = kr->gnss_y;
		m->lon = kr->gnss_x;
		m->has |= INGEST_HAS_GPS;
		m->src_gps = INGEST_SRC_KAPTURE;
		if (ingest_alt_plausible(kr->gnss_z)) {
			m->alt = kr->gnss_z;
			m->has |= INGEST_HAS_ALT;
			m->src_alt = INGEST_SRC_KAPTURE;
		} else if (isfinite(kr->gnss_z)) {
			m->ignored |= INGEST_IGN_ALT;
		}
		if (isfinite(kr->gnss_dop)) {
			m->dop = kr->gnss_dop;
			m->has |= INGEST_HAS_DOP;
		}
	}
	if (trk) {
		if (!(m->has & INGEST_HAS_TIME)) {
			reject(f, INGEST_REJ_NO_TIME, "no capture time to match against the track");
			goto done;
		}
		int64_t t = m->time_us + llround(o->track_offset_s * 1e6);
		double lat, lon, alt, hd;
		if (ingest_track_at(trk, t, &lat, &lon, &alt, &hd, &e)) {
			reject(f, INGEST_REJ_OUTSIDE_TRACK, "%s", e.msg);
			goto done;
		}
		/* The track is the user's chosen position source: it overrides the EXIF fix. */
		m->lat = lat;
		m->lon = lon;
		m->has |= INGEST_HAS_GPS;
		m->src_gps = INGEST_SRC_TRACK;
		if (isfinite(alt)) {
			m->alt = alt;
			m->has |= INGEST_HAS_ALT;
			m->src_alt = INGEST_SRC_TRACK;
		}
		if (!(m->has & INGEST_HAS_HEADING) && isfinite(hd)) {
			m->heading = hd;
			m->heading_ref = 'T';
			m->has |= INGEST_HAS_HEADING;
			m->src_heading = INGEST_SRC_TRACK;
		}
	}
	if (!(m->has & INGEST_HAS_GPS)) {
		reject(f, INGEST_REJ_NO_GPS, "no GPS position in EXIF or XMP%s",
		       trk ? "" : " (and no track given)");
		goto done;
	}
	if (fabs(m->lat) < 1e-3 && fabs(m->lon) < 1e-3) {
		reject(f, INGEST_REJ_NULL_ISLAND,
		       "position %.7f, %.7f is within ~100 m of 0,0: an unset fix, not a place",
		       m->lat, m->lon);
		goto done;
	}
	/* Last of the checks, so that a frame with no position is reported for that first. */
	if (cam_r != INGEST_OK)
		reject(f, cam_r, "%s", why);
done:
	free(buf);
}

/* Entropy-decodes the frames still kept at 1/8 scale on a pool: a truncated or corrupt file
 * is caught here instead of in the middle of a shard. */
static int verify_decode(ingest_capture *c, const ingest_scan_opts *o, const uint8_t *suspect,
			 svt_err *err)
{
#define VERIFY(i) (c->frames[i].reason == INGEST_OK && (o->verify_decode >= 2 || suspect[i]))
	size_t n = 0;
	for (size_t i = 0; i < c->n; i++)
		n += VERIFY(i);
	if (n == 0)
		return SVT_OK;
	const char **paths = calloc(n, sizeof(char *));
	size_t *idx = calloc(n, sizeof(size_t));
	ingest_pool *pool = NULL;
	int rc = SVT_OK;
	if (!paths || !idx) {
		rc = svt_err_set(err, SVT_E_NOMEM, "no memory for %zu frames", n);
		goto done;
	}
	for (size_t i = 0, k = 0; i < c->n; i++)
		if (VERIFY(i)) {
			paths[k] = c->frames[i].path;
			idx[k++] = i;
		}
	ingest_decode_opts d;
	ingest_decode_opts_default(&d);
	d.limits = o->limits;
	d.min_width = 1;          /* the smallest DCT scale: entropy decoding without the IDCT cost */
	d.apply_orientation = 0;
	d.want_channels = 1;
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	int threads = o->threads > 0 ? o->threads : (int)(cores > 0 ? cores : 1);
	if ((rc = ingest_pool_create(paths, n, threads, 2 * threads, &d, &pool, err)))
		goto done;
	for (size_t k = 0; k < n; k++) {
		size_t j;
		ingest_image *img;
		int warning;
		svt_err fe = {0};
		if ((rc = ingest_pool_next(pool, &j, &img, &warning, &fe, err)))
			goto done;
		ingest_frame *f = &c->frames[idx[j]];
		if (!img)
			reject(f, fe.code == SVT_E_LIMIT ? INGEST_REJ_TOO_LARGE : INGEST_REJ_UNDECODABLE,
			       "%s", fe.msg);
		else if (warning && o->reject_warnings)
			reject(f, INGEST_REJ_UNDECODABLE, "decoded with warnings: %s", fe.msg);
		ingest_pool_release(pool, img);
	}
done:
	ingest_pool_destroy(pool);
	free(paths);
	free(idx);
	return rc;
#undef VERIFY
}

/* ---- order and sequence checks ------------------------------------------------------------ */

static int cmp_frame(const void *a, const void *b)
{
	const ingest_frame *x = a, *y = b;
	int tx = (x->meta.has & INGEST_HAS_TIME) != 0, ty = (y->meta.has & INGEST_HAS_TIME) != 0;
	if (tx != ty)
		return tx ? -1 : 1; /* timeless frames last */
	if (tx && x->meta.time_us != y->meta.time_us)
		return x->meta.time_us < y->meta.time_us ? -1 : 1;
	return strcmp(x->path, y->path);
}

/* Heading used to compare two frames: the GPano pose (it describes the pixels) or EXIF's. */
static double frame_heading(const ingest_meta *m)
{
	if ((m->has & INGEST_HAS_GPANO) && isfinite(m->gpano.pose_heading))
		return m->gpano.pose_heading;
	return (m->has & INGEST_HAS_HEADING) ? m->heading : NAN;
}

static double angle_diff(double a, double b)
{
	double d = fmod(fabs(a - b), 360.0);
	return d > 180.0 ? 360.0 - d : d;
}

/* timed: the kept frames carry capture times. Without them (OpenSfM's sample sets, say) the
 * frames are in file-name order and only the distance checks apply. */
static void sequence_checks(ingest_capture *c, const ingest_scan_opts *o, int timed)
{
	/* Pass 1: duplicates and speed, against the last kept frame. */
	ingest_frame *last = NULL;
	for (size_t i = 0; i < c->n; i++) {
		ingest_frame *f = &c->frames[i];
		if (f->reason != INGEST_OK)
			continue;
		if (last) {
			const ingest_meta *a = &last->meta, *b = &f->meta;
			double d = ingest_dist_m(a->lat, a->lon, b->lat, b->lon);
			double dt = (double)(b->time_us - a->time_us) / 1e6;
			double ha = frame_heading(a), hb = frame_heading(b);
			double dh = isfinite(ha) && isfinite(hb) ? angle_diff(ha, hb) : 0.0;
			if (d <= o->dup_dist_m && dh <= o->dup_angle_deg) {
				reject(f, INGEST_REJ_DUPLICATE,
				       "%.3f m and %.1f deg from the last kept frame %s", d, dh,
				       last->path);
				continue;
			}
			/* Equal whole-second stamps: assume the clock's 1 s resolution. */
			double dte = dt > 0 ? dt : 1.0;
			double kmh = d / dte * 3.6;
			if (timed && dt <= o->gap_s && o->max_speed_kmh > 0 && kmh > o->max_speed_kmh) {
				reject(f, INGEST_REJ_SPEED,
				       "%.0f km/h from the last kept frame (%.1f m in %.3f s), over %.0f km/h",
				       kmh, d, dt, o->max_speed_kmh);
				continue;
			}
		}
		last = f;
	}
	/* Pass 2: zig-zag: B jumps out and comes back (A->B and B->C both long, A->C short). */
	if (o->zigzag_min_m > 0) {
		ingest_frame *A = NULL, *B = NULL;
		for (size_t i = 0; i < c->n; i++) {
			ingest_frame *C = &c->frames[i];
			if (C->reason != INGEST_OK)
				continue;
			if (A && B) {
				double ab = ingest_dist_m(A->meta.lat, A->meta.lon, B->meta.lat, B->meta.lon);
				double bc = ingest_dist_m(B->meta.lat, B->meta.lon, C->meta.lat, C->meta.lon);
				double ac = ingest_dist_m(A->meta.lat, A->meta.lon, C->meta.lat, C->meta.lon);
				double dtac = (double)(C->meta.time_us - A->meta.time_us) / 1e6;
				if (ab >= o->zigzag_min_m && bc >= o->zigzag_min_m &&
				    ac < 0.25 * (ab < bc ? ab : bc) && (!timed || dtac <= o->gap_s)) {
					reject(B, INGEST_REJ_ZIGZAG,
					       "jumps %.1f m away and %.1f m back while its neighbours are %.1f m apart",
					       ab, bc, ac);
					B = C;
					continue;
				}
			}
			A = B;
			B = C;
		}
	}
	/* Pass 3: sequences, cut at time or distance gaps and at the frame cap. */
	last = NULL;
	int seq = -1, in_seq = 0;
	for (size_t i = 0; i < c->n; i++) {
		ingest_frame *f = &c->frames[i];
		if (f->reason != INGEST_OK) {
			f->seq = -1;
			continue;
		}
		int cut = !last;
		if (last) {
			double d = ingest_dist_m(last->meta.lat, last->meta.lon, f->meta.lat, f->meta.lon);
			double dt = (double)(f->meta.time_us - last->meta.time_us) / 1e6;
			cut = (timed && dt > o->gap_s) || d > o->gap_m ||
			      (o->seq_max_frames > 0 && in_seq >= o->seq_max_frames);
		}
		if (cut) {
			seq++;
			in_seq = 0;
		}
		f->seq = seq;
		in_seq++;
		last = f;
	}
}

int ingest_capture_scan(const char *path, const ingest_scan_opts *opts, ingest_capture **out,
			svt_err *err)
{
	*out = NULL;
	ingest_scan_opts def;
	if (!opts) {
		ingest_scan_opts_default(&def);
		opts = &def;
	}
	if (!path)
		return svt_err_set(err, SVT_E_INPUT, "ingest_capture_scan: NULL path");
	strvec files = {0};
	ingest_track *trk = NULL;
	ingest_kapture *kap = NULL;
	ingest_capture *c = NULL;
	uint8_t *suspect = NULL; /* per frame: no end marker, worth a decode check */
	int rc = SVT_OK;
	struct stat st;
	if (stat(path, &st) != 0) {
		rc = svt_err_set(err, SVT_E_NOTFOUND, "%s: %s", path, strerror(errno));
		goto done;
	}
	if (S_ISDIR(st.st_mode) && ingest_kapture_detect(path)) {
		if ((rc = ingest_kapture_read(path, &kap, err)))
			goto done;
		for (size_t i = 0; i < kap->n_recs && !rc; i++)
			rc = strvec_push(&files, kap->recs[i].path ? kap->recs[i].path
								   : kap->recs[i].image, err);
	} else if (S_ISDIR(st.st_mode)) {
		rc = walk_dir(path, &files, 0, err);
		if (!rc && files.n > 1) /* an empty directory leaves files.v NULL */
			qsort(files.v, files.n, sizeof(char *), cmp_str);
	} else {
		rc = strvec_push(&files, path, err);
	}
	if (rc)
		goto done;
	if (opts->track_path && (rc = ingest_track_read(opts->track_path, &trk, err)))
		goto done;
	if (trk && trk->n_bad_lines)
		svt_log_warn("track %s: %zu lines skipped (bad checksum, no fix or malformed)",
			     opts->track_path, trk->n_bad_lines);

	c = calloc(1, sizeof(*c));
	suspect = calloc(files.n ? files.n : 1, 1);
	if (!c || !suspect || !(c->frames = calloc(files.n ? files.n : 1, sizeof(ingest_frame)))) {
		rc = svt_err_set(err, SVT_E_NOMEM, "no memory for %zu frames", files.n);
		goto done;
	}
	for (size_t i = 0; i < files.n; i++) {
		ingest_frame *f = &c->frames[c->n++];
		f->path = files.v[i];
		files.v[i] = NULL;
		f->seq = -1;
		int sus = 0;
		if (kap && !kap->recs[i].path)
			reject(f, INGEST_REJ_HOSTILE_PATH,
			       "kapture image path \"%s\" escapes the dataset root", kap->recs[i].image);
		else
			frame_read(f, opts, trk, kap ? &kap->recs[i] : NULL,
				   kap && kap->recs[i].camera >= 0 ? &kap->cams[kap->recs[i].camera]
								   : NULL,
				   &sus);
		suspect[i] = (uint8_t)sus;
	}
	if (opts->verify_decode && (rc = verify_decode(c, opts, suspect, err)))
		goto done;
	/* Frames are ordered by capture time. When some frames have a time, one without cannot be
	 * placed and is rejected; when none has, the capture is taken in file-name order. */
	size_t n_timed = 0;
	for (size_t i = 0; i < c->n; i++)
		n_timed += c->frames[i].reason == INGEST_OK && (c->frames[i].meta.has & INGEST_HAS_TIME);
	if (n_timed > 0)
		for (size_t i = 0; i < c->n; i++) {
			ingest_frame *f = &c->frames[i];
			if (f->reason == INGEST_OK && !(f->meta.has & INGEST_HAS_TIME))
				reject(f, INGEST_REJ_NO_TIME,
				       "no capture time (GPS date/time or DateTimeOriginal) while %zu other "
				       "frames have one: it cannot be placed in order",
				       n_timed);
		}
	qsort(c->frames, c->n, sizeof(ingest_frame), cmp_frame);
	sequence_checks(c, opts, n_timed > 0);
	for (size_t i = 0; i < c->n; i++) {
		if (c->frames[i].reason == INGEST_OK)
			c->n_kept++;
		else
			c->n_rejected[c->frames[i].reason]++;
	}
done:
	strvec_free(&files);
	ingest_track_destroy(trk);
	ingest_kapture_destroy(kap);
	free(suspect);
	if (rc) {
		ingest_capture_destroy(c);
		return rc;
	}
	*out = c;
	return SVT_OK;
}

void ingest_capture_destroy(ingest_capture *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n; i++)
		free(c->frames[i].path);
	free(c->frames);
	free(c);
}

/* ---- JSON ------------------------------------------------------------------------------------ */

static int jset(json_t *o, const char *k, json_t *v)
{
	return v ? json_object_set_new(o, k, v) : -1;
}

/* A JSON string from bytes that may not be UTF-8 (file names, text out of a corrupt EXIF):
 * invalid bytes become '?' so the line stays valid JSON. */
static json_t *jstr(const char *s)
{
	if (!s)
		s = "";
	json_t *j = json_string(s);
	if (j)
		return j;
	char *c = strdup(s);
	if (!c)
		return NULL;
	for (char *p = c; *p; p++)
		if ((unsigned char)*p >= 0x80 || (unsigned char)*p < 0x20)
			*p = '?';
	j = json_string(c);
	free(c);
	return j;
}

int ingest_frame_to_json(const ingest_frame *f, char **json_out, svt_err *err)
{
	*json_out = NULL;
	json_t *o = json_object();
	if (!o)
		return svt_err_set(err, SVT_E_NOMEM, "no memory for JSON");
	const ingest_meta *m = &f->meta;
	int bad = 0;
	bad |= jset(o, "path", jstr(f->path));
	bad |= jset(o, "status", json_string(f->reason == INGEST_OK ? "ok" : "rejected"));
	if (f->reason != INGEST_OK) {
		bad |= jset(o, "reason", json_string(ingest_reason_name(f->reason)));
		bad |= jset(o, "detail", jstr(f->why));
	}
	if (f->reason == INGEST_OK && f->seq >= 0)
		bad |= jset(o, "seq", json_integer(f->seq));
	if (m->has & INGEST_HAS_SIZE) {
		bad |= jset(o, "width", json_integer(m->width));
		bad |= jset(o, "height", json_integer(m->height));
	}
	if (m->has & INGEST_HAS_GPS) {
		bad |= jset(o, "lat", json_real(m->lat));
		bad |= jset(o, "lon", json_real(m->lon));
		bad |= jset(o, "gps_source", json_string(ingest_source_name(m->src_gps)));
	}
	if (m->has & INGEST_HAS_ALT) {
		bad |= jset(o, "alt", json_real(m->alt));
		bad |= jset(o, "alt_source", json_string(ingest_source_name(m->src_alt)));
	}
	if (m->has & INGEST_HAS_HEADING) {
		char ref[2] = {m->heading_ref, 0};
		bad |= jset(o, "heading", json_real(m->heading));
		bad |= jset(o, "heading_ref", json_string(ref));
		bad |= jset(o, "heading_source", json_string(ingest_source_name(m->src_heading)));
	}
	if (m->has & INGEST_HAS_DOP)
		bad |= jset(o, "dop", json_real(m->dop));
	if (m->has & INGEST_HAS_TIME) {
		char t[64], l[64];
		ingest_time_format(m->time_us, 0, t, sizeof(t));
		ingest_time_format(m->time_us, m->tz_offset_min, l, sizeof(l));
		bad |= jset(o, "time_utc", json_string(t));
		bad |= jset(o, "time_local", json_string(l));
		bad |= jset(o, "time_us", json_integer(m->time_us));
		bad |= jset(o, "tz_offset_min", json_integer(m->tz_offset_min));
		bad |= jset(o, "tz_assumed", json_boolean(m->tz_assumed));
		bad |= jset(o, "time_source", json_string(ingest_source_name(m->src_time)));
	}
	if (m->has & INGEST_HAS_ORIENTATION)
		bad |= jset(o, "orientation", json_integer(m->orientation));
	if (m->ignored) {
		/* Tags present but impossible: why a value is missing above. */
		json_t *ig = json_array();
		bad |= jset(o, "ignored", ig);
		if (ig && (m->ignored & INGEST_IGN_ALT))
			bad |= json_array_append_new(ig, json_string("altitude")) != 0;
		if (ig && (m->ignored & INGEST_IGN_POSE))
			bad |= json_array_append_new(ig, json_string("gpano_pose")) != 0;
	}
	if (f->camera.model != INGEST_CAM_UNKNOWN) {
		const ingest_camera *cm = &f->camera;
		json_t *co = json_object();
		bad |= jset(o, "camera", co);
		if (co) {
			bad |= jset(co, "model", json_string(ingest_camera_model_name(cm->model)));
			bad |= jset(co, "source", json_string(ingest_camera_source_name(cm->source)));
			if (cm->model == INGEST_CAM_PINHOLE) {
				json_t *k = json_pack("[f,f,f,f]", cm->fx, cm->fy, cm->cx, cm->cy);
				json_t *d = json_pack("[f,f,f,f,f]", cm->k1, cm->k2, cm->p1, cm->p2, cm->k3);
				bad |= jset(co, "fx_fy_cx_cy", k);
				bad |= jset(co, "k1_k2_p1_p2_k3", d);
			}
		}
	}
	if (m->has & INGEST_HAS_GPANO) {
		const ingest_gpano *g = &m->gpano;
		json_t *gp = json_object();
		bad |= jset(o, "gpano", gp);
		if (gp) {
			bad |= jset(gp, "equirectangular", json_boolean(g->equirectangular));
			if (isfinite(g->pose_heading))
				bad |= jset(gp, "pose_heading", json_real(g->pose_heading));
			if (isfinite(g->pose_pitch))
				bad |= jset(gp, "pose_pitch", json_real(g->pose_pitch));
			if (isfinite(g->pose_roll))
				bad |= jset(gp, "pose_roll", json_real(g->pose_roll));
			if (g->full_w || g->full_h) {
				bad |= jset(gp, "full_width", json_integer(g->full_w));
				bad |= jset(gp, "full_height", json_integer(g->full_h));
			}
			if (g->crop_w || g->crop_h) {
				bad |= jset(gp, "cropped_width", json_integer(g->crop_w));
				bad |= jset(gp, "cropped_height", json_integer(g->crop_h));
				bad |= jset(gp, "cropped_left", json_integer(g->crop_left));
				bad |= jset(gp, "cropped_top", json_integer(g->crop_top));
			}
			bad |= jset(gp, "size_mismatch", json_boolean(g->size_mismatch));
		}
	}
	int rc = SVT_OK;
	if (bad) {
		rc = svt_err_set(err, SVT_E_NOMEM, "no memory for JSON");
		goto done;
	}
	/* Doubles printed with 17 significant digits round-trip exactly. */
	*json_out = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17));
	if (!*json_out)
		rc = svt_err_set(err, SVT_E_NOMEM, "no memory for JSON");
done:
	json_decref(o);
	return rc;
}

void ingest_capture_summary(const ingest_capture *c, char *out, size_t cap)
{
	if (!out || cap == 0)
		return;
	out[0] = 0;
	if (!c)
		return;
	size_t len = 0;
#define ADD(...)                                                                   \
	do {                                                                       \
		int k_ = snprintf(out + len, cap - len, __VA_ARGS__);              \
		if (k_ < 0 || (size_t)k_ >= cap - len)                             \
			return;                                                    \
		len += (size_t)k_;                                                 \
	} while (0)
	ADD("%zu frames, %zu kept, %zu rejected", c->n, c->n_kept, c->n - c->n_kept);
	const char *sep = " (";
	for (int r = 1; r < INGEST_REASON_COUNT; r++)
		if (c->n_rejected[r]) {
			ADD("%s%s %zu", sep, ingest_reason_name((ingest_reason)r), c->n_rejected[r]);
			sep = ", ";
		}
	if (c->n > c->n_kept)
		ADD(")");
#undef ADD
}

int ingest_capture_write_rejects(const ingest_capture *c, const char *path, svt_err *err)
{
	FILE *f = fopen(path, "w");
	if (!f)
		return svt_err_set(err, SVT_E_IO, "cannot write %s: %s", path, strerror(errno));
	int rc = SVT_OK;
	for (size_t i = 0; c && i < c->n && !rc; i++) {
		const ingest_frame *fr = &c->frames[i];
		if (fr->reason == INGEST_OK)
			continue;
		json_t *o = json_pack("{s:o, s:s, s:o}", "path", jstr(fr->path), "reason",
				      ingest_reason_name(fr->reason), "detail", jstr(fr->why));
		char *s = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
		if (!s)
			rc = svt_err_set(err, SVT_E_NOMEM, "no memory for JSON");
		else if (fprintf(f, "%s\n", s) < 0)
			rc = svt_err_set(err, SVT_E_IO, "cannot write %s: %s", path, strerror(errno));
		free(s);
		json_decref(o);
	}
	if (fclose(f) != 0 && !rc)
		rc = svt_err_set(err, SVT_E_IO, "cannot write %s: %s", path, strerror(errno));
	return rc;
}
