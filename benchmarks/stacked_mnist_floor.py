"""What the Stacked MNIST mode metrics say about real data: the floor a perfect generator would reach.

Counts 10,000 (``--samples``) stacks drawn from the training stacks of ``StackedMNISTDataModule`` into
the 1,000 modes with the shipped classifier, exactly as validation counts generated stacks, and
prints modes, ``mode_kl`` and ``digit_kl`` per draw, beside a sampler of uniformly random digit
triples (no images, no classifier): the KL that 10,000 draws score by chance alone.

    python -m benchmarks.stacked_mnist_floor --data_dir data/mnist5k --val_size 500
"""

import argparse

import torch
from torch.nn.functional import one_hot

from gan_lightning.data import StackedMNISTDataModule
from gan_lightning.data.images import to_unit_range
from gan_lightning.metrics.mnist_classifier import MNISTFeatures
from gan_lightning.metrics.modes import StackedModes


def rounded(metric: StackedModes) -> dict[str, float]:
    return {name: round(float(value), 4) for name, value in metric.compute().items()}


@torch.no_grad()
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data_dir", default="data")
    parser.add_argument("--val_size", type=int, default=5000)
    parser.add_argument("--samples", type=int, default=10000)
    parser.add_argument("--draws", type=int, default=3)
    args = parser.parse_args()

    data = StackedMNISTDataModule(data_dir=args.data_dir, download=False, val_size=args.val_size)
    data.setup("fit")
    classifier = MNISTFeatures().eval()
    for draw in range(args.draws):
        generator = torch.Generator().manual_seed(draw)
        real, uniform = StackedModes(), StackedModes()
        picks = torch.randint(len(data.train_images), (args.samples,), generator=generator)
        for batch in data.train_images[picks].split(1000):
            real.update(classifier.features_and_probabilities(to_unit_range(batch))[1], real=False)
        digits = torch.randint(10, (args.samples, 3), generator=generator)
        uniform.update(one_hot(digits, 10).float(), real=False)
        print(f"draw {draw}: real training stacks {rounded(real)}; uniform digit triples {rounded(uniform)}")


if __name__ == "__main__":
    main()
