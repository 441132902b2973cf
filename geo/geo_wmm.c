/* geo_wmm.c: magnetic declination from the World Magnetic Model 2025 (NOAA NCEI / BGS).
 *
 * The coefficients below are WMM2025's published Gauss coefficients (WMM.COF, epoch 2025.0,
 * released 11/13/2024, degree and order 12; US government work, public domain). The
 * evaluation follows the WMM2025 technical report: geodetic -> geocentric spherical
 * coordinates on WGS84, Schmidt semi-normalised associated Legendre functions, the field's
 * spherical components, then rotation back to the geodetic vertical. It reproduces NOAA's
 * WMM2025 test values (tests/geo/control_points.txt). Pure arithmetic, thread-safe. */
#include "geo/geo.h"

#include <math.h>
#include <string.h>

#define WMM_N 12
#define WMM_EPOCH 2025.0
#define WMM_RE_KM 6371.2          /* geomagnetic reference radius */
#define WGS84_A_KM 6378.137
#define WGS84_F (1.0 / 298.257223563)

/* n, m, g (nT), h (nT), g' (nT/yr), h' (nT/yr), as in WMM.COF. */
static const double wmm2025[][6] = {
	{1, 0, -29351.8, 0.0, 12.0, 0.0},
	{1, 1, -1410.8, 4545.4, 9.7, -21.5},
	{2, 0, -2556.6, 0.0, -11.6, 0.0},
	{2, 1, 2951.1, -3133.6, -5.2, -27.7},
	{2, 2, 1649.3, -815.1, -8.0, -12.1},
	{3, 0, 1361.0, 0.0, -1.3, 0.0},
	{3, 1, -2404.1, -56.6, -4.2, 4.0},
	{3, 2, 1243.8, 237.5, 0.4, -0.3},
	{3, 3, 453.6, -549.5, -15.6, -4.1},
	{4, 0, 895.0, 0.0, -1.6, 0.0},
	{4, 1, 799.5, 278.6, -2.4, -1.1},
	{4, 2, 55.7, -133.9, -6.0, 4.1},
	{4, 3, -281.1, 212.0, 5.6, 1.6},
	{4, 4, 12.1, -375.6, -7.0, -4.4},
	{5, 0, -233.2, 0.0, 0.6, 0.0},
	{5, 1, 368.9, 45.4, 1.4, -0.5},
	{5, 2, 187.2, 220.2, 0.0, 2.2},
	{5, 3, -138.7, -122.9, 0.6, 0.4},
	{5, 4, -142.0, 43.0, 2.2, 1.7},
	{5, 5, 20.9, 106.1, 0.9, 1.9},
	{6, 0, 64.4, 0.0, -0.2, 0.0},
	{6, 1, 63.8, -18.4, -0.4, 0.3},
	{6, 2, 76.9, 16.8, 0.9, -1.6},
	{6, 3, -115.7, 48.8, 1.2, -0.4},
	{6, 4, -40.9, -59.8, -0.9, 0.9},
	{6, 5, 14.9, 10.9, 0.3, 0.7},
	{6, 6, -60.7, 72.7, 0.9, 0.9},
	{7, 0, 79.5, 0.0, -0.0, 0.0},
	{7, 1, -77.0, -48.9, -0.1, 0.6},
	{7, 2, -8.8, -14.4, -0.1, 0.5},
	{7, 3, 59.3, -1.0, 0.5, -0.8},
	{7, 4, 15.8, 23.4, -0.1, 0.0},
	{7, 5, 2.5, -7.4, -0.8, -1.0},
	{7, 6, -11.1, -25.1, -0.8, 0.6},
	{7, 7, 14.2, -2.3, 0.8, -0.2},
	{8, 0, 23.2, 0.0, -0.1, 0.0},
	{8, 1, 10.8, 7.1, 0.2, -0.2},
	{8, 2, -17.5, -12.6, 0.0, 0.5},
	{8, 3, 2.0, 11.4, 0.5, -0.4},
	{8, 4, -21.7, -9.7, -0.1, 0.4},
	{8, 5, 16.9, 12.7, 0.3, -0.5},
	{8, 6, 15.0, 0.7, 0.2, -0.6},
	{8, 7, -16.8, -5.2, -0.0, 0.3},
	{8, 8, 0.9, 3.9, 0.2, 0.2},
	{9, 0, 4.6, 0.0, -0.0, 0.0},
	{9, 1, 7.8, -24.8, -0.1, -0.3},
	{9, 2, 3.0, 12.2, 0.1, 0.3},
	{9, 3, -0.2, 8.3, 0.3, -0.3},
	{9, 4, -2.5, -3.3, -0.3, 0.3},
	{9, 5, -13.1, -5.2, 0.0, 0.2},
	{9, 6, 2.4, 7.2, 0.3, -0.1},
	{9, 7, 8.6, -0.6, -0.1, -0.2},
	{9, 8, -8.7, 0.8, 0.1, 0.4},
	{9, 9, -12.9, 10.0, -0.1, 0.1},
	{10, 0, -1.3, 0.0, 0.1, 0.0},
	{10, 1, -6.4, 3.3, 0.0, 0.0},
	{10, 2, 0.2, 0.0, 0.1, -0.0},
	{10, 3, 2.0, 2.4, 0.1, -0.2},
	{10, 4, -1.0, 5.3, -0.0, 0.1},
	{10, 5, -0.6, -9.1, -0.3, -0.1},
	{10, 6, -0.9, 0.4, 0.0, 0.1},
	{10, 7, 1.5, -4.2, -0.1, 0.0},
	{10, 8, 0.9, -3.8, -0.1, -0.1},
	{10, 9, -2.7, 0.9, -0.0, 0.2},
	{10, 10, -3.9, -9.1, -0.0, -0.0},
	{11, 0, 2.9, 0.0, 0.0, 0.0},
	{11, 1, -1.5, 0.0, -0.0, -0.0},
	{11, 2, -2.5, 2.9, 0.0, 0.1},
	{11, 3, 2.4, -0.6, 0.0, -0.0},
	{11, 4, -0.6, 0.2, 0.0, 0.1},
	{11, 5, -0.1, 0.5, -0.1, -0.0},
	{11, 6, -0.6, -0.3, 0.0, -0.0},
	{11, 7, -0.1, -1.2, -0.0, 0.1},
	{11, 8, 1.1, -1.7, -0.1, -0.0},
	{11, 9, -1.0, -2.9, -0.1, 0.0},
	{11, 10, -0.2, -1.8, -0.1, 0.0},
	{11, 11, 2.6, -2.3, -0.1, 0.0},
	{12, 0, -2.0, 0.0, 0.0, 0.0},
	{12, 1, -0.2, -1.3, 0.0, -0.0},
	{12, 2, 0.3, 0.7, -0.0, 0.0},
	{12, 3, 1.2, 1.0, -0.0, -0.1},
	{12, 4, -1.3, -1.4, -0.0, 0.1},
	{12, 5, 0.6, -0.0, -0.0, -0.0},
	{12, 6, 0.6, 0.6, 0.1, -0.0},
	{12, 7, 0.5, -0.1, -0.0, -0.0},
	{12, 8, -0.1, 0.8, 0.0, 0.0},
	{12, 9, -0.4, 0.1, 0.0, -0.0},
	{12, 10, -0.2, -1.0, -0.1, -0.0},
	{12, 11, -1.3, 0.1, -0.0, 0.0},
	{12, 12, -0.7, 0.2, -0.1, -0.1},
};

#define IDX(n, m) ((n) * ((n) + 1) / 2 + (m))
#define NCOEF IDX(WMM_N + 1, 0)

int geo_wmm_field(double lat, double lon, double h_m, double year, double xyz_nT[3])
{
	if (!isfinite(lat) || !isfinite(lon) || !isfinite(h_m) || !isfinite(year) ||
	    fabs(lat) > 90.0)
		return SVT_E_INPUT;
	/* At the geographic poles 1/sin(theta) is singular; 1e-7 degrees (1 cm) away the field
	 * equals its limit to far better than the model's accuracy. */
	const double lim = 90.0 - 1e-7;
	double phi = (lat > lim ? lim : lat < -lim ? -lim : lat) * M_PI / 180.0;
	double lam = lon * M_PI / 180.0;
	double hk = h_m / 1000.0;

	/* Geodetic -> geocentric spherical (radius r, geocentric latitude phc). */
	double e2 = WGS84_F * (2.0 - WGS84_F);
	double sp = sin(phi), cp = cos(phi);
	double Nr = WGS84_A_KM / sqrt(1.0 - e2 * sp * sp);
	double px = (Nr + hk) * cp, pz = (Nr * (1.0 - e2) + hk) * sp;
	double r = hypot(px, pz);
	double phc = atan2(pz, px);
	double x = sin(phc); /* cos(colatitude) */
	double s = cos(phc); /* sin(colatitude) */

	/* Schmidt semi-normalised P(n,m)(cos theta) and dP/dtheta by the standard recursions. */
	double P[NCOEF], dP[NCOEF];
	memset(P, 0, sizeof(P));
	memset(dP, 0, sizeof(dP));
	P[0] = 1.0;
	for (int n = 1; n <= WMM_N; n++) {
		/* sectoral term */
		double f = n == 1 ? 1.0 : sqrt((2.0 * n - 1.0) / (2.0 * n));
		P[IDX(n, n)] = f * s * P[IDX(n - 1, n - 1)];
		dP[IDX(n, n)] = f * (x * P[IDX(n - 1, n - 1)] + s * dP[IDX(n - 1, n - 1)]);
		for (int m = 0; m < n; m++) {
			double a = (2.0 * n - 1.0) / sqrt((double)(n * n - m * m));
			double b = n - 2 >= m ? sqrt((double)((n - 1) * (n - 1) - m * m)) /
							sqrt((double)(n * n - m * m))
					      : 0.0;
			double p2 = n - 2 >= m ? P[IDX(n - 2, m)] : 0.0;
			double d2 = n - 2 >= m ? dP[IDX(n - 2, m)] : 0.0;
			P[IDX(n, m)] = a * x * P[IDX(n - 1, m)] - b * p2;
			dP[IDX(n, m)] = a * (x * dP[IDX(n - 1, m)] - s * P[IDX(n - 1, m)]) - b * d2;
		}
	}

	double g[NCOEF] = {0}, hh[NCOEF] = {0};
	double dt = year - WMM_EPOCH;
	for (size_t i = 0; i < SVT_ARRAY_LEN(wmm2025); i++) {
		int n = (int)wmm2025[i][0], m = (int)wmm2025[i][1];
		g[IDX(n, m)] = wmm2025[i][2] + dt * wmm2025[i][4];
		hh[IDX(n, m)] = wmm2025[i][3] + dt * wmm2025[i][5];
	}

	double Br = 0, Bt = 0, Bl = 0;
	double ar = WMM_RE_KM / r, arn = ar * ar; /* (a/r)^(n+2) built up from n = 0 */
	for (int n = 1; n <= WMM_N; n++) {
		arn *= ar;
		for (int m = 0; m <= n; m++) {
			double cm = cos(m * lam), sm = sin(m * lam);
			double gc = g[IDX(n, m)] * cm + hh[IDX(n, m)] * sm;
			Br += (n + 1) * arn * gc * P[IDX(n, m)];
			Bt -= arn * gc * dP[IDX(n, m)];
			Bl += arn * m * (g[IDX(n, m)] * sm - hh[IDX(n, m)] * cm) * P[IDX(n, m)];
		}
	}
	Bl /= s;
	/* Spherical north/east/down, then rotate by (geocentric - geodetic latitude). */
	double Xs = -Bt, Ys = Bl, Zs = -Br;
	double psi = phc - phi;
	xyz_nT[0] = Xs * cos(psi) - Zs * sin(psi);
	xyz_nT[1] = Ys;
	xyz_nT[2] = Xs * sin(psi) + Zs * cos(psi);
	return SVT_OK;
}

int geo_wmm_valid(double year)
{
	return year >= WMM_EPOCH && year < WMM_EPOCH + 5.0;
}

double geo_declination_deg(double lat, double lon, double year)
{
	double b[3];
	if (geo_wmm_field(lat, lon, 0.0, year, b))
		return NAN;
	return atan2(b[1], b[0]) * 180.0 / M_PI;
}

double geo_heading_true(double heading, int magnetic, double lat, double lon, double year,
			double configured_decl)
{
	if (!magnetic)
		return heading;
	double d = isfinite(configured_decl) ? configured_decl
					     : geo_declination_deg(lat, lon, year);
	double t = fmod(heading + d, 360.0);
	if (t < 0)
		t += 360.0;
	return t >= 360.0 ? 0.0 : t;
}
