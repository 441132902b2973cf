/* config.c: the record of what a dataset was built from, so that a rerun resumes only into a
 * dataset made the same way (docs/shard-format.md, "Build configuration").
 *
 * The record is a jansson object {"version":1, "options":{...}, "capture":{"files","bytes",
 * "digest"}} printed canonically (JSON_SORT_KEYS | JSON_COMPACT), so two records compare by
 * string as well as field by field. */
#include "formats/fmt_internal.h"

#include <jansson.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CONFIG_FILE "build-config.json"
#define CONFIG_VERSION 1

struct fmt_config {
	json_t *root; /* owned */
};

int fmt_config_create(fmt_config **out, svt_err *err)
{
	fmt_config *c = calloc(1, sizeof(*c));
	if (c)
		c->root = json_pack("{s:i, s:{}}", "version", CONFIG_VERSION, "options");
	if (!c || !c->root) {
		fmt_config_destroy(c);
		return svt_err_set(err, SVT_E_NOMEM, "no memory for a build configuration");
	}
	*out = c;
	return SVT_OK;
}

void fmt_config_destroy(fmt_config *c)
{
	if (!c)
		return;
	json_decref(c->root);
	free(c);
}

static int set_opt(fmt_config *c, const char *key, json_t *v, svt_err *err)
{
	if (!c || !key || !key[0]) {
		json_decref(v);
		return svt_err_set(err, SVT_E_INPUT, "fmt_config_set: no key");
	}
	if (!v || json_object_set_new(json_object_get(c->root, "options"), key, v))
		return svt_err_set(err, SVT_E_NOMEM, "no memory for option %s", key);
	return SVT_OK;
}

int fmt_config_set_str(fmt_config *c, const char *key, const char *value, svt_err *err)
{
	return set_opt(c, key, json_string(value ? value : ""), err);
}

int fmt_config_set_int(fmt_config *c, const char *key, int64_t value, svt_err *err)
{
	return set_opt(c, key, json_integer(value), err);
}

int fmt_config_set_real(fmt_config *c, const char *key, double value, svt_err *err)
{
	return set_opt(c, key, json_real(value), err);
}

int fmt_config_get_int(const fmt_config *c, const char *key, int64_t *value)
{
	json_t *v = c && key ? json_object_get(json_object_get(c->root, "options"), key) : NULL;
	if (!json_is_integer(v))
		return 0;
	*value = (int64_t)json_integer_value(v);
	return 1;
}

const char *fmt_config_get_str(const fmt_config *c, const char *key)
{
	return c && key ? json_string_value(json_object_get(json_object_get(c->root, "options"), key))
			: NULL;
}

int fmt_config_get_real(const fmt_config *c, const char *key, double *value)
{
	json_t *v = c && key ? json_object_get(json_object_get(c->root, "options"), key) : NULL;
	if (!json_is_number(v))
		return 0;
	*value = json_number_value(v);
	return 1;
}

typedef struct cap_file {
	const char *name; /* points into the caller's path */
	uint64_t bytes;
	char sha[65];
} cap_file;

static int cmp_cap(const void *a, const void *b)
{
	return strcmp(((const cap_file *)a)->name, ((const cap_file *)b)->name);
}

/* The files' hashes, on several threads: each takes the next file. */
typedef struct hash_files {
	const char *const *paths;
	cap_file *fs;
	size_t n;
	atomic_size_t next;
	int *rc;           /* per file */
	svt_err *err;      /* per file */
} hash_files;

static void *hash_files_main(void *arg)
{
	hash_files *h = arg;
	for (size_t i; (i = atomic_fetch_add(&h->next, 1)) < h->n;)
		h->rc[i] = fmt_file_sha256(h->paths[i], h->fs[i].sha, &h->fs[i].bytes, &h->err[i]);
	return NULL;
}

/* Hashes every file; the first failure in file order. The start-up of a build waits on this
 * (the samples: 124 files, 29 MB, about 35 ms on one core), so the files go side by side. */
static int hash_all(const char *const *paths, cap_file *fs, size_t n, int threads,
		    svt_err *err)
{
	hash_files h = {.paths = paths, .fs = fs, .n = n};
	atomic_init(&h.next, 0);
	h.rc = calloc(n ? n : 1, sizeof(*h.rc));
	h.err = calloc(n ? n : 1, sizeof(*h.err));
	if (!h.rc || !h.err) {
		free(h.rc);
		free(h.err);
		return svt_err_set(err, SVT_E_NOMEM, "no memory for %zu files' hashes", n);
	}
	enum { MAX_HASH_THREADS = 16 }; /* a disk's worth; more only queue on it */
	int nt = threads < 1 ? 1 : threads > MAX_HASH_THREADS ? MAX_HASH_THREADS : threads;
	if ((size_t)nt > n)
		nt = n ? (int)n : 1;
	pthread_t th[MAX_HASH_THREADS];
	int started = 0;
	for (; started + 1 < nt; started++)
		if (pthread_create(&th[started], NULL, hash_files_main, &h) != 0)
			break;
	hash_files_main(&h);
	for (int k = 0; k < started; k++)
		pthread_join(th[k], NULL);
	int rc = SVT_OK;
	for (size_t i = 0; i < n; i++)
		if (h.rc[i]) {
			rc = h.rc[i];
			if (err)
				*err = h.err[i];
			break;
		}
	free(h.rc);
	free(h.err);
	return rc;
}

int fmt_config_set_capture(fmt_config *c, const char *root, const char *const *paths, size_t n,
			   int threads, svt_err *err)
{
	int rc = SVT_OK;
	cap_file *fs = calloc(n ? n : 1, sizeof(*fs));
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	uint64_t total = 0;
	size_t rl = root ? strlen(root) : 0;
	while (rl > 1 && root[rl - 1] == '/')
		rl--;
	if (!c || (n && !paths)) {
		rc = svt_err_set(err, SVT_E_INPUT, "fmt_config_set_capture: NULL argument");
		goto done;
	}
	if (!fs || !md || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
		rc = svt_err_set(err, SVT_E_NOMEM, "no memory for the capture's identity");
		goto done;
	}
	for (size_t i = 0; i < n; i++) {
		const char *p = paths[i];
		/* Names relative to the capture root: a single-file capture keeps its base name. */
		if (rl && !strncmp(p, root, rl) && p[rl] == '/')
			p += rl + 1;
		else if (strrchr(p, '/') && rl && !strcmp(p, root))
			p = strrchr(p, '/') + 1;
		fs[i].name = p;
	}
	if ((rc = hash_all(paths, fs, n, threads, err)))
		goto done;
	for (size_t i = 0; i < n; i++)
		total += fs[i].bytes;
	if (n > 1)
		qsort(fs, n, sizeof(*fs), cmp_cap);
	for (size_t i = 0; i < n; i++) {
		char line[128];
		int k = snprintf(line, sizeof(line), "\t%llu\t%s\n", (unsigned long long)fs[i].bytes,
				 fs[i].sha);
		EVP_DigestUpdate(md, fs[i].name, strlen(fs[i].name));
		EVP_DigestUpdate(md, line, (size_t)k);
	}
	unsigned char d[32];
	unsigned dl = 0;
	char hex[65];
	EVP_DigestFinal_ex(md, d, &dl);
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", d[i]);
	json_t *cap = json_pack("{s:I, s:I, s:s}", "files", (json_int_t)n, "bytes",
				(json_int_t)total, "digest", hex);
	if (!cap || json_object_set_new(c->root, "capture", cap))
		rc = svt_err_set(err, SVT_E_NOMEM, "no memory for the capture's identity");
done:
	EVP_MD_CTX_free(md);
	free(fs);
	return rc;
}

const char *fmt_config_capture_digest(const fmt_config *c)
{
	return c ? json_string_value(json_object_get(json_object_get(c->root, "capture"), "digest"))
		 : NULL;
}

int fmt_config_to_json(const fmt_config *c, char **json, svt_err *err)
{
	if (!c || !json)
		return svt_err_set(err, SVT_E_INPUT, "fmt_config_to_json: NULL argument");
	*json = json_dumps(c->root, JSON_SORT_KEYS | JSON_COMPACT | JSON_REAL_PRECISION(17));
	return *json ? SVT_OK : svt_err_set(err, SVT_E_NOMEM, "no memory for the record's JSON");
}

int fmt_config_from_json(const char *text, fmt_config **out, svt_err *err)
{
	json_error_t je;
	*out = NULL;
	json_t *root = text ? json_loads(text, 0, &je) : NULL;
	if (!root || !json_is_object(root) ||
	    json_integer_value(json_object_get(root, "version")) != CONFIG_VERSION ||
	    !json_is_object(json_object_get(root, "options"))) {
		json_decref(root);
		return svt_err_set(err, SVT_E_FORMAT,
				   "not a build configuration record (version %d)%s%s",
				   CONFIG_VERSION, text && !root ? ": " : "", text && !root ? je.text : "");
	}
	fmt_config *c = calloc(1, sizeof(*c));
	if (!c) {
		json_decref(root);
		return svt_err_set(err, SVT_E_NOMEM, "no memory for a build configuration");
	}
	c->root = root;
	*out = c;
	return SVT_OK;
}

/* A value as the user would write it (strings bare). */
static void show(json_t *v, char *buf, size_t cap)
{
	if (!v)
		snprintf(buf, cap, "(not set)");
	else if (json_is_string(v))
		snprintf(buf, cap, "%s", json_string_value(v));
	else {
		char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT | JSON_REAL_PRECISION(10));
		snprintf(buf, cap, "%s", s ? s : "?");
		free(s);
	}
}

static void show_capture(json_t *cap, char *buf, size_t cap_n)
{
	if (!cap) {
		snprintf(buf, cap_n, "(not recorded)");
		return;
	}
	const char *d = json_string_value(json_object_get(cap, "digest"));
	snprintf(buf, cap_n, "%lld files, %.1f MB, sha256 %.12s",
		 (long long)json_integer_value(json_object_get(cap, "files")),
		 (double)json_integer_value(json_object_get(cap, "bytes")) / 1e6, d ? d : "?");
}

int fmt_config_compare(const fmt_config *was, const fmt_config *now, char *msg, size_t cap)
{
	size_t off = 0;
	int differ = 0;
	if (msg && cap)
		msg[0] = 0;
#define ADD(...)                                                                             \
	do {                                                                                 \
		if (msg && off < cap) {                                                      \
			int k_ = snprintf(msg + off, cap - off, __VA_ARGS__);                \
			off += k_ > 0 ? (size_t)k_ : 0;                                      \
		}                                                                            \
	} while (0)
	if (!was || !now)
		return was != now;
	json_t *ow = json_object_get(was->root, "options"), *on = json_object_get(now->root, "options");
	const char *key;
	json_t *v;
	char a[128], b[128];
	/* every key of either record, each once */
	json_object_foreach(ow, key, v) {
		json_t *n2 = json_object_get(on, key);
		if (!n2 || !json_equal(v, n2)) {
			show(v, a, sizeof(a));
			show(n2, b, sizeof(b));
			ADD("%s%s: %s before, %s now", differ++ ? "; " : "", key, a, b);
		}
	}
	json_object_foreach(on, key, v) {
		if (!json_object_get(ow, key)) {
			show(v, b, sizeof(b));
			ADD("%s%s: (not set) before, %s now", differ++ ? "; " : "", key, b);
		}
	}
	json_t *cw = json_object_get(was->root, "capture"), *cn = json_object_get(now->root, "capture");
	if ((cw || cn) && !(cw && cn && json_equal(cw, cn))) {
		show_capture(cw, a, sizeof(a));
		show_capture(cn, b, sizeof(b));
		ADD("%scapture: %s before, %s now", differ++ ? "; " : "", a, b);
	}
	if (differ)
		ADD(". The output was built from something else: rerun with --fresh to rebuild it "
		    "from this capture and these options, or write to another output directory");
#undef ADD
	return differ ? 1 : 0;
}

int fmt_config_write(const fmt_config *c, const char *dir, svt_err *err)
{
	char path[4096], *json = NULL;
	int rc = svt_path_join(path, sizeof(path), dir, CONFIG_FILE, err);
	if (!rc)
		rc = fmt_config_to_json(c, &json, err);
	if (!rc)
		rc = svt_file_write_atomic(path, json, strlen(json), err);
	free(json);
	return rc;
}

int fmt_config_read(const char *dir, fmt_config **out, svt_err *err)
{
	char path[4096];
	uint8_t *buf = NULL;
	size_t n = 0;
	*out = NULL;
	int rc = svt_path_join(path, sizeof(path), dir, CONFIG_FILE, err);
	if (rc)
		return rc;
	if (access(path, F_OK) != 0)
		return svt_err_set(err, SVT_E_NOTFOUND, "%s has no %s", dir, CONFIG_FILE);
	if ((rc = svt_file_read(path, 1 << 20, &buf, &n, err)))
		return rc;
	char *text = malloc(n + 1);
	if (!text) {
		free(buf);
		return svt_err_set(err, SVT_E_NOMEM, "no memory");
	}
	memcpy(text, buf, n);
	text[n] = 0;
	free(buf);
	rc = fmt_config_from_json(text, out, err);
	free(text);
	if (rc)
		return svt_err_prefix(err, "%s", path);
	return SVT_OK;
}
