/* test_build_robust.c: `svtwin build` on hostile input: a clear error and exit status, every
 * bad frame in rejects.jsonl with its reason, never a crash. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char prog[512], dir[64];

static void setup(void)
{
	const char *b = getenv("SVT_BUILD");
	snprintf(prog, sizeof(prog), "%s/svtwin", b && *b ? b : "build");
	if (access(prog, X_OK) != 0)
		cr_skip_test("%s is not built: run through `make test`", prog);
	snprintf(dir, sizeof(dir), "/tmp/svt-robust-%d", (int)getpid());
	char cmd[400];
	snprintf(cmd, sizeof(cmd), "rm -rf %s && mkdir -p %s/cap", dir, dir);
	cr_assert_eq(system(cmd), 0);
}

static void teardown(void)
{
	char cmd[400];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
}

TestSuite(robust, .init = setup, .fini = teardown);

/* Runs svtwin build CAPTURE -o OUT and returns its exit status; stderr goes to err. */
static int build(const char *capture, const char *out, char *errbuf, size_t cap)
{
	char cmd[2048];
	snprintf(cmd, sizeof(cmd), "'%s' build '%s' -o '%s' --clip-frames 9 --size 64x32 2>&1",
		 prog, capture, out);
	FILE *p = popen(cmd, "r");
	cr_assert(p);
	size_t n = fread(errbuf, 1, cap - 1, p);
	errbuf[n] = 0;
	int st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void write_file(const char *path, const void *data, size_t n)
{
	FILE *f = fopen(path, "wb");
	cr_assert(f, "cannot create %s", path);
	if (n)
		cr_assert_eq(fwrite(data, 1, n, f), n);
	fclose(f);
}

/* The reasons listed in rejects.jsonl, one per line, into reasons (newline separated). */
static size_t rejects(const char *out, char *reasons, size_t cap)
{
	char path[600], line[4096];
	snprintf(path, sizeof(path), "%s/rejects.jsonl", out);
	FILE *f = fopen(path, "r");
	cr_assert(f, "no %s", path);
	size_t n = 0, len = 0;
	reasons[0] = 0;
	while (fgets(line, sizeof(line), f)) {
		json_error_t je;
		json_t *o = json_loads(line, 0, &je);
		cr_assert(o, "not JSON: %s", line);
		const char *r = json_string_value(json_object_get(o, "reason"));
		cr_assert(r, "no reason in %s", line);
		len += (size_t)snprintf(reasons + len, cap - len, "%s\n", r);
		json_decref(o);
		n++;
	}
	fclose(f);
	return n;
}

Test(robust, missing_capture_is_a_clear_error)
{
	char out[300], msg[8192];
	snprintf(out, sizeof(out), "%s/out", dir);
	int rc = build("/nonexistent/svtwin/capture", out, msg, sizeof(msg));
	cr_expect_eq(rc, 1, "exit %d: %s", rc, msg);
	cr_expect(strstr(msg, "/nonexistent/svtwin/capture") != NULL, "the path is not named: %s", msg);
}

Test(robust, empty_capture_says_no_usable_frame)
{
	char cap[300], out[300], msg[8192], reasons[256];
	snprintf(cap, sizeof(cap), "%s/cap", dir);
	snprintf(out, sizeof(out), "%s/out", dir);
	int rc = build(cap, out, msg, sizeof(msg));
	cr_expect_eq(rc, 1, "exit %d: %s", rc, msg);
	cr_expect(strstr(msg, "no usable frame") != NULL, "%s", msg);
	cr_expect_eq(rejects(out, reasons, sizeof(reasons)), 0);
}

/* Garbage, an empty file, a truncated JPEG and a hostile file name: each reported with its
 * reason, the job itself fails only because no frame is left. */
Test(robust, corrupt_files_are_each_reported)
{
	char cap[300], out[300], path[600], msg[8192], reasons[2048];
	snprintf(cap, sizeof(cap), "%s/cap", dir);
	snprintf(out, sizeof(out), "%s/out", dir);
	unsigned char garbage[4096];
	for (size_t i = 0; i < sizeof(garbage); i++)
		garbage[i] = (unsigned char)(i * 2654435761u >> 13);
	snprintf(path, sizeof(path), "%s/garbage.jpg", cap);
	write_file(path, garbage, sizeof(garbage));
	snprintf(path, sizeof(path), "%s/empty.jpg", cap);
	write_file(path, "", 0);
	/* A JPEG header with nothing after it: SOI + APP0 + a cut. */
	static const unsigned char head[] = {0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, 'J', 'F', 'I', 'F',
					     0x00, 0x01, 0x01, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00,
					     0xFF, 0xDB, 0x00};
	snprintf(path, sizeof(path), "%s/cut.jpg", cap);
	write_file(path, head, sizeof(head));
	snprintf(path, sizeof(path), "%s/it's \"quoted\" ; rm -rf $HOME.jpg", cap);
	write_file(path, garbage, 100);
	char longname[300];
	memset(longname, 'a', 240);
	memcpy(longname + 240, ".png", 5);
	snprintf(path, sizeof(path), "%s/%s", cap, longname);
	write_file(path, garbage, 64);

	int rc = build(cap, out, msg, sizeof(msg));
	cr_expect_eq(rc, 1, "exit %d (no usable frame is a failure of the job): %s", rc, msg);
	cr_expect(strstr(msg, "no usable frame") != NULL, "%s", msg);
	size_t n = rejects(out, reasons, sizeof(reasons));
	cr_expect_eq(n, 5, "%zu rejects:\n%s", n, reasons);
	cr_expect(strstr(reasons, "undecodable") != NULL, "%s", reasons);
	cr_expect(strstr(msg, "Segmentation") == NULL && strstr(msg, "Sanitizer") == NULL, "%s", msg);
}

Test(robust, uncreatable_output_is_a_clear_error)
{
	char cap[300], out[300], path[600], msg[8192];
	snprintf(cap, sizeof(cap), "%s/cap", dir);
	snprintf(path, sizeof(path), "%s/plainfile", dir);
	write_file(path, "x", 1);
	snprintf(out, sizeof(out), "%s/plainfile/out", dir);
	int rc = build(cap, out, msg, sizeof(msg));
	cr_expect_eq(rc, 1, "exit %d: %s", rc, msg);
	cr_expect(strstr(msg, "plainfile") != NULL, "the directory is not named: %s", msg);
}

Test(robust, bad_options_are_usage_errors)
{
	char cmd[2048];
	const char *bad[] = {"--size 10", "--fov 200", "--clip-frames 0", "--view sideways",
			     "--spacing-m 5 --spacing-s 1"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(cmd, sizeof(cmd), "'%s' build %s/cap -o %s/out %s >/dev/null 2>&1", prog, dir,
			 dir, bad[i]);
		int st = system(cmd);
		cr_expect_eq(WIFEXITED(st) ? WEXITSTATUS(st) : -1, 2, "%s", bad[i]);
	}
}
