/* reader.c: reading shards and master files (docs/shard-format.md), and `svtwin inspect`.
 *
 * Every read goes through HDF5's filter pipeline, so Fletcher32 is checked on each chunk (error
 * detection is on by default) and a corrupt chunk comes back as an error, never as pixels.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "formats/fmt_internal.h"

struct fmt_reader {
	hid_t file;
	char path[4096];
	int master;
	fmt_index_row *rows;
	size_t n;
	/* the frames dataset of the last clip read, kept open for sequential reads */
	hid_t frames;
	size_t frames_clip;
};

static int check_filters(hid_t ds, const char *what, svt_err *err)
{
	hid_t dcpl = H5Dget_create_plist(ds);
	if (dcpl < 0)
		return svt_err_set(err, SVT_E_HDF5, "%s: no creation properties", what);
	int rc = SVT_OK, nf = H5Pget_nfilters(dcpl);
	for (int i = 0; i < nf && !rc; i++) {
		unsigned flags = 0, cd[16];
		size_t ncd = 16;
		char name[128] = "";
		H5Z_filter_t id = H5Pget_filter2(dcpl, (unsigned)i, &flags, &ncd, cd, sizeof(name),
						 name, NULL);
		if (id < 0 || H5Zfilter_avail(id) <= 0)
			rc = svt_err_set(err, SVT_E_UNSUPPORTED,
					 "%s needs HDF5 filter %d (%s) which is not available: install "
					 "its plugin (Debian hdf5-filter-plugin%s) or set "
					 "HDF5_PLUGIN_PATH",
					 what, (int)id, name[0] ? name : "unknown",
					 id == FMT_FILTER_BLOSC ? "-blosc-serial" : "");
	}
	H5Pclose(dcpl);
	return rc;
}

int fmt_reader_open(const char *path, fmt_reader **out, svt_err *err)
{
	int rc = SVT_OK;
	if (!path || !out)
		return svt_err_set(err, SVT_E_INPUT, "fmt_reader_open: NULL argument");
	*out = NULL;
	fmt_h5_quiet();
	fmt_reader *r = calloc(1, sizeof(*r));
	if (!r)
		return svt_err_set(err, SVT_E_NOMEM, "reader");
	r->frames = H5I_INVALID_HID;
	snprintf(r->path, sizeof(r->path), "%s", path);
	/* A clear message for a file that is missing or unreadable (the system's reason), or not
	 * HDF5 at all (HDF5 1.10 has no H5Fis_accessible). */
	if (access(path, R_OK) != 0) {
		r->file = H5I_INVALID_HID;
		rc = svt_err_set(err, errno == ENOENT ? SVT_E_NOTFOUND : SVT_E_IO, "%s: %s", path,
				 strerror(errno));
		goto done;
	}
	if (H5Fis_hdf5(path) <= 0) {
		r->file = H5I_INVALID_HID;
		rc = svt_err_set(err, SVT_E_FORMAT, "%s is not a readable HDF5 file", path);
		goto done;
	}
	hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
	/* STRONG: closing the reader closes everything it opened, external links included. */
	H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG);
	r->file = H5Fopen(path, H5F_ACC_RDONLY, fapl);
	H5Pclose(fapl);
	if (r->file < 0) {
		rc = svt_err_set(err, SVT_E_FORMAT, "%s: cannot open as HDF5 (truncated or corrupt?)",
				 path);
		goto done;
	}
	char s[128], kind[32];
	int64_t ver = 0;
	if ((rc = fmt_attr_get_str(r->file, "schema", s, sizeof(s), err)) ||
	    (rc = fmt_attr_get_i64(r->file, "schema_version", &ver, err)) ||
	    (rc = fmt_attr_get_str(r->file, "kind", kind, sizeof(kind), err))) {
		svt_err_prefix(err, "%s is not an svtwin shard", path);
		goto done;
	}
	if (strcmp(s, FMT_SCHEMA_NAME) || ver != FMT_SCHEMA_VERSION) {
		rc = svt_err_set(err, SVT_E_FORMAT, "%s: schema %s v%lld, this reader knows %s v%d",
				 path, s, (long long)ver, FMT_SCHEMA_NAME, FMT_SCHEMA_VERSION);
		goto done;
	}
	r->master = !strcmp(kind, "master");
	if ((rc = fmt_index_read(r->file, &r->rows, &r->n, err))) {
		svt_err_prefix(err, "%s", path);
		goto done;
	}
	/* The filters the frames need must exist here, checked now rather than at the first
	 * read. One clip tells: every clip of a file shares the codec. */
	if (r->n > 0) {
		char p[FMT_ID_MAX + 16];
		snprintf(p, sizeof(p), "clips/%s/frames", r->rows[0].clip_id);
		/* JPEG frames (codec jpeg) need no HDF5 filter: nothing to check. */
		char pj[FMT_ID_MAX + 24];
		snprintf(pj, sizeof(pj), "clips/%s/frames_jpeg", r->rows[0].clip_id);
		int jpeg = H5Lexists(r->file, "clips", H5P_DEFAULT) > 0 &&
			   H5Oexists_by_name(r->file, pj, H5P_DEFAULT) > 0;
		hid_t ds = jpeg ? H5I_INVALID_HID : H5Dopen2(r->file, p, H5P_DEFAULT);
		if (jpeg) {
			/* nothing */
		} else if (ds < 0) {
			rc = svt_err_set(err, SVT_E_FORMAT, "%s: /%s cannot be opened%s", path, p,
					 r->master ? " (is its shard next to the master file?)" : "");
			goto done;
		}
		if (ds >= 0) {
			rc = check_filters(ds, path, err);
			H5Dclose(ds);
		}
		if (rc)
			goto done;
	}
	*out = r;
	r = NULL;
done:
	fmt_reader_close(r);
	return rc;
}

void fmt_reader_close(fmt_reader *r)
{
	if (!r)
		return;
	if (r->frames >= 0)
		H5Dclose(r->frames);
	if (r->file >= 0)
		H5Fclose(r->file);
	free(r->rows);
	free(r);
}

int fmt_reader_info(fmt_reader *r, fmt_shard_info *info, svt_err *err)
{
	if (!r || !info)
		return svt_err_set(err, SVT_E_INPUT, "fmt_reader_info: NULL argument");
	memset(info, 0, sizeof(*info));
	int64_t epsg = 0;
	int rc;
	if ((rc = fmt_attr_get_i64(r->file, "crs_epsg", &epsg, err)) ||
	    (rc = fmt_attr_get_f64v(r->file, "enu_origin_llh", info->enu_origin_llh, 3, err)) ||
	    (rc = fmt_attr_get_f64v(r->file, "enu_origin_proj", info->enu_origin_proj, 3, err)))
		return svt_err_prefix(err, "%s", r->path);
	info->crs_epsg = (int)epsg;
	/* Absent in shards written before the attribute existed: no buffer was recorded. */
	svt_err e2 = {0};
	if (fmt_attr_get_f64v(r->file, "split_buffer_m", &info->split_buffer_m, 1, &e2))
		info->split_buffer_m = 0;
	info->source = NULL; /* read it with fmt_reader_attr_str(r, "source") */
	return SVT_OK;
}

int fmt_reader_attr_str(fmt_reader *r, const char *name, char *buf, size_t cap, svt_err *err)
{
	if (!r || !name || !buf)
		return svt_err_set(err, SVT_E_INPUT, "fmt_reader_attr_str: NULL argument");
	return fmt_attr_get_str(r->file, name, buf, cap, err);
}

int fmt_reader_is_master(const fmt_reader *r)
{
	return r ? r->master : 0;
}

hid_t fmt_reader_h5file(const fmt_reader *r)
{
	return r->file;
}

const fmt_index_row *fmt_reader_index_row(const fmt_reader *r, size_t i)
{
	return i < r->n ? &r->rows[i] : NULL;
}

size_t fmt_reader_clip_count(const fmt_reader *r)
{
	return r ? r->n : 0;
}

const char *fmt_reader_clip_id(const fmt_reader *r, size_t i)
{
	return r && i < r->n ? r->rows[i].clip_id : NULL;
}

int fmt_reader_clip_shard(const fmt_reader *r, size_t i, const char **shard)
{
	if (!r || i >= r->n)
		return SVT_E_INPUT;
	*shard = r->rows[i].shard;
	return SVT_OK;
}

/* Reads dataset name of group g, which must hold rows x cols values, into a new array. */
static int read_arr(hid_t g, const char *name, hid_t mtype, size_t esize, size_t rows,
		    size_t cols, int optional, void **out, svt_err *err)
{
	*out = NULL;
	if (H5Lexists(g, name, H5P_DEFAULT) <= 0)
		return optional ? SVT_OK : svt_err_set(err, SVT_E_FORMAT, "%s is missing", name);
	int rc = SVT_OK;
	hid_t ds = H5Dopen2(g, name, H5P_DEFAULT);
	hid_t sp = ds >= 0 ? H5Dget_space(ds) : H5I_INVALID_HID;
	hssize_t np = sp >= 0 ? H5Sget_simple_extent_npoints(sp) : -1;
	hsize_t d[H5S_MAX_RANK] = {0};
	int nd = sp >= 0 ? H5Sget_simple_extent_ndims(sp) : -1;
	if (nd >= 1)
		H5Sget_simple_extent_dims(sp, d, NULL);
	if (np < 0 || nd < 1 || (size_t)np != rows * cols || d[0] != rows) {
		rc = svt_err_set(err, SVT_E_FORMAT, "%s has %lld values, expected %zu x %zu", name,
				 (long long)np, rows, cols);
		goto done;
	}
	if (!(*out = malloc(rows * cols * esize))) {
		rc = svt_err_set(err, SVT_E_NOMEM, "%s", name);
		goto done;
	}
	if (H5Dread(ds, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, *out) < 0)
		rc = svt_err_set(err, SVT_E_FORMAT, "%s: read failed (checksum or filter error)", name);
done:
	if (rc) {
		free(*out);
		*out = NULL;
	}
	if (sp >= 0)
		H5Sclose(sp);
	if (ds >= 0)
		H5Dclose(ds);
	return rc;
}

void fmt_clip_data_free(fmt_clip_data *c)
{
	if (!c)
		return;
	free(c->w2c);
	free(c->K);
	free(c->llh);
	free(c->proj);
	free(c->heading);
	free(c->dist_m);
	free(c->time_us);
	memset(c, 0, sizeof(*c));
}

int fmt_reader_clip(fmt_reader *r, size_t i, fmt_clip_data *c, svt_err *err)
{
	if (!r || !c)
		return svt_err_set(err, SVT_E_INPUT, "fmt_reader_clip: NULL argument");
	memset(c, 0, sizeof(*c));
	if (i >= r->n)
		return svt_err_set(err, SVT_E_INPUT, "clip %zu of %zu", i, r->n);
	int rc = SVT_OK;
	hid_t g = H5I_INVALID_HID, ds = H5I_INVALID_HID, sp = H5I_INVALID_HID;
	char p[FMT_ID_MAX + 8];
	snprintf(p, sizeof(p), "clips/%s", r->rows[i].clip_id);
	snprintf(c->id, sizeof(c->id), "%s", r->rows[i].clip_id);
	g = H5Gopen2(r->file, p, H5P_DEFAULT);
	if (g < 0) {
		rc = svt_err_set(err, SVT_E_FORMAT, "/%s cannot be opened", p);
		goto done;
	}
	hsize_t d[4] = {0};
	if (H5Lexists(g, "frames_jpeg", H5P_DEFAULT) > 0) {
		/* JPEG frames: T from the dataset, H and W from its attributes. */
		int64_t hh = 0, ww = 0;
		ds = H5Dopen2(g, "frames_jpeg", H5P_DEFAULT);
		sp = ds >= 0 ? H5Dget_space(ds) : H5I_INVALID_HID;
		if (sp < 0 || H5Sget_simple_extent_ndims(sp) != 1 ||
		    H5Sget_simple_extent_dims(sp, d, NULL) < 0 ||
		    fmt_attr_get_i64(ds, "height", &hh, NULL) || fmt_attr_get_i64(ds, "width", &ww, NULL)) {
			rc = svt_err_set(err, SVT_E_FORMAT, "/%s/frames_jpeg is not [T] with height, width",
					 p);
			goto done;
		}
		d[1] = (hsize_t)hh;
		d[2] = (hsize_t)ww;
		d[3] = 3;
	} else {
		ds = H5Dopen2(g, "frames", H5P_DEFAULT);
		sp = ds >= 0 ? H5Dget_space(ds) : H5I_INVALID_HID;
		if (sp < 0 || H5Sget_simple_extent_ndims(sp) != 4 ||
		    H5Sget_simple_extent_dims(sp, d, NULL) < 0)
			d[3] = 0;
	}
	if (sp < 0 || d[3] != 3 || d[0] < 1 ||
	    d[0] > 1000000 || d[1] > 65535 || d[2] > 65535) {
		rc = svt_err_set(err, SVT_E_FORMAT, "/%s/frames is not [T,H,W,3]", p);
		goto done;
	}
	c->T = (int)d[0];
	c->H = (int)d[1];
	c->W = (int)d[2];
	size_t T = d[0];
	char split[16] = "";
	int64_t nominal = 0;
	if ((rc = read_arr(g, "w2c", H5T_NATIVE_DOUBLE, 8, T, 16, 0, (void **)&c->w2c, err)) ||
	    (rc = read_arr(g, "K", H5T_NATIVE_DOUBLE, 8, T, 4, 0, (void **)&c->K, err)) ||
	    (rc = read_arr(g, "llh", H5T_NATIVE_DOUBLE, 8, T, 3, 0, (void **)&c->llh, err)) ||
	    (rc = read_arr(g, "timestamps", H5T_NATIVE_INT64, 8, T, 1, 0, (void **)&c->time_us,
			   err)) ||
	    (rc = read_arr(g, "proj", H5T_NATIVE_DOUBLE, 8, T, 3, 1, (void **)&c->proj, err)) ||
	    (rc = read_arr(g, "heading", H5T_NATIVE_DOUBLE, 8, T, 1, 1, (void **)&c->heading, err)) ||
	    (rc = read_arr(g, "dist_m", H5T_NATIVE_DOUBLE, 8, T, 1, 1, (void **)&c->dist_m, err)) ||
	    (rc = fmt_attr_get_f64v(g, "fps", &c->fps, 1, err)) ||
	    (rc = fmt_attr_get_i64(g, "fps_nominal", &nominal, err)) ||
	    (rc = fmt_attr_get_str(g, "split", split, sizeof(split), err)))
		goto done;
	c->fps_nominal = nominal != 0;
	c->has_depth = H5Lexists(g, "depth", H5P_DEFAULT) > 0;
	snprintf(c->split, sizeof(c->split), "%s", split);
done:
	if (sp >= 0)
		H5Sclose(sp);
	if (ds >= 0)
		H5Dclose(ds);
	if (g >= 0)
		H5Gclose(g);
	if (rc) {
		fmt_clip_data_free(c);
		svt_err_prefix(err, "%s: clip %zu", r->path, i);
	}
	return rc;
}

/* Frames [t0, t0+n) of a clip stored as JPEG bytes, decoded to RGB. */
static int read_jpeg_frames(fmt_reader *r, size_t i, const char *path, int t0, int n,
			    uint8_t *rgb, svt_err *err)
{
	int W = r->rows[i].width, H = r->rows[i].height, rc = SVT_OK;
	hid_t ds = H5Dopen2(r->file, path, H5P_DEFAULT);
	hid_t fs = ds >= 0 ? H5Dget_space(ds) : H5I_INVALID_HID;
	hid_t vt = H5Tvlen_create(H5T_NATIVE_UINT8);
	hsize_t T = 0, one = 1;
	hid_t ms = H5Screate_simple(1, &one, NULL);
	if (fs < 0 || H5Sget_simple_extent_dims(fs, &T, NULL) != 1) {
		rc = svt_err_set(err, SVT_E_FORMAT, "%s: /%s cannot be opened", r->path, path);
		goto done;
	}
	if (t0 < 0 || n < 1 || (hsize_t)t0 + (hsize_t)n > T) {
		rc = svt_err_set(err, SVT_E_INPUT, "frames [%d, %d) of clip %s (T = %llu)", t0, t0 + n,
				 r->rows[i].clip_id, (unsigned long long)T);
		goto done;
	}
	for (int k = 0; k < n && !rc; k++) {
		hsize_t off = (hsize_t)(t0 + k);
		hvl_t v = {0, NULL};
		if (H5Sselect_hyperslab(fs, H5S_SELECT_SET, &off, NULL, &one, NULL) < 0 ||
		    H5Dread(ds, vt, ms, fs, H5P_DEFAULT, &v) < 0) {
			rc = svt_err_set(err, SVT_E_FORMAT, "%s: JPEG frame %d of clip %s: read failed",
					 r->path, t0 + k, r->rows[i].clip_id);
			break;
		}
		if (!v.p || v.len == 0)
			rc = svt_err_set(err, SVT_E_FORMAT, "%s: JPEG frame %d of clip %s is empty",
					 r->path, t0 + k, r->rows[i].clip_id);
		else if ((rc = fmt_jpeg_decode(v.p, v.len, W, H, rgb + (size_t)k * W * H * 3, err)))
			svt_err_prefix(err, "%s: clip %s frame %d", r->path, r->rows[i].clip_id, t0 + k);
		H5Dvlen_reclaim(vt, ms, H5P_DEFAULT, &v);
	}
done:
	if (ms >= 0)
		H5Sclose(ms);
	if (vt >= 0)
		H5Tclose(vt);
	if (fs >= 0)
		H5Sclose(fs);
	if (ds >= 0)
		H5Dclose(ds);
	return rc;
}

int fmt_reader_frames(fmt_reader *r, size_t i, int t0, int n, uint8_t *rgb, svt_err *err)
{
	if (!r || !rgb)
		return svt_err_set(err, SVT_E_INPUT, "fmt_reader_frames: NULL argument");
	if (i >= r->n)
		return svt_err_set(err, SVT_E_INPUT, "clip %zu of %zu", i, r->n);
	int rc = SVT_OK;
	hid_t fs = H5I_INVALID_HID, ms = H5I_INVALID_HID;
	char pj[FMT_ID_MAX + 24];
	snprintf(pj, sizeof(pj), "clips/%s/frames_jpeg", r->rows[i].clip_id);
	if (H5Oexists_by_name(r->file, pj, H5P_DEFAULT) > 0)
		return read_jpeg_frames(r, i, pj, t0, n, rgb, err);
	if (r->frames < 0 || r->frames_clip != i) {
		if (r->frames >= 0)
			H5Dclose(r->frames);
		char p[FMT_ID_MAX + 16];
		snprintf(p, sizeof(p), "clips/%s/frames", r->rows[i].clip_id);
		hid_t dapl = H5Pcreate(H5P_DATASET_ACCESS);
		/* The 1 MiB default cache is smaller than one 720p frame; 4 frames fit here. */
		size_t fb = (size_t)r->rows[i].width * (size_t)r->rows[i].height * 3;
		H5Pset_chunk_cache(dapl, 521, 4 * fb, 1.0);
		r->frames = H5Dopen2(r->file, p, dapl);
		H5Pclose(dapl);
		r->frames_clip = i;
		if (r->frames < 0)
			return svt_err_set(err, SVT_E_FORMAT, "%s: /%s cannot be opened", r->path, p);
	}
	fs = H5Dget_space(r->frames);
	hsize_t d[4] = {0};
	if (fs < 0 || H5Sget_simple_extent_ndims(fs) != 4 ||
	    H5Sget_simple_extent_dims(fs, d, NULL) < 0 || d[3] != 3) {
		rc = svt_err_set(err, SVT_E_FORMAT, "%s: frames of clip %s are not [T,H,W,3]", r->path,
				 r->rows[i].clip_id);
		goto done;
	}
	if (t0 < 0 || n < 1 || (hsize_t)t0 + (hsize_t)n > d[0]) {
		rc = svt_err_set(err, SVT_E_INPUT, "frames [%d, %d) of clip %s (T = %llu)", t0, t0 + n,
				 r->rows[i].clip_id, (unsigned long long)d[0]);
		goto done;
	}
	hsize_t start[4] = {(hsize_t)t0, 0, 0, 0}, count[4] = {(hsize_t)n, d[1], d[2], 3};
	ms = H5Screate_simple(4, count, NULL);
	if (H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL) < 0 ||
	    H5Dread(r->frames, H5T_NATIVE_UINT8, ms, fs, H5P_DEFAULT, rgb) < 0)
		rc = svt_err_set(err, SVT_E_FORMAT,
				 "%s: frames [%d, %d) of clip %s: read failed (checksum mismatch, "
				 "corrupt chunk or missing filter)",
				 r->path, t0, t0 + n, r->rows[i].clip_id);
done:
	if (fs >= 0)
		H5Sclose(fs);
	if (ms >= 0)
		H5Sclose(ms);
	return rc;
}

/* Depth maps [t0, t0+n) of clip i converted to memory type mt (fmt_reader_depth: float;
 * fmt_reader_depth_f16: the stored halves as they are). */
static int depth_read(fmt_reader *r, size_t i, int t0, int n, hid_t mt, void *depth,
		      svt_err *err)
{
	if (!r || !depth)
		return svt_err_set(err, SVT_E_INPUT, "depth read: NULL argument");
	if (i >= r->n)
		return svt_err_set(err, SVT_E_INPUT, "clip %zu of %zu", i, r->n);
	char p[FMT_ID_MAX + 16];
	snprintf(p, sizeof(p), "clips/%s/depth", r->rows[i].clip_id);
	if (H5Lexists(r->file, p, H5P_DEFAULT) <= 0)
		return svt_err_set(err, SVT_E_NOTFOUND, "clip %s has no depth", r->rows[i].clip_id);
	int rc = SVT_OK;
	hid_t ds = H5Dopen2(r->file, p, H5P_DEFAULT), fs = H5I_INVALID_HID, ms = H5I_INVALID_HID;
	fs = ds >= 0 ? H5Dget_space(ds) : H5I_INVALID_HID;
	hsize_t d[3] = {0};
	if (fs < 0 || H5Sget_simple_extent_ndims(fs) != 3 ||
	    H5Sget_simple_extent_dims(fs, d, NULL) < 0) {
		rc = svt_err_set(err, SVT_E_FORMAT, "%s: /%s is not [T,H,W]", r->path, p);
		goto done;
	}
	if (t0 < 0 || n < 1 || (hsize_t)t0 + (hsize_t)n > d[0]) {
		rc = svt_err_set(err, SVT_E_INPUT, "depth [%d, %d) of clip %s (T = %llu)", t0, t0 + n,
				 r->rows[i].clip_id, (unsigned long long)d[0]);
		goto done;
	}
	hsize_t start[3] = {(hsize_t)t0, 0, 0}, count[3] = {(hsize_t)n, d[1], d[2]};
	ms = H5Screate_simple(3, count, NULL);
	if (H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL) < 0 ||
	    H5Dread(ds, mt, ms, fs, H5P_DEFAULT, depth) < 0)
		rc = svt_err_set(err, SVT_E_FORMAT, "%s: depth [%d, %d) of clip %s: read failed "
				 "(checksum mismatch, corrupt chunk or missing filter)",
				 r->path, t0, t0 + n, r->rows[i].clip_id);
done:
	if (ms >= 0)
		H5Sclose(ms);
	if (fs >= 0)
		H5Sclose(fs);
	if (ds >= 0)
		H5Dclose(ds);
	return rc;
}

int fmt_reader_depth(fmt_reader *r, size_t i, int t0, int n, float *depth, svt_err *err)
{
	/* HDF5 converts float16 to float exactly (every half is a float). */
	return depth_read(r, i, t0, n, H5T_NATIVE_FLOAT, depth, err);
}

int fmt_reader_depth_f16(fmt_reader *r, size_t i, int t0, int n, uint16_t *depth, svt_err *err)
{
	hid_t ht = fmt_f16_type();
	int rc = depth_read(r, i, t0, n, ht, depth, err);
	H5Tclose(ht);
	return rc;
}

/* ---- inspect ----------------------------------------------------------------------------- */

static void filters_desc(hid_t ds, char *buf, size_t cap, hsize_t *chunk)
{
	buf[0] = 0;
	hid_t dcpl = H5Dget_create_plist(ds);
	if (dcpl < 0)
		return;
	if (H5Pget_layout(dcpl) == H5D_CHUNKED)
		H5Pget_chunk(dcpl, 4, chunk);
	int nf = H5Pget_nfilters(dcpl);
	size_t used = 0;
	for (int i = 0; i < nf; i++) {
		unsigned flags = 0, cd[16];
		size_t ncd = 16;
		char name[64] = "";
		H5Z_filter_t id = H5Pget_filter2(dcpl, (unsigned)i, &flags, &ncd, cd, sizeof(name),
						 name, NULL);
		const char *nm = id == H5Z_FILTER_DEFLATE	 ? "deflate"
				 : id == H5Z_FILTER_SHUFFLE	 ? "shuffle"
				 : id == H5Z_FILTER_FLETCHER32 ? "fletcher32"
				 : id == FMT_FILTER_LZ4		 ? "lz4"
				 : id == FMT_FILTER_ZSTD	 ? "zstd"
				 : id == FMT_FILTER_BLOSC	 ? "blosc"
								 : "filter";
		int w = snprintf(buf + used, cap - used, "%s%s(%d)", i ? "+" : "", nm, (int)id);
		if (w < 0 || (size_t)w >= cap - used)
			break;
		used += (size_t)w;
	}
	if (!nf)
		snprintf(buf, cap, "none");
	H5Pclose(dcpl);
}

static void print_attr(FILE *f, hid_t loc, const char *name)
{
	char s[512];
	double v[3];
	int64_t i;
	if (!fmt_attr_get_str(loc, name, s, sizeof(s), NULL))
		fprintf(f, "  %-18s %s\n", name, s);
	else if (!fmt_attr_get_i64(loc, name, &i, NULL) && H5Aexists(loc, name) > 0 &&
		 !fmt_attr_get_f64v(loc, name, v, 1, NULL) && v[0] == (double)i)
		fprintf(f, "  %-18s %lld\n", name, (long long)i);
	else if (!fmt_attr_get_f64v(loc, name, v, 3, NULL))
		fprintf(f, "  %-18s %.9g, %.9g, %.4f\n", name, v[0], v[1], v[2]);
	else if (!fmt_attr_get_f64v(loc, name, v, 1, NULL))
		fprintf(f, "  %-18s %.9g\n", name, v[0]);
}

int fmt_shard_inspect(const char *path, void *file, svt_err *err)
{
	FILE *f = file ? file : stdout;
	fmt_reader *r = NULL;
	int rc = fmt_reader_open(path, &r, err);
	if (rc)
		return rc;
	static const char *const root[] = {
		"schema", "schema_version", "kind", "writer", "created_utc", "source",
		"camera_convention", "pose", "world_frame", "pixel_center", "crs", "llh_crs",
		"enu_origin_llh", "enu_origin_proj", "codec", "fletcher32", "num_clips", "num_frames"};
	fprintf(f, "%s\n", path);
	for (size_t k = 0; k < SVT_ARRAY_LEN(root); k++)
		print_attr(f, r->file, root[k]);
	size_t ntrain = 0, nval = 0, ntest = 0;
	for (size_t i = 0; i < r->n; i++) {
		ntrain += !strcmp(r->rows[i].split, "train");
		nval += !strcmp(r->rows[i].split, "val");
		ntest += !strcmp(r->rows[i].split, "test");
	}
	fprintf(f, "  /index             %zu rows (train %zu, val %zu, test %zu)\n", r->n, ntrain,
		nval, ntest);
	for (size_t i = 0; i < r->n; i++) {
		const fmt_index_row *row = &r->rows[i];
		fmt_clip_data c;
		if ((rc = fmt_reader_clip(r, i, &c, err)))
			goto done;
		char p[FMT_ID_MAX + 24], filt[256] = "";
		hsize_t chunk[4] = {0};
		snprintf(p, sizeof(p), "clips/%s/frames", row->clip_id);
		hid_t ds = H5Oexists_by_name(r->file, p, H5P_DEFAULT) > 0
				   ? H5Dopen2(r->file, p, H5P_DEFAULT)
				   : H5I_INVALID_HID;
		hsize_t stored = 0;
		if (ds >= 0) {
			filters_desc(ds, filt, sizeof(filt), chunk);
			stored = H5Dget_storage_size(ds);
			H5Dclose(ds);
		}
		double raw = (double)c.T * c.H * c.W * 3;
		fprintf(f, "clip %s%s%s\n", row->clip_id, r->master ? "  -> " : "",
			r->master ? row->shard : "");
		if (ds < 0) {
			/* JPEG frames: one variable-length JPEG per frame. */
			snprintf(p, sizeof(p), "clips/%s/frames_jpeg", row->clip_id);
			hid_t dj = H5Dopen2(r->file, p, H5P_DEFAULT);
			int64_t q = 0;
			if (dj >= 0) {
				fmt_attr_get_i64(dj, "quality", &q, NULL);
				stored = H5Dget_storage_size(dj);
				H5Dclose(dj);
			}
			fprintf(f, "  frames   %d JPEG (quality %lld) of %dx%d in frames_jpeg%s\n", c.T,
				(long long)q, c.W, c.H, dj >= 0 ? "" : " (missing)");
		} else {
			fprintf(f, "  frames   uint8 [%d, %d, %d, 3] chunk (%llu, %llu, %llu, %llu) %s, "
				   "%.1f MB stored (%.2fx)\n",
				c.T, c.H, c.W, (unsigned long long)chunk[0], (unsigned long long)chunk[1],
				(unsigned long long)chunk[2], (unsigned long long)chunk[3], filt,
				(double)stored / 1e6, stored ? raw / (double)stored : 0.0);
		}
		if (c.has_depth)
			fprintf(f, "  depth    float16 [%d, %d, %d] metres, 0 = invalid\n", c.T, c.H,
				c.W);
		fprintf(f, "  fps      %.3f%s   split %s   district %s\n", c.fps,
			c.fps_nominal ? " (nominal)" : "", c.split,
			row->district[0] ? row->district : "-");
		double C0[3], C1[3];
		fmt_w2c_center(c.w2c, C0);
		fmt_w2c_center(c.w2c + 16 * (size_t)(c.T - 1), C1);
		for (int k = 0; k < 3; k++) { /* no "-0.000" */
			C0[k] = fabs(C0[k]) < 5e-4 ? 0.0 : C0[k];
			C1[k] = fabs(C1[k]) < 5e-4 ? 0.0 : C1[k];
		}
		fprintf(f, "  camera   first ENU (%.3f, %.3f, %.3f) m, last (%.3f, %.3f, %.3f) m\n",
			C0[0], C0[1], C0[2], C1[0], C1[1], C1[2]);
		fprintf(f, "  position first %.7f, %.7f  last %.7f, %.7f", c.llh[0], c.llh[1],
			c.llh[3 * (c.T - 1)], c.llh[3 * (c.T - 1) + 1]);
		if (c.dist_m)
			fprintf(f, "  (%.1f m along the track)", c.dist_m[c.T - 1]);
		fprintf(f, "\n  time     %lld .. %lld us (%.2f s)   K[0] fx %.2f fy %.2f cx %.2f cy %.2f\n",
			(long long)c.time_us[0], (long long)c.time_us[c.T - 1],
			(double)(c.time_us[c.T - 1] - c.time_us[0]) / 1e6, c.K[0], c.K[1], c.K[2],
			c.K[3]);
		fmt_clip_data_free(&c);
	}
done:
	fmt_reader_close(r);
	return rc;
}
