/* fmt_internal.h: what the formats/ files share privately (HDF5 helpers, chunk encoders).
 * Not installed, not included outside formats/: hid_t stays here. */
#ifndef SVT_FMT_INTERNAL_H
#define SVT_FMT_INTERNAL_H

#include <hdf5.h>
#include <stdio.h>

#include "formats/formats.h"

#define FMT_FILTER_LZ4 32004
#define FMT_FILTER_ZSTD 32015
#define FMT_FILTER_BLOSC 32001

#define FMT_ID_MAX 64    /* clip ids: < 64 bytes, stored as S64 */
#define FMT_SPLIT_MAX 8
#define FMT_DISTRICT_MAX 32

/* One /index row (schema v1, docs/shard-format.md). Field order is the file's. */
typedef struct fmt_index_row {
	char clip_id[FMT_ID_MAX];
	char shard[FMT_ID_MAX];
	int32_t num_frames, width, height;
	double fps;
	double lat0, lon0, lat_c, lon_c, e_c, n_c, heading0, length_m;
	int64_t t0_us;
	char district[FMT_DISTRICT_MAX];
	char split[FMT_SPLIT_MAX];
	uint8_t has_depth;
} fmt_index_row;

/* Silences HDF5's automatic error stack printing for this process: errors come back as
 * svt_err messages instead. Idempotent, thread-safe (pthread_once). */
void fmt_h5_quiet(void);

/* The compound type of fmt_index_row (caller closes). */
hid_t fmt_index_type(void);

/* Fletcher32 exactly as HDF5's H5_checksum_fletcher32 (big-endian 16-bit words, sums starting
 * at 0), so a chunk written with H5Dwrite_chunk passes the filter's check on read. */
uint32_t fmt_fletcher32(const void *data, size_t len);

/* Encodes one chunk of n bytes the way the codec's HDF5 filter pipeline would (then Fletcher32
 * appended little-endian when fletcher). *out is a malloc'd buffer grown as needed (capacity in
 * *cap; the caller frees it); *out_n receives the encoded size. Thread-safe: no HDF5 call. */
int fmt_chunk_encode(fmt_codec c, int level, int fletcher, size_t elem, const uint8_t *src,
		     size_t n, uint8_t **out, size_t *cap, size_t *out_n, svt_err *err);
/* The same with n bytes of scratch (NULL: allocated for the call) for a pipeline that starts
 * with the shuffle filter: a frame's encoder that owns room beside its bytes passes it, so
 * that no buffer is allocated per frame. */
int fmt_chunk_encode_in(fmt_codec c, int level, int fletcher, size_t elem, const uint8_t *src,
			size_t n, uint8_t *scratch, uint8_t **out, size_t *cap, size_t *out_n,
			svt_err *err);

/* IEEE 754 binary16 bits of f, rounded to nearest even (overflow gives infinity). */
uint16_t fmt_f16_from_f32(float f);
/* Depths (metres) as the shard's little-endian halves: fmt_f16_from_f32 of each finite
 * positive depth a half can hold (<= 65504), 0 for the rest. out may be in itself (out ==
 * (uint8_t *)in: half i goes where float i/2 was, after it is read). */
void fmt_depth_to_f16(const float *in, uint8_t *out, size_t n);
/* The HDF5 type of a little-endian IEEE half float, as h5py defines it (caller closes). */
hid_t fmt_f16_type(void);

/* JPEG frames (FMT_CODEC_JPEG): W x H x 3 RGB <-> a baseline JPEG (4:2:0) of that quality.
 * *out grows as fmt_chunk_encode's does. Thread-safe: a TurboJPEG handle per call. */
int fmt_jpeg_encode(const uint8_t *rgb, int W, int H, int quality, uint8_t **out, size_t *cap,
		    size_t *out_n, svt_err *err);
/* Decodes a JPEG that must be exactly W x H into rgb (W * H * 3 bytes). */
int fmt_jpeg_decode(const uint8_t *jpg, size_t n, int W, int H, uint8_t *rgb, svt_err *err);

/* Adds the codec's filters (and Fletcher32 last when asked) to a dataset creation list;
 * elem is the element size in bytes (blosc records it). */
int fmt_dcpl_set_codec(hid_t dcpl, fmt_codec c, int level, size_t chunk_bytes, size_t elem,
		       int fletcher, svt_err *err);

/* HDF5 filter id of a codec (0 for none, H5Z_FILTER_DEFLATE for gzip). */
int fmt_codec_filter_id(fmt_codec c);

/* Attribute helpers. Strings are written variable-length UTF-8 (h5py reads them as str). */
int fmt_attr_put_str(hid_t loc, const char *name, const char *v, svt_err *err);
int fmt_attr_put_i32(hid_t loc, const char *name, int32_t v, svt_err *err);
int fmt_attr_put_i64(hid_t loc, const char *name, int64_t v, svt_err *err);
int fmt_attr_put_f64v(hid_t loc, const char *name, const double *v, size_t n, svt_err *err);
/* Reads a string attribute (fixed or variable length) into buf (truncated to cap). */
int fmt_attr_get_str(hid_t loc, const char *name, char *buf, size_t cap, svt_err *err);
int fmt_attr_get_i64(hid_t loc, const char *name, int64_t *v, svt_err *err);
int fmt_attr_get_f64v(hid_t loc, const char *name, double *v, size_t n, svt_err *err);

/* Writes a small dataset of rank dims in one chunk (uncompressed, Fletcher32 when asked);
 * empty datasets are contiguous. */
int fmt_ds_put(hid_t loc, const char *name, hid_t type, int rank, const hsize_t *dims,
	       const void *data, int fletcher, svt_err *err);

/* Writes the /index table and /mask/{train,val,test} of rows into file. */
int fmt_index_write(hid_t file, const fmt_index_row *rows, size_t n, int fletcher, svt_err *err);
/* Reads /index (malloc'd rows, caller frees). */
int fmt_index_read(hid_t file, fmt_index_row **rows, size_t *n, svt_err *err);

/* Root attributes shared by shards and the master file. */
int fmt_root_attrs_write(hid_t file, const char *kind, const fmt_shard_info *info,
			 const char *codec, int fletcher, const char *created_utc, svt_err *err);

/* "2026-11-22T19:30:00Z" for now. */
void fmt_utc_now(char *buf, size_t cap);

/* SHA-256 of a whole file as 64 hex characters + NUL. */
int fmt_file_sha256(const char *path, char hex[65], uint64_t *bytes, svt_err *err);

/* Flush-close-fsync-rename-dirsync of an HDF5 file written under tmp; closes file whatever
 * happens and removes tmp on failure. Fails if any object of the file is still open. */
int fmt_h5_commit(hid_t file, const char *tmp, const char *final, svt_err *err);

/* A shard built in memory (HDF5's core driver, no backing store) and committed with
 * fmt_h5_commit_image: its SHA-256 is taken from the image in memory, each byte once. HDF5
 * rewrites its superblock and metadata at close, so a file written through the disk driver
 * can only be hashed by reading it back. The driver's buffer comes from our allocator
 * (page-aligned, grown with mremap) and outlives the close in im, so the image's pages go to
 * tmp with O_DIRECT, without a page-cache copy: the final ones while the shard is built
 * (fmt_h5_image_stream), the rest of the closed image (status flags cleared) at the commit.
 * The price: the shard's compressed size in memory while it is written; the writer rotates
 * shards at opts.target_bytes. tmp is the name written to. */
typedef struct fmt_h5_image {
	void *kept;  /* the driver's buffer, handed over at the file's close */
	void *spare; /* the buffer of the last commit, for the next file made with this im */
	void *live;  /* the driver's buffer while the file is open (our allocator's last answer) */
	/* Streaming (fmt_h5_image_note, fmt_h5_image_stream): the pages of the file that lie
	 * wholly inside chunks already stored are final (HDF5 never writes into a stored chunk
	 * again; a dropped clip's chunks are forgotten, their space being free for reuse), so a
	 * thread writes them to tmp while the shard is still being built and the commit writes
	 * only the rest: the disk works beside the CPUs instead of after them. */
	struct fmt_h5_io *io;
} fmt_h5_image;
/* im must stay where it is until fmt_h5_commit_image or fmt_h5_image_release; zero it before
 * its first use. A commit keeps the file's buffer in im for the next file made with it (a
 * writer's next shard: its pages are in memory already), until fmt_h5_image_release. On
 * failure (a negative id) err says why. */
hid_t fmt_h5_create_mem(const char *tmp, fmt_h5_image *im, svt_err *err);
/* Flushes and closes a file made by fmt_h5_create_mem (the writing thread stopped first; a
 * write of it that failed fails the commit), writes what of the closed image is not on disk
 * yet to tmp while a thread in gate (NULL: none) hashes all of it (hex, *bytes), fsyncs, renames
 * tmp to final, syncs the folder. Closes file whatever happens; on success im keeps the
 * buffer as its spare, on failure it is released, tmp removed and final untouched. Fails if
 * any object of the file is still open. */
int fmt_h5_commit_image(hid_t file, fmt_h5_image *im, const char *tmp, const char *final,
			svt_gate *gate, char hex[65], uint64_t *bytes, svt_err *err);
/* Frees the buffers im holds: a discarded file's, the spare (NULL-safe); closes tmp's
 * descriptor (the caller removes tmp, fmt_h5_discard). */
void fmt_h5_image_release(fmt_h5_image *im);
/* A chunk of the open file stored at [addr, addr + size) (H5Dget_chunk_info_by_coord), or,
 * with gone, one whose dataset was unlinked: its pages are no longer final and any already
 * written are written again at the commit. */
int fmt_h5_image_note(fmt_h5_image *im, uint64_t addr, uint64_t size, int gone, svt_err *err);
/* Once at least min_bytes of final pages are waiting, hands them to the image's writing
 * thread (started the first time, with tmp opened O_DIRECT where the file system takes it),
 * which writes them from the driver's buffer while the caller goes on (the buffer is not
 * moved while a write reads it). A write that failed there is reported here, or by the
 * commit. Call on the thread that makes the file's HDF5 calls. */
int fmt_h5_image_stream(fmt_h5_image *im, const char *tmp, size_t min_bytes, svt_err *err);

/* The errno an HDF5 call that just failed in this thread met in the OS (the file driver's
 * "errno = N" on the HDF5 error stack, e.g. ENOSPC), or 0: lets a message say "No space left
 * on device" instead of "cannot write". */
int fmt_h5_errno(void);

/* Writes DIR/master.h5 atomically: root attributes (kind "master", num_clips n, num_frames),
 * an external link /clips/ID -> rows[i].shard (a path relative to DIR) for every row, and
 * /index. Used by the writer at close and by fmt_dataset_merge. */
int fmt_master_write(const char *dir, const fmt_shard_info *info, const char *codec,
		     int fletcher, const char *created, const fmt_index_row *rows, size_t n,
		     int64_t frames, svt_err *err);

/* Closes an HDF5 file being thrown away and removes tmp (its path), also when the disk is
 * full: the file is truncated first so HDF5's closing flush cannot fail and leave the file
 * registered for its exit handler (which then crashes). */
void fmt_h5_discard(hid_t file, const char *tmp);

/* The reader's file and its /index rows (owned by the reader). */
hid_t fmt_reader_h5file(const fmt_reader *r);
const fmt_index_row *fmt_reader_index_row(const fmt_reader *r, size_t i);

/* Camera centre of a world-to-camera 4x4 (row-major): C = -R^T t. */
void fmt_w2c_center(const double *w2c, double C[3]);

/* clip_synth.c: the densified-clip datasets and attributes of c into clip group g (writer). */
int fmt_clip_synth_write(hid_t g, const fmt_clip_desc *c, int fletcher, svt_err *err);
/* The validity mask (T x H x W), at fmt_clip_end: the frames are made before it is known. */
int fmt_clip_valid_write(hid_t g, const uint8_t *valid, int T, int H, int W, int fletcher,
			 svt_err *err);
/* For verify: the densified-clip datasets of group g against its T x H x W frames, and
 * imported captions (a caption_short field: the action sentence first, then at most 280 /
 * 30 words). Returns 1 with msg set on a problem, else 0. */
int fmt_clip_synth_verify(hid_t g, int T, int H, int W, char *msg, size_t cap);
/* Checks them (clip_check). */
int fmt_clip_synth_check(const fmt_clip_desc *c, svt_err *err);

/* shard_edit.c: shard `name` of dataset dir changed in place: a copy is opened read-write,
 * edit(user, file, &frame_delta, err) changes it (frame_delta: frames added, also to the
 * shard's num_frames), the copy is committed under the shard's name and manifest.json updated
 * (bytes, sha256, frames), each file atomically. */
int fmt_shard_edit(const char *dir, const char *name,
		   int (*edit)(void *user, hid_t file, int64_t *frame_delta, svt_err *err),
		   void *user, svt_err *err);
/* writer.c: the group of the clip being written (H5I_INVALID_HID outside a clip), for the
 * writers of a clip's optional parts (refs.c). */
hid_t fmt_writer_clip_group(const fmt_writer *w);
/* The writer's frame codec, its level and whether it adds Fletcher32. */
void fmt_writer_codec(const fmt_writer *w, fmt_codec *c, int *level, int *fletcher);

#endif
