/* twin_clip.c: clips of consecutive frames cut from the trajectories.
 *
 * A clip is opts->frames frames of one sequence, in time order, with stationary frames taken
 * out first: a frame closer than min_step_m (ENU, 3D) to the previous kept frame of its
 * sequence adds no new view of the street, and a clip of a car waiting at a light would teach
 * a world model that nothing moves. Sequences are never joined: a seq change between two
 * consecutive frames is a cut (a gap in time or a new capture), and no clip spans it.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "twin/twin.h"

void twin_clip_opts_default(twin_clip_opts *o)
{
	if (!o)
		return;
	memset(o, 0, sizeof(*o));
	o->frames = 57;
	o->stride = 57;
	o->min_step_m = 0.5;
	o->spacing_m = 0.0;
	o->spacing_s = 0.0;
}

void twin_clip_list_free(twin_clip_list *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->n; i++)
		free(l->clips[i].idx);
	free(l->clips);
	l->clips = NULL;
	l->n = 0;
}

static double enu_dist(const twin_frame *a, const twin_frame *b)
{
	double de = a->enu[0] - b->enu[0], dn = a->enu[1] - b->enu[1], du = a->enu[2] - b->enu[2];
	return sqrt(de * de + dn * dn + du * du);
}

void twin_frames_distance(const twin_frame *frames, size_t n, double *dist_m)
{
	if (!frames || !dist_m)
		return;
	for (size_t i = 0; i < n; i++) {
		if (i == 0 || frames[i].seq != frames[i - 1].seq)
			dist_m[i] = 0.0;
		else
			dist_m[i] = dist_m[i - 1] + enu_dist(&frames[i], &frames[i - 1]);
	}
}

/* Appends one clip (copy of idx[0..n)) to out, growing the array geometrically. */
static int clip_push(twin_clip_list *out, size_t *cap, const size_t *idx, int n, int seq,
		     svt_err *err)
{
	if (out->n == *cap) {
		size_t nc = *cap ? 2 * *cap : 16;
		twin_clip *p = realloc(out->clips, nc * sizeof(*p));
		if (!p)
			return svt_err_set(err, SVT_E_NOMEM, "no memory for %zu clips", nc);
		out->clips = p;
		*cap = nc;
	}
	twin_clip *c = &out->clips[out->n];
	memset(c, 0, sizeof(*c));
	c->idx = malloc((size_t)n * sizeof(*c->idx));
	if (!c->idx)
		return svt_err_set(err, SVT_E_NOMEM, "no memory for a clip of %d frames", n);
	memcpy(c->idx, idx, (size_t)n * sizeof(*idx));
	c->first = idx[0];
	c->n = n;
	c->seq = seq;
	out->n++;
	return SVT_OK;
}

/* Resamples the kept frames kept[0..k) of one sequence to a target spacing: by distance along
 * the track (dist, metres from the sequence's first frame) when spacing_m > 0, by time when
 * spacing_s > 0. For each target t0, t0 + s, t0 + 2s, ... the nearest kept frame is chosen
 * (no interpolation: every clip frame is a real capture); a frame is never chosen twice, and
 * targets past the last frame stop the walk. Writes the chosen subset over kept and returns
 * its length. */
static size_t resample(const twin_frame *f, const double *dist, size_t *kept, size_t k,
		       double spacing_m, double spacing_s)
{
	if (k < 2)
		return k;
	int by_dist = spacing_m > 0.0;
	double step = by_dist ? spacing_m : spacing_s;
#define KEY(i) (by_dist ? dist[kept[i]] : (double)(f[kept[i]].time_us - f[kept[0]].time_us) * 1e-6)
	double tend = KEY(k - 1);
	size_t p = 0, j = 0;
	/* Picks are distinct and increasing in j, so writing pick p over kept[p] (p <= j) never
	 * overwrites a frame still to be considered. */
	for (size_t m = 0;; m++) {
		double t = KEY(0) + step * (double)m;
		if (t > tend + 1e-9)
			break;
		while (j + 1 < k && fabs(KEY(j + 1) - t) <= fabs(KEY(j) - t))
			j++;
		if (p == 0 || kept[p - 1] != kept[j])
			kept[p++] = kept[j];
	}
#undef KEY
	return p;
}

int twin_clips_assemble(const twin_frame *frames, size_t n, const twin_clip_opts *opts,
			twin_clip_list *out, svt_err *err)
{
	if (!out)
		return svt_err_set(err, SVT_E_INPUT, "twin_clips_assemble: no output list");
	out->clips = NULL;
	out->n = 0;
	if (!opts || (n && !frames))
		return svt_err_set(err, SVT_E_INPUT, "twin_clips_assemble: NULL argument");
	if (opts->frames < 1 || opts->stride < 1)
		return svt_err_set(err, SVT_E_INPUT, "clip frames %d and stride %d must be >= 1",
				   opts->frames, opts->stride);
	if (!(opts->min_step_m >= 0.0) || !isfinite(opts->min_step_m))
		return svt_err_set(err, SVT_E_INPUT, "min_step_m %g must be finite and >= 0",
				   opts->min_step_m);
	if (!(opts->spacing_m >= 0.0) || !isfinite(opts->spacing_m) || !(opts->spacing_s >= 0.0) ||
	    !isfinite(opts->spacing_s) || (opts->spacing_m > 0.0 && opts->spacing_s > 0.0))
		return svt_err_set(err, SVT_E_INPUT,
				   "spacing_m %g / spacing_s %g: at most one, finite and >= 0",
				   opts->spacing_m, opts->spacing_s);
	for (size_t i = 1; i < n; i++)
		if (frames[i].seq == frames[i - 1].seq && frames[i].time_us < frames[i - 1].time_us)
			return svt_err_set(err, SVT_E_INPUT,
					   "frames %zu and %zu of sequence %d are not in time order",
					   i - 1, i, frames[i].seq);

	int rc = SVT_OK;
	size_t cap = 0;
	size_t *kept = NULL;
	double *dist = NULL;
	if (n == 0)
		return SVT_OK;
	kept = malloc(n * sizeof(*kept));
	dist = malloc(n * sizeof(*dist));
	if (!kept || !dist) {
		rc = svt_err_set(err, SVT_E_NOMEM, "no memory for %zu frames", n);
		goto done;
	}
	twin_frames_distance(frames, n, dist);

	size_t T = (size_t)opts->frames, S = (size_t)opts->stride;
	for (size_t a = 0; a < n;) {
		size_t b = a + 1;
		while (b < n && frames[b].seq == frames[a].seq)
			b++;
		/* Kept frames of the sequence [a, b). */
		size_t k = 0;
		for (size_t i = a; i < b; i++) {
			if (frames[i].flags & TWIN_FRAME_STATIONARY)
				continue;
			if (k > 0 && enu_dist(&frames[i], &frames[kept[k - 1]]) < opts->min_step_m)
				continue;
			kept[k++] = i;
		}
		if (opts->spacing_m > 0.0 || opts->spacing_s > 0.0)
			k = resample(frames, dist, kept, k, opts->spacing_m, opts->spacing_s);
		for (size_t s = 0; k >= T && s <= k - T; s += S)
			if ((rc = clip_push(out, &cap, kept + s, opts->frames, frames[a].seq, err)))
				goto done;
		a = b;
	}
done:
	if (rc)
		twin_clip_list_free(out);
	free(kept);
	free(dist);
	return rc;
}
