"""Mixed precision, exact resume, NaN stops, SIGTERM and a full disk."""

import contextlib
import errno
import os
import signal
import subprocess
import sys
import time

import fsspec.implementations.local as local_fs
import lightning as L
import pytest
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from torch import nn

from helpers import CONFIGS, ROOT
from images import write_mnist
from gan_lightning import losses
from gan_lightning.callbacks import CheckpointOnInterrupt
from gan_lightning.commands import main
from gan_lightning.data import GaussianDataModule, GaussianMixtureDataModule, MNISTDataModule
from gan_lightning.ema import EMA
from gan_lightning.models import GANModule, NSGAN, WGANGP
from gan_lightning.networks import DCGANDiscriminator, DCGANGenerator
from test_conditional import conditional_ring_model
from test_objectives import OBJECTIVES, networks, w1_to_data


def test_gradient_penalty_under_autocast_and_a_grad_scaler_equals_float32():
    torch.manual_seed(0)
    critic = nn.Sequential(nn.Linear(3, 16), nn.Tanh(), nn.Linear(16, 1))
    real, fake = torch.randn(32, 3) + 2, torch.randn(32, 3)

    torch.manual_seed(1)
    reference = losses.gradient_penalty(critic, real, fake)
    reference.backward()
    grads = [p.grad.clone() for p in critic.parameters() if p.grad is not None]  # the output bias has none
    critic.zero_grad()

    scaler = torch.amp.GradScaler("cpu", init_scale=2.0 ** 12)
    torch.manual_seed(1)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        mixed = losses.gradient_penalty(critic, real.bfloat16(), fake.bfloat16())
    scaler.scale(mixed).backward()
    optimizer = torch.optim.SGD(critic.parameters(), lr=0.0)
    scaler.unscale_(optimizer)
    assert mixed.dtype == torch.float32
    torch.testing.assert_close(mixed, reference, rtol=1e-2, atol=1e-6)  # inputs were rounded to bf16
    mixed_grads = [p.grad for p in critic.parameters() if p.grad is not None]
    assert len(mixed_grads) == len(grads) == 3
    for p_grad, g in zip(mixed_grads, grads):
        torch.testing.assert_close(p_grad, g, rtol=2e-2, atol=1e-5)


@pytest.mark.parametrize("name", OBJECTIVES)
def test_bf16_mixed_training_of_every_objective(name):
    L.seed_everything(0)
    model = OBJECTIVES[name](*networks())
    data = GaussianDataModule(batch_size=128, batches_per_step=model.n_critic, epoch_length=400)
    before = w1_to_data(model, data)
    trainer = L.Trainer(max_epochs=1, precision="bf16-mixed", logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, limit_val_batches=0)
    trainer.fit(model, data)
    after = w1_to_data(model, data)
    assert after < 0.5 * before, f"{name}: W1 {before:.3f} -> {after:.3f}"


def resumable_run(tmp_path, epochs, ckpt_path=None):
    L.seed_everything(0)
    g, d = networks()
    model = WGANGP(g, d, optimizer_g=lambda p: torch.optim.Adam(p, lr=1e-3, betas=(0.0, 0.9)),
                   optimizer_d=lambda p: torch.optim.Adam(p, lr=1e-3, betas=(0.0, 0.9)), n_critic=2, ema=EMA(0.9),
                   scheduler=lambda o: torch.optim.lr_scheduler.StepLR(o, 7, 0.5))
    data = GaussianDataModule(batch_size=32, batches_per_step=2, epoch_length=15)
    checkpoint = ModelCheckpoint(dirpath=tmp_path, save_last=True)
    trainer = L.Trainer(max_epochs=epochs, logger=False, callbacks=[checkpoint], enable_progress_bar=False,
                        enable_model_summary=False)
    trainer.fit(model, data, ckpt_path=ckpt_path)
    return model, trainer


def test_resume_at_iteration_k_is_bit_for_bit_the_uninterrupted_run(tmp_path):
    straight, _ = resumable_run(tmp_path / "a", epochs=3)
    resumable_run(tmp_path / "b", epochs=1)
    resumed, trainer = resumable_run(tmp_path / "c", epochs=3, ckpt_path=tmp_path / "b" / "last.ckpt")
    assert resumed.iteration == straight.iteration == 45 and trainer.global_step == 45 * 3
    for (key, a), b in zip(straight.state_dict().items(), resumed.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=key)
    for a, b in zip(straight.optimizers()[0].optimizer.state.values(), resumed.optimizers()[0].optimizer.state.values()):
        torch.testing.assert_close(a["exp_avg"], b["exp_avg"], rtol=0, atol=0)


def test_a_nan_loss_stops_the_run_and_keeps_the_last_good_checkpoint(tmp_path, capsys):
    args = ["fit", "--config", str(CONFIGS / "nsgan_gaussian.yaml"), "--trainer.default_root_dir", str(tmp_path),
            "--run_name", "nan", "--data.init_args.epoch_length", "5", "--trainer.max_epochs", "10",
            "--trainer.enable_progress_bar", "false", "--model.init_args.discriminator", "helpers.NaNDiscriminator",
            "--model.init_args.discriminator.init_args.nan_from_call", str(3 * 12 + 1)]  # 3 D calls an iteration
    with pytest.raises(SystemExit) as exit:
        main(args)
    err = capsys.readouterr().err
    assert exit.value.code == 1 and "Traceback" not in err
    (line,) = [l for l in err.splitlines() if l.startswith("gan_lightning: error:")]
    assert "NSGAN diverged at iteration 12: train/d_loss=nan" in line and "last.ckpt" in line
    last = torch.load(tmp_path / "nan" / "checkpoints" / "last.ckpt", weights_only=False)
    assert last["iteration"] == 10  # the validation at iteration 10 was the last good state
    assert all(torch.isfinite(v).all() for v in last["state_dict"].values() if v.is_floating_point())
    model = GANModule.load_from_checkpoint(tmp_path / "nan" / "checkpoints" / "last.ckpt")
    assert torch.isfinite(model.sample(10)).all()


def fit_command(root, run_name, *extra):
    """``fit`` of nsgan_gaussian.yaml in 20-iteration epochs, with no end of its own unless ``extra`` sets one."""
    return [sys.executable, "-m", "gan_lightning", "fit", "--config", str(CONFIGS / "nsgan_gaussian.yaml"),
            "--trainer.default_root_dir", str(root), "--run_name", run_name, "--data.init_args.epoch_length", "20",
            "--data.init_args.val_size", "20000",  # validations of the shipped 1,000,000 samples cost seconds
            "--trainer.max_epochs", "100000", "--trainer.enable_progress_bar", "false", *extra]


def training_process(root, run_name, env, *extra, **popen):
    """``fit_command`` in a process of its own, returned once it has drawn two validation plots."""
    process = subprocess.Popen(fit_command(root, run_name, *extra), env={**env, "PYTHONPATH": str(ROOT / "tests")},
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **popen)
    plots = root / run_name / "plots"
    deadline = time.time() + 120
    while time.time() < deadline and len(list(plots.glob("*.png"))) < 2:
        time.sleep(0.2)
    return process


def test_sigterm_saves_a_checkpoint_that_resumes(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("WANDB_API_KEY", "WANDB_MODE", "WANDB_SERVICE")}
    process = training_process(tmp_path, "term", env, "--trainer.logger", "false")
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=60)
    assert "saved" in output and "last.ckpt" in output, output[-2000:]
    last = torch.load(tmp_path / "term" / "checkpoints" / "last.ckpt", weights_only=False)
    assert last["iteration"] >= 40
    resumed = main_fit_resume(tmp_path, last["iteration"] + 5)
    assert resumed["iteration"] == last["iteration"] + 5


# What SLURMEnvironment.detect() and a one-task job's rank read: a SLURM job without SLURM.
SLURM_JOB_ENV = dict(SLURM_JOB_ID="4242", SLURM_NTASKS="1", SLURM_JOB_NAME="fit", SLURM_PROCID="0", SLURM_LOCALID="0",
                     SLURM_NODEID="0")


def test_sigterm_under_slurm_leaves_a_checkpoint_the_requeued_job_resumes_from(tmp_path):
    """A SLURM job stopped by SIGTERM (preemption, `scontrol requeue`) and requeued starts the same command
    again, without --ckpt_path: it resumes from the hpc_ckpt_<n>.ckpt the signal left in the run folder."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLURM_", "WANDB_"))}
    env.update(SLURM_JOB_ENV, WANDB_MODE="disabled")
    process = training_process(tmp_path, "job", env, "--trainer.logger", "false")
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=60)
    hpc = tmp_path / "job" / "hpc_ckpt_1.ckpt"
    assert f"a requeued job resumes from {hpc} by itself" in output, output[-2000:]
    saved = torch.load(hpc, weights_only=False)
    assert saved["iteration"] >= 40
    assert saved["iteration"] == torch.load(tmp_path / "job" / "checkpoints" / "last.ckpt", weights_only=False)["iteration"]
    epochs = saved["iteration"] // 20 + 1  # the requeued job: the same command, which now ends with this epoch
    again = subprocess.run(fit_command(tmp_path, "job", "--trainer.logger", "false", "--trainer.max_epochs", str(epochs)),
                           env=env, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stdout[-2000:] + again.stderr[-2000:]
    assert f"Restoring states from the checkpoint path at {hpc}" in again.stdout + again.stderr
    ended = torch.load(tmp_path / "job" / "checkpoints" / "last.ckpt", weights_only=False)["iteration"]
    progress = saved["loops"]["fit_loop"]["epoch_progress"]["current"]
    if ended != 20 * epochs and saved["iteration"] % 20 == 0 and progress["completed"] < progress["started"]:
        # Known bug, open: a signal between an epoch's last batch and its end leaves a checkpoint whose
        # resumed run stops an epoch early (about 1 run in 5 here; before and after the emoji work alike).
        pytest.xfail(f"resumed from the end of an unfinished epoch ({progress}): ended at {ended}, not {20 * epochs}")
    assert ended == 20 * epochs


def test_sigterm_to_the_whole_job_closes_wandb_quietly(tmp_path):
    """A scheduler (SLURM's requeue, scancel) signals every process of the job, W&B's service among
    them: the run saves its checkpoint and ends without a traceback, its offline W&B run on disk."""
    env = {k: v for k, v in os.environ.items() if k not in ("WANDB_API_KEY", "WANDB_SERVICE")}
    process = training_process(tmp_path, "job", {**env, "WANDB_MODE": "offline"}, start_new_session=True)
    # W&B starts its service in a session of its own; SLURM signals it anyway (it signals the job's cgroup).
    children = subprocess.run(["pgrep", "-P", str(process.pid)], capture_output=True, text=True).stdout.split()
    assert children  # W&B's service
    os.killpg(process.pid, signal.SIGTERM)
    for child in children:
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(child), signal.SIGTERM)
    output, _ = process.communicate(timeout=60)
    assert "saved" in output and "last.ckpt" in output, output[-2000:]
    assert "Traceback" not in output and "Error" not in output, output[-3000:]
    (run,) = (tmp_path / "job" / "wandb").glob("offline-run-*-job")
    assert list(run.glob("*.wandb")) and torch.load(tmp_path / "job" / "checkpoints" / "last.ckpt",
                                                    weights_only=False)["iteration"] >= 40


def test_a_sigterm_after_training_ended_lets_rank_0_finish_though_rank_1_has_exited(tmp_path):
    """A SLURM step that ends signals the ranks still tearing down. Lightning's SIGTERM handler would
    broadcast the signal to rank 1, gone already: a gloo error on rank 0 and a failed job. W&B's service,
    signalled too, is closed quietly."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLURM_", "WANDB_"))}
    env.update(WANDB_MODE="offline", WANDB_SILENT="true")
    result = subprocess.run([sys.executable, str(ROOT / "tests" / "sigterm_after_training.py"), str(tmp_path)],
                            cwd=tmp_path, env={**env, "PYTHONPATH": str(ROOT / "tests")}, capture_output=True,
                            text=True, timeout=300)
    output = result.stdout + result.stderr
    assert result.returncode == 0 and "Traceback" not in output, output[-3000:]
    assert "SIGTERM after training ended" in result.stderr and "fit ended" in result.stdout, output[-3000:]
    (run,) = (tmp_path / "wandb").glob("offline-run-*")
    assert list(run.glob("*.wandb"))


@pytest.mark.parametrize("requeued", [False, True])
def test_slurms_sigterm_for_a_requeue_this_run_asked_for_does_not_reach_lightnings_handler(requeued, tmp_path):
    """After the SIGUSR1 path saved its hpc checkpoint and ran ``scontrol requeue``, SLURM signals every rank
    while they stop; Lightning's handler would broadcast the signal from inside whatever collective each rank
    is in (the last checkpoint's barrier): gloo's "Connection reset by peer" on rank 0 in the job's log."""
    from lightning.pytorch.loggers import WandbLogger

    lightning_calls = []
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: lightning_calls.append(signum))
    try:
        callback = CheckpointOnInterrupt()
        wandb_logger = object.__new__(WandbLogger)  # only its type matters here
        trainer = type("Trainer", (), {"loggers": [wandb_logger]})()
        callback.on_train_start(trainer, None)
        if requeued:
            callback.requeued_at = tmp_path / "hpc_ckpt_1.ckpt"
        os.kill(os.getpid(), signal.SIGTERM)
        assert trainer.loggers == []  # W&B's service may be gone too
        assert lightning_calls == ([] if requeued else [signal.SIGTERM])
        assert callback.terminated_after_training == requeued
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_the_sigterm_handler_after_fit_is_the_one_from_before(tmp_path):
    """The handler that stops W&B logging wraps Lightning's only while fit runs."""
    before = signal.getsignal(signal.SIGTERM)

    class RecordHandler(L.Callback):
        def __init__(self):
            self.seen = []

        def on_train_batch_end(self, *args):
            self.seen.append(signal.getsignal(signal.SIGTERM))

    record = RecordHandler()
    trainer = L.Trainer(max_epochs=1, logger=False, callbacks=[CheckpointOnInterrupt(), record],
                        enable_progress_bar=False, enable_model_summary=False, enable_checkpointing=False,
                        default_root_dir=tmp_path)
    trainer.fit(WGANGP(*networks(), n_critic=1), GaussianDataModule(batch_size=32, epoch_length=3))
    assert len(record.seen) == 3 and all(h.__name__ == "stop_logging_to_wandb" for h in record.seen)
    assert signal.getsignal(signal.SIGTERM) is before


def test_after_a_fit_under_slurm_that_raised_sigusr1_reaches_the_handler_from_before(tmp_path, monkeypatch):
    """Lightning skips callbacks' teardown when fit raises and puts back the SIGUSR1 handler it found, the
    callback's: a later signal must still reach the handler the process had before fit."""
    for key, value in SLURM_JOB_ENV.items():
        monkeypatch.setenv(key, value)

    def broken_generator_step(*args):
        raise RuntimeError("broken generator step")

    received = []
    before = signal.signal(signal.SIGUSR1, lambda signum, frame: received.append(signum))
    try:
        interrupt = CheckpointOnInterrupt()
        for _ in range(2):  # a second fit by the same callback does not take its own handler for the one before
            trainer = L.Trainer(max_epochs=1, logger=False, callbacks=[interrupt], enable_progress_bar=False,
                                enable_model_summary=False, enable_checkpointing=False, default_root_dir=tmp_path)
            model = NSGAN(*networks())
            model.generator_update = broken_generator_step
            with pytest.raises(RuntimeError, match="broken generator step"):
                trainer.fit(model, GaussianDataModule(batch_size=32, epoch_length=3))
            assert not interrupt.fitting
            signal.raise_signal(signal.SIGUSR1)
            assert received == [signal.SIGUSR1] and not interrupt.requeue_requested
            received.clear()
    finally:
        signal.signal(signal.SIGUSR1, before)


def main_fit_resume(root, max_iterations):
    from gan_lightning.cli import GANCLI

    GANCLI(args=["fit", "--config", str(CONFIGS / "nsgan_gaussian.yaml"), "--trainer.default_root_dir", str(root),
                 "--ckpt_path", "last", "--data.init_args.epoch_length", "20", "--data.init_args.val_size", "20000",
                 "--trainer.max_epochs", "100000",
                 "--trainer.max_steps", str(2 * max_iterations), "--trainer.enable_progress_bar", "false",
                 "--trainer.logger", "false"])
    return torch.load(root / "term" / "checkpoints" / "last.ckpt", weights_only=False)


def test_a_full_disk_while_saving_leaves_the_good_last_checkpoint(tmp_path, monkeypatch):
    model, trainer = resumable_run(tmp_path, epochs=1)
    last = tmp_path / "last.ckpt"
    good = last.read_bytes()
    real_write = local_fs.LocalFileOpener.write

    def write_half_then_fail(self, data):
        real_write(self, data[: len(data) // 2])
        raise OSError(errno.ENOSPC, "No space left on device")

    files = sorted(p.name for p in tmp_path.iterdir())
    monkeypatch.setattr(local_fs.LocalFileOpener, "write", write_half_then_fail)
    with pytest.raises(OSError, match="No space left"):
        trainer.save_checkpoint(last)
    monkeypatch.undo()
    assert last.read_bytes() == good
    assert sorted(p.name for p in tmp_path.iterdir()) == files  # no half-written file left beside it
    assert torch.load(last, weights_only=False)["iteration"] == 15


@pytest.mark.parametrize("data_kind", ["gaussian", "conditional", "images"])
def test_resume_in_the_middle_of_an_epoch_is_bit_for_bit_too(tmp_path, data_kind):
    """A checkpoint at iteration 22 (7 into the second epoch of 15) resumes the data where it stopped,
    and the EMA updated every 4 iterations (22 is not a multiple) keeps its schedule; with labels too,
    and on shuffled digit images (480 training images: 15 batches of 32) with batch norm in both networks."""
    if data_kind == "images":
        write_mnist(tmp_path / "mnist", n_train=600)

    def run(epochs, ckpt_path=None, every=None):
        L.seed_everything(0)
        if data_kind == "images":
            model = NSGAN(DCGANGenerator(latent_dim=8, image_size=28, channels=1, base_width=4),
                          DCGANDiscriminator(image_size=28, channels=1, base_width=4), ema=EMA(0.9, every=4))
            data = MNISTDataModule(data_dir=str(tmp_path / "mnist"), batch_size=32, val_size=120)
        elif data_kind == "conditional":
            model = conditional_ring_model(ema=EMA(0.9, every=4))
            data = GaussianMixtureDataModule(layout="ring8", batch_size=32, epoch_length=15, labels=True)
        else:
            g, d = networks()
            model = NSGAN(g, d, ema=EMA(0.9, every=4))
            data = GaussianDataModule(batch_size=32, epoch_length=15)
        callbacks = [ModelCheckpoint(dirpath=tmp_path / "mid", every_n_train_steps=every, save_top_k=-1)] if every else []
        trainer = L.Trainer(max_epochs=epochs, logger=False, callbacks=callbacks, enable_checkpointing=bool(every),
                            enable_progress_bar=False, enable_model_summary=False, limit_val_batches=0)
        trainer.fit(model, data, ckpt_path=ckpt_path)
        return model

    straight = run(3)
    run(2, every=44)  # global_step 44 = iteration 22 (two optimizer steps an iteration)
    (mid,) = (tmp_path / "mid").glob("*step=44.ckpt")
    assert torch.load(mid, weights_only=False)["iteration"] == 22
    resumed = run(3, ckpt_path=mid)
    assert resumed.iteration == straight.iteration == 45
    for (key, a), b in zip(straight.state_dict().items(), resumed.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=key)