"""Pictures of low-dimensional data at each validation: real vs generated, and what D believes."""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display on compute nodes
import matplotlib.pyplot as plt
import torch
from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.utilities import rank_zero_only

from gan_lightning.callbacks.logging import log_image_file


def plot_samples(fake: torch.Tensor, real: torch.Tensor | None = None, max_dims: int = 6):
    """A figure of generated vs real vectors ``[n, d]``: histograms per dimension (up to
    ``max_dims``), or a scatter plot for d = 2."""
    d = fake.shape[1]
    if d == 2:
        fig, ax = plt.subplots(figsize=(5, 5))
        if real is not None:
            ax.scatter(*real.T, s=3, alpha=0.4, label="real")
        ax.scatter(*fake.T, s=3, alpha=0.4, label="generated")
        ax.legend()
        return fig, [ax]
    shown = min(d, max_dims)
    fig, axes = plt.subplots(1, shown, figsize=(4 * shown, 3.2), squeeze=False)
    for j, ax in enumerate(axes[0]):
        lo, hi = (torch.cat([fake[:, j], real[:, j]]) if real is not None else fake[:, j]).aminmax()
        bins = torch.linspace(float(lo), float(hi) + 1e-6, 50).numpy()
        if real is not None:
            ax.hist(real[:, j].numpy(), bins=bins, density=True, alpha=0.5, label="real")
        ax.hist(fake[:, j].numpy(), bins=bins, density=True, alpha=0.5, label="generated")
        ax.set_title(f"dimension {j}" if d > 1 else "")
        ax.set_xlabel("x")
    axes[0][0].legend()
    if d > shown:
        fig.suptitle(f"first {shown} of {d} dimensions")
    return fig, list(axes[0])


class DistributionPlot(Callback):
    """At each validation, writes ``<run dir>/plots/distribution_<iteration>.png`` and logs it.

    For 1-D data the plot shows the real density, a histogram of generated samples and the
    discriminator's output across x (its decision boundary, as the TF1 tutorial draws it):
    D's probability for logit objectives, the critic score for Wasserstein ones. For N-D data
    it shows histograms of real vs generated values per dimension.

    Args:
        num_samples: generated samples per plot.
    """

    def __init__(self, num_samples: int = 2000):
        self.num_samples = num_samples

    @rank_zero_only
    def on_validation_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        data = trainer.datamodule
        real = getattr(data, "val_data", None)
        if trainer.sanity_checking or real is None or real.dim() != 2:
            return
        real = real.float().cpu()
        fake = pl_module.sample(self.num_samples, seed=pl_module.hparams.seed).float().cpu()
        fig, axes = plot_samples(fake, real)
        if real.shape[1] == 1:
            self.draw_density_and_discriminator(axes[0], pl_module, data, real, fake)
        axes[0].set_title(f"{type(pl_module).__name__}, iteration {pl_module.iteration}")
        path = Path(trainer.default_root_dir) / "plots" / f"distribution_{pl_module.iteration:07d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.tight_layout()
        fig.savefig(path, dpi=90)
        plt.close(fig)
        log_image_file(trainer, "val/distribution", path, step=pl_module.iteration)

    @torch.no_grad()
    def draw_density_and_discriminator(self, ax, pl_module, data, real, fake) -> None:
        lo, hi = torch.cat([real, fake]).aminmax()
        pad = 0.25 * float(hi - lo)
        x = torch.linspace(float(lo) - pad, float(hi) + pad, 400).unsqueeze(1)
        if hasattr(data, "density"):
            ax.plot(x.squeeze(1), data.density(x).squeeze(1), "k--", lw=1.5, label="real density")
        was_training = pl_module.discriminator.training
        pl_module.discriminator.eval()
        out = pl_module.discriminator(x.to(pl_module.device)).float().cpu().flatten()
        pl_module.discriminator.train(was_training)
        twin = ax.twinx()
        if pl_module.outputs_logits:
            twin.plot(x.squeeze(1), torch.sigmoid(out), "r", label="D(x)")
            twin.set_ylim(0, 1)
            twin.set_ylabel("D(x) = P(real)")
        else:
            twin.plot(x.squeeze(1), out, "r", label="critic f(x)")
            twin.set_ylabel("critic score f(x)")
        ax.set_xlim(float(x[0]), float(x[-1]))
        ax.legend(loc="upper left")
        twin.legend(loc="upper right")
