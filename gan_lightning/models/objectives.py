"""The GAN objectives. Each differs from the base loop only in its loss terms, constraint and defaults."""

from typing import Optional

import torch

from gan_lightning import losses
from gan_lightning.errors import ConfigError
from gan_lightning.models.base import GANModule
from gan_lightning.regularizers import GradientPenalty, Regularizer


class GAN(GANModule):
    """Original minimax GAN (Goodfellow et al. 2014): G minimizes log(1 - D(G(z)))."""

    def discriminator_loss(self, real_score, fake_score):
        return {"d_loss": losses.minimax_discriminator_loss(real_score, fake_score)}

    def generator_loss(self, fake_score):
        return losses.minimax_generator_loss(fake_score)


class NSGAN(GAN):
    """Non-saturating GAN (Goodfellow et al. 2014, sec. 3): G maximizes log D(G(z))."""

    def generator_loss(self, fake_score):
        return losses.nonsaturating_generator_loss(fake_score)


class WGAN(GANModule):
    """Wasserstein GAN with weight clipping (Arjovsky et al. 2017).

    Args:
        clip_value: critic weights are clamped to [-clip_value, clip_value] after each update.
        n_critic: critic updates per generator update (5 in the paper).
        **kwargs: the arguments of ``GANModule``.
    """

    outputs_logits = False

    def __init__(self, *args, clip_value: float = 0.01, n_critic: int = 5, **kwargs):
        if clip_value <= 0:
            raise ConfigError(f"WGAN: clip_value must be > 0, got {clip_value}")
        super().__init__(*args, n_critic=n_critic, **kwargs)
        self.clip_value = clip_value

    @staticmethod
    def default_optimizer(params):
        """RMSprop(5e-5), as in the paper (momentum-based optimizers made the critic unstable)."""
        return torch.optim.RMSprop(params, lr=5e-5)

    def discriminator_loss(self, real_score, fake_score):
        loss = losses.wasserstein_critic_loss(real_score, fake_score)
        return {"d_loss": loss, "w_distance": -loss.detach()}

    def generator_loss(self, fake_score):
        return losses.wasserstein_generator_loss(fake_score)

    def after_discriminator_step(self):
        losses.clip_weights(self.discriminator, self.clip_value)


class WGANGP(GANModule):
    """Wasserstein GAN with gradient penalty (Gulrajani et al. 2017): WGAN's loss, no clipping, and
    the ``GradientPenalty`` regularizer with weight ``gp_weight`` ahead of any other regularizers.

    Args:
        gp_weight: lambda, the weight of the gradient penalty (10 in the paper).
        gp_one_sided: penalize only input-gradient norms above 1 (Petzka et al. 2018), so the
            penalty caps the critic's slope without pushing it up to 1 where the data already match.
        n_critic: critic updates per generator update (5 in the paper).
        **kwargs: the arguments of ``GANModule``.
    """

    def __init__(self, *args, gp_weight: float = 10.0, gp_one_sided: bool = False, n_critic: int = 5,
                 regularizers: Optional[list[Regularizer]] = None, **kwargs):
        if gp_weight < 0:
            raise ConfigError(f"WGANGP: gp_weight must be >= 0, got {gp_weight}")
        penalty = GradientPenalty(gp_weight, one_sided=gp_one_sided)
        super().__init__(*args, n_critic=n_critic, regularizers=[penalty, *(regularizers or [])], **kwargs)
        self.gp_weight = gp_weight

    @staticmethod
    def default_optimizer(params):
        """Adam(1e-4, betas=(0, 0.9)), the paper's setting."""
        return torch.optim.Adam(params, lr=1e-4, betas=(0.0, 0.9))

    outputs_logits = False
    # WGAN's loss terms; the penalty comes from the regularizer.
    discriminator_loss = WGAN.discriminator_loss
    generator_loss = WGAN.generator_loss


class Hinge(GANModule):
    """Hinge loss (Lim & Ye 2017; Miyato et al. 2018, with spectral normalization): D minimizes
    E[max(0, 1 - D(x))] + E[max(0, 1 + D(G(z)))], G maximizes E[D(G(z))]."""

    outputs_logits = False  # a margin score, not a probability

    @staticmethod
    def default_optimizer(params):
        """Adam(2e-4, betas=(0, 0.9)) as in Miyato et al. 2018."""
        return torch.optim.Adam(params, lr=2e-4, betas=(0.0, 0.9))

    def discriminator_loss(self, real_score, fake_score):
        return {"d_loss": losses.hinge_discriminator_loss(real_score, fake_score)}

    def generator_loss(self, fake_score):
        return losses.hinge_generator_loss(fake_score)


class LSGAN(GANModule):
    """Least-squares GAN (Mao et al. 2017): D regresses reals to 1 and fakes to 0, G pulls its samples to 1."""

    outputs_logits = False  # a regression score around [0, 1]

    def discriminator_loss(self, real_score, fake_score):
        return {"d_loss": losses.least_squares_discriminator_loss(real_score, fake_score)}

    def generator_loss(self, fake_score):
        return losses.least_squares_generator_loss(fake_score)


class RpGAN(GANModule):
    """Relativistic pairing GAN (Jolicoeur-Martineau 2018), the loss of R3GAN (Huang et al. 2024), which
    pairs it with the R1 and R2 regularizers: D wants each real above its paired fake, G the reverse.

    The generator's loss compares its samples with real ones, so the generator update runs D on
    the real batch of the last critic step as well.
    """

    outputs_logits = False  # only differences of its outputs mean anything
    compares_with_real = True

    @staticmethod
    def default_optimizer(params):
        """Adam(2e-4, betas=(0, 0.99)), R3GAN's betas."""
        return torch.optim.Adam(params, lr=2e-4, betas=(0.0, 0.99))

    def discriminator_loss(self, real_score, fake_score):
        return {"d_loss": losses.relativistic_discriminator_loss(real_score, fake_score)}

    def generator_loss(self, fake_score, real_score):
        return losses.relativistic_generator_loss(real_score, fake_score)
