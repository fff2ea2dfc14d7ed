"""Mode collapse, measured by counting which modes generated samples land in.

- Labelled images (MNIST): a classifier names each sample's class; we report the classes
  covered, the KL divergence of the generated class histogram to the real one, and the mean
  confidence (max softmax probability: low for ambiguous scribbles).
- Stacked MNIST (Metz et al. 2017, Srivastava et al. 2017 "VEEGAN", Lin et al. 2018 "PacGAN"):
  each of the three channels is classified; the digit triple is one of 1,000 modes; we report
  the modes covered and the KL divergence to the uniform distribution over the 1,000, and how
  much of that KL the channels' own digit frequencies explain.
- 2-D Gaussian mixtures (the ring and grid of Metz et al. 2017 and VEEGAN): a sample within
  3 sigma of a mode's centre is high-quality and belongs to that mode; a mode is covered when at
  least one high-quality sample lands in it.

Each KL is KL(generated || reference) in nats, over the modes: a generator collapsed on one of
8 equally likely modes scores log 8 = 2.08; a perfect one 0.
"""

import torch
from torch import Tensor
from torchmetrics import Metric


def histogram_kl(counts: Tensor, reference: Tensor) -> Tensor:
    """KL(p || q) in nats between the normalized histograms ``counts [K]`` and ``reference [K]``.

    Modes the reference never sees get a tiny probability, so the KL stays finite but large;
    an empty ``counts`` (no sample in any mode) is infinitely far.

    >>> round(float(histogram_kl(torch.tensor([8.0, 0, 0, 0, 0, 0, 0, 0]), torch.ones(8))), 4)
    2.0794
    >>> float(histogram_kl(torch.ones(8), torch.ones(8)))
    0.0
    """
    if counts.sum() == 0:
        return torch.tensor(float("inf"), dtype=torch.float64)
    p = counts.double() / counts.sum()
    q = (reference.double() / reference.sum().clamp(min=1)).clamp(min=1e-12)
    return torch.where(p > 0, p * (p / q).log(), torch.zeros_like(p)).sum()


class _ModeCounts(Metric):
    """A histogram over ``num_modes`` modes of generated samples, summed across DDP ranks."""

    full_state_update = False

    def __init__(self, num_modes: int, **kwargs):
        super().__init__(**kwargs)
        self.num_modes = num_modes
        self.add_state("counts", default=torch.zeros(num_modes, dtype=torch.float64), dist_reduce_fx="sum")

    def count(self, modes: Tensor) -> None:
        """modes: ``[n]`` integer mode of each generated sample; negative values count nowhere."""
        modes = modes[modes >= 0]
        self.counts += torch.bincount(modes, minlength=self.num_modes).to(self.counts)


class ClassCoverage(_ModeCounts):
    """``{"classes", "min_class_share", "class_kl", "confidence"}`` from a classifier's probabilities on real and
    generated images; ``min_class_share`` is the share of generated images in the class that has the fewest.

    Args:
        num_classes: classes of the classifier (10 for MNIST, 9 for the emoji categories).
    """

    def __init__(self, num_classes: int = 10, **kwargs):
        super().__init__(num_classes, **kwargs)
        self.add_state("real_counts", default=torch.zeros(num_classes, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("confidence_sum", default=torch.zeros((), dtype=torch.float64), dist_reduce_fx="sum")

    def update(self, probabilities: Tensor, real: bool) -> None:
        """probabilities: ``[n, num_classes]`` (or ``[n, 1, num_classes]``) softmax outputs, rows summing to 1."""
        confidence, predicted = probabilities.reshape(len(probabilities), -1).max(dim=1)
        if real:
            self.real_counts += torch.bincount(predicted, minlength=self.num_modes).to(self.real_counts)
        else:
            self.count(predicted)
            self.confidence_sum += confidence.double().sum()

    def compute(self) -> dict[str, Tensor]:
        return {"classes": (self.counts > 0).sum().float(),
                "min_class_share": (self.counts.min() / self.counts.sum().clamp(min=1)).float(),
                "class_kl": histogram_kl(self.counts, self.real_counts).float(),
                "confidence": (self.confidence_sum / self.counts.sum().clamp(min=1)).float()}


class StackedModes(_ModeCounts):
    """``{"modes", "mode_kl", "digit_kl"}`` of Stacked MNIST: digit triples covered of 1,000, KL to uniform.

    ``digit_kl`` is the part of ``mode_kl`` that each channel's own digit frequencies explain: the
    sum over the 3 channels of KL(channel's digit histogram || uniform over 10). Against a uniform
    reference the KL splits exactly, ``mode_kl = digit_kl + `` the channels' total correlation, so
    the rest is dependence between channels (a generator that pairs digits), not digits it draws
    too rarely or too often.
    """

    def __init__(self, **kwargs):
        super().__init__(1000, **kwargs)

    def update(self, probabilities: Tensor, real: bool) -> None:
        """probabilities: ``[n, 3, 10]``, one digit distribution per channel; only generated samples count."""
        if real:
            return  # the reference is uniform by construction
        digits = probabilities.argmax(dim=2)
        self.count(digits[:, 0] * 100 + digits[:, 1] * 10 + digits[:, 2])

    def compute(self) -> dict[str, Tensor]:
        per_channel = self.counts.view(10, 10, 10)
        marginals = [per_channel.sum(dim=tuple(d for d in range(3) if d != c)) for c in range(3)]
        return {"modes": (self.counts > 0).sum().float(),
                "mode_kl": histogram_kl(self.counts, torch.ones_like(self.counts)).float(),
                "digit_kl": sum(histogram_kl(m, torch.ones_like(m)) for m in marginals).float()}


class MixtureModes(_ModeCounts):
    """``{"modes", "mode_kl", "high_quality"}`` of 2-D samples against a mixture's mode centres.

    Args:
        means: ``[K, d]`` centres of the modes, equally likely.
        sigma: standard deviation of each mode; a sample within ``3 * sigma`` of its nearest
            centre is high-quality.
    """

    def __init__(self, means: Tensor, sigma: float, **kwargs):
        super().__init__(len(means), **kwargs)
        self.register_buffer("means", torch.as_tensor(means, dtype=torch.float32))
        self.sigma = float(sigma)
        self.add_state("total", default=torch.zeros((), dtype=torch.float64), dist_reduce_fx="sum")

    def update(self, samples: Tensor, real: bool = False) -> None:
        """samples: ``[n, d]`` in data units; only generated samples count."""
        if real:
            return
        distance, nearest = torch.cdist(samples.float(), self.means.to(samples.device)).min(dim=1)
        self.count(torch.where(distance <= 3 * self.sigma, nearest, -1))
        self.total += len(samples)

    def compute(self) -> dict[str, Tensor]:
        return {"modes": (self.counts > 0).sum().float(),
                "mode_kl": histogram_kl(self.counts, torch.ones_like(self.counts)).float(),
                "high_quality": (self.counts.sum() / self.total.clamp(min=1)).float()}
