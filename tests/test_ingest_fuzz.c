/* test_ingest_fuzz.c: a short fuzz smoke run of every ingest parser without clang: seeds (the
 * real files and small generated ones) mutated deterministically (bit flips, byte changes,
 * truncations, splices) and fed to the same entry points as the libFuzzer targets (fuzz/).
 * A crash or a sanitizer report fails the test; `make fuzz` runs the real fuzzers longer. */
#include "fuzz/fuzz_entry.h"
#include "tests/test_ingest_util.h"

#define ROUNDS 5000
#define BUDGET_S 0.6 /* per target, so the whole test stays a few seconds */

static uint64_t rng_state;
static uint32_t rnd(void)
{
	rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
	return (uint32_t)(rng_state >> 33);
}

static void mutate_run(int target, const uint8_t *seed, size_t n)
{
	double t0 = svt_now();
	uint8_t *b = malloc(n + 64);
	cr_assert_not_null(b);
	fuzz_one(target, seed, n); /* the seed itself */
	for (int r = 0; r < ROUNDS && svt_now() - t0 < BUDGET_S; r++) {
		memcpy(b, seed, n);
		size_t m = n;
		int kind = (int)(rnd() % 5);
		int edits = 1 + (int)(rnd() % 8);
		for (int k = 0; k < edits && m > 0; k++) {
			size_t at = rnd() % m;
			switch (kind) {
			case 0: b[at] ^= (uint8_t)(1u << (rnd() % 8)); break;            /* bit flip */
			case 1: b[at] = (uint8_t)rnd(); break;                           /* byte */
			case 2: m = at; break;                                           /* truncate */
			case 3: b[at] = (uint8_t)"\0\xff,:*$<>/\n0-9."[rnd() % 15]; break; /* special */
			default: {                                                        /* duplicate a run */
				size_t len = 1 + rnd() % 32;
				if (at + len > m)
					len = m - at;
				if (m + len <= n + 64) {
					memmove(b + at + len, b + at, m - at);
					m += len;
				}
				break;
			}
			}
		}
		fuzz_one(target, b, m);
	}
	free(b);
}

static const char *gen_seeds[FUZZ_N][3] = {
	[FUZZ_GPX] = {"<gpx version='1.1'><trk><trkseg><trkpt lat='37.5' lon='126.9'><ele>30</ele>"
		      "<time>2024-05-01T01:00:00Z</time></trkpt><trkpt lat='37.6' lon='126.9'>"
		      "<time>2024-05-01T01:00:10.5+09:00</time></trkpt></trkseg></trk></gpx>"},
	[FUZZ_NMEA] = {"$GPGGA,235958.00,3734.0000,N,12658.0000,E,1,08,0.9,30.5,M,,M,,*4E\r\n"
		       "$GNRMC,235959.00,A,3734.0060,N,12658.0000,E,10.0,0.0,311224,,,A*7A\r\n"},
	[FUZZ_CSV] = {"time,lat,lon,alt\n2024-05-01T01:00:00Z,37.57,126.97,30\n1714525210.5,37.569,126.97,\n"},
	[FUZZ_KAPTURE] = {"\x00# kapture format: 1.1\ncam0, x, camera, OPENCV, 640, 480, 500, 500, 320, 240, 0.1, 0.01, 0, 0\n",
			  "\x03# kapture format: 1.1\n10, cam0, a.jpg\n11, cam0, ../x.jpg\n",
			  "\x0f" "10, cam0, 1, 0, 0, 0, 1, 2, 3\n10, cam0, a.jpg\n"},
	[FUZZ_XMP] = {"<x:xmpmeta xmlns:x='adobe:ns:meta/'><rdf:RDF xmlns:rdf='http://www.w3.org/1999/02/22-rdf-syntax-ns#'>"
		      "<rdf:Description xmlns:GPano='http://ns.google.com/photos/1.0/panorama/' GPano:PoseHeadingDegrees='12.5'>"
		      "<GPano:FullPanoWidthPixels>32</GPano:FullPanoWidthPixels></rdf:Description></rdf:RDF></x:xmpmeta>"},
};

static const char *real_seeds[FUZZ_N][4] = {
	[FUZZ_EXIF] = {"exiftool_t_images/GPS.jpg", "exiftool_t_images/Apple.jpg",
		       "mapillary_tools/exif_cases/corrupt_exif.jpg", "exiftool_t_images/GoPro.jpg"},
	[FUZZ_XMP] = {"mapillary_tools/adobe_coords.jpg", "exiftool_t_images/XMP.jpg"},
	[FUZZ_GPX] = {"exiftool_t_images/Geotag.gpx"},
	[FUZZ_DECODE] = {"exiftool_t_images/PNG.png", "mapillary_tools/adobe_coords.jpg",
			 "exiftool_t_images/GPS.jpg"},
};

static void smoke(int target)
{
	rng_state = 0x5eed0000u + (uint64_t)target;
	svt_log_set_level(0);
	int n_seeds = 0;
	for (int i = 0; i < 3 && gen_seeds[target][i]; i++) {
		const char *s = gen_seeds[target][i];
		/* kapture seeds start with a selector byte that may be NUL */
		size_t len = target == FUZZ_KAPTURE ? 1 + strlen(s + 1) : strlen(s);
		mutate_run(target, (const uint8_t *)s, len);
		n_seeds++;
	}
	const char *root = getenv("SVT_REAL_DATA");
	struct stat st;
	if (root && stat(root, &st) == 0)
		for (int i = 0; i < 4 && real_seeds[target][i]; i++) {
			size_t n;
			uint8_t *b = slurp(real_path(real_seeds[target][i]), &n);
			mutate_run(target, b, n);
			free(b);
			n_seeds++;
		}
	if (target == FUZZ_DECODE || target == FUZZ_EXIF) {
		/* a generated JPEG with GPS, so the decoder and EXIF paths get a seed without data */
		size_t n;
		uint8_t *j = jpeg_with_gps(37.5, 126.9, 90, "2024:05:01 10:00:00", "+09:00", &n);
		mutate_run(target, j, n);
		free(j);
		n_seeds++;
	}
	cr_assert_gt(n_seeds, 0, "target %s has no seed", fuzz_names[target]);
}

Test(fuzz_smoke, exif) { smoke(FUZZ_EXIF); }
Test(fuzz_smoke, xmp) { smoke(FUZZ_XMP); }
Test(fuzz_smoke, gpx) { smoke(FUZZ_GPX); }
Test(fuzz_smoke, nmea) { smoke(FUZZ_NMEA); }
Test(fuzz_smoke, csv) { smoke(FUZZ_CSV); }
Test(fuzz_smoke, kapture) { smoke(FUZZ_KAPTURE); }
Test(fuzz_smoke, decode) { smoke(FUZZ_DECODE); }
