"""A NaN or infinite loss stops training, without reading the device in every iteration.

Reading a GPU tensor on the host (``bool()``, ``.item()``) waits for every queued kernel: once per
iteration it idles the GPU between steps. The step hands its terms to ``DivergenceWatch.watch``,
which only keeps them; ``check`` reads all it kept in one transfer, where the loop reads the device
anyway (the logging interval) or must know before going on (a validation, a checkpoint, the end).
"""

import math

import torch
from torch import Tensor

from gan_lightning.errors import TrainingDiverged


class DivergenceWatch:
    """The iterations' logged terms since the last ``check``."""

    def __init__(self):
        self.unchecked: list[tuple[int, list[str], Tensor]] = []

    def watch(self, iteration: int, terms: dict[str, Tensor]) -> None:
        """Keeps ``terms`` (scalar tensors on the device) of ``iteration``; nothing is read."""
        self.unchecked.append((iteration, list(terms), torch.stack(list(terms.values())).detach()))

    def check(self, model: str, last_checkpoint: str) -> None:
        """Raises ``TrainingDiverged`` naming the first iteration since the last check with a NaN or infinite term."""
        window, self.unchecked = self.unchecked, []
        finite = torch.stack([values.isfinite().all() for _, _, values in window]).tolist() if window else []
        if all(finite):
            return
        iteration, names, values = window[finite.index(False)]
        bad = ", ".join(f"{k}={v}" for k, v in zip(names, values.tolist()) if not math.isfinite(v))
        raise TrainingDiverged(f"{model} diverged at iteration {iteration}: {bad}. The last good checkpoint is "
                               f"{last_checkpoint}; resume from it with lower learning rates or gradient_clip_val")
