"""What tests share: paths, running the CLI in a subprocess, networks and callbacks they plug into real runs by
class_path, and stand-ins for metrics tests."""

import os
import subprocess
import sys
from pathlib import Path

import torch
from lightning.pytorch import Callback

from gan_lightning.networks import MLPDiscriminator

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "configs"
# An MNIST config's fit shrunk to seconds, on real digits written to ./data (images.write_real_mnist):
# 8-wide DCGANs, 3 iterations of batch 16, one validation on 100 samples against 100 held out.
TINY_MNIST = ["--data.init_args.data_dir", "data", "--data.init_args.download", "false", "--data.init_args.val_size",
              "100", "--data.init_args.batch_size", "16", "--model.init_args.generator.init_args.base_width", "8",
              "--model.init_args.discriminator.init_args.base_width", "8",
              "--model.init_args.metrics.init_args.num_samples", "100", "--trainer.max_epochs", "1",
              "--trainer.limit_train_batches", "3", "--trainer.val_check_interval", "3"]


def run_cli(args: list[str], cwd: Path, timeout: float = 300, check: bool = True,
            entry: tuple[str, ...] = ("-m", "gan_lightning")):
    """Runs ``python -m gan_lightning ARGS`` in a subprocess, as a user would (``entry``: a script that calls
    the CLI's ``main`` instead)."""
    # WANDB_SERVICE would hand the child to this process's W&B service, if a test started one.
    env = {k: v for k, v in os.environ.items() if k not in ("WANDB_API_KEY", "WANDB_MODE", "WANDB_SERVICE")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "tests"), env.get("PYTHONPATH", "")])  # test-made feature nets
    result = subprocess.run([sys.executable, *entry, *args], cwd=cwd, env=env,
                            capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"exit {result.returncode}\nSTDOUT:\n{result.stdout[-3000:]}\nSTDERR:\n{result.stderr[-5000:]}")
    return result


class NaNDiscriminator(MLPDiscriminator):
    """An MLP discriminator whose output turns NaN from its ``nan_from_call``-th training forward pass."""

    def __init__(self, nan_from_call: int = 10, **kwargs):
        super().__init__(**kwargs)
        self.nan_from_call, self.calls = nan_from_call, 0

    def forward(self, x):
        out = super().forward(x)
        if not self.training:  # plots look at D in eval mode; only training passes count
            return out
        self.calls += 1
        return out * float("nan") if self.calls >= self.nan_from_call else out


class DumpRankParameters(Callback):
    """At the end of fit, every rank writes its parameters (its next noise draw, its learning rates) to
    ``<run dir>/params-rank<r>.pt``."""

    def on_train_end(self, trainer, pl_module):
        state = {k: v.detach().cpu().clone() for k, v in pl_module.state_dict().items()}
        state["_next_noise"] = pl_module.noise(4).cpu()  # what this rank would draw next
        state["_learning_rates"] = torch.tensor([g["lr"] for opt in trainer.optimizers for g in opt.param_groups])
        torch.save(state, Path(trainer.default_root_dir) / f"params-rank{trainer.global_rank}.pt")


class ReplayGenerator:
    """Stands in for a trained model that generates exactly the given samples, in order (``SampleMetrics``'s
    view of a model: ``device`` and ``sample_batches``)."""

    def __init__(self, samples: torch.Tensor):
        self.samples, self.device = samples, torch.device("cpu")

    def sample_batches(self, n, seed, batch_size=256):
        yield from self.samples[:n].split(batch_size)


class FixedReference:
    """A data module's reference interface (``hparams``, ``reference(split)``) over fixed samples."""

    hparams = {}

    def __init__(self, samples: torch.Tensor):
        self.samples = samples

    def reference(self, split):
        return self.samples
