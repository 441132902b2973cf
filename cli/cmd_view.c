/* cmd_view.c: `svtwin view PANO ... -o OUT.png`: cuts one perspective view out of an
 * equirectangular panorama, the way the main job cuts the frames of a shard, so a user can
 * look at what a shard will hold.
 *
 * Yaw: degrees clockwise from the panorama's centre column (or from true north with --north,
 * using the GPano PoseHeadingDegrees/PosePitchDegrees/PoseRollDegrees of the file); pitch:
 * degrees, positive up; roll: degrees about the view's forward axis. Conventions:
 * docs/conventions.md. Exit status 0 ok, 1 failure, 2 usage error. */
#include <math.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "geo/geo.h"
#include "gpu/gpu.h"
#include "ingest/ingest.h"

static void view_usage(FILE *f)
{
	fprintf(f,
		"usage: svtwin view PANO --fov F --size WxH [options] -o OUT.png\n"
		"  --yaw Y        degrees clockwise from the panorama's centre (default 0)\n"
		"  --pitch P      degrees, positive up (default 0)\n"
		"  --roll R       degrees about the view axis (default 0)\n"
		"  --fov F        horizontal field of view, degrees (0 < F < 180)\n"
		"  --size WxH     output size in pixels\n"
		"  --north        yaw is from true north (GPano PoseHeadingDegrees of PANO)\n"
		"  --panorama     PANO is an equirectangular panorama whatever its metadata says\n"
		"                 (a perspective photo is refused otherwise)\n"
		"  --bicubic      Catmull-Rom interpolation (default bilinear)\n"
		"  --no-aa        no antialiasing prefilter\n"
		"  --cpu          use the C reference even when a GPU is present\n"
		"  -v             print the view's intrinsics and rotation\n");
}

typedef struct png_mem {
	uint8_t *data;
	size_t size, cap;
	int oom;
} png_mem;

static void png_mem_write(png_structp p, png_bytep buf, png_size_t n)
{
	png_mem *m = png_get_io_ptr(p);
	if (m->oom)
		return;
	if (m->size + n > m->cap) {
		size_t cap = (m->cap ? m->cap * 2 : 1 << 20);
		while (cap < m->size + n)
			cap *= 2;
		uint8_t *d = realloc(m->data, cap);
		if (!d) {
			m->oom = 1;
			return;
		}
		m->data = d;
		m->cap = cap;
	}
	memcpy(m->data + m->size, buf, n);
	m->size += n;
}

static void png_mem_flush(png_structp p)
{
	(void)p;
}

/* Encodes an 8-bit RGB/gray/RGBA image as PNG and writes it atomically to path. */
static int png_write_file(const char *path, const gpu_image *img, svt_err *err)
{
	static const int types[5] = {0, PNG_COLOR_TYPE_GRAY, PNG_COLOR_TYPE_GRAY_ALPHA,
				     PNG_COLOR_TYPE_RGB, PNG_COLOR_TYPE_RGBA};
	png_mem m = {0};
	int rc = 0;
	png_bytep *volatile rows = NULL; /* volatile: read after longjmp */
	png_structp p = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
	png_infop info = p ? png_create_info_struct(p) : NULL;
	if (!p || !info) {
		rc = svt_err_set(err, SVT_E_NOMEM, "png: cannot create the encoder");
		goto done;
	}
	rows = malloc(sizeof(*rows) * (size_t)img->height);
	if (!rows) {
		rc = svt_err_set(err, SVT_E_NOMEM, "png: no memory");
		goto done;
	}
	for (int j = 0; j < img->height; j++)
		rows[j] = img->data + (size_t)j * img->stride;
	if (setjmp(png_jmpbuf(p))) {
		rc = svt_err_set(err, SVT_E_FORMAT, "png: libpng failed encoding %s", path);
		goto done;
	}
	png_set_write_fn(p, &m, png_mem_write, png_mem_flush);
	png_set_IHDR(p, info, (png_uint_32)img->width, (png_uint_32)img->height, 8,
		     types[img->channels], PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
		     PNG_FILTER_TYPE_DEFAULT);
	png_set_rows(p, info, rows);
	png_write_png(p, info, PNG_TRANSFORM_IDENTITY, NULL);
	if (m.oom) {
		rc = svt_err_set(err, SVT_E_NOMEM, "png: no memory for %s", path);
		goto done;
	}
	rc = svt_file_write_atomic(path, m.data, m.size, err);
done:
	png_destroy_write_struct(p ? &p : NULL, info ? &info : NULL);
	free(rows);
	free(m.data);
	return rc;
}

static int parse_double(const char *s, double *v)
{
	char *e;
	*v = strtod(s, &e);
	return *s && !*e && isfinite(*v);
}

int cmd_view(int argc, char **argv)
{
	const char *pano = NULL, *out = NULL;
	double yaw = 0, pitch = 0, roll = 0, fov = NAN;
	int w = 0, h = 0, north = 0, bicubic = 0, aa = 1, cpu = 0, verbose = 0, panorama = 0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		int has = i + 1 < argc;
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			view_usage(stdout);
			return 0;
		} else if (!strcmp(a, "--yaw") && has) {
			if (!parse_double(argv[++i], &yaw))
				goto bad;
		} else if (!strcmp(a, "--pitch") && has) {
			if (!parse_double(argv[++i], &pitch))
				goto bad;
		} else if (!strcmp(a, "--roll") && has) {
			if (!parse_double(argv[++i], &roll))
				goto bad;
		} else if (!strcmp(a, "--fov") && has) {
			if (!parse_double(argv[++i], &fov))
				goto bad;
		} else if (!strcmp(a, "--size") && has) {
			svt_err se = {0};
			if (svt_parse_size("--size", argv[++i], 1, 16384, &w, &h, &se)) {
				fprintf(stderr, "svtwin view: %s\n", se.msg);
				return 2;
			}
		} else if (!strcmp(a, "-o") && has) {
			out = argv[++i];
		} else if (!strcmp(a, "--north")) {
			north = 1;
		} else if (!strcmp(a, "--panorama")) {
			panorama = 1;
		} else if (!strcmp(a, "--bicubic")) {
			bicubic = 1;
		} else if (!strcmp(a, "--no-aa")) {
			aa = 0;
		} else if (!strcmp(a, "--cpu")) {
			cpu = 1;
		} else if (!strcmp(a, "-v")) {
			verbose = 1;
		} else if (a[0] == '-' && a[1]) {
			fprintf(stderr, "svtwin view: unknown option %s\n", a);
			view_usage(stderr);
			return 2;
		} else if (!pano) {
			pano = a;
		} else {
			fprintf(stderr, "svtwin view: more than one panorama given (%s)\n", a);
			return 2;
		}
		continue;
	bad:
		fprintf(stderr, "svtwin view: bad value for %s: %s\n", a, argv[i]);
		return 2;
	}
	if (!pano || !out || !isfinite(fov) || w < 1 || h < 1) {
		view_usage(stderr);
		return 2;
	}
	if (!(fov > 0 && fov < 180) || w > 16384 || h > 16384) {
		fprintf(stderr, "svtwin view: --fov must be in (0, 180) and the size at most "
				"16384x16384\n");
		return 2;
	}

	svt_err err = {0};
	int rc = 0;
	ingest_decoder *dec = NULL;
	ingest_image img = {0};
	gpu_ctx *ctx = NULL;
	gpu_image dst = {0};
	gpu_view v;
	gpu_view_pinhole(&v, w, h, fov);
	v.interp = bicubic ? GPU_INTERP_BICUBIC : GPU_INTERP_BILINEAR;
	v.antialias = aa;
	ingest_meta meta;
	ingest_meta_opts mo;
	ingest_meta_opts_default(&mo);
	if ((rc = ingest_meta_read_file(pano, &mo, &meta, &err)))
		goto done;
	/* The same camera rule as the main job's (ingest_camera_resolve): a perspective photo
	 * cut as if it were a panorama comes out bent and blurred, so it is refused. */
	ingest_camera cam;
	ingest_camera_opts co = {.panorama = panorama};
	char why[SVT_ERR_MSG_MAX];
	ingest_camera_resolve(&meta, NULL, &co, &cam, why, sizeof(why));
	if (cam.model == INGEST_CAM_PINHOLE) {
		rc = svt_err_set(&err, SVT_E_UNSUPPORTED,
				 "%s is a perspective photo, not a 360 panorama (%dx%d, a pinhole "
				 "camera from %s: fx %.1f px, %.0f degrees across): view cuts views "
				 "out of equirectangular panoramas; pass --panorama if it is one",
				 pano, cam.width, cam.height, ingest_camera_source_name(cam.source),
				 cam.fx, 2.0 * atan(cam.width / (2.0 * cam.fx)) * 180.0 / M_PI);
		goto done;
	}
	if (cam.model != INGEST_CAM_EQUIRECT) {
		rc = svt_err_set(&err, SVT_E_UNSUPPORTED,
				 "%s is not a panorama (%dx%d, not 2:1, no GPano projection): pass "
				 "--panorama if it is one",
				 pano, meta.width, meta.height);
		goto done;
	}
	if (north) {
		/* R = R_pano^T R_view, both camera-to-ENU (docs/conventions.md). */
		double ph = meta.gpano.pose_heading, pp = meta.gpano.pose_pitch,
		       pr = meta.gpano.pose_roll;
		if (!(meta.has & INGEST_HAS_GPANO) || !isfinite(ph)) {
			rc = svt_err_set(&err, SVT_E_NOTFOUND,
					 "%s has no GPano PoseHeadingDegrees: --north needs it", pano);
			goto done;
		}
		double Rp[9], Rv[9];
		geo_rot_from_hpr(ph, isfinite(pp) ? pp : 0, isfinite(pr) ? pr : 0, Rp);
		geo_rot_from_hpr(yaw, pitch, roll, Rv);
		geo_rot_relative(Rp, Rv, v.R);
	} else {
		gpu_view_rotation(yaw, pitch, roll, v.R);
	}

	ingest_decode_opts dopts;
	ingest_decode_opts_default(&dopts);
	dopts.want_channels = 3;
	int warning = 0;
	if ((rc = ingest_decoder_create(&dec, &err)) ||
	    (rc = ingest_decode_file(dec, pano, &dopts, &img, &warning, &err)))
		goto done;
	if (warning)
		fprintf(stderr, "svtwin view: %s: corrupt data, decoded anyway\n", pano);
	if (img.bit_depth != 8 || img.channels != 3) {
		rc = svt_err_set(&err, SVT_E_UNSUPPORTED, "%s: %d-bit %d-channel image, want 8-bit RGB",
				 pano, img.bit_depth, img.channels);
		goto done;
	}
	if ((rc = gpu_ctx_create(cpu ? GPU_MODE_CPU : GPU_MODE_AUTO, &ctx, &err)))
		goto done;
	gpu_ctx_set_cpu_threads(ctx, 2);
	dst = (gpu_image){malloc((size_t)w * h * 3), w, h, 3, (size_t)w * 3};
	if (!dst.data) {
		rc = svt_err_set(&err, SVT_E_NOMEM, "no memory for a %dx%d view", w, h);
		goto done;
	}
	gpu_image src = {img.data, img.width, img.height, img.channels, img.stride};
	double t0 = svt_now();
	if ((rc = gpu_view_from_equirect(ctx, &src, &v, &dst, &err)))
		goto done;
	double dt = svt_now() - t0;
	if ((rc = png_write_file(out, &dst, &err)))
		goto done;
	if (verbose) {
		printf("panorama %dx%d -> view %dx%d on %s in %.1f ms\n", img.width, img.height, w, h,
		       gpu_ctx_backend(ctx), dt * 1e3);
		printf("K fx %.6f fy %.6f cx %.3f cy %.3f\n", v.fx, v.fy, v.cx, v.cy);
		printf("R (view -> panorama) %.6f %.6f %.6f / %.6f %.6f %.6f / %.6f %.6f %.6f\n",
		       v.R[0], v.R[1], v.R[2], v.R[3], v.R[4], v.R[5], v.R[6], v.R[7], v.R[8]);
	}
done:
	free(dst.data);
	gpu_ctx_destroy(ctx);
	ingest_image_free(&img);
	ingest_decoder_destroy(dec);
	return rc ? cli_fail("view", &err) : 0;
}
