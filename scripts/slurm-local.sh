#!/usr/bin/env bash
# A single-node Slurm cluster on this machine, for the test that runs a
# sweep's job array through real sbatch/squeue/scontrol.
#
#   scripts/slurm-local.sh start DIR   installs Debian's slurmctld, slurmd,
#                                      slurm-client and munge if missing,
#                                      writes DIR/dlwb-local-slurm.conf, starts munged,
#                                      slurmctld and slurmd, waits for the
#                                      node to be idle; prints
#                                      `SLURM_CONF=DIR/dlwb-local-slurm.conf`.
#   scripts/slurm-local.sh stop DIR    stops them.
#
# Needs root (slurmd starts jobs as their user). No accounting; process
# tracking by /proc (no cgroups in containers); state and spool under DIR.
set -euo pipefail

cmd=${1:?start or stop}
dir=$(realpath -m "${2:?a folder for the cluster state}")

stop() {
    for d in slurmd slurmctld; do
        if [ -f "$dir/$d.pid" ]; then
            kill "$(cat "$dir/$d.pid")" 2>/dev/null || true
        fi
    done
    # Any cluster this script started (one at a time: the ports are fixed).
    pkill -f "dlwb-local-slurm.conf" 2>/dev/null || true
    sleep 0.5
}

if [ "$cmd" = stop ]; then
    stop
    exit 0
fi

need=()
for b in slurmctld:slurmctld slurmd:slurmd sbatch:slurm-client munged:munge; do
    command -v "${b%%:*}" >/dev/null 2>&1 || need+=("${b#*:}")
done
if [ ${#need[@]} -gt 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

mkdir -p "$dir/state" "$dir/spool" "$dir/log"
cpus=$(nproc)
mem=$(awk '/MemTotal/ {print int($2 / 1024 * 0.8)}' /proc/meminfo)
cat >"$dir/dlwb-local-slurm.conf" <<CONF
ClusterName=dlwb-local
SlurmctldHost=localhost(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MpiDefault=none
ReturnToService=2
SlurmctldPort=16817
SlurmdPort=16818
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
MinJobAge=300
KillWait=10
Waittime=0
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
CONF

# munged: its key, and /run/munge for its socket (mode 755).
mkdir -p /run/munge /var/log/munge /var/lib/munge /etc/munge
chmod 755 /run/munge
if [ ! -s /etc/munge/munge.key ]; then
    dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
fi
chown -R munge:munge /etc/munge /var/log/munge /var/lib/munge /run/munge 2>/dev/null || true
chmod 400 /etc/munge/munge.key
if ! munge -n >/dev/null 2>&1; then
    if id munge >/dev/null 2>&1; then
        su -s /bin/sh munge -c munged || munged --force
    else
        munged --force
    fi
fi
munge -n >/dev/null || { echo "munged did not start" >&2; exit 1; }

stop
export SLURM_CONF="$dir/dlwb-local-slurm.conf"
slurmctld -f "$SLURM_CONF" -i
slurmd -f "$SLURM_CONF" -N localhost
for _ in $(seq 1 60); do
    state=$(sinfo -h -n localhost -o %t 2>/dev/null || true)
    case "$state" in
        idle* | mix* | alloc*) echo "SLURM_CONF=$SLURM_CONF"; exit 0 ;;
    esac
    sleep 1
done
echo "the local Slurm node did not come up (state: ${state:-none}); see $dir/log" >&2
tail -5 "$dir/log/slurmctld.log" "$dir/log/slurmd.log" >&2 || true
exit 1
