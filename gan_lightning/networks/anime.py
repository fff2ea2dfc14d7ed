"""The generator and critic of the TF2 anime-faces WGAN-GP tutorial, for 64x64 RGB images.

Generator: a dense layer to a 3x3 map of ``8 * base_width`` channels, then stride-2 transposed
convolutions 3 -> 8 -> 16 -> 32 -> 64 with batch norm and leaky ReLU, tanh output.
Critic: stride-2 convolutions 64 -> 32 -> 16 -> 8 -> 4 with leaky ReLU and no batch norm (a
gradient penalty is per sample), then a dense layer to one score.
"""

from typing import Literal

from torch import Tensor, nn

from gan_lightning.networks.dcgan import dcgan_init, norm_layer
from gan_lightning.networks.hidden import block_outputs
from gan_lightning.networks.spectral import with_spectral_norm


class AnimeGenerator(nn.Module):
    """Noise ``[B, latent_dim]`` -> images ``[B, 3, 64, 64]`` in [-1, 1].

    Args:
        latent_dim: size of the noise vector (128 in the tutorial).
        base_width: 64 gives the tutorial's 512-256-128-64 channels.
    """

    def __init__(self, latent_dim: int = 128, base_width: int = 64):
        super().__init__()
        self.image_size, self.channels = 64, 3  # the shape it makes (the CLI's pre-flight names it)
        self.latent_dim, width = latent_dim, 8 * base_width
        self.dense = nn.Sequential(nn.Linear(latent_dim, 3 * 3 * width, bias=False), nn.BatchNorm1d(3 * 3 * width),
                                   nn.LeakyReLU(0.2, True))
        widths = [width, width // 2, width // 4, width // 8]
        layers = [nn.ConvTranspose2d(widths[0], widths[1], 4, 2, 0, bias=False)]  # 3 -> 8
        for w_in, w_out in zip(widths[1:], widths[2:]):  # 8 -> 16 -> 32
            layers += [nn.BatchNorm2d(w_in), nn.LeakyReLU(0.2, True), nn.ConvTranspose2d(w_in, w_out, 4, 2, 1, bias=False)]
        layers += [nn.BatchNorm2d(widths[-1]), nn.LeakyReLU(0.2, True), nn.ConvTranspose2d(widths[-1], 3, 4, 2, 1), nn.Tanh()]
        self.convs = nn.Sequential(*layers)
        self.width = width
        self.apply(dcgan_init)

    def forward(self, z: Tensor) -> Tensor:
        return self.convs(self.dense(z).view(len(z), self.width, 3, 3))


class AnimeCritic(nn.Module):
    """Images ``[B, 3, 64, 64]`` -> one score (or logit) per image, ``[B]``.

    Args:
        base_width: channels of the first convolution (64 in the tutorial).
        norm: ``none`` (the tutorial, and right under a gradient penalty), ``layer`` or ``batch``.
        spectral_norm: divide each layer's weight by its largest singular value (Miyato et al. 2018).
    """

    def __init__(self, base_width: int = 64, norm: Literal["none", "layer", "batch"] = "none",
                 spectral_norm: bool = False):
        super().__init__()
        self.image_size, self.channels = 64, 3  # the shape it takes (the CLI's pre-flight names it)
        widths = [base_width * 2 ** i for i in range(4)]
        layers = [nn.Conv2d(3, widths[0], 4, 2, 1), nn.LeakyReLU(0.2, True)]
        for w_in, w_out in zip(widths[:-1], widths[1:]):
            layers += [nn.Conv2d(w_in, w_out, 4, 2, 1), norm_layer(norm, w_out), nn.LeakyReLU(0.2, True)]
        self.convs = nn.Sequential(*layers, nn.Flatten(), nn.Linear(widths[-1] * 4 * 4, 1))
        self.apply(dcgan_init)
        if spectral_norm:
            with_spectral_norm(self.convs)

    def features(self, x: Tensor) -> Tensor:
        """The last hidden layer, flattened, ``[B, 8 * base_width * 16]``: what the output layer reads."""
        return self.convs[:-1](x)

    def hidden_layers(self, x: Tensor) -> list[Tensor]:
        """Each convolution block after its activation, first to last: ``[B, base_width * 2^i, 32 / 2^i, 32 / 2^i]``
        for ``i = 0 .. 2``, then the last block flattened, ``features(x)``."""
        return block_outputs(self.convs, x)

    def output(self, features: Tensor) -> Tensor:
        """The output ``[B]`` from ``features(x)``."""
        return self.convs[-1](features).flatten()

    def forward(self, x: Tensor) -> Tensor:
        if x.shape[-2:] != (64, 64):
            raise ValueError(f"AnimeCritic takes 64x64 images, got {tuple(x.shape)}")
        return self.output(self.features(x))
