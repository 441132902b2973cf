/* points.c: point-set kernels (depth -> points, voxel downsampling on a hash grid, bird's-eye
 * rasters, points -> sparse depth with a z-buffer): C references and dispatchers. The per
 * element math lives in gpu_math.h, shared with the CUDA kernels in points.cu; every result
 * that involves a race on the GPU (voxel sums, z-buffer, highest point) is decided with
 * integer keys, so both paths give the same bytes. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gpu/gpu_internal.h"
#include "gpu/points_math.h"
#ifdef SVT_HAVE_CUDA
#include "gpu/gpu_cuda.h"
#endif

/* ---- Depth -> points ------------------------------------------------------------------------ */

int gpu_depth_check(const gpu_depth *d, const gpu_image *color, const double w2c[16],
		    const gpu_point *out, size_t *n_out, svt_err *err)
{
	if (!d || !d->data || !w2c || !out || !n_out)
		return svt_err_set(err, SVT_E_INPUT, "depth: NULL argument");
	if (d->width < 1 || d->height < 1 || d->step < 1 ||
	    d->stride < (size_t)d->width * (d->is_float ? 4 : 2))
		return svt_err_set(err, SVT_E_INPUT, "depth: bad map %dx%d step %d stride %zu",
				   d->width, d->height, d->step, d->stride);
	if (!(d->scale > 0) || !(d->max_m >= d->min_m))
		return svt_err_set(err, SVT_E_INPUT, "depth: bad scale or range");
	if (d->model != GPU_DEPTH_PINHOLE && d->model != GPU_DEPTH_EQUIRECT)
		return svt_err_set(err, SVT_E_INPUT, "depth: unknown model %d", (int)d->model);
	if (d->model == GPU_DEPTH_PINHOLE && (!(d->fx > 0) || !(d->fy > 0)))
		return svt_err_set(err, SVT_E_INPUT, "depth: bad intrinsics");
	if (color && (!color->data || color->width < 1 || color->height < 1 ||
		      color->channels < 1 || color->channels > 4))
		return svt_err_set(err, SVT_E_INPUT, "depth: bad colour image");
	return 0;
}


int gpu_depth_to_points_ref(const gpu_depth *d, const gpu_image *color, const double w2c[16],
			    gpu_point *out, size_t cap, size_t *n_out, svt_err *err)
{
	int rc = gpu_depth_check(d, color, w2c, out, n_out, err);
	if (rc)
		return rc;
	gm_depth_params P;
	gm_depth_params_fill(&P, d, color, w2c);
	/* Column and row terms tabulated once, the table the CUDA kernel reads too. */
	double *tl = malloc(sizeof(double) * 2 * ((size_t)P.ow + (size_t)P.oh));
	if (!tl)
		return svt_err_set(err, SVT_E_NOMEM, "depth: no memory");
	gm_depth_trig_fill(&P, tl);
	size_t n = 0;
	for (int j = 0; j < P.oh; j++) {
		for (int i = 0; i < P.ow; i++) {
			gpu_point p;
			if (!gm_depth_point_tab(&P, tl, i, j, &p))
				continue;
			if (n == cap) {
				*n_out = 0;
				free(tl);
				return svt_err_set(err, SVT_E_LIMIT,
						   "depth: more than %zu points (raise the cap or the step)",
						   cap);
			}
			out[n++] = p;
		}
	}
	free(tl);
	*n_out = n;
	return 0;
}

int gpu_depth_to_points_src(gpu_ctx *ctx, const gpu_depth *d, const gpu_image *color,
			    int color_on_device, const double w2c[16], gpu_point *out, size_t cap,
			    size_t *n_out, svt_err *err)
{
	if (color_on_device && !gpu_ctx_is_cuda(ctx))
		return svt_err_set(err, SVT_E_INPUT, "depth: a device colour image needs a CUDA context");
#ifdef SVT_HAVE_CUDA
	if (ctx && ctx->cu) {
		int rc = gpu_depth_check(d, color, w2c, out, n_out, err);
		if (rc)
			return rc;
		rc = gpu_cuda_depth_to_points(ctx->cu, d, color, color ? color_on_device : 0, w2c, out,
					      cap, n_out, err);
		/* A device colour cannot be read on the C path: its failure stands. */
		if (color_on_device || !gpu_ctx_fallback(ctx, rc, "depth->points", err))
			return rc;
	}
#endif
	(void)ctx;
	return gpu_depth_to_points_ref(d, color, w2c, out, cap, n_out, err);
}

int gpu_depth_to_points(gpu_ctx *ctx, const gpu_depth *d, const gpu_image *color,
			const double w2c[16], gpu_point *out, size_t cap, size_t *n_out,
			svt_err *err)
{
	return gpu_depth_to_points_src(ctx, d, color, 0, w2c, out, cap, n_out, err);
}

/* ---- Voxel downsampling --------------------------------------------------------------------- */

/* A key and where its voxel is, for the sort. */
typedef struct vox_kv {
	unsigned long long key;
	size_t i;
} vox_kv;

/* Sorts the m voxels by key: an LSD radix sort on 8-bit digits (one counting pass for all
 * eight histograms; a digit every key shares is skipped: the high ones, mostly), then one
 * gather of the 64-byte voxels. Keys are unique (one voxel a key), so the order is total. */
static int vox_sort(gm_vox *v, size_t m, svt_err *err)
{
	int rc = 0;
	size_t (*hist)[256] = NULL;
	vox_kv *a = NULL, *b = NULL;
	gm_vox *tmp = NULL;
	if (m < 2)
		return 0;
	hist = calloc(8, sizeof(*hist));
	a = malloc(m * sizeof(*a));
	b = malloc(m * sizeof(*b));
	tmp = malloc(m * sizeof(*tmp));
	if (!hist || !a || !b || !tmp) {
		rc = svt_err_set(err, SVT_E_NOMEM, "voxel: no memory to sort %zu voxels", m);
		goto cleanup;
	}
	for (size_t k = 0; k < m; k++) {
		a[k].key = v[k].key;
		a[k].i = k;
		for (int d = 0; d < 8; d++)
			hist[d][(v[k].key >> (8 * d)) & 255]++;
	}
	for (int d = 0; d < 8; d++) {
		size_t pos[256], sum = 0;
		if (hist[d][(a[0].key >> (8 * d)) & 255] == m)
			continue;
		for (int x = 0; x < 256; x++) {
			pos[x] = sum;
			sum += hist[d][x];
		}
		for (size_t k = 0; k < m; k++)
			b[pos[(a[k].key >> (8 * d)) & 255]++] = a[k];
		vox_kv *t = a;
		a = b;
		b = t;
	}
	for (size_t k = 0; k < m; k++)
		tmp[k] = v[a[k].i];
	memcpy(v, tmp, m * sizeof(*v));
cleanup:
	free(hist);
	free(a);
	free(b);
	free(tmp);
	return rc;
}

int gpu_voxel_finish(gm_vox *v, size_t m, int sorted, double voxel_m, gpu_point *out,
		     uint32_t *counts, size_t cap, size_t *n_out, svt_err *err)
{
	if (m > cap) {
		*n_out = 0;
		return svt_err_set(err, SVT_E_LIMIT, "voxel: %zu voxels do not fit %zu points", m, cap);
	}
	int rc = sorted ? 0 : vox_sort(v, m, err);
	if (rc) {
		*n_out = 0;
		return rc;
	}
	for (size_t k = 0; k < m; k++) {
		const gm_vox *e = &v[k];
		long long ix[3] = {(long long)(e->key & ((1ULL << GM_VOX_BITS) - 1)) - GM_VOX_HALF,
				   (long long)((e->key >> GM_VOX_BITS) & ((1ULL << GM_VOX_BITS) - 1)) -
					   GM_VOX_HALF,
				   (long long)(e->key >> (2 * GM_VOX_BITS)) - GM_VOX_HALF};
		double cnt = (double)e->cnt;
		float p[3];
		for (int a = 0; a < 3; a++)
			p[a] = (float)(((double)ix[a] + ((double)e->s[a] / cnt + 0.5) / 65536.0) * voxel_m);
		out[k].x = p[0];
		out[k].y = p[1];
		out[k].z = p[2];
		out[k].r = (uint8_t)((e->c[0] + e->cnt / 2) / e->cnt);
		out[k].g = (uint8_t)((e->c[1] + e->cnt / 2) / e->cnt);
		out[k].b = (uint8_t)((e->c[2] + e->cnt / 2) / e->cnt);
		out[k].a = (uint8_t)(e->cnt > 255 ? 255 : e->cnt);
		if (counts)
			counts[k] = (uint32_t)e->cnt;
	}
	*n_out = m;
	return 0;
}

static int voxel_check(const gpu_point *in, size_t n, double voxel_m, const gpu_point *out,
		       const size_t *n_out, svt_err *err)
{
	if ((!in && n) || !out || !n_out)
		return svt_err_set(err, SVT_E_INPUT, "voxel: NULL argument");
	if (!(voxel_m > 0) || !isfinite(voxel_m))
		return svt_err_set(err, SVT_E_INPUT, "voxel: bad voxel size %g", voxel_m);
	if (n > ((size_t)1 << 31))
		return svt_err_set(err, SVT_E_LIMIT, "voxel: %zu points, at most 2^31", n);
	return 0;
}

static int voxel_ref(const gpu_point *in, size_t n, double voxel_m, gpu_point *out,
		     uint32_t *counts, size_t cap, size_t *n_out, size_t *n_dropped, svt_err *err)
{
	int rc = voxel_check(in, n, voxel_m, out, n_out, err);
	if (rc)
		return rc;
	/* The hash table holds only keys and accumulator indices (12 bytes a slot, load <= 1/2),
	 * the accumulators are appended densely: far less memory to touch than 64-byte slots. */
	size_t tab = 16;
	while (tab < 2 * n)
		tab <<= 1;
	unsigned long long *keys = malloc(sizeof(*keys) * tab);
	uint32_t *idx = malloc(sizeof(*idx) * tab);
	size_t vcap = 1024, m = 0, dropped = 0;
	gm_vox *V = malloc(sizeof(*V) * vcap);
	if (!keys || !idx || !V) {
		rc = svt_err_set(err, SVT_E_NOMEM, "voxel: no memory for %zu slots", tab);
		goto done;
	}
	for (size_t k = 0; k < tab; k++)
		keys[k] = GM_VOX_EMPTY;
	double inv_v = 1.0 / voxel_m;
	for (size_t k = 0; k < n; k++) {
		unsigned long long key;
		unsigned q[3];
		if (!gm_voxel_key(in[k].x, in[k].y, in[k].z, inv_v, &key, q)) {
			dropped++;
			continue;
		}
		size_t h = (size_t)gm_hash64(key) & (tab - 1);
		while (keys[h] != GM_VOX_EMPTY && keys[h] != key)
			h = (h + 1) & (tab - 1);
		if (keys[h] == GM_VOX_EMPTY) {
			if (m == vcap) {
				gm_vox *nv = realloc(V, sizeof(*V) * vcap * 2);
				if (!nv) {
					rc = svt_err_set(err, SVT_E_NOMEM, "voxel: no memory for %zu voxels",
							 vcap * 2);
					goto done;
				}
				V = nv;
				vcap *= 2;
			}
			keys[h] = key;
			idx[h] = (uint32_t)m;
			memset(&V[m], 0, sizeof(V[m]));
			V[m++].key = key;
		}
		gm_vox *e = &V[idx[h]];
		e->cnt++;
		for (int a = 0; a < 3; a++)
			e->s[a] += q[a];
		e->c[0] += in[k].r;
		e->c[1] += in[k].g;
		e->c[2] += in[k].b;
	}
	rc = gpu_voxel_finish(V, m, 0, voxel_m, out, counts, cap, n_out, err);
	if (n_dropped)
		*n_dropped = dropped;
done:
	free(keys);
	free(idx);
	free(V);
	return rc;
}

int gpu_voxel_downsample_ref(const gpu_point *in, size_t n, double voxel_m, gpu_point *out,
			     size_t cap, size_t *n_out, size_t *n_dropped, svt_err *err)
{
	return voxel_ref(in, n, voxel_m, out, NULL, cap, n_out, n_dropped, err);
}

int gpu_voxel_downsample(gpu_ctx *ctx, const gpu_point *in, size_t n, double voxel_m,
			 gpu_point *out, size_t cap, size_t *n_out, size_t *n_dropped,
			 svt_err *err)
{
	return gpu_voxel_downsample_counts(ctx, in, n, voxel_m, out, NULL, cap, n_out, n_dropped,
					   err);
}

int gpu_voxel_downsample_counts(gpu_ctx *ctx, const gpu_point *in, size_t n, double voxel_m,
				gpu_point *out, uint32_t *counts, size_t cap, size_t *n_out,
				size_t *n_dropped, svt_err *err)
{
#ifdef SVT_HAVE_CUDA
	if (ctx && ctx->cu && n > 0) {
		int rc = voxel_check(in, n, voxel_m, out, n_out, err);
		if (rc)
			return rc;
		void *vox = NULL;
		size_t m = 0, dropped = 0;
		rc = gpu_cuda_voxel_accumulate(ctx->cu, in, n, 1.0 / voxel_m, &vox, &m, &dropped, err);
		if (!gpu_ctx_fallback(ctx, rc, "voxel", err)) {
			if (!rc)
				/* Sorted on the device (CUB radix sort). */
				rc = gpu_voxel_finish(vox, m, 1, voxel_m, out, counts, cap, n_out,
						      err);
			if (n_dropped)
				*n_dropped = dropped;
			free(vox);
			return rc;
		}
		free(vox);
	}
#endif
	(void)ctx;
	return voxel_ref(in, n, voxel_m, out, counts, cap, n_out, n_dropped, err);
}

/* ---- Bird's-eye rasters --------------------------------------------------------------------- */

int gpu_bev_check(const gpu_point *pts, size_t n, const gpu_bev *b, svt_err *err)
{
	if ((!pts && n) || !b)
		return svt_err_set(err, SVT_E_INPUT, "bev: NULL argument");
	if (b->width < 1 || b->height < 1 || b->width > (1 << 15) || b->height > (1 << 15) ||
	    !(b->res_m > 0) || !isfinite(b->cx) || !isfinite(b->cy) || !isfinite(b->heading_deg))
		return svt_err_set(err, SVT_E_INPUT, "bev: bad raster %dx%d res %g", b->width,
				   b->height, b->res_m);
	if (n >= 0xffffffffu)
		return svt_err_set(err, SVT_E_LIMIT, "bev: %zu points, at most 2^32 - 1", n);
	return 0;
}

int gpu_bev_raster_ref(const gpu_point *pts, size_t n, const gpu_bev *b, uint8_t *occ,
		       float *height, uint8_t *rgb, svt_err *err)
{
	int rc = gpu_bev_check(pts, n, b, err);
	if (rc)
		return rc;
	size_t cells = (size_t)b->width * b->height;
	unsigned *cnt = calloc(cells, sizeof(*cnt));
	unsigned long long *best = calloc(cells, sizeof(*best));
	if (!cnt || !best) {
		rc = svt_err_set(err, SVT_E_NOMEM, "bev: no memory for %zu cells", cells);
		goto done;
	}
	double h = b->heading_deg * M_PI / 180.0, sh = sin(h), ch = cos(h);
	for (size_t k = 0; k < n; k++) {
		int i, j;
		if (!gm_bev_cell(pts[k].x, pts[k].y, pts[k].z, b->cx, b->cy, sh, ch, 1.0 / b->res_m,
				 b->width, b->height, b->z_min, b->z_max, &i, &j))
			continue;
		size_t c = (size_t)j * b->width + i;
		cnt[c]++;
		/* key 0 means empty: a real key has the point index + 1 in its low word. */
		unsigned long long key = ((unsigned long long)gm_float_key(pts[k].z) << 32) | (k + 1);
		if (key > best[c])
			best[c] = key;
	}
	for (size_t c = 0; c < cells; c++) {
		const gpu_point *p = best[c] ? &pts[(best[c] & 0xffffffffu) - 1] : NULL;
		if (occ)
			occ[c] = (uint8_t)(cnt[c] > 255 ? 255 : cnt[c]);
		if (height)
			height[c] = p ? p->z : NAN;
		if (rgb) {
			rgb[3 * c] = p ? p->r : 0;
			rgb[3 * c + 1] = p ? p->g : 0;
			rgb[3 * c + 2] = p ? p->b : 0;
		}
	}
done:
	free(cnt);
	free(best);
	return rc;
}

int gpu_bev_raster(gpu_ctx *ctx, const gpu_point *pts, size_t n, const gpu_bev *b, uint8_t *occ,
		   float *height, uint8_t *rgb, svt_err *err)
{
#ifdef SVT_HAVE_CUDA
	if (ctx && ctx->cu && n > 0) {
		int rc = gpu_bev_check(pts, n, b, err);
		if (rc)
			return rc;
		rc = gpu_cuda_bev(ctx->cu, pts, n, b, occ, height, rgb, err);
		if (!gpu_ctx_fallback(ctx, rc, "bev", err))
			return rc;
	}
#endif
	(void)ctx;
	return gpu_bev_raster_ref(pts, n, b, occ, height, rgb, err);
}

/* ---- Points -> sparse depth (z-buffer) ------------------------------------------------------ */

int gpu_zbuf_check(const gpu_point *pts, size_t n, const double w2c[16], const double K[4],
		   int width, int height, const float *depth, svt_err *err)
{
	if ((!pts && n) || !w2c || !K || !depth)
		return svt_err_set(err, SVT_E_INPUT, "zbuffer: NULL argument");
	if (width < 1 || height < 1 || width > (1 << 16) || height > (1 << 16))
		return svt_err_set(err, SVT_E_INPUT, "zbuffer: bad size %dx%d", width, height);
	if (!(K[0] > 0) || !(K[1] > 0))
		return svt_err_set(err, SVT_E_INPUT, "zbuffer: bad intrinsics");
	if (n >= 0xffffffffu)
		return svt_err_set(err, SVT_E_LIMIT, "zbuffer: %zu points, at most 2^32 - 1", n);
	return 0;
}

int gpu_points_to_depth_ref(const gpu_point *pts, size_t n, const double w2c[16],
			    const double K[4], int width, int height, double near_m,
			    float *depth, uint8_t *rgb, svt_err *err)
{
	int rc = gpu_zbuf_check(pts, n, w2c, K, width, height, depth, err);
	if (rc)
		return rc;
	if (!(near_m >= 0))
		return svt_err_set(err, SVT_E_INPUT, "zbuffer: near plane %g must be >= 0", near_m);
	size_t px = (size_t)width * height;
	unsigned long long *zb = malloc(sizeof(*zb) * px);
	if (!zb)
		return svt_err_set(err, SVT_E_NOMEM, "zbuffer: no memory");
	for (size_t k = 0; k < px; k++)
		zb[k] = ~0ULL;
	for (size_t k = 0; k < n; k++) {
		int i, j;
		float z;
		if (!gm_project(w2c, K, near_m, width, height, pts[k].x, pts[k].y, pts[k].z, &i, &j,
				&z))
			continue;
		unsigned long long key = ((unsigned long long)GM_F2U(z) << 32) | k;
		size_t c = (size_t)j * width + i;
		if (key < zb[c])
			zb[c] = key;
	}
	for (size_t c = 0; c < px; c++) {
		int hit = zb[c] != ~0ULL;
		depth[c] = hit ? GM_U2F((unsigned)(zb[c] >> 32)) : 0.0f;
		if (rgb) {
			const gpu_point *p = hit ? &pts[zb[c] & 0xffffffffu] : NULL;
			rgb[3 * c] = p ? p->r : 0;
			rgb[3 * c + 1] = p ? p->g : 0;
			rgb[3 * c + 2] = p ? p->b : 0;
		}
	}
	free(zb);
	return 0;
}

int gpu_points_to_depth(gpu_ctx *ctx, const gpu_point *pts, size_t n, const double w2c[16],
			const double K[4], int width, int height, double near_m, float *depth,
			uint8_t *rgb, svt_err *err)
{
#ifdef SVT_HAVE_CUDA
	if (ctx && ctx->cu && n > 0) {
		int rc = gpu_zbuf_check(pts, n, w2c, K, width, height, depth, err);
		if (!rc && !(near_m >= 0))
			rc = svt_err_set(err, SVT_E_INPUT, "zbuffer: near plane %g must be >= 0", near_m);
		if (rc)
			return rc;
		rc = gpu_cuda_points_to_depth(ctx->cu, pts, n, w2c, K, width, height, near_m, depth,
					      rgb, err);
		if (!gpu_ctx_fallback(ctx, rc, "points->depth", err))
			return rc;
	}
#endif
	(void)ctx;
	return gpu_points_to_depth_ref(pts, n, w2c, K, width, height, near_m, depth, rgb, err);
}
