"""The discriminator as the losses see it: one call per batch, one record back.

Augmentation is applied inside the call, so every loss term judges what D judges; packing lives
in the network (``gan_lightning.networks.Packed``); the class head of an AC-GAN discriminator and
the hidden layers feature matching compares come back in the same record, from the same pass.
"""

from dataclasses import dataclass, field
from typing import Callable, Literal, Optional

from torch import Tensor, nn

Layers = Optional[Literal["last", "all"]]


@dataclass
class Judgement:
    """What the discriminator says of a batch of ``B`` samples.

    Attributes:
        score: raw output ``[B]`` (``[B / pack]`` for a packing discriminator): a logit or a critic score.
        classes: class logits ``[B, num_classes]`` of an AC-GAN head, or ``None`` without one.
        layers: the hidden layers asked for, first to last (the last hidden layer last); empty if none.
    """

    score: Tensor
    classes: Optional[Tensor] = None
    layers: list[Tensor] = field(default_factory=list)


def has_class_head(network: nn.Module) -> bool:
    return bool(getattr(network, "num_classes", None)) and getattr(network, "conditioning", None) in ("auxiliary", "both")


def run(network: Callable, x: Tensor, labels: Optional[Tensor], with_classes: bool) -> tuple[Tensor, Optional[Tensor]]:
    """(output, class logits or ``None``) of ``network(x[, labels][, with_classes=True])``."""
    args = (x,) if labels is None else (x, labels)
    if with_classes:
        return network(*args, with_classes=True)
    return network(*args), None


class Critic:
    """Calls ``network`` on augmented batches and returns a ``Judgement``.

    Not a module: the network is the model's ``discriminator`` child, and checkpoints keep its keys.

    Args:
        network: the discriminator, ``[B, *shape]`` (+ labels ``[B]`` if conditional) -> ``[B]``.
        augment: differentiable augmentation applied to every batch first, or ``None``.
    """

    def __init__(self, network: nn.Module, augment: Optional[Callable[[Tensor], Tensor]] = None):
        self.network, self.augment = network, augment
        self.with_classes = has_class_head(network)

    def __call__(self, x: Tensor, labels: Optional[Tensor] = None, layers: Layers = None) -> Judgement:
        """The judgement of ``x`` ``[B, *shape]``; ``layers``: also the last hidden layer (``last``) or all (``all``)."""
        if self.augment is not None:
            x = self.augment(x)
        if layers is None:
            return Judgement(*run(self.network, x, labels, self.with_classes))
        hidden = self.network.hidden_layers(x) if layers == "all" else [self.network.features(x)]
        head = getattr(self.network, "output", None)
        # A network with an output head reads its last hidden layer: the record comes from one pass.
        score, classes = run(head, hidden[-1], labels, self.with_classes) if callable(head) else run(
            self.network, x, labels, self.with_classes)
        return Judgement(score, classes, hidden)

    def plain(self, labels: Optional[Tensor] = None) -> Callable[[Tensor], Tensor]:
        """The network's score of un-augmented inputs with ``labels``: what a gradient penalty differentiates."""
        return lambda x: run(self.network, x, labels, False)[0]
