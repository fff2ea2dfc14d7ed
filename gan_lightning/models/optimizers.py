"""The two networks' optimizers as a config gives them: checked when the model is built, and counted in steps."""

from typing import Optional

import torch
from lightning.pytorch.cli import OptimizerCallable
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
