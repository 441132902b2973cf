/* points.cu: point-set kernels on the device, running the gpu_math.h / points_math.h code of
 * the references (points.c). Races are settled with integer atomics (64-bit keys for the
 * z-buffer and the highest point, integer sums for voxels), so the output equals the
 * reference's byte for byte. */
#include <stdlib.h>
#include <string.h>

#include <cub/device/device_radix_sort.cuh>

#include "gpu/cuda_common.cuh"
extern "C" {
#include "gpu/points_math.h"
}

#define FINISH_ON_ERROR                                                                     \
	if (rc) {                                                                           \
		cudaStreamSynchronize(c->up);                                               \
		(void)cudaGetLastError();                                                   \
	}

/* ---- Depth -> points: per-row counts, a host scan, then an ordered write ------------------ */

/* One block per output row: threads take 256 consecutive pixels at a time; a block-wide scan
 * of the valid flags (warp ballots) gives each point its place, so the output keeps the
 * reference's row-major order. count_only: store the row's count instead. */
__global__ void depth_rows_kernel(gm_depth_params P, const double *tab,
				  const unsigned long long *row_off, unsigned *row_cnt, gpu_point *out,
				  int count_only)
{
	__shared__ unsigned warp_tot[8];
	int j = blockIdx.x, lane = threadIdx.x & 31, wid = threadIdx.x >> 5;
	unsigned long long base = count_only ? 0 : row_off[j];
	for (int i0 = 0; i0 < P.ow; i0 += 256) {
		int i = i0 + threadIdx.x;
		gpu_point p;
		int ok = i < P.ow && gm_depth_point_tab(&P, tab, i, j, &p);
		unsigned ball = __ballot_sync(0xffffffffu, ok);
		if (lane == 0)
			warp_tot[wid] = __popc(ball);
		__syncthreads();
		unsigned before = 0, total = 0;
		for (int w = 0; w < 8; w++) {
			before += w < wid ? warp_tot[w] : 0;
			total += warp_tot[w];
		}
		before += __popc(ball & ((1u << lane) - 1u));
		if (ok && !count_only)
			out[base + before] = p;
		base += total;
		__syncthreads();
	}
	if (count_only && threadIdx.x == 0)
		row_cnt[j] = (unsigned)base;
}

extern "C" int gpu_cuda_depth_to_points(gpu_cuda *c, const gpu_depth *d, const gpu_image *color,
					int color_on_device, const double w2c[16], gpu_point *out,
					size_t cap, size_t *n_out, svt_err *err)
{
	int rc = 0;
	float count_ms = 0;
	gm_depth_params P;
	size_t drow = (size_t)d->width * (d->is_float ? 4 : 2), dbytes = drow * d->height;
	size_t crow = color ? (size_t)color->width * color->channels : 0;
	size_t cbytes = crow * (color ? color->height : 0);
	unsigned *cnt = NULL;
	unsigned long long *off = NULL, total = 0;
	unsigned char *dd, *dc;
	double *tab = NULL, *d_tab;
	gm_depth_params_fill(&P, d, color, w2c);
	*n_out = 0;
	size_t rows = (size_t)P.oh;
	size_t tab_bytes = sizeof(double) * 2 * ((size_t)P.ow + rows);
	size_t tab_at = (rows * (sizeof(unsigned) + sizeof(unsigned long long)) + 16 + 15) & ~(size_t)15;
	size_t aux = tab_at + tab_bytes;
	cnt = (unsigned *)malloc(rows * sizeof(unsigned));
	off = (unsigned long long *)malloc(rows * sizeof(unsigned long long));
	tab = (double *)malloc(tab_bytes);
	if (!cnt || !off || !tab) {
		rc = svt_err_set(err, SVT_E_NOMEM, "depth: no memory");
		goto done;
	}
	/* The trig table the C reference reads too (points_math.h), computed here with libm. */
	gm_depth_trig_fill(&P, tab);
	if (color_on_device)
		cbytes = 0; /* read where it is */
	if ((rc = gpu_cuda_buf_reserve(&c->d_in, dbytes + cbytes + 16, 0, err)) ||
	    (rc = gpu_cuda_buf_reserve(&c->d_aux[0], aux, 0, err)))
		goto done;
	/* Depth and colour packed one after the other in d_in (rows copied tight). */
	dd = (unsigned char *)c->d_in.p;
	dc = color_on_device ? color->data : dd + dbytes;
	d_tab = (double *)((unsigned char *)c->d_aux[0].p + tab_at);
	{
		gpu_image dimg = {(uint8_t *)d->data, (int)(drow), d->height, 1, d->stride};
		if ((rc = gpu_cuda_upload_image_to(c, &dimg, dd, err)))
			goto done;
		if (color && !color_on_device && (rc = gpu_cuda_upload_image_to(c, color, dc, err)))
			goto done;
		if ((rc = gpu_cuda_upload_bytes(c, d_tab, tab, tab_bytes, err)))
			goto done;
	}
	P.data = dd;
	P.stride = drow;
	P.color = color ? dc : NULL;
	P.cstride = color_on_device ? color->stride : crow;
	GPU_CUDA_TIME_START(c);
	depth_rows_kernel<<<(unsigned)rows, 256, 0, c->up>>>(P, d_tab, NULL,
							     (unsigned *)c->d_aux[0].p, NULL, 1);
	CUDA_CK(cudaGetLastError());
	GPU_CUDA_TIME_STOP(c);
	CUDA_CK(cudaMemcpyAsync(cnt, c->d_aux[0].p, rows * sizeof(unsigned), cudaMemcpyDeviceToHost,
				c->up));
	CUDA_CK(cudaStreamSynchronize(c->up));
	gpu_cuda_time_read(c);
	count_ms = c->last_ms; /* the count pass; the write pass is added below */
	for (size_t j = 0; j < rows; j++) {
		off[j] = total;
		total += cnt[j];
	}
	if (total > cap) {
		rc = svt_err_set(err, SVT_E_LIMIT, "depth: more than %zu points (raise the cap or the step)",
				 cap);
		goto done;
	}
	if ((rc = gpu_cuda_buf_reserve(&c->d_out, total * sizeof(gpu_point) + 16, 0, err)) ||
	    (rc = gpu_cuda_buf_reserve(&c->h_out, total * sizeof(gpu_point) + 16, 1, err)))
		goto done;
	{
		unsigned long long *d_off =
			(unsigned long long *)((unsigned char *)c->d_aux[0].p + rows * sizeof(unsigned));
		d_off = (unsigned long long *)(((uintptr_t)d_off + 7) & ~(uintptr_t)7);
		if ((rc = gpu_cuda_upload_bytes(c, d_off, off, rows * sizeof(unsigned long long), err)))
			goto done;
		GPU_CUDA_TIME_START(c);
		depth_rows_kernel<<<(unsigned)rows, 256, 0, c->up>>>(P, d_tab, d_off, NULL,
								     (gpu_point *)c->d_out.p, 0);
	}
	CUDA_CK(cudaGetLastError());
	GPU_CUDA_TIME_STOP(c);
	CUDA_CK(cudaMemcpyAsync(c->h_out.p, c->d_out.p, total * sizeof(gpu_point),
				cudaMemcpyDeviceToHost, c->up));
	CUDA_CK(cudaStreamSynchronize(c->up));
	gpu_cuda_time_read(c);
	c->last_ms += count_ms;
	memcpy(out, c->h_out.p, total * sizeof(gpu_point));
	*n_out = (size_t)total;
done:
	FINISH_ON_ERROR
	free(cnt);
	free(off);
	free(tab);
	return rc;
}

/* ---- Voxels: open-addressing hash grid with integer atomics -------------------------------- */

__global__ void vox_init_kernel(gm_vox *T, size_t tab)
{
	size_t k = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
	if (k < tab) {
		T[k].key = GM_VOX_EMPTY;
		T[k].cnt = 0;
		for (int a = 0; a < 3; a++)
			T[k].s[a] = T[k].c[a] = 0;
	}
}

__global__ void vox_add_kernel(const gpu_point *in, size_t n, double inv_v, gm_vox *T,
			       size_t mask, unsigned long long *dropped)
{
	size_t k = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
	if (k >= n)
		return;
	gpu_point p = in[k];
	unsigned long long key;
	unsigned q[3];
	if (!gm_voxel_key(p.x, p.y, p.z, inv_v, &key, q)) {
		atomicAdd(dropped, 1ULL);
		return;
	}
	size_t h = (size_t)gm_hash64(key) & mask;
	for (;;) {
		unsigned long long prev = atomicCAS(&T[h].key, GM_VOX_EMPTY, key);
		if (prev == GM_VOX_EMPTY || prev == key)
			break;
		h = (h + 1) & mask;
	}
	atomicAdd(&T[h].cnt, 1ULL);
	for (int a = 0; a < 3; a++)
		atomicAdd(&T[h].s[a], (unsigned long long)q[a]);
	atomicAdd(&T[h].c[0], (unsigned long long)p.r);
	atomicAdd(&T[h].c[1], (unsigned long long)p.g);
	atomicAdd(&T[h].c[2], (unsigned long long)p.b);
}

__global__ void vox_compact_kernel(const gm_vox *T, size_t tab, gm_vox *out,
				   unsigned long long *m)
{
	size_t k = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
	if (k < tab && T[k].key != GM_VOX_EMPTY)
		out[atomicAdd(m, 1ULL)] = T[k];
}

__global__ void vox_keys_kernel(const gm_vox *C, size_t m, unsigned long long *keys,
				unsigned *idx)
{
	size_t k = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
	if (k < m) {
		keys[k] = C[k].key;
		idx[k] = (unsigned)k;
	}
}

__global__ void vox_gather_kernel(const gm_vox *C, const unsigned *idx, size_t m, gm_vox *out)
{
	size_t k = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
	if (k < m)
		out[k] = C[idx[k]];
}

extern "C" int gpu_cuda_voxel_accumulate(gpu_cuda *c, const gpu_point *in, size_t n,
					 double inv_v, void **vox, size_t *m_out,
					 size_t *n_dropped, svt_err *err)
{
	int rc = 0;
	size_t tab = 16, m = 0;
	float acc_ms = 0;
	unsigned long long counters[2] = {0, 0}, *d_cnt;
	gm_vox *T, *C;
	*vox = NULL;
	while (tab < 2 * n)
		tab <<= 1;
	if ((rc = gpu_cuda_buf_reserve(&c->d_in, n * sizeof(gpu_point), 0, err)) ||
	    (rc = gpu_cuda_buf_reserve(&c->d_aux[0], tab * sizeof(gm_vox), 0, err)) ||
	    (rc = gpu_cuda_buf_reserve(&c->d_out, n * sizeof(gm_vox), 0, err)) ||
	    (rc = gpu_cuda_buf_reserve(&c->d_aux[1], 2 * sizeof(unsigned long long), 0, err)) ||
	    (rc = gpu_cuda_upload_bytes(c, c->d_in.p, in, n * sizeof(gpu_point), err)))
		goto done;
	T = (gm_vox *)c->d_aux[0].p;
	C = (gm_vox *)c->d_out.p;
	d_cnt = (unsigned long long *)c->d_aux[1].p;
	CUDA_CK(cudaMemsetAsync(d_cnt, 0, 2 * sizeof(unsigned long long), c->up));
	GPU_CUDA_TIME_START(c);
	vox_init_kernel<<<(unsigned)((tab + 255) / 256), 256, 0, c->up>>>(T, tab);
	vox_add_kernel<<<(unsigned)((n + 255) / 256), 256, 0, c->up>>>(
		(const gpu_point *)c->d_in.p, n, inv_v, T, tab - 1, d_cnt + 1);
	vox_compact_kernel<<<(unsigned)((tab + 255) / 256), 256, 0, c->up>>>(T, tab, C, d_cnt);
	CUDA_CK(cudaGetLastError());
	GPU_CUDA_TIME_STOP(c);
	CUDA_CK(cudaMemcpyAsync(counters, d_cnt, sizeof(counters), cudaMemcpyDeviceToHost, c->up));
	CUDA_CK(cudaStreamSynchronize(c->up));
	gpu_cuda_time_read(c);
	m = (size_t)counters[0];
	/* Sorted by key on the device (CUB radix sort of key/index pairs over the key's 63 bits,
	 * then a gather into the hash table's memory, free by now), so the host only converts. */
	if (m > 1) {
		size_t tmp_bytes = 0, kbytes = (m * 8 + 255) & ~(size_t)255,
		       ibytes = (m * 4 + 255) & ~(size_t)255;
		unsigned long long *k_in, *k_out;
		unsigned *i_in, *i_out;
		CUDA_CK(cub::DeviceRadixSort::SortPairs(NULL, tmp_bytes, (unsigned long long *)NULL,
							(unsigned long long *)NULL, (unsigned *)NULL,
							(unsigned *)NULL, (long long)m, 0, 3 * GM_VOX_BITS,
							c->up));
		if ((rc = gpu_cuda_buf_reserve(&c->d_aux[2], 2 * kbytes + 2 * ibytes + tmp_bytes, 0,
					       err)))
			goto done;
		k_in = (unsigned long long *)c->d_aux[2].p;
		k_out = (unsigned long long *)((unsigned char *)k_in + kbytes);
		i_in = (unsigned *)((unsigned char *)k_out + kbytes);
		i_out = (unsigned *)((unsigned char *)i_in + ibytes);
		GPU_CUDA_TIME_START(c);
		vox_keys_kernel<<<(unsigned)((m + 255) / 256), 256, 0, c->up>>>(C, m, k_in, i_in);
		CUDA_CK(cudaGetLastError());
		CUDA_CK(cub::DeviceRadixSort::SortPairs((unsigned char *)i_out + ibytes, tmp_bytes,
							k_in, k_out, i_in, i_out, (long long)m, 0,
							3 * GM_VOX_BITS, c->up));
		vox_gather_kernel<<<(unsigned)((m + 255) / 256), 256, 0, c->up>>>(C, i_out, m, T);
		CUDA_CK(cudaGetLastError());
		GPU_CUDA_TIME_STOP(c);
		C = T;
		CUDA_CK(cudaStreamSynchronize(c->up));
		acc_ms = c->last_ms;
		gpu_cuda_time_read(c);
		c->last_ms += acc_ms;
	}
	*vox = malloc(m * sizeof(gm_vox) + 1);
	if (!*vox) {
		rc = svt_err_set(err, SVT_E_NOMEM, "voxel: no memory for %zu voxels", m);
		goto done;
	}
	CUDA_CK(cudaMemcpy(*vox, C, m * sizeof(gm_vox), cudaMemcpyDeviceToHost));
	*m_out = (size_t)counters[0];
	*n_dropped = (size_t)counters[1];
done:
	FINISH_ON_ERROR
	if (rc) {
		free(*vox);
		*vox = NULL;
	}
	return rc;
}

/* ---- Bird's-eye rasters ----------------------------------------------------------------- */

struct bev_args {
	double cx, cy, sh, ch, inv_res, zmin, zmax;
	int w, h;
};

__global__ void bev_add_kernel(const gpu_point *pts, size_t n, bev_args a, unsigned *cnt,
			       unsigned long long *best)
{
	size_t k = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
	if (k >= n)
		return;
	gpu_point p = pts[k];
	int i, j;
	if (!gm_bev_cell(p.x, p.y, p.z, a.cx, a.cy, a.sh, a.ch, a.inv_res, a.w, a.h, a.zmin, a.zmax,
			 &i, &j))
		return;
	size_t cell = (size_t)j * a.w + i;
	atomicAdd(&cnt[cell], 1u);
	atomicMax(&best[cell], ((unsigned long long)gm_float_key(p.z) << 32) | (k + 1));
}

__global__ void bev_finish_kernel(const gpu_point *pts, const unsigned *cnt,
				  const unsigned long long *best, size_t cells, uint8_t *occ,
				  float *height, uint8_t *rgb)
{
	size_t c = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
	if (c >= cells)
		return;
	const gpu_point *p = best[c] ? &pts[(best[c] & 0xffffffffu) - 1] : NULL;
	occ[c] = (uint8_t)(cnt[c] > 255 ? 255 : cnt[c]);
	height[c] = p ? p->z : __int_as_float(0x7fc00000);
	rgb[3 * c] = p ? p->r : 0;
	rgb[3 * c + 1] = p ? p->g : 0;
	rgb[3 * c + 2] = p ? p->b : 0;
}

extern "C" int gpu_cuda_bev(gpu_cuda *c, const gpu_point *pts, size_t n, const gpu_bev *b,
			    uint8_t *occ, float *height, uint8_t *rgb, svt_err *err)
{
	int rc = 0;
	size_t cells = (size_t)b->width * b->height;
	size_t obytes = cells * (1 + 4 + 3);
	double hd = b->heading_deg * 3.14159265358979323846 / 180.0;
	bev_args a = {b->cx, b->cy, sin(hd), cos(hd), 1.0 / b->res_m, b->z_min, b->z_max, b->width,
		      b->height};
	unsigned *cnt;
	unsigned long long *best;
	unsigned char *o;
	if ((rc = gpu_cuda_buf_reserve(&c->d_in, n * sizeof(gpu_point), 0, err)) ||
	    (rc = gpu_cuda_buf_reserve(&c->d_aux[0], cells * 12 + 16, 0, err)) ||
	    (rc = gpu_cuda_buf_reserve(&c->d_out, obytes, 0, err)) ||
	    (rc = gpu_cuda_buf_reserve(&c->h_out, obytes, 1, err)) ||
	    (rc = gpu_cuda_upload_bytes(c, c->d_in.p, pts, n * sizeof(gpu_point), err)))
		goto done;
	best = (unsigned long long *)c->d_aux[0].p;
	cnt = (unsigned *)(best + cells);
	o = (unsigned char *)c->d_out.p;
	CUDA_CK(cudaMemsetAsync(c->d_aux[0].p, 0, cells * 12, c->up));
	GPU_CUDA_TIME_START(c);
	bev_add_kernel<<<(unsigned)((n + 255) / 256), 256, 0, c->up>>>(
		(const gpu_point *)c->d_in.p, n, a, cnt, best);
	/* Outputs packed as height (float, aligned first), occ, rgb. */
	bev_finish_kernel<<<(unsigned)((cells + 255) / 256), 256, 0, c->up>>>(
		(const gpu_point *)c->d_in.p, cnt, best, cells, o + cells * 4, (float *)o,
		o + cells * 5);
	CUDA_CK(cudaGetLastError());
	GPU_CUDA_TIME_STOP(c);
	CUDA_CK(cudaMemcpyAsync(c->h_out.p, o, obytes, cudaMemcpyDeviceToHost, c->up));
	CUDA_CK(cudaStreamSynchronize(c->up));
	gpu_cuda_time_read(c);
	if (height)
		memcpy(height, c->h_out.p, cells * 4);
	if (occ)
		memcpy(occ, (unsigned char *)c->h_out.p + cells * 4, cells);
	if (rgb)
		memcpy(rgb, (unsigned char *)c->h_out.p + cells * 5, cells * 3);
done:
	FINISH_ON_ERROR
	return rc;
}

/* ---- Points -> sparse depth --------------------------------------------------------------- */

struct zbuf_args {
	double P[16], K[4], near_m;
	int w, h;
};

__global__ void zbuf_add_kernel(const gpu_point *pts, size_t n, zbuf_args a,
				unsigned long long *zb)
{
	size_t k = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
	if (k >= n)
		return;
	gpu_point p = pts[k];
	int i, j;
	float z;
	if (!gm_project(a.P, a.K, a.near_m, a.w, a.h, p.x, p.y, p.z, &i, &j, &z))
		return;
	atomicMin(&zb[(size_t)j * a.w + i], ((unsigned long long)gm_f2u(z) << 32) | k);
}

__global__ void zbuf_finish_kernel(const gpu_point *pts, const unsigned long long *zb,
				   size_t px, float *depth, uint8_t *rgb)
{
	size_t c = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
	if (c >= px)
		return;
	int hit = zb[c] != ~0ULL;
	depth[c] = hit ? gm_u2f((unsigned)(zb[c] >> 32)) : 0.0f;
	const gpu_point *p = hit ? &pts[zb[c] & 0xffffffffu] : NULL;
	rgb[3 * c] = p ? p->r : 0;
	rgb[3 * c + 1] = p ? p->g : 0;
	rgb[3 * c + 2] = p ? p->b : 0;
}

extern "C" int gpu_cuda_points_to_depth(gpu_cuda *c, const gpu_point *pts, size_t n,
					const double w2c[16], const double K[4], int width,
					int height, double near_m, float *depth, uint8_t *rgb,
					svt_err *err)
{
	int rc = 0;
	size_t px = (size_t)width * height, obytes = px * 7;
	zbuf_args a;
	unsigned char *o;
	memcpy(a.P, w2c, sizeof(a.P));
	memcpy(a.K, K, sizeof(a.K));
	a.near_m = near_m;
	a.w = width;
	a.h = height;
	if ((rc = gpu_cuda_buf_reserve(&c->d_in, n * sizeof(gpu_point), 0, err)) ||
	    (rc = gpu_cuda_buf_reserve(&c->d_aux[0], px * 8, 0, err)) ||
	    (rc = gpu_cuda_buf_reserve(&c->d_out, obytes, 0, err)) ||
	    (rc = gpu_cuda_buf_reserve(&c->h_out, obytes, 1, err)) ||
	    (rc = gpu_cuda_upload_bytes(c, c->d_in.p, pts, n * sizeof(gpu_point), err)))
		goto done;
	o = (unsigned char *)c->d_out.p;
	CUDA_CK(cudaMemsetAsync(c->d_aux[0].p, 0xff, px * 8, c->up));
	GPU_CUDA_TIME_START(c);
	zbuf_add_kernel<<<(unsigned)((n + 255) / 256), 256, 0, c->up>>>(
		(const gpu_point *)c->d_in.p, n, a, (unsigned long long *)c->d_aux[0].p);
	zbuf_finish_kernel<<<(unsigned)((px + 255) / 256), 256, 0, c->up>>>(
		(const gpu_point *)c->d_in.p, (const unsigned long long *)c->d_aux[0].p, px,
		(float *)o, o + px * 4);
	CUDA_CK(cudaGetLastError());
	GPU_CUDA_TIME_STOP(c);
	CUDA_CK(cudaMemcpyAsync(c->h_out.p, o, obytes, cudaMemcpyDeviceToHost, c->up));
	CUDA_CK(cudaStreamSynchronize(c->up));
	gpu_cuda_time_read(c);
	memcpy(depth, c->h_out.p, px * 4);
	if (rgb)
		memcpy(rgb, (unsigned char *)c->h_out.p + px * 4, px * 3);
done:
	FINISH_ON_ERROR
	return rc;
}
