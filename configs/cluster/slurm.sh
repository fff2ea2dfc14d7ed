#!/bin/bash
# N nodes x M GPUs on SLURM, with Lightning's SLURM environment and auto-requeue on preemption.
#   sbatch configs/cluster/slurm.sh configs/wgangp_anime.yaml
# Lightning reads the node and task layout from SLURM: --ntasks-per-node must equal --gres GPUs
# and --trainer.devices, and --nodes must equal --trainer.num_nodes.
#SBATCH --job-name=gan_lightning
#SBATCH --nodes=2
#SBATCH --ntasks-per-node=4
#SBATCH --gres=gpu:4
#SBATCH --cpus-per-task=8
#SBATCH --time=24:00:00
#SBATCH --signal=SIGUSR1@90          # Lightning saves hpc_ckpt_*.ckpt and requeues the job on this signal
#SBATCH --requeue
#SBATCH --output=runs/slurm-%j.out

set -euo pipefail
CONFIG=${1:-configs/wgangp_anime.yaml}
source .venv/bin/activate

# The run folder is runs/<objective>-<data>-<SLURM_JOB_ID>: every task and every requeue of this
# job writes into the same folder, and a requeued job resumes from its hpc checkpoint there.
srun python -m gan_lightning fit --config "$CONFIG" \
  --trainer.accelerator gpu --trainer.devices "$SLURM_NTASKS_PER_NODE" --trainer.num_nodes "$SLURM_NNODES" \
  --trainer.strategy ddp --trainer.precision bf16-mixed
