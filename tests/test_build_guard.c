/* test_build_guard.c: `svtwin build` right or refused: one writer per OUT (a second build
 * refused at once naming the first, which then verifies), a rerun with other options or
 * another capture refused with what differs, captures known to the twin by content, frames
 * outside the CRS rejected without failing the job, an unwritable OUT found before the scan,
 * a build with no clip failing with its reason, Ctrl-C saying how to resume, a full disk saying
 * so, and bad option values naming their option. On the generated samples (SVT_SAMPLES) and
 * one real photo (SVT_REAL_DATA); skips, saying so, without them. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <hdf5.h>

#include "formats/formats.h"

static char prog[512], dir[64], samples[512];

static void setup(void)
{
	const char *b = getenv("SVT_BUILD"), *s = getenv("SVT_SAMPLES");
	snprintf(prog, sizeof(prog), "%s/svtwin", b && *b ? b : "build");
	if (access(prog, X_OK) != 0)
		cr_skip_test("%s is not built: run through `make test`", prog);
	if (!s || !*s)
		cr_skip_test("SVT_SAMPLES is not set: run through `make test`");
	snprintf(samples, sizeof(samples), "%s", s);
	snprintf(dir, sizeof(dir), "/tmp/svt-guard-%d", (int)getpid());
	char cmd[400];
	snprintf(cmd, sizeof(cmd), "rm -rf %s && mkdir -p %s", dir, dir);
	cr_assert_eq(system(cmd), 0);
}

static void teardown(void)
{
	char cmd[400];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
}

TestSuite(guard, .init = setup, .fini = teardown);

/* Runs `svtwin ARGS` (a shell fragment) and returns its exit status (128 + signal when
 * killed); stdout and stderr together into out. */
static int run(char *out, size_t cap, const char *fmt, ...)
{
	char args[3000], cmd[3600];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(args, sizeof(args), fmt, ap);
	va_end(ap);
	snprintf(cmd, sizeof(cmd), "'%s' %s 2>&1", prog, args);
	FILE *p = popen(cmd, "r");
	cr_assert(p);
	size_t n = fread(out, 1, cap - 1, p);
	out[n] = 0;
	int st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

/* A capture of frames [a, b) of the samples (copies: the scan reads files, not links). */
static void sub_capture(const char *path, int a, int b)
{
	char cmd[1200];
	snprintf(cmd, sizeof(cmd), "mkdir -p '%s' && for i in $(seq -f %%04g %d %d); do cp "
		 "'%s'/pano_$i.jpg '%s'/; done", path, a, b - 1, samples, path);
	cr_assert_eq(system(cmd), 0, "%s", cmd);
}

/* Starts `svtwin build CAP -o OUT ARGS...` in the background, stderr into errpath. */
static pid_t spawn_build_twin(const char *cap, const char *out, const char *errpath,
			      const char *size, const char *twin)
{
	pid_t pid = fork();
	if (pid == 0) {
		int fd = open(errpath, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd >= 0) {
			dup2(fd, 2);
			dup2(fd, 1);
		}
		if (twin)
			execl(prog, prog, "build", cap, "-o", out, "--size", size, "--clip-frames",
			      "9", "--threads", "1", "--twin", twin, (char *)NULL);
		else
			execl(prog, prog, "build", cap, "-o", out, "--size", size, "--clip-frames",
			      "9", "--threads", "1", (char *)NULL);
		_exit(127);
	}
	return pid;
}

static pid_t spawn_build(const char *cap, const char *out, const char *errpath, const char *size)
{
	return spawn_build_twin(cap, out, errpath, size, NULL);
}

/* Waits until OUT's lock names its holder (the build has started for real). */
static int wait_locked(const char *out, pid_t pid)
{
	char path[600], buf[256];
	snprintf(path, sizeof(path), "%s/.svtwin.lock", out);
	for (int i = 0; i < 4000; i++) {
		FILE *f = fopen(path, "r");
		size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
		if (f)
			fclose(f);
		if (n > 0)
			return 1;
		if (waitpid(pid, NULL, WNOHANG) == pid)
			return 0;
		struct timespec ts = {0, 2 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	return 0;
}

static void slurp(const char *path, char *buf, size_t cap)
{
	FILE *f = fopen(path, "r");
	size_t n = f ? fread(buf, 1, cap - 1, f) : 0;
	buf[n] = 0;
	if (f)
		fclose(f);
}

Test(guard, second_build_is_refused_and_the_first_verifies, .timeout = 300)
{
	char out[200], e1[200], log[8192], msg[8192], pidtxt[32];
	snprintf(out, sizeof(out), "%s/out", dir);
	snprintf(e1, sizeof(e1), "%s/first.log", dir);
	pid_t pid = spawn_build(samples, out, e1, "640x352");
	cr_assert(wait_locked(out, pid), "the first build ended before it took its lock");
	int rc = run(msg, sizeof(msg), "build '%s' -o '%s' --size 640x352 --clip-frames 9", samples,
		     out);
	cr_expect_neq(rc, 0, "a second build into a busy OUT must fail: %s", msg);
	snprintf(pidtxt, sizeof(pidtxt), "pid %d ", (int)pid);
	cr_expect(strstr(msg, "in use by another build") && strstr(msg, pidtxt),
		  "the refusal names the holder (%s): %s", pidtxt, msg);
	cr_expect_null(strstr(msg, "scanned"), "refused before the scan: %s", msg);
	int st = 0;
	waitpid(pid, &st, 0);
	slurp(e1, log, sizeof(log));
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the first build failed: %s", log);
	cr_expect_eq(run(msg, sizeof(msg), "verify '%s'", out), 0, "verify: %s", msg);
}

/* Two OUTs sharing one twin store: the twin's own lock refuses the second at once. */
Test(guard, a_shared_twin_has_one_writer, .timeout = 300)
{
	char o1[200], o2[200], twin[200], e1[200], log[8192], msg[8192], pidtxt[32];
	snprintf(o1, sizeof(o1), "%s/o1", dir);
	snprintf(o2, sizeof(o2), "%s/o2", dir);
	snprintf(twin, sizeof(twin), "%s/twin", dir);
	snprintf(e1, sizeof(e1), "%s/first.log", dir);
	pid_t pid = spawn_build_twin(samples, o1, e1, "640x352", twin);
	cr_assert(wait_locked(twin, pid), "the first build ended before it locked the twin");
	int rc = run(msg, sizeof(msg), "build '%s' -o '%s' --twin '%s' --size 64x32 --clip-frames 9",
		     samples, o2, twin);
	cr_expect_neq(rc, 0, "%s", msg);
	snprintf(pidtxt, sizeof(pidtxt), "pid %d ", (int)pid);
	cr_expect(strstr(msg, "in use by another build") && strstr(msg, pidtxt), "%s", msg);
	int st = 0;
	waitpid(pid, &st, 0);
	slurp(e1, log, sizeof(log));
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the first build failed: %s", log);
	cr_expect_eq(run(msg, sizeof(msg), "verify '%s'", o1), 0, "verify: %s", msg);
}

Test(guard, differing_rerun_is_refused_with_what_differs, .timeout = 300)
{
	char cap[200], cap2[200], out[200], msg[8192];
	snprintf(cap, sizeof(cap), "%s/a/images", dir);
	snprintf(cap2, sizeof(cap2), "%s/b/images", dir);
	snprintf(out, sizeof(out), "%s/out", dir);
	sub_capture(cap, 0, 18);
	sub_capture(cap2, 18, 36);
	char junk[300];
	snprintf(junk, sizeof(junk), "%s/junk.jpg", cap2);
	FILE *jf = fopen(junk, "w");
	cr_assert(jf);
	fputs("not a jpeg", jf);
	fclose(jf);
	cr_assert_eq(run(msg, sizeof(msg), "build '%s' -o '%s' --size 64x32 --clip-frames 9", cap,
			 out), 0, "%s", msg);
	/* The same again resumes (every clip kept). */
	cr_assert_eq(run(msg, sizeof(msg), "build '%s' -o '%s' --size 64x32 --clip-frames 9", cap,
			 out), 0, "%s", msg);
	cr_expect(strstr(msg, "2 kept from an earlier run"), "%s", msg);
	int rc = run(msg, sizeof(msg), "build '%s' -o '%s' --size 96x48 --clip-frames 9", cap, out);
	cr_expect_neq(rc, 0, "%s", msg);
	cr_expect(strstr(msg, "size: \"64x32\" before, \"96x48\" now") || strstr(msg, "size: 64x32 before, 96x48 now"),
		  "%s", msg);
	cr_expect(strstr(msg, "--fresh"), "%s", msg);
	rc = run(msg, sizeof(msg), "build '%s' -o '%s' --size 64x32 --clip-frames 5", cap, out);
	cr_expect_neq(rc, 0, "%s", msg);
	cr_expect(strstr(msg, "clip-frames: 9 before, 5 now"), "%s", msg);
	/* What shapes the clips beyond the views (their kind, references, random yaws, the
	 * holdout) counts too: such a rerun once kept the earlier clips beside new ones. */
	const char *later[][2] = {{"--densify freeze --frames 13", "densify: (not set) before, "
								   "freeze now"},
				  {"--refs 0", "refs: (not set) before, 0 now"},
				  {"--view random:30", "view: travel before, random now"},
				  {"--holdout Jung-gu", "holdout: (not set) before, Jung-gu now"},
				  {"--twin", "twin: (not set) before"}};
	char twin2[300];
	snprintf(twin2, sizeof(twin2), "%s/another-twin", dir);
	for (size_t i = 0; i < sizeof(later) / sizeof(later[0]); i++) {
		rc = run(msg, sizeof(msg), "build '%s' -o '%s' --size 64x32 --clip-frames 9 %s %s", cap,
			 out, later[i][0], strcmp(later[i][0], "--twin") ? "" : twin2);
		cr_expect_neq(rc, 0, "%s accepted: %s", later[i][0], msg);
		cr_expect(strstr(msg, later[i][1]), "%s: %s", later[i][0], msg);
	}
	/* The defaults said out loud are the same build. */
	cr_expect_eq(run(msg, sizeof(msg), "build '%s' -o '%s' --size 64x32 --clip-frames 9 --refs 5 "
			 "--densify none --ref-min-cover 0.3", cap, out), 0, "%s", msg);
	/* Another capture with the same folder name into the same OUT. */
	rc = run(msg, sizeof(msg), "build '%s' -o '%s' --size 64x32 --clip-frames 9", cap2, out);
	cr_expect_neq(rc, 0, "%s", msg);
	cr_expect(strstr(msg, "capture: 18 files"), "%s", msg);
	char rej[300], rj[4096];
	snprintf(rej, sizeof(rej), "%s/rejects.jsonl", out);
	slurp(rej, rj, sizeof(rj));
	cr_expect_null(strstr(rj, "/b/images"), "a refused rerun rewrote rejects.jsonl: %s", rj);
	/* --fresh rebuilds from the new options. */
	cr_expect_eq(run(msg, sizeof(msg), "build '%s' -o '%s' --size 96x48 --clip-frames 9 --fresh",
			 cap, out), 0, "%s", msg);
	cr_expect(strstr(msg, "--fresh: the twin") && !strstr(msg, "already in the twin"),
		  "--fresh rebuilds OUT's own twin: %s", msg);
	cr_expect_eq(run(msg, sizeof(msg), "verify '%s'", out), 0, "verify: %s", msg);
}

Test(guard, the_twin_knows_captures_by_content, .timeout = 300)
{
	char cap[200], cap2[200], twin[200], msg[8192];
	snprintf(cap, sizeof(cap), "%s/a/images", dir);
	snprintf(cap2, sizeof(cap2), "%s/b/images", dir);
	snprintf(twin, sizeof(twin), "%s/twin", dir);
	sub_capture(cap, 0, 18);
	sub_capture(cap2, 18, 36);
	cr_assert_eq(run(msg, sizeof(msg), "build '%s' -o '%s/o1' --twin '%s' --size 64x32 "
			 "--clip-frames 9", cap, dir, twin), 0, "%s", msg);
	cr_assert_eq(run(msg, sizeof(msg), "build '%s' -o '%s/o2' --twin '%s' --size 64x32 "
			 "--clip-frames 9", cap2, dir, twin), 0, "%s", msg);
	cr_expect_null(strstr(msg, "already in the twin"), "another capture called images: %s",
		       msg);
	cr_assert_eq(run(msg, sizeof(msg), "build '%s' -o '%s/o3' --twin '%s' --size 64x32 "
			 "--clip-frames 9", cap, dir, twin), 0, "%s", msg);
	cr_expect(strstr(msg, "already in the twin"), "the same content is the same capture: %s",
		  msg);
}

Test(guard, frames_outside_the_crs_are_rejected_not_the_job, .timeout = 300)
{
	const char *real = getenv("SVT_REAL_DATA");
	char photo[600], kenya[600], cap[200], out[200], msg[8192], rej[300], rj[65536];
	snprintf(photo, sizeof(photo), "%s/opensfm_lund/images/01.jpg", real ? real : "");
	snprintf(kenya, sizeof(kenya), "%s/mapillary_tools/adobe_coords.jpg", real ? real : "");
	if (!real || access(photo, R_OK) != 0 || access(kenya, R_OK) != 0)
		cr_skip_test("%s or %s is absent (SVT_REAL_DATA): skipped", photo, kenya);
	snprintf(cap, sizeof(cap), "%s/mixed", dir);
	snprintf(out, sizeof(out), "%s/out", dir);
	sub_capture(cap, 0, 18);
	char cmd[1400];
	/* A real panorama taken in Kenya, with a time, among the Seoul frames. */
	snprintf(cmd, sizeof(cmd), "cp '%s' '%s/zz_kenya.jpg'", kenya, cap);
	cr_assert_eq(system(cmd), 0);
	const char *crs[2] = {"--crs EPSG:5186", ""};
	for (int k = 0; k < 2; k++) {
		cr_assert_eq(run(msg, sizeof(msg), "build '%s' -o '%s%d' --size 64x32 --clip-frames 9 "
				 "%s", cap, out, k, crs[k]), 0,
			     "one frame in Kenya must not fail the job: %s", msg);
		cr_expect(strstr(msg, "outside_crs 1"), "%s", msg);
		cr_expect(strstr(msg, "2 clips written"), "%s", msg);
		snprintf(rej, sizeof(rej), "%s%d/rejects.jsonl", out, k);
		slurp(rej, rj, sizeof(rj));
		cr_expect(strstr(rj, "zz_kenya.jpg") && strstr(rj, "outside_crs"), "%s", rj);
	}
	/* Alone, the photo gets its own UTM zone by default, said in the summary. */
	snprintf(cmd, sizeof(cmd), "mkdir -p '%s/lund' && cp '%s' '%s/lund/'", dir, photo, dir);
	cr_assert_eq(system(cmd), 0);
	cr_assert_eq(run(msg, sizeof(msg), "build '%s/lund' -o '%s/o2' --size 64x32 --clip-frames 1",
			 dir, dir), 0, "%s", msg);
	cr_expect(strstr(msg, "CRS EPSG:32633 (the capture's default"), "%s", msg);
}

Test(guard, bad_options_name_themselves, .timeout = 120)
{
	char msg[8192];
	struct {
		const char *args, *want;
	} cases[] = {
		{"--seed abc", "--seed"},
		{"--clip-frames 0", "--clip-frames"},
		{"--clip-frames 9x", "--clip-frames"},
		{"--threads -2", "--threads"},
		{"--fov 200", "--fov"},
		{"--crs EPSG:4326", "geographic"},
		{"--crs wgs84", "--crs"},
		{"--tz +25:00", "--tz"},
		{"--photo-fov 0", "--photo-fov"},
		/* Once read with atoi/atof: a typo became 0 (no references, a cover of 0). */
		{"--refs five", "--refs"},
		{"--refs 65", "--refs"},
		{"--ref-min-cover abc", "--ref-min-cover"},
		{"--ref-min-cover 1.5", "--ref-min-cover"},
		{"--ref-min-gap -1", "--ref-min-gap"},
		{"--fps 16fps", "--fps"},
		{"--frames 12x", "--frames"},
		{"--latent-stride 6", "--latent-stride"},
		{"--frames-per-m x", "--frames-per-m"},
		{"--view random:30deg", "--view random"},
		{"--view random:0", "--view random"},
		{"--part 1/2x", "--part"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = run(msg, sizeof(msg), "build '%s' -o '%s/o' %s", samples, dir, cases[i].args);
		cr_expect_neq(rc, 0, "%s accepted: %s", cases[i].args, msg);
		cr_expect(strstr(msg, cases[i].want), "%s: the message should name %s: %s",
			  cases[i].args, cases[i].want, msg);
		cr_expect_null(strstr(msg, "scanned"), "%s refused after the scan: %s", cases[i].args,
			       msg);
	}
	/* Options after the paths, like before them. */
	char cap[200];
	snprintf(cap, sizeof(cap), "%s/c", dir);
	sub_capture(cap, 0, 9);
	cr_expect_eq(run(msg, sizeof(msg), "build '%s' -o '%s/late' --size 64x32 --clip-frames 9",
			 cap, dir), 0, "%s", msg);
	cr_expect_eq(run(msg, sizeof(msg), "probe '%s' --summary", cap), 0, "%s", msg);
	cr_expect(strstr(msg, "probe: 9 frames, 9 kept"), "probe's options after the path: %s",
		  msg);
}

Test(guard, unwritable_output_is_found_before_the_scan, .timeout = 120)
{
	char msg[8192], file[200];
	snprintf(file, sizeof(file), "%s/a-file", dir);
	FILE *f = fopen(file, "w");
	cr_assert(f);
	fclose(f);
	int rc = run(msg, sizeof(msg), "build '%s' -o '%s/out' --size 64x32", samples, file);
	cr_expect_neq(rc, 0, "%s", msg);
	cr_expect(strstr(msg, "cannot be created"), "%s", msg);
	cr_expect_null(strstr(msg, "scanned"), "the scan ran before the output was checked: %s",
		       msg);
}

Test(guard, a_build_with_no_clip_fails_with_its_reason, .timeout = 120)
{
	char cap[200], msg[8192];
	snprintf(cap, sizeof(cap), "%s/c", dir);
	sub_capture(cap, 0, 9);
	int rc = run(msg, sizeof(msg), "build '%s' -o '%s/o' --size 64x32 --clip-frames 17", cap, dir);
	cr_expect_neq(rc, 0, "no clip written must not exit 0: %s", msg);
	cr_expect(strstr(msg, "no sequence holds 17 usable frames in a row (the longest holds 9)"),
		  "%s", msg);
	cr_expect(strstr(msg, "--clip-frames 9 or less"), "%s", msg);
}

/* Ctrl-C, and SIGTERM (Slurm's signal at a job's time limit): the log says how to resume, the
 * process ends as killed by that signal, and the same command resumes to a dataset that
 * verifies. */
Test(guard, ctrl_c_says_how_to_resume, .timeout = 300)
{
	char out[200], e1[200], log[8192], msg[8192];
	const int sigs[2] = {SIGINT, SIGTERM};
	for (int k = 0; k < 2; k++) {
		snprintf(out, sizeof(out), "%s/out%d", dir, k);
		snprintf(e1, sizeof(e1), "%s/first%d.log", dir, k);
		pid_t pid = spawn_build(samples, out, e1, "640x352");
		cr_assert(wait_locked(out, pid), "the build ended before it took its lock");
		struct timespec ts = {0, 300 * 1000 * 1000};
		nanosleep(&ts, NULL);
		kill(pid, sigs[k]);
		int st = 0;
		waitpid(pid, &st, 0);
		slurp(e1, log, sizeof(log));
		if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
			cr_skip_test("the build ended before signal %d reached it: skipped", sigs[k]);
		cr_expect(WIFSIGNALED(st) && WTERMSIG(st) == sigs[k], "ends as interrupted by %d",
			  sigs[k]);
		cr_expect(strstr(log, "run the same command again to resume"), "signal %d: %s",
			  sigs[k], log);
		cr_expect_eq(run(msg, sizeof(msg), "build '%s' -o '%s' --size 640x352 --clip-frames 9 "
				 "--threads 1", samples, out), 0, "the rerun: %s", msg);
		cr_expect_eq(run(msg, sizeof(msg), "verify '%s'", out), 0, "verify: %s", msg);
	}
}

static char full_dir[256];

static void full_disk_unmount(void)
{
	if (full_dir[0] && umount(full_dir) == 0)
		full_dir[0] = 0;
	teardown();
}

Test(guard, a_full_disk_says_so, .init = setup, .fini = full_disk_unmount, .timeout = 300)
{
	if (geteuid() != 0)
		cr_skip_test("needs root to mount a small tmpfs (mount -t tmpfs -o size=2m): skipped");
	snprintf(full_dir, sizeof(full_dir), "%s/full", dir);
	mkdir(full_dir, 0755);
	if (mount("tmpfs", full_dir, "tmpfs", 0, "size=2m") != 0) {
		full_dir[0] = 0;
		cr_skip_test("cannot mount a tmpfs (%s): skipped", strerror(errno));
	}
	char msg[16384];
	int rc = run(msg, sizeof(msg), "build '%s' -o '%s/out' --size 640x352 --clip-frames 9 "
		     "--codec none", samples, full_dir);
	cr_expect_neq(rc, 0, "%s", msg);
	cr_expect_lt(rc, 128, "killed by a signal (%d): %s", rc - 128, msg);
	cr_expect(strcasestr(msg, "no space left on device"), "%s", msg);
	/* Nothing under a final name is partial: any .h5 there opens. */
	char cmd[600], line[600];
	snprintf(cmd, sizeof(cmd), "ls %s/out/*.h5 2>/dev/null", full_dir);
	FILE *ls = popen(cmd, "r");
	while (ls && fgets(line, sizeof(line), ls)) {
		line[strcspn(line, "\n")] = 0;
		char m2[4096];
		cr_expect_eq(run(m2, sizeof(m2), "inspect '%s'", line), 0, "%s is partial: %s", line,
			     m2);
	}
	if (ls)
		pclose(ls);
}

/* The zone of one clip's first frame as stored (tz_offset_min, tz_assumed) and its time. */
static void stored_tz(const char *out, int *tz, int *assumed, int64_t *t_us)
{
	char path[600], ds[300];
	snprintf(path, sizeof(path), "%s/master.h5", out);
	svt_err err = {0};
	fmt_reader *r = NULL;
	cr_assert_eq(fmt_reader_open(path, &r, &err), 0, "%s", err.msg);
	cr_assert_eq(fmt_reader_clip_count(r), 1);
	fmt_clip_data cd;
	cr_assert_eq(fmt_reader_clip(r, 0, &cd, &err), 0, "%s", err.msg);
	*t_us = cd.time_us[0];
	snprintf(ds, sizeof(ds), "/clips/%s/", fmt_reader_clip_id(r, 0));
	fmt_clip_data_free(&cd);
	fmt_reader_close(r);
	hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
	cr_assert_geq(f, 0);
	char name[400];
	int32_t v = 0;
	uint8_t a = 0;
	snprintf(name, sizeof(name), "%stz_offset_min", ds);
	hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
	cr_assert_geq(d, 0, "no %s", name);
	cr_assert_geq(H5Dread(d, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, &v), 0);
	H5Dclose(d);
	snprintf(name, sizeof(name), "%stz_assumed", ds);
	d = H5Dopen2(f, name, H5P_DEFAULT);
	cr_assert_geq(d, 0, "no %s", name);
	cr_assert_geq(H5Dread(d, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, &a), 0);
	H5Dclose(d);
	H5Fclose(f);
	*tz = v;
	*assumed = a;
}

Test(guard, times_without_a_zone_take_tz_and_say_so, .timeout = 120)
{
	const char *real = getenv("SVT_REAL_DATA");
	char kenya[600], cmd[1400], msg[8192];
	snprintf(kenya, sizeof(kenya), "%s/mapillary_tools/adobe_coords.jpg", real ? real : "");
	if (!real || access(kenya, R_OK) != 0)
		cr_skip_test("%s is absent (SVT_REAL_DATA): skipped", kenya);
	/* A real panorama from Kenya whose EXIF time has no zone. */
	snprintf(cmd, sizeof(cmd), "mkdir -p '%s/k' && cp '%s' '%s/k/'", dir, kenya, dir);
	cr_assert_eq(system(cmd), 0);
	cr_assert_eq(run(msg, sizeof(msg), "build '%s/k' -o '%s/o1' --size 64x32 --clip-frames 1",
			 dir, dir), 0, "%s", msg);
	cr_expect(strstr(msg, "1 frames had times without a zone: taken as UTC+09:00 (the "
		  "default, Korea"), "%s", msg);
	cr_assert_eq(run(msg, sizeof(msg), "build '%s/k' -o '%s/o2' --size 64x32 --clip-frames 1 "
			 "--tz +03:00", dir, dir), 0, "%s", msg);
	cr_expect(strstr(msg, "taken as UTC+03:00 (--tz"), "%s", msg);
	int tz1, a1, tz2, a2;
	int64_t t1, t2;
	char o[300];
	snprintf(o, sizeof(o), "%s/o1", dir);
	stored_tz(o, &tz1, &a1, &t1);
	snprintf(o, sizeof(o), "%s/o2", dir);
	stored_tz(o, &tz2, &a2, &t2);
	cr_expect_eq(tz1, 540);
	cr_expect_eq(tz2, 180);
	cr_expect(a1 && a2, "stored as assumed");
	/* The same local clock time: UTC six hours later at +03:00 than at +09:00. */
	cr_expect_eq(t2 - t1, 6LL * 3600 * 1000000, "%lld", (long long)(t2 - t1));
}
