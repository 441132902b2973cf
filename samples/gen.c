/* gen.c: svtwin-samples, the synthetic capture generator.
 *
 * Drives south along Sejong-daero, Seoul, from Gwanghwamun Square to Seoul City Hall and
 * writes what a 360-degree street-view rig would: equirectangular JPEG panoramas with EXIF GPS,
 * capture time and GPano pose; plus what no rig knows: a depth map per panorama, the true pose
 * of every frame (ground_truth.json) and the true track (track.gpx). A few deliberately bad
 * files test the pipeline's rejections. Everything follows from --seed; see samples/README.md.
 */
#include "samples/samples.h"

#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define GEN_NAME "svtwin-samples"
#define DEPTH_DIR ".depth" /* hidden: capture scanners skip it, so depth maps are no frames */
#define MASK_DIR ".mask"   /* static-scene masks of a capture run, hidden for the same reason */
#define CAM_HEIGHT_M 2.5   /* roof-mounted rig above the road at the first frame */
#define BASE_H_M 40.0      /* ellipsoidal height of the street, near enough for Sejong-daero */
#define TZ_MIN 540         /* Asia/Seoul, +09:00 */

/* Sejong-daero, approximate centre-line points (WGS84 degrees): Gwanghwamun Square, the
 * Sejongno junction by the Kyobo building, Seoul City Hall. */
static const double ROUTE[][2] = {
	{37.575900, 126.976900},
	{37.570800, 126.976800},
	{37.566300, 126.977900},
};

/* Seed streams, one per kind of random quantity, so that adding one never shifts the others. */
enum { ST_MOUNT = 1, ST_HEAD, ST_PITCH, ST_ROLL, ST_HEIGHT, ST_PHASE };

typedef struct opts {
	int frames, width, bad, threads, quiet;
	int run;                   /* capture run (transient.c); 0 = the default capture */
	uint64_t seed;
	double spacing;
	const char *out;
	int corners;               /* --route corners */
	double truth_fps;          /* --truth-fps F: .truth/trajectory.csv every 1/F s */
	int truth_views;           /* --truth-views: and the true panorama at each of those */
} opts;

#define ROUTE_MAX 16               /* vertices of a route */

/* One output file. */
typedef struct shot {
	char file[64], depth[80], mask[80];
	const char *expect;        /* "ok" or an ingest reason name */
	const char *note;          /* what is wrong with a bad file */
	int64_t time_us;
	double arc;                /* metres along the route from the first frame */
	double enu[3], llh[3];
	double heading, pitch, roll, R[9], w2c[16];
	smp_meta meta;             /* what goes into the file */
	double keep_frac;          /* < 1: truncated */
} shot;

typedef struct job {
	const opts *o;
	const smp_scene *scene;
	shot *shots;
	int n;
	int next;
	int failed;
	svt_err err;
	pthread_mutex_t mu;
} job;

static void usage(FILE *f)
{
	fprintf(f,
		"usage: " GEN_NAME " --out DIR [--seed S] [--frames N] [--width W] [--no-bad]\n"
		"                      [--spacing M] [--threads T] [-q]\n"
		"  --out DIR     output directory (required; `make samples` uses\n"
		"                build/samples/capture)\n"
		"  --seed S      seed of every random choice (default 1)\n"
		"  --frames N    good panoramas (default 120, at least 2)\n"
		"  --width W     panorama width, a multiple of 4 (default 2048; height W/2,\n"
		"                depth maps W/2 x W/4)\n"
		"  --spacing M   metres between frames (default 8; shrunk to fit the route)\n"
		"  --no-bad      leave out the deliberately bad files\n"
		"  --run R       capture run R >= 1 of the same street: another day and light,\n"
		"                its own parked cars and pedestrians, static masks (default 0)\n"
		"  --threads T   rendering threads (default: online CPUs, at most 8)\n"
		"  --route R     sejong (default) or corners: south, a left turn, east, a right\n"
		"                turn, south again (turns listed in ground_truth.json)\n"
		"  --truth-fps F the true trajectory every 1/F s in .truth/trajectory.csv\n"
		"  --truth-views and the true panorama there, level along travel (.truth/*.ppm)\n"
		"  -q            no summary line\n");
}

static int parse_int(const char *s, long lo, long hi, long *v)
{
	char *end;
	errno = 0;
	long x = strtol(s, &end, 10);
	if (errno || end == s || *end || x < lo || x > hi)
		return -1;
	*v = x;
	return 0;
}

static int parse_args(int argc, char **argv, opts *o)
{
	*o = (opts){.frames = 120, .width = 2048, .bad = 1, .seed = 1, .spacing = 8.0};
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	o->threads = n < 1 ? 1 : n > 8 ? 8 : (int)n;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *val = i + 1 < argc ? argv[i + 1] : NULL;
		long v;
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			exit(0);
		} else if (!strcmp(a, "--no-bad")) {
			o->bad = 0;
		} else if (!strcmp(a, "-q")) {
			o->quiet = 1;
		} else if (!strcmp(a, "--truth-views")) {
			o->truth_views = 1;
		} else if ((!strcmp(a, "--route") || !strcmp(a, "--truth-fps")) && val) {
			i++;
			if (!strcmp(a, "--route") && (!strcmp(val, "corners") || !strcmp(val, "sejong"))) {
				o->corners = !strcmp(val, "corners");
			} else if (!strcmp(a, "--truth-fps") && atof(val) > 0 && atof(val) <= 120) {
				o->truth_fps = atof(val);
			} else {
				fprintf(stderr, GEN_NAME ": bad %s '%s'\n", a, val);
				return -1;
			}
		} else if (strcmp(a, "--out") && strcmp(a, "--seed") && strcmp(a, "--frames") &&
			   strcmp(a, "--width") && strcmp(a, "--threads") && strcmp(a, "--spacing") &&
			   strcmp(a, "--run")) {
			fprintf(stderr, GEN_NAME ": unknown option %s\n", a);
			usage(stderr);
			return -1;
		} else if (!val) {
			fprintf(stderr, GEN_NAME ": %s needs a value\n", a);
			return -1;
		} else if (!strcmp(a, "--out")) {
			o->out = val, i++;
		} else if (!strcmp(a, "--seed")) {
			char *end;
			errno = 0;
			unsigned long long s = strtoull(val, &end, 0);
			if (errno || end == val || *end) {
				fprintf(stderr, GEN_NAME ": --seed wants an unsigned integer, not '%s'\n", val);
				return -1;
			}
			o->seed = s, i++;
		} else if (!strcmp(a, "--frames")) {
			if (parse_int(val, 2, 9999, &v)) {
				fprintf(stderr, GEN_NAME ": --frames wants 2..9999, not '%s'\n", val);
				return -1;
			}
			o->frames = (int)v, i++;
		} else if (!strcmp(a, "--width")) {
			if (parse_int(val, 16, 16384, &v) || v % 4) {
				fprintf(stderr, GEN_NAME ": --width wants a multiple of 4 in 16..16384, not '%s'\n", val);
				return -1;
			}
			o->width = (int)v, i++;
		} else if (!strcmp(a, "--run")) {
			if (parse_int(val, 0, 99, &v)) {
				fprintf(stderr, GEN_NAME ": --run wants 0..99, not '%s'\n", val);
				return -1;
			}
			o->run = (int)v, i++;
		} else if (!strcmp(a, "--threads")) {
			if (parse_int(val, 1, 64, &v)) {
				fprintf(stderr, GEN_NAME ": --threads wants 1..64, not '%s'\n", val);
				return -1;
			}
			o->threads = (int)v, i++;
		} else if (!strcmp(a, "--spacing")) {
			char *end;
			double d = strtod(val, &end);
			if (end == val || *end || !(d >= 0.5 && d <= 100)) {
				fprintf(stderr, GEN_NAME ": --spacing wants 0.5..100 metres, not '%s'\n", val);
				return -1;
			}
			o->spacing = d, i++;
		}
	}
	if (!o->out || !*o->out) {
		fprintf(stderr, GEN_NAME ": --out DIR is required\n");
		usage(stderr);
		return -1;
	}
	return 0;
}

/* ---- the drive ----------------------------------------------------------------------------- */

typedef struct route {
	double v[ROUTE_MAX][2];            /* ENU east, north of the route's vertices */
	double cum[ROUTE_MAX];             /* arc length at each vertex */
	int n;
	double origin[3];                  /* lat, lon, h of the first frame */
} route;

/* Position and direction of travel (degrees clockwise from the ENU frame's north) at arc a. */
static void route_at(const route *r, double a, double *e, double *n, double *travel)
{
	int k = 0;
	while (k < r->n - 2 && a >= r->cum[k + 1])
		k++;
	double ex = r->v[k + 1][0] - r->v[k][0], ny = r->v[k + 1][1] - r->v[k][1];
	double L = r->cum[k + 1] - r->cum[k];
	double t = (a - r->cum[k]) / L;
	*e = r->v[k][0] + ex * t;
	*n = r->v[k][1] + ny * t;
	*travel = atan2(ex, ny) * 180.0 / M_PI;
}

/* Camera height wander (road grade, suspension) in metres: smooth in arc plus a little noise
 * keyed by the shot, so the same key always gives the same value. */
static double wander_smooth(const opts *o, double arc)
{
	double phase = smp_uniform(o->seed, ST_PHASE, 0, 0, 2 * M_PI);
	return 0.12 * sin(2 * M_PI * arc / 260.0 + phase);
}

static double height_wander(const opts *o, double arc, uint64_t key)
{
	return wander_smooth(o, arc) + smp_uniform(o->seed, ST_HEIGHT, key, -0.02, 0.02);
}

/* Fills a shot's pose: arc along the route, pose noise keyed by `key`. */
static void shot_pose(const opts *o, const route *r, shot *s, double arc, uint64_t key,
		      double u0)
{
	double e, n, travel;
	route_at(r, arc, &e, &n, &travel);
	s->arc = arc;
	s->enu[0] = e;
	s->enu[1] = n;
	key += (uint64_t)o->run * 10000000u; /* each run its own noise; run 0 as before */
	s->enu[2] = height_wander(o, arc, key) - u0;
	/* A camera mount offset fixed for the capture plus a per-frame wobble: heading within
	 * +-4 degrees of the direction of travel, pitch and roll within +-1.5 degrees. */
	uint64_t mk = 3 * (uint64_t)o->run;
	double mh = smp_uniform(o->seed, ST_MOUNT, mk + 0, -3.0, 3.0);
	double mp = smp_uniform(o->seed, ST_MOUNT, mk + 1, -1.0, 1.0);
	double mr = smp_uniform(o->seed, ST_MOUNT, mk + 2, -1.0, 1.0);
	double h = travel + mh + smp_uniform(o->seed, ST_HEAD, key, -1.0, 1.0);
	h = fmod(h, 360.0);
	if (h < 0)
		h += 360.0;
	s->heading = h;
	s->pitch = mp + smp_uniform(o->seed, ST_PITCH, key, -0.5, 0.5);
	s->roll = mr + smp_uniform(o->seed, ST_ROLL, key, -0.5, 0.5);
	smp_rot_c2w(s->heading, s->pitch, s->roll, s->R);
	smp_w2c(s->R, s->enu, s->w2c);
	smp_enu_to_llh(r->origin, s->enu, s->llh);
	s->meta = (smp_meta){.has_gps = 1, .lat = s->llh[0], .lon = s->llh[1], .h = s->llh[2],
			     .heading = s->heading, .pitch = s->pitch, .roll = s->roll,
			     .time_us = s->time_us, .tz_min = TZ_MIN};
	s->keep_frac = 1.0;
	s->expect = "ok";
	s->note = NULL;
}

/* ---- the corners route and the truth at any time (issue 14) ------------------------------ */

/* --route corners, in the ENU frame of the first frame: 150 m south, a left turn of 90
 * degrees on a 20 m radius (now east), 150 m east, a right turn on 20 m (south again), 150 m
 * south; each arc is two chords of 45 degrees (the scene takes at most 9 vertices). */
#define CORNER_LEG_M 150.0
#define CORNER_R_M 20.0

static void route_corners(route *r)
{
	int n = 0;
	double e = 0, nn = 0;
	r->v[n][0] = e, r->v[n][1] = nn, n++;
	nn -= CORNER_LEG_M;
	r->v[n][0] = e, r->v[n][1] = nn, n++;
	/* left turn: heading 180 -> 90, centre to the east */
	double ce = e + CORNER_R_M, cn = nn;
	for (int k = 1; k <= 2; k++) {
		double a = M_PI - k * (M_PI / 4.0); /* angle of the point seen from the centre */
		r->v[n][0] = ce + CORNER_R_M * cos(a), r->v[n][1] = cn - CORNER_R_M * sin(a), n++;
	}
	e = r->v[n - 1][0], nn = r->v[n - 1][1];
	e += CORNER_LEG_M;
	r->v[n][0] = e, r->v[n][1] = nn, n++;
	/* right turn: heading 90 -> 180, centre to the south */
	ce = e, cn = nn - CORNER_R_M;
	for (int k = 1; k <= 2; k++) {
		double a = M_PI / 2 - k * (M_PI / 4.0);
		r->v[n][0] = ce + CORNER_R_M * cos(a), r->v[n][1] = cn + CORNER_R_M * sin(a), n++;
	}
	e = r->v[n - 1][0], nn = r->v[n - 1][1];
	nn -= CORNER_LEG_M;
	r->v[n][0] = e, r->v[n][1] = nn, n++;
	r->n = n;
	r->cum[0] = 0;
	for (int k = 1; k < n; k++)
		r->cum[k] = r->cum[k - 1] + hypot(r->v[k][0] - r->v[k - 1][0], r->v[k][1] - r->v[k - 1][1]);
}

/* The turns of the corners route: when (seconds from the first frame) each starts and ends. */
static void route_turns_json(json_t *root, const route *r, double spacing)
{
	(void)r;
	double arc_len = 4 * CORNER_R_M * sin(M_PI / 8); /* two 45-degree chords */
	double s1 = CORNER_LEG_M, s2 = 2 * CORNER_LEG_M + arc_len;
	json_t *a = json_array();
	const char *names[2] = {"left turn", "right turn"};
	double starts[2] = {s1, s2};
	for (int k = 0; k < 2; k++) {
		json_t *t = json_object();
		json_object_set_new(t, "action", json_string(names[k]));
		json_object_set_new(t, "start_s", json_real(starts[k] / spacing));
		json_object_set_new(t, "end_s", json_real((starts[k] + arc_len) / spacing));
		json_object_set_new(t, "degrees", json_real(90.0));
		json_array_append_new(a, t);
	}
	json_object_set_new(root, "turns", a);
	json_object_set_new(root, "route_kind", json_string("corners"));
}

/* The drive at time t seconds after the first frame: arc t * spacing along the route (the
 * car drives at constant speed), height = the smooth wander plus the per-frame jitter
 * interpolated linearly between the two frames around t. */
static void truth_at(const opts *o, const route *r, double u0, double spacing, double t,
		     double enu[3], double *travel)
{
	double arc = t * spacing;
	int i = (int)floor(t);
	i = i < 0 ? 0 : i > o->frames - 2 ? o->frames - 2 : i;
	double w = t - i;
	double j0 = height_wander(o, i * spacing, (uint64_t)i) - wander_smooth(o, i * spacing);
	double j1 = height_wander(o, (i + 1) * spacing, (uint64_t)(i + 1)) -
		    wander_smooth(o, (i + 1) * spacing);
	route_at(r, arc, &enu[0], &enu[1], travel);
	enu[2] = wander_smooth(o, arc) + (1 - w) * j0 + w * j1 - u0;
}

/* .truth/trajectory.csv (t_us, lat, lon, h, e, n, u, travel_deg) every 1/truth_fps s from
 * the first good frame to the last, and with truth_views the panorama there (PPM, level,
 * its centre along travel: the true view along travel is its centre crop). */
static int write_truth(const opts *o, const route *r, double u0, double spacing,
		       const smp_scene *scene, svt_err *err)
{
	char dir[4096], path[4200];
	int rc = SVT_OK, W = o->width, H = W / 2;
	uint8_t *rgb = NULL;
	FILE *f = NULL;
	if ((rc = svt_path_join(dir, sizeof(dir), o->out, ".truth", err)) ||
	    (rc = svt_mkdirs(dir, err)))
		return rc;
	snprintf(path, sizeof(path), "%s/trajectory.csv", dir);
	if (!(f = fopen(path, "w")))
		return svt_err_set(err, SVT_E_IO, "%s: %s", path, strerror(errno));
	if (o->truth_views && !(rgb = malloc((size_t)W * H * 3))) {
		rc = svt_err_set(err, SVT_E_NOMEM, "out of memory for a truth panorama");
		goto cleanup;
	}
	const int64_t t0 = smp_days_from_civil(2025, 10, 14) * 86400LL * 1000000LL +
			   (10LL * 3600 - TZ_MIN * 60LL) * 1000000LL;
	fprintf(f, "index,t_us,lat,lon,h,e,n,u,travel_deg\n");
	int n = (int)floor((o->frames - 1) * o->truth_fps + 1e-9) + 1;
	for (int k = 0; k < n; k++) {
		double t = k / o->truth_fps, enu[3], llh[3], travel, R[9];
		truth_at(o, r, u0, spacing, t, enu, &travel);
		smp_enu_to_llh(r->origin, enu, llh);
		fprintf(f, "%d,%lld,%.12f,%.12f,%.6f,%.6f,%.6f,%.6f,%.9f\n", k,
			(long long)(t0 + llround(t * 1e6)), llh[0], llh[1], llh[2], enu[0], enu[1],
			enu[2], fmod(travel + 360.0, 360.0));
		if (!rgb)
			continue;
		smp_rot_c2w(travel, 0.0, 0.0, R);
		if ((rc = smp_render(scene, enu, R, rgb, W, H, NULL, 0, 0, err)))
			goto cleanup;
		snprintf(path, sizeof(path), "%s/view_%05d.ppm", dir, k);
		FILE *p = fopen(path, "wb");
		if (!p) {
			rc = svt_err_set(err, SVT_E_IO, "%s: %s", path, strerror(errno));
			goto cleanup;
		}
		fprintf(p, "P6\n%d %d\n255\n", W, H);
		size_t wr = fwrite(rgb, 1, (size_t)W * H * 3, p);
		if ((fclose(p) != 0) | (wr != (size_t)W * H * 3)) {
			rc = svt_err_set(err, SVT_E_IO, "%s: write failed", path);
			goto cleanup;
		}
	}
cleanup:
	if (f && fclose(f) && !rc)
		rc = svt_err_set(err, SVT_E_IO, "trajectory.csv: write failed");
	free(rgb);
	return rc;
}

/* ---- rendering, on worker threads ---------------------------------------------------------- */

static void *worker(void *arg)
{
	job *j = arg;
	int W = j->o->width, H = W / 2, DW = W / 2, DH = H / 2;
	uint8_t *rgb = malloc((size_t)W * H * 3);
	uint16_t *depth = malloc((size_t)DW * DH * sizeof(uint16_t));
	svt_err err = {0};
	char path[4096];
	int rc = SVT_OK;
	if (!rgb || !depth) {
		rc = svt_err_set(&err, SVT_E_NOMEM, "out of memory for a %dx%d panorama", W, H);
		goto done;
	}
	for (;;) {
		pthread_mutex_lock(&j->mu);
		int i = j->failed ? j->n : j->next++;
		pthread_mutex_unlock(&j->mu);
		if (i >= j->n)
			break;
		shot *s = &j->shots[i];
		if ((rc = smp_render(j->scene, s->enu, s->R, rgb, W, H, depth, DW, DH, &err)))
			goto done;
		if ((rc = svt_path_join(path, sizeof(path), j->o->out, s->file, &err)) ||
		    (rc = smp_jpeg_write(path, rgb, W, H, &s->meta, s->keep_frac, &err)))
			goto done;
		if ((rc = svt_path_join(path, sizeof(path), j->o->out, s->depth, &err)) ||
		    (rc = smp_png16_write(path, depth, DW, DH, &err)))
			goto done;
		if (s->mask[0]) { /* the static mask at the depth maps' size (reusing depth's memory) */
			uint8_t *m = (uint8_t *)depth;
			if ((rc = smp_render_static_mask(j->scene, s->enu, s->R, m, DW, DH))) {
				svt_err_set(&err, rc, "out of memory for a mask");
				goto done;
			}
			if ((rc = svt_path_join(path, sizeof(path), j->o->out, s->mask, &err)) ||
			    (rc = smp_png8_write(path, m, DW, DH, &err)))
				goto done;
		}
	}
done:
	if (rc) {
		pthread_mutex_lock(&j->mu);
		if (!j->failed) {
			j->failed = 1;
			j->err = err;
		}
		pthread_mutex_unlock(&j->mu);
	}
	free(rgb);
	free(depth);
	return NULL;
}

static int render_all(const opts *o, const smp_scene *scene, shot *shots, int n, svt_err *err)
{
	job j = {.o = o, .scene = scene, .shots = shots, .n = n};
	pthread_mutex_init(&j.mu, NULL);
	int nt = o->threads < n ? o->threads : n;
	pthread_t tid[64];
	int started = 0;
	for (; started < nt; started++)
		if (pthread_create(&tid[started], NULL, worker, &j))
			break;
	if (started == 0)
		worker(&j); /* no thread could start: render on this one */
	for (int i = 0; i < started; i++)
		pthread_join(tid[i], NULL);
	pthread_mutex_destroy(&j.mu);
	if (j.failed) {
		if (err)
			*err = j.err;
		return j.err.code ? j.err.code : SVT_E_IO;
	}
	return SVT_OK;
}

/* ---- ground truth -------------------------------------------------------------------------- */

static json_t *jarray_d(const double *v, int n)
{
	json_t *a = json_array();
	for (int i = 0; i < n; i++)
		json_array_append_new(a, json_real(v[i]));
	return a;
}

static const char CONVENTION[] =
	"ENU: x east, y north, z up (metres), tangent to WGS84 at enu_origin (the first frame's "
	"position). lat/lon WGS84 degrees, h ellipsoidal metres (also what EXIF GPSAltitude "
	"holds). heading: degrees clockwise from north, pitch: degrees up, roll: degrees about "
	"the forward axis. R_c2w (row-major 3x3, camera to ENU) = Base(heading) Rx(pitch) "
	"Rz(roll), Base(h) columns x=(cos h,-sin h,0), y=(0,0,-1), z=(sin h,cos h,0), Rx(p)="
	"[[1,0,0],[0,cos p,-sin p],[0,sin p,cos p]], Rz(r)=[[cos r,-sin r,0],[sin r,cos r,0],"
	"[0,0,1]]. w2c: row-major 4x4 OpenCV world(ENU)-to-camera [R_c2w^T | -R_c2w^T C]. "
	"Panorama: OpenCV camera axes, lon in [-pi,pi) left to right, lat +pi/2 at the top, "
	"col = (lon/2pi + 0.5) W - 0.5, row = (0.5 - lat/pi) H - 0.5, direction = (cos lat sin lon, "
	"-sin lat, cos lat cos lon). depth: 16-bit PNG of W/2 x H/2 on the same convention, range "
	"along each pixel's ray in millimetres, 0 = sky or beyond 65.535 m.";

static int write_ground_truth(const opts *o, const route *r, const shot *shots, int n,
			      double spacing, const smp_scene *scene, const smp_run_look *look,
			      svt_err *err)
{
	json_t *root = json_object(), *frames = json_array(), *orig = json_object();
	char path[4096], iso[40];
	int rc = SVT_OK;
	json_object_set_new(root, "generator", json_string(GEN_NAME " " SVT_VERSION));
	json_object_set_new(root, "seed", json_integer((json_int_t)o->seed));
	if (o->run) {
		json_object_set_new(root, "run", json_integer(o->run));
		json_object_set_new(root, "light_gain", jarray_d(look->gain, 3));
		json_object_set_new(root, "transients", json_integer(look->n));
	}
	json_object_set_new(root, "route", json_string("Sejong-daero, Seoul: Gwanghwamun Square to "
						       "Seoul City Hall, southbound"));
	if (o->corners)
		route_turns_json(root, r, spacing);
	json_object_set_new(orig, "lat", json_real(r->origin[0]));
	json_object_set_new(orig, "lon", json_real(r->origin[1]));
	json_object_set_new(orig, "h", json_real(r->origin[2]));
	json_object_set_new(root, "enu_origin", orig);
	json_object_set_new(root, "convention", json_string(CONVENTION));
	json_object_set_new(root, "width", json_integer(o->width));
	json_object_set_new(root, "height", json_integer(o->width / 2));
	json_object_set_new(root, "depth_width", json_integer(o->width / 2));
	json_object_set_new(root, "depth_height", json_integer(o->width / 4));
	json_object_set_new(root, "spacing_m", json_real(spacing));
	json_object_set_new(root, "track", json_string("track.gpx"));
	int nb, np;
	smp_scene_counts(scene, &nb, &np);
	json_t *sc = json_object();
	json_object_set_new(sc, "ground_u", json_real(-CAM_HEIGHT_M));
	json_object_set_new(sc, "buildings", json_integer(nb));
	json_object_set_new(sc, "poles", json_integer(np));
	json_object_set_new(root, "scene", sc);
	for (int i = 0; i < n; i++) {
		const shot *s = &shots[i];
		json_t *f = json_object();
		json_object_set_new(f, "file", json_string(s->file));
		json_object_set_new(f, "depth", json_string(s->depth));
		if (s->mask[0])
			json_object_set_new(f, "static_mask", json_string(s->mask));
		smp_time_iso(s->time_us, iso, sizeof(iso));
		json_object_set_new(f, "time_utc", json_string(iso));
		json_object_set_new(f, "time_us", json_integer((json_int_t)s->time_us));
		json_object_set_new(f, "lat", json_real(s->llh[0]));
		json_object_set_new(f, "lon", json_real(s->llh[1]));
		json_object_set_new(f, "h", json_real(s->llh[2]));
		json_object_set_new(f, "enu", jarray_d(s->enu, 3));
		json_object_set_new(f, "heading", json_real(s->heading));
		json_object_set_new(f, "pitch", json_real(s->pitch));
		json_object_set_new(f, "roll", json_real(s->roll));
		json_object_set_new(f, "R_c2w", jarray_d(s->R, 9));
		json_object_set_new(f, "w2c", jarray_d(s->w2c, 16));
		json_object_set_new(f, "expect", json_string(s->expect));
		if (s->note)
			json_object_set_new(f, "note", json_string(s->note));
		json_array_append_new(frames, f);
	}
	json_object_set_new(root, "frames", frames);
	if ((rc = svt_path_join(path, sizeof(path), o->out, "ground_truth.json", err)))
		goto done;
	if (json_dump_file(root, path, JSON_INDENT(1) | JSON_PRESERVE_ORDER)) {
		rc = svt_err_set(err, SVT_E_IO, "cannot write %s", path);
		goto done;
	}
done:
	json_decref(root);
	return rc;
}

static int write_gpx(const opts *o, const shot *shots, int n, svt_err *err)
{
	char path[4096], iso[40];
	int rc;
	if ((rc = svt_path_join(path, sizeof(path), o->out, "track.gpx", err)))
		return rc;
	FILE *f = fopen(path, "w");
	if (!f)
		return svt_err_set(err, SVT_E_IO, "%s: %s", path, strerror(errno));
	fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		   "<gpx version=\"1.1\" creator=\"" GEN_NAME "\" "
		   "xmlns=\"http://www.topografix.com/GPX/1/1\">\n"
		   " <trk><name>Sejong-daero southbound (true positions)</name><trkseg>\n");
	for (int i = 0; i < n; i++) {
		const shot *s = &shots[i];
		if (strcmp(s->expect, "ok"))
			continue; /* the track is the true drive; bad files are not part of it */
		smp_time_iso(s->time_us, iso, sizeof(iso));
		fprintf(f, "  <trkpt lat=\"%.10f\" lon=\"%.10f\"><ele>%.4f</ele><time>%s</time></trkpt>\n",
			s->llh[0], s->llh[1], s->llh[2], iso);
	}
	fprintf(f, " </trkseg></trk>\n</gpx>\n");
	if (ferror(f) | fclose(f))
		return svt_err_set(err, SVT_E_IO, "%s: write failed", path);
	return SVT_OK;
}

/* Counts (and with unlink set, removes) the entries of dir matching pattern. */
static int match_files(const char *dir, const char *pattern, int unlink_them)
{
	DIR *d = opendir(dir);
	if (!d)
		return 0;
	struct dirent *e;
	char path[4096];
	int n = 0;
	while ((e = readdir(d)))
		if (!fnmatch(pattern, e->d_name, 0)) {
			n++;
			if (unlink_them &&
			    snprintf(path, sizeof(path), "%s/%s", dir, e->d_name) < (int)sizeof(path))
				unlink(path);
		}
	closedir(d);
	return n;
}

/* A smaller capture written over a larger one must leave no stale frames behind, but files
 * this generator did not write are never touched: stale pano_*.jpg are removed only where
 * ground_truth.json says svtwin-samples made them, or our .depth/pano_*.png are there;
 * anywhere else they stop the run. */
static int clear_previous(const char *out, const char *depth_dir, svt_err *err)
{
	if (!match_files(out, "pano_*.jpg", 0) && !match_files(depth_dir, "pano_*.png", 0))
		return SVT_OK;
	char path[4096];
	int ours = 0;
	if (snprintf(path, sizeof(path), "%s/ground_truth.json", out) < (int)sizeof(path)) {
		json_error_t je;
		json_t *gt = json_load_file(path, 0, &je);
		const char *g = json_string_value(json_object_get(gt, "generator"));
		ours = g && !strncmp(g, GEN_NAME, strlen(GEN_NAME));
		json_decref(gt);
	}
	/* A run cut short writes no ground truth yet, but leaves its depth maps. */
	ours = ours || match_files(depth_dir, "pano_*.png", 0) > 0;
	if (!ours)
		return svt_err_set(err, SVT_E_INPUT,
				   "%s already holds pano_*.jpg or depth maps that " GEN_NAME
				   " did not write (no ground_truth.json of ours): choose an empty "
				   "directory",
				   out);
	match_files(out, "pano_*.jpg", 1);
	match_files(depth_dir, "pano_*.png", 1);
	return SVT_OK;
}

/* ---- main ---------------------------------------------------------------------------------- */

int main(int argc, char **argv)
{
	opts o;
	if (parse_args(argc, argv, &o))
		return 2;
	double t_start = svt_now();
	svt_err err = {0};
	smp_scene *scene = NULL;
	shot *shots = NULL;
	smp_tbox *tboxes = NULL;
	int ntboxes = 0;
	int rc = SVT_OK;
	char dpath[4096];

	/* The route in the ENU frame of the first frame (its wander sets the origin height). */
	route r = {.n = (int)SVT_ARRAY_LEN(ROUTE)};
	double u0 = height_wander(&o, 0.0, 0);
	r.origin[0] = ROUTE[0][0];
	r.origin[1] = ROUTE[0][1];
	r.origin[2] = BASE_H_M + u0;
	for (int k = 0; k < r.n && !o.corners; k++) {
		double llh[3] = {ROUTE[k][0], ROUTE[k][1], r.origin[2]}, enu[3];
		smp_llh_to_enu(r.origin, llh, enu);
		r.v[k][0] = enu[0];
		r.v[k][1] = enu[1];
		r.cum[k] = k ? r.cum[k - 1] + hypot(r.v[k][0] - r.v[k - 1][0], r.v[k][1] - r.v[k - 1][1])
			     : 0.0;
	}
	if (o.corners)
		route_corners(&r);
	double length = r.cum[r.n - 1];
	double spacing = fmin(o.spacing, length / (o.frames - 1));

	/* Shots in capture order: good frame i at t0 + i s; the bad files half a second after
	 * the frame they follow, so times stay unique and sort in between. */
	int bad = o.bad && o.frames >= 8;
	if (o.bad && !bad)
		fprintf(stderr, GEN_NAME ": fewer than 8 frames: no bad files\n");
	int nbad = bad ? 4 : 0, n = o.frames + nbad;
	shots = calloc((size_t)n, sizeof(shot));
	if (!shots) {
		rc = svt_err_set(&err, SVT_E_NOMEM, "out of memory");
		goto done;
	}
	/* Run R drives R * 9 days later, at another hour (7:00 + 4 R mod 12 h), 0.37 R of a
	 * spacing further along so its frames fall between run 0's. */
	int64_t t_day = (int64_t)o.run * 9, t_hour = o.run ? 7 + (4 * o.run) % 12 : 10;
	const int64_t t0 = (smp_days_from_civil(2025, 10, 14) + t_day) * 86400LL * 1000000LL +
			   (t_hour * 3600 - TZ_MIN * 60LL) * 1000000LL; /* 10:00:00 +09:00 */
	double arc0 = o.run ? fmod(0.37 * o.run, 1.0) * spacing : 0.0;
	if (arc0 + (o.frames - 1) * spacing > length)
		arc0 = 0.0;
	int k_trunc = o.frames / 6, k_dup = o.frames / 3, k_nogps = o.frames / 2,
	    k_null = o.frames * 5 / 6;
	int at = 0;
	for (int i = 0; i < o.frames; i++) {
		shot *s = &shots[at++];
		s->time_us = t0 + (int64_t)i * 1000000;
		shot_pose(&o, &r, s, arc0 + i * spacing, (uint64_t)i, u0);
		snprintf(s->file, sizeof(s->file), "pano_%04d.jpg", i);
		snprintf(s->depth, sizeof(s->depth), DEPTH_DIR "/pano_%04d.png", i);
		if (o.run)
			snprintf(s->mask, sizeof(s->mask), MASK_DIR "/pano_%04d.png", i);
		if (!bad || (i != k_trunc && i != k_dup && i != k_nogps && i != k_null))
			continue;
		/* The bad file after frame i. Those not a copy of frame i are taken where the car
		 * really was half a second later, so geotagging them from track.gpx is right too. */
		shot *b = &shots[at++];
		b->time_us = s->time_us + 500000;
		if (i == k_dup) {
			*b = *s;
			b->time_us = s->time_us + 500000;
			b->meta.time_us = b->time_us;
			b->expect = "duplicate";
			b->note = "same position, heading and pixels as the previous frame";
		} else {
			shot_pose(&o, &r, b, arc0 + (i + 0.5) * spacing, 1000000u + (uint64_t)i, u0);
			if (i == k_trunc) {
				b->expect = "undecodable";
				b->note = "JPEG cut to 55% of its bytes: headers intact, scan data cut";
				b->keep_frac = 0.55;
			} else if (i == k_nogps) {
				b->expect = "no_gps";
				b->note = "EXIF without GPS tags (time and GPano present)";
				b->meta.has_gps = 0;
			} else {
				b->expect = "null_island";
				b->note = "EXIF GPS says 0, 0 (an unset fix); the true pose is given";
				b->meta.lat = 0.0;
				b->meta.lon = 0.0;
			}
		}
		snprintf(b->file, sizeof(b->file), "pano_%04db.jpg", i);
		snprintf(b->depth, sizeof(b->depth), DEPTH_DIR "/pano_%04db.png", i);
		b->mask[0] = '\0';
	}

	if ((rc = svt_mkdirs(o.out, &err)) ||
	    (rc = svt_path_join(dpath, sizeof(dpath), o.out, DEPTH_DIR, &err)) ||
	    (rc = svt_mkdirs(dpath, &err)))
		goto done;
	if ((rc = clear_previous(o.out, dpath, &err)))
		goto done;

	double ground_u = -CAM_HEIGHT_M;
	double (*path)[2] = r.v;
	if ((rc = smp_scene_build((const double(*)[2])path, r.n, o.seed, ground_u, &scene, &err)))
		goto done;
	smp_run_look look = {0};
	if (o.run) {
		if ((rc = smp_run_make((const double(*)[2])path, r.n, o.seed, o.run, ground_u,
				       &tboxes, &ntboxes, &look, &err)))
			goto done;
		smp_scene_set_run(scene, &look);
		if ((rc = svt_path_join(dpath, sizeof(dpath), o.out, MASK_DIR, &err)) ||
		    (rc = svt_mkdirs(dpath, &err)))
			goto done;
		match_files(dpath, "pano_*.png", 1);
	}
	if ((rc = render_all(&o, scene, shots, n, &err)))
		goto done;
	if ((rc = write_ground_truth(&o, &r, shots, n, spacing, scene, &look, &err)) ||
	    (rc = write_gpx(&o, shots, n, &err)))
		goto done;
	if (o.truth_fps > 0 && (rc = write_truth(&o, &r, u0, spacing, scene, &err)))
		goto done;
	if (!o.quiet) {
		int nb, np;
		smp_scene_counts(scene, &nb, &np);
		printf(GEN_NAME ": %d panoramas %dx%d (%d good, %d bad) + depth %dx%d, %.1f m along "
		       "Sejong-daero every %.2f m, %d buildings, %d poles, seed %llu, %d threads, "
		       "%.2f s -> %s\n",
		       n, o.width, o.width / 2, o.frames, nbad, o.width / 2, o.width / 4,
		       spacing * (o.frames - 1), spacing, nb, np, (unsigned long long)o.seed,
		       o.threads, svt_now() - t_start, o.out);
	}
done:
	smp_scene_destroy(scene);
	free(tboxes);
	free(shots);
	if (rc) {
		fprintf(stderr, GEN_NAME ": error: %s\n", err.msg[0] ? err.msg : svt_status_name(rc));
		return 1;
	}
	return 0;
}
