/* test_ingest_camera.c: each frame's camera model, against the real captures' published values
 * (SOURCE.md of opensfm_lund, opensfm_berlin, kapture_berlin, pannellum_jordan_pond,
 * mapillary_tools, exiftool_t_images) and analytic cases for orientation. */
#include <math.h>

#include "test_ingest_util.h"

static ingest_camera cam_of(const char *rel, const ingest_camera_opts *o, ingest_reason *r,
			    char *why)
{
	ingest_meta m;
	svt_err e = {0};
	cr_assert_eq(ingest_meta_read_file(real_path(rel), NULL, &m, &e), 0, "%s", e.msg);
	ingest_camera c;
	*r = ingest_camera_resolve(&m, NULL, o, &c, why, SVT_ERR_MSG_MAX);
	return c;
}

/* Lund: 1024x768, FocalLengthIn35mmFilm 35 -> f = 35/36 x 1024 px, centre (512, 384). */
Test(camera, lund_is_pinhole_from_35mm)
{
	char why[SVT_ERR_MSG_MAX];
	ingest_reason r;
	for (int i = 1; i <= 10; i++) {
		char rel[64];
		snprintf(rel, sizeof(rel), "opensfm_lund/images/%02d.jpg", i);
		ingest_camera c = cam_of(rel, NULL, &r, why);
		cr_assert_eq(r, INGEST_OK, "%s: %s", rel, why);
		cr_assert_eq(c.model, INGEST_CAM_PINHOLE, "%s", rel);
		cr_assert_eq(c.source, INGEST_CAMSRC_EXIF_35MM);
		cr_assert_float_eq(c.fx, 35.0 / 36.0 * 1024, 1e-9);
		cr_assert_float_eq(c.fy, c.fx, 1e-12);
		cr_assert_float_eq(c.cx, 512.0, 1e-12);
		cr_assert_float_eq(c.cy, 384.0, 1e-12);
		cr_assert_eq(c.width, 1024);
		cr_assert_eq(c.height, 768);
	}
}

/* Berlin: the same phone (35 mm equivalent 35) at 3264x2448. kapture's calibration of these
 * photos says f = 3147.32 px: the EXIF estimate must be within 1 % of it. */
Test(camera, berlin_exif_close_to_calibration)
{
	char why[SVT_ERR_MSG_MAX];
	ingest_reason r;
	ingest_camera c = cam_of("opensfm_berlin/images/01.jpg", NULL, &r, why);
	cr_assert_eq(r, INGEST_OK, "%s", why);
	cr_assert_eq(c.model, INGEST_CAM_PINHOLE);
	cr_assert(fabs(c.fx / 3147.3191028463957 - 1.0) < 0.01, "fx %.1f", c.fx);
	cr_assert_float_eq(c.cx, 1632.0, 1e-12);
	cr_assert_float_eq(c.cy, 1224.0, 1e-12);
}

/* kapture_berlin through the scan: the RADIAL sensor of sensors.txt, exactly. */
Test(camera, kapture_radial_from_sensor)
{
	ingest_capture *cap = NULL;
	svt_err e = {0};
	ingest_scan_opts o;
	ingest_scan_opts_default(&o);
	cr_assert_eq(ingest_capture_scan(real_path("kapture_berlin"), &o, &cap, &e), 0, "%s", e.msg);
	cr_assert_eq(cap->n, 3);
	for (size_t i = 0; i < cap->n; i++) {
		const ingest_camera *c = &cap->frames[i].camera;
		cr_assert_eq(cap->frames[i].reason, INGEST_OK, "%s", cap->frames[i].why);
		cr_assert_eq(c->model, INGEST_CAM_PINHOLE);
		cr_assert_eq(c->source, INGEST_CAMSRC_KAPTURE);
		cr_assert_float_eq(c->fx, 3147.3191028463957, 1e-9);
		cr_assert_float_eq(c->fy, 3147.3191028463957, 1e-9);
		cr_assert_float_eq(c->cx, 1632.0, 1e-12);
		cr_assert_float_eq(c->cy, 1224.0, 1e-12);
		cr_assert_float_eq(c->k1, 0.022672104712876825, 1e-15);
		cr_assert_float_eq(c->k2, -0.0009966053789495556, 1e-15);
		cr_assert(c->p1 == 0 && c->p2 == 0 && c->k3 == 0);
	}
	ingest_capture_destroy(cap);
}

/* The sensor of a half-size copy: K scales, distortion does not. */
Test(camera, kapture_sensor_scaled_to_file)
{
	ingest_kapture_camera kc = {0};
	snprintf(kc.model, sizeof(kc.model), "OPENCV");
	kc.width = 2000, kc.height = 1000;
	double p[8] = {1000, 1100, 1000, 500, 0.1, -0.01, 0.001, -0.002};
	memcpy(kc.params, p, sizeof(p));
	kc.n_params = 8;
	kc.fx = 1000, kc.fy = 1100, kc.cx = 1000, kc.cy = 500;
	ingest_meta m = {0};
	m.width = 1000, m.height = 500;
	ingest_camera c;
	char why[SVT_ERR_MSG_MAX];
	cr_assert_eq(ingest_camera_resolve(&m, &kc, NULL, &c, why, sizeof(why)), INGEST_OK, "%s",
		     why);
	cr_assert_float_eq(c.fx, 500, 1e-12);
	cr_assert_float_eq(c.fy, 550, 1e-12);
	cr_assert_float_eq(c.cx, 500, 1e-12);
	cr_assert_float_eq(c.cy, 250, 1e-12);
	cr_assert(c.k1 == 0.1 && c.k2 == -0.01 && c.p1 == 0.001 && c.p2 == -0.002);
	/* A fisheye sensor is not a pinhole: rejected (this frame is 2:1 but has a sensor, and
	 * a calibrated fisheye is not an equirectangular panorama either, so no aspect guess). */
	snprintf(kc.model, sizeof(kc.model), "OPENCV_FISHEYE");
	m.width = 1000, m.height = 600;
	cr_assert_eq(ingest_camera_resolve(&m, &kc, NULL, &c, why, sizeof(why)),
		     INGEST_REJ_NO_CAMERA);
	cr_assert(strstr(why, "OPENCV_FISHEYE"), "%s", why);
}

/* Jordan Pond: 4096x2048, no GPano, no focal: a panorama by its 2:1 aspect. */
Test(camera, jordan_pond_is_panorama_by_aspect)
{
	char why[SVT_ERR_MSG_MAX];
	ingest_reason r;
	ingest_camera c = cam_of("pannellum_jordan_pond/examplepano.jpg", NULL, &r, why);
	cr_assert_eq(r, INGEST_OK, "%s", why);
	cr_assert_eq(c.model, INGEST_CAM_EQUIRECT);
	cr_assert_eq(c.source, INGEST_CAMSRC_ASPECT);
}

/* adobe_coords.jpg: GPano equirectangular although it is 32x28 and has a 35 mm focal. */
Test(camera, gpano_says_panorama)
{
	char why[SVT_ERR_MSG_MAX];
	ingest_reason r;
	ingest_camera c = cam_of("mapillary_tools/adobe_coords.jpg", NULL, &r, why);
	cr_assert_eq(r, INGEST_OK, "%s", why);
	cr_assert_eq(c.model, INGEST_CAM_EQUIRECT);
	cr_assert_eq(c.source, INGEST_CAMSRC_GPANO);
}

/* A photosphere that covers part of the sphere (GPano cropped area short of its full size) is
 * not cut as if whole; a whole one (crop = full, or within 1 %), or --panorama, is. The sizes
 * are adobe_coords.jpg's own GPano (7776 x 3888) with its crop changed. */
Test(camera, partial_gpano_panorama_is_refused)
{
	ingest_meta m;
	svt_err e = {0};
	cr_assert_eq(ingest_meta_read_file(real_path("mapillary_tools/adobe_coords.jpg"), NULL, &m,
					   &e), 0, "%s", e.msg);
	cr_assert(m.has & INGEST_HAS_GPANO);
	cr_assert_eq(m.gpano.full_w, 7776);
	cr_assert_eq(m.gpano.full_h, 3888);
	const struct {
		int cw, ch, left, top;
		ingest_reason want;
	} cases[] = {{7776, 2000, 0, 944, INGEST_REJ_NO_CAMERA},
		     {4000, 3888, 1888, 0, INGEST_REJ_NO_CAMERA},
		     {7776, 3888, 0, 0, INGEST_OK},
		     {7760, 3880, 8, 4, INGEST_OK}};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		m.gpano.crop_w = cases[i].cw;
		m.gpano.crop_h = cases[i].ch;
		m.gpano.crop_left = cases[i].left;
		m.gpano.crop_top = cases[i].top;
		char why[SVT_ERR_MSG_MAX];
		ingest_camera c;
		ingest_reason r = ingest_camera_resolve(&m, NULL, NULL, &c, why, sizeof(why));
		cr_expect_eq(r, cases[i].want, "crop %dx%d: %s", cases[i].cw, cases[i].ch, why);
		if (r == INGEST_REJ_NO_CAMERA)
			cr_expect(strstr(why, "partial panorama") && strstr(why, "7776x3888"), "%s", why);
		else
			cr_expect_eq(c.model, INGEST_CAM_EQUIRECT);
	}
	/* The user's word wins: --panorama. */
	m.gpano.crop_h = 2000;
	ingest_camera_opts o = {.panorama = 1};
	char why[SVT_ERR_MSG_MAX];
	ingest_camera c;
	cr_expect_eq(ingest_camera_resolve(&m, NULL, &o, &c, why, sizeof(why)), INGEST_OK, "%s", why);
	cr_expect_eq(c.source, INGEST_CAMSRC_USER_PANORAMA);
}

/* Sony action cam: FocalLength 2.6 mm only, 16:9. Unknown unless the user says. */
Test(camera, sony_unknown_unless_user_says)
{
	char why[SVT_ERR_MSG_MAX];
	ingest_reason r;
	ingest_camera c = cam_of("mapillary_tools/DSC00001.JPG", NULL, &r, why);
	cr_assert_eq(r, INGEST_REJ_NO_CAMERA);
	cr_assert_eq(c.model, INGEST_CAM_UNKNOWN);
	cr_assert(strstr(why, "2.6 mm") && strstr(why, "--fov"), "%s", why);
	cr_assert_str_eq(ingest_reason_name(INGEST_REJ_NO_CAMERA), "no_camera");

	ingest_camera_opts o = {.fov_deg = 90};
	c = cam_of("mapillary_tools/DSC00001.JPG", &o, &r, why);
	cr_assert_eq(r, INGEST_OK);
	cr_assert_eq(c.source, INGEST_CAMSRC_USER_FOV);
	cr_assert_float_eq(c.fx, 1920.0, 1e-9); /* tan(45 deg) = 1 */
	cr_assert_float_eq(c.cy, 1080.0, 1e-12);

	ingest_camera_opts p = {.panorama = 1};
	c = cam_of("opensfm_lund/images/01.jpg", &p, &r, why);
	cr_assert_eq(r, INGEST_OK);
	cr_assert_eq(c.model, INGEST_CAM_EQUIRECT);
	cr_assert_eq(c.source, INGEST_CAMSRC_USER_PANORAMA);
}

/* exiftool's Fujifilm files: FocalLength 6 mm x FocalPlaneXResolution 3053 px/cm at the
 * PixelXDimension of 100 px, scaled to the file's 8 px: 6 x 305.3 x 8 / 100 px. GPS.jpg has
 * FocalLength 0: unknown. */
Test(camera, exif_focal_plane)
{
	char why[SVT_ERR_MSG_MAX];
	ingest_reason r;
	ingest_camera c = cam_of("exiftool_t_images/XMP.jpg", NULL, &r, why);
	cr_assert_eq(r, INGEST_OK, "%s", why);
	cr_assert_eq(c.source, INGEST_CAMSRC_EXIF_PLANE);
	cr_assert_float_eq(c.fx, 6.0 * 305.3 * 8 / 100, 1e-9);
	cr_assert_float_eq(c.cx, 4.0, 1e-12);
	c = cam_of("exiftool_t_images/GPS.jpg", NULL, &r, why);
	cr_assert_eq(r, INGEST_REJ_NO_CAMERA, "%s", why);
	/* Apple: iPhone 7 at 28 mm equivalent; file 8x8. */
	c = cam_of("exiftool_t_images/Apple.jpg", NULL, &r, why);
	cr_assert_eq(r, INGEST_OK, "%s", why);
	cr_assert_float_eq(c.fx, 28.0 / 36.0 * 8, 1e-9);
}

/* The scan rejects an unknown camera with its own reason, after the position checks. */
Test(camera, scan_rejects_unknown_camera)
{
	ingest_capture *cap = NULL;
	svt_err e = {0};
	cr_assert_eq(ingest_capture_scan(real_path("mapillary_tools/DSC00001.JPG"), NULL, &cap, &e),
		     0, "%s", e.msg);
	cr_assert_eq(cap->n, 1);
	cr_assert_eq(cap->frames[0].reason, INGEST_REJ_NO_CAMERA, "%s",
		     ingest_reason_name(cap->frames[0].reason));
	cr_assert_eq(cap->n_rejected[INGEST_REJ_NO_CAMERA], 1);
	ingest_capture_destroy(cap);
}

/* Orientation: a direction projected in the stored image and moved to the displayed image by
 * the orientation's pixel map lands where the oriented camera projects the oriented direction. */
Test(camera, orientation_commutes_with_projection)
{
	ingest_camera c = {.model = INGEST_CAM_PINHOLE, .width = 640, .height = 480, .fx = 500,
			   .fy = 520, .cx = 330, .cy = 236, .k1 = -0.2, .k2 = 0.05, .p1 = 0.003,
			   .p2 = -0.004, .k3 = 0.01};
	const double W = 640, H = 480;
	for (int o = 1; o <= 8; o++) {
		ingest_camera d;
		ingest_camera_orient(&c, o, &d);
		for (double x = -0.5; x <= 0.5; x += 0.25)
			for (double y = -0.4; y <= 0.4; y += 0.2) {
				double u, v, du, dv, xo = x, yo = y, eu, ev;
				ingest_camera_project(&c, x, y, &u, &v);
				/* EXIF orientation pixel maps (continuous, +0.5 centres) */
				switch (o) {
				case 1: eu = u, ev = v; break;
				case 2: eu = W - u, ev = v, xo = -x; break;
				case 3: eu = W - u, ev = H - v, xo = -x, yo = -y; break;
				case 4: eu = u, ev = H - v, yo = -y; break;
				case 5: eu = v, ev = u, xo = y, yo = x; break;
				case 6: eu = H - v, ev = u, xo = -y, yo = x; break;
				case 7: eu = H - v, ev = W - u, xo = -y, yo = -x; break;
				default: eu = v, ev = W - u, xo = y, yo = -x; break;
				}
				ingest_camera_project(&d, xo, yo, &du, &dv);
				cr_assert_float_eq(du, eu, 1e-9, "o %d x %g y %g", o, x, y);
				cr_assert_float_eq(dv, ev, 1e-9, "o %d x %g y %g", o, x, y);
			}
		cr_assert_eq(d.width, o >= 5 ? 480 : 640);
	}
}

/* The order of the rules on constructed metadata: a 2:1 photo with a usable focal is a
 * pinhole; 2:1 with only a bare FocalLength (no way to get pixels) is a panorama; an
 * implausible focal plane falls through to the 35 mm equivalent. */
Test(camera, rule_order)
{
	ingest_meta m = {0};
	ingest_camera c;
	char why[SVT_ERR_MSG_MAX];
	m.width = 2000, m.height = 1000;
	m.focal.focal_35mm = 18;
	cr_assert_eq(ingest_camera_resolve(&m, NULL, NULL, &c, why, sizeof(why)), INGEST_OK);
	cr_assert_eq(c.model, INGEST_CAM_PINHOLE);
	cr_assert_float_eq(c.fx, 1000.0, 1e-9); /* 18 / 36 x 2000 */
	m.focal.focal_35mm = 0;
	m.focal.focal_mm = 4.3;
	cr_assert_eq(ingest_camera_resolve(&m, NULL, NULL, &c, why, sizeof(why)), INGEST_OK);
	cr_assert_eq(c.model, INGEST_CAM_EQUIRECT);
	cr_assert_eq(c.source, INGEST_CAMSRC_ASPECT);
	/* focal plane in mm at PixelXDimension 4000: 4 mm x 250 px/mm x (2000 / 4000) = 500 px */
	m.width = 2000, m.height = 1500;
	m.focal.plane_xres = 250, m.focal.plane_unit = 4, m.focal.pixel_w = 4000;
	m.focal.pixel_h = 3000;
	m.focal.focal_mm = 4;
	cr_assert_eq(ingest_camera_resolve(&m, NULL, NULL, &c, why, sizeof(why)), INGEST_OK);
	cr_assert_eq(c.source, INGEST_CAMSRC_EXIF_PLANE);
	cr_assert_float_eq(c.fx, 500.0, 1e-9);
	cr_assert_float_eq(c.fy, 500.0, 1e-9);
	/* a focal plane that makes a 0.01 degree lens is passed over for the 35 mm focal */
	m.focal.plane_xres = 1e7;
	m.focal.focal_35mm = 36;
	cr_assert_eq(ingest_camera_resolve(&m, NULL, NULL, &c, why, sizeof(why)), INGEST_OK);
	cr_assert_eq(c.source, INGEST_CAMSRC_EXIF_35MM);
	cr_assert_float_eq(c.fx, 2000.0, 1e-9);
}
