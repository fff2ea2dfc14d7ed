"""DCGAN generator and discriminator (Radford et al. 2015) for square images of 28, 32, 64, ... pixels.

The generator starts from a ``start x start`` map (7 for 28-pixel images, 4 for 32 and 64) and
doubles it with stride-2 transposed convolutions; the discriminator mirrors it with stride-2
convolutions. Widths double towards the small end: ``base_width * 2**i``.
"""

import math
from typing import Literal

import torch
from torch import Tensor, nn

from gan_lightning.errors import ConfigError
from gan_lightning.networks.conditional import (ConditionalBatchNorm2d, ConditionalDiscriminator, check_labels,
                                                check_num_classes)
from gan_lightning.networks.hidden import block_outputs
from gan_lightning.networks.spectral import with_spectral_norm


def upsampling_plan(image_size: int) -> tuple[int, int]:
    """(start size, number of doublings) so that start * 2**n == image_size and 3 <= start <= 7."""
    start, n = image_size, 0
    while start > 7 and start % 2 == 0:
        start, n = start // 2, n + 1
    if not 3 <= start <= 7 or n == 0:
        raise ConfigError(f"DCGAN networks need image_size = s * 2**n with 3 <= s <= 7 and n >= 1 "
                          f"(28, 32, 48, 64, 128, ...), got {image_size}")
    return start, n


def minibatch_std(x: Tensor, group: int = 4) -> Tensor:
    """``[B, C, H, W]`` -> ``[B, 1, H, W]``: each image's group (the batch cut into groups of ``group``, or of the
    largest size that divides ``B``, image ``i`` in group ``i % (B / group)``) holds the mean over channels and pixels
    of the features' standard deviation across the group, >= 0 (Karras et al. 2018)."""
    g = math.gcd(group, len(x))
    std = (x.reshape(g, -1, *x.shape[1:]).var(0, unbiased=False) + 1e-8).sqrt()  # [B/g, C, H, W]
    return std.mean((1, 2, 3)).repeat(g)[:, None, None, None].expand(len(x), 1, *x.shape[2:])


def norm_layer(kind: str, channels: int) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "layer":  # normalizes each sample on its own: safe under a gradient penalty
        return nn.GroupNorm(1, channels)
    if kind == "none":
        return nn.Identity()
    raise ConfigError(f"norm must be 'batch', 'layer' or 'none', got {kind!r}")


class LatentProjection(nn.ConvTranspose2d):
    """The generator's first layer: noise ``[B, latent_dim, 1, 1]`` -> ``[B, width, size, size]``.

    A transposed convolution (stride 1, no padding, no bias) of a 1x1 input is one matrix product,
    computed as that: the same weights and keys as ``nn.ConvTranspose2d``, the same values to float
    rounding, where torch's CPU kernel for it took 2.5-3.1 ms against 0.5-0.8 ms (batch 64, the
    Stacked MNIST generator's 100 -> 64 x 7 x 7; about a sixth of that generator's forward pass).
    """

    def __init__(self, latent_dim: int, width: int, size: int):
        super().__init__(latent_dim, width, size, 1, 0, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        if x.shape[-2:] != (1, 1):
            raise ValueError(f"LatentProjection: expected noise of shape [B, {self.in_channels}, 1, 1], got {list(x.shape)}")
        return (x.flatten(1) @ self.weight.flatten(1)).view(x.shape[0], self.out_channels, *self.kernel_size)


def dcgan_init(module: nn.Module) -> None:
    """Weights N(0, 0.02), norm scales N(1, 0.02), biases 0, as in the DCGAN paper."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, (nn.BatchNorm2d, nn.GroupNorm)):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


class DCGANGenerator(nn.Module):
    """Noise ``[B, latent_dim]`` -> images ``[B, channels, image_size, image_size]`` in [-1, 1].

    Args:
        latent_dim: size of the noise vector (100 in the paper).
        image_size: side of the square image, e.g. 28, 32 or 64.
        channels: 1 for grayscale, 3 for RGB.
        base_width: channels of the last hidden layer; the first has base_width * 2**(n-1).
        norm: ``batch`` (the paper), ``layer`` or ``none``.
        num_classes: a class-conditional generator, ``forward(z, y)`` with labels ``[B]`` in
            ``[0, num_classes)``: its batch norms take a scale and shift per class (needs ``norm: batch``).
    """

    def __init__(self, latent_dim: int = 100, image_size: int = 64, channels: int = 3, base_width: int = 64,
                 norm: Literal["batch", "layer", "none"] = "batch", num_classes: int | None = None):
        super().__init__()
        self.image_size, self.channels = image_size, channels  # the shape it makes (the CLI's pre-flight names it)
        start, n = upsampling_plan(image_size)
        check_num_classes(type(self).__name__, num_classes)
        if num_classes and norm != "batch":
            raise ConfigError(f"{type(self).__name__}: a conditional generator (num_classes {num_classes}) conditions "
                              f"its batch norms; needs norm: batch, got {norm!r}")
        self.latent_dim, self.num_classes = latent_dim, num_classes

        def norm_of(width: int) -> nn.Module:
            return ConditionalBatchNorm2d(num_classes, width) if num_classes else norm_layer(norm, width)

        widths = [base_width * 2 ** i for i in reversed(range(n))]  # e.g. 512, 256, 128, 64
        layers = [LatentProjection(latent_dim, widths[0], start), norm_of(widths[0]), nn.ReLU(True)]
        for w_in, w_out in zip(widths[:-1], widths[1:]):
            layers += [nn.ConvTranspose2d(w_in, w_out, 4, 2, 1, bias=False), norm_of(w_out), nn.ReLU(True)]
        layers += [nn.ConvTranspose2d(widths[-1], channels, 4, 2, 1), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        for module in self.net:
            if not isinstance(module, ConditionalBatchNorm2d):  # initializes itself
                module.apply(dcgan_init)

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        check_labels(type(self).__name__, self.num_classes, y, z.shape[0])
        x = z[:, :, None, None]
        if self.num_classes is None:
            return self.net(x)
        for layer in self.net:
            x = layer(x, y) if isinstance(layer, ConditionalBatchNorm2d) else layer(x)
        return x


class DCGANDiscriminator(ConditionalDiscriminator):
    """Images ``[B, channels, image_size, image_size]`` -> one logit or critic score per image, ``[B]``.

    Args:
        image_size: side of the square image.
        channels: 1 or 3 (times the model's ``pack`` when it judges packs of images).
        base_width: channels of the first convolution.
        norm: ``batch`` (the paper; not under WGAN-GP), ``layer`` or ``none``.
        spectral_norm: divide each layer's weight by its largest singular value (Miyato et al. 2018).
        num_classes: a class-conditional discriminator, ``forward(x, y)``.
        conditioning: ``projection`` adds ``embed(y) . h`` to the output, ``h`` the last feature map
            summed over its pixels (Miyato & Koyama 2018); ``auxiliary`` leaves the output
            unconditional and adds a classifier head on ``h``: ``forward(x, with_classes=True)``
            -> (output, class logits ``[B, num_classes]``) (AC-GAN, Odena et al. 2017); ``both`` has
            the two: the projection conditions the output, the head learns classes beside it.
        minibatch_std: the output layer also reads the standard deviation of the last feature map across
            groups of 4 images (Karras et al. 2018), so a batch of near-copies looks unlike a real one.
    """

    def __init__(self, image_size: int = 64, channels: int = 3, base_width: int = 64,
                 norm: Literal["batch", "layer", "none"] = "batch", spectral_norm: bool = False,
                 num_classes: int | None = None, conditioning: Literal["projection", "auxiliary", "both"] = "projection",
                 minibatch_std: bool = False):
        super().__init__()
        self.image_size, self.channels = image_size, channels  # the shape it takes (the CLI's pre-flight names it)
        self.minibatch_std = minibatch_std
        start, n = upsampling_plan(image_size)
        widths = [base_width * 2 ** i for i in range(n)]
        layers = [nn.Conv2d(channels, widths[0], 4, 2, 1), nn.LeakyReLU(0.2, True)]  # no norm on the input layer
        for w_in, w_out in zip(widths[:-1], widths[1:]):
            layers += [nn.Conv2d(w_in, w_out, 4, 2, 1, bias=norm == "none"), norm_layer(norm, w_out), nn.LeakyReLU(0.2, True)]
        layers += [nn.Conv2d(widths[-1] + minibatch_std, 1, start, 1, 0)]
        self.net = nn.Sequential(*layers)
        self.apply(dcgan_init)
        if spectral_norm:
            with_spectral_norm(self.net)
        self.add_class_heads(num_classes, widths[-1], conditioning)

    def features(self, x: Tensor) -> Tensor:
        """The last hidden layer, ``[B, base_width * 2^(n-1), s, s]``: what the output layer reads."""
        return self.net[:-1](x)

    def hidden_layers(self, x: Tensor) -> list[Tensor]:
        """Each hidden layer after its activation, first to last: ``[B, base_width * 2^i, s_i, s_i]`` for
        ``i = 0 .. n-1``, ``s_i`` halving from ``image_size / 2``; the last is ``features(x)``."""
        return block_outputs(self.net, x)

    def score(self, features: Tensor) -> Tensor:
        if self.minibatch_std:
            features = torch.cat([features, minibatch_std(features)], 1)
        return self.net[-1](features).flatten()

    def pooled(self, features: Tensor) -> Tensor:
        """The class terms read the feature map summed over its pixels: ``[B, C, s, s]`` -> ``[B, C]``."""
        return features.sum((2, 3))
