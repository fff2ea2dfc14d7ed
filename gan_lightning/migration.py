"""Checkpoints and config files of earlier versions, read as the current model's arguments.

One function per kind of input, each idempotent: ``migrate_model_args`` for a model's
``init_args`` (a checkpoint's hyperparameters or a config's ``model.init_args``),
``migrate_checkpoint`` for a whole checkpoint (its weights too), ``migrate_config`` for a whole
config (the grid's arguments too). Every entry that loads a checkpoint or a config goes through them.
"""

import importlib
import inspect
import sys
import tempfile
from pathlib import Path
from typing import Any, Optional

import yaml

PACKED = "gan_lightning.networks.Packed"


def term(name: str, **init_args) -> dict:
    return {"class_path": f"gan_lightning.regularizers.{name}", "init_args": init_args}


def class_path(spec: Any) -> str:
    return spec.get("class_path", "") if isinstance(spec, dict) else ""


def migrate_model_args(args: dict) -> list[str]:
    """Rewrites ``args`` (a model's init_args) written for an earlier version in place; returns the
    retired keys it found. Model arguments that moved elsewhere (the grid's ``num_fixed_samples``) are
    dropped here; ``migrate_config`` moves them.

    >>> args = {"ema_decay": 0.99, "latent_scale": 2.0, "fid": None}
    >>> migrate_model_args(args), args
    (['fid', 'ema_decay', 'latent_scale'], {'ema': {'decay': 0.99, 'every': None}, 'latent': {'scale': 2.0}})
    """
    found = [k for k in ("fid", "ema_decay", "ema_every", "latent_distribution", "latent_scale", "seed",
                         "num_fixed_samples", "num_classes", "classification_weight", "classify_fakes",
                         "feature_matching", "feature_matching_layers", "pack", "scheduler_g", "scheduler_d")
             if k in args]
    if not found:
        return found
    fid = args.pop("fid", None)
    if args.get("metrics") is None and fid is not None:
        args["metrics"] = fid
    if "ema_decay" in args or "ema_every" in args:
        decay, every = args.pop("ema_decay", 0.0), args.pop("ema_every", None)
        args["ema"] = {"decay": decay, "every": every} if decay else None
    latent = {new: args.pop(old) for old, new in [("latent_distribution", "distribution"), ("latent_scale", "scale"),
                                                  ("seed", "seed")] if old in args}
    if latent:
        args["latent"] = {**(args.get("latent") or {}), **latent}
    args.pop("num_fixed_samples", None)
    args.pop("num_classes", None)  # the networks' own, always
    terms = list(args.get("regularizers") or [])
    weight, fakes = args.pop("classification_weight", 1.0), args.pop("classify_fakes", True)
    if (weight, fakes) != (1.0, True):
        terms.append(term("ClassificationLoss", weight=weight, classify_fakes=fakes))
    matching, layers = args.pop("feature_matching", 0.0), args.pop("feature_matching_layers", "last")
    if matching:
        terms.append(term("FeatureMatching", weight=matching, layers=layers))
    if terms or "regularizers" in args:
        args["regularizers"] = terms or args.get("regularizers")
    pack = args.pop("pack", 1)
    if pack > 1 and class_path(args.get("discriminator")) != PACKED:
        args["discriminator"] = {"class_path": PACKED, "init_args": {"network": args.get("discriminator"), "pack": pack}}
    scheduler_g, scheduler_d = args.pop("scheduler_g", None), args.pop("scheduler_d", None)
    if scheduler_g is not None or scheduler_d is not None:
        args["scheduler"] = scheduler_g if scheduler_g is not None else scheduler_d
    return found


def add_new_defaults(spec: Any) -> None:
    """A network (``{class_path, init_args}``, the networks it wraps too) saved before some of its arguments
    existed gets them at their defaults, as it was built; changed in place."""
    if not isinstance(spec, dict) or not isinstance(spec.get("init_args"), dict):
        return
    module, _, name = class_path(spec).rpartition(".")
    try:
        parameters = inspect.signature(getattr(importlib.import_module(module), name)).parameters
    except (ImportError, AttributeError, ValueError, TypeError):
        return
    for key, parameter in parameters.items():
        if parameter.default is not inspect.Parameter.empty:
            spec["init_args"].setdefault(key, parameter.default)
    for value in spec["init_args"].values():
        add_new_defaults(value)


def migrate_checkpoint(checkpoint: dict) -> dict:
    """``checkpoint`` (as ``torch.load`` returns it) as the current model reads it, changed in place."""
    hparams = checkpoint.get("hyper_parameters")
    if isinstance(hparams, dict):
        migrate_model_args(hparams)
        for network in ("generator", "discriminator"):
            add_new_defaults(hparams.get(network))
    state = checkpoint.get("state_dict", {})
    for key in ("fixed_noise", "fixed_labels"):  # the grid draws its noise from the latent's seed now
        state.pop(key, None)
    packed = isinstance(hparams, dict) and class_path(hparams.get("discriminator")) == PACKED
    if packed and not any(k.startswith("discriminator.network.") for k in state):
        for key in [k for k in state if k.startswith("discriminator.")]:
            state["discriminator.network." + key[len("discriminator."):]] = state.pop(key)
    return checkpoint


def migrate_config(config: dict) -> Optional[list[str]]:
    """A parsed config file (``model``, ``grid``, ...) rewritten in place; the retired keys found, or ``None``."""
    model = config.get("model")
    args = model.get("init_args") if isinstance(model, dict) else None
    if not isinstance(args, dict):
        return None
    samples = args.get("num_fixed_samples")
    found = migrate_model_args(args)
    if samples is not None:
        config["grid"] = {**(config.get("grid") or {}), "num_samples": samples}
    return found or None


def absolute_paths(value, base: Path):
    """``value`` with every string that names a file relative to ``base`` (a ``parts/...`` include) made absolute."""
    if isinstance(value, dict):
        return {k: absolute_paths(v, base) for k, v in value.items()}
    if isinstance(value, list):
        return [absolute_paths(v, base) for v in value]
    if isinstance(value, str) and not Path(value).is_absolute() and value.endswith((".yaml", ".yml")) and (base / value).is_file():
        return str((base / value).resolve())
    return value


def migrate_config_file(path: str | Path) -> Optional[Path]:
    """A copy of the config file at ``path`` as the current model reads it, written to a temporary folder
    (its relative includes made absolute), with one line on stderr naming what changed; ``None`` when the
    file needs no change (or is not a YAML mapping: the parser will say so)."""
    path = Path(path)
    try:
        config = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError):
        return None
    found = migrate_config(config) if isinstance(config, dict) else None
    if not found:
        return None
    copy = Path(tempfile.mkdtemp(prefix="gan_lightning_config_")) / path.name
    copy.write_text(yaml.safe_dump(absolute_paths(config, path.parent.resolve()), sort_keys=False))
    print(f"{path}: read {', '.join(found)} as this version's arguments (ema, latent, regularizers, Packed, scheduler, "
          f"grid.num_samples); the file as it would be written now: {copy}", file=sys.stderr)
    return copy
