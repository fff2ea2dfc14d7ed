"""Image datasets held in memory as one uint8 tensor and batched by indexing.

Batches leave the data loader as uint8 ``[B, C, H, W]`` (4x less to copy to the GPU than
float32) and become float32 in [-1, 1] after the transfer, on the device. With ``labels`` a batch
is a pair ``(images, labels)``, labels int64 ``[B]`` in ``[0, num_classes)``.
"""

import torch
from lightning.pytorch import LightningDataModule
from torch import Tensor
from torch.utils.data import DataLoader

from gan_lightning.data.batching import ResumableLoader, TensorRows, already_collated
from gan_lightning.errors import ConfigError


def to_unit_range(images: Tensor) -> Tensor:
    """uint8 ``[B, C, H, W]`` in [0, 255] -> float32 in [-1, 1]."""
    return images.float().div_(127.5).sub_(1.0)


class InMemoryImageDataModule(LightningDataModule):
    """Shared batching of image data modules; a subclass implements ``load_images``.

    Args:
        batch_size: images per discriminator update.
        batches_per_step: discriminator updates per training step (set from ``n_critic`` by the CLI).
        val_size: images held out for validation (FID's real statistics).
        num_workers: data loader workers; indexing an in-memory tensor rarely needs any.
        seed: seed of the train/validation split.
        labels: yield ``(images, labels)`` batches, for class-conditional models (the subclass
            says what its classes are: ``num_classes``, ``load_labels``).
        mirror: train on every training image and its mirror image (StyleGAN's ``--mirror``): twice the
            data for a small set whose images may face either way; held-out images are not mirrored.
    """

    #: How many classes a subclass's labels have (a subclass with labels sets it).
    classes: int | None = None

    def __init__(self, batch_size: int = 64, batches_per_step: int = 1, val_size: int = 5000,
                 num_workers: int = 0, seed: int = 0, labels: bool = False, mirror: bool = False):
        super().__init__()
        name = type(self).__name__
        for key, value in [("batch_size", batch_size), ("batches_per_step", batches_per_step)]:
            if value < 1:
                raise ConfigError(f"{name}: {key} must be >= 1, got {value}")
        if val_size < 0 or num_workers < 0:
            raise ConfigError(f"{name}: val_size and num_workers must be >= 0, got {val_size}, {num_workers}")
        self.save_hyperparameters()  # with the subclass's arguments: `evaluate` rebuilds the data from a checkpoint
        self.batch_size, self.batches_per_step = batch_size, batches_per_step
        self.val_size, self.num_workers, self.seed = val_size, num_workers, seed
        self.labels, self.mirror = labels, mirror
        self.train_images = self.val_images = self.train_labels = self.val_labels = None
        self.loader_generator = torch.Generator().manual_seed(seed + 1)

    @property
    def num_classes(self) -> int | None:
        """Classes of the labels in the batches; ``None`` without labels."""
        return self.classes if self.labels else None

    @property
    def sample_shape(self) -> tuple[int, int, int]:
        """``(C, H, W)`` of one image, known without reading the data (a subclass says)."""
        raise NotImplementedError

    def example_batch(self, n: int) -> tuple[Tensor, Tensor | None]:
        """``n`` mid-grey images ``[n, C, H, W]`` float32 in [-1, 1] with labels ``[n]`` (``None`` without), shaped as
        the training step sees the data, without reading it: what the CLI's pre-flight runs the networks on."""
        labels = torch.arange(n) % self.num_classes if self.num_classes else None
        return torch.zeros(n, *self.sample_shape), labels

    def load_images(self) -> Tensor:
        """All images as uint8 ``[N, C, H, W]``."""
        raise NotImplementedError

    def load_labels(self) -> Tensor:
        """The class of each image of ``load_images``, int64 ``[N]`` (subclasses with labels)."""
        raise NotImplementedError

    def check_data(self) -> None:
        """Stops with one line when the data is missing or too small; the CLI calls it before the trainer starts."""

    def check_enough_images(self, count: int) -> None:
        step = self.batch_size * self.batches_per_step
        if count - self.val_size < step:
            per_step = f" ({self.batch_size} x {self.batches_per_step} critic steps)" if self.batches_per_step > 1 else ""
            raise ConfigError(f"{type(self).__name__}: {count} images leave {max(count - self.val_size, 0)} for "
                              f"training after holding out val_size={self.val_size}, fewer than one training batch of "
                              f"{step}{per_step}; lower --data.init_args.batch_size or --data.init_args.val_size, "
                              f"or add images")

    def setup(self, stage: str) -> None:
        if self.train_images is not None:
            return
        images = self.load_images()
        self.check_enough_images(len(images))
        if self.labels:
            (self.train_images, self.val_images), (self.train_labels, self.val_labels) = \
                self.split(images, self.load_labels())
        else:
            (self.train_images, self.val_images), = self.split(images)

    def split(self, *tensors: Tensor) -> list[tuple[Tensor, Tensor]]:
        """(training part, held-out ``val_size`` part) of each of ``tensors`` (``[N, ...]``), by one seeded order."""
        order = torch.randperm(len(tensors[0]), generator=torch.Generator().manual_seed(self.seed))
        return [(t[order[self.val_size:]], t[order[:self.val_size]]) for t in tensors]

    def reference(self, split: str) -> Tensor:
        """Real images of ``split`` (``val``: held out, or ``train``) as float ``[N, C, H, W]`` in [-1, 1]."""
        self.setup("validate")
        if split not in ("val", "train"):
            raise ConfigError(f"{type(self).__name__}: reference split must be 'val' or 'train', got {split!r}")
        return to_unit_range(self.val_images if split == "val" else self.training_set()[0])

    def reference_labels(self, split: str) -> Tensor | None:
        """The classes ``[N]`` of ``reference(split)``'s images, or ``None`` without labels."""
        if not self.labels:
            return None
        self.setup("validate")
        return self.val_labels if split == "val" else self.training_set()[1]

    def training_set(self) -> tuple[Tensor, Tensor | None]:
        """The images ``[N, C, H, W]`` uint8 training draws from, and their labels ``[N]`` (``None`` without);
        with ``mirror``, each training image and then each one's mirror image."""
        images, labels = self.train_images, self.train_labels if self.labels else None
        if self.mirror:
            images = torch.cat([images, images.flip(-1)])
            labels = None if labels is None else torch.cat([labels, labels])
        return images, labels

    def loader(self, images: Tensor, batch_size: int, train: bool, labels: Tensor | None = None) -> DataLoader:
        # The loader's own generator shuffles: the order is saved with checkpoints (state_dict) and
        # the global random state, which training draws noise from, is never touched by the data.
        loader = ResumableLoader if train else DataLoader
        return loader(TensorRows(images, labels), batch_size=batch_size, shuffle=train, drop_last=train,
                          collate_fn=already_collated, num_workers=self.num_workers,
                          persistent_workers=self.num_workers > 0, generator=self.loader_generator)

    def state_dict(self) -> dict:
        return {"loader_generator": self.loader_generator.get_state()}

    def load_state_dict(self, state_dict: dict) -> None:
        self.loader_generator.set_state(state_dict["loader_generator"])

    def train_dataloader(self) -> DataLoader:
        images, labels = self.training_set()
        return self.loader(images, self.batch_size * self.batches_per_step, train=True, labels=labels)

    def val_dataloader(self) -> DataLoader:
        return self.loader(self.val_images, self.batch_size, train=False)

    def on_after_batch_transfer(self, batch, dataloader_idx: int):
        if isinstance(batch, (tuple, list)):
            return to_unit_range(batch[0]) if batch[0].dtype == torch.uint8 else batch[0], batch[1]
        return to_unit_range(batch) if batch.dtype == torch.uint8 else batch
