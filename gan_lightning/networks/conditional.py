"""The pieces that make a network class-conditional: conditional batch norm for generators, the
projection term for discriminators (Miyato & Koyama 2018, "cGANs with Projection Discriminator")."""

from typing import Optional

from torch import Tensor, nn

from gan_lightning.errors import ConfigError


def check_num_classes(name: str, num_classes: int | None) -> None:
    if num_classes is not None and num_classes < 2:
        raise ConfigError(f"{name}: num_classes must be >= 2 or null, got {num_classes}")


CONDITIONINGS = ("projection", "auxiliary", "both")


def check_conditioning(name: str, conditioning: str) -> None:
    if conditioning not in CONDITIONINGS:
        raise ConfigError(f"{name}: conditioning must be one of {', '.join(CONDITIONINGS)}, got {conditioning!r}")


def class_heads(num_classes: int | None, features: int, conditioning: str) -> tuple[nn.Module | None, nn.Module | None]:
    """(projection term, classifier head) of a discriminator with ``features`` last-layer features:
    ``projection`` has the first, ``auxiliary`` the second, ``both`` the two; unconditional: neither."""
    if not num_classes:
        return None, None
    projection = Projection(num_classes, features) if conditioning in ("projection", "both") else None
    classifier = nn.Linear(features, num_classes) if conditioning in ("auxiliary", "both") else None
    return projection, classifier


def conditional_output(out: Tensor, features: Tensor, y: Tensor | None, projection: nn.Module | None,
                       classifier: nn.Module | None, with_classes: bool):
    """A discriminator's output ``[B]`` from its unconditional output and features ``[B, F]``: plus the
    projection term if it has one; with ``with_classes``, also the classifier's logits ``[B, num_classes]``."""
    if projection is not None:
        out = out + projection(features, y)
    return (out, classifier(features)) if with_classes and classifier is not None else out


def check_labels(name: str, num_classes: int | None, y: Tensor | None, batch: int) -> None:
    """A conditional network needs one label per sample; an unconditional one takes none."""
    if num_classes is None:
        if y is not None:
            raise ValueError(f"{name} is unconditional (num_classes null) but was given labels")
        return
    if y is None or y.shape != (batch,):
        raise ValueError(f"{name} has num_classes={num_classes}: give labels [B={batch}], got "
                         f"{None if y is None else tuple(y.shape)}")


def network_classes(name: str, generator: nn.Module, discriminator: nn.Module) -> Optional[int]:
    """The classes of a conditional GAN (``None``: unconditional); both networks must have the same."""
    classes = {"generator": getattr(generator, "num_classes", None), "discriminator": getattr(discriminator, "num_classes", None)}
    if len(set(classes.values())) > 1:
        raise ConfigError(f"{name}: the networks have num_classes " + ", ".join(f"{k} {v}" for k, v in classes.items()) +
                          "; set the same num_classes in both networks' init_args")
    return classes["generator"]


class ConditionalBatchNorm2d(nn.Module):
    """Batch norm whose scale and shift are looked up per class: ``[B, C, H, W]``, labels ``[B]`` -> ``[B, C, H, W]``.

    Scales start at N(1, 0.02) and shifts at 0, as DCGAN initializes batch norm: near plain batch
    norm, but different for each class from the first step on.
    """

    def __init__(self, num_classes: int, channels: int):
        super().__init__()
        self.norm = nn.BatchNorm2d(channels, affine=False)
        self.scale = nn.Embedding(num_classes, channels)
        self.shift = nn.Embedding(num_classes, channels)
        nn.init.normal_(self.scale.weight, 1.0, 0.02)
        nn.init.zeros_(self.shift.weight)

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        return self.norm(x) * self.scale(y)[:, :, None, None] + self.shift(y)[:, :, None, None]


class Projection(nn.Module):
    """The projection discriminator's class term: ``<embed(y), features>``, ``[B, F]`` features -> ``[B]``.

    Added to an unconditional output ``psi(features)``, it makes the logit
    ``psi(phi(x)) + embed(y) . phi(x)``: linear in the class embedding.
    """

    def __init__(self, num_classes: int, features: int):
        super().__init__()
        self.embed = nn.Embedding(num_classes, features)
        nn.init.normal_(self.embed.weight, 0.0, 0.02)

    def forward(self, features: Tensor, y: Tensor) -> Tensor:
        return (self.embed(y) * features).sum(1)
