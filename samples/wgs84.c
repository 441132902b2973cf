/* wgs84.c: geodetic <-> ECEF <-> local ENU on the WGS84 ellipsoid, in closed form.
 *
 * Deliberately independent of geo/ (which goes through PROJ): the generator's positions are
 * the ground truth the pipeline's PROJ path is checked against, so they must not come from it.
 */
#include "samples/samples.h"

#include <math.h>

static const double DEG = M_PI / 180.0;

static double wgs84_e2(void)
{
	return SMP_WGS84_F * (2.0 - SMP_WGS84_F);
}

void smp_llh_to_ecef(const double llh[3], double xyz[3])
{
	double e2 = wgs84_e2();
	double lat = llh[0] * DEG, lon = llh[1] * DEG, h = llh[2];
	double sl = sin(lat), cl = cos(lat);
	double N = SMP_WGS84_A / sqrt(1.0 - e2 * sl * sl);
	xyz[0] = (N + h) * cl * cos(lon);
	xyz[1] = (N + h) * cl * sin(lon);
	xyz[2] = (N * (1.0 - e2) + h) * sl;
}

void smp_ecef_to_llh(const double xyz[3], double llh[3])
{
	double e2 = wgs84_e2();
	double X = xyz[0], Y = xyz[1], Z = xyz[2];
	double p = hypot(X, Y);
	double lon = atan2(Y, X);
	/* Start from the geocentric latitude corrected by (1 - e2): already within ~1e-3 rad, and
	 * each step of lat = atan2(Z + e2 N sin lat, p) gains about three orders of magnitude. */
	double lat = atan2(Z, p * (1.0 - e2)), N = SMP_WGS84_A;
	for (int i = 0; i < 30; i++) {
		double sl = sin(lat);
		N = SMP_WGS84_A / sqrt(1.0 - e2 * sl * sl);
		double next = atan2(Z + e2 * N * sl, p);
		double step = fabs(next - lat);
		lat = next;
		if (step < 1e-14)
			break;
	}
	double sl = sin(lat), cl = cos(lat);
	N = SMP_WGS84_A / sqrt(1.0 - e2 * sl * sl);
	/* Height from whichever of p, Z is better conditioned at this latitude. */
	double h = fabs(cl) > 0.5 ? p / cl - N : Z / sl - N * (1.0 - e2);
	llh[0] = lat / DEG;
	llh[1] = lon / DEG;
	llh[2] = h;
}

/* Rows of the ECEF -> ENU rotation at the origin: east, north, up. */
static void enu_axes(const double o_llh[3], double E[3], double Nn[3], double U[3])
{
	double lat = o_llh[0] * DEG, lon = o_llh[1] * DEG;
	double sl = sin(lat), cl = cos(lat), so = sin(lon), co = cos(lon);
	E[0] = -so, E[1] = co, E[2] = 0;
	Nn[0] = -sl * co, Nn[1] = -sl * so, Nn[2] = cl;
	U[0] = cl * co, U[1] = cl * so, U[2] = sl;
}

void smp_llh_to_enu(const double o_llh[3], const double llh[3], double enu[3])
{
	double o[3], p[3], E[3], N[3], U[3];
	smp_llh_to_ecef(o_llh, o);
	smp_llh_to_ecef(llh, p);
	enu_axes(o_llh, E, N, U);
	double d[3] = {p[0] - o[0], p[1] - o[1], p[2] - o[2]};
	enu[0] = E[0] * d[0] + E[1] * d[1] + E[2] * d[2];
	enu[1] = N[0] * d[0] + N[1] * d[1] + N[2] * d[2];
	enu[2] = U[0] * d[0] + U[1] * d[1] + U[2] * d[2];
}

void smp_enu_to_llh(const double o_llh[3], const double enu[3], double llh[3])
{
	double o[3], E[3], N[3], U[3], p[3];
	smp_llh_to_ecef(o_llh, o);
	enu_axes(o_llh, E, N, U);
	for (int i = 0; i < 3; i++)
		p[i] = o[i] + E[i] * enu[0] + N[i] * enu[1] + U[i] * enu[2];
	smp_ecef_to_llh(p, llh);
}
