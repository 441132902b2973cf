/* util.c: seeded randomness and civil time for the generator. */
#include "samples/samples.h"

#include <stdio.h>

uint64_t smp_hash64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static double unit_from(uint64_t h)
{
	return (double)(h >> 11) * (1.0 / 9007199254740992.0); /* 53 bits -> [0, 1) */
}

double smp_uniform(uint64_t seed, uint64_t stream, uint64_t index, double lo, double hi)
{
	uint64_t h = smp_hash64(smp_hash64(smp_hash64(seed) ^ stream) ^ index);
	return lo + (hi - lo) * unit_from(h);
}

void smp_rng_init(smp_rng *r, uint64_t seed, uint64_t stream)
{
	r->state = smp_hash64(seed) ^ smp_hash64(stream + 0x5bd1e995ull);
}

double smp_rng_uniform(smp_rng *r, double lo, double hi)
{
	r->state += 0x9e3779b97f4a7c15ull;
	return lo + (hi - lo) * unit_from(smp_hash64(r->state));
}

/* Howard Hinnant's days_from_civil / civil_from_days. */
int64_t smp_days_from_civil(int y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int *Y, int *M, int *D)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t y = yoe + era * 400;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	int64_t d = doy - (153 * mp + 2) / 5 + 1;
	int64_t m = mp < 10 ? mp + 3 : mp - 9;
	*Y = (int)(y + (m <= 2));
	*M = (int)m;
	*D = (int)d;
}

void smp_time_civil(int64_t t_us, int tz_min, int *Y, int *M, int *D, int *h, int *m, int *s,
		    int *us)
{
	int64_t t = t_us + (int64_t)tz_min * 60 * 1000000;
	int64_t sec = t >= 0 ? t / 1000000 : -((-t + 999999) / 1000000);
	*us = (int)(t - sec * 1000000);
	int64_t days = sec >= 0 ? sec / 86400 : -((-sec + 86399) / 86400);
	int64_t sod = sec - days * 86400;
	civil_from_days(days, Y, M, D);
	*h = (int)(sod / 3600);
	*m = (int)(sod / 60 % 60);
	*s = (int)(sod % 60);
}

void smp_time_iso(int64_t t_us, char *out, size_t cap)
{
	int Y, M, D, h, m, s, us;
	smp_time_civil(t_us, 0, &Y, &M, &D, &h, &m, &s, &us);
	snprintf(out, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", Y, M, D, h, m, s, us);
}
