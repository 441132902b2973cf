/* twin_retrieve.c: street views retrieved from the twin near a pose or along a trajectory,
 * with the exclusions cross-temporal pairing needs (another capture run, another sequence, a
 * time gap) and a caller's rule (splits, holdouts). Candidates come from the frames' R*Tree
 * (twin_store_query_near); each is read by one indexed lookup (twin_store_frame_record). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "twin/twin.h"

void twin_view_query_default(twin_view_query *q)
{
	memset(q, 0, sizeof(*q));
	q->heading = NAN;
	q->radius_m = 30.0;
	q->deg_weight_m = 0.1;
	q->exclude_seq = -1;
}

static double wrap360(double a)
{
	a = fmod(a, 360.0);
	return a < 0 ? a + 360.0 : a;
}

/* Unsigned heading difference, 0..180. */
static double heading_diff(double a, double b)
{
	double d = fabs(wrap360(a - b));
	return d > 180.0 ? 360.0 - d : d;
}

static int query_check(const twin_view_query *q, svt_err *err)
{
	if (!isfinite(q->lat) || !isfinite(q->lon) || fabs(q->lat) > 90 || !(q->radius_m > 0) ||
	    !isfinite(q->radius_m) || !(q->deg_weight_m >= 0) || !(q->min_gap_s >= 0))
		return svt_err_set(err, SVT_E_INPUT, "view query: position, radius, weight or gap "
				   "out of range");
	return SVT_OK;
}

/* The best view of panorama r for q (its yaw among the 8, or the exact one), scored. */
static void view_score(const twin_view_query *q, const twin_frame_record *r, double dist,
		       twin_view_hit *h)
{
	double ph = r->f.heading, best_yaw = 0, best_d = 0;
	if (isnan(q->heading)) {
		best_yaw = 0, best_d = 0;
	} else if (q->any_yaw) {
		best_yaw = wrap360(q->heading - ph);
		best_d = 0;
	} else {
		best_d = INFINITY;
		for (int k = 0; k < TWIN_VIEW_YAWS; k++) {
			double y = 360.0 * k / TWIN_VIEW_YAWS;
			double d = heading_diff(ph + y, q->heading);
			if (d < best_d)
				best_d = d, best_yaw = y;
		}
	}
	h->yaw_deg = best_yaw;
	h->heading = wrap360(ph + best_yaw);
	h->dist_m = dist;
	h->score = dist + q->deg_weight_m * best_d;
	h->time_us = r->f.time_us;
	h->seq = r->f.seq;
	snprintf(h->capture, sizeof(h->capture), "%.63s", r->capture);
}

static int hit_cmp(const void *a, const void *b)
{
	const twin_view_hit *x = a, *y = b;
	if (x->score != y->score)
		return x->score < y->score ? -1 : 1;
	return x->frame < y->frame ? -1 : x->frame > y->frame;
}

/* Every candidate of q within its radius that passes its exclusions, scored, sorted; *hits
 * malloc'd. */
static int candidates(twin_store *s, const twin_view_query *q, twin_view_hit **hits, size_t *n,
		      svt_err *err)
{
	size_t *idx = NULL, m = 0;
	double *dist = NULL;
	*hits = NULL;
	*n = 0;
	int rc = twin_store_query_near(s, q->lat, q->lon, q->radius_m, &idx, &dist, &m, err);
	if (rc)
		return rc;
	twin_view_hit *h = calloc(m ? m : 1, sizeof(*h));
	twin_frame_record *r = malloc(sizeof(*r));
	size_t kept = 0;
	if (!h || !r) {
		rc = svt_err_set(err, SVT_E_NOMEM, "view query: no memory for %zu candidates", m);
		goto done;
	}
	for (size_t i = 0; i < m; i++) {
		if ((rc = twin_store_frame_record(s, idx[i], r, err)))
			goto done;
		if (q->exclude_capture && !strcmp(r->capture, q->exclude_capture))
			continue;
		if (q->exclude_seq >= 0 && r->f.seq == q->exclude_seq)
			continue;
		if (q->min_gap_s > 0 &&
		    fabs((double)(r->f.time_us - q->time_us)) < q->min_gap_s * 1e6)
			continue;
		if (q->accept && !q->accept(q->accept_user, idx[i], r))
			continue;
		h[kept].frame = idx[i];
		view_score(q, r, dist[i], &h[kept]);
		kept++;
	}
	qsort(h, kept, sizeof(*h), hit_cmp);
	*hits = h;
	*n = kept;
	h = NULL;
done:
	free(h);
	free(r);
	free(idx);
	free(dist);
	return rc;
}

int twin_store_views_near(twin_store *s, const twin_view_query *q, size_t k, twin_view_hit *out,
			  size_t *n, svt_err *err)
{
	if (!s || !q || !n || (k && !out))
		return svt_err_set(err, SVT_E_INPUT, "twin_store_views_near: NULL argument");
	*n = 0;
	int rc = query_check(q, err);
	if (rc)
		return rc;
	twin_view_hit *h;
	size_t m;
	if ((rc = candidates(s, q, &h, &m, err)))
		return rc;
	size_t take = m < k ? m : k;
	memcpy(out, h, take * sizeof(*h));
	*n = take;
	free(h);
	return SVT_OK;
}

int twin_store_views_along(twin_store *s, const twin_view_query *q, const double *lat,
			   const double *lon, const double *heading, size_t npts, size_t k,
			   twin_view_hit *out, size_t *n, svt_err *err)
{
	if (!s || !q || !n || !lat || !lon || (k && !out))
		return svt_err_set(err, SVT_E_INPUT, "twin_store_views_along: NULL argument");
	*n = 0;
	if (npts == 0 || k == 0)
		return SVT_OK;
	twin_view_hit *best = calloc(npts, sizeof(*best)), *h = NULL;
	unsigned char *have = calloc(npts, 1);
	int rc = SVT_OK;
	if (!best || !have) {
		rc = svt_err_set(err, SVT_E_NOMEM, "view query: no memory for %zu poses", npts);
		goto done;
	}
	/* Each pose's candidates best first; a panorama already held by a pose that scores it
	 * better is passed over, one held by a worse pose moves here (and that pose tries its
	 * next candidate: a few rounds settle it, as candidate lists are short). */
	for (int round = 0; round < 4; round++) {
		int changed = 0;
		for (size_t p = 0; p < npts; p++) {
			if (have[p])
				continue;
			twin_view_query qp = *q;
			qp.lat = lat[p];
			qp.lon = lon[p];
			qp.heading = heading ? heading[p] : NAN;
			if ((rc = query_check(&qp, err)))
				goto done;
			size_t m;
			free(h);
			h = NULL;
			if ((rc = candidates(s, &qp, &h, &m, err)))
				goto done;
			for (size_t c = 0; c < m; c++) {
				size_t owner = npts;
				for (size_t o = 0; o < npts; o++)
					if (have[o] && best[o].frame == h[c].frame)
						owner = o;
				if (owner < npts && best[owner].score <= h[c].score)
					continue;
				if (owner < npts)
					have[owner] = 0;
				best[p] = h[c];
				best[p].pose = p;
				have[p] = 1;
				changed = 1;
				break;
			}
		}
		if (!changed)
			break;
	}
	size_t m = 0;
	for (size_t p = 0; p < npts; p++)
		if (have[p])
			best[m++] = best[p];
	/* More than k: k spread evenly over the poses that found one (the first and the last
	 * kept). */
	if (m <= k) {
		memcpy(out, best, m * sizeof(*best));
		*n = m;
	} else {
		for (size_t i = 0; i < k; i++) {
			size_t j = k == 1 ? m / 2 : (size_t)llround((double)i * (m - 1) / (k - 1));
			out[i] = best[j];
		}
		*n = k;
	}
done:
	free(h);
	free(best);
	free(have);
	return rc;
}
