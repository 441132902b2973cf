/* verify.c: `svtwin verify DIR`: a dataset checked against its schema, its checksums, its
 * counts and its manifest. Every frame chunk is read through the filter pipeline, so each
 * Fletcher32 checksum and each compressed stream is checked, not only the file hashes. */
#include <dirent.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "formats/fmt_internal.h"

typedef struct vctx {
	FILE *f;
	size_t problems;
	char *config;          /* the first build_config seen (malloc'd), NULL before */
	char config_from[128]; /* where it was seen */
	int config_seen;       /* a shard was checked: config NULL then means "none recorded" */
} vctx;

static void problem(vctx *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void problem(vctx *v, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(v->f, "FAIL ");
	vfprintf(v->f, fmt, ap);
	fprintf(v->f, "\n");
	va_end(ap);
	v->problems++;
}

static int ends_with(const char *s, const char *suf)
{
	size_t a = strlen(s), b = strlen(suf);
	return a >= b && !strcmp(s + a - b, suf);
}

/* Reads a 1-D fixed-string dataset (the /mask lists) into n x FMT_ID_MAX bytes. */
static int read_ids(hid_t file, const char *name, char (**ids)[FMT_ID_MAX], size_t *n)
{
	*ids = NULL;
	*n = 0;
	hid_t ds = H5Dopen2(file, name, H5P_DEFAULT);
	if (ds < 0)
		return -1;
	hid_t sp = H5Dget_space(ds), t = H5Tcopy(H5T_C_S1);
	H5Tset_size(t, FMT_ID_MAX);
	hssize_t np = H5Sget_simple_extent_npoints(sp);
	int rc = np < 0 ? -1 : 0;
	if (!rc && !(*ids = calloc(np ? (size_t)np : 1, FMT_ID_MAX)))
		rc = -1;
	if (!rc && np > 0 && H5Dread(ds, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, *ids) < 0)
		rc = -1;
	if (!rc)
		*n = (size_t)np;
	H5Tclose(t);
	H5Sclose(sp);
	H5Dclose(ds);
	if (rc) {
		free(*ids);
		*ids = NULL;
	}
	return rc;
}

static void check_masks(vctx *v, const char *name, fmt_reader *r, hid_t file)
{
	static const char *const splits[] = {"train", "val", "test"};
	size_t n = fmt_reader_clip_count(r), listed = 0;
	for (size_t s = 0; s < 3; s++) {
		char p[32];
		char(*ids)[FMT_ID_MAX] = NULL;
		size_t k = 0;
		snprintf(p, sizeof(p), "mask/%s", splits[s]);
		if (read_ids(file, p, &ids, &k)) {
			problem(v, "%s: /%s is missing or unreadable", name, p);
			continue;
		}
		for (size_t j = 0; j < k; j++) {
			ids[j][FMT_ID_MAX - 1] = 0;
			size_t i = 0;
			while (i < n && strcmp(fmt_reader_clip_id(r, i), ids[j]))
				i++;
			if (i == n)
				problem(v, "%s: /%s lists unknown clip %s", name, p, ids[j]);
		}
		listed += k;
		free(ids);
	}
	if (listed != n)
		problem(v, "%s: /mask lists %zu clips, /index %zu", name, listed, n);
}

typedef struct cap_rec {
	int32_t s, e;
} cap_rec;

/* Clip attributes and captions against the clip's arrays (schema v1). */
static void check_clip_attrs(vctx *v, const char *name, hid_t file, const char *id, int T,
			     int H, int W)
{
	char p[FMT_ID_MAX + 8], bin[32] = "";
	snprintf(p, sizeof(p), "clips/%s", id);
	hid_t g = H5Gopen2(file, p, H5P_DEFAULT);
	if (g < 0) {
		problem(v, "%s: /%s cannot be opened", name, p);
		return;
	}
	int64_t nf = -1, w = -1, h = -1;
	if (fmt_attr_get_i64(g, "num_frames", &nf, NULL) || fmt_attr_get_i64(g, "width", &w, NULL) ||
	    fmt_attr_get_i64(g, "height", &h, NULL) ||
	    fmt_attr_get_str(g, "resolution_bin", bin, sizeof(bin), NULL) ||
	    H5Aexists(g, "district") <= 0 || H5Aexists(g, "has_depth") <= 0)
		problem(v, "%s: clip %s lacks a schema attribute", name, id);
	else if (nf != T || w != W || h != H)
		problem(v, "%s: clip %s attributes say %lldx%lldx%lld, frames are %dx%dx%d", name, id,
			(long long)nf, (long long)h, (long long)w, T, H, W);
	const char *want = W == 1280 && H == 704 ? "1280x704" : W == 768 && H == 432 ? "768x432"
										     : "other";
	if (bin[0] && strcmp(bin, want))
		problem(v, "%s: clip %s resolution_bin %s for %dx%d", name, id, bin, W, H);
	hid_t ds = H5Lexists(g, "captions", H5P_DEFAULT) > 0
			   ? H5Dopen2(g, "captions", H5P_DEFAULT)
			   : H5I_INVALID_HID;
	if (ds < 0) {
		problem(v, "%s: clip %s has no captions dataset", name, id);
	} else {
		hid_t sp = H5Dget_space(ds), ct = H5Tcreate(H5T_COMPOUND, sizeof(cap_rec));
		H5Tinsert(ct, "start_frame", HOFFSET(cap_rec, s), H5T_NATIVE_INT32);
		H5Tinsert(ct, "end_frame", HOFFSET(cap_rec, e), H5T_NATIVE_INT32);
		hssize_t n = H5Sget_simple_extent_npoints(sp);
		cap_rec *c = n > 0 ? calloc((size_t)n, sizeof(*c)) : NULL;
		if (n > 0 && (!c || H5Dread(ds, ct, H5S_ALL, H5S_ALL, H5P_DEFAULT, c) < 0))
			problem(v, "%s: clip %s: captions unreadable", name, id);
		else
			for (hssize_t i = 0; i < n; i++)
				if (c[i].s < 0 || c[i].e < c[i].s || c[i].e >= T) {
					problem(v, "%s: clip %s: caption %lld covers [%d, %d] of %d frames",
						name, id, (long long)i, c[i].s, c[i].e, T);
					break;
				}
		free(c);
		H5Tclose(ct);
		H5Sclose(sp);
		H5Dclose(ds);
	}
	char msg[256] = "";
	if (fmt_clip_synth_verify(g, T, H, W, msg, sizeof(msg)))
		problem(v, "%s: clip %s: %s", name, id, msg);
	H5Gclose(g);
}

/* Checks one shard (or the master file); returns the clip and frame counts it holds. With
 * read_frames, every frame chunk is decoded. */
/* A dataset is all of one build configuration: every shard, the master and OUT's
 * build-config.json carry the same record (or, for datasets older than the record, none). */
static void check_config(vctx *v, const char *name, const char *cfg)
{
	if (!v->config_seen) {
		v->config_seen = 1;
		v->config = cfg ? strdup(cfg) : NULL;
		snprintf(v->config_from, sizeof(v->config_from), "%s", name);
		return;
	}
	if (!cfg && !v->config)
		return;
	if (cfg && v->config && !strcmp(cfg, v->config))
		return;
	fmt_config *a = NULL, *b = NULL;
	char why[1024] = "";
	if (cfg && v->config && !fmt_config_from_json(v->config, &a, NULL) &&
	    !fmt_config_from_json(cfg, &b, NULL))
		fmt_config_compare(a, b, why, sizeof(why));
	fmt_config_destroy(a);
	fmt_config_destroy(b);
	char *dot = strstr(why, ". The output");
	if (dot)
		*dot = 0; /* the advice on rerunning a build does not apply to verify */
	problem(v, "%s: built with another configuration than %s%s%s%s", name, v->config_from,
		!cfg ? " (it records none)" : !v->config ? " (which records none)" : "",
		why[0] ? ": " : "", why);
}

static void check_refs(vctx *v, fmt_reader *r, const char *name);

static void check_file(vctx *v, const char *path, const char *name, int read_frames,
		       size_t *clips, uint64_t *frames)
{
	static const char *const need[] = {
		"schema", "schema_version", "kind", "writer", "camera_convention", "pose",
		"pixel_center", "crs", "crs_epsg", "enu_origin_llh", "enu_origin_proj",
		"created_utc", "codec", "fletcher32", "num_clips", "num_frames"};
	svt_err e = {0};
	fmt_reader *r = NULL;
	uint8_t *buf = NULL;
	size_t buf_cap = 0, bad_before = v->problems;
	*clips = 0;
	*frames = 0;
	if (fmt_reader_open(path, &r, &e)) {
		problem(v, "%s: %s", name, e.msg);
		return;
	}
	hid_t file = fmt_reader_h5file(r);
	for (size_t k = 0; k < SVT_ARRAY_LEN(need); k++)
		if (H5Aexists(file, need[k]) <= 0)
			problem(v, "%s: root attribute %s is missing", name, need[k]);
	char s[64] = "";
	fmt_attr_get_str(file, "camera_convention", s, sizeof(s), NULL);
	if (strcmp(s, "opencv"))
		problem(v, "%s: camera_convention is '%s', not opencv", name, s);
	fmt_attr_get_str(file, "pose", s, sizeof(s), NULL);
	if (strcmp(s, "world_to_camera"))
		problem(v, "%s: pose is '%s', not world_to_camera", name, s);
	if (H5Aexists(file, "build_config") > 0) {
		char *cfg = malloc(1 << 16);
		if (cfg && !fmt_attr_get_str(file, "build_config", cfg, 1 << 16, &e))
			check_config(v, name, cfg);
		else
			problem(v, "%s: build_config attribute unreadable", name);
		free(cfg);
	} else {
		check_config(v, name, NULL);
	}
	int64_t nc_attr = -1, nf_attr = -1;
	fmt_attr_get_i64(file, "num_clips", &nc_attr, NULL);
	fmt_attr_get_i64(file, "num_frames", &nf_attr, NULL);

	size_t n = fmt_reader_clip_count(r);
	H5G_info_t gi = {0};
	if (H5Gget_info_by_name(file, "clips", &gi, H5P_DEFAULT) < 0)
		problem(v, "%s: /clips is missing", name);
	else if (gi.nlinks != n)
		problem(v, "%s: /clips holds %llu clips, /index %zu", name,
			(unsigned long long)gi.nlinks, n);
	if (nc_attr != (int64_t)n)
		problem(v, "%s: num_clips says %lld, /index holds %zu", name, (long long)nc_attr, n);

	uint64_t nf = 0;
	for (size_t i = 0; i < n; i++) {
		const char *id = fmt_reader_clip_id(r, i);
		const fmt_index_row *row = fmt_reader_index_row(r, i);
		fmt_clip_data c;
		if (fmt_reader_clip(r, i, &c, &e)) {
			problem(v, "%s: %s", name, e.msg);
			continue;
		}
		nf += (uint64_t)c.T;
		if (row->num_frames != c.T || row->width != c.W || row->height != c.H)
			problem(v, "%s: clip %s is %dx%dx%d, its /index row says %dx%dx%d", name, id,
				c.T, c.H, c.W, row->num_frames, row->height, row->width);
		check_clip_attrs(v, name, file, id, c.T, c.H, c.W);
		if (strcmp(row->split, c.split))
			problem(v, "%s: clip %s split %s, /index says %s", name, id, c.split, row->split);
		for (int t = 0; t < c.T; t++) {
			const double *m = c.w2c + 16 * t;
			if (m[12] != 0 || m[13] != 0 || m[14] != 0 || m[15] != 1) {
				problem(v, "%s: clip %s frame %d: w2c last row is not 0 0 0 1", name, id, t);
				break;
			}
		}
		for (int t = 1; t < c.T; t++) {
			if (c.time_us[t] < c.time_us[t - 1]) {
				problem(v, "%s: clip %s: timestamps go back at frame %d", name, id, t);
				break;
			}
		}
		if (read_frames) {
			size_t fb = (size_t)c.H * (size_t)c.W * 3;
			if (fb > buf_cap) {
				free(buf);
				buf = malloc(fb);
				buf_cap = buf ? fb : 0;
			}
			for (int t = 0; buf && t < c.T; t++) {
				if (fmt_reader_frames(r, i, t, 1, buf, &e)) {
					problem(v, "%s: %s", name, e.msg);
					break;
				}
			}
			if (!buf)
				problem(v, "%s: no memory for a frame", name);
			if (row->has_depth != c.has_depth)
				problem(v, "%s: clip %s has_depth %d, /index says %d", name, id,
					c.has_depth, row->has_depth);
			float *dep = c.has_depth ? malloc((size_t)c.H * (size_t)c.W * sizeof(float))
						 : NULL;
			for (int t = 0; dep && t < c.T; t++) {
				if (fmt_reader_depth(r, i, t, 1, dep, &e)) {
					problem(v, "%s: %s", name, e.msg);
					break;
				}
			}
			free(dep);
		}
		fmt_clip_data_free(&c);
	}
	if (nf_attr != (int64_t)nf)
		problem(v, "%s: num_frames says %lld, the clips hold %llu", name, (long long)nf_attr,
			(unsigned long long)nf);
	check_masks(v, name, r, file);
	*clips = n;
	*frames = nf;
	if (read_frames)
		check_refs(v, r, name);
	if (v->problems == bad_before)
		fprintf(v->f, "ok   %s: %zu clips, %llu frames%s\n", name, n, (unsigned long long)nf,
			read_frames ? ", every chunk decoded and its checksum checked" : "");
	free(buf);
	fmt_reader_close(r);
}

/* n fixed-length strings of dataset p under g into out (n x 256), "" where absent. */
static int read_strings(hid_t g, const char *p, char (*out)[256], int n)
{
	if (H5Lexists(g, p, H5P_DEFAULT) <= 0)
		return -1;
	hid_t ds = H5Dopen2(g, p, H5P_DEFAULT), t = ds >= 0 ? H5Dget_type(ds) : -1;
	size_t w = t >= 0 ? H5Tget_size(t) : 0;
	char *buf = w ? calloc((size_t)n, w) : NULL;
	int rc = -1;
	if (buf && (n == 0 || H5Dread(ds, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0)) {
		for (int i = 0; i < n; i++)
			snprintf(out[i], 256, "%.*s", (int)(w < 255 ? w : 255), buf + w * i);
		rc = 0;
	}
	free(buf);
	if (t >= 0)
		H5Tclose(t);
	if (ds >= 0)
		H5Dclose(ds);
	return rc;
}

static int name_in(const char *list, const char *name)
{
	size_t n = strlen(name);
	for (const char *p = list; n && *p;) {
		size_t len = strcspn(p, ",");
		if (len == n && !strncasecmp(p, name, n))
			return 1;
		p += len + (p[len] == ',');
	}
	return 0;
}

/* The reference rules (docs/shard-format.md): a clip's references come from its own split;
 * with held-out districts, no clip of one is outside test and no reference of one goes to a
 * clip outside test. */
static void check_refs(vctx *v, fmt_reader *r, const char *name)
{
	hid_t file = fmt_reader_h5file(r);
	for (size_t c = 0; c < fmt_reader_clip_count(r); c++) {
		const char *id = fmt_reader_clip_id(r, c);
		char p[FMT_ID_MAX + 32], split[16] = "", dist[256] = "", hold[4096] = "";
		snprintf(p, sizeof(p), "clips/%s", id);
		hid_t g = H5Gopen2(file, p, H5P_DEFAULT);
		if (g < 0)
			continue;
		fmt_attr_get_str(g, "split", split, sizeof(split), NULL);
		fmt_attr_get_str(g, "district", dist, sizeof(dist), NULL);
		if (H5Aexists(g, "holdout_districts") > 0)
			fmt_attr_get_str(g, "holdout_districts", hold, sizeof(hold), NULL);
		int32_t in_hold = 0;
		if (H5Aexists(g, "in_holdout") > 0) {
			hid_t a = H5Aopen(g, "in_holdout", H5P_DEFAULT);
			if (a >= 0 && H5Aread(a, H5T_NATIVE_INT32, &in_hold) < 0)
				in_hold = 0;
			if (a >= 0)
				H5Aclose(a);
		}
		if (((*hold && name_in(hold, dist)) || in_hold) && strcmp(split, "test"))
			problem(v, "%s: clip %s lies in held-out district %s but is %s", name, id,
				*dist ? dist : "(polygon)", split);
		if (H5Lexists(g, "refs", H5P_DEFAULT) > 0 &&
		    H5Lexists(g, "refs/split", H5P_DEFAULT) > 0) {
			hid_t ds = H5Dopen2(g, "refs/split", H5P_DEFAULT);
			hid_t sp = ds >= 0 ? H5Dget_space(ds) : -1;
			int n = sp >= 0 ? (int)H5Sget_simple_extent_npoints(sp) : 0;
			if (sp >= 0)
				H5Sclose(sp);
			if (ds >= 0)
				H5Dclose(ds);
			char(*rs)[256] = calloc(n > 0 ? (size_t)n : 1, 256);
			char(*rd)[256] = calloc(n > 0 ? (size_t)n : 1, 256);
			if (rs && rd && !read_strings(g, "refs/split", rs, n)) {
				int have_d = !read_strings(g, "refs/district", rd, n);
				int32_t *rh = calloc(n > 0 ? (size_t)n : 1, sizeof(int32_t));
				hid_t hd = H5Lexists(g, "refs/in_holdout", H5P_DEFAULT) > 0
						   ? H5Dopen2(g, "refs/in_holdout", H5P_DEFAULT)
						   : H5I_INVALID_HID;
				if (rh && hd >= 0 && n > 0 &&
				    H5Dread(hd, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, rh) < 0)
					memset(rh, 0, (size_t)n * sizeof(int32_t));
				if (hd >= 0)
					H5Dclose(hd);
				for (int i = 0; rh && i < n; i++)
					if (rh[i] && strcmp(split, "test"))
						problem(v, "%s: clip %s (%s) has reference %d from the holdout",
							name, id, split, i);
				free(rh);
				for (int i = 0; i < n; i++) {
					if (strcmp(rs[i], split))
						problem(v, "%s: clip %s (%s) has reference %d from the %s "
							   "split", name, id, split, i, rs[i]);
					if (have_d && *hold && name_in(hold, rd[i]) && strcmp(split, "test"))
						problem(v, "%s: clip %s (%s) has reference %d from held-out "
							   "district %s", name, id, split, i, rd[i]);
				}
			}
			free(rs);
			free(rd);
		}
		H5Gclose(g);
	}
}

int fmt_dataset_verify(const char *dir, void *file, svt_err *err)
{
	vctx v = {.f = file ? file : stdout};
	char path[4096];
	json_t *m = NULL;
	char **disk = NULL;
	size_t ndisk = 0, capdisk = 0;
	if (!dir)
		return svt_err_set(err, SVT_E_INPUT, "fmt_dataset_verify: NULL directory");
	DIR *d = opendir(dir);
	if (!d)
		return svt_err_set(err, SVT_E_IO, "cannot open directory %s", dir);
	struct dirent *de;
	while ((de = readdir(d))) {
		if (ends_with(de->d_name, ".tmp")) {
			problem(&v, "%s: left over by an interrupted write (not part of the dataset)",
				de->d_name);
		} else if (svt_trash_is_name(de->d_name)) {
			/* Not the dataset's, and no fault of it: what a killed build was freeing. */
			uint64_t b = 0;
			char tp[4200];
			snprintf(tp, sizeof(tp), "%s/%s", dir, de->d_name);
			int known = svt_trash_left(tp, &b) == 0;
			double x = (double)b;
			const char *unit = x >= 1e9 ? "GB" : x >= 1e6 ? "MB" : "kB";
			x /= x >= 1e9 ? 1e9 : x >= 1e6 ? 1e6 : 1e3;
			fprintf(v.f, "note %s: %s%.1f %s a killed build was freeing (the shards and twin "
				"it replaced); the next build of %s removes it, or remove the folder\n",
				de->d_name, known ? "" : "at least ", x, unit, dir);
		} else if (ends_with(de->d_name, ".h5") && strcmp(de->d_name, "master.h5")) {
			if (ndisk == capdisk) {
				capdisk = capdisk ? 2 * capdisk : 16;
				char **p = realloc(disk, capdisk * sizeof(char *));
				if (!p)
					break;
				disk = p;
			}
			disk[ndisk++] = strdup(de->d_name);
		}
	}
	closedir(d);

	json_error_t je;
	uint64_t tot_frames = 0;
	size_t tot_clips = 0;
	if (svt_path_join(path, sizeof(path), dir, "manifest.json", NULL) ||
	    !(m = json_load_file(path, 0, &je))) {
		problem(&v, "manifest.json: missing or unreadable (an unfinished build?)");
	} else {
		const char *schema = json_string_value(json_object_get(m, "schema"));
		if (!schema || strcmp(schema, FMT_SCHEMA_NAME) ||
		    json_integer_value(json_object_get(m, "schema_version")) != FMT_SCHEMA_VERSION)
			problem(&v, "manifest.json: not a %s v%d manifest", FMT_SCHEMA_NAME,
				FMT_SCHEMA_VERSION);
		if (!json_is_true(json_object_get(m, "complete")))
			problem(&v, "manifest.json: not marked complete");
		json_t *arr = json_object_get(m, "shards"), *s;
		size_t i;
		if (!json_is_array(arr))
			problem(&v, "manifest.json: no shard list");
		json_array_foreach(arr, i, s)
		{
			const char *fn = json_string_value(json_object_get(s, "file"));
			const char *sha = json_string_value(json_object_get(s, "sha256"));
			/* A merged cluster build lists its ranks' shards as rank-<r>/NAME.h5: a
			 * relative path inside DIR (svt_path_is_contained) is allowed. */
			if (!fn || !svt_path_is_contained(fn) || !sha) {
				problem(&v, "manifest.json: shard %zu has no valid file name or hash", i);
				continue;
			}
			for (size_t k = 0; k < ndisk; k++)
				if (disk[k] && !strcmp(disk[k], fn)) {
					free(disk[k]);
					disk[k] = NULL;
				}
			svt_path_join(path, sizeof(path), dir, fn, NULL);
			struct stat st;
			if (stat(path, &st) != 0) {
				problem(&v, "%s: listed in the manifest but missing", fn);
				continue;
			}
			json_int_t bytes = json_integer_value(json_object_get(s, "bytes"));
			if ((json_int_t)st.st_size != bytes) {
				problem(&v, "%s: %lld bytes, the manifest says %lld", fn,
					(long long)st.st_size, (long long)bytes);
				continue;
			}
			char hex[65];
			svt_err e = {0};
			if (fmt_file_sha256(path, hex, NULL, &e)) {
				problem(&v, "%s: %s", fn, e.msg);
				continue;
			}
			if (strcmp(hex, sha))
				problem(&v, "%s: sha256 %s, the manifest says %s (changed after it was "
					    "written; the checks below say where)",
					fn, hex, sha);
			size_t nc;
			uint64_t nf;
			check_file(&v, path, fn, 1, &nc, &nf);
			if ((json_int_t)nc != json_integer_value(json_object_get(s, "clips")) ||
			    (json_int_t)nf != json_integer_value(json_object_get(s, "frames")))
				problem(&v, "%s: %zu clips %llu frames, the manifest says %lld and %lld",
					fn, nc, (unsigned long long)nf,
					(long long)json_integer_value(json_object_get(s, "clips")),
					(long long)json_integer_value(json_object_get(s, "frames")));
			tot_clips += nc;
			tot_frames += nf;
		}
		json_int_t m_clips = json_integer_value(json_object_get(m, "total_clips")),
			   m_frames = json_integer_value(json_object_get(m, "total_frames"));
		if ((json_int_t)tot_clips != m_clips || (json_int_t)tot_frames != m_frames)
			problem(&v, "manifest.json: totals %lld clips %lld frames, the shards hold %zu "
				    "and %llu",
				(long long)m_clips, (long long)m_frames, tot_clips,
				(unsigned long long)tot_frames);
		const char *master = json_string_value(json_object_get(m, "master"));
		if (master) {
			svt_path_join(path, sizeof(path), dir, master, NULL);
			size_t nc;
			uint64_t nf;
			size_t before = v.problems;
			/* Frames were decoded shard by shard; here each link must resolve. */
			check_file(&v, path, master, 0, &nc, &nf);
			if (v.problems == before &&
			    ((json_int_t)nc != m_clips || (json_int_t)nf != m_frames))
				problem(&v, "%s: %zu clips %llu frames, the manifest says %lld and %lld",
					master, nc, (unsigned long long)nf, (long long)m_clips,
					(long long)m_frames);
		}
	}
	for (size_t k = 0; k < ndisk; k++) {
		if (disk[k])
			problem(&v, "%s: a shard the manifest does not list", disk[k]);
		free(disk[k]);
	}
	free(disk);
	json_decref(m);
	fmt_config *rec = NULL;
	if (!fmt_config_read(dir, &rec, NULL)) {
		char *json = NULL;
		if (!fmt_config_to_json(rec, &json, NULL))
			check_config(&v, "build-config.json", json);
		free(json);
	}
	fmt_config_destroy(rec);
	free(v.config);
	if (v.problems) {
		fprintf(v.f, "%s: %zu problem%s\n", dir, v.problems, v.problems == 1 ? "" : "s");
		return svt_err_set(err, SVT_E_FORMAT, "%s: %zu problem%s found", dir, v.problems,
				   v.problems == 1 ? "" : "s");
	}
	fprintf(v.f, "%s: ok, %zu clips, %llu frames\n", dir, tot_clips,
		(unsigned long long)tot_frames);
	return SVT_OK;
}
