"""What torch does on the CPU while a run trains: how many threads its kernels use, no GPU probe per step, and a
warning when bf16-mixed would run on a CPU for which oneDNN has no bfloat16 kernels."""

import os
from typing import Optional

import torch
from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.accelerators import CPUAccelerator
from lightning.pytorch.utilities import rank_zero_warn

from gan_lightning.errors import ConfigError


class CPUThreads(Callback):
    """Sets torch's intra-op thread count for the run (``--cpu.threads N``) and gives the old one back after.

    Networks of a few dozen units make kernels of microseconds, where a second thread can cost more
    to wake than it saves: the 1-D WGAN-GP config (double backward through 32-unit layers) trains
    on one thread for this; the other 1-D configs measured a little faster on two
    (benchmarks/RESULTS.md, "CPU threads for the 1-D Gaussian"). Image networks gain from every
    core: leave those at ``None``.

    On a machine without a GPU it also turns off, for the run, the NVML-based CUDA check that importing
    Lightning switches on (``PYTORCH_NVML_BASED_CUDA_CHECK``): torch's optimizers ask whether CUDA is
    available at every step, and under that check each answer loads NVML again (about 0.25 ms, a tenth of
    a 1-D iteration: benchmarks/RESULTS.md). Without a GPU there is no CUDA state a fork could inherit,
    which is what the check guards against.

    bf16-mixed on a CPU for which oneDNN has no bfloat16 kernels (they need AVX512; an AVX2-only CPU has
    none) runs on slow fallbacks: the run gets a warning that says so and how to train in float32 instead
    (benchmarks/RESULTS.md, "bf16-mixed on a CPU without bfloat16 instructions").

    Args:
        threads: threads per process; ``None`` keeps torch's (one per core, or under DDP on the CPU
            Lightning's share of the cores for each rank).
    """

    NVML_CHECK = "PYTORCH_NVML_BASED_CUDA_CHECK"

    def __init__(self, threads: Optional[int] = None):
        if threads is not None and threads < 1:
            raise ConfigError(f"cpu.threads must be >= 1 or null, got {threads}")
        self.threads = threads
        self.previous: Optional[int] = None
        self.nvml_check: Optional[str] = None

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        if self.threads is not None:
            self.previous = torch.get_num_threads()
            torch.set_num_threads(self.threads)
        if (isinstance(trainer.accelerator, CPUAccelerator) and os.environ.get(self.NVML_CHECK)
                and not torch.cuda.is_available()):
            self.nvml_check = os.environ.pop(self.NVML_CHECK)
        if (stage == "fit" and isinstance(trainer.accelerator, CPUAccelerator)
                and str(trainer.precision) == "bf16-mixed" and not cpu_has_bfloat16()):
            rank_zero_warn("--trainer.precision bf16-mixed on a CPU without bfloat16 kernels in oneDNN (they need "
                           "AVX512): it runs on slow fallbacks; add --trainer.precision 32-true to train in float32")

    def teardown(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        # benchmarks.quality trains several configs in one process: the next one starts with torch's count.
        if self.previous is not None:
            torch.set_num_threads(self.previous)
            self.previous = None
        if self.nvml_check is not None:
            os.environ[self.NVML_CHECK] = self.nvml_check
            self.nvml_check = None


def cpu_has_bfloat16() -> bool:
    """Whether oneDNN has bfloat16 kernels for this CPU (torch's own test of it)."""
    return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
