"""Validation metrics of the headline run, read back from its offline W&B run: points.csv and fid.png.

    python benchmarks/results/emoji-headline-64/points.py RUN_FOLDER   # from the repository root
"""

import csv
import sys
from pathlib import Path

sys.path.insert(0, "tests")
from wandb_offline import read_run  # noqa: E402

from gan_lightning.plots import plt  # noqa: E402

here = Path(__file__).parent
(wandb_dir,) = sorted((Path(sys.argv[1]) / "wandb").glob("offline-run-*"))[-1:]
rows = {}
for row in read_run(wandb_dir)["history"]:
    if "val/fid" in row:  # the validation's numbers; the sample grid comes in a row of its own
        rows[int(row["iteration"])] = {k: v for k, v in row.items() if k.startswith("val/")}
keys = sorted({k for r in rows.values() for k in r})
with open(here / "points.csv", "w", newline="") as f:
    writer = csv.writer(f)
    writer.writerow(["iteration", *keys])
    for it in sorted(rows):
        writer.writerow([it, *(round(rows[it][k], 4) if k in rows[it] else "" for k in keys)])
fig, ax = plt.subplots(figsize=(5, 3.2))
ax.plot(sorted(rows), [rows[i]["val/fid"] for i in sorted(rows)], marker="o")
ax.set_xlabel("generator iterations")
ax.set_ylabel("validation FID")
ax.set_yscale("log")
ax.set_title("wgangp_anime.yaml networks, 64x64 emoji\nFID on emoji features, 2,000 samples", fontsize=9)
fig.tight_layout()
fig.savefig(here / "fid.png", dpi=100)
print(open(here / "points.csv").read())
