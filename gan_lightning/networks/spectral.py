"""Spectral normalization (Miyato et al. 2018) of every weight layer of a discriminator."""

from torch import nn
from torch.nn.utils.parametrizations import spectral_norm


def with_spectral_norm(module: nn.Module) -> nn.Module:
    """Reparametrizes every ``Linear`` and ``Conv2d`` of ``module`` to weight / sigma_max(weight), in place.

    torch's parametrization keeps its power-iteration vectors as buffers; they are saved in
    checkpoints, and under DDP they should stay out of the buffer broadcast (two critic passes
    per step), as batch norm statistics should.
    """
    for name, child in list(module.named_children()):
        if isinstance(child, (nn.Linear, nn.Conv2d)):
            setattr(module, name, spectral_norm(child))
        else:
            with_spectral_norm(child)
    return module
