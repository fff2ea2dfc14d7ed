"""Objectives side by side: a matrix of objectives x datasets x seeds on one budget.

    python benchmarks/compare.py --quick                 # 4 objectives x 3 seeds on 1-D Gaussian data, CPU
    python benchmarks/compare.py --datasets mnist anime --iterations 20000 -- --trainer.accelerator gpu

Every run is a W&B run in one group (offline without a login), so the W&B UI overlays them.
Under --out it writes table.md (final and best metric, mean ± std over seeds, wall time,
generator iterations, images/s), points.csv (every validation of every run) and plots of the
metric against generator iterations and against wall time, one line per objective with a band
(min to max over seeds). Arguments after `--` go to every run (e.g. data paths, precision).
"""

import argparse
import csv
import statistics
import sys
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from lightning.pytorch import Callback

from gan_lightning.cli import GANCLI

ROOT = Path(__file__).resolve().parents[1]

OBJECTIVES = ["gan", "nsgan", "wgan", "wgangp", "hinge", "lsgan", "rpgan"]
METRIC = {"gaussian": "val/w1", "mnist": "val/fid", "anime": "val/fid"}


class Recorder(Callback):
    """Keeps (iteration, training wall time, images seen, metrics) at every validation."""

    def __init__(self):
        self.points, self.train_seconds, self._started = [], 0.0, None

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        self._started = time.perf_counter()
        self.batch_size = len(batch)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.train_seconds += time.perf_counter() - self._started

    def on_validation_end(self, trainer, pl_module):  # after the module logged this validation's metrics
        if trainer.sanity_checking:
            return
        metrics = {k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith("val/")}
        self.points.append({"iteration": pl_module.iteration, "wall_s": self.train_seconds,
                            "images": pl_module.iteration * getattr(self, "batch_size", 0), **metrics})


def run(objective: str, dataset: str, seed: int, iterations: int, evals: int, group: str, out: Path, extra: list[str]):
    config = ROOT / "configs" / f"{objective}_{dataset}.yaml"
    interval = max(1, iterations // evals)
    args = ["--config", str(config), "--seed_everything", str(seed), "--trainer.default_root_dir", str(out / "runs"),
            "--run_name", f"{objective}-{dataset}-seed{seed}", "--trainer.enable_progress_bar", "false",
            "--trainer.enable_model_summary", "false",
            "--trainer.logger", "WandbLogger", "--trainer.logger.dict_kwargs.group", group,
            "--trainer.logger.dict_kwargs.tags", f"[{objective}, {dataset}, compare]"]
    if dataset == "gaussian":  # epochs of `interval` iterations, validated at each end
        args += ["--data.init_args.epoch_length", str(interval), "--trainer.max_epochs", str(iterations // interval),
                 "--model.init_args.seed", str(seed), "--data.init_args.seed", str(seed)]
    else:
        args += ["--trainer.max_epochs", "-1", "--trainer.val_check_interval", str(interval),
                 "--trainer.check_val_every_n_epoch", "null", "--model.init_args.seed", str(seed)]
    cli = GANCLI(args=args + extra, run=False)
    if dataset != "gaussian":  # Lightning counts D and G steps: the budget in iterations
        cli.trainer.fit_loop.max_steps = iterations * (cli.model.n_critic + 1)
    recorder = Recorder()
    cli.trainer.callbacks.append(recorder)
    cli.trainer.fit(cli.model, cli.datamodule)
    import wandb

    wandb.finish()
    return recorder


def summarize(rows: list[dict], metric: str) -> list[dict]:
    table = []
    for (objective, dataset) in dict.fromkeys((r["objective"], r["dataset"]) for r in rows):
        runs = {}
        for r in rows:
            if (r["objective"], r["dataset"]) == (objective, dataset) and metric in r:
                runs.setdefault(r["seed"], []).append(r)
        finals = [points[-1][metric] for points in runs.values()]
        bests = [min(p[metric] for p in points) for points in runs.values()]
        walls = [points[-1]["wall_s"] for points in runs.values()]
        images = [points[-1]["images"] / points[-1]["wall_s"] for points in runs.values()]
        std = lambda xs: statistics.stdev(xs) if len(xs) > 1 else 0.0
        table.append({"objective": objective, "dataset": dataset, "seeds": len(runs),
                      "final": f"{statistics.mean(finals):.4f} ± {std(finals):.4f}",
                      "best": f"{statistics.mean(bests):.4f} ± {std(bests):.4f}",
                      "wall time (s)": f"{statistics.mean(walls):.1f}",
                      "generator iterations": max(points[-1]["iteration"] for points in runs.values()),
                      "images/s": f"{statistics.mean(images):.0f}"})
    return table


def plot(rows: list[dict], metric: str, x: str, path: Path, dataset: str) -> None:
    fig, ax = plt.subplots(figsize=(6, 4))
    for objective in dict.fromkeys(r["objective"] for r in rows if r["dataset"] == dataset):
        by_seed = {}
        for r in rows:
            if r["objective"] == objective and r["dataset"] == dataset and metric in r:
                by_seed.setdefault(r["seed"], []).append(r)
        curves = [sorted(points, key=lambda p: p["iteration"]) for points in by_seed.values()]
        n = min(len(c) for c in curves)
        xs = [statistics.mean(c[i][x] for c in curves) for i in range(n)]
        ys = [[c[i][metric] for c in curves] for i in range(n)]
        line, = ax.plot(xs, [statistics.mean(v) for v in ys], label=objective)
        ax.fill_between(xs, [min(v) for v in ys], [max(v) for v in ys], alpha=0.2, color=line.get_color())
    ax.set_xlabel({"iteration": "generator iterations", "wall_s": "training wall time (s)"}[x])
    ax.set_ylabel(metric)
    ax.set_yscale("log")
    ax.set_title(f"{dataset}: mean over seeds, band = min..max")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    extra = argv[argv.index("--") + 1:] if "--" in argv else []
    argv = argv[:argv.index("--")] if "--" in argv else argv
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="the Gaussian matrix: 4 objectives x 3 seeds, 1,500 iterations")
    parser.add_argument("--objectives", nargs="+", default=OBJECTIVES, choices=OBJECTIVES)
    parser.add_argument("--datasets", nargs="+", default=["gaussian"], choices=sorted(METRIC))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--iterations", type=int, default=1500, help="generator iterations per run (the budget)")
    parser.add_argument("--evals", type=int, default=10, help="validations per run")
    parser.add_argument("--out", type=Path, default=None, help="output folder (default benchmarks/results/compare-<time>)")
    parser.add_argument("--group", default=None, help="W&B group (default: the output folder's name)")
    args = parser.parse_args(argv)
    if args.quick:
        args.datasets, args.iterations = ["gaussian"], 1500
    out = (args.out or ROOT / "benchmarks" / "results" / f"compare-{time.strftime('%Y%m%d-%H%M%S')}").resolve()
    out.mkdir(parents=True, exist_ok=True)
    group = args.group or out.name

    rows, started = [], time.perf_counter()
    for dataset in args.datasets:
        for objective in args.objectives:
            if not (ROOT / "configs" / f"{objective}_{dataset}.yaml").is_file():
                print(f"== {objective} on {dataset}: no configs/{objective}_{dataset}.yaml, skipped", flush=True)
                continue
            for seed in args.seeds:
                print(f"== {objective} on {dataset}, seed {seed}", flush=True)
                recorder = run(objective, dataset, seed, args.iterations, args.evals, group, out, extra)
                rows += [{"objective": objective, "dataset": dataset, "seed": seed, **p} for p in recorder.points]

    keys = list(dict.fromkeys(k for r in rows for k in r))
    with open(out / "points.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, keys)
        writer.writeheader()
        writer.writerows(rows)
    lines = []
    for dataset in args.datasets:
        metric = METRIC[dataset]
        table = summarize([r for r in rows if r["dataset"] == dataset], metric)
        lines += [f"### {dataset}: {metric} (lower is better), {args.iterations} generator iterations", "",
                  "| " + " | ".join(table[0]) + " |", "|" + "---|" * len(table[0])]
        lines += ["| " + " | ".join(str(v) for v in row.values()) + " |" for row in table] + [""]
        for x in ("iteration", "wall_s"):
            plot(rows, metric, x, out / f"{dataset}_{metric.split('/')[1]}_vs_{x}.png", dataset)
    (out / "table.md").write_text("\n".join(lines))
    print("\n".join(lines))
    print(f"wrote {out}/table.md, points.csv and plots in {time.perf_counter() - started:.0f} s; W&B group {group!r}")


if __name__ == "__main__":
    main()
