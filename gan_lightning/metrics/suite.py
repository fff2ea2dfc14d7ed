"""Every quality metric that fits a data set, for generated against real samples.

One ``SampleMetrics`` object serves validation during ``fit`` (``val/*``) and the ``evaluate``
command (``eval/*``): both draw ``num_samples`` samples with the same seeded noise and compare
them with the same real reference, so they agree at equal counts.

What fits which data:

- vectors (Gaussian data): ``w1``, ``ks``, ``mean_err``, ``std_err`` per dimension;
  ``precision``, ``recall``, ``density``, ``coverage`` in data space; for mixtures also
  ``modes``, ``mode_kl`` and ``high_quality``.
- images: ``fid`` (and ``kid`` when asked), ``precision``, ``recall``, ``density`` and
  ``coverage`` on the feature network; ``is`` and ``is_std``, the Inception Score on Inception's
  logits, or a domain IS on the shipped MNIST or emoji classifier's; with the MNIST classifier also ``classes``,
  ``class_kl`` and ``confidence`` for digits, ``modes``, ``mode_kl`` and ``digit_kl`` for Stacked MNIST;
  with the shipped emoji classifier ``classes``, ``class_kl`` and ``confidence`` over the 9 emoji
  categories; when asked, ``memorization`` and ``memorization_reals`` (``metrics.memorization``).
- class-conditional models: ``accuracy``, the share of samples whose class (by the shipped
  classifier, or the nearest mixture mode) is the one they were drawn for, over balanced labels;
  on images with labelled data also ``intra_fid``, the mean over classes of each class's FID.

The real reference (features, or vectors) is cached in the run folder (``reference-cache/``),
keyed by the data set, its split, the number of reals and the feature network's hash, so it is
computed once per run and rebuilt when any of these changes.
"""

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Literal, Optional, Union

import torch
from torch import Tensor, nn
from torchmetrics import MeanMetric, Metric
from torchmetrics.image.fid import FrechetInceptionDistance, NoTrainInceptionV3
from torchmetrics.image.kid import KernelInceptionDistance

from gan_lightning.errors import ConfigError
from gan_lightning.latent import balanced_labels
from gan_lightning.metrics.distribution import distribution_metrics
from gan_lightning.metrics.emoji_classifier import EmojiFeatures
from gan_lightning.metrics.fid_infinity import fid_infinity
from gan_lightning.metrics.inception_score import ScoreOfLogits
from gan_lightning.metrics.manifold import DensityCoverage, PrecisionRecall
from gan_lightning.metrics.memorization import Memorization, memorization_reference
from gan_lightning.metrics.mnist_classifier import MNISTFeatures
from gan_lightning.metrics.modes import ClassCoverage, MixtureModes, StackedModes

INCEPTION_FILE = "weights-inception-2015-12-05-6726825d.pth"
FEATURE_NETWORKS = {"mnist": MNISTFeatures, "emoji": EmojiFeatures}  # the shipped classifiers, by name
# Arguments of a data module that leave the real reference as it is: they change its batches, or (mirror)
# only the training images, whose count the memorization protocol line records.
BATCHING_ARGUMENTS = {"batch_size", "batches_per_step", "iterations_per_batch", "num_workers", "epoch_length", "download",
                      "mirror"}


def to_inception_input(images: Tensor) -> Tensor:
    """float ``[B, C, H, W]`` in [-1, 1] -> uint8 ``[B, 3, H, W]`` in [0, 255], rounded (not truncated).

    >>> to_inception_input(torch.tensor([-1.0, 0.0, 1.0]).view(1, 1, 1, 3))[0, :, 0].tolist()
    [[0, 128, 255], [0, 128, 255], [0, 128, 255]]
    """
    images = ((images.float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return images.expand(-1, 3, -1, -1) if images.shape[1] == 1 else images


class InceptionFeatures(nn.Module):
    """torchmetrics' Inception (the TF FID network) on images ``[B, C, H, W]`` in [-1, 1] -> ``[B, dim]``.

    Args:
        dim: 2048 (pool3, the standard FID feature), 768, 192 or 64.
        weights_path: a local ``weights-inception-2015-12-05-6726825d.pth``; without it
            torchmetrics downloads the file on first use.
    """

    def __init__(self, dim: int = 2048, weights_path: Optional[str] = None):
        super().__init__()
        if dim not in (64, 192, 768, 2048):
            raise ConfigError(f"Inception features come in 64, 192, 768 or 2048 dimensions, got {dim}")
        if weights_path is not None and not Path(weights_path).is_file():
            raise ConfigError(f"FID: no weights file at {weights_path}")
        try:  # pool3 features for FID, and the ImageNet logits for the Inception Score, in one pass
            self.net = NoTrainInceptionV3("inception-v3-compat", [str(dim), "logits_unbiased"],
                                          feature_extractor_weights_path=weights_path)
        except (OSError, RuntimeError) as e:  # URLError is an OSError
            raise ConfigError(f"FID: could not get the Inception weights ({type(e).__name__}: {e}); set "
                              f"metrics.init_args.weights_path to a local {INCEPTION_FILE} or metrics.init_args.feature "
                              "to mnist or a feature network of your own") from e
        source = Path(weights_path).read_bytes() if weights_path else b"torchmetrics default"
        self.digest = f"inception{dim}-" + hashlib.sha256(source).hexdigest()[:16]
        self.input_description = ("uint8 RGB (rounded from [-1, 1], gray repeated), resized to 299x299 by torch-fidelity's "
                                  "TF-compatible bilinear filter inside the network; float32")

    def forward(self, images: Tensor) -> Tensor:
        return self.features_and_logits(images)[0]

    def features_and_logits(self, images: Tensor) -> tuple[Tensor, Tensor]:
        """(features ``[B, dim]``, ImageNet logits ``[B, 1008]``) of images in [-1, 1]."""
        x = to_inception_input(images)
        features, logits = self.net._torch_fidelity_forward(x)  # forward() keeps only the first of the two
        return features.reshape(len(x), -1).float(), logits.reshape(len(x), -1).float()


def library_versions() -> dict[str, str]:
    import torchmetrics
    import torchvision

    return {"torch": torch.__version__, "torchvision": torchvision.__version__, "torchmetrics": torchmetrics.__version__}


def network_digest(net: nn.Module) -> str:
    """A short hash of a feature network: its class and every parameter and buffer."""
    if hasattr(net, "digest"):
        return net.digest
    h = hashlib.sha256(type(net).__qualname__.encode())
    for name, tensor in net.state_dict().items():
        h.update(name.encode() + tensor.detach().cpu().contiguous().numpy().tobytes())
    return f"{type(net).__name__}-{h.hexdigest()[:16]}"


class Identity(nn.Module):
    """Hands precomputed features to torchmetrics' FID and KID unchanged."""

    def __init__(self, num_features: int):
        super().__init__()
        self.num_features = num_features

    def forward(self, x: Tensor) -> Tensor:
        return x


class SampleMetrics:
    """The metrics that fit the data, for ``num_samples`` generated samples against a real reference.

    Args:
        feature: the feature network of image data: ``mnist`` (the shipped digit classifier, per
            channel), ``emoji`` (the shipped emoji classifier, color), an Inception feature size (2048
            is the standard FID), or any ``nn.Module`` mapping images ``[B, C, H, W]`` in [-1, 1] to
            ``[B, F]`` features. Vectors need none.
        weights_path: a local Inception weights file, for machines without internet.
        num_samples: generated samples per evaluation (``None``: as many as the reference holds);
            FID, KID, precision and recall are biased by the count, so compare numbers only at
            equal counts and feature networks.
        num_reference: real samples in the reference (``None``: the whole split).
        reference_split: ``val`` (held out from training) or ``train``.
        kid: also compute KID (keeps every feature in memory).
        kid_subset_size: subset size of KID's estimate (capped at the sample counts).
        metrics: names to report (e.g. ``[fid, modes]``); ``None``: every one that fits.
        memorization: also the share of samples nearer a training image than held-out real images
            are (images only; compares every sample with the whole training split in pixel space).
        fid_infinity: also ``fid_infinity``, FID extrapolated to infinitely many samples (Chong & Forsyth
            2020; keeps every generated feature; in one process, as ``evaluate`` runs).
        precision_recall_counts: ``equal`` (the paper's protocol): precision and recall averaged over disjoint
            subsets of the larger sample set, each the size of the smaller; ``all``: every sample against every
            other, where recall falls as more samples are drawn than the reference holds.
    """

    def __init__(self, feature: Union[Literal["mnist", "emoji"], int, nn.Module] = "mnist",
                 weights_path: Optional[str] = None, num_samples: Optional[int] = None,
                 num_reference: Optional[int] = None, reference_split: Literal["val", "train"] = "val",
                 kid: bool = False, kid_subset_size: int = 1000, metrics: Optional[list[str]] = None,
                 memorization: bool = False, fid_infinity: bool = False,
                 precision_recall_counts: Literal["equal", "all"] = "equal"):
        if num_samples is not None and num_samples < 2:
            raise ConfigError(f"SampleMetrics: num_samples must be >= 2 or null, got {num_samples}")
        if num_reference is not None and num_reference < 2:
            raise ConfigError(f"SampleMetrics: num_reference must be >= 2 or null, got {num_reference}")
        if reference_split not in ("val", "train"):
            raise ConfigError(f"SampleMetrics: reference_split must be 'val' or 'train', got {reference_split!r}")
        if isinstance(feature, str) and feature not in FEATURE_NETWORKS:
            raise ConfigError(f"SampleMetrics: feature must be one of {list(FEATURE_NETWORKS)}, an Inception size or a "
                              f"module, got {feature!r}")
        if precision_recall_counts not in ("equal", "all"):
            raise ConfigError(f"SampleMetrics: precision_recall_counts must be 'equal' or 'all', "
                              f"got {precision_recall_counts!r}")
        self.feature, self.weights_path = feature, weights_path
        self.num_samples, self.num_reference, self.reference_split = num_samples, num_reference, reference_split
        self.kid, self.kid_subset_size, self.wanted = kid, kid_subset_size, metrics
        self.memorization, self.fid_infinity = memorization, fid_infinity
        self.precision_recall_counts = precision_recall_counts
        self.network: Optional[nn.Module] = None
        self.reference: Optional[dict] = None
        self.metrics: dict[str, Metric] = {}

    # ---- set-up --------------------------------------------------------------------------

    def build_network(self) -> nn.Module:
        """The feature network (built once); stops with one line when its weights cannot be had."""
        if self.network is None:
            if isinstance(self.feature, nn.Module):
                self.network = self.feature
            elif isinstance(self.feature, str):
                self.network = FEATURE_NETWORKS[self.feature]()
            else:
                self.network = InceptionFeatures(int(self.feature), self.weights_path)
            self.network.requires_grad_(False).eval()
        return self.network

    def setup(self, datamodule, cache_dir: Optional[Path], device: torch.device | str = "cpu") -> None:
        """Loads (or computes and caches) the real reference of ``datamodule`` and builds the metrics."""
        if self.reference is not None:
            return
        reals = datamodule.reference(self.reference_split)
        if self.num_reference is not None:
            reals = reals[:self.num_reference]
        images = reals.dim() == 4
        if images:
            net = self.build_network()
            if hasattr(net, "check_shape"):
                net.check_shape(tuple(reals.shape[1:]))
        if len(reals) < 2:
            raise ConfigError(f"SampleMetrics: the {self.reference_split!r} split of {type(datamodule).__name__} has "
                              f"{len(reals)} samples (val_size {getattr(datamodule, 'val_size', '?')}: none were held "
                              f"out); measure against --reference_split train, or train with a val_size")
        if self.num_samples is None:
            self.num_samples = len(reals)
        protocol = {"data": type(datamodule).__name__, "reference_split": self.reference_split, "reals": len(reals),
                    "fakes": self.num_samples,
                    "feature_network": network_digest(self.network) if images else "none (data space)"}
        if images:  # what else decides the numbers: how images reach the network, and the libraries that ran it
            protocol["network_input"] = getattr(self.network, "input_description", "images in [-1, 1] as the data gives them")
            protocol["versions"] = library_versions()
        if self.memorization and images:
            train = datamodule.reference("train")
            protocol["memorization"] = f"pixel L2 to {len(train)} training images"
        key = {k: v for k, v in dict(getattr(datamodule, "hparams", {})).items()
               if k not in BATCHING_ARGUMENTS and not k.startswith("_")}  # "_class_path": only the CLI records it
        identity = {k: v for k, v in protocol.items() if k != "fakes"}  # the reference does not depend on the fakes
        key = hashlib.sha256(json.dumps([identity, key], sort_keys=True, default=str).encode()).hexdigest()[:16]
        cache = Path(cache_dir) / f"reference-{key}.pt" if cache_dir is not None else None
        self.reference_reused = cache is not None and cache.is_file()
        if self.reference_reused:
            reference = torch.load(cache, weights_only=True)
        else:
            reference = self.describe(reals.to(device)) if images else {"samples": reals.float()}
            if "logits" in reference:  # the Inception Score reads the generated images' only: keep the key, not 4 KB an image
                reference["logits"] = reference["logits"][:0]
            labels = datamodule.reference_labels(self.reference_split) if hasattr(datamodule, "reference_labels") else None
            if images and labels is not None:  # per-class FID of conditional models
                reference["labels"] = labels[:len(reals)]
            if self.memorization and images:
                reference.update(memorization_reference(train, datamodule.reference("val")))
            reference = {k: v.cpu() for k, v in reference.items()}
            if cache is not None:
                write_atomically(reference, cache)
        self.reference, self.protocol, self.cache_path = reference, protocol, cache
        self.metrics = self.metrics_that_fit(datamodule, reference)
        if self.memorization and images:
            self.metrics["memorization"] = Memorization(train, reference["memorization_threshold"],
                                                        reference["memorization_reals"])

    @torch.inference_mode()
    def describe(self, images: Tensor) -> dict[str, Tensor]:
        """Features ``[N, F]`` of images ``[N, C, H, W]`` in [-1, 1], with the shipped classifiers' class probabilities
        ``[N, C, K]`` (one row per channel) or Inception's ImageNet logits ``[N, 1008]``."""
        net = self.build_network().to(images.device)
        out: dict[str, list[Tensor]] = {"features": [], "probabilities": [], "logits": []}
        for batch in images.split(500):
            if hasattr(net, "features_and_probabilities"):
                features, probabilities = net.features_and_probabilities(batch)
                out["probabilities"].append(probabilities)
            elif hasattr(net, "features_and_logits"):
                features, logits = net.features_and_logits(batch)
                out["logits"].append(logits.float())
            else:
                features = net(batch)
            out["features"].append(features.float().flatten(1))
        return {k: torch.cat(v) for k, v in out.items() if v}

    def metrics_that_fit(self, datamodule, reference: dict) -> dict[str, Metric]:
        n_fake = self.num_samples
        if "samples" in reference:  # vectors: distances in data space
            n_real = len(reference["samples"])
            metrics = {"distribution": distribution_metrics(prefix="")}
            if hasattr(datamodule, "means"):
                metrics["modes"] = MixtureModes(datamodule.means, datamodule.mode_sigma)
                self.mixture_means = datamodule.means
        else:
            n_real, num_features = reference["features"].shape
            metrics = {"fid": FrechetInceptionDistance(feature=Identity(num_features), reset_real_features=True)}
            if self.kid:
                size = min(self.kid_subset_size, n_real, n_fake)
                metrics["kid"] = KernelInceptionDistance(feature=Identity(num_features), subset_size=size)
            if "probabilities" in reference:
                channels = reference["probabilities"].shape[1]
                classes = reference["probabilities"].shape[-1]
                metrics["modes"] = StackedModes() if channels == 3 else ClassCoverage(classes)
            if "logits" in reference or ("probabilities" in reference and reference["probabilities"].shape[1] == 1):
                metrics["is"] = ScoreOfLogits(splits=min(10, n_fake // 2))  # Inception's, or the classifier's domain IS
        wanted = lambda *names: self.wanted is None or any(n in self.wanted for n in names)
        if min(n_real, n_fake) > 5:  # k-nearest-neighbour balls need more points than k
            if wanted("precision", "recall"):  # the neighbour searches are the costly part: only when asked
                metrics["precision_recall"] = PrecisionRecall(k=3, equal_counts=self.precision_recall_counts == "equal")
                self.protocol["precision_recall"] = metrics["precision_recall"].describe(n_real, n_fake)
            if wanted("density", "coverage"):
                metrics["density_coverage"] = DensityCoverage(k=5)
        return metrics

    # ---- evaluation ----------------------------------------------------------------------

    def to(self, device) -> "SampleMetrics":
        for metric in self.metrics.values():
            metric.to(device)
        if self.network is not None:
            self.network.to(device)
        return self

    @torch.inference_mode()
    def evaluate(self, model, seed: int, rank: int = 0, world_size: int = 1) -> dict[str, Tensor]:
        """Draws this rank's share of ``num_samples`` from ``model`` and returns every metric, synced across ranks.

        Each rank adds its share of the reference and of the samples; the metrics gather the rest.
        The noise comes from ``seed + 7919 * rank``, so one process and ``evaluate`` agree exactly.
        """
        device = model.device
        self.to(device)
        for metric in self.metrics.values():
            metric.reset()
        share = {k: v[rank::world_size].to(device) for k, v in self.reference.items() if v.dim()}  # not the scalars
        self.update(share, real=True)
        count = self.num_samples // world_size + (rank < self.num_samples % world_size)
        # A conditional model samples balanced labels (sample_batches' default): how often its samples
        # are of the class asked for is the conditional accuracy.
        classes = getattr(model, "num_classes", None)
        labels = balanced_labels(count, classes).to(device) if classes else None
        accuracy, start, kept = MeanMetric().to(device), 0, []
        per_class = self.per_class_fid(share, classes, device) if labels is not None else None
        # Vectors in big batches: a million 1-D samples in batches of 256 would be 4,000 small generator calls.
        batch_size = 256 if "features" in self.reference else 16_384
        for batch in model.sample_batches(count, seed=seed + 7_919 * rank, batch_size=batch_size):
            described = self.describe(batch) if batch.dim() == 4 else {"samples": batch.float()}
            if "memorization" in self.metrics:
                described["pixels"] = batch
            self.update(described, real=False)
            if self.fid_infinity and "features" in described and world_size == 1:
                kept.append(described["features"])
            batch_labels = labels[start:start + len(batch)] if labels is not None else None
            predicted = self.predicted_class(described) if labels is not None else None
            if predicted is not None:
                accuracy.update((predicted == batch_labels).float())
            for c, metric in (per_class or {}).items():
                metric.update(described["features"][batch_labels == c], real=False)
            start += len(batch)
        out = {"accuracy": accuracy.compute()} if labels is not None and accuracy.update_count else {}
        if per_class:
            out["intra_fid"] = torch.stack([metric.compute() for metric in per_class.values()]).mean()
        if sum(map(len, kept)) > 20:  # a line through FIDs of at least 2 samples each
            out["fid_infinity"] = fid_infinity(self.reference["features"], torch.cat(kept))[0]
        for name, metric in self.metrics.items():
            value = metric.compute()
            if name in ("fid", "kid"):
                out[name] = value[0] if name == "kid" else value  # KID returns (mean, std)
            else:
                out.update(value)
        out = {k: v.float() for k, v in out.items()}
        return {k: v for k, v in out.items() if self.wanted is None or k in self.wanted}

    def per_class_fid(self, share: dict[str, Tensor], classes: int, device) -> Optional[dict[int, Metric]]:
        """One FID per class (intra-FID, Miyato & Koyama 2018), fed this rank's real features of the
        class; ``None`` without real labels, or for more than 100 classes (too few samples each)."""
        if "labels" not in share or "features" not in share or classes > 100:
            return None
        # FID needs two samples of each class on each side. Decided on the whole reference, so every rank agrees.
        reals = torch.bincount(self.reference["labels"], minlength=classes)
        if self.num_samples < 2 * classes or len(reals) != classes or int(reals.min()) < 2:
            return None
        per_class = {}
        for c in range(classes):
            metric = FrechetInceptionDistance(feature=Identity(share["features"].shape[1]), reset_real_features=True)
            metric.to(device).update(share["features"][share["labels"] == c], real=True)
            per_class[c] = metric
        return per_class

    def predicted_class(self, described: dict[str, Tensor]) -> Optional[Tensor]:
        """The class ``[N]`` the shipped classifier (digits; Stacked MNIST's triples) or the nearest
        mixture mode sees in each sample; ``None`` when nothing here can tell the class."""
        if "probabilities" in described:  # [N, C, 10]: a digit per channel
            digits = described["probabilities"].argmax(-1)
            places = 10 ** torch.arange(digits.shape[1] - 1, -1, -1, device=digits.device)
            return (digits * places).sum(1)
        means = getattr(self, "mixture_means", None)
        if "samples" in described and means is not None:
            return torch.cdist(described["samples"], means.to(described["samples"].device)).argmin(1)
        return None

    def update(self, described: dict[str, Tensor], real: bool) -> None:
        for name, metric in self.metrics.items():
            if name == "distribution":  # compares a real and a fake set in one call
                empty = described["samples"][:0]
                metric.update(described["samples"], empty) if real else metric.update(empty, described["samples"])
            elif name == "memorization":
                if not real:
                    metric.update(described["pixels"])
            elif name == "is":  # of the generated samples only
                if not real:
                    logits = described.get("logits")
                    metric.update(logits if logits is not None else described["probabilities"][:, 0].clamp_min(1e-12).log())
            elif name == "modes":
                metric.update(described.get("probabilities", described.get("samples")), real=real)
            else:
                metric.update(described.get("features", described.get("samples")), real=real)


def write_atomically(obj, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".tmp", delete=False) as f:
        torch.save(obj, f)
    os.replace(f.name, path)  # a crash mid-write leaves no half file behind
