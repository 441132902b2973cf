#!/bin/sh
# tests/test_cluster.sh: cluster builds with the real engines (docs/cluster.md), checked against
# the one-rank build of the same capture, clip for clip and frame for frame
# (tests/cluster/compare.py: clip ids, every array's SHA-256, attributes, the twin's tiles and
# fused points):
#   refs     2 and 4 ranks (--rank/--ranks) of a run against a twin holding two other runs
#            (--twin T: references of other runs), merged into T: the same references and T
#            as the one-rank build's, and the same stale shards after a later capture;
#   mpirun   `mpirun -np 4 svtwin build --cluster` (Open MPI), then `svtwin merge`;
#   slurm    a one-node Slurm (scripts/slurm/local-cluster.sh): a 4-task array and the merge
#            job after it (scripts/slurm/submit.sh, --dependency=afterok); then a rank killed
#            with kill -9, the array without it, the merge naming it (--array=2), the task
#            resubmitted alone (its rank count from the run record), the merge again.
# A part that cannot run here (not root, packages missing) prints "skip" with the reason.
# Exit 0 when every part that ran passed.
set -u
B=${SVT_BUILD:-build}
S=$(cd "$(dirname "$B/svtwin")" && pwd)/svtwin
GEN=$(cd "$(dirname "$B/svtwin")" && pwd)/svtwin-samples
PY=${PYTHON:-/usr/bin/python3}
HERE=$(cd "$(dirname "$0")/.." && pwd)
T=$(mktemp -d /tmp/svt-cluster-XXXXXX)
chmod 755 "$T" # munged runs as munge and must reach its folder in it
cleanup() {
	[ -n "${SLURM_CONF:-}" ] && "$HERE/scripts/slurm/local-cluster.sh" down "$T/slurm" >/dev/null 2>&1
	[ -n "${kpid:-}" ] && kill -9 "$kpid" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
fail=0
pass() { echo "PASS $*"; }
bad() { echo "FAIL $*"; fail=1; }
same() { # same NAME DIR: DIR equals the one-rank build
	if "$PY" "$HERE/tests/cluster/compare.py" "$T/ref" "$2" "$S" >"$T/cmp.txt" 2>&1; then
		pass "$1: $(cat "$T/cmp.txt")"
	else
		bad "$1:"; sed 's/^/    /' "$T/cmp.txt" | head -20
	fi
}

# A small capture: 96 panoramas 1024x512 with depth, about 760 m (8 cells of 100 m).
"$GEN" --out "$T/cap" --seed 1 --frames 96 --width 1024 >/dev/null || { bad "samples"; exit 1; }
A="--clip-frames 9 --size 512x256 --shard-mb 1 --cpu --threads 1"
t0=$(date +%s.%N)
"$S" -q build "$T/cap" -o "$T/ref" $A || { bad "the one-rank build"; exit 1; }
echo "one-rank build: $(awk "BEGIN{print $(date +%s.%N) - $t0}") s"

# ---- references from a shared twin (--twin T on every rank; no root needed) -----------------
# Three capture runs of the same 312 m (other days, light, transients); T holds runs 0 and 2.
# Run 1 built against it by one rank, and by 2 and 4 ranks (--rank/--ranks, at once) that read
# T for references and whose parts `svtwin merge` folds into T: the same clips with the same
# references (sources, runs, poses, pixels, depth, warps), the same twin T. Then a capture of
# the first 72 m added to both twins: the same shards stale (the merged twin's shard records).
for r in 0 1 2; do
	"$GEN" --out "$T/runs/run$r" --seed 1 --run "$r" --frames 40 --width 1024 --no-bad -q ||
		{ bad "samples: run $r"; exit 1; }
done
"$GEN" --out "$T/runs/short" --seed 1 --run 3 --frames 10 --width 512 --no-bad -q ||
	{ bad "samples: short run"; exit 1; }
RA="--clip-frames 9 --size 320x176 --cpu --threads 1"
if "$S" -q build "$T/runs/run0" -o "$T/r0" --twin "$T/rt" $RA &&
   "$S" -q build "$T/runs/run2" -o "$T/r2" --twin "$T/rt" $RA &&
   cp -a "$T/rt" "$T/rt1" && "$S" -q build "$T/runs/run1" -o "$T/rone" --twin "$T/rt1" $RA; then
	for n in 2 4; do
		cp -a "$T/rt" "$T/rt$n"
		pids=""
		for r in $(seq 0 $((n - 1))); do
			"$S" -q build "$T/runs/run1" -o "$T/rc$n" --twin "$T/rt$n" $RA --rank "$r" \
				--ranks "$n" & pids="$pids $!"
		done
		ok=1; for p in $pids; do wait "$p" || ok=0; done
		if [ $ok = 1 ] && "$S" -q merge "$T/rc$n" && "$S" verify "$T/rc$n" >"$T/v.txt" 2>&1; then
			if "$PY" "$HERE/tests/cluster/compare.py" "$T/rone" "$T/rc$n" "$S" "$T/rt1" \
				"$T/rt$n" >"$T/cmp.txt" 2>&1 && grep -q '([1-9][0-9]* references)' "$T/cmp.txt"; then
				pass "$n ranks with --twin vs one rank: $(cat "$T/cmp.txt")"
			else
				bad "$n ranks with --twin vs one rank:"; sed 's/^/    /' "$T/cmp.txt" | head -20
			fi
		else
			bad "$n ranks with --twin: a rank, the merge or verify failed"; tail -5 "$T/v.txt"
		fi
	done
	# The merge run again: T has the capture, its points are not folded in twice (T is not
	# replaced: the same GeoPackage file).
	ino=$(stat -c %i "$T/rt2/twin.gpkg")
	if "$S" -q merge "$T/rc2" && [ "$(stat -c %i "$T/rt2/twin.gpkg")" = "$ino" ] &&
	   "$PY" "$HERE/tests/cluster/compare.py" "$T/rone" "$T/rc2" "$S" "$T/rt1" "$T/rt2" \
		>"$T/cmp.txt" 2>&1; then
		pass "the merge into --twin run again leaves it as it was"
	else
		bad "the merge into --twin run again:"; sed 's/^/    /' "$T/cmp.txt" | head -10
	fi
	# Stale shards: run 1's clips are recorded in the merged twin as in the one-rank one.
	"$S" query "$T/rt1" --stale-shards 2>/dev/null | grep -c '"run1-' >"$T/st0.txt"
	for t in rt1 rt2; do
		"$S" -q build "$T/runs/short" -o "$T/short-$t" --twin "$T/$t" $RA --refs 0 >/dev/null &&
			"$S" query "$T/$t" --stale-shards 2>/dev/null | sort >"$T/stale-$t.txt"
	done
	n1=$(grep -c '"run1-' "$T/stale-rt1.txt")
	if [ "$(cat "$T/st0.txt")" = 0 ] && [ "$n1" -gt 0 ] && [ "$n1" -lt 4 ] &&
	   cmp -s "$T/stale-rt1.txt" "$T/stale-rt2.txt"; then
		pass "stale shards after a new capture: the merged twin names the one-rank twin's ($n1 of run 1's 4 clips, $(wc -l <"$T/stale-rt1.txt") in all)"
	else
		bad "stale shards differ (run 1's before: $(cat "$T/st0.txt"), after: $n1):"
		diff "$T/stale-rt1.txt" "$T/stale-rt2.txt" | head -10
	fi
else
	bad "the one-rank builds with references"
fi

# ---- mpirun -------------------------------------------------------------------------------
if ! command -v mpirun >/dev/null 2>&1; then
	echo "skip mpirun: not installed (Debian: openmpi-bin)"
else
	root=""; [ "$(id -u)" -eq 0 ] && root=--allow-run-as-root
	if timeout 120 mpirun $root --oversubscribe -np 4 "$S" -q build "$T/cap" -o "$T/mpi" $A \
		--cluster >"$T/mpi.log" 2>&1; then
		pass "mpirun -np 4: every rank built"
		if "$S" -q merge "$T/mpi" && "$S" verify "$T/mpi" >"$T/v.txt" 2>&1; then
			pass "mpirun: merged and verified"
			same "mpirun -np 4 vs one rank" "$T/mpi"
			# OUT/twin's shard records: the same stale shards as the one-rank twin's
			# after a capture of the route's first 72 m (on copies: the others compare
			# with ref's twin as built).
			for d in ref mpi; do
				cp -a "$T/$d/twin" "$T/tw-$d"
				"$S" -q build "$T/runs/short" -o "$T/short-$d" --twin "$T/tw-$d" $RA \
					--refs 0 >/dev/null 2>&1
				"$S" query "$T/tw-$d" --stale-shards 2>/dev/null | sort >"$T/stale-$d.txt"
			done
			ns=$(grep -c '"cap-' "$T/stale-ref.txt")
			if [ "$ns" -gt 0 ] && cmp -s "$T/stale-ref.txt" "$T/stale-mpi.txt"; then
				pass "mpirun: the merged OUT/twin names the one-rank twin's stale shards ($ns of the capture's)"
			else
				bad "mpirun: stale shards of the merged OUT/twin differ:"
				diff "$T/stale-ref.txt" "$T/stale-mpi.txt" | head -10
			fi
		else
			bad "mpirun: merge or verify"; tail -5 "$T/v.txt"
		fi
	else
		bad "mpirun -np 4"; tail -10 "$T/mpi.log"
	fi
fi

# ---- Slurm --------------------------------------------------------------------------------
up=$("$HERE/scripts/slurm/local-cluster.sh" up "$T/slurm" 8 2>&1); rc=$?
if [ $rc -eq 77 ]; then
	echo "$up" | sed 's/^skip:/skip slurm:/'
	exit $fail
elif [ $rc -ne 0 ]; then
	bad "the local Slurm cluster did not start:"; echo "$up" | tail -5
	exit 1
fi
eval "$(echo "$up" | grep '^export SLURM_CONF=')"
PATH="$PATH:/usr/sbin"
export SVTWIN="$S"
submit() { timeout 120 "$HERE/scripts/slurm/submit.sh" --cpu --partition cpu --cpus 2 --wait "$@"; }

if submit "$T/cap" "$T/s1" 4 --clip-frames 9 --size 512x256 --shard-mb 1 --threads 1 \
	>"$T/s1.txt" 2>&1; then
	pass "slurm: a 4-task array and the merge job (afterok) ran"
	same "slurm array of 4 vs one rank" "$T/s1"
else
	bad "slurm array + merge:"; cat "$T/s1.txt"; tail -5 "$T"/s1/slurm-*.log 2>/dev/null
fi

# Rank 2 killed with kill -9 after it committed a shard and before it finished (a few tries:
# the kill lands at a moment the polling picks).
killed=0
for try in 1 2 3 4 5; do
	rm -rf "$T/s2"
	"$S" -q build "$T/cap" -o "$T/s2" $A --rank 2 --ranks 4 >/dev/null 2>&1 & kpid=$!
	i=0
	while [ $i -lt 4000 ] && ! ls "$T/s2/rank-2/"*-0000*.h5 >/dev/null 2>&1; do
		i=$((i + 1)); kill -0 $kpid 2>/dev/null || break
	done
	kill -9 $kpid 2>/dev/null; wait $kpid 2>/dev/null; kpid=""
	if [ ! -f "$T/s2/rank-2/done.json" ] && ls "$T/s2/rank-2/"*-0000*.h5 >/dev/null 2>&1; then
		killed=1; break
	fi
done
if [ $killed = 0 ]; then
	bad "could not kill rank 2 between its first shard and its end in 5 tries"
else
	pass "rank 2 killed with kill -9 after $(ls "$T/s2/rank-2/"*-0000*.h5 | wc -l) committed shard(s)"
	# The other ranks: the array without task 2; the merge after it must name rank 2.
	submit --array 0,1,3 "$T/cap" "$T/s2" 4 --clip-frames 9 --size 512x256 --shard-mb 1 \
		--threads 1 >"$T/s2.txt" 2>&1
	if grep -qs '^missing --array=2$' "$T"/s2/slurm-merge-*.log; then
		pass "slurm: the merge names the missing rank (missing --array=2) and fails"
	else
		bad "slurm: the merge did not name rank 2:"; cat "$T"/s2/slurm-merge-*.log "$T/s2.txt"
	fi
	[ -f "$T/s2/manifest.json" ] && bad "a failed merge wrote OUT/manifest.json"
	# Task 2 alone, as the message says: its array counts 1 task; the run record says 4.
	timeout 120 sbatch --wait --parsable --export=ALL,SVTWIN_RANKS= --partition=cpu \
		--array=2 --cpus-per-task=2 --output="$T/s2/slurm-rerun-%A_%a.log" \
		"$HERE/scripts/slurm/build-array.sbatch" "$T/cap" "$T/s2" \
		--clip-frames 9 --size 512x256 --shard-mb 1 --threads 1 >/dev/null 2>&1
	if [ -f "$T/s2/rank-2/done.json" ] && "$S" -q merge "$T/s2" &&
	   "$S" verify "$T/s2" >"$T/v.txt" 2>&1; then
		pass "slurm: rank 2 rerun alone (--array=2) and merged"
		if grep -qs 'resuming: [1-9][0-9]* clips in [1-9][0-9]* shards' "$T"/s2/slurm-rerun-*.log; then
			pass "rank 2's rerun kept the killed run's committed shards: $(grep -ho 'resuming: [^;]*kept' "$T"/s2/slurm-rerun-*.log)"
		else
			bad "rank 2's rerun did not resume:"; cat "$T"/s2/slurm-rerun-*.log
		fi
		same "after kill -9 and a rerun of rank 2 vs one rank" "$T/s2"
	else
		bad "slurm: rank 2's rerun, merge or verify:"; cat "$T"/s2/slurm-rerun-*.log; tail -5 "$T/v.txt"
	fi
fi

# A rerun with another rank count is refused (the run record).
if "$S" -q build "$T/cap" -o "$T/s1" $A --rank 0 --ranks 3 >"$T/r.txt" 2>&1; then
	bad "a rank of a 3-rank run was accepted in a 4-rank OUT"
elif grep -q 'ranks: 4 before, 3 now\|ranks.*4.*3' "$T/r.txt"; then
	pass "another rank count in the same OUT is refused: $(head -c 160 "$T/r.txt")"
else
	bad "refusal without the reason:"; cat "$T/r.txt"
fi
exit $fail
