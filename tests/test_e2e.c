/* test_e2e.c: the main job on the generated samples, checked against the generator's ground
 * truth: every good frame's view pose within 1 cm and 0.05 degrees, pixels equal to a view cut
 * from the ground-truth pose, every bad file rejected with its expected reason. */
#include <criterion/criterion.h>
#include <criterion/hooks.h>
#include <fcntl.h>
#include <sys/file.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dataset/dataset.h"
#include "formats/formats.h"
#include "geo/geo.h"
#include "gpu/gpu.h"
#include "ingest/ingest.h"

#define VIEW_W 768
#define VIEW_H 432
#define VIEW_FOV 90.0
#define CLIP_FRAMES 57

static char out_dir[512];
static json_t *gt;

static const char *samples_dir(void)
{
	const char *s = getenv("SVT_SAMPLES");
	return (s && *s) ? s : NULL;
}

/* Builds the dataset once for the whole run: Criterion runs each test in its own process, so
 * the first one to take the lock builds into a directory named after the runner, and the
 * runner removes it when every test is done. */
static int build_once(void)
{
	static int done = 0, ok = 0;
	if (done)
		return ok;
	done = 1;
	snprintf(out_dir, sizeof(out_dir), "/tmp/svt-e2e-%d", (int)getppid());
	char lock[600], cmd[2048], path[1024];
	snprintf(lock, sizeof(lock), "%s.lock", out_dir);
	int fd = open(lock, O_CREAT | O_RDWR, 0644);
	if (fd < 0 || flock(fd, LOCK_EX) != 0)
		return 0;
	snprintf(path, sizeof(path), "%s/manifest.json", out_dir);
	if (access(path, F_OK) != 0) {
		/* The job in process, through the library (dataset/dataset.h). */
		snprintf(cmd, sizeof(cmd), "rm -rf %s", out_dir);
		ok = system(cmd) == 0;
		dataset_opts o;
		dataset_opts_default(&o);
		o.capture = samples_dir();
		o.out = out_dir;
		o.width = VIEW_W;
		o.height = VIEW_H;
		o.hfov_deg = VIEW_FOV;
		o.clip_frames = CLIP_FRAMES;
		dataset_job *j = NULL;
		svt_err err = {0};
		svt_log_set_level(0);
		ok = ok && dataset_job_create(&o, &j, &err) == 0 && dataset_job_run(j, NULL, &err) == 0;
		if (!ok)
			fprintf(stderr, "test_e2e: the build failed: %s\n", err.msg);
		dataset_job_destroy(j);
	} else {
		ok = 1;
	}
	close(fd);
	snprintf(path, sizeof(path), "%s/ground_truth.json", samples_dir());
	json_error_t je;
	gt = json_load_file(path, 0, &je);
	ok = ok && gt;
	return ok;
}

ReportHook(POST_ALL)(struct criterion_global_stats *stats)
{
	(void)stats;
	char cmd[1200];
	snprintf(cmd, sizeof(cmd), "rm -rf /tmp/svt-e2e-%d /tmp/svt-e2e-%d.lock", (int)getpid(),
		 (int)getpid());
	if (system(cmd) != 0)
		fprintf(stderr, "test_e2e: could not remove /tmp/svt-e2e-%d\n", (int)getpid());
}

#define NEED_SAMPLES()                                                                         \
	do {                                                                                   \
		if (!samples_dir())                                                            \
			cr_skip_test("SVT_SAMPLES is not set: run through `make test`");     \
		cr_assert(build_once(), "svtwin build failed on the samples");                 \
	} while (0)

static void jarr(json_t *a, double *v, size_t n)
{
	cr_assert(json_is_array(a) && json_array_size(a) == n);
	for (size_t i = 0; i < n; i++)
		v[i] = json_number_value(json_array_get(a, i));
}

/* The ground-truth frames the pipeline must keep, in capture order. */
static size_t gt_good(json_t **good, size_t cap)
{
	json_t *frames = json_object_get(gt, "frames"), *f;
	size_t i, n = 0;
	json_array_foreach(frames, i, f)
	{
		if (!strcmp(json_string_value(json_object_get(f, "expect")), "ok") && n < cap)
			good[n++] = f;
	}
	return n;
}

static const char *shard_path(void)
{
	static char path[1024];
	char cmd[1200];
	snprintf(cmd, sizeof(cmd), "ls %s/*.h5 2>/dev/null | head -1", out_dir);
	FILE *p = popen(cmd, "r");
	cr_assert(p);
	path[0] = 0;
	if (!fgets(path, sizeof(path), p))
		path[0] = 0;
	pclose(p);
	path[strcspn(path, "\n")] = 0;
	cr_assert(path[0], "no shard written in %s", out_dir);
	return path;
}

Test(e2e, poses_match_ground_truth)
{
	NEED_SAMPLES();
	json_t *good[4096];
	size_t ng = gt_good(good, 4096);
	cr_assert(ng >= CLIP_FRAMES, "the samples hold %zu good frames", ng);

	svt_err err = {0};
	fmt_reader *r = NULL;
	cr_assert_eq(fmt_reader_open(shard_path(), &r, &err), 0, "%s", err.msg);
	fmt_shard_info info;
	cr_assert_eq(fmt_reader_info(r, &info, &err), 0, "%s", err.msg);
	cr_assert_eq(info.crs_epsg, 5186);
	geo_enu *enu = NULL;
	cr_assert_eq(geo_enu_create(info.enu_origin_llh[0], info.enu_origin_llh[1],
				    info.enu_origin_llh[2], &enu, &err), 0, "%s", err.msg);

	/* Ground-truth positions in the shard's ENU frame. */
	double *e = calloc(3 * ng, sizeof(double));
	for (size_t i = 0; i < ng; i++) {
		e[3 * i + 0] = json_number_value(json_object_get(good[i], "lon"));
		e[3 * i + 1] = json_number_value(json_object_get(good[i], "lat"));
		e[3 * i + 2] = json_number_value(json_object_get(good[i], "h"));
	}
	cr_assert_eq(geo_enu_forward(enu, e, e + 1, e + 2, 3 * sizeof(double), ng, &err), 0);

	size_t nclips = fmt_reader_clip_count(r), checked = 0;
	cr_assert_eq(nclips, ng / CLIP_FRAMES, "%zu clips for %zu good frames", nclips, ng);
	double worst_pos = 0, worst_ang = 0;
	for (size_t c = 0; c < nclips; c++) {
		fmt_clip_data cd;
		cr_assert_eq(fmt_reader_clip(r, c, &cd, &err), 0, "%s", err.msg);
		cr_assert_eq(cd.T, CLIP_FRAMES);
		cr_assert_eq(cd.W, VIEW_W);
		cr_assert_eq(cd.H, VIEW_H);
		for (int t = 0; t < cd.T; t++) {
			/* Match by capture time. */
			size_t g = ng;
			for (size_t i = 0; i < ng; i++)
				if ((int64_t)json_integer_value(json_object_get(good[i], "time_us")) ==
				    cd.time_us[t])
					g = i;
			cr_assert(g < ng, "clip %zu frame %d: time %lld is no good GT frame", c, t,
				  (long long)cd.time_us[t]);
			double C[3], R[9];
			geo_pose_center(cd.w2c + 16 * t, C, R);
			double d = hypot(hypot(C[0] - e[3 * g], C[1] - e[3 * g + 1]), C[2] - e[3 * g + 2]);
			worst_pos = fmax(worst_pos, d);
			/* Expected view: level, along the direction of travel (central difference of
			 * the ground-truth positions of the neighbouring good frames). */
			size_t a = g > 0 ? g - 1 : g, b = g + 1 < ng ? g + 1 : g;
			double travel = atan2(e[3 * b] - e[3 * a], e[3 * b + 1] - e[3 * a + 1]) * 180 / M_PI;
			double Rexp[9];
			geo_rot_from_hpr(travel, 0, 0, Rexp);
			worst_ang = fmax(worst_ang, geo_rot_angle_deg(R, Rexp));
			/* Intrinsics: a centred pinhole with the requested field of view. */
			double fx = VIEW_W / 2.0 / tan(VIEW_FOV * M_PI / 360.0);
			cr_assert_float_eq(cd.K[4 * t + 0], fx, 1e-9);
			cr_assert_float_eq(cd.K[4 * t + 2], VIEW_W / 2.0, 1e-9);
			cr_assert_float_eq(cd.K[4 * t + 3], VIEW_H / 2.0, 1e-9);
			cr_assert_float_eq(cd.llh[3 * t], json_number_value(json_object_get(good[g], "lat")), 1e-9);
			checked++;
		}
		fmt_clip_data_free(&cd);
	}
	cr_expect_lt(worst_pos, 0.01, "worst camera position error %.4f m", worst_pos);
	cr_expect_lt(worst_ang, 0.05, "worst orientation error %.4f deg", worst_ang);
	cr_assert_eq(checked, nclips * CLIP_FRAMES);
	free(e);
	geo_enu_destroy(enu);
	fmt_reader_close(r);
}

/* The stored pixels are the view the ground-truth pose predicts: this fails if the pipeline
 * mis-reads the GPano heading, pitch or roll, or mixes up frames. */
Test(e2e, pixels_match_ground_truth_view)
{
	NEED_SAMPLES();
	json_t *good[4096];
	size_t ng = gt_good(good, 4096);
	svt_err err = {0};
	fmt_reader *r = NULL;
	cr_assert_eq(fmt_reader_open(shard_path(), &r, &err), 0, "%s", err.msg);
	fmt_clip_data cd;
	cr_assert_eq(fmt_reader_clip(r, 0, &cd, &err), 0, "%s", err.msg);
	size_t bytes = (size_t)VIEW_W * VIEW_H * 3;
	uint8_t *got = malloc(bytes), *want = malloc(bytes);
	ingest_decoder *dec = NULL;
	cr_assert_eq(ingest_decoder_create(&dec, &err), 0);
	ingest_decode_opts dopts;
	ingest_decode_opts_default(&dopts);
	dopts.want_channels = 3;
	int ts[] = {0, CLIP_FRAMES / 2, CLIP_FRAMES - 1};
	for (size_t q = 0; q < SVT_ARRAY_LEN(ts); q++) {
		int t = ts[q];
		size_t g = ng;
		for (size_t i = 0; i < ng; i++)
			if ((int64_t)json_integer_value(json_object_get(good[i], "time_us")) == cd.time_us[t])
				g = i;
		cr_assert(g < ng);
		cr_assert_eq(fmt_reader_frames(r, 0, t, 1, got, &err), 0, "%s", err.msg);
		char path[1024];
		snprintf(path, sizeof(path), "%s/%s", samples_dir(),
			 json_string_value(json_object_get(good[g], "file")));
		ingest_image img = {0};
		int warn = 0;
		cr_assert_eq(ingest_decode_file(dec, path, &dopts, &img, &warn, &err), 0, "%s", err.msg);
		/* View rotation from the ground truth: R_pano^T * R_view (shard's own view pose,
		 * already checked against the ground truth above). */
		double Rp[9], Rv[9], C[3], R[9];
		jarr(json_object_get(good[g], "R_c2w"), Rp, 9);
		geo_pose_center(cd.w2c + 16 * t, C, Rv);
		geo_rot_relative(Rp, Rv, R);
		gpu_view v;
		gpu_view_pinhole(&v, VIEW_W, VIEW_H, VIEW_FOV);
		memcpy(v.R, R, sizeof(R));
		v.interp = GPU_INTERP_BILINEAR;
		v.antialias = 1;
		gpu_image src = {img.data, img.width, img.height, img.channels, img.stride};
		gpu_image dst = {want, VIEW_W, VIEW_H, 3, VIEW_W * 3};
		cr_assert_eq(gpu_view_from_equirect_ref(&src, &v, &dst, &err), 0, "%s", err.msg);
		size_t off = 0;
		for (size_t i = 0; i < bytes; i++)
			off += abs((int)got[i] - (int)want[i]) > 1;
		cr_expect_lt((double)off / (double)bytes, 1e-3,
			     "frame %d: %zu of %zu bytes differ by more than 1", t, off, bytes);
		ingest_image_free(&img);
	}
	ingest_decoder_destroy(dec);
	free(got);
	free(want);
	fmt_clip_data_free(&cd);
	fmt_reader_close(r);
}

/* Every deliberately bad sample is reported with the reason the generator expects. */
Test(e2e, bad_frames_rejected_with_reason)
{
	NEED_SAMPLES();
	char path[1024];
	snprintf(path, sizeof(path), "%s/rejects.jsonl", out_dir);
	FILE *f = fopen(path, "r");
	cr_assert(f, "no rejects.jsonl");
	char line[4096];
	size_t nlines = 0;
	json_t *lines[256];
	while (fgets(line, sizeof(line), f) && nlines < 256) {
		json_error_t je;
		lines[nlines] = json_loads(line, 0, &je);
		cr_assert(lines[nlines], "bad JSON line: %s", line);
		nlines++;
	}
	fclose(f);
	json_t *frames = json_object_get(gt, "frames"), *fr;
	size_t i, nbad = 0;
	json_array_foreach(frames, i, fr)
	{
		const char *expect = json_string_value(json_object_get(fr, "expect"));
		if (!strcmp(expect, "ok"))
			continue;
		nbad++;
		const char *file = json_string_value(json_object_get(fr, "file"));
		int found = 0;
		for (size_t k = 0; k < nlines; k++) {
			const char *p = json_string_value(json_object_get(lines[k], "path"));
			const char *reason = json_string_value(json_object_get(lines[k], "reason"));
			size_t pl = p ? strlen(p) : 0, fl = strlen(file);
			if (p && pl >= fl && !strcmp(p + pl - fl, file)) {
				found = 1;
				cr_expect_str_eq(reason, expect, "%s", file);
			}
		}
		cr_expect(found, "%s (expected %s) is not in rejects.jsonl", file, expect);
	}
	cr_assert_eq(nlines, nbad, "%zu rejects for %zu bad files", nlines, nbad);
	for (size_t k = 0; k < nlines; k++)
		json_decref(lines[k]);
}

/* No file under a final name is left half-written, and the manifest lists the shards. */
Test(e2e, output_is_committed)
{
	NEED_SAMPLES();
	char cmd[1200];
	snprintf(cmd, sizeof(cmd), "ls %s/*.tmp >/dev/null 2>&1", out_dir);
	cr_expect_neq(system(cmd), 0, "a .tmp file was left in %s", out_dir);
	snprintf(cmd, sizeof(cmd), "%s/manifest.json", out_dir);
	json_error_t je;
	json_t *m = json_load_file(cmd, 0, &je);
	cr_assert(m, "manifest.json: %s", je.text);
	json_decref(m);
	svt_err err = {0};
	FILE *devnull = fopen("/dev/null", "w");
	cr_expect_eq(fmt_dataset_verify(out_dir, devnull, &err), 0, "verify: %s", err.msg);
	fclose(devnull);
}

/* Each clip carries a depth view per frame, and it agrees with the generator's flat ground:
 * the shard's views are level, so a pixel below the horizon in row j sees the ground at
 * z = (camera height above the ground) / ((j + 0.5 - cy) / fy). */
Test(e2e, depth_views_match_ground_plane)
{
	NEED_SAMPLES();
	json_t *good[4096];
	size_t ng = gt_good(good, 4096);
	double ground_u = json_number_value(json_object_get(json_object_get(gt, "scene"), "ground_u"));
	cr_assert(ground_u < 0, "ground_truth.json gives no scene.ground_u");
	svt_err err = {0};
	fmt_reader *r = NULL;
	cr_assert_eq(fmt_reader_open(shard_path(), &r, &err), 0, "%s", err.msg);
	fmt_clip_data cd;
	cr_assert_eq(fmt_reader_clip(r, 0, &cd, &err), 0, "%s", err.msg);
	cr_assert(cd.has_depth, "the sample clips have depth maps, the shard has none");
	float *z = malloc(sizeof(float) * VIEW_W * VIEW_H);
	int ts[] = {0, CLIP_FRAMES / 2, CLIP_FRAMES - 1}, checked = 0;
	double worst = 0;
	for (size_t q = 0; q < SVT_ARRAY_LEN(ts); q++) {
		int t = ts[q];
		size_t g = ng;
		for (size_t i = 0; i < ng; i++)
			if ((int64_t)json_integer_value(json_object_get(good[i], "time_us")) == cd.time_us[t])
				g = i;
		cr_assert(g < ng);
		double enu[3];
		jarr(json_object_get(good[g], "enu"), enu, 3);
		double height = enu[2] - ground_u;
		cr_assert_eq(fmt_reader_depth(r, 0, t, 1, z, &err), 0, "%s", err.msg);
		const double *K = cd.K + 4 * t;
		/* The bottom rows, centre columns: the road just ahead of the camera. */
		for (int j = VIEW_H - 12; j < VIEW_H; j += 3)
			for (int i = VIEW_W / 2 - 8; i <= VIEW_W / 2 + 8; i += 4) {
				double y = (j + 0.5 - K[3]) / K[1];
				double want = height / y;
				double rel = fabs(z[j * VIEW_W + i] - want) / want;
				worst = fmax(worst, rel);
				checked++;
			}
	}
	cr_assert_gt(checked, 0);
	/* Nearest sampling of a half-size depth panorama, millimetre units, float16 storage. */
	cr_log_info("depth: worst relative error %.4f over %d pixels", worst, checked);
	cr_expect_lt(worst, 0.02, "worst relative depth error %.4f", worst);
	free(z);
	fmt_clip_data_free(&cd);
	fmt_reader_close(r);
}
