#!/usr/bin/env bash
# GPU checks in one go: WGAN-GP's anime DCGANs at 64x64 and SNGAN's ResNets at 32x32, in float32, 16-mixed and
# bf16-mixed, at batch 64 (torch.compile off and on) and 256, images per second against a plain PyTorch loop of
# the same precision, peak memory; prints a markdown table and writes it to benchmarks/results/gpu-check-<time>/table.md.
#   bash benchmarks/gpu_check.sh [--iterations 200] [--batch_sizes 64 256] [--configs wgangp_anime sngan_cifar10]
# The rows it runs with these defaults have not been timed together on a GPU yet (the earlier 9 rows at 300
# iterations took about 8 minutes on an H100): give the first run --configs wgangp_anime, or fewer iterations.
# Needs a CUDA GPU and the package installed (.venv, or python on PATH); no internet, no dataset:
# it makes 4,096 random 96x96 PNG images (the content does not matter for these checks; GPU_CHECK_IMAGES sets
# how many: batches of 256 x 5 take 1,280 an iteration).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python )}
DATA=${GPU_CHECK_DATA:-$(mktemp -d)/images}
"$PYTHON" - "$DATA" "${GPU_CHECK_IMAGES:-4096}" <<'PY'
import sys
from pathlib import Path
import numpy as np
from PIL import Image
folder = Path(sys.argv[1]); folder.mkdir(parents=True, exist_ok=True)
rng = np.random.default_rng(0)
for i in range(int(sys.argv[2])):
    if not (folder / f"{i:05d}.png").exists():
        small = rng.integers(0, 256, (12, 12, 3), dtype=np.uint8)
        Image.fromarray(small).resize((96, 96), Image.BICUBIC).save(folder / f"{i:05d}.png")
PY
"$PYTHON" -c "import torch; print(torch.__version__, torch.cuda.get_device_name() if torch.cuda.is_available() else 'no CUDA')"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>/dev/null || true
exec timeout 570 "$PYTHON" -m benchmarks.gpu_check --data_dir "$DATA" "$@"
