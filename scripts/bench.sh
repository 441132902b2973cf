#!/bin/sh
# `make bench`: every benchmark part, each printing svtwin's figure, its peer's figure measured
# in the same run, and their ratio.
set -u
B=${SVT_BUILD:-build}
rc=0
for part in decode geo kernels shard twin; do
	echo "== bench $part"
	"$B/svtwin" bench "$part" || rc=1
done
exit $rc
