"""Where does the framework's GPU time go? Scratch diagnosis (not shipped)."""
import sys, time, torch
from benchmarks.gpu_check import Watch, CONFIG, sync
from benchmarks.plain_loop import PlainLoop, build
from gan_lightning.models.base import GANModule

data_dir, iters = sys.argv[1], 200

def framework(precision, extra, nosync=False):
    from gan_lightning.cli import GANCLI
    orig = GANModule.stop_if_diverged
    if nosync:
        GANModule.stop_if_diverged = lambda self, logs: None
    cli = GANCLI(args=["--config", CONFIG, "--data.init_args.data_dir", data_dir, "--trainer.accelerator", "cuda",
                       "--trainer.devices", "1", "--trainer.precision", precision, "--model.init_args.metrics", "null",
                       "--trainer.logger", "false", "--trainer.enable_checkpointing", "false",
                       "--trainer.enable_progress_bar", "false", "--trainer.enable_model_summary", "false",
                       "--trainer.limit_val_batches", "0", "--trainer.max_epochs", "-1",
                       "--trainer.max_steps", str(iters * 6), "--trainer.log_every_n_steps", "50", *extra], run=False)
    w = Watch(iters); cli.trainer.callbacks.append(w)
    cli.trainer.fit(cli.model, cli.datamodule)
    GANModule.stop_if_diverged = orig
    return cli.datamodule.batch_size * 5 * (iters - iters // 2) / w.seconds

def plain(extra):
    model, data, device, _ = build(CONFIG, ["--data.init_args.data_dir", data_dir, "--trainer.accelerator", "cuda",
                                         "--trainer.devices", "1", "--model.init_args.metrics", "null", *extra])
    loop = PlainLoop(model, data, device)
    for _ in range(iters // 2): loop.step()
    sync(device); t = time.perf_counter()
    for _ in range(iters - iters // 2): loop.step()
    sync(device)
    return data.batch_size * 5 * (iters - iters // 2) / (time.perf_counter() - t)

rows = []
def row(name, v, base):
    rows.append(f"| {name} | {v:.0f} | {v / base:.2f} |"); print(rows[-1], flush=True)

b64 = plain([]); row("plain loop, batch 64", b64, b64)
row("framework 32-true, batch 64", framework("32-true", []), b64)
row("framework 32-true, batch 64, no finite check (no per-iteration sync)", framework("32-true", [], nosync=True), b64)
row("framework 32-true, batch 64, no finite check, no EMA", framework("32-true", ["--model.init_args.ema_decay", "0"], nosync=True), b64)
row("framework bf16-mixed, batch 64, no finite check", framework("bf16-mixed", [], nosync=True), b64)
B = ["--data.init_args.batch_size", "256"]
b256 = plain(B); row("plain loop, batch 256", b256, b256)
row("framework 32-true, batch 256", framework("32-true", B), b256)
row("framework bf16-mixed, batch 256", framework("bf16-mixed", B), b256)
row("framework 16-mixed, batch 256", framework("16-mixed", B), b256)
print("\n| run | images/s | / plain loop of its batch size |\n|---|---|---|\n" + "\n".join(rows))
print(torch.cuda.get_device_name(), torch.__version__)
