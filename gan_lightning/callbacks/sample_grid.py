"""A grid of images from the fixed noise at each validation, so progress is visible run to run."""

from pathlib import Path

from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.utilities import rank_zero_only
from torchvision.utils import save_image

from gan_lightning.callbacks.logging import log_image_file


class SampleGrid(Callback):
    """Writes ``<run dir>/plots/samples_<iteration>.png`` and logs it as ``val/samples``.

    The latents are the module's ``fixed_noise`` (saved in checkpoints), drawn through the EMA
    generator when there is one; a class-conditional model draws one row per class (its
    ``fixed_labels``). Does nothing for non-image data.

    Args:
        nrow: images per row of the grid (of an unconditional model).
    """

    def __init__(self, nrow: int = 8):
        self.nrow = nrow

    @rank_zero_only
    def on_validation_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if trainer.sanity_checking:
            return
        labels = getattr(pl_module, "fixed_labels", None)
        images = pl_module.sample(noise=pl_module.fixed_noise, labels=labels)
        if images.dim() != 4:
            return
        # A conditional model's grid has one row per class.
        nrow = self.nrow if labels is None else int((labels == labels[0]).sum())
        path = Path(trainer.default_root_dir) / "plots" / f"samples_{pl_module.iteration:07d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        save_image((images.float().clamp(-1, 1) + 1) / 2, path, nrow=nrow, padding=2)
        log_image_file(trainer, "val/samples", path, step=pl_module.iteration)
