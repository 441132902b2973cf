/* test_twin.c: clip assembly (twin_clip.c). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "twin/twin.h"

/* n frames of one straight track along east, step_m apart, 1 s apart, one sequence. */
static twin_frame *track(size_t n, double step_m)
{
	twin_frame *f = calloc(n, sizeof(*f));
	cr_assert(f);
	for (size_t i = 0; i < n; i++) {
		f[i].time_us = (int64_t)i * 1000000;
		f[i].enu[0] = step_m * (double)i;
		f[i].src = (int)i;
	}
	return f;
}

Test(twin_clip, defaults)
{
	twin_clip_opts o;
	memset(&o, 0xff, sizeof(o));
	twin_clip_opts_default(&o);
	cr_expect_eq(o.frames, 57);
	cr_expect_eq(o.stride, 57);
	cr_expect_float_eq(o.min_step_m, 0.5, 1e-12);
	cr_expect_eq(o.spacing_m, 0.0);
	cr_expect_eq(o.spacing_s, 0.0);
	twin_clip_opts_default(NULL);
}

Test(twin_clip, exact_counts_and_stride)
{
	twin_frame *f = track(130, 1.0);
	twin_clip_opts o;
	twin_clip_opts_default(&o);
	twin_clip_list l = {0};
	svt_err e = {0};
	cr_assert_eq(twin_clips_assemble(f, 130, &o, &l, &e), 0, "%s", e.msg);
	cr_assert_eq(l.n, 2); /* 0..56, 57..113; 114..129 is a short tail */
	for (size_t c = 0; c < l.n; c++) {
		cr_expect_eq(l.clips[c].n, 57);
		cr_expect_eq(l.clips[c].first, l.clips[c].idx[0]);
		for (int t = 0; t < 57; t++)
			cr_expect_eq(l.clips[c].idx[t], c * 57 + (size_t)t);
	}
	twin_clip_list_free(&l);

	/* Overlap: stride 8 gives starts 0, 8, ..., 72 (72 + 57 = 129 <= 130). */
	o.stride = 8;
	cr_assert_eq(twin_clips_assemble(f, 130, &o, &l, &e), 0, "%s", e.msg);
	cr_assert_eq(l.n, 10);
	for (size_t c = 0; c < l.n; c++)
		cr_expect_eq(l.clips[c].idx[0], 8 * c);
	cr_expect_eq(l.clips[9].idx[56], 128);
	twin_clip_list_free(&l);
	twin_clip_list_free(&l); /* twice is harmless */
	twin_clip_list_free(NULL);
	free(f);
}

Test(twin_clip, never_across_sequence_cut)
{
	twin_frame *f = track(100, 2.0);
	for (size_t i = 50; i < 100; i++)
		f[i].seq = 1;
	twin_clip_opts o;
	twin_clip_opts_default(&o);
	o.frames = 9;
	o.stride = 9;
	twin_clip_list l = {0};
	svt_err e = {0};
	cr_assert_eq(twin_clips_assemble(f, 100, &o, &l, &e), 0, "%s", e.msg);
	/* 50 frames per sequence: 5 clips each (45 frames), never one straddling frame 49/50. */
	cr_assert_eq(l.n, 10);
	for (size_t c = 0; c < l.n; c++) {
		int seq = f[l.clips[c].idx[0]].seq;
		cr_expect_eq(l.clips[c].seq, seq);
		for (int t = 0; t < 9; t++)
			cr_expect_eq(f[l.clips[c].idx[t]].seq, seq);
		for (int t = 1; t < 9; t++)
			cr_expect_eq(l.clips[c].idx[t], l.clips[c].idx[t - 1] + 1);
	}
	cr_expect_eq(l.clips[5].idx[0], 50);
	twin_clip_list_free(&l);

	/* A seq that comes back after a cut is still a separate run (0,0,1,1,0,0). */
	twin_frame g[6];
	memcpy(g, f, sizeof(g));
	g[0].seq = g[1].seq = g[4].seq = g[5].seq = 0;
	g[2].seq = g[3].seq = 1;
	o.frames = 3;
	o.stride = 1;
	cr_assert_eq(twin_clips_assemble(g, 6, &o, &l, &e), 0, "%s", e.msg);
	cr_expect_eq(l.n, 0);
	twin_clip_list_free(&l);
	free(f);
}

Test(twin_clip, stationary_dropped)
{
	/* Moves 1 m per frame, stops for 10 frames (jitter 0.1 m) at frame 20, goes on. */
	size_t n = 60;
	twin_frame *f = track(n, 1.0);
	for (size_t i = 20; i < 30; i++)
		f[i].enu[0] = 20.0 + 0.1 * (double)(i % 2);
	for (size_t i = 30; i < n; i++)
		f[i].enu[0] = 21.0 + (double)(i - 30);
	f[40].flags |= TWIN_FRAME_STATIONARY;
	twin_clip_opts o;
	twin_clip_opts_default(&o);
	o.frames = 45;
	o.stride = 45;
	twin_clip_list l = {0};
	svt_err e = {0};
	cr_assert_eq(twin_clips_assemble(f, n, &o, &l, &e), 0, "%s", e.msg);
	cr_assert_eq(l.n, 1);
	/* Kept: 0..20, 30..39, 41..59 = 21 + 10 + 19 = 50 >= 45. */
	const twin_clip *c = &l.clips[0];
	for (int t = 0; t < c->n; t++) {
		size_t i = c->idx[t];
		cr_expect(!(i > 20 && i < 30), "stationary frame %zu kept", i);
		cr_expect_neq(i, 40);
		if (t > 0)
			cr_expect_geq(fabs(f[i].enu[0] - f[c->idx[t - 1]].enu[0]), 0.5);
	}
	cr_expect_eq(c->idx[20], 20);
	cr_expect_eq(c->idx[21], 30);
	cr_expect_eq(c->idx[31], 41);
	twin_clip_list_free(&l);

	/* min_step_m 0 keeps everything not flagged. */
	o.min_step_m = 0.0;
	o.frames = 59;
	cr_assert_eq(twin_clips_assemble(f, n, &o, &l, &e), 0, "%s", e.msg);
	cr_expect_eq(l.n, 1);
	twin_clip_list_free(&l);
	free(f);
}

Test(twin_clip, resample_by_distance_and_time)
{
	/* 0.5 m per frame, 0.25 s apart: resampling to 2 m keeps every 4th frame. */
	size_t n = 200;
	twin_frame *f = track(n, 0.5);
	for (size_t i = 0; i < n; i++)
		f[i].time_us = (int64_t)i * 250000;
	twin_clip_opts o;
	twin_clip_opts_default(&o);
	o.min_step_m = 0.0;
	o.frames = 17;
	o.stride = 17;
	o.spacing_m = 2.0;
	twin_clip_list l = {0};
	svt_err e = {0};
	cr_assert_eq(twin_clips_assemble(f, n, &o, &l, &e), 0, "%s", e.msg);
	cr_assert_eq(l.n, 2); /* 50 resampled frames: 2 clips of 17 */
	for (int t = 0; t < 17; t++)
		cr_expect_eq(l.clips[1].idx[t], (size_t)(4 * (17 + t)));
	twin_clip_list_free(&l);

	o.spacing_m = 0.0;
	o.spacing_s = 1.0;
	cr_assert_eq(twin_clips_assemble(f, n, &o, &l, &e), 0, "%s", e.msg);
	cr_assert_eq(l.n, 2);
	cr_expect_eq(l.clips[0].idx[16], 64);
	twin_clip_list_free(&l);

	/* Spacing finer than the frames: no frame twice. */
	o.spacing_s = 0.1;
	o.frames = 200;
	cr_assert_eq(twin_clips_assemble(f, n, &o, &l, &e), 0, "%s", e.msg);
	cr_assert_eq(l.n, 1);
	for (int t = 1; t < 200; t++)
		cr_expect_gt(l.clips[0].idx[t], l.clips[0].idx[t - 1]);
	twin_clip_list_free(&l);
	free(f);
}

Test(twin_clip, bad_input)
{
	twin_frame *f = track(10, 1.0);
	twin_clip_opts o;
	twin_clip_opts_default(&o);
	twin_clip_list l = {0};
	svt_err e = {0};
	o.frames = 0;
	cr_expect_eq(twin_clips_assemble(f, 10, &o, &l, &e), SVT_E_INPUT);
	cr_expect(strlen(e.msg) > 0);
	twin_clip_opts_default(&o);
	o.min_step_m = NAN;
	cr_expect_eq(twin_clips_assemble(f, 10, &o, &l, NULL), SVT_E_INPUT);
	twin_clip_opts_default(&o);
	o.spacing_m = 1;
	o.spacing_s = 1;
	cr_expect_eq(twin_clips_assemble(f, 10, &o, &l, NULL), SVT_E_INPUT);
	twin_clip_opts_default(&o);
	f[5].time_us = 0; /* out of order within one sequence */
	cr_expect_eq(twin_clips_assemble(f, 10, &o, &l, NULL), SVT_E_INPUT);
	cr_expect_eq(l.n, 0);
	cr_expect_eq(twin_clips_assemble(NULL, 0, &o, &l, NULL), 0);
	cr_expect_eq(l.n, 0);
	free(f);
}

Test(twin_clip, distance_along_track)
{
	twin_frame *f = track(6, 3.0);
	f[3].seq = 1;
	f[4].seq = 1;
	f[5].seq = 1;
	f[4].enu[1] = 4.0; /* 3-4-5 triangle leg */
	double d[6];
	twin_frames_distance(f, 6, d);
	cr_expect_float_eq(d[0], 0.0, 1e-12);
	cr_expect_float_eq(d[2], 6.0, 1e-12);
	cr_expect_float_eq(d[3], 0.0, 1e-12);
	cr_expect_float_eq(d[4], 5.0, 1e-12);
	cr_expect_float_eq(d[5], 10.0, 1e-12);
	free(f);
}
