"""Networks and callbacks that tests plug into real runs by class_path, and stand-ins for metrics tests."""

from pathlib import Path

import torch
from lightning.pytorch import Callback

from gan_lightning.networks import MLPDiscriminator


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
    """At the end of fit, every rank writes its parameters (and its next noise draw) to
    ``<run dir>/params-rank<r>.pt``."""

    def on_train_end(self, trainer, pl_module):
        state = {k: v.detach().cpu().clone() for k, v in pl_module.state_dict().items()}
        state["_next_noise"] = pl_module.noise(4).cpu()  # what this rank would draw next
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
