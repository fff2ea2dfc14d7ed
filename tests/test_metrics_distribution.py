import pytest
import torch
from scipy import stats
from torch.testing import assert_close

from gan_lightning.metrics import KSStatistic, MeanError, StdError, Wasserstein1D, distribution_metrics


def assert_w1_and_ks_match_scipy(real, fake):
    """Our W1 and KS of ``real [n, d]`` against ``fake [m, d]`` equal scipy's, averaged over the d dimensions."""
    w1, ks = Wasserstein1D(), KSStatistic()
    w1.update(real, fake)
    ks.update(real, fake)
    dims = range(real.shape[1])
    expected_w1 = sum(stats.wasserstein_distance(real[:, j], fake[:, j]) for j in dims) / len(dims)
    expected_ks = sum(stats.ks_2samp(real[:, j], fake[:, j]).statistic for j in dims) / len(dims)
    assert_close(w1.compute(), torch.tensor(expected_w1, dtype=torch.float32), rtol=1e-5, atol=1e-6)
    assert_close(ks.compute(), torch.tensor(expected_ks, dtype=torch.float32), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("n, m", [(300, 300), (250, 411)])
def test_w1_and_ks_agree_with_scipy_per_dimension(n, m):
    g = torch.Generator().manual_seed(0)
    real = torch.randn(n, 3, generator=g) * torch.tensor([1.0, 0.5, 2.0]) + 4
    fake = torch.randn(m, 3, generator=g) * 1.3 + 3.5
    assert_w1_and_ks_match_scipy(real, fake)


def test_w1_and_ks_agree_with_scipy_when_samples_tie():
    # A collapsed generator draws one value many times, and data on a grid repeats values: each CDF
    # must be read after the whole run of tied points (KS would otherwise see a gap inside the run).
    g = torch.Generator().manual_seed(1)
    real = torch.randint(0, 6, (400, 2), generator=g).float()
    fake = torch.cat([torch.full((150, 2), 2.0), torch.randint(0, 4, (90, 2), generator=g).float()])
    assert_w1_and_ks_match_scipy(real, fake)


def test_moment_errors_and_batches_accumulate():
    real = torch.randn(4000, 2)
    fake = real * 2 + 1  # mean off by 1, std off by ~1
    metrics = distribution_metrics()
    for r, f in zip(real.chunk(4), fake.chunk(4)):
        metrics.update(r, f)
    out = metrics.compute()
    assert set(out) == {"val/w1", "val/ks", "val/mean_err", "val/std_err"}
    assert_close(out["val/mean_err"], (fake.mean(0) - real.mean(0)).abs().mean(), rtol=1e-5, atol=1e-6)
    assert_close(out["val/std_err"], (fake.std(0) - real.std(0)).abs().mean(), rtol=1e-5, atol=1e-6)
    same = Wasserstein1D()
    same.update(real, real.clone())
    assert same.compute() == 0


def test_shape_mismatch_is_refused():
    with pytest.raises(ValueError, match=r"needs \[n, d\] and \[m, d\]"):
        MeanError().update(torch.randn(4, 2), torch.randn(4, 3))
    StdError()  # constructible without arguments, as the CLI needs
