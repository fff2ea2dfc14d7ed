"""Command-line pieces the benchmark scripts share."""

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


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
