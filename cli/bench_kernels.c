/* bench_kernels.c: `svtwin bench kernels` (placeholder until its module lands). */
#include <stdio.h>

int bench_kernels(int argc, char **argv);

int bench_kernels(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "svtwin bench kernels: not implemented yet\n");
	return 1;
}
