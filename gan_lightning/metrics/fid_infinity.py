"""FID extrapolated to infinitely many generated samples (Chong & Forsyth 2020, "Effectively Unbiased FID").

FID computed from N generated samples is biased upward by an amount close to linear in 1/N, and how
large depends on the generator, so two models compared at 5,000 samples can rank as they would not at
50,000. Fitting FID(N) = FID_inf + slope / N over several N and reading the line at 1/N = 0 removes it.
"""

import torch
from torch import Tensor


def frechet_distance(mu1: Tensor, sigma1: Tensor, mu2: Tensor, sigma2: Tensor) -> Tensor:
    """||mu1 - mu2||^2 + tr(S1 + S2 - 2 (S1 S2)^(1/2)), in float64; the trace of the root from the eigenvalues of
    S1 S2 (real and >= 0 for covariance matrices, up to rounding).

    >>> frechet_distance(torch.zeros(2), torch.eye(2), torch.ones(2), 4 * torch.eye(2)).item()
    4.0
    """
    mu1, sigma1, mu2, sigma2 = (t.double() for t in (mu1, sigma1, mu2, sigma2))
    root_trace = torch.linalg.eigvals(sigma1 @ sigma2).real.clamp_min(0).sqrt().sum()
    return (mu1 - mu2).pow(2).sum() + sigma1.trace() + sigma2.trace() - 2 * root_trace


def statistics(features: Tensor) -> tuple[Tensor, Tensor]:
    """Mean ``[F]`` and covariance ``[F, F]`` of features ``[N, F]``, in float64."""
    features = features.double()
    return features.mean(0), torch.cov(features.T)


def fid_infinity(real: Tensor, fake: Tensor, points: int = 15, smallest: int | None = None) -> tuple[Tensor, list]:
    """(FID at 1/N = 0, the ``(N, FID)`` points fitted) from real features ``[M, F]`` and generated ``[N, F]``.

    FID is computed on the first ``n`` generated features for ``points`` values of ``n`` spaced evenly in
    1/n from ``smallest`` (default N / 10, at least 2) to N, and a least-squares line through (1/n, FID) is
    read at 0. The order of ``fake`` is the draw's, so the first n are a fair sample of n.
    """
    n = len(fake)
    smallest = smallest or max(2, n // 10)
    if not 2 <= smallest < n or points < 2:
        raise ValueError(f"fid_infinity needs 2 <= smallest < len(fake) and points >= 2, got {smallest}, {n}, {points}")
    mu_r, sigma_r = statistics(real)
    counts = sorted({int(round(1 / x)) for x in torch.linspace(1 / smallest, 1 / n, points).tolist()})
    values = [frechet_distance(mu_r, sigma_r, *statistics(fake[:k])) for k in counts]
    x = torch.tensor([1 / k for k in counts], dtype=torch.float64)
    y = torch.stack(values)
    slope = ((x - x.mean()) * (y - y.mean())).sum() / (x - x.mean()).pow(2).sum()
    return y.mean() - slope * x.mean(), list(zip(counts, [float(v) for v in values]))
