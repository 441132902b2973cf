/* cmd_build.c: `svtwin build CAPTURE -o OUT [options]`: parses options into the main job
 * (dataset/dataset.h), runs it and prints its progress and summary. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "dataset/dataset.h"
#include "ingest/ingest.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: svtwin build CAPTURE -o OUT [options]\n"
		"  CAPTURE            directory of panoramas or photos (JPEG/PNG, searched\n"
		"                     recursively), a kapture folder, or a file\n"
		"  -o, --out DIR      output directory: shards, manifest.json, rejects.jsonl\n"
		"  --crs EPSG:N       projected CRS for the proj coordinates (default: EPSG:5186 when\n"
		"                     the capture's centre is inside its area of use, else the UTM\n"
		"                     zone there); frames the CRS does not cover are rejected\n"
		"                     (outside_crs); geographic CRSs are refused\n"
		"  --clip-frames N    frames per clip, 1+8k for Cosmos (default 57; 121 also fits)\n"
		"  --stride N         frames between clip starts (default = clip frames: no overlap)\n"
		"  --size WxH         view size (default 1280x704; 768x432 is the 480-class bin)\n"
		"  --fov DEG          horizontal field of view of the views cut from panoramas\n"
		"                     (default 90; a perspective photo keeps its own, fitted to --size)\n"
		"  --panorama         every frame is a 360 equirectangular panorama, whatever its\n"
		"                     metadata says\n"
		"  --photo-fov DEG    horizontal field of view of perspective photos whose camera\n"
		"                     nothing else gives (default: such frames are rejected, no_camera)\n"
		"  --tz +HH:MM        time zone of capture times that carry none (default +09:00,\n"
		"                     Korea; UTC or Z for UTC)\n"
		"  --view travel|pano the view looks along the direction of travel (default) or at\n"
		"                     the panorama's centre\n"
		"  --codec C[:L]      none, gzip, lz4, zstd, blosc (default: lz4 if its plugin is\n"
		"                     installed, else gzip), or jpeg[:quality]: each frame as JPEG\n"
		"                     bytes (lossy)\n"
		"  --cpu              use the C reference even when a GPU is present\n"
		"  --threads N        at most N threads at work at once (default: all cores)\n"
		"  --part I/N         build part I of N (0-based): the clips of every Nth capture\n"
		"                     sequence, so that N processes share one build\n"
		"  --track FILE       geotag from a GPX/NMEA/CSV track; --track-offset S shifts image\n"
		"                     times by S seconds before matching\n"
		"  --keep-corrupt     keep frames that decode with warnings (default: reject)\n"
		"  --seed N           seed of the geographic split (default 1)\n"
		"  --shard-mb N       rotate shards at N MB (default 500)\n"
		"  --fresh            rewrite every shard (default: a rerun keeps the clips an\n"
		"                     earlier, interrupted run committed, and goes on)\n"
		"  --split-buffer M   minimum distance between frames of different splits (50)\n"
		"  --twin DIR         the twin store to add the capture to (default OUT/twin); a\n"
		"                     cluster rank reads it (references) and `svtwin merge`\n"
		"                     adds the ranks' parts to it\n"
		"  --districts PATH   GeoJSON or Shapefile of districts: labels clips, captions and\n"
		"                     `svtwin query --district`\n"
		"  --dongs PATH       the same for dongs (neighbourhoods)\n"
		"  --spacing-m M      resample clips to one frame every M metres along the track\n"
		"  --spacing-s S      resample clips to one frame every S seconds\n"
		"  --view random:N    along travel turned by a yaw drawn per clip in +-N degrees\n"
		"                     (seeded by --seed and the clip)\n"
		"  --densify MODE     video-rate clips: warp (in-between frames synthesized from the\n"
		"                     two bracketing keyframes and their depth), freeze (keyframes\n"
		"                     repeated 4x on latent boundaries, slots for an interpolator;\n"
		"                     `svtwin densify import` stores its frames) or none (default)\n"
		"  --fps F            frame rate of densified clips (default 16)\n"
		"  --frames N         frames per densified clip, 1+4k (default 121; keyframes per\n"
		"                     clip follow from it)\n"
		"  --latent-stride S  4 (1+4k, default) or 8 (1+8k lengths)\n"
		"  --frames-per-m R   space densified frames R per metre along the track instead\n"
		"                     of 1/F seconds apart in time\n"
		"  --refs K           street-view references per clip from other capture runs in\n"
		"                     the twin (default 5; 0: none), with warped views\n"
		"  --ref-min-gap S    references at least S seconds from the clip (default 0:\n"
		"                     any other run)\n"
		"  --ref-min-cover F  keep a reference covering >= F of its target view (0.3)\n"
		"  --no-warps         references without the warped views\n"
		"  --holdout NAMES|FILE  districts (comma-separated, of --districts) or a polygon\n"
		"                     file that go to test whole; no reference of another split is\n"
		"                     drawn from them\n"
		"  --cluster          a rank of a cluster build (docs/cluster.md): rank and count from\n"
		"                     a Slurm array, srun or mpirun; writes OUT/rank-<r>/, then\n"
		"                     `svtwin merge OUT`\n"
		"  --rank R --ranks N the same with an explicit rank (implies --cluster)\n"
		"  --cell-m M         partition cell of a cluster build (default 100 m, the tile)\n");
}


/* "+09:00", "-5", "+0530", "UTC", "Z" -> minutes east of UTC. */
static int parse_tz(const char *s, int *min)
{
	if (!strcmp(s, "UTC") || !strcmp(s, "Z") || !strcmp(s, "utc")) {
		*min = 0;
		return 0;
	}
	int sign = *s == '-' ? -1 : 1;
	if (*s != '+' && *s != '-')
		return -1;
	s++;
	int h = 0, m = 0, n = 0;
	char tail;
	if (strchr(s, ':') ? sscanf(s, "%2d:%2d%n%c", &h, &m, &n, &tail) != 2
			   : (strlen(s) > 2 ? sscanf(s, "%2d%2d%n%c", &h, &m, &n, &tail) != 2
					    : sscanf(s, "%2d%n%c", &h, &n, &tail) != 1))
		return -1;
	if (h > 14 || m > 59 || h * 60 + m > 14 * 60)
		return -1;
	*min = sign * (h * 60 + m);
	return 0;
}

/* Ctrl-C, or SIGTERM (what Slurm sends at a job's time limit, before SIGKILL, and what `kill`
 * sends): the committed shards stay, the temporary ones never take a final name; the message,
 * in the job's log, says how to go on (async-signal-safe: write and the default action). */
static void on_sigint(int sig)
{
	static const char msg[] =
		"\nsvtwin build: interrupted: the shards committed so far are kept and no partial "
		"file has a final name; run the same command again to resume (or add --fresh to "
		"start over)\n";
	ssize_t w = write(2, msg, sizeof(msg) - 1);
	(void)w;
	signal(sig, SIG_DFL);
	raise(sig);
}

static void interrupts(void (*handler)(int))
{
	signal(SIGINT, handler);
	signal(SIGTERM, handler);
}

static void on_progress(void *user, const char *stage, size_t done, size_t total)
{
	svt_progress *p = user;
	if (!p->label)
		svt_progress_begin(p, stage, total);
	p->total = total;
	svt_progress_step(p, done - p->done);
}

static void print_summary(const dataset_opts *o, const dataset_stats *s, const char *shards_note)
{
	char reasons[1024] = "";
	size_t len = 0;
	for (int r = 1; r < INGEST_REASON_COUNT; r++) {
		if (!s->rejected_by_reason[r])
			continue;
		len += (size_t)snprintf(reasons + len, sizeof(reasons) - len, "%s%s %zu",
					len ? ", " : "", ingest_reason_name((ingest_reason)r),
					s->rejected_by_reason[r]);
		if (len >= sizeof(reasons))
			break;
	}
	size_t rejected = s->frames_rejected;
	fprintf(stderr,
		"svtwin build: %zu frames scanned, %zu kept, %zu rejected%s%s%s\n"
		"svtwin build: %zu clips written (train %zu, val %zu, test %zu; %zu dropped in "
		"split buffers; %zu kept from an earlier run), %zu views %dx%d (%s)%s, %s in %s, "
		"%.1f s\n",
		s->frames_scanned, s->frames_kept, rejected, rejected ? " (" : "", reasons,
		rejected ? ")" : "", s->clips_written, s->split_counts[0], s->split_counts[1],
		s->split_counts[2], s->clips_dropped, s->clips_resumed, s->frames_written, s->width,
		s->height, s->backend, s->decode_warnings ? ", some decoded with warnings" : "",
		shards_note, o->out, s->seconds);
	if (svt_log_level() >= 2)
		fprintf(stderr, "svtwin build: main thread: %.2f s waiting for views, %.2f s fusing "
				"depth points, %.2f s handing clips to the writer; peak resident "
				"memory %ld KiB\n",
			s->seconds_wait_views, s->seconds_fuse, s->seconds_write,
			svt_peak_rss_kib());
	if (s->clips_skipped_part)
		fprintf(stderr, "svtwin build: part %d/%d: %zu clips left to the other parts\n",
			o->part_index, o->part_count, s->clips_skipped_part);
	if (s->epsg)
		fprintf(stderr, "svtwin build: CRS EPSG:%d%s\n", s->epsg,
			s->epsg_default ? " (the capture's default; --crs to choose)" : "");
	if (s->tz_assumed)
		fprintf(stderr, "svtwin build: %zu frames had times without a zone: taken as UTC%+03d:%02d "
				"(%s; --tz to change)\n", s->tz_assumed, o->default_tz_min / 60,
			abs(o->default_tz_min) % 60,
			o->default_tz_min == 540 ? "the default, Korea" : "--tz");
	if (s->refs_written || s->refs_dropped_cover || s->refs_no_depth)
		fprintf(stderr, "svtwin build: %zu references (%zu dropped by coverage, %zu without "
				"depth), %zu warped frames, %zu frames without a warp, %.2f s (%.2f s "
				"CPU; the clips' own views %.2f s CPU)\n",
			s->refs_written, s->refs_dropped_cover, s->refs_no_depth, s->warps_written,
			s->warps_missing, s->seconds_refs, s->seconds_refs_cpu, s->seconds_views_cpu);
	if (s->clips_holdout)
		fprintf(stderr, "svtwin build: %zu clips sent to test by --holdout\n",
			s->clips_holdout);
	if (s->depth_frames)
		fprintf(stderr, "svtwin build: %zu points from %zu depth maps fused into the twin's "
				"tiles\n", s->points_total, s->depth_frames);
	if (rejected)
		fprintf(stderr, "svtwin build: reasons per frame in %s/rejects.jsonl\n", o->out);
}

/* One rank of a cluster build (dataset_rank_run). */
static int build_rank(const dataset_opts *o, int rank, int ranks, double cell_m)
{
	svt_err err = {0};
	dataset_rank r;
	if (dataset_rank_resolve(rank, ranks, &r, &err))
		return cli_fail("build", &err);
	svt_log_info("rank %d of %d (from %s)", r.rank, r.ranks, r.from);
	dataset_stats st;
	interrupts(on_sigint);
	int rc = dataset_rank_run(o, &r, cell_m, NULL, &st, &err);
	interrupts(SIG_DFL);
	if (st.frames_scanned && svt_log_level() >= 1) {
		dataset_opts ro = *o;
		char dir[4096];
		snprintf(dir, sizeof(dir), "%s/rank-%d", o->out, r.rank);
		ro.out = dir;
		print_summary(&ro, &st, rc ? "no shard committed" : "shards");
	}
	return rc ? cli_fail("build", &err) : 0;
}

int cmd_build(int argc, char **argv)
{
	dataset_opts o;
	dataset_opts_default(&o);
	enum { O_CRS = 256, O_CLIP, O_STRIDE, O_SIZE, O_FOV, O_VIEW, O_CODEC, O_CPU, O_THREADS,
	       O_TRACK, O_TRACK_OFF, O_KEEP, O_SEED, O_BUFFER, O_TWIN, O_DISTRICTS, O_FRESH, O_SHARD_MB, O_DONGS, O_SPACING_M, O_SPACING_S,
	       O_PART, O_DENSIFY, O_FPS, O_FRAMES, O_LSTRIDE, O_FPM, O_REFS, O_REF_GAP,
	       O_REF_COVER, O_NO_WARPS, O_HOLDOUT, O_PANORAMA,
	       O_PHOTO_FOV, O_TZ, O_CLUSTER, O_RANK, O_RANKS, O_CELL };
	static const struct option lo[] = {
		{"out", required_argument, 0, 'o'},
		{"crs", required_argument, 0, O_CRS},
		{"clip-frames", required_argument, 0, O_CLIP},
		{"stride", required_argument, 0, O_STRIDE},
		{"size", required_argument, 0, O_SIZE},
		{"fov", required_argument, 0, O_FOV},
		{"view", required_argument, 0, O_VIEW},
		{"codec", required_argument, 0, O_CODEC},
		{"cpu", no_argument, 0, O_CPU},
		{"threads", required_argument, 0, O_THREADS},
		{"track", required_argument, 0, O_TRACK},
		{"track-offset", required_argument, 0, O_TRACK_OFF},
		{"keep-corrupt", no_argument, 0, O_KEEP},
		{"seed", required_argument, 0, O_SEED},
		{"split-buffer", required_argument, 0, O_BUFFER},
		{"twin", required_argument, 0, O_TWIN},
		{"districts", required_argument, 0, O_DISTRICTS},
		{"fresh", no_argument, 0, O_FRESH},
		{"shard-mb", required_argument, 0, O_SHARD_MB},
		{"dongs", required_argument, 0, O_DONGS},
		{"spacing-m", required_argument, 0, O_SPACING_M},
		{"spacing-s", required_argument, 0, O_SPACING_S},
		{"part", required_argument, 0, O_PART},
		{"densify", required_argument, 0, O_DENSIFY},
		{"fps", required_argument, 0, O_FPS},
		{"frames", required_argument, 0, O_FRAMES},
		{"latent-stride", required_argument, 0, O_LSTRIDE},
		{"frames-per-m", required_argument, 0, O_FPM},
		{"refs", required_argument, 0, O_REFS},
		{"ref-min-gap", required_argument, 0, O_REF_GAP},
		{"ref-min-cover", required_argument, 0, O_REF_COVER},
		{"no-warps", no_argument, 0, O_NO_WARPS},
		{"holdout", required_argument, 0, O_HOLDOUT},
		{"panorama", no_argument, 0, O_PANORAMA},
		{"photo-fov", required_argument, 0, O_PHOTO_FOV},
		{"tz", required_argument, 0, O_TZ},
		{"cluster", no_argument, 0, O_CLUSTER},
		{"rank", required_argument, 0, O_RANK},
		{"ranks", required_argument, 0, O_RANKS},
		{"cell-m", required_argument, 0, O_CELL},
		{"help", no_argument, 0, 'h'},
		{0, 0, 0, 0},
	};
	optind = 1;
	int cluster = 0, rank = -1, ranks = 0;
	double cell_m = 0;
	int c;
	svt_err err = {0};
	long long iv;
	int pn = 0; /* --part: where its I/N ends */
	/* Every number through svt_parse_*: a bad or out-of-range value names its option. */
#define PINT(name, lo, hi, dst)                                                              \
	do {                                                                                 \
		if (svt_parse_int(name, optarg, lo, hi, &iv, &err))                          \
			return (cli_fail("build", &err), 2);                              \
		dst = (int)iv;                                                               \
	} while (0)
#define PDBL(name, lo, hi, dst)                                                              \
	do {                                                                                 \
		if (svt_parse_double(name, optarg, lo, hi, &dst, &err))                      \
			return (cli_fail("build", &err), 2);                              \
	} while (0)
	while ((c = getopt_long(argc, argv, "o:h", lo, NULL)) != -1) {
		switch (c) {
		case 'o': o.out = optarg; break;
		case O_CRS: {
			const char *v = strncasecmp(optarg, "EPSG:", 5) ? optarg : optarg + 5;
			if (svt_parse_int("--crs", v, 1, 999999, &iv, &err))
				return (cli_fail("build", &err), 2);
			o.epsg = (int)iv;
			break;
		}
		case O_CLIP: PINT("--clip-frames", 1, 4096, o.clip_frames); break;
		case O_STRIDE: PINT("--stride", 1, 4096, o.clip_stride); break;
		case O_SIZE:
			if (svt_parse_size("--size", optarg, 16, 16384, &o.width, &o.height, &err))
				return (cli_fail("build", &err), 2);
			break;
		case O_FOV: PDBL("--fov", 1, 179, o.hfov_deg); break;
		case O_VIEW:
			if (!strcmp(optarg, "travel"))
				o.view_dir = DATASET_VIEW_TRAVEL;
			else if (!strcmp(optarg, "pano"))
				o.view_dir = DATASET_VIEW_PANO;
			else if (!strcmp(optarg, "random") || !strncmp(optarg, "random:", 7)) {
				/* The yaw's bound is a number in (0, 180]: "random:30deg" is not. */
				if (optarg[6] &&
				    svt_parse_double("--view random", optarg + 7, 0, 180,
						     &o.view_random_deg, &err))
					return (cli_fail("build", &err), 2);
				if (!(o.view_random_deg > 0)) {
					fprintf(stderr, "svtwin build: --view random:DEG wants DEG in "
							"(0, 180]\n");
					return 2;
				}
				o.view_dir = DATASET_VIEW_RANDOM;
			} else {
				fprintf(stderr, "svtwin build: --view is travel, pano or random[:DEG]\n");
				return 2;
			}
			break;
		case O_CODEC: o.codec = optarg; break;
		case O_CPU: o.cpu_only = 1; break;
		case O_THREADS: PINT("--threads", 1, 1024, o.threads); break;
		case O_TRACK: o.track = optarg; break;
		case O_TRACK_OFF: PDBL("--track-offset", -1e9, 1e9, o.track_offset_s); break;
		case O_KEEP: o.keep_corrupt = 1; break;
		case O_SEED:
			if (svt_parse_u64("--seed", optarg, &o.seed, &err))
				return (cli_fail("build", &err), 2);
			break;
		case O_BUFFER: PDBL("--split-buffer", 0, 1e6, o.split_buffer_m); break;
		case O_TWIN: o.twin = optarg; break;
		case O_DISTRICTS: o.districts = optarg; break;
		case O_FRESH: o.fresh = 1; break;
		case O_SHARD_MB: PDBL("--shard-mb", 1, 1e6, o.shard_mb); break;
		case O_DONGS: o.dongs = optarg; break;
		case O_SPACING_M: PDBL("--spacing-m", 0.01, 1e5, o.spacing_m); break;
		case O_SPACING_S: PDBL("--spacing-s", 0.001, 1e6, o.spacing_s); break;
		case O_PART:
			if (sscanf(optarg, "%d/%d%n", &o.part_index, &o.part_count, &pn) != 2 ||
			    optarg[pn] || o.part_count < 1 || o.part_index < 0 ||
			    o.part_index >= o.part_count) {
				fprintf(stderr, "svtwin build: bad --part '%s' (want I/N, 0 <= I < N)\n",
					optarg);
				return 2;
			}
			break;
		case O_DENSIFY:
			if (!strcmp(optarg, "warp"))
				o.densify = DATASET_DENSIFY_WARP;
			else if (!strcmp(optarg, "freeze"))
				o.densify = DATASET_DENSIFY_FREEZE;
			else if (!strcmp(optarg, "none"))
				o.densify = DATASET_DENSIFY_NONE;
			else {
				fprintf(stderr, "svtwin build: --densify is warp, freeze or none\n");
				return 2;
			}
			break;
		/* The ranges of dataset_job_create's checks (the 1+4k shape of --frames is its
		 * own), so that a typo is refused by name before the scan rather than read as 0. */
		case O_FPS: PDBL("--fps", 1, 120, o.fps); break;
		case O_FRAMES: PINT("--frames", 1, 4097, o.out_frames); break;
		case O_LSTRIDE:
			PINT("--latent-stride", 4, 8, o.latent_stride);
			if (o.latent_stride != 4 && o.latent_stride != 8) {
				fprintf(stderr, "svtwin build: --latent-stride is 4 or 8\n");
				return 2;
			}
			break;
		case O_FPM: PDBL("--frames-per-m", 0, 100, o.frames_per_m); break;
		case O_REFS: PINT("--refs", 0, 64, o.refs); break;
		case O_REF_GAP: PDBL("--ref-min-gap", 0, 1e9, o.ref_min_gap_s); break;
		case O_REF_COVER: PDBL("--ref-min-cover", 0, 1, o.ref_min_cover); break;
		case O_NO_WARPS: o.ref_warps = 0; break;
		case O_HOLDOUT: o.holdout = optarg; break;
		case O_PANORAMA: o.panorama = 1; break;
		case O_PHOTO_FOV: PDBL("--photo-fov", 1, 170, o.photo_fov_deg); break;
		case O_TZ:
			if (parse_tz(optarg, &o.default_tz_min)) {
				fprintf(stderr, "svtwin build: bad --tz '%s' (want +HH:MM, -HH:MM or UTC, "
						"within [-12:00, +14:00])\n", optarg);
				return 2;
			}
			break;
		case O_CLUSTER: cluster = 1; break;
		case O_RANK: PINT("--rank", 0, 1000000, rank); cluster = 1; break;
		case O_RANKS: PINT("--ranks", 1, 1000000, ranks); cluster = 1; break;
		case O_CELL: PDBL("--cell-m", 1, 1e6, cell_m); break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
#undef PINT
#undef PDBL
	if (optind != argc - 1 || !o.out) {
		usage(stderr);
		return 2;
	}
	o.capture = argv[optind];
	if (o.spacing_m > 0 && o.spacing_s > 0) {
		fprintf(stderr, "svtwin build: --spacing-m and --spacing-s exclude each other\n");
		return 2;
	}
	if (o.densify == DATASET_DENSIFY_NONE && (o.clip_frames - 1) % 8 != 0)
		fprintf(stderr, "svtwin build: note: %d frames is not 1+8k (Cosmos tokenizers "
				"want 121 or 57)\n", o.clip_frames);
	if (cluster)
		return build_rank(&o, rank, ranks, cell_m);
	dataset_job *job = NULL;
	if (dataset_job_create(&o, &job, &err))
		return cli_fail("build", &err);
	interrupts(on_sigint);
	svt_progress prog = {0};
	dataset_callbacks cb = {.progress = on_progress, .user = &prog};
	int rc = dataset_job_run(job, &cb, &err);
	if (prog.label)
		svt_progress_end(&prog);
	dataset_stats st;
	dataset_job_stats(job, &st);
	dataset_job_destroy(job);
	interrupts(SIG_DFL);
	if (st.frames_scanned && svt_log_level() >= 1)
		print_summary(&o, &st, rc ? "no shard committed" : "shards");
	return rc ? cli_fail("build", &err) : 0;
}
