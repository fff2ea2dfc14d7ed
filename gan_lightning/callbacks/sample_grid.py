"""A grid of images from fixed noise at each validation, so progress is visible run to run."""

from pathlib import Path

import torch
from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.utilities import rank_zero_only
from torchvision.utils import save_image

from gan_lightning.callbacks.logging import log_image_file
from gan_lightning.errors import ConfigError


def grid_inputs(pl_module: LightningModule, num_samples: int) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(noise ``[n, latent_dim]``, labels ``[n]`` or ``None``) of the grid: drawn from the latent's seed, so
    every validation and a resumed run show the same latents. A conditional model's grid has one row per
    class (its first 10), the same noise in every row."""
    noise = pl_module.noise(num_samples, torch.Generator().manual_seed(pl_module.latent.seed))
    if not pl_module.num_classes:
        return noise, None
    rows = min(pl_module.num_classes, 10)
    per_row = max(1, num_samples // rows)
    return noise[:per_row].repeat(rows, 1), torch.arange(rows).repeat_interleave(per_row)


class SampleGrid(Callback):
    """Writes ``<run dir>/plots/samples_<iteration>.png`` and logs it as ``val/samples``.

    Drawn through the EMA generator when there is one. Does nothing for non-image data.

    Args:
        num_samples: images in the grid.
        nrow: images per row of the grid (of an unconditional model).
    """

    def __init__(self, num_samples: int = 64, nrow: int = 8):
        if num_samples < 1 or nrow < 1:
            raise ConfigError(f"grid: num_samples and nrow must be >= 1, got {num_samples} and {nrow}")
        self.num_samples, self.nrow = num_samples, nrow

    @rank_zero_only
    def on_validation_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if trainer.sanity_checking:
            return
        noise, labels = grid_inputs(pl_module, self.num_samples)
        images = pl_module.sample(noise=noise, labels=labels)
        if images.dim() != 4:
            return
        nrow = self.nrow if labels is None else int((labels == labels[0]).sum())
        path = Path(trainer.default_root_dir) / "plots" / f"samples_{pl_module.iteration:07d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        save_image((images.float().clamp(-1, 1) + 1) / 2, path, nrow=nrow, padding=2)
        log_image_file(trainer, "val/samples", path, step=pl_module.iteration)
