/* test_refs.c: references per clip and warped views (dataset/ds_refs.c) checked against the
 * samples generator's ground truth: capture runs of the same street on other days
 * (build/samples/runs, make samples). Run 0 (no transients) and run 1 (parked cars,
 * pedestrians, other light) go into one twin; run 1's clips draw their references from run 0:
 * - every reference is from another run and at least the stated time gap away, and a gap
 *   wider than the runs' leaves none;
 * - warped pixels of static scene content (the generator's static mask of the target frame)
 *   match the target frame: mean absolute error below 10 of 255 after undoing run 1's light
 *   gain (measured 4.7; a warp with the wrong geometry measures 9.5, test_gpu_warp.c);
 * - a held-out district has no clip in train and no reference drawn from it. */
#include <criterion/criterion.h>
#include <hdf5.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dataset/dataset.h"
#include "formats/fmt_internal.h"
#include "formats/formats.h"
#include "ingest/ingest.h"

enum { VW = 320, VH = 176, CF = 9 };
#define DAY_US 86400000000LL
/* Frame 8 of run 1 lies 3 + 64 m south of the start (37.575296), frame 9 at 75 m: the
 * "north" district holds the first clip of run 1, the "south" one the second. */
#define BORDER_LAT 37.57526

static char g_tmp[256];

static const char *runs_dir(void)
{
	static char d[4096];
	const char *b = getenv("SVT_BUILD");
	snprintf(d, sizeof(d), "%.4000s/samples/runs", b ? b : "build");
	return d;
}

static void need_runs(void)
{
	char p[4200];
	snprintf(p, sizeof(p), "%s/run1/ground_truth.json", runs_dir());
	FILE *f = fopen(p, "r");
	if (!f)
		cr_skip_test("no capture runs in %s (make samples writes them)", runs_dir());
	fclose(f);
	snprintf(g_tmp, sizeof(g_tmp), "/tmp/svt_refsXXXXXX");
	cr_assert(mkdtemp(g_tmp));
}

static void cleanup(void)
{
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_tmp);
	cr_assert_eq(system(cmd), 0);
}

/* The options of a build of capture run `run` into g_tmp/out (paths into the caller's
 * buffers, 4200 bytes each). */
static void run_opts(dataset_opts *o, const char *run, const char *out, char *cap, char *o_,
		     const char *districts, const char *holdout)
{
	snprintf(cap, 4200, "%s/%s", runs_dir(), run);
	snprintf(o_, 4200, "%s/%s", g_tmp, out);
	dataset_opts_default(o);
	o->capture = cap;
	o->out = o_;
	o->clip_frames = CF;
	o->width = VW;
	o->height = VH;
	o->threads = 2;
	o->cpu_only = 1;
	o->districts = districts;
	o->holdout = holdout;
}

static void build(const char *run, const char *out, const char *twin, double gap_s,
		  const char *districts, const char *holdout, dataset_stats *st)
{
	char cap[4200], o_[4200], tw[4200];
	snprintf(tw, sizeof(tw), "%s/%s", g_tmp, twin);
	dataset_opts o;
	run_opts(&o, run, out, cap, o_, districts, holdout);
	o.twin = tw;
	o.ref_min_gap_s = gap_s;
	dataset_job *j = NULL;
	svt_err err = {0};
	cr_assert_eq(dataset_job_create(&o, &j, &err), 0, "%s", err.msg);
	cr_assert_eq(dataset_job_run(j, NULL, &err), 0, "%s: %s", run, err.msg);
	if (st)
		dataset_job_stats(j, st);
	dataset_job_destroy(j);
}

/* The error of a build of run1 that must fail before any clip: its message in msg. */
static int build_refused(const char *out, const char *districts, const char *holdout, char *msg,
			 size_t cap)
{
	char cap_[4200], o_[4200];
	dataset_opts o;
	run_opts(&o, "run1", out, cap_, o_, districts, holdout);
	dataset_job *j = NULL;
	svt_err err = {0};
	cr_assert_eq(dataset_job_create(&o, &j, &err), 0, "%s", err.msg);
	int rc = dataset_job_run(j, NULL, &err);
	dataset_stats st;
	dataset_job_stats(j, &st);
	dataset_job_destroy(j);
	snprintf(msg, cap, "%s", err.msg);
	cr_expect_eq(st.clips_written, 0, "clips written before the refusal");
	return rc;
}

static fmt_reader *open_shard(const char *out, const char *run)
{
	char p[4200];
	snprintf(p, sizeof(p), "%s/%s/%s-00000.h5", g_tmp, out, run);
	fmt_reader *r = NULL;
	svt_err err = {0};
	cr_assert_eq(fmt_reader_open(p, &r, &err), 0, "%s", err.msg);
	return r;
}

/* Reads clips/<id>/<name> whole into buf (n elements of type). */
static void read_ds(fmt_reader *r, const char *id, const char *name, hid_t type, void *buf)
{
	char p[512];
	snprintf(p, sizeof(p), "clips/%s/%s", id, name);
	hid_t ds = H5Dopen2(fmt_reader_h5file(r), p, H5P_DEFAULT);
	cr_assert_geq(ds, 0, "no %s", p);
	cr_assert_geq(H5Dread(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf), 0, "%s", p);
	H5Dclose(ds);
}

static int read_nrefs(fmt_reader *r, const char *id)
{
	char p[512];
	snprintf(p, sizeof(p), "clips/%s/refs/timestamps", id);
	hid_t ds = H5Dopen2(fmt_reader_h5file(r), p, H5P_DEFAULT);
	cr_assert_geq(ds, 0, "no %s", p);
	hid_t sp = H5Dget_space(ds);
	int n = (int)H5Sget_simple_extent_npoints(sp);
	H5Sclose(sp);
	H5Dclose(ds);
	return n;
}

/* The ref's run names (fixed-length strings). */
static void read_runs(fmt_reader *r, const char *id, int R, char names[][64])
{
	char p[512];
	snprintf(p, sizeof(p), "clips/%s/refs/run", id);
	hid_t ds = H5Dopen2(fmt_reader_h5file(r), p, H5P_DEFAULT);
	hid_t t = H5Dget_type(ds);
	size_t w = H5Tget_size(t);
	char *buf = calloc((size_t)R, w);
	cr_assert_geq(H5Dread(ds, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf), 0);
	/* A run is the twin's capture name, NAME@DIGEST (its content): keep NAME. */
	for (int i = 0; i < R; i++) {
		snprintf(names[i], 64, "%.*s", (int)(w < 63 ? w : 63), buf + w * i);
		names[i][strcspn(names[i], "@")] = 0;
	}
	free(buf);
	H5Tclose(t);
	H5Dclose(ds);
}

static json_t *gt_of(const char *run)
{
	char p[4200];
	snprintf(p, sizeof(p), "%s/%s/ground_truth.json", runs_dir(), run);
	json_error_t je;
	json_t *g = json_load_file(p, 0, &je);
	cr_assert(g, "%s", p);
	return g;
}

static json_t *gt_frame_at(json_t *g, int64_t t_us)
{
	json_t *fs = json_object_get(g, "frames");
	for (size_t i = 0; i < json_array_size(fs); i++) {
		json_t *f = json_array_get(fs, i);
		if (json_integer_value(json_object_get(f, "time_us")) == t_us)
			return f;
	}
	return NULL;
}

/* The target view's static mask: 1 where the pixel's ray (from the shard's pose and K) meets
 * the static scene in the generator's mask panorama and so do its 8 neighbours (away from
 * edges, where one pixel mixes both). */
static void view_static_mask(json_t *f, const double *w2c, const double *K, uint8_t *out)
{
	char p[4200];
	snprintf(p, sizeof(p), "%s/run1/%s", runs_dir(),
		 json_string_value(json_object_get(f, "static_mask")));
	ingest_decoder *dec = NULL;
	ingest_image img = {0};
	ingest_decode_opts o;
	ingest_decode_opts_default(&o);
	o.want_channels = 0;
	int warn = 0;
	svt_err err = {0};
	cr_assert_eq(ingest_decoder_create(&dec, &err), 0);
	cr_assert_eq(ingest_decode_file(dec, p, &o, &img, &warn, &err), 0, "%s", err.msg);
	cr_assert_eq(img.channels, 1);
	double Rp[9];
	json_t *a = json_object_get(f, "R_c2w");
	for (int i = 0; i < 9; i++)
		Rp[i] = json_real_value(json_array_get(a, (size_t)i));
	uint8_t *raw = malloc(VW * VH);
	for (int j = 0; j < VH; j++)
		for (int i = 0; i < VW; i++) {
			double d[3] = {(i + 0.5 - K[2]) / K[0], (j + 0.5 - K[3]) / K[1], 1}, wv[3], pv[3];
			for (int r = 0; r < 3; r++)
				wv[r] = w2c[r] * d[0] + w2c[4 + r] * d[1] + w2c[8 + r] * d[2];
			for (int c = 0; c < 3; c++)
				pv[c] = Rp[c] * wv[0] + Rp[3 + c] * wv[1] + Rp[6 + c] * wv[2];
			double lon = atan2(pv[0], pv[2]), lat = atan2(-pv[1], hypot(pv[0], pv[2]));
			int col = (int)lround((lon / (2 * M_PI) + 0.5) * img.width - 0.5);
			int row = (int)lround((0.5 - lat / M_PI) * img.height - 0.5);
			col = (col % img.width + img.width) % img.width;
			row = row < 0 ? 0 : row >= img.height ? img.height - 1 : row;
			raw[j * VW + i] = img.data[(size_t)row * img.stride + col] == 255;
		}
	for (int j = 0; j < VH; j++)
		for (int i = 0; i < VW; i++) {
			int ok = 1;
			for (int dy = -1; dy <= 1; dy++)
				for (int dx = -1; dx <= 1; dx++) {
					int y = j + dy, x = i + dx;
					if (y >= 0 && y < VH && x >= 0 && x < VW)
						ok &= raw[y * VW + x];
				}
			out[j * VW + i] = (uint8_t)ok;
		}
	free(raw);
	ingest_image_free(&img);
	ingest_decoder_destroy(dec);
}

Test(refs, from_another_run_and_static_pixels_match, .timeout = 120)
{
	need_runs();
	dataset_stats st;
	build("run0", "o0", "twin", 0, NULL, NULL, NULL);
	build("run1", "o1", "twin", 5.0 * 86400, NULL, NULL, &st);
	cr_assert_gt(st.refs_written, 0);
	cr_assert_gt(st.warps_written, 0);
	json_t *g1 = gt_of("run1");
	double gain[3];
	for (int q = 0; q < 3; q++)
		gain[q] = json_real_value(json_array_get(json_object_get(g1, "light_gain"), (size_t)q));
	fmt_reader *r = open_shard("o1", "run1");
	cr_assert_eq(fmt_reader_clip_count(r), 2);
	double sum = 0;
	size_t npx = 0;
	for (size_t c = 0; c < fmt_reader_clip_count(r); c++) {
		const char *id = fmt_reader_clip_id(r, c);
		fmt_clip_data cd;
		svt_err err = {0};
		cr_assert_eq(fmt_reader_clip(r, c, &cd, &err), 0, "%s", err.msg);
		int R = read_nrefs(r, id);
		cr_assert(R >= 2 && R <= 6, "clip %s: %d references", id, R);
		int64_t rt[8];
		char runs[8][64];
		int32_t target[8], wref[CF];
		read_ds(r, id, "refs/timestamps", H5T_NATIVE_INT64, rt);
		read_ds(r, id, "refs/target_frame", H5T_NATIVE_INT32, target);
		read_ds(r, id, "warp_ref", H5T_NATIVE_INT32, wref);
		read_runs(r, id, R, runs);
		for (int i = 0; i < R; i++) {
			cr_assert_str_eq(runs[i], "run0", "reference %d of %s", i, id);
			double gap = fabs((double)(rt[i] - cd.time_us[0])) / 1e6;
			cr_assert_geq(gap, 5.0 * 86400, "reference %d of %s is %.0f s away", i, id, gap);
			cr_assert(target[i] >= -1 && target[i] < CF);
		}
		uint8_t *frames = malloc((size_t)CF * VW * VH * 3), *warp = malloc((size_t)CF * VW * VH * 3);
		uint8_t *valid = malloc((size_t)CF * VW * VH), *sm = malloc(VW * VH);
		cr_assert_eq(fmt_reader_frames(r, c, 0, CF, frames, &err), 0, "%s", err.msg);
		read_ds(r, id, "warp", H5T_NATIVE_UINT8, warp);
		read_ds(r, id, "warp_mask", H5T_NATIVE_UINT8, valid);
		for (int t = 0; t < CF; t++) {
			cr_assert_geq(wref[t], 0, "frame %d of %s has a warp", t, id);
			json_t *f = gt_frame_at(g1, cd.time_us[t]);
			cr_assert(f);
			view_static_mask(f, cd.w2c + 16 * t, cd.K + 4 * t, sm);
			size_t o = (size_t)t * VW * VH;
			for (int j = 2; j < VH - 2; j++)
				for (int i = 2; i < VW - 2; i++) {
					size_t k = (size_t)j * VW + i;
					if (!valid[o + k] || !sm[k])
						continue;
					for (int q = 0; q < 3; q++)
						sum += fabs(frames[3 * (o + k) + q] / gain[q] -
							    warp[3 * (o + k) + q]);
					npx++;
				}
		}
		free(frames), free(warp), free(valid), free(sm);
		fmt_clip_data_free(&cd);
	}
	double mae = sum / (3.0 * (double)npx);
	cr_log_info("warped static pixels: MAE %.2f over %zu pixels", mae, npx);
	cr_assert_gt(npx, (size_t)(0.15 * 2 * CF * VW * VH), "too few pixels compared: %zu", npx);
	cr_assert_lt(mae, 10.0, "warped static pixels differ from the target: MAE %.2f", mae);
	fmt_reader_close(r);
	json_decref(g1);

	/* The coverage filter at work in the job: asking for 0.95 of each target view (the
	 * kept ones cover about 0.45: sky has no depth) drops every candidate, counted. */
	{
		char cap[4200], o_[4200], tw[4200];
		snprintf(cap, sizeof(cap), "%s/run1", runs_dir());
		snprintf(o_, sizeof(o_), "%s/o1cov", g_tmp);
		snprintf(tw, sizeof(tw), "%s/twin", g_tmp);
		dataset_opts o;
		dataset_opts_default(&o);
		o.capture = cap, o.out = o_, o.twin = tw, o.clip_frames = CF, o.width = VW;
		o.height = VH, o.threads = 2, o.cpu_only = 1, o.ref_min_cover = 0.95;
		dataset_job *j = NULL;
		svt_err err = {0};
		cr_assert_eq(dataset_job_create(&o, &j, &err), 0, "%s", err.msg);
		cr_assert_eq(dataset_job_run(j, NULL, &err), 0, "%s", err.msg);
		dataset_job_stats(j, &st);
		dataset_job_destroy(j);
		cr_assert_gt(st.refs_dropped_cover, 0);
		cr_assert_eq(st.warps_written, 0, "only the lookahead (never warped) may be left");
	}
	/* A gap wider than the nine days between the runs leaves no reference. */
	build("run1", "o1gap", "twin", 10.0 * 86400, NULL, NULL, &st);
	cr_assert_eq(st.refs_written, 0);
	r = open_shard("o1gap", "run1");
	for (size_t c = 0; c < fmt_reader_clip_count(r); c++)
		cr_assert_eq(read_nrefs(r, fmt_reader_clip_id(r, c)), 0);
	fmt_reader_close(r);
	cleanup();
}

Test(refs, holdout_district_goes_to_test_whole, .timeout = 120)
{
	need_runs();
	char gj[4200];
	snprintf(gj, sizeof(gj), "%s/districts.geojson", g_tmp);
	FILE *f = fopen(gj, "w");
	cr_assert(f);
	fprintf(f, "{\"type\":\"FeatureCollection\",\"features\":["
		   "{\"type\":\"Feature\",\"properties\":{\"name\":\"North-gu\"},\"geometry\":"
		   "{\"type\":\"Polygon\",\"coordinates\":[[[126.97,%.6f],[126.99,%.6f],[126.99,37.60],"
		   "[126.97,37.60],[126.97,%.6f]]]}},"
		   "{\"type\":\"Feature\",\"properties\":{\"name\":\"South-gu\"},\"geometry\":"
		   "{\"type\":\"Polygon\",\"coordinates\":[[[126.97,37.55],[126.99,37.55],[126.99,%.6f],"
		   "[126.97,%.6f],[126.97,37.55]]]}}]}\n",
		BORDER_LAT, BORDER_LAT, BORDER_LAT, BORDER_LAT, BORDER_LAT);
	fclose(f);
	dataset_stats st;
	/* A name the layer lacks (a typo) would hold nothing out and put the north into train:
	 * refused with the layer's names; so are names with no layer to name. */
	char msg[SVT_ERR_MSG_MAX];
	cr_expect_eq(build_refused("typo", gj, "North-gu,Nort-gu", msg, sizeof(msg)), SVT_E_INPUT,
		     "%s", msg);
	cr_expect(strstr(msg, "no district named 'Nort-gu'") && strstr(msg, "North-gu, South-gu"),
		  "%s", msg);
	cr_expect_eq(build_refused("nolayer", NULL, "North-gu", msg, sizeof(msg)), SVT_E_INPUT, "%s",
		     msg);
	cr_expect(strstr(msg, "no districts layer"), "%s", msg);
	build("run0", "o0", "twin", 0, gj, NULL, NULL);
	/* Names match as the labels do, whatever their case. */
	build("run1", "o1", "twin", 0, gj, "north-GU", &st);
	cr_assert_eq(st.clips_holdout, 1, "the northern clip goes to test");
	json_t *g0 = gt_of("run0");
	fmt_reader *r = open_shard("o1", "run1");
	int train = 0, test = 0;
	for (size_t c = 0; c < fmt_reader_clip_count(r); c++) {
		const char *id = fmt_reader_clip_id(r, c);
		fmt_clip_data cd;
		svt_err err = {0};
		cr_assert_eq(fmt_reader_clip(r, c, &cd, &err), 0, "%s", err.msg);
		int north = 0;
		for (int t = 0; t < cd.T; t++)
			north |= cd.llh[3 * t] >= BORDER_LAT;
		if (north)
			cr_assert_str_eq(cd.split, "test", "a clip in the held-out district");
		train += !strcmp(cd.split, "train");
		test += !strcmp(cd.split, "test");
		int R = read_nrefs(r, id);
		int64_t rt[8];
		read_ds(r, id, "refs/timestamps", H5T_NATIVE_INT64, rt);
		for (int i = 0; i < R; i++) {
			json_t *fr = gt_frame_at(g0, rt[i]);
			cr_assert(fr);
			double lat = json_real_value(json_object_get(fr, "lat"));
			if (strcmp(cd.split, "test"))
				cr_assert_lt(lat, BORDER_LAT, "a %s clip's reference from the held-out "
					     "district (lat %.6f)", cd.split, lat);
		}
		if (!strcmp(cd.split, "train"))
			cr_assert_gt(R, 0, "the train clip still has references");
		fmt_clip_data_free(&cd);
	}
	cr_assert_eq(test, 1);
	cr_assert_eq(train, 1);
	char north_id[128];
	snprintf(north_id, sizeof(north_id), "%s", fmt_reader_clip_id(r, 0));
	fmt_reader_close(r);
	json_decref(g0);
	/* verify checks both rules: the dataset passes; with the held-out clip relabelled train
	 * it names the clip in the held-out district and its references from the test split. */
	char out[4200];
	snprintf(out, sizeof(out), "%s/o1", g_tmp);
	FILE *vf = tmpfile();
	svt_err err = {0};
	cr_assert_eq(fmt_dataset_verify(out, vf, &err), 0, "%s", err.msg);
	char shard[4300];
	snprintf(shard, sizeof(shard), "%s/run1-00000.h5", out);
	hid_t fh = H5Fopen(shard, H5F_ACC_RDWR, H5P_DEFAULT);
	cr_assert_geq(fh, 0);
	char gp[200];
	snprintf(gp, sizeof(gp), "clips/%s", north_id);
	hid_t g = H5Gopen2(fh, gp, H5P_DEFAULT);
	H5Adelete(g, "split");
	cr_assert_eq(fmt_attr_put_str(g, "split", "train", &err), 0);
	H5Gclose(g);
	H5Fclose(fh);
	/* The manifest follows the edit, so that only the rules can fail. */
	char mp[4300], hex[65];
	uint64_t bytes;
	snprintf(mp, sizeof(mp), "%s/manifest.json", out);
	json_error_t je;
	json_t *m = json_load_file(mp, 0, &je);
	cr_assert(m);
	cr_assert_eq(fmt_file_sha256(shard, hex, &bytes, &err), 0, "%s", err.msg);
	json_t *s0 = json_array_get(json_object_get(m, "shards"), 0);
	json_object_set_new(s0, "sha256", json_string(hex));
	json_object_set_new(s0, "bytes", json_integer((json_int_t)bytes));
	cr_assert_eq(json_dump_file(m, mp, JSON_INDENT(1)), 0);
	json_decref(m);
	rewind(vf);
	cr_assert_neq(fmt_dataset_verify(out, vf, &err), 0);
	fflush(vf);
	long len = ftell(vf);
	char *txt = calloc(1, (size_t)len + 1);
	rewind(vf);
	cr_assert_eq(fread(txt, 1, (size_t)len, vf), (size_t)len);
	cr_assert(strstr(txt, "lies in held-out district North-gu but is train"), "%s", txt);
	cr_assert(strstr(txt, "from the test split"), "%s", txt);
	free(txt);
	fclose(vf);
	/* The holdout as a polygon file instead of names: the same clip goes to test, no train
	 * reference comes from inside it, and verify finds the dataset sound. */
	char poly[4200];
	snprintf(poly, sizeof(poly), "%s/north.geojson", g_tmp);
	f = fopen(poly, "w");
	cr_assert(f);
	fprintf(f, "{\"type\":\"FeatureCollection\",\"features\":[{\"type\":\"Feature\","
		   "\"properties\":{},\"geometry\":{\"type\":\"Polygon\",\"coordinates\":"
		   "[[[126.97,%.6f],[126.99,%.6f],[126.99,37.60],[126.97,37.60],[126.97,%.6f]]]}}]}\n",
		BORDER_LAT, BORDER_LAT, BORDER_LAT);
	fclose(f);
	build("run1", "o1poly", "twin", 0, NULL, poly, &st);
	cr_assert_eq(st.clips_holdout, 1, "the northern clip goes to test");
	g0 = gt_of("run0");
	r = open_shard("o1poly", "run1");
	for (size_t c = 0; c < fmt_reader_clip_count(r); c++) {
		const char *id = fmt_reader_clip_id(r, c);
		fmt_clip_data cd;
		cr_assert_eq(fmt_reader_clip(r, c, &cd, &err), 0, "%s", err.msg);
		int R = read_nrefs(r, id);
		int64_t rt[8];
		read_ds(r, id, "refs/timestamps", H5T_NATIVE_INT64, rt);
		for (int i = 0; i < R && strcmp(cd.split, "test"); i++) {
			double lat = json_real_value(json_object_get(gt_frame_at(g0, rt[i]), "lat"));
			cr_assert_lt(lat, BORDER_LAT, "a %s clip's reference from the holdout", cd.split);
		}
		fmt_clip_data_free(&cd);
	}
	fmt_reader_close(r);
	json_decref(g0);
	snprintf(out, sizeof(out), "%s/o1poly", g_tmp);
	vf = tmpfile();
	cr_assert_eq(fmt_dataset_verify(out, vf, &err), 0, "%s", err.msg);
	fclose(vf);
	cleanup();
}

/* A capture without depth maps gives references whose depth comes from the twin's fused
 * points (another run's), and they still warp. */
Test(refs, depth_from_the_twin_without_depth_maps, .timeout = 120)
{
	need_runs();
	char cmd[9000];
	snprintf(cmd, sizeof(cmd), "mkdir -p '%s/nodepth' && cp '%s/run0/'*.jpg '%s/nodepth/'", g_tmp,
		 runs_dir(), g_tmp);
	cr_assert_eq(system(cmd), 0);
	/* The capture without depth, then run 2 (its depth fused into the twin), then run 1. */
	dataset_opts o;
	dataset_opts_default(&o);
	char cap[4200], out[4200], tw[4200];
	snprintf(cap, sizeof(cap), "%s/nodepth", g_tmp);
	snprintf(out, sizeof(out), "%s/ond", g_tmp);
	snprintf(tw, sizeof(tw), "%s/twin", g_tmp);
	o.capture = cap, o.out = out, o.twin = tw, o.clip_frames = CF, o.width = VW;
	o.height = VH, o.threads = 2, o.cpu_only = 1;
	dataset_job *j = NULL;
	svt_err err = {0};
	cr_assert_eq(dataset_job_create(&o, &j, &err), 0, "%s", err.msg);
	cr_assert_eq(dataset_job_run(j, NULL, &err), 0, "%s", err.msg);
	dataset_job_destroy(j);
	build("run2", "o2", "twin", 0, NULL, NULL, NULL);
	dataset_stats st;
	build("run1", "o1", "twin", 0, NULL, NULL, &st);
	cr_assert_gt(st.refs_written, 0);
	fmt_reader *r = open_shard("o1", "run1");
	int from_twin = 0, from_capture = 0;
	for (size_t c = 0; c < fmt_reader_clip_count(r); c++) {
		const char *id = fmt_reader_clip_id(r, c);
		int R = read_nrefs(r, id);
		int32_t ds[8];
		char runs[8][64];
		read_ds(r, id, "refs/depth_source", H5T_NATIVE_INT32, ds);
		read_runs(r, id, R, runs);
		for (int i = 0; i < R; i++) {
			if (!strcmp(runs[i], "nodepth")) {
				cr_assert_eq(ds[i], FMT_DEPTH_TWIN, "reference %d of %s", i, id);
				from_twin++;
			} else {
				cr_assert_eq(ds[i], FMT_DEPTH_CAPTURE, "reference %d of %s", i, id);
				from_capture++;
			}
		}
	}
	cr_assert_gt(from_twin, 0, "some references come from the capture without depth");
	cr_log_info("%d references with the twin's depth, %d with their own", from_twin,
		    from_capture);
	fmt_reader_close(r);
	cleanup();
}

/* Densified clips (--densify warp) get references and a warp for every frame: the references
 * are chosen along the keyframes and pair with the frames that show them (frame_kind 0); the
 * synthesized frames (poses interpolated) are warped too, and cover their view; on the
 * keyframes the warp's static pixels match the frame (the ground truth of the first test). */
Test(refs, densified_clips_get_references_and_warps, .timeout = 180)
{
	need_runs();
	build("run0", "o0", "twin", 0, NULL, NULL, NULL);
	char cap[4200], o_[4200], tw[4200];
	snprintf(cap, sizeof(cap), "%s/run1", runs_dir());
	snprintf(o_, sizeof(o_), "%s/o1d", g_tmp);
	snprintf(tw, sizeof(tw), "%s/twin", g_tmp);
	dataset_opts o;
	dataset_opts_default(&o);
	o.capture = cap, o.out = o_, o.twin = tw, o.width = VW, o.height = VH, o.threads = 2;
	o.cpu_only = 1, o.densify = DATASET_DENSIFY_WARP, o.out_frames = 17;
	dataset_job *j = NULL;
	svt_err err = {0};
	dataset_stats st;
	cr_assert_eq(dataset_job_create(&o, &j, &err), 0, "%s", err.msg);
	cr_assert_eq(dataset_job_run(j, NULL, &err), 0, "%s", err.msg);
	dataset_job_stats(j, &st);
	dataset_job_destroy(j);
	cr_assert_gt(st.refs_written, 0, "densified clips have references");
	fmt_reader *r = open_shard("o1d", "run1");
	json_t *g1 = gt_of("run1");
	double gain[3];
	for (int q = 0; q < 3; q++)
		gain[q] = json_real_value(json_array_get(json_object_get(g1, "light_gain"), (size_t)q));
	size_t made = 0, made_valid = 0, npx = 0, nclips = fmt_reader_clip_count(r);
	double sum = 0;
	cr_assert_gt(nclips, 0);
	for (size_t c = 0; c < nclips; c++) {
		const char *id = fmt_reader_clip_id(r, c);
		fmt_clip_data cd;
		cr_assert_eq(fmt_reader_clip(r, c, &cd, &err), 0, "%s", err.msg);
		int N = cd.T, R = read_nrefs(r, id);
		cr_assert(N > 9 && N <= 17, "clip %s: %d frames, densified", id, N);
		cr_assert(R >= 1, "clip %s: %d references", id, R);
		int32_t target[8], kind[8], *wref = malloc(sizeof(int32_t) * N);
		uint8_t *fk = malloc((size_t)N);
		read_ds(r, id, "refs/target_frame", H5T_NATIVE_INT32, target);
		read_ds(r, id, "refs/kind", H5T_NATIVE_INT32, kind);
		read_ds(r, id, "warp_ref", H5T_NATIVE_INT32, wref);
		read_ds(r, id, "frame_kind", H5T_NATIVE_UINT8, fk);
		for (int i = 0; i < R; i++)
			if (kind[i] == FMT_REF_TRAJECTORY)
				cr_assert(target[i] >= 0 && target[i] < N && fk[target[i]] == FMT_FRAME_KEY,
					  "reference %d of %s pairs with frame %d (kind %d)", i, id,
					  target[i], target[i] >= 0 && target[i] < N ? fk[target[i]] : -1);
		size_t px = (size_t)VW * VH;
		uint8_t *frames = malloc((size_t)N * px * 3), *warp = malloc((size_t)N * px * 3);
		uint8_t *valid = malloc((size_t)N * px), *sm = malloc(px);
		cr_assert_eq(fmt_reader_frames(r, c, 0, N, frames, &err), 0, "%s", err.msg);
		read_ds(r, id, "warp", H5T_NATIVE_UINT8, warp);
		read_ds(r, id, "warp_mask", H5T_NATIVE_UINT8, valid);
		for (int t = 0; t < N; t++) {
			cr_assert_geq(wref[t], 0, "frame %d of %s has a warp", t, id);
			size_t nv = 0, off = (size_t)t * px;
			for (size_t k = 0; k < px; k++)
				nv += valid[off + k] != 0;
			if (fk[t] != FMT_FRAME_KEY) {
				made++;
				made_valid += nv;
				continue;
			}
			json_t *f = gt_frame_at(g1, cd.time_us[t]);
			cr_assert(f, "keyframe %d of %s is a capture frame", t, id);
			view_static_mask(f, cd.w2c + 16 * t, cd.K + 4 * t, sm);
			for (int jj = 2; jj < VH - 2; jj++)
				for (int i = 2; i < VW - 2; i++) {
					size_t k = (size_t)jj * VW + i;
					if (!valid[off + k] || !sm[k])
						continue;
					for (int q = 0; q < 3; q++)
						sum += fabs(frames[3 * (off + k) + q] / gain[q] -
							    warp[3 * (off + k) + q]);
					npx++;
				}
		}
		free(frames), free(warp), free(valid), free(sm), free(wref), free(fk);
		fmt_clip_data_free(&cd);
	}
	double mae = sum / (3.0 * (double)npx);
	double cover = made ? (double)made_valid / ((double)made * VW * VH) : 0;
	cr_log_info("densified: %zu made frames warped, mean coverage %.2f; keyframes' static MAE "
		    "%.2f over %zu pixels", made, cover, mae, npx);
	cr_assert_gt(made, 0, "the clips have synthesized frames");
	cr_assert_gt(cover, 0.2, "the synthesized frames' warps cover %.2f of their views", cover);
	cr_assert_gt(npx, (size_t)(0.15 * VW * VH), "too few pixels compared: %zu", npx);
	cr_assert_lt(mae, 10.0, "warped static pixels differ from the keyframes: MAE %.2f", mae);
	fmt_reader_close(r);
	json_decref(g1);
	cleanup();
}
