"""Feature matching (Salimans et al. 2016) as a term of the generator's loss."""

from typing import Literal

from torch import nn

from gan_lightning.errors import ConfigError
from gan_lightning.losses import feature_matching_loss
from gan_lightning.regularizers.base import GeneratorStep, Regularizer


class FeatureMatching(Regularizer):
    """weight * the squared distance between the batch means of D's hidden features on the real and on
    the generated batch (as D sees them: augmented, packed), averaged over the features; logged as
    ``g_feature_matching``. It holds the generator's batch statistics to the data's, e.g. how often it
    draws each digit; the real features are constants.

    Args:
        weight: the term's weight in G's loss.
        layers: ``last``: D's last hidden layer (its ``features(x)``); ``all``: every hidden layer (its
            ``hidden_layers(x)``), the term the sum of each layer's, so G also matches the low-level
            statistics (strokes, brightness) the first layers see.
    """

    generator_name = "g_feature_matching"
    reads_real = True

    def __init__(self, weight: float = 1.0, layers: Literal["last", "all"] = "last"):
        if layers not in ("last", "all"):
            raise ConfigError(f"FeatureMatching: layers must be 'last' or 'all', got {layers!r}")
        super().__init__(weight)
        self.layers = layers

    def check(self, discriminator: nn.Module) -> None:
        method = "hidden_layers" if self.layers == "all" else "features"
        if not callable(getattr(discriminator, method, None)):
            raise ConfigError(f"FeatureMatching: layers {self.layers!r} needs a discriminator with a `{method}(x)` method "
                              f"(as the shipped discriminators have); {type(discriminator).__name__} has none")
        if any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in discriminator.modules()):
            raise ConfigError(f"FeatureMatching compares the discriminator's feature means on real and generated "
                              f"batches, which the batch norm of {type(discriminator).__name__} makes nearly equal; "
                              "set its norm to none or layer")

    def generator_term(self, step: GeneratorStep):
        real, fake = step.real_out.layers, step.fake_out.layers
        if self.layers == "last":  # the critic may have been asked for every layer by another term
            real, fake = real[-1:], fake[-1:]
        value = sum(feature_matching_loss(r, f) for r, f in zip(real, fake))
        return value, value
