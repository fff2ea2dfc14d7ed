"""Command-line pieces the benchmark scripts share."""

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OBJECTIVES = {"gan": "GAN", "nsgan": "NSGAN", "wgan": "WGAN", "wgangp": "WGANGP", "hinge": "Hinge", "lsgan": "LSGAN",
              "rpgan": "RpGAN"}  # name in the benchmarks -> class in gan_lightning.models


def recipe(objective: str, dataset: str) -> tuple[Path, list[str]] | None:
    """The config of an objective (or ``best``, the recommended recipe) on a dataset and the overrides that make
    the run; ``None`` when the dataset has no config for it.

    An objective whose recipe is NS-GAN's with another loss ships no file of its own: it is
    ``nsgan_<dataset>.yaml`` with ``--model <Class>``, as a user runs it. A dataset without a ``best`` file
    recommends NS-GAN's recipe.
    """
    own, twin = ROOT / "configs" / f"{objective}_{dataset}.yaml", ROOT / "configs" / f"nsgan_{dataset}.yaml"
    if own.is_file():
        return own, []
    if not twin.is_file() or objective not in [*OBJECTIVES, "best"]:
        return None
    return twin, [] if objective == "best" else ["--model", f"gan_lightning.models.{OBJECTIVES[objective]}"]


def split_run_arguments(argv: list[str] | None) -> tuple[list[str], list[str]]:
    """(the script's own arguments, the ones after ``--`` that go to every run's CLI)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if "--" not in argv:
        return argv, []
    cut = argv.index("--")
    return argv[:cut], argv[cut + 1:]


def output_folder(out: Path | None, prefix: str) -> Path:
    """``out``, or ``benchmarks/results/<prefix>-<time>``; created, absolute."""
    folder = (out or ROOT / "benchmarks" / "results" / f"{prefix}-{time.strftime('%Y%m%d-%H%M%S')}").resolve()
    folder.mkdir(parents=True, exist_ok=True)
    return folder
