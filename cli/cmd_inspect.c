/* cmd_inspect.c: `svtwin inspect` (placeholder until its module lands). */
#include <stdio.h>

#include "cli/cli.h"

int cmd_inspect(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "svtwin inspect: not implemented yet\n");
	return 1;
}
