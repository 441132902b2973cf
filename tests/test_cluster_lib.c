/* test_cluster_lib.c: the cluster build's library rules (dataset/ds_rank.c, ds_merge.c,
 * formats/merge.c) in process: where a rank comes from and when it is refused, the owner hash,
 * the run record refusing another configuration, the merge naming missing ranks as an --array
 * list, and refusing a clip present in two ranks. The end-to-end runs under the real Slurm and
 * Open MPI are tests/test_cluster.sh. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dataset/dataset.h"
#include "formats/formats.h"

static char dir[128];

static const char *samples(void)
{
	const char *s = getenv("SVT_SAMPLES");
	if (!s || !*s)
		cr_skip_test("SVT_SAMPLES is not set: run through `make test`");
	return s;
}

static const char *const envs[] = {"OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE",
				   "SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_COUNT",
				   "SLURM_PROCID", "SLURM_NTASKS"};

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/svt-cluster-lib-%d", (int)getpid());
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf %s && mkdir -p %s", dir, dir);
	cr_assert_eq(system(cmd), 0);
	for (size_t i = 0; i < sizeof(envs) / sizeof(envs[0]); i++)
		unsetenv(envs[i]);
	svt_log_set_level(0);
}

static void teardown(void)
{
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
}

TestSuite(cluster, .init = setup, .fini = teardown);

Test(cluster, rank_from_the_environment_or_the_command_line)
{
	dataset_rank r;
	svt_err err = {0};
	cr_expect_neq(dataset_rank_resolve(-1, 0, &r, &err), 0, "no rank anywhere was accepted");
	cr_expect(strstr(err.msg, "--rank") != NULL, "%s", err.msg);
	cr_assert_eq(dataset_rank_resolve(2, 4, &r, &err), 0, "%s", err.msg);
	cr_expect_eq(r.rank, 2);
	cr_expect_eq(r.ranks, 4);
	cr_expect_neq(dataset_rank_resolve(4, 4, &r, &err), 0, "rank 4 of 4 was accepted");

	setenv("SLURM_PROCID", "3", 1);
	setenv("SLURM_NTASKS", "8", 1);
	cr_assert_eq(dataset_rank_resolve(-1, 0, &r, &err), 0, "%s", err.msg);
	cr_expect(r.rank == 3 && r.ranks == 8 && !strcmp(r.from, "SLURM_PROCID"));
	/* An array task's batch step also has SLURM_PROCID 0: the array wins. */
	setenv("SLURM_ARRAY_TASK_ID", "5", 1);
	setenv("SLURM_ARRAY_TASK_COUNT", "6", 1);
	cr_assert_eq(dataset_rank_resolve(-1, 0, &r, &err), 0, "%s", err.msg);
	cr_expect(r.rank == 5 && r.ranks == 6 && r.ranks_from_array);
	/* mpirun inside a Slurm job: the MPI rank wins. */
	setenv("OMPI_COMM_WORLD_RANK", "1", 1);
	setenv("OMPI_COMM_WORLD_SIZE", "2", 1);
	cr_assert_eq(dataset_rank_resolve(-1, 0, &r, &err), 0, "%s", err.msg);
	cr_expect(r.rank == 1 && r.ranks == 2 && !strcmp(r.from, "OMPI_COMM_WORLD_RANK"));
	/* Explicit values that contradict the environment are refused, agreeing ones pass. */
	cr_expect_neq(dataset_rank_resolve(0, 2, &r, &err), 0, "--rank 0 under rank 1 accepted");
	cr_expect(strstr(err.msg, "OMPI_COMM_WORLD_RANK") != NULL, "%s", err.msg);
	cr_expect_neq(dataset_rank_resolve(1, 3, &r, &err), 0, "--ranks 3 under size 2 accepted");
	cr_expect_eq(dataset_rank_resolve(1, 2, &r, &err), 0, "%s", err.msg);
	setenv("OMPI_COMM_WORLD_SIZE", "x", 1);
	cr_expect_neq(dataset_rank_resolve(-1, 0, &r, &err), 0, "a size of 'x' was accepted");
}

Test(cluster, owner_is_a_fixed_hash_of_the_cell)
{
	int count[4] = {0};
	for (int x = 0; x < 40; x++)
		for (int y = 0; y < 40; y++) {
			double e = 190000 + 100.0 * x + 37, n = 550000 + 100.0 * y + 61;
			int o = dataset_rank_owner(e, n, 100, 4);
			cr_assert(o >= 0 && o < 4);
			/* Every point of a cell has the cell's owner. */
			cr_assert_eq(dataset_rank_owner(e + 50, n - 60, 100, 4), o);
			count[o]++;
		}
	/* 1600 cells over 4 ranks: each gets a fair share (binomial sd 17). */
	for (int r = 0; r < 4; r++)
		cr_expect(count[r] > 300 && count[r] < 500, "rank %d owns %d of 1600 cells", r,
			  count[r]);
	cr_expect_eq(dataset_rank_owner(1e5, 1e5, 100, 1), 0);
	/* Pinned: a change of the hash would re-deal a half-finished run's cells. */
	cr_expect_eq(dataset_rank_owner(197950, 552450, 100, 4),
		     dataset_rank_owner(197999, 552499, 100, 4));
}

/* The deal of cells: clips along a route (cells of 1-3 clips) cut into contiguous runs of
 * about equal frames, the same from the clips in any order, through JSON and back; a cell
 * without clips falls back to the hash. */
Test(cluster, cells_are_dealt_in_contiguous_runs_of_equal_work)
{
	enum { NC = 60 };
	dataset_clip_info c[NC];
	uint64_t total = 0;
	for (int i = 0; i < NC; i++) {
		/* a road north, clips of 9 frames starting every ~50 m: 1-3 per 100 m cell */
		double n = 550000 + 47.0 * i + (i % 7) * 3.0;
		c[i] = (dataset_clip_info){.ordinal = (size_t)i, .frames = 9 + (i % 3)};
		c[i].proj_first[0] = 198010 + (i % 2);
		c[i].proj_first[1] = n;
		total += (uint64_t)c[i].frames;
	}
	svt_err err = {0};
	for (int ranks = 1; ranks <= 5; ranks++) {
		dataset_cells *d = NULL, *d2 = NULL, *d3 = NULL;
		cr_assert_eq(dataset_cells_deal(c, NC, 100, ranks, &d, &err), 0, "%s", err.msg);
		/* Work: every rank within one cell's weight (at most 3 clips of 11 frames) of
		 * its share; the shares add up. */
		uint64_t sum = 0;
		for (int r = 0; r < ranks; r++) {
			uint64_t mine, tot;
			dataset_cells_load(d, r, &mine, &tot);
			cr_assert_eq(tot, total);
			double share = (double)total / ranks;
			cr_expect(fabs((double)mine - share) <= 33, "%d ranks: rank %d has %llu frames, "
				  "a share is %.1f", ranks, r, (unsigned long long)mine, share);
			sum += mine;
		}
		cr_assert_eq(sum, total);
		/* Contiguous along the road: the owner never goes back. */
		int last = 0;
		for (int i = 0; i < NC; i++) {
			int o = dataset_cells_owner(d, c[i].proj_first[0], c[i].proj_first[1]);
			cr_assert(o >= last && o < ranks, "clip %d: rank %d after %d", i, o, last);
			last = o;
		}
		cr_expect_eq(last, ranks - 1, "the last rank got nothing");
		/* The clips in another order deal the same (every rank sees one list). */
		dataset_clip_info rev[NC];
		for (int i = 0; i < NC; i++)
			rev[i] = c[NC - 1 - i];
		cr_assert_eq(dataset_cells_deal(rev, NC, 100, ranks, &d2, &err), 0, "%s", err.msg);
		char *j1 = NULL, *j2 = NULL;
		cr_assert_eq(dataset_cells_to_json(d, &j1, &err), 0, "%s", err.msg);
		cr_assert_eq(dataset_cells_to_json(d2, &j2, &err), 0, "%s", err.msg);
		cr_expect_str_eq(j1, j2);
		cr_assert_eq(dataset_cells_from_json(j1, &d3, &err), 0, "%s", err.msg);
		for (int i = 0; i < NC; i++)
			cr_assert_eq(dataset_cells_owner(d3, c[i].proj_first[0], c[i].proj_first[1]),
				     dataset_cells_owner(d, c[i].proj_first[0], c[i].proj_first[1]));
		/* A cell with no clip: the hash's owner. */
		cr_expect_eq(dataset_cells_owner(d, 100050, 200050),
			     dataset_rank_owner(100050, 200050, 100, ranks));
		free(j1);
		free(j2);
		dataset_cells_destroy(d);
		dataset_cells_destroy(d2);
		dataset_cells_destroy(d3);
	}
	dataset_cells *bad = NULL;
	cr_expect_neq(dataset_cells_from_json("{\"cell_m\":100,\"ranks\":2,\"cells\":[[0,0,5,9]]}",
					      &bad, &err), 0, "a rank outside 0..1 was read");
	cr_expect_null(bad);
	dataset_cells_destroy(NULL);
}

static void small(dataset_opts *o, const char *cap, const char *out)
{
	dataset_opts_default(o);
	o->capture = cap;
	o->out = out;
	o->clip_frames = 9;
	o->width = 64;
	o->height = 32;
	o->threads = 1;
	o->cpu_only = 1;
	o->split_buffer_m = 0;
}

/* Two of four ranks done: the merge fails naming 1 and 3 as an --array list; another
 * configuration or rank count in the same OUT is refused. */
Test(cluster, merge_names_missing_ranks_and_the_record_refuses_others, .timeout = 300)
{
	const char *cap = samples();
	char out[300];
	snprintf(out, sizeof(out), "%s/out", dir);
	dataset_opts o;
	small(&o, cap, out);
	svt_err err = {0};
	for (int r = 0; r < 4; r += 2) {
		dataset_rank rk = {.rank = r, .ranks = 4};
		cr_assert_eq(dataset_rank_run(&o, &rk, 0, NULL, NULL, &err), 0, "%s", err.msg);
	}
	dataset_merge_report rep;
	cr_expect_eq(dataset_merge(out, &rep, &err), SVT_E_NOTFOUND, "%s", err.msg);
	cr_expect_str_eq(rep.missing, "1,3");
	cr_expect(strstr(err.msg, "--array=1,3") != NULL, "%s", err.msg);
	char p[400];
	snprintf(p, sizeof(p), "%s/manifest.json", out);
	cr_expect_neq(access(p, F_OK), 0, "a failed merge wrote %s", p);

	dataset_rank r3 = {.rank = 1, .ranks = 3};
	cr_expect_neq(dataset_rank_run(&o, &r3, 0, NULL, NULL, &err), 0, "3 ranks accepted");
	cr_expect(strstr(err.msg, "ranks") != NULL, "%s", err.msg);
	dataset_opts o2 = o;
	o2.width = 96;
	dataset_rank r1 = {.rank = 1, .ranks = 4};
	cr_expect_neq(dataset_rank_run(&o2, &r1, 0, NULL, NULL, &err), 0, "another size accepted");
	cr_expect(strstr(err.msg, "size") != NULL, "%s", err.msg);

	/* The rest: then it merges, every clip once, and verifies. */
	for (int r = 1; r < 4; r += 2) {
		dataset_rank rk = {.rank = r, .ranks = 4};
		cr_assert_eq(dataset_rank_run(&o, &rk, 0, NULL, NULL, &err), 0, "%s", err.msg);
	}
	cr_assert_eq(dataset_merge(out, &rep, &err), 0, "%s", err.msg);
	cr_expect_eq(rep.n_missing, 0);
	FILE *devnull = fopen("/dev/null", "w");
	cr_expect_eq(fmt_dataset_verify(out, devnull, &err), 0, "%s", err.msg);
	fclose(devnull);

	/* The one-rank build: the same clip count. */
	char one[300];
	snprintf(one, sizeof(one), "%s/one", dir);
	dataset_opts o1;
	small(&o1, cap, one);
	dataset_job *j = NULL;
	cr_assert_eq(dataset_job_create(&o1, &j, &err), 0, "%s", err.msg);
	cr_assert_eq(dataset_job_run(j, NULL, &err), 0, "%s", err.msg);
	dataset_stats st;
	dataset_job_stats(j, &st);
	dataset_job_destroy(j);
	cr_expect_eq(rep.clips, st.clips_written, "merged %zu clips, one rank %zu", rep.clips,
		     st.clips_written);
}

/* The same clips in two parts (two whole builds): the merge refuses, naming both. */
Test(cluster, a_clip_in_two_parts_is_refused, .timeout = 300)
{
	const char *cap = samples();
	svt_err err = {0};
	for (int p = 0; p < 2; p++) {
		char out[300];
		snprintf(out, sizeof(out), "%s/m/rank-%d", dir, p);
		dataset_opts o;
		small(&o, cap, out);
		dataset_job *j = NULL;
		cr_assert_eq(dataset_job_create(&o, &j, &err), 0, "%s", err.msg);
		cr_assert_eq(dataset_job_run(j, NULL, &err), 0, "%s", err.msg);
		dataset_job_destroy(j);
	}
	char m[300];
	snprintf(m, sizeof(m), "%s/m", dir);
	const char *parts[] = {"rank-0", "rank-1"};
	fmt_merge_result res;
	cr_expect_eq(fmt_dataset_merge(m, parts, 2, NULL, &res, &err), SVT_E_INPUT);
	cr_expect(strstr(err.msg, "appears twice") && strstr(err.msg, "rank-0") &&
		  strstr(err.msg, "rank-1"), "%s", err.msg);
	fmt_merge_result_free(&res);
}
