import sys, time, statistics
sys.path.insert(0, ".")
from gan_lightning.cli import GANCLI
from benchmarks.plain_loop import PlainLoop, build
cli = GANCLI(args=["fit", "--config", "configs/nsgan_gaussian.yaml", "--iterations", "600",
                   "--trainer.limit_val_batches", "0", "--trainer.logger", "false", "--trainer.default_root_dir", "/tmp/speedparts"])
model, trainer = cli.model, cli.trainer
model.log_dict = lambda *a, **k: None
print("direct:", model._steps_directly, file=sys.stderr)
loader = cli.datamodule.train_dataloader()
def step_only(n):
    it = iter(loader); t = time.perf_counter()
    for i in range(n):
        try: b = next(it)
        except StopIteration: it = iter(loader); b = next(it)
        model.training_step(b, i)
    return (time.perf_counter() - t) / n * 1e3
m, d, dev, prec = build("configs/nsgan_gaussian.yaml", [])
loop = PlainLoop(m, d, dev, precision=prec)
def plain(n):
    t = time.perf_counter()
    for _ in range(n): loop.step()
    return (time.perf_counter() - t) / n * 1e3
step_only(300); plain(300)
res = {"step only": [], "plain": []}
for r in range(3):
    res["step only"].append(step_only(2000)); res["plain"].append(plain(2000))
for k, v in res.items(): print(k, round(statistics.median(v), 3), [round(x, 3) for x in v])
