"""MNIST through torchvision, held in memory as one uint8 tensor."""

from pathlib import Path

from torch import Tensor
from torchvision.datasets import MNIST

from gan_lightning.data.images import InMemoryImageDataModule
from gan_lightning.errors import ConfigError


class MNISTDataModule(InMemoryImageDataModule):
    """MNIST's 60,000 training digits as ``[B, 1, 28, 28]`` in [-1, 1].

    Reads torchvision's files under ``data_dir/MNIST/raw`` (the IDX files); downloads them in
    ``prepare_data`` only when ``download`` is true.

    Args:
        data_dir: folder that holds (or will hold) ``MNIST/raw``.
        download: fetch the files when they are missing.
        labels: yield ``(images, digits)`` batches (10 classes) for class-conditional models.
        **kwargs: batching arguments of ``InMemoryImageDataModule`` (``batch_size``, ``val_size``, ...).
    """

    classes = 10

    def __init__(self, data_dir: str = "data", download: bool = False, batch_size: int = 64,
                 batches_per_step: int = 1, val_size: int = 5000, num_workers: int = 0, seed: int = 0,
                 labels: bool = False):
        super().__init__(batch_size, batches_per_step, val_size, num_workers, seed, labels)
        self.data_dir, self.download = Path(data_dir), download

    def prepare_data(self) -> None:
        if self.download:
            MNIST(self.data_dir, train=True, download=True)

    def check_data(self) -> None:
        raw = self.data_dir / "MNIST" / "raw"
        if not self.download and not all((raw / f).is_file() for f in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte")):
            self.load()  # raises the line that says where the files were looked for

    @property
    def sample_shape(self) -> tuple[int, int, int]:
        return 1, 28, 28

    def load_images(self) -> Tensor:
        return self.load()[0]

    def load_labels(self) -> Tensor:
        return self.load()[1]

    def load(self) -> tuple[Tensor, Tensor]:
        """Training images uint8 ``[60000, 1, 28, 28]`` and labels int64 ``[60000]``."""
        try:
            mnist = MNIST(self.data_dir, train=True, download=False)
        except RuntimeError as e:
            raise ConfigError(f"MNISTDataModule: no MNIST files under {self.data_dir / 'MNIST' / 'raw'} "
                              "(train-images-idx3-ubyte, train-labels-idx1-ubyte); set --data.init_args.download true "
                              "to fetch them, or --data.init_args.data_dir to where they are") from e
        return mnist.data.unsqueeze(1).contiguous(), mnist.targets
