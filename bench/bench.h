/* bench.h: the benchmark parts behind `svtwin bench PART` (cli/cmd_bench.c dispatches). Each
 * measures svtwin and its peer in the same run and prints figures and ratios; argv[0] is the
 * part's name. Return 0, 1 when a measurement failed, 2 on bad usage. */
#ifndef SVT_BENCH_H
#define SVT_BENCH_H

#include <stdint.h>
#include <stdio.h>

#include "base/svt.h"

/* JPEG decode against tjbench (bench_decode.c). */
int bench_decode(int argc, char **argv);
/* Geodesy and projections against pyproj (bench_geo.c). */
int bench_geo(int argc, char **argv);
/* Every gpu/ kernel on each path, nvJPEG decode, whole-clip device time (bench_kernels.c). */
int bench_kernels(int argc, char **argv);
/* The whole-clip, shared-case and batched-decode figures of `bench kernels` (bench_clip.c), on
 * the C context cpu and the CUDA context cuda (NULL: those lines say they were skipped). */
typedef struct gpu_ctx gpu_ctx;
int bench_clip(gpu_ctx *cpu, gpu_ctx *cuda, double seconds);
/* The GPU decoder's batched decode (batches of 16) of every *.jpg in dir, alone, on cpu
 * (libjpeg-turbo, 1 thread) and cuda (NULL: skipped): the yardstick of the end-to-end GPU
 * build over the same files (`svtwin bench kernels --jpeg-dir DIR`, scripts/device-check.sh). */
int bench_decode_files(gpu_ctx *cpu, gpu_ctx *cuda, const char *dir);
/* Shard writing against h5py (bench_shard.c). */
int bench_shard(int argc, char **argv);
/* The twin store at a million frames: insert, open, RSS, query latency; point fusion
 * (bench_twin.c). */
int bench_twin(int argc, char **argv);

/* An option's value read strictly (base's svt_parse_*: the whole string, within [lo, hi]),
 * what is wrong said as "svtwin bench PART: ..."; 0, or 2 (bad usage) for the part to return. */
static inline int bench_arg_int(const char *part, const char *opt, const char *s, long long lo,
				long long hi, int *out)
{
	long long v;
	svt_err e = {0};
	if (svt_parse_int(opt, s, lo, hi, &v, &e)) {
		fprintf(stderr, "svtwin bench %s: %s\n", part, e.msg);
		return 2;
	}
	*out = (int)v;
	return 0;
}
static inline int bench_arg_u64(const char *part, const char *opt, const char *s, uint64_t *out)
{
	svt_err e = {0};
	if (svt_parse_u64(opt, s, out, &e)) {
		fprintf(stderr, "svtwin bench %s: %s\n", part, e.msg);
		return 2;
	}
	return 0;
}
static inline int bench_arg_double(const char *part, const char *opt, const char *s, double lo,
				   double hi, double *out)
{
	svt_err e = {0};
	if (svt_parse_double(opt, s, lo, hi, out, &e)) {
		fprintf(stderr, "svtwin bench %s: %s\n", part, e.msg);
		return 2;
	}
	return 0;
}

/* The benchmarks' seeded generator (splitmix64: the same numbers on every machine). */
static inline uint64_t bench_rand(uint64_t *s)
{
	uint64_t z = svt_hash64(*s);
	*s += 0x9e3779b97f4a7c15ull;
	return z;
}

/* A uniform double in [a, b) from bench_rand. */
static inline double bench_uniform(uint64_t *s, double a, double b)
{
	return a + (b - a) * (double)(bench_rand(s) >> 11) * (1.0 / 9007199254740992.0);
}

#endif
