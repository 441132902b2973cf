/* test_formats_guard.c: what keeps a build's output right: the exclusive lock on OUT (two
 * processes), the build-configuration record (compare, capture identity, verify of a dataset
 * that mixes two), and a full disk (a 2 MiB tmpfs, root only: no crash, no final-named partial
 * shard, the message says "No space left on device"). */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <dirent.h>
#include <hdf5.h>

#include "formats/formats.h"

static void tmpdir(char *buf, size_t cap)
{
	snprintf(buf, cap, "/tmp/svt-guard-XXXXXX");
	cr_assert(mkdtemp(buf), "mkdtemp");
}

/* ---- lock --------------------------------------------------------------------------------- */

Test(lock, second_build_refused_naming_the_holder)
{
	char dir[64];
	tmpdir(dir, sizeof(dir));
	int go[2], done[2];
	cr_assert_eq(pipe(go), 0);
	cr_assert_eq(pipe(done), 0);
	pid_t child = fork();
	if (child == 0) {
		fmt_lock *l = NULL;
		char c = fmt_lock_acquire(dir, &l, NULL) ? 'E' : 'L';
		if (write(go[1], &c, 1) != 1)
			_exit(3);
		if (read(done[0], &c, 1) != 1) /* hold until the parent has tried */
			_exit(4);
		fmt_lock_release(l);
		_exit(0);
	}
	char c = 0;
	cr_assert_eq(read(go[0], &c, 1), 1);
	cr_assert_eq(c, 'L', "the first process got the lock");
	fmt_lock *l = NULL;
	svt_err e = {0};
	cr_assert_eq(fmt_lock_acquire(dir, &l, &e), SVT_E_BUSY);
	cr_assert_null(l);
	char pid[32];
	snprintf(pid, sizeof(pid), "pid %ld on ", (long)child);
	cr_assert(strstr(e.msg, pid) && strstr(e.msg, "started") && strstr(e.msg, "another"), "%s",
		  e.msg);
	cr_assert_eq(write(done[1], "x", 1), 1);
	int st;
	cr_assert_eq(waitpid(child, &st, 0), child);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	/* released cleanly: the next one gets it and sees no interrupted holder */
	cr_assert_eq(fmt_lock_acquire(dir, &l, &e), 0, "%s", e.msg);
	cr_assert_null(fmt_lock_previous(l));
	fmt_lock_release(l);
	fmt_lock_release(NULL);
}

Test(lock, dead_holder_never_blocks)
{
	char dir[64];
	tmpdir(dir, sizeof(dir));
	int go[2];
	cr_assert_eq(pipe(go), 0);
	pid_t child = fork();
	if (child == 0) {
		fmt_lock *l = NULL;
		char c = fmt_lock_acquire(dir, &l, NULL) ? 'E' : 'L';
		if (write(go[1], &c, 1) != 1)
			_exit(3);
		pause();
		_exit(0);
	}
	char c = 0;
	cr_assert_eq(read(go[0], &c, 1), 1);
	cr_assert_eq(c, 'L');
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	fmt_lock *l = NULL;
	svt_err e = {0};
	cr_assert_eq(fmt_lock_acquire(dir, &l, &e), 0, "a killed holder blocks: %s", e.msg);
	char pid[32];
	snprintf(pid, sizeof(pid), "pid %ld on ", (long)child);
	cr_assert(fmt_lock_previous(l) && strstr(fmt_lock_previous(l), pid), "%s",
		  fmt_lock_previous(l) ? fmt_lock_previous(l) : "(none)");
	fmt_lock_release(l);
}

Test(lock, missing_dir_is_an_io_error)
{
	fmt_lock *l = NULL;
	svt_err e = {0};
	cr_assert_eq(fmt_lock_acquire("/nonexistent/svt/out", &l, &e), SVT_E_IO);
	cr_assert(strstr(e.msg, "No such file"), "%s", e.msg);
}

/* ---- build configuration ------------------------------------------------------------------ */

static fmt_config *config_of(const char *size, const char *codec, int clip_frames)
{
	fmt_config *c = NULL;
	cr_assert_eq(fmt_config_create(&c, NULL), 0);
	cr_assert_eq(fmt_config_set_str(c, "size", size, NULL), 0);
	cr_assert_eq(fmt_config_set_str(c, "codec", codec, NULL), 0);
	cr_assert_eq(fmt_config_set_int(c, "clip_frames", clip_frames, NULL), 0);
	cr_assert_eq(fmt_config_set_int(c, "crs", 5186, NULL), 0);
	return c;
}

Test(config, compare_says_what_differs_and_how_to_proceed)
{
	fmt_config *a = config_of("256x256", "lz4", 16), *b = config_of("256x256", "lz4", 16);
	char msg[1024];
	cr_assert_eq(fmt_config_compare(a, b, msg, sizeof(msg)), 0, "%s", msg);
	fmt_config_set_str(b, "size", "512x512", NULL);
	fmt_config_set_int(b, "clip_frames", 8, NULL);
	cr_assert_eq(fmt_config_compare(a, b, msg, sizeof(msg)), 1);
	cr_assert(strstr(msg, "size: 256x256 before, 512x512 now"), "%s", msg);
	cr_assert(strstr(msg, "clip_frames: 16 before, 8 now"), "%s", msg);
	cr_assert(strstr(msg, "--fresh") && strstr(msg, "another output directory"), "%s", msg);
	cr_assert_null(strstr(msg, "codec"), "%s", msg);
	/* a key only one side has */
	fmt_config_set_real(b, "fov", 90.0, NULL);
	cr_assert_eq(fmt_config_compare(a, b, msg, sizeof(msg)), 1);
	cr_assert(strstr(msg, "fov: (not set) before, 90"), "%s", msg);
	fmt_config_destroy(a);
	fmt_config_destroy(b);
	fmt_config_destroy(NULL);
}

/* What a record holds comes back by type, through its JSON too (the cluster's run record is
 * read this way); a key of another type or absent is said so, the value untouched. */
Test(config, options_read_back_by_type)
{
	fmt_config *a = config_of("256x256", "lz4", 57), *b = NULL;
	cr_assert_eq(fmt_config_set_real(a, "cell_m", 100.5, NULL), 0);
	char *json = NULL;
	cr_assert_eq(fmt_config_to_json(a, &json, NULL), 0);
	cr_assert_eq(fmt_config_from_json(json, &b, NULL), 0);
	free(json);
	const fmt_config *both[2] = {a, b};
	for (int i = 0; i < 2; i++) {
		const fmt_config *c = both[i];
		int64_t v = -1;
		double d = -1;
		cr_expect_eq(fmt_config_get_int(c, "clip_frames", &v), 1);
		cr_expect_eq(v, 57);
		cr_expect_eq(fmt_config_get_real(c, "cell_m", &d), 1);
		cr_expect_eq(d, 100.5);
		cr_expect_eq(fmt_config_get_real(c, "crs", &d), 1, "an integer is a number");
		cr_expect_eq(d, 5186);
		cr_expect_str_eq(fmt_config_get_str(c, "codec"), "lz4");
		v = -1;
		cr_expect_eq(fmt_config_get_int(c, "codec", &v), 0, "a string is not an integer");
		cr_expect_eq(fmt_config_get_int(c, "cell_m", &v), 0, "a real is not an integer");
		cr_expect_eq(fmt_config_get_int(c, "ranks", &v), 0, "absent");
		cr_expect_eq(v, -1, "a miss leaves the value");
		cr_expect_null(fmt_config_get_str(c, "clip_frames"));
		cr_expect_null(fmt_config_get_str(c, "nothing"));
	}
	cr_expect_eq(fmt_config_get_int(NULL, "ranks", &(int64_t){0}), 0);
	fmt_config_destroy(a);
	fmt_config_destroy(b);
}

static void write_file(const char *dir, const char *name, const char *text)
{
	char p[256];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	FILE *f = fopen(p, "wb");
	cr_assert(f);
	fputs(text, f);
	fclose(f);
}

Test(config, capture_identity_by_names_sizes_contents)
{
	char d1[64], d2[64];
	tmpdir(d1, sizeof(d1));
	tmpdir(d2, sizeof(d2));
	const char *names[2] = {"a.jpg", "b.jpg"};
	for (int k = 0; k < 2; k++) {
		write_file(k ? d2 : d1, names[0], "first frame");
		write_file(k ? d2 : d1, names[1], "second frame");
	}
	char p1[2][128], p2[2][128];
	const char *l1[2], *l2[2];
	for (int i = 0; i < 2; i++) {
		snprintf(p1[i], sizeof(p1[i]), "%s/%s", d1, names[i]);
		snprintf(p2[i], sizeof(p2[i]), "%s/%s", d2, names[1 - i]); /* other order */
		l1[i] = p1[i];
		l2[i] = p2[i];
	}
	fmt_config *a = config_of("256x256", "lz4", 16), *b = config_of("256x256", "lz4", 16);
	svt_err e = {0};
	cr_assert_eq(fmt_config_set_capture(a, d1, l1, 2, 1, &e), 0, "%s", e.msg);
	cr_assert_eq(fmt_config_set_capture(b, d2, l2, 2, 2, &e), 0, "%s", e.msg);
	char msg[1024];
	cr_assert_eq(fmt_config_compare(a, b, msg, sizeof(msg)), 0,
		     "the same files in another folder and order: %s", msg);
	/* one byte changed, same size: another capture */
	write_file(d2, "b.jpg", "second framE");
	cr_assert_eq(fmt_config_set_capture(b, d2, l2, 2, 2, &e), 0, "%s", e.msg);
	cr_assert_eq(fmt_config_compare(a, b, msg, sizeof(msg)), 1);
	cr_assert(strstr(msg, "capture: 2 files"), "%s", msg);
	/* JSON round trip, through OUT/build-config.json */
	char *j1 = NULL, *j2 = NULL;
	cr_assert_eq(fmt_config_write(a, d1, &e), 0, "%s", e.msg);
	fmt_config *r = NULL;
	cr_assert_eq(fmt_config_read(d1, &r, &e), 0, "%s", e.msg);
	cr_assert_eq(fmt_config_to_json(a, &j1, NULL), 0);
	cr_assert_eq(fmt_config_to_json(r, &j2, NULL), 0);
	cr_assert_str_eq(j1, j2);
	cr_assert_eq(fmt_config_read(d2, &r, &e) == SVT_E_NOTFOUND, 1);
	fmt_config *bad = NULL;
	cr_assert_eq(fmt_config_from_json("{\"version\":7}", &bad, &e), SVT_E_FORMAT);
	free(j1);
	free(j2);
	fmt_config_destroy(a);
	fmt_config_destroy(b);
}

/* ---- a dataset all of one configuration --------------------------------------------------- */

#define T_ 4
#define H_ 16
#define W_ 24

static void put_clips(const char *dir, const char *cfg, int first, int n, int resume)
{
	fmt_writer_opts o;
	fmt_writer_opts_default(&o);
	o.threads = 1;
	o.codec = FMT_CODEC_GZIP;
	o.level = 1;
	o.resume = resume;
	o.target_bytes = 1; /* a shard per clip */
	fmt_shard_info info = {.crs_epsg = 5186, .enu_origin_llh = {37.5, 127, 30},
			       .source = "guard test", .build_config = cfg};
	fmt_writer *w = NULL;
	svt_err e = {0};
	cr_assert_eq(fmt_writer_create(dir, "g", &info, &o, &w, &e), 0, "%s", e.msg);
	static double w2c[T_ * 16], K[T_ * 4], llh[T_ * 3];
	static int64_t tu[T_];
	static uint8_t rgb[H_ * W_ * 3];
	for (int t = 0; t < T_; t++) {
		for (int k = 0; k < 16; k++)
			w2c[16 * t + k] = k % 5 == 0;
		K[4 * t] = K[4 * t + 1] = 20;
		K[4 * t + 2] = W_ / 2.0;
		K[4 * t + 3] = H_ / 2.0;
		llh[3 * t] = 37.5 + 1e-5 * t;
		llh[3 * t + 1] = 127;
		tu[t] = 1000000LL * t;
	}
	for (int c = first; c < first + n; c++) {
		char id[16];
		snprintf(id, sizeof(id), "clip%02d", c);
		fmt_clip_desc d = {.id = id, .T = T_, .H = H_, .W = W_, .w2c = w2c, .K = K,
				   .llh = llh, .time_us = tu, .fps = 1, .split = "train",
				   .camera_model = "pinhole"};
		cr_assert_eq(fmt_clip_begin(w, &d, &e), 0, "%s", e.msg);
		for (int t = 0; t < T_; t++) {
			memset(rgb, c * 10 + t, sizeof(rgb));
			cr_assert_eq(fmt_clip_frame(w, t, rgb, &e), 0, "%s", e.msg);
		}
		cr_assert_eq(fmt_clip_end(w, &e), 0, "%s", e.msg);
	}
	cr_assert_eq(fmt_writer_close(w, &e), 0, "%s", e.msg);
}

static int verify_to(const char *dir, char *out, size_t cap)
{
	FILE *f = fmemopen(out, cap, "w");
	cr_assert(f);
	int rc = fmt_dataset_verify(dir, f, NULL);
	fclose(f);
	return rc;
}

Test(config, verify_refuses_a_mixed_dataset)
{
	char dir[64], out[8192];
	tmpdir(dir, sizeof(dir));
	fmt_config *a = config_of("16x24", "gzip", 4), *b = config_of("16x24", "gzip", 8);
	char *ja = NULL, *jb = NULL;
	cr_assert_eq(fmt_config_to_json(a, &ja, NULL), 0);
	cr_assert_eq(fmt_config_to_json(b, &jb, NULL), 0);
	put_clips(dir, ja, 0, 2, 0);
	cr_assert_eq(fmt_config_write(a, dir, NULL), 0);
	cr_assert_eq(verify_to(dir, out, sizeof(out)), 0, "%s", out);
	/* the record and the clip's camera model as a reader sees them */
	char p[128], buf[4096];
	snprintf(p, sizeof(p), "%s/g-00000.h5", dir);
	fmt_reader *r = NULL;
	cr_assert_eq(fmt_reader_open(p, &r, NULL), 0);
	cr_assert_eq(fmt_reader_attr_str(r, "build_config", buf, sizeof(buf), NULL), 0);
	cr_assert_str_eq(buf, ja);
	fmt_reader_close(r);
	hid_t f = H5Fopen(p, H5F_ACC_RDONLY, H5P_DEFAULT);
	hid_t g = H5Gopen2(f, "clips/clip00", H5P_DEFAULT);
	hid_t at = H5Aopen(g, "camera_model", H5P_DEFAULT);
	cr_assert(at >= 0, "no camera_model attribute");
	hid_t ty = H5Aget_type(at);
	char *cm = NULL;
	cr_assert(H5Aread(at, ty, &cm) >= 0);
	cr_assert_str_eq(cm, "pinhole");
	H5free_memory(cm);
	H5Tclose(ty);
	H5Aclose(at);
	H5Gclose(g);
	H5Fclose(f);
	/* a resumed run with another clip length appends a shard made differently */
	put_clips(dir, jb, 2, 1, 1);
	cr_assert_neq(verify_to(dir, out, sizeof(out)), 0, "verify accepted a mixed dataset:\n%s",
		      out);
	cr_assert(strstr(out, "built with another configuration") &&
		  strstr(out, "clip_frames: 4 before, 8 now"),
		  "%s", out);
	/* the record in OUT disagreeing with shards that all agree is found too */
	char dir2[64];
	tmpdir(dir2, sizeof(dir2));
	put_clips(dir2, ja, 0, 2, 0);
	cr_assert_eq(fmt_config_write(b, dir2, NULL), 0);
	cr_assert_neq(verify_to(dir2, out, sizeof(out)), 0, "%s", out);
	cr_assert(strstr(out, "build-config.json: built with another configuration"), "%s", out);
	free(ja);
	free(jb);
	fmt_config_destroy(a);
	fmt_config_destroy(b);
}

/* ---- a full disk --------------------------------------------------------------------------- */

/* Child: write clips of 8 random 120x160 frames into dir until something fails; exit 0 when
 * all fit, 1 with the message on stdout-pipe fd otherwise. */
static void fill_child(const char *dir, uint64_t target, int fd)
{
	fmt_writer_opts o;
	fmt_writer_opts_default(&o);
	o.codec = FMT_CODEC_NONE;
	o.threads = 1;
	o.target_bytes = target;
	fmt_shard_info info = {.crs_epsg = 5186, .source = "full disk"};
	fmt_writer *w = NULL;
	svt_err e = {0};
	enum { T = 8, H = 120, W = 160 };
	static double w2c[T * 16], K[T * 4], llh[T * 3];
	static int64_t tu[T];
	static uint8_t rgb[H * W * 3];
	for (int t = 0; t < T; t++) {
		w2c[16 * t] = w2c[16 * t + 5] = w2c[16 * t + 10] = w2c[16 * t + 15] = 1;
		K[4 * t] = K[4 * t + 1] = 100;
		llh[3 * t] = 37.5;
		llh[3 * t + 1] = 127;
		tu[t] = t;
	}
	uint32_t x = 12345;
	if (fmt_writer_create(dir, "s", &info, &o, &w, &e))
		goto fail;
	for (int c = 0; c < 40; c++) {
		char id[16];
		snprintf(id, sizeof(id), "c%03d", c);
		fmt_clip_desc d = {.id = id, .T = T, .H = H, .W = W, .w2c = w2c, .K = K, .llh = llh,
				   .time_us = tu, .fps = 10, .split = "train"};
		if (fmt_clip_begin(w, &d, &e))
			goto fail;
		for (int t = 0; t < T; t++) {
			for (size_t i = 0; i < sizeof(rgb); i++) {
				x ^= x << 13, x ^= x >> 17, x ^= x << 5;
				rgb[i] = (uint8_t)x;
			}
			if (fmt_clip_frame(w, t, rgb, &e))
				goto fail;
		}
		if (fmt_clip_end(w, &e))
			goto fail;
	}
	if (fmt_writer_close(w, &e)) {
		w = NULL;
		goto fail;
	}
	_exit(0);
fail:
	fmt_writer_abort(w);
	if (write(fd, e.msg, strlen(e.msg)) < 0)
		_exit(3);
	exit(1); /* exit(), not _exit(): HDF5's atexit handler is what used to crash */
}

static char full_dir[64];

/* Runs after the test whether it passed or not, so a failed assertion leaves no mount. */
static void full_disk_unmount(void)
{
	if (full_dir[0] && umount(full_dir) == 0)
		rmdir(full_dir);
}

Test(full_disk, no_crash_no_partial_shard_and_the_cause_said, .timeout = 120,
     .fini = full_disk_unmount)
{
	if (geteuid() != 0)
		cr_skip_test("needs root to mount a small tmpfs (mount -t tmpfs -o size=2m): skipped");
	char *dir = full_dir;
	tmpdir(full_dir, sizeof(full_dir));
	if (mount("tmpfs", dir, "tmpfs", 0, "size=2m") != 0)
		cr_skip_test("cannot mount a tmpfs on %s (%s): skipped", dir, strerror(errno));
	/* Fill the disk at different moments: inside a chunk write, at a rotation, at the
	 * closing flush of a shard, at the manifest. */
	static const uint64_t targets[] = {500000000ull, 600000, 900000, 300000};
	int failures = 0;
	for (size_t ti = 0; ti < SVT_ARRAY_LEN(targets); ti++)
		for (int filler_kb = 0; filler_kb <= 1600; filler_kb += 160) {
			char cmd[256];
			snprintf(cmd, sizeof(cmd), "rm -rf %s/* %s/.[!.]* 2>/dev/null", dir, dir);
			cr_assert_eq(system(cmd), 0);
			if (filler_kb) {
				snprintf(cmd, sizeof(cmd),
					 "head -c %dk /dev/zero > %s/filler 2>/dev/null", filler_kb,
					 dir);
				if (system(cmd) != 0)
					continue;
			}
			int p[2];
			cr_assert_eq(pipe(p), 0);
			pid_t c = fork();
			if (c == 0) {
				close(p[0]);
				/* Every other round the shard's pages go to disk as they are made: the
				 * disk then fills on the image's writing thread. */
				if (filler_kb % 320 == 160)
					setenv("SVT_SHARD_STREAM_MIN", "1", 1);
				fill_child(dir, targets[ti], p[1]);
			}
			close(p[1]);
			char msg[SVT_ERR_MSG_MAX + 1] = "";
			ssize_t got = read(p[0], msg, SVT_ERR_MSG_MAX);
			msg[got > 0 ? got : 0] = 0;
			close(p[0]);
			int st;
			cr_assert_eq(waitpid(c, &st, 0), c);
			cr_assert(WIFEXITED(st), "target %llu filler %d KiB: killed by signal %d (%s)",
				  (unsigned long long)targets[ti], filler_kb,
				  WIFSIGNALED(st) ? WTERMSIG(st) : 0, msg);
			cr_assert(WEXITSTATUS(st) == 1, "40 clips cannot fit in 2 MiB");
			failures++;
			cr_assert(strstr(msg, "No space left on device"), "filler %d KiB: %s",
				  filler_kb, msg);
			/* every final-named shard opens and reads: none is partial */
			DIR *d = opendir(dir);
			struct dirent *de;
			while ((de = readdir(d))) {
				size_t L = strlen(de->d_name);
				cr_assert(L < 4 || strcmp(de->d_name + L - 4, ".tmp"),
					  "%s left behind", de->d_name);
				if (L > 3 && !strcmp(de->d_name + L - 3, ".h5")) {
					char path[512];
					snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
					fmt_reader *r = NULL;
					svt_err e = {0};
					cr_assert_eq(fmt_reader_open(path, &r, &e), 0,
						     "%s is final-named but does not open: %s", path,
						     e.msg);
					fmt_reader_close(r);
				}
			}
			closedir(d);
		}
	cr_assert(failures > 10);
}
