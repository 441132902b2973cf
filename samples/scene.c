/* scene.c: a procedural street and a ray caster that renders equirectangular panoramas of it.
 *
 * The scene lives in the capture's ENU frame (metres; x east, y north, z up) and is flat: the
 * ground is the plane z = ground_u, buildings are boxes standing on it, street lights are
 * vertical cylinders. Every texture is a function of world coordinates (and of the pixel's
 * footprint, for anti-aliasing), never of the frame, so consecutive panoramas see the same
 * world. Objects sit in a uniform 2D grid walked with a DDA, so a ray tests only the few
 * objects along its way.
 *
 * Street cross-section, by lateral offset v from the driving path (metres, positive to the
 * left of the direction of travel): road [-5.25, 22.75] with 3.5 m lanes and the centre line
 * at 8.75 (the car drives the middle of the second lane from the right), sidewalks 6 m wide on
 * either side, building fronts set back 12 to 15 m on the right and 29.5 to 32.5 m on the left.
 */
#include "samples/samples.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define ROAD_R (-5.25)
#define ROAD_L 22.75
#define CENTER_V 8.75
#define LANE_W 3.5
#define WALK_W 6.0
#define EXTEND_M 160.0    /* scene beyond both ends of the path */
#define JUNCTION_M 18.0   /* cross street kept free of buildings at each inner vertex */
#define CELL_M 12.0       /* grid cell */
#define HILL_LUT 4096
#define HILL_MAX_Z 0.12     /* no hill rises above this sine of elevation */
#define NOISE_N 256
#define NOISE_LAYERS 5   /* clouds x2, ground grain x2, roofs */
#define MAX_SEGS 8        /* street segments (the route has at most MAX_SEGS + 1 points) */
#define MAX_T 4000.0      /* rays reaching no surface within this are sky */
#define POLE_R 0.13
#define POLE_H 8.5
#define CAM_FOV_PX(W) (2.0 * M_PI / (double)(W))
/* Transients farther than this are not drawn (a car there spans a few pixels); image, depth
 * and static mask all follow the same rule. */
#define TRANSIENT_RANGE_M 90.0

enum { OBJ_BOX = 0, OBJ_POLE = 1 };
enum { HIT_SKY = 0, HIT_GROUND = 1, HIT_OBJ = 2, HIT_TRANSIENT = 3 };

typedef struct seg {
	double ax, ay;   /* start (ENU) */
	double dx, dy;   /* unit direction */
	double len, s0;  /* length, arc length of the start along the whole street */
} seg;

typedef struct obj {
	int kind;
	int ori;                   /* the street segment a box is aligned with */
	int style;                 /* 0 plaster/brick, 1 glass tower, 2 stone */
	double cx, cy, ux, uy;     /* centre, unit axis along the street */
	double hx, hy;             /* half extents along / across the axis (hx = radius: pole) */
	double z0, z1;
	float base[3], trim[3], glass[3];
	double floor_h, win_p, win_fw, win_fh, u_off;
	uint64_t id;
} obj;

struct smp_scene {
	seg *segs;
	int nseg;
	obj *objs;
	int nobj, nbox, npole;
	double gx0, gy0;
	int gw, gh;
	int *cell_start; /* gw * gh + 1 offsets into cell_items */
	int *cell_items;
	double zg, ztop;
	double crosswalk_s[16];
	int ncross;
	float *noise; /* NOISE_LAYERS tiles of NOISE_N^2 */
	double hill_lut[HILL_LUT + 1]; /* sine of the hills' elevation by azimuth */
	double sun[3];
	uint64_t seed;
	smp_run_look run; /* a capture run's transients and light (transient.c); none by default */
};

/* ---- small helpers ------------------------------------------------------------------------ */

/* Plain comparisons: libm's fmin/fmax/hypot honour NaN and overflow rules these finite
 * values never need, and cost a call each in the per-pixel code. */
static inline double mind(double a, double b)
{
	return a < b ? a : b;
}

static inline double maxd(double a, double b)
{
	return a > b ? a : b;
}

static inline double len2(double x, double y)
{
	return sqrt(x * x + y * y);
}

static inline double approx_len(double a, double b)
{
	return a > b ? a + 0.4 * b : b + 0.4 * a;
}

static inline double clampd(double x, double lo, double hi)
{
	return x < lo ? lo : x > hi ? hi : x;
}

static inline void mix3(double c[3], const double to[3], double k)
{
	for (int i = 0; i < 3; i++)
		c[i] += (to[i] - c[i]) * k;
}

/* Fraction of the interval [x - f/2, x + f/2] covered by [lo, hi]: a box-filtered edge, so
 * thin lines fade instead of flickering when a pixel spans more than they are wide. */
static inline double band(double x, double lo, double hi, double f)
{
	if (f < 1e-6)
		return x >= lo && x < hi ? 1.0 : 0.0;
	double a = maxd(x - 0.5 * f, lo), b = mind(x + 0.5 * f, hi);
	return b > a ? (b - a) / f : 0.0;
}

/* Integral over [0, x] of a stripe pattern "on" on [0, on) of every period. */
static inline double stripe_integral(double x, double period, double on)
{
	double k = floor(x / period);
	return k * on + mind(x - k * period, on);
}

/* Box-filtered periodic stripes: the fraction of [x - f/2, x + f/2] that is "on". */
static inline double stripes(double x, double period, double on, double f)
{
	if (f < 1e-6) {
		double r = x - floor(x / period) * period;
		return r < on ? 1.0 : 0.0;
	}
	if (f >= period)
		return on / period; /* the mean is exact enough at these distances */
	return (stripe_integral(x + 0.5 * f, period, on) - stripe_integral(x - 0.5 * f, period, on)) /
	       f;
}

/* A lattice hash in [0, 1): one multiply-xorshift round is plenty for texture noise. */
static inline double hash2(uint64_t seed, int64_t a, int64_t b)
{
	uint64_t h = seed ^ ((uint64_t)a * 0x9e3779b97f4a7c15ull) ^ ((uint64_t)b * 0xc2b2ae3d27d4eb4full);
	h ^= h >> 32;
	h *= 0xd6e8feb86659fd93ull;
	h ^= h >> 32;
	h *= 0xd6e8feb86659fd93ull;
	h ^= h >> 32;
	return (double)(h >> 11) * (1.0 / 9007199254740992.0);
}

/* Value noise from a seeded 256 x 256 lattice tile (one per texture, chosen by `layer`),
 * smoothstep-interpolated, in [0, 1); lattice spacing `scale` metres. A table lookup costs a
 * fraction of hashing four lattice points per pixel. */
static inline double value_noise(const float *tile, double x, double y, double scale)
{
	double inv = 1.0 / scale; /* folded to a constant at each (inlined) call */
	double fx = x * inv, fy = y * inv;
	double ix = floor(fx), iy = floor(fy);
	double tx = fx - ix, ty = fy - iy;
	tx = tx * tx * (3 - 2 * tx);
	ty = ty * ty * (3 - 2 * ty);
	unsigned i = (unsigned)(int64_t)ix & (NOISE_N - 1), j = (unsigned)(int64_t)iy & (NOISE_N - 1);
	unsigned i1 = (i + 1) & (NOISE_N - 1), j1 = (j + 1) & (NOISE_N - 1);
	double a = tile[j * NOISE_N + i], b = tile[j * NOISE_N + i1], c = tile[j1 * NOISE_N + i],
	       d = tile[j1 * NOISE_N + i1];
	double ab = a + (b - a) * tx, cd = c + (d - c) * tx;
	return ab + (cd - ab) * ty;
}

/* ---- building the scene ------------------------------------------------------------------- */

static void set3(float c[3], double r, double g, double b)
{
	c[0] = (float)r, c[1] = (float)g, c[2] = (float)b;
}

static int objs_push(smp_scene *s, int *cap, const obj *o)
{
	if (s->nobj == *cap) {
		int nc = *cap ? 2 * *cap : 256;
		obj *n = realloc(s->objs, (size_t)nc * sizeof(obj));
		if (!n)
			return -1;
		s->objs = n;
		*cap = nc;
	}
	s->objs[s->nobj] = *o;
	s->objs[s->nobj].id = (uint64_t)s->nobj;
	s->nobj++;
	return 0;
}

static void building_style(obj *b, smp_rng *r)
{
	static const double palette[][3] = {
		{0.78, 0.74, 0.66}, {0.62, 0.58, 0.55}, {0.70, 0.52, 0.42}, {0.55, 0.40, 0.33},
		{0.82, 0.80, 0.76}, {0.48, 0.50, 0.52}, {0.74, 0.68, 0.55}, {0.60, 0.64, 0.66},
	};
	double u = smp_rng_uniform(r, 0, 1);
	b->style = u < 0.3 ? 1 : u < 0.5 ? 2 : 0;
	int k = (int)smp_rng_uniform(r, 0, (double)SVT_ARRAY_LEN(palette));
	double j = smp_rng_uniform(r, 0.9, 1.1);
	set3(b->base, palette[k][0] * j, palette[k][1] * j, palette[k][2] * j);
	double t = smp_rng_uniform(r, 0.35, 0.9);
	set3(b->trim, t, t * smp_rng_uniform(r, 0.95, 1.02), t * smp_rng_uniform(r, 0.95, 1.05));
	set3(b->glass, smp_rng_uniform(r, 0.10, 0.22), smp_rng_uniform(r, 0.16, 0.28),
	     smp_rng_uniform(r, 0.24, 0.38));
	b->floor_h = smp_rng_uniform(r, 3.3, 4.2);
	b->win_p = b->style == 1 ? smp_rng_uniform(r, 1.5, 2.2) : smp_rng_uniform(r, 2.2, 3.6);
	b->win_fw = b->style == 1 ? smp_rng_uniform(r, 0.82, 0.92) : smp_rng_uniform(r, 0.40, 0.65);
	b->win_fh = b->style == 1 ? smp_rng_uniform(r, 0.70, 0.85) : smp_rng_uniform(r, 0.42, 0.62);
	b->u_off = smp_rng_uniform(r, 0, b->win_p);
}

/* Lines one side (+1 left, -1 right) of segment k with buildings. */
static int line_side(smp_scene *s, int *cap, int k, int side, smp_rng *r)
{
	const seg *g = &s->segs[k];
	double s_begin = k > 0 ? JUNCTION_M : 0.0;
	double s_end = g->len - (k < s->nseg - 1 ? JUNCTION_M : 0.0);
	double pos = s_begin + smp_rng_uniform(r, 0, 3);
	int first = 1;
	while (pos < s_end - 8.0) {
		if (!first && smp_rng_uniform(r, 0, 1) < 0.12)
			pos += smp_rng_uniform(r, 10, 15); /* an alley or side street */
		else
			pos += smp_rng_uniform(r, 0.3, 2.0);
		first = 0;
		double len = mind(smp_rng_uniform(r, 12, 40), s_end - pos);
		if (len < 8.0)
			break;
		double depth = smp_rng_uniform(r, 14, 30);
		double front = side > 0 ? ROAD_L + WALK_W + 0.75 + smp_rng_uniform(r, 0, 3)
					: -(-ROAD_R + WALK_W + 0.75 + smp_rng_uniform(r, 0, 3));
		double hgt = smp_rng_uniform(r, 0, 1) < 0.2 ? smp_rng_uniform(r, 50, 78)
							     : smp_rng_uniform(r, 9, 48);
		double sc = pos + 0.5 * len, vc = front + side * 0.5 * depth;
		obj b;
		memset(&b, 0, sizeof(b));
		b.kind = OBJ_BOX;
		b.ori = k;
		b.ux = g->dx, b.uy = g->dy;
		b.cx = g->ax + g->dx * sc - g->dy * vc;
		b.cy = g->ay + g->dy * sc + g->dx * vc;
		b.hx = 0.5 * len, b.hy = 0.5 * depth;
		b.z0 = s->zg, b.z1 = s->zg + hgt;
		building_style(&b, r);
		if (objs_push(s, cap, &b))
			return -1;
		s->nbox++;
		pos += len;
	}
	return 0;
}

static int place_poles(smp_scene *s, int *cap, int k)
{
	const seg *g = &s->segs[k];
	double s_begin = k > 0 ? JUNCTION_M : 0.0;
	double s_end = g->len - (k < s->nseg - 1 ? JUNCTION_M : 0.0);
	static const double vs[2] = {ROAD_R - 0.6, ROAD_L + 0.6};
	for (int side = 0; side < 2; side++) {
		/* Poles every 30 m at a global arc-length phase, so segments agree. */
		double first = ceil((g->s0 + s_begin - 7.0 * side) / 30.0) * 30.0 + 7.0 * side - g->s0;
		for (double p = first; p < s_end; p += 30.0) {
			obj o;
			memset(&o, 0, sizeof(o));
			o.kind = OBJ_POLE;
			o.ux = g->dx, o.uy = g->dy;
			o.cx = g->ax + g->dx * p - g->dy * vs[side];
			o.cy = g->ay + g->dy * p + g->dx * vs[side];
			o.hx = o.hy = POLE_R;
			o.z0 = s->zg, o.z1 = s->zg + POLE_H;
			set3(o.base, 0.28, 0.29, 0.30);
			if (objs_push(s, cap, &o))
				return -1;
			s->npole++;
		}
	}
	return 0;
}

static void obj_aabb(const obj *o, double *x0, double *y0, double *x1, double *y1)
{
	double ex = fabs(o->ux) * o->hx + fabs(o->uy) * o->hy;
	double ey = fabs(o->uy) * o->hx + fabs(o->ux) * o->hy;
	*x0 = o->cx - ex, *x1 = o->cx + ex, *y0 = o->cy - ey, *y1 = o->cy + ey;
}

static int grid_build(smp_scene *s)
{
	double x0 = DBL_MAX, y0 = DBL_MAX, x1 = -DBL_MAX, y1 = -DBL_MAX;
	for (int i = 0; i < s->nseg; i++) {
		const seg *g = &s->segs[i];
		double ex = g->ax + g->dx * g->len, ey = g->ay + g->dy * g->len;
		x0 = mind(x0, mind(g->ax, ex)), x1 = maxd(x1, maxd(g->ax, ex));
		y0 = mind(y0, mind(g->ay, ey)), y1 = maxd(y1, maxd(g->ay, ey));
	}
	for (int i = 0; i < s->nobj; i++) {
		double a, b, c, d;
		obj_aabb(&s->objs[i], &a, &b, &c, &d);
		x0 = mind(x0, a), y0 = mind(y0, b), x1 = maxd(x1, c), y1 = maxd(y1, d);
	}
	s->gx0 = x0 - CELL_M, s->gy0 = y0 - CELL_M;
	s->gw = (int)ceil((x1 - x0) / CELL_M) + 2;
	s->gh = (int)ceil((y1 - y0) / CELL_M) + 2;
	size_t ncell = (size_t)s->gw * (size_t)s->gh;
	s->cell_start = calloc(ncell + 1, sizeof(int));
	if (!s->cell_start)
		return -1;
	/* Two passes: count, then fill (CSR). */
	for (int pass = 0; pass < 2; pass++) {
		int *fill = NULL;
		if (pass == 1) {
			for (size_t c = 0; c < ncell; c++)
				s->cell_start[c + 1] += s->cell_start[c];
			s->cell_items = malloc((size_t)(s->cell_start[ncell] + 1) * sizeof(int));
			fill = calloc(ncell, sizeof(int));
			if (!s->cell_items || !fill) {
				free(fill);
				return -1;
			}
		}
		for (int i = 0; i < s->nobj; i++) {
			double a, b, c, d;
			obj_aabb(&s->objs[i], &a, &b, &c, &d);
			int i0 = (int)floor((a - s->gx0) / CELL_M), i1 = (int)floor((c - s->gx0) / CELL_M);
			int j0 = (int)floor((b - s->gy0) / CELL_M), j1 = (int)floor((d - s->gy0) / CELL_M);
			for (int j = j0; j <= j1; j++)
				for (int q = i0; q <= i1; q++) {
					size_t cell = (size_t)j * (size_t)s->gw + (size_t)q;
					if (pass == 0)
						s->cell_start[cell + 1]++;
					else
						s->cell_items[s->cell_start[cell] + fill[cell]++] = i;
				}
		}
		free(fill);
	}
	return 0;
}

int smp_scene_build(const double (*path)[2], int n, uint64_t seed, double ground_u,
		    smp_scene **out, svt_err *err)
{
	*out = NULL;
	if (n < 2 || n > MAX_SEGS + 1)
		return svt_err_set(err, SVT_E_INPUT, "scene: the path needs 2 to %d vertices, not %d",
				   MAX_SEGS + 1, n);
	smp_scene *s = calloc(1, sizeof(*s));
	int rc = SVT_OK, cap = 0;
	if (!s)
		return svt_err_set(err, SVT_E_NOMEM, "scene: out of memory");
	s->seed = seed;
	s->zg = ground_u;
	s->nseg = n - 1;
	s->segs = calloc((size_t)s->nseg, sizeof(seg));
	if (!s->segs) {
		rc = svt_err_set(err, SVT_E_NOMEM, "scene: out of memory");
		goto done;
	}
	double arc = -EXTEND_M;
	for (int k = 0; k < s->nseg; k++) {
		seg *g = &s->segs[k];
		double ex = path[k + 1][0] - path[k][0], ey = path[k + 1][1] - path[k][1];
		double L = len2(ex, ey);
		if (L < 1.0) {
			rc = svt_err_set(err, SVT_E_INPUT, "scene: path vertices %d and %d coincide", k,
					 k + 1);
			goto done;
		}
		g->dx = ex / L, g->dy = ey / L;
		g->ax = path[k][0], g->ay = path[k][1];
		g->len = L;
		if (k == 0) { /* the street goes on before the first frame ... */
			g->ax -= g->dx * EXTEND_M, g->ay -= g->dy * EXTEND_M;
			g->len += EXTEND_M;
		}
		if (k == s->nseg - 1) /* ... and after the last one */
			g->len += EXTEND_M;
		g->s0 = arc;
		arc += g->len;
	}
	/* Crosswalks at the junctions and every ~170 m between them. */
	for (int k = 0; k < s->nseg && s->ncross < (int)SVT_ARRAY_LEN(s->crosswalk_s); k++) {
		const seg *g = &s->segs[k];
		if (k > 0)
			s->crosswalk_s[s->ncross++] = g->s0 + JUNCTION_M - 4.0;
		for (double p = 120.0; p < g->len - 60.0 &&
				       s->ncross < (int)SVT_ARRAY_LEN(s->crosswalk_s) - 1;
		     p += 170.0)
			s->crosswalk_s[s->ncross++] = g->s0 + p;
		if (k < s->nseg - 1 && s->ncross < (int)SVT_ARRAY_LEN(s->crosswalk_s))
			s->crosswalk_s[s->ncross++] = g->s0 + g->len - JUNCTION_M + 4.0;
	}
	smp_rng r;
	smp_rng_init(&r, seed, 0x5ce7e);
	for (int k = 0; k < s->nseg; k++)
		for (int side = -1; side <= 1; side += 2)
			if (line_side(s, &cap, k, side, &r)) {
				rc = svt_err_set(err, SVT_E_NOMEM, "scene: out of memory");
				goto done;
			}
	for (int k = 0; k < s->nseg; k++)
		if (place_poles(s, &cap, k)) {
			rc = svt_err_set(err, SVT_E_NOMEM, "scene: out of memory");
			goto done;
		}
	s->ztop = s->zg;
	for (int i = 0; i < s->nobj; i++)
		s->ztop = maxd(s->ztop, s->objs[i].z1);
	s->noise = malloc(sizeof(float) * NOISE_LAYERS * NOISE_N * NOISE_N);
	if (!s->noise) {
		rc = svt_err_set(err, SVT_E_NOMEM, "scene: out of memory");
		goto done;
	}
	for (int i = 0; i < NOISE_LAYERS * NOISE_N * NOISE_N; i++)
		s->noise[i] = (float)smp_uniform(seed, 0x7015e, (uint64_t)i, 0, 1);
	if (grid_build(s)) {
		rc = svt_err_set(err, SVT_E_NOMEM, "scene: out of memory for the grid");
		goto done;
	}
	/* Hills on the horizon: highest to the north (Bugaksan, Bukhansan behind Gwanghwamun),
	 * a seeded ridge line, tabulated by azimuth. */
	double amp[6], phase[6];
	static const int freq[6] = {2, 3, 5, 9, 17, 29};
	for (int i = 0; i < 6; i++) {
		amp[i] = smp_rng_uniform(&r, 0.2, 1.0) / (1.0 + i);
		phase[i] = smp_rng_uniform(&r, 0, 2 * M_PI);
	}
	for (int j = 0; j <= HILL_LUT; j++) {
		double az = -M_PI + 2 * M_PI * j / HILL_LUT;
		double hill = 1.0 + 3.0 * pow(maxd(0.0, cos(az)), 1.5), wig = 0;
		for (int i = 0; i < 6; i++)
			wig += amp[i] * sin(freq[i] * az + phase[i]);
		hill = maxd(0.3, hill * (1.0 + 0.45 * wig));
		s->hill_lut[j] = sin(mind(hill, 6.5) * M_PI / 180.0);
	}
	/* Mid-October, 10 am in Seoul: the sun stands about 37 degrees high in the south-east. */
	double saz = 145.0 * M_PI / 180.0, sel = 37.0 * M_PI / 180.0;
	s->sun[0] = cos(sel) * sin(saz), s->sun[1] = cos(sel) * cos(saz), s->sun[2] = sin(sel);
	*out = s;
	s = NULL;
done:
	smp_scene_destroy(s);
	return rc;
}

void smp_scene_destroy(smp_scene *s)
{
	if (!s)
		return;
	free(s->segs);
	free(s->objs);
	free(s->cell_start);
	free(s->cell_items);
	free(s->noise);
	free(s);
}

void smp_scene_counts(const smp_scene *s, int *boxes, int *poles)
{
	*boxes = s->nbox;
	*poles = s->npole;
}

/* ---- ray casting -------------------------------------------------------------------------- */

/* What one panorama's rays share: the camera position in every object's local frame, so a
 * ray-box test is a few multiplies (the camera is fixed for a whole panorama). */
typedef struct frame_ctx {
	const smp_scene *s;
	double o[3];
	double *lx, *ly; /* box: camera in box axes; pole: camera minus centre */
	int ix, iy;            /* the camera's grid cell */
	double wall_x[2], wall_y[2]; /* offsets from the camera to its cell's low / high walls */
	double zg_rel, ztop_rel;     /* ground and the tallest roof relative to the camera */
	int *near_tr, n_near_tr;     /* the run's transients within TRANSIENT_RANGE_M */
} frame_ctx;

/* A ray's direction in each street segment's axes (boxes are aligned with their segment),
 * worked out the first time a box of that segment is tested: most rays meet one or none. */
typedef struct ray_ctx {
	double d[3];
	unsigned have; /* bit k: ld[k], inv[k] are set; bit 31: invz is set */
	double ld[MAX_SEGS][2], inv[MAX_SEGS][2];
	double invz, pa; /* 1/dz; dx^2 + dy^2 for the poles */
} ray_ctx;

static void ray_setup(const double d[3], ray_ctx *r)
{
	memcpy(r->d, d, sizeof(r->d));
	r->have = 0;
	r->invz = 0;
	r->pa = d[0] * d[0] + d[1] * d[1];
}

static void ray_orient(const smp_scene *s, ray_ctx *r, int k)
{
	const seg *g = &s->segs[k];
	const double *d = r->d;
	r->ld[k][0] = d[0] * g->dx + d[1] * g->dy;
	r->ld[k][1] = -d[0] * g->dy + d[1] * g->dx;
	for (int i = 0; i < 2; i++)
		r->inv[k][i] = fabs(r->ld[k][i]) > 1e-15 ? 1.0 / r->ld[k][i] : 0.0;
	if (!(r->have & 0x80000000u))
		r->invz = fabs(d[2]) > 1e-15 ? 1.0 / d[2] : 0.0;
	r->have |= 0x80000000u | (1u << k);
}

/* One slab of a box: narrows [tn, tf] and records the axis of the entry. Returns 0 when the
 * ray misses the slab. */
static inline int slab(double lo, double inv, double mn, double mx, double *tn, double *tf,
		       int *axis, int ax)
{
	if (inv == 0.0) /* parallel to the slab */
		return lo >= mn && lo <= mx;
	double t0 = (mn - lo) * inv, t1 = (mx - lo) * inv;
	if (t0 > t1) {
		double tmp = t0;
		t0 = t1, t1 = tmp;
	}
	if (t0 > *tn)
		*tn = t0, *axis = ax;
	if (t1 < *tf)
		*tf = t1;
	return *tn <= *tf;
}

/* Ray against object i; returns the entry distance (> 1e-6) or DBL_MAX, and the face hit:
 * 0/1 the +-axis ends, 2/3 the +-side faces, 4 the roof, 5 a pole's mantle. */
static double obj_hit(const frame_ctx *f, int i, ray_ctx *r, int *face)
{
	const obj *b = &f->s->objs[i];
	double lx = f->lx[i], ly = f->ly[i];
	if (b->kind == OBJ_POLE) {
		if (r->pa < 1e-18)
			return DBL_MAX;
		double bb = lx * r->d[0] + ly * r->d[1], c = lx * lx + ly * ly - b->hx * b->hx;
		double disc = bb * bb - r->pa * c;
		if (disc < 0)
			return DBL_MAX;
		double t = (-bb - sqrt(disc)) / r->pa;
		if (t <= 1e-6)
			return DBL_MAX;
		double z = f->o[2] + t * r->d[2];
		if (z < b->z0 || z > b->z1)
			return DBL_MAX;
		*face = 5;
		return t;
	}
	int k = b->ori, axis = -1;
	double tn = -DBL_MAX, tf = DBL_MAX;
	if (!(r->have & (1u << k)))
		ray_orient(f->s, r, k);
	if (!slab(lx, r->inv[k][0], -b->hx, b->hx, &tn, &tf, &axis, 0) ||
	    !slab(ly, r->inv[k][1], -b->hy, b->hy, &tn, &tf, &axis, 1) ||
	    !slab(f->o[2], r->invz, b->z0, b->z1, &tn, &tf, &axis, 2))
		return DBL_MAX;
	if (tn <= 1e-6 || axis < 0)
		return DBL_MAX; /* the camera is never inside a building */
	double ldir = axis == 2 ? r->d[2] : r->ld[k][axis];
	*face = axis == 2 ? 4 : 2 * axis + (ldir > 0 ? 1 : 0);
	return tn;
}

typedef struct ray_hit {
	int kind;
	double t;
	int obj, face;
} ray_hit;

static void trace_static(const frame_ctx *f, const double d[3], ray_hit *h)
{
	const smp_scene *s = f->s;
	double invz = fabs(d[2]) > 1e-15 ? 1.0 / d[2] : 0.0;
	double tg = d[2] < -1e-12 ? f->zg_rel * invz : DBL_MAX;
	double tlim = mind(tg, MAX_T);
	if (d[2] > 1e-12)
		tlim = mind(tlim, f->ztop_rel * invz);
	h->kind = tg <= MAX_T ? HIT_GROUND : HIT_SKY;
	h->t = tg;
	h->obj = -1;
	h->face = -1;
	double best = tlim;

	/* Grid DDA from the camera's cell (fixed for the frame). */
	int ix = f->ix, iy = f->iy;
	if (ix < 0 || iy < 0 || ix >= s->gw || iy >= s->gh)
		return;
	ray_ctx r;
	ray_setup(d, &r);
	r.invz = invz;
	r.have = 0x80000000u;
	int sx = d[0] > 0 ? 1 : -1, sy = d[1] > 0 ? 1 : -1;
	double tmx = DBL_MAX, tmy = DBL_MAX, tdx = DBL_MAX, tdy = DBL_MAX;
	if (fabs(d[0]) > 1e-15) {
		double inv = 1.0 / d[0];
		tmx = (d[0] > 0 ? f->wall_x[1] : f->wall_x[0]) * inv;
		tdx = CELL_M * fabs(inv);
	}
	if (fabs(d[1]) > 1e-15) {
		double inv = 1.0 / d[1];
		tmy = (d[1] > 0 ? f->wall_y[1] : f->wall_y[0]) * inv;
		tdy = CELL_M * fabs(inv);
	}
	for (;;) {
		int cell = iy * s->gw + ix;
		int k0 = s->cell_start[cell], k1 = s->cell_start[cell + 1];
		for (int k = k0; k < k1; k++) {
			int face = -1, id = s->cell_items[k];
			double t = obj_hit(f, id, &r, &face);
			if (t < best) {
				best = t;
				h->kind = HIT_OBJ;
				h->t = t;
				h->obj = id;
				h->face = face;
			}
		}
		double texit = mind(tmx, tmy);
		if (best <= texit || texit >= tlim)
			break;
		if (tmx < tmy) {
			ix += sx;
			tmx += tdx;
			if (ix < 0 || ix >= s->gw)
				break;
		} else {
			iy += sy;
			tmy += tdy;
			if (iy < 0 || iy >= s->gh)
				break;
		}
	}
}

/* The run's transient boxes near the camera (a few dozen, tested one by one after the static
 * scene): a hit nearer than the static one replaces it. */
static void trace(const frame_ctx *f, const double d[3], ray_hit *h)
{
	trace_static(f, d, h);
	const smp_run_look *run = &f->s->run;
	for (int q = 0; q < f->n_near_tr; q++) {
		int face, i = f->near_tr[q];
		double t = smp_tbox_hit(&run->boxes[i], f->o, d, &face);
		if (t < h->t || (h->kind == HIT_SKY && t < MAX_T)) {
			h->kind = HIT_TRANSIENT;
			h->t = t;
			h->obj = i;
			h->face = face;
		}
	}
}

/* ---- shading ------------------------------------------------------------------------------ */

static const double HORIZON[3] = {0.80, 0.85, 0.91};
static const double ZENITH[3] = {0.30, 0.50, 0.84};

static void sky_gradient(const double d[3], double c[3])
{
	/* Horizon to zenith; a quadratic in the direction's height stands in for an exponential
	 * in elevation (it is the look, not the physics, that matters here). */
	double z = clampd(d[2], 0, 1);
	double k = z * (2.2 - 1.2 * z);
	for (int i = 0; i < 3; i++)
		c[i] = HORIZON[i] + (ZENITH[i] - HORIZON[i]) * k;
}

/* Hills on the horizon (Bugaksan and Bukhansan rise north of Gwanghwamun), then the sky with
 * a thin deck of clouds 1.5 km up. */
/* Returns 1 for open sky, 0 for the hills. */
static int shade_sky(const smp_scene *s, const double o[3], const double d[3], double c[3])
{
	double sin_hill = 0.0;
	if (d[2] < HILL_MAX_Z) {
		double az = atan2(d[0], d[1]);
		double x = (az + M_PI) / (2 * M_PI) * HILL_LUT;
		int i = (int)x;
		double t = x - i;
		i = i < 0 ? 0 : i >= HILL_LUT ? HILL_LUT - 1 : i;
		sin_hill = s->hill_lut[i] + (s->hill_lut[i + 1] - s->hill_lut[i]) * t;
	}
	if (d[2] < sin_hill) {
		double base[3] = {0.36, 0.45, 0.38};
		double k = clampd((sin_hill - d[2]) * (180.0 / M_PI) / 3.0, 0, 1);
		for (int i = 0; i < 3; i++)
			c[i] = base[i] * (0.85 + 0.25 * k);
		mix3(c, HORIZON, 0.55 - 0.15 * k);
		return 0;
	}
	sky_gradient(d, c);
	if (d[2] > 0.03) {
		double tc = (1500.0 - o[2]) / d[2];
		double x = o[0] + d[0] * tc, y = o[1] + d[1] * tc;
		double n = 0.62 * value_noise(s->noise + 0 * NOISE_N * NOISE_N, x, y, 900.0) +
			   0.38 * value_noise(s->noise + 1 * NOISE_N * NOISE_N, x, y, 260.0);
		double cov = clampd((n - 0.52) * 4.0, 0, 1) * clampd(d[2] * 8.0, 0, 1);
		const double white[3] = {0.95, 0.95, 0.96};
		mix3(c, white, cov * 0.85);
	}
	return 1;
}

/* Where p lies along the street: arc length and lateral offset from the nearest segment. */
static void street_coords(const smp_scene *s, double x, double y, double *sa, double *v,
			  int *segi)
{
	double bestd = DBL_MAX;
	for (int k = 0; k < s->nseg; k++) {
		const seg *g = &s->segs[k];
		double rx = x - g->ax, ry = y - g->ay;
		double t = rx * g->dx + ry * g->dy;
		double lat = -rx * g->dy + ry * g->dx;
		double tc = clampd(t, 0, g->len);
		double dist = (t - tc) * (t - tc) + lat * lat;
		if (dist < bestd) {
			bestd = dist;
			*sa = g->s0 + t;
			*v = lat;
			*segi = k;
		}
	}
}

static void shade_ground(const smp_scene *s, const double o[3], const double d[3], double t,
			 double fpx, double c[3])
{
	double x = o[0] + d[0] * t, y = o[1] + d[1] * t;
	double sa = 0, v = 0;
	int k = 0;
	street_coords(s, x, y, &sa, &v, &k);
	/* Pixel footprint on the ground: fpx across the ray, stretched by 1/|dz| along it;
	 * projected on the street's axes. */
	const seg *g = &s->segs[k];
	double hl = len2(d[0], d[1]);
	double ih = hl > 1e-9 ? 1.0 / hl : 0.0;
	double ca = fabs(d[0] * g->dx + d[1] * g->dy) * ih, sn = fabs(d[1] * g->dx - d[0] * g->dy) * ih;
	double along = mind(fpx / maxd(fabs(d[2]), 1e-3), 60.0);
	/* Footprint lengths need no precision: max + 0.4 min is within 8% of the hypotenuse. */
	double fs = approx_len(along * ca, fpx * sn), fv = approx_len(along * sn, fpx * ca);
	double fmaxp = maxd(fs, fv);
	/* Surface grain in world coordinates, faded out where a pixel averages over it. */
	double grain = 0.0;
	if (fmaxp < 0.7)
		grain += (value_noise(s->noise + 2 * NOISE_N * NOISE_N, x, y, 0.35) - 0.5) * (1.0 - fmaxp * (1.0 / 0.7));
	if (fmaxp < 6.0)
		grain += (value_noise(s->noise + 3 * NOISE_N * NOISE_N, x, y, 3.0) - 0.5) * 0.8 * (1.0 - fmaxp * (1.0 / 6.0));
	const double white[3] = {0.90, 0.90, 0.88}, yellow[3] = {0.88, 0.70, 0.16};
	if (v >= ROAD_R && v <= ROAD_L) {
		double a = 0.29 + 0.06 * grain;
		c[0] = a, c[1] = a, c[2] = a * 1.04;
		double m;
		/* Double yellow centre line, solid white edge lines, dashed lane lines. */
		if (fabs(v - CENTER_V) < 0.30 + fv) {
			m = band(v, CENTER_V - 0.30, CENTER_V - 0.15, fv) +
			    band(v, CENTER_V + 0.15, CENTER_V + 0.30, fv);
			mix3(c, yellow, clampd(m, 0, 1));
		}
		if (v < ROAD_R + 0.35 + fv || v > ROAD_L - 0.35 - fv) {
			m = band(v, ROAD_R + 0.2, ROAD_R + 0.35, fv) + band(v, ROAD_L - 0.35, ROAD_L - 0.2, fv);
			mix3(c, white, clampd(m, 0, 1));
		}
		/* Dashed lane lines: only the nearest one can cover this pixel. */
		double l = floor((v - CENTER_V) / LANE_W + 0.5);
		if (l != 0 && fabs(l) <= 3) {
			double lv = CENTER_V + l * LANE_W;
			m = band(v, lv - 0.075, lv + 0.075, fv);
			if (m > 0)
				mix3(c, white, m * stripes(sa, 9.0, 3.0, fs));
		}
		for (int i = 0; i < s->ncross; i++) {
			if (fabs(sa - s->crosswalk_s[i]) > 2.5 + fs)
				continue;
			m = band(sa, s->crosswalk_s[i] - 2.5, s->crosswalk_s[i] + 2.5, fs);
			if (m > 0)
				mix3(c, white, m * stripes(v - ROAD_R, 1.0, 0.5, fv) * 0.95);
		}
	} else if ((v < ROAD_R && v > ROAD_R - WALK_W) || (v > ROAD_L && v < ROAD_L + WALK_W)) {
		/* Sidewalk: pale pavers on a 0.6 m grid with a granite kerb along the road. */
		double a = 0.66 + 0.05 * grain;
		c[0] = a * 1.02, c[1] = a, c[2] = a * 0.95;
		double joint = 1.0 - (1.0 - stripes(sa, 0.6, 0.05, fs)) * (1.0 - stripes(v, 0.6, 0.05, fv));
		const double grout[3] = {0.45, 0.44, 0.42};
		mix3(c, grout, joint * 0.8);
		double kerb = band(v, ROAD_R - 0.3, ROAD_R, fv) + band(v, ROAD_L, ROAD_L + 0.3, fv);
		const double granite[3] = {0.55, 0.55, 0.56};
		mix3(c, granite, clampd(kerb, 0, 1));
	} else {
		double a = 0.36 + 0.07 * grain; /* side streets, courtyards */
		c[0] = a, c[1] = a * 0.99, c[2] = a * 0.97;
	}
	double lit = 0.55 + 0.5 * s->sun[2];
	for (int i = 0; i < 3; i++)
		c[i] *= lit;
}

static void shade_object(const smp_scene *s, const obj *b, int face, const double o[3],
			 const double d[3], double t, double fpx, double c[3])
{
	double p[3] = {o[0] + d[0] * t, o[1] + d[1] * t, o[2] + d[2] * t};
	double rx = p[0] - b->cx, ry = p[1] - b->cy;
	double n[3];
	if (b->kind == OBJ_POLE) {
		double r = len2(rx, ry);
		n[0] = rx / r, n[1] = ry / r, n[2] = 0;
		for (int i = 0; i < 3; i++)
			c[i] = b->base[i];
		/* A lamp head at the top. */
		if (p[2] > b->z1 - 0.6) {
			c[0] = 0.85, c[1] = 0.85, c[2] = 0.80;
		}
	} else if (face == 4) {
		n[0] = 0, n[1] = 0, n[2] = 1;
		double g = 0.45 + 0.1 * value_noise(s->noise + 4 * NOISE_N * NOISE_N, rx + 37.0 * (double)b->id, ry, 2.0);
		c[0] = g, c[1] = g, c[2] = g * 1.02;
	} else {
		double lx = rx * b->ux + ry * b->uy, ly = -rx * b->uy + ry * b->ux;
		double u; /* horizontal coordinate on the face */
		if (face <= 1) {
			double sg = face == 0 ? 1.0 : -1.0;
			n[0] = sg * b->ux, n[1] = sg * b->uy;
			u = ly + b->hy;
		} else {
			double sg = face == 2 ? 1.0 : -1.0;
			n[0] = -sg * b->uy, n[1] = sg * b->ux;
			u = lx + b->hx;
		}
		n[2] = 0;
		double z = p[2] - b->z0, height = b->z1 - b->z0;
		double cosi = fabs(d[0] * n[0] + d[1] * n[1]);
		double fu = mind(fpx / maxd(cosi, 0.05), 50.0), fz = fpx;
		for (int i = 0; i < 3; i++)
			c[i] = b->base[i];
		/* The glass: a dark tint plus the sky it mirrors. */
		double refl[3] = {d[0] - 2 * (d[0] * n[0] + d[1] * n[1]) * n[0],
				  d[1] - 2 * (d[0] * n[0] + d[1] * n[1]) * n[1], d[2]};
		double sky[3], glass[3];
		sky_gradient(refl, sky);
		double gk = b->style == 1 ? 0.45 : 0.25;
		for (int i = 0; i < 3; i++)
			glass[i] = b->glass[i] + (sky[i] - b->glass[i]) * gk;
		double gf = 4.5; /* ground floor: shop windows */
		double win;
		if (z < gf) {
			win = band(z, 0.4, 3.6, fz) * stripes(u + 0.15, 1.8, 1.6, fu);
		} else {
			double zz = z - gf;
			double hb = b->floor_h * (1.0 - b->win_fh) * 0.5;
			win = stripes(zz - hb, b->floor_h, b->floor_h * b->win_fh, fz) *
			      stripes(u - b->u_off, b->win_p, b->win_p * b->win_fw, fu);
			/* Not every pane alike: blinds, lights. Only where windows are resolved. */
			if (fu < 0.4 * b->win_p && fz < 0.4 * b->floor_h) {
				double v = hash2(b->id ^ 0x77, (int64_t)floor((u - b->u_off) / b->win_p),
						 (int64_t)floor(zz / b->floor_h));
				double k = 0.75 + 0.5 * v;
				for (int i = 0; i < 3; i++)
					glass[i] *= k;
			}
			/* Cornice band under the roof and floor-slab lines on stone buildings. */
			double top = band(z, height - 1.2, height + 1.0, fz);
			double tc[3] = {b->trim[0], b->trim[1], b->trim[2]};
			mix3(c, tc, top);
			win *= 1.0 - top;
			if (b->style == 2)
				mix3(c, tc, 0.6 * stripes(zz, b->floor_h, 0.3, fz) * (1.0 - top));
		}
		mix3(c, glass, win);
		if (z < 0.4) {
			const double plinth[3] = {0.35, 0.33, 0.31};
			mix3(c, plinth, band(z, -1.0, 0.4, fz));
		}
	}
	double lam = n[0] * s->sun[0] + n[1] * s->sun[1] + n[2] * s->sun[2];
	double lit = 0.55 + 0.55 * maxd(lam, 0.0);
	for (int i = 0; i < 3; i++)
		c[i] *= lit;
}


/* Traces and shades one panorama pixel direction d; returns a key naming the surface hit
 * (-1 open sky, -3 hills, -2 ground, else object * 8 + face) and its colour in col. */
static int pixel(const frame_ctx *f, const double d[3], double fpx, double col[3])
{
	const smp_scene *s = f->s;
	ray_hit h;
	trace(f, d, &h);
	const double *g = s->run.gain;
	if (h.kind == HIT_SKY) {
		int open = shade_sky(s, f->o, d, col);
		for (int i = 0; s->run.n_gain && i < 3; i++)
			col[i] *= g[i];
		return open ? -1 : -3;
	}
	if (h.kind == HIT_TRANSIENT) {
		smp_tbox_shade(&s->run.boxes[h.obj], h.face, s->sun, col);
		mix3(col, HORIZON, h.t / (h.t + 900.0));
		for (int i = 0; s->run.n_gain && i < 3; i++)
			col[i] *= g[i];
		return -16 - 8 * h.obj - h.face;
	}
	if (h.kind == HIT_GROUND)
		shade_ground(s, f->o, d, h.t, fpx * h.t, col);
	else
		shade_object(s, &s->objs[h.obj], h.face, f->o, d, h.t, fpx * h.t, col);
	/* Aerial perspective toward the horizon colour. */
	mix3(col, HORIZON, h.t / (h.t + 900.0));
	for (int i = 0; s->run.n_gain && i < 3; i++)
		col[i] *= g[i];
	return h.kind == HIT_GROUND ? -2 : h.obj * 8 + h.face;
}

static uint8_t to_u8(double v)
{
	v = v * 255.0 + 0.5;
	return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : (int)v);
}

/* Pixel direction of column c in a row: R (cos lat sin lon, -sin lat, cos lat cos lon),
 * split into the part that is constant along the row (ry) and the two that vary. */
static inline void row_dir(const double rx[3], const double ry[3], const double rz[3], double sl,
			   double cl, double d[3])
{
	for (int i = 0; i < 3; i++)
		d[i] = rx[i] * sl + ry[i] + rz[i] * cl;
}

/* Lists the run's transients within TRANSIENT_RANGE_M of the camera into f (malloc'd, NULL
 * when none). Returns -1 when out of memory. */
static int near_transients(const smp_scene *s, frame_ctx *f)
{
	f->near_tr = NULL;
	f->n_near_tr = 0;
	if (s->run.n <= 0)
		return 0;
	f->near_tr = malloc(sizeof(int) * (size_t)s->run.n);
	if (!f->near_tr)
		return -1;
	for (int i = 0; i < s->run.n; i++) {
		const smp_tbox *b = &s->run.boxes[i];
		if (len2(b->cx - f->o[0], b->cy - f->o[1]) < TRANSIENT_RANGE_M)
			f->near_tr[f->n_near_tr++] = i;
	}
	return 0;
}

/* The per-frame context of a camera at C: the city-block cell it stands in and its walls,
 * ground and roof heights relative to it (smp_render and smp_render_static_mask). */
static void frame_begin(const smp_scene *s, const double C[3], frame_ctx *f)
{
	*f = (frame_ctx){.s = s, .o = {C[0], C[1], C[2]}};
	f->ix = (int)floor((C[0] - s->gx0) / CELL_M);
	f->iy = (int)floor((C[1] - s->gy0) / CELL_M);
	f->wall_x[0] = s->gx0 + f->ix * CELL_M - C[0];
	f->wall_x[1] = f->wall_x[0] + CELL_M;
	f->wall_y[0] = s->gy0 + f->iy * CELL_M - C[1];
	f->wall_y[1] = f->wall_y[0] + CELL_M;
	f->zg_rel = s->zg - C[2];
	f->ztop_rel = s->ztop - C[2];
}

int smp_render(const smp_scene *s, const double C[3], const double R[9], uint8_t *rgb, int W,
	       int H, uint16_t *depth, int DW, int DH, svt_err *err)
{
	frame_ctx f;
	frame_begin(s, C, &f);
	size_t maxw = (size_t)(W > DW ? W : DW) + 1;
	double *mem = malloc(sizeof(double) * (2 * (size_t)s->nobj + 5 * maxw) + sizeof(int) * maxw);
	if (!mem || near_transients(s, &f)) {
		free(mem);
		return svt_err_set(err, SVT_E_NOMEM, "render: out of memory");
	}
	f.lx = mem;
	f.ly = mem + s->nobj;
	double *sl = f.ly + s->nobj, *cl = sl + maxw, *rowc = cl + maxw;
	int *key = (int *)(rowc + 3 * maxw);
	for (int i = 0; i < s->nobj; i++) {
		const obj *b = &s->objs[i];
		double rx = C[0] - b->cx, ry = C[1] - b->cy;
		if (b->kind == OBJ_POLE) {
			f.lx[i] = rx, f.ly[i] = ry;
		} else {
			f.lx[i] = rx * b->ux + ry * b->uy;
			f.ly[i] = -rx * b->uy + ry * b->ux;
		}
	}
	for (int pass = 0; pass < 2; pass++) {
		int w = pass == 0 ? W : DW, hgt = pass == 0 ? H : DH;
		if ((pass == 0 && !rgb) || (pass == 1 && !depth) || w <= 0 || hgt <= 0)
			continue;
		double fpx = CAM_FOV_PX(w);
		for (int c = 0; c < w; c++) {
			double lon = ((c + 0.5) / w - 0.5) * 2.0 * M_PI;
			sl[c] = sin(lon);
			cl[c] = cos(lon);
		}
		for (int r = 0; r < hgt; r++) {
			double lat = (0.5 - (r + 0.5) / hgt) * M_PI;
			double sla = sin(lat), cla = cos(lat);
			double ry[3] = {-R[1] * sla, -R[4] * sla, -R[7] * sla};
			double rx[3] = {R[0] * cla, R[3] * cla, R[6] * cla};
			double rz[3] = {R[2] * cla, R[5] * cla, R[8] * cla};
			if (pass == 1) {
				for (int c = 0; c < w; c++) {
					double d[3];
					row_dir(rx, ry, rz, sl[c], cl[c], d);
					ray_hit h;
					trace(&f, d, &h);
					double mm = h.t * 1000.0;
					depth[(size_t)r * w + c] =
						h.kind == HIT_SKY || mm >= 65535.0 ? 0 : (uint16_t)lround(mm);
				}
				continue;
			}
			/* Toward the poles a row spans less and less of the sphere (cos lat of the
			 * equator's length), so neighbouring pixels see nearly the same spot: there
			 * every 2nd or 4th pixel is traced and the ones between are interpolated when
			 * both ends hit the same surface (traced exactly otherwise, so edges stay
			 * sharp). Elsewhere every 2nd pixel is traced and only open sky, which has no
			 * detail at a pixel's scale, is interpolated. The depth maps are always traced
			 * per pixel. */
			int step = cla < 0.25 ? 4 : 2, any = cla < 0.5;
			if (w % step)
				step = 1;
			for (int c = 0; c < w; c += step) {
				double d[3];
				row_dir(rx, ry, rz, sl[c], cl[c], d);
				key[c] = pixel(&f, d, fpx, rowc + 3 * c);
			}
			if (step > 1) {
				key[w] = key[0]; /* the row wraps around */
				memcpy(rowc + 3 * w, rowc, 3 * sizeof(double));
				for (int c0 = 0; c0 < w; c0 += step) {
					int c1 = c0 + step;
					for (int c = c0 + 1; c < c1; c++) {
						if (key[c0] == key[c1] && (any || key[c0] == -1)) {
							double t = (double)(c - c0) / step;
							for (int i = 0; i < 3; i++)
								rowc[3 * c + i] = rowc[3 * c0 + i] +
										  (rowc[3 * c1 + i] - rowc[3 * c0 + i]) * t;
						} else {
							double d[3];
							row_dir(rx, ry, rz, sl[c], cl[c], d);
							pixel(&f, d, fpx, rowc + 3 * c);
						}
					}
				}
			}
			uint8_t *px = rgb + 3 * (size_t)r * w;
			for (int i = 0; i < 3 * w; i++)
				px[i] = to_u8(rowc[i]);
		}
	}
	free(f.near_tr);
	free(mem);
	return SVT_OK;
}

void smp_scene_set_run(smp_scene *s, const smp_run_look *run)
{
	if (run)
		s->run = *run;
	else
		memset(&s->run, 0, sizeof(s->run));
}

int smp_render_static_mask(const smp_scene *s, const double C[3], const double R[9],
			   uint8_t *mask, int W, int H)
{
	frame_ctx f;
	frame_begin(s, C, &f);
	double *mem = malloc(sizeof(double) * 2 * ((size_t)s->nobj + 1));
	if (!mem || near_transients(s, &f)) {
		free(mem);
		return SVT_E_NOMEM;
	}
	f.lx = mem;
	f.ly = mem + s->nobj;
	for (int i = 0; i < s->nobj; i++) {
		const obj *b = &s->objs[i];
		double rx = C[0] - b->cx, ry = C[1] - b->cy;
		if (b->kind == OBJ_POLE) {
			f.lx[i] = rx, f.ly[i] = ry;
		} else {
			f.lx[i] = rx * b->ux + ry * b->uy;
			f.ly[i] = -rx * b->uy + ry * b->ux;
		}
	}
	for (int r = 0; r < H; r++) {
		double lat = (0.5 - (r + 0.5) / H) * M_PI;
		double sla = sin(lat), cla = cos(lat);
		double ry[3] = {-R[1] * sla, -R[4] * sla, -R[7] * sla};
		double rx[3] = {R[0] * cla, R[3] * cla, R[6] * cla};
		double rz[3] = {R[2] * cla, R[5] * cla, R[8] * cla};
		for (int c = 0; c < W; c++) {
			double lon = ((c + 0.5) / W - 0.5) * 2.0 * M_PI, d[3];
			row_dir(rx, ry, rz, sin(lon), cos(lon), d);
			ray_hit h;
			trace(&f, d, &h);
			mask[(size_t)r * W + c] = h.kind == HIT_TRANSIENT ? 0 : 255;
		}
	}
	free(f.near_tr);
	free(mem);
	return SVT_OK;
}
