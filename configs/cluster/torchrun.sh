#!/bin/bash
# Several nodes without SLURM: run this on every node, with NODE_RANK 0..NNODES-1 and the
# address of node 0. Every node needs the same --run_name (or torchrun --rdzv_id) and a shared
# file system under runs/, so that all of them write into one run folder.
#   NNODES=2 NODE_RANK=0 MASTER_ADDR=10.0.0.1 GPUS=8 bash configs/cluster/torchrun.sh configs/wgangp_anime.yaml my-run
set -euo pipefail
CONFIG=${1:-configs/wgangp_anime.yaml}
RUN_NAME=${2:?give a run name shared by all nodes}
torchrun --nnodes "${NNODES:-2}" --node_rank "${NODE_RANK:?}" --nproc_per_node "${GPUS:-1}" \
  --master_addr "${MASTER_ADDR:?}" --master_port "${MASTER_PORT:-29500}" \
  -m gan_lightning fit --config "$CONFIG" --run_name "$RUN_NAME" \
  --trainer.num_nodes "${NNODES:-2}" --trainer.devices "${GPUS:-1}" --trainer.strategy ddp --trainer.precision bf16-mixed
