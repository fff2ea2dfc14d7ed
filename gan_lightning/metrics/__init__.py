from gan_lightning.metrics.distribution import KSStatistic, MeanError, StdError, Wasserstein1D, distribution_metrics

__all__ = ["Wasserstein1D", "KSStatistic", "MeanError", "StdError", "distribution_metrics"]
