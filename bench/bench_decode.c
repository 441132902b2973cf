/* bench_decode.c: `svtwin bench decode [FILE]`: decode throughput (megapixels per second) of
 * ingest's decoder against libjpeg-turbo alone (a plain tjDecompress2 loop into a reused
 * buffer, in the same process, on the same bytes), printed as a ratio. Also: the whole-file
 * path (read + decode), the 1/8-scale decode the capture scan uses to verify files (its cost
 * relative to a full decode), and the decode pool's throughput on several threads.
 * Runs interleave ours and the peer, median of --reps, so a noisy neighbour hurts both alike.
 * Default file: the pannellum 4096x2048 equirectangular photo (SVT_REAL_DATA). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <turbojpeg.h>
#include <unistd.h>

#include "bench/bench.h"
#include "base/svt.h"
#include "ingest/ingest.h"


static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* tjbench (libjpeg-turbo-progs) as a second peer, run as a child by
 * scripts/bench/decode_tjbench.sh; NAN when it is not installed. */
static double tjbench_rate(const char *file)
{
	const char *script = getenv("SVT_BENCH_DECODE_PEER");
	char cmd[4600];
	snprintf(cmd, sizeof(cmd), "%s '%s' 2 2>/dev/null",
		 script ? script : "scripts/bench/decode_tjbench.sh", file);
	if (strchr(file, '\''))
		return NAN; /* not worth quoting: the in-process peer stands */
	FILE *p = popen(cmd, "r");
	if (!p)
		return NAN;
	double rate = NAN;
	char line[256];
	while (fgets(line, sizeof(line), p))
		if (sscanf(line, "tjbench_mpps %lf", &rate) == 1)
			break;
	return pclose(p) == 0 ? rate : NAN;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(double), cmp_d);
	return v[n / 2];
}

int bench_decode(int argc, char **argv)
{
	const char *file = NULL;
	int reps = 7, threads = 0, peer = 1;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--reps") && i + 1 < argc) {
			if (bench_arg_int("decode", "--reps", argv[++i], 1, 100, &reps))
				return 2;
		} else if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
			if (bench_arg_int("decode", "--threads", argv[++i], 0, 1024, &threads))
				return 2;
		}
		else if (!strcmp(argv[i], "--no-tjbench"))
			peer = 0;
		else if (!strcmp(argv[i], "--help")) {
			printf("usage: svtwin bench decode [FILE.jpg] [--reps R] [--threads N] "
			       "[--no-tjbench]\n");
			return 0;
		} else if (argv[i][0] != '-' && !file)
			file = argv[i];
		else {
			fprintf(stderr, "svtwin bench decode: unknown option '%s'\n", argv[i]);
			return 2;
		}
	}
	if (reps < 1 || reps > 100) {
		fprintf(stderr, "svtwin bench decode: bad --reps\n");
		return 2;
	}
	char deflt[4096];
	if (!file) {
		const char *root = getenv("SVT_REAL_DATA");
		snprintf(deflt, sizeof(deflt), "%s/pannellum_jordan_pond/examplepano.jpg",
			 root ? root : "../shared/data/real");
		file = deflt;
	}
	if (threads <= 0) {
		long c = sysconf(_SC_NPROCESSORS_ONLN);
		threads = c > 0 ? (int)c : 1;
	}
	int rc = 1;
	svt_err e = {0};
	uint8_t *buf = NULL, *dst = NULL;
	size_t n = 0;
	ingest_decoder *dec = NULL;
	ingest_image img = {0};
	tjhandle tj = NULL;
	double *t_svt = calloc((size_t)reps, sizeof(double));
	double *t_tj = calloc((size_t)reps, sizeof(double));
	double *t_file = calloc((size_t)reps, sizeof(double));
	double *t_8 = calloc((size_t)reps, sizeof(double));
	if (!t_svt || !t_tj || !t_file || !t_8) {
		fprintf(stderr, "svtwin bench decode: out of memory\n");
		goto done;
	}
	if (svt_file_read(file, (size_t)1 << 30, &buf, &n, &e) ||
	    ingest_decoder_create(&dec, &e)) {
		fprintf(stderr, "svtwin bench decode: %s\n", e.msg);
		goto done;
	}
	tj = tjInitDecompress();
	int w, h, ss, cs;
	if (!tj || tjDecompressHeader3(tj, buf, (unsigned long)n, &w, &h, &ss, &cs) < 0) {
		fprintf(stderr, "svtwin bench decode: %s is not a JPEG TurboJPEG reads\n", file);
		goto done;
	}
	dst = malloc((size_t)w * h * 3);
	ingest_decode_opts o, o8;
	ingest_decode_opts_default(&o);
	o.apply_orientation = 0; /* the peer does not rotate either */
	o8 = o;
	o8.min_width = 1;
	int warn;
	/* warm-up: page in the buffers, let the CPU clock settle */
	if (!dst || ingest_decode_mem(dec, buf, n, &o, &img, &warn, &e) ||
	    tjDecompress2(tj, buf, (unsigned long)n, dst, w, w * 3, h, TJPF_RGB, 0) < 0) {
		fprintf(stderr, "svtwin bench decode: warm-up failed: %s\n", e.msg);
		goto done;
	}
	for (int r = 0; r < reps; r++) {
		double t0 = svt_now();
		if (ingest_decode_mem(dec, buf, n, &o, &img, &warn, &e))
			goto fail;
		t_svt[r] = svt_now() - t0;
		t0 = svt_now();
		if (tjDecompress2(tj, buf, (unsigned long)n, dst, w, w * 3, h, TJPF_RGB, 0) < 0)
			goto fail;
		t_tj[r] = svt_now() - t0;
		t0 = svt_now();
		if (ingest_decode_file(dec, file, &o, &img, &warn, &e))
			goto fail;
		t_file[r] = svt_now() - t0;
		t0 = svt_now();
		if (ingest_decode_mem(dec, buf, n, &o8, &img, &warn, &e))
			goto fail;
		t_8[r] = svt_now() - t0;
	}
	/* The same bytes decode to the same pixels, or the race is unfair. */
	if (ingest_decode_mem(dec, buf, n, &o, &img, &warn, &e) ||
	    memcmp(img.data, dst, (size_t)w * h * 3) != 0) {
		fprintf(stderr, "svtwin bench decode: pixels differ from TurboJPEG's\n");
		goto done;
	}
	double mp = (double)w * h / 1e6;
	double r_svt = mp / median(t_svt, reps), r_tj = mp / median(t_tj, reps);
	double r_file = mp / median(t_file, reps), s8 = median(t_8, reps);
	printf("decode: %s, %dx%d (%.1f MP), median of %d\n", file, w, h, mp, reps);
	printf("  svtwin ingest_decode_mem      %9.1f MP/s\n", r_svt);
	printf("  libjpeg-turbo tjDecompress2   %9.1f MP/s\n", r_tj);
	printf("  ratio svtwin/libjpeg-turbo    %9.3f   (target >= 0.95)\n", r_svt / r_tj);
	printf("  svtwin ingest_decode_file     %9.1f MP/s (read + decode, page cache warm)\n", r_file);
	if (peer) {
		double r_b = tjbench_rate(file);
		if (isnan(r_b))
			printf("  tjbench                       unavailable (apt-get install -y "
			       "libjpeg-turbo-progs)\n");
		else
			printf("  tjbench -rgb (its own loop)   %9.1f MP/s   ratio svtwin/tjbench %.3f\n",
			       r_b, r_svt / r_b);
	}
	printf("  scan verify (1/8 DCT scale)   %9.1f ms = %.2f of a full decode\n", s8 * 1e3,
	       s8 * r_svt / mp);

	/* The pool: 4 files per thread, bounded depth, as the pipeline runs it. */
	int nf = 4 * threads;
	const char **paths = calloc((size_t)nf, sizeof(char *));
	if (!paths)
		goto done;
	for (int i = 0; i < nf; i++)
		paths[i] = file;
	ingest_pool *p = NULL;
	double t0 = svt_now();
	if (ingest_pool_create(paths, (size_t)nf, threads, 2 * threads, &o, &p, &e)) {
		free(paths);
		goto fail;
	}
	for (int i = 0; i < nf; i++) {
		ingest_image *im = NULL;
		svt_err fe = {0};
		if (ingest_pool_next(p, NULL, &im, &warn, &fe, &e) || !im) {
			ingest_pool_destroy(p);
			free(paths);
			goto fail;
		}
		ingest_pool_release(p, im);
	}
	double tp = svt_now() - t0;
	ingest_pool_destroy(p);
	free(paths);
	printf("  ingest_pool, %d threads        %9.1f MP/s (%d files, %.2fx one thread)\n",
	       threads, mp * nf / tp, nf, mp * nf / tp / r_file);
	rc = 0;
	goto done;
fail:
	fprintf(stderr, "svtwin bench decode: %s\n", e.msg[0] ? e.msg : tjGetErrorStr2(tj));
done:
	if (tj)
		tjDestroy(tj);
	ingest_image_free(&img);
	ingest_decoder_destroy(dec);
	free(buf);
	free(dst);
	free(t_svt);
	free(t_tj);
	free(t_file);
	free(t_8);
	return rc;
}
