/* cmd_probe.c: `svtwin probe FILE|DIR...`: one JSON line per frame with what ingest read, or
 * why it rejected the frame (format: docs/ingest.md). The first thing to run on a new capture.
 *
 * Exit status: 0 when every path could be scanned, even if frames were rejected (a rejection
 * is a finding, not a failure of the command); 1 when a path could not be scanned at all
 * (missing, unreadable directory, bad track); 2 on a usage error. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "ingest/ingest.h"

static void probe_usage(FILE *f)
{
	fprintf(f,
		"usage: svtwin probe [options] FILE|DIR...\n"
		"  --track FILE        geotag from a GPX/NMEA/CSV track\n"
		"  --track-offset S    seconds added to image times before matching the track\n"
		"  --no-verify         header checks only (no decode check at all)\n"
		"  --verify-all        decode-check every file (default: only files with no end marker)\n"
		"  --keep-warnings     keep frames that decode with warnings (corrupt data)\n"
		"  --summary           also print a human summary on stderr\n"
		"Prints one JSON line per frame on stdout. Directories are scanned recursively;\n"
		"frames of one directory are checked together (duplicates, speed, sequences).\n");
}

int cmd_probe(int argc, char **argv)
{
	ingest_scan_opts so;
	ingest_scan_opts_default(&so);
	int summary = 0, i = 1;
	/* Options may follow the paths: options (and their values) first, paths after, in
	 * their orders ("--" ends the options). */
	char **args = malloc((size_t)(argc > 0 ? argc : 1) * sizeof(char *));
	if (!args) {
		fprintf(stderr, "svtwin probe: no memory\n");
		return 1;
	}
	int na = 0, np = 0, dd = 0;
	args[na++] = argv[0];
	for (int k = 1; k < argc; k++)
		if (!dd && !strcmp(argv[k], "--"))
			dd = 1;
		else if (!dd && argv[k][0] == '-' && argv[k][1]) {
			args[na++] = argv[k];
			if ((!strcmp(argv[k], "--track") || !strcmp(argv[k], "--track-offset")) &&
			    k + 1 < argc)
				args[na++] = argv[++k];
		}
	int nopt = na;
	dd = 0;
	for (int k = 1; k < argc; k++)
		if (!dd && !strcmp(argv[k], "--"))
			dd = 1;
		else if (!dd && argv[k][0] == '-' && argv[k][1]) {
			if ((!strcmp(argv[k], "--track") || !strcmp(argv[k], "--track-offset")) &&
			    k + 1 < argc)
				k++;
		} else
			args[nopt + np++] = argv[k];
	memcpy(argv, args, (size_t)argc * sizeof(char *));
	free(args);
	int last_opt = nopt;
	for (; i < last_opt; i++) {
		if (!strcmp(argv[i], "--track") && i + 1 < argc) {
			so.track_path = argv[++i];
		} else if (!strcmp(argv[i], "--track-offset") && i + 1 < argc) {
			char *e;
			so.track_offset_s = strtod(argv[++i], &e);
			if (*e) {
				fprintf(stderr, "svtwin probe: bad --track-offset %s\n", argv[i]);
				return 2;
			}
		} else if (!strcmp(argv[i], "--no-verify")) {
			so.verify_decode = 0;
		} else if (!strcmp(argv[i], "--verify-all")) {
			so.verify_decode = 2;
		} else if (!strcmp(argv[i], "--keep-warnings")) {
			so.reject_warnings = 0;
		} else if (!strcmp(argv[i], "--summary")) {
			summary = 1;
		} else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			probe_usage(stdout);
			return 0;
		} else {
			fprintf(stderr, "svtwin probe: unknown option %s\n", argv[i]);
			probe_usage(stderr);
			return 2;
		}
	}
	if (i >= argc) {
		probe_usage(stderr);
		return 2;
	}
	int status = 0;
	size_t total = 0, kept = 0, rej[INGEST_REASON_COUNT] = {0};
	for (; i < argc; i++) {
		svt_err err = {0};
		ingest_capture *c = NULL;
		if (ingest_capture_scan(argv[i], &so, &c, &err)) {
			cli_fail("probe", &err);
			status = 1;
			continue;
		}
		for (size_t k = 0; k < c->n; k++) {
			char *line = NULL;
			if (ingest_frame_to_json(&c->frames[k], &line, &err)) {
				cli_fail("probe", &err);
				status = 1;
				continue;
			}
			puts(line);
			free(line);
		}
		total += c->n;
		kept += c->n_kept;
		for (int r = 0; r < INGEST_REASON_COUNT; r++)
			rej[r] += c->n_rejected[r];
		ingest_capture_destroy(c);
	}
	fflush(stdout);
	if (summary) {
		fprintf(stderr, "probe: %zu frames, %zu kept, %zu rejected", total, kept, total - kept);
		const char *sep = " (";
		for (int r = 1; r < INGEST_REASON_COUNT; r++)
			if (rej[r]) {
				fprintf(stderr, "%s%s %zu", sep, ingest_reason_name((ingest_reason)r), rej[r]);
				sep = ", ";
			}
		fprintf(stderr, "%s\n", total - kept ? ")" : "");
	}
	return status;
}
