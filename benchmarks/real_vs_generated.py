"""A picture of a run: held-out real images beside a checkpoint's samples, and each sample's nearest training image.

    python -m benchmarks.real_vs_generated --ckpt_path CKPT --output docs/emoji_best.png

Left: ``--num`` images of the run's held-out split (never trained on); middle: as many samples of the
checkpoint's (EMA) generator, seeded; right: for each of those samples, the training image nearest to
it in pixels, so a copy shows as the same picture twice (``memorization`` counts it).
"""

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402
from torchvision.utils import make_grid  # noqa: E402

from gan_lightning.sample import checkpoint_path, draw, load_datamodule, load_generator, load_model  # noqa: E402


def nearest_training_images(samples: torch.Tensor, train: torch.Tensor) -> torch.Tensor:
    """For samples ``[N, C, H, W]`` in [0, 1], the nearest of ``train`` (same range) in L2, ``[N, C, H, W]``."""
    return train[torch.cdist(samples.flatten(1), train.flatten(1)).argmin(1)]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ckpt_path", required=True, help="a checkpoint written by fit, or 'last'")
    parser.add_argument("--output", type=Path, required=True, help="the figure, .png")
    parser.add_argument("--num", type=int, default=48, help="images in each panel")
    parser.add_argument("--seed", type=int, default=0, help="seed of the samples' noise")
    args = parser.parse_args(argv)
    ckpt = checkpoint_path(args.ckpt_path)
    data = load_datamodule(ckpt)
    data.setup("validate")
    reals = (data.reference("val")[:args.num] + 1) / 2
    train = (data.reference("train") + 1) / 2
    model = load_generator(ckpt) or load_model(ckpt)
    samples = draw(model, args.num, args.seed)
    panels = {"held-out real (not trained on)": reals, f"generated (seed {args.seed})": samples,
              "nearest training image to each sample": nearest_training_images(samples, train)}
    rows = 6
    fig, axes = plt.subplots(1, 3, figsize=(15, 5.6))
    for ax, (title, images) in zip(axes, panels.items()):
        ax.imshow(make_grid(images, nrow=len(images) // rows, padding=1, pad_value=1).permute(1, 2, 0).numpy())
        ax.set_title(title)
        ax.axis("off")
    fig.suptitle(f"{ckpt.parent.parent.name}, iteration {torch.load(ckpt, weights_only=False)['iteration']}")
    fig.tight_layout()
    args.output.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.output, dpi=100)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
