/* ds_georef.c: the scan (ingest) and the georeference of the kept frames (geo): projected and
 * ENU positions in batches, direction of travel, panorama headings and poses. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dataset/ds_internal.h"

static double wrap360(double a)
{
	a = fmod(a, 360.0);
	return a < 0 ? a + 360.0 : a;
}

/* Neighbours closer than this do not define a direction of travel (GNSS jitter). */
#define TRAVEL_MIN_STEP_M 0.01

int ds_scan(dataset_job *j, svt_err *err)
{
	ingest_scan_opts so;
	ingest_scan_opts_default(&so);
	so.track_path = j->o.track;
	so.track_offset_s = j->o.track_offset_s;
	so.reject_warnings = !j->o.keep_corrupt;
	so.threads = j->threads;
	so.camera.panorama = j->o.panorama;
	so.camera.fov_deg = j->o.photo_fov_deg;
	so.meta.default_tz_min = j->o.default_tz_min;
	int rc = ingest_capture_scan(j->o.capture, &so, &j->cap, err);
	if (rc)
		return svt_err_prefix(err, "scanning %s", j->o.capture);
	svt_log_info("scanned %zu frames in %s: %zu kept", j->cap->n, j->o.capture,
		     j->cap->n_kept);
	return SVT_OK;
}

/* Positions in the projected CRS and the ENU frame, in batches; headings and panorama poses. */
static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* The capture's centre: the median latitude and longitude of its usable frames, so that a few
 * far-off frames (a wrong fix, a photo from elsewhere) do not move it. 0 when none is usable. */
static int capture_centre(const ingest_capture *c, double *lat, double *lon)
{
	double *v = malloc(2 * (c->n ? c->n : 1) * sizeof(double));
	size_t m = 0;
	if (!v)
		return -1;
	for (size_t i = 0; i < c->n; i++)
		if (c->frames[i].reason == INGEST_OK) {
			v[m] = c->frames[i].meta.lat;
			v[c->n + m] = c->frames[i].meta.lon;
			m++;
		}
	if (m) {
		qsort(v, m, sizeof(double), cmp_double);
		qsort(v + c->n, m, sizeof(double), cmp_double);
		*lat = v[m / 2];
		*lon = v[c->n + m / 2];
	}
	free(v);
	return m ? 1 : 0;
}

/* The CRS: the user's, or the capture's default (EPSG:5186 inside its area, else the UTM zone
 * of the capture's centre), said in the log. Frames the CRS does not cover are rejected
 * (outside_crs) so that one far-off frame never fails the job. */
static int georef_crs(dataset_job *j, svt_err *err)
{
	double clat = 0, clon = 0;
	int have = capture_centre(j->cap, &clat, &clon);
	if (have < 0)
		return svt_err_set(err, SVT_E_NOMEM, "no memory for %zu positions", j->cap->n);
	if (!have)
		return SVT_OK; /* no usable frame: ds_georeference says so */
	int epsg = j->o.epsg, rc;
	if (epsg <= 0) {
		if ((rc = geo_crs_default_for(clat, clon, &epsg, err)))
			return svt_err_prefix(err, "no default CRS for %s (pass --crs)",
					      j->o.capture);
		j->st.epsg_default = 1;
		svt_log_info("CRS EPSG:%d: the default for a capture centred at %.5f, %.5f%s "
			     "(--crs to choose another)", epsg, clat, clon,
			     epsg == GEO_EPSG_DEFAULT ? " (inside its area of use)" : " (its UTM zone)");
	}
	j->st.epsg = epsg;
	if ((rc = geo_crs_create(epsg, &j->crs, err)))
		return rc;
	size_t out = 0;
	for (size_t i = 0; i < j->cap->n; i++) {
		ingest_frame *f = &j->cap->frames[i];
		if (f->reason != INGEST_OK || geo_crs_covers(j->crs, f->meta.lat, f->meta.lon))
			continue;
		f->reason = INGEST_REJ_OUTSIDE_CRS;
		snprintf(f->why, sizeof(f->why), "%.5f, %.5f is outside the area of use of EPSG:%d "
			 "(pass --crs with a CRS that covers it)", f->meta.lat, f->meta.lon, epsg);
		j->cap->n_kept--;
		j->cap->n_rejected[INGEST_REJ_OUTSIDE_CRS]++;
		ds_report_frame(j, i, NULL);
		out++;
	}
	if (out)
		svt_log_warn("%zu frames outside EPSG:%d's area of use rejected (outside_crs)", out,
			     epsg);
	return SVT_OK;
}

int ds_georeference(dataset_job *j, svt_err *err)
{
	size_t n = 0;
	int rc0 = georef_crs(j, err);
	if (rc0)
		return rc0;
	for (size_t i = 0; i < j->cap->n; i++)
		n += j->cap->frames[i].reason == INGEST_OK;
	j->n = n;
	if (n == 0)
		return svt_err_set(err, SVT_E_INPUT, "no usable frame in %s (see rejects.jsonl)",
				   j->o.capture);
	j->cap_idx = calloc(n, sizeof(*j->cap_idx));
	j->tf = calloc(n, sizeof(*j->tf));
	j->travel = calloc(n, sizeof(double));
	j->pano_R = calloc(9 * n, sizeof(double));
	j->alive = calloc(n, 1);
	j->points_done = calloc(n, 1);
	double *xyz = calloc(3 * n, sizeof(double));
	int rc = SVT_OK;
	if (!j->cap_idx || !j->tf || !j->travel || !j->pano_R || !j->alive || !j->points_done ||
	    !xyz) {
		rc = svt_err_set(err, SVT_E_NOMEM, "no memory for %zu frames", n);
		goto done;
	}
	for (size_t i = 0, k = 0; i < j->cap->n; i++)
		if (j->cap->frames[i].reason == INGEST_OK)
			j->cap_idx[k++] = i;

	for (size_t k = 0; k < n; k++) {
		const ingest_meta *m = &j->cap->frames[j->cap_idx[k]].meta;
		twin_frame *f = &j->tf[k];
		f->time_us = m->time_us;
		f->llh[0] = m->lat;
		f->llh[1] = m->lon;
		f->llh[2] = (m->has & INGEST_HAS_ALT) ? m->alt : 0.0;
		f->seq = j->cap->frames[j->cap_idx[k]].seq;
		f->src = (int)j->cap_idx[k];
		j->alive[k] = 1;
		j->st.tz_assumed += m->tz_assumed && (m->has & INGEST_HAS_TIME);
	}
	/* ENU origin: the first kept frame, so coordinates stay small and exact in float32
	 * consumers; recorded in every shard. */
	double lat0 = j->tf[0].llh[0], lon0 = j->tf[0].llh[1], h0 = j->tf[0].llh[2];
	if ((rc = geo_enu_create(lat0, lon0, h0, &j->enu, err)))
		goto done;

	for (size_t k = 0; k < n; k++) {
		xyz[3 * k + 0] = j->tf[k].llh[1];
		xyz[3 * k + 1] = j->tf[k].llh[0];
		xyz[3 * k + 2] = j->tf[k].llh[2];
	}
	if ((rc = geo_crs_forward(j->crs, xyz, xyz + 1, xyz + 2, 3 * sizeof(double), n, err)))
		goto done;
	for (size_t k = 0; k < n; k++)
		memcpy(j->tf[k].proj, xyz + 3 * k, 3 * sizeof(double));

	for (size_t k = 0; k < n; k++) {
		xyz[3 * k + 0] = j->tf[k].llh[1];
		xyz[3 * k + 1] = j->tf[k].llh[0];
		xyz[3 * k + 2] = j->tf[k].llh[2];
	}
	if ((rc = geo_enu_forward(j->enu, xyz, xyz + 1, xyz + 2, 3 * sizeof(double), n, err)))
		goto done;
	for (size_t k = 0; k < n; k++)
		memcpy(j->tf[k].enu, xyz + 3 * k, 3 * sizeof(double));

	/* Origin in the projected CRS, for the shard's root attributes. */
	double ox, oy;
	if ((rc = geo_enu_origin_projected(j->enu, j->crs, &ox, &oy, err)))
		goto done;
	j->info.crs_epsg = j->st.epsg;
	j->info.enu_origin_llh[0] = lat0;
	j->info.enu_origin_llh[1] = lon0;
	j->info.enu_origin_llh[2] = h0;
	j->info.enu_origin_proj[0] = ox;
	j->info.enu_origin_proj[1] = oy;
	j->info.enu_origin_proj[2] = h0; /* a projected CRS keeps the ellipsoidal height */
	j->info.source = j->o.capture;

	/* Direction of travel (geo_track_headings): the bearing between the neighbours within a
	 * sequence (one-sided at its ends, never across a cut); NaN where the frames do not move. */
	double *lat = xyz, *lon = xyz + n;
	uint8_t *flags = calloc(n, 1);
	if (!flags) {
		rc = svt_err_set(err, SVT_E_NOMEM, "no memory for %zu frames", n);
		goto done;
	}
	for (size_t k = 0; k < n; k++) {
		lat[k] = j->tf[k].llh[0];
		lon[k] = j->tf[k].llh[1];
		if (k > 0 && j->tf[k].seq != j->tf[k - 1].seq)
			flags[k] = GEO_FIX_JUMP;
	}
	rc = geo_track_headings(lat, lon, flags, n, TRAVEL_MIN_STEP_M, j->travel, err);
	free(flags);
	if (rc)
		goto done;

	/* Panorama heading: GPano pose first (it describes the pixels), then the EXIF image
	 * direction (magnetic turned true with the declination), then the track. */
	for (size_t k = 0; k < n; k++) {
		const ingest_meta *m = &j->cap->frames[j->cap_idx[k]].meta;
		double h = NAN, pitch = 0.0, roll = 0.0;
		if ((m->has & INGEST_HAS_GPANO) && isfinite(m->gpano.pose_heading)) {
			h = m->gpano.pose_heading;
			if (isfinite(m->gpano.pose_pitch))
				pitch = m->gpano.pose_pitch;
			if (isfinite(m->gpano.pose_roll))
				roll = m->gpano.pose_roll;
		} else if (m->has & INGEST_HAS_HEADING) {
			double year = 1970.0 + (double)m->time_us / 1e6 / (365.2425 * 86400.0);
			h = geo_heading_true(m->heading, m->heading_ref == 'M', m->lat, m->lon, year,
					     NAN);
		}
		if (!isfinite(h)) {
			h = j->travel[k];
			j->tf[k].flags |= TWIN_FRAME_HEADING_DERIVED;
		}
		if (!isfinite(h))
			h = 0.0; /* a lone frame with no heading: north, flagged as derived */
		if (!isfinite(j->travel[k]))
			j->travel[k] = h;
		j->tf[k].heading = wrap360(h);
		geo_rot_from_hpr(h, pitch, roll, j->pano_R + 9 * k);
		geo_pose_w2c(j->tf[k].enu, j->pano_R + 9 * k, j->tf[k].w2c);
	}
done:
	free(xyz);
	return rc;
}
