"""Multi-layer perceptrons for generators and discriminators of any flat or image-shaped data."""

import math
from typing import Literal, Sequence

import torch
from torch import Tensor, nn

from gan_lightning.errors import ConfigError
from gan_lightning.networks.conditional import ConditionalDiscriminator, check_labels, check_num_classes
from gan_lightning.networks.hidden import block_outputs
from gan_lightning.networks.spectral import with_spectral_norm

ACTIVATIONS = {
    "relu": nn.ReLU,
    "leaky_relu": lambda: nn.LeakyReLU(0.2),
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "softplus": nn.Softplus,
    "elu": nn.ELU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
    "identity": nn.Identity,
}


def make_activation(name: str) -> nn.Module:
    if name not in ACTIVATIONS:
        raise ConfigError(f"unknown activation {name!r}; expected one of {sorted(ACTIVATIONS)}")
    return ACTIVATIONS[name]()


def mlp(sizes: list[int], hidden_activation: str, dropout: float = 0.0) -> list[nn.Module]:
    """Linear layers between consecutive ``sizes``, each hidden one followed by its activation."""
    layers: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(n_in, n_out))
        if i < len(sizes) - 2:
            layers.append(make_activation(hidden_activation))
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
    return layers


def _check_sizes(name: str, **sizes) -> None:
    for key, value in sizes.items():
        values = list(value) if isinstance(value, (list, tuple)) else [value]
        if any(v < 1 for v in values) or (key.endswith("shape") and not values):
            raise ConfigError(f"{name}: {key} must hold positive sizes, got {value!r}")


def check_standardization(name: str, data_mean: float, data_std: float) -> tuple[float, float]:
    if not data_std > 0:
        raise ConfigError(f"{name}: data_std must be > 0, got {data_std}")
    return float(data_mean), float(data_std)


class MLPGenerator(nn.Module):
    """Maps noise ``[B, latent_dim]`` to samples ``[B, *output_shape]``.

    Args:
        latent_dim: size of the noise vector.
        output_shape: shape of one sample, e.g. ``[1]`` for 1-D data, ``[200]``, ``[1, 28, 28]``.
        hidden: widths of the hidden layers, e.g. ``[4]`` or ``[256, 512, 1024]``.
        activation: hidden activation (``relu``, ``leaky_relu``, ``tanh``, ``softplus``, ...).
        output_activation: ``identity`` for data in its own units, ``tanh`` for images in [-1, 1].
        data_mean, data_std: the network's output ``y`` becomes ``data_mean + data_std * y``, so it
            works in standardized units whatever the data's location and scale (give the data's
            mean and standard deviation, as to the discriminator).
        num_classes: a class-conditional generator: ``forward(z, y)`` with labels ``[B]`` in
            ``[0, num_classes)``, whose embedding (``latent_dim`` wide) is joined to the noise.
    """

    def __init__(
        self,
        latent_dim: int = 1,
        output_shape: Sequence[int] = (1,),
        hidden: Sequence[int] = (16, 16),
        activation: str = "relu",
        output_activation: str = "identity",
        data_mean: float = 0.0,
        data_std: float = 1.0,
        num_classes: int | None = None,
    ):
        super().__init__()
        _check_sizes(type(self).__name__, latent_dim=latent_dim, output_shape=output_shape, hidden=hidden)
        check_num_classes(type(self).__name__, num_classes)
        self.latent_dim, self.num_classes = latent_dim, num_classes
        self.output_shape = tuple(output_shape)
        out_features = math.prod(self.output_shape)
        inputs = latent_dim * (2 if num_classes else 1)
        self.net = nn.Sequential(*mlp([inputs, *hidden, out_features], activation), make_activation(output_activation))
        self.embed = nn.Embedding(num_classes, latent_dim) if num_classes else None
        self.data_mean, self.data_std = check_standardization(type(self).__name__, data_mean, data_std)

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        check_labels(type(self).__name__, self.num_classes, y, z.shape[0])
        if self.embed is not None:
            z = torch.cat([z, self.embed(y)], dim=1)
        return (self.data_mean + self.data_std * self.net(z)).view(z.shape[0], *self.output_shape)


class MLPDiscriminator(ConditionalDiscriminator):
    """Maps samples ``[B, *input_shape]`` to one logit (or critic score) per sample, ``[B]``.

    Args:
        input_shape: shape of one sample, e.g. ``[1]``, ``[200]`` or ``[1, 28, 28]``.
        hidden: widths of the hidden layers, e.g. ``[8, 8, 8]``.
        activation: hidden activation.
        dropout: dropout after each hidden activation (the PyTorch MNIST tutorial uses 0.3).
        spectral_norm: divide each layer's weight by its largest singular value (Miyato et al. 2018).
        data_mean, data_std: the input is standardized, ``(x - data_mean) / data_std``, before the
            first layer. Without it, on data far from 0 in units of its spread (N(4, 0.5)), the
            layers' kinks mostly lie outside the data at initialization: the network is nearly
            linear there, cannot tell a narrower distribution from the data, and the generator's
            spread stalls too small (std 0.41 for 0.5, measured).
        num_classes: a class-conditional discriminator, ``forward(x, y)``.
        conditioning: ``projection`` adds ``embed(y) . h`` to the output, ``h`` the last hidden
            layer's features (Miyato & Koyama 2018); ``auxiliary`` leaves the output unconditional
            and adds a classifier head, ``forward(x, with_classes=True)`` -> (output, class logits
            ``[B, num_classes]``) (AC-GAN, Odena et al. 2017); ``both`` has the two.
    """

    def __init__(
        self,
        input_shape: Sequence[int] = (1,),
        hidden: Sequence[int] = (32, 32),
        activation: str = "leaky_relu",
        dropout: float = 0.0,
        spectral_norm: bool = False,
        data_mean: float = 0.0,
        data_std: float = 1.0,
        num_classes: int | None = None,
        conditioning: Literal["projection", "auxiliary", "both"] = "projection",
    ):
        super().__init__()
        _check_sizes(type(self).__name__, input_shape=input_shape, hidden=hidden)
        if not 0 <= dropout < 1:
            raise ConfigError(f"{type(self).__name__}: dropout must be in [0, 1), got {dropout}")
        self.input_shape = tuple(input_shape)
        self.net = nn.Sequential(*mlp([math.prod(self.input_shape), *hidden, 1], activation, dropout))
        if spectral_norm:
            with_spectral_norm(self.net)
        self.add_class_heads(num_classes, list(hidden)[-1], conditioning)
        self.data_mean, self.data_std = check_standardization(type(self).__name__, data_mean, data_std)

    def standardize(self, x: Tensor) -> Tensor:
        """Samples ``[B, *input_shape]`` -> ``[B, prod(input_shape)]`` in units of the data's mean and std."""
        return (x.flatten(1) - self.data_mean) / self.data_std

    def features(self, x: Tensor) -> Tensor:
        """The last hidden layer's activations ``[B, hidden[-1]]``: what the output layer reads."""
        return self.net[:-1](self.standardize(x))

    def hidden_layers(self, x: Tensor) -> list[Tensor]:
        """Each hidden layer's activations, first to last: ``[B, hidden[i]]``; the last is ``features(x)``."""
        return block_outputs(self.net, self.standardize(x))

    def score(self, features: Tensor) -> Tensor:
        return self.net[-1](features).squeeze(1)
