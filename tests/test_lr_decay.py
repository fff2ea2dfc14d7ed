"""LearningRateDecay: rates that fall over the last part of a step or time budget, and resume with it."""

import lightning as L
import pytest
import torch
from lightning.pytorch import Callback
from lightning.pytorch.callbacks import ModelCheckpoint

from gan_lightning.callbacks import LearningRateDecay
from gan_lightning.data import GaussianDataModule
from gan_lightning.errors import ConfigError
from gan_lightning.models import NSGAN
from test_objectives import networks

LR_G, LR_D = 1e-3, 2e-3


class RecordRates(Callback):
    """Both optimizers' rates during each training batch, and a stop after the first epoch when asked."""

    def __init__(self, stop_after_first_epoch: bool = False):
        self.rates, self.stop_after_first_epoch = [], stop_after_first_epoch

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.rates.append(tuple(opt.param_groups[0]["lr"] for opt in trainer.optimizers))

    def on_train_epoch_end(self, trainer, pl_module):
        trainer.should_stop = trainer.should_stop or self.stop_after_first_epoch  # as a crash or SIGTERM would


def decayed_run(root, decay, ckpt_path=None, stop_after_first_epoch=False, **budget):
    L.seed_everything(0)
    model = NSGAN(*networks(), optimizer_g=lambda p: torch.optim.Adam(p, lr=LR_G, betas=(0.5, 0.999)),
                  optimizer_d=lambda p: torch.optim.Adam(p, lr=LR_D, betas=(0.5, 0.999)))
    record = RecordRates(stop_after_first_epoch)
    trainer = L.Trainer(max_epochs=-1, logger=False, enable_progress_bar=False, enable_model_summary=False,
                        limit_val_batches=0, callbacks=[decay, record, ModelCheckpoint(dirpath=root, save_last=True)],
                        **budget)
    trainer.fit(model, GaussianDataModule(batch_size=32, epoch_length=15), ckpt_path=ckpt_path)
    return model, record.rates


def test_rates_hold_then_fall_linearly_to_the_end_factor_over_a_step_budget(tmp_path):
    # 30 iterations = 60 optimizer steps (D, then G); the rates hold for the first half, then fall to 1/10.
    _, rates = decayed_run(tmp_path, LearningRateDecay(start=0.5, end_factor=0.1), max_steps=60)
    assert len(rates) == 30
    for i, (lr_g, lr_d) in enumerate(rates):
        scale = 1 - 0.9 * max(0.0, 2 * i / 60 - 0.5) / 0.5  # the fraction of the budget when iteration i began
        assert lr_g == pytest.approx(LR_G * scale, rel=1e-12) and lr_d == pytest.approx(LR_D * scale, rel=1e-12)
    assert rates[15] == (LR_G, LR_D) and rates[-1][0] == pytest.approx(LR_G * (1 - 0.9 * 28 / 30))


def test_the_scale_is_logged_on_the_logging_iterations_only(tmp_path, monkeypatch):
    from lightning.pytorch.loggers import CSVLogger

    calls = []
    log = NSGAN.log
    monkeypatch.setattr(NSGAN, "log", lambda self, name, *a, **k: (calls.append(name), log(self, name, *a, **k)))
    L.seed_everything(0)
    model = NSGAN(*networks(), optimizer_g=lambda p: torch.optim.Adam(p, lr=LR_G))
    trainer = L.Trainer(max_steps=40, logger=CSVLogger(tmp_path), log_every_n_steps=5, enable_progress_bar=False,
                        enable_model_summary=False, limit_val_batches=0, enable_checkpointing=False,
                        callbacks=[LearningRateDecay(start=0.0, end_factor=0.5)])
    trainer.fit(model, GaussianDataModule(batch_size=32, epoch_length=15))
    assert calls.count("train/lr_scale") == 4  # 20 iterations, every 5th sent to the logger
    import csv
    rows = [r for r in csv.DictReader(open(next(tmp_path.rglob("metrics.csv")))) if r.get("train/lr_scale")]
    # Iteration i (0-based) begins at i / 20 of the budget: the scale there is 1 - 0.5 i / 20.
    assert [float(r["train/lr_scale"]) for r in rows] == pytest.approx([1 - 0.5 * i / 20 for i in (4, 9, 14, 19)])


def test_a_time_budget_takes_the_rates_down_to_the_end_factor_by_the_time_it_is_spent(tmp_path):
    _, rates = decayed_run(tmp_path, LearningRateDecay(start=0.0, end_factor=0.1), max_time={"seconds": 3})
    g_rates = [lr_g for lr_g, _ in rates]
    assert len(g_rates) > 10 and g_rates == sorted(g_rates, reverse=True)
    assert g_rates[0] > 0.9 * LR_G and any(0.4 * LR_G < r < 0.6 * LR_G for r in g_rates)
    assert g_rates[-1] < 0.3 * LR_G  # the last batch begins near the end of the 3 seconds: 1/10 there


def test_a_resumed_run_continues_the_schedule_bit_for_bit(tmp_path):
    straight, straight_rates = decayed_run(tmp_path / "a", LearningRateDecay(start=0.2, end_factor=0.1), max_steps=90)
    _, first_rates = decayed_run(tmp_path / "b", LearningRateDecay(start=0.2, end_factor=0.1), max_steps=90,
                                 stop_after_first_epoch=True)
    resumed, resumed_rates = decayed_run(tmp_path / "c", LearningRateDecay(start=0.2, end_factor=0.1), max_steps=90,
                                         ckpt_path=tmp_path / "b" / "last.ckpt")
    assert len(first_rates) == 15 and first_rates + resumed_rates == straight_rates
    assert straight_rates[-1][0] < 0.2 * LR_G
    for (key, a), b in zip(straight.state_dict().items(), resumed.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=key)


def test_bad_settings_are_refused_with_the_value():
    with pytest.raises(ConfigError, match=r"start must be in \[0, 1\), got 1.0"):
        LearningRateDecay(start=1.0)
    with pytest.raises(ConfigError, match=r"end_factor must be in \(0, 1\], got 0"):
        LearningRateDecay(end_factor=0)
    model = NSGAN(*networks(), scheduler=lambda o: torch.optim.lr_scheduler.StepLR(o, 7, 0.5))
    trainer = L.Trainer(max_steps=4, logger=False, enable_progress_bar=False, enable_model_summary=False,
                        enable_checkpointing=False, limit_val_batches=0, callbacks=[LearningRateDecay()])
    with pytest.raises(ConfigError, match="remove the model's scheduler,"):
        trainer.fit(model, GaussianDataModule(batch_size=32, epoch_length=15))
