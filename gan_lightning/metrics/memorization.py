"""Memorization: how often a generated image is closer to a training image than new real images are.

A small data set invites a generator to copy it. Every image is compared with the training set in
pixel space (L2 over ``[C, H, W]`` in [-1, 1], where a copy is near and a new drawing is not). The
threshold is the median distance from a held-out real image to its nearest training image, taken
on one half of the held-out images; the other half's share below it (``memorization_reals``, about
0.5) is what images that copy nothing score. A generator whose share (``memorization``) is well
above it puts its samples nearer the training images than new real images come: it copies.
"""

import torch
from torch import Tensor
from torchmetrics import Metric


def nearest_distance(images: Tensor, train: Tensor, chunk: int = 1024) -> Tensor:
    """L2 distance ``[N]`` from each of ``images [N, D]`` to its nearest row of ``train [M, D]``.

    >>> nearest_distance(torch.tensor([[0.0, 0.0], [3.0, 4.0]]), torch.tensor([[0.0, 1.0], [3.0, 3.0]])).tolist()
    [1.0, 1.0]
    """
    train = train.float()
    return torch.cat([torch.cdist(part.float(), train).min(dim=1).values for part in images.split(chunk)])


def memorization_reference(train: Tensor, held_out: Tensor) -> dict[str, Tensor]:
    """The threshold (median nearest-training distance of the first half of ``held_out``) and the second
    half's share below it; images ``[N, C, H, W]`` in [-1, 1]."""
    if len(held_out) < 4:
        raise ValueError(f"memorization needs 4 or more held-out images, got {len(held_out)}")
    train, held_out = train.flatten(1), held_out.flatten(1)
    half = len(held_out) // 2
    threshold = nearest_distance(held_out[:half], train).median()
    reals = (nearest_distance(held_out[half:], train) < threshold).double().mean()
    return {"memorization_threshold": threshold, "memorization_reals": reals}


class Memorization(Metric):
    """``{"memorization", "memorization_reals"}``: the share of generated images nearer their nearest
    training image than ``threshold``, and held-out real images' own share (``memorization_reference``).

    Args:
        train: the training images ``[M, C, H, W]`` in [-1, 1].
        threshold: the distance below which an image counts as near a training image.
        reals_share: held-out real images' share below ``threshold``, reported beside the generated one.
    """

    full_state_update = False

    def __init__(self, train: Tensor, threshold: float, reals_share: float, **kwargs):
        super().__init__(**kwargs)
        self.register_buffer("train_images", train.flatten(1).float(), persistent=False)
        self.threshold, self.reals_share = float(threshold), float(reals_share)
        self.add_state("near", default=torch.zeros((), dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("total", default=torch.zeros((), dtype=torch.float64), dist_reduce_fx="sum")

    def update(self, images: Tensor) -> None:
        """images: generated ``[n, C, H, W]`` in [-1, 1]."""
        distance = nearest_distance(images.flatten(1), self.train_images.to(images.device))
        self.near += (distance < self.threshold).sum()
        self.total += len(images)

    def compute(self) -> dict[str, Tensor]:
        return {"memorization": (self.near / self.total.clamp(min=1)).float(),
                "memorization_reals": torch.tensor(self.reals_share, dtype=torch.float32)}
