"""The progress bar redraws by the clock, not after every batch, and stays out of the CLI when asked."""

import lightning as L
import pytest
from lightning.pytorch.callbacks import TQDMProgressBar

from gan_lightning.callbacks import TimedProgressBar
from gan_lightning.cli import GANCLI
from gan_lightning.models import NSGAN
from helpers import CONFIGS
from test_objectives import OBJECTIVES, networks


def test_a_terminal_bar_redraws_at_most_once_per_refresh_interval(monkeypatch):
    bar = TimedProgressBar(refresh_seconds=0.5)
    clock = iter([0.0, 0.1, 0.3, 0.49, 0.51, 0.6, 1.2, 1.3])
    monkeypatch.setattr("gan_lightning.callbacks.progress.time.monotonic", lambda: next(clock))
    assert [bar._should_update(n, 100) for n in range(1, 8)] == [True, False, False, False, True, False, True]
    assert bar._should_update(100, 100)  # the last batch always shows


def fit_with(bar, iterations, capsys):
    L.seed_everything(0)
    from gan_lightning.data import GaussianDataModule

    model = OBJECTIVES["NSGAN"](*networks())
    trainer = L.Trainer(max_epochs=1, logger=False, enable_checkpointing=False, enable_model_summary=False,
                        limit_val_batches=0, log_every_n_steps=5, callbacks=[bar])
    capsys.readouterr()
    trainer.fit(model, GaussianDataModule(batch_size=32, epoch_length=iterations))
    return capsys.readouterr().out


def test_in_a_terminal_the_bar_draws_a_few_times_where_lightnings_draws_every_batch(capsys):
    ours = fit_with(TimedProgressBar(refresh_seconds=3600, terminal=True), 200, capsys)
    lightnings = fit_with(TQDMProgressBar(), 200, capsys)
    assert "Epoch 0" in ours and "200/200" in ours  # it is drawn, and its last state shows
    # A handful of draws at start and end (measured: 9) against two per batch (measured: 405).
    assert ours.count("\r") <= 15 < 400 <= lightnings.count("\r")


def test_off_a_terminal_it_prints_plain_lines_and_no_bars(capsys):
    out = fit_with(TimedProgressBar(log_seconds=0, terminal=False), 20, capsys)
    assert "\r" not in out and "Epoch 0" not in out
    lines = [line for line in out.splitlines() if line.startswith("epoch 0, batch ")]
    assert len(lines) == 20 and "batch 20/20, iteration 20" in lines[-1] and "train/d_loss=" in lines[-1]
    assert "done: iteration 20" in out


@pytest.mark.parametrize("budget, most", [({"max_epochs": 1000, "max_time": "00:00:00:03"}, 3),
                                          ({"max_epochs": 1000, "max_steps": 60}, 60)])
def test_the_time_left_is_that_of_the_first_budget_to_run_out(budget, most, capsys):
    from gan_lightning.data import GaussianDataModule

    L.seed_everything(0)
    trainer = L.Trainer(logger=False, enable_checkpointing=False, enable_model_summary=False, limit_val_batches=0,
                        callbacks=[TimedProgressBar(log_seconds=0, terminal=False)], **budget)
    trainer.fit(OBJECTIVES["NSGAN"](*networks()), GaussianDataModule(batch_size=32, epoch_length=20))
    lines = [line for line in capsys.readouterr().out.splitlines() if " left" in line]
    lefts = [line.split(" left")[0].rsplit(", ", 1)[1] for line in lines]
    seconds = [int(h) * 3600 + int(m) * 60 + int(s) for h, m, s in (t.split(":") for t in lefts)]
    # 1,000 epochs of 20 batches would take minutes at the least; the run ends at its budget instead.
    assert seconds and max(seconds) <= most


def test_the_time_left_counts_batches_that_hold_several_iterations(capsys):
    """The line's rate is in iterations, the epochs' budget in batches of 5 iterations each."""
    from gan_lightning.data import GaussianDataModule

    class StopAfter30Batches(L.Callback):
        def on_train_batch_end(self, trainer, *args):
            trainer.should_stop = trainer.global_step >= 300  # 30 batches of 5 iterations of 2 optimizer steps

    L.seed_everything(0)
    trainer = L.Trainer(max_epochs=1000, logger=False, enable_checkpointing=False, enable_model_summary=False,
                        limit_val_batches=0, callbacks=[TimedProgressBar(log_seconds=0, terminal=False),
                                                        StopAfter30Batches()])
    trainer.fit(OBJECTIVES["NSGAN"](*networks()), GaussianDataModule(batch_size=32, epoch_length=100,
                                                                     iterations_per_batch=5))
    (line,) = [line for line in capsys.readouterr().out.splitlines() if line.startswith("epoch 0, batch 10/20,")]
    rate = float(line.split(" it/s")[0].rsplit(", ", 1)[1])
    h, m, s = line.split(" left")[0].rsplit(", ", 1)[1].split(":")
    expected = (1000 * 20 - 10) / (rate / 5)  # batches left over batches a second
    assert abs(int(h) * 3600 + int(m) * 60 + int(s) - expected) <= 0.05 * expected + 2, (line, expected)


@pytest.mark.parametrize("extra, expected", [
    ([], TimedProgressBar),
    (["--trainer.enable_progress_bar", "false"], None),
    (["--trainer.callbacks", "lightning.pytorch.callbacks.TQDMProgressBar"], TQDMProgressBar),  # a user's own bar
])
def test_the_cli_uses_this_bar_unless_told_otherwise(tmp_path, extra, expected):
    cli = GANCLI(args=["--config", str(CONFIGS / "nsgan_gaussian.yaml"), "--trainer.logger", "false",
                       "--trainer.default_root_dir", str(tmp_path), *extra], run=False)
    bars = [c for c in cli.trainer.callbacks if isinstance(c, TQDMProgressBar)]
    assert [type(b) for b in bars] == ([expected] if expected else [])
    assert isinstance(cli.model, NSGAN)
