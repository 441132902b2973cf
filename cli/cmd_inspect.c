/* cmd_inspect.c: `svtwin inspect SHARD...`: what a shard (or master file) holds, for people. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "formats/formats.h"

int cmd_inspect(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		fprintf(argc < 2 ? stderr : stdout,
			"usage: svtwin inspect SHARD.h5 [SHARD.h5...]\n"
			"Prints the schema, the root attributes and each clip (frames shape, codec,\n"
			"fps, split, first and last camera position) of svtwin shards or master.h5.\n");
		return argc < 2 ? 2 : 0;
	}
	int rc = 0;
	for (int i = 1; i < argc; i++) {
		svt_err err = {0};
		if (fmt_shard_inspect(argv[i], stdout, &err))
			rc = cli_fail("inspect", &err);
	}
	return rc;
}
