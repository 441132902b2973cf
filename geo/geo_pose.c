/* geo_pose.c: camera rotations from heading/pitch/roll, OpenCV world-to-camera poses,
 * quaternions and slerp. Pure arithmetic: thread-safe, no allocation.
 *
 * The convention (docs/geo.md) is fixed because the sample generator uses it as ground truth:
 *   R_c2w = Base(heading) * Rx(pitch) * Rz(roll)
 * where Base(h) has columns x = (cos h, -sin h, 0), y = (0, 0, -1), z = (sin h, cos h, 0) in
 * ENU: a level camera looking along heading h (clockwise from north) with image y pointing down.
 * Rx tilts the optical axis up for positive pitch, Rz spins the image about the optical axis. */
#include "geo/geo.h"

#include <math.h>
#include <string.h>

#define DEG (M_PI / 180.0)

static void mat3_mul(const double A[9], const double B[9], double C[9])
{
	double T[9];
	for (int i = 0; i < 3; i++)
		for (int j = 0; j < 3; j++)
			T[3 * i + j] = A[3 * i] * B[j] + A[3 * i + 1] * B[3 + j] +
				       A[3 * i + 2] * B[6 + j];
	memcpy(C, T, sizeof(T));
}

void geo_rot_from_hpr(double heading, double pitch, double roll, double R[9])
{
	double ch = cos(heading * DEG), sh = sin(heading * DEG);
	double cp = cos(pitch * DEG), sp = sin(pitch * DEG);
	double cr = cos(roll * DEG), sr = sin(roll * DEG);
	const double base[9] = {ch, 0, sh, -sh, 0, ch, 0, -1, 0};
	const double rx[9] = {1, 0, 0, 0, cp, -sp, 0, sp, cp};
	const double rz[9] = {cr, -sr, 0, sr, cr, 0, 0, 0, 1};
	double t[9];
	mat3_mul(base, rx, t);
	mat3_mul(t, rz, R);
}

/* Wraps an angle in degrees into [0, 360). */
static double wrap360(double a)
{
	a = fmod(a, 360.0);
	if (a < 0)
		a += 360.0;
	if (a >= 360.0) /* fmod of a tiny negative number rounds up to 360 */
		a = 0.0;
	return a;
}

void geo_rot_to_hpr(const double R[9], double *heading, double *pitch, double *roll)
{
	/* Column z (optical axis) = (cos p sin h, cos p cos h, sin p); row 2 (up components of the
	 * camera axes) = (-cos p sin r, -cos p cos r, sin p). */
	double zx = R[2], zy = R[5], zu = R[8];
	double h, p, r;
	double cp = hypot(zx, zy);
	p = atan2(zu, cp);
	if (cp > 1e-9) {
		h = atan2(zx, zy);
		r = atan2(-R[6], -R[7]);
	} else {
		/* Looking straight up or down: heading and roll turn about the same axis. Put it
		 * all in heading (roll 0), where the camera x axis = (cos h, -sin h, 0). */
		h = atan2(-R[3], R[0]);
		r = 0.0;
	}
	if (heading)
		*heading = wrap360(h / DEG);
	if (pitch)
		*pitch = p / DEG;
	if (roll)
		*roll = r / DEG;
}

void geo_pose_w2c(const double C[3], const double R[9], double w2c[16])
{
	/* x_cam = R^T (x_world - C) */
	for (int i = 0; i < 3; i++) {
		double t = 0;
		for (int j = 0; j < 3; j++) {
			w2c[4 * i + j] = R[3 * j + i];
			t -= R[3 * j + i] * C[j];
		}
		w2c[4 * i + 3] = t;
	}
	w2c[12] = w2c[13] = w2c[14] = 0.0;
	w2c[15] = 1.0;
}

void geo_pose_center(const double w2c[16], double C[3], double R[9])
{
	double Rl[9];
	for (int i = 0; i < 3; i++)
		for (int j = 0; j < 3; j++)
			Rl[3 * i + j] = w2c[4 * j + i]; /* R_c2w = R_w2c^T */
	if (C)
		for (int i = 0; i < 3; i++)
			C[i] = -(Rl[3 * i] * w2c[3] + Rl[3 * i + 1] * w2c[7] +
				 Rl[3 * i + 2] * w2c[11]);
	if (R)
		memcpy(R, Rl, sizeof(Rl));
}

void geo_quat_from_rot(const double R[9], double q[4])
{
	/* Shepperd: take the largest of 4w^2, 4x^2, 4y^2, 4z^2 to divide by, for accuracy. */
	double tr = R[0] + R[4] + R[8];
	double w, x, y, z;
	if (tr > R[0] && tr > R[4] && tr > R[8]) {
		double s = 2.0 * sqrt(1.0 + tr);
		w = 0.25 * s;
		x = (R[7] - R[5]) / s;
		y = (R[2] - R[6]) / s;
		z = (R[3] - R[1]) / s;
	} else if (R[0] > R[4] && R[0] > R[8]) {
		double s = 2.0 * sqrt(1.0 + R[0] - R[4] - R[8]);
		w = (R[7] - R[5]) / s;
		x = 0.25 * s;
		y = (R[1] + R[3]) / s;
		z = (R[2] + R[6]) / s;
	} else if (R[4] > R[8]) {
		double s = 2.0 * sqrt(1.0 + R[4] - R[0] - R[8]);
		w = (R[2] - R[6]) / s;
		x = (R[1] + R[3]) / s;
		y = 0.25 * s;
		z = (R[5] + R[7]) / s;
	} else {
		double s = 2.0 * sqrt(1.0 + R[8] - R[0] - R[4]);
		w = (R[3] - R[1]) / s;
		x = (R[2] + R[6]) / s;
		y = (R[5] + R[7]) / s;
		z = 0.25 * s;
	}
	/* Canonical sign (w >= 0) so equal rotations give equal quaternions. */
	double sgn = w < 0 ? -1.0 : 1.0;
	double nrm = sqrt(w * w + x * x + y * y + z * z);
	q[0] = sgn * w / nrm;
	q[1] = sgn * x / nrm;
	q[2] = sgn * y / nrm;
	q[3] = sgn * z / nrm;
}

void geo_rot_from_quat(const double qin[4], double R[9])
{
	double n = sqrt(qin[0] * qin[0] + qin[1] * qin[1] + qin[2] * qin[2] + qin[3] * qin[3]);
	double w = qin[0] / n, x = qin[1] / n, y = qin[2] / n, z = qin[3] / n;
	R[0] = 1 - 2 * (y * y + z * z);
	R[1] = 2 * (x * y - w * z);
	R[2] = 2 * (x * z + w * y);
	R[3] = 2 * (x * y + w * z);
	R[4] = 1 - 2 * (x * x + z * z);
	R[5] = 2 * (y * z - w * x);
	R[6] = 2 * (x * z - w * y);
	R[7] = 2 * (y * z + w * x);
	R[8] = 1 - 2 * (x * x + y * y);
}

void geo_quat_slerp(const double qa[4], const double qb_in[4], double u, double q[4])
{
	double qb[4];
	double d = qa[0] * qb_in[0] + qa[1] * qb_in[1] + qa[2] * qb_in[2] + qa[3] * qb_in[3];
	/* q and -q are the same rotation: go the short way round. */
	double s = d < 0 ? -1.0 : 1.0;
	for (int i = 0; i < 4; i++)
		qb[i] = s * qb_in[i];
	d = fabs(d);
	double wa, wb;
	if (d > 0.9999999) {
		/* Nearly equal: sin(theta) ~ 0, linear interpolation is exact to rounding. */
		wa = 1.0 - u;
		wb = u;
	} else {
		double th = acos(d > 1 ? 1 : d), st = sin(th);
		wa = sin((1.0 - u) * th) / st;
		wb = sin(u * th) / st;
	}
	double n = 0;
	for (int i = 0; i < 4; i++) {
		q[i] = wa * qa[i] + wb * qb[i];
		n += q[i] * q[i];
	}
	n = sqrt(n);
	for (int i = 0; i < 4; i++)
		q[i] /= n;
}

void geo_pose_slerp(const double w2c_a[16], const double w2c_b[16], double u, double w2c[16])
{
	double Ca[3], Cb[3], Ra[9], Rb[9], qa[4], qb[4], q[4], R[9], C[3];
	/* Interpolate the camera centres (not the translations t = -R^T C, which would swing the
	 * path through the rotation) and the camera-to-world rotations. */
	geo_pose_center(w2c_a, Ca, Ra);
	geo_pose_center(w2c_b, Cb, Rb);
	geo_quat_from_rot(Ra, qa);
	geo_quat_from_rot(Rb, qb);
	geo_quat_slerp(qa, qb, u, q);
	geo_rot_from_quat(q, R);
	for (int i = 0; i < 3; i++)
		C[i] = (1.0 - u) * Ca[i] + u * Cb[i];
	geo_pose_w2c(C, R, w2c);
}

double geo_rot_angle_deg(const double Ra[9], const double Rb[9])
{
	/* M = Ra^T Rb; angle = atan2(|axis part|, (tr - 1) / 2) stays accurate near 0 and 180
	 * degrees, where acos alone loses half the digits. */
	double M[9];
	for (int i = 0; i < 3; i++)
		for (int j = 0; j < 3; j++)
			M[3 * i + j] = Ra[i] * Rb[j] + Ra[3 + i] * Rb[3 + j] + Ra[6 + i] * Rb[6 + j];
	double c = 0.5 * (M[0] + M[4] + M[8] - 1.0);
	double vx = 0.5 * (M[7] - M[5]), vy = 0.5 * (M[2] - M[6]), vz = 0.5 * (M[3] - M[1]);
	double s = sqrt(vx * vx + vy * vy + vz * vz);
	return atan2(s, c) / DEG;
}

void geo_pose_from_kapture(const double q_w2d[4], const double t_w2d[3], double w2c[16])
{
	/* kapture's trajectories.txt stores world-to-device as (qw, qx, qy, qz, tx, ty, tz):
	 * x_dev = R(q) x_world + t, which is already OpenCV's world-to-camera form when the
	 * device is a camera (kapture cameras use the OpenCV/COLMAP axes). */
	double R[9];
	geo_rot_from_quat(q_w2d, R);
	for (int i = 0; i < 3; i++) {
		for (int j = 0; j < 3; j++)
			w2c[4 * i + j] = R[3 * i + j];
		w2c[4 * i + 3] = t_w2d[i];
	}
	w2c[12] = w2c[13] = w2c[14] = 0.0;
	w2c[15] = 1.0;
}

void geo_pose_to_kapture(const double w2c[16], double q_w2d[4], double t_w2d[3])
{
	double R[9];
	for (int i = 0; i < 3; i++) {
		for (int j = 0; j < 3; j++)
			R[3 * i + j] = w2c[4 * i + j];
		t_w2d[i] = w2c[4 * i + 3];
	}
	geo_quat_from_rot(R, q_w2d);
}

int geo_pose_from_gps(geo_enu *e, double lat, double lon, double h, double heading,
		      double pitch, double roll, double w2c[16], svt_err *err)
{
	if (!e || !w2c)
		return svt_err_set(err, SVT_E_INPUT, "geo_pose_from_gps: NULL argument");
	if (!isfinite(heading) || !isfinite(pitch) || !isfinite(roll))
		return svt_err_set(err, SVT_E_INPUT, "geo_pose_from_gps: angle is not finite");
	double C[3] = {lon, lat, h}, R[9];
	int rc = geo_enu_forward(e, &C[0], &C[1], &C[2], sizeof(double), 1, err);
	if (rc)
		return rc;
	geo_rot_from_hpr(heading, pitch, roll, R);
	geo_pose_w2c(C, R, w2c);
	return SVT_OK;
}

void geo_rot_relative(const double R_pano[9], const double R_view[9], double R[9])
{
	for (int r = 0; r < 3; r++)
		for (int c = 0; c < 3; c++) {
			double s = 0;
			for (int i = 0; i < 3; i++)
				s += R_pano[3 * i + r] * R_view[3 * i + c];
			R[3 * r + c] = s;
		}
}
