/* cmd_bench.c: `svtwin bench PART`: each part measures svtwin and its peer (tjbench, pyproj,
 * cv2.remap, h5py) in the same run and prints the ratio; absolute figures alone mean little on
 * shared machines. The parts live in bench/bench_<part>.c (bench/bench.h). */
#include <stdio.h>
#include <string.h>

#include "bench/bench.h"
#include "cli/cli.h"

static const struct {
	const char *name;
	int (*fn)(int, char **);
} parts[] = {
	{"decode", bench_decode},
	{"geo", bench_geo},
	{"kernels", bench_kernels},
	{"shard", bench_shard},
	{"twin", bench_twin},
};

int cmd_bench(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "--help")) {
		fprintf(argc < 2 ? stderr : stdout,
			"usage: svtwin bench decode|geo|kernels|shard|twin|all [OPTIONS]\n");
		return argc < 2 ? 2 : 0;
	}
	int all = !strcmp(argv[1], "all"), rc = 0, found = 0;
	for (size_t i = 0; i < SVT_ARRAY_LEN(parts); i++) {
		if (all || !strcmp(argv[1], parts[i].name)) {
			found = 1;
			if (parts[i].fn(argc - 1, argv + 1) != 0)
				rc = 1;
		}
	}
	if (!found) {
		fprintf(stderr, "svtwin bench: unknown part '%s'\n", argv[1]);
		return 2;
	}
	return rc;
}
