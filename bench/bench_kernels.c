/* bench_kernels.c: `svtwin bench kernels`: throughput of every gpu/ kernel on each path (the
 * C reference on 1 and on N threads where it threads, CUDA when a device is usable), and for
 * the perspective view the ratio to OpenCV's cv2.remap measured in the same run on the same
 * panorama (scripts/bench/kernels_remap.py: numpy map + cv2.remap INTER_LINEAR BORDER_WRAP,
 * 1 thread). Each figure is the median of repeated calls over --seconds after a warm-up. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench/bench.h"
#include "bench/cases.h"
#include "gpu/gpu.h"
#include "ingest/ingest.h"


typedef struct bk_opts {
	const char *pano;
	double seconds;
	int threads, peer;
	const char *jpeg_dir; /* --jpeg-dir: only the decode of these files */
} bk_opts;

typedef int (*bk_fn)(void *arg);

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* Median seconds per call of fn over about `seconds` (at least 3 calls), after one warm-up.
 * Returns a negative value when a call fails. */
static double bk_time(bk_fn fn, void *arg, double seconds)
{
	enum { MAXR = 4096 };
	static double t[MAXR];
	if (fn(arg))
		return -1;
	int n = 0;
	double end = svt_now() + seconds;
	while (n < MAXR && (n < 3 || svt_now() < end)) {
		double t0 = svt_now();
		if (fn(arg))
			return -1;
		t[n++] = svt_now() - t0;
	}
	qsort(t, (size_t)n, sizeof(double), cmp_double);
	return t[n / 2];
}

static void bk_line(const char *kernel, const char *path, double s, double units,
		    const char *unit)
{
	if (s < 0)
		printf("%-26s %-10s failed\n", kernel, path);
	else
		printf("%-26s %-10s %9.3f ms %10.1f %s\n", kernel, path, s * 1e3, units / s / 1e6,
		       unit);
	fflush(stdout);
}

/* For a CUDA line: the kernels' own device time of the last call and the bandwidth that bytes
 * (the kernel's device-memory traffic by the model stated at the call) reach against the
 * device's theoretical peak (issue 5 target: >= 0.6). */
static void bk_dev(const gpu_ctx *ctx, double bytes, const char *model)
{
	if (!gpu_ctx_is_cuda(ctx))
		return;
	gpu_device_info di;
	gpu_ctx_device_info(ctx, &di);
	double ms = gpu_ctx_last_device_ms(ctx);
	if (ms <= 0) {
		printf("%-26s device time not available\n", "");
		return;
	}
	double gbs = bytes / (ms * 1e-3) / 1e9;
	printf("%-26s kernels %.3f ms, %.0f GB/s = %.2f of %s's %.0f GB/s peak (bytes: %s)\n", "", ms,
	       gbs, di.mem_bw_gbs > 0 ? gbs / di.mem_bw_gbs : 0.0, di.name, di.mem_bw_gbs, model);
}

/* ---- inputs ----------------------------------------------------------------------------- */

static uint32_t bk_rng(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

/* A photo-like synthetic panorama (sky and ground gradients, facades with window grids,
 * per-pixel noise): deterministic. */
static void bk_synth_pano(gpu_image *p)
{
	uint32_t s = 12345;
	for (int y = 0; y < p->height; y++)
		for (int x = 0; x < p->width; x++) {
			uint8_t *q = p->data + (size_t)y * p->stride + (size_t)x * 3;
			double v = (double)y / p->height;
			int bld = ((x / 97) % 3 != 0) && v > 0.25 + 0.1 * ((x / 97) % 5) / 5.0 && v < 0.55;
			int win = bld && (x % 13 < 6) && (y % 17 < 8);
			double r, g, b;
			if (v < 0.5 && !bld) {
				r = 120 + 80 * v, g = 160 + 60 * v, b = 230;
			} else if (bld) {
				r = win ? 40 : 150 + (x / 97 % 7) * 10, g = win ? 50 : 140, b = win ? 70 : 120;
			} else {
				r = 90 + 40 * v, g = 90 + 30 * v, b = 85;
			}
			double nz = (double)(bk_rng(&s) & 15) - 7.5;
			q[0] = (uint8_t)fmin(255, fmax(0, r + nz));
			q[1] = (uint8_t)fmin(255, fmax(0, g + nz));
			q[2] = (uint8_t)fmin(255, fmax(0, b + nz));
		}
}

/* Binary PPM for the peer (cv2.imread reads it without a codec in the way). */
static int bk_write_ppm(const char *path, const gpu_image *p)
{
	FILE *f = fopen(path, "wb");
	if (!f)
		return -1;
	fprintf(f, "P6\n%d %d\n255\n", p->width, p->height);
	for (int y = 0; y < p->height; y++)
		fwrite(p->data + (size_t)y * p->stride, 1, (size_t)p->width * 3, f);
	return fclose(f) ? -1 : 0;
}

/* ---- kernels as timed calls ---------------------------------------------------------------- */

typedef struct bk_view {
	gpu_ctx *ctx;
	gpu_image *src, dst;
	gpu_view v;
} bk_view;
static int bk_view_call(void *a)
{
	bk_view *b = a;
	return gpu_view_from_equirect(b->ctx, b->src, &b->v, &b->dst, NULL);
}

typedef struct bk_dview {
	gpu_ctx *ctx;
	gpu_depth d;
	gpu_view v;
	float *dst;
} bk_dview;
static int bk_dview_call(void *a)
{
	bk_dview *b = a;
	return gpu_view_depth_from_equirect(b->ctx, &b->d, &b->v, b->dst, 1280 * sizeof(float), NULL);
}

typedef struct bk_cube {
	gpu_ctx *ctx;
	gpu_image *src, faces[GPU_CUBE_FACES];
	int size;
} bk_cube;
static int bk_cube_call(void *a)
{
	bk_cube *b = a;
	return gpu_cubemap_from_equirect(b->ctx, b->src, b->size, GPU_INTERP_BILINEAR, 1, b->faces,
					 NULL);
}

typedef struct bk_tensor {
	gpu_ctx *ctx;
	gpu_image *src;
	int w, h;
	gpu_dtype t;
	void *dst;
} bk_tensor;
static int bk_tensor_call(void *a)
{
	bk_tensor *b = a;
	static const float mean[3] = {0.485f, 0.456f, 0.406f}, sd[3] = {0.229f, 0.224f, 0.225f};
	return gpu_tensor_from_image(b->ctx, b->src, b->w, b->h, mean, sd, b->t, b->dst, NULL);
}

typedef struct bk_rays {
	gpu_ctx *ctx;
	double *w2c, *K;
	int n, w, h, patch;
	void *dst;
} bk_rays;
static int bk_rays_call(void *a)
{
	bk_rays *b = a;
	return gpu_plucker_rays(b->ctx, b->w2c, b->K, b->n, b->w, b->h, b->patch, GPU_DTYPE_F16,
				b->dst, NULL);
}

typedef struct bk_pts {
	gpu_ctx *ctx;
	gpu_depth d;
	gpu_image *color;
	double w2c[16], K[4];
	gpu_point *pts, *out;
	size_t n, cap, n_out;
	gpu_bev bev;
	uint8_t *occ, *rgb;
	float *ht;
} bk_pts;
static int bk_depth_call(void *a)
{
	bk_pts *b = a;
	return gpu_depth_to_points(b->ctx, &b->d, b->color, b->w2c, b->out, b->cap, &b->n_out, NULL);
}
static int bk_voxel_call(void *a)
{
	bk_pts *b = a;
	return gpu_voxel_downsample(b->ctx, b->pts, b->n, 0.1, b->out, b->cap, &b->n_out, NULL, NULL);
}
static int bk_bev_call(void *a)
{
	bk_pts *b = a;
	return gpu_bev_raster(b->ctx, b->pts, b->n, &b->bev, b->occ, b->ht, b->rgb, NULL);
}
static int bk_zbuf_call(void *a)
{
	bk_pts *b = a;
	return gpu_points_to_depth(b->ctx, b->pts, b->n, b->w2c, b->K, 1280, 704, 0.1, b->ht, b->rgb,
				   NULL);
}

/* ---- the peer ------------------------------------------------------------------------------ */

/* Runs the cv2.remap peer; returns its ms per view (map + remap) or a negative value. */
/* A warp case (bench/cases.c): ctx NULL with ref = 1 is the reference, else gpu_warp_splat. */
typedef struct bk_warp {
	gpu_ctx *ctx;
	int ref;
	const bc_warp_case *c;
	gpu_warp_cam s, d;
	uint8_t *rgb, *out, *mask;
	float *depth;
} bk_warp;

static int bk_warp_call(void *a)
{
	bk_warp *b = a;
	size_t rs = (size_t)b->c->sw * 3, ds = (size_t)b->c->sw * 4;
	if (b->ref)
		return gpu_warp_splat_ref(&b->s, b->rgb, rs, b->depth, ds, &b->d, 0.1, 1, b->out,
					  b->mask, NULL, NULL, NULL);
	return gpu_warp_splat(b->ctx, &b->s, b->rgb, rs, b->depth, ds, &b->d, 0.1, b->out, b->mask,
			      NULL, NULL, NULL);
}

typedef struct bk_densify {
	gpu_ctx *ctx;
	const bc_densify_case *c;
	gpu_densify_src a, b;
	double w2c[16], K[4];
	uint8_t *out, *valid;
} bk_densify;

static int bk_densify_call(void *a)
{
	bk_densify *b = a;
	return gpu_densify_frame(b->ctx, &b->a, &b->b, b->c->u, b->w2c, b->K, b->c->w, b->c->h,
				 b->out, b->valid, NULL);
}

/* The warp and densify cases of bench/cases.c: the reference, the fast C path (the CPU's
 * gpu_warp_splat; densify runs its reference on the CPU) and CUDA when there is a device. */
static void bk_warp_densify(gpu_ctx *const *ctx, const char *const *names, int nctx,
			    double seconds)
{
	for (int n = 0; n < bc_n_warp_cases; n++) {
		bk_warp b = {.c = &bc_warp_cases[n]};
		bc_warp_setup(b.c, &b.s, &b.d, &b.rgb, &b.depth);
		size_t px = (size_t)b.c->dw * b.c->dh, spx = (size_t)b.c->sw * b.c->sh;
		b.out = malloc(px * 3);
		b.mask = malloc(px);
		char lab[80];
		snprintf(lab, sizeof(lab), "warp %.70s", b.c->name);
		if (b.rgb && b.depth && b.out && b.mask) {
			b.ref = 1;
			bk_line(lab, "c-ref", bk_time(bk_warp_call, &b, seconds), (double)spx, "Mpx/s");
			b.ref = 0;
			for (int c = 0; c < nctx; c += (c == 0 ? 2 : 1)) {
				b.ctx = ctx[c];
				bk_line(lab, names[c], bk_time(bk_warp_call, &b, seconds), (double)spx,
					"Mpx/s");
				bk_dev(ctx[c], (double)spx * (4 + 3) + (double)px * (5 * 8 + 4 + 1),
				       "source depth + colour, 5 z-buffer updates a source pixel, output");
			}
		}
		bc_free(b.rgb), bc_free(b.depth), free(b.out), free(b.mask);
	}
	for (int n = 0; n < bc_n_densify_cases; n++) {
		bk_densify b = {.c = &bc_densify_cases[n]};
		bc_densify_setup(b.c, &b.a, &b.b, b.w2c, b.K);
		size_t px = (size_t)b.c->w * b.c->h;
		b.out = malloc(px * 3);
		b.valid = malloc(px);
		char lab[80];
		snprintf(lab, sizeof(lab), "densify %.67s", b.c->name);
		for (int c = 0; b.a.rgb && b.b.rgb && b.out && b.valid && c < nctx;
		     c += (c == 0 ? 2 : 1)) {
			b.ctx = ctx[c];
			bk_line(lab, c == 0 ? "c-ref" : names[c], bk_time(bk_densify_call, &b, seconds),
				(double)px, "Mpx/s");
		}
		bc_free((void *)b.a.rgb), bc_free((void *)b.a.depth), bc_free((void *)b.b.rgb);
		bc_free((void *)b.b.depth), free(b.out), free(b.valid);
	}
}

static double bk_peer(const char *pano, double seconds, double *ms_remap)
{
	const char *py = getenv("PYTHON") ? getenv("PYTHON") : "/usr/bin/python3";
	const char *dir = getenv("SVT_BENCH_SCRIPTS") ? getenv("SVT_BENCH_SCRIPTS") : "scripts/bench";
	char cmd[2048];
	snprintf(cmd, sizeof(cmd), "'%s' '%s/kernels_remap.py' '%s' 1280 704 90 30 0 %.2f", py, dir,
		 pano, seconds);
	FILE *f = popen(cmd, "r");
	if (!f)
		return -1;
	char line[1024] = {0};
	char *got = fgets(line, sizeof(line), f);
	int st = pclose(f);
	if (!got || st != 0)
		return -1;
	json_error_t je;
	json_t *j = json_loads(line, 0, &je);
	if (!j)
		return -1;
	double ms = json_number_value(json_object_get(j, "ms_map_remap"));
	*ms_remap = json_number_value(json_object_get(j, "ms_remap"));
	json_decref(j);
	return ms > 0 ? ms : -1;
}

static void bk_usage(FILE *f)
{
	fprintf(f, "usage: svtwin bench kernels [--pano FILE] [--seconds S] [--threads N] [--no-peer]\n"
		   "       svtwin bench kernels --jpeg-dir DIR\n"
		   "  --pano FILE   equirectangular JPEG/PNG (default: a synthetic 4096x2048 one)\n"
		   "  --seconds S   time per measurement (default 1)\n"
		   "  --threads N   threads for the second C line (default 2)\n"
		   "  --no-peer     skip the cv2.remap comparison\n"
		   "  --jpeg-dir D  only the batched decode of D/*.jpg (libjpeg-turbo 1 thread, the GPU\n"
		   "                decoder): the yardstick of a GPU build of the same files\n");
}

int bench_kernels(int argc, char **argv)
{
	bk_opts o = {NULL, 1.0, 2, 1, NULL};
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--pano") && i + 1 < argc)
			o.pano = argv[++i];
		else if (!strcmp(argv[i], "--seconds") && i + 1 < argc) {
			if (bench_arg_double("kernels", "--seconds", argv[++i], 0.01, 3600, &o.seconds))
				return 2;
		} else if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
			if (bench_arg_int("kernels", "--threads", argv[++i], 1, 1024, &o.threads))
				return 2;
		}
		else if (!strcmp(argv[i], "--no-peer"))
			o.peer = 0;
		else if (!strcmp(argv[i], "--jpeg-dir") && i + 1 < argc)
			o.jpeg_dir = argv[++i];
		else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			bk_usage(stdout);
			return 0;
		} else {
			bk_usage(stderr);
			return 2;
		}
	}
	if (!(o.seconds > 0) || o.threads < 1) {
		bk_usage(stderr);
		return 2;
	}
	int rc = 1;
	svt_err err = {0};
	ingest_decoder *dec = NULL;
	ingest_image img = {0};
	gpu_image pano = {0};
	char ppm[64] = "";
	gpu_ctx *ctx[3] = {NULL, NULL, NULL};
	const char *names[3] = {"c-1t", NULL, NULL};
	char tn[16];
	snprintf(tn, sizeof(tn), "c-%dt", o.threads);
	names[1] = tn;
	int nctx = 2;

	if (o.jpeg_dir) {
		if (gpu_ctx_create(GPU_MODE_CPU, &ctx[0], &err))
			goto done;
		if (gpu_device_available())
			gpu_ctx_create(GPU_MODE_REQUIRE, &ctx[2], &err);
		rc = bench_decode_files(ctx[0], ctx[2], o.jpeg_dir);
		goto done;
	}
	if (o.pano) {
		ingest_decode_opts dopts;
		ingest_decode_opts_default(&dopts);
		dopts.want_channels = 3;
		int warn = 0;
		if (ingest_decoder_create(&dec, &err) ||
		    ingest_decode_file(dec, o.pano, &dopts, &img, &warn, &err)) {
			fprintf(stderr, "svtwin bench kernels: %s\n", err.msg);
			goto done;
		}
		pano = (gpu_image){img.data, img.width, img.height, img.channels, img.stride};
	} else {
		pano = (gpu_image){malloc((size_t)4096 * 2048 * 3), 4096, 2048, 3, 4096 * 3};
		if (!pano.data)
			goto done;
		bk_synth_pano(&pano);
	}
	if (gpu_ctx_create(GPU_MODE_CPU, &ctx[0], &err) || gpu_ctx_create(GPU_MODE_CPU, &ctx[1], &err))
		goto done;
	gpu_ctx_set_cpu_threads(ctx[1], o.threads);
	if (gpu_device_available() && gpu_ctx_create(GPU_MODE_REQUIRE, &ctx[2], &err) == 0) {
		names[2] = gpu_ctx_backend(ctx[2]);
		nctx = 3;
	}
	printf("kernels: panorama %dx%d (%s); C reference on 1 and %d threads; %s\n", pano.width,
	       pano.height, o.pano ? o.pano : "synthetic", o.threads,
	       nctx == 3 ? names[2]
			 : "cuda: skipped (no CUDA device: no GPU/driver on this machine, or a CPU-only build)");

	/* Perspective view, the shard's case: 1280x704, 90 degrees, bilinear, antialiased. */
	double view_s[3] = {-1, -1, -1};
	{
		bk_view b;
		memset(&b, 0, sizeof(b));
		b.src = &pano;
		b.dst = (gpu_image){malloc(1280 * 704 * 3), 1280, 704, 3, 1280 * 3};
		static const struct {
			const char *name;
			double pitch;
			int bicubic;
		} vc[3] = {{"view 1280x704 bilinear", 0, 0},
			   {"view 1280x704 bicubic", 0, 1},
			   {"view 1280x704 pitch 60", 60, 0}};
		for (int k = 0; k < 3 && b.dst.data; k++) {
			gpu_view_pinhole(&b.v, 1280, 704, 90);
			gpu_view_rotation(30, vc[k].pitch, 0, b.v.R);
			b.v.interp = vc[k].bicubic ? GPU_INTERP_BICUBIC : GPU_INTERP_BILINEAR;
			for (int c = 0; c < nctx; c++) {
				b.ctx = ctx[c];
				double s = bk_time(bk_view_call, &b, o.seconds);
				if (k == 0)
					view_s[c] = s;
				bk_line(vc[k].name, names[c], s, 1280.0 * 704, "MP/s");
				bk_dev(ctx[c], 2.0 * 1280 * 704 * 3, "output + as much source, 1:1 scale");
			}
		}
		free(b.dst.data);
	}
	if (o.peer) {
		const char *peer_pano = o.pano;
		if (!peer_pano) {
			snprintf(ppm, sizeof(ppm), "/tmp/svtwin-bench-pano-%d.ppm", (int)getpid());
			if (bk_write_ppm(ppm, &pano) == 0)
				peer_pano = ppm;
		}
		double ms_remap = 0, ms = peer_pano ? bk_peer(peer_pano, 2 * o.seconds, &ms_remap) : -1;
		if (ms < 0) {
			printf("view vs cv2.remap: peer failed (needs /usr/bin/python3 with cv2, numpy; "
			       "run from the source tree or set SVT_BENCH_SCRIPTS)\n");
		} else {
			printf("peer cv2.remap 1 thread: %.3f ms (numpy map + remap), %.3f ms remap alone\n",
			       ms, ms_remap);
			for (int c = 0; c < nctx; c++)
				if (view_s[c] > 0)
					printf("view vs cv2.remap (map+remap, 1 thread): %s %.2fx\n", names[c],
					       ms / (view_s[c] * 1e3));
		}
	}
	/* Cubemap: six 1024 faces. */
	{
		bk_cube b;
		memset(&b, 0, sizeof(b));
		b.src = &pano;
		b.size = 1024;
		int ok = 1;
		for (int f = 0; f < GPU_CUBE_FACES; f++) {
			b.faces[f] = (gpu_image){malloc(1024 * 1024 * 3), 1024, 1024, 3, 1024 * 3};
			ok = ok && b.faces[f].data;
		}
		for (int c = 0; ok && c < nctx; c++) {
			b.ctx = ctx[c];
			bk_line("cubemap 6x1024", names[c], bk_time(bk_cube_call, &b, o.seconds),
				6.0 * 1024 * 1024, "MP/s");
			bk_dev(ctx[c], 2.0 * 6 * 1024 * 1024 * 3, "output + as much source");
		}
		for (int f = 0; f < GPU_CUBE_FACES; f++)
			free(b.faces[f].data);
	}
	/* Tensors from a 1280x704 frame (the shard's size). */
	{
		gpu_image fr = {pano.data, 1280, 704, 3, pano.stride};
		void *dst = malloc((size_t)1280 * 704 * 3 * 4);
		static const struct {
			const char *name;
			int w, h;
			gpu_dtype t;
		} tc[2] = {{"tensor 1280x704 f16 CHW", 1280, 704, GPU_DTYPE_F16},
			   {"tensor ->224x224 bf16", 224, 224, GPU_DTYPE_BF16}};
		for (int k = 0; k < 2 && dst; k++) {
			bk_tensor b = {NULL, &fr, tc[k].w, tc[k].h, tc[k].t, dst};
			for (int c = 0; c < nctx; c += (c == 0 ? 2 : 1)) { /* no threaded C path */
				b.ctx = ctx[c];
				bk_line(tc[k].name, names[c], bk_time(bk_tensor_call, &b, o.seconds),
					(double)tc[k].w * tc[k].h, "MP/s");
				bk_dev(ctx[c], 1280.0 * 704 * 3 + 3.0 * tc[k].w * tc[k].h * 2,
				       "source frame + output");
			}
		}
		free(dst);
	}
	/* Depth view: the shard's 1280x704 frame from a half-size (2048x1024) uint16 mm depth
	 * panorama, nearest; a ground plane 2.5 m below with the upper half invalid (sky). */
	{
		bk_dview b;
		memset(&b, 0, sizeof(b));
		uint16_t *dp = malloc((size_t)2048 * 1024 * sizeof(uint16_t));
		b.dst = malloc((size_t)1280 * 704 * sizeof(float));
		for (int y = 0; dp && y < 1024; y++) {
			double lat = 3.14159265358979323846 * (0.5 - (y + 0.5) / 1024);
			double r = lat < -1e-3 ? 2.5 / sin(-lat) : 0;
			for (int x = 0; x < 2048; x++)
				dp[(size_t)y * 2048 + x] = (uint16_t)(r > 0 && r < 65 ? lround(r * 1000) : 0);
		}
		b.d = (gpu_depth){dp, 2048, 1024, 2048 * sizeof(uint16_t), 0, 0.001, 0.1, 65,
				  GPU_DEPTH_EQUIRECT, 0, 0, 0, 0, 1};
		gpu_view_pinhole(&b.v, 1280, 704, 90);
		gpu_view_rotation(30, -20, 0, b.v.R);
		for (int c = 0; dp && b.dst && c < nctx; c += (c == 0 ? 2 : 1)) { /* no threaded C path */
			b.ctx = ctx[c];
			bk_line("depth view 1280x704 nearest", names[c],
				bk_time(bk_dview_call, &b, o.seconds), 1280.0 * 704, "MP/s");
			bk_dev(ctx[c], 1280.0 * 704 * (4 + 2), "output + as many uint16 source samples");
		}
		free(dp);
		free(b.dst);
	}
	/* Plucker maps: 16 cameras at pixel resolution, f16. */
	{
		int n = 16;
		double *w2c = calloc(16 * (size_t)n, sizeof(double)), *K = calloc(4 * (size_t)n, sizeof(double));
		void *dst = malloc((size_t)n * 6 * 1280 * 704 * 2);
		for (int k = 0; w2c && K && k < n; k++) {
			double R[9];
			gpu_view_rotation(k * 22.5, 0, 0, R);
			for (int i = 0; i < 3; i++) {
				for (int j = 0; j < 3; j++)
					w2c[16 * k + 4 * i + j] = R[3 * j + i];
				w2c[16 * k + 4 * i + 3] = k * 0.5;
			}
			w2c[16 * k + 15] = 1;
			K[4 * k] = K[4 * k + 1] = 640;
			K[4 * k + 2] = 640;
			K[4 * k + 3] = 352;
		}
		bk_rays b = {NULL, w2c, K, n, 1280, 704, 1, dst};
		for (int c = 0; dst && w2c && K && c < nctx; c += (c == 0 ? 2 : 1)) {
			b.ctx = ctx[c];
			bk_line("plucker 16x1280x704 f16", names[c], bk_time(bk_rays_call, &b, o.seconds),
				16.0 * 1280 * 704, "Mrays/s");
			bk_dev(ctx[c], 16.0 * 6 * 1280 * 704 * 2, "output");
		}
		free(w2c);
		free(K);
		free(dst);
	}
	bk_warp_densify(ctx, names, nctx, o.seconds);
	/* Point sets: depth 2048x1024 equirect (mm) -> points; those points (about 1.7 M) to
	 * voxels, a BEV raster and a sparse depth map. */
	{
		bk_pts b;
		memset(&b, 0, sizeof(b));
		int W = 2048, H = 1024;
		uint16_t *dm = malloc(sizeof(uint16_t) * W * H);
		b.cap = (size_t)W * H;
		b.out = malloc(sizeof(gpu_point) * b.cap);
		b.pts = malloc(sizeof(gpu_point) * b.cap);
		b.occ = malloc(1280 * 704 * 4);
		b.rgb = malloc(1280 * 704 * 3);
		b.ht = malloc(sizeof(float) * 1280 * 704);
		if (dm && b.out && b.pts && b.occ && b.rgb && b.ht) {
			/* A street: ground below the horizon (range from a 2.5 m camera height),
			 * walls 12 m to each side, sky empty. */
			for (int y = 0; y < H; y++)
				for (int x = 0; x < W; x++) {
					double d[3];
					gpu_equirect_unproject(x, y, W, H, d);
					double t = 1e9;
					if (d[1] > 1e-3)
						t = 2.5 / d[1];
					if (fabs(d[0]) > 1e-3 && 12 / fabs(d[0]) < t)
						t = 12 / fabs(d[0]);
					dm[(size_t)y * W + x] = t < 60 ? (uint16_t)(t * 1000) : 0;
				}
			b.d = (gpu_depth){dm, W, H, (size_t)W * 2, 0, 0.001, 0.3, 60, GPU_DEPTH_EQUIRECT,
					  0, 0, 0, 0, 1};
			b.color = &pano;
			double I[16] = {1, 0, 0, 0, 0, 0, -1, 2.5, 0, 1, 0, 0, 0, 0, 0, 1};
			memcpy(b.w2c, I, sizeof(I));
			b.K[0] = b.K[1] = 640;
			b.K[2] = 640;
			b.K[3] = 352;
			b.bev = (gpu_bev){0, 0, 0, 0.1, 512, 512, -1, 10};
			double npx = (double)W * H;
			for (int c = 0; c < nctx; c += (c == 0 ? 2 : 1)) {
				b.ctx = ctx[c];
				bk_line("depth->points 2048x1024", names[c],
					bk_time(bk_depth_call, &b, o.seconds), npx, "Mpx/s");
			}
			if (gpu_depth_to_points_ref(&b.d, &pano, b.w2c, b.pts, b.cap, &b.n, &err) == 0) {
				char lab[64];
				snprintf(lab, sizeof(lab), "voxel 0.1m (%.1fM pts)", b.n / 1e6);
				for (int c = 0; c < nctx; c += (c == 0 ? 2 : 1)) {
					b.ctx = ctx[c];
					bk_line(lab, names[c], bk_time(bk_voxel_call, &b, o.seconds),
						(double)b.n, "Mpts/s");
				}
				for (int c = 0; c < nctx; c += (c == 0 ? 2 : 1)) {
					b.ctx = ctx[c];
					bk_line("bev 512x512", names[c], bk_time(bk_bev_call, &b, o.seconds),
						(double)b.n, "Mpts/s");
				}
				for (int c = 0; c < nctx; c += (c == 0 ? 2 : 1)) {
					b.ctx = ctx[c];
					bk_line("points->depth 1280x704", names[c],
						bk_time(bk_zbuf_call, &b, o.seconds), (double)b.n, "Mpts/s");
				}
			}
		}
		free(dm);
		free(b.out);
		free(b.pts);
		free(b.occ);
		free(b.rgb);
		free(b.ht);
	}
	if (bench_clip(ctx[0], nctx == 3 ? ctx[2] : NULL, o.seconds))
		goto done;
	if (nctx < 3)
		printf("cuda: no figures (no CUDA device usable in this run)\n");
	rc = 0;
done:
	if (ppm[0])
		unlink(ppm);
	for (int c = 0; c < 3; c++)
		gpu_ctx_destroy(ctx[c]);
	if (o.pano)
		ingest_image_free(&img);
	else
		free(pano.data);
	ingest_decoder_destroy(dec);
	return rc;
}
