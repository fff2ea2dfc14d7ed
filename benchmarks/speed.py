"""What the framework costs: its training iterations against a plain PyTorch loop, in one process.

    python benchmarks/speed.py --config configs/nsgan_gaussian.yaml
    python benchmarks/speed.py --config configs/wgangp_mnist.yaml -- --data.init_args.data_dir data/mnist5k --data.init_args.download false

One Lightning `fit` runs the config (no validation, no logger, no checkpoints: the training loop
alone). Every `--block` iterations a callback pauses it and runs the same number of iterations of
a plain loop written here: a copy of the same networks and optimizers, the same objective's loss
terms, batches from its own iterator over the same data module, on the same device. Blocks
alternate after `--warmup` iterations, so both see the same machine state. Printed: the ratio
framework / plain (median and interquartile range over block pairs), images/s of each, the share
of the framework's iteration spent waiting for the next batch, and peak memory.
"""

import argparse
import copy
import resource
import statistics
import sys
import time
from pathlib import Path

import torch
from lightning.pytorch import Callback

from gan_lightning.cli import GANCLI

ROOT = Path(__file__).resolve().parents[1]


class PlainLoop:
    """The GAN iteration without a framework: n_critic D updates on fresh real data, one G update."""

    def __init__(self, model, datamodule, device):
        self.objective = copy.deepcopy(model).to(device)  # its loss terms; its own networks
        self.generator, self.discriminator = self.objective.generator, self.objective.discriminator
        (self.opt_g, self.opt_d), _ = self.objective.configure_optimizers()
        self.datamodule, self.device = datamodule, device
        self.batches = iter(datamodule.train_dataloader())
        self.iterations, self.critic_steps = 0, 0

    def next_batch(self):
        try:
            batch = next(self.batches)
        except StopIteration:
            self.batches = iter(self.datamodule.train_dataloader())
            batch = next(self.batches)
        batch = batch.to(self.device, non_blocking=True)
        return self.datamodule.on_after_batch_transfer(batch, 0) if hasattr(self.datamodule, "on_after_batch_transfer") else batch

    def noise(self, n):
        return self.objective.noise(n)

    def step(self):
        reals = self.next_batch().chunk(self.objective.n_critic)
        for i, real in enumerate(reals):
            with torch.set_grad_enabled(i == len(reals) - 1):
                fake = self.generator(self.noise(len(real)))
            # The objective's loss terms and regularizers, as the framework's step computes them.
            terms = self.objective.critic_loss(real, fake.detach(), self.critic_steps)
            self.critic_steps += 1
            self.opt_d.zero_grad(set_to_none=True)
            terms["d_loss"].backward()
            self.opt_d.step()
            self.objective.after_discriminator_step()
        self.discriminator.requires_grad_(False)
        loss = self.objective.generator_loss(self.discriminator(fake), real)
        self.opt_g.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_g.step()
        self.discriminator.requires_grad_(True)
        self.objective.update_ema()  # the framework's own EMA update, buffers included
        self.objective.iteration += 1
        self.iterations += 1


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


class Interleave(Callback):
    """Times the framework's iterations and runs plain blocks in between."""

    def __init__(self, plain_loop, warmup, block, rounds):
        self.plain_loop, self.warmup, self.block, self.rounds = plain_loop, warmup, block, rounds
        self.framework, self.plain, self.waiting = [], [], []
        self.warmed_up, self.block_start, self.last_end, self.wait = False, None, None, 0.0

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        sync(pl_module.device)
        now = time.perf_counter()
        if self.last_end is not None:
            self.wait += now - self.last_end  # from the end of one step to the start of the next: fetching data
        if pl_module.iteration == self.warmup or (pl_module.iteration > self.warmup and (pl_module.iteration - self.warmup) % self.block == 0):
            self.block_start, self.wait = now, 0.0

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        sync(pl_module.device)
        self.last_end = time.perf_counter()
        done = pl_module.iteration - self.warmup
        if done <= 0 or done % self.block:
            return
        self.framework.append((self.last_end - self.block_start) / self.block)
        self.waiting.append(self.wait / (self.last_end - self.block_start))
        if not self.warmed_up:
            for _ in range(self.warmup):
                self.plain_loop.step()
            self.warmed_up = True
        sync(pl_module.device)
        start = time.perf_counter()
        for _ in range(self.block):
            self.plain_loop.step()
        sync(pl_module.device)
        self.plain.append((time.perf_counter() - start) / self.block)
        if len(self.plain) >= self.rounds:
            trainer.should_stop = True
        self.last_end = time.perf_counter()  # the plain block is not framework time


def quartiles(values):
    q = statistics.quantiles(values, n=4) if len(values) > 1 else [values[0]] * 3
    return q[0], statistics.median(values), q[2]


def measure(config: str, warmup: int, block: int, rounds: int, extra: list[str]) -> dict:
    cli = GANCLI(args=["--config", config, "--trainer.logger", "false", "--trainer.enable_checkpointing", "false",
                       "--trainer.enable_progress_bar", "false", "--trainer.enable_model_summary", "false",
                       "--trainer.limit_val_batches", "0", "--trainer.max_epochs", "-1", "--trainer.max_steps", "-1",
                       "--plots.num_samples", "1", *extra], run=False)
    model, data, trainer = cli.model, cli.datamodule, cli.trainer
    device = trainer.strategy.root_device
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    data.prepare_data()
    data.setup("fit")
    # The plain loop copies the model before fit, so before --model.compile touches it.
    timer = Interleave(PlainLoop(model, data, device), warmup, block, rounds)
    trainer.callbacks.append(timer)
    trainer.fit(model, data)
    ratios = [f / p for f, p in zip(timer.framework, timer.plain)]
    batch = data.batch_size * model.n_critic  # real samples per iteration
    return {
        "config": Path(config).name,
        "ratio": quartiles(ratios),
        "framework_ms": statistics.median(timer.framework) * 1e3,
        "plain_ms": statistics.median(timer.plain) * 1e3,
        "framework_img_s": batch / statistics.median(timer.framework),
        "plain_img_s": batch / statistics.median(timer.plain),
        "waiting": statistics.median(timer.waiting),
        "peak_mb": (torch.cuda.max_memory_allocated() / 2**20 if device.type == "cuda"
                    else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "device": str(device),
        "rounds": len(ratios),
    }


def table(results: list[dict]) -> str:
    lines = ["| config | framework / plain (median [IQR]) | framework ms/iter | plain ms/iter | framework img/s | "
             "plain img/s | waiting for data | peak memory (MB) | device |", "|" + "---|" * 9]
    for r in results:
        lo, mid, hi = r["ratio"]
        lines.append(f"| {r['config']} | {mid:.3f} [{lo:.3f}, {hi:.3f}] | {r['framework_ms']:.2f} | {r['plain_ms']:.2f} | "
                     f"{r['framework_img_s']:.0f} | {r['plain_img_s']:.0f} | {100 * r['waiting']:.1f}% | "
                     f"{r['peak_mb']:.0f} | {r['device']} |")
    return "\n".join(lines)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    extra = argv[argv.index("--") + 1:] if "--" in argv else []
    argv = argv[:argv.index("--")] if "--" in argv else argv
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", nargs="+", required=True, help="one or more config files")
    parser.add_argument("--warmup", type=int, default=20, help="iterations before timing starts")
    parser.add_argument("--block", type=int, default=20, help="iterations per timed block")
    parser.add_argument("--rounds", type=int, default=10, help="framework/plain block pairs")
    args = parser.parse_args(argv)
    results = [measure(c, args.warmup, args.block, args.rounds, extra) for c in args.config]
    print(table(results))
    print("(peak memory: CUDA max allocated on a GPU; on the CPU the process's peak RSS, framework and plain together)")


if __name__ == "__main__":
    main()
