"""The global random states a training step draws from, as checkpoint-safe values (exact resume)."""

import random

import numpy as np
import torch


def rng_states() -> dict:
    """The global random states a training step draws from: torch (CPU and CUDA), NumPy, Python."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    # Tensors and plain numbers only: Lightning loads checkpoints with torch.load(weights_only=True).
    return {"torch": torch.get_rng_state(), "numpy": (kind, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, gauss),
            "python": random.getstate(), "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []}


def set_rng_states(states: dict) -> None:
    torch.set_rng_state(states["torch"])
    kind, keys, pos, has_gauss, gauss = states["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, gauss))
    random.setstate(states["python"])
    if states["cuda"] and torch.cuda.is_available() and len(states["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(states["cuda"])


def every_rank_rng_states() -> list[dict]:
    """``rng_states()`` of every process, in rank order (a list of one without ``torch.distributed``);
    every rank must call it."""
    states = rng_states()
    if not (torch.distributed.is_available() and torch.distributed.is_initialized()):
        return [states]
    gathered = [None] * torch.distributed.get_world_size()
    torch.distributed.all_gather_object(gathered, states)
    return gathered
