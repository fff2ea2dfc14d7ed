"""``python -m gan_lightning evaluate --ckpt_path CKPT|last [--num_samples N] [--metrics ...] [--seed S]``.

Samples the checkpoint's (EMA) generator and computes every metric that fits its data against a
real reference that is cached on disk (see ``gan_lightning.metrics.suite``). Prints a table,
writes ``eval-<iteration>.json`` next to the checkpoint and logs ``eval/*`` with the protocol
(fakes, reals, reference split, feature network, EMA or not) to the run's W&B run. Settings not
given here come from the metrics the run validated with, so ``eval/*`` equals the last ``val/*``
at the same counts and seed.
"""

import importlib
import json
from pathlib import Path
from typing import Optional

from jsonargparse import ArgumentParser

from gan_lightning.errors import ConfigError
from gan_lightning.runs import WANDB_PROJECT, reference_cache_dir, wandb_mode
from gan_lightning.preflight import check_networks_take_the_data
from gan_lightning.sample import checkpoint_path, load_datamodule, load_model

SETTINGS = ("feature", "weights_path", "num_samples", "num_reference", "reference_split", "kid", "metrics",
            "memorization", "fid_infinity", "precision_recall_counts")
# Published protocols by name: what a number next to a paper's must be computed with. Options given on the command
# line beside a preset override it (and the JSON says so: the preset's name and every setting are recorded).
PRESETS = {
    "inception-50k-train": {"feature": 2048, "num_samples": 50_000, "reference_split": "train", "num_reference": None},
    "inception-10k-val": {"feature": 2048, "num_samples": 10_000, "reference_split": "val", "num_reference": None},
}


def parse_feature(value: Optional[str]):
    """``mnist``, ``emoji``, an Inception size (``2048``) or the dotted path of an ``nn.Module`` class built without
    arguments."""
    from gan_lightning.metrics.suite import FEATURE_NETWORKS  # torchmetrics: not loaded for --help

    if value is None or value in FEATURE_NETWORKS:
        return value
    if value.isdigit():
        return int(value)
    module, _, name = value.rpartition(".")
    try:
        return getattr(importlib.import_module(module), name)()
    except (ImportError, AttributeError, ValueError) as e:
        raise ConfigError(f"--feature: expected {', '.join(FEATURE_NETWORKS)}, 64, 192, 768, 2048 or a module.Class "
                          f"path, got {value!r} ({type(e).__name__}: {e})") from e


def merged_metrics(model, cli: dict, keep: set = frozenset()):
    """The run's own metrics settings, overridden by those given on the command line (a ``SampleMetrics``);
    the keys in ``keep`` are taken from ``cli`` even when ``None`` (a preset's "the whole split")."""
    from gan_lightning.metrics.suite import SampleMetrics  # torchmetrics: not loaded for --help

    base = model.sample_metrics
    settings = {k: getattr(base, {"metrics": "wanted"}.get(k, k), None) for k in SETTINGS} if base is not None else {}
    settings.update({k: v for k, v in cli.items() if v is not None or k in keep})
    return SampleMetrics(**{k: v for k, v in settings.items() if v is not None or k in keep})


def fit_wandb_run(run_dir: Path) -> dict:
    """The W&B run fit's logger wrote to (id, name, project, group, tags, as its config gives them; ``compare``
    names its cells' runs), so that evaluate logs into that run and not a new one."""
    import yaml

    path = run_dir / "config.yaml"
    logger = ((yaml.safe_load(path.read_text()) or {}).get("trainer") or {}).get("logger") if path.is_file() else None
    if not isinstance(logger, dict) or not str(logger.get("class_path", "")).endswith("WandbLogger"):
        return {}
    init = {**(logger.get("init_args") or {}), **(logger.get("dict_kwargs") or {})}
    return {k: init[k] for k in ("id", "name", "project", "group", "tags") if init.get(k)}


def log_to_wandb(run_dir: Path, project: str | None, values: dict, protocol: dict, iteration: int) -> Path:
    """Logs ``eval/*`` and the protocol into the run's W&B run (offline without credentials); returns its folder.
    ``project``: overrides the run's own."""
    import wandb

    fit_run = {"project": WANDB_PROJECT, "id": run_dir.name, "name": run_dir.name, **fit_wandb_run(run_dir)}
    run = wandb.init(**{**fit_run, **({"project": project} if project else {})}, dir=str(run_dir), resume="allow",
                     mode=wandb_mode(), job_type="evaluate", settings=wandb.Settings(quiet=True))
    run.config.update({"eval_protocol": protocol}, allow_val_change=True)
    run.log({**{f"eval/{k}": v for k, v in values.items()}, "iteration": iteration})
    folder = Path(run.dir).parent
    run.finish()
    return folder


def evaluate_main(args: list[str]) -> None:
    parser = ArgumentParser(prog="python -m gan_lightning evaluate", description=__doc__)
    parser.add_argument("--ckpt_path", type=str, required=True, help="Checkpoint written by fit, or 'last'.")
    parser.add_argument("--runs_dir", type=str, default="runs", help="Where 'last' looks for the newest run.")
    parser.add_argument("--num_samples", type=Optional[int], default=None, help="Generated samples (default: the run's).")
    parser.add_argument("--num_reference", type=Optional[int], default=None, help="Real samples (default: the whole split).")
    parser.add_argument("--reference_split", type=Optional[str], default=None, help="val (held out) or train.")
    parser.add_argument("--feature", type=Optional[str], default=None,
                        help="Feature network of image data: mnist, emoji, 2048 (Inception) or module.Class "
                             "(default: the run's, else mnist).")
    parser.add_argument("--weights_path", type=Optional[str], default=None, help="Local Inception weights file.")
    parser.add_argument("--kid", type=Optional[bool], default=None, help="Also compute KID.")
    parser.add_argument("--memorization", type=Optional[bool], default=None,
                        help="Also the share of samples nearer a training image than held-out images are.")
    parser.add_argument("--metrics", type=Optional[list[str]], default=None, help="Metric names to report, e.g. [fid, modes].")
    parser.add_argument("--preset", type=Optional[str], default=None,
                        help=f"A published protocol: {', '.join(PRESETS)} (50,000 samples against the whole training set "
                             "on Inception pool3, as mimicry and StudioGAN report CIFAR-10; or 10,000 against the held-out "
                             "split).")
    parser.add_argument("--fid_infinity", type=Optional[bool], default=None,
                        help="Also FID extrapolated to infinitely many samples (Chong & Forsyth 2020).")
    parser.add_argument("--precision_recall_counts", type=Optional[str], default=None,
                        help="equal (default, the paper's protocol: averaged over subsets of the larger set the size "
                             "of the smaller) or all (every sample; recall then falls as more samples are drawn).")
    parser.add_argument("--seed", type=Optional[int], default=None, help="Seed of the noise (default: the run's, as in validation).")
    parser.add_argument("--ema", type=bool, default=True, help="Sample the EMA generator when the checkpoint has one.")
    parser.add_argument("--device", type=str, default="cpu", help="Device, e.g. cpu or cuda.")
    parser.add_argument("--wandb", type=bool, default=True, help="Log eval/* to the run's W&B run.")
    parser.add_argument("--wandb_project", type=Optional[str], default=None,
                        help=f"W&B project (default: the one fit logged the run to, else {WANDB_PROJECT}).")
    cfg = parser.parse_args(args)
    for name in ("num_samples", "num_reference"):
        if cfg[name] is not None and cfg[name] < 2:
            raise ConfigError(f"--{name} must be >= 2, got {cfg[name]}")

    if cfg.preset is not None and cfg.preset not in PRESETS:
        raise ConfigError(f"--preset: expected one of {', '.join(PRESETS)}, got {cfg.preset!r}")
    preset = dict(PRESETS.get(cfg.preset) or {})

    ckpt_path = checkpoint_path(cfg.ckpt_path, cfg.runs_dir)
    model = load_model(ckpt_path, cfg.device)
    ckpt_path = ckpt_path.resolve()
    data = load_datamodule(ckpt_path)
    check_networks_take_the_data(model, data)
    given = {"feature": parse_feature(cfg.feature), "weights_path": cfg.weights_path, "num_samples": cfg.num_samples,
             "num_reference": cfg.num_reference, "reference_split": cfg.reference_split, "kid": cfg.kid,
             "metrics": cfg.metrics, "memorization": cfg.memorization, "fid_infinity": cfg.fid_infinity,
             "precision_recall_counts": cfg.precision_recall_counts}
    metrics = merged_metrics(model, {**preset, **{k: v for k, v in given.items() if v is not None}}, keep=set(preset))
    run_dir = ckpt_path.parent.parent if ckpt_path.parent.name == "checkpoints" else ckpt_path.parent
    metrics.setup(data, reference_cache_dir(run_dir), cfg.device)
    if not cfg.ema:
        model.generator_ema = None
    seed = model.latent.seed if cfg.seed is None else cfg.seed
    values = {k: float(v) for k, v in metrics.evaluate(model, seed).items()}
    if cfg.metrics and not values:
        raise ConfigError(f"--metrics: none of {cfg.metrics} fits this data")

    protocol = {**metrics.protocol, "ema": model.generator_ema is not None, "seed": seed,
                "checkpoint": str(ckpt_path), "iteration": model.iteration, "preset": cfg.preset}
    output = ckpt_path.parent / f"eval-{model.iteration:07d}.json"
    output.write_text(json.dumps({"metrics": values, "protocol": protocol}, indent=2) + "\n")
    width = max(map(len, values))
    print(f"{'metric':<{width}}  value")
    for name, value in values.items():
        print(f"{name:<{width}}  {value:.6g}")
    print(f"protocol: {metrics.protocol['fakes']} generated vs {metrics.protocol['reals']} real "
          f"({metrics.protocol['reference_split']} split of {metrics.protocol['data']}), features: "
          f"{metrics.protocol['feature_network']}, EMA: {protocol['ema']}, seed {seed}, iteration {model.iteration}. "
          "Numbers are comparable only at equal counts and feature networks.")
    print(f"reference: {metrics.cache_path} ({'reused' if metrics.reference_reused else 'computed and cached'})")
    print(f"wrote {output}")
    if cfg.wandb:
        print(f"W&B: {log_to_wandb(run_dir, cfg.wandb_project, values, protocol, model.iteration)}")
