#!/bin/sh
# `make fuzz`: builds the libFuzzer targets in fuzz/ (one per ingest parser: exif, xmp, gpx,
# nmea, csv, kapture, plus the decoder) with clang -fsanitize=fuzzer,address and runs each for
# FUZZ_SECONDS (first argument, default 60), seeded from the real data (SVT_REAL_DATA, default
# ../shared/data/real) and a few generated seeds. Exits non-zero when a target crashes; the
# reproducer (crash-*) is left in build-fuzz/<target>/.
#   FUZZ_TARGETS="exif gpx" scripts/fuzz.sh 10    runs a subset
set -eu
SECS=${1:-60}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${FUZZ_BUILD:-$ROOT/build-fuzz}
REAL=${SVT_REAL_DATA:-$ROOT/../shared/data/real}
TARGETS=${FUZZ_TARGETS:-"exif xmp gpx nmea csv kapture decode"}
CLANG=${CLANG:-$(command -v clang || command -v clang-14 || true)}
if [ -z "$CLANG" ]; then
	# clang is a fuzzing-only dependency, kept out of scripts/install-deps.sh on purpose.
	echo "fuzz: clang with libFuzzer is needed: run  apt-get install -y clang" >&2
	exit 1
fi
PKGS="libturbojpeg libjpeg libpng libexif libxml-2.0 jansson"
CFLAGS="-std=c11 -g -O1 -D_GNU_SOURCE -I$ROOT $(pkg-config --cflags $PKGS) -fsanitize=address,undefined -fno-sanitize-recover=undefined"
LIBS="$(pkg-config --libs $PKGS) -lz -lm -pthread"
mkdir -p "$OUT/obj"
for src in "$ROOT"/ingest/*.c "$ROOT"/base/*.c; do
	obj="$OUT/obj/$(basename "$src" .c).o"
	if [ ! -f "$obj" ] || [ "$src" -nt "$obj" ] || [ "$ROOT/ingest/ingest.h" -nt "$obj" ] || [ "$ROOT/ingest/ingest_internal.h" -nt "$obj" ]; then
		$CLANG $CFLAGS -fsanitize=fuzzer-no-link -c "$src" -o "$obj"
	fi
done

seed() { # seed TARGET FILE...
	d="$OUT/$1/seeds"
	mkdir -p "$d"
	shift
	for f in "$@"; do [ -f "$f" ] && cp "$f" "$d/" 2>/dev/null || true; done
}
small_jpegs=$(find "$REAL/exiftool_t_images" "$REAL/mapillary_tools" "$REAL/pannellum_jordan_pond" \
	-name '*.jpg' -size -64k 2>/dev/null || true)
fail=0
for t in $TARGETS; do
	mkdir -p "$OUT/$t/corpus"
	$CLANG $CFLAGS -fsanitize=fuzzer "$ROOT/fuzz/fuzz_$t.c" "$OUT"/obj/*.o $LIBS -o "$OUT/$t/fuzz_$t"
	case $t in
	exif|xmp|decode) seed "$t" $small_jpegs "$REAL/exiftool_t_images/PNG.png" ;;
	gpx) seed gpx "$REAL/exiftool_t_images/Geotag.gpx" ;;
	nmea) mkdir -p "$OUT/nmea/seeds"
	      printf '%s\r\n' '$GPGGA,235958.00,3734.0000,N,12658.0000,E,1,08,0.9,30.5,M,,M,,*4E' \
		'$GNRMC,235959.00,A,3734.0060,N,12658.0000,E,10.0,0.0,311224,,,A*7A' >"$OUT/nmea/seeds/a.nmea" ;;
	csv) mkdir -p "$OUT/csv/seeds"
	     printf 'time,lat,lon,alt\n2024-05-01T01:00:00Z,37.57,126.97,30\n1714525210.5,37.569,126.97,\n' >"$OUT/csv/seeds/a.csv" ;;
	kapture) mkdir -p "$OUT/kapture/seeds"
		 i=0
		 for f in sensors.txt rigs.txt trajectories.txt records_camera.txt records_gnss.txt; do
			 [ -f "$REAL/kapture_berlin/sensors/$f" ] || { i=$((i+1)); continue; }
			 { printf "\\$(printf '%03o' $i)"; cat "$REAL/kapture_berlin/sensors/$f"; } >"$OUT/kapture/seeds/$f"
			 i=$((i+1))
		 done ;;
	esac
	echo "== fuzz_$t: ${SECS}s"
	if ! (cd "$OUT/$t" && ./fuzz_$t -max_total_time="$SECS" -max_len=131072 -rss_limit_mb=2048 \
		-print_final_stats=1 corpus seeds 2>fuzz.log); then
		echo "fuzz_$t FAILED: see $OUT/$t/fuzz.log and $OUT/$t/crash-*" >&2
		tail -30 "$OUT/$t/fuzz.log" >&2
		fail=1
	else
		grep -E "stat::number_of_executed_units|stat::new_units_added" "$OUT/$t/fuzz.log" | tr '\n' ' '
		echo
	fi
done
exit $fail
