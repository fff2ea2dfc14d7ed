"""Distances between a real and a generated sample of low-dimensional vectors.

Each metric gathers both samples (``[N, dim]`` in data units) across batches and DDP ranks,
compares them one dimension at a time and reports the mean over dimensions.
"""

import torch
from torch import Tensor
from torchmetrics import Metric, MetricCollection
from torchmetrics.utilities import dim_zero_cat


def empirical_cdfs(real: Tensor, fake: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Both empirical CDFs at every pooled sample point, per dimension.

    Args:
        real: ``[n, d]``; fake: ``[m, d]``.

    Returns:
        ``points [n + m, d]`` sorted per dimension, and ``cdf_real``, ``cdf_fake`` at those
        points, each ``[n + m, d]`` in [0, 1].
    """
    # One sort of the pooled sample: each CDF counts the points of its own sample up to here (validation
    # compares a million against a million, where sorting is most of the cost).
    points, order = torch.cat([real, fake]).sort(dim=0)  # float32 sorts faster, in the same order as float64
    points, from_real = points.double(), (order < len(real)).double()
    cdf_real, cdf_fake = from_real.cumsum(dim=0) / len(real), (1 - from_real).cumsum(dim=0) / len(fake)
    # Tied points (a collapsed generator draws the same value many times) all take the CDF at the
    # last of them, F(x) = P(X <= x): a reversed running minimum over the tie groups' last positions.
    last = torch.ones_like(points, dtype=torch.bool)
    last[:-1] = points[1:] != points[:-1]
    at_last = lambda cdf: torch.where(last, cdf, torch.inf).flip(0).cummin(dim=0).values.flip(0)
    return points, at_last(cdf_real), at_last(cdf_fake)


def wasserstein_1d(real: Tensor, fake: Tensor) -> Tensor:
    """W1 per dimension, ``[d]``: the area between the two empirical CDFs (as scipy computes it)."""
    points, cdf_real, cdf_fake = empirical_cdfs(real, fake)
    return ((cdf_real - cdf_fake).abs()[:-1] * points.diff(dim=0)).sum(dim=0)


def ks_statistic(real: Tensor, fake: Tensor) -> Tensor:
    """Two-sample Kolmogorov-Smirnov statistic per dimension, ``[d]`` in [0, 1]."""
    _, cdf_real, cdf_fake = empirical_cdfs(real, fake)
    return (cdf_real - cdf_fake).abs().amax(dim=0)


class _TwoSampleMetric(Metric):
    """Holds the real and generated samples; subclasses say how to compare one dimension."""

    full_state_update = False
    higher_is_better = False

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.add_state("real", default=[], dist_reduce_fx="cat")
        self.add_state("fake", default=[], dist_reduce_fx="cat")

    def update(self, real: Tensor, fake: Tensor) -> None:
        """real: ``[n, d]``, fake: ``[m, d]`` in data units."""
        if real.dim() != 2 or fake.dim() != 2 or real.shape[1] != fake.shape[1]:
            raise ValueError(f"{type(self).__name__} needs [n, d] and [m, d] samples, got {tuple(real.shape)} and {tuple(fake.shape)}")
        self.real.append(real.detach().float())
        self.fake.append(fake.detach().float())

    def compute(self) -> Tensor:
        return self.per_dimension(dim_zero_cat(self.real), dim_zero_cat(self.fake)).mean().float()

    def per_dimension(self, real: Tensor, fake: Tensor) -> Tensor:
        raise NotImplementedError


class Wasserstein1D(_TwoSampleMetric):
    """Mean over dimensions of the 1-D Wasserstein-1 distance, in data units."""

    def per_dimension(self, real, fake):
        return wasserstein_1d(real, fake)


class KSStatistic(_TwoSampleMetric):
    """Mean over dimensions of the two-sample KS statistic, in [0, 1]."""

    def per_dimension(self, real, fake):
        return ks_statistic(real, fake)


class MeanError(_TwoSampleMetric):
    """Mean over dimensions of |mean(real) - mean(fake)|."""

    def per_dimension(self, real, fake):
        return (real.mean(0) - fake.mean(0)).abs()


class StdError(_TwoSampleMetric):
    """Mean over dimensions of |std(real) - std(fake)|."""

    def per_dimension(self, real, fake):
        return (real.std(0) - fake.std(0)).abs()


def distribution_metrics(prefix: str = "val/") -> MetricCollection:
    """``val/w1``, ``val/ks``, ``val/mean_err``, ``val/std_err``, sharing one copy of the samples."""
    return MetricCollection(
        {"w1": Wasserstein1D(), "ks": KSStatistic(), "mean_err": MeanError(), "std_err": StdError()},
        prefix=prefix,
        compute_groups=[["w1", "ks", "mean_err", "std_err"]],
    )
