"""What the framework costs as users run it: the CLI against a plain PyTorch loop, per iteration.

    python -m benchmarks.speed --config configs/nsgan_gaussian.yaml --iterations 200 4200
    python -m benchmarks.speed --config configs/nsgan_mnist.yaml --iterations 20 180 -- \\
        --data.init_args.data_dir data/mnist5k --data.init_args.download false
    python -m benchmarks.speed --startup

Framework: ``python -m gan_lightning fit --config CONFIG`` in a subprocess, the config as shipped
(its progress bar, EMA and checkpoint on) with stdout and stderr going to a file, as in a cluster
job; only the length is set (``--iterations``) and validation and the logger are off. Plain:
``python -m benchmarks.plain_loop`` on the same config (same networks, optimizers, loss terms and
data batches, no EMA, no logging). Each runs for a short and a long number of iterations; the
difference of the two wall times over the difference of iterations is the time of an iteration,
with start-up and shut-down removed; what is left of the short run is the fixed cost (start-up to
the first iteration plus the end). Runs alternate (framework short, plain short, framework long,
plain long) ``--repeats`` times; the ratio is framework / plain per iteration, median over
repeats with the range.

``--startup`` times the commands that do not train: ``--help``, ``sample`` and ``evaluate``.
"""

import argparse
import csv
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.arguments import ROOT, output_folder, split_run_arguments


def child_env() -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("WANDB_API_KEY", "WANDB_SERVICE")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    return env


def timed(command: list[str], log: Path) -> float:
    """Wall seconds of ``command``, its output appended to ``log``; stops on failure with the log's end."""
    start = time.perf_counter()
    with open(log, "a") as out:
        code = subprocess.run(command, cwd=ROOT, env=child_env(), stdout=out, stderr=subprocess.STDOUT).returncode
    seconds = time.perf_counter() - start
    if code != 0:
        sys.exit(f"{' '.join(command)} exited {code}:\n{log.read_text()[-3000:]}")
    return seconds


def measure(config: str, iterations: tuple[int, int], repeats: int, extra: list[str], logs: Path) -> dict:
    name = Path(config).stem
    runs_dir = Path(tempfile.mkdtemp(prefix="speed-runs-"))
    times = {("framework", n): [] for n in iterations} | {("plain", n): [] for n in iterations}
    for repeat in range(repeats):
        for n in iterations:
            framework = [sys.executable, "-m", "gan_lightning", "fit", "--config", config, "--iterations", str(n),
                         "--trainer.limit_val_batches", "0", "--trainer.logger",
                         "false", "--trainer.default_root_dir", str(runs_dir), "--run_name", f"{name}-{n}-{repeat}",
                         *extra]
            plain = [sys.executable, "-m", "benchmarks.plain_loop", "--config", config, "--iterations", str(n), "--", *extra]
            times["framework", n].append(timed(framework, logs / f"{name}-framework.log"))
            times["plain", n].append(timed(plain, logs / f"{name}-plain.log"))
            print(f"  {name} repeat {repeat} n={n}: framework {times['framework', n][-1]:.1f} s, "
                  f"plain {times['plain', n][-1]:.1f} s", flush=True)
    short, long = iterations
    per_iter = {kind: [(times[kind, long][r] - times[kind, short][r]) / (long - short) for r in range(repeats)]
                for kind in ("framework", "plain")}
    ratios = [f / p for f, p in zip(per_iter["framework"], per_iter["plain"])]
    fixed = {kind: statistics.median(times[kind, short][r] - short * per_iter[kind][r] for r in range(repeats))
             for kind in ("framework", "plain")}
    return {"config": Path(config).name, "iterations": f"{short}, {long}", "repeats": repeats,
            "ratio": statistics.median(ratios), "ratio_min": min(ratios), "ratio_max": max(ratios),
            "framework_ms": 1e3 * statistics.median(per_iter["framework"]),
            "plain_ms": 1e3 * statistics.median(per_iter["plain"]),
            "framework_fixed_s": fixed["framework"], "plain_fixed_s": fixed["plain"]}


def table(results: list[dict]) -> str:
    lines = ["| config | iterations (short, long) | framework / plain per iteration (median [min, max]) | "
             "framework ms/iter | plain ms/iter | framework fixed s | plain fixed s |", "|" + "---|" * 7]
    for r in results:
        lines.append(f"| {r['config']} | {r['iterations']} | {r['ratio']:.3f} [{r['ratio_min']:.3f}, {r['ratio_max']:.3f}] | "
                     f"{r['framework_ms']:.2f} | {r['plain_ms']:.2f} | {r['framework_fixed_s']:.1f} | "
                     f"{r['plain_fixed_s']:.1f} |")
    return "\n".join(lines)


STARTUP_COMMANDS = {
    "python -m gan_lightning --help": ["--help"],
    "python -m gan_lightning fit --help": ["fit", "--help"],
    "python -m gan_lightning sample --help": ["sample", "--help"],
    "python -m gan_lightning evaluate --help": ["evaluate", "--help"],
}


def startup(repeats: int, logs: Path) -> str:
    lines = ["| command | seconds (median of %d) |" % repeats, "|---|---|"]
    for label, args in STARTUP_COMMANDS.items():
        seconds = [timed([sys.executable, "-m", "gan_lightning", *args], logs / "startup.log") for _ in range(repeats)]
        lines.append(f"| `{label}` | {statistics.median(seconds):.2f} |")
    return "\n".join(lines)


def main(argv=None):
    own, extra = split_run_arguments(argv)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", nargs="+", default=[], help="config files, measured one after another")
    parser.add_argument("--iterations", type=int, nargs=2, default=[20, 220], metavar=("SHORT", "LONG"),
                        help="the two run lengths whose difference is timed")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--startup", action="store_true", help="time --help, sample --help and evaluate --help")
    parser.add_argument("--out", type=Path, default=None, help="folder for table.md, speed.csv and the runs' logs")
    args = parser.parse_args(own)
    if not args.config and not args.startup:
        parser.error("give --config, --startup or both")
    if args.iterations[0] >= args.iterations[1]:
        parser.error(f"--iterations SHORT LONG needs SHORT < LONG, got {args.iterations}")
    out = output_folder(args.out, "speed")
    results = [measure(c, tuple(args.iterations), args.repeats, extra, out) for c in args.config]
    text = table(results) if results else ""
    if args.startup:
        text += ("\n\n" if text else "") + startup(3, out)
    print(text)
    (out / "table.md").write_text(text + "\n")
    if results:
        with open(out / "speed.csv", "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(results[0]))
            writer.writeheader()
            writer.writerows(results)


if __name__ == "__main__":
    main()
