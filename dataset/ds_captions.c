/* ds_captions.c: captions written by a vision-language model put into a built dataset
 * (dataset_captions_import): each window's camera action, from the clip's own poses
 * (ds_camera_action), is prepended to its long and short caption as a sentence, and the
 * windows replace the clip's captions in place (fmt_dataset_set_captions). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dataset/ds_internal.h"

/* One window of the file. */
typedef struct vlm_win {
	char *clip;
	int start, end;
	char *lng, *shrt;
} vlm_win;

static int words(const char *s)
{
	int n = 0, in = 0;
	for (; *s; s++) {
		int sp = *s == ' ' || *s == '\n' || *s == '\t';
		n += !sp && !in;
		in = !sp;
	}
	return n;
}

static int read_jsonl(const char *path, vlm_win **out, size_t *n, svt_err *err)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return svt_err_set(err, SVT_E_IO, "%s: cannot open", path);
	char *line = NULL;
	size_t cap = 0, m = 0, capw = 0, lineno = 0;
	vlm_win *w = NULL;
	int rc = SVT_OK;
	while (getline(&line, &cap, f) > 0) {
		lineno++;
		if (strspn(line, " \t\r\n") == strlen(line))
			continue;
		json_error_t je;
		json_t *o = json_loads(line, 0, &je);
		const char *id = json_string_value(json_object_get(o, "clip_id"));
		const char *lg = json_string_value(json_object_get(o, "long"));
		const char *sh = json_string_value(json_object_get(o, "short"));
		json_t *js = json_object_get(o, "start"), *je2 = json_object_get(o, "end");
		if (!o || !id || !lg || !sh || !json_is_integer(js) || !json_is_integer(je2)) {
			rc = svt_err_set(err, SVT_E_FORMAT, "%s:%zu: want {\"clip_id\", \"start\", "
					 "\"end\", \"long\", \"short\"}%s%s", path, lineno,
					 o ? "" : ": ", o ? "" : je.text);
			json_decref(o);
			break;
		}
		/* The paper's limits: long <= 280 words, short <= 30. */
		if (words(lg) > 280 || words(sh) > 30) {
			rc = svt_err_set(err, SVT_E_INPUT, "%s:%zu: captions over 280 (long) or 30 "
					 "(short) words", path, lineno);
			json_decref(o);
			break;
		}
		if (m == capw) {
			capw = capw ? 2 * capw : 64;
			vlm_win *nw = realloc(w, capw * sizeof(*w));
			if (!nw) {
				rc = svt_err_set(err, SVT_E_NOMEM, "captions");
				json_decref(o);
				break;
			}
			w = nw;
		}
		w[m] = (vlm_win){strdup(id), (int)json_integer_value(js),
				 (int)json_integer_value(je2), strdup(lg), strdup(sh)};
		m++;
		json_decref(o);
		if (!w[m - 1].clip || !w[m - 1].lng || !w[m - 1].shrt) {
			rc = svt_err_set(err, SVT_E_NOMEM, "captions");
			break;
		}
	}
	free(line);
	fclose(f);
	*out = w;
	*n = m;
	return rc;
}

int dataset_captions_import(const char *dir, const char *jsonl, size_t *n_windows,
			    svt_err *err)
{
	vlm_win *w = NULL;
	size_t n = 0, nsets = 0;
	fmt_clip_captions *sets = NULL;
	fmt_caption *caps = NULL;
	char **texts = NULL;
	const char **shorts = NULL;
	fmt_reader *r = NULL;
	char mpath[4096];
	int rc = read_jsonl(jsonl, &w, &n, err);
	if (rc)
		goto cleanup;
	if (n == 0) {
		rc = svt_err_set(err, SVT_E_INPUT, "%s: no caption", jsonl);
		goto cleanup;
	}
	sets = calloc(n, sizeof(*sets));
	caps = calloc(n, sizeof(*caps));
	texts = calloc(2 * n, sizeof(char *));
	shorts = calloc(n, sizeof(char *));
	if (!sets || !caps || !texts || !shorts) {
		rc = svt_err_set(err, SVT_E_NOMEM, "captions");
		goto cleanup;
	}
	if ((rc = svt_path_join(mpath, sizeof(mpath), dir, "master.h5", err)) ||
	    (rc = fmt_reader_open(mpath, &r, err)))
		goto cleanup;
	/* Windows grouped by clip, in the file's order. */
	size_t at = 0;
	unsigned char *done = calloc(n, 1);
	if (!done) {
		rc = svt_err_set(err, SVT_E_NOMEM, "captions");
		goto cleanup;
	}
	for (size_t i = 0; !rc && i < n; i++) {
		if (done[i])
			continue;
		size_t k, nc = fmt_reader_clip_count(r);
		for (k = 0; k < nc && strcmp(fmt_reader_clip_id(r, k), w[i].clip); k++)
			;
		if (k == nc) {
			rc = svt_err_set(err, SVT_E_NOTFOUND, "%s: clip %s is not in %s", jsonl,
					 w[i].clip, dir);
			break;
		}
		fmt_clip_data cd;
		if ((rc = fmt_reader_clip(r, k, &cd, err)))
			break;
		fmt_clip_captions *s = &sets[nsets++];
		s->clip_id = w[i].clip;
		s->caps = caps + at;
		s->shorts = shorts + at;
		for (size_t q = i; q < n; q++) {
			if (done[q] || strcmp(w[q].clip, w[i].clip))
				continue;
			done[q] = 1;
			if (w[q].start < 0 || w[q].end < w[q].start || w[q].end >= cd.T) {
				rc = svt_err_set(err, SVT_E_INPUT, "%s: clip %s: window [%d, %d] of %d "
						 "frames", jsonl, w[q].clip, w[q].start, w[q].end, cd.T);
				break;
			}
			const char *sent = ds_action_sentence(
				ds_camera_action(cd.w2c, w[q].start, w[q].end));
			size_t ll = strlen(sent) + strlen(w[q].lng) + 2,
			       sl = strlen(sent) + strlen(w[q].shrt) + 2;
			texts[2 * at] = malloc(ll);
			texts[2 * at + 1] = malloc(sl);
			if (!texts[2 * at] || !texts[2 * at + 1]) {
				rc = svt_err_set(err, SVT_E_NOMEM, "captions");
				break;
			}
			snprintf(texts[2 * at], ll, "%s %s", sent, w[q].lng);
			snprintf(texts[2 * at + 1], sl, "%s %s", sent, w[q].shrt);
			caps[at] = (fmt_caption){w[q].start, w[q].end, texts[2 * at]};
			shorts[at] = texts[2 * at + 1];
			at++;
			s->n++;
		}
		fmt_clip_data_free(&cd);
	}
	free(done);
	fmt_reader_close(r);
	r = NULL;
	if (!rc)
		rc = fmt_dataset_set_captions(dir, sets, nsets, err);
	if (!rc && n_windows)
		*n_windows = n;
cleanup:
	fmt_reader_close(r);
	for (size_t i = 0; i < n; i++) {
		free(w[i].clip);
		free(w[i].lng);
		free(w[i].shrt);
	}
	for (size_t i = 0; texts && i < 2 * n; i++)
		free(texts[i]);
	free(w);
	free(sets);
	free(caps);
	free(texts);
	free(shorts);
	return rc;
}
