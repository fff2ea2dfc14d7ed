"""Penalties on the discriminator's input gradients: R1, R2 and the gradient penalty.

R1 and R2 reuse the critic's outputs of the step (their inputs are marked as needing gradients
before the forward pass), so they cost a double-backward, never a second forward pass. Gradients
are taken with ``torch.autograd.grad(create_graph=True)`` (``backward(create_graph=True)`` leaks and
breaks DDP), and the norms are taken in float32.
"""

import torch
from torch import Tensor

from gan_lightning.losses import gradient_penalty, per_output_norms
from gan_lightning.regularizers.base import CriticStep, Regularizer


def input_gradient_norms(outputs: Tensor, inputs: Tensor) -> Tensor:
    """``||d outputs_i / d inputs_i||_2`` per output, ``[len(outputs)]`` float32, differentiable
    (``create_graph``): per sample, or per pack when the critic judges packs of samples.

    >>> x = torch.tensor([[3.0, 4.0], [1.0, 0.0]], requires_grad=True)
    >>> input_gradient_norms((x * torch.tensor([3.0, 4.0])).sum(1), x).tolist()
    [5.0, 5.0]
    """
    (grads,) = torch.autograd.grad(outputs.float().sum(), inputs, create_graph=True)
    return per_output_norms(grads.float(), outputs)


class ZeroCentredPenalty(Regularizer):
    """gamma / 2 * E ||grad_x D(x)||^2 over one side of the step: real data (R1) or generated (R2).

    Args:
        gamma: weight (R3GAN and StyleGAN2 use 0.05 to 10 depending on the data).
        every: apply every ``every`` critic steps, weighted by ``every`` (lazy).
    """

    double_backward = True

    def __init__(self, gamma: float = 1.0, every: int = 1):
        super().__init__(gamma / 2, every)
        self.gamma = gamma

    def discriminator_term(self, step: CriticStep):
        inputs, judged = (step.real, step.real_out) if self.needs_real_grad else (step.fake, step.fake_out)
        value = (input_gradient_norms(judged.score, inputs) ** 2).mean()
        return value, value


class R1(ZeroCentredPenalty):
    """Mescheder et al. 2018: gamma / 2 * E_x~data ||grad_x D(x)||^2, zero-centred on real data."""

    name = "r1"
    needs_real_grad = True


class R2(ZeroCentredPenalty):
    """Mescheder et al. 2018; R3GAN: gamma / 2 * E_z ||grad D(G(z))||^2, zero-centred on generated data."""

    name = "r2"
    needs_fake_grad = True


class GradientPenalty(Regularizer):
    """Gulrajani et al. 2017: weight * E[(||grad D(x_hat)||_2 - 1)^2] on random interpolates x_hat
    (one-sided: weight * E[max(0, ||grad D(x_hat)||_2 - 1)^2], Petzka et al. 2018).

    The critic's pass over the interpolates runs in float32 with autocast off. The critic must
    treat samples independently (no batch norm): the penalty is per sample (per pack when packing).

    Args:
        weight: lambda (10 in the paper).
        every: apply every ``every`` critic steps, weighted by ``every`` (lazy).
        one_sided: penalize only slopes above 1 (see ``losses.gradient_penalty``).
    """

    name = "gp"
    double_backward = True

    def __init__(self, weight: float = 10.0, every: int = 1, one_sided: bool = False):
        super().__init__(weight, every)
        self.one_sided = one_sided

    def discriminator_term(self, step: CriticStep):
        value = gradient_penalty(step.critic, step.real.detach(), step.fake.detach(), one_sided=self.one_sided)
        return value, value
