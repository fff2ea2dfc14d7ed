"""Penalties on the discriminator's input gradients, composable with any objective.

A config lists them on the model, e.g.

    regularizers:
      - class_path: gan_lightning.regularizers.R1
        init_args: {gamma: 0.1}

Each is added to the critic's loss at its critic steps: every step, or every ``every`` steps with
the weight multiplied by ``every`` (lazy regularization, Karras et al. 2020, StyleGAN2), which
keeps the same penalty in expectation at a fraction of the cost. R1 and R2 reuse the critic's
outputs of the step (their inputs are marked as needing gradients before the forward pass), so
they cost a double-backward, never a second forward pass. Gradients are taken with
``torch.autograd.grad(create_graph=True)`` (``backward(create_graph=True)`` leaks and breaks DDP),
and the norms are taken in float32.
"""

import torch
from torch import Tensor, nn

from gan_lightning.errors import ConfigError
from gan_lightning.losses import gradient_penalty, per_output_norms


def input_gradient_norms(outputs: Tensor, inputs: Tensor) -> Tensor:
    """``||d outputs_i / d inputs_i||_2`` per output, ``[len(outputs)]`` float32, differentiable
    (``create_graph``): per sample, or per pack when the critic judges packs of samples.

    >>> x = torch.tensor([[3.0, 4.0], [1.0, 0.0]], requires_grad=True)
    >>> input_gradient_norms((x * torch.tensor([3.0, 4.0])).sum(1), x).tolist()
    [5.0, 5.0]
    """
    (grads,) = torch.autograd.grad(outputs.float().sum(), inputs, create_graph=True)
    return per_output_norms(grads.float(), outputs)


class Regularizer:
    """A penalty on the critic, weighted by ``weight`` and applied every ``every`` critic steps (x ``every``).

    A subclass sets ``name`` (its log key, ``train/<name>``), which inputs need gradients
    (``needs_real_grad``, ``needs_fake_grad``) and ``penalty``.
    """

    name = "penalty"
    needs_real_grad = False
    needs_fake_grad = False

    def __init__(self, weight: float, every: int = 1):
        if weight < 0 or every < 1:
            raise ConfigError(f"{type(self).__name__}: need weight >= 0 and every >= 1, got {weight} and {every}")
        self.weight, self.every = weight, every

    def active(self, critic_step: int) -> bool:
        # At weight 0 (an ablation, ``gp_weight: 0``) the penalty would cost its double backward for nothing.
        return self.weight > 0 and critic_step % self.every == 0

    def penalty(self, critic: nn.Module, real: Tensor, fake: Tensor, real_out: Tensor, fake_out: Tensor) -> Tensor:
        """The unweighted penalty, a float32 scalar >= 0 whose graph reaches the critic's weights."""
        raise NotImplementedError

    def loss(self, critic, real, fake, real_out, fake_out) -> tuple[Tensor, Tensor]:
        """(weighted loss term, unweighted penalty for the log) at an active step."""
        value = self.penalty(critic, real, fake, real_out, fake_out)
        return self.weight * self.every * value, value


class R1(Regularizer):
    """Mescheder et al. 2018: gamma / 2 * E_x~data ||grad_x D(x)||^2, zero-centred on real data.

    Args:
        gamma: weight (R3GAN and StyleGAN2 use 0.05 to 10 depending on the data).
        every: apply every ``every`` critic steps, weighted by ``every`` (lazy).
    """

    name = "r1"
    needs_real_grad = True

    def __init__(self, gamma: float = 1.0, every: int = 1):
        super().__init__(gamma / 2, every)
        self.gamma = gamma

    def penalty(self, critic, real, fake, real_out, fake_out):
        return (input_gradient_norms(real_out, real) ** 2).mean()


class R2(Regularizer):
    """Mescheder et al. 2018; R3GAN: gamma / 2 * E_z ||grad D(G(z))||^2, zero-centred on generated data."""

    name = "r2"
    needs_fake_grad = True

    def __init__(self, gamma: float = 1.0, every: int = 1):
        super().__init__(gamma / 2, every)
        self.gamma = gamma

    def penalty(self, critic, real, fake, real_out, fake_out):
        return (input_gradient_norms(fake_out, fake) ** 2).mean()


class GradientPenalty(Regularizer):
    """Gulrajani et al. 2017: weight * E[(||grad D(x_hat)||_2 - 1)^2] on random interpolates x_hat
    (one-sided: weight * E[max(0, ||grad D(x_hat)||_2 - 1)^2], Petzka et al. 2018).

    The critic's pass over the interpolates runs in float32 with autocast off. The critic must
    treat samples independently (no batch norm): the penalty is per sample.

    Args:
        weight: lambda (10 in the paper).
        every: apply every ``every`` critic steps, weighted by ``every`` (lazy).
        one_sided: penalize only slopes above 1 (see ``losses.gradient_penalty``).
    """

    name = "gp"

    def __init__(self, weight: float = 10.0, every: int = 1, one_sided: bool = False):
        super().__init__(weight, every)
        self.one_sided = one_sided

    def penalty(self, critic, real, fake, real_out, fake_out):
        return gradient_penalty(critic, real, fake, one_sided=self.one_sided)
