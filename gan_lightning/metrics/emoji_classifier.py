"""The shipped emoji classifier: a color feature network for FID, KID, precision/recall and category coverage.

It names an emoji's category (``gan_lightning.data.emoji.CATEGORIES``: 9 classes) from 32x32
pixels. The weights (``weights/emoji_classifier.pt``, float16) ship with the package and were
trained on the training split of ``EmojiDataModule`` with the GAN configs' split (``val_size`` 800,
seed 0), both vendors: no held-out emoji was seen, so the metrics' reference is new to it too.
``weights/emoji_classifier.json`` gives its accuracy on those held-out emoji. Retrain with

    python -m gan_lightning train_classifier --dataset emoji --data_dir data/emoji
"""

from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gan_lightning.errors import ConfigError
from gan_lightning.metrics.classifier import WEIGHTS_DIR, ConvClassifier, FrozenClassifier, conv

WEIGHTS = WEIGHTS_DIR / "emoji_classifier.pt"
INPUT_SIZE = 32
NUM_CATEGORIES = 9  # len(gan_lightning.data.emoji.CATEGORIES), without importing the data package


class EmojiClassifier(ConvClassifier):
    """Emoji ``[B, 3, 32, 32]`` in [-1, 1] -> 9 category logits; ``features`` gives the 256-d penultimate layer."""

    num_features = 256

    def __init__(self):
        super().__init__([*conv(3, 32), nn.MaxPool2d(2),  # 32 -> 16
                          *conv(32, 64), *conv(64, 64), nn.MaxPool2d(2),  # 16 -> 8
                          *conv(64, 128), nn.MaxPool2d(2),  # 8 -> 4
                          *conv(128, 256)], self.num_features, NUM_CATEGORIES)


class EmojiFeatures(FrozenClassifier):
    """The shipped emoji classifier as a frozen feature network.

    Images ``[B, 3, S, S]`` in [-1, 1] (any ``S`` from 16 up; resized to 32 with an antialiased
    bilinear filter first) -> features ``[B, 256]``; ``features_and_probabilities`` also gives the
    category probabilities ``[B, 1, 9]``.

    Args:
        weights_path: a classifier's weights; ``None`` takes the ones that ship with the package.
    """

    input_description = "float32 in [-1, 1]; other sizes resized to 32x32 bilinearly with antialiasing"

    def __init__(self, weights_path: Optional[str] = None):
        super().__init__(EmojiClassifier(), weights_path, WEIGHTS)

    def check_shape(self, shape: tuple[int, ...]) -> None:
        """Raises ``ConfigError`` unless one image's shape is ``(3, S, S)`` with ``S >= 16``."""
        if len(shape) != 3 or shape[0] != 3 or shape[1] != shape[2] or shape[1] < 16:
            raise ConfigError(f"the emoji feature network takes square color images of 16 pixels or more (3 x S x S), "
                              f"but this data is {'x'.join(map(str, shape))}; use feature mnist for digits or 2048 "
                              "(Inception)")

    def features_and_probabilities(self, images: Tensor) -> tuple[Tensor, Tensor]:
        """``[B, 3, S, S]`` -> features ``[B, 256]`` and category probabilities ``[B, 1, 9]``."""
        x = images.float()
        if x.shape[-1] != INPUT_SIZE:
            x = F.interpolate(x, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", antialias=True, align_corners=False)
        features = self.classifier.features(x)
        return features, self.classifier.head(features).softmax(dim=1).unsqueeze(1)


# ---- training: python -m gan_lightning train_classifier --dataset emoji (gan_lightning.metrics.classifier)

CLASSIFIER, EPOCHS, LEARNING_RATE = EmojiClassifier, 40, 2e-3


def datamodule(data_dir: Optional[str], val_size: Optional[int], seed: int):
    """The emoji the classifier learns from and is measured on: the GAN configs' split, at 32 pixels."""
    from gan_lightning.data.emoji import EmojiDataModule

    return EmojiDataModule(data_dir or "data/emoji", image_size=INPUT_SIZE,
                           val_size=800 if val_size is None else val_size, seed=seed, labels=True)


def augment(x: Tensor, generator: torch.Generator) -> Tensor:
    """Per image: a mirror image half the time and a shift of up to 3 pixels (edges repeated):
    ``[B, 3, 32, 32]`` -> same."""
    b, _, h, w = x.shape
    flip = torch.rand(b, generator=generator) < 0.5
    x = torch.where(flip.view(b, 1, 1, 1), x.flip(3), x)
    padded = F.pad(x, (3, 3, 3, 3), mode="replicate")
    dx, dy = torch.randint(0, 7, (2, b), generator=generator)
    rows = (dy.view(b, 1) + torch.arange(h)).view(b, 1, h, 1).expand(b, 3, h, w + 6)
    shifted = padded.gather(2, rows)
    cols = (dx.view(b, 1) + torch.arange(w)).view(b, 1, 1, w).expand(b, 3, h, w)
    return shifted.gather(3, cols)
