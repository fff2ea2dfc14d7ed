"""Batching of in-memory tensors by indexing, so a batch is one gather, not B items and a collate."""

from torch import Tensor
from torch.utils.data import Dataset


class TensorRows(Dataset):
    """A dataset over the first dimension of ``data``; ``DataLoader`` fetches a batch in one index.

    Args:
        data: ``[N, *shape]`` tensor of samples (any dtype).
    """

    def __init__(self, data: Tensor):
        self.data = data

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, index: int) -> Tensor:
        return self.data[index]

    def __getitems__(self, indices: list[int]) -> Tensor:
        # DataLoader calls this with a whole batch of indices when the dataset defines it.
        return self.data[indices]


def keep_batch(batch: Tensor) -> Tensor:
    """``collate_fn`` for ``TensorRows``: the batch is already one tensor."""
    return batch
