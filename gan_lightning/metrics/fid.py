"""FID (and optionally KID) through torchmetrics, set up in one place.

Images arrive as the model sees them: float ``[B, C, H, W]`` in [-1, 1]. The standard Inception
extractor gets them as uint8 RGB (grayscale repeated to 3 channels; torchmetrics resizes to 299);
a custom extractor gets them unchanged.
"""

from pathlib import Path
from typing import Optional, Union

import torch
from torch import Tensor, nn
from torchmetrics.image.fid import FrechetInceptionDistance
from torchmetrics.image.kid import KernelInceptionDistance

from gan_lightning.errors import ConfigError

INCEPTION_FILE = "weights-inception-2015-12-05-6726825d.pth"


def to_inception_input(images: Tensor) -> Tensor:
    """float ``[B, C, H, W]`` in [-1, 1] -> uint8 ``[B, 3, H, W]`` in [0, 255]."""
    images = ((images.float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return images.expand(-1, 3, -1, -1) if images.shape[1] == 1 else images


class FID:
    """Frechet Inception Distance of generated vs held-out real images, as ``val/fid``.

    Real statistics are computed once per run from the validation images; each validation
    then draws ``num_samples`` images from the (EMA) generator, split across DDP ranks.

    Args:
        feature: 2048 (the standard Inception pool features; 64, 192, 768 also work) or any
            ``nn.Module`` mapping ``[B, C, H, W]`` images in [-1, 1] to ``[B, F]`` features.
        weights_path: a local ``weights-inception-2015-12-05-6726825d.pth`` for machines
            without internet; without it torchmetrics downloads the file on first use.
        num_samples: generated images per evaluation (FID is biased upward for small counts:
            compare numbers only at the same count).
        kid: also log ``val/kid`` (KID keeps every feature in memory and extracts them again).
        kid_subset_size: subset size of KID's estimate.
    """

    def __init__(self, feature: Union[int, nn.Module] = 2048, weights_path: Optional[str] = None,
                 num_samples: int = 10000, kid: bool = False, kid_subset_size: int = 1000):
        if num_samples < 2:
            raise ConfigError(f"FID: num_samples must be >= 2, got {num_samples}")
        self.feature, self.weights_path = feature, weights_path
        self.num_samples, self.kid, self.kid_subset_size = num_samples, kid, kid_subset_size
        self.metrics: Optional[dict] = None
        self.has_real = False

    @property
    def custom(self) -> bool:
        return isinstance(self.feature, nn.Module)

    def build(self) -> None:
        """Builds the extractors; stops with one line when Inception weights cannot be had."""
        if self.metrics is not None:
            return
        if self.weights_path is not None and not self.custom and not Path(self.weights_path).is_file():
            raise ConfigError(f"FID: no weights file at {self.weights_path}")
        kwargs = {"reset_real_features": False}
        if not self.custom and self.weights_path is not None:
            kwargs["feature_extractor_weights_path"] = str(self.weights_path)
        try:
            self.metrics = {"fid": FrechetInceptionDistance(feature=self.feature, **kwargs)}
            if self.kid:
                self.metrics["kid"] = KernelInceptionDistance(feature=self.feature, subset_size=self.kid_subset_size, **kwargs)
        except (OSError, RuntimeError) as e:  # URLError is an OSError
            raise ConfigError(f"FID: could not get the Inception weights ({type(e).__name__}: {e}); set "
                              f"fid.init_args.weights_path to a local {INCEPTION_FILE} or fid.init_args.feature "
                              "to a custom feature extractor") from e
        for metric in self.metrics.values():
            metric.requires_grad_(False).eval()

    def to(self, device) -> "FID":
        for metric in (self.metrics or {}).values():
            metric.to(device)
        return self

    def prepare(self, images: Tensor) -> Tensor:
        return images.float() if self.custom else to_inception_input(images)

    # Always in inference mode: Lightning validates inside it, and states made there (at a reset)
    # cannot be updated in place outside it.
    @torch.inference_mode()
    def update(self, images: Tensor, real: bool) -> None:
        for metric in self.metrics.values():
            metric.update(self.prepare(images), real=real)

    @torch.inference_mode()
    def compute(self) -> dict[str, Tensor]:
        """``val/fid`` (and ``val/kid``), then forgets the generated features but keeps the real ones."""
        out = {}
        for name, metric in self.metrics.items():
            value = metric.compute()
            out[f"val/{name}"] = value[0] if name == "kid" else value  # KID returns (mean, std)
            metric.reset()
        return out
