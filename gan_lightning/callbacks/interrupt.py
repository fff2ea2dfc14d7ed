"""Saving ``last.ckpt`` when a run is stopped by SIGTERM (schedulers, preemption) or Ctrl-C."""

from pathlib import Path

from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.utilities import rank_zero_info
from lightning.pytorch.utilities.exceptions import SIGTERMException


class CheckpointOnInterrupt(Callback):
    """On SIGTERM or Ctrl-C during ``fit``, writes ``<checkpoint dir>/last.ckpt`` before exit.

    Lightning stops at the end of the iteration in progress on SIGTERM, so the checkpoint holds a
    whole iteration. The write is atomic (a temporary file renamed over the old one), so a
    failure while saving leaves the previous ``last.ckpt`` in place.
    """

    def on_exception(self, trainer: Trainer, pl_module: LightningModule, exception: BaseException) -> None:
        if not isinstance(exception, (KeyboardInterrupt, SIGTERMException)) or trainer.state.fn != "fit":
            return
        callback = trainer.checkpoint_callback
        folder = Path(callback.dirpath) if callback is not None and callback.dirpath else Path(trainer.default_root_dir) / "checkpoints"
        path = folder / "last.ckpt"
        trainer.save_checkpoint(path)
        if callback is not None:
            callback.last_model_path = str(path)
        rank_zero_info(f"{type(exception).__name__}: saved {path} at iteration {pl_module.iteration}; "
                       f"resume with --ckpt_path {path}")
