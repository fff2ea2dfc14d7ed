"""CIFAR-10 (Krizhevsky 2009), held in memory as one uint8 tensor: the data set GAN papers compare on."""

import pickle
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from gan_lightning.data.images import InMemoryImageDataModule
from gan_lightning.errors import ConfigError

FOLDER = "cifar-10-batches-py"
CLASS_NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def read_batch(path: Path) -> tuple[Tensor, Tensor]:
    """One of CIFAR-10's pickled batches: images uint8 ``[N, 3, 32, 32]``, labels int64 ``[N]``."""
    with open(path, "rb") as f:
        batch = pickle.load(f, encoding="latin1")
    data = np.asarray(batch["data"], dtype=np.uint8)
    if data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        raise ConfigError(f"CIFAR10DataModule: {path} holds data of shape {data.shape}, expected [N, 3072] "
                          "(CIFAR-10's python version)")
    return torch.from_numpy(data.reshape(-1, 3, 32, 32).copy()), torch.tensor(batch["labels"], dtype=torch.int64)


class CIFAR10DataModule(InMemoryImageDataModule):
    """CIFAR-10's 50,000 training images as ``[B, 3, 32, 32]`` in [-1, 1] (10 classes with ``labels``).

    Reads the python version's pickled batches under ``data_dir/cifar-10-batches-py`` (what
    torchvision's ``CIFAR10`` downloads and unpacks there); ``download: true`` fetches and checks the
    archive with torchvision in ``prepare_data`` only.

    Args:
        data_dir: folder that holds (or will hold) ``cifar-10-batches-py``.
        download: fetch the archive when the batches are missing (163 MB).
        split: ``train`` (the 5 training batches, 50,000 images) or ``test`` (the test batch, 10,000).
        labels: yield ``(images, classes)`` batches for class-conditional models.
        **kwargs: batching arguments of ``InMemoryImageDataModule`` (``batch_size``, ``val_size``, ...).
    """

    classes = 10

    def __init__(self, data_dir: str = "data", download: bool = False, split: str = "train", batch_size: int = 64,
                 batches_per_step: int = 1, val_size: int = 5000, num_workers: int = 0, seed: int = 0,
                 labels: bool = False, mirror: bool = False):
        if split not in ("train", "test"):
            raise ConfigError(f"CIFAR10DataModule: split must be 'train' or 'test', got {split!r}")
        super().__init__(batch_size, batches_per_step, val_size, num_workers, seed, labels, mirror)
        self.data_dir, self.download, self.subset = Path(data_dir), download, split  # `split` is the base's method
        self.class_names = list(CLASS_NAMES)

    def files(self) -> list[Path]:
        names = [f"data_batch_{i}" for i in range(1, 6)] if self.subset == "train" else ["test_batch"]
        return [self.data_dir / FOLDER / name for name in names]

    def prepare_data(self) -> None:
        if self.download and not all(f.is_file() for f in self.files()):
            from torchvision.datasets import CIFAR10

            CIFAR10(str(self.data_dir), train=self.subset == "train", download=True)

    def check_data(self) -> None:
        if not self.download:
            self.missing_files()

    def missing_files(self) -> None:
        missing = [f.name for f in self.files() if not f.is_file()]
        if missing:
            raise ConfigError(f"CIFAR10DataModule: no {', '.join(missing)} under {self.data_dir / FOLDER}; set "
                              "--data.init_args.download true to fetch CIFAR-10, or --data.init_args.data_dir to the "
                              f"folder holding {FOLDER}")

    def load(self) -> tuple[Tensor, Tensor]:
        """The split's images uint8 ``[N, 3, 32, 32]`` and labels int64 ``[N]``, read once."""
        if getattr(self, "_loaded", None) is None:
            self.missing_files()
            images, labels = zip(*(read_batch(f) for f in self.files()))
            self._loaded = torch.cat(images), torch.cat(labels)
        return self._loaded

    @property
    def sample_shape(self) -> tuple[int, int, int]:
        return 3, 32, 32

    def load_images(self) -> Tensor:
        return self.load()[0]

    def load_labels(self) -> Tensor:
        return self.load()[1]

    def state_dict(self) -> dict:
        return {**super().state_dict(), "class_names": self.class_names}
