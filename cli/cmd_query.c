/* cmd_query.c: `svtwin query TWIN_DIR ...`: frames of a twin store by place, district or pose,
 * one JSON line per frame on stdout (nearest first for --near); tiles and stale shards for
 * incremental rebuilds. Read-only: never creates or changes the store. */
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "geo/geo.h"
#include "twin/twin.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: svtwin query TWIN_DIR --near LAT,LON [--radius M]\n"
		"       svtwin query TWIN_DIR --district NAME [--layer LAYER]\n"
		"       svtwin query TWIN_DIR --polygon FILE [--epsg N]\n"
		"       svtwin query TWIN_DIR --nearest-pose LAT,LON[,HEADING] [--deg-weight M]\n"
		"       svtwin query TWIN_DIR --tiles [--since GEN]\n"
		"       svtwin query TWIN_DIR --stale-shards\n"
		"       svtwin query TWIN_DIR --points OUT.las [--polygon FILE | --district NAME]\n"
		"  --near LAT,LON     frames within --radius metres (default 50), nearest first\n"
		"  --district NAME    frames labelled NAME (a name or any property: 중구, Jung-gu,\n"
		"                     11140) in --layer (default: the first layer that has it)\n"
		"  --polygon FILE     frames inside any polygon of a vector file OGR reads (GeoJSON,\n"
		"                     Shapefile, GeoPackage...; its CRS from the file, or --epsg N)\n"
		"  --points OUT.las   the fused points (of --polygon or --district, else all) as one\n"
		"                     LAS 1.4 file in the store's CRS\n"
		"  --nearest-pose     the frame minimising distance + M x heading difference in\n"
		"                     degrees (--deg-weight, default 0.5 m per degree)\n"
		"  --tiles            one line per tile (changed after generation GEN with --since)\n"
		"  --stale-shards     shards cut from tiles that changed since they were written\n"
		"  --limit N          print at most N frames\n"
		"Frames print as {\"i\", \"capture\", \"path\", \"time_us\", \"lat\", \"lon\", \"h\", \"e\", \"n\",\n"
		"\"heading\", \"seq\", \"tile\", \"labels\", \"dist_m\"?}; a summary goes to stderr.\n");
}

static int print_json(json_t *j)
{
	if (!j)
		return -1;
	int rc = json_dumpf(j, stdout, JSON_COMPACT | JSON_REAL_PRECISION(15));
	json_decref(j);
	if (rc == 0)
		fputc('\n', stdout);
	return rc;
}

static int print_frame(const twin_store *s, size_t i, double dist)
{
	twin_frame_record r;
	svt_err err = {0};
	if (twin_store_frame_record(s, i, &r, &err)) {
		fprintf(stderr, "svtwin query: %s\n", err.msg);
		return -1;
	}
	const twin_frame *f = &r.f;
	json_error_t je;
	json_t *labels = json_loads(r.labels, 0, &je);
	json_t *j = json_pack("{s:I, s:s, s:s, s:I, s:f, s:f, s:f, s:f, s:f, s:f, s:i, s:[ii], s:o}",
			      "i", (json_int_t)i, "capture", r.capture, "path", r.path, "time_us",
			      (json_int_t)f->time_us, "lat", f->llh[0], "lon", f->llh[1], "h",
			      f->llh[2], "e", f->proj[0], "n", f->proj[1], "heading", f->heading,
			      "seq", f->seq, "tile", r.tx, r.ty, "labels",
			      labels ? labels : json_object());
	if (j && isfinite(dist))
		json_object_set_new(j, "dist_m", json_real(dist));
	return print_json(j);
}

static int size_cmp(const void *a, const void *b)
{
	size_t p = *(const size_t *)a, q = *(const size_t *)b;
	return p < q ? -1 : (p > q);
}

/* --points OUT: the fused points inside the polygons of --polygon FILE or of --district NAME,
 * or all of them, as one LAS 1.4 file. */
static int export_points(twin_store *s, const char *out, const char *polygon, int epsg,
			 const char *district, const char *layer, svt_err *err)
{
	twin_layer *own = NULL;
	const twin_layer *l = NULL;
	long feature = -1;
	int rc = SVT_OK;
	if (polygon) {
		twin_layer_opts lo;
		twin_layer_opts_default(&lo);
		lo.epsg = epsg;
		if ((rc = twin_layer_load(polygon, &lo, &own, err)))
			return rc;
		l = own;
	} else if (district) {
		for (size_t k = 0; k < twin_store_layer_count(s) && feature < 0; k++) {
			if (layer && strcmp(layer, twin_store_layer_name(s, k)))
				continue;
			l = twin_store_layer(s, k);
			feature = l ? twin_layer_find(l, district) : -1;
		}
		if (feature < 0)
			return svt_err_set(err, SVT_E_NOTFOUND, "no feature called '%s' in %s", district,
					   layer ? layer : "the store's layers");
	}
	size_t n = 0;
	rc = twin_store_export_points(s, l, feature, out, &n, err);
	if (!rc)
		fprintf(stderr, "svtwin query: %zu point(s) -> %s\n", n, out);
	twin_layer_destroy(own);
	return rc;
}

static int parse_latlon(const char *v, double *lat, double *lon, double *third)
{
	double a, b, c;
	char tail;
	int n = sscanf(v, "%lf,%lf,%lf%c", &a, &b, &c, &tail);
	if (n == 3 && third) {
		*third = c;
	} else if (n != 2 || sscanf(v, "%lf,%lf%c", &a, &b, &tail) != 2) {
		return -1;
	}
	if (!isfinite(a) || !isfinite(b) || fabs(a) > 90 || fabs(b) > 180)
		return -1;
	*lat = a;
	*lon = b;
	return 0;
}

int cmd_query(int argc, char **argv)
{
	const char *dir = NULL, *district = NULL, *layer = NULL, *polygon = NULL;
	int epsg = 0;
	double lat = NAN, lon = NAN, radius = 50.0, heading = NAN, degw = 0.5;
	int mode = 0; /* 1 near, 2 district, 3 pose, 4 tiles, 5 stale shards, 6 polygon */
	const char *points = NULL;
	long long since = -1;
	long limit = -1;
	svt_err perr = {0}; /* an option's bad number, named by svt_parse_* */
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		int m = 0;
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(a, "--near") && v) {
			if (parse_latlon(v, &lat, &lon, NULL)) {
				fprintf(stderr, "svtwin query: bad --near '%s' (want LAT,LON)\n", v);
				return 2;
			}
			m = 1;
			i++;
		} else if (!strcmp(a, "--radius") && v) {
			if (svt_parse_double("--radius", v, 0, 1e7, &radius, &perr))
				return fprintf(stderr, "svtwin query: %s\n", perr.msg), 2;
			i++;
		} else if (!strcmp(a, "--district") && v) {
			district = v;
			m = 2;
			i++;
		} else if (!strcmp(a, "--polygon") && v) {
			polygon = v;
			m = 6;
			i++;
		} else if (!strcmp(a, "--epsg") && v) {
			long long e;
			if (svt_parse_int("--epsg", v, 1, 999999, &e, &perr))
				return fprintf(stderr, "svtwin query: %s\n", perr.msg), 2;
			epsg = (int)e;
			i++;
		} else if (!strcmp(a, "--layer") && v) {
			layer = v;
			i++;
		} else if (!strcmp(a, "--nearest-pose") && v) {
			if (parse_latlon(v, &lat, &lon, &heading)) {
				fprintf(stderr, "svtwin query: bad --nearest-pose '%s' "
						"(want LAT,LON[,HEADING])\n", v);
				return 2;
			}
			m = 3;
			i++;
		} else if (!strcmp(a, "--deg-weight") && v) {
			if (svt_parse_double("--deg-weight", v, 0, 1e9, &degw, &perr))
				return fprintf(stderr, "svtwin query: %s\n", perr.msg), 2;
			i++;
		} else if (!strcmp(a, "--tiles")) {
			m = 4;
		} else if (!strcmp(a, "--since") && v) {
			long long sv;
			if (svt_parse_int("--since", v, 0, LLONG_MAX, &sv, &perr))
				return fprintf(stderr, "svtwin query: %s\n", perr.msg), 2;
			since = sv;
			i++;
		} else if (!strcmp(a, "--stale-shards")) {
			m = 5;
		} else if (!strcmp(a, "--points") && v) {
			points = v;
			i++;
		} else if (!strcmp(a, "--limit") && v) {
			long long lv;
			if (svt_parse_int("--limit", v, 0, 1000000000, &lv, &perr))
				return fprintf(stderr, "svtwin query: %s\n", perr.msg), 2;
			limit = (long)lv;
			i++;
		} else if (a[0] != '-' && !dir) {
			dir = a;
		} else {
			fprintf(stderr, "svtwin query: unknown or incomplete option '%s'\n", a);
			usage(stderr);
			return 2;
		}
		if (m) {
			if (mode && mode != m) {
				fprintf(stderr, "svtwin query: one query at a time\n");
				return 2;
			}
			mode = m;
		}
	}
	if (!dir || (!mode && !points) || (points && mode && mode != 2 && mode != 6)) {
		usage(stderr);
		return 2;
	}

	svt_err err = {0};
	twin_store *s = NULL;
	twin_store_opts o;
	twin_store_opts_default(&o);
	o.no_create = 1;
	if (twin_store_open(dir, &o, &s, &err))
		return cli_fail("query", &err);
	int rc = 0;
	size_t *idx = NULL, n = 0, printed = 0;
	double *dist = NULL;
	if (points) {
		if (export_points(s, points, polygon, epsg, district, layer, &err))
			rc = cli_fail("query", &err);
	} else if (mode == 1 || mode == 2) {
		int r = mode == 1 ? twin_store_query_near(s, lat, lon, radius, &idx, &dist, &n, &err)
				  : twin_store_query_district(s, layer, district, &idx, &n, &err);
		if (r) {
			rc = cli_fail("query", &err);
			goto done;
		}
		for (size_t k = 0; k < n && (limit < 0 || (long)k < limit); k++, printed++)
			if (print_frame(s, idx[k], dist ? dist[k] : NAN)) {
				fprintf(stderr, "svtwin query: write failed\n");
				rc = 1;
				goto done;
			}
		fprintf(stderr, "svtwin query: %zu frame(s)%s\n", n,
			printed < n ? " (output limited)" : "");
	} else if (mode == 6) {
		twin_layer_opts lo;
		twin_layer_opts_default(&lo);
		lo.epsg = epsg;
		twin_layer *l = NULL;
		if (twin_layer_load(polygon, &lo, &l, &err)) {
			rc = cli_fail("query", &err);
			goto done;
		}
		/* A frame inside any feature (R*Tree candidates per feature), printed once, in
		 * store order. */
		size_t cap = 0;
		for (size_t k = 0; k < twin_layer_count(l) && !rc; k++) {
			size_t *fi = NULL, nk = 0;
			if (twin_store_query_polygon(s, l, k, &fi, &nk, &err)) {
				rc = cli_fail("query", &err);
				break;
			}
			if (n + nk > cap) {
				cap = 2 * (n + nk);
				size_t *q = realloc(idx, cap * sizeof(size_t));
				if (!q) {
					free(fi);
					fprintf(stderr, "svtwin query: no memory\n");
					rc = 1;
					break;
				}
				idx = q;
			}
			if (nk)
				memcpy(idx + n, fi, nk * sizeof(size_t));
			n += nk;
			free(fi);
		}
		if (idx)
			qsort(idx, n, sizeof(size_t), size_cmp);
		for (size_t k = 0; !rc && k < n && (limit < 0 || (long)printed < limit); k++) {
			if (k && idx[k] == idx[k - 1])
				continue;
			if (print_frame(s, idx[k], NAN)) {
				rc = 1;
				break;
			}
			printed++;
		}
		twin_layer_destroy(l);
		fprintf(stderr, "svtwin query: %zu frame(s)%s\n", printed,
			limit >= 0 && (long)printed >= limit ? " (output limited)" : "");
	} else if (mode == 3) {
		double score = NAN;
		long best = twin_store_nearest_pose(s, lat, lon, heading, degw, &score);
		if (best < 0) {
			fprintf(stderr, "svtwin query: the store has no frames\n");
			rc = 1;
			goto done;
		}
		twin_frame_record fr;
		if (twin_store_frame_record(s, (size_t)best, &fr, &err)) {
			rc = cli_fail("query", &err);
			goto done;
		}
		print_frame(s, (size_t)best, geo_distance_m(lat, lon, fr.f.llh[0], fr.f.llh[1]));
		fprintf(stderr, "svtwin query: score %.3f\n", score);
	} else if (mode == 4) {
		uint64_t gen = twin_store_generation(s);
		for (size_t k = 0; k < twin_store_tile_count(s); k++) {
			twin_tile_info t;
			twin_store_tile(s, k, &t);
			if (since >= 0 && t.gen <= (uint64_t)since)
				continue;
			print_json(json_pack("{s:i, s:i, s:I, s:I, s:I}", "tx", t.tx, "ty", t.ty, "gen",
					     (json_int_t)t.gen, "frames", (json_int_t)t.n_frames,
					     "points", (json_int_t)t.n_points));
			printed++;
		}
		fprintf(stderr, "svtwin query: %zu tile(s), store generation %llu\n", printed,
			(unsigned long long)gen);
	} else {
		const char **names = NULL;
		if (twin_store_stale_shards(s, &names, &n, &err)) {
			rc = cli_fail("query", &err);
			goto done;
		}
		for (size_t k = 0; k < n; k++)
			print_json(json_pack("{s:s}", "stale_shard", names[k]));
		free(names);
		fprintf(stderr, "svtwin query: %zu stale shard(s)\n", n);
	}
done:
	free(idx);
	free(dist);
	twin_store_close(s);
	return rc;
}
