"""The AC-GAN class loss (Odena et al. 2017): a discriminator's class head, trained on both sides."""

import torch
from torch import Tensor, nn

from gan_lightning.critic import has_class_head
from gan_lightning.errors import ConfigError
from gan_lightning.regularizers.base import CriticStep, GeneratorStep, Regularizer


def class_cross_entropy(logits: Tensor, labels: Tensor) -> Tensor:
    """Cross-entropy of class logits ``[B, K]`` against labels ``[B]``, in float32."""
    return torch.nn.functional.cross_entropy(logits.float(), labels)


class ClassificationLoss(Regularizer):
    """weight * the cross-entropy of D's class head (``conditioning: auxiliary`` or ``both``): on real and
    generated samples in D's loss (the real part logged as ``d_class``), on generated ones in G's
    (``g_class``), each with the labels it was drawn for. A model whose discriminator has a class head
    and whose ``regularizers`` name no ``ClassificationLoss`` gets this one with its defaults.

    Args:
        weight: the weight of each cross-entropy.
        classify_fakes: whether D's class loss also has the generated samples (Odena et al.). ``False``:
            reals only, so the head stays a classifier of real data that G must satisfy, rather than one
            D and G can agree on between themselves.
    """

    name = "d_class"
    generator_name = "g_class"

    def __init__(self, weight: float = 1.0, classify_fakes: bool = True):
        super().__init__(weight)
        self.classify_fakes = classify_fakes

    def check(self, discriminator: nn.Module) -> None:
        if not has_class_head(discriminator):
            raise ConfigError(f"ClassificationLoss needs a conditional discriminator with a class head (num_classes set, "
                              f"conditioning auxiliary or both); {type(discriminator).__name__} has none")

    def discriminator_term(self, step: CriticStep):
        real = class_cross_entropy(step.real_out.classes, step.labels)
        if not self.classify_fakes:
            return real, real
        return real + class_cross_entropy(step.fake_out.classes, step.labels), real

    def generator_term(self, step: GeneratorStep):
        value = class_cross_entropy(step.fake_out.classes, step.labels)
        return value, value
