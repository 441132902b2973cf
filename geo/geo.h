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
 * projected CRS PROJ knows. Free with geo_crs_destroy (NULL is harmless). */
int geo_crs_create(int epsg, geo_crs **out, svt_err *err);
/* Same, between any two EPSG codes (4326 stands for lon/lat degrees). */
int geo_crs_create_pair(int epsg_from, int epsg_to, geo_crs **out, svt_err *err);
void geo_crs_destroy(geo_crs *c);
int geo_crs_epsg(const geo_crs *c);
/* The target CRS's name as PROJ gives it (owned by c). */
const char *geo_crs_name(const geo_crs *c);

/* Transforms n points in place, in one proj_trans_generic batch. x = lon -> easting,
 * y = lat -> northing; z (may be NULL) = height. stride is in bytes between consecutive
 * values of one array (sizeof(double) for packed arrays). Points PROJ cannot transform become
 * HUGE_VAL and the call returns SVT_E_PROJ after transforming the rest. */
int geo_crs_forward(geo_crs *c, double *x, double *y, double *z, size_t stride, size_t n,
		    svt_err *err);
int geo_crs_inverse(geo_crs *c, double *x, double *y, double *z, size_t stride, size_t n,
		    svt_err *err);

/* ---- Local ENU frames -------------------------------------------------------------------- */

typedef struct geo_enu geo_enu;

/* Creates an ENU frame with its origin at lat0, lon0 (degrees), h0 (ellipsoidal metres). */
int geo_enu_create(double lat0, double lon0, double h0, geo_enu **out, svt_err *err);
void geo_enu_destroy(geo_enu *e);
void geo_enu_origin(const geo_enu *e, double *lat0, double *lon0, double *h0);

/* lon/lat/h (degrees, metres) -> e/n/u in place (x<-lon, y<-lat, z<-h), one batch. */
int geo_enu_forward(geo_enu *e, double *x, double *y, double *z, size_t stride, size_t n,
		    svt_err *err);
/* e/n/u -> lon/lat/h in place. */
int geo_enu_inverse(geo_enu *e, double *x, double *y, double *z, size_t stride, size_t n,
		    svt_err *err);

/* ---- Rotations and poses ----------------------------------------------------------------- */

/* Camera-to-ENU rotation (row-major 3x3; its columns are the camera's x, y, z axes in ENU)
 * for a camera with the given heading, pitch and roll in degrees. */
void geo_rot_from_hpr(double heading, double pitch, double roll, double R_c2w[9]);
/* The inverse: heading, pitch, roll of a camera-to-ENU rotation. */
void geo_rot_to_hpr(const double R_c2w[9], double *heading, double *pitch, double *roll);

/* World-to-camera 4x4 (row-major) from a camera centre in ENU and a camera-to-ENU rotation. */
void geo_pose_w2c(const double C_enu[3], const double R_c2w[9], double w2c[16]);
/* Camera centre and camera-to-world rotation of a world-to-camera 4x4. */
void geo_pose_center(const double w2c[16], double C[3], double R_c2w[9]);

/* Unit quaternion (w, x, y, z) <-> rotation matrix; slerp between two poses (centres linear,
 * rotations spherical), u in [0, 1]. */
void geo_quat_from_rot(const double R[9], double q[4]);
void geo_rot_from_quat(const double q[4], double R[9]);
void geo_pose_slerp(const double w2c_a[16], const double w2c_b[16], double u, double w2c[16]);

/* Angle in degrees between two rotations. */
double geo_rot_angle_deg(const double Ra[9], const double Rb[9]);

/* Magnetic declination (degrees, east positive) at a place and time; used to turn a magnetic
 * heading (EXIF GPSImgDirectionRef M) into a true one. */
double geo_declination_deg(double lat, double lon, double year);

/* Great-circle distance in metres and initial bearing in degrees (clockwise from north). */
double geo_distance_m(double lat1, double lon1, double lat2, double lon2);
double geo_bearing_deg(double lat1, double lon1, double lat2, double lon2);

#endif
