"""Gaussian data in one or many dimensions, generated a whole batch at a time."""

import inspect
import math
from typing import Callable

import torch
from lightning.pytorch import LightningDataModule
from torch import Tensor
from torch.utils.data import DataLoader, IterableDataset

from gan_lightning.data.batching import ResumableLoader, TensorRows, already_collated
from gan_lightning.errors import ConfigError

VAL_BATCH = 16_384  # rows per validation batch


def _per_dimension(name: str, value: float | list[float], dim: int) -> Tensor:
    values = torch.as_tensor(value, dtype=torch.float32).flatten()
    if values.numel() == 1:
        values = values.expand(dim).clone()
    if values.numel() != dim:
        raise ConfigError(f"GaussianDataModule: {name} has {values.numel()} values but dim is {dim}; give one value or {dim}")
    return values


class GaussianStream(IterableDataset):
    """Yields ``num_iterations // iterations_per_batch`` batches per epoch, each the ``iterations_per_batch``
    iterations' samples of ``sample(iteration_size, generator)`` one after another (``[iterations_per_batch *
    iteration_size, dim]``, or a tuple of such tensors when ``sample`` returns one).

    Each iteration's samples come from their own generator seeded by (seed, rank, epoch, iteration), so every
    DDP rank draws different data, a run is repeatable without touching the global RNG, and the stream is the
    same however many iterations a batch holds.
    """

    def __init__(self, sample: Callable[[int, torch.Generator], Tensor], iteration_size: int, num_iterations: int,
                 seed: int, iterations_per_batch: int = 1):
        self.sample = sample
        self.iteration_size, self.seed, self.iterations_per_batch = iteration_size, seed, iterations_per_batch
        self.num_batches = num_iterations // iterations_per_batch
        self.epoch = 0

    def __len__(self) -> int:
        return self.num_batches

    def __iter__(self):
        rank = torch.distributed.get_rank() if torch.distributed.is_initialized() else 0
        epoch, self.epoch = self.epoch, self.epoch + 1
        k = self.iterations_per_batch
        for i in range(self.num_batches):
            parts = [self.sample(self.iteration_size, torch.Generator().manual_seed(
                hash((self.seed, rank, epoch, iteration)) & 0x7FFF_FFFF_FFFF_FFFF)) for iteration in range(i * k, (i + 1) * k)]
            if k == 1:
                yield parts[0]
            elif isinstance(parts[0], tuple):
                yield tuple(torch.cat(columns) for columns in zip(*parts))
            else:
                yield torch.cat(parts)


class GaussianDataModule(LightningDataModule):
    """N(mu, diag(sigma^2)) vectors, as the 1-D and 200-d Gaussian tutorials use.

    Batches are ``[batch_size * batches_per_step * iterations_per_batch, dim]`` float32 tensors in data units.

    Args:
        dim: number of dimensions.
        mu: mean, one value for all dimensions or one per dimension.
        sigma: standard deviation (> 0), one value or one per dimension.
        batch_size: samples per discriminator update.
        batches_per_step: discriminator updates per training step; the CLI sets it from the
            objective's ``n_critic``, so each critic update sees fresh data.
        epoch_length: iterations per epoch (a multiple of ``iterations_per_batch``).
        val_size: size of the fixed validation sample that metrics and plots compare against.
        seed: seed of the training stream and of the validation sample.
        iterations_per_batch: GAN iterations whose real data one batch holds; the model runs them all in
            one Lightning training step. Lightning's loop costs about 0.4 ms a step on a 2-core CPU, a fifth
            of an iteration of the 1-D networks: several iterations a batch spread it. Logs, validations and
            checkpoints still count iterations; a checkpoint falls between batches. The samples do not depend
            on it (each iteration's come from their own seed); the CLI lowers it to divide the run's intervals.
    """

    def __init__(
        self,
        dim: int = 1,
        mu: float | list[float] = 4.0,
        sigma: float | list[float] = 0.5,
        batch_size: int = 64,
        batches_per_step: int = 1,
        epoch_length: int = 500,
        val_size: int = 2000,
        seed: int = 0,
        iterations_per_batch: int = 1,
    ):
        super().__init__()
        for name, value in [("dim", dim), ("batch_size", batch_size), ("batches_per_step", batches_per_step),
                            ("epoch_length", epoch_length), ("val_size", val_size),
                            ("iterations_per_batch", iterations_per_batch)]:
            if value < 1:
                raise ConfigError(f"{type(self).__name__}: {name} must be >= 1, got {value}")
        if epoch_length % iterations_per_batch:
            raise ConfigError(f"{type(self).__name__}: epoch_length {epoch_length} counts iterations and must be a "
                              f"multiple of iterations_per_batch {iterations_per_batch}")
        self.mu = _per_dimension("mu", mu, dim)
        self.sigma = _per_dimension("sigma", sigma, dim)
        if not bool((self.sigma > 0).all()) or not bool(torch.isfinite(self.mu).all()):
            raise ConfigError(f"GaussianDataModule: sigma must be > 0 and mu finite, got mu={mu}, sigma={sigma}")
        self.dim, self.batch_size, self.batches_per_step = dim, batch_size, batches_per_step
        self.epoch_length, self.val_size, self.seed = epoch_length, val_size, seed
        self.iterations_per_batch = iterations_per_batch
        # A subclass's own arguments replace these (the mixture sets dim, mu and sigma itself).
        own = inspect.signature(type(self)).parameters
        self.save_hyperparameters(ignore=[k for k in ("dim", "mu", "sigma") if k not in own])
        self.train_stream = GaussianStream(self.training_sample, batch_size * batches_per_step, epoch_length, seed,
                                           iterations_per_batch)
        self.val_data = self.sample(val_size, torch.Generator().manual_seed(seed + 1))
        self.loader_generator = torch.Generator().manual_seed(seed + 2)

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """``[n, dim]`` samples of the data distribution."""
        return self.mu + self.sigma * torch.randn(n, self.dim, generator=generator)

    def training_sample(self, n: int, generator: torch.Generator | None = None):
        """What a training batch holds: ``sample``'s vectors (a subclass with labels adds them)."""
        return self.sample(n, generator)

    def example_batch(self, n: int) -> tuple[Tensor, Tensor | None]:
        """``n`` samples ``[n, dim]`` as a training batch holds them, with labels ``[n]`` where the data has them (else
        ``None``), from a generator of their own: what the CLI's pre-flight runs the networks on."""
        batch = self.training_sample(n, torch.Generator().manual_seed(self.seed))
        return batch if isinstance(batch, tuple) else (batch, None)

    def reference(self, split: str) -> Tensor:
        """The fixed held-out sample ``[val_size, dim]`` (``val``) that validation compares against."""
        if split != "val":
            raise ConfigError(f"{type(self).__name__}: generated data has one reference split, 'val'; got {split!r}")
        return self.val_data

    def density(self, x: Tensor) -> Tensor:
        """Per-dimension density at ``x`` (``[..., dim]`` -> ``[..., dim]``)."""
        return torch.exp(-0.5 * ((x - self.mu) / self.sigma) ** 2) / (self.sigma * math.sqrt(2 * math.pi))

    def train_dataloader(self) -> DataLoader:
        # Loaders get their own generator: they never draw from (and so never shift) the global one.
        return ResumableLoader(self.train_stream, batch_size=None, generator=self.loader_generator)

    def val_dataloader(self) -> DataLoader:
        # Validation compares whole sample sets when it ends and ignores these batches: large ones keep
        # Lightning's per-batch cost (~2 ms) from adding seconds to each validation of 1,000,000 samples.
        return DataLoader(TensorRows(self.val_data), batch_size=max(self.batch_size, VAL_BATCH), collate_fn=already_collated,
                          generator=self.loader_generator)

    def state_dict(self) -> dict:
        return {"epoch": self.train_stream.epoch, "loader_generator": self.loader_generator.get_state()}

    def load_state_dict(self, state_dict: dict) -> None:
        self.train_stream.epoch = state_dict["epoch"]
        if "loader_generator" in state_dict:
            self.loader_generator.set_state(state_dict["loader_generator"])
