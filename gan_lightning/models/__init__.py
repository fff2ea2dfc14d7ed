from gan_lightning.models.base import GANModule
from gan_lightning.models.objectives import GAN, LSGAN, NSGAN, WGAN, WGANGP, Hinge, RpGAN

__all__ = ["GANModule", "GAN", "NSGAN", "WGAN", "WGANGP", "Hinge", "LSGAN", "RpGAN"]
