"""Learning rates that fall over the last part of a run, however its length is given.

A GAN trained at a constant rate keeps moving around the data; lowering the rates at the end lets
it settle. Torch's schedulers count iterations, but a run's budget is often minutes
(``--trainer.max_time``), and how many iterations fit in them depends on the machine. This callback
reads how far the run is through the budget that will stop it (``max_steps``, ``max_epochs`` or
``max_time``, whichever is furthest along) and scales every optimizer's rate by that.
"""

import math

from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.callbacks import Timer

from gan_lightning.errors import ConfigError


def budget_fraction(trainer: Trainer, batch_idx: int) -> float:
    """How far training is through its budget, in [0, 1]: the furthest along of steps, epochs and time."""
    fractions = [0.0]
    if trainer.max_steps and trainer.max_steps > 0:
        fractions.append(trainer.global_step / trainer.max_steps)
    batches = trainer.num_training_batches
    if trainer.max_epochs and trainer.max_epochs > 0 and batches and not math.isinf(batches):
        fractions.append((trainer.current_epoch + batch_idx / batches) / trainer.max_epochs)
    for timer in (c for c in trainer.callbacks if isinstance(c, Timer)):
        elapsed, remaining = timer.time_elapsed("train"), timer.time_remaining("train")
        if remaining is not None and elapsed + remaining > 0:
            fractions.append(elapsed / (elapsed + remaining))
    return min(1.0, max(fractions))


class LearningRateDecay(Callback):
    """Scales every optimizer's learning rate from 1 to ``end_factor``, linearly, from the fraction
    ``start`` of the training budget to its end; before ``start`` the rates are the configured ones.

    In a config: ``trainer.callbacks: [{class_path: gan_lightning.callbacks.LearningRateDecay,
    init_args: {start: 0.7, end_factor: 0.1}}]``. The rate each optimizer started with is kept in
    its parameter groups (``initial_lr``, as torch's schedulers keep it) and so in checkpoints, and
    Lightning's timer keeps the elapsed time: a resumed run continues the same schedule.

    Args:
        start: fraction of the budget in [0, 1) at which the rates begin to fall.
        end_factor: the rates' share of their configured values when the budget is spent, in (0, 1].
    """

    def __init__(self, start: float = 0.7, end_factor: float = 0.1):
        if not 0.0 <= start < 1.0:
            raise ConfigError(f"LearningRateDecay: start must be in [0, 1), got {start}")
        if not 0.0 < end_factor <= 1.0:
            raise ConfigError(f"LearningRateDecay: end_factor must be in (0, 1], got {end_factor}")
        self.start, self.end_factor = start, end_factor

    def factor(self, fraction: float) -> float:
        """The rates' scale at ``fraction`` of the budget."""
        progress = max(0.0, fraction - self.start) / (1.0 - self.start)
        return 1.0 + (self.end_factor - 1.0) * progress

    def on_fit_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if trainer.lr_scheduler_configs:
            raise ConfigError("LearningRateDecay sets the learning rates itself: remove the model's scheduler, "
                              "or this callback")
        if not (trainer.max_steps and trainer.max_steps > 0) and not (trainer.max_epochs and trainer.max_epochs > 0) \
                and not any(isinstance(c, Timer) for c in trainer.callbacks):
            raise ConfigError("LearningRateDecay needs a budget to decay over: set trainer.max_steps (or --iterations), "
                              "trainer.max_epochs or trainer.max_time")

    def on_train_batch_start(self, trainer: Trainer, pl_module: LightningModule, batch, batch_idx: int) -> None:
        fraction = budget_fraction(trainer, batch_idx)
        if trainer.world_size > 1:  # each rank's clock differs a little; the ranks must share one rate
            fraction = trainer.strategy.broadcast(fraction, src=0)
        scale = self.factor(fraction)
        for optimizer in trainer.optimizers:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
                group["lr"] = group["initial_lr"] * scale
        # Only on the iterations whose metrics Lightning sends to the loggers (as the module's own terms):
        # a log call costs more than a tiny network's iteration.
        steps = getattr(pl_module, "iteration", batch_idx) // getattr(pl_module, "iterations_per_step", 1)
        if (steps + 1) % trainer.log_every_n_steps == 0:
            pl_module.log("train/lr_scale", scale)
