/* twin_points.c: fused point sets per tile, kept as LAS 1.4 files (DIR/points/, twin_las.c),
 * one file per capture's contribution to a tile (a part, "Per-capture parts" below).
 *
 * Points arrive per frame from the depth back-projection (gpu_depth_to_points) in some ENU
 * frame; they are moved into the store's ENU frame, binned by tile in the projected CRS and
 * merged on a voxel grid of the store's ENU frame. Each stored point keeps the number of input
 * points it stands for (the LAS "weight" extra bytes), so merging later captures is a weighted
 * mean and the result equals a single merge of everything (up to rounding), whether merged on
 * write (a capture's part) or on read (a tile's parts): gpu_voxel_downsample
 * caps its count at 255 and cannot be chained that way, hence this C merge. The per-tile
 * reduction before it may still use the GPU kernel (twin_store_set_gpu).
 *
 * Speed: no PROJ call per point. ENU <-> projected goes through a smooth map (twin_map: exact
 * PROJ at nodes 25 m apart, trilinear between; error < 1e-4 m, tested), points are binned
 * into tiles by a small hash of the tile (a counting sort then groups them), and a tile's
 * points are merged after one radix sort on their voxel keys packed tight (a voxel's points
 * are then consecutive; a comparison sort only inside a voxel, for a summation order
 * independent of the input order). The arrays of a call are kept in the store for the next
 * (twin_scratch), and no per-point copy of the positions is made.
 *
 * The LAS files hold projected E, N and ellipsoidal h (the store's CRS in their WKT) at
 * 0.01 mm: a part written at generation g is <tx>_<ty>.c<capture>.p<part>.<g>.las, named by
 * the tile_parts table in the same transaction that bumps the tile; the file it replaces is
 * removed after the commit.
 */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define TWIN_MAP_AVX2 1
#endif

#include "twin/twin_internal.h"
#include "twin/twin_las.h"

#define LAS_SCALE 1e-5 /* 0.01 mm: int32 reaches 21 km from a tile's corner */

enum { ST_TILE_POINTS = 24, ST_TILES_IN = 25, ST_PARTS_OF = 26, ST_PART_PUT = 27, ST_PART_DEL = 28,
       ST_FRAME_CAPTURE = 29, ST_PART_NEXT = 30 };

typedef struct wpoint {
	double p[3];   /* position, store ENU */
	int32_t k[3];  /* voxel index (a LAS part stores it as int32) */
	uint32_t w;    /* weight: input points merged */
	uint8_t c[3];  /* colour: a point's own, or a merged voxel's mean as the LAS file keeps
			* it (rgb8): every reader of a merged voxel wants that rounding */
	uint8_t keyed; /* k already set (a stored voxel keeps its own) */
} wpoint;
/* 48 bytes, not the 80 of int64 keys and double colours: the merge reads its points in voxel
 * order, a random gather, and a tile's points are first touches of that many bytes each. */
_Static_assert(sizeof(wpoint) == 48, "wpoint is 48 bytes");

/* ---- Working memory kept between fusion calls -------------------------------------------- */

/* A buffer grown on demand, its contents not kept across growth. */
typedef struct fbuf {
	void *p;
	size_t cap; /* bytes */
} fbuf;

/* At least bytes bytes of b (NULL when out of memory). Grown to half as much again as asked:
 * the next call often asks a little more, and pages never written are never faulted in. */
static void *fbuf_get(fbuf *b, size_t bytes)
{
	if (bytes > b->cap || !b->p) {
		size_t c = bytes + bytes / 2 + 64;
		void *q = malloc(c);
		if (!q)
			return NULL;
		free(b->p);
		b->p = q;
		b->cap = c;
	}
	return b->p;
}

/* The fusion's arrays, kept in the store (s->scratch) from one call to the next and freed
 * with it: a call over a clip's 1M+ points needs tens of MB of them, and glibc serves blocks
 * that large from fresh mappings, so allocating them anew each call (and each tile) costs a
 * page fault per 4 KiB written, about as much as the work done in them. The store is used by
 * one thread at a time, and so is this. */
struct twin_scratch {
	fbuf gid, order;          /* twin_store_add_points_of: each point's tile, points by tile */
	fbuf bbox, bbad, btile;   /* ... its passes over the points in blocks (bin_run) */
	wpoint *v;                /* one tile's points (realloc'd: las_to_enu appends to it) */
	size_t vcap;              /* elements */
	fbuf out, run, key, ix;   /* voxel_merge: merged voxels, one voxel's points, the sort */
	fbuf hist;                /* voxel_sort: the digits' counts */
	fbuf lp;                  /* tile_write: the records */
	size_t las_n;             /* tile_write: the bytes of its last file in las */
	twin_las_point *rd;       /* tile_read_enu: a part's records (twin_las_decode_into) */
	size_t rd_cap;
	uint8_t *las;             /* tile_write: the file's bytes (twin_las_encode_into) */
	size_t las_cap;
};
typedef struct twin_scratch twin_scratch;

static void scratch_clear(twin_scratch *sc)
{
	free(sc->gid.p);
	free(sc->bbox.p);
	free(sc->bbad.p);
	free(sc->btile.p);
	free(sc->order.p);
	free(sc->v);
	free(sc->out.p);
	free(sc->run.p);
	free(sc->key.p);
	free(sc->ix.p);
	free(sc->hist.p);
	free(sc->lp.p);
	free(sc->rd);
	free(sc->las);
	memset(sc, 0, sizeof(*sc));
}

void twin_points_scratch_free(twin_scratch *sc)
{
	if (sc) {
		scratch_clear(sc);
		free(sc);
	}
}

/* The store's scratch, made on first use; NULL when out of memory. */
static twin_scratch *scratch_of(twin_store *s)
{
	if (!s->scratch)
		s->scratch = calloc(1, sizeof(*s->scratch));
	return s->scratch;
}

/* ---- ENU <-> projected maps ---------------------------------------------------------------- */

/* twin_map_exact through given PROJ objects (the store's, or a fusion thread's own). */
static int map_exact_on(geo_crs *crs, geo_enu *enu, int dir, double *xyz, size_t n,
			svt_err *err)
{
	size_t st = 3 * sizeof(double);
	if (dir == TWIN_MAP_ENU_TO_PROJ) {
		int rc = geo_enu_inverse(enu, xyz, xyz + 1, xyz + 2, st, n, err);
		return rc ? rc : geo_crs_forward(crs, xyz, xyz + 1, xyz + 2, st, n, err);
	}
	int rc = geo_crs_inverse(crs, xyz, xyz + 1, xyz + 2, st, n, err);
	return rc ? rc : geo_enu_forward(enu, xyz, xyz + 1, xyz + 2, st, n, err);
}

int twin_map_exact(twin_store *s, int dir, double *xyz, size_t n, svt_err *err)
{
	return map_exact_on(s->crs, s->enu, dir, xyz, n, err);
}

void twin_map_free(twin_map *m)
{
	if (m) {
		free(m->v);
		m->v = NULL;
	}
}

static int map_build_on(geo_crs *crs, geo_enu *enu, int dir, const double lo[3],
			const double hi[3], twin_map *m, svt_err *err);

int twin_map_build(twin_store *s, int dir, const double lo[3], const double hi[3], twin_map *m,
		   svt_err *err)
{
	return map_build_on(s->crs, s->enu, dir, lo, hi, m, err);
}

static int map_build_on(geo_crs *crs, geo_enu *enu, int dir, const double lo[3],
			const double hi[3], twin_map *m, svt_err *err)
{
	memset(m, 0, sizeof(*m));
	for (int a = 0; a < 3; a++) {
		double span = hi[a] - lo[a];
		if (!isfinite(span) || span < 0 || span > 1e6)
			return svt_err_set(err, SVT_E_INPUT, "points span %g m: out of range", span);
		m->n[a] = a < 2 ? 2 + (int)ceil(span / TWIN_MAP_CELL_M) : 2;
		m->lo[a] = lo[a];
		m->step[a] = fmax(span, 1.0) / (m->n[a] - 1);
	}
	size_t nn = (size_t)m->n[0] * (size_t)m->n[1] * (size_t)m->n[2];
	if (!(m->v = malloc(3 * nn * sizeof(double))))
		return svt_err_set(err, SVT_E_NOMEM, "no memory for a map of %zu nodes", nn);
	for (int k = 0; k < m->n[2]; k++)
		for (int j = 0; j < m->n[1]; j++)
			for (int i = 0; i < m->n[0]; i++) {
				double *v = m->v + 3 * (((size_t)k * m->n[1] + j) * m->n[0] + i);
				v[0] = m->lo[0] + i * m->step[0];
				v[1] = m->lo[1] + j * m->step[1];
				v[2] = m->lo[2] + k * m->step[2];
			}
	int rc = map_exact_on(crs, enu, dir, m->v, nn, err);
	if (rc)
		twin_map_free(m);
	return rc;
}

/* The cell of m holding x along axis a, and x's fraction across it: the one rule for a cell,
 * so that bin_tiles' cell lookup (map_cell) picks the cell twin_map_apply interpolates in. */
static inline int map_axis(const twin_map *m, int a, double x, double *f)
{
	double u = (x - m->lo[a]) / m->step[a];
	double fl = floor(u);
	/* Outside the box (a point on its edge): the edge cell, extrapolated. */
	if (fl < 0)
		fl = 0;
	if (fl > m->n[a] - 2)
		fl = m->n[a] - 2;
	*f = u - fl;
	return (int)fl;
}

void twin_map_apply(const twin_map *m, const double in[3], double out[3])
{
	int c[3];
	double f[3];
	for (int a = 0; a < 3; a++)
		c[a] = map_axis(m, a, in[a], &f[a]);
	/* Three scalar sums, the terms in the same order as ever (corners dz, dy, dx; the
	 * weight ((x * y) * z)): an array of sums indexed in a loop was kept in memory, a store
	 * and a reload a term (4 % of a build with depth, on the last fusion's critical path). */
	const double g[3][2] = {{1 - f[0], f[0]}, {1 - f[1], f[1]}, {1 - f[2], f[2]}};
	const size_t sy = 3 * (size_t)m->n[0], sz = sy * (size_t)m->n[1];
	const double *v0 = m->v + (size_t)c[2] * sz + (size_t)c[1] * sy + 3 * (size_t)c[0];
	double o0 = 0, o1 = 0, o2 = 0;
	for (int dz = 0; dz < 2; dz++)
		for (int dy = 0; dy < 2; dy++)
			for (int dx = 0; dx < 2; dx++) {
				double w = g[0][dx] * g[1][dy] * g[2][dz];
				const double *v = v0 + dz * sz + dy * sy + 3 * dx;
				o0 += w * v[0];
				o1 += w * v[1];
				o2 += w * v[2];
			}
	out[0] = o0;
	out[1] = o1;
	out[2] = o2;
}

#ifdef TWIN_MAP_AVX2
/* Four points of twin_map_apply side by side, one a lane: the same operations in the same
 * order for each (a division, floor and the clamps per axis, the weights ((x * y) * z), the
 * corners' sums from zero in the order dz, dy, dx; no FMA, -ffp-contract=off), so the same
 * bits; the corners' values gathered. */
__attribute__((target("avx2"))) static void map_apply4_avx2(const twin_map *m,
							       const double *const in[4],
							       double *const out[4])
{
	__m256d g0[3], g1[3];
	__m128i c[3];
	for (int a = 0; a < 3; a++) {
		__m256d x = _mm256_set_pd(in[3][a], in[2][a], in[1][a], in[0][a]);
		__m256d u = _mm256_div_pd(_mm256_sub_pd(x, _mm256_set1_pd(m->lo[a])),
					  _mm256_set1_pd(m->step[a]));
		__m256d fl = _mm256_floor_pd(u);
		__m256d zero = _mm256_setzero_pd(), top = _mm256_set1_pd((double)(m->n[a] - 2));
		fl = _mm256_blendv_pd(fl, zero, _mm256_cmp_pd(fl, zero, _CMP_LT_OQ));
		fl = _mm256_blendv_pd(fl, top, _mm256_cmp_pd(fl, top, _CMP_GT_OQ));
		__m256d f = _mm256_sub_pd(u, fl);
		g0[a] = _mm256_sub_pd(_mm256_set1_pd(1.0), f);
		g1[a] = f;
		c[a] = _mm256_cvttpd_epi32(fl);
	}
	const int sy = 3 * m->n[0], sz = sy * m->n[1];
	__m128i base = _mm_add_epi32(_mm_add_epi32(_mm_mullo_epi32(c[2], _mm_set1_epi32(sz)),
						   _mm_mullo_epi32(c[1], _mm_set1_epi32(sy))),
				     _mm_mullo_epi32(c[0], _mm_set1_epi32(3)));
	__m256d o[3] = {_mm256_setzero_pd(), _mm256_setzero_pd(), _mm256_setzero_pd()};
	for (int q = 0; q < 8; q++) { /* corner q: dx its bit 0, dy bit 1, dz bit 2 (dx fastest) */
		int dx = q & 1, dy = (q >> 1) & 1, dz = q >> 2;
		__m256d w = _mm256_mul_pd(_mm256_mul_pd(dx ? g1[0] : g0[0], dy ? g1[1] : g0[1]),
					  dz ? g1[2] : g0[2]);
		__m128i ix = _mm_add_epi32(base, _mm_set1_epi32(dz * sz + dy * sy + 3 * dx));
		for (int k = 0; k < 3; k++)
			o[k] = _mm256_add_pd(o[k],
					     _mm256_mul_pd(w, _mm256_i32gather_pd(m->v + k, ix, 8)));
	}
	double r0[4], r1[4], r2[4];
	_mm256_storeu_pd(r0, o[0]);
	_mm256_storeu_pd(r1, o[1]);
	_mm256_storeu_pd(r2, o[2]);
	for (int l = 0; l < 4; l++) {
		out[l][0] = r0[l];
		out[l][1] = r1[l];
		out[l][2] = r2[l];
	}
}
#endif

void twin_map_apply_n(const twin_map *m, const double *in, size_t in_stride, double *out,
		      size_t out_stride, size_t n)
{
	size_t i = 0;
#ifdef TWIN_MAP_AVX2
	/* The gathers index the nodes with int32: a map of up to 2^31 values (it has a few
	 * thousand: 25 m cells over a clip's box). */
	size_t nv = 3 * (size_t)m->n[0] * (size_t)m->n[1] * (size_t)m->n[2];
	if (nv < ((size_t)1 << 31) && __builtin_cpu_supports("avx2"))
		for (; i + 4 <= n; i += 4) {
			const double *pi[4];
			double *po[4];
			for (int l = 0; l < 4; l++) {
				pi[l] = (const double *)(const void *)((const char *)in +
								       (i + l) * in_stride);
				po[l] = (double *)(void *)((char *)out + (i + l) * out_stride);
			}
			map_apply4_avx2(m, pi, po);
		}
#endif
	for (; i < n; i++)
		twin_map_apply(m, (const double *)(const void *)((const char *)in + i * in_stride),
			       (double *)(void *)((char *)out + i * out_stride));
}

/* Grows the box lo..hi to hold p. fmin and fmax as glibc's x86-64 libm computes them for
 * numbers (minsd, maxsd: x < y ? x : y and x > y ? x : y, so the same bits, signed zeros
 * included), written out so they compile inline instead of two calls a coordinate. */
static void box_grow(double lo[3], double hi[3], const double p[3])
{
	for (int a = 0; a < 3; a++) {
		lo[a] = lo[a] < p[a] ? lo[a] : p[a];
		hi[a] = hi[a] > p[a] ? hi[a] : p[a];
	}
}

/* Point q moved into the store's ENU frame: x_s = M x_q + t. Each pass that needs it
 * recomputes it, the same operations in the same order (so the same bits), instead of keeping
 * 24 bytes a point between passes: a few multiplications cost less than the memory. */
static void enu_of(const double M[9], const double t[3], const gpu_point *q, double p[3])
{
	double x = q->x, y = q->y, z = q->z;
	for (int r = 0; r < 3; r++)
		p[r] = M[3 * r] * x + M[3 * r + 1] * y + M[3 * r + 2] * z + t[r];
}

/* ---- Hashing ------------------------------------------------------------------------------- */

static uint64_t mix(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static uint64_t key_hash(const int64_t *k, int dims)
{
	uint64_t h = 0x9e3779b97f4a7c15ull;
	for (int a = 0; a < dims; a++)
		h = mix(h ^ (uint64_t)k[a]);
	return h;
}

/* Keys of dims int64 numbered by equality, in order of first appearance: an open-addressing
 * table of 32-bit group numbers grown with the groups (at most half full), so that its size
 * follows the distinct keys, not the items (a fusion call's million points fall in a few
 * tiles). */
typedef struct grouper {
	int dims;
	size_t ng, cap; /* groups; slots, a power of two (0 before the first key) */
	uint32_t *slot; /* UINT32_MAX: empty */
	int64_t *key;   /* group g's key at key[g * dims], room for cap / 2 groups */
} grouper;

static void grouper_free(grouper *g)
{
	free(g->slot);
	free(g->key);
	g->slot = NULL;
	g->key = NULL;
	g->ng = g->cap = 0;
}

static int grouper_grow(grouper *g)
{
	size_t cap = g->cap ? 2 * g->cap : 64, d = (size_t)g->dims;
	uint32_t *slot = malloc(cap * sizeof(*slot));
	int64_t *key = slot ? realloc(g->key, cap / 2 * d * sizeof(*key)) : NULL;
	if (!key) {
		free(slot);
		return SVT_E_NOMEM;
	}
	g->key = key;
	memset(slot, 0xff, cap * sizeof(*slot));
	for (size_t q = 0; q < g->ng; q++) {
		size_t h = (size_t)key_hash(key + q * d, g->dims) & (cap - 1);
		while (slot[h] != UINT32_MAX)
			h = (h + 1) & (cap - 1);
		slot[h] = (uint32_t)q;
	}
	free(g->slot);
	g->slot = slot;
	g->cap = cap;
	return SVT_OK;
}

/* The group of key k, a new one when k is new; (size_t)-1 when out of memory. */
static size_t grouper_add(grouper *g, const int64_t *k)
{
	size_t d = (size_t)g->dims;
	if (2 * (g->ng + 1) > g->cap && (g->ng >= UINT32_MAX - 1 || grouper_grow(g)))
		return (size_t)-1;
	for (size_t m = g->cap - 1, h = (size_t)key_hash(k, g->dims) & m;; h = (h + 1) & m) {
		uint32_t q = g->slot[h];
		if (q == UINT32_MAX) {
			memcpy(g->key + g->ng * d, k, d * sizeof(*k));
			g->slot[h] = (uint32_t)g->ng;
			return g->ng++;
		}
		if (!memcmp(g->key + (size_t)q * d, k, d * sizeof(*k)))
			return q;
	}
}

/* ---- The voxel merge ------------------------------------------------------------------------ */

static int wp_cmp(const void *a, const void *b)
{
	const wpoint *p = a, *q = b;
	for (int i = 0; i < 3; i++)
		if (p->k[i] != q->k[i])
			return p->k[i] < q->k[i] ? -1 : 1;
	/* Equal voxel: a total order on the rest, so summation order never depends on input
	 * order. */
	for (int i = 0; i < 3; i++)
		if (p->p[i] != q->p[i])
			return p->p[i] < q->p[i] ? -1 : 1;
	for (int i = 0; i < 3; i++)
		if (p->c[i] != q->c[i])
			return p->c[i] < q->c[i] ? -1 : 1;
	return p->w < q->w ? -1 : (p->w > q->w);
}

/* Bits needed for the unsigned range r (0 for 0). */
static int range_bits(uint64_t r)
{
	int b = 0;
	for (; r; r >>= 1)
		b++;
	return b;
}

static uint64_t shl(uint64_t x, int b) { return b < 64 ? x << b : 0; }

/* The order of v[0..n) by voxel (x, then y, then z; equal voxels in input order): the keys,
 * relative to their minimum, packed into one integer, each axis in the bits its range needs
 * (up to 33 in all for the samples' 100 m tiles at 5 cm), and radix-sorted 11 bits at a time
 * (3 passes for those), the digits all keys share skipped (the counts of every digit taken in
 * one pass). NULL with *fits 0 when the
 * ranges need more than 64 bits (or n more than 32-bit indices); NULL with *fits 1 when out of
 * memory. The indices live in sc until its next use, and so do the packed keys in their
 * sorted order (*sorted: equal keys, equal voxels), which the merge compares instead of the
 * points' own keys (a random read a point). */
static const uint32_t *voxel_sort(twin_scratch *sc, const wpoint *v, size_t n, int *fits,
				  const uint64_t **sorted)
{
	int64_t lo[3], hi[3];
	for (int a = 0; a < 3; a++)
		lo[a] = hi[a] = v[0].k[a];
	for (size_t i = 1; i < n; i++)
		for (int a = 0; a < 3; a++) {
			lo[a] = v[i].k[a] < lo[a] ? v[i].k[a] : lo[a];
			hi[a] = v[i].k[a] > hi[a] ? v[i].k[a] : hi[a];
		}
	int bits[3], tot = 0;
	for (int a = 0; a < 3; a++)
		tot += bits[a] = range_bits((uint64_t)hi[a] - (uint64_t)lo[a]);
	*fits = tot <= 64 && n <= UINT32_MAX;
	if (!*fits)
		return NULL;
	uint64_t *k = fbuf_get(&sc->key, 2 * n * sizeof(*k));
	uint32_t *ix = k ? fbuf_get(&sc->ix, 2 * n * sizeof(*ix)) : NULL;
	if (!ix)
		return NULL;
	uint64_t *k2 = k + n;
	uint32_t *ix2 = ix + n;
	enum { DIGIT = 11, NB = 1 << DIGIT, MAXPASS = (64 + DIGIT - 1) / DIGIT };
	int npass = (tot + DIGIT - 1) / DIGIT;
	uint32_t(*cnt)[NB] = fbuf_get(&sc->hist, MAXPASS * sizeof(*cnt)); /* 48 KiB */
	if (!cnt)
		return NULL;
	memset(cnt, 0, (size_t)npass * sizeof(cnt[0]));
	for (size_t i = 0; i < n; i++) {
		uint64_t x = shl((uint64_t)v[i].k[0] - (uint64_t)lo[0], bits[1]) |
			     ((uint64_t)v[i].k[1] - (uint64_t)lo[1]);
		k[i] = shl(x, bits[2]) | ((uint64_t)v[i].k[2] - (uint64_t)lo[2]);
		ix[i] = (uint32_t)i;
		for (int p = 0; p < npass; p++)
			cnt[p][(k[i] >> (DIGIT * p)) & (NB - 1)]++;
	}
	for (int p = 0; p < npass; p++) {
		int sh = DIGIT * p;
		if (cnt[p][(k[0] >> sh) & (NB - 1)] == n)
			continue; /* one value of this digit: nothing to move */
		uint32_t sum = 0;
		for (int b = 0; b < NB; b++) { /* the counts become each digit's first place */
			uint32_t c = cnt[p][b];
			cnt[p][b] = sum;
			sum += c;
		}
		for (size_t i = 0; i < n; i++) {
			size_t j = cnt[p][(k[i] >> sh) & (NB - 1)]++;
			k2[j] = k[i];
			ix2[j] = ix[i];
		}
		uint64_t *tk = k;
		k = k2;
		k2 = tk;
		uint32_t *ti = ix;
		ix = ix2;
		ix2 = ti;
	}
	*sorted = k;
	return ix;
}

/* A mean colour as the LAS file stores it: rounded (halfway up, as round() for these),
 * clamped to 0..255; without a libm call (three a voxel): the fraction c - trunc(c) is exact. */
static inline uint8_t rgb8(double c)
{
	if (!(c >= 0.5))
		return 0; /* and NaN, which no mean of colours is */
	if (c >= 254.5)
		return 255;
	int k = (int)c;
	return (uint8_t)(k + (c - (double)k >= 0.5)); /* no branch on a random fraction */
}

/* voxel_merge's failures (its counts are below both). */
#define VOXEL_NOMEM ((size_t)-1)
#define VOXEL_RANGE ((size_t)-2) /* a voxel index outside int32 (LAS keeps them so) */

/* Merges v[0..n) into one weighted mean per voxel, in voxel order, in sc's out buffer (*res:
 * not copied back over v); returns their count, or VOXEL_NOMEM / VOXEL_RANGE. The points are
 * put in voxel order (voxel_sort; a sort of the points themselves when their keys do not
 * pack), so each voxel's points are consecutive; a voxel's points are summed in wp_cmp's
 * total order, so the result does not depend on the input order. */
static size_t voxel_merge(twin_scratch *sc, wpoint *v, size_t n, double voxel,
			  const wpoint **res)
{
	*res = v;
	for (size_t i = 0; i < n; i++)
		for (int a = 0; !v[i].keyed && a < 3; a++) {
			double f = floor(v[i].p[a] / voxel);
			if (!(f >= (double)INT32_MIN && f <= (double)INT32_MAX))
				return VOXEL_RANGE;
			v[i].k[a] = (int32_t)f;
		}
	if (n == 0)
		return 0;
	int fits = 0;
	const uint64_t *key = NULL;
	const uint32_t *ix = voxel_sort(sc, v, n, &fits, &key);
	wpoint *out = fbuf_get(&sc->out, n * sizeof(*out));
	if ((!ix && fits) || !out)
		return VOXEL_NOMEM;
	if (!ix)
		qsort(v, n, sizeof(*v), wp_cmp);
	size_t ng = 0;
	for (size_t a = 0, b; a < n; a = b) {
		const wpoint *first = ix ? &v[ix[a]] : &v[a];
		if (ix) {
			/* The voxel's points are the run of its key; the point a few voxels on is
			 * fetched meanwhile (the order is random in memory). */
			if (a + 16 < n)
				__builtin_prefetch(&v[ix[a + 16]]);
			for (b = a + 1; b < n && key[b] == key[a]; b++)
				;
		} else {
			for (b = a + 1; b < n; b++)
				if (memcmp(v[b].k, first->k, sizeof(first->k)))
					break;
		}
		if (b - a == 1) { /* the mean of one is itself (no x * w / w rounding) */
			out[ng++] = *first;
			continue;
		}
		wpoint *tmp = fbuf_get(&sc->run, (b - a) * sizeof(*tmp));
		if (!tmp)
			return VOXEL_NOMEM;
		for (size_t j = a; j < b; j++)
			tmp[j - a] = ix ? v[ix[j]] : v[j];
		qsort(tmp, b - a, sizeof(*tmp), wp_cmp);
		double sp[3] = {0}, sc3[3] = {0};
		uint64_t sw = 0;
		for (size_t j = 0; j < b - a; j++) {
			for (int d = 0; d < 3; d++) {
				sp[d] += tmp[j].p[d] * tmp[j].w;
				sc3[d] += (double)tmp[j].c[d] * tmp[j].w;
			}
			sw += tmp[j].w;
		}
		wpoint o = tmp[0];
		for (int d = 0; d < 3; d++) {
			o.p[d] = sp[d] / (double)sw;
			o.c[d] = rgb8(sc3[d] / (double)sw);
		}
		o.w = sw > UINT32_MAX ? UINT32_MAX : (uint32_t)sw;
		out[ng++] = o;
	}
	*res = out;
	return ng;
}

/* ---- Tile files ----------------------------------------------------------------------------- */

static int pts_path(const twin_store *s, const char *file, char *p, size_t cap, svt_err *err)
{
	char rel[160];
	snprintf(rel, sizeof(rel), "%s/%s", TWIN_POINTS_DIR, file);
	return svt_path_join(p, cap, s->dir, rel, err);
}

static int store_wkt(twin_store *s, svt_err *err)
{
	return s->wkt ? SVT_OK : twin_crs_wkt(s->epsg, &s->wkt, err);
}

/* Part file `file` of s mapped read-only, populated in one call (no fault a page, no copy);
 * the caller unmaps (*map, *size). */
static int part_map(const twin_store *s, const char *file, void **map, size_t *size,
		    svt_err *err)
{
	char p[4096];
	struct stat st;
	int rc = pts_path(s, file, p, sizeof(p), err);
	if (rc)
		return rc;
	int fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) != 0 || st.st_size <= 0) {
		if (fd >= 0)
			close(fd);
		return svt_err_set(err, SVT_E_IO, "%s: cannot be read", p);
	}
	*size = (size_t)st.st_size;
	*map = mmap(NULL, *size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
	close(fd);
	if (*map == MAP_FAILED)
		return svt_err_set(err, SVT_E_IO, "%s: cannot be mapped", p);
	return SVT_OK;
}

/* Reads a LAS file of the store (projected coordinates). */
static int las_read(const twin_store *s, const char *file, twin_las_point **lp, size_t *n,
		    svt_err *err)
{
	char p[4096];
	uint8_t *d = NULL;
	size_t size = 0;
	int rc = pts_path(s, file, p, sizeof(p), err);
	if (!rc)
		rc = svt_file_read(p, (size_t)1 << 34, &d, &size, err);
	if (!rc && (rc = twin_las_decode(d, size, lp, n, NULL, err)))
		svt_err_prefix(err, "%s", p);
	free(d);
	return rc;
}

/* Appends a tile's points lp[0..n) (projected) to v at *m, moved into the store's ENU frame
 * through the inverse map over the tile. */
static int las_to_enu(twin_store *s, int tx, int ty, const twin_las_point *lp, size_t n,
		      wpoint **v, size_t *m, size_t *cap, svt_err *err)
{
	twin_map map = {0};
	int rc = SVT_OK;
	if (*m + n > *cap) {
		size_t nc = *m + n + (*m + n) / 2; /* a compaction appends part after part */
		wpoint *q = realloc(*v, (nc ? nc : 1) * sizeof(*q));
		if (!q) {
			rc = svt_err_set(err, SVT_E_NOMEM, "no memory for %zu points", nc);
			goto done;
		}
		*v = q;
		*cap = nc;
	}
	double lo[3] = {tx * s->tile_m, ty * s->tile_m, INFINITY};
	double hi[3] = {(tx + 1) * s->tile_m, (ty + 1) * s->tile_m, -INFINITY};
	for (size_t i = 0; i < n; i++)
		for (int a = 0; a < 3; a++) {
			lo[a] = fmin(lo[a], lp[i].xyz[a]);
			hi[a] = fmax(hi[a], lp[i].xyz[a]);
		}
	if (n && (rc = twin_map_build(s, TWIN_MAP_PROJ_TO_ENU, lo, hi, &map, err)))
		goto done;
	if (n)
		twin_map_apply_n(&map, lp[0].xyz, sizeof(*lp), (*v)[*m].p, sizeof(**v), n);
	for (size_t i = 0; i < n; i++) {
		wpoint *w = &(*v)[(*m)++];
		for (int a = 0; a < 3; a++) {
			w->c[a] = lp[i].rgb[a];
			w->k[a] = lp[i].vox[a];
		}
		w->keyed = lp[i].has_vox;
		w->w = lp[i].weight;
	}
done:
	twin_map_free(&map);
	return rc;
}

/* Appends one part file's points to sc->v at *m (las_to_enu), for a compaction: the file
 * mapped, its records decoded into the scratch. */
static int tile_read_enu(twin_store *s, twin_scratch *sc, int tx, int ty, const char *file,
			 size_t *m, svt_err *err)
{
	void *map = NULL;
	size_t size = 0, n = 0;
	int rc = part_map(s, file, &map, &size, err);
	if (rc)
		return rc;
	if ((rc = twin_las_decode_into(map, size, &sc->rd, &sc->rd_cap, &n, NULL, err)))
		svt_err_prefix(err, "%s/%s/%s", s->dir, TWIN_POINTS_DIR, file);
	munmap(map, size);
	return rc ? rc : las_to_enu(s, tx, ty, sc->rd, n, &sc->v, m, &sc->vcap, err);
}

/* ---- Per-capture parts of a tile ------------------------------------------------------------ */

/* A tile's points are kept per contribution: a part is one LAS file holding the weighted
 * voxel means of one capture's points in that tile (capture = the captures table's fid; 0 for
 * points of no known capture: twin_store_add_points, stores migrated from v1 or made before
 * parts). A tile may hold several parts of one capture (part numbers: each fusion call adds
 * one, up to TWIN_PARTS_MAX, when the next call compacts them into one; a cluster merge adopts
 * each rank's file as its own part). Readers merge a tile's parts on read, voxel by voxel, as
 * weighted means: for one part that is the part as it is; for several, the fusion of all their
 * points at once, up to rounding. A capture's parts can then be removed (twin_store_remove_
 * capture) and ranks' files adopted without a rewrite (twin_store_merge_points). The
 * tile_parts table is created on first write; the tiles of a store without it are read from
 * tiles.points_file (one part, capture 0), and moved into it in the same transaction. */
typedef struct tpart {
	sqlite3_int64 capture;
	int part;
	size_t n;
	char file[128];
} tpart;

static int parts_table_exists(twin_store *s)
{
	sqlite3_stmt *st = NULL;
	int yes = 0;
	if (sqlite3_prepare_v2(s->db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND "
			       "name = 'tile_parts'", -1, &st, NULL) == SQLITE_OK)
		yes = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_finalize(st);
	return yes;
}

/* Creates tile_parts (and moves the tiles' single files into it), inside the caller's
 * transaction. */
static int parts_ensure(twin_store *s, svt_err *err)
{
	if (parts_table_exists(s))
		return SVT_OK;
	return twin_db_exec(
		s->db,
		"CREATE TABLE tile_parts (tx INTEGER NOT NULL, ty INTEGER NOT NULL, "
		" capture INTEGER NOT NULL, part INTEGER NOT NULL, n_points INTEGER NOT NULL, "
		" file TEXT NOT NULL, PRIMARY KEY (tx, ty, capture, part)) WITHOUT ROWID;"
		"CREATE INDEX tile_parts_capture ON tile_parts(capture);"
		"INSERT INTO tile_parts SELECT tx, ty, 0, 0, n_points, points_file FROM tiles "
		" WHERE points_file IS NOT NULL AND n_points > 0;"
		"UPDATE tiles SET points_file = NULL WHERE points_file IS NOT NULL;",
		err);
}

/* The parts of tile (tx, ty) in (capture, part) order; *out malloc'd (NULL when none). */
/* A tile part from a query's columns c.. (capture, part, n_points, file). */
static void part_row(sqlite3_stmt *st, int c, tpart *p)
{
	p->capture = sqlite3_column_int64(st, c);
	p->part = sqlite3_column_int(st, c + 1);
	p->n = (size_t)sqlite3_column_int64(st, c + 2);
	const char *f = (const char *)sqlite3_column_text(st, c + 3);
	snprintf(p->file, sizeof(p->file), "%s", f ? f : "");
}

static int parts_list(twin_store *s, int tx, int ty, tpart **out, size_t *n, svt_err *err)
{
	*out = NULL;
	*n = 0;
	int legacy = !parts_table_exists(s);
	sqlite3_stmt *st = twin_stmt(
		s, legacy ? ST_TILE_POINTS : ST_PARTS_OF,
		legacy ? "SELECT 0, 0, n_points, points_file FROM tiles WHERE tx = ? AND ty = ? AND "
			 "points_file IS NOT NULL AND n_points > 0"
		       : "SELECT capture, part, n_points, file FROM tile_parts WHERE tx = ? AND ty = ? "
			 "ORDER BY capture, part",
		err);
	if (!st)
		return SVT_E_IO;
	sqlite3_bind_int(st, 1, tx);
	sqlite3_bind_int(st, 2, ty);
	int r, rc = SVT_OK;
	size_t cap = 0;
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		if (*n == cap) {
			cap = cap ? 2 * cap : 4;
			tpart *q = realloc(*out, cap * sizeof(*q));
			if (!q) {
				rc = svt_err_set(err, SVT_E_NOMEM, "no memory");
				break;
			}
			*out = q;
		}
		part_row(st, 0, &(*out)[(*n)++]);
	}
	if (!rc && r != SQLITE_DONE)
		rc = twin_db_err(s->db, "tile_parts", err);
	sqlite3_reset(st);
	if (rc) {
		free(*out);
		*out = NULL;
		*n = 0;
	}
	return rc;
}

/* Sets (n > 0) or removes (n == 0) part (tx, ty, capture, part), inside a transaction. */
static int part_put(twin_store *s, int tx, int ty, sqlite3_int64 capture, int part, size_t n,
		    const char *file, svt_err *err)
{
	sqlite3_stmt *st = twin_stmt(
		s, n ? ST_PART_PUT : ST_PART_DEL,
		n ? "INSERT OR REPLACE INTO tile_parts(tx, ty, capture, part, n_points, file) "
		    "VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
		  : "DELETE FROM tile_parts WHERE tx = ?1 AND ty = ?2 AND capture = ?3 AND part = ?4",
		err);
	if (!st)
		return SVT_E_IO;
	sqlite3_bind_int(st, 1, tx);
	sqlite3_bind_int(st, 2, ty);
	sqlite3_bind_int64(st, 3, capture);
	sqlite3_bind_int(st, 4, part);
	if (n) {
		sqlite3_bind_int64(st, 5, (sqlite3_int64)n);
		sqlite3_bind_text(st, 6, file, -1, SQLITE_TRANSIENT);
	}
	int r = sqlite3_step(st);
	sqlite3_reset(st);
	return r == SQLITE_DONE ? SVT_OK : twin_db_err(s->db, "tile_parts", err);
}

/* A part's file name: unique per tile, capture, part and generation. */
static void part_file(char *f, size_t cap, int tx, int ty, sqlite3_int64 capture, int part,
		      uint64_t gen)
{
	snprintf(f, cap, "%d_%d.c%lld.p%d.%llu.las", tx, ty, (long long)capture, part,
		 (unsigned long long)gen);
}

/* Gives points decoded from a file without voxel fields (older stores) their voxel of the
 * store's grid, from their position in the store's ENU frame. */
static int las_key_fill(twin_store *s, int tx, int ty, twin_las_point *lp, size_t n,
			svt_err *err)
{
	size_t k = 0;
	while (k < n && lp[k].has_vox)
		k++;
	if (k == n)
		return SVT_OK;
	double lo[3] = {tx * s->tile_m, ty * s->tile_m, INFINITY};
	double hi[3] = {(tx + 1) * s->tile_m, (ty + 1) * s->tile_m, -INFINITY};
	for (size_t i = 0; i < n; i++)
		for (int a = 0; a < 3; a++) {
			lo[a] = fmin(lo[a], lp[i].xyz[a]);
			hi[a] = fmax(hi[a], lp[i].xyz[a]);
		}
	twin_map map = {0};
	int rc = twin_map_build(s, TWIN_MAP_PROJ_TO_ENU, lo, hi, &map, err);
	for (size_t i = 0; !rc && i < n; i++) {
		if (lp[i].has_vox)
			continue;
		double p[3];
		twin_map_apply(&map, lp[i].xyz, p);
		for (int a = 0; a < 3; a++)
			lp[i].vox[a] = (int32_t)floor(p[a] / s->voxel_m);
		lp[i].has_vox = 1;
	}
	twin_map_free(&map);
	return rc;
}

/* Reads every part of a tile into *lp (concatenated, voxels filled). */
static int parts_read(twin_store *s, int tx, int ty, const tpart *parts, size_t np,
		      twin_las_point **lp, size_t *n, svt_err *err)
{
	*lp = NULL;
	*n = 0;
	size_t cap = 0;
	int rc = SVT_OK;
	for (size_t k = 0; !rc && k < np; k++) {
		twin_las_point *q = NULL;
		size_t m = 0;
		if ((rc = las_read(s, parts[k].file, &q, &m, err)))
			break;
		if (*n + m > cap) {
			cap = *n + m;
			twin_las_point *r = realloc(*lp, (cap ? cap : 1) * sizeof(*r));
			if (!r) {
				free(q);
				rc = svt_err_set(err, SVT_E_NOMEM, "no memory for %zu points", cap);
				break;
			}
			*lp = r;
		}
		memcpy(*lp + *n, q, m * sizeof(*q));
		*n += m;
		free(q);
	}
	if (!rc && np > 1)
		rc = las_key_fill(s, tx, ty, *lp, *n, err);
	if (rc) {
		free(*lp);
		*lp = NULL;
		*n = 0;
	}
	return rc;
}

/* Merges points of several parts (voxels filled) in place into one weighted mean per voxel
 * (position in the file's CRS, colour, weights summed), in voxel order: voxel_merge's rule
 * (the contributions to a voxel summed in a total order, so the result does not depend on the
 * parts' order), on the file's points. */
static int las_merge(twin_las_point *lp, size_t *n, svt_err *err)
{
	if (*n < 2)
		return SVT_OK;
	wpoint *v = malloc(*n * sizeof(*v));
	if (!v)
		return svt_err_set(err, SVT_E_NOMEM, "no memory to merge %zu points", *n);
	for (size_t i = 0; i < *n; i++) {
		for (int a = 0; a < 3; a++) {
			v[i].k[a] = lp[i].vox[a];
			v[i].p[a] = lp[i].xyz[a];
			v[i].c[a] = lp[i].rgb[a];
		}
		v[i].w = lp[i].weight;
		v[i].keyed = 1;
	}
	/* a scratch of its own: readers keep no working memory in the store */
	twin_scratch sc = {0};
	const wpoint *mv;
	size_t m = voxel_merge(&sc, v, *n, 0, &mv); /* keyed: the voxel size is not used */
	if (m == VOXEL_NOMEM || m == VOXEL_RANGE) {
		scratch_clear(&sc);
		free(v);
		if (m == VOXEL_RANGE)
			return svt_err_set(err, SVT_E_FORMAT,
					   "a part's point has no voxel index and none can be given");
		return svt_err_set(err, SVT_E_NOMEM, "no memory to merge %zu points", *n);
	}
	for (size_t i = 0; i < m; i++) {
		for (int a = 0; a < 3; a++) {
			lp[i].xyz[a] = mv[i].p[a];
			lp[i].rgb[a] = mv[i].c[a];
			lp[i].vox[a] = mv[i].k[a];
		}
		lp[i].weight = mv[i].w;
		lp[i].has_vox = 1;
	}
	*n = m;
	scratch_clear(&sc);
	free(v);
	return SVT_OK;
}

/* The fused points of a tile, its parts merged (projected coordinates, voxel order). */
static int tile_read_merged(twin_store *s, int tx, int ty, twin_las_point **lp, size_t *n,
			    svt_err *err)
{
	tpart *parts = NULL;
	size_t np = 0;
	int rc = parts_list(s, tx, ty, &parts, &np, err);
	if (!rc)
		rc = parts_read(s, tx, ty, parts, np, lp, n, err);
	if (!rc && np > 1 && (rc = las_merge(*lp, n, err))) {
		free(*lp);
		*lp = NULL;
		*n = 0;
	}
	free(parts);
	return rc;
}

/* A voxel (i, j, k) as two unsigned words whose order is the signed triple's lexicographic
 * order (the sign bits flipped; i and j in one word): two comparisons, not three branches. */
typedef struct vkey {
	uint64_t ij;
	uint32_t k;
} vkey;

static inline vkey vkey_at(const uint8_t *vox, size_t stride, size_t i)
{
	int32_t v[3];
	twin_las_voxel_at(vox, stride, i, v);
	return (vkey){((uint64_t)((uint32_t)v[0] ^ 0x80000000u) << 32) |
			      ((uint32_t)v[1] ^ 0x80000000u),
		      (uint32_t)v[2] ^ 0x80000000u};
}

static inline int vkey_less(vkey a, vkey b)
{
	return a.ij < b.ij || (a.ij == b.ij && a.k < b.k);
}

/* One part file mapped for reading its voxel fields in place. */
typedef struct vcursor {
	void *map;
	size_t size, stride, n, i;
	const uint8_t *vox;
	vkey k; /* the current record's voxel */
} vcursor;

/* Counts the distinct voxels of parts whose records are in voxel order (as tile_write writes
 * them), merging the parts' sorted lists: the files are mapped and only their voxel fields
 * read; with extra (extra_n bytes), one more part given as a LAS file in memory (one just
 * encoded). *count = (size_t)-1 when a part is not in strict voxel order or has no voxel
 * fields (then the caller hashes). Reads files only: any thread. */
static int count_sorted(twin_store *s, const tpart *parts, size_t np, const uint8_t *extra,
			size_t extra_n, size_t *count, svt_err *err)
{
	size_t nc = np + (extra != NULL);
	vcursor *c = calloc(nc ? nc : 1, sizeof(*c));
	size_t *live = calloc(nc ? nc : 1, sizeof(*live));
	int rc = SVT_OK;
	*count = (size_t)-1;
	if (!c || !live) {
		free(c);
		free(live);
		return svt_err_set(err, SVT_E_NOMEM, "no memory");
	}
	for (size_t k = 0; k < nc; k++)
		c[k].map = MAP_FAILED;
	size_t nl = 0; /* live[0, nl): the parts with records left */
	for (size_t k = 0; k < nc; k++) {
		const uint8_t *b = extra;
		size_t bn = extra_n;
		if (k < np) {
			/* a read from the disk (parts go there directly): out of the gate */
			int paused = svt_gate_pause(s->fuse_gate);
			rc = part_map(s, parts[k].file, &c[k].map, &c[k].size, err);
			svt_gate_resume(s->fuse_gate, paused);
			if (rc)
				goto done;
			b = c[k].map;
			bn = c[k].size;
		}
		svt_err tmp = {0};
		if (twin_las_voxels(b, bn, &c[k].vox, &c[k].stride, &c[k].n, &tmp))
			goto done; /* no voxel fields: hash */
		if (c[k].n) {
			c[k].k = vkey_at(c[k].vox, c[k].stride, 0);
			live[nl++] = k;
		}
	}
	size_t cnt = 0;
	while (nl > 1) {
		vkey m = c[live[0]].k;
		for (size_t q = 1; q < nl; q++)
			if (vkey_less(c[live[q]].k, m))
				m = c[live[q]].k;
		cnt++;
		for (size_t q = 0; q < nl;) {
			vcursor *v = &c[live[q]];
			if (v->k.ij != m.ij || v->k.k != m.k) {
				q++;
				continue;
			}
			if (++v->i == v->n) {
				live[q] = live[--nl]; /* this part is through */
				continue;
			}
			v->k = vkey_at(v->vox, v->stride, v->i);
			if (!vkey_less(m, v->k))
				goto done; /* not in voxel order: hash */
			q++;
		}
	}
	if (nl == 1) {
		/* The last part's records are all new voxels, once their order is checked. */
		vcursor *v = &c[live[0]];
		cnt += v->n - v->i;
		for (size_t i = v->i + 1; i < v->n; i++) {
			vkey nx = vkey_at(v->vox, v->stride, i);
			if (!vkey_less(v->k, nx))
				goto done;
			v->k = nx;
		}
	}
	*count = cnt;
done:
	for (size_t k = 0; k < nc; k++)
		if (c[k].map != MAP_FAILED)
			munmap(c[k].map, c[k].size);
	free(c);
	free(live);
	return rc;
}

/* The number of distinct voxels in a tile's parts (its point count once merged): one part's
 * own count; else the parts' sorted voxel fields merged in place (count_sorted), or, for
 * parts not in voxel order, every part read and its voxels hashed. No position is decoded
 * into the ENU frame, nothing written. */
static int tile_count(twin_store *s, int tx, int ty, size_t *count, svt_err *err)
{
	tpart *parts = NULL;
	twin_las_point *lp = NULL;
	grouper g = {.dims = 3};
	size_t np = 0, n = 0;
	int rc = parts_list(s, tx, ty, &parts, &np, err);
	*count = 0;
	if (rc || np == 0)
		goto done;
	if (np == 1) {
		*count = parts[0].n;
		goto done;
	}
	if ((rc = count_sorted(s, parts, np, NULL, 0, count, err)) || *count != (size_t)-1)
		goto done;
	*count = 0;
	if ((rc = parts_read(s, tx, ty, parts, np, &lp, &n, err)))
		goto done;
	for (size_t i = 0; i < n; i++) {
		int64_t k[3] = {lp[i].vox[0], lp[i].vox[1], lp[i].vox[2]};
		if (grouper_add(&g, k) == (size_t)-1) {
			rc = svt_err_set(err, SVT_E_NOMEM, "no memory for %zu points", n);
			goto done;
		}
	}
	*count = g.ng;
done:
	free(parts);
	free(lp);
	grouper_free(&g);
	return rc;
}

/* Writes merged voxels v[0..n) (store ENU) as the tile's LAS file (projected), through the
 * scratch's record and file buffers and the given PROJ objects (crs, enu: the store's, or a
 * fusion thread's own); s is only read (its WKT made before: store_wkt). */
static int tile_write(twin_store *s, twin_scratch *sc, geo_crs *crs, geo_enu *enu, int tx,
		      int ty, const char *file, const wpoint *v, size_t n, svt_err *err)
{
	twin_las_point *lp = fbuf_get(&sc->lp, n * sizeof(*lp));
	size_t nb = 0;
	twin_map map = {0};
	int rc = SVT_OK;
	if (!lp) {
		rc = svt_err_set(err, SVT_E_NOMEM, "no memory for %zu points", n);
		goto done;
	}
	double lo[3] = {INFINITY, INFINITY, INFINITY}, hi[3] = {-INFINITY, -INFINITY, -INFINITY};
	for (size_t i = 0; i < n; i++)
		box_grow(lo, hi, v[i].p);
	if ((rc = store_wkt(s, err)) ||
	    (n && (rc = map_build_on(crs, enu, TWIN_MAP_ENU_TO_PROJ, lo, hi, &map, err))))
		goto done;
	if (n)
		twin_map_apply_n(&map, v[0].p, sizeof(*v), lp[0].xyz, sizeof(*lp), n);
	for (size_t i = 0; i < n; i++) {
		lp[i].weight = v[i].w;
		for (int a = 0; a < 3; a++) {
			lp[i].rgb[a] = v[i].c[a];
			lp[i].vox[a] = v[i].k[a];
		}
	}
	double off[3] = {tx * s->tile_m, ty * s->tile_m, 0.0};
	char p[4096];
	if ((rc = twin_las_encode_into(lp, n, s->wkt, off, LAS_SCALE, &sc->las, &sc->las_cap, &nb,
					err)) ||
	    (rc = pts_path(s, file, p, sizeof(p), err)))
		goto done;
	/* The write and its fsyncs wait on the disk: the place in the gate goes to a worker
	 * meanwhile (with --threads 1 it was held idle). */
	int paused = svt_gate_pause(s->fuse_gate);
	rc = svt_file_write_atomic_direct(p, sc->las, nb, err);
	svt_gate_resume(s->fuse_gate, paused);
	if (rc)
		goto done;
	sc->las_n = nb;
done:
	twin_map_free(&map);
	return rc;
}

int twin_store_tile_points(const twin_store *s, int tx, int ty, gpu_point **pts, size_t *n,
			   svt_err *err)
{
	if (!s || !pts || !n)
		return svt_err_set(err, SVT_E_INPUT, "twin_store_tile_points: NULL argument");
	twin_store *w = (twin_store *)s;
	*pts = NULL;
	*n = 0;
	size_t m = 0, cap = 0, nl = 0;
	twin_las_point *lp = NULL;
	int rc = tile_read_merged(w, tx, ty, &lp, &nl, err);
	if (rc || nl == 0) {
		free(lp);
		return rc;
	}
	wpoint *v = NULL;
	rc = las_to_enu(w, tx, ty, lp, nl, &v, &m, &cap, err);
	free(lp);
	if (rc) {
		free(v);
		return rc;
	}
	gpu_point *o = malloc((m ? m : 1) * sizeof(*o));
	if (!o) {
		free(v);
		return svt_err_set(err, SVT_E_NOMEM, "no memory for %zu points", m);
	}
	for (size_t i = 0; i < m; i++) {
		o[i].x = (float)v[i].p[0];
		o[i].y = (float)v[i].p[1];
		o[i].z = (float)v[i].p[2];
		o[i].r = (uint8_t)v[i].c[0];
		o[i].g = (uint8_t)v[i].c[1];
		o[i].b = (uint8_t)v[i].c[2];
		o[i].a = (uint8_t)(v[i].w > 255 ? 255 : v[i].w);
	}
	free(v);
	*pts = o;
	*n = m;
	return SVT_OK;
}

void twin_store_set_gpu(twin_store *s, gpu_ctx *ctx)
{
	if (s)
		s->gpu = ctx;
}

/* Reduces one tile's incoming points (idx[0..k)) with the voxel kernel and appends the voxels
 * to v at *m (room for k more is there) with their counts as weights. The kernel works in
 * float, so points go in relative to a voxel-aligned offset near them: small values, and
 * the same voxel boundaries as the double grid of voxel_merge. */
static int gpu_reduce(twin_store *s, const double M[9], const double t[3], const gpu_point *pts,
		      const uint32_t *idx, size_t k, wpoint *v, size_t *m, svt_err *err)
{
	double off[3], p0[3];
	enu_of(M, t, &pts[idx[0]], p0);
	for (int a = 0; a < 3; a++)
		off[a] = floor(p0[a] / s->voxel_m) * s->voxel_m;
	gpu_point *in = malloc(k * sizeof(*in)), *out = malloc(k * sizeof(*out));
	int rc = SVT_OK;
	if (!in || !out) {
		rc = svt_err_set(err, SVT_E_NOMEM, "no memory for %zu points", k);
		goto done;
	}
	for (size_t j = 0; j < k; j++) {
		double p[3];
		enu_of(M, t, &pts[idx[j]], p);
		in[j] = pts[idx[j]];
		in[j].x = (float)(p[0] - off[0]);
		in[j].y = (float)(p[1] - off[1]);
		in[j].z = (float)(p[2] - off[2]);
	}
	size_t nout = 0, dropped = 0;
	if ((rc = gpu_voxel_downsample(s->gpu, in, k, s->voxel_m, out, k, &nout, &dropped, err)))
		goto done;
	if (dropped) {
		rc = svt_err_set(err, SVT_E_INPUT, "%zu points out of the voxel kernel's range", dropped);
		goto done;
	}
	for (size_t j = 0; j < nout; j++) {
		wpoint *w = &v[(*m)++];
		w->p[0] = off[0] + out[j].x;
		w->p[1] = off[1] + out[j].y;
		w->p[2] = off[2] + out[j].z;
		w->c[0] = out[j].r;
		w->c[1] = out[j].g;
		w->c[2] = out[j].b;
		w->w = out[j].a ? out[j].a : 1;
		w->keyed = 0;
	}
done:
	free(in);
	free(out);
	return rc;
}

static int names_push(char ***v, size_t *n, const char *name, svt_err *err)
{
	char **q = realloc(*v, (*n + 1) * sizeof(*q));
	if (!q || !(q[*n] = strdup(name))) {
		if (q)
			*v = q;
		return svt_err_set(err, SVT_E_NOMEM, "no memory");
	}
	*v = q;
	(*n)++;
	return SVT_OK;
}

static void names_unlink(const twin_store *s, char **v, size_t n)
{
	for (size_t k = 0; k < n; k++) {
		char p[4096];
		svt_err tmp = {0};
		if (pts_path(s, v[k], p, sizeof(p), &tmp) == 0)
			unlink(p);
	}
}

static void names_free(char **v, size_t n)
{
	for (size_t k = 0; k < n; k++)
		free(v[k]);
	free(v);
}

/* Tile groups by (tx, ty): keys are a grouper's of 2 dims. */
static int group_cmp(const void *a, const void *b, void *keys)
{
	const int64_t *K = keys;
	const int64_t *p = &K[2 * *(const size_t *)a], *q = &K[2 * *(const size_t *)b];
	if (p[0] != q[0])
		return p[0] < q[0] ? -1 : 1;
	return p[1] < q[1] ? -1 : (p[1] > q[1]);
}

/* The table of frames whose depth is fused (created on first use, so that stores made before
 * it need no migration). */
static int fused_table(twin_store *s, svt_err *err)
{
	char *msg = NULL;
	if (sqlite3_exec(s->db, "CREATE TABLE IF NOT EXISTS fused_frames (frame INTEGER PRIMARY "
			 "KEY)", NULL, NULL, &msg) != SQLITE_OK) {
		int rc = svt_err_set(err, SVT_E_IO, "twin: fused_frames: %s", msg ? msg : "?");
		sqlite3_free(msg);
		return rc;
	}
	return SVT_OK;
}

/* Records frames[0..nframes) as fused, inside the caller's transaction. */
static int fused_insert(twin_store *s, const size_t *frames, size_t nframes, svt_err *err)
{
	if (!nframes)
		return SVT_OK;
	sqlite3_stmt *st = NULL;
	int rc = fused_table(s, err);
	if (rc)
		return rc;
	if (sqlite3_prepare_v2(s->db, "INSERT OR IGNORE INTO fused_frames(frame) VALUES (?)", -1,
			       &st, NULL) != SQLITE_OK)
		return svt_err_set(err, SVT_E_IO, "twin: %s", sqlite3_errmsg(s->db));
	for (size_t i = 0; !rc && i < nframes; i++) {
		sqlite3_bind_int64(st, 1, (sqlite3_int64)frames[i]);
		if (sqlite3_step(st) != SQLITE_DONE)
			rc = svt_err_set(err, SVT_E_IO, "twin: fused_frames: %s",
					 sqlite3_errmsg(s->db));
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
	return rc;
}

int twin_store_frames_fused(twin_store *s, size_t first, size_t n, unsigned char *out,
			    svt_err *err)
{
	if (!s || (n && !out))
		return svt_err_set(err, SVT_E_INPUT, "twin_store_frames_fused: NULL argument");
	memset(out, 0, n);
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(s->db, "SELECT frame FROM fused_frames WHERE frame >= ? AND "
			       "frame < ?", -1, &st, NULL) != SQLITE_OK)
		return SVT_OK; /* no table: nothing fused with a record yet */
	sqlite3_bind_int64(st, 1, (sqlite3_int64)first);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)(first + n));
	int r;
	while ((r = sqlite3_step(st)) == SQLITE_ROW)
		out[(size_t)sqlite3_column_int64(st, 0) - first] = 1;
	sqlite3_finalize(st);
	if (r != SQLITE_DONE)
		return svt_err_set(err, SVT_E_IO, "twin: fused_frames: %s", sqlite3_errmsg(s->db));
	return SVT_OK;
}

/* The capture (captures.fid) the frames belong to: that of frames[0] (a fusion's frames are
 * one capture's); 0 when no frame is given. */
static int frames_capture(twin_store *s, const size_t *frames, size_t nframes,
			  sqlite3_int64 *cap, svt_err *err)
{
	*cap = 0;
	if (!nframes)
		return SVT_OK;
	if (frames[0] >= s->nf)
		return svt_err_set(err, SVT_E_INPUT, "frame %zu is not in the store (%zu frames)",
				   frames[0], s->nf);
	sqlite3_stmt *st = twin_stmt(s, ST_FRAME_CAPTURE, "SELECT capture FROM frames WHERE fid = ?",
				     err);
	if (!st)
		return SVT_E_IO;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)frames[0] + 1);
	int r = sqlite3_step(st);
	if (r == SQLITE_ROW)
		*cap = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return r == SQLITE_ROW ? SVT_OK : twin_db_err(s->db, "frames", err);
}

int twin_store_add_points(twin_store *s, const gpu_point *pts, size_t n,
			  const double origin_llh[3], svt_err *err)
{
	return twin_store_add_points_of(s, pts, n, origin_llh, NULL, 0, err);
}

/* ---- A fusion call's tiles on several threads ---------------------------------------------- */

/* One tile of a fusion call (twin_store_add_points_of). */
typedef struct tile_job {
	size_t a, b;     /* its points: order[a .. b) */
	int tx, ty, part;
	char file[128];  /* its new part's file */
	int done;        /* fused already (a compaction, on the calling thread) */
	size_t m;        /* result: the voxels of its part */
	tpart *parts;    /* the tile's parts before this call (owned; not for a compaction) */
	size_t np;
	size_t count;    /* result: the tile's voxels with the new part; (size_t)-1: count them
			  * afterwards (tile_count) */
	int rc;          /* result */
	svt_err err;
} tile_job;

/* A tile's own work, which touches neither the database nor the store's shared state: its
 * points (after the m already in sc->v) moved into the store's frame, merged on the voxel
 * grid and written as J->file, in the calling thread's scratch sc and PROJ objects. */
static int tile_fuse(twin_store *s, twin_scratch *sc, geo_crs *crs, geo_enu *enu,
		     const double M[9], const double t[3], const gpu_point *pts,
		     const uint32_t *order, tile_job *J, size_t m, svt_err *err)
{
	size_t a = J->a, b = J->b;
	if (m + (b - a) > sc->vcap) {
		size_t nc = m + (b - a);
		nc += nc / 2; /* as fbuf_get: room for the next, larger tile */
		wpoint *w = realloc(sc->v, nc * sizeof(*w));
		if (!w)
			return svt_err_set(err, SVT_E_NOMEM, "no memory for %zu points", nc);
		sc->v = w;
		sc->vcap = nc;
	}
	wpoint *v = sc->v;
	int rc;
	if (s->gpu) {
		if ((rc = gpu_reduce(s, M, t, pts, order + a, b - a, v, &m, err)))
			return rc;
	} else {
		for (size_t j = a; j < b; j++) {
			size_t i = order[j];
			wpoint *w = &v[m++];
			enu_of(M, t, &pts[i], w->p);
			w->c[0] = pts[i].r;
			w->c[1] = pts[i].g;
			w->c[2] = pts[i].b;
			w->w = 1;
			w->keyed = 0;
		}
	}
	const wpoint *mv;
	if ((m = voxel_merge(sc, v, m, s->voxel_m, &mv)) == VOXEL_RANGE)
		return svt_err_set(err, SVT_E_INPUT, "tile %d_%d: a voxel index out of range (%g m "
				   "voxels)", J->tx, J->ty, s->voxel_m);
	if (m == VOXEL_NOMEM)
		return svt_err_set(err, SVT_E_NOMEM, "no memory to merge tile %d_%d", J->tx, J->ty);
	J->m = m;
	J->count = (size_t)-1;
	if ((rc = tile_write(s, sc, crs, enu, J->tx, J->ty, J->file, mv, m, err)))
		return rc;
	/* The tile's count here too, beside the other tiles' work: its earlier parts' voxel
	 * fields merged with the new part's still in memory (not read back from the disk). */
	if (J->done)
		return SVT_OK; /* a compaction: its parts changed, tile_count after the rows */
	if (J->np == 0) {
		J->count = m;
		return SVT_OK;
	}
	return count_sorted(s, J->parts, J->np, sc->las, sc->las_n, &J->count, err);
}

/* A fusion thread beyond the caller's (twin_store_set_threads): its own scratch and its own
 * CRS and ENU frame (a PROJ object is one thread's at a time), kept between calls. */
/* A share of a fusion call's work: takes units from ctx until none is left, in the given
 * scratch and PROJ objects (the calling thread's own). */
typedef void (*fuse_fn)(void *ctx, twin_scratch *sc, geo_crs *crs, geo_enu *enu);

struct twin_fuse_aux {
	twin_scratch sc;
	geo_crs *crs;
	geo_enu *enu;
	int epsg;
	double origin[3];
	pthread_t th;
	const twin_store *s;
	svt_gate *gate;
	fuse_fn fn;
	void *ctx;
};

typedef struct tile_run {
	twin_store *s;
	const double *M, *t;
	const gpu_point *pts;
	const uint32_t *order;
	tile_job *jobs;
	size_t njobs;
	atomic_size_t next; /* the next job to take */
} tile_run;

static void tile_run_jobs(void *ctx, twin_scratch *sc, geo_crs *crs, geo_enu *enu)
{
	tile_run *R = ctx;
	for (;;) {
		size_t q = atomic_fetch_add(&R->next, 1);
		if (q >= R->njobs)
			break;
		tile_job *J = &R->jobs[q];
		if (!J->done)
			J->rc = tile_fuse(R->s, sc, crs, enu, R->M, R->t, R->pts, R->order, J, 0,
					  &J->err);
	}
}

static int aux_ready(const twin_store *s, struct twin_fuse_aux *x, svt_err *err);

/* A helper works in a place of the store's gate, like every thread of the job. Its PROJ
 * objects are made here, on its own thread (about 10 ms each: not on the caller's time, and
 * side by side); one that cannot be made leaves the work to the others. */
static void *fuse_helper(void *arg)
{
	struct twin_fuse_aux *x = arg;
	svt_gate_enter(x->gate);
	svt_err e = {0};
	if (aux_ready(x->s, x, &e))
		svt_log_warn("twin: a fusion thread's CRS (%s): its work goes to the others",
			     e.msg);
	else
		x->fn(x->ctx, &x->sc, x->crs, x->enu);
	svt_gate_leave(x->gate);
	return NULL;
}

/* The helper's PROJ objects for the store's CRS and origin (made again when those change). */
static int aux_ready(const twin_store *s, struct twin_fuse_aux *x, svt_err *err)
{
	if (x->crs && x->epsg != s->epsg) {
		geo_crs_destroy(x->crs);
		x->crs = NULL;
	}
	if (x->enu && memcmp(x->origin, s->origin, sizeof(x->origin))) {
		geo_enu_destroy(x->enu);
		x->enu = NULL;
	}
	int rc = SVT_OK;
	if (!x->crs && !(rc = geo_crs_create(s->epsg, &x->crs, err)))
		x->epsg = s->epsg;
	if (!rc && !x->enu &&
	    !(rc = geo_enu_create(s->origin[0], s->origin[1], s->origin[2], &x->enu, err)))
		memcpy(x->origin, s->origin, sizeof(x->origin));
	return rc;
}

void twin_points_aux_free(struct twin_fuse_aux *x, int n)
{
	for (int i = 0; x && i < n; i++) {
		scratch_clear(&x[i].sc);
		geo_crs_destroy(x[i].crs);
		geo_enu_destroy(x[i].enu);
	}
	free(x);
}

/* fn(ctx) on this thread and on up to min(s->fuse_naux, units - 1) helpers (none with a GPU
 * context: its calls are one thread's), each with its own scratch and PROJ objects; returns
 * when all are through. A helper that cannot be made leaves its share to the others. */
static void fuse_par(twin_store *s, twin_scratch *sc, size_t units, fuse_fn fn, void *ctx)
{
	int nh = s->gpu || units < 2 ? 0 : s->fuse_naux;
	if (nh > 0 && (size_t)nh > units - 1)
		nh = (int)(units - 1);
	if (nh > 0 && !s->fuse_aux &&
	    !(s->fuse_aux = calloc((size_t)s->fuse_naux, sizeof(*s->fuse_aux))))
		nh = 0;
	int started = 0;
	for (int h = 0; h < nh; h++) {
		struct twin_fuse_aux *x = &s->fuse_aux[h];
		x->s = s;
		x->gate = s->fuse_gate;
		x->fn = fn;
		x->ctx = ctx;
		if (pthread_create(&x->th, NULL, fuse_helper, x) != 0)
			break;
		started++;
	}
	fn(ctx, sc, s->crs, s->enu);
	/* Joined out of the gate: a helper may still wait for the place this thread holds. */
	int paused = svt_gate_pause(s->fuse_gate);
	for (int h = 0; h < started; h++)
		pthread_join(s->fuse_aux[h].th, NULL);
	svt_gate_resume(s->fuse_gate, paused);
}

/* The jobs not done yet, shared out (fuse_par); the first failure in tile order. */
static int tiles_fuse(twin_store *s, twin_scratch *sc, const double M[9], const double t[3],
		      const gpu_point *pts, const uint32_t *order, tile_job *jobs, size_t nj,
		      svt_err *err)
{
	tile_run R = {.s = s, .M = M, .t = t, .pts = pts, .order = order, .jobs = jobs,
		      .njobs = nj};
	atomic_init(&R.next, 0);
	size_t todo = 0;
	for (size_t q = 0; q < nj; q++)
		todo += !jobs[q].done;
	fuse_par(s, sc, todo, tile_run_jobs, &R);
	for (size_t q = 0; q < nj; q++)
		if (jobs[q].rc) {
			if (err)
				*err = jobs[q].err;
			return jobs[q].rc;
		}
	return SVT_OK;
}

/* The points of a call in blocks, for the passes over every point (bin_box, bin_tiles). */
enum { BIN_BLOCK = 1 << 16 };
typedef struct bin_run {
	const twin_store *s;
	const double *M, *t;
	const gpu_point *pts;
	size_t n, nblocks;
	const twin_map *map;   /* bin_tiles */
	const int32_t *cell;   /* bin_tiles: each map cell's one tile (cell_tiles) */
	int32_t *tile;         /* bin_tiles: each point's (tx, ty) */
	double (*box)[6];      /* bin_box: each block's lo, hi */
	size_t *bad;           /* each block's first point that failed (n: none) */
	atomic_size_t next;
} bin_run;

/* Every point finite, and each block's box in the store's frame. */
static void bin_box(void *ctx, twin_scratch *sc, geo_crs *crs, geo_enu *enu)
{
	(void)sc, (void)crs, (void)enu;
	bin_run *R = ctx;
	for (size_t k; (k = atomic_fetch_add(&R->next, 1)) < R->nblocks;) {
		size_t a = k * BIN_BLOCK, b = a + BIN_BLOCK < R->n ? a + BIN_BLOCK : R->n;
		double *lo = R->box[k], *hi = R->box[k] + 3;
		lo[0] = lo[1] = lo[2] = INFINITY;
		hi[0] = hi[1] = hi[2] = -INFINITY;
		R->bad[k] = R->n;
		for (size_t i = a; i < b; i++) {
			const gpu_point *q = &R->pts[i];
			double p[3];
			if (!isfinite(q->x) || !isfinite(q->y) || !isfinite(q->z)) {
				R->bad[k] = i;
				break;
			}
			enu_of(R->M, R->t, q, p);
			box_grow(lo, hi, p);
		}
	}
}

/* The map cell twin_map_apply interpolates p in (map_axis). The map's third axis has two
 * levels (one cell). */
static size_t map_cell(const twin_map *m, const double p[3])
{
	double f;
	int c0 = map_axis(m, 0, p[0], &f), c1 = map_axis(m, 1, p[1], &f);
	return (size_t)c1 * (size_t)(m->n[0] - 1) + (size_t)c0;
}

/* How near a tile's edge (metres) a cell's corners may come and the cell still count as lying
 * in that tile alone. twin_map_apply's result is a convex combination of the cell's 8 corner
 * values (weights >= 0 summing to 1 for the points inside the map's box, which bin_tiles'
 * are), computed with rounding errors of a few ulp of the coordinates: under 1e-8 m for
 * coordinates below 1e6 m. A millimetre leaves five orders of magnitude to spare. */
#define CELL_TILE_MARGIN_M 1e-3

/* For each cell of map m (ENU -> projected), the tile every point it interpolates falls in
 * when there is one: its corners' projected x and y, widened by the margin, all floor to the
 * same tile (floor(x / tile_m) is monotonic in x); INT32_MIN in tx where the cell touches
 * more than one tile (or no finite one), whose points take the map itself. The table has
 * (n[0] - 1) x (n[1] - 1) pairs (malloc'd; NULL when out of memory). */
static int32_t *cell_tiles(const twin_store *s, const twin_map *m)
{
	const size_t cx = (size_t)m->n[0] - 1, cy = (size_t)m->n[1] - 1, sy = 3 * (size_t)m->n[0];
	const size_t sz = sy * (size_t)m->n[1];
	int32_t *t = malloc(2 * cx * cy * sizeof(*t));
	if (!t)
		return NULL;
	for (size_t j = 0; j < cy; j++)
		for (size_t i = 0; i < cx; i++) {
			double lo[2] = {INFINITY, INFINITY}, hi[2] = {-INFINITY, -INFINITY};
			for (int c = 0; c < 8; c++) {
				const double *v = m->v + (c >> 2) * sz + (j + ((c >> 1) & 1)) * sy +
						  3 * (i + (c & 1));
				for (int a = 0; a < 2; a++) {
					lo[a] = fmin(lo[a], v[a]);
					hi[a] = fmax(hi[a], v[a]);
				}
			}
			int t0x, t0y, t1x, t1y;
			int32_t *o = t + 2 * (j * cx + i);
			o[0] = INT32_MIN;
			if (!twin_tile_of(s, lo[0] - CELL_TILE_MARGIN_M, lo[1] - CELL_TILE_MARGIN_M,
					  &t0x, &t0y) &&
			    !twin_tile_of(s, hi[0] + CELL_TILE_MARGIN_M, hi[1] + CELL_TILE_MARGIN_M,
					  &t1x, &t1y) &&
			    t0x == t1x && t0y == t1y && t0x != INT32_MIN) {
				o[0] = t0x;
				o[1] = t0y;
			}
		}
	return t;
}

/* Each point's tile through the smooth map (no PROJ: any thread): its cell's tile when the
 * cell lies in one (cell_tiles), else the map's value at the point. */
static void bin_tiles(void *ctx, twin_scratch *sc, geo_crs *crs, geo_enu *enu)
{
	(void)sc, (void)crs, (void)enu;
	bin_run *R = ctx;
	for (size_t k; (k = atomic_fetch_add(&R->next, 1)) < R->nblocks;) {
		size_t a = k * BIN_BLOCK, b = a + BIN_BLOCK < R->n ? a + BIN_BLOCK : R->n;
		R->bad[k] = R->n;
		for (size_t i = a; i < b; i++) {
			double p[3], q[3];
			int tx, ty;
			enu_of(R->M, R->t, &R->pts[i], p);
			const int32_t *c = R->cell + 2 * map_cell(R->map, p);
			if (c[0] != INT32_MIN) {
				tx = c[0];
				ty = c[1];
			} else {
				twin_map_apply(R->map, p, q);
				if (twin_tile_of(R->s, q[0], q[1], &tx, &ty)) {
					R->bad[k] = i;
					break;
				}
			}
			R->tile[2 * i] = tx;
			R->tile[2 * i + 1] = ty;
		}
	}
}

/* The first failed point of a pass (n: none). */
static size_t bin_bad(const bin_run *R)
{
	for (size_t k = 0; k < R->nblocks; k++)
		if (R->bad[k] < R->n)
			return R->bad[k];
	return R->n;
}

void twin_store_set_threads(twin_store *s, int n, svt_gate *gate)
{
	if (!s)
		return;
	n = n < 1 ? 1 : n;
	if (n - 1 != s->fuse_naux) {
		twin_points_aux_free(s->fuse_aux, s->fuse_naux);
		s->fuse_aux = NULL;
		s->fuse_naux = n - 1;
	}
	s->fuse_threads = n;
	s->fuse_gate = gate;
}

int twin_store_add_points_of(twin_store *s, const gpu_point *pts, size_t n,
			     const double origin_llh[3], const size_t *frames, size_t nframes,
			     svt_err *err)
{
	if (!s || (n && !pts) || (nframes && !frames))
		return svt_err_set(err, SVT_E_INPUT, "twin_store_add_points: NULL argument");
	if (n == 0) {
		/* Frames whose depth gave no point are fused all the same. */
		int rc = nframes ? twin_tx_begin(s, err) : SVT_OK;
		if (!rc && nframes && (rc = fused_insert(s, frames, nframes, err)) == SVT_OK)
			rc = twin_tx_commit(s, err);
		else if (rc && nframes)
			twin_tx_rollback(s);
		return rc;
	}
	if (!s->enu)
		return svt_err_set(err, SVT_E_INPUT, "store has no ENU origin yet: add a capture first");
	if (n >= UINT32_MAX) /* 64 GB of input: the point indices are 32-bit */
		return svt_err_set(err, SVT_E_INPUT, "%zu points in one call: at most %u", n,
				   UINT32_MAX - 1);
	int rc = SVT_OK, began = 0;
	char **made = NULL, **gone = NULL; /* files written by this call, files it replaces */
	size_t nmade = 0, ngone = 0, *start = NULL, *gord = NULL;
	tile_job *jobs = NULL;
	size_t njobs = 0; /* jobs[0..njobs) made (their parts freed at the end) */
	twin_scratch *sc = scratch_of(s);
	uint32_t *gid = sc ? fbuf_get(&sc->gid, n * sizeof(*gid)) : NULL;
	uint32_t *order = gid ? fbuf_get(&sc->order, n * sizeof(*order)) : NULL;
	grouper tiles = {.dims = 2};
	twin_map map = {0};
	int32_t *cell = NULL; /* the map's cells' tiles (cell_tiles) */
	if (!order) {
		rc = svt_err_set(err, SVT_E_NOMEM, "no memory for %zu points", n);
		goto done;
	}
	double M[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1}, t[3] = {0, 0, 0};
	if (origin_llh && (rc = twin_enu_change(s, origin_llh, M, t, err)))
		goto done;
	/* One pass, in blocks shared out: every point finite, and their box in the store's
	 * frame (the map's); the blocks' boxes then joined in order (min and max: exact). */
	size_t nb = (n + BIN_BLOCK - 1) / BIN_BLOCK;
	bin_run B = {.s = s, .M = M, .t = t, .pts = pts, .n = n, .nblocks = nb};
	B.box = fbuf_get(&sc->bbox, nb * sizeof(*B.box));
	B.bad = fbuf_get(&sc->bbad, nb * sizeof(*B.bad));
	B.tile = fbuf_get(&sc->btile, 2 * n * sizeof(*B.tile));
	if (!B.box || !B.bad || !B.tile) {
		rc = svt_err_set(err, SVT_E_NOMEM, "no memory for %zu points", n);
		goto done;
	}
	atomic_init(&B.next, 0);
	fuse_par(s, sc, nb, bin_box, &B);
	size_t bad = bin_bad(&B);
	if (bad < n) {
		rc = svt_err_set(err, SVT_E_INPUT, "point %zu is not finite", bad);
		goto done;
	}
	double lo[3] = {INFINITY, INFINITY, INFINITY}, hi[3] = {-INFINITY, -INFINITY, -INFINITY};
	for (size_t k = 0; k < nb; k++) {
		box_grow(lo, hi, B.box[k]);
		box_grow(lo, hi, B.box[k] + 3);
	}
	/* Tiles are in the projected CRS: the smooth map over the points' box, no PROJ per
	 * point (a point within the map's error of a tile edge may land in the neighbour). Tiles
	 * are numbered in order of first appearance; a point is most often in the tile of the
	 * point before it (a frame's points are near each other), which is tried first. */
	if ((rc = twin_map_build(s, TWIN_MAP_ENU_TO_PROJ, lo, hi, &map, err)))
		goto done;
	/* Each point's tile in blocks shared out; then, in order on this thread, the tiles
	 * numbered. */
	B.map = &map;
	if (!(B.cell = cell = cell_tiles(s, &map))) {
		rc = svt_err_set(err, SVT_E_NOMEM, "no memory for a map of %d x %d cells",
				 map.n[0] - 1, map.n[1] - 1);
		goto done;
	}
	atomic_init(&B.next, 0);
	fuse_par(s, sc, nb, bin_tiles, &B);
	if ((bad = bin_bad(&B)) < n) {
		rc = svt_err_set(err, SVT_E_INPUT, "point %zu has no projected position", bad);
		goto done;
	}
	int64_t last[2] = {0, 0};
	size_t lastg = (size_t)-1;
	for (size_t i = 0; i < n; i++) {
		int tx = B.tile[2 * i], ty = B.tile[2 * i + 1];
		if (lastg == (size_t)-1 || tx != last[0] || ty != last[1]) {
			last[0] = tx;
			last[1] = ty;
			if ((lastg = grouper_add(&tiles, last)) == (size_t)-1) {
				rc = svt_err_set(err, SVT_E_NOMEM, "no memory for %zu points", n);
				goto done;
			}
		}
		gid[i] = (uint32_t)lastg;
	}
	/* The points by tile, in input order within one (a counting sort):
	 * order[start[g] .. start[g + 1]) are tile g's. */
	size_t ng = tiles.ng;
	if (!(start = calloc(ng + 1, sizeof(size_t))) || !(gord = malloc(ng * sizeof(size_t)))) {
		rc = svt_err_set(err, SVT_E_NOMEM, "no memory for %zu points", n);
		goto done;
	}
	for (size_t i = 0; i < n; i++)
		start[gid[i] + 1]++;
	for (size_t g = 0; g < ng; g++)
		start[g + 1] += start[g];
	for (size_t i = 0; i < n; i++)
		order[start[gid[i]]++] = (uint32_t)i;
	memmove(start + 1, start, ng * sizeof(*start)); /* each start[g] had become g's end */
	start[0] = 0;
	for (size_t g = 0; g < ng; g++)
		gord[g] = g;
	qsort_r(gord, ng, sizeof(size_t), group_cmp, tiles.key); /* tiles in (tx, ty) order */

	/* One transaction: each touched tile gets a new part of the capture, its own points
	 * merged alone (the store's existing parts are neither read nor rewritten: readers
	 * merge a tile's parts); a capture's (TWIN_PARTS_MAX + 1)-th part of a tile compacts
	 * them instead, all its parts and the new points merged into one. Files are named by
	 * the generation and tile_parts names them; the files replaced are removed after the
	 * commit (a killed writer leaves an unnamed new file, never a half-merged named one). */
	uint64_t gen = s->gen + 1;
	double tb[4] = {INFINITY, INFINITY, -INFINITY, -INFINITY}; /* extent of the tiles */
	char pdir[4200];
	snprintf(pdir, sizeof(pdir), "%s/%s", s->dir, TWIN_POINTS_DIR);
	sqlite3_int64 cap = 0;
	if ((rc = svt_mkdirs(pdir, err)) || (rc = twin_tx_begin(s, err)))
		goto done;
	began = 1;
	if ((rc = parts_ensure(s, err)) || (rc = frames_capture(s, frames, nframes, &cap, err)))
		goto done;
	/* First, in tile order on this thread, what needs the database: each tile's part (a
	 * compaction done here at once: it reads the capture's parts); then the tiles' own work
	 * (points, merge, file) on the fusion's threads (tiles_fuse); then their rows, in tile
	 * order again. The same files and rows whatever the threads. */
	if (!(jobs = calloc(ng ? ng : 1, sizeof(*jobs)))) {
		rc = svt_err_set(err, SVT_E_NOMEM, "no memory for %zu tiles", ng);
		goto done;
	}
	njobs = ng;
	if ((rc = store_wkt(s, err)))
		goto done;
	for (size_t q = 0; q < ng; q++) {
		size_t g = gord[q];
		tile_job *J = &jobs[q];
		J->a = start[g];
		J->b = start[g + 1];
		int tx = J->tx = (int)tiles.key[2 * g], ty = J->ty = (int)tiles.key[2 * g + 1];
		tb[0] = fmin(tb[0], tx * s->tile_m);
		tb[1] = fmin(tb[1], ty * s->tile_m);
		tb[2] = fmax(tb[2], (tx + 1) * s->tile_m);
		tb[3] = fmax(tb[3], (ty + 1) * s->tile_m);
		size_t m = 0, np = 0, nmine = 0;
		int part = 0, compact = 0;
		tpart *parts = NULL;
		if ((rc = parts_list(s, tx, ty, &parts, &np, err)))
			goto done;
		for (size_t k = 0; k < np; k++)
			if (parts[k].capture == cap) {
				nmine++;
				part = parts[k].part + 1; /* the next free number (parts in order) */
			}
		if (nmine >= TWIN_PARTS_MAX) {
			/* compaction: this capture's parts and the new points become one part (the
			 * voxel merge of them all), which takes the first part's number */
			size_t k0 = 0;
			while (parts[k0].capture != cap)
				k0++;
			part = parts[k0].part;
			compact = 1;
			part_file(J->file, sizeof(J->file), tx, ty, cap, part, gen);
			for (size_t k = k0; !rc && k < np; k++) {
				if (parts[k].capture != cap)
					continue;
				if ((rc = tile_read_enu(s, sc, tx, ty, parts[k].file, &m, err)) ||
				    (strcmp(parts[k].file, J->file) &&
				     (rc = names_push(&gone, &ngone, parts[k].file, err))) ||
				    (k != k0 && (rc = part_put(s, tx, ty, cap, parts[k].part, 0, NULL, err))))
					break;
			}
		}
		/* else a new part of this capture beside the others: nothing read or rewritten */
		if (compact || rc)
			free(parts);
		else {
			J->parts = parts;
			J->np = np;
		}
		if (rc)
			goto done;
		J->part = part;
		part_file(J->file, sizeof(J->file), tx, ty, cap, part, gen);
		if ((rc = names_push(&made, &nmade, J->file, err)))
			goto done;
		if (compact) {
			J->done = 1;
			if ((rc = tile_fuse(s, sc, s->crs, s->enu, M, t, pts, order, J, m, err)))
				goto done;
		}
	}
	if ((rc = tiles_fuse(s, sc, M, t, pts, order, jobs, ng, err)))
		goto done;
	for (size_t q = 0; q < ng; q++) {
		const tile_job *J = &jobs[q];
		size_t cnt = J->count;
		if ((rc = part_put(s, J->tx, J->ty, cap, J->part, J->m, J->file, err)) ||
		    (cnt == (size_t)-1 && (rc = tile_count(s, J->tx, J->ty, &cnt, err))) ||
		    (rc = twin_tile_upsert(s, J->tx, J->ty, gen, 0, (long long)cnt, NULL, err)))
			goto done;
	}
	s->gen = gen;
	if ((rc = fused_insert(s, frames, nframes, err)) || (rc = twin_meta_put_gen(s, err)) ||
	    (rc = twin_gpkg_touch(s->db, "tiles", tb, err)) || (rc = twin_tx_commit(s, err))) {
		s->gen = gen - 1;
		goto done;
	}
	began = 0;
	twin_cache_drop(s);
	names_unlink(s, gone, ngone);
done:
	if (rc) {
		if (began)
			twin_tx_rollback(s);
		names_unlink(s, made, nmade);
	}
	names_free(made, nmade);
	names_free(gone, ngone);
	twin_map_free(&map);
	free(cell);
	grouper_free(&tiles);
	free(start);
	free(gord);
	for (size_t q = 0; q < njobs; q++)
		free(jobs[q].parts);
	free(jobs);
	return rc;
}

/* A tile's fused points of a v1 store (twin_migrate.c): merged voxels in the store's ENU
 * frame with their weights, written as the tile's LAS file (one transaction). */
int twin_points_import_tile(twin_store *s, int tx, int ty, const double *enu,
			    const uint8_t *rgb, const uint32_t *w, size_t n, svt_err *err)
{
	wpoint *v = malloc((n ? n : 1) * sizeof(*v));
	if (!v)
		return svt_err_set(err, SVT_E_NOMEM, "no memory");
	for (size_t i = 0; i < n; i++) {
		memcpy(v[i].p, enu + 3 * i, sizeof(v[i].p));
		for (int a = 0; a < 3; a++)
			v[i].c[a] = rgb[3 * i + a];
		v[i].w = w[i] ? w[i] : 1;
		v[i].keyed = 0;
	}
	twin_scratch *sc = scratch_of(s);
	/* already one a voxel: keys and order */
	const wpoint *mv = v;
	size_t m = sc ? voxel_merge(sc, v, n, s->voxel_m, &mv) : VOXEL_NOMEM;
	char file[128];
	part_file(file, sizeof(file), tx, ty, 0, 0, s->gen);
	int rc = m == VOXEL_RANGE  ? svt_err_set(err, SVT_E_INPUT, "a voxel index out of range")
		 : m == VOXEL_NOMEM ? svt_err_set(err, SVT_E_NOMEM, "no memory")
				    : SVT_OK;
	if (!rc)
		rc = twin_tx_begin(s, err);
	if (!rc) {
		if ((rc = parts_ensure(s, err)) ||
		    (rc = tile_write(s, sc, s->crs, s->enu, tx, ty, file, mv, m, err)) ||
		    (rc = part_put(s, tx, ty, 0, 0, m, file, err)) ||
		    (rc = twin_tile_upsert(s, tx, ty, s->gen, 0, (long long)m, NULL, err)) ||
		    (rc = twin_tx_commit(s, err)))
			twin_tx_rollback(s);
	}
	twin_cache_drop(s);
	free(v);
	return rc;
}

/* ---- Merging the twin parts of a cluster build ------------------------------------------- */

static int pair_cmp(const void *a, const void *b)
{
	const int *p = a, *q = b;
	if (p[0] != q[0])
		return p[0] < q[0] ? -1 : 1;
	return p[1] < q[1] ? -1 : (p[1] > q[1]);
}

/* The capture fids of src mapped to dst's by name (0, points of no capture, to 0):
 * (*from)[i] -> (*to)[i]. */
static int captures_map(twin_store *dst, twin_store *src, sqlite3_int64 **from,
			sqlite3_int64 **to, size_t *n, svt_err *err)
{
	sqlite3_stmt *st = NULL, *q = NULL;
	size_t cap = 0;
	int rc = SVT_OK, r;
	*from = *to = NULL;
	*n = 0;
	if (sqlite3_prepare_v2(src->db, "SELECT fid, name FROM captures", -1, &st, NULL) ||
	    sqlite3_prepare_v2(dst->db, "SELECT fid FROM captures WHERE name = ?", -1, &q, NULL)) {
		rc = svt_err_set(err, SVT_E_IO, "twin: captures: %s", sqlite3_errmsg(dst->db));
		goto done;
	}
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(st, 1);
		sqlite3_bind_text(q, 1, name ? name : "", -1, SQLITE_TRANSIENT);
		if (sqlite3_step(q) != SQLITE_ROW) {
			rc = svt_err_set(err, SVT_E_INPUT, "capture %s of %s is not in %s: add its "
					 "frames before merging its points", name ? name : "?",
					 src->dir, dst->dir);
			goto done;
		}
		if (*n == cap) {
			cap = cap ? 2 * cap : 8;
			sqlite3_int64 *f = realloc(*from, cap * sizeof(*f));
			if (f)
				*from = f;
			sqlite3_int64 *t = f ? realloc(*to, cap * sizeof(*t)) : NULL;
			if (!t) {
				rc = svt_err_set(err, SVT_E_NOMEM, "no memory");
				goto done;
			}
			*to = t;
		}
		(*from)[*n] = sqlite3_column_int64(st, 0);
		(*to)[(*n)++] = sqlite3_column_int64(q, 0);
		sqlite3_reset(q);
	}
	if (r != SQLITE_DONE)
		rc = twin_db_err(src->db, "captures", err);
done:
	sqlite3_finalize(st);
	sqlite3_finalize(q);
	return rc;
}

/* One part of a source store, with the tile it belongs to. */
typedef struct spart {
	int tx, ty;
	tpart p;
} spart;

/* Every part of every tile of s, in (tx, ty, capture, part) order; *out malloc'd. */
static int parts_all(twin_store *s, spart **out, size_t *n, svt_err *err)
{
	*out = NULL;
	*n = 0;
	sqlite3_stmt *st = NULL;
	const char *sql = parts_table_exists(s)
				  ? "SELECT tx, ty, capture, part, n_points, file FROM tile_parts "
				    "ORDER BY tx, ty, capture, part"
				  : "SELECT tx, ty, 0, 0, n_points, points_file FROM tiles WHERE "
				    "points_file IS NOT NULL AND n_points > 0 ORDER BY tx, ty";
	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
		return twin_db_err(s->db, "tile_parts", err);
	size_t cap = 0;
	int r, rc = SVT_OK;
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		if (*n == cap) {
			cap = cap ? 2 * cap : 64;
			spart *q = realloc(*out, cap * sizeof(*q));
			if (!q) {
				rc = svt_err_set(err, SVT_E_NOMEM, "no memory");
				break;
			}
			*out = q;
		}
		spart *p = &(*out)[(*n)++];
		p->tx = sqlite3_column_int(st, 0);
		p->ty = sqlite3_column_int(st, 1);
		part_row(st, 2, &p->p);
	}
	if (!rc && r != SQLITE_DONE)
		rc = twin_db_err(s->db, "tile_parts", err);
	sqlite3_finalize(st);
	if (rc) {
		free(*out);
		*out = NULL;
		*n = 0;
	}
	return rc;
}

/* The next free part number of (tx, ty, capture) in s. */
static int part_next(twin_store *s, int tx, int ty, sqlite3_int64 capture, int *part,
		     svt_err *err)
{
	sqlite3_stmt *st = twin_stmt(s, ST_PART_NEXT,
				     "SELECT COALESCE(MAX(part) + 1, 0) FROM tile_parts WHERE tx = ? "
				     "AND ty = ? AND capture = ?",
				     err);
	if (!st)
		return SVT_E_IO;
	sqlite3_bind_int(st, 1, tx);
	sqlite3_bind_int(st, 2, ty);
	sqlite3_bind_int64(st, 3, capture);
	int r = sqlite3_step(st);
	*part = r == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
	sqlite3_reset(st);
	return r == SQLITE_ROW ? SVT_OK : twin_db_err(s->db, "tile_parts", err);
}

/* Puts the file sp of store src into dst's points as dp: a hard link (the files are never
 * changed in place), a copy across file systems. */
static int file_adopt(const char *sp, const char *dp, svt_err *err)
{
	if (link(sp, dp) == 0)
		return SVT_OK;
	uint8_t *d = NULL;
	size_t n = 0;
	int rc = svt_file_read(sp, (size_t)1 << 34, &d, &n, err);
	if (!rc)
		rc = svt_file_write_atomic(dp, d, n, err);
	free(d);
	return rc;
}

int twin_store_merge_points(twin_store *dst, twin_store *const *src, size_t nsrc,
			    size_t *n_tiles, svt_err *err)
{
	if (!dst || (nsrc && !src))
		return svt_err_set(err, SVT_E_INPUT, "twin_store_merge_points: NULL store");
	if (n_tiles)
		*n_tiles = 0;
	for (size_t k = 0; k < nsrc; k++) {
		const twin_store *s = src[k];
		if (!dst->enu || !s || !s->enu || dst->epsg != s->epsg || dst->tile_m != s->tile_m ||
		    dst->voxel_m != s->voxel_m || memcmp(dst->origin, s->origin, sizeof(dst->origin)))
			return svt_err_set(err, SVT_E_INPUT, "%s and %s differ in CRS, tile, voxel or "
					   "ENU origin: their points cannot be merged voxel for voxel",
					   s ? s->dir : "(null)", dst->dir);
	}
	int rc = SVT_OK, began = 0;
	size_t nmade = 0, nt = 0, tcap = 0;
	char **made = NULL;
	int *txy = NULL; /* the tiles given parts, pairs */
	spart *sp = NULL;
	sqlite3_int64 *from = NULL, *to = NULL;
	uint64_t gen = dst->gen + 1;
	double tb[4] = {INFINITY, INFINITY, -INFINITY, -INFINITY};
	char pdir[4200];
	snprintf(pdir, sizeof(pdir), "%s/%s", dst->dir, TWIN_POINTS_DIR);
	if ((rc = svt_mkdirs(pdir, err)) || (rc = twin_tx_begin(dst, err)))
		goto done;
	began = 1;
	if ((rc = parts_ensure(dst, err)))
		goto done;
	/* Every source's parts become dst's parts as they are (a link per file, nothing read
	 * or rewritten): readers merge a tile's parts on read, so the result answers as one
	 * fusion of all the sources' points (up to rounding), whatever the order. */
	for (size_t k = 0; k < nsrc; k++) {
		size_t nsp = 0, nmap = 0;
		free(sp);
		free(from);
		free(to);
		sp = NULL;
		from = to = NULL;
		if ((rc = captures_map(dst, src[k], &from, &to, &nmap, err)) ||
		    (rc = parts_all(src[k], &sp, &nsp, err)))
			goto done;
		for (size_t i = 0; i < nsp; i++) {
			sqlite3_int64 c = 0;
			for (size_t j = 0; j < nmap; j++)
				if (from[j] == sp[i].p.capture)
					c = to[j];
			int part = 0, tx = sp[i].tx, ty = sp[i].ty;
			char file[128], a[4096], b[4096];
			if ((rc = part_next(dst, tx, ty, c, &part, err)))
				goto done;
			part_file(file, sizeof(file), tx, ty, c, part, gen);
			if ((rc = pts_path(src[k], sp[i].p.file, a, sizeof(a), err)) ||
			    (rc = pts_path(dst, file, b, sizeof(b), err)) ||
			    (rc = file_adopt(a, b, err)) || (rc = names_push(&made, &nmade, file, err)) ||
			    (rc = part_put(dst, tx, ty, c, part, sp[i].p.n, file, err)))
				goto done;
			if (!nt || txy[2 * nt - 2] != tx || txy[2 * nt - 1] != ty) {
				if (nt == tcap) {
					tcap = tcap ? 2 * tcap : 64;
					int *q = realloc(txy, 2 * tcap * sizeof(int));
					if (!q) {
						rc = svt_err_set(err, SVT_E_NOMEM, "no memory");
						goto done;
					}
					txy = q;
				}
				txy[2 * nt] = tx;
				txy[2 * nt + 1] = ty;
				nt++;
			}
		}
	}
	qsort(txy, nt, 2 * sizeof(int), pair_cmp);
	size_t nu = 0;
	for (size_t i = 0; i < nt; i++)
		if (!nu || pair_cmp(&txy[2 * i], &txy[2 * nu - 2])) {
			txy[2 * nu] = txy[2 * i];
			txy[2 * nu + 1] = txy[2 * i + 1];
			nu++;
		}
	/* Each tile's point count once its parts are merged (their voxel fields only). */
	for (size_t i = 0; i < nu; i++) {
		int tx = txy[2 * i], ty = txy[2 * i + 1];
		size_t cnt = 0;
		if ((rc = tile_count(dst, tx, ty, &cnt, err)) ||
		    (rc = twin_tile_upsert(dst, tx, ty, gen, 0, (long long)cnt, NULL, err)))
			goto done;
		tb[0] = fmin(tb[0], tx * dst->tile_m);
		tb[1] = fmin(tb[1], ty * dst->tile_m);
		tb[2] = fmax(tb[2], (tx + 1) * dst->tile_m);
		tb[3] = fmax(tb[3], (ty + 1) * dst->tile_m);
	}
	dst->gen = gen;
	if ((rc = twin_meta_put_gen(dst, err)) ||
	    (nu && (rc = twin_gpkg_touch(dst->db, "tiles", tb, err))) ||
	    (rc = twin_tx_commit(dst, err))) {
		dst->gen = gen - 1;
		goto done;
	}
	began = 0;
	if (n_tiles)
		*n_tiles = nu;
done:
	if (rc) {
		if (began)
			twin_tx_rollback(dst);
		names_unlink(dst, made, nmade);
	}
	twin_cache_drop(dst);
	names_free(made, nmade);
	free(txy);
	free(sp);
	free(from);
	free(to);
	return rc;
}

/* ---- Export ---------------------------------------------------------------------------------- */

int twin_store_export_points(twin_store *s, const twin_layer *l, long feature, const char *path,
			     size_t *n_out, svt_err *err)
{
	if (!s || !path || (l && feature >= (long)twin_layer_count(l)))
		return svt_err_set(err, SVT_E_INPUT, "twin_store_export_points: bad argument");
	if (n_out)
		*n_out = 0;
	double box[4] = {-INFINITY, -INFINITY, INFINITY, INFINITY};
	int rc = SVT_OK;
	size_t nf0 = l ? (feature >= 0 ? (size_t)feature : 0) : 0;
	size_t nf1 = l ? (feature >= 0 ? (size_t)feature + 1 : twin_layer_count(l)) : 0;
	if (l) {
		box[0] = box[1] = INFINITY;
		box[2] = box[3] = -INFINITY;
		for (size_t k = nf0; k < nf1; k++) {
			double b[4];
			rc = twin_feature_box(s, l, k, b, err);
			if (rc == SVT_E_NOTFOUND)
				continue;
			if (rc)
				return rc;
			box[0] = fmin(box[0], b[0]);
			box[1] = fmin(box[1], b[1]);
			box[2] = fmax(box[2], b[2]);
			box[3] = fmax(box[3], b[3]);
		}
		rc = SVT_OK;
	}
	twin_las_point *all = NULL, *lp = NULL;
	size_t nall = 0, cap = 0;
	uint8_t *b = NULL;
	size_t nb = 0;
	double *ll = NULL;
	sqlite3_stmt *st = twin_stmt(s, ST_TILES_IN,
				     "SELECT t.tx, t.ty FROM rtree_tiles_geom r CROSS JOIN tiles t "
				     "WHERE r.minx <= ?3 AND r.maxx >= ?1 AND r.miny <= ?4 AND "
				     "r.maxy >= ?2 AND t.fid = r.id AND t.n_points > 0 "
				     "ORDER BY t.tx, t.ty",
				     err);
	if (!st)
		return SVT_E_IO;
	for (int a = 0; a < 4; a++)
		sqlite3_bind_double(st, a + 1, isfinite(box[a]) ? box[a] : (a < 2 ? -1e300 : 1e300));
	int *txy = NULL;
	size_t ntl = 0, tcap = 0;
	while (sqlite3_step(st) == SQLITE_ROW) {
		if (ntl == tcap) {
			tcap = tcap ? 2 * tcap : 64;
			int *q = realloc(txy, 2 * tcap * sizeof(int));
			if (!q) {
				rc = svt_err_set(err, SVT_E_NOMEM, "no memory");
				break;
			}
			txy = q;
		}
		txy[2 * ntl] = sqlite3_column_int(st, 0);
		txy[2 * ntl + 1] = sqlite3_column_int(st, 1);
		ntl++;
	}
	sqlite3_reset(st);
	for (size_t k = 0; !rc && k < ntl; k++) {
		size_t n = 0;
		free(lp);
		lp = NULL;
		/* each tile's parts merged, as every reader sees them */
		if ((rc = tile_read_merged(s, txy[2 * k], txy[2 * k + 1], &lp, &n, err)))
			break;
		free(ll);
		if (!(ll = malloc((n ? n : 1) * 3 * sizeof(double)))) {
			rc = svt_err_set(err, SVT_E_NOMEM, "no memory");
			break;
		}
		for (size_t i = 0; i < n; i++)
			memcpy(ll + 3 * i, lp[i].xyz, sizeof(lp[i].xyz));
		/* Export is not the hot path: exact lon/lat for the polygon test. */
		if (l && (rc = geo_crs_inverse(s->crs, ll, ll + 1, ll + 2, 3 * sizeof(double), n, err)))
			break;
		for (size_t i = 0; i < n; i++) {
			int in = !l;
			for (size_t f = nf0; !in && f < nf1; f++)
				in = twin_layer_contains(l, f, ll[3 * i + 1], ll[3 * i]);
			if (!in)
				continue;
			if (nall == cap) {
				cap = cap ? 2 * cap : 4096;
				twin_las_point *q = realloc(all, cap * sizeof(*q));
				if (!q) {
					rc = svt_err_set(err, SVT_E_NOMEM, "no memory");
					break;
				}
				all = q;
			}
			all[nall++] = lp[i];
		}
	}
	if (!rc) {
		double off[3] = {0, 0, 0};
		if (nall)
			for (int a = 0; a < 2; a++)
				off[a] = floor(all[0].xyz[a] / s->tile_m) * s->tile_m;
		if ((rc = store_wkt(s, err)) ||
		    (rc = twin_las_encode(all, nall, s->wkt, off, LAS_SCALE, &b, &nb, err)) ||
		    (rc = svt_file_write_atomic(path, b, nb, err)))
			goto done;
		if (n_out)
			*n_out = nall;
	}
done:
	free(txy);
	free(all);
	free(lp);
	free(ll);
	free(b);
	return rc;
}

/* ---- Removing a capture's points (twin_store_remove_capture) --------------------------------- */

/* Runs sql with ?1 = a, ?2 = b (int64), no rows. */
static int exec2(twin_store *s, const char *sql, sqlite3_int64 a, sqlite3_int64 b, svt_err *err)
{
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
		return twin_db_err(s->db, "twin", err);
	sqlite3_bind_int64(st, 1, a);
	sqlite3_bind_int64(st, 2, b);
	int r = sqlite3_step(st);
	sqlite3_finalize(st);
	return r == SQLITE_DONE ? SVT_OK : twin_db_err(s->db, "twin", err);
}

int twin_points_drop_capture(twin_store *s, sqlite3_int64 cap, size_t first, size_t n,
			     uint64_t gen, char ***gone, size_t *ngone, svt_err *err)
{
	sqlite3_int64 f0 = (sqlite3_int64)first, f1 = (sqlite3_int64)(first + n);
	/* Its fused-frame records go; the later frames' move down with their frames. */
	int rc = fused_table(s, err);
	if (rc ||
	    (rc = exec2(s, "DELETE FROM fused_frames WHERE frame >= ?1 AND frame < ?2", f0, f1, err)) ||
	    (rc = exec2(s, "UPDATE fused_frames SET frame = -frame - 1 WHERE frame >= ?1 AND ?2 = ?2",
			f1, 0, err)) ||
	    (rc = exec2(s, "UPDATE fused_frames SET frame = -frame - 1 - ?1 WHERE frame < 0 AND "
			"?2 = ?2", (sqlite3_int64)n, 0, err)))
		return rc;
	if (!parts_table_exists(s))
		return SVT_OK; /* a store without parts holds no capture's own points */
	sqlite3_stmt *st = NULL;
	int *txy = NULL;
	size_t nt = 0, tcap = 0;
	if (sqlite3_prepare_v2(s->db, "SELECT tx, ty, file FROM tile_parts WHERE capture = ? "
			       "ORDER BY tx, ty", -1, &st, NULL) != SQLITE_OK)
		return twin_db_err(s->db, "tile_parts", err);
	sqlite3_bind_int64(st, 1, cap);
	int r;
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		int tx = sqlite3_column_int(st, 0), ty = sqlite3_column_int(st, 1);
		if ((rc = names_push(gone, ngone, (const char *)sqlite3_column_text(st, 2), err)))
			break;
		if (nt && txy[2 * nt - 2] == tx && txy[2 * nt - 1] == ty)
			continue;
		if (nt == tcap) {
			tcap = tcap ? 2 * tcap : 64;
			int *q = realloc(txy, 2 * tcap * sizeof(int));
			if (!q) {
				rc = svt_err_set(err, SVT_E_NOMEM, "no memory");
				break;
			}
			txy = q;
		}
		txy[2 * nt] = tx;
		txy[2 * nt + 1] = ty;
		nt++;
	}
	if (!rc && r != SQLITE_DONE)
		rc = twin_db_err(s->db, "tile_parts", err);
	sqlite3_finalize(st);
	if (!rc)
		rc = exec2(s, "DELETE FROM tile_parts WHERE capture = ?1 AND ?2 = ?2", cap, 0, err);
	/* Every tile it touched: the other contributions' count, a new generation. */
	for (size_t i = 0; !rc && i < nt; i++) {
		size_t cnt = 0;
		if (!(rc = tile_count(s, txy[2 * i], txy[2 * i + 1], &cnt, err)))
			rc = twin_tile_upsert(s, txy[2 * i], txy[2 * i + 1], gen, 0, (long long)cnt,
					      NULL, err);
	}
	free(txy);
	return rc;
}

void twin_points_names_release(const twin_store *s, char **v, size_t n, int unlink_them)
{
	if (unlink_them)
		names_unlink(s, v, n);
	names_free(v, n);
}
