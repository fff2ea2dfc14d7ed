"""Noise in, samples out: the sampling both a training module and a bare saved generator use.

Kept free of Lightning, so that ``python -m gan_lightning sample`` can draw from a checkpoint
without importing it (a few seconds of start-up).
"""

from typing import Iterator, Optional

import torch
from torch import Tensor


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


def sample_batches(model, n: int, seed: int, batch_size: int = 256) -> Iterator[Tensor]:
    """``n`` samples of ``model`` (its ``noise(n, generator)`` and ``sample(noise=...)``) in batches of
    ``batch_size`` from one seeded noise stream: the same ``seed`` gives the same samples in
    validation, ``evaluate`` and ``sample``."""
    generator = torch.Generator().manual_seed(seed)
    for start in range(0, n, batch_size):
        yield model.sample(noise=model.noise(min(batch_size, n - start), generator))
