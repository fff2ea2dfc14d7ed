"""Precision/recall and density/coverage against a brute-force computation, and their limits."""

import numpy as np
import pytest
import torch
from torch import Tensor
from torch.testing import assert_close

from gan_lightning.metrics import DensityCoverage, PrecisionRecall
from gan_lightning.metrics.manifold import density_coverage, precision_recall, precision_recall_equal_counts


def brute_force(real: np.ndarray, fake: np.ndarray, k: int) -> dict[str, float]:
    """The four metrics by their papers' definitions, one point at a time."""
    def radii(x):
        return np.array([np.sort(np.linalg.norm(x - p, axis=1))[k] for p in x])  # index 0 is the point itself

    r_real, r_fake = radii(real), radii(fake)
    inside = lambda p, centres, r: np.linalg.norm(centres - p, axis=1) <= r
    precision = np.mean([inside(f, real, r_real).any() for f in fake])
    recall = np.mean([inside(x, fake, r_fake).any() for x in real])
    density = np.mean([inside(f, real, r_real).sum() for f in fake]) / k
    coverage = np.mean([np.linalg.norm(fake - x, axis=1).min() <= r for x, r in zip(real, r_real)])
    return {"precision": precision, "recall": recall, "density": density, "coverage": coverage}


@pytest.mark.parametrize("k", [1, 3, 5])
def test_manifold_metrics_equal_a_brute_force_computation(k):
    rng = np.random.default_rng(k)
    real = rng.normal(size=(80, 4))
    fake = rng.normal(loc=0.7, scale=1.3, size=(60, 4))
    expected = brute_force(real, fake, k)
    precision, recall = precision_recall(torch.from_numpy(real), torch.from_numpy(fake), k=k)
    density, coverage = density_coverage(torch.from_numpy(real), torch.from_numpy(fake), k=k)
    got = {"precision": precision, "recall": recall, "density": density, "coverage": coverage}
    for name, value in got.items():
        assert_close(float(value), float(expected[name]), rtol=0, atol=1e-12, msg=name)
    assert 0 < expected["precision"] < 1 and 0 < expected["coverage"] < 1  # the case is not degenerate


def test_identical_sets_score_one_and_disjoint_sets_zero():
    x = torch.randn(200, 8, generator=torch.Generator().manual_seed(0))
    pr, dc = PrecisionRecall(k=3), DensityCoverage(k=5)
    for metric in (pr, dc):
        metric.update(x[:120], real=True)
        metric.update(x[120:], real=True)  # batches add up
        metric.update(x, real=False)
    same = {**pr.compute(), **dc.compute()}
    assert same["precision"] == same["recall"] == same["coverage"] == 1.0
    assert_close(float(same["density"]), float(brute_force(x.numpy(), x.numpy(), 5)["density"]), rtol=0, atol=1e-6)
    pr.reset(), dc.reset()
    for metric in (pr, dc):
        metric.update(x, real=True)
        metric.update(x + 100.0, real=False)
    far = {**pr.compute(), **dc.compute()}
    assert far == {"precision": 0.0, "recall": 0.0, "density": 0.0, "coverage": 0.0}


def test_k_must_be_smaller_than_the_sample_count():
    with pytest.raises(ValueError, match="need 1 <= k < number of samples, got k=3 and 3 samples"):
        precision_recall(torch.zeros(3, 2), torch.zeros(10, 2), k=3)


@pytest.mark.parametrize("n_real, n_fake", [(40, 130), (130, 40)])
def test_equal_counts_average_the_disjoint_pieces_of_the_larger_set(n_real, n_fake):
    rng = np.random.default_rng(n_real)
    real, fake = rng.normal(size=(n_real, 3)), rng.normal(loc=0.3, size=(n_fake, 3))
    pieces = [(real[i:i + 40], fake) if n_real > n_fake else (real, fake[i:i + 40]) for i in (0, 40, 80)]  # 10 left out
    expected = [brute_force(r, f, 3) for r, f in pieces]
    precision, recall = precision_recall_equal_counts(torch.from_numpy(real), torch.from_numpy(fake), k=3)
    assert_close(float(precision), np.mean([e["precision"] for e in expected]), rtol=0, atol=1e-12)
    assert_close(float(recall), np.mean([e["recall"] for e in expected]), rtol=0, atol=1e-12)


def twin_samples(n_real: int, n_fake: int, seed: int = 0) -> tuple[Tensor, Tensor]:
    """Generated samples that come in near-identical pairs (an emoji in two vendors' drawings) and reals drawn
    fresh from the same distribution: the case where recall over unequal counts misleads."""
    g = torch.Generator().manual_seed(seed)
    base = torch.randn(n_fake // 2, 8, generator=g)
    fake = torch.cat([base, base + 0.05 * torch.randn(base.shape, generator=g)])
    return torch.randn(n_real, 8, generator=g), fake[torch.randperm(len(fake), generator=g)]


def test_recall_at_equal_counts_does_not_fall_as_more_samples_are_drawn():
    real, fake = twin_samples(300, 3000)
    _, recall_300 = precision_recall(real, fake[:300])
    metric = {counts: PrecisionRecall(k=3, equal_counts=counts) for counts in (True, False)}
    for m in metric.values():
        m.update(real, real=True)
        m.update(fake, real=False)
    equal, every = metric[True].compute()["recall"], metric[False].compute()["recall"]
    assert abs(float(equal) - float(recall_300)) < 0.03, (float(equal), float(recall_300))
    assert float(every) < float(recall_300) - 0.1  # the trap the equal counts avoid: 3,000 twins shrink every ball
