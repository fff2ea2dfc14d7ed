"""``python -m gan_lightning train_classifier``: retrain a shipped classifier, a feature network of the metrics.

    python -m gan_lightning train_classifier --dataset mnist --data_dir data --val_size 5000
    python -m gan_lightning train_classifier --dataset emoji --data_dir data/emoji

Each dataset's module (``mnist_classifier``, ``emoji_classifier``) says what it trains: its network
(``CLASSIFIER``), epochs, learning rate, augmentation, data module and weights file.
"""

import time
from pathlib import Path
from typing import Literal, Optional

from jsonargparse import ArgumentParser

from gan_lightning.data.images import to_unit_range
from gan_lightning.metrics import emoji_classifier, mnist_classifier
from gan_lightning.metrics.classifier import save_float16, train_classifier

RECIPES = {"mnist": mnist_classifier, "emoji": emoji_classifier}


def train_classifier_main(args: list[str]) -> None:
    parser = ArgumentParser(prog="python -m gan_lightning train_classifier",
                            description="Train a classifier that metrics use as a feature network.")
    parser.add_argument("--dataset", type=Literal["mnist", "emoji"], default="mnist")
    parser.add_argument("--data_dir", type=Optional[str], default=None,
                        help="As the data module's data_dir (default: data for MNIST, data/emoji for emoji).")
    parser.add_argument("--val_size", type=Optional[int], default=None,
                        help="Images held out as the data module holds them out (default: the GAN configs'); "
                             "accuracy is measured on them.")
    parser.add_argument("--seed", type=int, default=0,
                        help="Seed of the split (use the GAN configs' data seed) and training.")
    parser.add_argument("--epochs", type=Optional[int], default=None)
    parser.add_argument("--output", type=Optional[str], default=None, help="Weights file to write (float16).")
    cfg = parser.parse_args(args)
    recipe = RECIPES[cfg.dataset]
    data = recipe.datamodule(cfg.data_dir, cfg.val_size, cfg.seed)
    data.setup("fit")
    (train_x, val_x), (train_y, val_y) = (data.train_images, data.val_images), (data.train_labels, data.val_labels)
    train_x, val_x = to_unit_range(train_x), to_unit_range(val_x)
    epochs = cfg.epochs or recipe.EPOCHS
    started = time.time()
    model = train_classifier(recipe.CLASSIFIER, train_x, train_y.long(), recipe.augment, epochs, seed=cfg.seed,
                             lr=recipe.LEARNING_RATE)
    output = Path(cfg.output) if cfg.output else recipe.WEIGHTS
    split = f"{type(data).__name__}(data_dir={str(data.data_dir)!r}, val_size={data.val_size}, seed={cfg.seed})"
    held_out = save_float16(model, output, (val_x, val_y.long()), {
        "train_images": len(train_x), "held_out_images": len(val_x), "split": split, "epochs": epochs,
        "train_seconds": round(time.time() - started, 1),
        "command": "python -m gan_lightning train_classifier " + " ".join(args)})
    print(f"held-out accuracy {held_out:.4f} on {len(val_x)} images; wrote {output} and "
          f"{output.with_suffix('.json')}")
