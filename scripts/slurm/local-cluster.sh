#!/bin/sh
# A one-node Slurm cluster on this machine, for tests: Debian's slurmctld, slurmd and munge,
# started as root without systemd, every file (configuration, state, spool, logs) under DIR.
#
#   scripts/slurm/local-cluster.sh up DIR [CPUS]   start munged, slurmctld, slurmd; wait until
#                                                  the node is idle; prints `export SLURM_CONF=...`
#   scripts/slurm/local-cluster.sh down DIR        stop what `up` started (by pid files)
#
# Exit 77 (the automake "skip" code) with the reason when it cannot run here: not root, or the
# packages (slurmctld slurmd slurm-client munge) missing. Callers turn 77 into a skip.
set -eu
cmd=${1:-}; dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || { echo "usage: $0 up|down DIR [CPUS]" >&2; exit 2; }

down() {
	for p in slurmd slurmctld munged; do
		f="$dir/$p.pid"
		[ -f "$f" ] || continue
		pid=$(cat "$f")
		kill "$pid" 2>/dev/null || true
		i=0; while kill -0 "$pid" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done
		kill -9 "$pid" 2>/dev/null || true
		rm -f "$f"
	done
}

if [ "$cmd" = down ]; then down; exit 0; fi
[ "$cmd" = up ] || { echo "usage: $0 up|down DIR [CPUS]" >&2; exit 2; }

cpus=${3:-8}
if [ "$(id -u)" -ne 0 ]; then echo "skip: a local Slurm cluster needs root (slurmd runs jobs as their user)"; exit 77; fi
for b in slurmctld slurmd munged sbatch squeue sinfo; do
	command -v "$b" >/dev/null 2>&1 || [ -x "/usr/sbin/$b" ] || {
		echo "skip: $b not installed (Debian: slurmctld slurmd slurm-client munge)"; exit 77; }
done
PATH="$PATH:/usr/sbin"

mkdir -p "$dir/state" "$dir/spool" "$dir/log" "$dir/munge"
dir=$(cd "$dir" && pwd)
host=$(hostname -s)

# munge: its own socket and key in DIR, so a system munged (if any) is left alone.
chown munge:munge "$dir/munge"; chmod 700 "$dir/munge"
[ -f "$dir/munge/munge.key" ] || {
	dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 2>/dev/null
	chown munge:munge "$dir/munge/munge.key"; chmod 400 "$dir/munge/munge.key"; }
sock="$dir/munge/munge.socket"
runuser -u munge -- munged --key-file="$dir/munge/munge.key" --socket="$sock" \
	--pid-file="$dir/munge/munged.pid" --log-file="$dir/munge/munged.log" \
	--seed-file="$dir/munge/munged.seed" --force
cp "$dir/munge/munged.pid" "$dir/munged.pid"

cat > "$dir/slurm.conf" <<CONF
ClusterName=svtwin-test
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$sock
CredType=cred/munge
MpiDefault=pmix
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SlurmctldPort=$((16817 + $$ % 1000))
SlurmdPort=$((17818 + $$ % 1000))
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ReturnToService=2
SlurmdParameters=config_overrides
MaxArraySize=10001
KillWait=5
InactiveLimit=0
MinJobAge=600
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=4000 State=UNKNOWN
PartitionName=cpu Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=YES
CONF

export SLURM_CONF="$dir/slurm.conf"
slurmctld -f "$SLURM_CONF"
slurmd -f "$SLURM_CONF"
i=0
until sinfo -h -o %t 2>/dev/null | grep -Eq '^(idle|mix|alloc)'; do
	i=$((i+1))
	if [ $i -gt 150 ]; then
		echo "local-cluster: the node did not come up; logs in $dir/log" >&2
		tail -5 "$dir/log/slurmctld.log" "$dir/log/slurmd.log" >&2 || true
		down; exit 1
	fi
	sleep 0.2
done
echo "export SLURM_CONF=$SLURM_CONF"
