/* main.c: the svtwin program: dispatches to one subcommand per file (cli/cmd_*.c). */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

static const struct {
	const char *name;
	int (*fn)(int, char **);
	const char *summary;
} commands[] = {
	{"build", cmd_build, "CAPTURE -o OUT: ingest, georeference, cut views, write shards"},
	{"probe", cmd_probe, "FILE|DIR...: one JSON line per frame with what ingest read"},
	{"geo", cmd_geo, "--to EPSG:N [--inverse] [--enu LAT,LON,H]: transform stdin points"},
	{"view", cmd_view, "PANO --yaw Y --pitch P --fov F --size WxH -o OUT.png: cut one view"},
	{"inspect", cmd_inspect, "SHARD: print what a shard holds"},
	{"merge", cmd_merge, "OUT: a cluster build's ranks into one dataset (docs/cluster.md)"},
	{"verify", cmd_verify, "DIR: check shards, checksums, counts and the manifest"},
	{"query", cmd_query, "TWIN --near LAT,LON --radius M | --district NAME: find frames"},
	{"twin", cmd_twin, "migrate DIR: a JSON-layout twin store into the GeoPackage layout"},
	{"export", cmd_export, "cosmos DATASET -o DIR --layout L: Cosmos post-training folders"},
	{"bench", cmd_bench, "decode|geo|kernels|shard|twin|all: benchmarks with ratios to peers"},
	{"captions", cmd_captions, "import DIR FILE.jsonl: VLM captions into the shards"},
	{"densify", cmd_densify, "import DIR VIDEO...: interpolated freeze clips into the shards"},
};

static void usage(FILE *f)
{
	fprintf(f, "svtwin %s: street-view captures -> georeferenced twin -> HDF5 shards\n\n"
		   "usage: svtwin [-q|-v] COMMAND [ARGS]\n\ncommands:\n", SVT_VERSION);
	for (size_t i = 0; i < SVT_ARRAY_LEN(commands); i++)
		fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\n`svtwin COMMAND --help` describes a command's options.\n");
}

int cli_fail(const char *cmd, const svt_err *err)
{
	fprintf(stderr, "svtwin %s: %s (%s)\n", cmd, err && err->msg[0] ? err->msg : "failed",
		svt_status_name(err ? err->code : SVT_E_INPUT));
	return 1;
}

int main(int argc, char **argv)
{
	int i = 1;
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "-q")) {
			svt_log_set_level(0);
		} else if (!strcmp(argv[i], "-v")) {
			svt_log_set_level(2);
		} else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(argv[i], "--version")) {
			printf("svtwin %s\n", SVT_VERSION);
			return 0;
		} else {
			fprintf(stderr, "svtwin: unknown option %s\n", argv[i]);
			return 2;
		}
	}
	if (i >= argc) {
		usage(stderr);
		return 2;
	}
	for (size_t c = 0; c < SVT_ARRAY_LEN(commands); c++)
		if (!strcmp(argv[i], commands[c].name))
			return commands[c].fn(argc - i, argv + i);
	fprintf(stderr, "svtwin: unknown command '%s'\n\n", argv[i]);
	usage(stderr);
	return 2;
}
