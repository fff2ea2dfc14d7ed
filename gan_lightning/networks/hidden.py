"""The hidden layers of a discriminator built as one ``nn.Sequential``: what feature matching compares."""

from torch import Tensor, nn


def block_outputs(network: nn.Sequential, x: Tensor) -> list[Tensor]:
    """``network``'s hidden activations on ``x``, first to last: the value entering each weight layer
    (``Linear`` or ``Conv2d``) after the first, i.e. each block's output after its activation (and
    dropout, flattening). The last is what the output layer reads; the output layer itself is not run."""
    layers = []
    for layer, following in zip(network, list(network)[1:]):
        x = layer(x)
        if isinstance(following, (nn.Linear, nn.Conv2d)):
            layers.append(x)
    return layers
