"""The image configs on a GPU: mixed precision stays finite, compile, speed against a plain loop.

    bash benchmarks/gpu_check.sh          # on a CUDA machine: makes images, runs this, prints the table
    python -m benchmarks.gpu_check --data_dir DIR [--iterations 200] [--out FOLDER] [-- CLI arguments]

Each row is one ``fit`` of a config on the images in ``--data_dir`` for ``--iterations`` iterations, logger,
checkpoints and validation off: ``wgangp_anime.yaml`` (the anime DCGANs at 64x64, n_critic 5, gradient
penalty 10) and ``sngan_cifar10.yaml`` (the SNGAN ResNets at 32x32, hinge, spectral norm, n_critic 5), in
float32, 16-mixed and bf16-mixed, at each of ``--batch_sizes``; ``compile`` on as well as off at the first
batch size (compiling takes most of a short run's time, so the larger batches run eager). A run passes when every loss
and penalty stayed finite (the module stops a run on the first NaN) and, under 16-mixed, the
GradScaler's scale stayed within [1, 2^24] (a scale that collapses means overflowing gradients).
Images per second (real images through the critic) are timed over the second half of the run,
after compilation and warm-up; before each precision's rows, the plain loop (`benchmarks/plain_loop.py`,
eager, autocast and a GradScaler as written by hand) runs the same networks the same number of
iterations at that precision, and each row's ratio is against the plain loop of its own precision.
Peak memory: CUDA's max allocated in each run.
"""

import argparse
import tempfile
import time
from pathlib import Path

import torch
from lightning.pytorch import Callback

from benchmarks.arguments import ROOT, output_folder, split_run_arguments
from benchmarks.plain_loop import PlainLoop, build

# The configs checked, with the image size their networks take (the images in --data_dir are resized to it).
CONFIGS = {"wgangp_anime": 64, "sngan_cifar10": 32}


def config_path(config: str) -> str:
    return str(ROOT / "configs" / f"{config}.yaml")


def data_args(config: str, data_dir: str, batch_size: int) -> list[str]:
    """Arguments that give ``config`` the generated images in ``data_dir``, at its networks' size, in batches of
    ``batch_size``, and turn its metrics off."""
    return ["--data", "gan_lightning.data.ImageFolderDataModule",
            "--data.init_args.data_dir", data_dir, "--data.init_args.download", "false",
            "--data.init_args.image_size", str(CONFIGS[config]),
            "--data.init_args.val_size", "64", "--data.init_args.batch_size", str(batch_size),
            "--model.init_args.metrics", "null"]


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


class Watch(Callback):
    """Times the second half of the run and follows the losses and the 16-mixed loss scale."""

    def __init__(self, iterations: int):
        self.iterations, self.start, self.seconds = iterations, None, None
        self.scales, self.last = [], {}

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        scaler = getattr(trainer.precision_plugin, "scaler", None)
        if scaler is not None:
            self.scales.append(float(scaler.get_scale()))
        if pl_module.iteration == self.iterations // 2:
            sync(pl_module.device)
            self.start = time.perf_counter()
        if pl_module.iteration == self.iterations:
            sync(pl_module.device)
            self.seconds = time.perf_counter() - self.start
            self.last = {k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith("train/")}


def framework_row(config: str, data: list[str], precision: str, compile: bool, iterations: int, accelerator: str,
                  extra: list[str]) -> dict:
    from gan_lightning.cli import GANCLI

    if accelerator == "cuda":
        torch.cuda.reset_peak_memory_stats()
    # The run writes nothing (no logger, no checkpoint): its run folder goes in a temporary root.
    with tempfile.TemporaryDirectory(prefix="gpu-check-") as root:
        cli = GANCLI(args=["--config", config_path(config), *data, "--trainer.accelerator", accelerator,
                           "--trainer.devices", "1", "--trainer.precision", precision, "--model.init_args.compile",
                           str(compile).lower(), "--trainer.logger", "false",
                           "--trainer.enable_checkpointing", "false", "--trainer.enable_progress_bar", "false",
                           "--trainer.enable_model_summary", "false", "--trainer.limit_val_batches", "0",
                           "--iterations", str(iterations), "--trainer.default_root_dir", root,
                           "--trainer.log_every_n_steps", "10", *extra], run=False)
        watch = Watch(iterations)
        cli.trainer.callbacks.append(watch)
        error = None
        try:
            cli.trainer.fit(cli.model, cli.datamodule)
        except Exception as e:  # a diverged run is a failed row, not a crashed script
            error = f"{type(e).__name__}: {str(e)[:120]}"
    images = cli.datamodule.batch_size * cli.model.n_critic * (iterations - iterations // 2)
    scales_ok = all(1.0 <= s <= 2.0 ** 24 for s in watch.scales)
    finite = error is None and all(torch.isfinite(torch.tensor(v)) for v in watch.last.values())
    return {"config": config, "batch": cli.datamodule.batch_size, "precision": precision,
            "run": f"framework {precision}, compile {'on' if compile else 'off'}",
            "img_s": images / watch.seconds if watch.seconds else float("nan"),
            "peak_mb": torch.cuda.max_memory_allocated() / 2**20 if accelerator == "cuda" else float("nan"),
            "finite": finite, "scale": f"{min(watch.scales):.0f}..{max(watch.scales):.0f}" if watch.scales else "-",
            "ok": finite and scales_ok,
            "losses": ", ".join(f"{k.removeprefix('train/')} {v:.3g}" for k, v in watch.last.items()
                                if k in ("train/d_loss", "train/g_loss", "train/gp")) or (error or "-")}


def plain_row(config: str, data_arguments: list[str], precision: str, iterations: int, accelerator: str,
              extra: list[str]) -> dict:
    if accelerator == "cuda":
        torch.cuda.reset_peak_memory_stats()
    model, data, device, precision = build(config_path(config), [
        *data_arguments, "--trainer.accelerator", accelerator, "--trainer.devices", "1", "--trainer.precision", precision,
        *extra])
    loop = PlainLoop(model, data, device, precision=precision)
    for _ in range(iterations // 2):
        loop.step()
    sync(device)
    start = time.perf_counter()
    for _ in range(iterations - iterations // 2):
        loop.step()
    sync(device)
    seconds = time.perf_counter() - start
    images = data.batch_size * model.n_critic * (iterations - iterations // 2)
    return {"config": config, "batch": data.batch_size, "precision": precision, "run": f"plain loop {precision}, eager",
            "img_s": images / seconds,
            "peak_mb": torch.cuda.max_memory_allocated() / 2**20 if accelerator == "cuda" else float("nan"),
            "finite": True, "scale": "-", "ok": True, "losses": "-"}


def table(rows: list[dict], device: str) -> str:
    key = lambda r: (r["config"], r["batch"], r["precision"])  # noqa: E731
    plain = {key(r): r["img_s"] for r in rows if r["run"].startswith("plain")}
    lines = [f"Device: {device}", "",
             "| config | batch | run | images/s | / plain loop of its precision | peak memory (MiB) | "
             "16-mixed loss scale (min..max) | last losses | passes |", "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        ratio = r["img_s"] / plain.get(key(r), float("nan"))
        lines.append(f"| {r['config']} | {r['batch']} | {r['run']} | {r['img_s']:.0f} | {ratio:.2f} | {r['peak_mb']:.0f} | "
                     f"{r['scale']} | {r['losses']} | {'yes' if r['ok'] else 'NO'} |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data_dir", required=True, help="a folder of images (gpu_check.sh makes one)")
    parser.add_argument("--configs", nargs="+", choices=list(CONFIGS), default=list(CONFIGS))
    parser.add_argument("--iterations", type=int, default=200)
    parser.add_argument("--precisions", nargs="+", default=["32-true", "16-mixed", "bf16-mixed"])
    parser.add_argument("--compile", nargs="+", choices=["off", "on"], default=["off", "on"])
    parser.add_argument("--batch_sizes", nargs="+", type=int, default=[64, 256],
                        help="real images per critic update; on an H100 mixed precision paid only from a few hundred")
    parser.add_argument("--accelerator", default="cuda", help="cuda; cpu only to check that the script runs")
    parser.add_argument("--out", type=Path, default=None, help="folder for table.md")
    own, cli_arguments = split_run_arguments(argv)
    args = parser.parse_args(own)
    if args.accelerator == "cuda" and not torch.cuda.is_available():
        raise SystemExit("gpu_check: no CUDA device here (torch.cuda.is_available() is False)")
    rows = []
    for config in args.configs:
        for batch_size in args.batch_sizes:
            data = data_args(config, args.data_dir, batch_size)
            for precision in args.precisions:
                rows.append(plain_row(config, data, precision, args.iterations, args.accelerator, cli_arguments))
                print(rows[-1], flush=True)
                for compile in args.compile if batch_size == args.batch_sizes[0] else ["off"]:
                    rows.append(framework_row(config, data, precision, compile == "on", args.iterations,
                                              args.accelerator, cli_arguments))
                    print(rows[-1], flush=True)
    device = torch.cuda.get_device_name() if args.accelerator == "cuda" else "cpu"
    text = table(rows, f"{device}, torch {torch.__version__}; each config's own critic updates per iteration (5)")
    print(text)
    (output_folder(args.out, "gpu-check") / "table.md").write_text(text + "\n")
    if not all(r["ok"] for r in rows):
        raise SystemExit("gpu_check: a run did not pass (see the table)")


if __name__ == "__main__":
    main()
