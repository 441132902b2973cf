/* clip_synth.c: what a densified clip adds to its group (docs/shard-format.md "Densified
 * clips"): per frame its kind, source keyframes, blend weight and validity mask; the
 * keyframes' times; the layout and the camera action as attributes. */
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
