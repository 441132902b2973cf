/* cmd_verify.c: `svtwin verify DIR`: checks a dataset directory against its schema, checksums,
 * counts and manifest. Exit status 0 when all is well, 1 when anything is wrong. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "formats/formats.h"
#include "twin/twin.h"

/* The geographic split must not leak: no frame of one split within the recorded buffer of a
 * frame of another (twin_splits_check_llh). Prints what it finds; returns 1 on a leak. */
static int verify_splits(const char *dir, svt_err *err)
{
	char path[4096];
	if (svt_path_join(path, sizeof(path), dir, "master.h5", err))
		return -1;
	fmt_reader *r = NULL;
	if (fmt_reader_open(path, &r, err))
		return -1;
	fmt_shard_info info;
	int rc = fmt_reader_info(r, &info, err) ? -1 : 0;
	size_t nclips = fmt_reader_clip_count(r), n = 0, cap = 0;
	double *lat = NULL, *lon = NULL;
	int *split = NULL;
	for (size_t c = 0; !rc && c < nclips; c++) {
		fmt_clip_data cd;
		if (fmt_reader_clip(r, c, &cd, err)) {
			rc = -1;
			break;
		}
		int s = twin_split_from_name(cd.split);
		if (n + (size_t)cd.T > cap) {
			cap = 2 * (n + (size_t)cd.T);
			double *a = realloc(lat, cap * sizeof(double)), *b = realloc(lon, cap * sizeof(double));
			int *q = realloc(split, cap * sizeof(int));
			lat = a ? a : lat;
			lon = b ? b : lon;
			split = q ? q : split;
			if (!a || !b || !q) {
				fmt_clip_data_free(&cd);
				rc = svt_err_set(err, SVT_E_NOMEM, "no memory for %zu frames", cap);
				break;
			}
		}
		for (int t = 0; t < cd.T; t++) {
			lat[n] = cd.llh[3 * t];
			lon[n] = cd.llh[3 * t + 1];
			split[n++] = s;
		}
		fmt_clip_data_free(&cd);
	}
	if (!rc && info.split_buffer_m > 0) {
		size_t nv = 0;
		twin_split_violation v[5];
		if (twin_splits_check_llh(lat, lon, split, n, info.split_buffer_m, &nv, v, 5, err)) {
			rc = -1;
		} else if (nv) {
			printf("FAIL splits: %zu pairs of frames of different splits closer than the "
			       "%.1f m buffer\n", nv, info.split_buffer_m);
			for (size_t i = 0; i < nv && i < 5; i++)
				printf("     frame %zu (%s) and %zu (%s): %.2f m\n", v[i].a,
				       twin_split_name(split[v[i].a]), v[i].b,
				       twin_split_name(split[v[i].b]), v[i].dist_m);
			rc = 1;
		} else {
			printf("ok   splits: %zu frames, no two splits closer than %.1f m\n", n,
			       info.split_buffer_m);
		}
	} else if (!rc) {
		printf("note splits: no split buffer recorded, leak check skipped\n");
	}
	free(lat);
	free(lon);
	free(split);
	fmt_reader_close(r);
	return rc;
}

int cmd_verify(int argc, char **argv)
{
	if (argc != 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		int help = argc == 2;
		fprintf(help ? stdout : stderr,
			"usage: svtwin verify DIR\n"
			"Checks every shard listed in DIR/manifest.json: size and sha256 against the\n"
			"manifest, schema and root attributes, every frame chunk decoded through the\n"
			"HDF5 filters (Fletcher32 checked), clip and frame counts against /index, the\n"
			"manifest and the masks, the master file's links, and reports leftover .tmp\n"
			"files or shards the manifest does not list, and that no frame of one split lies\n"
			"within the recorded split buffer of another. Exit status 0 = valid, 1 = not.\n");
		return help ? 0 : 2;
	}
	svt_err err = {0};
	if (fmt_dataset_verify(argv[1], stdout, &err))
		return cli_fail("verify", &err);
	int rc = verify_splits(argv[1], &err);
	if (rc < 0)
		return cli_fail("verify", &err);
	return rc;
}
