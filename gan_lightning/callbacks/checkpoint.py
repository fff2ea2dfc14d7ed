"""ModelCheckpoint whose ``last.ckpt`` is rewritten at every save point, better metric or not."""

from lightning.pytorch.callbacks import ModelCheckpoint


class GANCheckpoint(ModelCheckpoint):
    """``last.ckpt`` at every validation plus the best by ``monitor``.

    Lightning 2.6 rewrites ``last.ckpt`` only when a top-k checkpoint was saved at the same step,
    so a run whose metric stopped improving would resume from its last improvement, not from
    where it stopped. This callback writes ``last.ckpt`` at each save point regardless.
    """

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        super().on_train_epoch_end(trainer, pl_module)
        if self._should_save_on_train_epoch_end(trainer):
            self._save_last_unless_saved(trainer)

    def on_validation_end(self, trainer, pl_module) -> None:
        super().on_validation_end(trainer, pl_module)
        if not self._should_save_on_train_epoch_end(trainer):
            self._save_last_unless_saved(trainer)

    def _save_last_unless_saved(self, trainer) -> None:
        # Skipped when the parent saved at this step already (it then wrote last.ckpt too).
        if self.save_last and not self._should_skip_saving_checkpoint(trainer):
            self._save_last_checkpoint(trainer, self._monitor_candidates(trainer))
