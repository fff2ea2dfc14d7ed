"""An exponential moving average of the generator's weights, for validation and sampling.

The model keeps the average as ``generator_ema`` (a copy of the generator, in checkpoints under
that name); this policy says when and by how much it moves. Lightning's ``EMAWeightAveraging`` is
not a substitute: it averages the discriminator too, counts optimizer steps (``n_critic + 1`` per
iteration here) and swaps the average into the live model.
"""

import math
from dataclasses import dataclass
from typing import Optional

import torch
from torch import nn

from gan_lightning.errors import ConfigError


@dataclass
class EMA:
    """The average's policy. In a config: ``ema: {decay: 0.999}``.

    Args:
        decay: the decay per generator iteration, in (0, 1); the average spans about
            ``1 / (1 - decay)`` iterations. A warm-up lowers it at the start, so the average does
            not hold on to the first weights.
        every: move the average every this many iterations, with the decays of those iterations
            multiplied into one, so it averages as an update every iteration would (it trails the
            generator by up to ``every - 1`` iterations more) at a fraction of the cost. ``None``:
            2% of the horizon ``1 / (1 - decay)``, from 1 to 10.
    """

    decay: float = 0.999
    every: Optional[int] = None

    def __post_init__(self):
        if not 0.0 < self.decay < 1.0:
            raise ConfigError(f"EMA: decay must be in (0, 1), got {self.decay}")
        if self.every is not None and self.every < 1:
            raise ConfigError(f"EMA: every must be >= 1 or null, got {self.every}")

    @property
    def interval(self) -> int:
        return self.every or min(10, max(1, round(0.02 / (1 - self.decay))))

    def decay_at(self, t: int) -> float:
        """The decay at generator iteration ``t``, with the warm-up."""
        return min(self.decay, (1 + t) / (10 + t))

    @torch.no_grad()
    def update(self, average: nn.Module, network: nn.Module, t: int) -> None:
        """After generator iteration ``t`` (0, 1, ...): every ``interval`` iterations, moves ``average``
        toward ``network`` by all of them at once. The schedule follows ``t`` alone, so a resumed run keeps it."""
        k = self.interval
        if (t + 1) % k:
            return
        # The k iterations' decays multiply: the newest weights get the share k updates would give them
        # (exactly so if the weights had stood still over those k iterations).
        decay = math.prod(self.decay_at(s) for s in range(t - k + 1, t + 1))
        # One fused call over all tensors rather than a Python loop of small kernels.
        torch._foreach_lerp_(list(average.parameters()), list(network.parameters()), 1 - decay)
        for a, b in zip(average.buffers(), network.buffers()):
            a.copy_(b)
