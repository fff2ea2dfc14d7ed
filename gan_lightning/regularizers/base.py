"""What a loss term beside the objective's sees, and the interface every such term has.

A term adds to the discriminator's loss, to the generator's, or to both, at the steps it is
active; the config lists the terms on the model (``regularizers``) and the training step calls
each at one place per update.
"""

from dataclasses import dataclass
from typing import Callable, Optional

from torch import Tensor

from gan_lightning.errors import ConfigError
from gan_lightning.critic import Judgement, Layers


@dataclass
class CriticStep:
    """One discriminator update: the batches ``[B, *shape]``, D's judgements of them (after the
    augmentation), their labels ``[B]`` (``None`` unconditional) and D's un-augmented score function
    with those labels, ``[N, *shape]`` -> ``[N]``. ``real`` / ``fake`` require gradients when a term
    active at this step said it needs them."""

    real: Tensor
    fake: Tensor
    real_out: Judgement
    fake_out: Judgement
    labels: Optional[Tensor]
    critic: Callable[[Tensor], Tensor]


@dataclass
class GeneratorStep:
    """One generator update: D's judgement of the generated batch (with gradients to G), of the real
    one (constant; ``None`` unless a term or the objective reads it), and the labels ``[B]``."""

    fake_out: Judgement
    real_out: Optional[Judgement]
    labels: Optional[Tensor]


class Regularizer:
    """A term weighted by ``weight``, in D's loss every ``every`` critic steps (times ``every``: lazy
    regularization, Karras et al. 2020) and in G's loss every step.

    A subclass sets ``name`` (D's log key, ``train/<name>``), ``generator_name`` (G's), which inputs need
    gradients (``needs_real_grad``, ``needs_fake_grad``), which hidden layers of D it reads in G's update
    (``layers``), whether it reads the real batch there (``reads_real``) and whether it takes D's input
    gradients (``double_backward``), and returns its terms from
    ``discriminator_term`` and ``generator_term``: ``(unweighted loss, value to log)``, or ``None`` on
    the side it has no term.
    """

    name = "penalty"
    generator_name = "g_penalty"
    needs_real_grad = False
    needs_fake_grad = False
    layers: Layers = None
    reads_real = False
    double_backward = False  # whether it differentiates D's input gradients (compiled graphs cannot)

    def __init__(self, weight: float, every: int = 1):
        if weight < 0 or every < 1:
            raise ConfigError(f"{type(self).__name__}: need weight >= 0 and every >= 1, got {weight} and {every}")
        self.weight, self.every = weight, every

    def active(self, critic_step: int) -> bool:
        # At weight 0 (an ablation, ``gp_weight: 0``) the penalty would cost its double backward for nothing.
        return self.weight > 0 and critic_step % self.every == 0

    def discriminator_term(self, step: CriticStep) -> Optional[tuple[Tensor, Tensor]]:
        return None

    def generator_term(self, step: GeneratorStep) -> Optional[tuple[Tensor, Tensor]]:
        return None

    def check(self, discriminator) -> None:
        """Stops with one line when ``discriminator`` cannot serve this term (called when the model is built)."""
