"""Mode counts: Gaussian mixtures, classes of digits and Stacked MNIST triples with the shipped classifier."""

import math

import torch
from scipy.stats import entropy
from torch.testing import assert_close

from gan_lightning.data.mixture import mixture_layout
from gan_lightning.data.stacked_mnist import stack_digits
from gan_lightning.metrics import ClassCoverage, MixtureModes, MNISTFeatures, StackedModes
from gan_lightning.metrics.modes import histogram_kl
from images import real_digits


def mixture_samples(layout: str, n: int, seed: int = 0, modes: list[int] | None = None) -> torch.Tensor:
    means, sigma = mixture_layout(layout)
    g = torch.Generator().manual_seed(seed)
    chosen = torch.tensor(modes)[torch.randint(len(modes), (n,), generator=g)] if modes else torch.randint(len(means), (n,), generator=g)
    return torch.tensor(means)[chosen] + sigma * torch.randn(n, 2, generator=g)


def test_real_mixture_samples_cover_every_mode_with_high_quality():
    for layout, k in [("ring8", 8), ("grid25", 25)]:
        means, sigma = mixture_layout(layout)
        metric = MixtureModes(torch.tensor(means), sigma)
        metric.update(mixture_samples(layout, 10000))
        out = metric.compute()
        assert out["modes"] == k
        # Within 3 sigma in 2-D: 1 - exp(-4.5) = 98.9% of a Gaussian's mass.
        assert 0.98 <= float(out["high_quality"]) <= 0.995
        assert float(out["mode_kl"]) < 0.01


def test_a_generator_collapsed_on_one_mode_covers_one_of_eight_with_kl_log8():
    means, sigma = mixture_layout("ring8")
    metric = MixtureModes(torch.tensor(means), sigma)
    metric.update(mixture_samples("ring8", 4000, modes=[3]))
    out = metric.compute()
    assert out["modes"] == 1
    assert_close(float(out["mode_kl"]), math.log(8), rtol=0, atol=1e-6)
    metric.reset()
    metric.update(mixture_samples("ring8", 4000, modes=[0, 1]) * 10)  # nowhere near a mode
    out = metric.compute()
    assert out["modes"] == 0 and out["high_quality"] == 0 and out["mode_kl"] == float("inf")


def test_class_histogram_kl_against_scipy():
    real = torch.nn.functional.one_hot(torch.tensor([0, 1, 2, 3, 3, 4, 5, 6, 7, 8, 9, 9]), 10).float()
    fake = torch.nn.functional.one_hot(torch.tensor([0, 0, 0, 1, 3, 3, 9]), 10).float() * 0.8 + 0.02
    metric = ClassCoverage(10)
    metric.update(real, real=True)
    metric.update(fake, real=False)
    out = metric.compute()
    p = fake.argmax(1).bincount(minlength=10).numpy()
    q = real.argmax(1).bincount(minlength=10).numpy()
    assert out["classes"] == 4
    assert_close(float(out["class_kl"]), float(entropy(p, q)), rtol=1e-6, atol=0)
    assert_close(float(out["confidence"]), 0.82, rtol=1e-6, atol=0)


def test_real_digits_cover_every_class_and_stacked_digits_nearly_all_1000_modes():
    images, labels = real_digits()  # held out from the classifier's training
    digits = torch.from_numpy(images).unsqueeze(1).float() / 127.5 - 1
    net = MNISTFeatures()
    features, probabilities = net.features_and_probabilities(digits)
    assert features.shape == (500, 128) and probabilities.shape == (500, 1, 10)
    accuracy = float((probabilities[:, 0].argmax(1) == torch.from_numpy(labels).long()).float().mean())
    assert accuracy >= 0.97
    classes = ClassCoverage(10)
    classes.update(probabilities, real=True)
    classes.update(probabilities, real=False)
    out = classes.compute()
    assert out["classes"] == 10 and float(out["class_kl"]) == 0.0 and float(out["confidence"]) > 0.95

    stacked, modes = stack_digits(torch.from_numpy(images).unsqueeze(1), torch.from_numpy(labels), 10000,
                                  torch.Generator().manual_seed(0))
    true_modes = len(modes.unique())
    true_kl = float(histogram_kl(modes.bincount(minlength=1000), torch.ones(1000)))
    assert true_modes >= 990  # what the triples really are (these 500 digits are not exactly balanced)
    metric = StackedModes()
    for batch in stacked.split(2000):
        metric.update(net.features_and_probabilities(batch.float() / 127.5 - 1)[1], real=False)
    out = metric.compute()
    assert true_modes - 10 <= out["modes"] <= 1000
    # 10,000 draws of 1,000 modes give KL ~ 999 / 20,000 = 0.05 by chance; misread digits add a little.
    assert true_kl - 0.01 <= float(out["mode_kl"]) <= true_kl + 0.05 and float(out["mode_kl"]) < 0.1


def test_stacked_modes_of_one_repeated_triple():
    probabilities = torch.nn.functional.one_hot(torch.tensor([[1, 2, 3]] * 50), 10).float()
    metric = StackedModes()
    metric.update(probabilities, real=False)
    out = metric.compute()
    assert out["modes"] == 1
    assert_close(float(out["mode_kl"]), math.log(1000), rtol=0, atol=1e-6)


def test_stacked_digit_kl_is_the_per_channel_part_of_mode_kl():
    # Channel 0 draws digit 1 half the time and 0, 2-9 evenly otherwise; channels 1 and 2 are uniform
    # and independent of it: all of mode_kl is per-channel imbalance.
    rest = [d for d in range(10) if d != 1]
    first = torch.tensor([1] * 9 + rest)  # half 1s
    triples = torch.cartesian_prod(first, torch.arange(10), torch.arange(10))  # every combination once
    metric = StackedModes()
    metric.update(torch.nn.functional.one_hot(triples, 10).float(), real=False)
    out = metric.compute()
    p = torch.tensor([0.5 / 9] * 9 + [0.5])
    expected = float((p * (p * 10).log()).sum())  # KL of channel 0 to uniform; 0 for the others
    assert_close(float(out["digit_kl"]), expected, rtol=0, atol=1e-5)
    assert_close(float(out["mode_kl"]), expected, rtol=0, atol=1e-5)
    # Channels 1 and 2 equal (perfectly dependent), each uniform: no per-channel part, KL log 10.
    pairs = torch.arange(1000).repeat(10)
    same = torch.stack([pairs // 100, (pairs // 10) % 10, (pairs // 10) % 10], dim=1)
    metric = StackedModes()
    metric.update(torch.nn.functional.one_hot(same, 10).float(), real=False)
    out = metric.compute()
    assert_close(float(out["digit_kl"]), 0.0, rtol=0, atol=1e-6)
    assert_close(float(out["mode_kl"]), math.log(10), rtol=0, atol=1e-6)
