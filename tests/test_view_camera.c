/* test_view_camera.c: `svtwin view` refuses a perspective photo (opensfm_lund, a pinhole by
 * its 35 mm focal) and one whose camera is unknown (mapillary_tools' Sony), saying it is not
 * a panorama; it cuts the real 2:1 panorama (pannellum_jordan_pond) and honours --panorama.
 * Needs SVT_BUILD and SVT_REAL_DATA; skips, saying so, without them. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

static int view(const char *rel, const char *extra, char *out, size_t cap)
{
	const char *b = getenv("SVT_BUILD"), *r = getenv("SVT_REAL_DATA");
	struct stat st;
	if (!b || !r || stat(r, &st) != 0)
		cr_skip_test("SVT_BUILD and SVT_REAL_DATA are needed: skipped");
	char cmd[2048];
	snprintf(cmd, sizeof(cmd),
		 "%s/svtwin view %s/%s %s --fov 90 --size 64x48 -o /tmp/svt-view-cam.png 2>&1", b,
		 r, rel, extra);
	FILE *f = popen(cmd, "r");
	cr_assert(f);
	size_t n = fread(out, 1, cap - 1, f);
	out[n] = 0;
	int st2 = pclose(f);
	return WIFEXITED(st2) ? WEXITSTATUS(st2) : -1;
}

Test(view_camera, perspective_photo_is_refused)
{
	char out[4096];
	cr_assert_neq(view("opensfm_lund/images/01.jpg", "", out, sizeof(out)), 0, "%s", out);
	cr_assert(strstr(out, "perspective photo, not a 360 panorama") && strstr(out, "--panorama"),
		  "%s", out);
	cr_assert_neq(view("mapillary_tools/DSC00001.JPG", "", out, sizeof(out)), 0, "%s", out);
	cr_assert(strstr(out, "not a panorama"), "%s", out);
}

Test(view_camera, panoramas_are_cut)
{
	char out[4096];
	cr_assert_eq(view("pannellum_jordan_pond/examplepano.jpg", "", out, sizeof(out)), 0, "%s",
		     out);
	cr_assert_eq(view("mapillary_tools/adobe_coords.jpg", "", out, sizeof(out)), 0, "%s", out);
	cr_assert_eq(view("opensfm_lund/images/01.jpg", "--panorama", out, sizeof(out)), 0, "%s",
		     out);
}
