"""How many CPU threads torch's kernels use while a run trains."""

from typing import Optional

import torch
from lightning.pytorch import Callback, LightningModule, Trainer

from gan_lightning.errors import ConfigError


class CPUThreads(Callback):
    """Sets torch's intra-op thread count for the run (``--cpu.threads N``) and gives the old one back after.

    Networks of a few dozen units make kernels of microseconds, where a second thread can cost more
    to wake than it saves: the 1-D WGAN-GP config (double backward through 32-unit layers) trains
    on one thread for this; the other 1-D configs measured a little faster on two
    (benchmarks/RESULTS.md, "CPU threads for the 1-D Gaussian"). Image networks gain from every
    core: leave those at ``None``.

    Args:
        threads: threads per process; ``None`` keeps torch's (one per core, or under DDP on the CPU
            Lightning's share of the cores for each rank).
    """

    def __init__(self, threads: Optional[int] = None):
        if threads is not None and threads < 1:
            raise ConfigError(f"cpu.threads must be >= 1 or null, got {threads}")
        self.threads = threads
        self.previous: Optional[int] = None

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        if self.threads is not None:
            self.previous = torch.get_num_threads()
            torch.set_num_threads(self.threads)

    def teardown(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        # benchmarks.compare trains several configs in one process: the next one starts with torch's count.
        if self.previous is not None:
            torch.set_num_threads(self.previous)
            self.previous = None
