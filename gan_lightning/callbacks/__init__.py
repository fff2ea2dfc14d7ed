from gan_lightning.callbacks.distribution_plot import DistributionPlot
from gan_lightning.callbacks.sample_grid import SampleGrid

__all__ = ["DistributionPlot", "SampleGrid"]
