/* pose.c: the camera-to-ENU rotation of docs/conventions.md, written out independently of
 * geo_rot_from_hpr so that the ground truth does not share code with the pipeline. */
#include "samples/samples.h"

#include <math.h>

static void mat3_mul(const double A[9], const double B[9], double C[9])
{
	for (int i = 0; i < 3; i++)
		for (int j = 0; j < 3; j++)
			C[3 * i + j] = A[3 * i] * B[j] + A[3 * i + 1] * B[3 + j] + A[3 * i + 2] * B[6 + j];
}

void smp_rot_c2w(double heading_deg, double pitch_deg, double roll_deg, double R[9])
{
	double h = heading_deg * M_PI / 180.0, p = pitch_deg * M_PI / 180.0,
	       r = roll_deg * M_PI / 180.0;
	double ch = cos(h), sh = sin(h), cp = cos(p), sp = sin(p), cr = cos(r), sr = sin(r);
	/* R_c2w = Base(heading) * Rx(pitch) * Rz(roll); Base's columns are the level camera's
	 * x (right), y (down) and z (forward) axes in ENU. */
	const double base[9] = {ch, 0, sh, -sh, 0, ch, 0, -1, 0};
	const double rx[9] = {1, 0, 0, 0, cp, -sp, 0, sp, cp};
	const double rz[9] = {cr, -sr, 0, sr, cr, 0, 0, 0, 1};
	double t[9];
	mat3_mul(base, rx, t);
	mat3_mul(t, rz, R);
}

void smp_w2c(const double R[9], const double C[3], double w2c[16])
{
	for (int i = 0; i < 3; i++) {
		double t = 0;
		for (int j = 0; j < 3; j++) {
			w2c[4 * i + j] = R[3 * j + i]; /* R^T */
			t -= R[3 * j + i] * C[j];
		}
		w2c[4 * i + 3] = t;
	}
	w2c[12] = w2c[13] = w2c[14] = 0;
	w2c[15] = 1;
}
