"""The shipped MNIST classifier: a feature network for FID, KID, precision/recall, and mode counts.

Inception needs a download and was trained on photographs; digits are better judged by a
network that knows digits. The weights (``weights/mnist_classifier.pt``, float16, ~280 KB)
ship with the package; ``weights/mnist_classifier.json`` beside them says which digits trained
them and their held-out accuracy. Retrain on the full 60,000 digits with

    python -m gan_lightning train_classifier --data_dir data --val_size 5000
"""

import hashlib
import json
import time
from pathlib import Path
from typing import Optional

import torch
import torch.nn.functional as F
from jsonargparse import ArgumentParser
from torch import Tensor, nn
from tqdm import tqdm

from gan_lightning.errors import ConfigError

WEIGHTS = Path(__file__).parent / "weights" / "mnist_classifier.pt"


class MNISTClassifier(nn.Module):
    """Digits ``[B, 1, 28, 28]`` in [-1, 1] -> 10 logits; ``features`` gives the 128-d penultimate layer."""

    num_features = 128

    def __init__(self):
        super().__init__()
        conv = lambda c_in, c_out: [nn.Conv2d(c_in, c_out, 3, padding=1), nn.BatchNorm2d(c_out), nn.ReLU(True)]
        # One convolution per scale: metrics classify tens of thousands of digits per evaluation.
        self.body = nn.Sequential(*conv(1, 32), nn.MaxPool2d(2),  # 28 -> 14
                                  *conv(32, 64), nn.MaxPool2d(2),  # 14 -> 7
                                  *conv(64, 128), nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = nn.Sequential(nn.Dropout(0.3), nn.Linear(128, 10))

    def features(self, x: Tensor) -> Tensor:
        """``[B, 1, 28, 28]`` -> ``[B, 128]`` non-negative features."""
        return self.body(x)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x))


class MNISTFeatures(nn.Module):
    """The shipped classifier as a frozen feature network, applied to each channel on its own.

    Images ``[B, C, 28, 28]`` in [-1, 1] -> features ``[B, 128 * C]`` (the channels' features side
    by side, so Stacked MNIST gets 384); ``probabilities`` gives ``[B, C, 10]`` digit probabilities.

    Args:
        weights_path: a classifier's weights; ``None`` takes the ones that ship with the package.
    """

    def __init__(self, weights_path: Optional[str] = None):
        super().__init__()
        path = Path(weights_path) if weights_path else WEIGHTS
        if not path.is_file():
            raise ConfigError(f"MNISTFeatures: no classifier weights at {path}; train them with "
                              "python -m gan_lightning train_classifier")
        self.classifier = MNISTClassifier()
        state = torch.load(path, map_location="cpu", weights_only=True)
        self.classifier.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state.items()})
        self.classifier.requires_grad_(False).eval()
        self.digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]

    def train(self, mode: bool = True) -> "MNISTFeatures":
        return super().train(False)  # always in eval mode: batch norm statistics and dropout stay fixed

    def check_shape(self, shape: tuple[int, ...]) -> None:
        """Raises ``ConfigError`` unless one image's shape is ``(C, 28, 28)``."""
        if len(shape) != 3 or tuple(shape[1:]) != (28, 28):
            raise ConfigError(f"the MNIST feature network takes 28x28 digit images (C x 28 x 28), but this data is "
                              f"{'x'.join(map(str, shape))}; use feature 2048 (Inception) or a feature network of your own")

    def features_and_probabilities(self, images: Tensor) -> tuple[Tensor, Tensor]:
        """``[B, C, 28, 28]`` -> features ``[B, 128 * C]`` and digit probabilities ``[B, C, 10]``."""
        b, c = images.shape[:2]
        features = self.classifier.features(images.float().reshape(b * c, 1, 28, 28))
        probabilities = self.classifier.head(features).softmax(dim=1)
        return features.reshape(b, c * MNISTClassifier.num_features), probabilities.reshape(b, c, 10)

    def forward(self, images: Tensor) -> Tensor:
        return self.features_and_probabilities(images)[0]


# ---- training ------------------------------------------------------------------------------

def augment(x: Tensor, generator: torch.Generator) -> Tensor:
    """Random shifts of up to 2 pixels, as digits are not always centred: ``[B, 1, 28, 28]`` -> same."""
    padded = F.pad(x, (2, 2, 2, 2), value=-1.0)
    dx, dy = torch.randint(0, 5, (2,), generator=generator).tolist()
    return padded[:, :, dy:dy + 28, dx:dx + 28]


def accuracy(model: MNISTClassifier, images: Tensor, labels: Tensor) -> float:
    model.eval()
    with torch.no_grad():
        predicted = torch.cat([model(x).argmax(1) for x in images.split(1000)])
    return float((predicted == labels).float().mean())


def train_classifier(train_images: Tensor, train_labels: Tensor, epochs: int = 20, batch_size: int = 64,
                     seed: int = 0) -> MNISTClassifier:
    """A classifier trained on ``train_images [N, 1, 28, 28]`` in [-1, 1] with ``train_labels [N]``."""
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    model = MNISTClassifier()
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    steps = epochs * (len(train_images) // batch_size)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=2e-3, total_steps=steps)
    with tqdm(total=steps, desc="training the MNIST classifier", unit="batch") as bar:
        for _ in range(epochs):
            model.train()
            order = torch.randperm(len(train_images), generator=generator)
            for start in range(0, len(order) - batch_size + 1, batch_size):
                batch = order[start:start + batch_size]
                loss = F.cross_entropy(model(augment(train_images[batch], generator)), train_labels[batch])
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                schedule.step()
                bar.update()
                bar.set_postfix(loss=f"{loss.item():.3f}", refresh=False)
    return model.eval()


def train_classifier_main(args: list[str]) -> None:
    from gan_lightning.data.images import to_unit_range
    from gan_lightning.data.mnist import MNISTDataModule

    parser = ArgumentParser(prog="python -m gan_lightning train_classifier",
                            description="Train the MNIST classifier that metrics use as a feature network.")
    parser.add_argument("--data_dir", type=str, default="data", help="Folder holding MNIST/raw (as for MNISTDataModule).")
    parser.add_argument("--val_size", type=int, default=5000,
                        help="Digits held out (seeded, as MNISTDataModule holds them out); accuracy is measured on them.")
    parser.add_argument("--seed", type=int, default=0, help="Seed of the split (use the GAN configs' data seed) and training.")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--output", type=str, default=str(WEIGHTS), help="Weights file to write (float16).")
    cfg = parser.parse_args(args)
    data = MNISTDataModule(cfg.data_dir, val_size=cfg.val_size, seed=cfg.seed)
    images, labels = data.load()
    (train_x, val_x), (train_y, val_y) = data.split(to_unit_range(images), labels.long())
    started = time.time()
    model = train_classifier(train_x, train_y, cfg.epochs, seed=cfg.seed)
    state = {k: v.half() if v.is_floating_point() else v for k, v in model.state_dict().items()}
    model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state.items()})
    held_out = accuracy(model, val_x, val_y)  # of the float16 weights that ship
    output = Path(cfg.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, output)
    facts = {"held_out_accuracy": round(held_out, 4), "train_digits": len(train_x), "held_out_digits": len(val_x),
             "split": f"MNISTDataModule(val_size={cfg.val_size}, seed={cfg.seed}) of {cfg.data_dir}",
             "epochs": cfg.epochs, "train_seconds": round(time.time() - started, 1),
             "command": "python -m gan_lightning train_classifier " + " ".join(args)}
    output.with_suffix(".json").write_text(json.dumps(facts, indent=2) + "\n")
    print(f"held-out accuracy {held_out:.4f} on {len(val_x)} digits; wrote {output} and {output.with_suffix('.json')}")
