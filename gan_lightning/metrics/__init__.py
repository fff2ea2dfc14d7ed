from gan_lightning.metrics.distribution import KSStatistic, MeanError, StdError, Wasserstein1D, distribution_metrics
from gan_lightning.metrics.fid import FID

__all__ = ["Wasserstein1D", "KSStatistic", "MeanError", "StdError", "distribution_metrics", "FID"]
