"""Pictures of low-dimensional data at each validation: real vs generated, and what D believes."""

from pathlib import Path

from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.utilities import rank_zero_only

from gan_lightning.callbacks.logging import log_image_file
from gan_lightning.plots import draw_critic_heatmap, draw_density_and_discriminator, plot_samples, plt


class DistributionPlot(Callback):
    """At each validation, writes ``<run dir>/plots/distribution_<iteration>.png`` and logs it.

    For 1-D data the plot shows the real density, a histogram of generated samples and the
    discriminator's output across x (its decision boundary, as the TF1 tutorial draws it):
    D's probability for logit objectives, the critic score for Wasserstein ones. For 2-D data it
    scatters real and generated samples over a heat map of the discriminator's output. For N-D
    data it shows histograms of real vs generated values per dimension.

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
        fake = pl_module.sample(self.num_samples, seed=pl_module.latent.seed).float().cpu()
        fig, axes = plot_samples(fake, real)
        if real.shape[1] == 1:
            draw_density_and_discriminator(axes[0], pl_module.discriminator_output, pl_module.outputs_logits, real, fake,
                                           getattr(data, "density", None))
        elif real.shape[1] == 2:
            draw_critic_heatmap(axes[0], pl_module.discriminator_output, pl_module.outputs_logits, real, fake)
        axes[0].set_title(f"{type(pl_module).__name__}, iteration {pl_module.iteration}")
        path = Path(trainer.default_root_dir) / "plots" / f"distribution_{pl_module.iteration:07d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.tight_layout()
        fig.savefig(path, dpi=90)
        plt.close(fig)
        log_image_file(trainer, "val/distribution", path, step=pl_module.iteration)

