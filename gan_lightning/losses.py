"""Loss terms and constraints of the GAN objectives, as pure functions of logits.

Every loss takes raw discriminator outputs (logits, any real number, shape ``[B]`` or ``[B, 1]``)
and returns a scalar to *minimize*. Nothing here applies a sigmoid and then a log: the
``softplus`` forms are the numerically stable equivalents and are safe under autocast.
"""

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def minimax_discriminator_loss(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """Goodfellow et al. 2014: -log D(x) - log(1 - D(G(z))), i.e. binary cross-entropy from logits."""
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def minimax_generator_loss(fake_logits: Tensor) -> Tensor:
    """Goodfellow et al. 2014, the saturating form: G minimizes log(1 - D(G(z))) = -softplus(logit)."""
    return -F.softplus(fake_logits).mean()


def nonsaturating_generator_loss(fake_logits: Tensor) -> Tensor:
    """Goodfellow et al. 2014, section 3: G maximizes log D(G(z)), i.e. minimizes softplus(-logit)."""
    return F.softplus(-fake_logits).mean()


def wasserstein_critic_loss(real_scores: Tensor, fake_scores: Tensor) -> Tensor:
    """Arjovsky et al. 2017: the critic maximizes E[f(x)] - E[f(G(z))]."""
    return fake_scores.mean() - real_scores.mean()


def wasserstein_generator_loss(fake_scores: Tensor) -> Tensor:
    """Arjovsky et al. 2017: the generator maximizes E[f(G(z))]."""
    return -fake_scores.mean()


def feature_matching_loss(real_features: Tensor, fake_features: Tensor) -> Tensor:
    """Salimans et al. 2016: the squared distance between the batch means of the discriminator's
    features on real and on generated samples (``[B, ...]`` each), averaged over the features."""
    difference = real_features.flatten(1).float().mean(0) - fake_features.flatten(1).float().mean(0)
    return difference.pow(2).mean()


def pack(x: Tensor, m: int) -> Tensor:
    """PacGAN (Lin et al. 2018): ``m`` consecutive samples joined along the feature axis,
    ``[B, C, ...]`` -> ``[B / m, m * C, ...]``, so the discriminator judges ``m`` samples at once.

    >>> pack(torch.arange(4.0).view(4, 1), 2).tolist()
    [[0.0, 1.0], [2.0, 3.0]]
    """
    if m == 1:
        return x
    if len(x) % m:
        raise ValueError(f"a batch of {len(x)} samples does not split into packs of {m}; use a batch size divisible by {m}")
    return x.reshape(len(x) // m, m * x.shape[1], *x.shape[2:])


def per_output_norms(grads: Tensor, outputs: Tensor) -> Tensor:
    """The input gradient's L2 norm per output, ``[len(outputs)]``: per sample, or per pack of
    ``len(grads) / len(outputs)`` consecutive samples when the critic judges packs (``pack``)."""
    return grads.reshape(len(outputs), -1).norm(2, dim=1)


def gradient_penalty(critic: nn.Module, real: Tensor, fake: Tensor, alpha: Tensor | None = None,
                     one_sided: bool = False) -> Tensor:
    """Gulrajani et al. 2017: E[(||grad_x f(x_hat)||_2 - 1)^2] on random interpolates x_hat; one-sided,
    E[max(0, ||grad_x f(x_hat)||_2 - 1)^2] (Petzka et al. 2018's Lipschitz penalty).

    Args:
        critic: maps ``[B, *shape]`` to scores ``[B]`` or ``[B, 1]``; must treat samples
            independently (no batch norm), since the penalty is per sample (per pack of
            ``B / len(scores)`` samples when it packs them: one interpolation weight per sample).
        real: ``[B, *shape]`` real samples.
        fake: ``[B, *shape]`` generated samples (detached or not; no gradient reaches G).
        alpha: ``[B]`` interpolation weights in [0, 1]; drawn uniformly when not given.
        one_sided: penalize only norms above 1. The two-sided penalty pushes the critic's slope up to 1
            even where the two distributions already agree, so the generator is pushed on at the
            equilibrium (Mescheder et al. 2018: not locally convergent); the one-sided one only caps it.

    Returns:
        A float32 scalar >= 0, computed in float32 whatever the autocast context. The graph is kept (``create_graph=True``) so it can be back-propagated
        into the critic's weights.
    """
    if real.shape != fake.shape:
        raise ValueError(f"gradient_penalty needs real and fake of one shape, got {tuple(real.shape)} and {tuple(fake.shape)}")
    real, fake = real.detach().float(), fake.detach().float()
    shape = [real.shape[0]] + [1] * (real.dim() - 1)
    alpha = torch.rand(shape, device=real.device) if alpha is None else alpha.float().view(shape)
    interpolates = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
    # In float32 even under mixed precision: half-precision input gradients underflow, and the
    # penalty is taken on unscaled scores, so a loss scaler never distorts the norm.
    with torch.autocast(device_type=real.device.type, enabled=False):
        scores = critic(interpolates)
        # autograd.grad, not backward(create_graph=True): the latter leaks memory and breaks DDP.
        (grads,) = torch.autograd.grad(scores.sum(), interpolates, create_graph=True)
        excess = per_output_norms(grads, scores) - 1
        return ((excess.clamp(min=0) if one_sided else excess) ** 2).mean()


@torch.no_grad()
def clip_weights(module: nn.Module, clip_value: float) -> None:
    """Arjovsky et al. 2017: clamp every parameter of the critic to [-c, c] after its step."""
    for p in module.parameters():
        p.clamp_(-clip_value, clip_value)


def hinge_discriminator_loss(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """Lim & Ye 2017; Miyato et al. 2018: E[max(0, 1 - D(x))] + E[max(0, 1 + D(G(z)))].

    >>> float(hinge_discriminator_loss(torch.tensor([2.0, 0.5]), torch.tensor([-3.0, 0.0])))
    0.75
    """
    return F.relu(1 - real_logits).mean() + F.relu(1 + fake_logits).mean()


def hinge_generator_loss(fake_logits: Tensor) -> Tensor:
    """Lim & Ye 2017; Miyato et al. 2018: G maximizes E[D(G(z))]."""
    return -fake_logits.mean()


def least_squares_discriminator_loss(real_scores: Tensor, fake_scores: Tensor) -> Tensor:
    """Mao et al. 2017 (targets a = 0 for fakes, b = 1 for reals): 1/2 E[(D(x) - 1)^2] + 1/2 E[D(G(z))^2].

    >>> float(least_squares_discriminator_loss(torch.tensor([1.0, 3.0]), torch.tensor([2.0, 0.0])))
    2.0
    """
    return 0.5 * ((real_scores - 1) ** 2).mean() + 0.5 * (fake_scores ** 2).mean()


def least_squares_generator_loss(fake_scores: Tensor) -> Tensor:
    """Mao et al. 2017 (target c = 1): 1/2 E[(D(G(z)) - 1)^2]."""
    return 0.5 * ((fake_scores - 1) ** 2).mean()


def relativistic_discriminator_loss(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """Relativistic pairing (Jolicoeur-Martineau 2018; R3GAN, Huang et al. 2024): E[softplus(D(G(z)) - D(x))],
    each real paired with the fake of the same index.

    >>> round(float(relativistic_discriminator_loss(torch.tensor([0.0]), torch.tensor([0.0]))), 4)  # log 2
    0.6931
    """
    return F.softplus(fake_logits - real_logits).mean()


def relativistic_generator_loss(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """Relativistic pairing, the generator's side: E[softplus(D(x) - D(G(z)))]."""
    return F.softplus(real_logits - fake_logits).mean()
