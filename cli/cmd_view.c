/* cmd_view.c: `svtwin view` (placeholder until its module lands). */
#include <stdio.h>

#include "cli/cli.h"

int cmd_view(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "svtwin view: not implemented yet\n");
	return 1;
}
