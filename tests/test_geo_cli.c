/* test_geo_cli.c: `svtwin geo` end to end (the binary in $SVT_BUILD, which make test sets):
 * values, line alignment, malformed-line reporting, --inverse and --enu. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *svtwin(void)
{
	static char path[1024];
	const char *b = getenv("SVT_BUILD");
	snprintf(path, sizeof(path), "%s/svtwin", b && *b ? b : "build");
	return access(path, X_OK) == 0 ? path : NULL;
}

/* Runs `svtwin geo ARGS` with input on stdin; stdout into out, stderr into err. */
static int run_geo(const char *args, const char *input, char *out, size_t cap, char *err,
		   size_t ecap)
{
	const char *bin = svtwin();
	char in_path[] = "/tmp/svt_geo_in_XXXXXX", err_path[] = "/tmp/svt_geo_err_XXXXXX";
	int fd = mkstemp(in_path), fe = mkstemp(err_path);
	cr_assert(fd >= 0 && fe >= 0);
	cr_assert_eq(write(fd, input, strlen(input)), (ssize_t)strlen(input));
	close(fd);
	close(fe);
	char cmd[2048];
	snprintf(cmd, sizeof(cmd), "%s geo %s <%s 2>%s", bin, args, in_path, err_path);
	FILE *p = popen(cmd, "r");
	cr_assert_not_null(p);
	size_t n = fread(out, 1, cap - 1, p);
	out[n] = '\0';
	int st = pclose(p);
	FILE *f = fopen(err_path, "r");
	n = f ? fread(err, 1, ecap - 1, f) : 0;
	err[n] = '\0';
	if (f)
		fclose(f);
	unlink(in_path);
	unlink(err_path);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

#define NEED_BIN()                                                                             \
	if (!svtwin())                                                                         \
	cr_skip_test("no svtwin binary in $SVT_BUILD (build it first)")

Test(geo_cli, forward_city_hall_and_alignment)
{
	NEED_BIN();
	char out[4096], err[4096];
	int rc = run_geo("--to EPSG:5186",
			 "126.9784 37.5666\n# keep\n\n127 38 10 tag\nfoo bar\n127,38\n", out,
			 sizeof(out), err, sizeof(err));
	cr_assert_eq(rc, 1, "a bad line makes the exit status 1 (rc %d)", rc);
	cr_assert_str_eq(out, "198091.7081 551896.1212\n# keep\n\n200000.0000 600000.0000 10.0000 tag\n"
			      "* *\n200000.0000 600000.0000\n");
	cr_assert(strstr(err, "line 5") != NULL, "stderr: %s", err);
}

Test(geo_cli, inverse_enu_strict)
{
	NEED_BIN();
	char out[4096], err[4096];
	cr_assert_eq(run_geo("--to EPSG:5186 --inverse", "198091.70807508586 551896.12121964525\n",
			     out, sizeof(out), err, sizeof(err)),
		     0, "%s", err);
	cr_assert_str_eq(out, "126.978400000 37.566600000\n");
	cr_assert_eq(run_geo("--enu 55,5,200", "2.12955 53.80939444 73\n", out, sizeof(out), err,
			     sizeof(err)),
		     0, "%s", err);
	cr_assert_str_eq(out, "-189013.8692 -128642.0403 -4220.1708\n");
	cr_assert_eq(run_geo("--to 5179 --strict", "126.9784 37.5666\nbad\n127 38\n", out,
			     sizeof(out), err, sizeof(err)),
		     1);
	cr_assert_str_eq(out, "953936.5519 1952042.9793\n* *\n", "strict stops at the bad line");
	cr_assert_eq(run_geo("--to EPSG:nope", "", out, sizeof(out), err, sizeof(err)), 2);
}

/* Numbers in options are read whole: "3x" or "1,2,3x" (once taken as 3 and 1,2,3) name the
 * option and stop before any line is read. */
Test(geo_cli, malformed_option_numbers_are_refused)
{
	NEED_BIN();
	char out[4096], err[4096];
	const char *bad[][2] = {{"--to 5186 -p 3x", "--precision"},
				{"--to 5186 -p 16", "--precision"},
				{"--enu 1,2,3x", "--enu"},
				{"--enu 1,2", "--enu"}};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_expect_eq(run_geo(bad[i][0], "126.9784 37.5666\n", out, sizeof(out), err,
				     sizeof(err)), 2, "%s accepted: %s", bad[i][0], out);
		cr_expect(strstr(err, bad[i][1]) != NULL, "%s: %s", bad[i][0], err);
		cr_expect_str_empty(out, "%s wrote output", bad[i][0]);
	}
	/* The well-formed neighbours still work. */
	cr_expect_eq(run_geo("--to 5186 -p 3", "126.9784 37.5666\n", out, sizeof(out), err,
			     sizeof(err)), 0, "%s", err);
	cr_expect_str_eq(out, "198091.708 551896.121\n");
}
