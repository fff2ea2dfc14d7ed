"""configs/cluster/slurm.sh on a real one-node SLURM (configs/cluster/local_slurm.sh): 1 node x 2 CPU
tasks, SIGUSR1 mid-run, requeue, resume from the HPC checkpoint, and the same final weights as an
uninterrupted job. Skipped, with the reason, where SLURM cannot start (not root, packages missing);
`.ci/run` installs Debian's slurm-wlm and munge when it runs as root."""

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
LOCAL_SLURM = ROOT / "configs" / "cluster" / "local_slurm.sh"
JOB_SCRIPT = ROOT / "configs" / "cluster" / "slurm.sh"
COMPARE_SCRIPT = ROOT / "configs" / "cluster" / "compare_array.sh"

pytestmark = [pytest.mark.slurm, pytest.mark.slow]


@pytest.fixture(scope="module")
def slurm(tmp_path_factory):
    """A running local SLURM; yields the environment that reaches it."""
    folder = tmp_path_factory.mktemp("slurm")
    started = subprocess.run(["bash", str(LOCAL_SLURM), "start", str(folder)], capture_output=True, text=True, timeout=120)
    if started.returncode == 3:
        pytest.skip(started.stderr.strip())
    assert started.returncode == 0, started.stdout + started.stderr
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLURM_", "WANDB_SERVICE"))}
    env.update(SLURM_CONF=str(folder / "slurm.conf"), PYTHON=sys.executable, WANDB_MODE="offline", WANDB_SILENT="true")
    yield env
    subprocess.run(["scancel", "--user", "root"], env=env, capture_output=True)
    subprocess.run(["bash", str(LOCAL_SLURM), "stop", str(folder)], capture_output=True, timeout=60)


def submit(env, work: Path) -> str:
    """configs/cluster/slurm.sh itself, laid out for 1 node x 2 CPU tasks by sbatch options and CLI arguments."""
    command = ["sbatch", "--parsable", "--nodes", "1", "--ntasks-per-node", "2", "--gres=none", "--cpus-per-task", "1",
               "--time", "10", "--chdir", str(work), "--output", str(work / "slurm-%j.out"), str(JOB_SCRIPT),
               str(ROOT / "configs" / "wgangp_gaussian.yaml"),
               "--trainer.accelerator", "cpu", "--trainer.precision", "32-true",
               "--trainer.default_root_dir", str(work / "runs"), "--trainer.max_epochs", "2",
               "--data.init_args.epoch_length", "100", "--trainer.limit_val_batches", "0",
               "--checkpoint.monitor", "null", "--checkpoint.every_n_train_steps", "120",  # iter*.ckpt every 20 iterations
               "--trainer.enable_progress_bar", "false", "--trainer.enable_model_summary", "false"]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().split(";")[0]


def show_job(env, job: str) -> str:
    """SLURM's record of a job (``scontrol show job``), empty once SLURM has forgotten it."""
    return subprocess.run(["scontrol", "show", "job", job], env=env, capture_output=True, text=True).stdout


def job_state(env, job: str) -> str:
    found = re.search(r"JobState=(\S+)", show_job(env, job))
    return found.group(1) if found else "GONE"


def diagnosis(env, job: str, log: Path) -> str:
    """What a failed job left: its log's tail, SLURM's record of it and the daemons' last lines."""
    folder = Path(env["SLURM_CONF"]).parent
    shown = show_job(env, job)
    daemons = "".join(f"\n--- {name} ---\n" + "\n".join((folder / name).read_text(errors="replace").splitlines()[-40:])
                      for name in ("slurmctld.log", "slurmd.log") if (folder / name).is_file())
    text = log.read_text(errors="replace") if log.is_file() else f"(no {log})"
    return f"{text[-4000:]}\n--- scontrol show job {job} ---\n{shown}{daemons}"


def wait_for(condition, what: str, timeout: float = 150):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def release_requeued(env, job: str) -> None:
    """Starts a requeued job now instead of after SLURM's requeue hold (a minute or two), once it is pending and
    its first run is gone from the node (no slurmstepd of that job id left). A restart that overlaps the first
    run's teardown (same job id, same spool folder) may fail to launch, which a real cluster's hold prevents."""
    def requeued() -> bool:
        record = show_job(env, job)
        return bool(re.search(r"Restarts=[1-9]", record)) and "JobState=COMPLETING" not in record

    wait_for(requeued, "the requeue")
    record = show_job(env, job)
    if "JobState=PENDING" not in record:
        return  # already started again
    job_id = re.search(r"JobId=(\d+)", record).group(1)  # an array task's own id, which its slurmstepd carries
    wait_for(lambda: subprocess.run(["pgrep", "-f", rf"slurmstepd: \[{job_id}\."]).returncode == 1,
             f"the first run's slurmstepd of job {job} to end")
    time.sleep(1)
    subprocess.run(["scontrol", "update", f"JobId={job}", "StartTime=now"], env=env, capture_output=True)


def final_weights(run_dir: Path) -> dict:
    state = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=False, map_location="cpu")
    return {k: v for k, v in state["state_dict"].items() if k.startswith(("generator.", "discriminator."))}, state


def test_sigusr1_requeues_and_the_resumed_job_ends_as_the_uninterrupted_one(slurm, tmp_path):
    interrupted, straight = tmp_path / "interrupted", tmp_path / "straight"
    interrupted.mkdir(), straight.mkdir()
    job = submit(slurm, interrupted)
    run_dir = interrupted / "runs" / f"wgangp-gaussian-{job}"
    log = interrupted / f"slurm-{job}.out"
    wait_for(lambda: list((run_dir / "checkpoints").glob("iter*.ckpt")), "the first checkpoint of the job")
    subprocess.run(["scancel", "--signal", "USR1", job], env=slurm, check=True)
    wait_for(lambda: (run_dir / "hpc_ckpt_1.ckpt").is_file(), "hpc_ckpt_1.ckpt")
    saved_at = torch.load(run_dir / "hpc_ckpt_1.ckpt", weights_only=False)["iteration"]
    assert 0 < saved_at < 200, saved_at  # mid-run
    release_requeued(slurm, job)
    wait_for(lambda: job_state(slurm, job) in ("COMPLETED", "FAILED", "CANCELLED", "GONE"), "the requeued job to end", 240)
    text = log.read_text()
    assert job_state(slurm, job) == "COMPLETED", diagnosis(slurm, job, log)
    assert "(restart 0)" in text and "(restart 1)" in text, text[-4000:]  # one job, run twice, one log
    assert "Traceback" not in text, text[-4000:]  # W&B's service, signalled with the job, closed quietly
    assert re.search(r"Restoring states from the checkpoint path at \S*hpc_ckpt_1\.ckpt", text), text[-4000:]
    assert [p.name for p in (interrupted / "runs").iterdir()] == [run_dir.name]  # the same run folder
    wandb_runs = sorted((run_dir / "wandb").glob("offline-run-*"))
    assert len(wandb_runs) == 2 and all(p.name.endswith(f"-{run_dir.name}") for p in wandb_runs), wandb_runs  # one W&B id

    other = submit(slurm, straight)
    wait_for(lambda: job_state(slurm, other) in ("COMPLETED", "FAILED", "CANCELLED", "GONE"), "the uninterrupted job", 240)
    assert job_state(slurm, other) == "COMPLETED", diagnosis(slurm, other, straight / f"slurm-{other}.out")
    resumed, resumed_state = final_weights(run_dir)
    reference, reference_state = final_weights(straight / "runs" / f"wgangp-gaussian-{other}")
    assert resumed_state["iteration"] == reference_state["iteration"] == 200
    assert len(resumed_state["rng_states"]) == 2  # both ranks' random streams were saved and restored
    for key, value in reference.items():
        torch.testing.assert_close(resumed[key], value, rtol=0, atol=0, msg=key)


def test_a_compare_grid_runs_as_an_array_whose_requeued_cell_resumes_and_a_gather_job_writes_the_table(slurm, tmp_path):
    env = {**slurm, "COMPARE_SBATCH": f"--gres=none --cpus-per-task 1 --time 10 --chdir {tmp_path}"}
    grid = tmp_path / "grid"
    # 2 objectives x 2 seeds, 1000 iterations a cell with a validation (and last.ckpt) every 50.
    submitted = subprocess.run(
        ["bash", str(COMPARE_SCRIPT), str(ROOT / "configs" / "nsgan_gaussian.yaml"),
         str(ROOT / "configs" / "nsgan_gaussian.yaml") + ":LSGAN", "--seeds", "0", "1", "--iterations", "1000",
         "--num_samples", "1000", "--out", str(grid), "--", "--data.init_args.epoch_length", "50", "--cpu.threads", "1"],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert submitted.returncode == 0, submitted.stdout + submitted.stderr
    found = re.search(r"submitted 4 cells as array job (\d+) and the gather as job (\d+)", submitted.stdout)
    assert found, submitted.stdout
    array, gather = found.groups()
    first = grid / "runs" / "nsgan_gaussian-shipped-seed0"
    wait_for(lambda: (first / "checkpoints" / "last.ckpt").is_file(), "the first cell's first checkpoint")
    # scancel may answer "Job can not be altered now" for an array task whose fit has already taken the signal and
    # started the requeue: what counts is the checkpoint the signal makes.
    subprocess.run(["scancel", "--signal", "USR1", f"{array}_0"], env=slurm, capture_output=True)
    wait_for(lambda: (first / "hpc_ckpt_1.ckpt").is_file(), "the first cell's hpc_ckpt_1.ckpt")
    saved_at = torch.load(first / "hpc_ckpt_1.ckpt", weights_only=False)["iteration"]
    assert 0 < saved_at < 1000, saved_at  # mid-run
    release_requeued(slurm, f"{array}_0")
    wait_for(lambda: job_state(slurm, gather) in ("COMPLETED", "FAILED", "CANCELLED", "GONE"), "the gather job", 400)
    assert job_state(slurm, gather) == "COMPLETED", diagnosis(slurm, gather, tmp_path / f"slurm-compare-{gather}-gather.out")
    assert sorted(p.stem for p in (grid / "cells").glob("*.json")) == sorted(
        f"nsgan_gaussian{model}-shipped-seed{seed}" for model in ("", "-LSGAN") for seed in (0, 1))
    table = (grid / "table.md").read_text()
    assert "| nsgan_gaussian.yaml | shipped | 2 | val/w1 |" in table
    assert "| nsgan_gaussian.yaml --model LSGAN | shipped | 2 | val/w1 |" in table
    task = (tmp_path / f"slurm-compare-{array}_0.out").read_text()
    assert "(restart 0)" in task and "(restart 1)" in task, task[-4000:]  # one task, run twice, one log
    fits = [line for line in (grid / "logs" / f"{first.name}.log").read_text().splitlines() if " fit " in line]
    assert len(fits) == 2 and fits[1].endswith(f"--ckpt_path {first / 'hpc_ckpt_1.ckpt'}"), fits
    record = json.loads((grid / "cells" / f"{first.name}.json").read_text())
    assert record["iterations"] == 1000 and record["history"][-1]["iteration"] == 1000


def test_local_slurm_says_why_it_cannot_start(tmp_path):
    tools = tmp_path / "bin"  # a PATH with the shell's basics and no SLURM or munge
    tools.mkdir()
    for tool in ("id", "mkdir", "cat", "head", "chmod", "hostname", "nproc", "seq", "sleep", "kill", "rm", "tail"):
        (tools / tool).symlink_to(shutil.which(tool))
    result = subprocess.run(["/bin/bash", str(LOCAL_SLURM), "start", str(tmp_path / "slurm")], capture_output=True,
                            text=True, env={"PATH": str(tools)}, timeout=60)
    assert result.returncode == 3
    expected = ("needs root" if os.geteuid() != 0 else
                "munged slurmctld slurmd sbatch srun scontrol sinfo not found; install them with: apt-get install -y slurm-wlm munge")
    assert expected in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr
