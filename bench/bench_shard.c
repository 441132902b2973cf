/* bench_shard.c: `svtwin bench shard`: how fast the shard writer stores frames, against h5py
 * writing the same frames with gzip (chunk = one frame) in the same run
 * (scripts/bench/shard_h5py.py under /usr/bin/python3), and the random-frame read latency of
 * the Python loader (python/svtwin) on the shard just written.
 *
 * MB/s counts raw frame bytes (T x H x W x 3) over the whole write: create, frames, close
 * (flush, fsync, rename, sha256 of the file, master file, manifest). The h5py figure is File
 * open to File close without fsync, which only flatters the peer. Target: >= 5x. */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench/bench.h"
#include "base/svt.h"
#include "formats/formats.h"


static uint32_t xs(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

/* A street-view-like frame: sky gradient, facades with window grids, a road with lane
 * marks, and +-3 levels of sensor-like noise, drifting with t as a forward drive would. The
 * noise is what makes real views hard to compress; without it any codec looks fast. */
static void synth_frame(uint8_t *p, int W, int H, int t, uint32_t seed)
{
	uint32_t s = seed * 2654435761u + (uint32_t)t * 40503u + 1;
	int horizon = H * 45 / 100;
	for (int y = 0; y < H; y++) {
		for (int x = 0; x < W; x++) {
			int r, g, b;
			int xx = x + 7 * t;
			if (y < horizon / 2) {
				r = 120 + y * 60 / H;
				g = 160 + y * 50 / H;
				b = 230 - y * 20 / H;
			} else if (y < horizon) {
				int bld = (xx / 97) % 7, win = ((xx % 97) / 9 % 2) && ((y / 11) % 2);
				r = 90 + bld * 17 - win * 40;
				g = 85 + bld * 11 - win * 35;
				b = 80 + bld * 7 - win * 20;
			} else {
				int lane = abs(x - W / 2) < 3 + (y - horizon) / 20 && ((y + 5 * t) / 16) % 2;
				r = g = b = lane ? 220 : 70 + (y - horizon) * 40 / H;
			}
			uint32_t n = xs(&s);
			int d = (int)(n % 7) - 3;
			uint8_t *q = p + 3 * ((size_t)y * (size_t)W + (size_t)x);
			q[0] = (uint8_t)(r + d < 0 ? 0 : r + d > 255 ? 255 : r + d);
			q[1] = (uint8_t)(g + d < 0 ? 0 : g + d > 255 ? 255 : g + d);
			q[2] = (uint8_t)(b + d < 0 ? 0 : b + d > 255 ? 255 : b + d);
		}
	}
}

/* Frames of a shard's clips, cycled to n frames (real views instead of synthetic ones). */
static int frames_from(const char *path, int n, int *W, int *H, uint8_t **out, svt_err *err)
{
	fmt_reader *r = NULL;
	int rc = fmt_reader_open(path, &r, err);
	if (rc)
		return rc;
	size_t nc = fmt_reader_clip_count(r);
	fmt_clip_data c;
	if (!nc || (rc = fmt_reader_clip(r, 0, &c, err))) {
		fmt_reader_close(r);
		return rc ? rc : svt_err_set(err, SVT_E_INPUT, "%s holds no clip", path);
	}
	*W = c.W;
	*H = c.H;
	fmt_clip_data_free(&c);
	size_t fb = (size_t)*W * (size_t)*H * 3;
	*out = malloc(fb * (size_t)n);
	if (!*out) {
		fmt_reader_close(r);
		return svt_err_set(err, SVT_E_NOMEM, "%d frames", n);
	}
	int k = 0;
	while (!rc && k < n) {
		for (size_t i = 0; !rc && i < nc && k < n; i++) {
			if ((rc = fmt_reader_clip(r, i, &c, err)))
				break;
			int T = c.T, ok = c.W == *W && c.H == *H;
			fmt_clip_data_free(&c);
			for (int t = 0; ok && !rc && t < T && k < n; t++, k++)
				rc = fmt_reader_frames(r, i, t, 1, *out + fb * (size_t)k, err);
		}
	}
	fmt_reader_close(r);
	return rc;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* Writes the frames as one clip into dir (emptied first); returns seconds, or < 0. */
static double write_once(const char *dir, fmt_codec codec, int level, int threads,
			 const uint8_t *frames, int T, int W, int H, uint64_t *stored)
{
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -f '%s'/*.h5 '%s'/manifest.json", dir, dir);
	if (system(cmd) != 0)
		return -1;
	double *w2c = calloc((size_t)T, 16 * sizeof(double)), *K = calloc((size_t)T, 32),
	       *llh = calloc((size_t)T, 24);
	int64_t *ts = calloc((size_t)T, sizeof(int64_t));
	if (!w2c || !K || !llh || !ts) {
		free(w2c), free(K), free(llh), free(ts);
		return -1;
	}
	for (int t = 0; t < T; t++) {
		double *m = w2c + 16 * t;
		m[0] = m[5] = m[10] = m[15] = 1;
		m[11] = -t;
		K[4 * t] = K[4 * t + 1] = W / 2.0;
		K[4 * t + 2] = W / 2.0;
		K[4 * t + 3] = H / 2.0;
		llh[3 * t] = 37.5665;
		llh[3 * t + 1] = 126.978;
		ts[t] = 1760403600000000LL + 100000LL * t;
	}
	fmt_writer_opts o;
	fmt_writer_opts_default(&o);
	o.codec = codec;
	o.level = level;
	o.threads = threads;
	fmt_shard_info info = {.crs_epsg = 5186, .enu_origin_llh = {37.5665, 126.978, 38},
			       .enu_origin_proj = {198000, 551900, 38}, .source = "bench"};
	fmt_clip_desc d = {.id = "bench", .T = T, .H = H, .W = W, .w2c = w2c, .K = K, .llh = llh,
			   .time_us = ts, .fps = 10, .split = "train"};
	svt_err e = {0};
	fmt_writer *w = NULL;
	size_t fb = (size_t)W * (size_t)H * 3;
	double t0 = svt_now();
	int rc = fmt_writer_create(dir, "bench", &info, &o, &w, &e);
	if (!rc)
		rc = fmt_clip_begin(w, &d, &e);
	for (int t = 0; !rc && t < T; t++)
		rc = fmt_clip_frame(w, t, frames + fb * (size_t)t, &e);
	if (!rc)
		rc = fmt_clip_end(w, &e);
	if (!rc) {
		rc = fmt_writer_close(w, &e);
		w = NULL;
	}
	double dt = svt_now() - t0;
	fmt_writer_abort(w);
	free(w2c), free(K), free(llh), free(ts);
	if (rc) {
		fprintf(stderr, "svtwin bench shard: %s\n", e.msg);
		return -1;
	}
	char p[600];
	snprintf(p, sizeof(p), "%s/bench-00000.h5", dir);
	FILE *f = fopen(p, "rb");
	if (f) {
		fseek(f, 0, SEEK_END);
		*stored = (uint64_t)ftell(f);
		fclose(f);
	}
	return dt;
}

static double median_write(const char *dir, fmt_codec c, int level, int threads,
			   const uint8_t *frames, int T, int W, int H, int reps, uint64_t *stored)
{
	double v[32];
	if (reps > 32)
		reps = 32;
	for (int i = 0; i < reps; i++)
		if ((v[i] = write_once(dir, c, level, threads, frames, T, W, H, stored)) < 0)
			return -1;
	qsort(v, (size_t)reps, sizeof(double), cmp_d);
	return v[reps / 2];
}

int bench_shard(int argc, char **argv)
{
	int T = 121, W = 1280, H = 704, reps = 3, threads = 0, peer = 1;
	const char *from = NULL, *codec_s = NULL;
	for (int i = 1; i < argc; i++) {
		svt_err se = {0};
		if (!strcmp(argv[i], "--frames") && i + 1 < argc) {
			if (bench_arg_int("shard", "--frames", argv[++i], 1, 100000, &T))
				return 2;
		} else if (!strcmp(argv[i], "--size") && i + 1 < argc) {
			if (svt_parse_size("--size", argv[++i], 16, 16384, &W, &H, &se)) {
				fprintf(stderr, "svtwin bench shard: %s\n", se.msg);
				return 2;
			}
		} else if (!strcmp(argv[i], "--reps") && i + 1 < argc) {
			if (bench_arg_int("shard", "--reps", argv[++i], 1, 100, &reps))
				return 2;
		} else if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
			if (bench_arg_int("shard", "--threads", argv[++i], 0, 1024, &threads))
				return 2;
		}
		else if (!strcmp(argv[i], "--from") && i + 1 < argc)
			from = argv[++i];
		else if (!strcmp(argv[i], "--codec") && i + 1 < argc)
			codec_s = argv[++i];
		else if (!strcmp(argv[i], "--no-python"))
			peer = 0;
		else if (!strcmp(argv[i], "--help")) {
			printf("usage: svtwin bench shard [--frames N] [--size WxH] [--reps R] "
			       "[--threads N]\n"
			       "                          [--codec C[:L]] [--from SHARD.h5] "
			       "[--no-python]\n"
			       "  --from: use the views of an existing shard (cycled to N frames)\n"
			       "  instead of synthetic street-like frames.\n");
			return 0;
		} else {
			fprintf(stderr, "svtwin bench shard: unknown option '%s'\n", argv[i]);
			return 2;
		}
	}
	if (T < 1 || W < 16 || H < 16 || reps < 1) {
		fprintf(stderr, "svtwin bench shard: bad --frames/--size/--reps\n");
		return 2;
	}
	svt_err e = {0};
	int level = 0;
	fmt_codec codec = fmt_codec_default(&level);
	if (codec_s && fmt_codec_parse(codec_s, &codec, &level, &e)) {
		fprintf(stderr, "svtwin bench shard: %s\n", e.msg);
		return 2;
	}
	uint8_t *frames = NULL;
	if (from) {
		if (frames_from(from, T, &W, &H, &frames, &e)) {
			fprintf(stderr, "svtwin bench shard: %s\n", e.msg);
			return 1;
		}
	} else {
		size_t fb = (size_t)W * (size_t)H * 3;
		if (!(frames = malloc(fb * (size_t)T))) {
			fprintf(stderr, "svtwin bench shard: no memory for %d frames\n", T);
			return 1;
		}
		for (int t = 0; t < T; t++)
			synth_frame(frames + fb * (size_t)t, W, H, t, 1);
	}
	const char *tmpd = getenv("TMPDIR");
	char dir[512];
	snprintf(dir, sizeof(dir), "%s/svt-bench-shard-XXXXXX", tmpd && *tmpd ? tmpd : "/tmp");
	if (!mkdtemp(dir)) {
		fprintf(stderr, "svtwin bench shard: mkdtemp: %s\n", strerror(errno));
		free(frames);
		return 1;
	}
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	int nth = threads > 0 ? threads : (int)(ncpu > 0 ? ncpu : 1);
	double raw_mb = (double)T * W * H * 3 / 1e6;
	printf("shard write: %d frames %dx%d (%.1f MB raw), %s frames, %d compression threads, "
	       "median of %d\n",
	       T, W, H, raw_mb, from ? from : "synthetic street-like", nth, reps);

	uint64_t st_def = 0, st_gz = 0;
	double t_def = median_write(dir, codec, level, threads, frames, T, W, H, reps, &st_def);
	double t_gz = median_write(dir, FMT_CODEC_GZIP, 1, threads, frames, T, W, H, reps, &st_gz);
	uint64_t st_jpg = 0;
	double t_jpg = median_write(dir, FMT_CODEC_JPEG, 90, threads, frames, T, W, H, reps, &st_jpg);
	/* Leave the default-codec shard for the peer and the loader. */
	double t_last = write_once(dir, codec, level, threads, frames, T, W, H, &st_def);
	free(frames);
	int rc = 0;
	if (t_def <= 0 || t_gz <= 0 || t_last <= 0) {
		rc = 1;
		goto done;
	}
	double mb_def = raw_mb / t_def, mb_gz = raw_mb / t_gz;
	printf("  svtwin %-5s (default)  %8.1f MB/s   stored %.2fx smaller\n", fmt_codec_name(codec),
	       mb_def, (double)T * W * H * 3 / (double)st_def);
	printf("  svtwin gzip:1           %8.1f MB/s   stored %.2fx smaller\n", mb_gz,
	       (double)T * W * H * 3 / (double)st_gz);
	if (t_jpg > 0 && st_jpg > 0)
		printf("  svtwin jpeg:90 (lossy)  %8.1f MB/s   stored %.2fx smaller\n", raw_mb / t_jpg,
		       (double)T * W * H * 3 / (double)st_jpg);
	if (!peer)
		goto done;

	const char *py = getenv("PYTHON");
	const char *script = getenv("SVT_BENCH_SHARD_PEER");
	if (!py || !*py)
		py = "/usr/bin/python3";
	if (!script)
		script = "scripts/bench/shard_h5py.py";
	char cmd[1200];
	snprintf(cmd, sizeof(cmd), "%s %s '%s' %d 2>&1", py, script, dir, reps);
	FILE *p = popen(cmd, "r");
	double gz4 = NAN, gz1 = NAN, med = NAN, p95 = NAN, n_reads = 0;
	char line[512];
	while (p && fgets(line, sizeof(line), p)) {
		if (sscanf(line, "h5py_gzip4_mb_s %lf", &gz4) == 1 ||
		    sscanf(line, "h5py_gzip1_mb_s %lf", &gz1) == 1 ||
		    sscanf(line, "loader_read_ms %lf %lf %lf", &med, &p95, &n_reads) >= 2)
			continue;
		fprintf(stderr, "  peer: %s", line);
	}
	int pst = p ? pclose(p) : -1;
	if (pst != 0 || isnan(gz4)) {
		printf("  h5py peer: not measured (%s failed; needs python3-h5py and the LZ4 "
		       "plugin)\n", script);
		rc = 1;
		goto done;
	}
	printf("  h5py gzip (level 4)     %8.1f MB/s   (h5py's default gzip level)\n", gz4);
	printf("  h5py gzip level 1       %8.1f MB/s\n", gz1);
	printf("  ratio svtwin %s / h5py gzip: %.1fx (vs level 1: %.1fx), target >= 5x: %s\n",
	       fmt_codec_name(codec), mb_def / gz4, mb_def / gz1,
	       mb_def / gz4 >= 5 ? "met" : "NOT met");
	printf("  ratio svtwin gzip:1 / h5py gzip level 1 (same codec, our threads): %.1fx\n",
	       mb_gz / gz1);
	if (!isnan(med))
		printf("python loader, random frame read (%dx%d, %s): median %.2f ms, p95 %.2f ms "
		       "over %.0f reads\n",
		       W, H, fmt_codec_name(codec), med, p95, n_reads);
done:
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "svtwin bench shard: could not remove %s\n", dir);
	return rc;
}
