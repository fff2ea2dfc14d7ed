"""Mixtures of equally likely 2-D (or N-D) Gaussians: the mode-collapse benchmarks of GAN papers.

``ring8``: 8 modes on a circle of radius 2, sigma 0.02 (Metz et al. 2017, "Unrolled GANs";
Srivastava et al. 2017, "VEEGAN"). ``grid25``: 25 modes at {-4, -2, 0, 2, 4}^2, sigma 0.05
(VEEGAN). Any other list of means works too.
"""

import math
from typing import Literal, Optional

import torch
from torch import Tensor

from gan_lightning.data.gaussian import GaussianDataModule
from gan_lightning.errors import ConfigError


def mixture_layout(name: str) -> tuple[list[list[float]], float]:
    """(means, sigma) of a named layout: ``ring8`` or ``grid25``.

    >>> means, sigma = mixture_layout("grid25"); len(means), means[0], sigma
    (25, [-4.0, -4.0], 0.05)
    """
    if name == "ring8":
        return [[2 * math.cos(2 * math.pi * i / 8), 2 * math.sin(2 * math.pi * i / 8)] for i in range(8)], 0.02
    if name == "grid25":
        return [[float(x), float(y)] for x in range(-4, 5, 2) for y in range(-4, 5, 2)], 0.05
    raise ConfigError(f"GaussianMixtureDataModule: layout must be 'ring8' or 'grid25', got {name!r}")


class GaussianMixtureDataModule(GaussianDataModule):
    """Samples of a mixture of K equally likely isotropic Gaussians, ``[batch, dim]`` in data units.

    Args:
        layout: ``ring8`` or ``grid25``; ignored when ``means`` is given.
        means: ``[K, dim]`` centres of the modes, e.g. ``[[0, 0], [3, 3]]``.
        sigma: standard deviation of every mode (``None``: the layout's, or 0.05).
        batch_size, batches_per_step, epoch_length, val_size, seed, iterations_per_batch: as in
            ``GaussianDataModule``.
        labels: training batches are ``(samples, modes)`` pairs, the mode (its index in ``means``)
            as the class, for class-conditional models.
    """

    def __init__(
        self,
        layout: Literal["ring8", "grid25"] = "ring8",
        means: Optional[list[list[float]]] = None,
        sigma: Optional[float] = None,
        batch_size: int = 128,
        batches_per_step: int = 1,
        epoch_length: int = 500,
        val_size: int = 2500,
        seed: int = 0,
        labels: bool = False,
        iterations_per_batch: int = 1,
    ):
        layout_means, layout_sigma = mixture_layout(layout) if means is None else (means, 0.05)
        self.means = torch.as_tensor(layout_means, dtype=torch.float32)
        if self.means.dim() != 2 or len(self.means) < 1 or not bool(torch.isfinite(self.means).all()):
            raise ConfigError(f"GaussianMixtureDataModule: means must be a non-empty list of equal-length finite "
                              f"points, got {means}")
        self.mode_sigma = layout_sigma if sigma is None else sigma
        if not self.mode_sigma > 0:
            raise ConfigError(f"GaussianMixtureDataModule: sigma must be > 0, got {sigma}")
        self.labels = labels
        super().__init__(dim=self.means.shape[1], mu=0.0, sigma=1.0, batch_size=batch_size,
                         batches_per_step=batches_per_step, epoch_length=epoch_length, val_size=val_size, seed=seed,
                         iterations_per_batch=iterations_per_batch)

    @property
    def num_classes(self) -> int | None:
        """Classes of the labels in the training batches (the modes); ``None`` without labels."""
        return len(self.means) if self.labels else None

    def sample_with_modes(self, n: int, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
        """``[n, dim]`` samples, a uniformly chosen mode plus N(0, sigma^2) noise, and their modes int64 ``[n]``."""
        modes = torch.randint(len(self.means), (n,), generator=generator)
        return self.means[modes] + self.mode_sigma * torch.randn(n, self.means.shape[1], generator=generator), modes

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """``[n, dim]`` samples: a uniformly chosen mode plus N(0, sigma^2) noise."""
        return self.sample_with_modes(n, generator)[0]

    def training_sample(self, n: int, generator: torch.Generator | None = None):
        return self.sample_with_modes(n, generator) if self.labels else self.sample(n, generator)

    def density(self, x: Tensor) -> Tensor:
        """Mixture density at ``x`` (``[..., dim]`` -> ``[...]``)."""
        d = self.means.shape[1]
        squared = ((x.unsqueeze(-2) - self.means) ** 2).sum(-1) / self.mode_sigma ** 2
        norm = (2 * math.pi * self.mode_sigma ** 2) ** (d / 2)
        return torch.exp(-0.5 * squared).mean(-1) / norm
