import pytest
import torch
from torchvision import transforms
from torchvision.datasets import MNIST

from gan_lightning.data import MNISTDataModule
from gan_lightning.errors import ConfigError
from images import write_mnist


def test_reads_the_idx_files_without_network_and_batches_in_range(tmp_path):
    images, labels = write_mnist(tmp_path, n_train=300)
    dm = MNISTDataModule(data_dir=str(tmp_path), download=False, batch_size=16, batches_per_step=2, val_size=40)
    dm.prepare_data()
    dm.setup("fit")
    assert dm.train_images.shape == (260, 1, 28, 28) and dm.val_images.shape == (40, 1, 28, 28)
    batch = next(iter(dm.train_dataloader()))
    assert batch.shape == (32, 1, 28, 28) and batch.dtype == torch.uint8
    batch = dm.on_after_batch_transfer(batch, 0)
    assert batch.dtype == torch.float32 and batch.min() >= -1 and batch.max() <= 1
    assert batch.min() == -1 and batch.max() == 1  # black background, white strokes
    assert len(dm.train_dataloader()) == 260 // 32
    # The split is a seeded permutation: together the parts are the whole data set.
    together = torch.cat([dm.train_images, dm.val_images]).flatten(1)
    assert sorted(map(bytes, together.numpy())) == sorted(map(bytes, torch.from_numpy(images).flatten(1).numpy()))


def test_fast_path_gives_torchvisions_images_and_labels(tmp_path):
    write_mnist(tmp_path, n_train=100)
    per_item = MNIST(tmp_path, train=True, download=False,
                     transform=transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.5,), (0.5,))]))
    images, labels = MNISTDataModule(data_dir=str(tmp_path)).load()
    indices = [0, 5, 99, 42]
    fast = MNISTDataModule().on_after_batch_transfer(images[indices], 0)
    slow = torch.stack([per_item[i][0] for i in indices])
    torch.testing.assert_close(fast, slow, rtol=0, atol=1e-6)
    assert labels[indices].tolist() == [per_item[i][1] for i in indices]


def test_missing_files_name_the_directory_and_the_flag(tmp_path):
    dm = MNISTDataModule(data_dir=str(tmp_path / "empty"), download=False)
    dm.prepare_data()  # no download asked: nothing happens here
    with pytest.raises(ConfigError, match=r"no MNIST files under .*empty/MNIST/raw.*download true"):
        dm.setup("fit")


def test_too_little_data_for_one_batch(tmp_path):
    write_mnist(tmp_path, n_train=50)
    with pytest.raises(ConfigError, match="fewer than one training batch"):
        MNISTDataModule(data_dir=str(tmp_path), batch_size=64, val_size=10).setup("fit")
