/* cmd_build.c: `svtwin build` (placeholder until its module lands). */
#include <stdio.h>

#include "cli/cli.h"

int cmd_build(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "svtwin build: not implemented yet\n");
	return 1;
}
