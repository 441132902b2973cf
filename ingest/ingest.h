/* ingest.h: decode capture images, read and check their metadata, read GPS tracks and kapture.
 *
 * Third-party types (tjhandle, ExifData, xmlDoc, png_struct) stay inside this module.
 * Every function follows the svt.h error convention. Thread-safety: functions that take no
 * handle are reentrant; a handle (ingest_decoder) belongs to one thread at a time.
 */
#ifndef SVT_INGEST_H
#define SVT_INGEST_H

#include "base/svt.h"

/* ---- Decoded images ---------------------------------------------------------------------- */

/* Size limits checked against the file's header before any pixel memory is allocated. */
typedef struct ingest_limits {
	int max_width;         /* default 30000 */
	int max_height;        /* default 15000 */
	uint64_t max_pixels;   /* default 268435456 (16384x16384) */
	uint64_t max_file_bytes; /* default 512 MiB */
} ingest_limits;

void ingest_limits_default(ingest_limits *lim);

/* An 8-bit interleaved image (channels 1, 2 (gray+alpha, native PNG only), 3 or 4) or a 16-bit
 * one (depth maps, 16-bit PNG; samples in host byte order). data is owned by the image: free it
 * with ingest_image_free. stride is in bytes. cap is the allocated size of data: a decode into
 * an image whose cap is large enough reuses data instead of allocating (zero-initialise a new
 * image: ingest_image img = {0};). */
typedef struct ingest_image {
	int width, height, channels, bit_depth;
	size_t stride;
	uint8_t *data;
	size_t cap;
} ingest_image;

void ingest_image_free(ingest_image *img);

/* Decode options. */
typedef struct ingest_decode_opts {
	ingest_limits limits;
	int want_channels;   /* 3 = RGB (default), 1 = gray, 0 = native (PNG keeps 16 bits) */
	int min_width;       /* >0: pick the largest DCT scale (1/2, 1/4, 1/8) still >= this width */
	int apply_orientation; /* honour EXIF Orientation (default 1) */
	/* A region of interest (roi_w > 0): only the pixels of [roi[0], roi[2]) x [roi[1], roi[3])
	 * of an image of roi_w x roi_h must come out right; the rest of img is left undefined
	 * (whatever its buffer held). A JPEG of that size, not DCT-scaled and not turned by its
	 * EXIF orientation, then has only the rows down to the region's last inverse-transformed
	 * and, in them, only its columns (libjpeg's jpeg_crop_scanline, jpeg_skip_scanlines); the
	 * region's pixels are those of a whole decode, byte for byte, and the entropy-coded data
	 * is still read to its end, so a corrupt or truncated file gives the warnings a whole
	 * decode gives. Anything else (a PNG, another size, a region of the whole image) decodes
	 * whole. img keeps the image's full size. */
	int roi[4];
	int roi_w, roi_h;
} ingest_decode_opts;

void ingest_decode_opts_default(ingest_decode_opts *o);

/* A reusable decoder (one TurboJPEG handle and a reused output buffer). Not thread-safe:
 * one per worker thread. ingest_decoder_destroy(NULL) does nothing. */
typedef struct ingest_decoder ingest_decoder;
int ingest_decoder_create(ingest_decoder **out, svt_err *err);
void ingest_decoder_destroy(ingest_decoder *d);

/* Decodes a JPEG or PNG held in memory into img (allocated here unless img->data is large
 * enough already: then it is reused). *warning is set to 1 when the data was corrupt but
 * decodable (TurboJPEG warnings); the message then sits in err with code 0. */
int ingest_decode_mem(ingest_decoder *d, const uint8_t *buf, size_t size,
		      const ingest_decode_opts *opts, ingest_image *img, int *warning, svt_err *err);

/* Reads and decodes a file. */
int ingest_decode_file(ingest_decoder *d, const char *path, const ingest_decode_opts *opts,
		       ingest_image *img, int *warning, svt_err *err);

/* Reads only the header: width, height, channels. No pixel memory is allocated. */
int ingest_image_probe_mem(const uint8_t *buf, size_t size, int *width, int *height,
			   int *channels, svt_err *err);

/* ---- Decode pool ------------------------------------------------------------------------ */

/* Decodes a list of files ahead of the consumer on worker threads, handing the results back in
 * input order. Memory is bounded: at most `depth` images are alive at once (being decoded,
 * waiting, or held by the consumer), whatever n is, and released images' buffers are reused.
 * One consumer thread calls next/release; the pool's workers are internal. */
typedef struct ingest_pool ingest_pool;

/* Starts `threads` workers (at least 1, at most n) decoding paths[0..n) with opts (copied; NULL
 * for the defaults). paths are copied too. depth < 1 is taken as 1; a consumer that holds k
 * images while asking for the next one needs depth > k. On success *out must be destroyed with
 * ingest_pool_destroy. */
int ingest_pool_create(const char *const *paths, size_t n, int threads, int depth,
		       const ingest_decode_opts *opts, ingest_pool **out, svt_err *err);

/* Waits for the next file in input order. On success *index is its position in paths and
 * either *img is the decoded image (owned by the pool: give it back with ingest_pool_release;
 * *warning 1 when the data was corrupt but decodable, with the message in *frame_err), or *img
 * is NULL and *frame_err says why that file failed (a per-file failure is not an error of the
 * call). Returns SVT_E_NOTFOUND once all n were returned. */
int ingest_pool_next(ingest_pool *p, size_t *index, ingest_image **img, int *warning,
		     svt_err *frame_err, svt_err *err);

/* Gives an image from ingest_pool_next back to the pool (NULL does nothing). */
void ingest_pool_release(ingest_pool *p, ingest_image *img);

/* Stops the workers and frees everything, including images not yet released (their pointers
 * become invalid). NULL does nothing. */
void ingest_pool_destroy(ingest_pool *p);

/* ---- Metadata ---------------------------------------------------------------------------- */

enum ingest_meta_has {
	INGEST_HAS_GPS = 1 << 0,      /* lat, lon */
	INGEST_HAS_ALT = 1 << 1,
	INGEST_HAS_HEADING = 1 << 2,  /* heading + heading_ref */
	INGEST_HAS_TIME = 1 << 3,     /* time_us */
	INGEST_HAS_GPANO = 1 << 4,
	INGEST_HAS_DOP = 1 << 5,
	INGEST_HAS_SIZE = 1 << 6,     /* width, height from the image header */
	INGEST_HAS_ORIENTATION = 1 << 7,
	INGEST_HAS_PITCH = 1 << 8,
	INGEST_HAS_ROLL = 1 << 9,
	INGEST_HAS_FOCAL = 1 << 10,   /* at least one of the ingest_focal fields is set */
};

/* Where a value came from, for probe output and reports. */
typedef enum ingest_source {
	INGEST_SRC_NONE = 0,
	INGEST_SRC_EXIF,
	INGEST_SRC_XMP,
	INGEST_SRC_GPANO,
	INGEST_SRC_TRACK,
	INGEST_SRC_KAPTURE,
	INGEST_SRC_DERIVED, /* computed from neighbouring frames */
	INGEST_SRC_EXIF_GPS, /* EXIF GPSDateStamp + GPSTimeStamp (UTC), preferred for time */
} ingest_source;

const char *ingest_source_name(ingest_source s);

typedef struct ingest_gpano {
	int equirectangular; /* ProjectionType == equirectangular */
	double pose_heading, pose_pitch, pose_roll; /* degrees; NAN when absent */
	int full_w, full_h, crop_w, crop_h, crop_left, crop_top; /* 0 when absent */
	/* 1 when the GPano sizes disagree with the pixels (the cropped size, or the full size when
	 * no crop is given, differs from the SOF/IHDR size). The pixels win: GPano sizes are
	 * reported, never used to size anything. */
	int size_mismatch;
} ingest_gpano;

/* EXIF's optics tags, as written (0 when absent or unusable). The camera model
 * (ingest_camera_resolve) turns them into pixels. */
typedef struct ingest_focal {
	double focal_mm;        /* FocalLength */
	double focal_35mm;      /* FocalLengthIn35mmFilm */
	double plane_xres, plane_yres; /* FocalPlaneX/YResolution: pixels per unit on the sensor */
	int plane_unit;         /* FocalPlaneResolutionUnit: 2 inch (default), 3 cm, 4 mm, 5 um */
	int pixel_w, pixel_h;   /* PixelX/YDimension: the image size the focal plane values refer to */
} ingest_focal;

/* The altitudes a street-level capture can be at, in metres: an EXIF GPSAltitude or a track
 * point's altitude outside them is corrupt and read as no altitude (the position stays). */
#define INGEST_ALT_MIN_M (-1000.0)
#define INGEST_ALT_MAX_M 20000.0
static inline int ingest_alt_plausible(double alt_m)
{
	return alt_m >= INGEST_ALT_MIN_M && alt_m <= INGEST_ALT_MAX_M;
}

typedef struct ingest_meta {
	unsigned has;               /* ingest_meta_has bits */
	double lat, lon;            /* degrees WGS84, south and west negative */
	double alt;                 /* metres above the ellipsoid/sea level as tagged; below: < 0 */
	double heading;             /* degrees clockwise from north, [0, 360) */
	char heading_ref;           /* 'T' true, 'M' magnetic, '?' unknown */
	double pitch, roll;         /* degrees, from GPano when present */
	double dop;
	int64_t time_us;            /* capture time, microseconds since 1970-01-01 UTC */
	int tz_offset_min;          /* zone the local time was in */
	int tz_assumed;             /* 1: the file had no zone and the default zone was assumed */
	int width, height;          /* pixels in the file (SOF / IHDR), before orientation */
	int orientation;            /* EXIF Orientation 1..8 (1 when absent) */
	ingest_gpano gpano;
	ingest_focal focal;
	ingest_source src_gps, src_alt, src_heading, src_time;
	unsigned ignored;           /* ingest_ignored bits: tags read and dropped as implausible */
} ingest_meta;

/* Tags a frame carried and ingest read as absent because their values cannot be (so that
 * `svtwin probe` can say why a value is missing). */
typedef enum ingest_ignored {
	INGEST_IGN_ALT = 1u << 0,  /* an altitude outside [INGEST_ALT_MIN_M, INGEST_ALT_MAX_M] */
	INGEST_IGN_POSE = 1u << 1, /* a GPano pose angle outside GPano's range */
} ingest_ignored;

typedef struct ingest_meta_opts {
	int default_tz_min;         /* zone for times without one: +540 (Asia/Seoul) by default */
} ingest_meta_opts;

void ingest_meta_opts_default(ingest_meta_opts *o);

/* Reads EXIF (libexif) and XMP (GPano, libxml2) from a JPEG or PNG in memory. A file without
 * metadata is not an error: meta->has is simply 0. Malformed metadata returns SVT_E_FORMAT
 * with the reason. */
int ingest_meta_read_mem(const uint8_t *buf, size_t size, const ingest_meta_opts *opts,
			 ingest_meta *meta, svt_err *err);
int ingest_meta_read_file(const char *path, const ingest_meta_opts *opts, ingest_meta *meta,
			  svt_err *err);

/* Why a frame was rejected. Names (ingest_reason_name) are stable: they appear in reports. */
typedef enum ingest_reason {
	INGEST_OK = 0,
	INGEST_REJ_UNREADABLE,   /* cannot open / read the file */
	INGEST_REJ_UNDECODABLE,  /* not a valid JPEG/PNG */
	INGEST_REJ_TOO_LARGE,    /* over the size limits */
	INGEST_REJ_NO_GPS,
	INGEST_REJ_NULL_ISLAND,
	INGEST_REJ_NO_TIME,
	INGEST_REJ_OUTSIDE_TRACK,
	INGEST_REJ_SPEED,
	INGEST_REJ_ZIGZAG,
	INGEST_REJ_DUPLICATE,
	INGEST_REJ_BAD_METADATA,
	INGEST_REJ_HOSTILE_PATH,
	INGEST_REJ_NO_CAMERA,    /* a perspective photo whose intrinsics cannot be known, or a
				  * partial (cropped) GPano panorama */
	INGEST_REJ_OUTSIDE_CRS,  /* outside the chosen CRS's area of use (geo_crs_covers) */
	INGEST_REASON_COUNT
} ingest_reason;

const char *ingest_reason_name(ingest_reason r);

/* ---- Camera model of a frame ----------------------------------------------------------- */

struct ingest_kapture_camera; /* below, with the kapture reader */

typedef enum ingest_camera_model {
	INGEST_CAM_UNKNOWN = 0,  /* the frame cannot be used as is (see ingest_camera_resolve) */
	INGEST_CAM_EQUIRECT,     /* a full 360 x 180 equirectangular panorama */
	INGEST_CAM_PINHOLE,      /* a perspective photo: K and OpenCV distortion below */
} ingest_camera_model;

/* Where the model (and for a pinhole, its intrinsics) came from. */
typedef enum ingest_camera_source {
	INGEST_CAMSRC_NONE = 0,
	INGEST_CAMSRC_USER_PANORAMA, /* the user said the capture is panoramas */
	INGEST_CAMSRC_GPANO,         /* XMP GPano:ProjectionType equirectangular */
	INGEST_CAMSRC_ASPECT,        /* 2:1 pixels and no usable focal length */
	INGEST_CAMSRC_KAPTURE,       /* the frame's kapture sensor (COLMAP model) */
	INGEST_CAMSRC_EXIF_PLANE,    /* EXIF FocalLength x FocalPlaneX/YResolution */
	INGEST_CAMSRC_EXIF_35MM,     /* EXIF FocalLengthIn35mmFilm */
	INGEST_CAMSRC_USER_FOV,      /* the user's field of view, for a camera nothing else gave */
} ingest_camera_source;

const char *ingest_camera_model_name(ingest_camera_model m);   /* "unknown" "equirect" "pinhole" */
const char *ingest_camera_source_name(ingest_camera_source s); /* "gpano", "kapture", ... */

/* A frame's camera. For a pinhole, K maps a camera-frame ray (x, y, 1) (x right, y down) with
 * the OpenCV distortion applied to pixel coordinates of the FILE's stored pixels (width x
 * height, before EXIF orientation; ingest_camera_orient gives the displayed image's), with the
 * pixel-centre convention of COLMAP and kapture: pixel (i, j) covers [i, i+1) x [j, j+1), so its
 * centre is (i + 0.5, j + 0.5) and the image centre is (width / 2, height / 2). Distortion
 * (OpenCV's k1 k2 p1 p2 k3) is zero unless the source gave it. */
typedef struct ingest_camera {
	ingest_camera_model model;
	ingest_camera_source source;
	int width, height;          /* pixels the intrinsics refer to */
	double fx, fy, cx, cy;      /* pinhole only */
	double k1, k2, p1, p2, k3;  /* pinhole only */
} ingest_camera;

/* What the user states about the capture's cameras. */
typedef struct ingest_camera_opts {
	int panorama;     /* 1: every frame is an equirectangular panorama, whatever it says */
	double fov_deg;   /* > 0: horizontal field of view of frames whose camera is otherwise
			   * unknown (a pinhole without distortion); 0: such frames are rejected */
} ingest_camera_opts;

/* Decides a frame's camera from its metadata (m: width, height, gpano, focal), its kapture
 * sensor (kc, NULL when none) and the user's statements (o, NULL: none), in this order:
 *   panorama when the user says so, when GPano says equirectangular;
 *   pinhole from the kapture sensor: SIMPLE_PINHOLE, PINHOLE, SIMPLE_RADIAL, RADIAL, OPENCV
 *     and FULL_OPENCV with k4..k6 zero (other models: unknown), scaled to the file's size;
 *   pinhole from EXIF FocalLength x FocalPlaneX/YResolution (in the unit of
 *     FocalPlaneResolutionUnit, at PixelX/YDimension's size, scaled to the file's);
 *   pinhole from FocalLengthIn35mmFilm: f = f35 / 36 mm x the longer side (OpenSfM's rule; on
 *     kapture_berlin it lands within 1 % of the calibrated focal, a diagonal rule 5 % off);
 *   panorama when the pixels are 2:1 (within 0.5 %) and none of the above gave a focal;
 *   pinhole from the user's field of view;
 *   otherwise unknown.
 * A focal giving a horizontal field of view outside [1, 170] degrees is implausible and is
 * passed over for the next source. Returns INGEST_OK with *cam filled, or INGEST_REJ_NO_CAMERA
 * with cam->model INGEST_CAM_UNKNOWN and the reason (what was missing, and the options that
 * would help) in why (NUL-terminated, cap bytes). Reentrant. */
ingest_reason ingest_camera_resolve(const ingest_meta *m, const struct ingest_kapture_camera *kc,
				    const ingest_camera_opts *o, ingest_camera *cam, char *why,
				    size_t cap);

/* The camera of the image as displayed after EXIF orientation o (1..8; anything else is taken
 * as 1): width/height, K and the tangential terms follow the flips and the transpose, so a
 * point projects to the displayed pixel its stored pixel is moved to. Panoramas are copied with
 * width and height swapped for o >= 5 (a rotated panorama is not a panorama; the caller decides). */
void ingest_camera_orient(const ingest_camera *in, int o, ingest_camera *out);

/* Projects the camera-frame direction (x, y, 1) through the distortion and K of a pinhole:
 * (u, v) in the convention above. The reference the tests and the resampler agree on. */
void ingest_camera_project(const ingest_camera *cam, double x, double y, double *u, double *v);

/* ---- Frames of a capture, checks and reasons -------------------------------------------- */


/* One capture frame after ingest: the file it came from and what its metadata says. */
typedef struct ingest_frame {
	char *path;          /* owned */
	ingest_meta meta;
	int seq;             /* sequence index after gap cuts */
	ingest_camera camera; /* set for every frame whose metadata was read (model UNKNOWN when
			       * rejected for it: reason INGEST_REJ_NO_CAMERA) */
	ingest_reason reason;
	char why[SVT_ERR_MSG_MAX]; /* human detail when reason != INGEST_OK */
} ingest_frame;

typedef struct ingest_scan_opts {
	ingest_meta_opts meta;
	ingest_camera_opts camera; /* user statements on the cameras (default: none) */
	ingest_limits limits;
	double dup_dist_m;      /* 0.1 */
	double dup_angle_deg;   /* 5 */
	double max_speed_kmh;   /* 400 */
	double gap_s;           /* 60 */
	double gap_m;           /* 100 */
	const char *track_path; /* optional GPX/NMEA/CSV track */
	double track_offset_s;  /* added to image times before matching the track */
	int seq_max_frames;     /* 1000: a sequence is also cut after this many frames (0: no cap) */
	double zigzag_min_m;    /* 5: a frame that jumps at least this far out and back is zig-zag */
	int verify_decode;      /* decode check during the scan, at the smallest DCT scale (1/8):
				 * 0 header checks only; 1 (default) only files that look truncated
				 * (no EOI/IEND at the end): nearly free, catches cut-off files;
				 * 2 every file: also catches corruption inside the data, at 0.6-0.9
				 * of a full decode's cost (bench decode). What the scan lets through
				 * the pipeline's own decode still rejects. */
	int reject_warnings;    /* 1: a verify decode with TurboJPEG warnings (corrupt but decodable
				 * data) rejects the frame as undecodable; 0 keeps it */
	int threads;            /* workers for the verify decode; 0 = online CPUs */
} ingest_scan_opts;

void ingest_scan_opts_default(ingest_scan_opts *o);

/* A capture: frames sorted by time; kept frames have reason INGEST_OK. */
typedef struct ingest_capture {
	ingest_frame *frames;
	size_t n;
	size_t n_kept;
	size_t n_rejected[INGEST_REASON_COUNT];
} ingest_capture;

/* Scans a directory (recursively) or a single file for JPEG/PNG frames, reads their metadata,
 * geotags them from the track if one is given, runs the checks and cuts sequences. A bad
 * frame is recorded with its reason; only a failure to scan at all is an error. */
int ingest_capture_scan(const char *path, const ingest_scan_opts *opts, ingest_capture **out,
			svt_err *err);
void ingest_capture_destroy(ingest_capture *c);

/* Writes one JSON line per rejected frame ({"path","reason","detail"}) to path. */
int ingest_capture_write_rejects(const ingest_capture *c, const char *path, svt_err *err);

/* Formats the human summary of a scan into out (always NUL-terminated, truncated to cap):
 * "N frames, K kept, R rejected (no_gps 3, duplicate 2)". */
void ingest_capture_summary(const ingest_capture *c, char *out, size_t cap);

/* Prints a JSON line describing one frame (the `svtwin probe` format) into out. */
int ingest_frame_to_json(const ingest_frame *f, char **json_out, svt_err *err);

/* ---- GPS tracks ------------------------------------------------------------------------- */

typedef struct ingest_track_point {
	int64_t time_us;
	double lat, lon, alt; /* alt NAN when absent */
} ingest_track_point;

typedef struct ingest_track {
	ingest_track_point *pts; /* sorted by time */
	size_t n;
	size_t n_bad_lines;      /* NMEA/CSV lines skipped: bad checksum, no fix, malformed */
} ingest_track;

/* Reads a GPX 1.0/1.1, NMEA (RMC/GGA, GP and GN) or CSV track (format detected from the
 * content: '<' GPX, '$' NMEA, anything else the CSV of docs/ingest.md). Points are sorted by
 * time; points sharing a time are merged. SVT_E_FORMAT when no point could be read. */
int ingest_track_read(const char *path, ingest_track **out, svt_err *err);

/* The same on a buffer (used by the fuzz targets). */
int ingest_track_read_mem(const uint8_t *buf, size_t size, ingest_track **out, svt_err *err);
void ingest_track_destroy(ingest_track *t);

/* Interpolates position (and heading from the bracketing points) at time t. Returns
 * SVT_E_NOTFOUND when t lies outside the track. */
int ingest_track_at(const ingest_track *t, int64_t time_us, double *lat, double *lon,
		    double *alt, double *heading_deg, svt_err *err);

/* ---- kapture 1.1 (NAVER LABS Europe) ---------------------------------------------------- */

/* A camera of sensors.txt with its COLMAP model. params are the model's parameters after
 * width and height, in COLMAP order (PINHOLE: fx fy cx cy; SIMPLE_RADIAL: f cx cy k;
 * RADIAL: f cx cy k1 k2; OPENCV: fx fy cx cy k1 k2 p1 p2; ...). */
typedef struct ingest_kapture_camera {
	char *id;            /* sensor id (owned) */
	char model[24];      /* COLMAP model name */
	int width, height;
	double params[16];
	int n_params;
	double fx, fy, cx, cy; /* pinhole part, from params */
} ingest_kapture_camera;

/* One image record (records_camera.txt) with what the other files say about it. */
typedef struct ingest_kapture_record {
	int64_t timestamp;   /* kapture timestamp (unit chosen by the dataset) */
	char *sensor;        /* camera sensor id (owned) */
	char *image;         /* path relative to records_data/ (owned) */
	char *path;          /* full path, NULL when `image` escapes the dataset root (owned) */
	int camera;          /* index into cams, -1 if the sensor is not a known camera */
	int has_pose;        /* world-to-device pose from trajectories.txt (via rigs.txt if needed) */
	double q[4];         /* qw qx qy qz, unit quaternion, world -> camera */
	double t[3];         /* translation, world -> camera */
	int has_gnss;        /* a records_gnss.txt entry with the same timestamp */
	double gnss_x, gnss_y, gnss_z, gnss_dop;
	int64_t gnss_utc;    /* as written (0: unknown) */
	int gnss_epsg;       /* the GNSS sensor's EPSG code (4326: x = longitude, y = latitude) */
} ingest_kapture_record;

typedef struct ingest_kapture {
	char *root;          /* the folder holding sensors.txt (owned) */
	ingest_kapture_camera *cams;
	size_t n_cams;
	ingest_kapture_record *recs; /* in records_camera.txt order */
	size_t n_recs;
	size_t n_hostile;    /* records whose image path escapes the root */
} ingest_kapture;

/* Reads a kapture 1.1 dataset: dir is the kapture root (holding sensors/) or its sensors/
 * folder. sensors.txt and records_camera.txt are required; rigs.txt, trajectories.txt and
 * records_gnss.txt are optional. Image paths that escape the root (absolute, "..") are kept
 * with path NULL and counted in n_hostile. SVT_E_FORMAT with file:line on a malformed line,
 * SVT_E_UNSUPPORTED for an unknown camera model or kapture version. */
int ingest_kapture_read(const char *dir, ingest_kapture **out, svt_err *err);
void ingest_kapture_destroy(ingest_kapture *k);

/* True when dir looks like a kapture dataset (sensors/records_camera.txt or
 * records_camera.txt + sensors.txt). ingest_capture_scan then imports it instead of walking
 * the folder: frames come from records_camera.txt, positions from records_gnss.txt when in
 * EPSG:4326 (else EXIF). */
int ingest_kapture_detect(const char *dir);

/* ---- Depth maps beside the frames ------------------------------------------------------- */

/* The depth map of frame DIR/STEM.EXT, by convention DIR/.depth/STEM.png or DIR/depth/STEM.png
 * (the first that is readable): a 16-bit gray PNG in millimetres (for a panorama, range along
 * the ray; 0 = no depth). Writes the path into out (cap bytes) and returns 1 when one exists,
 * else 0 (out then holds the last candidate tried, or "" when none fit). Thread-safe. */
int ingest_depth_path(const char *frame_path, char *out, size_t cap);

#endif
