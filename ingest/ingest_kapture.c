/* ingest_kapture.c: kapture 1.1 import (sensors, rigs, trajectories, camera and GNSS records).
 *
 * Text files: '#' comments (the first one states "kapture format: 1.x"), comma-separated
 * fields with surrounding spaces trimmed; sensor ids may contain spaces. Poses are
 * world-to-device (qw qx qy qz tx ty tz). A rig line gives the sensor's pose in the rig
 * (sensor_from_rig), so a camera's pose from a rig trajectory is sensor_from_rig * rig_from_world.
 */
#include "ingest/ingest_internal.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *const kfile[KF_COUNT] = {"sensors.txt", "rigs.txt", "trajectories.txt",
					     "records_camera.txt", "records_gnss.txt"};

/* What the parse keeps between files: GNSS sensors, rigs and trajectories, before they are
 * joined onto the records. */
typedef struct kpose {
	int64_t ts;
	char *dev;
	double q[4], t[3];
} kpose;
typedef struct krig {
	char *rig, *sensor;
	double q[4], t[3];
} krig;
typedef struct kgnss_sensor {
	char *id;
	int epsg;
} kgnss_sensor;
typedef struct kgnss {
	int64_t ts;
	char *dev;
	double x, y, z, dop;
	int64_t utc;
} kgnss;

typedef struct kparse {
	ingest_kapture *k;
	kpose *poses;
	size_t n_poses, cap_poses;
	krig *rigs;
	size_t n_rigs, cap_rigs;
	kgnss_sensor *gs;
	size_t n_gs, cap_gs;
	kgnss *gnss;
	size_t n_gnss, cap_gnss;
	size_t cap_cams, cap_recs;
} kparse;

/* Grows *v (n elements of size sz) so one more fits. */
static int grow(void **v, size_t *cap, size_t n, size_t sz, svt_err *err)
{
	if (n < *cap)
		return SVT_OK;
	size_t nc = *cap ? 2 * *cap : 16;
	void *nv = realloc(*v, nc * sz);
	if (!nv)
		return svt_err_set(err, SVT_E_NOMEM, "no memory for kapture records");
	*v = nv;
	*cap = nc;
	return SVT_OK;
}

static char *trim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	size_t n = strlen(s);
	while (n && isspace((unsigned char)s[n - 1]))
		s[--n] = 0;
	return s;
}

static int split_fields(char *line, char **f, int max)
{
	int n = 0;
	char *p = line;
	for (;;) {
		char *c = strchr(p, ',');
		if (c)
			*c = 0;
		if (n < max)
			f[n++] = trim(p);
		else
			return max + 1; /* too many */
		if (!c)
			break;
		p = c + 1;
	}
	return n;
}

static int inum(const char *s, int64_t *v)
{
	char *e;
	errno = 0;
	long long x = strtoll(s, &e, 10);
	if (e == s || *e || errno)
		return -1;
	*v = x;
	return 0;
}

/* qw qx qy qz tx ty tz from f[0..7); the quaternion must be (close to) unit length. */
static int pose7(char **f, double q[4], double t[3])
{
	for (int i = 0; i < 4; i++)
		if (ingest_parse_number(f[i], &q[i]))
			return -1;
	for (int i = 0; i < 3; i++)
		if (ingest_parse_number(f[4 + i], &t[i]))
			return -1;
	double n = sqrt(q[0] * q[0] + q[1] * q[1] + q[2] * q[2] + q[3] * q[3]);
	if (!(fabs(n - 1.0) < 1e-3))
		return -2;
	for (int i = 0; i < 4; i++)
		q[i] /= n;
	return 0;
}

static const struct {
	const char *name;
	int n;       /* parameters after width, height */
	int single_f; /* f cx cy ... (one focal) */
} models[] = {
	{"SIMPLE_PINHOLE", 3, 1}, {"PINHOLE", 4, 0}, {"SIMPLE_RADIAL", 4, 1}, {"RADIAL", 5, 1},
	{"OPENCV", 8, 0}, {"OPENCV_FISHEYE", 8, 0}, {"FULL_OPENCV", 12, 0}, {"FOV", 5, 0},
	{"SIMPLE_RADIAL_FISHEYE", 4, 1}, {"RADIAL_FISHEYE", 5, 1}, {"THIN_PRISM_FISHEYE", 12, 0},
};

static int line_sensor(kparse *p, char **f, int nf, const char *where, svt_err *err)
{
	if (nf < 3)
		return svt_err_set(err, SVT_E_FORMAT, "%s: a sensor needs id, name, type", where);
	const char *type = f[2];
	if (!strcmp(type, "camera")) {
		if (nf < 4)
			return svt_err_set(err, SVT_E_FORMAT, "%s: camera without a model", where);
		int m = -1;
		for (size_t i = 0; i < SVT_ARRAY_LEN(models); i++)
			if (!strcmp(f[3], models[i].name))
				m = (int)i;
		if (m < 0)
			return svt_err_set(err, SVT_E_UNSUPPORTED, "%s: camera model %s is not supported",
					   where, f[3]);
		if (nf != 6 + models[m].n)
			return svt_err_set(err, SVT_E_FORMAT, "%s: %s needs width, height and %d parameters, got %d fields",
					   where, f[3], models[m].n, nf - 4);
		ingest_kapture_camera c = {0};
		snprintf(c.model, sizeof(c.model), "%s", f[3]);
		double w, h;
		if (ingest_parse_number(f[4], &w) || ingest_parse_number(f[5], &h) || w < 1 || h < 1 ||
		    w > 1e6 || h > 1e6 || w != floor(w) || h != floor(h))
			return svt_err_set(err, SVT_E_FORMAT, "%s: bad camera size %s x %s", where, f[4], f[5]);
		c.width = (int)w;
		c.height = (int)h;
		for (int i = 0; i < models[m].n; i++)
			if (ingest_parse_number(f[6 + i], &c.params[i]))
				return svt_err_set(err, SVT_E_FORMAT, "%s: parameter %d (%s) is not a number",
						   where, i + 1, f[6 + i]);
		c.n_params = models[m].n;
		if (models[m].single_f) {
			c.fx = c.fy = c.params[0];
			c.cx = c.params[1];
			c.cy = c.params[2];
		} else if (!strcmp(c.model, "FOV") || models[m].n >= 4) {
			c.fx = c.params[0];
			c.fy = c.params[1];
			c.cx = c.params[2];
			c.cy = c.params[3];
		}
		int rc = grow((void **)&p->k->cams, &p->cap_cams, p->k->n_cams, sizeof(c), err);
		if (rc)
			return rc;
		if (!(c.id = strdup(f[0])))
			return svt_err_set(err, SVT_E_NOMEM, "no memory");
		p->k->cams[p->k->n_cams++] = c;
	} else if (!strcmp(type, "gnss")) {
		int epsg = 4326;
		if (nf >= 4 && f[3][0]) {
			/* EPSG:N whole: "EPSG:4326x" is not a code. */
			char *end = NULL;
			long code = strncasecmp(f[3], "EPSG:", 5) ? 0 : strtol(f[3] + 5, &end, 10);
			if (code <= 0 || code > 999999 || !end || *end)
				return svt_err_set(err, SVT_E_FORMAT, "%s: GNSS parameter %s is not an EPSG code",
						   where, f[3]);
			epsg = (int)code;
		}
		int rc = grow((void **)&p->gs, &p->cap_gs, p->n_gs, sizeof(*p->gs), err);
		if (rc)
			return rc;
		if (!(p->gs[p->n_gs].id = strdup(f[0])))
			return svt_err_set(err, SVT_E_NOMEM, "no memory");
		p->gs[p->n_gs++].epsg = epsg;
	}
	/* Other sensor types (lidar, wifi, ...) are not ours: skipped. */
	return SVT_OK;
}

static int line_pose(kparse *p, char **f, int nf, int rig, const char *where, svt_err *err)
{
	if (nf < 9)
		return svt_err_set(err, SVT_E_FORMAT, "%s: a pose needs 9 fields, got %d", where, nf);
	double q[4], t[3];
	int pr = pose7(f + 2, q, t);
	if (pr == -2)
		return svt_err_set(err, SVT_E_FORMAT, "%s: quaternion is not unit length", where);
	if (pr)
		return svt_err_set(err, SVT_E_FORMAT, "%s: pose values are not numbers", where);
	int rc;
	if (rig) {
		if ((rc = grow((void **)&p->rigs, &p->cap_rigs, p->n_rigs, sizeof(krig), err)))
			return rc;
		krig *r = &p->rigs[p->n_rigs];
		r->rig = strdup(f[0]);
		r->sensor = strdup(f[1]);
		p->n_rigs++;
		if (!r->rig || !r->sensor)
			return svt_err_set(err, SVT_E_NOMEM, "no memory");
		memcpy(r->q, q, sizeof(q));
		memcpy(r->t, t, sizeof(t));
		return SVT_OK;
	}
	int64_t ts;
	if (inum(f[0], &ts))
		return svt_err_set(err, SVT_E_FORMAT, "%s: timestamp %s is not an integer", where, f[0]);
	if ((rc = grow((void **)&p->poses, &p->cap_poses, p->n_poses, sizeof(kpose), err)))
		return rc;
	kpose *k = &p->poses[p->n_poses];
	k->ts = ts;
	k->dev = strdup(f[1]);
	p->n_poses++;
	if (!k->dev)
		return svt_err_set(err, SVT_E_NOMEM, "no memory");
	memcpy(k->q, q, sizeof(q));
	memcpy(k->t, t, sizeof(t));
	return SVT_OK;
}

static int line_camera(kparse *p, char **f, int nf, const char *where, svt_err *err)
{
	if (nf != 3)
		return svt_err_set(err, SVT_E_FORMAT, "%s: a camera record needs 3 fields, got %d", where, nf);
	int64_t ts;
	if (inum(f[0], &ts))
		return svt_err_set(err, SVT_E_FORMAT, "%s: timestamp %s is not an integer", where, f[0]);
	int rc = grow((void **)&p->k->recs, &p->cap_recs, p->k->n_recs, sizeof(ingest_kapture_record), err);
	if (rc)
		return rc;
	ingest_kapture_record *r = &p->k->recs[p->k->n_recs];
	memset(r, 0, sizeof(*r));
	r->timestamp = ts;
	r->camera = -1;
	r->sensor = strdup(f[1]);
	r->image = strdup(f[2]);
	p->k->n_recs++;
	if (!r->sensor || !r->image)
		return svt_err_set(err, SVT_E_NOMEM, "no memory");
	return SVT_OK;
}

static int line_gnss(kparse *p, char **f, int nf, const char *where, svt_err *err)
{
	if (nf < 5)
		return svt_err_set(err, SVT_E_FORMAT, "%s: a GNSS record needs at least 5 fields", where);
	kgnss g = {0};
	g.dop = NAN;
	if (inum(f[0], &g.ts) || ingest_parse_number(f[2], &g.x) || ingest_parse_number(f[3], &g.y) || ingest_parse_number(f[4], &g.z))
		return svt_err_set(err, SVT_E_FORMAT, "%s: GNSS values are not numbers", where);
	if (nf > 5 && f[5][0] && inum(f[5], &g.utc))
		return svt_err_set(err, SVT_E_FORMAT, "%s: GNSS utc %s is not an integer", where, f[5]);
	if (nf > 6 && f[6][0] && ingest_parse_number(f[6], &g.dop))
		return svt_err_set(err, SVT_E_FORMAT, "%s: GNSS dop %s is not a number", where, f[6]);
	int rc = grow((void **)&p->gnss, &p->cap_gnss, p->n_gnss, sizeof(kgnss), err);
	if (rc)
		return rc;
	if (!(g.dev = strdup(f[1])))
		return svt_err_set(err, SVT_E_NOMEM, "no memory");
	p->gnss[p->n_gnss++] = g;
	return SVT_OK;
}

/* Parses one file's text (NUL-terminated, modified in place). */
static int parse_text(kparse *p, int which, char *text, const char *fname, svt_err *err)
{
	int lineno = 0;
	char *save = NULL;
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		lineno++;
		char *s = trim(line);
		if (!*s)
			continue;
		if (*s == '#') {
			const char *v = strstr(s, "kapture format:");
			if (v) {
				v += strlen("kapture format:");
				while (*v == ' ')
					v++;
				if (strncmp(v, "1.0", 3) && strncmp(v, "1.1", 3))
					return svt_err_set(err, SVT_E_UNSUPPORTED,
							   "%s: kapture format %s (1.0 and 1.1 are read)", fname, v);
			}
			continue;
		}
		char *f[24];
		int nf = split_fields(s, f, 23);
		char where[256];
		snprintf(where, sizeof(where), "%s:%d", fname, lineno);
		if (nf > 23)
			return svt_err_set(err, SVT_E_FORMAT, "%s: too many fields", where);
		int rc;
		switch (which) {
		case KF_SENSORS: rc = line_sensor(p, f, nf, where, err); break;
		case KF_RIGS: rc = line_pose(p, f, nf, 1, where, err); break;
		case KF_TRAJ: rc = line_pose(p, f, nf, 0, where, err); break;
		case KF_CAMERA: rc = line_camera(p, f, nf, where, err); break;
		default: rc = line_gnss(p, f, nf, where, err); break;
		}
		if (rc)
			return rc;
	}
	return SVT_OK;
}

/* Hamilton product a*b and rotation of v by q. */
static void qmul(const double a[4], const double b[4], double o[4])
{
	o[0] = a[0] * b[0] - a[1] * b[1] - a[2] * b[2] - a[3] * b[3];
	o[1] = a[0] * b[1] + a[1] * b[0] + a[2] * b[3] - a[3] * b[2];
	o[2] = a[0] * b[2] - a[1] * b[3] + a[2] * b[0] + a[3] * b[1];
	o[3] = a[0] * b[3] + a[1] * b[2] - a[2] * b[1] + a[3] * b[0];
}

static void qrot(const double q[4], const double v[3], double o[3])
{
	double p[4] = {0, v[0], v[1], v[2]}, c[4] = {q[0], -q[1], -q[2], -q[3]}, t[4], r[4];
	qmul(q, p, t);
	qmul(t, c, r);
	o[0] = r[1];
	o[1] = r[2];
	o[2] = r[3];
}

/* Joins cameras, poses (direct or through a rig) and GNSS onto the records. */
static void join(kparse *p)
{
	ingest_kapture *k = p->k;
	for (size_t i = 0; i < k->n_recs; i++) {
		ingest_kapture_record *r = &k->recs[i];
		for (size_t c = 0; c < k->n_cams; c++)
			if (!strcmp(k->cams[c].id, r->sensor))
				r->camera = (int)c;
		for (size_t j = 0; j < p->n_poses && !r->has_pose; j++)
			if (p->poses[j].ts == r->timestamp && !strcmp(p->poses[j].dev, r->sensor)) {
				memcpy(r->q, p->poses[j].q, sizeof(r->q));
				memcpy(r->t, p->poses[j].t, sizeof(r->t));
				r->has_pose = 1;
			}
		for (size_t g = 0; g < p->n_rigs && !r->has_pose; g++) {
			const krig *rg = &p->rigs[g];
			if (strcmp(rg->sensor, r->sensor))
				continue;
			for (size_t j = 0; j < p->n_poses; j++)
				if (p->poses[j].ts == r->timestamp && !strcmp(p->poses[j].dev, rg->rig)) {
					/* sensor_from_world = sensor_from_rig * rig_from_world */
					const kpose *w = &p->poses[j];
					double rt[3];
					qmul(rg->q, w->q, r->q);
					qrot(rg->q, w->t, rt);
					for (int a = 0; a < 3; a++)
						r->t[a] = rt[a] + rg->t[a];
					r->has_pose = 1;
					break;
				}
		}
		for (size_t j = 0; j < p->n_gnss && !r->has_gnss; j++)
			if (p->gnss[j].ts == r->timestamp) {
				const kgnss *g = &p->gnss[j];
				r->has_gnss = 1;
				r->gnss_x = g->x;
				r->gnss_y = g->y;
				r->gnss_z = g->z;
				r->gnss_dop = g->dop;
				r->gnss_utc = g->utc;
				r->gnss_epsg = 4326;
				for (size_t s = 0; s < p->n_gs; s++)
					if (!strcmp(p->gs[s].id, g->dev))
						r->gnss_epsg = p->gs[s].epsg;
			}
	}
}

static void kparse_free(kparse *p)
{
	for (size_t i = 0; i < p->n_poses; i++)
		free(p->poses[i].dev);
	for (size_t i = 0; i < p->n_rigs; i++) {
		free(p->rigs[i].rig);
		free(p->rigs[i].sensor);
	}
	for (size_t i = 0; i < p->n_gs; i++)
		free(p->gs[i].id);
	for (size_t i = 0; i < p->n_gnss; i++)
		free(p->gnss[i].dev);
	free(p->poses);
	free(p->rigs);
	free(p->gs);
	free(p->gnss);
}

static int is_file(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* The folder holding sensors.txt: dir itself or dir/sensors. */
static int sensors_dir(const char *dir, char *out, size_t cap)
{
	char p[4096];
	snprintf(p, sizeof(p), "%s/records_camera.txt", dir);
	if (is_file(p)) {
		snprintf(out, cap, "%s", dir);
		return 0;
	}
	snprintf(p, sizeof(p), "%s/sensors/records_camera.txt", dir);
	if (is_file(p)) {
		snprintf(out, cap, "%s/sensors", dir);
		return 0;
	}
	return -1;
}

int ingest_kapture_detect(const char *dir)
{
	char sd[4096], p[4200];
	if (!dir || sensors_dir(dir, sd, sizeof(sd)))
		return 0;
	snprintf(p, sizeof(p), "%s/sensors.txt", sd);
	return is_file(p);
}

int ingest_kapture_parse_mem(ingest_kapture *k, int which, const uint8_t *buf, size_t n,
			     svt_err *err)
{
	if (which < 0 || which >= KF_COUNT)
		return svt_err_set(err, SVT_E_INPUT, "no kapture file %d", which);
	char *text = malloc(n + 1);
	if (!text)
		return svt_err_set(err, SVT_E_NOMEM, "no memory");
	memcpy(text, buf, n);
	text[n] = 0;
	kparse p = {0};
	p.k = k;
	p.cap_cams = k->n_cams;
	p.cap_recs = k->n_recs;
	int rc = parse_text(&p, which, text, kfile[which], err);
	if (!rc)
		join(&p);
	kparse_free(&p);
	free(text);
	return rc;
}

int ingest_kapture_read(const char *dir, ingest_kapture **out, svt_err *err)
{
	*out = NULL;
	char sd[4096];
	if (!dir || sensors_dir(dir, sd, sizeof(sd)))
		return svt_err_set(err, SVT_E_NOTFOUND,
				   "%s: no records_camera.txt (nor sensors/records_camera.txt): not a kapture",
				   dir ? dir : "(null)");
	kparse p = {0};
	ingest_kapture *k = calloc(1, sizeof(*k));
	int rc = SVT_OK;
	if (!k || !(k->root = strdup(sd))) {
		rc = svt_err_set(err, SVT_E_NOMEM, "no memory");
		goto done;
	}
	p.k = k;
	for (int f = 0; f < KF_COUNT; f++) {
		char path[4200];
		snprintf(path, sizeof(path), "%s/%s", sd, kfile[f]);
		if (!is_file(path)) {
			if (f == KF_SENSORS || f == KF_CAMERA) {
				rc = svt_err_set(err, SVT_E_NOTFOUND, "%s is missing", path);
				goto done;
			}
			continue;
		}
		uint8_t *buf = NULL;
		size_t n = 0;
		if ((rc = svt_file_read(path, (size_t)1 << 30, &buf, &n, err)))
			goto done;
		char *text = realloc(buf, n + 1);
		if (!text) {
			free(buf);
			rc = svt_err_set(err, SVT_E_NOMEM, "no memory");
			goto done;
		}
		text[n] = 0;
		rc = parse_text(&p, f, text, path, err);
		free(text);
		if (rc)
			goto done;
	}
	join(&p);
	for (size_t i = 0; i < k->n_recs; i++) {
		ingest_kapture_record *r = &k->recs[i];
		if (!svt_path_is_contained(r->image)) {
			k->n_hostile++;
			continue;
		}
		size_t len = strlen(sd) + strlen(r->image) + 16;
		if (!(r->path = malloc(len))) {
			rc = svt_err_set(err, SVT_E_NOMEM, "no memory");
			goto done;
		}
		snprintf(r->path, len, "%s/records_data/%s", sd, r->image);
	}
done:
	kparse_free(&p);
	if (rc) {
		ingest_kapture_destroy(k);
		return rc;
	}
	*out = k;
	return SVT_OK;
}

void ingest_kapture_destroy(ingest_kapture *k)
{
	if (!k)
		return;
	for (size_t i = 0; i < k->n_cams; i++)
		free(k->cams[i].id);
	for (size_t i = 0; i < k->n_recs; i++) {
		free(k->recs[i].sensor);
		free(k->recs[i].image);
		free(k->recs[i].path);
	}
	free(k->cams);
	free(k->recs);
	free(k->root);
	free(k);
}
