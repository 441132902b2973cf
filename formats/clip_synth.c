/* clip_synth.c: what a densified clip adds to its group (docs/shard-format.md "Densified
 * clips"): per frame its kind, source keyframes, blend weight and validity mask; the
 * keyframes' times; the layout and the camera action as attributes. */
#include <stdlib.h>
#include <string.h>

#include "formats/fmt_internal.h"

int fmt_clip_synth_check(const fmt_clip_desc *c, svt_err *err)
{
	if (c->camera_action && !*c->camera_action)
		return svt_err_set(err, SVT_E_INPUT, "clip %s: empty camera_action", c->id);
	if (!c->densify)
		return SVT_OK;
	if (strcmp(c->densify, "warp") && strcmp(c->densify, "freeze") &&
	    strcmp(c->densify, "imported"))
		return svt_err_set(err, SVT_E_INPUT, "clip %s: densify '%s'", c->id, c->densify);
	if (!c->frame_kind || !c->frame_src || !c->frame_blend || c->num_keyframes < 1 ||
	    !c->key_time_us)
		return svt_err_set(err, SVT_E_INPUT, "clip %s: a densified clip needs frame_kind, "
				   "frame_src, frame_blend and its keyframes", c->id);
	for (int t = 0; t < c->T; t++) {
		if (c->frame_kind[t] > FMT_FRAME_MODEL)
			return svt_err_set(err, SVT_E_INPUT, "clip %s: frame %d: kind %d", c->id, t,
					   c->frame_kind[t]);
		for (int s = 0; s < 2; s++)
			if (c->frame_src[2 * t + s] < 0 || c->frame_src[2 * t + s] >= c->num_keyframes)
				return svt_err_set(err, SVT_E_INPUT, "clip %s: frame %d: source keyframe "
						   "%d of %d", c->id, t, c->frame_src[2 * t + s],
						   c->num_keyframes);
		if (!(c->frame_blend[t] >= 0.0f && c->frame_blend[t] <= 1.0f))
			return svt_err_set(err, SVT_E_INPUT, "clip %s: frame %d: blend %g", c->id, t,
					   (double)c->frame_blend[t]);
	}
	return SVT_OK;
}

/* The mask: one deflated chunk per frame (mostly ones: a few hundred bytes a frame). */
int fmt_clip_valid_write(hid_t g, const uint8_t *valid, int T, int H, int W, int fletcher,
			 svt_err *err)
{
	int rc = SVT_OK;
	hsize_t d[3] = {(hsize_t)T, (hsize_t)H, (hsize_t)W}, ch[3] = {1, d[1], d[2]};
	hid_t sp = H5Screate_simple(3, d, NULL), dcpl = H5Pcreate(H5P_DATASET_CREATE);
	hid_t ds = H5I_INVALID_HID;
	if (sp < 0 || dcpl < 0 || H5Pset_chunk(dcpl, 3, ch) < 0 || H5Pset_deflate(dcpl, 4) < 0 ||
	    (fletcher && H5Pset_fletcher32(dcpl) < 0)) {
		rc = svt_err_set(err, SVT_E_IO, "valid: cannot set up the dataset");
		goto cleanup;
	}
	ds = H5Dcreate2(g, "valid", H5T_NATIVE_UINT8, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
	if (ds < 0 || H5Dwrite(ds, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, valid) < 0 ||
	    fmt_attr_put_str(ds, "meaning", "1 = pixel seen by a source frame, 0 = invalid", err))
		rc = svt_err_set(err, SVT_E_IO, "cannot write the validity mask");
cleanup:
	if (ds >= 0)
		H5Dclose(ds);
	if (dcpl >= 0)
		H5Pclose(dcpl);
	if (sp >= 0)
		H5Sclose(sp);
	return rc;
}

int fmt_clip_synth_write(hid_t g, const fmt_clip_desc *c, int fletcher, svt_err *err)
{
	int rc = SVT_OK;
	if (c->camera_action &&
	    (rc = fmt_attr_put_str(g, "camera_action", c->camera_action, err)))
		return rc;
	if (!c->densify)
		return SVT_OK;
	hsize_t d1[1] = {(hsize_t)c->T}, d2[2] = {(hsize_t)c->T, 2};
	hsize_t dk[1] = {(hsize_t)c->num_keyframes};
	if ((rc = fmt_attr_put_str(g, "densify", c->densify, err)) ||
	    (rc = fmt_attr_put_i32(g, "num_keyframes", c->num_keyframes, err)) ||
	    (rc = fmt_attr_put_i32(g, "latent_stride", c->latent_stride, err)) ||
	    (rc = fmt_ds_put(g, "frame_kind", H5T_NATIVE_UINT8, 1, d1, c->frame_kind, fletcher,
			     err)) ||
	    (rc = fmt_ds_put(g, "frame_src", H5T_NATIVE_INT32, 2, d2, c->frame_src, fletcher,
			     err)) ||
	    (rc = fmt_ds_put(g, "frame_blend", H5T_NATIVE_FLOAT, 1, d1, c->frame_blend, fletcher,
			     err)) ||
	    (rc = fmt_ds_put(g, "key_timestamps", H5T_NATIVE_INT64, 1, dk, c->key_time_us,
			     fletcher, err)))
		return rc;
	return rc;
}

/* ---- verify -------------------------------------------------------------------------------- */

static const char *const ACTION_SENTENCES[] = {
	"The camera moves straight ahead.", "The camera turns left.", "The camera turns right.",
	"The camera is stopped."};

static int words_after_sentence(const char *s, int *has_sentence)
{
	*has_sentence = 0;
	for (size_t i = 0; i < sizeof(ACTION_SENTENCES) / sizeof(*ACTION_SENTENCES); i++) {
		size_t n = strlen(ACTION_SENTENCES[i]);
		if (!strncmp(s, ACTION_SENTENCES[i], n)) {
			*has_sentence = 1;
			s += n;
			break;
		}
	}
	int w = 0, in = 0;
	for (; *s; s++) {
		int sp = *s == ' ' || *s == '\n' || *s == '\t';
		w += !sp && !in;
		in = !sp;
	}
	return w;
}

typedef struct vcap {
	int32_t s, e;
	char *lng, *shrt;
} vcap;

/* Imported captions (a caption_short field): each window's long caption within 280 words and
 * its short one within 30, after the action sentence both must start with. */
static int captions_verify(hid_t g, char *msg, size_t cap)
{
	if (H5Lexists(g, "captions", H5P_DEFAULT) <= 0)
		return 0;
	hid_t ds = H5Dopen2(g, "captions", H5P_DEFAULT), ft = ds >= 0 ? H5Dget_type(ds) : -1;
	int bad = 0;
	if (ft < 0 || H5Tget_class(ft) != H5T_COMPOUND || H5Tget_member_index(ft, "caption_short") < 0)
		goto cleanup;
	hid_t vs = H5Tcopy(H5T_C_S1), mt = H5Tcreate(H5T_COMPOUND, sizeof(vcap));
	H5Tset_size(vs, H5T_VARIABLE);
	H5Tset_cset(vs, H5T_CSET_UTF8);
	H5Tinsert(mt, "start_frame", HOFFSET(vcap, s), H5T_NATIVE_INT32);
	H5Tinsert(mt, "end_frame", HOFFSET(vcap, e), H5T_NATIVE_INT32);
	H5Tinsert(mt, "caption", HOFFSET(vcap, lng), vs);
	H5Tinsert(mt, "caption_short", HOFFSET(vcap, shrt), vs);
	hid_t sp = H5Dget_space(ds);
	hssize_t n = H5Sget_simple_extent_npoints(sp);
	vcap *c = n > 0 ? calloc((size_t)n, sizeof(*c)) : NULL;
	if (n > 0 && (!c || H5Dread(ds, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, c) < 0)) {
		snprintf(msg, cap, "captions unreadable");
		bad = 1;
	}
	for (hssize_t i = 0; !bad && c && i < n; i++) {
		int hl, hs;
		int wl = words_after_sentence(c[i].lng ? c[i].lng : "", &hl);
		int ws = words_after_sentence(c[i].shrt ? c[i].shrt : "", &hs);
		if (!hl || !hs || wl < 1 || ws < 1 || wl > 280 || ws > 30) {
			snprintf(msg, cap, "caption window %lld: %s (long %d words, short %d)",
				 (long long)i, !hl || !hs ? "no camera-action sentence first"
							  : "empty or over 280 / 30 words", wl, ws);
			bad = 1;
		}
	}
	if (c && n > 0)
		H5Dvlen_reclaim(mt, sp, H5P_DEFAULT, c);
	free(c);
	H5Sclose(sp);
	H5Tclose(mt);
	H5Tclose(vs);
cleanup:
	if (ft >= 0)
		H5Tclose(ft);
	if (ds >= 0)
		H5Dclose(ds);
	return bad;
}

static hssize_t ds_points(hid_t g, const char *name, int *rank, hsize_t d[3])
{
	if (H5Lexists(g, name, H5P_DEFAULT) <= 0)
		return -1;
	hid_t ds = H5Dopen2(g, name, H5P_DEFAULT), sp = H5Dget_space(ds);
	*rank = H5Sget_simple_extent_ndims(sp);
	if (*rank >= 1 && *rank <= 3)
		H5Sget_simple_extent_dims(sp, d, NULL);
	hssize_t n = H5Sget_simple_extent_npoints(sp);
	H5Sclose(sp);
	H5Dclose(ds);
	return n;
}

int fmt_clip_synth_verify(hid_t g, int T, int H, int W, char *msg, size_t cap)
{
	if (captions_verify(g, msg, cap))
		return 1;
	if (H5Aexists(g, "densify") <= 0)
		return 0;
	int64_t K = 0;
	int rank = 0;
	hsize_t d[3] = {0};
	if (fmt_attr_get_i64(g, "num_keyframes", &K, NULL) || K < 1) {
		snprintf(msg, cap, "densified clip without num_keyframes");
		return 1;
	}
	if (ds_points(g, "frame_kind", &rank, d) != T || ds_points(g, "frame_blend", &rank, d) != T ||
	    ds_points(g, "frame_src", &rank, d) != 2 * (hssize_t)T ||
	    ds_points(g, "key_timestamps", &rank, d) != K) {
		snprintf(msg, cap, "frame_kind, frame_blend, frame_src or key_timestamps does not "
			 "match %d frames and %lld keyframes", T, (long long)K);
		return 1;
	}
	hssize_t nv = ds_points(g, "valid", &rank, d);
	if (nv >= 0 && (rank != 3 || d[0] != (hsize_t)T || d[1] != (hsize_t)H ||
			d[2] != (hsize_t)W)) {
		snprintf(msg, cap, "valid is not %d x %d x %d", T, H, W);
		return 1;
	}
	uint8_t *kind = malloc((size_t)T);
	int32_t *src = malloc(2 * (size_t)T * sizeof(int32_t));
	int bad = !kind || !src;
	hid_t a = H5Dopen2(g, "frame_kind", H5P_DEFAULT), b = H5Dopen2(g, "frame_src", H5P_DEFAULT);
	if (!bad && (H5Dread(a, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, kind) < 0 ||
		     H5Dread(b, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, src) < 0))
		bad = 1;
	for (int t = 0; !bad && t < T; t++)
		if (kind[t] > FMT_FRAME_MODEL || src[2 * t] < 0 || src[2 * t + 1] < src[2 * t] ||
		    src[2 * t + 1] >= K) {
			snprintf(msg, cap, "frame %d: kind %d, sources %d %d of %lld keyframes", t,
				 kind[t], src[2 * t], src[2 * t + 1], (long long)K);
			bad = 1;
		}
	if (bad && !msg[0])
		snprintf(msg, cap, "frame_kind or frame_src unreadable");
	H5Dclose(a);
	H5Dclose(b);
	free(kind);
	free(src);
	return bad;
}
