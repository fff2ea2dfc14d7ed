"""``python -m gan_lightning compare``: configs x variants x seeds, each cell a ``fit`` run as users run it, then
measured by ``evaluate`` on noise no validation drew; a table with 95% intervals over seeds, plots, and W&B.

    python -m gan_lightning compare configs/nsgan_gaussian.yaml configs/wgangp_gaussian.yaml \\
        --variant shipped= --variant r1="--model.init_args.regularizers '[{class_path: R1, init_args: {gamma: 0.1}}]'" \\
        --seeds 0 1 2 --iterations 2000 --out runs/compare-gaussian -- --trainer.accelerator cpu

A variant's arguments are split as a shell splits them (quote a value with spaces inside). A config may name
another loss for its recipe after a colon (``configs/nsgan_mnist.yaml:LSGAN`` runs it with
``--model LSGAN``). Arguments after ``--`` go to every ``fit``.

The grid lives in ``--out``: ``grid.json`` (what the cells are), ``runs/<cell>/`` (each fit's run folder),
``cells/<cell>.json`` (a finished cell). Rerunning the same command skips finished cells and resumes an
interrupted one from its own newest checkpoint (``last.ckpt`` or SLURM's ``hpc_ckpt_*.ckpt``), bit for bit as
``fit`` resumes; a different grid in the same folder is refused. ``--cell N`` runs one cell (a SLURM array task:
``configs/cluster/compare_array.sh``) and ``--gather`` writes the table from the finished cells: ``table.md``,
``cells.csv``, ``points.csv``, the monitored metric against iterations and against training seconds, and one W&B
summary run in the comparison's group holding all of it (offline without credentials). The table shows the metric
the configs monitor; ``--columns precision recall`` adds more of ``evaluate``'s numbers (``cells.csv`` has them all).
"""

import argparse
import csv
import ctypes
import glob
import hashlib
import json
import math
import os
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

from gan_lightning.errors import ConfigError

FRESH_NOISE = 104_729  # added to a cell's seed for evaluate's noise: no validation drew it
HISTORY_CALLBACK = "gan_lightning.callbacks.ValidationHistory"
T_975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262}


def parse_variant(text: str) -> tuple[str, list[str]]:
    """``name=fit arguments`` -> (name, the arguments split as a shell splits them)."""
    name, sep, arguments = text.partition("=")
    if not sep or not name or any(c in name for c in "/ "):
        raise ConfigError(f"--variant: expected NAME=ARGUMENTS (a name without spaces or '/'), got {text!r}")
    return name, shlex.split(arguments)


def expand_configs(patterns: list[str]) -> list[tuple[Path, str | None]]:
    """Config files (globs expanded, each with the loss named after a colon, if any), absolute."""
    configs = []
    for pattern in patterns:
        path, _, model = pattern.partition(":")
        matches = sorted(glob.glob(path)) or [path]
        for match in matches:
            if not Path(match).is_file():
                raise ConfigError(f"compare: no config file at {match}")
            configs.append((Path(match).resolve(), model or None))
    return configs


def file_hash(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]


def build_grid(args) -> dict:
    """What the cells are: one per seed x config x variant, in that order, and what every fit is given."""
    variants = [parse_variant(v) for v in args.variant] or [("shipped", [])]
    if len({name for name, _ in variants}) < len(variants):
        raise ConfigError(f"--variant: each name once, got {[name for name, _ in variants]}")
    fit_args = []  # the budget first: arguments after -- may override it
    if args.iterations is not None:
        fit_args += ["--iterations", str(args.iterations)]  # the CLI counts them with the run's own n_critic
    if args.minutes is not None:
        s = round(args.minutes * 60)
        fit_args += ["--trainer.max_epochs", "-1", "--trainer.max_time", f"00:{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}"]
    fit_args += args.fit_args
    cells, configs = [], expand_configs(args.configs)
    for seed in args.seeds:  # seed by seed: a grid stopped early has compared every config on its first seeds
        for config, model in configs:
            for variant, overrides in variants:
                label = config.stem + (f"-{model}" if model else "")
                cells.append({"name": f"{label}-{variant}-seed{seed}", "config": str(config), "model": model,
                              "config_sha256": file_hash(config), "variant": variant, "overrides": overrides,
                              "seed": seed})
    names = [c["name"] for c in cells]
    if len(set(names)) < len(names):
        raise ConfigError("compare: a config is given twice")
    return {"cells": cells, "fit_args": fit_args, "num_samples": args.num_samples,
            "group": args.group or Path(args.out).resolve().name}


def grid_changes(old: dict, new: dict) -> str:
    """What differs between two grids, in one line (empty when they are the same)."""
    changes = []
    old_cells, new_cells = {c["name"]: c for c in old["cells"]}, {c["name"]: c for c in new["cells"]}
    if added := [n for n in new_cells if n not in old_cells]:
        changes.append(f"cells added: {', '.join(added)}")
    if removed := [n for n in old_cells if n not in new_cells]:
        changes.append(f"cells removed: {', '.join(removed)}")
    for name in new_cells.keys() & old_cells.keys():
        for key in ("config_sha256", "overrides", "model"):
            if old_cells[name][key] != new_cells[name][key]:
                changes.append(f"{name}: {'the file changed' if key == 'config_sha256' else key} "
                               f"({old_cells[name][key]} -> {new_cells[name][key]})")
    for key in ("fit_args", "num_samples", "group"):
        if old.get(key) != new.get(key):
            changes.append(f"{key}: {old.get(key)} -> {new.get(key)}")
    return "; ".join(sorted(set(changes), key=changes.index))


def open_grid(out: Path, grid: dict) -> None:
    """Writes ``out/grid.json``, or checks that the grid already there is this one. A grid may grow (more seeds,
    configs or variants, every other argument the same): its finished cells are still cells of the larger one."""
    path = out / "grid.json"
    if path.is_file():
        old = json.loads(path.read_text())
        if not (changes := grid_changes(old, grid)):
            return
        known = {c["name"] for c in old["cells"]}
        added = [c["name"] for c in grid["cells"] if c["name"] not in known]
        if grid_changes(old, {**grid, "cells": [c for c in grid["cells"] if c["name"] in known]}):
            raise ConfigError(f"compare: {out} holds another grid ({changes}); give another --out, or remove it")
        print(f"compare: {out} grows by {len(added)} cells ({', '.join(added)}); its {len(known)} cells stay",
              flush=True)
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / f".grid-{os.getpid()}.json"  # array tasks may start together: each writes whole, then renames
    tmp.write_text(json.dumps(grid, indent=2) + "\n")
    os.replace(tmp, path)


def die_with_parent() -> None:
    """In the child: SIGKILL it when the compare process dies (Linux), so a killed grid leaves no orphan run."""
    try:
        ctypes.CDLL("libc.so.6").prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def run_logged(command: list[str], log: Path, name: str) -> None:
    """Runs a ``python -m gan_lightning`` command with its output appended to ``log``; bad input (exit 2) stops the
    grid with the command's own one-line error, any other failure only this cell."""
    with open(log, "a") as f:
        f.write(f"$ {shlex.join(command)}\n")
        f.flush()
        code = subprocess.run(command, stdout=f, stderr=subprocess.STDOUT, preexec_fn=die_with_parent).returncode
    if code == 2:
        errors = [line for line in log.read_text().splitlines() if line.startswith("gan_lightning: error:")]
        raise ConfigError(f"{name}: {command[3]} refused its arguments: "
                          f"{errors[-1].removeprefix('gan_lightning: error: ') if errors else f'see {log}'}")
    if code:
        raise CellFailed(f"{name}: {command[3]} exited with {code}; its log: {log}")


def newest_checkpoint(run_dir: Path) -> Path | None:
    """The checkpoint a cell resumes from: the newer of ``last.ckpt`` and SLURM's ``hpc_ckpt_*.ckpt``."""
    found = [*run_dir.glob("hpc_ckpt_*.ckpt"), *run_dir.glob("checkpoints/last.ckpt")]
    return max(found, key=lambda p: p.stat().st_mtime) if found else None


def monitored(run_dir: Path) -> tuple[str | None, str]:
    """The metric the run's config picks checkpoints by, and ``min`` or ``max``."""
    import yaml

    checkpoint = (yaml.safe_load((run_dir / "config.yaml").read_text()) or {}).get("checkpoint") or {}
    return checkpoint.get("monitor"), checkpoint.get("mode") or "min"


def wandb_id(out: Path, name: str) -> str:
    """A cell's W&B run id: its name and a hash of the grid's folder, so that the cells of two comparisons (the
    same names in other folders) stay apart in one project, and a resumed cell continues its own run."""
    return f"{re.sub(r'[^A-Za-z0-9_.-]', '-', name)[:55]}-{hashlib.sha256(str(out).encode()).hexdigest()[:8]}"


def record_path(out: Path, cell: dict) -> Path:
    """Where a finished cell's record lies; the cell counts as done when it exists."""
    return out / "cells" / f"{cell['name']}.json"


def run_cell(out: Path, grid: dict, index: int) -> dict:
    """Fits (or resumes) and evaluates one cell; returns its record, also written to ``cells/<name>.json``."""
    from gan_lightning.callbacks.validation_history import read_history

    cell = grid["cells"][index]
    done = record_path(out, cell)
    if done.is_file():
        return json.loads(done.read_text())
    run_dir, seed, started = out / "runs" / cell["name"], str(cell["seed"]), time.perf_counter()
    (out / "logs").mkdir(parents=True, exist_ok=True)
    log = out / "logs" / f"{cell['name']}.log"
    resume = newest_checkpoint(run_dir)
    if resume is None and run_dir.exists():
        shutil.rmtree(run_dir)  # killed before its first checkpoint: nothing to resume, start it again
    fit = [sys.executable, "-m", "gan_lightning", "fit", "--config", cell["config"],
           *(["--model", cell["model"]] if cell["model"] else []), *cell["overrides"],
           "--seed_everything", seed, "--model.init_args.latent.seed", seed, "--data.init_args.seed", seed,
           "--trainer.default_root_dir", str(out / "runs"), "--run_name", cell["name"],
           "--trainer.enable_progress_bar", "false", "--trainer.logger", "WandbLogger",
           "--trainer.logger.init_args.id", wandb_id(out, cell["name"]), "--trainer.logger.dict_kwargs.group", grid["group"],
           "--trainer.logger.dict_kwargs.tags", json.dumps(["compare", cell["variant"]]),
           f"--trainer.callbacks+={HISTORY_CALLBACK}", *grid["fit_args"],
           *(["--ckpt_path", str(resume)] if resume else [])]
    run_logged(fit, log, cell["name"])
    evaluate = [sys.executable, "-m", "gan_lightning", "evaluate", "--ckpt_path",
                str(run_dir / "checkpoints" / "last.ckpt"), "--seed", str(cell["seed"] + FRESH_NOISE),
                *(["--num_samples", str(grid["num_samples"])] if grid["num_samples"] else [])]
    run_logged(evaluate, log, cell["name"])
    evaluation = json.loads(sorted((run_dir / "checkpoints").glob("eval-*.json"))[-1].read_text())
    monitor, mode = monitored(run_dir)
    history = read_history(run_dir)
    values = [row[monitor] for row in history if monitor in row]
    record = {**{k: cell[k] for k in ("name", "config", "model", "variant", "seed")}, "index": index,
              "monitor": monitor, "mode": mode, "final": evaluation["metrics"], "protocol": evaluation["protocol"],
              "iterations": evaluation["protocol"]["iteration"],
              "best_val": (min if mode == "min" else max)(values) if values else math.nan,
              "last_val": values[-1] if values else math.nan,
              "train_s": history[-1]["train_s"] if history else math.nan,
              "cell_s": time.perf_counter() - started, "history": history}
    done.parent.mkdir(exist_ok=True)
    tmp = done.with_suffix(".tmp")
    tmp.write_text(json.dumps(record, indent=2) + "\n")
    os.replace(tmp, done)  # the cell counts as done only once its record is whole
    return record


class CellFailed(RuntimeError):
    """A cell's fit or evaluate failed; the grid goes on and the rerun tries the cell again."""


def interval(values: list[float], digits: str = ".3g") -> str:
    """``mean ± half-width of the 95% t-interval`` over seeds; infinite or missing values counted apart."""
    finite = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    if not finite:
        return "-"
    if len(finite) == 1:  # one seed: no interval to show
        return f"{finite[0]:{digits}}" + (f" ({len(values) - 1} not finite)" if len(values) > 1 else "")
    half = T_975.get(len(finite) - 1, 1.96) * statistics.stdev(finite) / math.sqrt(len(finite))
    text = f"{statistics.mean(finite):{digits}} ± {half:.2g}"
    return text + (f" ({len(values) - len(finite)} not finite)" if len(finite) < len(values) else "")


def config_label(record: dict) -> str:
    return Path(record["config"]).name + (f" --model {record['model']}" if record["model"] else "")


def metric_name(record: dict) -> str:
    """The evaluate metric the config monitors in validation (``val/fid`` -> ``fid``)."""
    return (record["monitor"] or "").removeprefix("val/")


def final_metric(record: dict) -> float:
    return record["final"].get(metric_name(record), math.nan)


def summary_rows(records: list[dict], columns: list[str] = ()) -> list[dict]:
    """One row per (config, variant): seeds, and mean ± 95% interval of the final and validation numbers, with the
    final value of every evaluate metric named in ``columns`` beside the monitored one."""
    groups = {}
    for r in records:
        groups.setdefault((config_label(r), r["variant"]), []).append(r)
    rows = []
    for (config, variant), runs in groups.items():
        ratios = [r["last_val"] / r["best_val"] if r["best_val"] else math.nan for r in runs]
        rows.append({"config": config, "variant": variant, "seeds": len(runs), "metric": runs[0]["monitor"],
                     "final": interval([final_metric(r) for r in runs]),
                     **{f"final {c}": interval([r["final"].get(c, math.nan) for r in runs]) for c in columns},
                     "best_val": interval([r["best_val"] for r in runs]),
                     "last_over_best": interval(ratios), "iterations": interval([r["iterations"] for r in runs], ".0f"),
                     "train_s": interval([r["train_s"] for r in runs], ".0f"),
                     "protocol": f"{runs[0]['protocol']['fakes']} generated vs {runs[0]['protocol']['reals']} "
                                 f"{runs[0]['protocol']['reference_split']}, {runs[0]['protocol']['feature_network']}"})
    return rows


HEADERS = {"final": "final (evaluate, fresh noise)", "best_val": "best in validation", "last_over_best": "last / best",
           "train_s": "train s"}


def markdown(rows: list[dict]) -> str:
    keys = list(rows[0])
    lines = ["| " + " | ".join(HEADERS.get(k, k) for k in keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(str(r[k]) for k in keys) + " |" for r in rows]
    return "\n".join(lines) + "\n\nMean ± half-width of the 95% t-interval over seeds.\n"


def plot(records: list[dict], x: str, path: Path) -> bool:
    """Each (config, variant)'s monitored metric against ``x`` (iterations or training seconds), mean over seeds
    with a min..max band, one panel per metric; False when no run validated."""
    from gan_lightning.plots import plt

    metrics = list(dict.fromkeys(r["monitor"] for r in records if r["monitor"] and r["history"]))
    if not metrics:
        return False
    fig, axes = plt.subplots(1, len(metrics), figsize=(6.5 * len(metrics), 4), squeeze=False)
    for ax, metric in zip(axes[0], metrics):
        groups = {}
        for r in records:
            if r["monitor"] == metric and r["history"]:
                groups.setdefault((config_label(r), r["variant"]), []).append([p for p in r["history"] if metric in p])
        for (config, variant), curves in groups.items():
            n = min(len(c) for c in curves)
            xs = [statistics.mean(c[i][x] for c in curves) for i in range(n)]
            ys = [[c[i][metric] for c in curves] for i in range(n)]
            line, = ax.plot(xs, [statistics.mean(v) for v in ys], label=f"{config} ({variant})",
                            marker="o" if n < 4 else None)
            ax.fill_between(xs, [min(v) for v in ys], [max(v) for v in ys], alpha=0.15, color=line.get_color())
        ax.set_xlabel({"iteration": "generator iterations", "train_s": "training seconds"}[x])
        ax.set_ylabel(metric)
        if metric in ("val/w1", "val/fid", "val/mode_kl"):  # distances that fall by orders of magnitude
            ax.set_yscale("log")
        ax.set_title(f"{metric}: mean over seeds, band = min..max")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def write_csv(rows: list[dict], path: Path) -> None:
    keys = list(dict.fromkeys(k for r in rows for k in r))
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, keys)
        writer.writeheader()
        writer.writerows(rows)


def log_summary(out: Path, grid: dict, records: list[dict], rows: list[dict], plots: list[Path]) -> Path:
    """One W&B run in the comparison's group: the cells and the summary as tables, the plots as images."""
    import wandb

    from gan_lightning.runs import WANDB_PROJECT, wandb_mode

    run = wandb.init(project=WANDB_PROJECT, group=grid["group"], name=f"{grid['group']}-summary", job_type="compare",
                     dir=str(out), mode=wandb_mode(), config={"fit_args": grid["fit_args"], "cells": len(grid["cells"])},
                     settings=wandb.Settings(quiet=True))
    columns = ["config", "variant", "seed", "metric", "final", "best_val", "last_val", "iterations", "train_s", "protocol"]
    cells = [[config_label(r), r["variant"], r["seed"], r["monitor"], final_metric(r), r["best_val"], r["last_val"],
              r["iterations"], r["train_s"], json.dumps(r["protocol"])] for r in records]
    run.log({"cells": wandb.Table(columns=columns, data=cells),
             "summary": wandb.Table(columns=list(rows[0]), data=[list(r.values()) for r in rows]),
             **{p.stem: wandb.Image(str(p)) for p in plots}})
    folder = Path(run.dir).parent
    run.finish()
    return folder


def gather(out: Path, grid: dict, use_wandb: bool = True, columns: list[str] = ()) -> list[dict]:
    """The table, CSVs, plots and W&B summary of the finished cells; raises CellFailed naming unfinished ones."""
    finished = [c for c in grid["cells"] if record_path(out, c).is_file()]
    records = [json.loads(record_path(out, c).read_text()) for c in finished]
    missing = [c["name"] for c in grid["cells"] if c not in finished]
    if records:
        rows = summary_rows(records, columns)
        (out / "table.md").write_text(markdown(rows))
        write_csv([{k: v for k, v in r.items() if k not in ("final", "protocol", "history")} |
                   {f"final_{k}": v for k, v in r["final"].items()} for r in records], out / "cells.csv")
        write_csv([{"name": r["name"], "config": config_label(r), "variant": r["variant"], "seed": r["seed"], **p}
                   for r in records for p in r["history"]], out / "points.csv")
        plots = [out / f"metric_vs_{x}.png" for x in ("iteration", "train_s") if plot(records, x, out / f"metric_vs_{x}.png")]
        print(markdown(rows))
        print(f"wrote {out / 'table.md'}, cells.csv, points.csv{', plots' if plots else ''}")
        if use_wandb:
            folder = log_summary(out, grid, records, rows, plots)
            offline = "offline-run" in folder.name
            print(f"W&B: group {grid['group']!r}, summary run {folder}" + (f"; upload with: wandb sync {folder}" if offline else ""))
    if missing:
        raise CellFailed(f"{len(missing)} of {len(grid['cells'])} cells unfinished ({', '.join(missing)}); "
                         "run the same command again to finish them")
    return records


def compare_main(argv: list[str]) -> None:
    cut = argv.index("--") if "--" in argv else len(argv)
    parser = argparse.ArgumentParser(prog="python -m gan_lightning compare", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("configs", nargs="+", help="config files or globs; CONFIG:Class runs the file with --model Class")
    parser.add_argument("--variant", action="append", default=[], metavar="NAME=ARGUMENTS",
                        help="a named set of fit arguments (repeat for more; default: one variant, 'shipped', the config as it is)")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--iterations", type=int, default=None, help="generator iterations per cell (default: the config's)")
    parser.add_argument("--minutes", type=float, default=None, help="training minutes per cell (default: the config's budget)")
    parser.add_argument("--num_samples", type=int, default=None, help="evaluate's generated samples (default: the run's)")
    parser.add_argument("--out", type=Path, required=True, help="the grid's folder: rerun with the same one to resume")
    parser.add_argument("--group", default=None, help="W&B group (default: the name of --out)")
    parser.add_argument("--dry_run", action="store_true", help="print the cells and stop")
    parser.add_argument("--cell", type=int, default=None, help="run only this cell (0-based; a SLURM array task)")
    parser.add_argument("--gather", action="store_true", help="only write the table and W&B summary of finished cells")
    parser.add_argument("--columns", nargs="+", default=[], metavar="METRIC",
                        help="more evaluate metrics for the table beside the monitored one, e.g. precision recall")
    parser.add_argument("--wandb", type=lambda s: s.lower() in ("1", "true", "yes"), default=True,
                        help="log the summary run to W&B (true/false)")
    args = parser.parse_args(argv[:cut])
    args.fit_args = argv[cut + 1:]
    out = args.out.resolve()
    grid = build_grid(args)
    if args.dry_run:
        for i, cell in enumerate(grid["cells"]):
            done = record_path(out, cell).is_file()
            print(f"cell {i} {cell['name']}{' (done)' if done else ''}: fit --config {cell['config']} "
                  f"{shlex.join(([f'--model', cell['model']] if cell['model'] else []) + cell['overrides'])}".rstrip())
        print(f"{len(grid['cells'])} cells in {out}")
        return
    open_grid(out, grid)
    # SLURM signals every process of a job step; the fit below saves and requeues, this process only waits.
    signal.signal(signal.SIGUSR1, lambda *_: None)
    try:
        if args.cell is not None:
            if not 0 <= args.cell < len(grid["cells"]):
                raise ConfigError(f"--cell: expected 0..{len(grid['cells']) - 1}, got {args.cell}")
            record = run_cell(out, grid, args.cell)
            print(f"{record['name']}: {metric_name(record)} {final_metric(record):.4g} after {record['iterations']} iterations")
            return
        if not args.gather:
            for i, cell in enumerate(grid["cells"]):
                done = record_path(out, cell).is_file()
                print(f"[{i + 1}/{len(grid['cells'])}] {cell['name']}: {'done before' if done else 'running'}", flush=True)
                try:
                    record = run_cell(out, grid, i)
                except CellFailed as e:  # the gather below names every unfinished cell
                    print(f"  failed: {e}", flush=True)
                    continue
                print(f"  {metric_name(record)} {final_metric(record):.4g}, {record['iterations']} iterations, "
                      f"{record['cell_s']:.0f} s", flush=True)
        gather(out, grid, args.wandb, args.columns)
    except CellFailed as e:
        print(f"gan_lightning compare: {e}", file=sys.stderr)
        sys.exit(1)
