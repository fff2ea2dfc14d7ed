"""Fidelity and diversity from k-nearest-neighbour balls in feature space.

Precision and recall: Kynkäänniemi et al. 2019, "Improved Precision and Recall Metric for
Assessing Generative Models". Density and coverage: Naeem et al. 2020, "Reliable Fidelity and
Diversity Metrics for Generative Models". Both estimate each sample set's manifold as the union
of balls around its points, each ball reaching to the point's k-th nearest neighbour.
"""

import torch
from torch import Tensor
from torchmetrics import Metric
from torchmetrics.utilities import dim_zero_cat

CHUNK = 2048  # rows of a distance matrix computed at once: 2048 x 10,000 doubles is 160 MB


def knn_radii(x: Tensor, k: int) -> Tensor:
    """Distance of each row of ``x [n, f]`` to its k-th nearest other row, ``[n]``.

    >>> knn_radii(torch.tensor([[0.0], [1.0], [3.0]]), k=1).tolist()
    [1.0, 1.0, 2.0]
    """
    if not 1 <= k < len(x):
        raise ValueError(f"k-nearest-neighbour radii need 1 <= k < number of samples, got k={k} and {len(x)} samples")
    radii = [torch.cdist(rows, x).kthvalue(k + 1, dim=1).values for rows in x.split(CHUNK)]  # k + 1: itself is 0
    return torch.cat(radii)


def balls_containing(points: Tensor, centres: Tensor, radii: Tensor) -> Tensor:
    """How many balls (``centres [n, f]``, ``radii [n]``) contain each of ``points [m, f]``: ``[m]`` counts."""
    return torch.cat([(torch.cdist(rows, centres) <= radii).sum(dim=1) for rows in points.split(CHUNK)])


def precision_recall(real: Tensor, fake: Tensor, k: int = 3) -> tuple[Tensor, Tensor]:
    """Precision: share of fakes inside the real manifold; recall: share of reals inside the fake one.

    Both in [0, 1]; ``real [n, f]`` and ``fake [m, f]`` features.

    >>> x = torch.tensor([[0.0], [1.0], [2.0], [3.0]])
    >>> [float(v) for v in precision_recall(x, x, k=1)]
    [1.0, 1.0]
    >>> [float(v) for v in precision_recall(x, x + 100, k=1)]
    [0.0, 0.0]
    """
    real, fake = real.double(), fake.double()
    precision = (balls_containing(fake, real, knn_radii(real, k)) > 0).double().mean()
    recall = (balls_containing(real, fake, knn_radii(fake, k)) > 0).double().mean()
    return precision, recall


def precision_recall_equal_counts(real: Tensor, fake: Tensor, k: int = 3) -> tuple[Tensor, Tensor]:
    """``precision_recall`` at equal counts, as Kynkäänniemi et al. measure it (50,000 against 50,000): the larger
    set is cut into disjoint subsets of the smaller one's size (a remainder smaller than that is left out), each is
    measured against the whole smaller set, and the values are averaged.

    Recall estimated from more fakes than reals is biased low (the fakes' k-NN balls shrink as the fakes grow
    denser), so unequal counts make a model look less diverse the more samples are drawn.

    >>> x = torch.tensor([[0.0], [1.0], [2.0], [3.0]])
    >>> [float(v) for v in precision_recall_equal_counts(x, torch.cat([x, x + 100]), k=1)]
    [0.5, 0.5]
    """
    n = min(len(real), len(fake))
    pairs = [(r, fake) for r in real.split(n)] if len(real) > n else [(real, f) for f in fake.split(n)]
    values = torch.stack([torch.stack(precision_recall(r, f, k)) for r, f in pairs if len(r) == len(f)])
    precision, recall = values.mean(dim=0)
    return precision, recall


def density_coverage(real: Tensor, fake: Tensor, k: int = 5) -> tuple[Tensor, Tensor]:
    """Density: mean number of real balls around a fake, over k (about 1 for a perfect model, unbounded);
    coverage: share of real balls holding at least one fake, in [0, 1].

    >>> x = torch.tensor([[0.0], [1.0], [2.0], [3.0]])
    >>> [float(v) for v in density_coverage(x, x, k=1)]
    [2.5, 1.0]
    """
    real, fake = real.double(), fake.double()
    radii = knn_radii(real, k)
    density = balls_containing(fake, real, radii).double().mean() / k
    nearest_fake = torch.cat([torch.cdist(rows, fake).amin(dim=1) for rows in real.split(CHUNK)])
    coverage = (nearest_fake <= radii).double().mean()
    return density, coverage


class _RealVsFakeFeatures(Metric):
    """Keeps every real and generated feature vector (``[n, f]``), gathered across DDP ranks."""

    full_state_update = False
    higher_is_better = True

    def __init__(self, k: int, **kwargs):
        super().__init__(**kwargs)
        if k < 1:
            raise ValueError(f"{type(self).__name__}: k must be >= 1, got {k}")
        self.k = k
        self.add_state("real", default=[], dist_reduce_fx="cat")
        self.add_state("fake", default=[], dist_reduce_fx="cat")

    def update(self, features: Tensor, real: bool) -> None:
        """features: ``[n, f]`` of real (``real=True``) or generated samples."""
        (self.real if real else self.fake).append(features.detach().flatten(1).float())

    def both(self) -> tuple[Tensor, Tensor]:
        return dim_zero_cat(self.real), dim_zero_cat(self.fake)


class PrecisionRecall(_RealVsFakeFeatures):
    """``{"precision", "recall"}`` of Kynkäänniemi et al. 2019, with k = 3 as in the paper; at equal counts
    (``precision_recall_equal_counts``) unless ``equal_counts`` is false."""

    def __init__(self, k: int = 3, equal_counts: bool = True, **kwargs):
        super().__init__(k, **kwargs)
        self.equal_counts = equal_counts

    def compute(self) -> dict[str, Tensor]:
        measure = precision_recall_equal_counts if self.equal_counts else precision_recall
        precision, recall = measure(*self.both(), k=self.k)
        return {"precision": precision.float(), "recall": recall.float()}

    def describe(self, n_real: int, n_fake: int) -> str:
        """The protocol line of a measurement of ``n_real`` against ``n_fake`` samples."""
        if not self.equal_counts:
            return f"k={self.k}, all {n_real} real vs all {n_fake} generated"
        n = min(n_real, n_fake)
        return (f"k={self.k}, {n} real vs {n} generated, averaged over {max(n_real, n_fake) // n} disjoint subsets of "
                f"the {'reals' if n_real > n_fake else 'generated'}")


class DensityCoverage(_RealVsFakeFeatures):
    """``{"density", "coverage"}`` of Naeem et al. 2020, with k = 5 as the paper recommends."""

    def __init__(self, k: int = 5, **kwargs):
        super().__init__(k, **kwargs)

    def compute(self) -> dict[str, Tensor]:
        density, coverage = density_coverage(*self.both(), k=self.k)
        return {"density": density.float(), "coverage": coverage.float()}
