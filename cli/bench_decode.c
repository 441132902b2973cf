/* bench_decode.c: `svtwin bench decode` (placeholder until its module lands). */
#include <stdio.h>

int bench_decode(int argc, char **argv);

int bench_decode(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "svtwin bench decode: not implemented yet\n");
	return 1;
}
