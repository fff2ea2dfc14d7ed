"""The two networks' optimizers as a config gives them: checked when the model is built, counted in steps, and
stepped through Lightning or directly."""

from typing import Optional

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.cli import OptimizerCallable
from lightning.pytorch.core.optimizer import LightningOptimizer
from lightning.pytorch.plugins.precision import MixedPrecision, Precision
from lightning.pytorch.profilers import PassThroughProfiler
from lightning.pytorch.strategies import SingleDeviceStrategy
from torch import nn

from gan_lightning.errors import ConfigError


def check_optimizer(model: str, key: str, optimizer: Optional[OptimizerCallable]) -> None:
    """Builds the optimizer on a dummy parameter: a bad setting (lr < 0) stops the run before the trainer starts."""
    if optimizer is None:
        return
    try:
        optimizer([nn.Parameter(torch.zeros(1))])
    except (ValueError, TypeError) as e:
        raise ConfigError(f"{model}: {key}: {e}; set it with --model.init_args.{key}.init_args") from None


def optimizer_steps(iterations: int, n_critic: int, d_pretrain_steps: int = 0) -> int:
    """Lightning's ``max_steps`` for ``iterations``: each takes ``n_critic`` critic steps and one generator
    step, except the first ``d_pretrain_steps``, which take no generator step."""
    return iterations * (n_critic + 1) - min(d_pretrain_steps, iterations)


# Lightning's hooks around a manual backward and an optimizer step, each dispatched to every callback.
STEP_HOOKS = ("on_before_backward", "on_after_backward", "on_before_optimizer_step")


def steps_directly(trainer: pl.Trainer, module: pl.LightningModule) -> bool:
    """Whether ``module`` may call ``loss.backward()`` and its optimizers' own ``step()`` instead of
    ``manual_backward`` and ``LightningOptimizer.step``: when nothing would see the difference.

    Lightning's path dispatches three hooks to every callback and the module per optimizer step (about
    0.4 ms of a 3.4 ms 1-D iteration on this CPU: benchmarks/RESULTS.md). Nothing listens
    to them on one device in plain float32 or scaler-free bf16 with no profiler, no callback and no module
    hook overriding them, and no ``backward`` of the module's own; DDP (its reducer), a gradient scaler,
    Fabric and profiles need Lightning's path.
    """
    precision = trainer.precision_plugin
    plain_precision = type(precision) is Precision or (type(precision) is MixedPrecision and precision.scaler is None)
    listeners = [c for c in trainer.callbacks if any(getattr(type(c), h) is not getattr(Callback, h) for h in STEP_HOOKS)]
    module_hooks = any(getattr(type(module), h) is not getattr(pl.LightningModule, h) for h in (*STEP_HOOKS, "backward"))
    return (type(trainer.strategy) is SingleDeviceStrategy and plain_precision and not listeners and not module_hooks
            and isinstance(trainer.profiler, PassThroughProfiler) and module._fabric is None)


def step(optimizer, directly: bool) -> None:
    """One step of ``optimizer``: a ``LightningOptimizer`` during fit, stepped ``directly`` (``steps_directly``) or
    through Lightning's hooks; a torch optimizer given outside fit steps as it is."""
    if directly and isinstance(optimizer, LightningOptimizer):
        optimizer._on_before_step()  # Lightning's count of optimizer steps (global_step, max_steps)
        optimizer.optimizer.step()
        optimizer._on_after_step()
    else:
        optimizer.step()
