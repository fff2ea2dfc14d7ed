from gan_lightning.networks.anime import AnimeCritic, AnimeGenerator
from gan_lightning.networks.dcgan import DCGANDiscriminator, DCGANGenerator
from gan_lightning.networks.mlp import MLPDiscriminator, MLPGenerator
from gan_lightning.networks.packing import Packed
from gan_lightning.networks.resnet import ResNetDiscriminator, ResNetGenerator

__all__ = ["MLPGenerator", "MLPDiscriminator", "DCGANGenerator", "DCGANDiscriminator", "AnimeGenerator", "AnimeCritic",
           "Packed", "ResNetGenerator", "ResNetDiscriminator"]
