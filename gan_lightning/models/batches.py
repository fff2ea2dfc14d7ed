"""What one training batch holds: the real data of one iteration, or of several (``iterations_per_batch`` of
the 1-D data modules), each split into the slices of its ``n_critic`` discriminator updates."""

from typing import Optional

import torch
from torch import Tensor

from gan_lightning.errors import ConfigError

CriticBatches = list[tuple[Tensor, Optional[Tensor]]]  # (real samples [B, *shape], labels [B] or None) per D update


def split_batch(batch, n_critic: int, iterations: int, num_classes: Optional[int], model: str,
                channels_last: bool = False) -> list[CriticBatches]:
    """``batch`` = ``[iterations * n_critic * B, *shape]`` real samples, or ``(samples, labels)`` with a label each,
    as one ``CriticBatches`` per iteration. Labels are kept only for a conditional model (``num_classes``)."""
    batch, labels = batch if isinstance(batch, (tuple, list)) else (batch, None)
    if channels_last and batch.dim() == 4:
        batch = batch.contiguous(memory_format=torch.channels_last)
    if not num_classes:
        labels = None  # labelled data trains an unconditional model as well
    elif labels is None:
        raise ConfigError(f"{model} has num_classes={num_classes} but the batches have no labels; set "
                          "--data.init_args.labels true")
    parts = iterations * n_critic
    if len(batch) % parts:
        raise ValueError(f"a batch of {len(batch)} samples does not split into n_critic={n_critic} x iterations_per_batch="
                         f"{iterations} equal parts; set the datamodule's batches_per_step to n_critic (the CLI does this)")
    reals = batch.chunk(parts)
    slices = list(zip(reals, labels.chunk(parts) if labels is not None else [None] * parts))
    return [slices[i * n_critic:(i + 1) * n_critic] for i in range(iterations)]
