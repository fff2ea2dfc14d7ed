"""PacGAN (Lin et al. 2018): a discriminator that judges packs of samples, as a wrapper network.

The wrapper joins ``pack`` consecutive samples along the channel (or feature) axis before the
network it wraps, so the losses, the regularizers and everything that draws the discriminator see
one output per pack and never hear of packing. In a config::

    discriminator:
      class_path: gan_lightning.networks.Packed
      init_args:
        pack: 2
        network: {class_path: gan_lightning.networks.MLPDiscriminator, init_args: {input_shape: [4]}}

The wrapped network takes ``pack`` times the data's channels (``input_shape`` for vectors).
"""

from torch import Tensor, nn

from gan_lightning.errors import ConfigError
from gan_lightning.losses import pack as join


def input_width(network: nn.Module) -> int | None:
    """The channels (or features) the network's first convolution or linear layer takes, or ``None``."""
    for module in network.modules():
        if isinstance(module, nn.modules.conv._ConvNd):
            return module.in_channels
        if isinstance(module, nn.Linear) and not isinstance(module, nn.LazyLinear):
            return module.in_features
    return None


def samples_per_output(network: nn.Module) -> int:
    """How many samples a discriminator judges in one output: its pack, 1 for any other network."""
    return network.pack if isinstance(network, Packed) else 1


class Packed(nn.Module):
    """``[B, C, ...]`` -> one output per pack of ``pack`` consecutive samples, ``[B / pack]``.

    Args:
        network: the discriminator of packs, taking ``[B / pack, pack * C, ...]``; unconditional.
        pack: samples per pack (>= 2; 1 is the plain network). A batch must split into whole packs.
    """

    def __init__(self, network: nn.Module, pack: int = 2):
        super().__init__()
        if pack < 1:
            raise ConfigError(f"Packed: pack must be >= 1, got {pack}")
        if getattr(network, "num_classes", None):
            raise ConfigError(f"Packed: pack {pack} needs an unconditional discriminator (a pack has no one label), but "
                              f"{type(network).__name__} has num_classes {network.num_classes}; set it to null")
        self.network, self.pack = network, pack

    def packs(self, x: Tensor) -> Tensor:
        return join(x, self.pack)

    def forward(self, x: Tensor) -> Tensor:
        packs = self.packs(x)
        try:
            return self.network(packs)
        except RuntimeError as e:
            if input_width(self.network) in (None, packs.shape[1]):
                raise  # the network takes this width: some other fault, not the packing
            raise ConfigError(f"Packed: pack {self.pack} gives the discriminator inputs of shape {tuple(packs.shape[1:])} "
                              f"({self.pack} x the data's {packs.shape[1] // self.pack} channels or features); build "
                              f"it for that shape ({e})") from e

    def features(self, x: Tensor) -> Tensor:
        """The wrapped network's last hidden layer on the packs of ``x``, ``[B / pack, ...]``."""
        return self.network.features(self.packs(x))

    def hidden_layers(self, x: Tensor) -> list[Tensor]:
        return self.network.hidden_layers(self.packs(x))

    def output(self, features: Tensor) -> Tensor:
        return self.network.output(features)

    def each(self, x: Tensor) -> Tensor:
        """One output per sample, ``[B]``: each sample judged in a pack of ``pack`` copies of itself
        (what the plots of the discriminator draw)."""
        return self.network(x.repeat(1, self.pack, *[1] * (x.dim() - 2)))
