/* geo.h: georeferencing with PROJ (projected Korean CRSs, local ENU frames) and camera poses.
 *
 * Conventions (docs/conventions.md):
 * - Geographic input/output is always longitude, latitude in degrees (WGS84, EPSG:4326), height
 *   in metres above the ellipsoid; projected output is always easting, northing (PROJ's
 *   proj_normalize_for_visualization), whatever the EPSG axis order says.
 * - ENU: a topocentric frame tangent to the WGS84 ellipsoid at an origin (lat0, lon0, h0):
 *   x east, y north, z up, metres.
 * - Poses are OpenCV world-to-camera 4x4, row-major: x_cam = R x_world + t, camera axes x right,
 *   y down, z forward. The world is the ENU frame.
 * - heading: degrees clockwise from true north; pitch: degrees, positive looking up; roll:
 *   degrees, positive turning the camera clockwise about its forward axis as seen from behind.
 * PJ* and PJ_CONTEXT never leave this module. A geo_crs / geo_enu is used by one thread at a
 * time (each owns its PJ_CONTEXT): create one per thread.
 */
#ifndef SVT_GEO_H
#define SVT_GEO_H

#include "base/svt.h"

/* ---- Projected CRS ------------------------------------------------------------------------ */

#define GEO_EPSG_DEFAULT 5186 /* KGD2002 / Central Belt 2010 */

typedef struct geo_crs geo_crs;

/* Creates a transformation WGS84 (lon, lat, h) <-> EPSG:epsg (easting, northing, h). Any
 * projected CRS PROJ knows. Free with geo_crs_destroy (NULL is harmless). The object owns its
 * own PJ_CONTEXT: use it from one thread at a time (create one per thread). Where PROJ knows
 * several operations (EPSG:5174 and 2097: Korean 1985 -> WGS 84 datum shifts), PROJ picks the
 * most accurate one valid at each point; geo_crs_operation_name says which family it built.
 * Heights pass through unchanged (for 2D CRSs PROJ sets them aside even across a datum
 * shift). */
int geo_crs_create(int epsg, geo_crs **out, svt_err *err);
/* Same, between any two EPSG codes (4326 stands for lon/lat degrees). */
int geo_crs_create_pair(int epsg_from, int epsg_to, geo_crs **out, svt_err *err);
void geo_crs_destroy(geo_crs *c);
int geo_crs_epsg(const geo_crs *c);
/* The target CRS's name as PROJ gives it (owned by c). */
const char *geo_crs_name(const geo_crs *c);
/* The source EPSG code (4326 for geo_crs_create). */
int geo_crs_epsg_from(const geo_crs *c);
/* 1 when the source (target = 0) or target (target = 1) CRS is geographic: its coordinates
 * are lon/lat degrees rather than easting/northing metres. */
int geo_crs_is_geographic(const geo_crs *c, int target);
/* The name of the coordinate operation PROJ built (owned by c), for reports and docs. */
const char *geo_crs_operation_name(const geo_crs *c);

/* Transforms n points in place, in one proj_trans_generic batch. x = lon -> easting,
 * y = lat -> northing; z (may be NULL) = height. stride is in bytes between consecutive
 * values of one array (sizeof(double) for packed arrays). Points PROJ cannot transform become
 * HUGE_VAL and the call returns SVT_E_PROJ after transforming the rest. */
int geo_crs_forward(geo_crs *c, double *x, double *y, double *z, size_t stride, size_t n,
		    svt_err *err);
int geo_crs_inverse(geo_crs *c, double *x, double *y, double *z, size_t stride, size_t n,
		    svt_err *err);
/* Benchmark baseline only: PROJ's own proj_trans_generic on the same operation, forward, with
 * no checks; returns what PROJ returns. Lets `svtwin bench geo` time PROJ without PJ* leaving
 * this module. */
int geo_crs_proj_baseline(geo_crs *c, double *x, double *y, double *z, size_t stride,
			  size_t n);

/* ---- Local ENU frames -------------------------------------------------------------------- */

typedef struct geo_enu geo_enu;

/* Creates an ENU frame with its origin at lat0, lon0 (degrees), h0 (ellipsoidal metres),
 * through PROJ's pipeline unitconvert -> cart (WGS84) -> topocentric. Owns its PJ_CONTEXT:
 * one frame per thread. Free with geo_enu_destroy (NULL is harmless). */
int geo_enu_create(double lat0, double lon0, double h0, geo_enu **out, svt_err *err);
void geo_enu_destroy(geo_enu *e);
void geo_enu_origin(const geo_enu *e, double *lat0, double *lon0, double *h0);
/* The origin in a projected CRS (easting, northing), for recording beside lat/lon/h. */
int geo_enu_origin_projected(const geo_enu *e, geo_crs *crs, double *easting,
			     double *northing, svt_err *err);

/* lon/lat/h (degrees, metres) -> e/n/u in place (x<-lon, y<-lat, z<-h), one batch. */
int geo_enu_forward(geo_enu *e, double *x, double *y, double *z, size_t stride, size_t n,
		    svt_err *err);
/* e/n/u -> lon/lat/h in place. For both directions z may be NULL: heights (or up) are then
 * taken as 0 and not returned. Points that fail become HUGE_VAL and the call returns
 * SVT_E_PROJ after transforming the rest. */
int geo_enu_inverse(geo_enu *e, double *x, double *y, double *z, size_t stride, size_t n,
		    svt_err *err);

/* ---- Rotations and poses ----------------------------------------------------------------- */

/* Camera-to-ENU rotation (row-major 3x3; its columns are the camera's x, y, z axes in ENU)
 * for a camera with the given heading, pitch and roll in degrees. */
void geo_rot_from_hpr(double heading, double pitch, double roll, double R_c2w[9]);
/* The inverse: heading [0, 360), pitch [-90, 90], roll (-180, 180] of a camera-to-ENU
 * rotation. Looking straight up or down, roll is folded into heading (roll = 0). */
void geo_rot_to_hpr(const double R_c2w[9], double *heading, double *pitch, double *roll);

/* World-to-camera 4x4 (row-major) from a camera centre in ENU and a camera-to-ENU rotation. */
void geo_pose_w2c(const double C_enu[3], const double R_c2w[9], double w2c[16]);
/* Camera centre and camera-to-world rotation of a world-to-camera 4x4. */
void geo_pose_center(const double w2c[16], double C[3], double R_c2w[9]);
/* The whole chain for one frame: a GPS position (lat, lon degrees, h ellipsoidal metres) into
 * e's ENU frame, heading (true), pitch and roll into R_c2w, then the world-to-camera 4x4.
 * Same thread rule as e. */
int geo_pose_from_gps(geo_enu *e, double lat, double lon, double h, double heading,
		      double pitch, double roll, double w2c[16], svt_err *err);

/* Unit quaternion (w, x, y, z) <-> rotation matrix; slerp between two poses (centres linear,
 * rotations spherical), u in [0, 1]. */
void geo_quat_from_rot(const double R[9], double q[4]);
void geo_rot_from_quat(const double q[4], double R[9]);
void geo_pose_slerp(const double w2c_a[16], const double w2c_b[16], double u, double w2c[16]);
/* Quaternion slerp along the shorter arc; q is unit length. */
void geo_quat_slerp(const double qa[4], const double qb[4], double u, double q[4]);

/* kapture trajectories.txt rows (qw, qx, qy, qz, tx, ty, tz) are world-to-device:
 * x_dev = R(q) x_world + t. These convert exactly to/from an OpenCV world-to-camera 4x4 (the
 * same map, so no axis change: kapture cameras use OpenCV/COLMAP axes). q need not be unit
 * length on input (it is normalised); the output quaternion has qw >= 0. */
void geo_pose_from_kapture(const double q_w2d[4], const double t_w2d[3], double w2c[16]);
void geo_pose_to_kapture(const double w2c[16], double q_w2d[4], double t_w2d[3]);

/* The rotation of a view camera in a panorama's camera frame: R = R_pano^T R_view, both
 * camera-to-ENU (docs/conventions.md); what gpu_view.R takes to cut that view from that
 * panorama. R may not alias the inputs. Pure. */
void geo_rot_relative(const double R_pano[9], const double R_view[9], double R[9]);

/* Angle in degrees between two rotations. */
double geo_rot_angle_deg(const double Ra[9], const double Rb[9]);

/* Magnetic declination (degrees, east positive) at a place and time; used to turn a magnetic
 * heading (EXIF GPSImgDirectionRef M) into a true one. From the World Magnetic Model 2025
 * (degree 12, published coefficients, at the ellipsoid surface); valid 2025.0-2030.0 and
 * extrapolated linearly outside (see geo_wmm_valid). NaN for invalid input. Thread-safe. */
double geo_declination_deg(double lat, double lon, double year);
/* WMM2025 field at lat, lon (degrees), h_m (metres above WGS84) and decimal year: north,
 * east, down in nT. Returns 0 or SVT_E_INPUT (no message: pure function). */
int geo_wmm_field(double lat, double lon, double h_m, double year, double xyz_nT[3]);
/* 1 when year lies in the model's validity window [2025.0, 2030.0). */
int geo_wmm_valid(double year);
/* A true heading in [0, 360): heading itself when magnetic is 0, otherwise heading plus the
 * declination: configured_decl when finite (a user's configured value), else the model's. */
double geo_heading_true(double heading, int magnetic, double lat, double lon, double year,
			double configured_decl);

/* Geodesic distance in metres and initial bearing in degrees ([0, 360), clockwise from
 * north) on the WGS84 ellipsoid (Karney's algorithm, PROJ's geodesic.h). Thread-safe. */
double geo_distance_m(double lat1, double lon1, double lat2, double lon2);
double geo_bearing_deg(double lat1, double lon1, double lat2, double lon2);
/* The point dist_m along the geodesic from lat1, lon1 at bearing_deg (WGS84). */
void geo_destination(double lat1, double lon1, double bearing_deg, double dist_m, double *lat2,
		     double *lon2);

/* ---- GPS tracks -------------------------------------------------------------------------- */

enum {
	GEO_FIX_OUTLIER = 1, /* inconsistent with the track: do not use its position */
	GEO_FIX_JUMP = 2,    /* kept, but the track jumps just before it (re-acquisition) */
};

typedef struct geo_track_params {
	double max_speed_mps; /* implied speed above this between fixes is a jump */
	double noise_m;       /* distance allowance for GNSS scatter before speed is judged */
	int min_run;          /* consistent fixes needed after a jump to keep it as real */
} geo_track_params;

/* Defaults: 50 m/s, 10 m, 3 fixes. */
void geo_track_params_default(geo_track_params *p);

/* Flags fixes (t seconds, non-decreasing; lat/lon degrees) whose implied speed from the last
 * accepted fix exceeds the limit. The longest self-consistent run is trusted first; the walk
 * goes outwards from it. A fix is never moved, only flagged (flags[n], caller-owned, written
 * whole). params may be NULL (defaults). *n_outliers (may be NULL) counts GEO_FIX_OUTLIER.
 * Thread-safe. */
int geo_track_flag_outliers(const double *t, const double *lat, const double *lon, size_t n,
			    const geo_track_params *params, uint8_t *flags, size_t *n_outliers,
			    svt_err *err);

/* Heading of travel at each fix (degrees clockwise from true north, [0, 360)): the geodesic
 * bearing from the nearest earlier to the nearest later usable fix at least min_dist_m away
 * (one side only at the ends), skipping GEO_FIX_OUTLIER fixes and never differencing across
 * a GEO_FIX_JUMP. NaN where the track does not move (a stop). flags may be NULL. */
int geo_track_headings(const double *lat, const double *lon, const uint8_t *flags, size_t n,
		       double min_dist_m, double *heading, svt_err *err);

/* Smooths a track into separate output arrays (the inputs stay as they are): at each fix, a
 * Gaussian-weighted (sigma_s seconds) local linear fit in time of the fixes not flagged
 * GEO_FIX_OUTLIER, so constant-velocity motion passes through unchanged. h and h_out may be
 * NULL; flags may be NULL (all used). Outliers get the fitted position of their neighbours.
 * t must be non-decreasing (SVT_E_INPUT otherwise). O(n * fixes within 4 sigma). A fix with
 * no usable fix in its window (all outliers) is copied unchanged. Thread-safe. */
int geo_track_smooth(const double *t, const double *lat, const double *lon, const double *h,
		     const uint8_t *flags, size_t n, double sigma_s, double *lat_out,
		     double *lon_out, double *h_out, svt_err *err);

/* ---- Which CRS fits a capture ----------------------------------------------------------- */

/* The area where EPSG:epsg is valid, from PROJ's database (proj_get_area_of_use): a lon/lat
 * box in degrees (west > east when it crosses the antimeridian) and its name (into name, cap
 * bytes; may be NULL). SVT_E_PROJ for an unknown code, SVT_E_NOTFOUND when PROJ knows no area. */
int geo_crs_area_of_use(int epsg, double *west, double *south, double *east, double *north,
			char *name, size_t cap, svt_err *err);

/* 1 when the target CRS of c is valid at lat, lon (degrees): inside its area of use, or when
 * PROJ gives it none. A frame outside an explicitly chosen CRS is to be rejected with a reason
 * (ingest's INGEST_REJ_OUTSIDE_CRS), not projected: distances there are wrong (EPSG:5186 in
 * Sweden is 27 % long) or PROJ fails. Thread-safe on distinct objects. */
int geo_crs_covers(const geo_crs *c, double lat, double lon);

/* The WGS 84 / UTM zone holding lat, lon: 32600 + zone north of the equator, 32700 + zone
 * south, with the Norway (32V) and Svalbard (31X-37X) exceptions. SVT_E_UNSUPPORTED outside
 * UTM's latitudes [-80, 84]. Pure. */
int geo_utm_epsg_for(double lat, double lon, int *epsg, svt_err *err);

/* The default CRS of a capture whose (first, or central) frame is at lat, lon:
 * GEO_EPSG_DEFAULT (EPSG:5186) when the point is inside its area of use, otherwise the
 * point's UTM zone (geo_utm_epsg_for). The caller says which it chose in the log and the
 * shard. */
int geo_crs_default_for(double lat, double lon, int *epsg, svt_err *err);

/* Checks a user's --crs: PROJ must know it and it must be a projected CRS (easting, northing
 * in metres). A geographic CRS (EPSG:4326, 4737...) or a geocentric one is refused with a
 * message that says why and what to use instead. Pure apart from PROJ's database. */
int geo_crs_check_projected(int epsg, svt_err *err);

#endif
