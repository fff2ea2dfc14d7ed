"""The shipped emoji classifier as a feature network, and the command that retrains it (emoji and MNIST)."""

import json

import pytest
import torch
import torch.nn.functional as F

from gan_lightning.errors import ConfigError
from gan_lightning.metrics import MNISTFeatures
from gan_lightning.metrics.emoji_classifier import WEIGHTS, EmojiFeatures, augment
from helpers import run_cli
from images import write_emoji_packages, write_real_mnist


def test_the_shipped_network_gives_features_and_category_probabilities_at_32_and_64_pixels():
    net = EmojiFeatures()
    images = torch.rand(5, 3, 64, 64) * 2 - 1
    features, probabilities = net.features_and_probabilities(images)
    assert features.shape == (5, 256) and probabilities.shape == (5, 1, 9)
    torch.testing.assert_close(probabilities.sum(-1), torch.ones(5, 1), rtol=1e-5, atol=1e-5)
    # 64 pixels are first resized to the 32 it was trained on, with an antialiased filter.
    small = F.interpolate(images, size=32, mode="bilinear", antialias=True, align_corners=False)
    torch.testing.assert_close(net(images), net(small), rtol=1e-5, atol=1e-5)
    assert net.digest != MNISTFeatures().digest and not net.training and not net.train().training
    facts = json.loads(WEIGHTS.with_suffix(".json").read_text())
    assert facts["held_out_accuracy"] >= 0.7 and facts["held_out_images"] == 800 and "val_size=800" in facts["split"]


def test_images_it_cannot_take_are_one_line():
    with pytest.raises(ConfigError, match="emoji feature network takes square color images .* 1x28x28"):
        EmojiFeatures().check_shape((1, 28, 28))


def test_augment_mirrors_and_shifts_each_image_within_three_pixels():
    x = torch.randn(6, 3, 32, 32)
    out = augment(x, torch.Generator().manual_seed(0))
    padded = F.pad(torch.cat([x, x.flip(3)]), (3, 3, 3, 3), mode="replicate")
    for i in range(6):
        candidates = [padded[j, :, dy:dy + 32, dx:dx + 32] for j in (i, i + 6) for dy in range(7) for dx in range(7)]
        assert any(torch.equal(out[i], c) for c in candidates)
    assert not torch.equal(out, x)


@pytest.mark.slow
def test_train_classifier_learns_emoji_categories_and_writes_weights_the_metrics_load(tmp_path):
    write_emoji_packages(tmp_path / "emoji", n=180)
    run_cli(["train_classifier", "--dataset", "emoji", "--data_dir", "emoji", "--val_size", "36", "--epochs", "20",
             "--output", "emoji.pt"], cwd=tmp_path)
    facts = json.loads((tmp_path / "emoji.json").read_text())
    # Each made-up category is one hue and shape: far above the 1/9 of chance on emoji it never saw.
    assert facts["held_out_accuracy"] >= 0.6 and facts["held_out_images"] == 36
    net = EmojiFeatures(str(tmp_path / "emoji.pt"))
    assert net.features_and_probabilities(torch.zeros(2, 3, 32, 32))[1].shape == (2, 1, 9)


@pytest.mark.slow
def test_train_classifier_still_retrains_the_mnist_classifier(tmp_path):
    write_real_mnist(tmp_path / "mnist")
    out = run_cli(["train_classifier", "--data_dir", "mnist", "--val_size", "100", "--epochs", "10",
                   "--output", "digits.pt"], cwd=tmp_path).stdout
    facts = json.loads((tmp_path / "digits.json").read_text())
    assert "held-out accuracy" in out and facts["held_out_images"] == 100 and facts["held_out_accuracy"] > 0.5
    probabilities = MNISTFeatures(str(tmp_path / "digits.pt")).features_and_probabilities(torch.zeros(1, 1, 28, 28))[1]
    assert probabilities.shape == (1, 1, 10)
