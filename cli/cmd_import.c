/* cmd_import.c: changing a built dataset in place: `svtwin captions import DIR FILE.jsonl`
 * (captions by a vision-language model) and `svtwin densify import DIR VIDEO...` (the frames a
 * learned interpolator made for freeze-layout clips). */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "dataset/dataset.h"

int cmd_captions(int argc, char **argv)
{
	if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		printf("usage: svtwin captions import DIR FILE.jsonl\n"
		       "  FILE.jsonl: one window per line, {\"clip_id\": ID, \"start\": FIRST, \"end\": "
		       "LAST,\n"
		       "  \"long\": TEXT, \"short\": TEXT} (frames inclusive; <= 280 and <= 30 words).\n"
		       "  The camera action of each window (from the clip's poses) is prepended as a\n"
		       "  sentence; the clips' captions are replaced in place, atomically.\n");
		return 0;
	}
	if (argc != 4 || strcmp(argv[1], "import")) {
		fprintf(stderr, "usage: svtwin captions import DIR FILE.jsonl\n");
		return 2;
	}
	svt_err err = {0};
	size_t n = 0;
	if (dataset_captions_import(argv[2], argv[3], &n, &err))
		return cli_fail("captions import", &err);
	fprintf(stderr, "svtwin captions import: %zu windows stored in %s\n", n, argv[2]);
	return 0;
}

int cmd_densify(int argc, char **argv)
{
	if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		printf("usage: svtwin densify import DIR VIDEO...\n"
		       "  VIDEO: CLIP_ID.mp4 (any container FFmpeg reads), the clip's frames as a\n"
		       "  learned interpolator filled them, for a clip built with --densify freeze.\n"
		       "  Slot frames become the clip's frames, keyframes keep their views, repeats\n"
		       "  are dropped; shards, manifest and master are replaced atomically.\n");
		return 0;
	}
	if (argc < 4 || strcmp(argv[1], "import")) {
		fprintf(stderr, "usage: svtwin densify import DIR VIDEO...\n");
		return 2;
	}
	svt_err err = {0};
	size_t frames = 0;
	if (dataset_densify_import(argv[2], (const char *const *)argv + 3, (size_t)(argc - 3),
				   &frames, &err))
		return cli_fail("densify import", &err);
	fprintf(stderr, "svtwin densify import: %d clips, %zu frames stored in %s\n", argc - 3,
		frames, argv[2]);
	return 0;
}
