/* cmd_query.c: `svtwin query` (placeholder until its module lands). */
#include <stdio.h>

#include "cli/cli.h"

int cmd_query(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "svtwin query: not implemented yet\n");
	return 1;
}
