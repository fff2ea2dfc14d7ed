from gan_lightning.callbacks.distribution_plot import DistributionPlot

__all__ = ["DistributionPlot"]
