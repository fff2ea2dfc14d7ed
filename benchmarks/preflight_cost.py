"""What the CLI's pre-flight costs: the networks of every shipped config run once on a batch of the data's shape.

    python -m benchmarks.preflight_cost

Each config in a process of its own, as `fit` meets it: its model and data module built as `fit` builds
them (an image folder config gets a folder of 8 generated images; the pre-flight never reads the data),
then `gan_lightning.preflight.check_networks_take_the_data` timed on its first call (what `fit` pays,
first-call set-up of the convolutions included) and as the median of 3 more. Slowest first.
"""

import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.arguments import ROOT


def measure(config: str, folder: str) -> dict:
    """In this process: the first call's seconds and the median of the next three."""
    from gan_lightning.cli import GANCLI
    from gan_lightning.preflight import check_networks_take_the_data

    args = ["--config", config, "--trainer.logger", "false", "--trainer.default_root_dir", folder]
    if "anime" in config:
        args += ["--data.init_args.data_dir", str(Path(folder) / "faces"), "--data.init_args.val_size", "2",
                 "--data.init_args.batch_size", "1"]
    cli = GANCLI(args=args, run=False)
    seconds = []
    for _ in range(4):
        started = time.perf_counter()
        check_networks_take_the_data(cli.model, cli.datamodule)
        seconds.append(time.perf_counter() - started)
    return {"first": seconds[0], "warm": statistics.median(seconds[1:])}


def main() -> None:
    import numpy as np
    from PIL import Image

    with tempfile.TemporaryDirectory() as folder:
        faces = Path(folder) / "faces"
        faces.mkdir()
        for i in range(8):
            pixels = np.random.default_rng(i).integers(0, 255, (64, 64, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(faces / f"{i}.png")
        rows = []
        for config in sorted((ROOT / "configs").glob("*.yaml")):
            out = subprocess.run([sys.executable, "-m", "benchmarks.preflight_cost", "--one", str(config), folder],
                                 cwd=ROOT, capture_output=True, text=True, check=True).stdout
            rows.append((json.loads(out.strip().splitlines()[-1]), config.name))
            print(f"{config.name}: {rows[-1][0]}", file=sys.stderr, flush=True)
    print("| config | first call (ms) | later calls, median of 3 (ms) |\n|---|---|---|")
    for times, name in sorted(rows, key=lambda r: -r[0]["first"]):
        print(f"| `{name}` | {times['first'] * 1000:.0f} | {times['warm'] * 1000:.0f} |")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--one"]:
        print(json.dumps(measure(sys.argv[2], sys.argv[3])))
    else:
        main()
