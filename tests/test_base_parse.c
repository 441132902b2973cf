/* test_base_parse.c: strict option values: the number and nothing else, the option named in
 * every refusal. */
#include <criterion/criterion.h>
#include <string.h>

#include "base/svt.h"

Test(parse, int_accepts_only_whole_numbers_in_range)
{
	long long v = 7;
	svt_err e = {0};
	cr_assert_eq(svt_parse_int("--clip-frames", "57", 1, 100000, &v, &e), 0, "%s", e.msg);
	cr_assert_eq(v, 57);
	cr_assert_eq(svt_parse_int("--x", "-3", -5, 5, &v, &e), 0);
	cr_assert_eq(v, -3);
	const char *bad[] = {"abc", "", "12abc", " 12", "1.5", "0x10", "12 "};
	for (size_t i = 0; i < SVT_ARRAY_LEN(bad); i++) {
		v = 99;
		cr_assert_eq(svt_parse_int("--seed", bad[i], 0, 1000, &v, &e), SVT_E_INPUT, "'%s'",
			     bad[i]);
		cr_assert(strstr(e.msg, "--seed") && strstr(e.msg, "not an integer"), "%s", e.msg);
		cr_assert_eq(v, 99, "out untouched");
	}
	cr_assert_eq(svt_parse_int("--clip-frames", "0", 1, 100000, &v, &e), SVT_E_INPUT);
	cr_assert(strstr(e.msg, "--clip-frames: 0 is out of range [1, 100000]"), "%s", e.msg);
	cr_assert_eq(svt_parse_int("--n", "99999999999999999999", 0, 10, &v, &e), SVT_E_INPUT);
	cr_assert(strstr(e.msg, "out of range"), "%s", e.msg);
	cr_assert_eq(svt_parse_int("--n", NULL, 0, 10, &v, &e), SVT_E_INPUT);
}

Test(parse, u64_refuses_signs_and_overflow)
{
	uint64_t v = 0;
	svt_err e = {0};
	cr_assert_eq(svt_parse_u64("--seed", "18446744073709551615", &v, &e), 0, "%s", e.msg);
	cr_assert_eq(v, UINT64_MAX);
	cr_assert_eq(svt_parse_u64("--seed", "-1", &v, &e), SVT_E_INPUT); /* strtoull would wrap */
	cr_assert(strstr(e.msg, "--seed: '-1'"), "%s", e.msg);
	cr_assert_eq(svt_parse_u64("--seed", "abc", &v, &e), SVT_E_INPUT);
	cr_assert(strstr(e.msg, "--seed: 'abc' is not a non-negative integer"), "%s", e.msg);
	cr_assert_eq(svt_parse_u64("--seed", "18446744073709551616", &v, &e), SVT_E_INPUT);
	cr_assert(strstr(e.msg, "out of range"), "%s", e.msg);
}

Test(parse, double_finite_in_range)
{
	double v = 0;
	svt_err e = {0};
	cr_assert_eq(svt_parse_double("--fov", "90.5", 1, 179, &v, &e), 0, "%s", e.msg);
	cr_assert_float_eq(v, 90.5, 0);
	cr_assert_eq(svt_parse_double("--fov", "nan", 1, 179, &v, &e), SVT_E_INPUT);
	cr_assert_eq(svt_parse_double("--fov", "inf", 1, 179, &v, &e), SVT_E_INPUT);
	cr_assert_eq(svt_parse_double("--fov", "180", 1, 179, &v, &e), SVT_E_INPUT);
	cr_assert(strstr(e.msg, "--fov: 180 is out of range [1, 179]"), "%s", e.msg);
	cr_assert_eq(svt_parse_double("--fov", "9o", 1, 179, &v, &e), SVT_E_INPUT);
	cr_assert(strstr(e.msg, "--fov: '9o' is not a number"), "%s", e.msg);
}

Test(parse, size_is_two_whole_numbers_in_range)
{
	int w = 0, h = 0;
	svt_err e = {0};
	cr_assert_eq(svt_parse_size("--size", "1280x704", 16, 16384, &w, &h, &e), 0, "%s", e.msg);
	cr_assert(w == 1280 && h == 704, "%dx%d", w, h);
	const char *bad[] = {"", "1280", "x704", "1280x", "1280x704x3", "1280 x704", " 1280x704",
			     "1280x704 ", "-16x16", "12x704", "1280x99999", "0x0", "axb", "1e3x2"};
	for (size_t i = 0; i < SVT_ARRAY_LEN(bad); i++) {
		w = h = -1;
		cr_assert_eq(svt_parse_size("--size", bad[i], 16, 16384, &w, &h, &e), SVT_E_INPUT,
			     "'%s' accepted", bad[i]);
		cr_assert(w == -1 && h == -1, "'%s': out touched", bad[i]);
		cr_assert(!strncmp(e.msg, "--size: ", 8), "%s", e.msg);
	}
}
