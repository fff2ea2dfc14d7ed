"""DiffAugment (Zhao et al. 2020, "Differentiable Augmentation for Data-Efficient GAN Training").

The same random, differentiable transformations are applied to every image the discriminator
sees, real and generated, in its update and in the generator's: D cannot memorize a small data
set, and the augmentation does not leak into the generated images because G's gradient flows
through it. Images are ``[B, C, H, W]`` in [-1, 1]; each sample draws its own parameters from the
global torch random state (so ``seed_everything`` makes a run repeatable).
"""

from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from gan_lightning.errors import ConfigError

POLICIES = ("color", "translation", "cutout")


def random_color(x: Tensor) -> Tensor:
    """Brightness +- 0.5, saturation x [0, 2], contrast x [0.5, 1.5], per sample (the paper's ranges)."""
    b = len(x)
    x = x + (torch.rand(b, 1, 1, 1, device=x.device, dtype=x.dtype) - 0.5)
    mean = x.mean(dim=1, keepdim=True)
    x = (x - mean) * (torch.rand(b, 1, 1, 1, device=x.device, dtype=x.dtype) * 2) + mean
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * (torch.rand(b, 1, 1, 1, device=x.device, dtype=x.dtype) + 0.5) + mean


def random_translation(x: Tensor, ratio: float = 0.125) -> Tensor:
    """Shifts each image by up to ``ratio`` of its size in whole pixels, filling with zeros."""
    b, _, h, w = x.shape
    shift = torch.stack([torch.randint(-int(w * ratio), int(w * ratio) + 1, (b,), device=x.device),
                         torch.randint(-int(h * ratio), int(h * ratio) + 1, (b,), device=x.device)], dim=1)
    theta = torch.zeros(b, 2, 3, device=x.device, dtype=x.dtype)
    theta[:, 0, 0] = theta[:, 1, 1] = 1
    theta[:, :, 2] = -2 * shift.to(x.dtype) / torch.tensor([w, h], device=x.device, dtype=x.dtype)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="nearest", padding_mode="zeros", align_corners=False)


def random_cutout(x: Tensor, ratio: float = 0.5) -> Tensor:
    """Zeroes one square of ``ratio`` x the image size at a random place in each image."""
    b, _, h, w = x.shape
    size_h, size_w = int(h * ratio + 0.5), int(w * ratio + 0.5)
    top = torch.randint(0, h + (1 - size_h % 2), (b, 1, 1), device=x.device) - size_h // 2
    left = torch.randint(0, w + (1 - size_w % 2), (b, 1, 1), device=x.device) - size_w // 2
    rows = torch.arange(h, device=x.device).view(1, h, 1)
    cols = torch.arange(w, device=x.device).view(1, 1, w)
    inside = (rows >= top) & (rows < top + size_h) & (cols >= left) & (cols < left + size_w)
    return x * (~inside).unsqueeze(1).to(x.dtype)


class DiffAugment:
    """Differentiable augmentation of images ``[B, C, H, W]`` in [-1, 1]; vectors pass unchanged.

    Args:
        policy: which transformations, in order: ``color``, ``translation``, ``cutout``.
        translation_ratio: largest shift, as a fraction of the image size (0.125 in the paper).
        cutout_ratio: side of the cut-out square, as a fraction of the image size (0.5 in the paper).
    """

    def __init__(self, policy: list[Literal["color", "translation", "cutout"]] = list(POLICIES),
                 translation_ratio: float = 0.125, cutout_ratio: float = 0.5):
        unknown = [p for p in policy if p not in POLICIES]
        if unknown or not 0 <= translation_ratio < 1 or not 0 < cutout_ratio < 1:
            raise ConfigError(f"DiffAugment: policy must be a list of {POLICIES}, translation_ratio in [0, 1) and "
                              f"cutout_ratio in (0, 1); got {policy}, {translation_ratio}, {cutout_ratio}")
        self.policy, self.translation_ratio, self.cutout_ratio = list(policy), translation_ratio, cutout_ratio

    def __call__(self, x: Tensor) -> Tensor:
        if x.dim() != 4:
            return x
        for name in self.policy:
            if name == "color":
                x = random_color(x)
            elif name == "translation":
                x = random_translation(x, self.translation_ratio)
            else:
                x = random_cutout(x, self.cutout_ratio)
        return x
