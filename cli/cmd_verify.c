/* cmd_verify.c: `svtwin verify` (placeholder until its module lands). */
#include <stdio.h>

#include "cli/cli.h"

int cmd_verify(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "svtwin verify: not implemented yet\n");
	return 1;
}
