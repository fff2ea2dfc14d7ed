"""Loss terms beside the objective's, composable with any objective.

A config lists them on the model, e.g.

    regularizers:
      - class_path: gan_lightning.regularizers.R1
        init_args: {gamma: 0.1}

Each is added to the discriminator's loss at its critic steps (every step, or every ``every``
steps with the weight multiplied by ``every``: lazy regularization), to the generator's at every
step, or to both. The input-gradient penalties (R1, R2, the gradient penalty) are discriminator
terms, feature matching a generator term, the AC-GAN class loss one of each.
"""

from gan_lightning.regularizers.base import CriticStep, GeneratorStep, Regularizer
from gan_lightning.regularizers.classification import ClassificationLoss
from gan_lightning.regularizers.feature_matching import FeatureMatching
from gan_lightning.regularizers.gradient import R1, R2, GradientPenalty, input_gradient_norms

__all__ = ["Regularizer", "CriticStep", "GeneratorStep", "R1", "R2", "GradientPenalty", "FeatureMatching",
           "ClassificationLoss", "input_gradient_norms"]
