set -e
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1
python3 - /tmp/imgs <<'PY'
import sys
from pathlib import Path
import numpy as np
from PIL import Image
folder = Path(sys.argv[1]); folder.mkdir(parents=True, exist_ok=True)
rng = np.random.default_rng(0)
for i in range(8192):
    small = rng.integers(0, 256, (12, 12, 3), dtype=np.uint8)
    Image.fromarray(small).resize((96, 96), Image.BICUBIC).save(folder / f"{i:05d}.png")
PY
timeout 420 python3 .scratch/gpu_overhead.py /tmp/imgs 2>&1 | grep -v -E "LightningCLI's args|_pytree|many workers|warnings.warn|TensorFloat32"
