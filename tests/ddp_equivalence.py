"""WGAN-GP (or the Wasserstein loss with R1) on N processes with per-rank batch B, fed slices of the
same data and noise as one process with batch N*B: the script behind test_ddp.py's equivalence tests.

    python tests/ddp_equivalence.py DEVICES BATCH_PER_RANK OUTPUT.pt [gp|r1]
"""

import sys

import lightning as L
import torch
from torch.utils.data import DataLoader, IterableDataset

from gan_lightning import losses
from gan_lightning.models import WGANGP
from gan_lightning.networks import MLPDiscriminator, MLPGenerator
from gan_lightning.regularizers import R1, GradientPenalty

GLOBAL_BATCH, N_CRITIC, ITERATIONS, LATENT = 16, 2, 12, 4


def rank_slice(tensor, rank, world):
    """This rank's share of a global batch along dim 0 (the last of n_critic-stacked dims)."""
    per = tensor.shape[-2] // world if tensor.dim() > 2 else tensor.shape[0] // world
    return tensor[..., rank * per:(rank + 1) * per, :] if tensor.dim() > 2 else tensor[rank * per:(rank + 1) * per]


class SharedStream(IterableDataset):
    """Iteration t: the global real data [N_CRITIC, GLOBAL_BATCH, 1], seeded by t; a rank yields its slice."""

    def __len__(self):
        return ITERATIONS

    def __iter__(self):
        rank = torch.distributed.get_rank() if torch.distributed.is_initialized() else 0
        world = torch.distributed.get_world_size() if torch.distributed.is_initialized() else 1
        for t in range(ITERATIONS):
            data = 4 + 0.5 * torch.randn(N_CRITIC, GLOBAL_BATCH, 1, generator=torch.Generator().manual_seed(t))
            yield rank_slice(data, rank, world).reshape(-1, 1)


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


def main(devices, batch_per_rank, output, regularizer="gp"):
    assert int(devices) * int(batch_per_rank) == GLOBAL_BATCH
    L.seed_everything(0)
    model = SharedNoiseWGANGP(MLPGenerator(LATENT, [1], [16, 16]), MLPDiscriminator([1], [16, 16]), n_critic=N_CRITIC,
                              optimizer_g=lambda p: torch.optim.Adam(p, lr=1e-3, betas=(0.0, 0.9)),
                              optimizer_d=lambda p: torch.optim.Adam(p, lr=1e-3, betas=(0.0, 0.9)))
    model.regularizers = [SharedAlphaPenalty(model) if regularizer == "gp" else R1(gamma=1.0)]
    init = {k: v.clone() for k, v in model.state_dict().items()}
    trainer = L.Trainer(accelerator="cpu", devices=int(devices), strategy="ddp_find_unused_parameters_true",
                        max_epochs=1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, limit_val_batches=0)
    trainer.fit(model, train_dataloaders=DataLoader(SharedStream(), batch_size=None))
    if trainer.global_rank == 0:
        torch.save({"init": init, "final": {k: v.cpu() for k, v in model.state_dict().items()}}, output)


if __name__ == "__main__":
    main(*sys.argv[1:])
