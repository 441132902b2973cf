/* ingest_camera.c: which camera took a frame: an equirectangular panorama or a pinhole with
 * intrinsics at the file's resolution, from the sources of ingest_camera_resolve in its order.
 *
 * Why the order: what the user says overrides the file; GPano is the file's own statement of
 * projection; a kapture sensor is a calibration, better than EXIF's nominal optics; EXIF's
 * focal-plane resolution is the sensor's real pixel pitch, better than the 35 mm equivalent
 * (rounded to whole millimetres by most cameras); the 2:1 rule is a guess and comes last of
 * the file's clues, before the user's field of view. */
#include "ingest/ingest.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEG (M_PI / 180.0)

const char *ingest_camera_model_name(ingest_camera_model m)
{
	switch (m) {
	case INGEST_CAM_UNKNOWN: return "unknown";
	case INGEST_CAM_EQUIRECT: return "equirect";
	case INGEST_CAM_PINHOLE: return "pinhole";
	}
	return "unknown";
}

const char *ingest_camera_source_name(ingest_camera_source s)
{
	switch (s) {
	case INGEST_CAMSRC_NONE: return "none";
	case INGEST_CAMSRC_USER_PANORAMA: return "user_panorama";
	case INGEST_CAMSRC_GPANO: return "gpano";
	case INGEST_CAMSRC_ASPECT: return "aspect_2to1";
	case INGEST_CAMSRC_KAPTURE: return "kapture";
	case INGEST_CAMSRC_EXIF_PLANE: return "exif_focal_plane";
	case INGEST_CAMSRC_EXIF_35MM: return "exif_35mm";
	case INGEST_CAMSRC_USER_FOV: return "user_fov";
	}
	return "unknown";
}

/* A focal whose horizontal field of view is outside [1, 170] degrees is a broken tag (the
 * exiftool sample files carry such), not a lens worth cutting frames from. */
static int plausible(double fx, int width)
{
	if (!(fx > 0) || !isfinite(fx) || width < 1)
		return 0;
	double fov = 2.0 * atan(width / (2.0 * fx)) / DEG;
	return fov >= 1.0 && fov <= 170.0;
}

static void pinhole(ingest_camera *c, ingest_camera_source src, int w, int h, double fx,
		    double fy, double cx, double cy)
{
	memset(c, 0, sizeof(*c));
	c->model = INGEST_CAM_PINHOLE;
	c->source = src;
	c->width = w;
	c->height = h;
	c->fx = fx;
	c->fy = fy;
	c->cx = cx;
	c->cy = cy;
}

/* The kapture sensor's COLMAP model as an OpenCV pinhole; 0 when the model has no such form
 * (fisheye, FOV, thin prism, rational terms), with the model named in note. */
static int from_kapture(const struct ingest_kapture_camera *kc, int w, int h, ingest_camera *c,
			char *note, size_t cap)
{
	const double *p = kc->params;
	double k1 = 0, k2 = 0, p1 = 0, p2 = 0, k3 = 0;
	const char *m = kc->model;
	if (!strcmp(m, "SIMPLE_PINHOLE") || !strcmp(m, "PINHOLE")) {
	} else if (!strcmp(m, "SIMPLE_RADIAL")) {
		k1 = p[3];
	} else if (!strcmp(m, "RADIAL")) {
		k1 = p[3];
		k2 = p[4];
	} else if (!strcmp(m, "OPENCV")) {
		k1 = p[4], k2 = p[5], p1 = p[6], p2 = p[7];
	} else if (!strcmp(m, "FULL_OPENCV") && p[9] == 0 && p[10] == 0 && p[11] == 0) {
		k1 = p[4], k2 = p[5], p1 = p[6], p2 = p[7], k3 = p[8];
	} else {
		snprintf(note, cap, "kapture sensor model %s is not a pinhole with OpenCV distortion", m);
		return 0;
	}
	if (kc->width < 1 || kc->height < 1)
		return 0;
	/* The sensor's size may differ from the file's (a downscaled copy): K scales per axis,
	 * distortion is in normalised coordinates and does not change. */
	double sx = (double)w / kc->width, sy = (double)h / kc->height;
	if (!plausible(kc->fx * sx, w)) {
		snprintf(note, cap, "kapture sensor focal %.6g px is implausible", kc->fx);
		return 0;
	}
	pinhole(c, INGEST_CAMSRC_KAPTURE, w, h, kc->fx * sx, kc->fy * sy, kc->cx * sx, kc->cy * sy);
	c->k1 = k1, c->k2 = k2, c->p1 = p1, c->p2 = p2, c->k3 = k3;
	return 1;
}

static double unit_mm(int unit)
{
	switch (unit) {
	case 0: /* absent: EXIF's default */
	case 2: return 25.4;
	case 3: return 10.0;
	case 4: return 1.0;
	case 5: return 1e-3;
	}
	return 0;
}

static int from_plane(const ingest_focal *f, int w, int h, ingest_camera *c)
{
	double um = unit_mm(f->plane_unit);
	if (!(f->focal_mm > 0) || !(f->plane_xres > 0) || !(um > 0))
		return 0;
	double yres = f->plane_yres > 0 ? f->plane_yres : f->plane_xres;
	/* Focal-plane resolution counts pixels of the image as the camera wrote it; a resized copy
	 * keeps the tag, so scale by the file's size over PixelX/YDimension when given. */
	double sx = f->pixel_w > 0 ? (double)w / f->pixel_w : 1.0;
	double sy = f->pixel_h > 0 ? (double)h / f->pixel_h : sx;
	double fx = f->focal_mm * f->plane_xres / um * sx;
	double fy = f->focal_mm * yres / um * sy;
	if (!plausible(fx, w) || !plausible(fy, h))
		return 0;
	pinhole(c, INGEST_CAMSRC_EXIF_PLANE, w, h, fx, fy, w / 2.0, h / 2.0);
	return 1;
}

static int from_35mm(const ingest_focal *f, int w, int h, ingest_camera *c)
{
	if (!(f->focal_35mm > 0))
		return 0;
	double fx = f->focal_35mm / 36.0 * (w > h ? w : h);
	if (!plausible(fx, w))
		return 0;
	pinhole(c, INGEST_CAMSRC_EXIF_35MM, w, h, fx, fx, w / 2.0, h / 2.0);
	return 1;
}

ingest_reason ingest_camera_resolve(const ingest_meta *m, const struct ingest_kapture_camera *kc,
				    const ingest_camera_opts *o, ingest_camera *cam, char *why,
				    size_t cap)
{
	static const ingest_camera_opts none = {0};
	if (!o)
		o = &none;
	char note[160] = "";
	int w = m->width, h = m->height;
	memset(cam, 0, sizeof(*cam));
	cam->width = w;
	cam->height = h;
	if (why && cap)
		why[0] = 0;
	if (o->panorama || ((m->has & INGEST_HAS_GPANO) && m->gpano.equirectangular)) {
		const ingest_gpano *g = &m->gpano;
		/* A partial panorama (GPano's cropped area short of its full sphere by more than
		 * 1 %: a phone's photosphere that covers part of the sky) is not the whole 360 x
		 * 180 equirectangular image the views are cut from: its rows would be read as
		 * latitudes they are not. Refused by name, unless the user says it is whole. */
		if (!o->panorama && g->full_w > 0 && g->full_h > 0 && g->crop_w > 0 && g->crop_h > 0 &&
		    ((long long)g->crop_w * 100 < (long long)g->full_w * 99 ||
		     (long long)g->crop_h * 100 < (long long)g->full_h * 99)) {
			snprintf(why, cap,
				 "a partial panorama: GPano's cropped area %dx%d at (%d, %d) of a "
				 "%dx%d sphere; views are cut from whole 360x180 panoramas only",
				 g->crop_w, g->crop_h, g->crop_left, g->crop_top, g->full_w, g->full_h);
			return INGEST_REJ_NO_CAMERA;
		}
		cam->model = INGEST_CAM_EQUIRECT;
		cam->source = o->panorama ? INGEST_CAMSRC_USER_PANORAMA : INGEST_CAMSRC_GPANO;
		return INGEST_OK;
	}
	if (w < 1 || h < 1) {
		snprintf(why, cap, "image size unknown: no camera can be placed on it");
		return INGEST_REJ_NO_CAMERA;
	}
	if (kc && from_kapture(kc, w, h, cam, note, sizeof(note)))
		return INGEST_OK;
	if (from_plane(&m->focal, w, h, cam) || from_35mm(&m->focal, w, h, cam))
		return INGEST_OK;
	memset(cam, 0, sizeof(*cam));
	cam->width = w;
	cam->height = h;
	if (abs(w - 2 * h) * 200 <= w) {
		cam->model = INGEST_CAM_EQUIRECT;
		cam->source = INGEST_CAMSRC_ASPECT;
		return INGEST_OK;
	}
	if (o->fov_deg > 0 && o->fov_deg < 180) {
		double f = (w / 2.0) / tan(o->fov_deg * DEG / 2.0);
		pinhole(cam, INGEST_CAMSRC_USER_FOV, w, h, f, f, w / 2.0, h / 2.0);
		return INGEST_OK;
	}
	char exif[160];
	const ingest_focal *f = &m->focal;
	if (f->focal_mm > 0)
		snprintf(exif, sizeof(exif),
			 "EXIF FocalLength %.3g mm without FocalPlane resolution or a 35 mm equivalent",
			 f->focal_mm);
	else if (f->focal_35mm > 0 || f->plane_xres > 0)
		snprintf(exif, sizeof(exif), "EXIF focal tags give an implausible field of view");
	else
		snprintf(exif, sizeof(exif), "no EXIF focal length");
	snprintf(why, cap,
		 "a %dx%d perspective photo (not 2:1, no GPano) whose camera is unknown: %s%s%s; "
		 "state its field of view (--fov DEG) or that the capture is panoramas (--panorama)",
		 w, h, exif, note[0] ? "; " : "", note);
	return INGEST_REJ_NO_CAMERA;
}

void ingest_camera_orient(const ingest_camera *in, int o, ingest_camera *out)
{
	ingest_camera c = *in;
	if (o < 2 || o > 8) {
		*out = c;
		return;
	}
	/* Every orientation is an optional transpose followed by flips in the displayed frame
	 * (EXIF 5 transpose, 6 transpose + x flip, 7 transpose + both, 8 transpose + y flip;
	 * 2 x flip, 3 both, 4 y flip). In normalised coordinates a transpose swaps x and y (and so
	 * p1 with p2), an x flip negates x (and p2), a y flip negates y (and p1). */
	int tr = o >= 5;
	int fx = o == 2 || o == 3 || o == 6 || o == 7;
	int fy = o == 3 || o == 4 || o == 7 || o == 8;
	if (tr) {
		double t;
		int ti = c.width;
		c.width = c.height, c.height = ti;
		t = c.fx, c.fx = c.fy, c.fy = t;
		t = c.cx, c.cx = c.cy, c.cy = t;
		t = c.p1, c.p1 = c.p2, c.p2 = t;
	}
	if (c.model == INGEST_CAM_PINHOLE) {
		if (fx) {
			c.cx = c.width - c.cx;
			c.p2 = -c.p2;
		}
		if (fy) {
			c.cy = c.height - c.cy;
			c.p1 = -c.p1;
		}
	}
	*out = c;
}

void ingest_camera_project(const ingest_camera *c, double x, double y, double *u, double *v)
{
	double r2 = x * x + y * y;
	double rad = 1.0 + r2 * (c->k1 + r2 * (c->k2 + r2 * c->k3));
	double xd = x * rad + 2.0 * c->p1 * x * y + c->p2 * (r2 + 2.0 * x * x);
	double yd = y * rad + c->p1 * (r2 + 2.0 * y * y) + 2.0 * c->p2 * x * y;
	*u = c->fx * xd + c->cx;
	*v = c->fy * yd + c->cy;
}
