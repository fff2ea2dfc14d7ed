"""The precision and recall real data itself scores: held-out images against the training images, k = 3.

    python -m benchmarks.real_precision_recall --data_dir data/emoji

The emoji configs' split (800 held out, seed 0, 32x32) on the shipped emoji classifier's features, with
the training images in the place of generated ones: the ceiling a generator's recall can be read against.
"""

import argparse

import torch

from gan_lightning.data import EmojiDataModule
from gan_lightning.metrics.emoji_classifier import EmojiFeatures
from gan_lightning.metrics.manifold import precision_recall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data_dir", default="data/emoji")
    args = parser.parse_args()
    data = EmojiDataModule(args.data_dir, image_size=32, val_size=800, seed=0)
    net = EmojiFeatures()
    with torch.no_grad():
        held_out, train = (torch.cat([net(b) for b in data.reference(split).split(256)]) for split in ("val", "train"))
    precision, recall = precision_recall(held_out, train, k=3)
    print(f"held-out {len(held_out)} vs training {len(train)} emoji, k = 3: precision {float(precision):.3f}, "
          f"recall {float(recall):.3f}")


if __name__ == "__main__":
    main()
