/* h5util.c: small HDF5 helpers shared by the writer, reader and verifier. Every hid_t starts
 * invalid (H5I_INVALID_HID) and one `done:` label closes each one that is valid. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "formats/fmt_internal.h"

#define CLOSE_T(x) do { if ((x) >= 0) H5Tclose(x); (x) = H5I_INVALID_HID; } while (0)
#define CLOSE_S(x) do { if ((x) >= 0) H5Sclose(x); (x) = H5I_INVALID_HID; } while (0)
#define CLOSE_A(x) do { if ((x) >= 0) H5Aclose(x); (x) = H5I_INVALID_HID; } while (0)
#define CLOSE_D(x) do { if ((x) >= 0) H5Dclose(x); (x) = H5I_INVALID_HID; } while (0)
#define CLOSE_P(x) do { if ((x) >= 0) H5Pclose(x); (x) = H5I_INVALID_HID; } while (0)
#define CLOSE_G(x) do { if ((x) >= 0) H5Gclose(x); (x) = H5I_INVALID_HID; } while (0)

static int attr_put(hid_t loc, const char *name, hid_t type, hid_t space, const void *v,
		    svt_err *err)
{
	int rc = SVT_OK;
	if (H5Aexists(loc, name) > 0)
		H5Adelete(loc, name);
	hid_t a = H5Acreate2(loc, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
	if (a < 0 || H5Awrite(a, type, v) < 0)
		rc = svt_err_set(err, SVT_E_HDF5, "cannot write attribute %s", name);
	CLOSE_A(a);
	return rc;
}

int fmt_attr_put_str(hid_t loc, const char *name, const char *v, svt_err *err)
{
	hid_t t = H5Tcopy(H5T_C_S1), s = H5Screate(H5S_SCALAR);
	H5Tset_size(t, H5T_VARIABLE);
	H5Tset_cset(t, H5T_CSET_UTF8);
	const char *p = v ? v : "";
	int rc = attr_put(loc, name, t, s, &p, err);
	CLOSE_T(t);
	CLOSE_S(s);
	return rc;
}

int fmt_attr_put_i32(hid_t loc, const char *name, int32_t v, svt_err *err)
{
	hid_t s = H5Screate(H5S_SCALAR);
	int rc = attr_put(loc, name, H5T_NATIVE_INT32, s, &v, err);
	CLOSE_S(s);
	return rc;
}

int fmt_attr_put_i64(hid_t loc, const char *name, int64_t v, svt_err *err)
{
	hid_t s = H5Screate(H5S_SCALAR);
	int rc = attr_put(loc, name, H5T_NATIVE_INT64, s, &v, err);
	CLOSE_S(s);
	return rc;
}

int fmt_attr_put_f64v(hid_t loc, const char *name, const double *v, size_t n, svt_err *err)
{
	hsize_t d = n;
	hid_t s = n == 1 ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &d, NULL);
	int rc = attr_put(loc, name, H5T_NATIVE_DOUBLE, s, v, err);
	CLOSE_S(s);
	return rc;
}

int fmt_attr_get_str(hid_t loc, const char *name, char *buf, size_t cap, svt_err *err)
{
	int rc = SVT_OK;
	hid_t a = H5I_INVALID_HID, ft = H5I_INVALID_HID, mt = H5I_INVALID_HID,
	      sp = H5I_INVALID_HID;
	if (cap)
		buf[0] = 0;
	if (H5Aexists(loc, name) <= 0) {
		rc = svt_err_set(err, SVT_E_FORMAT, "attribute %s is missing", name);
		goto done;
	}
	a = H5Aopen(loc, name, H5P_DEFAULT);
	ft = a >= 0 ? H5Aget_type(a) : H5I_INVALID_HID;
	sp = a >= 0 ? H5Aget_space(a) : H5I_INVALID_HID;
	if (ft < 0 || sp < 0 || H5Tget_class(ft) != H5T_STRING ||
	    H5Sget_simple_extent_npoints(sp) != 1) {
		rc = svt_err_set(err, SVT_E_FORMAT, "attribute %s is not a string", name);
		goto done;
	}
	mt = H5Tcopy(H5T_C_S1);
	if (H5Tis_variable_str(ft) > 0) {
		char *s = NULL;
		H5Tset_size(mt, H5T_VARIABLE);
		H5Tset_cset(mt, H5Tget_cset(ft));
		if (H5Aread(a, mt, &s) < 0) {
			rc = svt_err_set(err, SVT_E_HDF5, "cannot read attribute %s", name);
			goto done;
		}
		snprintf(buf, cap, "%s", s ? s : "");
		H5free_memory(s);
	} else {
		size_t sz = H5Tget_size(ft);
		char *tmp = calloc(1, sz + 1);
		if (!tmp) {
			rc = svt_err_set(err, SVT_E_NOMEM, "attribute %s", name);
			goto done;
		}
		H5Tset_size(mt, sz);
		if (H5Aread(a, mt, tmp) < 0)
			rc = svt_err_set(err, SVT_E_HDF5, "cannot read attribute %s", name);
		else
			snprintf(buf, cap, "%s", tmp);
		free(tmp);
	}
done:
	CLOSE_A(a);
	CLOSE_T(ft);
	CLOSE_T(mt);
	CLOSE_S(sp);
	return rc;
}

static int attr_get_num(hid_t loc, const char *name, hid_t mtype, void *v, size_t n,
			svt_err *err)
{
	int rc = SVT_OK;
	hid_t a = H5I_INVALID_HID, sp = H5I_INVALID_HID, ft = H5I_INVALID_HID;
	if (H5Aexists(loc, name) <= 0)
		return svt_err_set(err, SVT_E_FORMAT, "attribute %s is missing", name);
	a = H5Aopen(loc, name, H5P_DEFAULT);
	sp = a >= 0 ? H5Aget_space(a) : H5I_INVALID_HID;
	ft = a >= 0 ? H5Aget_type(a) : H5I_INVALID_HID;
	H5T_class_t cl = ft >= 0 ? H5Tget_class(ft) : H5T_NO_CLASS;
	if (sp < 0 || (cl != H5T_INTEGER && cl != H5T_FLOAT) ||
	    H5Sget_simple_extent_npoints(sp) != (hssize_t)n) {
		rc = svt_err_set(err, SVT_E_FORMAT, "attribute %s: expected %zu numbers", name, n);
		goto done;
	}
	if (H5Aread(a, mtype, v) < 0)
		rc = svt_err_set(err, SVT_E_HDF5, "cannot read attribute %s", name);
done:
	CLOSE_A(a);
	CLOSE_S(sp);
	CLOSE_T(ft);
	return rc;
}

int fmt_attr_get_i64(hid_t loc, const char *name, int64_t *v, svt_err *err)
{
	return attr_get_num(loc, name, H5T_NATIVE_INT64, v, 1, err);
}

int fmt_attr_get_f64v(hid_t loc, const char *name, double *v, size_t n, svt_err *err)
{
	return attr_get_num(loc, name, H5T_NATIVE_DOUBLE, v, n, err);
}

int fmt_ds_put(hid_t loc, const char *name, hid_t type, int rank, const hsize_t *dims,
	       const void *data, int fletcher, svt_err *err)
{
	int rc = SVT_OK;
	hid_t sp = H5Screate_simple(rank, dims, NULL), dcpl = H5Pcreate(H5P_DATASET_CREATE),
	      ds = H5I_INVALID_HID;
	hsize_t n = 1;
	for (int i = 0; i < rank; i++)
		n *= dims[i];
	if (n > 0) {
		H5Pset_chunk(dcpl, rank, dims);
		if (fletcher)
			H5Pset_fletcher32(dcpl);
	}
	ds = H5Dcreate2(loc, name, type, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
	if (ds < 0 || (n > 0 && H5Dwrite(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0))
		rc = svt_err_set(err, SVT_E_HDF5, "cannot write dataset %s", name);
	CLOSE_D(ds);
	CLOSE_P(dcpl);
	CLOSE_S(sp);
	return rc;
}

static hid_t str_type(size_t n)
{
	hid_t t = H5Tcopy(H5T_C_S1);
	H5Tset_size(t, n);
	H5Tset_strpad(t, H5T_STR_NULLTERM);
	return t;
}

hid_t fmt_index_type(void)
{
	hid_t t = H5Tcreate(H5T_COMPOUND, sizeof(fmt_index_row));
	hid_t sid = str_type(FMT_ID_MAX), sd = str_type(FMT_DISTRICT_MAX),
	      ss = str_type(FMT_SPLIT_MAX);
#define F(name, ty) H5Tinsert(t, #name, HOFFSET(fmt_index_row, name), ty)
	F(clip_id, sid);
	F(shard, sid);
	F(num_frames, H5T_NATIVE_INT32);
	F(width, H5T_NATIVE_INT32);
	F(height, H5T_NATIVE_INT32);
	F(fps, H5T_NATIVE_DOUBLE);
	F(lat0, H5T_NATIVE_DOUBLE);
	F(lon0, H5T_NATIVE_DOUBLE);
	F(lat_c, H5T_NATIVE_DOUBLE);
	F(lon_c, H5T_NATIVE_DOUBLE);
	F(e_c, H5T_NATIVE_DOUBLE);
	F(n_c, H5T_NATIVE_DOUBLE);
	F(heading0, H5T_NATIVE_DOUBLE);
	F(length_m, H5T_NATIVE_DOUBLE);
	F(t0_us, H5T_NATIVE_INT64);
	F(district, sd);
	F(split, ss);
	F(has_depth, H5T_NATIVE_UINT8);
#undef F
	H5Tclose(sid);
	H5Tclose(sd);
	H5Tclose(ss);
	return t;
}

int fmt_index_write(hid_t file, const fmt_index_row *rows, size_t n, int fletcher, svt_err *err)
{
	static const char *const splits[] = {"train", "val", "test"};
	int rc = SVT_OK;
	hid_t it = fmt_index_type(), st = str_type(FMT_ID_MAX), g = H5I_INVALID_HID;
	char(*ids)[FMT_ID_MAX] = calloc(n ? n : 1, FMT_ID_MAX);
	if (!ids) {
		rc = svt_err_set(err, SVT_E_NOMEM, "index of %zu rows", n);
		goto done;
	}
	hsize_t d = n;
	if ((rc = fmt_ds_put(file, "index", it, 1, &d, rows, fletcher, err)))
		goto done;
	g = H5Gcreate2(file, "mask", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
	if (g < 0) {
		rc = svt_err_set(err, SVT_E_HDF5, "cannot create /mask");
		goto done;
	}
	for (size_t s = 0; s < 3; s++) {
		size_t k = 0;
		for (size_t i = 0; i < n; i++)
			if (!strcmp(rows[i].split, splits[s]))
				memcpy(ids[k++], rows[i].clip_id, FMT_ID_MAX);
		d = k;
		if ((rc = fmt_ds_put(g, splits[s], st, 1, &d, ids, fletcher, err)))
			goto done;
	}
done:
	free(ids);
	CLOSE_G(g);
	CLOSE_T(it);
	CLOSE_T(st);
	return rc;
}

int fmt_index_read(hid_t file, fmt_index_row **rows, size_t *n, svt_err *err)
{
	int rc = SVT_OK;
	hid_t ds = H5I_INVALID_HID, sp = H5I_INVALID_HID, it = fmt_index_type();
	*rows = NULL;
	*n = 0;
	if (H5Lexists(file, "index", H5P_DEFAULT) <= 0) {
		rc = svt_err_set(err, SVT_E_FORMAT, "/index is missing");
		goto done;
	}
	ds = H5Dopen2(file, "index", H5P_DEFAULT);
	sp = ds >= 0 ? H5Dget_space(ds) : H5I_INVALID_HID;
	hssize_t np = sp >= 0 ? H5Sget_simple_extent_npoints(sp) : -1;
	if (np < 0 || H5Sget_simple_extent_ndims(sp) != 1) {
		rc = svt_err_set(err, SVT_E_FORMAT, "/index is not a 1-D table");
		goto done;
	}
	*rows = calloc(np ? (size_t)np : 1, sizeof(fmt_index_row));
	if (!*rows) {
		rc = svt_err_set(err, SVT_E_NOMEM, "index of %lld rows", (long long)np);
		goto done;
	}
	/* Fields are matched by name, so a table with extra or reordered fields still reads. */
	if (np > 0 && H5Dread(ds, it, H5S_ALL, H5S_ALL, H5P_DEFAULT, *rows) < 0) {
		rc = svt_err_set(err, SVT_E_HDF5, "cannot read /index (bad checksum or fields?)");
		goto done;
	}
	for (hssize_t i = 0; i < np; i++) {
		fmt_index_row *r = &(*rows)[i];
		r->clip_id[FMT_ID_MAX - 1] = r->shard[FMT_ID_MAX - 1] = 0;
		r->district[FMT_DISTRICT_MAX - 1] = r->split[FMT_SPLIT_MAX - 1] = 0;
	}
	*n = (size_t)np;
done:
	if (rc) {
		free(*rows);
		*rows = NULL;
	}
	CLOSE_D(ds);
	CLOSE_S(sp);
	CLOSE_T(it);
	return rc;
}

int fmt_root_attrs_write(hid_t f, const char *kind, const fmt_shard_info *info,
			 const char *codec, int fletcher, const char *created_utc, svt_err *err)
{
	char crs[32];
	snprintf(crs, sizeof(crs), "EPSG:%d", info->crs_epsg);
	int rc;
	if ((rc = fmt_attr_put_str(f, "schema", FMT_SCHEMA_NAME, err)) ||
	    (rc = fmt_attr_put_i32(f, "schema_version", FMT_SCHEMA_VERSION, err)) ||
	    (rc = fmt_attr_put_str(f, "kind", kind, err)) ||
	    (rc = fmt_attr_put_str(f, "writer", "svtwin " SVT_VERSION, err)) ||
	    (rc = fmt_attr_put_str(f, "camera_convention", "opencv", err)) ||
	    (rc = fmt_attr_put_str(f, "pose", "world_to_camera", err)) ||
	    (rc = fmt_attr_put_str(f, "world_frame", "ENU", err)) ||
	    (rc = fmt_attr_put_str(f, "pixel_center", "0.5", err)) ||
	    (rc = fmt_attr_put_str(f, "crs", crs, err)) ||
	    (rc = fmt_attr_put_i32(f, "crs_epsg", info->crs_epsg, err)) ||
	    (rc = fmt_attr_put_str(f, "llh_crs", "EPSG:4979", err)) ||
	    (rc = fmt_attr_put_f64v(f, "enu_origin_llh", info->enu_origin_llh, 3, err)) ||
	    (rc = fmt_attr_put_f64v(f, "enu_origin_proj", info->enu_origin_proj, 3, err)) ||
	    (rc = fmt_attr_put_str(f, "created_utc", created_utc, err)) ||
	    (rc = fmt_attr_put_str(f, "source", info->source ? info->source : "", err)) ||
	    (rc = fmt_attr_put_str(f, "codec", codec, err)) ||
	    (rc = fmt_attr_put_i32(f, "fletcher32", fletcher, err)) ||
	    (rc = fmt_attr_put_f64v(f, "split_buffer_m", &info->split_buffer_m, 1, err)))
		return rc;
	if (info->crs_source && (rc = fmt_attr_put_str(f, "crs_source", info->crs_source, err)))
		return rc;
	if (info->build_config &&
	    (rc = fmt_attr_put_str(f, "build_config", info->build_config, err)))
		return rc;
	return SVT_OK;
}

void fmt_utc_now(char *buf, size_t cap)
{
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* The digest of ctx as 64 lowercase hex digits and a NUL in hex[65]. */
static void sha_hex(EVP_MD_CTX *ctx, char *hex)
{
	unsigned char md[32];
	unsigned mdlen = 0;
	EVP_DigestFinal_ex(ctx, md, &mdlen);
	for (unsigned i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
}

int fmt_file_sha256(const char *path, char hex[65], uint64_t *bytes, svt_err *err)
{
	int rc = SVT_OK;
	FILE *f = fopen(path, "rb");
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	uint8_t *buf = malloc(1 << 20);
	uint64_t total = 0;
	if (!f) {
		rc = svt_err_set(err, SVT_E_IO, "cannot open %s: %s", path, strerror(errno));
		goto done;
	}
	if (!ctx || !buf || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
		rc = svt_err_set(err, SVT_E_NOMEM, "sha256 of %s", path);
		goto done;
	}
	size_t got;
	while ((got = fread(buf, 1, 1 << 20, f)) > 0) {
		EVP_DigestUpdate(ctx, buf, got);
		total += got;
	}
	if (ferror(f)) {
		rc = svt_err_set(err, SVT_E_IO, "read error in %s", path);
		goto done;
	}
	sha_hex(ctx, hex);
	if (bytes)
		*bytes = total;
done:
	if (f)
		fclose(f);
	EVP_MD_CTX_free(ctx);
	free(buf);
	return rc;
}

/* H5Ewalk2 callback: the errno the file driver recorded ("errno = 28, error message = ..."). */
static herr_t errno_walk(unsigned n, const H5E_error2_t *e, void *data)
{
	(void)n;
	int *en = data;
	const char *p = e && e->desc ? strstr(e->desc, "errno = ") : NULL;
	if (p && !*en)
		*en = atoi(p + 8);
	return 0;
}

int fmt_h5_errno(void)
{
	int en = 0;
	H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, errno_walk, &en);
	return en;
}

void fmt_h5_discard(hid_t file, const char *tmp)
{
	/* Free the file's blocks first: on a full disk HDF5's close still flushes its metadata
	 * and would fail; with the space back it succeeds (after a failed chunk write). The data
	 * is being thrown away, so a sparse, truncated file is of no concern. */
	if (tmp && truncate(tmp, 0) != 0)
		svt_log_debug("truncate %s: %s", tmp, strerror(errno));
	/* After a failed flush HDF5 1.10 cannot close the file at all (its cache stays in flush
	 * state): the id is then left open, never released again (H5Idec_ref would crash in
	 * H5F__close_cb), and HDF5's exit handler is off (fmt_h5_quiet), so nothing touches it
	 * later. The descriptor goes with the process; the file is unlinked below. */
	if (file >= 0 && H5Iis_valid(file) > 0 && H5Fclose(file) < 0)
		svt_log_debug("%s: HDF5 could not close it after the failure; left open",
			      tmp ? tmp : "shard");
	if (tmp)
		unlink(tmp);
}

int fmt_h5_commit(hid_t file, const char *tmp, const char *final, svt_err *err)
{
	int rc = SVT_OK;
	ssize_t open_objs = H5Fget_obj_count(file, H5F_OBJ_ALL);
	if (H5Fflush(file, H5F_SCOPE_GLOBAL) < 0)
		rc = svt_err_set(err, SVT_E_HDF5, "flush of %s failed", tmp);
	else if (open_objs != 1)
		rc = svt_err_set(err, SVT_E_HDF5, "%s: %zd HDF5 objects still open at close (a leak)",
				 tmp, open_objs - 1);
	if (rc) {
		int en = fmt_h5_errno();
		if (en)
			svt_err_prefix(err, "%s", strerror(en));
		fmt_h5_discard(file, tmp);
		return rc;
	}
	if (H5Fclose(file) < 0) {
		int en = fmt_h5_errno();
		rc = svt_err_set(err, SVT_E_HDF5, "%s%sclose of %s failed", en ? strerror(en) : "",
				 en ? ": " : "", tmp);
		fmt_h5_discard(file, tmp);
		return rc;
	}
	int fd = open(tmp, O_RDONLY);
	if (fd < 0 || fsync(fd) != 0) {
		rc = svt_err_set(err, SVT_E_IO, "fsync of %s failed: %s", tmp, strerror(errno));
		if (fd >= 0)
			close(fd);
		goto fail;
	}
	close(fd);
	if (rename(tmp, final) != 0) {
		rc = svt_err_set(err, SVT_E_IO, "rename %s -> %s: %s", tmp, final, strerror(errno));
		goto fail;
	}
	return svt_dir_sync_of(final, err);
fail:
	unlink(tmp);
	return rc;
}

#define IMG_PAGE ((size_t)4096)
#define IO_PIECE ((size_t)4 << 20)
#define COVER_BAD ((uint16_t)0xffff) /* chunks said to overlap here: never final */

/* The image's streaming state. mu guards all of it, and the driver's buffer while busy: a
 * write reads the buffer outside mu, so the allocator waits for it before it moves the buffer
 * (img_realloc), as does a dropped clip's note before HDF5 can reuse its space. */
struct fmt_h5_io {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_t th;
	int th_on, stop, busy, failed;
	svt_err err;       /* the failed write's */
	int fd, fd_open, direct;
	uint16_t *cover;   /* per 4 KiB page: its bytes inside stored chunks */
	uint8_t *on_disk;  /* per page: written to fd (or being written) */
	size_t pages_cap;  /* the length of both */
	size_t lo, hi;     /* the pages to look at for final ones not yet written */
	size_t ready;      /* bytes of final pages noted since the last hand-over */
	fmt_h5_image *im;
	char tmp[4200];
};

/* The core driver's buffer through our own allocator: page-aligned anonymous memory (grown
 * with mremap, never copied), so that the commit can write it with O_DIRECT; and closing the
 * file hands the buffer to im instead of freeing it: after the close (the superblock's last
 * write, its status flags cleared, lands there) it is the file's exact bytes. A page in front
 * of each buffer holds its mapped length, which only grows (a smaller size asked keeps the
 * mapping; a larger one grows it by half again at least, so a shard's 16 MiB steps move its
 * page tables a few times, not once a step). */
#define IMG_HEAD ((size_t)4096)

static void *img_map(void *old, size_t size)
{
	size_t want = (size + IMG_HEAD + 4095) & ~(size_t)4095;
	uint8_t *base;
	if (old) {
		uint8_t *ob = (uint8_t *)old - IMG_HEAD;
		size_t had;
		memcpy(&had, ob, sizeof(had));
		if (want <= had)
			return old;
		if (want < had + had / 2)
			want = (had + had / 2 + 4095) & ~(size_t)4095;
		base = mremap(ob, had, want, MREMAP_MAYMOVE);
	} else {
		base = mmap(NULL, want, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	}
	if (base == MAP_FAILED)
		return NULL;
	memcpy(base, &want, sizeof(want));
	return base + IMG_HEAD;
}

/* The mapping under p holds size bytes already (img_map returns p, unmoved). */
static int img_fits(void *p, size_t size)
{
	size_t had;
	memcpy(&had, (uint8_t *)p - IMG_HEAD, sizeof(had));
	return ((size + IMG_HEAD + 4095) & ~(size_t)4095) <= had;
}

static void img_unmap(void *p)
{
	if (!p)
		return;
	uint8_t *base = (uint8_t *)p - IMG_HEAD;
	size_t had;
	memcpy(&had, base, sizeof(had));
	munmap(base, had);
}

/* A new file's buffer (the driver asks with a NULL realloc, on its first write) is the last
 * committed one's when im keeps one (im->spare: its pages are in memory already, so the next
 * shard of a build writes them without a page fault each 4 KiB, which is what a fresh mapping
 * costs; the core driver clears what it grows into), else the buffer the create's first close
 * left in im->kept (see img_free), else a new mapping. */
static void *img_new(fmt_h5_image *im, size_t size)
{
	void *p = NULL;
	if (im && im->spare) {
		p = im->spare;
		im->spare = NULL;
	} else if (im && im->kept) {
		p = im->kept;
		im->kept = NULL;
	}
	if (!p)
		return img_map(NULL, size);
	void *q = img_map(p, size);
	if (!q)
		img_unmap(p);
	return q;
}

/* Records the driver's buffer. Written only when it changes: a new file's (the writing
 * thread stopped) or a moved one's (img_realloc, under the thread's lock); the thread reads
 * it under that lock. */
static void *img_live(void *udata, void *p)
{
	fmt_h5_image *im = udata;
	if (im && p && im->live != p)
		im->live = p;
	return p;
}

static void *img_malloc(size_t size, H5FD_file_image_op_t op, void *udata)
{
	(void)op;
	return img_live(udata, img_new(udata, size));
}

static void *img_memcpy(void *dest, const void *src, size_t size, H5FD_file_image_op_t op,
			void *udata)
{
	(void)op;
	(void)udata;
	return memcpy(dest, src, size);
}

static void *img_realloc(void *ptr, size_t size, H5FD_file_image_op_t op, void *udata)
{
	(void)op;
	fmt_h5_image *im = udata;
	struct fmt_h5_io *io = im ? im->io : NULL;
	if (!ptr || !io || img_fits(ptr, size))
		return img_live(udata, ptr ? img_map(ptr, size) : img_new(udata, size));
	/* The mapping grows and may move: not while the writing thread reads it. */
	pthread_mutex_lock(&io->mu);
	while (io->busy)
		pthread_cond_wait(&io->cv, &io->mu);
	void *p = img_live(udata, img_map(ptr, size));
	pthread_mutex_unlock(&io->mu);
	return p;
}

/* The buffer of the file's last close is kept (H5Fcreate opens and closes the file once
 * before the open that lasts: that buffer is taken again by the next open, img_malloc). */
static herr_t img_free(void *ptr, H5FD_file_image_op_t op, void *udata)
{
	fmt_h5_image *im = udata;
	if (im && im->live == ptr) {
		/* Not while the writing thread reads it (a close after a failure, say). */
		struct fmt_h5_io *io = im->io;
		if (io)
			pthread_mutex_lock(&io->mu);
		while (io && io->busy)
			pthread_cond_wait(&io->cv, &io->mu);
		im->live = NULL;
		if (io)
			pthread_mutex_unlock(&io->mu);
	}
	if (op == H5FD_FILE_IMAGE_OP_FILE_CLOSE && im) {
		img_unmap(im->kept);
		im->kept = ptr;
		return 0;
	}
	img_unmap(ptr);
	return 0;
}

/* After a commit: the closed file's buffer becomes the spare for the next file (the larger of
 * the two when a spare is there already). */
static void image_recycle(fmt_h5_image *im)
{
	if (!im->kept)
		return;
	if (!im->spare) {
		im->spare = im->kept;
	} else {
		size_t a, b;
		memcpy(&a, (uint8_t *)im->kept - IMG_HEAD, sizeof(a));
		memcpy(&b, (uint8_t *)im->spare - IMG_HEAD, sizeof(b));
		img_unmap(a > b ? im->spare : im->kept);
		if (a > b)
			im->spare = im->kept;
	}
	im->kept = NULL;
}

/* im is shared by every copy of the property list (HDF5 wants both or neither). */
static void *img_udata_copy(void *udata)
{
	return udata;
}

static herr_t img_udata_free(void *udata)
{
	(void)udata;
	return 0;
}

static int io_make(fmt_h5_image *im, svt_err *err)
{
	if (im->io)
		return SVT_OK;
	struct fmt_h5_io *io = calloc(1, sizeof(*io));
	if (!io)
		return svt_err_set(err, SVT_E_NOMEM, "no memory for a shard's writer state");
	pthread_mutex_init(&io->mu, NULL);
	pthread_cond_init(&io->cv, NULL);
	io->fd = -1;
	io->lo = SIZE_MAX;
	io->im = im;
	im->io = io;
	return SVT_OK;
}

/* The writing thread stopped and joined: what it was handed but had not begun stays for the
 * commit (those pages are not marked on disk). */
static void io_stop(struct fmt_h5_io *io)
{
	if (!io || !io->th_on)
		return;
	pthread_mutex_lock(&io->mu);
	io->stop = 1;
	pthread_cond_broadcast(&io->cv);
	pthread_mutex_unlock(&io->mu);
	pthread_join(io->th, NULL);
	io->th_on = 0;
	io->stop = 0;
}

/* Back to no file written: the thread stopped, tmp's descriptor closed, no page noted (the
 * arrays kept for the next file). */
static void stream_reset(fmt_h5_image *im)
{
	struct fmt_h5_io *io = im->io;
	if (!io)
		return;
	io_stop(io);
	if (io->fd_open)
		close(io->fd);
	io->fd_open = io->direct = io->failed = 0;
	io->fd = -1;
	if (io->pages_cap) {
		memset(io->cover, 0, io->pages_cap * sizeof(*io->cover));
		memset(io->on_disk, 0, io->pages_cap);
	}
	io->lo = SIZE_MAX;
	io->hi = 0;
	io->ready = 0;
}

static void io_free(fmt_h5_image *im)
{
	if (!im->io)
		return;
	stream_reset(im);
	pthread_mutex_destroy(&im->io->mu);
	pthread_cond_destroy(&im->io->cv);
	free(im->io->cover);
	free(im->io->on_disk);
	free(im->io);
	im->io = NULL;
}

static int stream_grow(struct fmt_h5_io *io, size_t pages, svt_err *err)
{
	if (pages <= io->pages_cap)
		return SVT_OK;
	size_t nc = io->pages_cap ? 2 * io->pages_cap : 16384;
	while (nc < pages)
		nc *= 2;
	uint16_t *c = realloc(io->cover, nc * sizeof(*c));
	if (c)
		io->cover = c;
	uint8_t *d = c ? realloc(io->on_disk, nc) : NULL;
	if (!d)
		return svt_err_set(err, SVT_E_NOMEM, "no memory to track %zu pages of a shard", nc);
	io->on_disk = d;
	memset(io->cover + io->pages_cap, 0, (nc - io->pages_cap) * sizeof(*c));
	memset(io->on_disk + io->pages_cap, 0, nc - io->pages_cap);
	io->pages_cap = nc;
	return SVT_OK;
}

int fmt_h5_image_note(fmt_h5_image *im, uint64_t addr, uint64_t size, int gone, svt_err *err)
{
	if (!size)
		return SVT_OK;
	uint64_t end = addr + size;
	if (end < addr || end / IMG_PAGE >= SIZE_MAX / 2)
		return svt_err_set(err, SVT_E_INPUT, "chunk at %llu (%llu bytes) outside any file",
				   (unsigned long long)addr, (unsigned long long)size);
	int rc = io_make(im, err);
	if (rc)
		return rc;
	struct fmt_h5_io *io = im->io;
	size_t p0 = (size_t)(addr / IMG_PAGE), p1 = (size_t)((end + IMG_PAGE - 1) / IMG_PAGE);
	pthread_mutex_lock(&io->mu);
	/* Space about to be freed: no write may still be reading it when HDF5 gives it out. */
	while (gone && io->busy)
		pthread_cond_wait(&io->cv, &io->mu);
	rc = stream_grow(io, p1, err);
	for (size_t p = p0; !rc && p < p1; p++) {
		uint64_t a = addr > p * IMG_PAGE ? addr : p * IMG_PAGE;
		uint64_t b = end < (p + 1) * IMG_PAGE ? end : (p + 1) * IMG_PAGE;
		unsigned d = (unsigned)(b - a), c = io->cover[p];
		if (c == COVER_BAD)
			continue;
		if (gone) {
			/* Written already or not, the page is the commit's to write now. */
			io->on_disk[p] = 0;
			io->cover[p] = c >= d ? (uint16_t)(c - d) : COVER_BAD;
			continue;
		}
		if (c + d > IMG_PAGE) {
			io->cover[p] = COVER_BAD;
			io->on_disk[p] = 0;
			continue;
		}
		io->cover[p] = (uint16_t)(c + d);
		if (c + d == IMG_PAGE && !io->on_disk[p]) {
			io->ready += IMG_PAGE;
			io->lo = p < io->lo ? p : io->lo;
			io->hi = p + 1 > io->hi ? p + 1 : io->hi;
		}
	}
	pthread_mutex_unlock(&io->mu);
	return rc;
}

/* Page p is still to be written (with whole: and lies wholly inside stored chunks). */
static int page_wanted(const struct fmt_h5_io *io, size_t p, int whole)
{
	if (p >= io->pages_cap)
		return !whole;
	return !io->on_disk[p] && (!whole || io->cover[p] == IMG_PAGE);
}

/* Writes buf's pages in [p0, p1) that are not on disk yet (with whole: only final ones), a
 * run of neighbours in one piece; the file's last page cut at n (padded to a block when
 * direct: buf's mapping runs past n). The commit's way, the writing thread stopped. */
static int pages_write(struct fmt_h5_io *io, const uint8_t *buf, size_t p0, size_t p1, size_t n,
		       const char *tmp, svt_err *err)
{
	for (size_t p = p0; p < p1;) {
		if (!page_wanted(io, p, 0)) {
			p++;
			continue;
		}
		size_t q = p + 1;
		while (q < p1 && page_wanted(io, q, 0))
			q++;
		size_t off = p * IMG_PAGE, end = q * IMG_PAGE < n ? q * IMG_PAGE : n;
		int rc = svt_fd_pwrite_all(io->fd, &io->direct, buf + off, end - off, off, tmp, err);
		if (rc)
			return rc;
		for (size_t k = p; k < q && k < io->pages_cap; k++)
			io->on_disk[k] = 1;
		p = q;
	}
	return SVT_OK;
}

/* The writing thread: takes the next run of final pages (at most IO_PIECE) under mu, marks
 * it on disk, writes it from the driver's buffer with mu released and busy set (the buffer
 * stays where it is meanwhile), until stopped. A failed write stops it: its error waits for
 * the next hand-over or the commit, its pages are left to the commit. */
static void *io_main(void *arg)
{
	struct fmt_h5_io *io = arg;
	pthread_mutex_lock(&io->mu);
	while (!io->stop) {
		size_t p = io->lo;
		while (p < io->hi && !page_wanted(io, p, 1))
			p++;
		if (p >= io->hi || !io->im->live) {
			io->lo = SIZE_MAX;
			io->hi = 0;
			pthread_cond_wait(&io->cv, &io->mu);
			continue;
		}
		size_t q = p + 1;
		while (q < io->hi && q - p < IO_PIECE / IMG_PAGE && page_wanted(io, q, 1))
			q++;
		io->lo = q;
		memset(io->on_disk + p, 1, q - p);
		const uint8_t *buf = io->im->live;
		io->busy = 1;
		pthread_mutex_unlock(&io->mu);
		svt_err e = {0};
		int rc = svt_fd_pwrite_all(io->fd, &io->direct, buf + p * IMG_PAGE, (q - p) * IMG_PAGE,
					   (uint64_t)(p * IMG_PAGE), io->tmp, &e);
		pthread_mutex_lock(&io->mu);
		io->busy = 0;
		pthread_cond_broadcast(&io->cv);
		if (rc) {
			for (size_t k = p; k < q; k++)
				io->on_disk[k] = 0;
			io->failed = 1;
			io->err = e;
			break;
		}
	}
	pthread_mutex_unlock(&io->mu);
	return NULL;
}

/* tmp opened for the shard's bytes, O_DIRECT where the file system takes it (direct_ok). */
static int stream_open(struct fmt_h5_io *io, const char *tmp, int direct_ok, svt_err *err)
{
	if (io->fd_open)
		return SVT_OK;
	int fd = -1;
#ifdef O_DIRECT
	if (direct_ok)
		fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_DIRECT, 0644);
#endif
	io->direct = fd >= 0;
	if (fd < 0)
		fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return svt_err_set(err, SVT_E_IO, "%s: cannot create %s", strerror(errno), tmp);
	snprintf(io->tmp, sizeof(io->tmp), "%s", tmp);
	io->fd = fd;
	io->fd_open = 1;
	return SVT_OK;
}

/* A write that failed on the thread, reported once. */
static int io_failure(struct fmt_h5_io *io, svt_err *err)
{
	if (!io->failed)
		return SVT_OK;
	io->failed = 0;
	if (err)
		*err = io->err;
	return io->err.code ? io->err.code : SVT_E_IO;
}

int fmt_h5_image_stream(fmt_h5_image *im, const char *tmp, size_t min_bytes, svt_err *err)
{
	struct fmt_h5_io *io = im->io;
	if (!io || io->ready < min_bytes || io->ready == 0)
		return SVT_OK;
	int rc = stream_open(io, tmp, 1, err);
	if (rc)
		return rc;
	if (!io->th_on) {
		if (pthread_create(&io->th, NULL, io_main, io) != 0)
			return SVT_OK; /* no thread to be had: the commit writes it all */
		io->th_on = 1;
	}
	pthread_mutex_lock(&io->mu);
	rc = io_failure(io, err);
	io->ready = 0;
	pthread_cond_broadcast(&io->cv);
	pthread_mutex_unlock(&io->mu);
	return rc;
}

hid_t fmt_h5_create_mem(const char *tmp, fmt_h5_image *im, svt_err *err)
{
	/* The core driver without a backing store: what reaches the disk is what we write of
	 * its buffer (fmt_h5_image_stream, fmt_h5_commit_image). Grows 16 MiB at a time. The
	 * spare buffer of an earlier commit stays for the new file's first allocation. */
	im->kept = NULL;
	im->live = NULL;
	stream_reset(im);
	H5FD_file_image_callbacks_t cb = {img_malloc,	  img_memcpy,	  img_realloc, img_free,
					   img_udata_copy, img_udata_free, im};
	hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
	hid_t f = H5I_INVALID_HID;
	if (fapl >= 0 && H5Pset_fapl_core(fapl, (size_t)16 << 20, 0) >= 0 &&
	    H5Pset_file_image_callbacks(fapl, &cb) >= 0)
		f = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
	if (f < 0) {
		/* Read before H5Pclose clears the error stack. */
		int en = fmt_h5_errno();
		svt_err_set(err, SVT_E_HDF5, "%s%scannot create %s", en ? strerror(en) : "",
			    en ? ": " : "", tmp);
		fmt_h5_image_release(im);
	}
	if (fapl >= 0)
		H5Pclose(fapl);
	return f;
}

void fmt_h5_image_release(fmt_h5_image *im)
{
	if (!im)
		return;
	img_unmap(im->kept);
	img_unmap(im->spare);
	im->kept = im->spare = im->live = NULL;
	io_free(im);
}

/* The SHA-256 of buf[0, n), a page at a time, the next page's lines prefetched meanwhile.
 * The image was written long before (a shard's first clips, seconds earlier) and is out of
 * the caches: fed as it lies, SHA-NI waits on memory (the hardware prefetcher starts over at
 * each 4 KiB page) and hashes 218 MB in 0.22-0.23 s on this project's 2-vCPU guest, with
 * the next page prefetched in 0.16-0.17 s (docs/benchmarks.md, "The commit's hash"). */
typedef struct hash_job {
	const uint8_t *buf;
	size_t n;
	EVP_MD_CTX *ctx;
	svt_gate *gate;
	int ok;
} hash_job;

#define HASH_PIECE ((size_t)4096)

static void hash_run(hash_job *h)
{
	h->ok = 1;
	for (size_t done = 0; h->ok && done < h->n;) {
		size_t want = h->n - done < HASH_PIECE ? h->n - done : HASH_PIECE;
		size_t next = done + want, end = next + HASH_PIECE < h->n ? next + HASH_PIECE : h->n;
		for (size_t q = next; q < end; q += 64)
			__builtin_prefetch(h->buf + q, 0, 1);
		h->ok = EVP_DigestUpdate(h->ctx, h->buf + done, want) == 1;
		done = next;
	}
}

/* The hash beside the writes, in a place of the caller's gate like every other thread. */
static void *hash_main(void *arg)
{
	hash_job *h = arg;
	svt_gate_enter(h->gate);
	hash_run(h);
	svt_gate_leave(h->gate);
	return NULL;
}

/* Writes what of buf[0, n) is not on disk yet (fmt_h5_image_stream wrote the rest while the
 * shard was built) to im's descriptor and takes the SHA-256 of all of buf into ctx meanwhile,
 * on a thread of its own (the writes wait on the disk; the hash is the CPU's work: side by
 * side the commit costs the longer of the two, not their sum); the calling thread gives its
 * place in the gate up while it waits on the disk. With O_DIRECT (buf page-aligned and
 * readable up to n rounded up to 4 KiB), whole blocks go out straight from buf (no
 * page-cache copy: on this kind of VM the copy into fresh page-cache pages costs more CPU
 * than the rest of the commit) and the caller truncates to n; a file system that refuses a
 * direct write gets the rest buffered (svt_fd_pwrite_all). */
static int image_write(fmt_h5_image *im, const uint8_t *buf, size_t n, EVP_MD_CTX *ctx,
		       svt_gate *gate, const char *tmp, svt_err *err)
{
	hash_job h = {buf, n, ctx, gate, 0};
	pthread_t th;
	int threaded = pthread_create(&th, NULL, hash_main, &h) == 0;
	int paused = svt_gate_pause(gate);
	int rc = pages_write(im->io, buf, 0, (n + IMG_PAGE - 1) / IMG_PAGE, n, tmp, err);
	/* Joined before the place is taken back: the hash may need that very place (a gate of
	 * one, or every other place busy). */
	if (threaded)
		pthread_join(th, NULL);
	svt_gate_resume(gate, paused);
	if (!threaded)
		hash_run(&h); /* no thread to be had: one after the other */
	if (!rc && !h.ok)
		rc = svt_err_set(err, SVT_E_NOMEM, "sha256 of %s", tmp);
	return rc;
}

int fmt_h5_commit_image(hid_t file, fmt_h5_image *im, const char *tmp, const char *final,
			svt_gate *gate, char hex[65], uint64_t *bytes, svt_err *err)
{
	int rc = SVT_OK, fd = -1;
	EVP_MD_CTX *ctx = NULL;
	uint8_t *copy = NULL;
	ssize_t open_objs = H5Fget_obj_count(file, H5F_OBJ_ALL);
	if (open_objs != 1) {
		rc = svt_err_set(err, SVT_E_HDF5, "%s: %zd HDF5 objects still open at close (a leak)",
				 tmp, open_objs - 1);
		goto cleanup;
	}
	/* The writing thread's last piece finished (what it had not begun is written below), and
	 * a write of it that failed is this commit's failure. */
	if ((rc = io_make(im, err)))
		goto cleanup;
	io_stop(im->io);
	if ((rc = io_failure(im->io, err)))
		goto cleanup;
	/* The flush settles the end of the file (what the close writes into the superblock). */
	ssize_t n = H5Fflush(file, H5F_SCOPE_GLOBAL) < 0 ? -1 : H5Fget_file_image(file, NULL, 0);
	if (n <= 0) {
		rc = svt_err_set(err, SVT_E_HDF5, "%s: HDF5 gave no file image", tmp);
		goto cleanup;
	}
	/* SVT_H5_IMAGE_COPY=1 takes the fallback below on purpose (tests/test_formats.c). */
	const char *force = getenv("SVT_H5_IMAGE_COPY");
	if (force && *force == '1') {
		/* An HDF5 that would not hand its buffer to the callbacks: the image copied out
		 * the documented way before the close (its size in RAM twice, for this shard). */
		if (!(copy = malloc((size_t)n)) || H5Fget_file_image(file, copy, (size_t)n) != n) {
			rc = svt_err_set(err, SVT_E_HDF5, "%s: cannot take its %zd-byte image", tmp, n);
			goto cleanup;
		}
	}
	/* In memory nothing can fail for want of space; the close writes the superblock once
	 * more (its status flags cleared) into the buffer and hands it to im. */
	herr_t closed = H5Fclose(file);
	file = H5I_INVALID_HID;
	if (closed < 0) {
		rc = svt_err_set(err, SVT_E_HDF5, "close of %s failed", tmp);
		goto cleanup;
	}
	const uint8_t *img = copy;
	if (!img && !(img = im->kept)) {
		rc = svt_err_set(err, SVT_E_HDF5, "%s: HDF5 did not hand over its image at close", tmp);
		goto cleanup;
	}
	if (memcmp(img, "\x89HDF\r\n\x1a\n", 8)) {
		rc = svt_err_set(err, SVT_E_HDF5, "%s: the image is not an HDF5 file", tmp);
		goto cleanup;
	}
	if (!(ctx = EVP_MD_CTX_new()) || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
		rc = svt_err_set(err, SVT_E_NOMEM, "sha256 of %s", tmp);
		goto cleanup;
	}
	/* tmp holds the pages streamed while the shard was built, or is made now: O_DIRECT
	 * where the file system takes it (the kept buffer is page-aligned and its pages run past
	 * n); a file system that refuses it gets the buffered write. */
	if ((rc = stream_open(im->io, tmp, img == im->kept, err)))
		goto cleanup;
	fd = im->io->fd;
	im->io->fd_open = 0; /* closed below */
	rc = image_write(im, img, (size_t)n, ctx, gate, tmp, err);
	if (rc)
		goto cleanup;
	/* The last block may have been padded (O_DIRECT). */
	if (ftruncate(fd, (off_t)n) != 0) {
		rc = svt_err_set(err, SVT_E_IO, "%s: cannot truncate %s", strerror(errno), tmp);
		goto cleanup;
	}
	if (fsync(fd) != 0) {
		rc = svt_err_set(err, SVT_E_IO, "%s: fsync of %s failed", strerror(errno), tmp);
		goto cleanup;
	}
	if (close(fd) != 0) {
		fd = -1;
		rc = svt_err_set(err, SVT_E_IO, "%s: close of %s failed", strerror(errno), tmp);
		goto cleanup;
	}
	fd = -1;
	sha_hex(ctx, hex);
	if (bytes)
		*bytes = (uint64_t)n;
	if (rename(tmp, final) != 0) {
		rc = svt_err_set(err, SVT_E_IO, "rename %s -> %s: %s", tmp, final, strerror(errno));
		goto cleanup;
	}
	rc = svt_dir_sync_of(final, err);
cleanup:
	if (fd >= 0)
		close(fd);
	if (file >= 0)
		fmt_h5_discard(file, NULL);
	if (rc) {
		unlink(tmp);
		fmt_h5_image_release(im);
	} else {
		image_recycle(im);
	}
	EVP_MD_CTX_free(ctx);
	free(copy);
	return rc;
}

void fmt_w2c_center(const double *m, double C[3])
{
	for (int i = 0; i < 3; i++)
		C[i] = -(m[0 * 4 + i] * m[3] + m[1 * 4 + i] * m[7] + m[2 * 4 + i] * m[11]);
}

long fmt_open_object_count(void)
{
	return (long)H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL);
}
