"""Where a run's files live: run folders under a root (``runs/`` by default) and what they hold."""

import netrc
import os
from pathlib import Path

from gan_lightning.errors import ConfigError

WANDB_PROJECT = "gan_lightning"


def newest_last_checkpoint(root: Path) -> Path:
    """The newest ``<root>/*/checkpoints/last*.ckpt``: what ``--ckpt_path last`` means."""
    candidates = sorted(Path(root).glob("*/checkpoints/last*.ckpt"), key=lambda p: p.stat().st_mtime)
    if not candidates:
        raise ConfigError(f"--ckpt_path last: no */checkpoints/last.ckpt under {root}; give a checkpoint path")
    return candidates[-1]


def reference_cache_dir(run_dir: str | Path) -> Path:
    """Where a run's metrics cache their real references, for its validations and ``evaluate``."""
    return Path(run_dir).resolve() / "reference-cache"


def wandb_has_credentials() -> bool:
    """True when W&B could log online without asking: an API key in the environment or ~/.netrc."""
    if os.environ.get("WANDB_API_KEY"):
        return True
    try:
        return netrc.netrc(os.environ.get("NETRC")).authenticators("api.wandb.ai") is not None
    except (FileNotFoundError, netrc.NetrcParseError):
        return False


def wandb_mode() -> str:
    """``$WANDB_MODE`` if set, else online with credentials and offline without: how a W&B run we start logs."""
    return os.environ.get("WANDB_MODE") or ("online" if wandb_has_credentials() else "offline")
