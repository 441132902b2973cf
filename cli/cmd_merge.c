/* cmd_merge.c: `svtwin merge OUT`: a cluster build's ranks made one dataset (dataset_merge);
 * the job that runs after the array (sbatch --dependency=afterok). Exit 0 when merged, 1 on a
 * failure, 3 when ranks are missing (their --array list is printed on stdout as
 * `missing --array=LIST`, for a script to resubmit). */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "dataset/dataset.h"

int cmd_merge(int argc, char **argv)
{
	if (argc != 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		fprintf(argc == 2 ? stdout : stderr,
			"usage: svtwin merge OUT\n"
			"  OUT   the output directory of a cluster build (`svtwin build --cluster`):\n"
			"        checks every rank's done marker, then writes OUT/manifest.json,\n"
			"        OUT/master.h5 and the twin (OUT/twin, or the build's --twin: the\n"
			"        ranks' parts folded into it under its lock); prints the ranks to\n"
			"        resubmit when some are missing (exit 3)\n");
		return argc == 2 ? 0 : 2;
	}
	svt_err err = {0};
	dataset_merge_report rep;
	int rc = dataset_merge(argv[1], &rep, &err);
	if (rc == SVT_E_NOTFOUND && rep.n_missing) {
		printf("missing --array=%s\n", rep.missing);
		cli_fail("merge", &err);
		return 3;
	}
	if (rc)
		return cli_fail("merge", &err);
	if (svt_log_level() >= 1)
		fprintf(stderr, "svtwin merge: %d ranks, %zu clips, %llu frames into %s; %zu "
				"tiles and %zu shard records into the twin %s; in %.2f s (the twin "
				"%.2f s)\n", rep.ranks, rep.clips, (unsigned long long)rep.frames,
			argv[1], rep.tiles, rep.shards, rep.twin, rep.seconds, rep.seconds_twin);
	return 0;
}
