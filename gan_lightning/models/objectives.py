"""The four GAN objectives. Each differs from the base loop only in its loss terms and constraint."""

import torch

from gan_lightning import losses
from gan_lightning.errors import ConfigError
from gan_lightning.models.base import GANModule


class GAN(GANModule):
    """Original minimax GAN (Goodfellow et al. 2014): G minimizes log(1 - D(G(z)))."""

    def discriminator_loss(self, real, fake, real_out, fake_out):
        return {"d_loss": losses.minimax_discriminator_loss(real_out, fake_out)}

    def generator_loss(self, fake_out):
        return losses.minimax_generator_loss(fake_out)


class NSGAN(GAN):
    """Non-saturating GAN (Goodfellow et al. 2014, sec. 3): G maximizes log D(G(z))."""

    def generator_loss(self, fake_out):
        return losses.nonsaturating_generator_loss(fake_out)


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

    def discriminator_loss(self, real, fake, real_out, fake_out):
        loss = losses.wasserstein_critic_loss(real_out, fake_out)
        return {"d_loss": loss, "w_distance": -loss.detach()}

    def generator_loss(self, fake_out):
        return losses.wasserstein_generator_loss(fake_out)

    def after_discriminator_step(self):
        losses.clip_weights(self.discriminator, self.clip_value)


class WGANGP(GANModule):
    """Wasserstein GAN with gradient penalty (Gulrajani et al. 2017).

    Args:
        gp_weight: lambda, the weight of the gradient penalty (10 in the paper).
        n_critic: critic updates per generator update (5 in the paper).
        **kwargs: the arguments of ``GANModule``.
    """

    outputs_logits = False
    penalizes_critic_gradient = True

    def __init__(self, *args, gp_weight: float = 10.0, n_critic: int = 5, **kwargs):
        if gp_weight < 0:
            raise ConfigError(f"WGANGP: gp_weight must be >= 0, got {gp_weight}")
        super().__init__(*args, n_critic=n_critic, **kwargs)
        self.gp_weight = gp_weight

    @staticmethod
    def default_optimizer(params):
        """Adam(1e-4, betas=(0, 0.9)), the paper's setting."""
        return torch.optim.Adam(params, lr=1e-4, betas=(0.0, 0.9))

    def discriminator_loss(self, real, fake, real_out, fake_out):
        w_loss = losses.wasserstein_critic_loss(real_out, fake_out)
        gp = losses.gradient_penalty(self.discriminator, real, fake)
        return {"d_loss": w_loss + self.gp_weight * gp, "gp": gp.detach(), "w_distance": -w_loss.detach()}

    def generator_loss(self, fake_out):
        return losses.wasserstein_generator_loss(fake_out)
