/* cmd_verify.c: `svtwin verify DIR`: checks a dataset directory against its schema, checksums,
 * counts and manifest. Exit status 0 when all is well, 1 when anything is wrong. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "formats/formats.h"

int cmd_verify(int argc, char **argv)
{
	if (argc != 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		int help = argc == 2;
		fprintf(help ? stdout : stderr,
			"usage: svtwin verify DIR\n"
			"Checks every shard listed in DIR/manifest.json: size and sha256 against the\n"
			"manifest, schema and root attributes, every frame chunk decoded through the\n"
			"HDF5 filters (Fletcher32 checked), clip and frame counts against /index, the\n"
			"manifest and the masks, the master file's links, and reports leftover .tmp\n"
			"files or shards the manifest does not list. Exit status 0 = valid, 1 = not.\n");
		return help ? 0 : 2;
	}
	svt_err err = {0};
	if (fmt_dataset_verify(argv[1], stdout, &err))
		return cli_fail("verify", &err);
	return 0;
}
