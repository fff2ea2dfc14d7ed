"""What the shipped classifiers share: their network shape, loading them frozen, and training them.

Inception needs a download and was trained on photographs; digits and emoji are better judged by
networks that know them, small enough to ship (float16 weights in ``weights/``, each with a JSON
file that says what trained it and its held-out accuracy) and to retrain on a CPU
(``gan_lightning.metrics.train_classifier``).
"""

import hashlib
import json
from pathlib import Path
from typing import Callable, Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from tqdm import tqdm

from gan_lightning.errors import ConfigError

WEIGHTS_DIR = Path(__file__).parent / "weights"


def conv(c_in: int, c_out: int) -> list[nn.Module]:
    """A 3x3 convolution that keeps the size, batch norm and ReLU."""
    return [nn.Conv2d(c_in, c_out, 3, padding=1), nn.BatchNorm2d(c_out), nn.ReLU(True)]


class ConvClassifier(nn.Module):
    """``body`` (images -> non-negative features ``[B, F]``, pooled) then ``head`` (dropout 0.3, linear to logits).

    Args:
        body: the convolutions, ending in a global pooling and a flatten.
        num_features: ``F``, the body's output size.
        num_classes: logits of the head.
    """

    def __init__(self, body: list[nn.Module], num_features: int, num_classes: int):
        super().__init__()
        self.body = nn.Sequential(*body, nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = nn.Sequential(nn.Dropout(0.3), nn.Linear(num_features, num_classes))

    def features(self, x: Tensor) -> Tensor:
        """``[B, C, H, W]`` -> ``[B, F]``: what the metrics compare."""
        return self.body(x)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x))


class FrozenClassifier(nn.Module):
    """A shipped classifier as a frozen feature network, always in eval mode (batch norm and dropout fixed).

    Args:
        classifier: the untrained network; it needs ``features(x)`` and a ``head`` of the features.
        weights_path: its weights file (``None``: ``default_path``).
        default_path: the weights that ship with the package.
    """

    def __init__(self, classifier: nn.Module, weights_path: Optional[str], default_path: Path):
        super().__init__()
        path = Path(weights_path) if weights_path else default_path
        if not path.is_file():
            raise ConfigError(f"{type(self).__name__}: no classifier weights at {path}; train them with "
                              "python -m gan_lightning train_classifier")
        state = torch.load(path, map_location="cpu", weights_only=True)
        classifier.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state.items()})
        self.classifier = classifier.requires_grad_(False)
        self.eval()
        self.digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]

    def train(self, mode: bool = True) -> "FrozenClassifier":
        return super().train(False)

    def forward(self, images: Tensor) -> Tensor:
        return self.features_and_probabilities(images)[0]


def accuracy(model: nn.Module, images: Tensor, labels: Tensor) -> float:
    """Share of ``images`` whose largest logit is their label."""
    model.eval()
    with torch.no_grad():
        predicted = torch.cat([model(x).argmax(1) for x in images.split(1000)])
    return float((predicted == labels).float().mean())


def train_classifier(build: Callable[[], nn.Module], train_images: Tensor, train_labels: Tensor,
                     augment: Callable[[Tensor, torch.Generator], Tensor], epochs: int = 20, batch_size: int = 64,
                     seed: int = 0, lr: float = 2e-3) -> nn.Module:
    """``build()`` trained with Adam and a one-cycle schedule on ``train_images [N, C, H, W]`` in [-1, 1] and
    ``train_labels [N]``, each batch through ``augment(batch, generator)``."""
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    model = build()
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    steps = epochs * (len(train_images) // batch_size)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=steps)
    with tqdm(total=steps, desc=f"training the {type(model).__name__}", unit="batch") as bar:
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


def save_float16(model: nn.Module, output: Path, held_out: tuple[Tensor, Tensor], facts: dict) -> float:
    """Writes ``model``'s weights in float16 and ``facts`` with the held-out accuracy of those float16
    weights beside them (``output`` with ``.json``); returns that accuracy."""
    state = {k: v.half() if v.is_floating_point() else v for k, v in model.state_dict().items()}
    model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state.items()})
    held_out_accuracy = accuracy(model, *held_out)
    output.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, output)
    facts = {"held_out_accuracy": round(held_out_accuracy, 4), **facts}
    output.with_suffix(".json").write_text(json.dumps(facts, indent=2) + "\n")
    return held_out_accuracy
