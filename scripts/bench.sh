#!/bin/sh
# `make bench`: every benchmark part, each printing svtwin's figure, its peer's figure measured
# in the same run, and their ratio.
set -u
B=${SVT_BUILD:-build}
rc=0
for part in decode geo kernels shard; do
	echo "== bench $part"
	"$B/svtwin" bench "$part" || rc=1
done
# The main job against the Python a researcher would write (bench/peer_build.py), same run.
echo "== bench build"
"${PYTHON:-/usr/bin/python3}" bench/build_bench.py "$B/svtwin" "$B/samples/capture" \
	"${TMPDIR:-/tmp}/svt-bench-build-$$" || rc=1
rm -rf "${TMPDIR:-/tmp}/svt-bench-build-$$"
exit $rc
