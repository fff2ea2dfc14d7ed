#!/bin/bash
# N nodes x M GPUs on SLURM, with Lightning's SLURM environment and requeue on preemption or time-out.
#   sbatch configs/cluster/slurm.sh configs/wgangp_anime.yaml [more fit arguments ...]
# Arguments after the config go to `fit` and override the ones below; sbatch's own options
# override the #SBATCH lines, so the same script serves a CPU node:
#   sbatch --nodes 1 --ntasks-per-node 2 --gres=none --cpus-per-task 1 configs/cluster/slurm.sh \
#       configs/wgangp_gaussian.yaml --trainer.accelerator cpu --trainer.precision 32-true
# Lightning reads the node and task layout from SLURM: --trainer.devices follows --ntasks-per-node
# and --trainer.num_nodes follows --nodes (on GPUs, --gres must give each task its GPU).
# On SIGUSR1 (90 s before the time limit, or `scancel -s USR1 JOB`) the run saves
# hpc_ckpt_<n>.ckpt in its run folder at the end of the iteration in progress and requeues the
# job; the requeued job resumes from it in the same run folder and the same W&B run.
# Python: $PYTHON if set, else .venv's in the submit folder if there is one, else python on PATH.
#SBATCH --job-name=gan_lightning
#SBATCH --nodes=2
#SBATCH --ntasks-per-node=4
#SBATCH --gres=gpu:4
#SBATCH --cpus-per-task=8
#SBATCH --time=24:00:00
#SBATCH --signal=SIGUSR1@90
#SBATCH --requeue
#SBATCH --open-mode=append
#SBATCH --output=runs/slurm-%j.out

set -euo pipefail
CONFIG=${1:-configs/wgangp_anime.yaml}
shift $(( $# > 0 ? 1 : 0 ))
if [[ -z "${PYTHON:-}" && -x .venv/bin/python ]]; then PYTHON=.venv/bin/python; fi
echo "$(date -Is) job ${SLURM_JOB_ID} (restart ${SLURM_RESTART_COUNT:-0}) on ${SLURM_JOB_NODELIST}: fit --config $CONFIG $*"

# The run folder is runs/<objective>-<data>-<SLURM_JOB_ID>: every task and every requeue of this
# job writes into the same folder, and a requeued job resumes from its hpc checkpoint there.
srun "${PYTHON:-python}" -m gan_lightning fit --config "$CONFIG" \
  --trainer.accelerator gpu --trainer.devices "$SLURM_NTASKS_PER_NODE" --trainer.num_nodes "$SLURM_NNODES" \
  --trainer.strategy ddp --trainer.precision bf16-mixed "$@"
