#!/bin/sh
# Submits a cluster build (docs/cluster.md): an array of N build tasks and the merge job after
# it (--dependency=afterok), and prints both job ids ("array JID", "merge JID").
#
#   scripts/slurm/submit.sh [--gpu|--cpu] [--partition P] [--cpus C] [--array LIST] [--wait]
#                           CAPTURE OUT N [build options]
#
# --gpu (default): one task per GPU (--gres=gpu:1), the views on CUDA; --cpu: the C reference
# (--cpu) on a CPU partition. --array LIST resubmits only those tasks of an N-rank run (what
# `svtwin merge` printed as missing). --wait: returns when the merge ends, with its exit status.
# SVTWIN names the svtwin program the tasks run (default: svtwin on the PATH).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
kind=gpu part=""; cpus=8; array=""; wait=""
while [ $# -gt 0 ]; do
	case $1 in
	--gpu) kind=gpu; shift ;;
	--cpu) kind=cpu; shift ;;
	--partition) part=$2; shift 2 ;;
	--cpus) cpus=$2; shift 2 ;;
	--array) array=$2; shift 2 ;;
	--wait) wait=--wait; shift ;;
	*) break ;;
	esac
done
[ $# -ge 3 ] || { sed -n '2,15p' "$0" >&2; exit 2; }
capture=$1; out=$2; n=$3; shift 3
[ -n "$array" ] || array="0-$((n - 1))"
[ -n "$part" ] || part=$kind
if [ $kind = gpu ]; then res="--gres=gpu:1"; extra=""; else res=""; extra="--cpu"; fi
mkdir -p "$out"
out=$(cd "$out" && pwd)
jid=$(SVTWIN_RANKS=$n sbatch --parsable --export=ALL --partition="$part" --array="$array" \
	--cpus-per-task="$cpus" $res --output="$out/slurm-build-%A_%a.log" \
	"$here/build-array.sbatch" "$capture" "$out" $extra "$@")
jid=${jid%%;*}
echo "array $jid"
# The merge runs once every task succeeded; `svtwin merge` itself names missing ranks.
mid=$(sbatch --parsable --export=ALL --partition="$part" --dependency=afterok:"$jid" --kill-on-invalid-dep=yes \
	--output="$out/slurm-merge-%j.log" $wait "$here/merge.sbatch" "$out") || {
	rc=$?; echo "merge ${mid:-?} failed ($rc): $out/slurm-merge-*.log" >&2; exit $rc; }
echo "merge ${mid%%;*}"
