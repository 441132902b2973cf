/* bench_clip.c: the parts of `svtwin bench kernels` that measure more than one frame:
 *   cases  every case of bench/cases.c (the parity tests' table) on each path, with its
 *          distance to the plain reference, so a figure is never shown for wrong output;
 *   clip   a whole clip of distinct panoramas (far more than the GPU's L2 holds), four views
 *          a frame in one call: kernel time over the clip and the bandwidth it implies;
 *   decode the same clip as JPEG, decoded in batches: libjpeg-turbo on one thread against
 *          the GPU decoder (nvJPEG hardware or hybrid) of the same bytes, frames left on the
 *          device, then the views read in place;
 *   depth  depth views and depth -> points (step 4, as the job) over the clip's distinct
 *          depth panoramas: kernel time over the clip and the bandwidth it implies;
 *   batch  the job's clip seam (gpu_frame_batch: decode, view, depth view, points) over the
 *          clip, against the decode alone of the same bytes (target on CUDA: >= 0.8 of it).
 * The CUDA lines print only with a usable device; otherwise the line says it was skipped. */
#include <glob.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <turbojpeg.h>

#include "bench/bench.h"
#include "bench/cases.h"

static void line(const char *what, const char *path, double s, double units, const char *unit)
{
	if (s < 0)
		printf("%-30s %-12s failed\n", what, path);
	else
		printf("%-30s %-12s %9.3f ms %10.1f %s\n", what, path, s * 1e3, units / s, unit);
}

static void bench_cases(gpu_ctx *cpu, gpu_ctx *cuda)
{
	printf("-- cases (bench/cases.c; tolerance vs the plain reference in brackets)\n");
	for (int n = 0; n < bc_n_view_cases; n++) {
		const bc_view_case *c = &bc_view_cases[n];
		gpu_image src = bc_view_source(c);
		gpu_image ref = {malloc((size_t)c->w * c->h * c->ch), c->w, c->h, c->ch,
				 (size_t)c->w * c->ch};
		gpu_image got = {malloc((size_t)c->w * c->h * c->ch), c->w, c->h, c->ch,
				 (size_t)c->w * c->ch};
		gpu_view v;
		svt_err err = {0};
		if (!src.data || !ref.data || !got.data)
			goto next;
		bc_view_setup(c, &v);
		double t0 = svt_now();
		if (gpu_view_from_equirect_plain(&src, &v, &ref, &err))
			goto next;
		double t_plain = svt_now() - t0;
		printf("view %-40s plain %8.1f ms\n", c->name, t_plain * 1e3);
		gpu_ctx *ctx[2] = {cpu, cuda};
		for (int p = 0; p < 2; p++) {
			if (!ctx[p]) {
				printf("  %-12s skipped (no CUDA device)\n", "cuda");
				continue;
			}
			double best = 1e30;
			for (int r = 0; r < 5; r++) {
				t0 = svt_now();
				if (gpu_view_from_equirect(ctx[p], &src, &v, &got, &err))
					break;
				double t = svt_now() - t0;
				best = t < best ? t : best;
			}
			bc_diff d = bc_view_compare(c, &got, &ref);
			printf("  %-12s %8.3f ms  max |d| %.0f LSB, %zu over [%d LSB, %.2f %%]%s\n",
			       gpu_ctx_backend(ctx[p]), best * 1e3, d.max_abs, d.over, c->max_lsb,
			       100 * c->frac_over, d.over <= c->frac_over * d.total ? "" : "  OUT OF TOLERANCE");
		}
	next:
		bc_free(src.data);
		free(ref.data);
		free(got.data);
	}
}

static const float BC_MEAN[4] = {0.485f, 0.456f, 0.406f, 0.5f};
static const float BC_STD[4] = {0.229f, 0.224f, 0.225f, 0.25f};

/* Prints one path's time and distance for a dtype output. */
static void dtype_line(const char *path, double s, bc_diff d)
{
	printf("  %-12s %8.3f ms  max |d| %.3g, %zu of %zu over%s\n", path, s * 1e3, d.max_abs,
	       d.over, d.total, d.over ? "  OUT OF TOLERANCE" : "");
}

static void bench_cases_more(gpu_ctx *cpu, gpu_ctx *cuda)
{
	gpu_ctx *ctx[2] = {cpu, cuda};
	svt_err err = {0};
	for (int n = 0; n < bc_n_tensor_cases; n++) {
		const bc_tensor_case *c = &bc_tensor_cases[n];
		bc_view_case vc = {c->name, c->W, c->H, c->ch, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
		gpu_image src = bc_view_source(&vc);
		size_t elems = (size_t)c->ch * c->out_w * c->out_h;
		void *ref = malloc(elems * 4), *got = malloc(elems * 4);
		const float *m = c->normalise ? BC_MEAN : NULL, *sd = c->normalise ? BC_STD : NULL;
		double t0 = svt_now();
		if (src.data && ref && got &&
		    !gpu_tensor_from_image_plain(&src, c->out_w, c->out_h, m, sd, c->dtype, ref, &err)) {
			printf("tensor %-38s plain %8.1f ms\n", c->name, (svt_now() - t0) * 1e3);
			for (int p = 0; p < 2; p++) {
				if (!ctx[p]) {
					printf("  %-12s skipped (no CUDA device)\n", "cuda");
					continue;
				}
				t0 = svt_now();
				if (gpu_tensor_from_image(ctx[p], &src, c->out_w, c->out_h, m, sd, c->dtype,
							  got, &err))
					continue;
				dtype_line(gpu_ctx_backend(ctx[p]), svt_now() - t0,
					   bc_dtype_compare(c->dtype, got, ref, elems, c->rel, c->abs));
			}
		}
		bc_free(src.data);
		free(ref);
		free(got);
	}
	for (int n = 0; n < bc_n_plucker_cases; n++) {
		const bc_plucker_case *c = &bc_plucker_cases[n];
		size_t elems = (size_t)c->n * 6 * (c->img_w / c->patch) * (c->img_h / c->patch);
		double *w2c = malloc(sizeof(double) * 16 * c->n), *K = malloc(sizeof(double) * 4 * c->n);
		void *ref = malloc(elems * 4), *got = malloc(elems * 4);
		if (w2c && K && ref && got) {
			bc_plucker_setup(c, w2c, K);
			double t0 = svt_now();
			if (!gpu_plucker_rays_plain(w2c, K, c->n, c->img_w, c->img_h, c->patch, c->dtype,
						    ref, &err)) {
				printf("plucker %-37s plain %8.1f ms\n", c->name, (svt_now() - t0) * 1e3);
				for (int p = 0; p < 2; p++) {
					if (!ctx[p]) {
						printf("  %-12s skipped (no CUDA device)\n", "cuda");
						continue;
					}
					t0 = svt_now();
					if (gpu_plucker_rays(ctx[p], w2c, K, c->n, c->img_w, c->img_h, c->patch,
							     c->dtype, got, &err))
						continue;
					dtype_line(gpu_ctx_backend(ctx[p]), svt_now() - t0,
						   bc_dtype_compare(c->dtype, got, ref, elems, c->rel, c->abs));
				}
			}
		}
		free(w2c);
		free(K);
		free(ref);
		free(got);
	}
}

/* A distinct synthetic panorama per frame (the scene shifted and re-noised), so no frame is a
 * cache hit of the previous one. */
static void clip_frame(gpu_image *p, int f)
{
	uint32_t s = 2654435761u * (uint32_t)(f + 1);
	for (int y = 0; y < p->height; y++)
		for (int x = 0; x < p->width; x++) {
			uint8_t *q = p->data + (size_t)y * p->stride + (size_t)x * 3;
			int xs = (x + 61 * f) % p->width;
			s ^= s << 13;
			s ^= s >> 17;
			s ^= s << 5;
			double base = 120 + 80 * sin(xs * 0.004) * cos(y * 0.006);
			int win = ((xs / 13) + (y / 17)) % 3 == 0 && y > p->height / 4 && y < p->height / 2;
			for (int k = 0; k < 3; k++) {
				double v = (win ? 40 : base + 20 * k) + (double)(s % 16) - 8;
				q[k] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
			}
		}
}

enum { CLIP_N = 16, CLIP_VIEWS = 4, CLIP_W = 4096, CLIP_H = 2048, VIEW_W = 1280, VIEW_H = 704 };

static void clip_views(gpu_view v[CLIP_VIEWS])
{
	for (int k = 0; k < CLIP_VIEWS; k++) {
		gpu_view_pinhole(&v[k], VIEW_W, VIEW_H, 90);
		gpu_view_rotation(90.0 * k, 0, 0, v[k].R);
	}
}

/* Depth panorama f of the clip (DEPTH_W x DEPTH_H, mm): a street of walls 8 to 14 m to each
 * side (moving with f) over a ground 2.5 m below, the sky empty. */
enum { DEPTH_W = 2048, DEPTH_H = 1024 };
static void clip_depth_frame(uint16_t *dm, int f)
{
	double wall = 8 + 0.4 * f;
	for (int y = 0; y < DEPTH_H; y++)
		for (int x = 0; x < DEPTH_W; x++) {
			double d[3];
			gpu_equirect_unproject(x, y, DEPTH_W, DEPTH_H, d);
			double t = 1e9;
			if (d[1] > 1e-3)
				t = 2.5 / d[1];
			if (fabs(d[0]) > 1e-3 && wall / fabs(d[0]) < t)
				t = wall / fabs(d[0]);
			dm[(size_t)y * DEPTH_W + x] = t < 65 ? (uint16_t)(t * 1000) : 0;
		}
}

/* The kernel time summed over the clip's calls and the bandwidth bytes imply. */
static void dev_line(gpu_ctx *cuda, double dev_ms, double bytes, const char *model)
{
	gpu_device_info di;
	gpu_ctx_device_info(cuda, &di);
	if (dev_ms <= 0) {
		printf("%-30s device time not available\n", "");
		return;
	}
	double gbs = bytes / (dev_ms * 1e-3) / 1e9;
	printf("%-30s kernels %.3f ms over the clip, %.0f GB/s = %.2f of %.0f GB/s peak (bytes: %s)\n",
	       "", dev_ms, gbs, di.mem_bw_gbs > 0 ? gbs / di.mem_bw_gbs : 0, di.mem_bw_gbs, model);
}

/* Depth views, depth -> points and the frame batch over the clip (see the file comment). */
static int clip_depth_and_batch(gpu_ctx *cpu, gpu_ctx *cuda, gpu_image *frames,
				const uint8_t *const *data, const size_t *len,
				const double decode_s[2], svt_err *err)
{
	int rc = 0;
	uint16_t *dm[CLIP_N] = {0};
	gpu_depth d[CLIP_N];
	float *z = malloc((size_t)CLIP_N * VIEW_W * VIEW_H * sizeof(float));
	uint8_t *views = malloc((size_t)CLIP_N * VIEW_W * VIEW_H * 3);
	size_t cap = (size_t)(DEPTH_W / 4) * (DEPTH_H / 4);
	gpu_point *pts = malloc((size_t)CLIP_N * cap * sizeof(gpu_point));
	gpu_frame_batch *fb = NULL;
	gpu_frame fr[CLIP_N];
	gpu_view v;
	double w2c[16] = {1, 0, 0, 0, 0, 0, -1, 2.5, 0, 1, 0, 0, 0, 0, 0, 1};
	gpu_view_pinhole(&v, VIEW_W, VIEW_H, 90);
	gpu_view_rotation(30, 0, 0, v.R);
	if (!z || !views || !pts) {
		rc = svt_err_set(err, SVT_E_NOMEM, "no memory for the clip's depth");
		goto cleanup;
	}
	for (int f = 0; f < CLIP_N; f++) {
		if (!(dm[f] = malloc(sizeof(uint16_t) * DEPTH_W * DEPTH_H))) {
			rc = svt_err_set(err, SVT_E_NOMEM, "no memory for the clip's depth");
			goto cleanup;
		}
		clip_depth_frame(dm[f], f);
		d[f] = (gpu_depth){dm[f], DEPTH_W, DEPTH_H, DEPTH_W * 2, 0, 0.001, 0.3, 65.535,
				   GPU_DEPTH_EQUIRECT, 0, 0, 0, 0, 4};
	}
	printf("-- depth: %d distinct %dx%d uint16 depth panoramas (%.0f MB), view %dx%d, points "
	       "step 4\n", CLIP_N, DEPTH_W, DEPTH_H, CLIP_N * (double)DEPTH_W * DEPTH_H * 2 / 1e6,
	       VIEW_W, VIEW_H);
	gpu_ctx *ctx[2] = {cpu, cuda};
	for (int p = 0; p < 2; p++) {
		const char *path = p ? "cuda" : "cpu 1t";
		if (!ctx[p]) {
			printf("%-30s cuda: skipped (no CUDA device)\n", "clip depth views / points");
			continue;
		}
		double t0 = svt_now(), dev_ms = 0;
		for (int f = 0; f < CLIP_N; f++) {
			d[f].step = 1;
			rc = gpu_view_depth_from_equirect(ctx[p], &d[f], &v, z + (size_t)f * VIEW_W * VIEW_H,
							  VIEW_W * sizeof(float), err);
			d[f].step = 4;
			if (rc)
				goto cleanup;
			dev_ms += gpu_ctx_last_device_ms(ctx[p]);
		}
		line("clip depth views", path, svt_now() - t0, CLIP_N * (double)VIEW_W * VIEW_H / 1e6,
		     "MP/s");
		if (p)
			dev_line(cuda, dev_ms, CLIP_N * (double)VIEW_W * VIEW_H * (4 + 2),
				 "output + as many uint16 source samples");
		size_t np = 0, total = 0;
		t0 = svt_now();
		dev_ms = 0;
		for (int f = 0; f < CLIP_N; f++) {
			if ((rc = gpu_depth_to_points(ctx[p], &d[f], &frames[f], w2c, pts + (size_t)f * cap,
						      cap, &np, err)))
				goto cleanup;
			total += np;
			dev_ms += gpu_ctx_last_device_ms(ctx[p]);
		}
		line("clip depth->points step 4", path, svt_now() - t0, total / 1e6, "Mpts/s");
		if (p)
			dev_line(cuda, dev_ms,
				 2.0 * CLIP_N * (double)cap * (2 + 3) + total * 16.0,
				 "two passes over the sampled depth and colour + the points written");
	}
	/* The job's clip seam, end to end over the clip, against the decode alone. */
	for (int p = 0; p < 2; p++) {
		const char *path = p ? "cuda" : "cpu 1t";
		if (!ctx[p]) {
			printf("%-30s cuda: skipped (no CUDA device)\n", "frame batch");
			continue;
		}
		if ((rc = gpu_frame_batch_create(ctx[p], CLIP_N, &fb, err)))
			goto cleanup;
		for (int f = 0; f < CLIP_N; f++) {
			memset(&fr[f], 0, sizeof(fr[f]));
			fr[f].jpeg = data[f];
			fr[f].jpeg_len = len[f];
			fr[f].view = v;
			fr[f].out = (gpu_image){views + (size_t)f * VIEW_W * VIEW_H * 3, VIEW_W, VIEW_H, 3,
						(size_t)VIEW_W * 3};
			fr[f].depth = &d[f];
			fr[f].vdepth = z + (size_t)f * VIEW_W * VIEW_H;
			fr[f].vdepth_stride = VIEW_W * sizeof(float);
			memcpy(fr[f].w2c, w2c, sizeof(w2c));
			fr[f].pts = pts + (size_t)f * cap;
			fr[f].cap = cap;
		}
		/* Pinned once, as the job pins its clip buffers. */
		gpu_ctx_host_pin(ctx[p], views, (size_t)CLIP_N * VIEW_W * VIEW_H * 3);
		double best = 1e30;
		for (int r = 0; r < 3 && !rc; r++) {
			double t0 = svt_now();
			rc = gpu_frame_batch_run(fb, fr, CLIP_N, err);
			double t = svt_now() - t0;
			best = t < best ? t : best;
		}
		gpu_ctx_host_unpin(ctx[p], views);
		if (rc)
			goto cleanup;
		int bad = 0;
		for (int f = 0; f < CLIP_N; f++)
			bad += fr[f].rc != 0;
		printf("%-30s %-12s %9.3f ms %10.1f pano/s (%s)%s\n", "frame batch (decode+view+depth+pts)",
		       path, best * 1e3, CLIP_N / best, gpu_frame_batch_describe(fb),
		       bad ? "; SOME FRAMES FAILED" : "");
		if (decode_s[p] > 0)
			printf("%-30s %-12s %.2f of the decode alone's pano/s%s\n", "frame batch / decode",
			       path, decode_s[p] / best, p ? " (target >= 0.8)" : "");
		gpu_frame_batch_destroy(fb);
		fb = NULL;
	}
cleanup:
	gpu_frame_batch_destroy(fb);
	for (int f = 0; f < CLIP_N; f++)
		free(dm[f]);
	free(z);
	free(views);
	free(pts);
	return rc;
}

int bench_clip(gpu_ctx *cpu, gpu_ctx *cuda, double seconds)
{
	(void)seconds;
	int rc = 0;
	gpu_image frames[CLIP_N] = {{0}};
	unsigned char *jpg[CLIP_N] = {0};
	unsigned long jl[CLIP_N] = {0};
	gpu_image out[CLIP_VIEWS];
	gpu_view v[CLIP_VIEWS];
	gpu_jpeg *jd = NULL;
	svt_err err = {0};
	tjhandle tj = NULL;

	bench_cases(cpu, cuda);
	bench_cases_more(cpu, cuda);

	printf("-- clip: %d distinct %dx%d panoramas (%.0f MB), %d views %dx%d each\n", CLIP_N,
	       CLIP_W, CLIP_H, CLIP_N * (double)CLIP_W * CLIP_H * 3 / 1e6, CLIP_VIEWS, VIEW_W, VIEW_H);
	clip_views(v);
	for (int k = 0; k < CLIP_VIEWS; k++) {
		out[k] = (gpu_image){malloc((size_t)VIEW_W * VIEW_H * 3), VIEW_W, VIEW_H, 3,
				     (size_t)VIEW_W * 3};
		if (!out[k].data) {
			rc = svt_err_set(&err, SVT_E_NOMEM, "no memory for the clip");
			goto done;
		}
	}
	for (int f = 0; f < CLIP_N; f++) {
		frames[f] = (gpu_image){malloc((size_t)CLIP_W * CLIP_H * 3), CLIP_W, CLIP_H, 3,
					(size_t)CLIP_W * 3};
		if (!frames[f].data) {
			rc = svt_err_set(&err, SVT_E_NOMEM, "no memory for the clip");
			goto done;
		}
		clip_frame(&frames[f], f);
	}
	/* Views from host panoramas: C on one frame (scaled), CUDA over the whole clip. */
	{
		double t0 = svt_now();
		if ((rc = gpu_views_from_image(cpu, &frames[0], 0, v, CLIP_VIEWS, out, &err)))
			goto done;
		line("clip views (C, 1 frame)", gpu_ctx_backend(cpu), svt_now() - t0,
		     CLIP_VIEWS * (double)VIEW_W * VIEW_H / 1e6, "MP/s");
	}
	if (cuda) {
		double t0 = svt_now(), dev_ms = 0;
		for (int f = 0; f < CLIP_N; f++) {
			if ((rc = gpu_views_from_image(cuda, &frames[f], 0, v, CLIP_VIEWS, out, &err)))
				goto done;
			dev_ms += gpu_ctx_last_device_ms(cuda);
		}
		double wall = svt_now() - t0;
		gpu_device_info di;
		gpu_ctx_device_info(cuda, &di);
		/* bytes: each panorama read about once + every view written and read back once */
		double bytes = CLIP_N * ((double)CLIP_W * CLIP_H * 3 +
					 CLIP_VIEWS * 2.0 * VIEW_W * VIEW_H * 3);
		line("clip views (host src)", "cuda", wall,
		     CLIP_N * CLIP_VIEWS * (double)VIEW_W * VIEW_H / 1e6, "MP/s");
		printf("%-30s kernels %.3f ms over the clip, %.0f GB/s = %.2f of %.0f GB/s peak\n", "",
		       dev_ms, bytes / (dev_ms * 1e-3) / 1e9,
		       di.mem_bw_gbs > 0 ? bytes / (dev_ms * 1e-3) / 1e9 / di.mem_bw_gbs : 0,
		       di.mem_bw_gbs);
	} else {
		printf("%-30s cuda: skipped (no CUDA device)\n", "clip views (host src)");
	}

	/* Decode: the clip as JPEG (quality 90, 4:2:0, as cameras write), in batches of CLIP_N. */
	if (!(tj = tjInitCompress())) {
		rc = svt_err_set(&err, SVT_E_NOMEM, "libjpeg-turbo: %s", tjGetErrorStr2(NULL));
		goto done;
	}
	double jbytes = 0;
	for (int f = 0; f < CLIP_N; f++) {
		if (tjCompress2(tj, frames[f].data, CLIP_W, 0, CLIP_H, TJPF_RGB, &jpg[f], &jl[f],
				TJSAMP_420, 90, 0) < 0) {
			rc = svt_err_set(&err, SVT_E_FORMAT, "libjpeg-turbo: %s", tjGetErrorStr2(tj));
			goto done;
		}
		jbytes += jl[f];
	}
	const uint8_t *data[CLIP_N];
	size_t len[CLIP_N];
	for (int f = 0; f < CLIP_N; f++) {
		data[f] = jpg[f];
		len[f] = jl[f];
	}
	gpu_jpeg_frame fr[CLIP_N];
	gpu_ctx *dctx[2] = {cpu, cuda};
	double decode_s[2] = {-1, -1};
	for (int p = 0; p < 2; p++) {
		if (!dctx[p]) {
			printf("%-30s cuda: skipped (no CUDA device; nvJPEG not measured)\n",
			       "decode batch");
			continue;
		}
		if ((rc = gpu_jpeg_create(dctx[p], CLIP_N, &jd, &err)))
			goto done;
		double best = 1e30;
		for (int r = 0; r < 3; r++) {
			double t0 = svt_now();
			if ((rc = gpu_jpeg_decode_batch(jd, data, len, CLIP_N, fr, &err)))
				goto done;
			double t = svt_now() - t0;
			best = t < best ? t : best;
		}
		int bad = 0;
		for (int f = 0; f < CLIP_N; f++)
			bad += fr[f].rc != 0;
		decode_s[p] = bad ? -1 : best;
		printf("%-30s %-12s %9.3f ms %10.1f pano/s (%.1f MB of JPEG; %s%s)\n", "decode batch",
		       p ? "cuda" : "cpu 1t", best * 1e3, CLIP_N / best, jbytes / 1e6,
		       gpu_jpeg_describe(jd), bad ? "; SOME FRAMES FAILED" : "");
		if (p == 1 && !bad) {
			/* decode + views with the panoramas never leaving the device */
			double t0 = svt_now();
			if ((rc = gpu_jpeg_decode_batch(jd, data, len, CLIP_N, fr, &err)))
				goto done;
			for (int f = 0; f < CLIP_N && !rc; f++)
				rc = gpu_views_from_image(cuda, &fr[f].img, fr[f].on_device, v, CLIP_VIEWS,
							  out, &err);
			if (rc)
				goto done;
			line("decode + views (on device)", "cuda", svt_now() - t0, CLIP_N, "pano/s");
		}
		gpu_jpeg_destroy(jd);
		jd = NULL;
	}
	if ((rc = clip_depth_and_batch(cpu, cuda, frames, data, len, decode_s, &err)))
		goto done;
done:
	if (rc)
		printf("clip: failed: %s\n", err.msg);
	gpu_jpeg_destroy(jd);
	if (tj)
		tjDestroy(tj);
	for (int f = 0; f < CLIP_N; f++) {
		free(frames[f].data);
		if (jpg[f])
			tjFree(jpg[f]);
	}
	for (int k = 0; k < CLIP_VIEWS; k++)
		free(out[k].data);
	return rc ? 1 : 0;
}

int bench_decode_files(gpu_ctx *cpu, gpu_ctx *cuda, const char *dir)
{
	enum { BATCH = 16 };
	int rc = 0;
	glob_t g;
	char pat[4200];
	svt_err err = {0};
	uint8_t **buf = NULL;
	size_t *blen = NULL;
	gpu_jpeg *jd = NULL;
	gpu_jpeg_frame fr[BATCH];
	snprintf(pat, sizeof(pat), "%s/*.jpg", dir);
	memset(&g, 0, sizeof(g));
	if (glob(pat, 0, NULL, &g) != 0 || g.gl_pathc == 0) {
		printf("decode-only: no *.jpg in %s\n", dir);
		globfree(&g);
		return 1;
	}
	size_t n = g.gl_pathc;
	double mb = 0;
	buf = calloc(n, sizeof(*buf));
	blen = calloc(n, sizeof(*blen));
	if (!buf || !blen) {
		rc = svt_err_set(&err, SVT_E_NOMEM, "no memory for %zu files", n);
		goto cleanup;
	}
	for (size_t i = 0; i < n; i++) {
		if ((rc = svt_file_read(g.gl_pathv[i], (size_t)1 << 30, &buf[i], &blen[i], &err)))
			goto cleanup;
		mb += blen[i] / 1e6;
	}
	gpu_ctx *ctx[2] = {cpu, cuda};
	for (int p = 0; p < 2; p++) {
		if (!ctx[p]) {
			printf("decode-only cuda skipped (no CUDA device)\n");
			continue;
		}
		if ((rc = gpu_jpeg_create(ctx[p], BATCH, &jd, &err)))
			goto cleanup;
		size_t bad = 0;
		double t0 = svt_now();
		for (size_t i = 0; i < n; i += BATCH) {
			int m = (int)(n - i < BATCH ? n - i : BATCH);
			if ((rc = gpu_jpeg_decode_batch(jd, (const uint8_t *const *)buf + i, blen + i, m, fr,
							&err)))
				goto cleanup;
			for (int k = 0; k < m; k++)
				bad += fr[k].rc != 0;
		}
		double t = svt_now() - t0;
		/* One parsable line per path (scripts/device-check.sh reads the cuda one). */
		printf("decode-only %s %.3f s %zu files %.1f MB %.2f pano/s (%s)%s\n",
		       p ? "cuda" : "cpu-1t", t, n, mb, n / t, gpu_jpeg_describe(jd),
		       bad ? "; SOME FILES FAILED" : "");
		gpu_jpeg_destroy(jd);
		jd = NULL;
	}
cleanup:
	if (rc)
		printf("decode-only: failed: %s\n", err.msg);
	gpu_jpeg_destroy(jd);
	for (size_t i = 0; buf && i < n; i++)
		free(buf[i]);
	free(buf);
	free(blen);
	globfree(&g);
	return rc ? 1 : 0;
}
