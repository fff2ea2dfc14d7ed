from gan_lightning.callbacks.checkpoint import GANCheckpoint
from gan_lightning.callbacks.distribution_plot import DistributionPlot
from gan_lightning.callbacks.interrupt import CheckpointOnInterrupt
from gan_lightning.callbacks.lr_decay import LearningRateDecay
from gan_lightning.callbacks.progress import TimedProgressBar
from gan_lightning.callbacks.sample_grid import SampleGrid
from gan_lightning.callbacks.threads import CPUThreads
from gan_lightning.callbacks.validation_history import ValidationHistory

__all__ = ["DistributionPlot", "SampleGrid", "CheckpointOnInterrupt", "GANCheckpoint", "LearningRateDecay", "TimedProgressBar", "CPUThreads",
           "ValidationHistory"]
