/* cmd_export.c: `svtwin export cosmos DATASET -o DIR --layout predict|transfer|gen3c`: the
 * folders Cosmos's post-training loaders read (export/export.h, docs/export.md). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "export/export.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: svtwin export cosmos DATASET -o DIR --layout predict|transfer|gen3c [options]\n"
		"  DATASET            a directory written by `svtwin build` (verified first)\n"
		"  -o, --out DIR      output root; each split goes to DIR/<split>/ unless --split\n"
		"  --layout L         predict: videos/ + metas/ (clips >= 94 frames)\n"
		"                     transfer: videos/ + captions/ + depth/ (>= 93 frames, 10-60 fps,\n"
		"                     >= 3 s)\n"
		"                     gen3c: <clip>/rgb.mp4, depth.npz, mask.npz, camera.npz\n"
		"  --split S          export only split S (train, val, test), into DIR itself\n"
		"  --crf N            H.264 quality, 0-51 (default 18; nvenc: -cq N)\n"
		"  --encoder E        libx264 (default), h264_nvenc, or auto (nvenc when it opens)\n"
		"  --preset P         encoder preset (default: the encoder's, x264 medium)\n"
		"  --threads N        encoder threads (default: every core)\n"
		"  --force            rewrite clips already complete (default: a rerun skips them)\n"
		"  --no-verify        skip `svtwin verify` of the dataset\n");
}

int cmd_export(int argc, char **argv)
{
	export_opts o;
	export_opts_default(&o);
	const char *out = NULL, *layout = NULL;
	enum { O_LAYOUT = 256, O_SPLIT, O_CRF, O_ENC, O_PRESET, O_THREADS, O_FORCE, O_NOVERIFY };
	static const struct option lo[] = {
		{"out", required_argument, 0, 'o'},
		{"layout", required_argument, 0, O_LAYOUT},
		{"split", required_argument, 0, O_SPLIT},
		{"crf", required_argument, 0, O_CRF},
		{"encoder", required_argument, 0, O_ENC},
		{"preset", required_argument, 0, O_PRESET},
		{"threads", required_argument, 0, O_THREADS},
		{"force", no_argument, 0, O_FORCE},
		{"no-verify", no_argument, 0, O_NOVERIFY},
		{"help", no_argument, 0, 'h'},
		{0, 0, 0, 0},
	};
	int c;
	svt_err err = {0};
	long long iv;
	optind = 1;
	while ((c = getopt_long(argc, argv, "o:h", lo, NULL)) != -1) {
		switch (c) {
		case 'o': out = optarg; break;
		case O_LAYOUT: layout = optarg; break;
		case O_SPLIT: o.split = optarg; break;
		case O_CRF:
			if (svt_parse_int("--crf", optarg, 0, 51, &iv, &err))
				return fprintf(stderr, "svtwin export: %s\n", err.msg), 2;
			o.crf = (int)iv;
			break;
		case O_ENC: o.encoder = optarg; break;
		case O_PRESET: o.preset = optarg; break;
		case O_THREADS:
			if (svt_parse_int("--threads", optarg, 0, 1024, &iv, &err))
				return fprintf(stderr, "svtwin export: %s\n", err.msg), 2;
			o.threads = (int)iv;
			break;
		case O_FORCE: o.force = 1; break;
		case O_NOVERIFY: o.verify = 0; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind + 2 != argc || strcmp(argv[optind], "cosmos") || !out || !layout) {
		usage(stderr);
		return 2;
	}
	if (export_layout_parse(layout, &o.layout, &err))
		return fprintf(stderr, "svtwin export: %s\n", err.msg), 2;
	export_report rep;
	if (export_cosmos_run(argv[optind + 1], out, &o, &rep, stderr, &err))
		return cli_fail("export", &err);
	double fps = rep.seconds > 0 ? rep.frames / rep.seconds : 0;
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	printf("export %s: %zu clips written, %zu already complete, %zu refused, %zu failed; "
	       "%zu frames encoded (%s) in %.2f s = %.1f frames/s (%.1f per core)\n",
	       export_layout_name(o.layout), rep.written, rep.skipped, rep.refused, rep.failed,
	       rep.frames, export_video_encoder(&o), rep.seconds, fps,
	       cores > 0 ? fps / (double)cores : fps);
	if (rep.failed)
		return 1;
	if (!rep.written && !rep.skipped && rep.refused) {
		fprintf(stderr, "svtwin export: every clip was refused (reasons above)\n");
		return 1;
	}
	return 0;
}
