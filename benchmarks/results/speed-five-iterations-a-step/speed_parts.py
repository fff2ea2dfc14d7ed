"""Where a 1-D iteration's time goes: in-process fits of nsgan_gaussian.yaml with one part off at a time,
steady-state ms/iteration between batch 500 and 2500, against the plain loop in the same process."""
import contextlib, statistics, sys, time
import torch
from lightning.pytorch import Callback

class Stopwatch(Callback):
    marks = {}
    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if pl_module.iteration in (500, 2500):
            Stopwatch.marks[pl_module.iteration] = time.perf_counter()

def fit(extra, patch=None):
    from gan_lightning.cli import GANCLI
    import speed_parts
    marks = speed_parts.Stopwatch.marks = {}
    with patch() if patch else contextlib.nullcontext():
        GANCLI(args=["fit", "--config", "configs/nsgan_gaussian.yaml", "--iterations", "2600",
                     "--trainer.limit_val_batches", "0", "--trainer.logger", "false",
                     "--trainer.default_root_dir", "/tmp/speedparts", "--trainer.callbacks+=speed_parts.Stopwatch", *extra])
    return (marks[2500] - marks[500]) / 2000 * 1e3

def plain():
    sys.path.insert(0, ".")
    from benchmarks.plain_loop import PlainLoop, build
    model, data, device, precision = build("configs/nsgan_gaussian.yaml", [])
    loop = PlainLoop(model, data, device, precision=precision)
    for _ in range(500): loop.step()
    t = time.perf_counter()
    for _ in range(2000): loop.step()
    return (time.perf_counter() - t) / 2000 * 1e3

@contextlib.contextmanager
def no_watch():
    from gan_lightning.divergence import DivergenceWatch
    old = DivergenceWatch.watch; DivergenceWatch.watch = lambda self, i, t: None
    yield
    DivergenceWatch.watch = old

@contextlib.contextmanager
def no_toggle():
    from lightning.pytorch import LightningModule
    old = LightningModule.toggled_optimizer
    LightningModule.toggled_optimizer = lambda self, opt: contextlib.nullcontext()
    yield
    LightningModule.toggled_optimizer = old

VARIANTS = {
    "as shipped": ([], None),
    "no EMA": (["--model.init_args.ema", "null"], None),
    "no logging": (["--trainer.log_every_n_steps", "1000000"], None),
    "no LR decay": (["--trainer.callbacks", "[]", "--trainer.callbacks+=speed_parts.Stopwatch"], None),
    "no progress bar": (["--trainer.enable_progress_bar", "false"], None),
    "no divergence watch": ([], no_watch),
    "no toggle": ([], no_toggle),
}

if __name__ == "__main__":
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 2
    results = {k: [] for k in ["plain", *VARIANTS]}
    for r in range(rounds):
        results["plain"].append(plain())
        for name, (extra, patch) in VARIANTS.items():
            results[name].append(fit(extra, patch))
            print(f"round {r} {name}: {results[name][-1]:.3f} ms", file=sys.stderr, flush=True)
    base = statistics.median(results["plain"])
    for name, values in results.items():
        m = statistics.median(values)
        print(f"{name:22s} {m:.3f} ms/it  {m / base:.3f} of plain  {[round(v, 3) for v in values]}")
