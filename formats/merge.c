/* merge.c: one dataset from the parts several processes built (a cluster build's ranks): the
 * parts' committed shards stay where their writer put them (OUT/<part>/NAME.h5); the merge
 * writes OUT/master.h5 (external links to every part's clips, one /index) and
 * OUT/manifest.json (every part's shards by their path under OUT), each atomically, after
 * checking that no clip appears in two parts and, when asked, no frame either. Shard hashes and
 * sizes come from the parts' manifests (each written by the writer that hashed its shards);
 * sizes are checked here, hashes by `svtwin verify`: rehashing terabytes is the verifier's job,
 * not the merge's. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "formats/fmt_internal.h"

/* A clip of the merged dataset: its index row (shard renamed to PART/SHARD) and its part. */
typedef struct mclip {
	fmt_index_row row;
	size_t part;
	double e0, n0;
	int64_t t_first, t_last;
} mclip;

static int mclip_cmp(const void *a, const void *b)
{
	return strcmp(((const mclip *)a)->row.clip_id, ((const mclip *)b)->row.clip_id);
}

typedef struct frame_key {
	int64_t t;
	size_t clip;
} frame_key;

static int fkey_cmp(const void *a, const void *b)
{
	const frame_key *x = a, *y = b;
	return x->t < y->t ? -1 : x->t > y->t;
}

void fmt_merge_result_free(fmt_merge_result *r)
{
	if (!r)
		return;
	free(r->clips);
	memset(r, 0, sizeof(*r));
}

/* Reads one part: its manifest's shards appended to arr (file names prefixed "PART/"), its
 * master's clips appended to *clips. */
static int part_read(const char *out, const char *part, size_t pi, json_t *arr, mclip **clips,
		     size_t *n, size_t *cap, int read_frames, fmt_shard_info *info, char *codec,
		     size_t codec_cap, int *level, int *fletcher, char **config, svt_err *err)
{
	char dir[4096], path[4200];
	json_error_t je;
	json_t *m = NULL;
	fmt_reader *r = NULL;
	int rc = SVT_OK;
	if ((rc = svt_path_join(dir, sizeof(dir), out, part, err)))
		return rc;
	snprintf(path, sizeof(path), "%s/manifest.json", dir);
	if (!(m = json_load_file(path, 0, &je))) {
		rc = svt_err_set(err, SVT_E_INPUT, "%s: no readable manifest (%s): the part did not "
				 "finish", path, je.text);
		goto done;
	}
	if (!json_is_true(json_object_get(m, "complete"))) {
		rc = svt_err_set(err, SVT_E_INPUT, "%s: not marked complete", path);
		goto done;
	}
	const char *c = json_string_value(json_object_get(m, "codec"));
	if (c && !codec[0])
		snprintf(codec, codec_cap, "%s", c);
	else if (c && strcmp(c, codec)) {
		rc = svt_err_set(err, SVT_E_INPUT, "%s: codec %s, another part's is %s", path, c,
				 codec);
		goto done;
	}
	*level = (int)json_integer_value(json_object_get(m, "codec_level"));
	*fletcher = json_is_true(json_object_get(m, "fletcher32"));
	json_t *s;
	size_t i;
	json_array_foreach(json_object_get(m, "shards"), i, s)
	{
		const char *fn = json_string_value(json_object_get(s, "file"));
		if (!fn || strchr(fn, '/')) {
			rc = svt_err_set(err, SVT_E_FORMAT, "%s: shard %zu has no valid name", path, i);
			goto done;
		}
		char rel[FMT_ID_MAX * 2], full[4400];
		snprintf(rel, sizeof(rel), "%s/%s", part, fn);
		snprintf(full, sizeof(full), "%s/%s", dir, fn);
		struct stat st;
		if (stat(full, &st) != 0 ||
		    (json_int_t)st.st_size != json_integer_value(json_object_get(s, "bytes"))) {
			rc = svt_err_set(err, SVT_E_FORMAT, "%s: missing or not the size its manifest "
					 "says", full);
			goto done;
		}
		json_t *e = json_deep_copy(s);
		json_object_set_new(e, "file", json_string(rel));
		json_array_append_new(arr, e);
	}
	snprintf(path, sizeof(path), "%s/master.h5", dir);
	if ((rc = fmt_reader_open(path, &r, err)) || (rc = fmt_reader_info(r, info, err)))
		goto done;
	if (!*config) {
		char buf[65536];
		if (!fmt_reader_attr_str(r, "build_config", buf, sizeof(buf), NULL) && buf[0])
			*config = strdup(buf);
	}
	size_t nc = fmt_reader_clip_count(r);
	for (size_t k = 0; k < nc; k++) {
		if (*n == *cap) {
			size_t nc2 = *cap ? 2 * *cap : 64;
			mclip *p = realloc(*clips, nc2 * sizeof(*p));
			if (!p) {
				rc = svt_err_set(err, SVT_E_NOMEM, "no memory for %zu clips", nc2);
				goto done;
			}
			*clips = p;
			*cap = nc2;
		}
		mclip *mc = &(*clips)[*n];
		memset(mc, 0, sizeof(*mc));
		mc->row = *fmt_reader_index_row(r, k);
		mc->part = pi;
		if (strlen(part) + 1 + strlen(mc->row.shard) >= FMT_ID_MAX) {
			rc = svt_err_set(err, SVT_E_LIMIT, "%s/%s: a shard path over %d bytes", part,
					 mc->row.shard, FMT_ID_MAX - 1);
			goto done;
		}
		size_t pl = strlen(part), sl = strlen(mc->row.shard);
		memmove(mc->row.shard + pl + 1, mc->row.shard, sl + 1);
		memcpy(mc->row.shard, part, pl);
		mc->row.shard[pl] = '/';
		if (read_frames) {
			fmt_clip_data cd;
			if ((rc = fmt_reader_clip(r, k, &cd, err)))
				goto done;
			mc->e0 = cd.proj ? cd.proj[0] : 0;
			mc->n0 = cd.proj ? cd.proj[1] : 0;
			mc->t_first = cd.time_us[0];
			mc->t_last = cd.time_us[cd.T - 1];
			fmt_clip_data_free(&cd);
		}
		(*n)++;
	}
done:
	fmt_reader_close(r);
	json_decref(m);
	return rc;
}

/* The master file: external links to PART/SHARD for every clip, the merged /index. */
static int merge_master(const char *out, const fmt_shard_info *info, const char *codec,
			int fletcher, const mclip *c, size_t n, svt_err *err)
{
	fmt_index_row *rows = malloc((n ? n : 1) * sizeof(*rows));
	if (!rows)
		return svt_err_set(err, SVT_E_NOMEM, "no memory for %zu rows", n);
	int64_t frames = 0;
	for (size_t i = 0; i < n; i++) {
		rows[i] = c[i].row;
		frames += c[i].row.num_frames;
	}
	char created[32];
	fmt_utc_now(created, sizeof(created));
	int rc = fmt_master_write(out, info, codec, fletcher, created, rows, n, frames, err);
	free(rows);
	return rc;
}

int fmt_dataset_merge(const char *out, const char *const *parts, size_t nparts,
		      const fmt_merge_opts *o, fmt_merge_result *res, svt_err *err)
{
	if (!out || !parts || !res)
		return svt_err_set(err, SVT_E_INPUT, "fmt_dataset_merge: NULL argument");
	memset(res, 0, sizeof(*res));
	fmt_h5_quiet();
	int rc = SVT_OK, level = 0, fletcher = 1;
	char codec[32] = "", path[4096];
	char *config = NULL, *text = NULL;
	mclip *c = NULL;
	frame_key *fk = NULL;
	size_t n = 0, cap = 0;
	json_t *arr = json_array(), *m = NULL;
	fmt_shard_info info, first_info;
	int have_info = 0;
	int read_frames = o && o->frames_unique;
	for (size_t p = 0; p < nparts; p++) {
		memset(&info, 0, sizeof(info));
		if ((rc = part_read(out, parts[p], p, arr, &c, &n, &cap, 1, &info, codec,
				    sizeof(codec), &level, &fletcher, &config, err)))
			goto done;
		if (!have_info) {
			first_info = info;
			have_info = 1;
		} else if (info.crs_epsg != first_info.crs_epsg ||
			   memcmp(info.enu_origin_llh, first_info.enu_origin_llh,
				  sizeof(info.enu_origin_llh))) {
			rc = svt_err_set(err, SVT_E_INPUT, "%s: CRS or ENU origin differs from %s's: "
					 "not parts of one build", parts[p], parts[0]);
			goto done;
		}
	}
	qsort(c, n, sizeof(*c), mclip_cmp);
	for (size_t i = 1; i < n; i++)
		if (!strcmp(c[i].row.clip_id, c[i - 1].row.clip_id)) {
			rc = svt_err_set(err, SVT_E_INPUT, "clip %s appears twice: in %s and in %s",
					 c[i].row.clip_id, parts[c[i - 1].part], parts[c[i].part]);
			goto done;
		}
	if (read_frames && n) {
		/* Clips without overlap: a frame (its time) in two clips means two parts cut the
		 * same frames (their clip lists differ). Every clip's span is checked. */
		if (!(fk = malloc(n * sizeof(*fk)))) {
			rc = svt_err_set(err, SVT_E_NOMEM, "no memory for %zu clips", n);
			goto done;
		}
		for (size_t i = 0; i < n; i++)
			fk[i] = (frame_key){c[i].t_first, i};
		qsort(fk, n, sizeof(*fk), fkey_cmp);
		for (size_t i = 1; i < n; i++) {
			const mclip *a = &c[fk[i - 1].clip], *b = &c[fk[i].clip];
			if (b->t_first <= a->t_last) {
				rc = svt_err_set(err, SVT_E_INPUT, "frames appear twice: clips %s (%s) "
						 "and %s (%s) overlap in time", a->row.clip_id,
						 parts[a->part], b->row.clip_id, parts[b->part]);
				goto done;
			}
		}
	}
	if (!have_info) {
		rc = svt_err_set(err, SVT_E_INPUT, "no part to merge");
		goto done;
	}
	first_info.source = NULL;
	first_info.build_config = config;
	if (o && o->check_only)
		goto result;
	if ((rc = merge_master(out, &first_info, codec[0] ? codec : "none", fletcher, c, n, err)))
		goto done;
	int64_t frames = 0;
	for (size_t i = 0; i < n; i++)
		frames += c[i].row.num_frames;
	char created[32];
	fmt_utc_now(created, sizeof(created));
	m = json_object();
	json_object_set_new(m, "schema", json_string(FMT_SCHEMA_NAME));
	json_object_set_new(m, "schema_version", json_integer(FMT_SCHEMA_VERSION));
	json_object_set_new(m, "writer", json_string("svtwin " SVT_VERSION));
	json_object_set_new(m, "created_utc", json_string(created));
	json_object_set_new(m, "codec", json_string(codec[0] ? codec : "none"));
	json_object_set_new(m, "codec_level", json_integer(level));
	json_object_set_new(m, "fletcher32", json_boolean(fletcher));
	json_object_set_new(m, "complete", json_true());
	json_object_set_new(m, "parts", json_integer((json_int_t)nparts));
	json_object_set_new(m, "shards", arr);
	arr = NULL;
	json_object_set_new(m, "master", json_string("master.h5"));
	json_object_set_new(m, "total_clips", json_integer((json_int_t)n));
	json_object_set_new(m, "total_frames", json_integer((json_int_t)frames));
	if (!(text = json_dumps(m, JSON_INDENT(2) | JSON_PRESERVE_ORDER))) {
		rc = svt_err_set(err, SVT_E_NOMEM, "manifest");
		goto done;
	}
	size_t len = strlen(text);
	text[len] = '\n';
	if ((rc = svt_path_join(path, sizeof(path), out, "manifest.json", err)) ||
	    (rc = svt_file_write_atomic(path, text, len + 1, err)))
		goto done;
result:
	if (!(res->clips = malloc((n ? n : 1) * sizeof(*res->clips)))) {
		rc = svt_err_set(err, SVT_E_NOMEM, "no memory for %zu clips", n);
		goto done;
	}
	for (size_t i = 0; i < n; i++) {
		fmt_merge_clip *r = &res->clips[i];
		snprintf(r->id, sizeof(r->id), "%s", c[i].row.clip_id);
		r->part = c[i].part;
		r->e0 = c[i].e0;
		r->n0 = c[i].n0;
	}
	res->n_clips = n;
	res->n_frames = 0;
	for (size_t i = 0; i < n; i++)
		res->n_frames += (uint64_t)c[i].row.num_frames;
done:
	free(text);
	free(config);
	free(fk);
	free(c);
	json_decref(arr);
	json_decref(m);
	return rc;
}
