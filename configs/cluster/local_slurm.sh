#!/bin/bash
# A throw-away one-node SLURM on this machine (munged, slurmctld, slurmd on localhost), to try
# configs/cluster/slurm.sh without a cluster; tests/test_slurm.py uses it.
#   bash configs/cluster/local_slurm.sh start /tmp/slurm     # then: export SLURM_CONF=/tmp/slurm/slurm.conf
#   sbatch --nodes 1 --ntasks-per-node 2 --gres=none --cpus-per-task 1 configs/cluster/slurm.sh \
#       configs/wgangp_gaussian.yaml --trainer.accelerator cpu --trainer.precision 32-true
#   bash configs/cluster/local_slurm.sh stop /tmp/slurm
# Needs root (slurmd starts jobs as their users) and Debian's packages: apt-get install -y slurm-wlm munge.
# Exits 3, with one line saying why, when SLURM cannot start here.
set -uo pipefail
ACTION=${1:-}
DIR=${2:-}
if [[ "$ACTION" != start && "$ACTION" != stop || -z "$DIR" ]]; then
  echo "usage: $0 start|stop DIR" >&2
  exit 2
fi
DIR=$(mkdir -p "$DIR" && cd "$DIR" && pwd)

stop() {
  for daemon in slurmd slurmctld munged; do
    pid=$(cat "$DIR/$daemon.pid" 2>/dev/null) || continue
    kill "$pid" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    rm -f "$DIR/$daemon.pid"
  done
}

if [[ "$ACTION" == stop ]]; then
  stop
  exit 0
fi

if [[ $(id -u) != 0 ]]; then
  echo "local_slurm.sh: cannot start SLURM: needs root (slurmd starts jobs as their users), running as $(id -un)" >&2
  exit 3
fi
missing=()
for tool in munged slurmctld slurmd sbatch srun scontrol sinfo; do
  command -v "$tool" >/dev/null || missing+=("$tool")
done
if (( ${#missing[@]} )); then
  echo "local_slurm.sh: cannot start SLURM: ${missing[*]} not found; install them with: apt-get install -y slurm-wlm munge" >&2
  exit 3
fi

stop  # a previous start in the same folder
mkdir -p "$DIR/state" "$DIR/spool" "$DIR/munge"
chmod 700 "$DIR/munge"
[[ -f "$DIR/munge/munge.key" ]] || { head -c 1024 /dev/urandom > "$DIR/munge/munge.key"; chmod 400 "$DIR/munge/munge.key"; }
munged --force --key-file "$DIR/munge/munge.key" --socket "$DIR/munge/munge.socket" \
  --pid-file "$DIR/munged.pid" --log-file "$DIR/munged.log" --seed-file "$DIR/munge/munge.seed" || {
  echo "local_slurm.sh: cannot start SLURM: munged failed: $(tail -n 1 "$DIR/munged.log" 2>/dev/null)" >&2; exit 3; }

NODE=$(hostname -s)
CPUS=$(env -u OMP_NUM_THREADS -u OMP_THREAD_LIMIT nproc)  # nproc alone follows OMP_NUM_THREADS (1 in the tests)
cat > "$DIR/slurm.conf" <<CONF
ClusterName=local
SlurmctldHost=$NODE(127.0.0.1)
SlurmUser=root
SlurmdUser=root
SlurmctldPort=${SLURMCTLD_PORT:-6817}
SlurmdPort=${SLURMD_PORT:-6818}
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$DIR/munge/munge.socket
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/slurmctld.log
SlurmdLogFile=$DIR/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
JobRequeue=1
KillWait=10
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$CPUS State=UNKNOWN
PartitionName=local Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF="$DIR/slurm.conf"
slurmctld -f "$SLURM_CONF" || { echo "local_slurm.sh: cannot start SLURM: slurmctld failed: $(tail -n 1 "$DIR/slurmctld.log" 2>/dev/null)" >&2; stop; exit 3; }
slurmd -f "$SLURM_CONF" -N "$NODE" || { echo "local_slurm.sh: cannot start SLURM: slurmd failed: $(tail -n 1 "$DIR/slurmd.log" 2>/dev/null)" >&2; stop; exit 3; }
for _ in $(seq 100); do
  if sinfo -h -N -o %t 2>/dev/null | grep -qx idle; then
    echo "SLURM is up: export SLURM_CONF=$SLURM_CONF"
    exit 0
  fi
  sleep 0.2
done
echo "local_slurm.sh: cannot start SLURM: the node did not become idle in 20 s: $(tail -n 1 "$DIR/slurmd.log" 2>/dev/null)" >&2
stop
exit 3
