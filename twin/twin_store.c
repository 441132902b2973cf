/* twin_store.c: the persistent twin: frames table, tile index, layers, shard dependencies.
 *
 * The store is a directory of small files, each written atomically, with twin.json written
 * last as the commit point: a crash between files leaves the previous twin.json, which names
 * only what was complete (frames files beyond its captures and tile files of a newer
 * generation are then ignored or overwritten on the next add). Everything is loaded into
 * memory on open: a city's frames are a few hundred MB at most, and queries then need no I/O.
 * Fused points live in per-tile binary files and are read only when asked for or merged.
 */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "geo/geo.h"
#include "twin/twin.h"
#include "twin/twin_internal.h"

#define STORE_FORMAT "svtwin-twin"
#define STORE_VERSION 1
#define STORE_MAX_JSON ((size_t)1 << 31)

void twin_store_opts_default(twin_store_opts *o)
{
	if (!o)
		return;
	memset(o, 0, sizeof(*o));
	o->epsg = GEO_EPSG_DEFAULT;
	o->tile_m = 100.0;
	o->voxel_m = 0.05;
}

/* ---- Small helpers ----------------------------------------------------------------------- */

static int tile_cmp_key(int ax, int ay, int bx, int by)
{
	if (ax != bx)
		return ax < bx ? -1 : 1;
	return ay < by ? -1 : (ay > by);
}

/* Index of tile (tx, ty) or, when absent, -(insertion point) - 1. */
long twin_tile_find(const twin_store *s, int tx, int ty)
{
	size_t lo = 0, hi = s->ntiles;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = tile_cmp_key(s->tiles[mid].tx, s->tiles[mid].ty, tx, ty);
		if (c == 0)
			return (long)mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -(long)lo - 1;
}

/* Finds or inserts tile (tx, ty); returns its index or a negative status. */
long twin_tile_get(twin_store *s, int tx, int ty, svt_err *err)
{
	long k = twin_tile_find(s, tx, ty);
	if (k >= 0)
		return k;
	size_t at = (size_t)(-k - 1);
	if (s->ntiles == s->captiles) {
		size_t nc = s->captiles ? 2 * s->captiles : 64;
		tile *t = realloc(s->tiles, nc * sizeof(*t));
		if (!t)
			return svt_err_set(err, SVT_E_NOMEM, "store: no memory for tiles");
		s->tiles = t;
		s->captiles = nc;
	}
	tile *t = s->tiles;
	memmove(&t[at + 1], &t[at], (s->ntiles - at) * sizeof(*t));
	memset(&t[at], 0, sizeof(*t));
	t[at].tx = tx;
	t[at].ty = ty;
	s->ntiles++;
	return (long)at;
}

int twin_tile_of(const twin_store *s, double e, double n, int *tx, int *ty)
{
	double fx = floor(e / s->tile_m), fy = floor(n / s->tile_m);
	if (!isfinite(fx) || !isfinite(fy) || fabs(fx) > 1e9 || fabs(fy) > 1e9)
		return -1;
	*tx = (int)fx;
	*ty = (int)fy;
	return 0;
}

typedef struct ft_key {
	int tx, ty;
	size_t i;
} ft_key;

static int ft_cmp(const void *a, const void *b)
{
	const ft_key *p = a, *q = b;
	int c = tile_cmp_key(p->tx, p->ty, q->tx, q->ty);
	return c ? c : (p->i < q->i ? -1 : (p->i > q->i));
}

/* Rebuilds by_tile and the tiles' frame ranges from the frames' tiles. */
static int index_rebuild(twin_store *s, svt_err *err)
{
	ft_key *k = malloc((s->nf ? s->nf : 1) * sizeof(*k));
	size_t *bt = malloc((s->nf ? s->nf : 1) * sizeof(*bt));
	if (!k || !bt) {
		free(k);
		free(bt);
		return svt_err_set(err, SVT_E_NOMEM, "store: no memory for the tile index");
	}
	for (size_t i = 0; i < s->nf; i++)
		k[i] = (ft_key){s->ftx[i], s->fty[i], i};
	qsort(k, s->nf, sizeof(*k), ft_cmp);
	for (size_t t = 0; t < s->ntiles; t++)
		s->tiles[t].f0 = s->tiles[t].nf = 0;
	for (size_t i = 0; i < s->nf; i++) {
		bt[i] = k[i].i;
		long t = twin_tile_find(s, k[i].tx, k[i].ty);
		if (t < 0) { /* every frame's tile is in the table (tile_get on add, load) */
			int rc = svt_err_set(err, SVT_E_FORMAT, "store: frame %zu in unknown tile %d_%d",
					     k[i].i, k[i].tx, k[i].ty);
			free(k);
			free(bt);
			return rc;
		}
		if (s->tiles[t].nf == 0)
			s->tiles[t].f0 = i;
		s->tiles[t].nf++;
	}
	free(k);
	free(s->by_tile);
	s->by_tile = bt;
	return SVT_OK;
}

static int join(char *out, size_t cap, const twin_store *s, const char *rel, svt_err *err)
{
	return svt_path_join(out, cap, s->dir, rel, err);
}

static int write_json(const twin_store *s, const char *rel, json_t *j, svt_err *err)
{
	char p[4096];
	int rc = join(p, sizeof(p), s, rel, err);
	if (rc)
		return rc;
	char *text = json_dumps(j, JSON_INDENT(1) | JSON_REAL_PRECISION(17));
	size_t len = text ? strlen(text) : 0;
	char *nl = text ? realloc(text, len + 2) : NULL;
	if (!nl) {
		free(text);
		return svt_err_set(err, SVT_E_NOMEM, "store: no memory for %s", rel);
	}
	text = nl;
	text[len++] = '\n';
	text[len] = 0;
	rc = svt_file_write_atomic(p, text, len, err);
	free(text);
	return rc;
}

static json_t *read_json(const twin_store *s, const char *rel, svt_err *err)
{
	char p[4096];
	if (join(p, sizeof(p), s, rel, err))
		return NULL;
	json_error_t je;
	json_t *j = json_load_file(p, JSON_REJECT_DUPLICATES, &je);
	if (!j)
		svt_err_set(err, errno == ENOENT ? SVT_E_NOTFOUND : SVT_E_FORMAT, "%s:%d: %s", p,
			    je.line, je.text);
	return j;
}

static int name_ok(const char *n, size_t max)
{
	size_t len = n ? strlen(n) : 0;
	if (len == 0 || len > max)
		return 0;
	for (size_t i = 0; i < len; i++) {
		char c = n[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-' || c == '.'))
			return 0;
	}
	return n[0] != '.';
}

/* ---- Frames files ------------------------------------------------------------------------- */

static json_t *jarr(const double *v, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; a && i < n; i++)
		if (json_array_append_new(a, json_real(v[i]))) {
			json_decref(a);
			return NULL;
		}
	return a;
}

static json_t *frame_json(const twin_store *s, size_t i)
{
	const twin_frame *f = &s->f[i];
	json_t *labels = json_object();
	for (size_t k = 0; labels && k < s->nlayers; k++)
		json_object_set_new(labels, s->layers[k].name,
				    json_string(twin_store_frame_label(s, i, k)));
	json_t *j = json_pack("{s:I, s:I, s:o, s:o, s:o, s:o, s:o, s:i, s:i, s:i, s:s, s:[ii], s:o}",
			      "i", (json_int_t)i, "time_us", (json_int_t)f->time_us, "llh",
			      jarr(f->llh, 3), "proj", jarr(f->proj, 3), "enu", jarr(f->enu, 3),
			      "heading", isfinite(f->heading) ? json_real(f->heading) : json_null(),
			      "w2c", jarr(f->w2c, 16), "seq", f->seq, "flags",
			      (int)f->flags, "src", f->src, "path", s->path[i] ? s->path[i] : "",
			      "tile", s->ftx[i], s->fty[i], "labels", labels);
	return j;
}

/* Writes frames/<c>.jsonl: one line per frame of capture c. */
static int frames_write(const twin_store *s, size_t c, svt_err *err)
{
	char rel[64];
	snprintf(rel, sizeof(rel), "frames/%zu.jsonl", c);
	char p[4096];
	int rc = join(p, sizeof(p), s, rel, err);
	if (rc)
		return rc;
	size_t cap = 4096, len = 0;
	char *buf = malloc(cap);
	if (!buf)
		return svt_err_set(err, SVT_E_NOMEM, "store: no memory");
	for (size_t i = s->caps[c].first; i < s->caps[c].first + s->caps[c].count; i++) {
		json_t *j = frame_json(s, i);
		char *line = j ? json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(17)) : NULL;
		json_decref(j);
		size_t l = line ? strlen(line) : 0;
		if (line && len + l + 2 > cap) {
			while (len + l + 2 > cap)
				cap *= 2;
			char *nb = realloc(buf, cap);
			if (!nb) {
				free(line);
				line = NULL;
			} else {
				buf = nb;
			}
		}
		if (!line) {
			free(buf);
			return svt_err_set(err, SVT_E_NOMEM, "store: no memory for frame %zu", i);
		}
		memcpy(buf + len, line, l);
		buf[len + l] = '\n';
		len += l + 1;
		free(line);
	}
	rc = svt_file_write_atomic(p, buf, len, err);
	free(buf);
	return rc;
}

static int get_darr(json_t *a, double *v, size_t n)
{
	if (!json_is_array(a) || json_array_size(a) != n)
		return -1;
	for (size_t i = 0; i < n; i++) {
		json_t *x = json_array_get(a, i);
		if (!json_is_number(x))
			return -1;
		v[i] = json_number_value(x);
	}
	return 0;
}

/* Reads frames/<c>.jsonl into frames [first, first + count). */
static int frames_read(twin_store *s, size_t c, svt_err *err)
{
	char rel[64], p[4096];
	snprintf(rel, sizeof(rel), "frames/%zu.jsonl", c);
	int rc = join(p, sizeof(p), s, rel, err);
	if (rc)
		return rc;
	uint8_t *d = NULL;
	size_t n = 0;
	if ((rc = svt_file_read(p, STORE_MAX_JSON, &d, &n, err)))
		return rc;
	size_t i = s->caps[c].first, end = i + s->caps[c].count, off = 0;
	while (off < n && i < end) {
		const uint8_t *nl = memchr(d + off, '\n', n - off);
		size_t l = nl ? (size_t)(nl - (d + off)) : n - off;
		json_error_t je;
		json_t *j = json_loadb((const char *)d + off, l, 0, &je);
		twin_frame *f = &s->f[i];
		json_t *tile = j ? json_object_get(j, "tile") : NULL;
		const char *path = j ? json_string_value(json_object_get(j, "path")) : NULL;
		if (!j || get_darr(json_object_get(j, "llh"), f->llh, 3) ||
		    get_darr(json_object_get(j, "proj"), f->proj, 3) ||
		    get_darr(json_object_get(j, "enu"), f->enu, 3) ||
		    get_darr(json_object_get(j, "w2c"), f->w2c, 16) ||
		    !(json_is_number(json_object_get(j, "heading")) ||
		      json_is_null(json_object_get(j, "heading"))) ||
		    !json_is_array(tile) ||
		    json_array_size(tile) != 2) {
			json_decref(j);
			free(d);
			return svt_err_set(err, SVT_E_FORMAT, "%s: line %zu is not a frame", p,
					   i - s->caps[c].first + 1);
		}
		f->time_us = (int64_t)json_integer_value(json_object_get(j, "time_us"));
		json_t *hd = json_object_get(j, "heading");
		f->heading = json_is_number(hd) ? json_number_value(hd) : NAN;
		f->seq = (int)json_integer_value(json_object_get(j, "seq"));
		f->flags = (unsigned)json_integer_value(json_object_get(j, "flags"));
		f->src = (int)json_integer_value(json_object_get(j, "src"));
		s->ftx[i] = (int)json_integer_value(json_array_get(tile, 0));
		s->fty[i] = (int)json_integer_value(json_array_get(tile, 1));
		s->cap_of[i] = (int)c;
		s->path[i] = strdup(path ? path : "");
		json_decref(j);
		if (!s->path[i]) {
			free(d);
			return svt_err_set(err, SVT_E_NOMEM, "store: no memory");
		}
		i++;
		off += l + 1;
	}
	free(d);
	if (i != end)
		return svt_err_set(err, SVT_E_FORMAT, "%s: %zu frames, twin.json says %zu", p,
				   i - s->caps[c].first, s->caps[c].count);
	return SVT_OK;
}

/* ---- Tile files and twin.json -------------------------------------------------------------- */

int twin_tile_write(const twin_store *s, size_t t, svt_err *err)
{
	const tile *tl = &s->tiles[t];
	char rel[96];
	snprintf(rel, sizeof(rel), "tiles/%d_%d.json", tl->tx, tl->ty);
	json_t *fr = json_array();
	for (size_t k = 0; fr && k < tl->nf; k++)
		json_array_append_new(fr, json_integer((json_int_t)s->by_tile[tl->f0 + k]));
	double e0 = tl->tx * s->tile_m, n0 = tl->ty * s->tile_m;
	char pts[96];
	snprintf(pts, sizeof(pts), "%d_%d.pts", tl->tx, tl->ty);
	json_t *j = json_pack("{s:i, s:i, s:f, s:[ffff], s:I, s:o, s:I, s:s?}", "tx", tl->tx, "ty",
			      tl->ty, "tile_m", s->tile_m, "bbox_proj", e0, n0, e0 + s->tile_m,
			      n0 + s->tile_m, "gen", (json_int_t)tl->gen, "frames", fr, "points",
			      (json_int_t)tl->n_points, "points_file",
			      tl->n_points ? pts : NULL);
	if (!j)
		return svt_err_set(err, SVT_E_NOMEM, "store: no memory");
	int rc = write_json(s, rel, j, err);
	json_decref(j);
	return rc;
}

int twin_meta_write(const twin_store *s, svt_err *err)
{
	json_t *caps = json_array(), *layers = json_array(), *tiles = json_array();
	for (size_t c = 0; caps && c < s->ncaps; c++) {
		char file[64];
		snprintf(file, sizeof(file), "frames/%zu.jsonl", c);
		json_array_append_new(caps, json_pack("{s:s, s:s, s:I, s:I, s:I, s:s}", "name",
						      s->caps[c].name, "source", s->caps[c].source,
						      "first", (json_int_t)s->caps[c].first, "count",
						      (json_int_t)s->caps[c].count, "gen",
						      (json_int_t)s->caps[c].gen, "file", file));
	}
	for (size_t k = 0; layers && k < s->nlayers; k++) {
		char file[128];
		snprintf(file, sizeof(file), "layers/%s.geojson", s->layers[k].name);
		json_array_append_new(layers, json_pack("{s:s, s:s, s:I}", "name", s->layers[k].name,
							"file", file, "features",
							(json_int_t)twin_layer_count(s->layers[k].l)));
	}
	for (size_t t = 0; tiles && t < s->ntiles; t++)
		json_array_append_new(tiles, json_pack("[i, i, I, I, I]", s->tiles[t].tx, s->tiles[t].ty,
						       (json_int_t)s->tiles[t].gen,
						       (json_int_t)s->tiles[t].nf,
						       (json_int_t)s->tiles[t].n_points));
	json_t *j = json_pack("{s:s, s:i, s:i, s:f, s:f, s:o, s:I, s:I, s:o, s:o, s:o}", "format",
			      STORE_FORMAT, "version", STORE_VERSION, "crs_epsg", s->epsg, "tile_m",
			      s->tile_m, "voxel_m", s->voxel_m, "enu_origin_llh",
			      s->have_origin ? jarr(s->origin, 3) : json_null(), "gen",
			      (json_int_t)s->gen, "frames", (json_int_t)s->nf, "captures", caps,
			      "layers", layers, "tiles", tiles);
	if (!j)
		return svt_err_set(err, SVT_E_NOMEM, "store: no memory for twin.json");
	int rc = write_json(s, "twin.json", j, err);
	json_decref(j);
	return rc;
}

static int shards_write(const twin_store *s, svt_err *err)
{
	json_t *arr = json_array();
	for (size_t k = 0; arr && k < s->nshards; k++) {
		json_t *t = json_array();
		for (size_t i = 0; t && i < s->shards[k].n; i++)
			json_array_append_new(t, json_pack("[ii]", s->shards[k].txy[2 * i],
							   s->shards[k].txy[2 * i + 1]));
		json_array_append_new(arr, json_pack("{s:s, s:I, s:o}", "name", s->shards[k].name,
						     "gen", (json_int_t)s->shards[k].gen, "tiles", t));
	}
	json_t *j = json_pack("{s:o}", "shards", arr);
	if (!j)
		return svt_err_set(err, SVT_E_NOMEM, "store: no memory for shards.json");
	int rc = write_json(s, "shards.json", j, err);
	json_decref(j);
	return rc;
}

/* ---- Open / close -------------------------------------------------------------------------- */

void twin_store_close(twin_store *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->nf; i++)
		free(s->path[i]);
	free(s->path);
	free(s->f);
	free(s->cap_of);
	free(s->ftx);
	free(s->fty);
	for (size_t c = 0; c < s->ncaps; c++) {
		free(s->caps[c].name);
		free(s->caps[c].source);
	}
	free(s->caps);
	for (size_t k = 0; k < s->nlayers; k++) {
		free(s->layers[k].name);
		twin_layer_destroy(s->layers[k].l);
		free(s->layers[k].lab);
	}
	free(s->layers);
	free(s->tiles);
	free(s->by_tile);
	for (size_t k = 0; k < s->nshards; k++) {
		free(s->shards[k].name);
		free(s->shards[k].txy);
	}
	free(s->shards);
	geo_crs_destroy(s->crs);
	geo_enu_destroy(s->enu);
	free(s->dir);
	free(s);
}

/* Room for n frames in the per-frame arrays. */
static int frames_reserve(twin_store *s, size_t n, svt_err *err)
{
	if (n <= s->capf)
		return SVT_OK;
	size_t nc = s->capf ? s->capf : 256;
	while (nc < n)
		nc *= 2;
	twin_frame *f = realloc(s->f, nc * sizeof(*f));
	if (f)
		s->f = f;
	char **p = realloc(s->path, nc * sizeof(*p));
	if (p)
		s->path = p;
	int *c = realloc(s->cap_of, nc * sizeof(*c));
	if (c)
		s->cap_of = c;
	int *x = realloc(s->ftx, nc * sizeof(*x));
	if (x)
		s->ftx = x;
	int *y = realloc(s->fty, nc * sizeof(*y));
	if (y)
		s->fty = y;
	for (size_t k = 0; k < s->nlayers; k++) {
		long *l = realloc(s->layers[k].lab, nc * sizeof(long));
		if (!l)
			return svt_err_set(err, SVT_E_NOMEM, "store: no memory for %zu frames", nc);
		s->layers[k].lab = l;
	}
	if (!f || !p || !c || !x || !y)
		return svt_err_set(err, SVT_E_NOMEM, "store: no memory for %zu frames", nc);
	s->capf = nc;
	return SVT_OK;
}

static int geo_setup(twin_store *s, svt_err *err)
{
	int rc = SVT_OK;
	if (!s->crs && (rc = geo_crs_create(s->epsg, &s->crs, err)))
		return rc;
	if (s->have_origin && !s->enu)
		rc = geo_enu_create(s->origin[0], s->origin[1], s->origin[2], &s->enu, err);
	return rc;
}

static void label_frames(twin_store *s, size_t k, size_t from)
{
	twin_frames_label(s->layers[k].l, s->f + from, s->nf - from, s->layers[k].lab + from);
}

static int layer_attach(twin_store *s, const char *name, twin_layer *l, svt_err *err)
{
	layer_ref *lr = realloc(s->layers, (s->nlayers + 1) * sizeof(*lr));
	if (!lr)
		return svt_err_set(err, SVT_E_NOMEM, "store: no memory");
	s->layers = lr;
	layer_ref *r = &lr[s->nlayers];
	memset(r, 0, sizeof(*r));
	r->name = strdup(name);
	r->lab = malloc((s->capf ? s->capf : 1) * sizeof(long));
	if (!r->name || !r->lab) {
		free(r->name);
		free(r->lab);
		return svt_err_set(err, SVT_E_NOMEM, "store: no memory");
	}
	r->l = l;
	s->nlayers++;
	label_frames(s, s->nlayers - 1, 0);
	return SVT_OK;
}

static int store_load(twin_store *s, json_t *meta, svt_err *err)
{
	int rc = SVT_OK;
	const char *fmt = json_string_value(json_object_get(meta, "format"));
	if (!fmt || strcmp(fmt, STORE_FORMAT) != 0 ||
	    json_integer_value(json_object_get(meta, "version")) != STORE_VERSION)
		return svt_err_set(err, SVT_E_FORMAT, "%s/twin.json: not an %s v%d store", s->dir,
				   STORE_FORMAT, STORE_VERSION);
	s->epsg = (int)json_integer_value(json_object_get(meta, "crs_epsg"));
	s->tile_m = json_number_value(json_object_get(meta, "tile_m"));
	s->voxel_m = json_number_value(json_object_get(meta, "voxel_m"));
	s->gen = (uint64_t)json_integer_value(json_object_get(meta, "gen"));
	if (s->epsg <= 0 || !(s->tile_m > 0) || !(s->voxel_m > 0))
		return svt_err_set(err, SVT_E_FORMAT, "%s/twin.json: bad crs, tile or voxel", s->dir);
	json_t *o = json_object_get(meta, "enu_origin_llh");
	if (json_is_array(o)) {
		if (get_darr(o, s->origin, 3))
			return svt_err_set(err, SVT_E_FORMAT, "%s/twin.json: bad enu_origin_llh", s->dir);
		s->have_origin = 1;
	}
	if ((rc = geo_setup(s, err)))
		return rc;

	json_t *caps = json_object_get(meta, "captures");
	json_int_t jnf = json_integer_value(json_object_get(meta, "frames"));
	if (jnf < 0 || jnf > ((json_int_t)1 << 32))
		return svt_err_set(err, SVT_E_FORMAT, "%s/twin.json: %lld frames", s->dir,
				   (long long)jnf);
	size_t nf = (size_t)jnf;
	if ((rc = frames_reserve(s, nf + 1, err)))
		return rc;
	s->caps = calloc(json_array_size(caps) + 1, sizeof(*s->caps));
	if (!s->caps)
		return svt_err_set(err, SVT_E_NOMEM, "store: no memory");
	size_t expect = 0;
	for (size_t c = 0; c < json_array_size(caps); c++) {
		json_t *jc = json_array_get(caps, c);
		capture *cp = &s->caps[c];
		const char *nm = json_string_value(json_object_get(jc, "name"));
		const char *src = json_string_value(json_object_get(jc, "source"));
		cp->first = (size_t)json_integer_value(json_object_get(jc, "first"));
		cp->count = (size_t)json_integer_value(json_object_get(jc, "count"));
		cp->gen = (uint64_t)json_integer_value(json_object_get(jc, "gen"));
		if (!nm || cp->first != expect || cp->count > nf - expect)
			return svt_err_set(err, SVT_E_FORMAT, "%s/twin.json: capture %zu is inconsistent",
					   s->dir, c);
		cp->name = strdup(nm);
		cp->source = strdup(src ? src : "");
		s->ncaps++;
		if (!cp->name || !cp->source)
			return svt_err_set(err, SVT_E_NOMEM, "store: no memory");
		expect += cp->count;
		memset(s->f + cp->first, 0, cp->count * sizeof(*s->f));
		for (size_t i = cp->first; i < cp->first + cp->count; i++)
			s->path[i] = NULL;
		s->nf = cp->first + cp->count; /* so close() frees the paths read so far */
		if ((rc = frames_read(s, c, err)))
			return rc;
	}
	if (expect != nf)
		return svt_err_set(err, SVT_E_FORMAT, "%s/twin.json: captures hold %zu frames, not %zu",
				   s->dir, expect, nf);

	json_t *tiles = json_object_get(meta, "tiles");
	for (size_t t = 0; t < json_array_size(tiles); t++) {
		json_t *jt = json_array_get(tiles, t);
		long k = twin_tile_get(s, (int)json_integer_value(json_array_get(jt, 0)),
				  (int)json_integer_value(json_array_get(jt, 1)), err);
		if (k < 0)
			return (int)k;
		s->tiles[k].gen = (uint64_t)json_integer_value(json_array_get(jt, 2));
		s->tiles[k].n_points = (size_t)json_integer_value(json_array_get(jt, 4));
	}
	if ((rc = index_rebuild(s, err)))
		return rc;

	json_t *layers = json_object_get(meta, "layers");
	for (size_t k = 0; k < json_array_size(layers); k++) {
		const char *nm = json_string_value(json_object_get(json_array_get(layers, k), "name"));
		char rel[128], p[4096];
		if (!name_ok(nm, 63))
			return svt_err_set(err, SVT_E_FORMAT, "%s/twin.json: bad layer name", s->dir);
		snprintf(rel, sizeof(rel), "layers/%s.geojson", nm);
		twin_layer *l = NULL;
		twin_layer_opts lo;
		twin_layer_opts_default(&lo);
		lo.epsg = 4326;
		if ((rc = join(p, sizeof(p), s, rel, err)) || (rc = twin_layer_load(p, &lo, &l, err)))
			return rc;
		if ((rc = layer_attach(s, nm, l, err))) {
			twin_layer_destroy(l);
			return rc;
		}
	}

	json_error_t je;
	char sp[4096];
	if ((rc = join(sp, sizeof(sp), s, "shards.json", err)))
		return rc;
	json_t *sh = json_load_file(sp, 0, &je);
	json_t *arr = json_object_get(sh, "shards");
	if (json_array_size(arr)) {
		s->shards = calloc(json_array_size(arr), sizeof(*s->shards));
		if (!s->shards) {
			json_decref(sh);
			return svt_err_set(err, SVT_E_NOMEM, "store: no memory");
		}
	}
	for (size_t k = 0; k < json_array_size(arr); k++) {
		json_t *js = json_array_get(arr, k), *jt = json_object_get(js, "tiles");
		const char *nm = json_string_value(json_object_get(js, "name"));
		shard_dep *d = &s->shards[s->nshards];
		d->name = strdup(nm ? nm : "");
		d->gen = (uint64_t)json_integer_value(json_object_get(js, "gen"));
		d->n = json_array_size(jt);
		d->txy = malloc((d->n ? d->n : 1) * 2 * sizeof(int));
		s->nshards++;
		if (!d->name || !d->txy) {
			json_decref(sh);
			return svt_err_set(err, SVT_E_NOMEM, "store: no memory");
		}
		for (size_t i = 0; i < d->n; i++) {
			d->txy[2 * i] = (int)json_integer_value(json_array_get(json_array_get(jt, i), 0));
			d->txy[2 * i + 1] = (int)json_integer_value(json_array_get(json_array_get(jt, i), 1));
		}
	}
	json_decref(sh);
	return SVT_OK;
}

int twin_store_open(const char *dir, const twin_store_opts *opts, twin_store **out,
		    svt_err *err)
{
	if (!dir || !out)
		return svt_err_set(err, SVT_E_INPUT, "twin_store_open: NULL argument");
	*out = NULL;
	twin_store *s = calloc(1, sizeof(*s));
	if (!s)
		return svt_err_set(err, SVT_E_NOMEM, "store: no memory");
	int rc = SVT_OK;
	json_t *meta = NULL;
	if (!(s->dir = strdup(dir))) {
		rc = svt_err_set(err, SVT_E_NOMEM, "store: no memory");
		goto done;
	}
	char p[4096];
	if ((rc = join(p, sizeof(p), s, "twin.json", err)))
		goto done;
	FILE *probe = fopen(p, "r");
	if (probe) {
		fclose(probe);
		svt_err tmp = {0};
		if (!(meta = read_json(s, "twin.json", &tmp))) {
			rc = svt_err_set(err, tmp.code, "%s", tmp.msg);
			goto done;
		}
		rc = store_load(s, meta, err);
		goto done;
	}
	/* A new store. */
	twin_store_opts o;
	twin_store_opts_default(&o);
	if (opts)
		o = *opts;
	if (o.no_create) {
		rc = svt_err_set(err, SVT_E_NOTFOUND, "%s is not a twin store (no twin.json)", dir);
		goto done;
	}
	if (o.epsg <= 0 || !(o.tile_m > 0) || !isfinite(o.tile_m) || !(o.voxel_m > 0) ||
	    !isfinite(o.voxel_m)) {
		rc = svt_err_set(err, SVT_E_INPUT, "store options: EPSG %d, tile %g m, voxel %g m",
				 o.epsg, o.tile_m, o.voxel_m);
		goto done;
	}
	s->epsg = o.epsg;
	s->tile_m = o.tile_m;
	s->voxel_m = o.voxel_m;
	s->have_origin = o.have_origin;
	memcpy(s->origin, o.origin_llh, sizeof(s->origin));
	char sub[4096];
	if ((rc = svt_mkdirs(dir, err)) || (rc = join(sub, sizeof(sub), s, "frames", err)) ||
	    (rc = svt_mkdirs(sub, err)) || (rc = join(sub, sizeof(sub), s, "tiles", err)) ||
	    (rc = svt_mkdirs(sub, err)) || (rc = join(sub, sizeof(sub), s, "layers", err)) ||
	    (rc = svt_mkdirs(sub, err)))
		goto done;
	if ((rc = geo_setup(s, err)) || (rc = frames_reserve(s, 1, err)) ||
	    (rc = shards_write(s, err)) || (rc = twin_meta_write(s, err)))
		goto done;
done:
	json_decref(meta);
	if (rc) {
		twin_store_close(s);
		return rc;
	}
	*out = s;
	return SVT_OK;
}

/* ---- Accessors ------------------------------------------------------------------------------ */

int twin_store_epsg(const twin_store *s) { return s ? s->epsg : 0; }
double twin_store_tile_m(const twin_store *s) { return s ? s->tile_m : 0.0; }
void twin_store_origin(const twin_store *s, double llh[3])
{
	if (s && llh)
		memcpy(llh, s->origin, sizeof(s->origin));
}
uint64_t twin_store_generation(const twin_store *s) { return s ? s->gen : 0; }
size_t twin_store_frame_count(const twin_store *s) { return s ? s->nf : 0; }
const twin_frame *twin_store_frames(const twin_store *s) { return s ? s->f : NULL; }
const char *twin_store_frame_path(const twin_store *s, size_t i)
{
	return s && i < s->nf && s->path[i] ? s->path[i] : "";
}
const char *twin_store_frame_capture(const twin_store *s, size_t i)
{
	return s && i < s->nf ? s->caps[s->cap_of[i]].name : "";
}
void twin_store_frame_tile(const twin_store *s, size_t i, int *tx, int *ty)
{
	if (!s || i >= s->nf)
		return;
	if (tx)
		*tx = s->ftx[i];
	if (ty)
		*ty = s->fty[i];
}
size_t twin_store_layer_count(const twin_store *s) { return s ? s->nlayers : 0; }
const char *twin_store_layer_name(const twin_store *s, size_t k)
{
	return s && k < s->nlayers ? s->layers[k].name : "";
}
const twin_layer *twin_store_layer(const twin_store *s, size_t k)
{
	return s && k < s->nlayers ? s->layers[k].l : NULL;
}
const char *twin_store_frame_label(const twin_store *s, size_t i, size_t k)
{
	if (!s || i >= s->nf || k >= s->nlayers || s->layers[k].lab[i] < 0)
		return "";
	return twin_layer_name(s->layers[k].l, (size_t)s->layers[k].lab[i]);
}
size_t twin_store_tile_count(const twin_store *s) { return s ? s->ntiles : 0; }
int twin_store_tile(const twin_store *s, size_t k, twin_tile_info *out)
{
	if (!s || !out || k >= s->ntiles)
		return SVT_E_INPUT;
	out->tx = s->tiles[k].tx;
	out->ty = s->tiles[k].ty;
	out->gen = s->tiles[k].gen;
	out->n_frames = s->tiles[k].nf;
	out->n_points = s->tiles[k].n_points;
	return SVT_OK;
}

/* ---- Adding a capture ----------------------------------------------------------------------- */

/* Rotation ECEF -> ENU at (lat, lon) degrees, row-major. */
static void ecef_to_enu_R(double lat, double lon, double R[9])
{
	double p = lat * M_PI / 180.0, l = lon * M_PI / 180.0;
	double sp = sin(p), cp = cos(p), sl = sin(l), cl = cos(l);
	double r[9] = {-sl, cl, 0, -sp * cl, -sp * sl, cp, cp * cl, cp * sl, sp};
	memcpy(R, r, sizeof(r));
}

/* The rigid map from the ENU frame at origin a to the store's: x_s = M x_a + t. */
int twin_enu_change(twin_store *s, const double a[3], double M[9], double t[3], svt_err *err)
{
	double Ra[9], Rs[9];
	ecef_to_enu_R(a[0], a[1], Ra);
	ecef_to_enu_R(s->origin[0], s->origin[1], Rs);
	for (int i = 0; i < 3; i++)
		for (int j = 0; j < 3; j++) {
			double v = 0;
			for (int k = 0; k < 3; k++)
				v += Rs[3 * i + k] * Ra[3 * j + k]; /* Rs Ra^T */
			M[3 * i + j] = v;
		}
	double x = a[1], y = a[0], z = a[2];
	int rc = geo_enu_forward(s->enu, &x, &y, &z, sizeof(double), 1, err);
	t[0] = x;
	t[1] = y;
	t[2] = z;
	return rc;
}

/* Fills proj, enu, tile of frames [from, nf) from their llh. */
static int frames_georef(twin_store *s, size_t from, svt_err *err)
{
	size_t n = s->nf - from;
	double *xyz = malloc((n ? n : 1) * 3 * sizeof(double));
	if (!xyz)
		return svt_err_set(err, SVT_E_NOMEM, "store: no memory");
	int rc;
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < n; i++) {
			xyz[3 * i] = s->f[from + i].llh[1];
			xyz[3 * i + 1] = s->f[from + i].llh[0];
			xyz[3 * i + 2] = s->f[from + i].llh[2];
		}
		rc = pass == 0 ? geo_crs_forward(s->crs, xyz, xyz + 1, xyz + 2, 3 * sizeof(double), n, err)
			       : geo_enu_forward(s->enu, xyz, xyz + 1, xyz + 2, 3 * sizeof(double), n, err);
		if (rc)
			break;
		for (size_t i = 0; i < n; i++)
			memcpy(pass == 0 ? s->f[from + i].proj : s->f[from + i].enu, xyz + 3 * i,
			       3 * sizeof(double));
	}
	free(xyz);
	if (rc)
		return rc;
	for (size_t i = from; i < s->nf; i++)
		if (twin_tile_of(s, s->f[i].proj[0], s->f[i].proj[1], &s->ftx[i], &s->fty[i]))
			return svt_err_set(err, SVT_E_INPUT, "frame %zu has no usable projected position",
					   i - from);
	return SVT_OK;
}

int twin_store_add_capture(twin_store *s, const twin_capture_in *in, size_t *first,
			   svt_err *err)
{
	if (!s || !in || (in->n && !in->frames))
		return svt_err_set(err, SVT_E_INPUT, "twin_store_add_capture: NULL argument");
	if (!in->name || !*in->name)
		return svt_err_set(err, SVT_E_INPUT, "a capture needs a name");
	for (size_t c = 0; c < s->ncaps; c++)
		if (strcmp(s->caps[c].name, in->name) == 0)
			return svt_err_set(err, SVT_E_INPUT, "capture %s is already in the store",
					   in->name);
	for (size_t i = 0; i < in->n; i++) {
		const double *llh = in->frames[i].llh;
		if (!isfinite(llh[0]) || !isfinite(llh[1]) || !isfinite(llh[2]) || fabs(llh[0]) > 90 ||
		    fabs(llh[1]) > 180)
			return svt_err_set(err, SVT_E_INPUT, "capture %s frame %zu: bad position",
					   in->name, i);
		for (int k = 0; in->enu_origin_llh && k < 16; k++)
			if (!isfinite(in->frames[i].w2c[k]))
				return svt_err_set(err, SVT_E_INPUT, "capture %s frame %zu: bad pose",
						   in->name, i);
		if (!in->enu_origin_llh && !isfinite(in->frames[i].heading))
			return svt_err_set(err, SVT_E_INPUT,
					   "capture %s frame %zu: no heading to build its pose from",
					   in->name, i);
	}
	size_t old_nf = s->nf, old_nt = s->ntiles;
	uint64_t old_gen = s->gen;
	tile *saved = NULL;
	int rc = SVT_OK, committed = 0, cap_added = 0, had_origin = s->have_origin;
	if (!s->have_origin && in->n) {
		memcpy(s->origin, in->frames[0].llh, sizeof(s->origin));
		s->have_origin = 1;
		if ((rc = geo_setup(s, err)))
			goto done;
	}
	if (in->n && !s->enu) {
		rc = svt_err_set(err, SVT_E_INPUT, "store has no ENU origin");
		goto done;
	}
	saved = malloc((s->ntiles ? s->ntiles : 1) * sizeof(*saved));
	capture *caps = realloc(s->caps, (s->ncaps + 1) * sizeof(*caps));
	if (caps)
		s->caps = caps;
	if (!saved || !caps || (rc = frames_reserve(s, s->nf + in->n + 1, err))) {
		rc = rc ? rc : svt_err_set(err, SVT_E_NOMEM, "store: no memory");
		goto done;
	}
	if (s->ntiles)
		memcpy(saved, s->tiles, s->ntiles * sizeof(*saved));
	capture *cp = &s->caps[s->ncaps];
	memset(cp, 0, sizeof(*cp));
	cp->name = strdup(in->name);
	cp->source = strdup(in->source ? in->source : "");
	cp->first = s->nf;
	cp->count = in->n;
	cp->gen = s->gen + 1;
	if (!cp->name || !cp->source) {
		free(cp->name);
		free(cp->source);
		rc = svt_err_set(err, SVT_E_NOMEM, "store: no memory");
		goto done;
	}
	s->ncaps++;
	cap_added = 1;

	int seq_off = 0;
	for (size_t i = 0; i < s->nf; i++)
		if (s->f[i].seq + 1 > seq_off)
			seq_off = s->f[i].seq + 1;
	int seq_min = 0;
	for (size_t i = 0; i < in->n; i++)
		if (in->frames[i].seq < seq_min)
			seq_min = in->frames[i].seq;
	for (size_t i = 0; i < in->n; i++) {
		size_t k = s->nf + i;
		s->f[k] = in->frames[i];
		s->f[k].seq = in->frames[i].seq - seq_min + seq_off;
		s->cap_of[k] = (int)(s->ncaps - 1);
		s->path[k] = strdup(in->paths && in->paths[i] ? in->paths[i] : "");
		if (!s->path[k]) {
			s->nf = k; /* frees the paths made so far on rollback */
			rc = svt_err_set(err, SVT_E_NOMEM, "store: no memory");
			goto done;
		}
	}
	s->nf += in->n;
	if ((rc = frames_georef(s, old_nf, err)))
		goto done;
	/* Poses into the store's ENU frame. */
	if (in->enu_origin_llh) {
		double M[9], t[3];
		if ((rc = twin_enu_change(s, in->enu_origin_llh, M, t, err)))
			goto done;
		for (size_t i = old_nf; i < s->nf; i++) {
			double *w = s->f[i].w2c, R2[9], t2[3];
			/* x_cam = R x_a + tc, x_a = M^T (x_s - t): R' = R M^T, t' = tc - R' t. */
			for (int r = 0; r < 3; r++)
				for (int c = 0; c < 3; c++) {
					double v = 0;
					for (int k = 0; k < 3; k++)
						v += w[4 * r + k] * M[3 * c + k];
					R2[3 * r + c] = v;
				}
			for (int r = 0; r < 3; r++)
				t2[r] = w[4 * r + 3] - (R2[3 * r] * t[0] + R2[3 * r + 1] * t[1] +
							R2[3 * r + 2] * t[2]);
			for (int r = 0; r < 3; r++) {
				for (int c = 0; c < 3; c++)
					w[4 * r + c] = R2[3 * r + c];
				w[4 * r + 3] = t2[r];
			}
			w[12] = w[13] = w[14] = 0.0;
			w[15] = 1.0;
		}
	} else {
		for (size_t i = old_nf; i < s->nf; i++) {
			twin_frame *f = &s->f[i];
			if ((rc = geo_pose_from_gps(s->enu, f->llh[0], f->llh[1], f->llh[2], f->heading,
						    0.0, 0.0, f->w2c, err)))
				goto done;
		}
	}
	for (size_t k = 0; k < s->nlayers; k++)
		label_frames(s, k, old_nf);

	s->gen++;
	for (size_t i = old_nf; i < s->nf; i++) {
		long t = twin_tile_get(s, s->ftx[i], s->fty[i], err);
		if (t < 0) {
			rc = (int)t;
			goto done;
		}
		s->tiles[t].gen = s->gen;
	}
	if ((rc = index_rebuild(s, err)) || (rc = frames_write(s, s->ncaps - 1, err)))
		goto done;
	for (size_t t = 0; t < s->ntiles; t++)
		if (s->tiles[t].gen == s->gen && (rc = twin_tile_write(s, t, err)))
			goto done;
	if ((rc = twin_meta_write(s, err)))
		goto done;
	committed = 1;
	if (first)
		*first = old_nf;
done:
	if (rc && !committed) {
		/* Back to the state before the call (files already written are ignored: twin.json
		 * does not name them, and the next add overwrites them). */
		for (size_t i = old_nf; i < s->nf; i++)
			free(s->path[i]);
		s->nf = old_nf;
		if (cap_added) {
			s->ncaps--;
			free(s->caps[s->ncaps].name);
			free(s->caps[s->ncaps].source);
		}
		if (saved) {
			if (old_nt)
				memcpy(s->tiles, saved, old_nt * sizeof(*saved));
			s->ntiles = old_nt;
		}
		s->gen = old_gen;
		if (!had_origin) {
			s->have_origin = 0;
			geo_enu_destroy(s->enu);
			s->enu = NULL;
		}
		svt_err tmp = {0};
		index_rebuild(s, &tmp);
	}
	free(saved);
	return rc;
}

/* ---- Layers ------------------------------------------------------------------------------- */

int twin_store_add_layer(twin_store *s, const char *name, const char *path,
			 const twin_layer_opts *o, svt_err *err)
{
	if (!s || !path)
		return svt_err_set(err, SVT_E_INPUT, "twin_store_add_layer: NULL argument");
	if (!name_ok(name, 63))
		return svt_err_set(err, SVT_E_INPUT, "layer name '%s': use [A-Za-z0-9_-], <= 63",
				   name ? name : "");
	twin_layer *l = NULL;
	int rc = twin_layer_load(path, o, &l, err);
	if (rc)
		return rc;
	char rel[128], p[4096];
	snprintf(rel, sizeof(rel), "layers/%s.geojson", name);
	if ((rc = join(p, sizeof(p), s, rel, err)) || (rc = twin_layer_save_geojson(l, p, err))) {
		twin_layer_destroy(l);
		return rc;
	}
	/* Replace a layer of the same name in place, else append. */
	size_t k = 0;
	while (k < s->nlayers && strcmp(s->layers[k].name, name) != 0)
		k++;
	if (k < s->nlayers) {
		twin_layer_destroy(s->layers[k].l);
		s->layers[k].l = l;
		label_frames(s, k, 0);
	} else if ((rc = layer_attach(s, name, l, err))) {
		twin_layer_destroy(l);
		return rc;
	}
	/* Labels go into shards: every tile with frames changes. */
	s->gen++;
	for (size_t t = 0; t < s->ntiles; t++)
		if (s->tiles[t].nf) {
			s->tiles[t].gen = s->gen;
			if ((rc = twin_tile_write(s, t, err)))
				return rc;
		}
	for (size_t c = 0; c < s->ncaps; c++)
		if ((rc = frames_write(s, c, err)))
			return rc;
	return twin_meta_write(s, err);
}

/* ---- Dependencies: dirty tiles and stale shards -------------------------------------------- */

int twin_store_dirty_tiles(const twin_store *s, uint64_t since, int **txy, size_t *n,
			   svt_err *err)
{
	if (!s || !txy || !n)
		return svt_err_set(err, SVT_E_INPUT, "twin_store_dirty_tiles: NULL argument");
	*txy = malloc((s->ntiles ? s->ntiles : 1) * 2 * sizeof(int));
	*n = 0;
	if (!*txy)
		return svt_err_set(err, SVT_E_NOMEM, "store: no memory");
	for (size_t t = 0; t < s->ntiles; t++)
		if (s->tiles[t].gen > since) {
			(*txy)[2 * *n] = s->tiles[t].tx;
			(*txy)[2 * *n + 1] = s->tiles[t].ty;
			(*n)++;
		}
	return SVT_OK;
}

static int pair_cmp(const void *a, const void *b)
{
	const int *p = a, *q = b;
	return tile_cmp_key(p[0], p[1], q[0], q[1]);
}

int twin_store_clip_tiles(const twin_store *s, const twin_clip *c, int **txy, size_t *n,
			  svt_err *err)
{
	if (!s || !c || !txy || !n || (c->n > 0 && !c->idx))
		return svt_err_set(err, SVT_E_INPUT, "twin_store_clip_tiles: NULL argument");
	*n = 0;
	*txy = malloc((c->n > 0 ? (size_t)c->n : 1) * 2 * sizeof(int));
	if (!*txy)
		return svt_err_set(err, SVT_E_NOMEM, "store: no memory");
	for (int k = 0; k < c->n; k++) {
		if (c->idx[k] >= s->nf) {
			free(*txy);
			*txy = NULL;
			return svt_err_set(err, SVT_E_INPUT, "clip frame %zu of %zu", c->idx[k], s->nf);
		}
		(*txy)[2 * k] = s->ftx[c->idx[k]];
		(*txy)[2 * k + 1] = s->fty[c->idx[k]];
	}
	qsort(*txy, (size_t)(c->n > 0 ? c->n : 0), 2 * sizeof(int), pair_cmp);
	size_t m = 0;
	for (int k = 0; k < c->n; k++)
		if (m == 0 || pair_cmp(&(*txy)[2 * (m - 1)], &(*txy)[2 * k]) != 0) {
			(*txy)[2 * m] = (*txy)[2 * k];
			(*txy)[2 * m + 1] = (*txy)[2 * k + 1];
			m++;
		}
	*n = m;
	return SVT_OK;
}

int twin_store_record_shard(twin_store *s, const char *name, const int *txy, size_t n,
			    svt_err *err)
{
	if (!s || !name || !*name || (n && !txy))
		return svt_err_set(err, SVT_E_INPUT, "twin_store_record_shard: bad argument");
	size_t k = 0;
	while (k < s->nshards && strcmp(s->shards[k].name, name) != 0)
		k++;
	int *copy = malloc((n ? n : 1) * 2 * sizeof(int));
	if (!copy)
		return svt_err_set(err, SVT_E_NOMEM, "store: no memory");
	if (n)
		memcpy(copy, txy, n * 2 * sizeof(int));
	if (k == s->nshards) {
		shard_dep *d = realloc(s->shards, (s->nshards + 1) * sizeof(*d));
		char *nm = strdup(name);
		if (d)
			s->shards = d;
		if (!d || !nm) {
			free(nm);
			free(copy);
			return svt_err_set(err, SVT_E_NOMEM, "store: no memory");
		}
		memset(&s->shards[k], 0, sizeof(s->shards[k]));
		s->shards[k].name = nm;
		s->nshards++;
	}
	free(s->shards[k].txy);
	s->shards[k].txy = copy;
	s->shards[k].n = n;
	s->shards[k].gen = s->gen;
	return shards_write(s, err);
}

int twin_store_stale_shards(const twin_store *s, const char ***names, size_t *n, svt_err *err)
{
	if (!s || !names || !n)
		return svt_err_set(err, SVT_E_INPUT, "twin_store_stale_shards: NULL argument");
	*n = 0;
	*names = malloc((s->nshards ? s->nshards : 1) * sizeof(char *));
	if (!*names)
		return svt_err_set(err, SVT_E_NOMEM, "store: no memory");
	for (size_t k = 0; k < s->nshards; k++) {
		const shard_dep *d = &s->shards[k];
		int stale = 0;
		for (size_t i = 0; i < d->n && !stale; i++) {
			long t = twin_tile_find(s, d->txy[2 * i], d->txy[2 * i + 1]);
			stale = t < 0 || s->tiles[t].gen > d->gen;
		}
		if (stale)
			(*names)[(*n)++] = d->name;
	}
	return SVT_OK;
}
