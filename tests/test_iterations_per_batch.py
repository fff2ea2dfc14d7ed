"""Several iterations a Lightning step (``iterations_per_batch`` of the 1-D data): iterations stay the unit of the
budget, the epochs, the logs, the validations and the checkpoints, a resumed run is bit for bit the uninterrupted
one, and the generator still learns."""

import csv

import lightning as L
import pytest
import torch
from lightning.pytorch.callbacks import ModelCheckpoint

from gan_lightning.commands import main
from gan_lightning.data import GaussianDataModule, GaussianMixtureDataModule
from gan_lightning.ema import EMA
from gan_lightning.errors import ConfigError
from gan_lightning.models import NSGAN
from helpers import CONFIGS
from test_conditional import conditional_ring_model
from test_objectives import networks, w1_to_data


def test_an_iteration_is_an_iteration_whatever_the_batch_holds():
    data = GaussianDataModule(batch_size=32, batches_per_step=2, epoch_length=20, iterations_per_batch=5)
    batches = list(data.train_dataloader())
    assert len(batches) == 4 and batches[0].shape == (32 * 2 * 5, 1)  # 20 iterations of 2 critic batches of 32
    with pytest.raises(ConfigError, match="epoch_length 21 counts iterations and must be a multiple of "
                                          "iterations_per_batch 5"):
        GaussianDataModule(epoch_length=21, iterations_per_batch=5)
    with pytest.raises(ConfigError, match="iterations_per_batch must be >= 1, got 0"):
        GaussianMixtureDataModule(iterations_per_batch=0)


def test_a_run_resumed_between_steps_is_bit_for_bit_the_uninterrupted_one(tmp_path):
    """Labelled ring data (the labels split with the samples), 3 critic updates an iteration, EMA every 4."""

    def run(epochs, ckpt_path=None, every=None):
        L.seed_everything(0)
        model = conditional_ring_model(ema=EMA(0.9, every=4), n_critic=3)
        data = GaussianMixtureDataModule(layout="ring8", batch_size=16, batches_per_step=3, epoch_length=15,
                                         labels=True, iterations_per_batch=5)
        callbacks = [ModelCheckpoint(dirpath=tmp_path / "mid", every_n_train_steps=every, save_top_k=-1)] if every else []
        trainer = L.Trainer(max_epochs=epochs, logger=False, callbacks=callbacks, enable_checkpointing=bool(every),
                            enable_progress_bar=False, enable_model_summary=False, limit_val_batches=0)
        trainer.fit(model, data, ckpt_path=ckpt_path)
        return model, trainer

    straight, trainer = run(3)
    assert straight.iteration == 45 and trainer.global_step == 45 * 4  # 3 epochs of 15 iterations, 4 steps each
    run(2, every=40)  # 40 optimizer steps = 2 batches of 5 iterations: iteration 10, mid-epoch
    (mid,) = (tmp_path / "mid").glob("*step=40.ckpt")
    assert torch.load(mid, weights_only=False)["iteration"] == 10
    resumed, _ = run(3, ckpt_path=mid)
    assert resumed.iteration == 45
    for (key, a), b in zip(straight.state_dict().items(), resumed.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=key)


def test_the_generator_learns_with_five_iterations_a_step():
    L.seed_everything(0)
    model = NSGAN(*networks())
    data = GaussianDataModule(batch_size=128, epoch_length=400, iterations_per_batch=5)
    before = w1_to_data(model, data)
    trainer = L.Trainer(max_epochs=1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, limit_val_batches=0)
    trainer.fit(model, data)
    assert model.iteration == 400 and w1_to_data(model, data) < 0.5 * before


def test_the_cli_keeps_logs_validations_and_the_budget_in_iterations(tmp_path, capsys):
    """nsgan_gaussian.yaml with 5 iterations a step: --iterations 100, an epoch of 50 iterations with a validation
    at its end, losses logged every 10 iterations, and the loggers' x-axis in iterations."""
    main(["fit", "--config", str(CONFIGS / "nsgan_gaussian.yaml"), "--trainer.default_root_dir", str(tmp_path),
          "--run_name", "k5", "--data.init_args.iterations_per_batch", "5", "--data.init_args.epoch_length", "50",
          "--data.init_args.val_size", "2000", "--iterations", "100", "--trainer.log_every_n_steps", "10",
          "--trainer.enable_progress_bar", "false", "--trainer.logger", "lightning.pytorch.loggers.CSVLogger",
          "--trainer.logger.save_dir", str(tmp_path / "csv"), "--cpu.threads", "1"])
    run = tmp_path / "k5"
    assert torch.load(run / "checkpoints" / "last.ckpt", weights_only=False)["iteration"] == 100
    rows = list(csv.DictReader(open(next((tmp_path / "csv").rglob("metrics.csv")))))
    assert [int(r["step"]) for r in rows if r.get("train/d_loss")] == list(range(9, 100, 10))
    assert [(int(r["step"]), float(r["iteration"])) for r in rows if r.get("val/w1")] == [(49, 50.0), (99, 100.0)]
    assert "log_every_n_steps: 10" in next(tmp_path.rglob("config.yaml")).read_text()  # the saved config: iterations



def cli_run(tmp_path, name, *args):
    """nsgan_gaussian.yaml (25 iterations a step as shipped), 50-iteration epochs, losses in a CSV file."""
    main(["fit", "--config", str(CONFIGS / "nsgan_gaussian.yaml"), "--trainer.default_root_dir", str(tmp_path),
          "--run_name", name, "--data.init_args.epoch_length", "50", "--data.init_args.val_size", "2000",
          "--trainer.enable_progress_bar", "false", "--trainer.logger", "lightning.pytorch.loggers.CSVLogger",
          "--trainer.logger.save_dir", str(tmp_path / name / "csv"), "--cpu.threads", "1", *args])
    rows = list(csv.DictReader(open(sorted((tmp_path / name / "csv").rglob("metrics.csv"))[-1])))
    return torch.load(tmp_path / name / "checkpoints" / "last.ckpt", weights_only=False), rows


def test_a_new_run_runs_as_many_iterations_a_step_as_its_intervals_allow(tmp_path, caplog):
    """Logging every 10 iterations lowers the shipped 25 a step to 5 (said in one line) instead of refusing."""
    checkpoint, rows = cli_run(tmp_path, "log10", "--iterations", "60", "--trainer.log_every_n_steps", "10")
    assert checkpoint["datamodule_hyper_parameters"]["iterations_per_batch"] == 5 and checkpoint["iteration"] == 60
    assert [int(r["step"]) for r in rows if r.get("train/d_loss")] == list(range(9, 60, 10))
    assert ("iterations_per_batch: 5 a step, not 25, so that steps end at the run's intervals "
            "(trainer.log_every_n_steps 10, iterations 60, counted in iterations)") in caplog.text

    checkpoint, rows = cli_run(tmp_path, "log25", "--iterations", "50")  # the shipped intervals: 25 a step
    assert checkpoint["datamodule_hyper_parameters"]["iterations_per_batch"] == 25
    assert [int(r["step"]) for r in rows if r.get("train/d_loss")] == [24, 49]


def test_a_resumed_run_keeps_its_checkpoints_iterations_a_step(tmp_path, capsys, caplog):
    cli_run(tmp_path, "run", "--iterations", "50")  # 25 a step
    last = str(tmp_path / "run" / "checkpoints" / "last.ckpt")
    with pytest.raises(SystemExit) as exit:  # a new run would take 5 a step; the checkpoint stopped in steps of 25
        cli_run(tmp_path, "run", "--iterations", "100", "--trainer.log_every_n_steps", "10", "--ckpt_path", last)
    assert exit.value.code == 2 and capsys.readouterr().err.strip().splitlines()[-1].endswith(
        "--trainer.log_every_n_steps 10 counts iterations and must be a multiple of data.init_args.iterations_per_batch"
        " 25, the iterations a step of the checkpoint it resumes")
    checkpoint, rows = cli_run(tmp_path, "run", "--iterations", "100", "--data.init_args.iterations_per_batch", "5",
                               "--ckpt_path", last)
    assert checkpoint["datamodule_hyper_parameters"]["iterations_per_batch"] == 25 and checkpoint["iteration"] == 100
    assert [int(r["step"]) for r in rows if r.get("train/d_loss")] == [74, 99]
    assert "iterations_per_batch: 25, the checkpoint's (not 5)" in caplog.text


@pytest.mark.parametrize("labels", [False, True])
def test_the_stream_is_the_same_however_many_iterations_a_batch_holds(labels):
    def epochs(k):
        data = GaussianMixtureDataModule(batch_size=8, batches_per_step=3, epoch_length=50, labels=labels,
                                         iterations_per_batch=k)
        loader = data.train_dataloader()
        batches = [batch for _ in range(2) for batch in loader]  # two epochs: the epoch enters the seeds
        return [torch.cat(column) for column in zip(*batches)] if labels else [torch.cat(batches)]

    one = epochs(1)
    assert one[0].shape == (2 * 50 * 3 * 8, 2)
    for k in (5, 25):
        for a, b in zip(one, epochs(k)):
            torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_iterations_a_step_change_nothing_but_the_speed():
    """Without the learning-rate decay (which rescales the rates once a step), a run of 25 iterations a step ends
    bit for bit where the same run of one a step does."""

    def run(k):
        L.seed_everything(0)
        model = NSGAN(*networks())
        trainer = L.Trainer(max_epochs=2, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                            enable_model_summary=False, limit_val_batches=0)
        trainer.fit(model, GaussianDataModule(batch_size=64, epoch_length=50, iterations_per_batch=k))
        return model

    one, many = run(1), run(25)
    assert one.iteration == many.iteration == 100
    for (key, a), b in zip(one.state_dict().items(), many.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=key)
