"""The ResNet generator and discriminator that GAN papers compare on (SNGAN, Miyato et al. 2018;
the same backbone as Gulrajani et al. 2017's CIFAR-10 ResNet), for 32, 48, 64 and 128 pixels.

A generator block is BN -> ReLU -> upsample (nearest) -> conv3x3 -> BN -> ReLU -> conv3x3 plus a
1x1-convolved upsampled shortcut; a discriminator block is ReLU -> conv3x3 -> ReLU -> conv3x3 ->
average-pool plus a 1x1 shortcut, the first block without its leading ReLU. D sums its last
feature map over the pixels (ReLU first) and reads it with one linear layer. The widths are those
of the SNGAN reference implementation (pfnet-research/sngan_projection) at each resolution;
``base_width`` scales them all.
"""

import math
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gan_lightning.errors import ConfigError
from gan_lightning.networks.conditional import (ConditionalBatchNorm2d, ConditionalDiscriminator, check_labels,
                                                check_num_classes)
from gan_lightning.networks.spectral import with_spectral_norm

# image_size: (bottom width, G's widths: the dense layer's then each block's)
GENERATOR_PLANS = {32: (4, [256, 256, 256, 256]), 48: (6, [512, 256, 128, 64]),
                   64: (4, [1024, 512, 256, 128, 64]), 128: (4, [1024, 1024, 512, 256, 128, 64])}
# image_size: (D's widths, the first block's then each next one's; whether each next block halves the map)
DISCRIMINATOR_PLANS = {32: ([128, 128, 128, 128], [True, False, False]),
                       48: ([64, 128, 256, 512, 1024], [True, True, True, False]),
                       64: ([64, 128, 256, 512, 1024], [True, True, True, True]),
                       128: ([64, 128, 256, 512, 1024, 1024], [True, True, True, True, False])}


def scaled(widths: list[int], base_width: int | None, reference: int, name: str) -> list[int]:
    """``widths`` times ``base_width / reference`` (at least 1 channel each); ``None`` keeps the paper's."""
    if base_width is None:
        return widths
    if base_width < 1:
        raise ConfigError(f"{name}: base_width must be >= 1 or null, got {base_width}")
    return [max(1, round(w * base_width / reference)) for w in widths]


def plan(plans: dict, image_size: int, name: str):
    if image_size not in plans:
        raise ConfigError(f"{name}: image_size must be one of {sorted(plans)}, got {image_size}")
    return plans[image_size]


def conv(c_in: int, c_out: int, kernel: int, gain: float) -> nn.Conv2d:
    layer = nn.Conv2d(c_in, c_out, kernel, 1, kernel // 2)
    nn.init.xavier_uniform_(layer.weight, gain)  # as the reference: sqrt(2) in the residual path, 1 elsewhere
    nn.init.zeros_(layer.bias)
    return layer


class GeneratorBlock(nn.Module):
    """``[B, c_in, s, s]`` (+ labels ``[B]``) -> ``[B, c_out, 2s, 2s]``; conditional batch norm with ``num_classes``."""

    def __init__(self, c_in: int, c_out: int, num_classes: int | None = None):
        super().__init__()
        norm = (lambda c: ConditionalBatchNorm2d(num_classes, c)) if num_classes else nn.BatchNorm2d
        self.norm1, self.conv1 = norm(c_in), conv(c_in, c_out, 3, math.sqrt(2))
        self.norm2, self.conv2 = norm(c_out), conv(c_out, c_out, 3, math.sqrt(2))
        self.shortcut = conv(c_in, c_out, 1, 1.0)

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        norm = (lambda layer, h: layer(h)) if y is None else (lambda layer, h: layer(h, y))
        h = F.interpolate(F.relu(norm(self.norm1, x)), scale_factor=2)
        h = self.conv2(F.relu(norm(self.norm2, self.conv1(h))))
        return h + self.shortcut(F.interpolate(x, scale_factor=2))


class DiscriminatorBlock(nn.Module):
    """``[B, c_in, s, s]`` -> ``[B, c_out, s/2, s/2]`` (``downsample``) or ``[B, c_out, s, s]``.

    ``first``: the block that reads the image: no ReLU before its first convolution, and its shortcut
    pools before the 1x1 convolution (the reference's "optimized" block)."""

    def __init__(self, c_in: int, c_out: int, downsample: bool, first: bool = False):
        super().__init__()
        self.first, self.downsample = first, downsample
        hidden = c_out if first else c_in  # the reference's hidden width
        self.conv1, self.conv2 = conv(c_in, hidden, 3, math.sqrt(2)), conv(hidden, c_out, 3, math.sqrt(2))
        self.shortcut = conv(c_in, c_out, 1, 1.0) if first or downsample or c_in != c_out else None

    def forward(self, x: Tensor) -> Tensor:
        h = self.conv2(F.relu(self.conv1(x if self.first else F.relu(x))))
        h = F.avg_pool2d(h, 2) if self.downsample else h
        if self.shortcut is None:
            return h + x
        if self.first:
            return h + self.shortcut(F.avg_pool2d(x, 2))
        s = self.shortcut(x)
        return h + (F.avg_pool2d(s, 2) if self.downsample else s)


class ResNetGenerator(nn.Module):
    """Noise ``[B, latent_dim]`` (+ labels ``[B]``) -> images ``[B, channels, image_size, image_size]`` in [-1, 1].

    At the paper's widths: 4,276,739 parameters at 32x32 (3 blocks of 256 channels from a 4x4 map),
    as the SNGAN reference builds it for CIFAR-10; 48x48 (STL-10) from 6x6 through 512 -> 64;
    64 and 128 from 4x4 through 1024 -> 64.

    Args:
        latent_dim: size of the noise (128 in the papers).
        image_size: 32, 48, 64 or 128.
        channels: of the images.
        base_width: the dense layer's channels (the paper's 256 at 32, 512 at 48, 1024 at 64 and 128);
            every width scales with it. ``None``: the paper's.
        num_classes: a class-conditional generator, ``forward(z, y)``: conditional batch norm in every block.
    """

    def __init__(self, latent_dim: int = 128, image_size: int = 32, channels: int = 3, base_width: int | None = None,
                 num_classes: int | None = None):
        super().__init__()
        self.image_size, self.channels = image_size, channels  # the shape it makes (the CLI's pre-flight names it)
        name = type(self).__name__
        check_num_classes(name, num_classes)
        bottom, widths = plan(GENERATOR_PLANS, image_size, name)
        widths = scaled(widths, base_width, widths[0], name)
        self.latent_dim, self.num_classes, self.bottom, self.width = latent_dim, num_classes, bottom, widths[0]
        self.dense = nn.Linear(latent_dim, bottom * bottom * widths[0])
        nn.init.xavier_uniform_(self.dense.weight)
        nn.init.zeros_(self.dense.bias)
        self.blocks = nn.ModuleList(GeneratorBlock(a, b, num_classes) for a, b in zip(widths, widths[1:]))
        self.norm = nn.BatchNorm2d(widths[-1])
        self.to_image = conv(widths[-1], channels, 3, 1.0)

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        check_labels(type(self).__name__, self.num_classes, y, z.shape[0])
        h = self.dense(z).view(len(z), self.width, self.bottom, self.bottom)
        for block in self.blocks:
            h = block(h, y)
        return torch.tanh(self.to_image(F.relu(self.norm(h))))


class ResNetDiscriminator(ConditionalDiscriminator):
    """Images ``[B, channels, image_size, image_size]`` -> one logit or critic score per image, ``[B]``.

    At the paper's widths: 1,053,825 parameters at 32x32 (4 blocks of 128 channels), as the SNGAN
    reference builds it for CIFAR-10; 48, 64 and 128 through 64 -> 1024 channels.

    Args:
        image_size: 32, 48, 64 or 128.
        channels: of the images (times the pack of a ``Packed`` wrapper).
        base_width: the last block's channels (the paper's 128 at 32, 1024 above); every width scales
            with it. ``None``: the paper's.
        spectral_norm: divide each layer's weight by its largest singular value (SNGAN; off for WGAN-GP,
            whose penalty does that job).
        num_classes: a class-conditional discriminator, ``forward(x, y)``.
        conditioning: ``projection`` (Miyato & Koyama 2018), ``auxiliary`` (an AC-GAN class head,
            ``forward(x, with_classes=True)``) or ``both``, on the summed last feature map.
    """

    def __init__(self, image_size: int = 32, channels: int = 3, base_width: int | None = None, spectral_norm: bool = True,
                 num_classes: int | None = None, conditioning: Literal["projection", "auxiliary", "both"] = "projection"):
        super().__init__()
        self.image_size, self.channels = image_size, channels  # the shape it takes (the CLI's pre-flight names it)
        name = type(self).__name__
        widths, downsample = plan(DISCRIMINATOR_PLANS, image_size, name)
        widths = scaled(widths, base_width, widths[-1], name)
        self.blocks = nn.ModuleList([DiscriminatorBlock(channels, widths[0], True, first=True)] +
                                    [DiscriminatorBlock(a, b, d) for a, b, d in zip(widths, widths[1:], downsample)])
        self.linear = nn.Linear(widths[-1], 1)
        nn.init.xavier_uniform_(self.linear.weight)
        nn.init.zeros_(self.linear.bias)
        self.add_class_heads(num_classes, widths[-1], conditioning)
        if spectral_norm:
            with_spectral_norm(self)

    def hidden_layers(self, x: Tensor) -> list[Tensor]:
        """Each block's output ``[B, width_i, s_i, s_i]``, first to last, then ``features(x)`` ``[B, width]``."""
        layers = []
        for block in self.blocks:
            x = block(x)
            layers.append(x)
        return layers[:-1] + [F.relu(layers[-1]).sum((2, 3))]

    def features(self, x: Tensor) -> Tensor:
        """The last block's output after ReLU, summed over its pixels: ``[B, width]``, what the output layer reads."""
        return self.hidden_layers(x)[-1]

    def score(self, features: Tensor) -> Tensor:
        return self.linear(features).flatten()
