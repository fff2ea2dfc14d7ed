"""Writing a picture under the run directory and sending it to every logger that takes images."""

from pathlib import Path

from lightning.pytorch import Trainer
from lightning.pytorch.loggers import TensorBoardLogger, WandbLogger


def log_image_file(trainer: Trainer, key: str, path: Path, step: int) -> None:
    """Log the PNG at ``path`` as ``key`` at ``step`` (iterations) to W&B and TensorBoard."""
    for logger in trainer.loggers:
        if isinstance(logger, WandbLogger):
            logger.log_image(key=key, images=[str(path)], step=step)
        elif isinstance(logger, TensorBoardLogger):
            import numpy as np
            from PIL import Image

            image = np.asarray(Image.open(path).convert("RGB"))
            logger.experiment.add_image(key, image, global_step=step, dataformats="HWC")
