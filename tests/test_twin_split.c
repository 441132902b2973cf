/* test_twin_split.c: splits by geography and the leak check (twin_split.c). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "geo/geo.h"
#include "twin/twin.h"

Test(twin_split, deterministic_and_ratios)
{
	twin_split_opts o;
	twin_split_opts_default(&o);
	cr_assert_eq(twin_split_opts_check(&o, NULL), 0);
	size_t cnt[3] = {0}, differ = 0, total = 0;
	twin_split_opts o2 = o;
	o2.seed = 7;
	for (int by = -100; by < 100; by++)
		for (int bx = -100; bx < 100; bx++) {
			double e = 200000.0 + bx * 500.0 + 250.0, n = 550000.0 + by * 500.0 + 1.0;
			int s = twin_split_of_point(&o, e, n);
			cr_assert(s >= 0 && s < 3);
			/* Every point of a block has the block's split. */
			cr_assert_eq(twin_split_of_point(&o, e + 240.0, n + 498.0), s);
			cr_assert_eq(twin_split_of_point(&o, e, n), s);
			cnt[s]++;
			differ += twin_split_of_point(&o2, e, n) != s;
			total++;
		}
	/* 40,000 blocks: binomial sd of a 0.1 share is 0.0015. */
	cr_expect(fabs((double)cnt[0] / total - 0.8) < 0.01, "train %zu", cnt[0]);
	cr_expect(fabs((double)cnt[1] / total - 0.1) < 0.01, "val %zu", cnt[1]);
	cr_expect(fabs((double)cnt[2] / total - 0.1) < 0.01, "test %zu", cnt[2]);
	/* Another seed reshuffles: two draws agree with probability 0.66. */
	cr_expect(differ > total / 5 && differ < total / 2, "differ %zu", differ);

	o.ratio[1] = o.ratio[2] = 0.0;
	for (int i = 0; i < 1000; i++)
		cr_expect_eq(twin_split_of_point(&o, i * 137.0, i * -91.0), 0);
	o.ratio[0] = 0.0;
	cr_expect_neq(twin_split_opts_check(&o, NULL), 0);
	cr_expect_eq(twin_split_of_point(&o, 0, 0), -1);
	cr_expect_str_eq(twin_split_name(2), "test");
	cr_expect_eq(twin_split_from_name("val"), 1);
	cr_expect_eq(twin_split_from_name("nope"), -1);
}

/* Tracks criss-crossing a 4 km x 4 km area: rows and columns of frames 2 m apart. */
static twin_frame *grid_tracks(size_t *n_out)
{
	size_t per = 2000, lines = 16, n = per * lines;
	twin_frame *f = calloc(n, sizeof(*f));
	cr_assert(f);
	for (size_t l = 0; l < lines; l++)
		for (size_t i = 0; i < per; i++) {
			twin_frame *p = &f[l * per + i];
			double along = 2.0 * (double)i, across = 250.0 * (double)(l / 2) + 37.0;
			p->proj[0] = 196000.0 + (l % 2 ? across : along);
			p->proj[1] = 548000.0 + (l % 2 ? along : across);
			p->enu[0] = p->proj[0];
			p->enu[1] = p->proj[1];
			p->time_us = (int64_t)i * 500000;
			p->seq = (int)l;
		}
	*n_out = n;
	return f;
}

static size_t leaks(const twin_frame *f, const twin_clip_list *l, double buffer)
{
	size_t m = 0;
	for (size_t c = 0; c < l->n; c++)
		m += (size_t)l->clips[c].n;
	double *xy = malloc(2 * m * sizeof(double));
	int *sp = malloc(m * sizeof(int));
	cr_assert(xy && sp);
	size_t k = 0;
	for (size_t c = 0; c < l->n; c++)
		for (int t = 0; t < l->clips[c].n; t++, k++) {
			xy[2 * k] = f[l->clips[c].idx[t]].proj[0];
			xy[2 * k + 1] = f[l->clips[c].idx[t]].proj[1];
			sp[k] = twin_split_from_name(l->clips[c].split);
		}
	size_t nv = 99;
	twin_split_violation rep[4];
	svt_err e = {0};
	cr_assert_eq(twin_splits_check(xy, sp, m, buffer, &nv, rep, 4, &e), 0, "%s", e.msg);
	for (size_t i = 0; i < nv && i < 4; i++)
		cr_expect(rep[i].dist_m < buffer);
	free(xy);
	free(sp);
	return nv;
}

Test(twin_split, assign_is_leak_free)
{
	size_t n;
	twin_frame *f = grid_tracks(&n);
	twin_clip_opts co;
	twin_clip_opts_default(&co);
	co.frames = 25;
	co.stride = 13;
	twin_clip_list l = {0};
	svt_err e = {0};
	cr_assert_eq(twin_clips_assemble(f, n, &co, &l, &e), 0, "%s", e.msg);
	size_t before = l.n;
	cr_assert_gt(before, 1000);

	/* A naive split (block of the first frame, no buffer) must leak: the checker sees it. */
	twin_split_opts o;
	twin_split_opts_default(&o);
	o.ratio[0] = 0.5;
	o.ratio[1] = 0.25;
	o.ratio[2] = 0.25;
	for (size_t c = 0; c < l.n; c++) {
		const twin_frame *p = &f[l.clips[c].idx[0]];
		strcpy(l.clips[c].split, twin_split_name(twin_split_of_point(&o, p->proj[0], p->proj[1])));
	}
	cr_expect_gt(leaks(f, &l, o.buffer_m), 0);

	size_t dropped = 0, cnt[3];
	cr_assert_eq(twin_splits_assign(&o, f, n, &l, &dropped, cnt, &e), 0, "%s", e.msg);
	cr_expect_eq(l.n + dropped, before);
	cr_expect_eq(cnt[0] + cnt[1] + cnt[2], l.n);
	cr_expect_gt(cnt[0], 0);
	cr_expect_gt(cnt[1] + cnt[2], 0);
	cr_expect_lt(dropped, before / 2, "dropped %zu of %zu", dropped, before);
	cr_expect_eq(leaks(f, &l, o.buffer_m), 0);
	/* Every frame of a kept clip lies in a block of the clip's split. */
	for (size_t c = 0; c < l.n; c++)
		for (int t = 0; t < l.clips[c].n; t++) {
			const twin_frame *p = &f[l.clips[c].idx[t]];
			cr_assert_str_eq(twin_split_name(twin_split_of_point(&o, p->proj[0], p->proj[1])),
					 l.clips[c].split);
		}
	/* Same seed, same answer. */
	twin_clip_list l2 = {0};
	cr_assert_eq(twin_clips_assemble(f, n, &co, &l2, &e), 0);
	cr_assert_eq(twin_splits_assign(&o, f, n, &l2, NULL, NULL, &e), 0);
	cr_assert_eq(l2.n, l.n);
	for (size_t c = 0; c < l.n; c++) {
		cr_expect_eq(l2.clips[c].idx[0], l.clips[c].idx[0]);
		cr_expect_str_eq(l2.clips[c].split, l.clips[c].split);
	}
	twin_clip_list_free(&l);
	twin_clip_list_free(&l2);
	free(f);
}

Test(twin_split, check_planar_and_llh)
{
	double xy[8] = {0, 0, 30, 0, 200, 0, 200, 49.9};
	int sp[4] = {0, 1, 0, 2};
	size_t nv = 0;
	twin_split_violation rep[2];
	cr_assert_eq(twin_splits_check(xy, sp, 4, 50.0, &nv, rep, 2, NULL), 0);
	cr_expect_eq(nv, 2);
	cr_expect_eq(rep[0].a + rep[0].b + rep[1].a + rep[1].b, 0 + 1 + 2 + 3);
	sp[1] = -1; /* ignored */
	cr_assert_eq(twin_splits_check(xy, sp, 4, 50.0, &nv, NULL, 0, NULL), 0);
	cr_expect_eq(nv, 1);
	cr_assert_eq(twin_splits_check(xy, sp, 4, 49.0, &nv, NULL, 0, NULL), 0);
	cr_expect_eq(nv, 0);

	/* Around Seoul City Hall: points 30 m and 60 m east, and 45 m north. */
	double lat[4], lon[4];
	lat[0] = 37.5666;
	lon[0] = 126.9784;
	geo_destination(lat[0], lon[0], 90.0, 30.0, &lat[1], &lon[1]);
	geo_destination(lat[0], lon[0], 90.0, 60.0, &lat[2], &lon[2]);
	geo_destination(lat[0], lon[0], 0.0, 45.0, &lat[3], &lon[3]);
	int s2[4] = {0, 0, 1, 2};
	cr_assert_eq(twin_splits_check_llh(lat, lon, s2, 4, 50.0, &nv, rep, 2, NULL), 0);
	/* 1-2 (30 m), 0-3 (45 m), 1-3 (~54 m no), 2-3 (75 m no), 0-2 (60 m no). */
	cr_expect_eq(nv, 2);
	cr_expect(fabs(rep[0].dist_m - 30.0) < 1e-6 || fabs(rep[0].dist_m - 45.0) < 1e-6);
	cr_expect_eq(twin_splits_check(NULL, sp, 4, 50.0, &nv, NULL, 0, NULL), SVT_E_INPUT);
}
