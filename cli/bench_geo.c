/* bench_geo.c: `svtwin bench geo` (placeholder until its module lands). */
#include <stdio.h>

int bench_geo(int argc, char **argv);

int bench_geo(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "svtwin bench geo: not implemented yet\n");
	return 1;
}
