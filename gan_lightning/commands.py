"""``python -m gan_lightning COMMAND``: dispatch, and bad input as one line on stderr.

``sample``, ``evaluate``, ``compare`` and ``train_classifier`` are imported only when used, and LightningCLI
(``fit``, ``validate``, ``--help``, ...) only when it is: drawing samples from a checkpoint
starts without loading Lightning.
"""

import importlib
import re
import sys
from argparse import ArgumentError

from gan_lightning.errors import ConfigError, TrainingDiverged


def parse_error_line(message: str) -> str:
    """``key.path: reason`` from a jsonargparse error, which nests the reason many lines deep."""
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    first = re.match(r'Parser key "([^"]+)":', lines[0])
    if not first or "Errors:" not in lines:
        return " ".join(lines[:2])
    keys, reason = [first.group(1)], None
    for line in lines[lines.index("Errors:") + 1:]:
        text = line.removeprefix("- ")
        key = re.match(r'Parser key "([^"]+)":', text)
        if key:
            keys.append(key.group(1))
        elif not text.startswith("Problem with given class_path"):
            reason = text
            break
    given = next((line for line in lines if line.startswith("Given value:")), "")
    if reason and "Got value" not in reason and given and "NestedArg" not in given:
        reason += f". {given}"
    return f"{'.'.join(keys)}: {reason}"


# Commands beside LightningCLI's, imported only when used.
COMMANDS = {"sample": ("gan_lightning.sample", "sample_main"),
            "evaluate": ("gan_lightning.evaluate", "evaluate_main"),
            "compare": ("gan_lightning.compare", "compare_main"),
            "train_classifier": ("gan_lightning.metrics.train_classifier", "train_classifier_main")}


def process_group_open() -> bool:
    """Whether a ``torch.distributed`` process group is initialized (without importing torch to ask)."""
    dist = sys.modules.get("torch.distributed")
    return dist is not None and dist.is_available() and dist.is_initialized()


def main(args: list[str] | None = None) -> None:
    args = sys.argv[1:] if args is None else args
    group_before = process_group_open()
    try:
        run_command(args)
    finally:
        if not group_before and process_group_open():
            # Lightning destroys the group at exit only under NCCL. A gloo group (DDP on CPUs) left to the
            # interpreter's teardown can abort the process while another rank still runs ("terminate called
            # without an active exception": 3 exits in 30 of a two-process torch script here, none in 40 when
            # destroyed first), which would fail a srun step or a torchrun job whose work had succeeded.
            sys.modules["torch.distributed"].destroy_process_group()


def run_command(args: list[str]) -> None:
    """One command; bad input ends the process with one line on stderr (exit code 2, 1 for a diverged run)."""
    try:
        if args and args[0] in COMMANDS:
            module, function = COMMANDS[args[0]]
            getattr(importlib.import_module(module), function)(args[1:])
        else:
            from gan_lightning.cli import GANCLI

            GANCLI(args=args if args != sys.argv[1:] else None)
    except ArgumentError as e:
        print(f"gan_lightning: error: {parse_error_line(str(e))}\n(see --help)", file=sys.stderr)
        sys.exit(2)
    except TrainingDiverged as e:
        print(f"gan_lightning: error: {e}", file=sys.stderr)
        sys.exit(1)
    except Exception as e:
        # jsonargparse wraps what a class raises while it is built; show our own message alone.
        cause = e
        while cause is not None and not isinstance(cause, ConfigError):
            cause = cause.__cause__ or cause.__context__
        if cause is None:
            raise
        print(f"gan_lightning: error: {cause}", file=sys.stderr)
        sys.exit(2)
