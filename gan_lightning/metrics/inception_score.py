"""The Inception Score (Salimans et al. 2016) of generated samples, from a classifier's class logits.

torchmetrics' implementation, fed logits the feature network has already computed: Inception's
1008 ImageNet logits (``logits_unbiased``, the standard IS), or the class probabilities of the shipped
MNIST and emoji classifiers, whose score is a domain IS (10 digits, 9 emoji categories: at most 10 and 9).
"""

import torch
from torch import Tensor, nn
from torchmetrics.image.inception import InceptionScore


class Logits(nn.Module):
    """Hands precomputed logits ``[N, K]`` to torchmetrics' InceptionScore unchanged."""

    def forward(self, logits: Tensor) -> Tensor:
        return logits


class ScoreOfLogits(InceptionScore):
    """exp(E_x KL(p(y|x) || p(y))) over ``splits`` parts of the samples: ``{"is": mean, "is_std": std}``.

    torchmetrics shuffles the samples before splitting them with the global random generator; that
    draw is made here on a generator of its own, so measuring leaves training's random stream alone.
    """

    def __init__(self, splits: int = 10):
        super().__init__(feature=Logits(), splits=splits)

    def compute(self) -> dict[str, Tensor]:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            mean, std = super().compute()
        return {"is": mean, "is_std": std}
