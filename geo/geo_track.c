/* geo_track.c: GPS track quality: outlier flagging by implied speed, and smoothing.
 *
 * Flagging never moves a fix: it only marks it (GEO_FIX_OUTLIER, GEO_FIX_JUMP). The smoother
 * writes separate output arrays. Pure arithmetic on caller memory, thread-safe. */
#include "geo/geo.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void geo_track_params_default(geo_track_params *p)
{
	if (!p)
		return;
	p->max_speed_mps = 50.0; /* 180 km/h: faster than any street-view car in a city */
	p->noise_m = 10.0;       /* consumer GNSS scatter that must not read as speed */
	p->min_run = 3;
}

/* Implied speed from fix a to fix b, with the noise allowance taken off the distance so
 * that two jittery fixes a few ms apart do not look like a jet. */
static double implied_speed(const double *t, const double *lat, const double *lon, size_t a,
			    size_t b, double noise)
{
	double d = geo_distance_m(lat[a], lon[a], lat[b], lon[b]) - noise;
	if (d <= 0)
		return 0.0;
	double dt = fabs(t[b] - t[a]);
	return dt > 0 ? d / dt : INFINITY;
}

int geo_track_flag_outliers(const double *t, const double *lat, const double *lon, size_t n,
			    const geo_track_params *params, uint8_t *flags, size_t *n_outliers,
			    svt_err *err)
{
	geo_track_params p;
	if (params)
		p = *params;
	else
		geo_track_params_default(&p);
	if (n_outliers)
		*n_outliers = 0;
	if (n && (!t || !lat || !lon || !flags))
		return svt_err_set(err, SVT_E_INPUT, "geo_track_flag_outliers: NULL array");
	if (!(p.max_speed_mps > 0) || p.noise_m < 0 || p.min_run < 1)
		return svt_err_set(err, SVT_E_INPUT,
				   "geo_track_flag_outliers: bad params (speed %g, noise %g, run %d)",
				   p.max_speed_mps, p.noise_m, p.min_run);
	for (size_t i = 0; i < n; i++) {
		if (!isfinite(t[i]) || !isfinite(lat[i]) || !isfinite(lon[i]) ||
		    fabs(lat[i]) > 90.0)
			return svt_err_set(err, SVT_E_INPUT, "fix %zu is not a valid position/time",
					   i);
		if (i && t[i] < t[i - 1])
			return svt_err_set(err, SVT_E_INPUT,
					   "fix %zu goes back in time (%.3f < %.3f): sort the track",
					   i, t[i], t[i - 1]);
	}
	if (n == 0)
		return SVT_OK;
	memset(flags, 0, n);

	/* The anchor is the longest run of mutually consistent consecutive fixes: the track is
	 * trusted where most of it agrees with itself, not wherever it happens to start. */
	size_t best_a = 0, best_len = 1, run_a = 0;
	for (size_t i = 1; i <= n; i++) {
		int ok = i < n &&
			 implied_speed(t, lat, lon, i - 1, i, p.noise_m) <= p.max_speed_mps;
		if (!ok) {
			if (i - run_a > best_len) {
				best_len = i - run_a;
				best_a = run_a;
			}
			run_a = i;
		}
	}

	/* Walk outwards from the anchor, comparing each fix with the last accepted one. A
	 * rejected fix that starts a consistent run of min_run fixes is a real discontinuity
	 * (re-acquisition, a time offset): it is kept and marked GEO_FIX_JUMP. */
	for (int dir = 1; dir >= -1; dir -= 2) {
		size_t last = dir > 0 ? best_a + best_len - 1 : best_a;
		for (size_t k = 1;; k++) {
			if (dir > 0 && last + k >= n)
				break;
			if (dir < 0 && k > last)
				break;
			size_t i = dir > 0 ? last + k : last - k;
			if (implied_speed(t, lat, lon, last, i, p.noise_m) <= p.max_speed_mps) {
				last = i;
				k = 0;
				continue;
			}
			int run = 1;
			for (int j = 1; j < p.min_run; j++) {
				long a = (long)i + dir * (j - 1), b = (long)i + dir * j;
				if (b < 0 || b >= (long)n)
					break;
				if (implied_speed(t, lat, lon, (size_t)a, (size_t)b, p.noise_m) >
				    p.max_speed_mps)
					break;
				run++;
			}
			if (run >= p.min_run) {
				/* the flag goes on the later fix of the discontinuous pair */
				flags[dir > 0 ? i : last] |= GEO_FIX_JUMP;
				last = i;
				k = 0;
			} else {
				flags[i] |= GEO_FIX_OUTLIER;
				if (n_outliers)
					(*n_outliers)++;
			}
		}
	}
	return SVT_OK;
}

int geo_track_smooth(const double *t, const double *lat, const double *lon, const double *h,
		     const uint8_t *flags, size_t n, double sigma_s, double *lat_out,
		     double *lon_out, double *h_out, svt_err *err)
{
	if (n && (!t || !lat || !lon || !lat_out || !lon_out))
		return svt_err_set(err, SVT_E_INPUT, "geo_track_smooth: NULL array");
	if (!(sigma_s >= 0))
		return svt_err_set(err, SVT_E_INPUT, "geo_track_smooth: sigma %g", sigma_s);
	for (size_t i = 1; i < n; i++)
		if (!(t[i] >= t[i - 1]))
			return svt_err_set(err, SVT_E_INPUT,
					   "geo_track_smooth: fix %zu goes back in time: sort the track", i);
	const double a = 6378137.0, e2 = (1.0 / 298.257223563) * (2.0 - 1.0 / 298.257223563);
	const double reach = sigma_s * 4.0; /* weights beyond 4 sigma are below 3e-4 */
	size_t lo = 0;
	for (size_t i = 0; i < n; i++) {
		/* Local linear regression (Gaussian weights in time) of north/east/up offsets from
		 * fix i: exact for constant-velocity motion, so smoothing adds no lag on straight
		 * roads. Offsets use the local meridian/prime-vertical radii: over a window of a few
		 * hundred metres that is exact to well under a millimetre. */
		double ph = lat[i] * M_PI / 180.0, sp = sin(ph);
		double w1 = 1.0 - e2 * sp * sp;
		double Rn = a / sqrt(w1), Rm = a * (1.0 - e2) / (w1 * sqrt(w1));
		double kN = Rm * M_PI / 180.0, kE = Rn * cos(ph) * M_PI / 180.0;
		double S0 = 0, S1 = 0, S2 = 0, Sy[3] = {0}, Sty[3] = {0};
		while (t[i] - t[lo] > reach)
			lo++;
		for (size_t j = lo; j < n && t[j] - t[i] <= reach; j++) {
			if (flags && (flags[j] & GEO_FIX_OUTLIER))
				continue;
			double dt = t[j] - t[i];
			double w = sigma_s > 0 ? exp(-0.5 * dt * dt / (sigma_s * sigma_s)) : 1.0;
			double dl = lon[j] - lon[i];
			dl -= 360.0 * floor((dl + 180.0) / 360.0);
			double y[3] = {(lat[j] - lat[i]) * kN, dl * kE, h ? h[j] - h[i] : 0.0};
			S0 += w;
			S1 += w * dt;
			S2 += w * dt * dt;
			for (int c = 0; c < 3; c++) {
				Sy[c] += w * y[c];
				Sty[c] += w * dt * y[c];
			}
		}
		double out[3] = {0, 0, 0};
		if (S0 > 0) {
			double det = S0 * S2 - S1 * S1;
			for (int c = 0; c < 3; c++)
				/* intercept of the weighted line at dt = 0; a constant when the
				 * window holds one time only */
				out[c] = det > 1e-12 * S0 * S0 ? (S2 * Sy[c] - S1 * Sty[c]) / det
							       : Sy[c] / S0;
		}
		lat_out[i] = lat[i] + out[0] / kN;
		lon_out[i] = lon[i] + out[1] / kE;
		if (h_out)
			h_out[i] = (h ? h[i] : 0.0) + out[2];
	}
	return SVT_OK;
}

int geo_track_headings(const double *lat, const double *lon, const uint8_t *flags, size_t n,
		       double min_dist_m, double *heading, svt_err *err)
{
	if (n && (!lat || !lon || !heading))
		return svt_err_set(err, SVT_E_INPUT, "geo_track_headings: NULL array");
	if (!(min_dist_m >= 0))
		return svt_err_set(err, SVT_E_INPUT, "geo_track_headings: min_dist %g", min_dist_m);
	for (size_t i = 0; i < n; i++) {
		/* Central difference: the nearest usable fixes before and after that are at least
		 * min_dist_m away, so GNSS jitter while stopped does not spin the heading. */
		long a = -1, b = -1;
		for (long j = (long)i - 1; j >= 0; j--) {
			if (flags && (flags[j] & GEO_FIX_OUTLIER))
				continue;
			if (flags && (flags[j + 1] & GEO_FIX_JUMP))
				break; /* do not difference across a jump */
			if (geo_distance_m(lat[j], lon[j], lat[i], lon[i]) >= min_dist_m) {
				a = j;
				break;
			}
		}
		for (size_t j = i + 1; j < n; j++) {
			if (flags && (flags[j] & GEO_FIX_JUMP))
				break;
			if (flags && (flags[j] & GEO_FIX_OUTLIER))
				continue;
			if (geo_distance_m(lat[i], lon[i], lat[j], lon[j]) >= min_dist_m) {
				b = (long)j;
				break;
			}
		}
		size_t from = a >= 0 ? (size_t)a : i, to = b >= 0 ? (size_t)b : i;
		heading[i] = from == to ? NAN : geo_bearing_deg(lat[from], lon[from], lat[to], lon[to]);
	}
	return SVT_OK;
}
