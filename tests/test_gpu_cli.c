/* test_gpu_cli.c: `svtwin view` end to end on real panoramas (SVT_REAL_DATA) with the program
 * from SVT_BUILD; skips when either is missing. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/svt.h"

static const char *prog_or_skip(char *buf, size_t cap)
{
	const char *b = getenv("SVT_BUILD");
	if (!b)
		cr_skip_test("SVT_BUILD not set: the svtwin program is not located");
	snprintf(buf, cap, "%s/svtwin", b);
	if (access(buf, X_OK) != 0)
		cr_skip_test("%s not built", buf);
	return buf;
}

static const char *real_or_skip(const char *rel, char *buf, size_t cap)
{
	const char *r = getenv("SVT_REAL_DATA");
	if (!r)
		cr_skip_test("SVT_REAL_DATA not set");
	snprintf(buf, cap, "%s/%s", r, rel);
	if (access(buf, R_OK) != 0)
		cr_skip_test("real data absent: %s", buf);
	return buf;
}

static int run(const char *cmd)
{
	int st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Width and height from a PNG's IHDR. */
static int png_size(const char *path, int *w, int *h)
{
	uint8_t *d = NULL;
	size_t n = 0;
	if (svt_file_read(path, 1 << 26, &d, &n, NULL) || n < 24 || memcmp(d + 1, "PNG", 3)) {
		free(d);
		return -1;
	}
	*w = d[16] << 24 | d[17] << 16 | d[18] << 8 | d[19];
	*h = d[20] << 24 | d[21] << 16 | d[22] << 8 | d[23];
	free(d);
	return 0;
}

Test(gpu_cli, view_writes_png_of_requested_size)
{
	char prog[512], pano[1024], cmd[4096], out[64];
	prog_or_skip(prog, sizeof(prog));
	real_or_skip("pannellum_jordan_pond/examplepano.jpg", pano, sizeof(pano));
	snprintf(out, sizeof(out), "/tmp/svtwin-test-view-%d.png", (int)getpid());
	snprintf(cmd, sizeof(cmd), "%s view %s --yaw 30 --pitch 10 --fov 90 --size 320x176 -o %s",
		 prog, pano, out);
	cr_assert_eq(run(cmd), 0, "%s", cmd);
	int w = 0, h = 0;
	cr_assert_eq(png_size(out, &w, &h), 0);
	cr_expect(w == 320 && h == 176, "%dx%d", w, h);
	snprintf(cmd, sizeof(cmd),
		 "%s view %s --yaw -170 --pitch -80 --roll 15 --fov 120 --size 96x64 --bicubic "
		 "--no-aa --cpu -o %s",
		 prog, pano, out);
	cr_assert_eq(run(cmd), 0, "%s", cmd);
	cr_assert_eq(png_size(out, &w, &h), 0);
	cr_expect(w == 96 && h == 64, "%dx%d", w, h);
	unlink(out);
	/* Usage errors exit 2, a missing file 1. */
	snprintf(cmd, sizeof(cmd), "%s view %s --fov 200 --size 32x32 -o %s 2>/dev/null", prog,
		 pano, out);
	cr_expect_eq(run(cmd), 2);
	snprintf(cmd, sizeof(cmd), "%s view /nonexistent.jpg --fov 90 --size 32x32 -o %s 2>/dev/null",
		 prog, out);
	cr_expect_eq(run(cmd), 1);
}

/* The "R (view -> panorama) ..." line of `svtwin view -v`. */
static void view_R(const char *cmd, char *line, size_t cap)
{
	FILE *f = popen(cmd, "r");
	cr_assert(f);
	line[0] = 0;
	char buf[512];
	while (fgets(buf, sizeof(buf), f))
		if (!strncmp(buf, "R (view", 7))
			snprintf(line, cap, "%s", buf);
	cr_assert_eq(pclose(f), 0, "%s", cmd);
	cr_assert(line[0], "no R line from %s", cmd);
}

/* --north: yaw Y from north is yaw Y - PoseHeadingDegrees from the centre (this file's GPano
 * has heading 176.3 and no pitch/roll; its pixels are uniform, so the rotation printed by -v
 * is compared, to 6 decimals). */
Test(gpu_cli, view_north_uses_gpano_heading)
{
	char prog[512], pano[1024], cmd[4096], ra[512], rb[512], out[64];
	prog_or_skip(prog, sizeof(prog));
	real_or_skip("mapillary_tools/adobe_coords.jpg", pano, sizeof(pano));
	snprintf(out, sizeof(out), "/tmp/svtwin-test-north-%d.png", (int)getpid());
	snprintf(cmd, sizeof(cmd),
		 "%s view %s --north --yaw 200 --pitch 10 --fov 80 --size 48x32 --cpu -v -o %s", prog,
		 pano, out);
	view_R(cmd, ra, sizeof(ra));
	snprintf(cmd, sizeof(cmd),
		 "%s view %s --yaw 23.7 --pitch 10 --fov 80 --size 48x32 --cpu -v -o %s", prog, pano,
		 out);
	view_R(cmd, rb, sizeof(rb));
	cr_expect_str_eq(ra, rb);
	snprintf(cmd, sizeof(cmd), "%s view %s --yaw 60 --pitch 10 --fov 80 --size 48x32 -v -o %s",
		 prog, pano, out);
	view_R(cmd, rb, sizeof(rb));
	cr_expect_str_neq(ra, rb, "the comparison can fail");
	unlink(out);
}
