/* samples.h: the synthetic capture generator's internals (svtwin-samples).
 *
 * The generator is an independent ground truth for the pipeline: it shares only base/ (error
 * convention, logging) with the library and never calls geo/, ingest/ or gpu/. Its geodesy
 * (wgs84.c), rotations (pose.c), renderer (scene.c) and file writers (encode.c) are written
 * from the conventions in docs/conventions.md, not from the code under test.
 */
#ifndef SVT_SAMPLES_H
#define SVT_SAMPLES_H

#include <stdint.h>

#include "base/svt.h"

/* ---- Seeded randomness (stateless, so any frame can be made on any thread) ---------------- */

/* splitmix64 finaliser: a well-mixed 64-bit hash. */
uint64_t smp_hash64(uint64_t x);
/* A uniform double in [lo, hi) that depends only on (seed, stream, index). */
double smp_uniform(uint64_t seed, uint64_t stream, uint64_t index, double lo, double hi);

/* A small sequential generator for building the scene (single thread). */
typedef struct smp_rng {
	uint64_t state;
} smp_rng;
void smp_rng_init(smp_rng *r, uint64_t seed, uint64_t stream);
double smp_rng_uniform(smp_rng *r, double lo, double hi);

/* ---- WGS84 geodesy, closed form (wgs84.c) -------------------------------------------------- */

#define SMP_WGS84_A 6378137.0
#define SMP_WGS84_F (1.0 / 298.257223563)

/* Geodetic (lat, lon degrees, ellipsoidal height metres) -> ECEF metres. */
void smp_llh_to_ecef(const double llh[3], double xyz[3]);
/* ECEF -> geodetic by fixed-point iteration on latitude until it moves less than 1e-14 rad
 * (converges in a handful of steps anywhere but within metres of the geocentre). */
void smp_ecef_to_llh(const double xyz[3], double llh[3]);
/* Local ENU (x east, y north, z up, metres) at origin o_llh <-> geodetic. */
void smp_llh_to_enu(const double o_llh[3], const double llh[3], double enu[3]);
void smp_enu_to_llh(const double o_llh[3], const double enu[3], double llh[3]);

/* ---- Poses (pose.c) ------------------------------------------------------------------------- */

/* Camera-to-ENU rotation, row-major, for heading/pitch/roll in degrees:
 *   R_c2w = Base(heading) * Rx(pitch) * Rz(roll)
 *   Base(h): columns x = (cos h, -sin h, 0), y = (0, 0, -1), z = (sin h, cos h, 0)
 *   Rx(p) = [[1,0,0],[0,cos p,-sin p],[0,sin p,cos p]]   (z tilts toward -y = up for p > 0)
 *   Rz(r) = [[cos r,-sin r,0],[sin r,cos r,0],[0,0,1]] */
void smp_rot_c2w(double heading_deg, double pitch_deg, double roll_deg, double R[9]);
/* OpenCV world(ENU)-to-camera 4x4, row-major: [R^T | -R^T C; 0 0 0 1]. */
void smp_w2c(const double R[9], const double C[3], double w2c[16]);

/* ---- Scene and renderer (scene.c) ---------------------------------------------------------- */

typedef struct smp_scene smp_scene;

/* Builds the street scene around a driving path given as n >= 2 vertices (east, north in the
 * ENU frame, metres): road, sidewalks, box buildings with procedural facades on both sides,
 * street lights, distant hills and sky, all from seed. ground_u is the ENU height of the
 * (flat) ground. On success *out must be freed with smp_scene_destroy. The scene is read-only
 * afterwards: any number of threads may render from it at once. */
int smp_scene_build(const double (*path)[2], int n, uint64_t seed, double ground_u,
		    smp_scene **out, svt_err *err);
void smp_scene_destroy(smp_scene *s);
/* Number of boxes and poles, for the summary line. */
void smp_scene_counts(const smp_scene *s, int *boxes, int *poles);

/* Ray-casts an equirectangular panorama (docs/conventions.md) at camera centre C (ENU) with
 * camera-to-ENU rotation R: rgb is W x H x 3 (caller-allocated), depth is DW x DH range along
 * each pixel's own ray in millimetres (0: sky, or beyond 65.535 m), either may be NULL.
 * Deterministic: the result depends only on the arguments. Reentrant. Fails only when out
 * of memory (SVT_E_NOMEM). */
int smp_render(const smp_scene *s, const double C[3], const double R[9], uint8_t *rgb, int W,
	       int H, uint16_t *depth, int DW, int DH, svt_err *err);

/* ---- Files (encode.c) ----------------------------------------------------------------------- */

/* What goes into a panorama's EXIF and XMP. */
typedef struct smp_meta {
	int has_gps;
	double lat, lon, h;         /* degrees, ellipsoidal metres (written as GPSAltitude) */
	double heading, pitch, roll; /* degrees */
	int64_t time_us;            /* UTC microseconds since 1970 */
	int tz_min;                 /* local zone of DateTimeOriginal, minutes east of UTC */
} smp_meta;

/* Encodes rgb (W x H x 3) as a JPEG (quality 90, 4:2:0) with the EXIF and GPano XMP of m and
 * writes it to path. keep_frac < 1 cuts the file to that fraction of its bytes (a deliberately
 * truncated capture file). */
int smp_jpeg_write(const char *path, const uint8_t *rgb, int W, int H, const smp_meta *m,
		   double keep_frac, svt_err *err);
/* Writes a 16-bit grayscale PNG. */
int smp_png16_write(const char *path, const uint16_t *px, int W, int H, svt_err *err);
/* The same for an 8-bit grayscale PNG (the static-scene masks). */
int smp_png8_write(const char *path, const uint8_t *px, int W, int H, svt_err *err);

/* Formats t (UTC microseconds) as ISO 8601 "YYYY-MM-DDTHH:MM:SS.ffffffZ" (cap >= 28), or its
 * civil fields shifted by tz_min minutes. */
void smp_time_iso(int64_t t_us, char *out, size_t cap);
void smp_time_civil(int64_t t_us, int tz_min, int *Y, int *M, int *D, int *h, int *m, int *s,
		    int *us);
/* Days since 1970-01-01 of a proleptic Gregorian date. */
int64_t smp_days_from_civil(int y, int m, int d);

/* ---- Capture runs: transient objects and light (transient.c) ------------------------------- */

/* A transient object of one capture run (a parked car, a pedestrian): a box standing on the
 * ground, turned by yaw about the vertical. */
typedef struct smp_tbox {
	double cx, cy, hx, hy, z0, z1; /* centre (ENU), half extents along / across, heights */
	double ca, sa;                 /* cos, sin of its axis from east (counter-clockwise) */
	float rgb[3];
	int kind;                      /* 0 car, 1 pedestrian */
} smp_tbox;

/* What a capture run adds to the static scene: its transient boxes (not owned) and a light
 * gain per channel (time of day; n_gain 0 = no gain, the default capture). */
typedef struct smp_run_look {
	const smp_tbox *boxes;
	int n;
	int n_gain;
	double gain[3];
} smp_run_look;

/* The transients and light of run `run` (>= 1) of the street along path (n vertices, as for
 * smp_scene_build; ground at ground_u): parked cars at both kerbs and pedestrians on both
 * sidewalks, placed from (seed, run) only, so each run has its own and every run the same
 * buildings. *boxes is malloc'd (caller frees). Fails only when out of memory. */
int smp_run_make(const double (*path)[2], int n, uint64_t seed, int run, double ground_u,
		 smp_tbox **boxes, int *nboxes, smp_run_look *look, svt_err *err);
/* Ray (origin o, unit direction d) against a transient box: entry distance (> 1e-6) and the
 * face (0..3 sides, 4 top), or DBL_MAX when it misses. */
double smp_tbox_hit(const smp_tbox *b, const double o[3], const double d[3], int *face);
/* The colour of a transient's face under the sun (unit vector toward it). */
void smp_tbox_shade(const smp_tbox *b, int face, const double sun[3], double c[3]);
/* Sets (run NULL: clears) the transients and light every later smp_render of s shows. Not
 * thread-safe against renders in flight: call between them. */
void smp_scene_set_run(smp_scene *s, const smp_run_look *run);
/* The static-scene mask of the panorama at C, R: W x H bytes on the panorama convention,
 * 255 where the pixel's own ray meets the static scene (buildings, road, poles, hills, sky),
 * 0 where it meets a transient of the run. Returns SVT_E_NOMEM or 0. */
int smp_render_static_mask(const smp_scene *s, const double C[3], const double R[9],
			   uint8_t *mask, int W, int H);

#endif
