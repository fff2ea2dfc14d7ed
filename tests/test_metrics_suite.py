"""SampleMetrics: which metrics fit which data, their values at the limits, FID against scipy, the cache."""

import numpy as np
import pytest
import torch
from scipy import linalg
from torch.testing import assert_close

from gan_lightning.data import GaussianMixtureDataModule, MNISTDataModule
from gan_lightning.errors import ConfigError
from gan_lightning.metrics import SampleMetrics
from helpers import FixedReference, ReplayGenerator
from images import SmallFeatures, write_real_mnist


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    root = tmp_path_factory.mktemp("real-mnist")
    write_real_mnist(root)
    return MNISTDataModule(str(root), val_size=200, batch_size=16)


def numpy_fid(real: np.ndarray, fake: np.ndarray) -> float:
    """FID by its definition (Heusel et al. 2017), in float64 with scipy's matrix square root."""
    mu1, mu2 = real.mean(0), fake.mean(0)
    s1, s2 = np.cov(real, rowvar=False), np.cov(fake, rowvar=False)
    covmean = linalg.sqrtm(s1 @ s2).real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1 + s2 - 2 * covmean))


def test_identical_digits_give_fid_zero_and_full_precision_recall_coverage_classes(digits, tmp_path):
    metrics = SampleMetrics(feature="mnist", kid=True, kid_subset_size=50)
    metrics.setup(digits, tmp_path)
    assert metrics.protocol["reals"] == 200 and metrics.protocol["fakes"] == 200  # default: as many as the reference
    values = metrics.evaluate(ReplayGenerator(digits.reference("val")), seed=0)
    assert set(values) == {"fid", "kid", "precision", "recall", "density", "coverage", "classes", "min_class_share",
                           "class_kl", "confidence", "is", "is_std"}
    # The domain Inception Score on the shipped classifier: real digits of every class score well above 1, at most 10
    # (7.2 here: 10 splits of 20 digits, each split's class histogram uneven).
    assert 6 < float(values["is"]) <= 10
    # KID is an unbiased estimate from random subsets: around 0 for identical sets, not exactly 0.
    assert abs(float(values["fid"])) < 1e-2 and abs(float(values["kid"])) < 0.05
    assert values["precision"] == values["recall"] == values["coverage"] == 1.0
    assert values["classes"] == 10 and values["class_kl"] == 0.0


def test_fid_of_other_digits_equals_the_definition_and_one_class_is_seen(digits, tmp_path):
    metrics = SampleMetrics(feature="mnist", num_samples=150)
    metrics.setup(digits, tmp_path)
    train = digits.reference("train")
    fakes = train[:150]
    values = metrics.evaluate(ReplayGenerator(fakes), seed=0)
    expected = numpy_fid(metrics.reference["features"].double().numpy(), metrics.describe(fakes)["features"].double().numpy())
    assert_close(float(values["fid"]), expected, rtol=1e-3, atol=1e-3)
    assert 0 < expected  # other digits of the same distribution: near, not equal
    predicted = metrics.describe(train)["probabilities"][:, 0].argmax(1)
    sevens = train[predicted == 7][:40]
    values = SampleMetrics(feature="mnist", num_samples=len(sevens), metrics=["classes", "class_kl", "fid"])
    values.setup(digits, tmp_path)
    out = values.evaluate(ReplayGenerator(sevens), seed=0)
    assert set(out) == {"classes", "class_kl", "fid"}
    assert out["classes"] == 1 and float(out["class_kl"]) > 1.5  # about log 10, the data being nearly balanced


def test_reference_cache_is_reused_and_rebuilt_when_the_count_or_feature_network_changes(digits, tmp_path):
    first = SampleMetrics(feature="mnist")
    first.setup(digits, tmp_path)
    again = SampleMetrics(feature="mnist")
    again.setup(digits, tmp_path)
    assert not first.reference_reused and again.reference_reused and again.cache_path == first.cache_path
    assert_close(again.reference["features"], first.reference["features"], rtol=0, atol=0)
    fewer = SampleMetrics(feature="mnist", num_reference=100)
    fewer.setup(digits, tmp_path)
    other_net = SampleMetrics(feature=SmallFeatures())
    other_net.setup(digits, tmp_path)
    assert not fewer.reference_reused and not other_net.reference_reused
    assert len({first.cache_path, fewer.cache_path, other_net.cache_path}) == 3
    assert fewer.reference["features"].shape == (100, 128) and other_net.reference["features"].shape == (200, 64)


def test_precision_recall_counts_other_than_equal_or_all_are_refused():
    with pytest.raises(ConfigError, match="precision_recall_counts must be 'equal' or 'all', got 'some'"):
        SampleMetrics(precision_recall_counts="some")


def test_the_mnist_feature_network_refuses_images_of_another_shape(tmp_path):
    with pytest.raises(ConfigError, match="takes 28x28 digit images .* but this data is 3x64x64; use feature 2048"):
        SampleMetrics(feature="mnist").setup(FixedReference(torch.zeros(10, 3, 64, 64)), tmp_path)


def test_mixture_metrics_of_the_data_itself():
    data = GaussianMixtureDataModule(layout="grid25", val_size=2500)
    metrics = SampleMetrics()
    metrics.setup(data, None)
    values = metrics.evaluate(ReplayGenerator(data.reference("val")), seed=0)
    assert values["modes"] == 25 and float(values["high_quality"]) >= 0.98
    assert float(values["w1"]) == 0.0 and values["precision"] == values["recall"] == 1.0
    other = data.sample(2500, torch.Generator().manual_seed(5))
    values = metrics.evaluate(ReplayGenerator(other), seed=0)
    assert values["modes"] == 25 and 0 < float(values["w1"]) < 0.1 and 0.9 < float(values["precision"]) <= 1


def test_only_the_neighbour_metrics_asked_for_are_computed():
    data = GaussianMixtureDataModule(layout="ring8", val_size=500)
    for wanted, built, reported in [(["w1", "modes"], {"distribution", "modes"}, {"w1", "modes"}),
                                    (["w1", "recall"], {"distribution", "modes", "precision_recall"}, {"w1", "recall"}),
                                    (None, {"distribution", "modes", "precision_recall", "density_coverage"}, None)]:
        metrics = SampleMetrics(metrics=wanted)
        metrics.setup(data, None)
        assert set(metrics.metrics) == built  # the k-NN searches are not run for nobody
        values = metrics.evaluate(ReplayGenerator(data.reference("val")), seed=0)
        assert reported is None and {"precision", "coverage"} <= set(values) or set(values) == reported


def test_fid_with_a_small_feature_net_behaves_as_a_distance(tmp_path):
    from images import digit_images

    as_images = lambda a: torch.from_numpy(a).unsqueeze(1).float() / 127.5 - 1
    real, other = as_images(digit_images(400, seed=0)[0]), as_images(digit_images(400, seed=5)[0])
    g = torch.Generator().manual_seed(0)
    candidates = {"same": real, "other": other, "shifted": torch.roll(other, shifts=(6, 6), dims=(2, 3)),
                  "noisy": (other + 0.5 * torch.randn(other.shape, generator=g)).clamp(-1, 1),
                  "noise": torch.rand(other.shape, generator=g) * 2 - 1}

    metrics = SampleMetrics(feature=SmallFeatures(), metrics=["fid"])
    metrics.setup(FixedReference(real), tmp_path)
    fid = {name: float(metrics.evaluate(ReplayGenerator(x), seed=0)["fid"]) for name, x in candidates.items()}
    assert abs(fid["same"]) < 1e-3
    assert fid["other"] < fid["shifted"] and fid["other"] < fid["noisy"]
    assert max(fid["shifted"], fid["noisy"]) < fid["noise"], fid


def test_validation_writes_nothing_into_the_working_directory_of_a_trainer_without_a_folder(tmp_path, monkeypatch):
    import lightning as L

    from gan_lightning.data import GaussianDataModule
    from gan_lightning.models import NSGAN
    from gan_lightning.networks import MLPDiscriminator, MLPGenerator

    monkeypatch.chdir(tmp_path)
    model = NSGAN(MLPGenerator(latent_dim=2), MLPDiscriminator())
    trainer = L.Trainer(max_epochs=1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False)
    trainer.fit(model, GaussianDataModule(epoch_length=5, val_size=100))
    assert "val/w1" in trainer.callback_metrics and model.sample_metrics.cache_path is None
    assert list(tmp_path.iterdir()) == []


def test_the_domain_inception_score_is_one_for_a_single_digit_and_is_torchmetrics_formula(digits, tmp_path):
    """IS = exp(E_x KL(p(y|x) || p(y))): samples that are all one digit score 1 however confident the classifier;
    the value equals the formula computed from the classifier's probabilities, split in the order drawn."""
    metrics = SampleMetrics(feature="mnist", num_samples=200, metrics=["is", "is_std"])
    metrics.setup(digits, tmp_path)
    reals = digits.reference("val")
    ones = reals[metrics.reference["probabilities"][:, 0].argmax(1) == 1]
    single = metrics.evaluate(ReplayGenerator(ones[torch.arange(200) % len(ones)]), seed=0)
    assert abs(float(single["is"]) - 1) < 0.1, single
    values = metrics.evaluate(ReplayGenerator(reals), seed=0)
    p = metrics.reference["probabilities"][:, 0].double()
    chunks = [c for c in p.chunk(10)]  # torchmetrics shuffles first; the mean over splits of equal size is close
    expected = torch.stack([(c * (c.clamp_min(1e-12).log() - c.mean(0, keepdim=True).log())).sum(1).mean().exp()
                            for c in chunks]).mean()
    assert abs(float(values["is"]) - float(expected)) < 0.5 and set(values) == {"is", "is_std"}
