"""The shipped MNIST classifier: a feature network for FID, KID, precision/recall, and mode counts.

Inception needs a download and was trained on photographs; digits are better judged by a
network that knows digits. The weights (``weights/mnist_classifier.pt``, float16, ~280 KB)
ship with the package; ``weights/mnist_classifier.json`` beside them says which digits trained
them and their held-out accuracy. Retrain on the full 60,000 digits with

    python -m gan_lightning train_classifier --dataset mnist --data_dir data --val_size 5000
"""

from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gan_lightning.errors import ConfigError
from gan_lightning.metrics.classifier import WEIGHTS_DIR, ConvClassifier, FrozenClassifier, conv

WEIGHTS = WEIGHTS_DIR / "mnist_classifier.pt"


class MNISTClassifier(ConvClassifier):
    """Digits ``[B, 1, 28, 28]`` in [-1, 1] -> 10 logits; ``features`` gives the 128-d penultimate layer."""

    num_features = 128

    def __init__(self):
        # One convolution per scale: metrics classify tens of thousands of digits per evaluation.
        super().__init__([*conv(1, 32), nn.MaxPool2d(2),  # 28 -> 14
                          *conv(32, 64), nn.MaxPool2d(2),  # 14 -> 7
                          *conv(64, 128)], self.num_features, 10)


class MNISTFeatures(FrozenClassifier):
    """The shipped classifier as a frozen feature network, applied to each channel on its own.

    Images ``[B, C, 28, 28]`` in [-1, 1] -> features ``[B, 128 * C]`` (the channels' features side
    by side, so Stacked MNIST gets 384); ``probabilities`` gives ``[B, C, 10]`` digit probabilities.

    Args:
        weights_path: a classifier's weights; ``None`` takes the ones that ship with the package.
    """

    input_description = "float32 in [-1, 1], 28x28, each channel on its own"

    def __init__(self, weights_path: Optional[str] = None):
        super().__init__(MNISTClassifier(), weights_path, WEIGHTS)

    def check_shape(self, shape: tuple[int, ...]) -> None:
        """Raises ``ConfigError`` unless one image's shape is ``(C, 28, 28)``."""
        if len(shape) != 3 or tuple(shape[1:]) != (28, 28):
            raise ConfigError(f"the MNIST feature network takes 28x28 digit images (C x 28 x 28), but this data is "
                              f"{'x'.join(map(str, shape))}; use feature 2048 (Inception) or a feature network of your own")

    def features_and_probabilities(self, images: Tensor) -> tuple[Tensor, Tensor]:
        """``[B, C, 28, 28]`` -> features ``[B, 128 * C]`` and digit probabilities ``[B, C, 10]``."""
        b, c = images.shape[:2]
        features = self.classifier.features(images.float().reshape(b * c, 1, 28, 28))
        probabilities = self.classifier.head(features).softmax(dim=1)
        return features.reshape(b, c * MNISTClassifier.num_features), probabilities.reshape(b, c, 10)


# ---- training: python -m gan_lightning train_classifier --dataset mnist (gan_lightning.metrics.classifier)

CLASSIFIER, EPOCHS, LEARNING_RATE = MNISTClassifier, 20, 2e-3


def datamodule(data_dir: Optional[str], val_size: Optional[int], seed: int):
    """The digits the classifier learns from and is measured on (labelled)."""
    from gan_lightning.data.mnist import MNISTDataModule

    return MNISTDataModule(data_dir or "data", val_size=5000 if val_size is None else val_size, seed=seed, labels=True)


def augment(x: Tensor, generator: torch.Generator) -> Tensor:
    """Random shifts of up to 2 pixels, as digits are not always centred: ``[B, 1, 28, 28]`` -> same."""
    padded = F.pad(x, (2, 2, 2, 2), value=-1.0)
    dx, dy = torch.randint(0, 5, (2,), generator=generator).tolist()
    return padded[:, :, dy:dy + 28, dx:dx + 28]
