"""Objectives side by side: every objective, with and without its regularizer, x datasets x seeds.

The tables of benchmarks/RESULTS.md that predate `python -m gan_lightning compare` (the package's command,
docs/compare.md: any configs, resumable, SLURM arrays) were made with this script; it adds what that command
does not do yet: the `toggled` variant, chosen per config, and a second measurement of the checkpoint the
config's monitor picked.

    python -m benchmarks.compare --datasets gaussian                  # 7 objectives x 3 seeds, as shipped
    python -m benchmarks.compare --datasets ring8 grid25 --variants shipped toggled
    python -m benchmarks.compare --datasets mnist --seconds 210 -- \\
        --data.init_args.data_dir data/mnist5k --data.init_args.download false --data.init_args.val_size 500

Each run trains `configs/<objective>_<dataset>.yaml` (or, for an objective that ships no file of its own there,
`configs/nsgan_<dataset>.yaml --model <Objective>`) through the CLI's classes: by default for the
budget the config itself sets (`--iterations` or `--seconds` override it), validating as the config
says. Variants: `shipped` is the config as it is; `toggled` is the same config with its
regularizers removed, or, when it has none, with R1 added (gamma from `R1_GAMMA`), so each
objective is seen with and without its recommended regularizer.

After training, the run's `last.ckpt` is loaded and measured once more on more samples than
validation uses (`FINAL`): on the 1-D Gaussian, 10,000 generated against 10,000 held-out samples,
W1 divided by the data's sigma. When the run validated, the checkpoint its config's
`checkpoint.monitor` picked is measured the same way (columns `picked_*`), on noise no validation
drew: the pick was made on the validation noise, so measuring it there would flatter it.
Every run is a W&B run in one group (offline without a login).
Under `--out` it writes table.md (final and best values, mean with a 95% t-interval over seeds,
and the ratio of the last validation to the best one: near 1 when training settles), runs.csv
(one row a run), points.csv (every validation) and plots of the validation metric against
generator iterations and wall time, one line per objective and variant with a min..max band.
Arguments after `--` go to every run. `--table_only` rewrites table and plots from `--out`.
"""

import argparse
import csv
import json
import math
import statistics
import time
from pathlib import Path

import yaml
from lightning.pytorch import Callback

from benchmarks.arguments import OBJECTIVES, output_folder, recipe, split_run_arguments
from gan_lightning.cli import GANCLI
from gan_lightning.compare import interval, write_csv
from gan_lightning.metrics import SampleMetrics
from gan_lightning.runs import reference_cache_dir
from gan_lightning.sample import load_model


RECIPES = [*OBJECTIVES, "best"]  # best: configs/best_<dataset>.yaml, the recommended recipe
DATASETS = ["gaussian", "ring8", "grid25", "stackedmnist", "mnist", "emoji"]
# The validation metric each data set is judged by, and whether lower is better.
METRIC = {"gaussian": ("val/w1", "min"), "ring8": ("val/modes", "max"), "grid25": ("val/modes", "max"),
          "stackedmnist": ("val/mode_kl", "min"), "mnist": ("val/fid", "min"),
          "emoji": ("val/fid", "min")}  # as the configs' checkpoint.monitor
# The final measurement: generated samples, held-out reference size (None: the config's), columns shown.
FINAL = {"gaussian": (10_000, 10_000, ["w1_sigma", "ks", "std_err"]),
         "ring8": (None, None, ["modes", "high_quality", "mode_kl", "w1"]),
         "grid25": (None, None, ["modes", "high_quality", "mode_kl", "w1"]),
         "stackedmnist": (10_000, None, ["modes", "mode_kl", "fid"]),
         "mnist": (None, None, ["fid", "classes", "class_kl", "precision", "recall"]),
         "emoji": (10_000, None, ["fid", "precision", "recall", "classes", "min_class_share", "memorization",
                                  "memorization_reals"])}
R1_GAMMA = {"gaussian": 0.1, "ring8": 0.1, "grid25": 0.1, "stackedmnist": 0.1, "mnist": 0.1, "emoji": 0.1}


class Recorder(Callback):
    """Keeps (iteration, training wall time, metrics) at every validation."""

    def __init__(self):
        self.points, self.train_seconds, self._started = [], 0.0, None

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        self._started = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.train_seconds += time.perf_counter() - self._started

    def on_validation_end(self, trainer, pl_module):  # after the module logged this validation's metrics
        if trainer.sanity_checking:
            return
        metrics = {k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith("val/")}
        self.points.append({"iteration": pl_module.iteration, "wall_s": self.train_seconds, **metrics})


def model_section(config: Path) -> dict:
    """The ``model`` section of a config file (class_path, init_args)."""
    return yaml.safe_load(config.read_text())["model"]


def ships_regularizers(config: Path) -> bool:
    return bool(model_section(config)["init_args"].get("regularizers"))


def variant_args(variant: str, config: Path, dataset: str) -> list[str]:
    """The overrides of a variant; ``None`` when the variant is the shipped config itself."""
    if variant == "shipped":
        return []
    regularizers = [] if ships_regularizers(config) else [{"class_path": "gan_lightning.regularizers.R1",
                                                 "init_args": {"gamma": R1_GAMMA[dataset]}}]
    return ["--model.init_args.regularizers", json.dumps(regularizers)]


def variant_name(variant: str, config: Path) -> str:
    if variant == "shipped":
        return "shipped"
    return "no regularizer" if ships_regularizers(config) else "+R1"


def budget_args(config: Path, iterations: int | None, seconds: float | None, val_every: int | None) -> list[str]:
    """Overrides of the config's budget: generator iterations or training seconds, and the validation interval."""
    args = []
    if seconds is not None:
        s = int(seconds)
        args += ["--trainer.max_epochs", "-1", "--trainer.max_time", f"00:{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}"]
    if iterations is not None:
        args += ["--iterations", str(iterations)]  # the CLI counts them with the run's own n_critic (and the decay)
    if val_every is not None:
        args += ["--trainer.val_check_interval", str(val_every), "--trainer.check_val_every_n_epoch", "null"]
    return args


PICKED_NOISE = 104_729  # added to the run's seed for the picked checkpoint's noise: no validation drew it


def final_measurements(checkpoints: list[tuple[Path, int]], datamodule, dataset: str,
                       run_dir: Path) -> list[dict[str, float]]:
    """Checkpoints of one run, each ``(path, noise_offset)``, measured on ``FINAL``'s counts as `evaluate` does,
    with the noise of the run's seed + its offset; the held-out sample and its features are set up once."""
    models = [load_model(path, "cpu") for path, _ in checkpoints]
    fakes, reals, _ = FINAL[dataset]
    if reals is not None:  # a larger held-out sample than validation uses; generated data has a val_size
        hparams = {k: v for k, v in datamodule.hparams.items() if not k.startswith("_")}
        datamodule = type(datamodule)(**{**hparams, "val_size": reals})
    datamodule.setup("validate")
    base = models[0].sample_metrics
    metrics = SampleMetrics(feature=base.feature if base else "mnist", weights_path=base.weights_path if base else None,
                            num_samples=fakes or (base.num_samples if base else None),
                            metrics=["w1", "ks", "mean_err", "std_err"] if dataset == "gaussian" else None,
                            memorization=base.memorization if base else False)
    metrics.setup(datamodule, reference_cache_dir(run_dir), "cpu")
    results = []
    for model, (_, noise_offset) in zip(models, checkpoints):
        values = {k: float(v) for k, v in metrics.evaluate(model, seed=model.latent.seed + noise_offset).items()}
        if dataset == "gaussian":
            values["w1_sigma"] = values["w1"] / float(datamodule.hparams.sigma)
        results.append({**values, "fakes": metrics.protocol["fakes"], "reals": metrics.protocol["reals"],
                        "iterations": model.iteration})
    return results


def run(objective: str, variant: str, dataset: str, seed: int, budget: list[str], group: str, out: Path,
        extra: list[str]) -> tuple[dict, list[dict]]:
    config, objective_args = recipe(objective, dataset)
    name = f"{objective}-{variant}-{dataset}-seed{seed}"
    args = ["--config", str(config), *objective_args, "--seed_everything", str(seed), "--model.init_args.latent.seed", str(seed),
            "--data.init_args.seed", str(seed), "--trainer.default_root_dir", str(out / "runs"), "--run_name", name,
            "--trainer.enable_progress_bar", "false", "--trainer.enable_model_summary", "false",
            "--trainer.logger", "WandbLogger", "--trainer.logger.dict_kwargs.group", group,
            "--trainer.logger.dict_kwargs.tags", f"[{objective}, {variant}, {dataset}, compare]"]
    cli = GANCLI(args=args + variant_args(variant, config, dataset) + budget + extra, run=False)
    recorder = Recorder()
    cli.trainer.callbacks.append(recorder)
    started = time.perf_counter()
    cli.trainer.fit(cli.model, cli.datamodule)
    fit_s = time.perf_counter() - started
    run_dir = Path(cli.trainer.default_root_dir)
    checkpoint = cli.trainer.checkpoint_callback
    checkpoints = [(Path(checkpoint.last_model_path), 0)]
    if checkpoint.best_model_path:  # the run validated: the checkpoint its monitor picked, on fresh noise
        checkpoints.append((Path(checkpoint.best_model_path), PICKED_NOISE))
    final, *picked = final_measurements(checkpoints, cli.datamodule, dataset, run_dir)
    for measured in picked:
        final.update({f"picked_{k}": measured[k] for k in FINAL[dataset][2] + ["iterations"]})
        final["picked_by"] = checkpoint.monitor
    cli.trainer.logger.log_metrics({f"final/{k}": v for k, v in final.items()}, step=cli.model.iteration)
    import wandb

    wandb.finish()
    best, last = best_and_last(recorder.points, dataset)
    row = {"objective": objective, "variant": variant_name(variant, config), "dataset": dataset, "seed": seed,
           **final, "best_val": best, "last_val": last, "fit_s": fit_s, "run_dir": str(run_dir)}
    return row, [{"objective": objective, "variant": row["variant"], "dataset": dataset, "seed": seed, **p}
                 for p in recorder.points]


def best_and_last(points: list[dict], dataset: str) -> tuple[float, float]:
    """The best and the last of one run's validations of ``METRIC[dataset]``; nan when it never validated."""
    metric, better = METRIC[dataset]
    values = [float(p[metric]) for p in points if p.get(metric) not in (None, "")]
    if not values:
        return math.nan, math.nan
    return (min if better == "min" else max)(values), values[-1]


def by_variant(rows: list[dict]) -> list[tuple[tuple[str, str], list[dict]]]:
    """Rows grouped by (objective, variant), in the order they first appear."""
    keys = dict.fromkeys((r["objective"], r["variant"]) for r in rows)
    return [(key, [r for r in rows if (r["objective"], r["variant"]) == key]) for key in keys]


def table(rows: list[dict], dataset: str) -> list[str]:
    metric, better = METRIC[dataset]
    columns = FINAL[dataset][2]
    fakes, reals = int(rows[0]["fakes"]), int(rows[0]["reals"])
    lines = [f"### {dataset}: final = last.ckpt on {fakes} generated vs {reals} held-out samples; "
             f"{metric} over the run's validations ({better} is best)", "",
             "| objective | variant | seeds | " + " | ".join(f"final {c}" for c in columns) +
             f" | best {metric} | last / best | generator iterations | train s |",
             "|" + "---|" * (len(columns) + 7)]
    for key, runs in by_variant(rows):
        ratios = [r["last_val"] / r["best_val"] if r["best_val"] else math.nan for r in runs]
        lines.append(f"| {key[0]} | {key[1]} | {len(runs)} | " +
                     " | ".join(interval([r[c] for r in runs]) for c in columns) +
                     f" | {interval([r['best_val'] for r in runs])} | {interval(ratios)} | "
                     f"{interval([r['iterations'] for r in runs], '.0f')} | {interval([r['fit_s'] for r in runs], '.0f')} |")
    picked = [r for r in rows if r.get("picked_by") not in (None, "")]
    if picked:
        lines += ["", "The checkpoint each run's `checkpoint.monitor` picked, measured as last.ckpt is, on noise no validation drew:",
                  "", "| objective | variant | seeds | picked by | " + " | ".join(f"picked {c}" for c in columns) +
                  " | at generator iteration |", "|" + "---|" * (len(columns) + 5)]
        for key, runs in by_variant(picked):
            lines.append(f"| {key[0]} | {key[1]} | {len(runs)} | {runs[0]['picked_by']} | " +
                         " | ".join(interval([r[f"picked_{c}"] for r in runs]) for c in columns) +
                         f" | {interval([r['picked_iterations'] for r in runs], '.0f')} |")
    return lines + [""]


def plot(points: list[dict], dataset: str, x: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metric, _ = METRIC[dataset]
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for key in dict.fromkeys((p["objective"], p["variant"]) for p in points if p["dataset"] == dataset):
        by_seed = {}
        for p in points:
            if (p["objective"], p["variant"]) == key and p["dataset"] == dataset and p.get(metric) not in (None, ""):
                by_seed.setdefault(p["seed"], []).append(p)
        if not by_seed:
            continue
        curves = [sorted(c, key=lambda p: float(p["iteration"])) for c in by_seed.values()]
        n = min(len(c) for c in curves)
        xs = [statistics.mean(float(c[i][x]) for c in curves) for i in range(n)]
        ys = [[float(c[i][metric]) for c in curves] for i in range(n)]
        line, = ax.plot(xs, [statistics.mean(v) for v in ys], label=f"{key[0]} ({key[1]})",
                        linestyle="-" if key[1] == "shipped" else "--", marker="o" if n < 4 else None)  # one point: a dot
        ax.fill_between(xs, [min(v) for v in ys], [max(v) for v in ys], alpha=0.15, color=line.get_color())
    ax.set_xlabel({"iteration": "generator iterations", "wall_s": "training wall time (s)"}[x])
    ax.set_ylabel(metric)
    if metric in ("val/w1", "val/fid"):
        ax.set_yscale("log")
    ax.set_title(f"{dataset}: mean over seeds, band = min..max")
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def read_csv(path: Path) -> list[dict]:
    def value(v):
        try:
            return float(v)
        except ValueError:
            return v
    text = ("objective", "variant", "dataset", "run_dir", "picked_by")
    return [{k: v if k in text else value(v) for k, v in row.items()} for row in csv.DictReader(open(path))]


def main(argv=None):
    argv, extra = split_run_arguments(argv)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--objectives", nargs="+", default=list(OBJECTIVES), choices=RECIPES,
                        help="objectives (configs/<objective>_<dataset>.yaml, else nsgan_<dataset>.yaml --model <Objective>); "
                             "best: configs/best_<dataset>.yaml, else NS-GAN's")
    parser.add_argument("--datasets", nargs="+", default=["gaussian"], choices=DATASETS)
    parser.add_argument("--variants", nargs="+", default=["shipped"], choices=["shipped", "toggled"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--iterations", type=int, default=None, help="generator iterations per run (default: the config's)")
    parser.add_argument("--seconds", type=float, default=None, help="training seconds per run (default: the config's budget)")
    parser.add_argument("--val_every", type=int, default=None, help="validate every N iterations (default: the config's)")
    parser.add_argument("--out", type=Path, default=None, help="output folder (default benchmarks/results/compare-<time>)")
    parser.add_argument("--group", default=None, help="W&B group (default: the output folder's name)")
    parser.add_argument("--table_only", action="store_true", help="rewrite table.md and plots from --out's csv files")
    args = parser.parse_args(argv)
    out = output_folder(args.out, "compare")
    group = args.group or out.name

    rows = read_csv(out / "runs.csv") if args.table_only else []
    points = read_csv(out / "points.csv") if args.table_only else []
    for r in rows:  # from the points, so a table rewritten after METRIC changed shows the metric it names
        key = (r["objective"], r["variant"], r["dataset"], r["seed"])
        r["best_val"], r["last_val"] = best_and_last(
            [p for p in points if (p["objective"], p["variant"], p["dataset"], p["seed"]) == key], r["dataset"])
    started = time.perf_counter()
    for dataset in [] if args.table_only else args.datasets:
        for objective in args.objectives:
            if recipe(objective, dataset) is None:
                print(f"== {objective} on {dataset}: no configs/{objective}_{dataset}.yaml or nsgan_{dataset}.yaml, "
                      "skipped", flush=True)
                continue
            config, _ = recipe(objective, dataset)
            budget = budget_args(config, args.iterations, args.seconds, args.val_every)
            for variant in args.variants:
                for seed in args.seeds:
                    print(f"== {objective} ({variant_name(variant, config)}) on {dataset}, seed {seed}", flush=True)
                    row, run_points = run(objective, variant, dataset, seed, budget, group, out, extra)
                    rows.append(row)
                    points += run_points
                    print({k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()}, flush=True)
                    write_csv(rows, out / "runs.csv")  # after every run: nothing lost on a crash
                    write_csv(points, out / "points.csv")
    lines = []
    for dataset in dict.fromkeys(r["dataset"] for r in rows):
        lines += table([r for r in rows if r["dataset"] == dataset], dataset)
        for x in ("iteration", "wall_s"):
            plot(points, dataset, x, out / f"{dataset}_vs_{x}.png")
    (out / "table.md").write_text("\n".join(lines))
    print("\n".join(lines))
    print(f"wrote {out}/table.md, runs.csv, points.csv and plots in {time.perf_counter() - started:.0f} s; "
          f"W&B group {group!r}")


if __name__ == "__main__":
    main()
