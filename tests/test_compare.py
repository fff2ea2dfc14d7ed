"""``python -m gan_lightning compare`` as users run it: a 2-objective x 2-seed Gaussian grid killed half-way and
rerun ends with the table of an uninterrupted grid, without running a finished cell again; a changed grid is
refused; the W&B summary run read back from disk holds every cell."""

import csv
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from gan_lightning.compare import interval as compare_interval, wandb_id
from helpers import CONFIGS, ROOT, run_cli
from wandb_offline import read_run

pytestmark = pytest.mark.slow

# NS-GAN and LSGAN on the Gaussian recipe, 100 iterations each with a validation (and last.ckpt) every 25.
GRID = [str(CONFIGS / "nsgan_gaussian.yaml"), str(CONFIGS / "nsgan_gaussian.yaml") + ":LSGAN", "--seeds", "0", "1",
        "--iterations", "100", "--num_samples", "1000"]
FIT = ["--", "--data.init_args.epoch_length", "25", "--cpu.threads", "1"]
TIMING = ("train_s", "cell_s")  # wall-clock columns: the only ones two runs of a grid may differ in


def compare(args, cwd, **kwargs):
    return run_cli(["compare", *args], cwd=cwd, timeout=600, **kwargs)


def untimed(record: dict) -> dict:
    """A cell's record without its wall-clock numbers and the paths of its own folder."""
    history = [{k: v for k, v in row.items() if k not in TIMING} for row in record["history"]]
    return {**{k: v for k, v in record.items() if k not in TIMING + ("history", "protocol")}, "history": history,
            "protocol": {k: v for k, v in record["protocol"].items() if k != "checkpoint"}}


def cells_table(out) -> list[dict]:
    with open(out / "cells.csv", newline="") as f:
        return [{k: v for k, v in row.items() if k not in TIMING} for row in csv.DictReader(f)]


def fits_started(out, cell: str) -> int:
    log = out / "logs" / f"{cell}.log"
    return sum(" -m gan_lightning fit " in line for line in log.read_text().splitlines()) if log.is_file() else 0


def test_a_grid_killed_half_way_finishes_on_rerun_as_an_uninterrupted_grid(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("WANDB_API_KEY", "WANDB_SERVICE")}
    env.update(WANDB_MODE="offline", PYTHONPATH=str(ROOT / "tests"))
    command = [sys.executable, "-m", "gan_lightning", "compare", *GRID, "--out", "killed", *FIT]
    grid = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    killed, second = tmp_path / "killed", "nsgan_gaussian-LSGAN-shipped-seed0"  # cells go seed by seed
    deadline = time.monotonic() + 300
    # Kill when the first cell is done and the second has written a checkpoint it is still training past.
    while not ((killed / "cells" / "nsgan_gaussian-shipped-seed0.json").is_file()
               and (killed / "runs" / second / "checkpoints" / "last.ckpt").is_file()):
        assert grid.poll() is None and time.monotonic() < deadline, "the grid ended or stalled before the kill"
        time.sleep(0.05)
    os.kill(grid.pid, signal.SIGKILL)  # the compare process alone: its fit must die with it
    grid.wait()
    time.sleep(1)
    assert not (killed / "cells" / f"{second}.json").exists()
    checkpoint = (killed / "runs" / second / "checkpoints" / "last.ckpt").stat().st_mtime
    time.sleep(2)
    assert (killed / "runs" / second / "checkpoints" / "last.ckpt").stat().st_mtime == checkpoint  # no orphan fit

    rerun = compare([*GRID, "--out", "killed", *FIT], tmp_path)
    assert "[1/4] nsgan_gaussian-shipped-seed0: done before" in rerun.stdout
    assert fits_started(killed, "nsgan_gaussian-shipped-seed0") == 1  # not trained again
    assert fits_started(killed, second) == 2
    resumed = (killed / "logs" / f"{second}.log").read_text().splitlines()
    assert any("--ckpt_path" in line and line.endswith("last.ckpt") for line in resumed if " fit " in line)

    # The interrupted cell, run alone and never interrupted: the same record but for the clock. The other three
    # cells ran once, as a grid never interrupted runs them.
    compare([*GRID, "--out", "straight", "--cell", "1", *FIT], tmp_path)
    resumed_record, straight_record = (untimed(json.loads((out / "cells" / f"{second}.json").read_text()))
                                       for out in (killed, tmp_path / "straight"))
    assert resumed_record == straight_record and len(straight_record["history"]) == 4  # a validation every 25
    assert len(cells_table(killed)) == 4
    table = (killed / "table.md").read_text()
    assert "| nsgan_gaussian.yaml | shipped | 2 | val/w1 |" in table
    assert "| nsgan_gaussian.yaml --model LSGAN | shipped | 2 | val/w1 |" in table
    for plot in ("metric_vs_iteration.png", "metric_vs_train_s.png"):
        assert (killed / plot).stat().st_size > 10_000

    # The W&B summary run of the grid, read back from disk: one group, both tables, every cell.
    (summary,) = [p for p in (killed / "wandb").glob("offline-run-*")]
    run = read_run(summary)
    assert run["run"]["group"] == "killed"
    logged = {k: v for row in run["history"] for k, v in row.items()}  # nested keys as "cells/path"
    cells = json.loads((summary / "files" / logged["cells/path"]).read_text())
    by_name = {(row[0], row[2]) for row in cells["data"]}
    assert by_name == {(c, s) for c in ("nsgan_gaussian.yaml", "nsgan_gaussian.yaml --model LSGAN") for s in (0, 1)}
    assert cells["columns"][:4] == ["config", "variant", "seed", "metric"]
    rows = {(r["name"]): r for r in csv.DictReader(open(killed / "cells.csv"))}
    for row in cells["data"]:  # the tables W&B holds carry the evaluated numbers of the CSV
        name = f"nsgan_gaussian{'-LSGAN' if 'LSGAN' in row[0] else ''}-shipped-seed{row[2]}"
        assert row[4] == pytest.approx(float(rows[name]["final_w1"]))
    summary_table = json.loads((summary / "files" / logged["summary/path"]).read_text())
    assert [row[:3] for row in summary_table["data"]] == [["nsgan_gaussian.yaml", "shipped", 2],
                                                          ["nsgan_gaussian.yaml --model LSGAN", "shipped", 2]]
    assert logged["metric_vs_iteration/_type"] == logged["metric_vs_train_s/_type"] == "image-file"
    # Each cell's W&B run is in the same group; the newest file is evaluate's, which keeps the group fit gave it.
    # Its id carries a hash of the grid's folder: the same cell of another comparison is another W&B run.
    for cell in ("nsgan_gaussian-shipped-seed0", second):
        files = sorted((killed / "runs" / cell / "wandb").glob("offline-run-*"))
        evaluated = read_run(files[-1])["run"]
        assert evaluated["group"] == "killed" and evaluated["id"] == wandb_id(killed, cell), (cell, evaluated)
        assert {read_run(f)["run"].get("id") for f in files} <= {wandb_id(killed, cell), None}
    other = read_run(sorted((tmp_path / "straight" / "runs" / second / "wandb").glob("offline-run-*"))[-1])["run"]
    assert other["id"] == wandb_id(tmp_path / "straight", second) != wandb_id(killed, second)

    # More of evaluate's numbers in the table, from the finished cells without training again.
    compare([*GRID, "--out", "killed", "--gather", "--wandb", "false", "--columns", "ks", "recall", *FIT], tmp_path)
    header, _, *lines = (killed / "table.md").read_text().splitlines()[:4]
    assert header.startswith("| config | variant | seeds | metric | final (evaluate, fresh noise) | final ks | final recall |")
    ks = [float(rows[f"nsgan_gaussian-shipped-seed{s}"]["final_ks"]) for s in (0, 1)]
    assert lines[0].split(" | ")[5] == compare_interval(ks)
    assert fits_started(killed, "nsgan_gaussian-shipped-seed0") == 1


def test_a_changed_grid_is_refused_with_what_changed_and_one_with_more_seeds_grows(tmp_path):
    config = tmp_path / "nsgan_gaussian.yaml"
    config.write_text((CONFIGS / "nsgan_gaussian.yaml").read_text().replace("parts/", str(CONFIGS / "parts") + "/"))
    first = compare([str(config), "--seeds", "0", "--out", "grid", "--gather", "--wandb", "false"], tmp_path,
                    check=False)
    assert first.returncode == 1 and "1 of 1 cells unfinished (nsgan_gaussian-shipped-seed0)" in first.stderr
    assert json.loads((tmp_path / "grid" / "grid.json").read_text())["cells"][0]["seed"] == 0

    # More seeds (or configs, or variants) with every other argument the same: the grid grows, keeping its cells.
    more_seeds = compare([str(config), "--seeds", "0", "1", "--out", "grid", "--gather"], tmp_path, check=False)
    assert more_seeds.returncode == 1 and "2 of 2 cells unfinished" in more_seeds.stderr
    assert f"compare: {tmp_path / 'grid'} grows by 1 cells (nsgan_gaussian-shipped-seed1); its 1 cells stay" \
        in more_seeds.stdout
    assert [c["seed"] for c in json.loads((tmp_path / "grid" / "grid.json").read_text())["cells"]] == [0, 1]
    fewer_seeds = compare([str(config), "--seeds", "1", "--out", "grid", "--gather"], tmp_path, check=False)
    assert fewer_seeds.returncode == 2
    assert fewer_seeds.stderr.strip().splitlines() == [
        f"gan_lightning: error: compare: {tmp_path / 'grid'} holds another grid (cells removed: "
        "nsgan_gaussian-shipped-seed0); give another --out, or remove it"]
    grown_and_other = compare([str(config), "--seeds", "0", "1", "2", "--out", "grid", "--iterations", "50"],
                              tmp_path, check=False)
    assert grown_and_other.returncode == 2 and "cells added: nsgan_gaussian-shipped-seed2; fit_args" in \
        grown_and_other.stderr
    other_budget = compare([str(config), "--seeds", "0", "1", "--out", "grid", "--iterations", "50", "--gather"],
                           tmp_path, check=False)
    assert other_budget.returncode == 2 and "fit_args: [] -> ['--iterations', '50']" in other_budget.stderr
    config.write_text(config.read_text().replace("lr: 0.001", "lr: 0.002"))
    edited = compare([str(config), "--seeds", "0", "1", "--out", "grid", "--gather"], tmp_path, check=False)
    assert edited.returncode == 2 and "nsgan_gaussian-shipped-seed0: the file changed" in edited.stderr


def test_the_dry_run_lists_the_cells_and_bad_input_stops_at_once(tmp_path):
    listed = compare([str(CONFIGS / "nsgan_gaussian.yaml"), str(CONFIGS / "wgangp_gaussian.yaml"), "--seeds", "3",
                      "--variant", "shipped=", "--variant", "r1=--model.init_args.regularizers '[{class_path: R1}]'",
                      "--out", "grid", "--dry_run"], tmp_path)
    lines = listed.stdout.splitlines()
    assert [line.split(":")[0] for line in lines[:-1]] == [
        "cell 0 nsgan_gaussian-shipped-seed3", "cell 1 nsgan_gaussian-r1-seed3",
        "cell 2 wgangp_gaussian-shipped-seed3", "cell 3 wgangp_gaussian-r1-seed3"]
    assert lines[1].endswith("--model.init_args.regularizers '[{class_path: R1}]'")
    assert lines[-1] == f"4 cells in {tmp_path / 'grid'}" and not (tmp_path / "grid").exists()

    bad = compare([str(CONFIGS / "nsgan_gaussian.yaml"), "--seeds", "0", "--out", "grid", "--", "--trainer.bogus", "1"],
                  tmp_path, check=False)
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines()[-1] == ("gan_lightning: error: nsgan_gaussian-shipped-seed0: fit refused its "
                                                   "arguments: unrecognized arguments: --trainer.bogus 1")
    missing = compare(["configs/none.yaml", "--out", "grid"], tmp_path, check=False)
    assert missing.returncode == 2 and "compare: no config file at configs/none.yaml" in missing.stderr
