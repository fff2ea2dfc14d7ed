"""WGAN-GP (or the Wasserstein loss with R1) on N processes with per-rank batch B, fed slices of the
same data and noise as one process with batch N*B: the script behind test_ddp.py's equivalence tests.

    python tests/ddp_equivalence.py DEVICES BATCH_PER_RANK OUTPUT.pt [gp|r1] [mlp|resnet]

``mlp``: 1-D data and MLPs. ``resnet``: 3x32x32 images and the SNGAN ResNets at width 8; their generator's batch
norm normalizes each rank's batch, so both runs normalize each BATCH_NORM_SHARE images of a batch apart.
"""

import sys

import lightning as L
import torch
from torch.utils.data import DataLoader, IterableDataset

from gan_lightning import losses
from gan_lightning.models import WGANGP
from gan_lightning.networks import MLPDiscriminator, MLPGenerator, ResNetDiscriminator, ResNetGenerator
from gan_lightning.regularizers import R1, GradientPenalty

GLOBAL_BATCH, N_CRITIC, LATENT = 16, 2, 4
# The runs' float rounding differences grow with every step the ResNets take (large ones more): a few small steps.
ITERATIONS = {"mlp": 12, "resnet": 3}
BATCH_NORM_SHARE = 8  # the per-rank batch of the two-process run


def rank_slice(tensor, rank, world, dim=0):
    """This rank's share of a global batch along ``dim``."""
    per = tensor.shape[dim] // world
    return tensor.narrow(dim, rank * per, per)


class SharedStream(IterableDataset):
    """Iteration t: the global real data [N_CRITIC, GLOBAL_BATCH, *shape], seeded by t; a rank yields its slice."""

    def __init__(self, shape, iterations):
        self.shape, self.iterations = shape, iterations

    def __len__(self):
        return self.iterations

    def __iter__(self):
        rank = torch.distributed.get_rank() if torch.distributed.is_initialized() else 0
        world = torch.distributed.get_world_size() if torch.distributed.is_initialized() else 1
        for t in range(self.iterations):
            g = torch.Generator().manual_seed(t)
            data = (4 + 0.5 * torch.randn(N_CRITIC, GLOBAL_BATCH, 1, generator=g) if self.shape == (1,) else
                    torch.tanh(torch.randn(N_CRITIC, GLOBAL_BATCH, *self.shape, generator=g)))
            yield rank_slice(data, rank, world, dim=1).reshape(-1, *self.shape)


class SharedNoiseWGANGP(WGANGP):
    """Noise and penalty interpolation weights drawn globally per call, each rank taking its slice."""

    calls = 0

    def shared(self, shape, uniform=False):
        SharedNoiseWGANGP.calls += 1
        g = torch.Generator().manual_seed(10_000 + SharedNoiseWGANGP.calls)
        full = torch.rand(shape, generator=g) if uniform else torch.randn(shape, generator=g)
        return rank_slice(full, self.global_rank, self.trainer.world_size)

    def noise(self, n, generator=None):
        if generator is not None:  # validation and sampling: unchanged
            return super().noise(n, generator)
        return self.shared((GLOBAL_BATCH, LATENT))



class SharedAlphaPenalty(GradientPenalty):
    """The gradient penalty with interpolation weights drawn globally, each rank taking its slice."""

    def __init__(self, model):
        super().__init__(weight=10.0)
        self.model = model

    def discriminator_term(self, step):
        alpha = self.model.shared((GLOBAL_BATCH,), uniform=True)
        value = losses.gradient_penalty(step.critic, step.real, step.fake, alpha=alpha)
        return value, value


def networks(kind):
    """G and D, and the shape of the data. The ResNet generator's batch norm normalizes each BATCH_NORM_SHARE
    images of a batch apart, as two DDP ranks each normalize their own."""
    if kind == "mlp":
        return MLPGenerator(LATENT, [1], [16, 16]), MLPDiscriminator([1], [16, 16]), (1,)
    generator = ResNetGenerator(LATENT, image_size=32, base_width=8)
    per_rank = generator.forward
    generator.forward = lambda z, y=None: torch.cat([per_rank(share) for share in z.split(BATCH_NORM_SHARE)])
    return generator, ResNetDiscriminator(image_size=32, base_width=8, spectral_norm=False), (3, 32, 32)


def main(devices, batch_per_rank, output, regularizer="gp", network="mlp"):
    assert int(devices) * int(batch_per_rank) == GLOBAL_BATCH
    L.seed_everything(0)
    generator, discriminator, shape = networks(network)
    # Adam would turn the float noise in the zero gradient of a convolution's bias before batch norm into
    # steps of its full learning rate, different on every run; SGD keeps the ResNets' runs comparable.
    optimizer = ((lambda p: torch.optim.Adam(p, lr=1e-3, betas=(0.0, 0.9))) if network == "mlp" else
                 (lambda p: torch.optim.SGD(p, lr=2e-4)))
    model = SharedNoiseWGANGP(generator, discriminator, n_critic=N_CRITIC, optimizer_g=optimizer, optimizer_d=optimizer)
    model.regularizers = [SharedAlphaPenalty(model) if regularizer == "gp" else R1(gamma=1.0)]
    init = {k: v.clone() for k, v in model.state_dict().items()}
    trainer = L.Trainer(accelerator="cpu", devices=int(devices), strategy="ddp_find_unused_parameters_true",
                        max_epochs=1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, limit_val_batches=0)
    trainer.fit(model, train_dataloaders=DataLoader(SharedStream(shape, ITERATIONS[network]), batch_size=None))
    if trainer.global_rank == 0:
        torch.save({"init": init, "final": {k: v.cpu() for k, v in model.state_dict().items()}}, output)


if __name__ == "__main__":
    main(*sys.argv[1:])
