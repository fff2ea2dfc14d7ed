"""The yardstick of `speed.py`: a config's GAN trained by a plain PyTorch loop, no framework around it.

    python -m benchmarks.plain_loop --config configs/nsgan_mnist.yaml --iterations 200 [-- CLI arguments]

The networks, optimizers, loss terms (regularizers included) and data batches are the config's,
built by the CLI's own parser; the loop is what a researcher would write by hand: n_critic
discriminator updates on fresh real data, one generator update, nothing else (no EMA, no logging,
no progress bar, no checkpoint). The loop runs at the precision the arguments give the trainer
(``--trainer.precision bf16-mixed``: autocast to bfloat16; ``16-mixed``: autocast to float16 with a
GradScaler per optimizer), as a researcher would write mixed precision by hand.
"""

import argparse
import contextlib
import tempfile
import time

import torch

from benchmarks.arguments import split_run_arguments

# Lightning's precision names -> the autocast dtype (None: float32 throughout).
PRECISIONS = {"32-true": None, "32": None, "bf16-mixed": torch.bfloat16, "16-mixed": torch.float16}


class PlainLoop:
    """The GAN iteration without a framework, over ``model``'s networks on ``device``.

    ``ema``: also keep the model's EMA generator (its own update; ``benchmarks.quality`` measures
    samples of it). ``speed.py``'s yardstick has none, as a hand-written loop would not.
    """

    def __init__(self, model, datamodule, device, ema: bool = False, precision: str = "32-true"):
        if precision not in PRECISIONS:
            raise ValueError(f"precision {precision!r}: the plain loop runs one of {sorted(PRECISIONS)}")
        self.objective = model.to(device)  # its loss terms and its networks
        self.generator, self.discriminator = self.objective.generator, self.objective.discriminator
        (self.opt_g, self.opt_d), _ = self.objective.configure_optimizers()
        self.datamodule, self.device = datamodule, device
        self.batches = iter(datamodule.train_dataloader())
        self.critic_steps, self.iterations, self.ema = 0, 0, ema
        self.dtype = PRECISIONS[precision]
        scaling = self.dtype == torch.float16
        self.scaler_d = torch.amp.GradScaler(device.type, enabled=scaling)
        self.scaler_g = torch.amp.GradScaler(device.type, enabled=scaling)

    def autocast(self):
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.dtype)

    def next_batch(self):
        try:
            batch = next(self.batches)
        except StopIteration:
            self.batches = iter(self.datamodule.train_dataloader())
            batch = next(self.batches)
        batch = batch.to(self.device, non_blocking=True)
        return self.datamodule.on_after_batch_transfer(batch, 0) if hasattr(self.datamodule, "on_after_batch_transfer") else batch

    def step(self):
        """The iterations of one batch (the data's ``iterations_per_batch``, else one)."""
        batch = self.next_batch()
        for part in batch.chunk(getattr(self.datamodule, "iterations_per_batch", 1)):
            self.train_iteration(part)

    def train_iteration(self, batch):
        reals = batch.chunk(self.objective.n_critic)
        for i, real in enumerate(reals):
            with torch.set_grad_enabled(i == len(reals) - 1), self.autocast():
                fake = self.generator(self.objective.noise(len(real)))
            with self.autocast():
                terms = self.objective.critic_loss(real, fake.detach(), self.critic_steps)
            self.critic_steps += 1
            self.opt_d.zero_grad(set_to_none=True)
            self.scaler_d.scale(terms["d_loss"]).backward()
            self.scaler_d.step(self.opt_d)
            self.scaler_d.update()
            self.objective.after_discriminator_step()
        self.discriminator.requires_grad_(False)
        with self.autocast():
            fake_score = self.discriminator(fake)
            if self.objective.compares_with_real:  # a relativistic loss reads D's scores of the real batch too
                loss = self.objective.generator_loss(fake_score, self.discriminator(real))
            else:
                loss = self.objective.generator_loss(fake_score)
        self.opt_g.zero_grad(set_to_none=True)
        self.scaler_g.scale(loss).backward()
        self.scaler_g.step(self.opt_g)
        self.scaler_g.update()
        self.discriminator.requires_grad_(True)
        if self.ema and self.objective.ema is not None:
            self.objective.ema.update(self.objective.generator_ema, self.generator, self.objective.iteration)
        self.objective.iteration += 1
        self.iterations += 1


def build(config: str, extra: list[str]):
    """(model, data module, device, precision) of ``config`` as ``fit`` would build them."""
    from gan_lightning.callbacks import CPUThreads
    from gan_lightning.cli import GANCLI

    # Building the trainer claims a run folder; the loop writes nothing, so the folder goes in a temporary root.
    with tempfile.TemporaryDirectory(prefix="plain-loop-") as root:
        cli = GANCLI(args=["--config", config, "--trainer.logger", "false", "--trainer.enable_checkpointing", "false",
                           "--trainer.enable_progress_bar", "false", "--trainer.limit_val_batches", "0",
                           "--trainer.default_root_dir", root, *extra], run=False)
    cli.datamodule.prepare_data()
    cli.datamodule.setup("fit")
    for callback in cli.trainer.callbacks:  # --cpu.threads: the loop runs on the threads fit would
        if isinstance(callback, CPUThreads):
            callback.setup(cli.trainer, cli.model, "fit")
    return cli.model, cli.datamodule, cli.trainer.strategy.root_device, str(cli.trainer.precision)


def main(argv=None):
    own, extra = split_run_arguments(argv)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", required=True)
    parser.add_argument("--iterations", type=int, required=True)
    args = parser.parse_args(own)
    model, data, device, precision = build(args.config, extra)
    torch.manual_seed(0)
    loop = PlainLoop(model, data, device, precision=precision)
    start = time.perf_counter()
    while loop.iterations < args.iterations:
        loop.step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    print(f"plain loop ({precision}): {args.iterations} iterations in {time.perf_counter() - start:.2f} s")


if __name__ == "__main__":
    main()
