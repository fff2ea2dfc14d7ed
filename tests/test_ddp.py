"""Real multi-process runs on the CPU (gloo): DDP for every objective, equivalence with one
process, torchrun across two "nodes" on loopback, and metrics gathered across ranks."""

import os
import socket
import subprocess
import sys
import time

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from benchmarks.arguments import recipe
from helpers import CONFIGS, ROOT, run_cli
from gan_lightning.metrics import SampleMetrics
from helpers import FixedReference, ReplayGenerator
from images import SmallFeatures, digit_images

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("objective", ["gan", "nsgan", "wgan", "wgangp"])
def test_plain_ddp_spelling_trains_every_objective_with_equal_ranks(objective, tmp_path):
    config, overrides = recipe(objective, "gaussian")  # the minimax GAN: nsgan_gaussian.yaml --model GAN
    out = run_cli(["fit", "--config", str(config), *overrides, "--trainer.strategy", "ddp",
                   "--trainer.devices", "2", "--trainer.accelerator", "cpu", "--trainer.max_epochs", "1",
                   "--data.init_args.epoch_length", "10", "--trainer.enable_progress_bar", "false",
                   "--trainer.logger", "false", "--trainer.default_root_dir", "runs", "--run_name", "ddp",
                   "--trainer.callbacks+=helpers.DumpRankParameters"], cwd=tmp_path)
    assert "using ddp_find_unused_parameters_true" in out.stdout + out.stderr
    run = tmp_path / "runs" / "ddp"
    rank0, rank1 = (torch.load(run / f"params-rank{r}.pt") for r in (0, 1))
    assert rank0.keys() == rank1.keys()
    assert not torch.allclose(rank0.pop("_next_noise"), rank1.pop("_next_noise"))  # each rank its own noise
    for key in rank0:
        torch.testing.assert_close(rank0[key], rank1[key], rtol=0, atol=0, msg=key)
    assert sorted(p.name for p in tmp_path.joinpath("runs").iterdir()) == ["ddp"]  # one run folder for both ranks
    assert (run / "checkpoints" / "last.ckpt").is_file()


def test_the_cli_closes_its_gloo_process_group_before_the_process_exits(tmp_path):
    """Lightning closes the group at exit only under NCCL; a gloo group left to the interpreter's exit aborts
    a rank now and then (SIGABRT after a finished fit: a failed srun step or torchrun job)."""
    run_cli(["fit", "--config", str(CONFIGS / "nsgan_gaussian.yaml"), "--trainer.strategy", "ddp",
             "--trainer.devices", "2", "--trainer.accelerator", "cpu", "--trainer.max_epochs", "1",
             "--data.init_args.epoch_length", "10", "--trainer.enable_progress_bar", "false", "--trainer.logger",
             "false", "--trainer.default_root_dir", "runs", "--run_name", "ddp"],
            cwd=tmp_path, entry=(str(ROOT / "tests" / "cli_process_group.py"),))
    reports = [tmp_path / f"group-open-rank{rank}.txt" for rank in (0, 1)]
    deadline = time.monotonic() + 60  # rank 1 may end after rank 0
    while not all(r.is_file() and r.read_text() for r in reports) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert [r.read_text() for r in reports] == ["False", "False"]
    assert (tmp_path / "runs" / "ddp" / "checkpoints" / "last.ckpt").is_file()


def test_a_conditional_gan_under_two_process_ddp_ends_with_equal_ranks(tmp_path):
    run_cli(["fit", "--config", str(CONFIGS / "cgan_ring8.yaml"), "--trainer.devices", "2", "--trainer.accelerator",
             "cpu", "--trainer.max_epochs", "1", "--data.init_args.epoch_length", "12", "--trainer.enable_progress_bar",
             "false", "--trainer.logger", "false", "--trainer.default_root_dir", "runs", "--run_name", "ddp",
             "--trainer.callbacks+=helpers.DumpRankParameters"], cwd=tmp_path)
    run = tmp_path / "runs" / "ddp"
    rank0, rank1 = (torch.load(run / f"params-rank{r}.pt") for r in (0, 1))
    assert not torch.allclose(rank0.pop("_next_noise"), rank1.pop("_next_noise"))
    assert "generator.embed.weight" in rank0 and "discriminator.projection.embed.weight" in rank0
    for key in rank0:
        torch.testing.assert_close(rank0[key], rank1[key], rtol=0, atol=0, msg=key)


def test_rates_that_follow_a_time_budget_stay_equal_across_ranks(tmp_path):
    # Each rank's clock reads a little differently; the config's LearningRateDecay must give both rank 0's rate.
    run_cli(["fit", "--config", str(CONFIGS / "nsgan_gaussian.yaml"), "--trainer.strategy", "ddp",
             "--trainer.devices", "2", "--trainer.accelerator", "cpu", "--trainer.max_epochs", "-1",
             "--trainer.max_time", "00:00:00:06", "--trainer.limit_val_batches", "0", "--checkpoint.monitor", "null",
             "--trainer.enable_progress_bar", "false", "--trainer.logger", "false", "--trainer.default_root_dir", "runs",
             "--run_name", "ddp", "--trainer.callbacks+=helpers.DumpRankParameters"],
            cwd=tmp_path)
    run = tmp_path / "runs" / "ddp"
    rank0, rank1 = (torch.load(run / f"params-rank{r}.pt") for r in (0, 1))
    rank0.pop("_next_noise"), rank1.pop("_next_noise")
    assert (rank0["_learning_rates"] < 0.5e-3).all()  # from 1e-3, most of the way down to 1e-5 by the end
    for key in rank0:
        torch.testing.assert_close(rank0[key], rank1[key], rtol=0, atol=0, msg=key)


@pytest.mark.parametrize("regularizer, network", [("gp", "mlp"), ("r1", "mlp"), ("gp", "resnet")])
def test_penalized_critic_on_two_processes_equals_one_process_with_the_global_batch(regularizer, network, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT / "tests")}
    env.pop("WANDB_SERVICE", None)
    for devices, batch, name in [(2, 8, "two.pt"), (1, 16, "one.pt")]:
        subprocess.run([sys.executable, str(ROOT / "tests" / "ddp_equivalence.py"), str(devices), str(batch),
                        str(tmp_path / name), regularizer, network], cwd=tmp_path, env=env, check=True,
                       capture_output=True, timeout=300)
    two, one = torch.load(tmp_path / "two.pt"), torch.load(tmp_path / "one.pt")
    # Batch norm's running statistics: DDP broadcasts rank 0's, which saw half the batch.
    networks = [k for k in one["final"] if k.startswith(("generator.", "discriminator."))
                and not k.endswith(("running_mean", "running_var", "num_batches_tracked"))]
    for key in networks:
        torch.testing.assert_close(two["init"][key], one["init"][key], rtol=0, atol=0, msg=key)
        torch.testing.assert_close(two["final"][key], one["final"][key], rtol=1e-4, atol=1e-5, msg=key)
    # Training moved the weights well beyond that tolerance, so the equality above means something.
    assert max(float((one["final"][k] - one["init"][k]).abs().max()) for k in networks) > 1e-2


def test_torchrun_two_nodes_on_loopback(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("WANDB_SERVICE",)}
    args = ["-m", "gan_lightning", "fit", "--config", str(CONFIGS / "nsgan_gaussian.yaml"),
            "--trainer.num_nodes", "2", "--trainer.devices", "1", "--trainer.accelerator", "cpu",
            "--trainer.strategy", "ddp", "--trainer.max_epochs", "1", "--data.init_args.epoch_length", "10",
            "--trainer.enable_progress_bar", "false", "--trainer.logger", "false",
            "--trainer.default_root_dir", "runs", "--run_name", "torchrun"]
    nodes = [subprocess.Popen([sys.executable, "-m", "torch.distributed.run", "--nnodes", "2", "--nproc_per_node", "1",
                               "--node_rank", str(rank), "--master_addr", "127.0.0.1", "--master_port", str(port),
                               *args], cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for rank in (0, 1)]
    outputs = [node.communicate(timeout=300)[0] for node in nodes]
    assert [node.returncode for node in nodes] == [0, 0], outputs[0][-3000:] + outputs[1][-3000:]
    assert "GLOBAL_RANK: 1, MEMBER: 2/2" in outputs[1]
    ckpt = torch.load(tmp_path / "runs" / "torchrun" / "checkpoints" / "last.ckpt", weights_only=False)
    assert ckpt["iteration"] == 10 and len(ckpt["rng_states"]) == 2


def metrics_on_rank(rank, world, port, real, fake, out):
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world)
    metrics = SampleMetrics(feature=SmallFeatures(), num_samples=len(fake), kid=True, kid_subset_size=50)
    metrics.setup(FixedReference(real), None)
    values = metrics.evaluate(ReplayGenerator(fake[rank::world]), seed=0, rank=rank, world_size=world)
    out[rank] = {k: float(v) for k, v in values.items() if k != "kid"}  # KID draws random subsets per process
    dist.destroy_process_group()


def test_metrics_under_two_process_ddp_equal_single_process_metrics():
    real = torch.from_numpy(digit_images(200, seed=0)[0]).unsqueeze(1).float() / 127.5 - 1
    fake = torch.from_numpy(digit_images(200, seed=3)[0]).unsqueeze(1).float() / 127.5 - 1
    single = SampleMetrics(feature=SmallFeatures(), num_samples=200)
    single.setup(FixedReference(real), None)
    expected = {k: float(v) for k, v in single.evaluate(ReplayGenerator(fake), seed=0).items()}
    assert set(expected) == {"fid", "precision", "recall", "density", "coverage"} and 0 < expected["precision"] < 1
    out = mp.Manager().dict()
    mp.spawn(metrics_on_rank, args=(2, free_port(), real, fake, out), nprocs=2, join=True)
    for rank in (0, 1):
        assert out[rank] == pytest.approx(expected, rel=1e-6), (rank, out[rank], expected)
