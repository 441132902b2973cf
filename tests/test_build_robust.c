/* test_build_robust.c: `svtwin build` on hostile input: a clear error and exit status, every
 * bad frame in rejects.jsonl with its reason, never a crash. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <png.h>
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

/* A PNG of w x h pixels, depth bits, gray or RGB, all zero, written with libpng. */
static void write_png(const char *path, int w, int h, int bits, int rgb)
{
	FILE *f = fopen(path, "wb");
	cr_assert(f, "cannot create %s", path);
	png_structp p = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
	png_infop info = png_create_info_struct(p);
	cr_assert(p && info);
	cr_assert_eq(setjmp(png_jmpbuf(p)), 0, "libpng failed writing %s", path);
	png_init_io(p, f);
	png_set_IHDR(p, info, (png_uint_32)w, (png_uint_32)h, bits,
		     rgb ? PNG_COLOR_TYPE_RGB : PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE,
		     PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
	png_write_info(p, info);
	png_bytep row = calloc(1, png_get_rowbytes(p, info));
	cr_assert(row);
	for (int y = 0; y < h; y++)
		png_write_row(p, row);
	png_write_end(p, NULL);
	png_destroy_write_struct(&p, &info);
	free(row);
	fclose(f);
}

/* Depth maps that cannot serve (wider than the decoder's limit, 8-bit colour, garbage): each
 * frame keeps its view and says why it gives no points, the others' maps still do, and the
 * job succeeds. On a generated capture with a depth map per frame (svtwin-samples). */
Test(robust, unusable_depth_maps_are_each_reported)
{
	char gen[600], cap[300], out[300], path[600], msg[16384];
	const char *b = getenv("SVT_BUILD");
	snprintf(gen, sizeof(gen), "%s/svtwin-samples", b && *b ? b : "build");
	if (access(gen, X_OK) != 0)
		cr_skip_test("%s is not built: run through `make test`", gen);
	snprintf(cap, sizeof(cap), "%s/dcap", dir);
	snprintf(out, sizeof(out), "%s/dout", dir);
	snprintf(msg, sizeof(msg), "'%s' --out '%s' --frames 9 --width 256 --no-bad -q", gen, cap);
	cr_assert_eq(system(msg), 0, "%s", msg);
	/* Over the decoder's width limit (30000): refused from the header, nothing allocated. */
	snprintf(path, sizeof(path), "%s/.depth/pano_0001.png", cap);
	write_png(path, 31000, 2, 16, 0);
	snprintf(path, sizeof(path), "%s/.depth/pano_0002.png", cap);
	write_png(path, 64, 32, 8, 1);
	snprintf(path, sizeof(path), "%s/.depth/pano_0003.png", cap);
	write_file(path, "garbage", 7);

	int rc = build(cap, out, msg, sizeof(msg));
	cr_assert_eq(rc, 0, "exit %d: %s", rc, msg);
	const char *want[][2] = {{"pano_0001.png: unusable depth map (", "over the limit"},
				 {"pano_0002.png: not a 16-bit gray depth map (", "8-bit, 3 channels"},
				 {"pano_0003.png: unusable depth map (", "not a JPEG or PNG"}};
	for (size_t i = 0; i < 3; i++) {
		const char *at = strstr(msg, want[i][0]);
		cr_expect(at != NULL, "no warning for %s: %s", want[i][0], msg);
		if (at) {
			const char *eol = strchr(at, '\n');
			const char *why = strstr(at, want[i][1]);
			cr_expect(why && (!eol || why < eol), "%s: the reason should say %s: %s",
				  want[i][0], want[i][1], msg);
		}
	}
	/* Nine frames, one clip of nine: six maps give points. */
	cr_expect(strstr(msg, "from 6 depth maps fused") != NULL, "%s", msg);
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
