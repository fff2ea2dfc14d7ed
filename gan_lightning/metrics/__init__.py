from gan_lightning.metrics.distribution import KSStatistic, MeanError, StdError, Wasserstein1D, distribution_metrics
from gan_lightning.metrics.manifold import DensityCoverage, PrecisionRecall
from gan_lightning.metrics.mnist_classifier import MNISTClassifier, MNISTFeatures
from gan_lightning.metrics.modes import ClassCoverage, MixtureModes, StackedModes
from gan_lightning.metrics.suite import InceptionFeatures, SampleMetrics

FID = SampleMetrics  # the name of these metrics before they grew beyond FID; checkpoints still name it

__all__ = ["Wasserstein1D", "KSStatistic", "MeanError", "StdError", "distribution_metrics", "PrecisionRecall",
           "DensityCoverage", "ClassCoverage", "StackedModes", "MixtureModes", "MNISTClassifier", "MNISTFeatures",
           "InceptionFeatures", "SampleMetrics", "FID"]
