/* cmd_probe.c: `svtwin probe` (placeholder until its module lands). */
#include <stdio.h>

#include "cli/cli.h"

int cmd_probe(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "svtwin probe: not implemented yet\n");
	return 1;
}
