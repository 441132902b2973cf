#!/bin/sh
# Peer for `svtwin bench decode`: libjpeg-turbo's own tjbench (Debian libjpeg-turbo-progs) on
# FILE, printing "tjbench_mpps <decompression Mpixels/s>". tjbench writes images next to its
# input, so it runs on a copy in a temporary folder.
#   scripts/bench/decode_tjbench.sh FILE [SECONDS]
set -eu
f=$1
secs=${2:-2}
command -v tjbench >/dev/null 2>&1 || { echo "tjbench missing: apt-get install -y libjpeg-turbo-progs" >&2; exit 1; }
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
cp "$f" "$d/in.jpg"
# -rgb: the same pixel format as svtwin's decode; the last column of the data line is Decomp Perf.
tjbench "$d/in.jpg" -rgb -benchtime "$secs" -warmup 1 -quiet 2>/dev/null |
	awk 'NF >= 8 && $1 == "RGB" { print "tjbench_mpps", $NF; found = 1 } END { exit !found }'
