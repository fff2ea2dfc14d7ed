"""Batching of in-memory tensors by indexing, so a batch is one gather, not B items and a collate."""

from torch import Tensor
from torch.utils.data import DataLoader, Dataset


class TensorRows(Dataset):
    """A dataset over the first dimension of ``data``; ``DataLoader`` fetches a batch in one index.

    Args:
        data: ``[N, *shape]`` tensor of samples (any dtype).
        labels: ``[N]`` int64 class labels, or ``None``: batches are then ``(data, labels)`` pairs.
    """

    def __init__(self, data: Tensor, labels: Tensor | None = None):
        self.data, self.labels = data, labels

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, index: int):
        return self.data[index] if self.labels is None else (self.data[index], self.labels[index])

    def __getitems__(self, indices: list[int]):
        # DataLoader calls this with a whole batch of indices when the dataset defines it.
        return self.data[indices] if self.labels is None else (self.data[indices], self.labels[indices])


def already_collated(batch):
    """``collate_fn`` for ``TensorRows``: the batch is already one tensor (or an (images, labels) pair)."""
    return batch


class ResumableLoader(DataLoader):
    """A DataLoader that a checkpoint can stop and restart in the middle of an epoch.

    Its ``state_dict`` (saved by Lightning with every checkpoint) holds the loader generator's
    state at the start of the epoch and how many batches the training loop has taken from it;
    after ``load_state_dict`` the next epoch replays the same order and skips those batches
    (in-memory data: a skipped batch costs one gather).
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._epoch_start_state, self._dataset_epoch, self._served, self._resume = None, None, 0, None

    def __iter__(self):
        skip = 0
        if self._resume is not None:
            if self.generator is not None and self._resume["generator"] is not None:
                self.generator.set_state(self._resume["generator"])
            if self._resume.get("dataset_epoch") is not None:
                self.dataset.epoch = self._resume["dataset_epoch"]  # a stream that counts its epochs
            skip, self._resume = self._resume["served"], None
        self._epoch_start_state = self.generator.get_state() if self.generator is not None else None
        self._dataset_epoch = getattr(self.dataset, "epoch", None)
        self._served = skip
        for i, batch in enumerate(super().__iter__()):
            if i >= skip:
                self._served += 1
                yield batch

    def state_dict(self) -> dict:
        return {"generator": self._epoch_start_state, "served": self._served,
                "dataset_epoch": self._dataset_epoch}

    def load_state_dict(self, state_dict: dict) -> None:
        self._resume = state_dict
