"""The mode-collapse benchmark data: Gaussian mixtures (ring, grid, any means) and Stacked MNIST."""

import math

import pytest
import torch
from torch.testing import assert_close

from gan_lightning.data import GaussianMixtureDataModule, StackedMNISTDataModule
from gan_lightning.errors import ConfigError
from images import write_mnist


@pytest.mark.parametrize("layout, k, radius_or_corner, sigma", [("ring8", 8, 2.0, 0.02), ("grid25", 25, 4.0, 0.05)])
def test_named_layouts_have_their_papers_modes_and_spread(layout, k, radius_or_corner, sigma):
    data = GaussianMixtureDataModule(layout=layout, batch_size=64, batches_per_step=2, epoch_length=3)
    assert data.means.shape == (k, 2) and data.mode_sigma == sigma
    if layout == "ring8":
        assert_close(data.means.norm(dim=1), torch.full((8,), 2.0))
    else:
        assert set(data.means.flatten().tolist()) == {-4.0, -2.0, 0.0, 2.0, 4.0}
    x = data.sample(20000, torch.Generator().manual_seed(0))
    distance, nearest = torch.cdist(x, data.means).min(dim=1)
    counts = torch.bincount(nearest, minlength=k).float()
    assert counts.min() > 0.8 * 20000 / k and counts.max() < 1.2 * 20000 / k  # equally likely modes
    offsets = x - data.means[nearest]
    assert_close(float(offsets.std()), sigma, rtol=0.03, atol=0)  # each mode has the stated sigma
    batches = list(data.train_dataloader())
    assert len(batches) == 3 and batches[0].shape == (128, 2)
    assert data.reference("val").shape == (2500, 2)


def test_any_list_of_means_and_bad_means_stop_with_one_line():
    data = GaussianMixtureDataModule(means=[[0, 0, 0], [5, 5, 5]], sigma=0.1)
    assert data.dim == 3 and data.sample(10).shape == (10, 3)
    assert_close(data.density(torch.zeros(1, 3)), torch.tensor([0.5 / (2 * math.pi * 0.01) ** 1.5]), rtol=1e-5, atol=0)
    with pytest.raises(ConfigError, match="means must be a non-empty list"):
        GaussianMixtureDataModule(means=[1.0, 2.0])
    with pytest.raises(ConfigError, match="layout must be 'ring8' or 'grid25', got 'ring9'"):
        GaussianMixtureDataModule(layout="ring9")
    with pytest.raises(ConfigError, match="sigma must be > 0, got 0"):
        GaussianMixtureDataModule(sigma=0)


def test_stacked_mnist_stacks_three_digits_from_one_side_of_the_split(tmp_path):
    images, labels = write_mnist(tmp_path, n_train=300)
    data = StackedMNISTDataModule(str(tmp_path), train_size=1000, val_size=60, batch_size=16)
    data.setup("fit")
    assert data.train_images.shape == (1000, 3, 28, 28) and data.val_images.shape == (60, 3, 28, 28)
    assert data.train_images.dtype == torch.uint8
    # Every channel is one MNIST digit, and its label agrees with the stored mode.
    by_bytes = {bytes(image.tobytes()): int(label) for image, label in zip(images, labels)}
    for image, mode in zip(data.train_images[:50], data.train_modes[:50]):
        digits = [by_bytes[bytes(channel.numpy().tobytes())] for channel in image]
        assert digits[0] * 100 + digits[1] * 10 + digits[2] == int(mode)
    # No held-out image shares a digit with a training image (but for digits drawn twice alike by the font).
    train_digits = {bytes(c.numpy().tobytes()) for c in data.train_images.flatten(0, 1)}
    val_digits = {bytes(c.numpy().tobytes()) for c in data.val_images.flatten(0, 1)}
    source = [bytes(image.tobytes()) for image in images]
    assert all(source.count(shared) > 1 for shared in train_digits & val_digits)
    assert len(train_digits & val_digits) < 0.1 * len(val_digits)
    assert len(data.train_modes.unique()) > 500  # many of the 1,000 modes in 1,000 images
    batch = data.on_after_batch_transfer(next(iter(data.train_dataloader())), 0)
    assert batch.shape == (16, 3, 28, 28) and batch.min() >= -1 and batch.max() <= 1
    assert data.reference("val").shape == (60, 3, 28, 28)


def test_stacked_mnist_uses_the_mnist_files_and_flag(tmp_path):
    with pytest.raises(ConfigError, match="no MNIST files under .*set --data.init_args.download true"):
        StackedMNISTDataModule(str(tmp_path / "empty"), val_size=10).setup("fit")
