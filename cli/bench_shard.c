/* bench_shard.c: `svtwin bench shard` (placeholder until its module lands). */
#include <stdio.h>

int bench_shard(int argc, char **argv);

int bench_shard(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "svtwin bench shard: not implemented yet\n");
	return 1;
}
