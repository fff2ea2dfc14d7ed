"""DCGAN generator and discriminator (Radford et al. 2015) for square images of 28, 32, 64, ... pixels.

The generator starts from a ``start x start`` map (7 for 28-pixel images, 4 for 32 and 64) and
doubles it with stride-2 transposed convolutions; the discriminator mirrors it with stride-2
convolutions. Widths double towards the small end: ``base_width * 2**i``.
"""

from typing import Literal

from torch import Tensor, nn

from gan_lightning.errors import ConfigError
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


def norm_layer(kind: str, channels: int) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "layer":  # normalizes each sample on its own: safe under a gradient penalty
        return nn.GroupNorm(1, channels)
    if kind == "none":
        return nn.Identity()
    raise ConfigError(f"norm must be 'batch', 'layer' or 'none', got {kind!r}")


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
    """

    def __init__(self, latent_dim: int = 100, image_size: int = 64, channels: int = 3, base_width: int = 64,
                 norm: Literal["batch", "layer", "none"] = "batch"):
        super().__init__()
        start, n = upsampling_plan(image_size)
        self.latent_dim = latent_dim
        widths = [base_width * 2 ** i for i in reversed(range(n))]  # e.g. 512, 256, 128, 64
        layers = [nn.ConvTranspose2d(latent_dim, widths[0], start, 1, 0, bias=False), norm_layer(norm, widths[0]), nn.ReLU(True)]
        for w_in, w_out in zip(widths[:-1], widths[1:]):
            layers += [nn.ConvTranspose2d(w_in, w_out, 4, 2, 1, bias=False), norm_layer(norm, w_out), nn.ReLU(True)]
        layers += [nn.ConvTranspose2d(widths[-1], channels, 4, 2, 1), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        self.apply(dcgan_init)

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z[:, :, None, None])


class DCGANDiscriminator(nn.Module):
    """Images ``[B, channels, image_size, image_size]`` -> one logit or critic score per image, ``[B]``.

    Args:
        image_size: side of the square image.
        channels: 1 or 3.
        base_width: channels of the first convolution.
        norm: ``batch`` (the paper; not under WGAN-GP), ``layer`` or ``none``.
        spectral_norm: divide each layer's weight by its largest singular value (Miyato et al. 2018).
    """

    def __init__(self, image_size: int = 64, channels: int = 3, base_width: int = 64,
                 norm: Literal["batch", "layer", "none"] = "batch", spectral_norm: bool = False):
        super().__init__()
        start, n = upsampling_plan(image_size)
        widths = [base_width * 2 ** i for i in range(n)]
        layers = [nn.Conv2d(channels, widths[0], 4, 2, 1), nn.LeakyReLU(0.2, True)]  # no norm on the input layer
        for w_in, w_out in zip(widths[:-1], widths[1:]):
            layers += [nn.Conv2d(w_in, w_out, 4, 2, 1, bias=norm == "none"), norm_layer(norm, w_out), nn.LeakyReLU(0.2, True)]
        layers += [nn.Conv2d(widths[-1], 1, start, 1, 0)]
        self.net = nn.Sequential(*layers)
        self.apply(dcgan_init)
        if spectral_norm:
            with_spectral_norm(self.net)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x).flatten()
