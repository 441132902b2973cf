/* points_math.h (private to gpu/): depth -> point per pixel, shared by points.c and points.cu
 * (see gpu_math.h for the rules). Needs gpu.h and gpu_math.h first. */
#ifndef SVT_POINTS_MATH_H
#define SVT_POINTS_MATH_H

typedef struct gm_depth_params {
	const unsigned char *data; /* depth map (host or device memory) */
	size_t stride;
	int W, H, is_float, model, step, ow, oh;
	double scale, min_m, max_m, fx, fy, cx, cy;
	double R[9], t[3];
	const unsigned char *color; /* NULL: white */
	size_t cstride;
	int CW, CH, cch;
} gm_depth_params;

static inline void gm_depth_params_fill(gm_depth_params *P, const gpu_depth *d,
					const gpu_image *color, const double w2c[16])
{
	P->data = (const unsigned char *)d->data;
	P->stride = d->stride;
	P->W = d->width;
	P->H = d->height;
	P->is_float = d->is_float;
	P->model = (int)d->model;
	P->step = d->step;
	P->ow = (d->width + d->step - 1) / d->step;
	P->oh = (d->height + d->step - 1) / d->step;
	P->scale = d->scale;
	P->min_m = d->min_m;
	P->max_m = d->max_m;
	P->fx = d->fx;
	P->fy = d->fy;
	P->cx = d->cx;
	P->cy = d->cy;
	for (int i = 0; i < 3; i++) {
		for (int j = 0; j < 3; j++)
			P->R[3 * i + j] = w2c[4 * i + j];
		P->t[i] = w2c[4 * i + 3];
	}
	P->color = color ? color->data : NULL;
	P->cstride = color ? color->stride : 0;
	P->CW = color ? color->width : 0;
	P->CH = color ? color->height : 0;
	P->cch = color ? color->channels : 0;
}

/* The panorama direction terms of depth pixel column x / row y (equirect model). */
GM_FN void gm_depth_lon(const gm_depth_params *P, int x, double *s, double *c)
{
	double lon = ((x + 0.5) / P->W - 0.5) * 2.0 * 3.14159265358979323846;
	*s = sin(lon);
	*c = cos(lon);
}
GM_FN void gm_depth_lat(const gm_depth_params *P, int y, double *s, double *c)
{
	double lat = (0.5 - (y + 0.5) / P->H) * 3.14159265358979323846;
	*s = sin(lat);
	*c = cos(lat);
}

/* The point of output position (i, j) (depth pixel (i step, j step)); 0 when it has none.
 * slon..clat: gm_depth_lon / gm_depth_lat of that pixel (ignored by the pinhole model), so
 * the C reference can tabulate them per column and row. */
GM_FN int gm_depth_point_t(const gm_depth_params *P, int i, int j, double slon, double clon,
			   double slat, double clat, gpu_point *out)
{
	int x = i * P->step, y = j * P->step;
	const unsigned char *row = P->data + (size_t)y * P->stride;
	double v;
	if (P->is_float) {
		float f;
		memcpy(&f, row + (size_t)x * 4, 4);
		v = (double)f;
	} else {
		unsigned short u;
		memcpy(&u, row + (size_t)x * 2, 2);
		v = (double)u;
	}
	double m = v * P->scale;
	if (!(m > 0) || m < P->min_m || m > P->max_m)
		return 0;
	/* Every multiply and add rounded on its own (GM_DMUL / GM_DADD: never fused into an FMA
	 * on the device), so both paths give a point the same bits and the same voxel. */
	double pc[3];
	if (P->model == 0) {
		pc[0] = GM_DMUL(((x + 0.5) - P->cx) / P->fx, m);
		pc[1] = GM_DMUL(((y + 0.5) - P->cy) / P->fy, m);
		pc[2] = m;
	} else {
		pc[0] = GM_DMUL(GM_DMUL(clat, slon), m);
		pc[1] = GM_DMUL(-slat, m);
		pc[2] = GM_DMUL(GM_DMUL(clat, clon), m);
	}
	double q[3] = {pc[0] - P->t[0], pc[1] - P->t[1], pc[2] - P->t[2]};
	out->x = (float)GM_DADD(GM_DADD(GM_DMUL(P->R[0], q[0]), GM_DMUL(P->R[3], q[1])),
				GM_DMUL(P->R[6], q[2]));
	out->y = (float)GM_DADD(GM_DADD(GM_DMUL(P->R[1], q[0]), GM_DMUL(P->R[4], q[1])),
				GM_DMUL(P->R[7], q[2]));
	out->z = (float)GM_DADD(GM_DADD(GM_DMUL(P->R[2], q[0]), GM_DMUL(P->R[5], q[1])),
				GM_DMUL(P->R[8], q[2]));
	if (P->color) {
		int cx = (int)(((long long)(2 * x + 1) * P->CW) / (2LL * P->W));
		int cy = (int)(((long long)(2 * y + 1) * P->CH) / (2LL * P->H));
		const unsigned char *c = P->color + (size_t)cy * P->cstride + (size_t)cx * P->cch;
		out->r = c[0];
		out->g = P->cch >= 3 ? c[1] : c[0];
		out->b = P->cch >= 3 ? c[2] : c[0];
	} else {
		out->r = out->g = out->b = 255;
	}
	out->a = 255;
	return 1;
}

/* The trig terms of every output column and row, tabulated on the host with libm: tab holds
 * (sin lon, cos lon) of the ow columns, then (sin lat, cos lat) of the oh rows (2 (ow + oh)
 * doubles; zeros for the pinhole model). Both paths read this one table (the CUDA kernel from
 * a device copy), so a point's position, and the voxel it falls in, are the same bits on the
 * CPU and the GPU (the device's double sin/cos differ from glibc's by an ulp). */
static inline void gm_depth_trig_fill(const gm_depth_params *P, double *tab)
{
	double *lat = tab + 2 * (size_t)P->ow;
	for (int i = 0; i < P->ow; i++) {
		tab[2 * i] = tab[2 * i + 1] = 0;
		if (P->model != 0)
			gm_depth_lon(P, i * P->step, &tab[2 * i], &tab[2 * i + 1]);
	}
	for (int j = 0; j < P->oh; j++) {
		lat[2 * j] = lat[2 * j + 1] = 0;
		if (P->model != 0)
			gm_depth_lat(P, j * P->step, &lat[2 * j], &lat[2 * j + 1]);
	}
}

/* The point of output position (i, j) with the terms of gm_depth_trig_fill's table. */
GM_FN int gm_depth_point_tab(const gm_depth_params *P, const double *tab, int i, int j,
			     gpu_point *out)
{
	const double *lat = tab + 2 * (size_t)P->ow;
	return gm_depth_point_t(P, i, j, tab[2 * i], tab[2 * i + 1], lat[2 * j], lat[2 * j + 1],
				out);
}

#endif
