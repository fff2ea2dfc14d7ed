"""``python -m gan_lightning sample --ckpt_path CKPT --num_samples N --output FILE [--seed S] [--labels L]``.

Writes ``.pt`` (a tensor: images ``[N, C, H, W]`` in [0, 1], vectors ``[N, dim]`` in data
units), ``.npy`` (the same as a NumPy array) or ``.png`` (a grid of images, or a plot of vectors:
1-D and 2-D samples over the real data and the discriminator's output, when the checkpoint says
what its data was). The EMA generator is used when the checkpoint has one. A class-conditional
model samples the classes ``--labels`` names (``3``, ``0,1,2`` or ``all``, the default): ``.pt``
then holds ``{"samples": ..., "labels": ...}`` and ``.npy`` gets a ``<name>_labels.npy`` beside it.
"""

import importlib
import io
import pickle
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import torch
from jsonargparse import ArgumentParser
from torch import Tensor, nn

from gan_lightning.checkpoints import read_checkpoint
from gan_lightning.errors import ConfigError
from gan_lightning.latent import Latent, balanced_labels, check_label_range, sample_batches
from gan_lightning.migration import migrate_checkpoint
from gan_lightning.runs import newest_last_checkpoint

if TYPE_CHECKING:  # Lightning is imported only where a command needs more than the generator
    from lightning.pytorch import LightningDataModule

    from gan_lightning.models import GANModule

FORMATS = (".pt", ".npy", ".png")


class SavedGenerator:
    """A checkpoint's generator (its EMA when it has one) with the noise it was trained on: what
    ``GANModule`` offers for drawing samples (``noise``, ``sample``, ``sample_batches``, the same
    samples for the same seed), built without Lightning."""

    def __init__(self, net: nn.Module, hparams: dict, device: str = "cpu"):
        self.device = torch.device(device)
        self.net, self.hparams, self.latent_dim = net.to(self.device).eval(), hparams, net.latent_dim
        self.num_classes = getattr(net, "num_classes", None)
        latent = hparams.get("latent") or {}
        self.latent = Latent(**latent) if isinstance(latent, dict) else latent

    def noise(self, n: int, generator: Optional[torch.Generator] = None) -> Tensor:
        return self.latent(n, self.latent_dim, generator, self.device)

    @torch.no_grad()
    def sample(self, noise: Tensor, labels: Optional[Tensor] = None) -> Tensor:
        if labels is None:
            return self.net(noise.to(self.device))
        return self.net(noise.to(self.device), labels.to(self.device))

    def sample_batches(self, n: int, seed: int, batch_size: int = 256, labels: Optional[Tensor] = None):
        return sample_batches(self, n, seed, batch_size, labels)


def load_generator(ckpt_path: Path, device: str = "cpu") -> SavedGenerator | None:
    """The generator of a checkpoint ``fit`` wrote, from its class_path and weights alone; ``None``
    when the checkpoint does not describe it that way (then ``load_model`` rebuilds the whole model)."""
    checkpoint = migrate_checkpoint(read_checkpoint(ckpt_path))
    hparams = checkpoint.get("hyper_parameters") or {}
    spec = hparams.get("generator")
    if not isinstance(spec, dict) or not isinstance(spec.get("class_path"), str):
        return None
    prefix = "generator_ema." if hparams.get("ema") else "generator."
    try:
        module, _, name = spec["class_path"].rpartition(".")
        net = getattr(importlib.import_module(module), name)(**(spec.get("init_args") or {}))
        net.load_state_dict({k[len(prefix):]: v for k, v in checkpoint["state_dict"].items() if k.startswith(prefix)})
    except (ImportError, AttributeError, TypeError, ValueError, RuntimeError):
        return None  # arguments that need jsonargparse to build them, or keys of another layout
    return SavedGenerator(net, hparams, device)


def load_model(ckpt_path: str | Path, device: str = "cpu", runs_dir: str | Path = "runs") -> "GANModule":
    """The model of a checkpoint; ``last`` means the newest ``last.ckpt`` under ``runs_dir``."""
    import gan_lightning.data  # noqa: F401  the data module classes a checkpoint names must be imported to load it
    from gan_lightning.models import GANModule

    ckpt_path = checkpoint_path(ckpt_path, runs_dir)
    # One line, not torch.load's traceback, for a file that is no checkpoint; then the arguments of an
    # earlier version read as today's, before Lightning builds the model from them.
    checkpoint = migrate_checkpoint(read_checkpoint(ckpt_path))
    buffer = io.BytesIO()
    torch.save(checkpoint, buffer)
    buffer.seek(0)
    try:
        return objective_class(checkpoint, GANModule).load_from_checkpoint(buffer, map_location=device).eval()
    except (RuntimeError, pickle.UnpicklingError, EOFError, KeyError) as e:
        raise ConfigError(f"--ckpt_path: {ckpt_path} is not a readable gan_lightning checkpoint "
                          f"({type(e).__name__}: {str(e)[:80] or 'empty'})") from e


def objective_class(checkpoint: dict, base: type) -> type:
    """The class a CLI-made checkpoint names (``_class_path``): Lightning 2.6 drops that key before it builds the
    model from ``base.load_from_checkpoint``, which would otherwise give a ``base`` without the objective's losses."""
    class_path = (checkpoint.get("hyper_parameters") or {}).get("_class_path")
    if not class_path:
        return base
    module, _, name = class_path.rpartition(".")
    cls = getattr(importlib.import_module(module), name, None)
    if not (isinstance(cls, type) and issubclass(cls, base)):
        raise ConfigError(f"--ckpt_path: the checkpoint's model {class_path} is not a {base.__name__}")
    return cls


def checkpoint_path(ckpt_path: str | Path, runs_dir: str | Path = "runs") -> Path:
    """The checkpoint file ``ckpt_path`` names; ``last`` means the newest ``last.ckpt`` under ``runs_dir``."""
    ckpt_path = newest_last_checkpoint(Path(runs_dir)) if str(ckpt_path) == "last" else Path(ckpt_path)
    if not ckpt_path.is_file():
        raise ConfigError(f"--ckpt_path: no checkpoint file at {ckpt_path}")
    return ckpt_path


def draw(model: "GANModule | SavedGenerator", num_samples: int, seed: int, batch_size: int = 256,
         labels: Optional[Tensor] = None) -> torch.Tensor:
    """``num_samples`` samples: images mapped to [0, 1], vectors in data units, on the CPU; a
    conditional model draws them of ``labels`` ``[num_samples]`` (default: balanced)."""
    batches = model.sample_batches(num_samples, seed, batch_size, labels)
    samples = torch.cat([batch.float().cpu() for batch in batches])
    return (samples.clamp(-1, 1) + 1) / 2 if samples.dim() == 4 else samples


def parse_labels(text: str | None, num_classes: int | None, n: int) -> Tensor | None:
    """``--labels``: ``3``, ``0,1,2`` (the ``n`` samples shared out in turn) or ``all`` (balanced);
    int64 ``[n]``. ``None`` for an unconditional model; a conditional one defaults to ``all``."""
    if not num_classes:
        if text is not None:
            raise ConfigError(f"--labels {text}: this checkpoint's model is unconditional (no num_classes); "
                              "drop --labels")
        return None
    if text is None or text == "all":
        return balanced_labels(n, num_classes)
    try:
        classes = torch.tensor([int(part) for part in text.split(",")])
    except ValueError:
        raise ConfigError(f"--labels: expected a class, a comma-separated list of classes or 'all', got {text!r}") from None
    check_label_range(classes, num_classes)
    return classes[torch.arange(n) % len(classes)]


def load_datamodule(ckpt_path: Path) -> "LightningDataModule":
    """The data module a checkpoint was trained on, rebuilt from the arguments ``fit`` saved in it."""
    from lightning.pytorch import LightningDataModule

    import gan_lightning.data  # noqa: F401  the data module classes a checkpoint names
    checkpoint = torch.load(ckpt_path, map_location="cpu", weights_only=True)
    hparams = checkpoint.get("datamodule_hyper_parameters") or {}
    if "_instantiator" not in hparams:
        raise ConfigError(f"--ckpt_path: {ckpt_path} does not say which data it was trained on (written before "
                          "gan_lightning 0.2, or not by its CLI)")
    return LightningDataModule.load_from_checkpoint(ckpt_path, map_location="cpu")


def write(samples: torch.Tensor, output: Path, model: "GANModule | None" = None,
          data: "LightningDataModule | None" = None, labels: Tensor | None = None) -> None:
    """Writes ``samples`` to ``output``; a plot of vectors shows the real data too when ``data`` is given.

    With ``labels``: ``.pt`` holds ``{"samples": tensor, "labels": tensor}``, ``.npy`` is written with
    a ``<name>_labels.npy`` beside it, and a grid has one column per class drawn.
    """
    output.parent.mkdir(parents=True, exist_ok=True)
    if output.suffix == ".pt":
        torch.save(samples if labels is None else {"samples": samples, "labels": labels}, output)
    elif output.suffix == ".npy":
        import numpy as np

        np.save(output, samples.numpy())
        if labels is not None:
            np.save(labels_path(output), labels.numpy())
    elif samples.dim() == 4:
        from torchvision.utils import save_image

        columns = len(labels.unique()) if labels is not None else int(len(samples) ** 0.5)
        save_image(samples, output, nrow=max(1, columns))
    else:
        from gan_lightning.plots import draw_critic_heatmap, draw_density_and_discriminator, plot_samples, plt

        real = data.reference("val").float() if data is not None else None
        fig, axes = plot_samples(samples.flatten(1), real)
        if real is not None and real.shape[1] == 1:
            draw_density_and_discriminator(axes[0], model.discriminator_output, model.outputs_logits, real, samples,
                                           getattr(data, "density", None))
        elif real is not None and real.shape[1] == 2:
            draw_critic_heatmap(axes[0], model.discriminator_output, model.outputs_logits, real, samples)
        fig.tight_layout()
        fig.savefig(output, dpi=90)
        plt.close(fig)


def labels_path(output: Path) -> Path:
    """Where the labels of ``.npy`` samples go: ``samples.npy`` -> ``samples_labels.npy``."""
    return output.with_name(f"{output.stem}_labels.npy")


def sample_main(args: list[str]) -> None:
    parser = ArgumentParser(prog="python -m gan_lightning sample", description=__doc__)
    parser.add_argument("--ckpt_path", type=str, required=True, help="Checkpoint written by fit, or 'last'.")
    parser.add_argument("--runs_dir", type=str, default="runs", help="Where 'last' looks for the newest run.")
    parser.add_argument("--num_samples", type=int, default=64, help="How many samples to draw.")
    parser.add_argument("--output", type=str, required=True, help="File to write: .pt, .npy or .png.")
    parser.add_argument("--seed", type=int, default=0, help="Seed of the noise; the same seed gives the same samples.")
    parser.add_argument("--device", type=str, default="cpu", help="Device to sample on, e.g. cpu or cuda.")
    parser.add_argument("--labels", type=Optional[str], default=None,
                        help="Class-conditional models: a class (3), classes shared out in turn (0,1,2) or all "
                             "(balanced, the default).")
    cfg = parser.parse_args(args)
    output = Path(cfg.output)
    if output.suffix not in FORMATS:
        raise ConfigError(f"--output must end in one of {', '.join(FORMATS)}, got {output}")
    if cfg.num_samples < 1:
        raise ConfigError(f"--num_samples must be >= 1, got {cfg.num_samples}")
    ckpt_path = checkpoint_path(cfg.ckpt_path, cfg.runs_dir)
    model = load_generator(ckpt_path, cfg.device) or load_model(ckpt_path, cfg.device)
    labels = parse_labels(None if cfg.labels is None else str(cfg.labels), model.num_classes, cfg.num_samples)
    samples = draw(model, cfg.num_samples, cfg.seed, labels=labels)
    data = None
    if output.suffix == ".png" and samples.dim() == 2 and samples.shape[1] <= 2:
        # A plot of vectors shows the discriminator and the real data too: the whole model is needed.
        model = model if not isinstance(model, SavedGenerator) else load_model(ckpt_path, cfg.device)
        try:  # the real data beside the samples, when the checkpoint says what it was
            data = load_datamodule(ckpt_path)
        except ConfigError:
            pass
    write(samples, output, model, data, labels)
    classes = f" of classes {cfg.labels or 'all'}" if labels is not None else ""
    print(f"wrote {len(samples)} samples {tuple(samples.shape[1:])}{classes} to {output}")
