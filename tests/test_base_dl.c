/* test_base_dl.c: libraries loaded on first use (svt_dl_load): a library that is absent and a
 * symbol a library lacks are errors that say what to install, a load resolves every name
 * across the libraries given, once, from any number of threads; and the program itself no
 * longer links GDAL or FFmpeg (what the loader is for: a start without their ~150 libraries). */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "base/svt.h"

Test(dl, missing_library_names_it_and_its_package)
{
	static const char *const sonames[] = {"libsvt_no_such.so.7", NULL};
	static const char *const names[] = {"strlen"};
	static void *fns[1];
	static svt_dl d = SVT_DL_INIT("testing the loader", sonames, names, fns);
	svt_err e = {0};
	cr_assert_eq(svt_dl_load(&d, &e), SVT_E_UNSUPPORTED);
	cr_expect(strstr(e.msg, "testing the loader needs libsvt_no_such.so.7"), "%s", e.msg);
	cr_expect(strstr(e.msg, "Debian package libsvt_no_such7 "), "%s", e.msg);
	cr_expect(strstr(e.msg, "install-deps.sh"), "%s", e.msg);
	cr_expect_null(fns[0]);
	/* Not retried, and the same words every time (also with no err to fill). */
	char first[SVT_ERR_MSG_MAX];
	snprintf(first, sizeof(first), "%s", e.msg);
	svt_err_clear(&e);
	cr_assert_eq(svt_dl_load(&d, &e), SVT_E_UNSUPPORTED);
	cr_expect_str_eq(e.msg, first);
	cr_expect_eq(svt_dl_load(&d, NULL), SVT_E_UNSUPPORTED);
}

Test(dl, package_of_a_name_ending_in_a_digit_has_a_dash)
{
	/* Debian's rule: libfoo2.so.3 is in libfoo2-3; the second library is never reached. */
	static const char *const sonames[] = {"libsvt2.so.3.1", "libc.so.6", NULL};
	static const char *const names[] = {"strlen"};
	static void *fns[1];
	static svt_dl d = SVT_DL_INIT("x", sonames, names, fns);
	svt_err e = {0};
	cr_assert_eq(svt_dl_load(&d, &e), SVT_E_UNSUPPORTED);
	cr_expect(strstr(e.msg, "package libsvt2-3 "), "%s", e.msg);
}

Test(dl, missing_symbol_names_it_and_leaves_no_table)
{
	/* A real library (the C library: always there) without one of the names. */
	static const char *const sonames[] = {"libc.so.6", NULL};
	static const char *const names[] = {"strlen", "svt_no_such_symbol_42"};
	static void *fns[2];
	static svt_dl d = SVT_DL_INIT("testing the loader", sonames, names, fns);
	svt_err e = {0};
	cr_assert_eq(svt_dl_load(&d, &e), SVT_E_UNSUPPORTED);
	cr_expect(strstr(e.msg, "needs svt_no_such_symbol_42, which libc.so.6 here lacks"), "%s",
		  e.msg);
	cr_expect(strstr(e.msg, "Debian package libc6 "), "%s", e.msg);
	cr_expect(!fns[0] && !fns[1], "a failed load left pointers behind");
}

typedef size_t (*strlen_fn)(const char *);
typedef const char *(*zver_fn)(void);

Test(dl, resolves_each_name_in_the_first_library_that_has_it)
{
	static const char *const sonames[] = {"libc.so.6", "libz.so.1", NULL};
	static const char *const names[] = {"strlen", "zlibVersion"};
	static void *fns[2];
	static svt_dl d = SVT_DL_INIT("x", sonames, names, fns);
	svt_err e = {0};
	cr_assert_eq(svt_dl_load(&d, &e), 0, "%s", e.msg);
	cr_assert(fns[0] && fns[1]);
	cr_expect_eq(((strlen_fn)fns[0])("loaded"), 6);
	cr_expect_str_eq(((zver_fn)fns[1])(), zlibVersion());
	cr_expect_eq(svt_dl_load(&d, &e), 0);
}

static const char *const mt_sonames[] = {"libz.so.1", NULL};
static const char *const mt_names[] = {"zlibVersion", "crc32"};
static void *mt_fns[2];
static svt_dl mt_dl = SVT_DL_INIT("x", mt_sonames, mt_names, mt_fns);

static void *mt_load(void *arg)
{
	svt_err e = {0};
	int rc = svt_dl_load(&mt_dl, &e);
	/* Whoever returns 0 must see the table filled (the loader's release/acquire). */
	void **out = arg;
	out[0] = (void *)(intptr_t)rc;
	out[1] = rc ? NULL : mt_fns[0];
	out[2] = rc ? NULL : mt_fns[1];
	return NULL;
}

Test(dl, loads_once_from_many_threads)
{
	enum { N = 8 };
	pthread_t t[N];
	void *got[N][3];
	for (int i = 0; i < N; i++)
		cr_assert_eq(pthread_create(&t[i], NULL, mt_load, got[i]), 0);
	for (int i = 0; i < N; i++)
		pthread_join(t[i], NULL);
	for (int i = 0; i < N; i++) {
		cr_expect_eq((intptr_t)got[i][0], 0, "thread %d", i);
		cr_expect(got[i][1] && got[i][1] == got[0][1] && got[i][2] == got[0][2], "thread %d",
			  i);
	}
}

/* What the loader is for: the program starts without GDAL and FFmpeg (they load when a layer
 * or a video is first read). Checked on the binary the tests run beside. */
Test(dl, program_does_not_link_gdal_or_ffmpeg)
{
	const char *b = getenv("SVT_BUILD");
	char cmd[1200], line[512];
	snprintf(cmd, sizeof(cmd), "readelf -d %s/svtwin 2>/dev/null | grep NEEDED",
		 b && *b ? b : "build");
	FILE *p = popen(cmd, "r");
	cr_assert(p);
	int n = 0;
	while (fgets(line, sizeof(line), p)) {
		n++;
		cr_expect(!strstr(line, "libgdal") && !strstr(line, "libav") &&
			  !strstr(line, "libswscale"), "linked again: %s", line);
	}
	pclose(p);
	if (n == 0)
		cr_skip_test("no readelf, or no %s/svtwin: not checked", b && *b ? b : "build");
}
