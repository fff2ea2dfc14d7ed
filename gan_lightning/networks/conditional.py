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


class ConditionalDiscriminator(nn.Module):
    """What every discriminator shares past its features: ``forward(x, y, with_classes)`` is
    ``output(features(x), y, with_classes)``, the unconditional score plus, with ``num_classes``, the
    projection term and the AC-GAN class head (``conditioning``).

    A subclass builds its layers, calls ``add_class_heads`` once, and defines ``features(x)`` and
    ``score(features) -> [B]``; ``pooled(features) -> [B, width]`` is what the class terms read (the
    features themselves unless a subclass pools a feature map).
    """

    def add_class_heads(self, num_classes: int | None, width: int, conditioning: str) -> None:
        name = type(self).__name__
        check_num_classes(name, num_classes)
        check_conditioning(name, conditioning)
        self.num_classes, self.conditioning = num_classes, conditioning
        self.projection, self.classifier = class_heads(num_classes, width, conditioning)

    def pooled(self, features: Tensor) -> Tensor:
        return features

    def output(self, features: Tensor, y: Tensor | None = None, with_classes: bool = False):
        """What ``forward(x, y, with_classes)`` returns, from ``features(x)``: the output ``[B]``, or with
        ``with_classes`` (output, class logits ``[B, num_classes]``)."""
        out = self.score(features)
        if self.projection is None and self.classifier is None:
            return out
        return conditional_output(out, self.pooled(features), y, self.projection, self.classifier, with_classes)

    def forward(self, x: Tensor, y: Tensor | None = None, with_classes: bool = False):
        if self.projection is not None:
            check_labels(type(self).__name__, self.num_classes, y, x.shape[0])
        return self.output(self.features(x), y, with_classes)


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
