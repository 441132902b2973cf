/* ds_densify_twin.c: depth for keyframes without a depth map, from the twin's fused points
 * (for --densify warp): the points of the tiles around the clip, moved into the job's ENU
 * frame, z-buffered into each keyframe view (gpu_points_to_depth), and the gaps between
 * points filled with the nearest surface around them. Pixels no point explains stay NaN: the
 * warp does not splat them (docs/shard-format.md "Densified clips"). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dataset/ds_internal.h"

/* Gap filling: a pixel without depth takes the nearest (smallest) depth of its 3x3
 * neighbours, this many times (the fused points are voxels of a few centimetres: a few
 * pixels apart near the camera). */
#define DS_FILL_PASSES 3

static void fill_gaps(float *d, float *tmp, int W, int H)
{
	for (int p = 0; p < DS_FILL_PASSES; p++) {
		memcpy(tmp, d, (size_t)W * H * sizeof(float));
		for (int y = 0; y < H; y++)
			for (int x = 0; x < W; x++) {
				if (!isnan(tmp[(size_t)y * W + x]))
					continue;
				float best = NAN;
				for (int dy = -1; dy <= 1; dy++)
					for (int dx = -1; dx <= 1; dx++) {
						int u = x + dx, v = y + dy;
						if (u < 0 || v < 0 || u >= W || v >= H)
							continue;
						float z = tmp[(size_t)v * W + u];
						if (!isnan(z) && (isnan(best) || z < best))
							best = z;
					}
				d[(size_t)y * W + x] = best;
			}
	}
}

int ds_densify_twin_depth(dataset_job *j, const double *w2c, const double *K,
			  const double *proj, int T, int W, int H, float *depth, svt_err *err)
{
	if (!j->store)
		return svt_err_set(err, SVT_E_NOTFOUND, "no twin store");
	double tile = twin_store_tile_m(j->store), origin[3], lat0, lon0, h0;
	twin_store_origin(j->store, origin);
	geo_enu_origin(j->enu, &lat0, &lon0, &h0);
	int same = origin[0] == lat0 && origin[1] == lon0 && origin[2] == h0;
	/* The tiles within one tile of any keyframe (views reach a few tens of metres). */
	int tx0 = 1 << 30, ty0 = 1 << 30, tx1 = -(1 << 30), ty1 = -(1 << 30);
	for (int k = 0; k < T; k++) {
		int tx = (int)floor(proj[3 * k] / tile), ty = (int)floor(proj[3 * k + 1] / tile);
		tx0 = tx - 1 < tx0 ? tx - 1 : tx0, tx1 = tx + 1 > tx1 ? tx + 1 : tx1;
		ty0 = ty - 1 < ty0 ? ty - 1 : ty0, ty1 = ty + 1 > ty1 ? ty + 1 : ty1;
	}
	gpu_point *all = NULL;
	size_t n = 0, cap = 0;
	double *xyz = NULL;
	geo_enu *store_enu = NULL;
	float *tmp = malloc((size_t)W * H * sizeof(float));
	int rc = tmp ? SVT_OK : svt_err_set(err, SVT_E_NOMEM, "twin depth");
	for (int tx = tx0; !rc && tx <= tx1; tx++)
		for (int ty = ty0; !rc && ty <= ty1; ty++) {
			gpu_point *p = NULL;
			size_t m = 0;
			if ((rc = twin_store_tile_points(j->store, tx, ty, &p, &m, err)))
				break;
			if (m && n + m > cap) {
				size_t nc = (n + m) * 2;
				gpu_point *q = realloc(all, nc * sizeof(*q));
				if (!q) {
					rc = svt_err_set(err, SVT_E_NOMEM, "%zu twin points", nc);
					free(p);
					break;
				}
				all = q, cap = nc;
			}
			if (m)
				memcpy(all + n, p, m * sizeof(*p));
			n += m;
			free(p);
		}
	if (!rc && n == 0)
		rc = svt_err_set(err, SVT_E_NOTFOUND, "the twin holds no points around the clip");
	if (!rc && !same) {
		/* Store ENU -> geodetic -> the job's ENU. */
		xyz = malloc(3 * n * sizeof(double));
		if (!xyz)
			rc = svt_err_set(err, SVT_E_NOMEM, "%zu twin points", n);
		for (size_t i = 0; !rc && i < n; i++)
			xyz[3 * i] = all[i].x, xyz[3 * i + 1] = all[i].y, xyz[3 * i + 2] = all[i].z;
		if (!rc && !(rc = geo_enu_create(origin[0], origin[1], origin[2], &store_enu, err)) &&
		    !(rc = geo_enu_inverse(store_enu, xyz, xyz + 1, xyz + 2, 3 * sizeof(double), n, err)))
			rc = geo_enu_forward(j->enu, xyz, xyz + 1, xyz + 2, 3 * sizeof(double), n, err);
		for (size_t i = 0; !rc && i < n; i++)
			all[i].x = (float)xyz[3 * i], all[i].y = (float)xyz[3 * i + 1],
			all[i].z = (float)xyz[3 * i + 2];
	}
	size_t px = (size_t)W * H;
	for (int k = 0; !rc && k < T; k++) {
		float *d = depth + k * px;
		if ((rc = gpu_points_to_depth(j->gpu, all, n, w2c + 16 * k, K + 4 * k, W, H, 0.3, d,
					      NULL, err)))
			break;
		for (size_t i = 0; i < px; i++)
			if (!(d[i] > 0))
				d[i] = NAN;
		fill_gaps(d, tmp, W, H);
	}
	geo_enu_destroy(store_enu);
	free(xyz);
	free(all);
	free(tmp);
	return rc;
}
