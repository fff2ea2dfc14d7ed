"""What a trained GAN module draws: noise, samples, and the discriminator's output per sample."""

from typing import Iterator, Optional

import torch
from torch import Tensor, nn

from gan_lightning.errors import ConfigError
from gan_lightning.latent import balanced_labels, check_label_range, sample_batches


class Sampling:
    """The sampling half of ``GANModule``: it reads ``latent``, ``latent_dim``, ``num_classes``, ``generator``,
    ``generator_ema``, ``discriminator`` and ``device``."""

    def noise(self, n: int, generator: Optional[torch.Generator] = None) -> Tensor:
        """``[n, latent_dim]`` noise from the latent distribution, on the module's device."""
        return self.latent(n, self.latent_dim, generator, self.device)

    @torch.no_grad()
    def sample(self, n: Optional[int] = None, noise: Optional[Tensor] = None, seed: Optional[int] = None,
               use_ema: bool = True, labels: Optional[Tensor] = None) -> Tensor:
        """Draw samples in data units (images in [-1, 1]), ``[n, *shape]``.

        Uses the EMA generator when there is one and ``use_ema``; the network is in eval mode.
        ``noise`` overrides ``n`` and ``seed``. A conditional model takes ``labels`` ``[n]`` (default:
        the classes in turn, 0, 1, 2, ...).
        """
        if noise is None:
            if n is None:
                raise ValueError("sample needs n or noise")
            noise = self.noise(n, torch.Generator().manual_seed(seed) if seed is not None else None)
        net = self.generator_ema if use_ema and self.generator_ema is not None else self.generator
        was_training = net.training
        net.eval()
        out = self.generate(net, noise.to(self.device), self.sample_labels(len(noise), labels))
        net.train(was_training)
        return out

    def sample_labels(self, n: int, labels: Optional[Tensor]) -> Optional[Tensor]:
        """The labels ``[n]`` a conditional model samples with (``None`` for an unconditional one)."""
        if not self.num_classes:
            if labels is not None:
                raise ConfigError(f"{type(self).__name__} is unconditional: it takes no labels")
            return None
        labels = balanced_labels(n, self.num_classes) if labels is None else torch.as_tensor(labels).long()
        check_label_range(labels, self.num_classes)
        return labels.to(self.device)

    def generate(self, net: nn.Module, z: Tensor, labels: Optional[Tensor]) -> Tensor:
        return net(z) if labels is None else net(z, labels)

    def sample_batches(self, n: int, seed: int, batch_size: int = 256, labels: Optional[Tensor] = None) -> Iterator[Tensor]:
        """``n`` samples in batches of ``batch_size`` from one seeded noise stream: the same ``seed``
        gives the same samples in validation, ``evaluate`` and ``sample``; ``labels`` ``[n]`` for a
        conditional model (default: balanced)."""
        return sample_batches(self, n, seed, batch_size, labels)

    @torch.no_grad()
    def discriminator_output(self, x: Tensor, labels: Optional[Tensor] = None) -> Tensor:
        """D's raw output ``[B]`` for each sample of ``x`` (what plots draw): a packing discriminator
        judges a pack of copies of each."""
        each = getattr(self.discriminator, "each", self.discriminator)
        return each(x) if labels is None else each(x, labels)

