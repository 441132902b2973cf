/* cmd_twin.c: `svtwin twin migrate DIR`: a twin store of the JSON layout (version 1) into the
 * GeoPackage layout, in place (twin_store_migrate). */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "twin/twin.h"

int cmd_twin(int argc, char **argv)
{
	if (argc != 3 || strcmp(argv[1], "migrate") != 0) {
		fprintf(argc == 2 && !strcmp(argv[1], "--help") ? stdout : stderr,
			"usage: svtwin twin migrate DIR\n"
			"  migrates a twin store of the JSON layout (twin.json, frames/, tiles/) into\n"
			"  DIR/twin.gpkg (GeoPackage) and DIR/points/*.las; the old files stay.\n");
		return argc == 2 && !strcmp(argv[1], "--help") ? 0 : 2;
	}
	svt_err err = {0};
	size_t n = 0;
	if (twin_store_migrate(argv[2], &n, &err))
		return cli_fail("twin migrate", &err);
	fprintf(stderr, "svtwin twin migrate: %zu frames -> %s/twin.gpkg\n", n, argv[2]);
	return 0;
}
