"""Figures of low-dimensional data: generated against real samples, and what the discriminator believes."""

from typing import Callable

import matplotlib

matplotlib.use("Agg")  # no display on compute nodes
import matplotlib.pyplot as plt
import torch
from torch import Tensor


def plot_samples(fake: Tensor, real: Tensor | None = None, max_dims: int = 6):
    """A figure of generated vs real vectors ``[n, d]``: histograms per dimension (up to
    ``max_dims``), or a scatter plot for d = 2. Returns (figure, list of axes)."""
    d = fake.shape[1]
    if d == 2:
        fig, ax = plt.subplots(figsize=(5.5, 5))
        ax.scatter(*fake.T, s=3, alpha=0.5, c="tab:orange", label="generated")
        if real is not None:  # on top: the modes stay visible under a cloud of samples
            ax.scatter(*real.T, s=2, alpha=0.6, c="tab:blue", label="real")
        ax.legend(loc="upper right", markerscale=3)
        ax.set_aspect("equal")
        return fig, [ax]
    drawn = min(d, max_dims)
    fig, axes = plt.subplots(1, drawn, figsize=(4 * drawn, 3.2), squeeze=False)
    for j, ax in enumerate(axes[0]):
        lo, hi = (torch.cat([fake[:, j], real[:, j]]) if real is not None else fake[:, j]).aminmax()
        bins = torch.linspace(float(lo), float(hi) + 1e-6, 50).numpy()
        if real is not None:
            ax.hist(real[:, j].numpy(), bins=bins, density=True, alpha=0.5, label="real")
        ax.hist(fake[:, j].numpy(), bins=bins, density=True, alpha=0.5, label="generated")
        ax.set_title(f"dimension {j}" if d > 1 else "")
        ax.set_xlabel("x")
    axes[0][0].legend()
    if d > drawn:
        fig.suptitle(f"first {drawn} of {d} dimensions")
    return fig, list(axes[0])


@torch.no_grad()
def discriminator_output(discriminator: Callable, x: Tensor, outputs_logits: bool) -> Tensor:
    """D's belief at points ``x [n, d]``, on the CPU: P(real) = sigmoid(logit), or the critic score.

    ``discriminator(x[, labels])`` gives D's raw output for each point (a model's ``discriminator_output``,
    or a network). A class-conditional D shows, at each point, its output for the class it believes most.
    """
    network = getattr(discriminator, "__self__", discriminator)  # a model's method: the model holds the weights
    was_training = network.training
    network.eval()
    device = next(network.parameters()).device
    x = x.to(device)
    classes = getattr(network, "num_classes", None)
    if classes:
        out = torch.stack([discriminator(x, torch.full((len(x),), c, device=device)) for c in range(classes)])
        out = out.amax(0).float().cpu().flatten()
    else:
        out = discriminator(x).float().cpu().flatten()
    network.train(was_training)
    return torch.sigmoid(out) if outputs_logits else out


def draw_density_and_discriminator(ax, discriminator: Callable, outputs_logits: bool, real: Tensor, fake: Tensor,
                                   density=None) -> None:
    """1-D: the real density (when known) and D's output across x, on a twin axis."""
    lo, hi = torch.cat([real, fake]).aminmax()
    pad = 0.25 * float(hi - lo)
    x = torch.linspace(float(lo) - pad, float(hi) + pad, 400).unsqueeze(1)
    if density is not None:
        ax.plot(x.squeeze(1), density(x).squeeze(-1), "k--", lw=1.5, label="real density")
    out = discriminator_output(discriminator, x, outputs_logits)
    twin = ax.twinx()
    twin.plot(x.squeeze(1), out, "r", label="D(x)" if outputs_logits else "critic f(x)")
    if outputs_logits:
        twin.set_ylim(0, 1)
    twin.set_ylabel("D(x) = P(real)" if outputs_logits else "critic score f(x)")
    ax.set_xlim(float(x[0]), float(x[-1]))
    ax.legend(loc="upper left")
    twin.legend(loc="upper right")


def draw_critic_heatmap(ax, discriminator: Callable, outputs_logits: bool, real: Tensor, fake: Tensor,
                        resolution: int = 150) -> None:
    """2-D: D's output over the plane behind the scatter of real and generated samples."""
    both = torch.cat([real, fake])
    lo, hi = both.quantile(0.005, dim=0), both.quantile(0.995, dim=0)
    pad = 0.15 * (hi - lo) + 0.1
    xs = torch.linspace(float(lo[0] - pad[0]), float(hi[0] + pad[0]), resolution)
    ys = torch.linspace(float(lo[1] - pad[1]), float(hi[1] + pad[1]), resolution)
    grid = torch.stack(torch.meshgrid(xs, ys, indexing="xy"), dim=-1).reshape(-1, 2)
    out = discriminator_output(discriminator, grid, outputs_logits).reshape(resolution, resolution)
    image = ax.imshow(out.numpy(), origin="lower", extent=(float(xs[0]), float(xs[-1]), float(ys[0]), float(ys[-1])),
                      cmap="Greys", alpha=0.6, aspect="auto", zorder=0, vmin=0 if outputs_logits else None,
                      vmax=1 if outputs_logits else None)
    ax.figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="D(x) = P(real)" if outputs_logits else "critic f(x)")
    ax.set_xlim(float(xs[0]), float(xs[-1]))
    ax.set_ylim(float(ys[0]), float(ys[-1]))
