"""Pools the repeats of every round in the run logs: per-repeat ratios (median) and the ratio of the fastest times.

    python benchmarks/results/speed-twenty-five-iterations-a-step/pool.py
"""
import re
import statistics
from pathlib import Path

here = Path(__file__).parent
text = "".join((here / name).read_text() for name in ("run-rounds-1-2.log", "run-rounds-3-5.log", "run-rounds-6-7.log"))
pool = {}
for block in re.split(r"\+ \.venv/bin/python -m benchmarks.speed", text)[1:]:
    if "mnist" in block.split("\n")[0]:
        continue
    kind = re.search(r"--out \S+?(before|after)-\d", block).group(1)
    repeats = {}
    for run, n, framework, plain in re.findall(r"repeat (\d) n=(\d+): framework ([\d.]+) s, plain ([\d.]+) s", block):
        repeats.setdefault(run, {})[int(n)] = (float(framework), float(plain))
        pool.setdefault((kind, int(n)), []).append((float(framework), float(plain)))
    pool.setdefault((kind, "ratios"), []).extend((r[5500][0] - r[500][0]) / (r[5500][1] - r[500][1]) for r in repeats.values())
for kind in ("before", "after"):
    fastest = [min(x[i] for x in pool[kind, n]) for n in (5500, 500) for i in (0, 1)]
    ratios = pool[kind, "ratios"]
    print(f"{kind}: {len(ratios)} repeats, per-repeat ratio median {statistics.median(ratios):.3f} "
          f"[{min(ratios):.3f}, {max(ratios):.3f}]; fastest runs {(fastest[0] - fastest[2]) / (fastest[1] - fastest[3]):.3f} "
          f"({(fastest[0] - fastest[2]) / 5:.2f} against {(fastest[1] - fastest[3]) / 5:.2f} ms an iteration)")
