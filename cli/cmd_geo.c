/* cmd_geo.c: `svtwin geo` (placeholder until its module lands). */
#include <stdio.h>

#include "cli/cli.h"

int cmd_geo(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "svtwin geo: not implemented yet\n");
	return 1;
}
