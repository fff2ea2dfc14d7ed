"""The benchmark scripts run end to end on tiny budgets and write what they promise."""

import csv
import re
import subprocess
import sys

from helpers import ROOT
from wandb_offline import read_run


def run_script(args, cwd):
    import os

    env = {k: v for k, v in os.environ.items() if k not in ("WANDB_API_KEY", "WANDB_MODE", "WANDB_SERVICE")}
    result = subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    return result


def test_compare_writes_table_csv_plots_and_one_wandb_group(tmp_path):
    out = tmp_path / "cmp"
    run_script([str(ROOT / "benchmarks" / "compare.py"), "--objectives", "nsgan", "wgangp", "--seeds", "0",
                "--iterations", "30", "--evals", "2", "--out", str(out), "--group", "tiny"], cwd=tmp_path)
    table = (out / "table.md").read_text()
    rows = [line for line in table.splitlines() if line.startswith("| nsgan") or line.startswith("| wgangp")]
    assert len(rows) == 2
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert re.fullmatch(r"\d+\.\d{4} ± \d+\.\d{4}", cells[3]) and cells[6] == "30"
    points = list(csv.DictReader(open(out / "points.csv")))
    assert {p["objective"] for p in points} == {"nsgan", "wgangp"}
    assert [p["iteration"] for p in points if p["objective"] == "nsgan"] == ["15", "30"]
    assert all(float(p["val/w1"]) >= 0 and float(p["wall_s"]) > 0 for p in points)
    for name in ["gaussian_w1_vs_iteration.png", "gaussian_w1_vs_wall_s.png"]:
        assert (out / name).read_bytes()[:4] == b"\x89PNG"
    runs = [read_run(d)["run"] for d in (out / "runs").glob("*/wandb/offline-run-*")]
    assert len(runs) == 2 and {r["group"] for r in runs} == {"tiny"}


def test_speed_prints_a_ratio_table(tmp_path):
    result = run_script([str(ROOT / "benchmarks" / "speed.py"), "--config", str(ROOT / "configs" / "nsgan_gaussian.yaml"),
                         "--warmup", "3", "--block", "4", "--rounds", "3"], cwd=tmp_path)
    (row,) = [line for line in result.stdout.splitlines() if line.startswith("| nsgan_gaussian.yaml")]
    cells = [c.strip() for c in row.strip("|").split("|")]
    median, low, high = map(float, re.fullmatch(r"([\d.]+) \[([\d.]+), ([\d.]+)\]", cells[1]).groups())
    assert 0 < low <= median <= high
    assert float(cells[2]) > 0 and float(cells[3]) > 0 and cells[-1] == "cpu"
    assert 0 <= float(cells[6].rstrip("%")) <= 100


def test_quality_trains_each_objective_and_a_plain_loop_for_the_same_seconds(tmp_path):
    out = tmp_path / "quality"
    run_script(["-m", "benchmarks.quality", "--datasets", "ring8", "--objectives", "nsgan", "wgan", "--seeds", "0", "1",
                "--seconds", "2", "--out", str(out), "--group", "tinyq"], cwd=ROOT)
    rows = list(csv.DictReader(open(out / "quality.csv")))
    assert [(r["objective"], r["seed"]) for r in rows] == [(o, s) for s in "01" for o in ("nsgan", "wgan", "plain")]
    for r in rows:
        assert 2.0 <= float(r["fit_s"]) < 6 and int(r["iterations"]) > 0
        assert r["fakes"] == r["reals"] == "2500" and 0 <= float(r["modes"]) <= 8 and float(r["w1"]) > 0
    table = (out / "quality.md").read_text()
    (nsgan,) = [line for line in table.splitlines() if line.startswith("| nsgan |")]
    cells = [c.strip() for c in nsgan.strip("|").split("|")]
    assert cells[1] == "2" and re.fullmatch(r"[\d.]+ ± [\d.]+", cells[5])  # two seeds; w1 as mean ± std
    logged = [read_run(d) for d in (out / "runs").glob("*/wandb/offline-run-*")]
    assert len(logged) == 4 and {r["run"]["group"] for r in logged} == {"tinyq"}
    assert all(any("eval/modes" in row for row in r["history"]) for r in logged)
