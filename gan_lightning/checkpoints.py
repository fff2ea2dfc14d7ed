"""A checkpoint read before a run starts: is it one, and was it trained as the model and data the config asks for."""

import zipfile
from pathlib import Path

import torch

from gan_lightning.errors import ConfigError

# Data arguments that set the shape of a sample: a checkpoint's networks only fit data of the same shape.
DATA_SHAPE_ARGUMENTS = ("dim", "image_size", "channels")


def read_checkpoint(path: str | Path) -> dict:
    """The checkpoint at ``path``, its tensors memory-mapped (cheap to read whole); one line if it is not one."""
    fix = "give a .ckpt file that fit wrote, e.g. <run folder>/checkpoints/last.ckpt"
    if not zipfile.is_zipfile(path):
        raise ConfigError(f"--ckpt_path: {path} is not a PyTorch checkpoint (not the zip archive torch.save writes); {fix}")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=False, mmap=True)
    except Exception as e:  # torch.load raises whatever the bytes lead it to: pickle, zip, EOF, runtime errors
        reason = str(e).strip().splitlines()[0][:100] if str(e).strip() else type(e).__name__
        raise ConfigError(f"--ckpt_path: {path} is not a readable PyTorch checkpoint ({reason}); {fix}") from None
    if not isinstance(checkpoint, dict) or "state_dict" not in checkpoint:
        raise ConfigError(f"--ckpt_path: {path} is a PyTorch file but not a Lightning checkpoint (no state_dict)")
    return checkpoint


def plain(value):
    """A jsonargparse Namespace (or anything else) as plain dicts and lists, to compare with a checkpoint's hparams."""
    if hasattr(value, "as_dict"):
        value = value.as_dict()
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items() if not str(k).startswith("_")}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def first_difference(given, saved, where: str = "") -> str | None:
    """``key: given vs saved`` for the first place two nested configs differ, or None."""
    if isinstance(given, dict) and isinstance(saved, dict):
        for key in dict.fromkeys([*given, *saved]):
            found = first_difference(given.get(key), saved.get(key), f"{where}.{key}" if where else key)
            if found:
                return found
        return None
    return None if given == saved else f"{where}: {given} in the config, {saved} in the checkpoint"


def check_resumable(checkpoint: dict, path: str | Path, config) -> None:
    """Stops with one line when ``checkpoint`` was trained as another objective, with other networks, or on
    other data than ``config`` (the parsed ``fit`` config) asks for.

    Lightning resumes with the checkpoint's own model arguments, so a config that differs would be
    silently overruled, or crash deep in a forward pass when the data does not fit the networks.
    """
    hparams = checkpoint.get("hyper_parameters") or {}
    saved_data = checkpoint.get("datamodule_hyper_parameters") or {}
    fix = (f"resume with the config it was trained with ({Path(path).resolve().parent.parent / 'config.yaml'}), "
           f"or leave out --ckpt_path to start a new run")
    model, data = config.get("model"), config.get("data")
    name = lambda class_path: str(class_path or "").rsplit(".", 1)[-1]
    if model is not None and hparams.get("_class_path") and name(hparams["_class_path"]) != name(model.class_path):
        raise ConfigError(f"--ckpt_path: {path} holds a {name(hparams['_class_path'])}, the config builds a "
                          f"{name(model.class_path)}; {fix}")
    if data is not None and saved_data.get("_class_path") and name(saved_data["_class_path"]) != name(data.class_path):
        raise ConfigError(f"--ckpt_path: {path} was trained on {name(saved_data['_class_path'])}, the config's data "
                          f"is {name(data.class_path)}; {fix}")
    if data is not None:
        given = plain(data.get("init_args")) or {}
        for key in DATA_SHAPE_ARGUMENTS:
            if key in saved_data and key in given and plain(saved_data[key]) != given[key]:
                raise ConfigError(f"--ckpt_path: {path} was trained on data with {key}={saved_data[key]}, the config's "
                                  f"data has {key}={given[key]}; {fix}")
    for network in ("generator", "discriminator"):
        saved, given = hparams.get(network), model.init_args.get(network) if model is not None else None
        if isinstance(saved, dict) and given is not None:
            difference = first_difference(plain(given), plain(saved))
            if difference:
                raise ConfigError(f"--ckpt_path: {path} has another {network} (model.init_args.{network}.{difference}); {fix}")
