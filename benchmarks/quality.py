"""Quality at equal wall-clock time: every objective and a plain PyTorch loop, on the mode-collapse benchmarks.

    python -m benchmarks.quality --datasets ring8 grid25 --seconds 30
    python -m benchmarks.quality --datasets stackedmnist mnist --seconds 60 -- \\
        --data.init_args.data_dir data/mnist5k --data.init_args.download false --data.init_args.val_size 500
    python -m benchmarks.quality --datasets emoji --seconds 300

Each run trains the shipped `configs/<objective>_<dataset>.yaml` (or `nsgan_<dataset>.yaml --model
<Objective>` where the objective ships no file of its own) through the CLI's classes for
`--seconds` of training (Lightning's `max_time`, no validation on the way), then measures the
final generator with the same `SampleMetrics` that `fit` and `evaluate` use (the config's counts
and feature network) and logs `eval/*` to its W&B run, all runs in one group. Beside them, for
each dataset and seed, a plain PyTorch loop (`benchmarks.plain_loop.PlainLoop`: the non-saturating
loss, copies of the same networks and optimizers, no Lightning) trains for the same seconds and
is measured the same way. Writes `quality.md` (mean ± standard deviation over seeds) and
`quality.csv` (every run) and `quality_<dataset>.png` (bars of the headline metrics) under
`--out`. Arguments after `--` go to every run.
"""

import argparse
import csv
import math
import statistics
import time
from pathlib import Path

import torch

from benchmarks.plain_loop import PlainLoop
from benchmarks.arguments import OBJECTIVES, output_folder, recipe, split_run_arguments
from gan_lightning.cli import GANCLI
from gan_lightning.metrics import SampleMetrics
from gan_lightning.runs import reference_cache_dir

DATASETS = ["gaussian", "ring8", "grid25", "stackedmnist", "mnist", "emoji"]
# The columns of the table, per data set, in order; the first is the headline.
COLUMNS = {"gaussian": ["w1", "ks", "std_err", "precision", "recall"],
           "ring8": ["modes", "high_quality", "mode_kl", "w1", "precision", "recall", "coverage"],
           "grid25": ["modes", "high_quality", "mode_kl", "w1", "precision", "recall", "coverage"],
           "stackedmnist": ["modes", "mode_kl", "fid", "precision", "recall", "density", "coverage"],
           "mnist": ["fid", "classes", "class_kl", "confidence", "precision", "recall", "density", "coverage"],
           "emoji": ["fid", "classes", "min_class_share", "precision", "recall", "coverage", "memorization"]}


def build(objective: str, dataset: str, seed: int, seconds: float, group: str, out: Path, extra: list[str]) -> GANCLI:
    """The run of a shipped config; ``plain`` builds the NS-GAN config's networks and data, without a logger."""
    config, objective_args = recipe("nsgan" if objective == "plain" else objective, dataset)
    args = ["--config", str(config), *objective_args, "--seed_everything", str(seed),
            "--model.init_args.latent.seed", str(seed), "--data.init_args.seed", str(seed),
            "--trainer.default_root_dir", str(out / "runs"), "--run_name", f"{objective}-{dataset}-seed{seed}",
            "--trainer.max_epochs", "-1", "--trainer.max_time", f"00:00:{int(seconds) // 60:02d}:{int(seconds) % 60:02d}",
            "--trainer.limit_val_batches", "0",
            "--trainer.enable_progress_bar", "false", "--trainer.enable_model_summary", "false",
            "--trainer.enable_checkpointing", "false",
            "--trainer.logger", "WandbLogger", "--trainer.logger.dict_kwargs.group", group,
            "--trainer.logger.dict_kwargs.tags", f"[{objective}, {dataset}, quality]"]
    return GANCLI(args=args + extra + (["--trainer.logger", "false"] if objective == "plain" else []), run=False)


def measure(model, datamodule, run_dir: Path) -> dict[str, float]:
    """The final generator through the config's metrics (the defaults for vectors), as `evaluate` does."""
    metrics = model.sample_metrics or SampleMetrics()
    metrics.setup(datamodule, reference_cache_dir(run_dir), model.device)
    values = {k: float(v) for k, v in metrics.evaluate(model, seed=model.latent.seed).items()}
    return {**values, "fakes": metrics.protocol["fakes"], "reals": metrics.protocol["reals"]}


def framework_run(objective, dataset, seed, seconds, group, out, extra) -> dict:
    cli = build(objective, dataset, seed, seconds, group, out, extra)
    started = time.perf_counter()
    cli.trainer.fit(cli.model, cli.datamodule)
    wall = time.perf_counter() - started
    values = measure(cli.model, cli.datamodule, Path(cli.trainer.default_root_dir))
    cli.trainer.logger.log_metrics({f"eval/{k}": v for k, v in values.items()}, step=cli.model.iteration)
    import wandb

    wandb.finish()
    return {**values, "iterations": cli.model.iteration, "fit_s": wall}


def plain_run(dataset, seed, seconds, group, out, extra) -> dict:
    """Plain PyTorch NS-GAN with the networks of `nsgan_<dataset>.yaml`, for the same seconds of training."""
    cli = build("plain", dataset, seed, seconds, group, out / "plain", extra)
    torch.manual_seed(seed)
    cli.datamodule.setup("fit")
    loop = PlainLoop(cli.model, cli.datamodule, torch.device("cpu"), ema=True)
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        loop.step()  # advances loop.iterations and the objective's iteration
    wall = time.perf_counter() - started
    values = measure(loop.objective, cli.datamodule, out / "plain" / "runs" / f"plain-{dataset}-seed{seed}")
    return {**values, "iterations": loop.iterations, "fit_s": wall}


def cell(values: list[float], digits: str = ".4g") -> str:
    """``mean ± standard deviation`` over seeds; infinite values (a KL with no sample in any mode) are counted apart."""
    finite = [float(v) for v in values if math.isfinite(float(v))]
    spread = statistics.stdev(finite) if len(finite) > 1 else 0.0
    text = f"{statistics.mean(finite):{digits}} ± {spread:{'.0f' if digits == '.0f' else '.2g'}}" if finite else "-"
    return text + (f" ({len(values) - len(finite)} inf)" if len(finite) < len(values) else "")


def table(rows: list[dict], dataset: str, seconds: float) -> list[str]:
    columns = COLUMNS[dataset]
    lines = [f"### {dataset}: {seconds:.0f} s of training per run, final generator", "",
             "| objective | seeds | " + " | ".join(columns) + " | generator iterations | fakes / reals |",
             "|" + "---|" * (len(columns) + 4)]
    for objective in dict.fromkeys(r["objective"] for r in rows if r["dataset"] == dataset):
        runs = [r for r in rows if r["dataset"] == dataset and r["objective"] == objective]
        lines.append(f"| {objective} | {len(runs)} | " + " | ".join(cell([r[c] for r in runs]) for c in columns) +
                     f" | {cell([r['iterations'] for r in runs], '.0f')} | {int(runs[0]['fakes'])} / {int(runs[0]['reals'])} |")
    return lines + [""]


def plot(rows: list[dict], dataset: str, path: Path) -> None:
    """Bars of the first three columns per objective: mean over seeds, with each seed as a dot."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    columns = COLUMNS[dataset][:3]
    objectives = list(dict.fromkeys(r["objective"] for r in rows if r["dataset"] == dataset))
    fig, axes = plt.subplots(1, len(columns), figsize=(4 * len(columns), 3.2))
    for ax, column in zip(axes, columns):
        for i, objective in enumerate(objectives):
            values = [float(r[column]) for r in rows if r["dataset"] == dataset and r["objective"] == objective]
            finite = [v for v in values if math.isfinite(v)]
            ax.bar(i, statistics.mean(finite) if finite else 0, color="tab:gray" if objective == "plain" else "tab:blue",
                   alpha=0.6)
            ax.scatter([i] * len(finite), finite, color="black", s=10, zorder=3)
            if len(finite) < len(values):  # a KL with no sample in any mode
                ax.annotate(f"inf x{len(values) - len(finite)}", (i, 0), ha="center", va="bottom", color="tab:red")
        ax.set_xticks(range(len(objectives)), objectives, rotation=30)
        ax.set_title(column)
    fig.suptitle(f"{dataset}: final generator after equal training time (dots: seeds)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def read_rows(path: Path) -> list[dict]:
    """The rows of a ``quality.csv``, numbers as floats."""
    def value(v):
        try:
            return float(v)
        except ValueError:
            return v
    return [{k: value(v) if k not in ("objective", "dataset") else v for k, v in row.items()}
            for row in csv.DictReader(open(path))]


def main(argv=None):
    argv, extra = split_run_arguments(argv)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--objectives", nargs="+", default=list(OBJECTIVES), choices=list(OBJECTIVES))
    parser.add_argument("--datasets", nargs="+", default=["ring8", "grid25"], choices=DATASETS)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--seconds", type=float, default=30, help="training wall-clock time of every run")
    parser.add_argument("--no_plain", action="store_true", help="skip the plain PyTorch loop")
    parser.add_argument("--out", type=Path, default=None, help="output folder (default benchmarks/results/quality-<time>)")
    parser.add_argument("--group", default=None, help="W&B group (default: the output folder's name)")
    parser.add_argument("--table_only", action="store_true", help="rewrite quality.md and plots from --out's quality.csv")
    args = parser.parse_args(argv)
    out = output_folder(args.out, "quality")
    group = args.group or out.name

    rows, started = (read_rows(out / "quality.csv") if args.table_only else []), time.perf_counter()
    for dataset in [] if args.table_only else args.datasets:
        for seed in args.seeds:
            for objective in args.objectives + ([] if args.no_plain else ["plain"]):
                if objective != "plain" and recipe(objective, dataset) is None:
                    print(f"== {objective} on {dataset}: no config, skipped", flush=True)
                    continue
                print(f"== {objective} on {dataset}, seed {seed}", flush=True)
                result = (plain_run(dataset, seed, args.seconds, group, out, extra) if objective == "plain" else
                          framework_run(objective, dataset, seed, args.seconds, group, out, extra))
                rows.append({"objective": objective, "dataset": dataset, "seed": seed, **result})
                print({k: round(v, 4) if isinstance(v, float) else v for k, v in rows[-1].items()}, flush=True)
                keys = list(dict.fromkeys(k for r in rows for k in r))
                with open(out / "quality.csv", "w", newline="") as f:  # rewritten after every run: nothing lost on a crash
                    writer = csv.DictWriter(f, keys)
                    writer.writeheader()
                    writer.writerows(rows)
    datasets = list(dict.fromkeys(r["dataset"] for r in rows))
    lines = [line for dataset in datasets for line in table(rows, dataset, args.seconds)]
    (out / "quality.md").write_text("\n".join(lines))
    for dataset in datasets:
        plot(rows, dataset, out / f"quality_{dataset}.png")
    print("\n".join(lines))
    print(f"wrote {out}/quality.md and quality.csv in {time.perf_counter() - started:.0f} s; W&B group {group!r}")


if __name__ == "__main__":
    main()
