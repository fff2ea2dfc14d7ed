"""Stacked MNIST: three independently drawn digits as the channels of one image, 1,000 modes.

The benchmark of Metz et al. 2017 ("Unrolled GANs"), VEEGAN and PacGAN for mode collapse: a
generator that covers the data makes every digit triple (000 to 999) about equally often.
"""

import torch
from torch import Tensor

from gan_lightning.data.mnist import MNISTDataModule
from gan_lightning.errors import ConfigError


def stack_digits(digits: Tensor, labels: Tensor, n: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """``n`` images uint8 ``[n, 3, 28, 28]`` whose channels are three random digits of ``digits [N, 1, 28, 28]``,
    and their modes ``[n]`` in [0, 1000): 100 x first digit + 10 x second + third.

    >>> images, modes = stack_digits(torch.zeros(4, 1, 28, 28, dtype=torch.uint8), torch.tensor([1, 2, 3, 4]), 5,
    ...                              torch.Generator().manual_seed(0))
    >>> images.shape, bool((modes >= 111).all() and (modes <= 444).all())
    (torch.Size([5, 3, 28, 28]), True)
    """
    picks = torch.randint(max(len(digits), 1), (n, 3), generator=generator)  # n = 0: nothing held out
    images = digits[picks].squeeze(2)  # (n, 3, 1, 28, 28) -> (n, 3, 28, 28)
    chosen = labels[picks].long()
    return images, chosen[:, 0] * 100 + chosen[:, 1] * 10 + chosen[:, 2]


class StackedMNISTDataModule(MNISTDataModule):
    """Stacked MNIST as ``[B, 3, 28, 28]`` in [-1, 1], built from the MNIST files of ``MNISTDataModule``.

    The digits are split first (``val_size`` held out, seeded, as ``MNISTDataModule`` splits
    them), then stacked within each part, so no held-out image shares a digit with training.

    Args:
        data_dir, download: as in ``MNISTDataModule`` (the same files, the same flag).
        train_size: stacked training images built once (in memory: 2.4 KB each).
        val_size: digits held out; as many held-out stacked images are built from them.
        batch_size, batches_per_step, num_workers, seed: as in ``MNISTDataModule``.
        labels: yield ``(images, modes)`` batches, the digit triple as one of 1,000 classes.
    """

    classes = 1000

    def __init__(self, data_dir: str = "data", download: bool = False, train_size: int = 60000,
                 batch_size: int = 64, batches_per_step: int = 1, val_size: int = 5000, num_workers: int = 0,
                 seed: int = 0, labels: bool = False):
        super().__init__(data_dir, download, batch_size, batches_per_step, val_size, num_workers, seed, labels)
        if train_size < batch_size * batches_per_step:
            raise ConfigError(f"StackedMNISTDataModule: train_size must hold one training batch of "
                              f"{batch_size * batches_per_step}, got {train_size}")
        self.train_size = train_size
        self.train_modes = self.val_modes = None

    @property
    def sample_shape(self) -> tuple[int, int, int]:
        return 3, 28, 28

    def setup(self, stage: str) -> None:
        if self.train_images is not None:
            return
        digits, labels = self.load()
        if len(digits) - self.val_size < 3 or 0 < self.val_size < 3:
            raise ConfigError(f"StackedMNISTDataModule: {len(digits)} digits with val_size={self.val_size} leave "
                              "fewer than 3 digits on a side; use a val_size of 0 or from 3 to "
                              f"{len(digits) - 3}")
        (train_digits, val_digits), (train_labels, val_labels) = self.split(digits, labels)
        generator = torch.Generator().manual_seed(self.seed + 3)
        self.train_images, self.train_modes = stack_digits(train_digits, train_labels, self.train_size, generator)
        self.val_images, self.val_modes = stack_digits(val_digits, val_labels, self.val_size, generator)
        self.train_labels, self.val_labels = self.train_modes, self.val_modes
