#!/bin/sh
# geo_cli.sh: the command-line path, `svtwin geo` on a 1e6-line file, against cs2cs (PROJ's
# own CLI; 0.55 M pts/s in /work/shared/baselines-cpu.md) when proj-bin is installed. Both
# read the same file and write to /dev/null; the ratio is printed.
#   usage: scripts/bench/geo_cli.sh [BUILD_DIR] [N]
set -eu
B=${1:-${SVT_BUILD:-build}}
N=${2:-1000000}
PY=${PYTHON:-/usr/bin/python3}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$PY" - "$N" >"$tmp/in.txt" <<'PYEOF'
import random, sys
r = random.Random(1)
n = int(sys.argv[1])
w = sys.stdout.write
for _ in range(n):
    w("%.9f %.9f\n" % (r.uniform(125.0, 129.5), r.uniform(33.0, 38.5)))
PYEOF
now() { date +%s.%N; }
t0=$(now); "$B/svtwin" geo --to EPSG:5186 <"$tmp/in.txt" >/dev/null; t1=$(now)
svt=$(echo "$N / ($t1 - $t0)" | bc -l)
printf 'geo cli: %d lines\n  svtwin geo  %8.3f M pts/s\n' "$N" "$(echo "$svt / 1000000" | bc -l)"
if command -v cs2cs >/dev/null 2>&1; then
	t0=$(now); cs2cs -f %.4f OGC:CRS84 EPSG:5186 <"$tmp/in.txt" >/dev/null 2>&1 || true; t1=$(now)
	cs=$(echo "$N / ($t1 - $t0)" | bc -l)
	printf '  cs2cs       %8.3f M pts/s\n  ratio svtwin/cs2cs %.2f\n' \
		"$(echo "$cs / 1000000" | bc -l)" "$(echo "$svt / $cs" | bc -l)"
else
	echo "  cs2cs not installed (Debian proj-bin): baseline 0.55 M pts/s in baselines-cpu.md"
fi
