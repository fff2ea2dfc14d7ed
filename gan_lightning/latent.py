"""Noise in, samples out: the sampling both a training module and a bare saved generator use.

Kept free of Lightning, so that ``python -m gan_lightning sample`` can draw from a checkpoint
without importing it (a few seconds of start-up).
"""

from dataclasses import dataclass
from typing import Iterator, Literal, Optional

import torch
from torch import Tensor

from gan_lightning.errors import ConfigError


def latent_noise(n: int, latent_dim: int, distribution: str = "normal", scale: float = 1.0,
                 generator: Optional[torch.Generator] = None, device: torch.device | str = "cpu") -> Tensor:
    """``[n, latent_dim]`` noise: N(0, scale^2) (``normal``) or U(-scale, scale) (``uniform``), on ``device``.

    A seeded ``generator`` draws on the CPU, so a seed gives the same noise on any device.
    """
    where = "cpu" if generator is not None else device
    shape = (n, latent_dim)
    if distribution == "uniform":
        z = torch.rand(shape, generator=generator, device=where) * 2 - 1
    else:
        z = torch.randn(shape, generator=generator, device=where)
    return (z * scale).to(device)


@dataclass
class Latent:
    """The generator's input noise. In a config: ``latent: {distribution: uniform, scale: 1.0}``.

    Args:
        distribution: ``normal``, N(0, scale^2), or ``uniform``, U(-scale, scale).
        scale: standard deviation or half-width.
        seed: seed of the fixed noise that validation draws its samples from and grids show, so every
            validation of a run, and of two runs, compares the same latents.
    """

    distribution: Literal["normal", "uniform"] = "normal"
    scale: float = 1.0
    seed: int = 0

    def __post_init__(self):
        if self.distribution not in ("normal", "uniform") or not self.scale > 0:
            raise ConfigError(f"latent: distribution must be 'normal' or 'uniform' and scale > 0, got "
                              f"{self.distribution!r} and {self.scale}")

    def __call__(self, n: int, latent_dim: int, generator: Optional[torch.Generator] = None,
                 device: torch.device | str = "cpu") -> Tensor:
        """``[n, latent_dim]`` noise on ``device``; see ``latent_noise``."""
        return latent_noise(n, latent_dim, self.distribution, self.scale, generator, device)


def balanced_labels(n: int, num_classes: int) -> Tensor:
    """``[n]`` labels 0, 1, ..., num_classes - 1, 0, 1, ...: every class equally often (to within one)."""
    return torch.arange(n) % num_classes


def check_label_range(labels: Tensor, num_classes: int) -> None:
    if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= num_classes):
        bad = labels[(labels < 0) | (labels >= num_classes)][0]
        raise ConfigError(f"label {int(bad)} is outside [0, {num_classes}): this model has {num_classes} classes")


def sample_batches(model, n: int, seed: int, batch_size: int = 256, labels: Optional[Tensor] = None) -> Iterator[Tensor]:
    """``n`` samples of ``model`` (its ``noise(n, generator)``, ``sample(noise=..., labels=...)``,
    ``num_classes``) in batches of ``batch_size`` from one seeded noise stream: the same ``seed``
    gives the same samples in validation, ``evaluate`` and ``sample``. A conditional model samples
    ``labels`` ``[n]``, balanced over its classes when not given."""
    generator = torch.Generator().manual_seed(seed)
    if getattr(model, "num_classes", None) and labels is None:
        labels = balanced_labels(n, model.num_classes)
    for start in range(0, n, batch_size):
        noise = model.noise(min(batch_size, n - start), generator)
        if labels is None:
            yield model.sample(noise=noise)
        else:
            yield model.sample(noise=noise, labels=labels[start:start + len(noise)])
