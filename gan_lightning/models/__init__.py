from gan_lightning.models.base import GANModule
from gan_lightning.models.objectives import GAN, NSGAN, WGAN, WGANGP

__all__ = ["GANModule", "GAN", "NSGAN", "WGAN", "WGANGP"]
