#!/bin/bash
# A comparison grid on SLURM: one array task a cell, requeued on preemption or time-out, and a gather job
# that writes the table and the W&B summary once every task has ended. Run it on the login node (not
# through sbatch) with the arguments of `python -m gan_lightning compare`:
#   bash configs/cluster/compare_array.sh configs/nsgan_cifar10.yaml configs/wgangp_cifar10.yaml \
#       --seeds 0 1 2 --out runs/compare-cifar10
# $COMPARE_SBATCH holds sbatch options for both jobs, e.g. a partition or a CPU node's layout:
#   COMPARE_SBATCH="--partition short --gres=none --time 30" bash configs/cluster/compare_array.sh ...
# Each task runs `compare --cell $SLURM_ARRAY_TASK_ID`: a cell finished before is skipped, an interrupted one
# resumes from its own newest checkpoint. On SIGUSR1 (90 s before the time limit, or `scancel -s USR1`)
# the task's fit saves hpc_ckpt_<n>.ckpt in the cell's run folder and requeues the task, which resumes
# from it. Rerunning this script after a failure submits the grid again and runs only what is unfinished.
# Python: $PYTHON if set, else .venv's in the submit folder if there is one, else python on PATH.
#SBATCH --job-name=gan_lightning-compare
#SBATCH --ntasks=1
#SBATCH --gres=gpu:1
#SBATCH --cpus-per-task=8
#SBATCH --time=24:00:00
#SBATCH --signal=SIGUSR1@90
#SBATCH --requeue
#SBATCH --open-mode=append
#SBATCH --output=slurm-compare-%A_%a.out

set -euo pipefail
if [[ -z "${PYTHON:-}" && -x .venv/bin/python ]]; then PYTHON=.venv/bin/python; fi
PYTHON=${PYTHON:-python}

if [[ -z "${SLURM_JOB_ID:-}" ]]; then  # on the login node: check the grid, then submit it
  CELLS=$("$PYTHON" -m gan_lightning compare --dry_run "$@" | grep -c '^cell ')
  # shellcheck disable=SC2086  # COMPARE_SBATCH is a list of options
  ARRAY=$(sbatch --parsable ${COMPARE_SBATCH:-} --array="0-$((CELLS - 1))" "$0" "$@")
  # shellcheck disable=SC2086
  GATHER=$(sbatch --parsable ${COMPARE_SBATCH:-} --dependency="afterany:${ARRAY%%;*}" \
    --export=ALL,COMPARE_GATHER=1 --output=slurm-compare-%j-gather.out "$0" "$@")
  echo "submitted $CELLS cells as array job ${ARRAY%%;*} and the gather as job ${GATHER%%;*}"
  exit 0
fi

if [[ -n "${COMPARE_GATHER:-}" ]]; then
  echo "$(date -Is) gather job ${SLURM_JOB_ID}"
  exec "$PYTHON" -m gan_lightning compare --gather "$@"
fi
echo "$(date -Is) cell ${SLURM_ARRAY_TASK_ID} of array ${SLURM_ARRAY_JOB_ID} (restart ${SLURM_RESTART_COUNT:-0})"
# srun: SLURM signals the processes of a job step, and the cell's fit is one of them.
exec srun "$PYTHON" -m gan_lightning compare --cell "$SLURM_ARRAY_TASK_ID" "$@"
