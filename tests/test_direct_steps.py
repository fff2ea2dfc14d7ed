"""Optimizer steps straight to torch where nothing listens to Lightning's hooks (``models.optimizers.steps_directly``):
the same training, bit for bit, and the same step count as Lightning's path, which still runs wherever a callback,
the module, a profiler, DDP or a gradient scaler needs it."""

import lightning as L
import pytest
import torch

from gan_lightning.data import GaussianMixtureDataModule
from gan_lightning.ema import EMA
from gan_lightning.models import NSGAN, WGANGP
from gan_lightning.models.optimizers import optimizer_steps, steps_directly
from gan_lightning.networks import MLPDiscriminator, MLPGenerator
from gan_lightning.regularizers import R1, GradientPenalty


class CountGradientHooks(L.Callback):
    """Listens to the hooks around backward and the optimizer step, as a gradient-norm logger would."""

    def __init__(self):
        self.calls = {"on_before_backward": 0, "on_after_backward": 0, "on_before_optimizer_step": 0}

    def on_before_backward(self, trainer, pl_module, loss):
        self.calls["on_before_backward"] += 1

    def on_after_backward(self, trainer, pl_module):
        self.calls["on_after_backward"] += 1

    def on_before_optimizer_step(self, trainer, pl_module, optimizer):
        self.calls["on_before_optimizer_step"] += 1


MODELS = {
    "NS-GAN, lazy R1, EMA, clipped": lambda g, d: NSGAN(g, d, regularizers=[R1(0.1, every=4)], ema=EMA(0.99),
                                                       gradient_clip_val=1.0),
    "WGAN-GP, 3 critic steps, D pretraining": lambda g, d: WGANGP(g, d, n_critic=3, d_pretrain_steps=5,
                                                                  regularizers=[GradientPenalty(10.0)]),
}


def train(name: str, iterations: int, callbacks: list) -> tuple[NSGAN, L.Trainer]:
    L.seed_everything(0)
    model = MODELS[name](MLPGenerator(latent_dim=4, output_shape=[2], hidden=[16]),
                         MLPDiscriminator(input_shape=[2], hidden=[16]))
    data = GaussianMixtureDataModule(batch_size=16, batches_per_step=model.n_critic, epoch_length=1000, val_size=64)
    trainer = L.Trainer(max_steps=optimizer_steps(iterations, model.n_critic, model.d_pretrain_steps),
                        log_every_n_steps=10, callbacks=callbacks, logger=False, limit_val_batches=0,
                        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(model, data)
    return model, trainer


@pytest.mark.parametrize("name", MODELS)
def test_direct_steps_train_as_lightnings_path_does(name):
    direct, direct_trainer = train(name, 30, [])
    listener = CountGradientHooks()
    hooked, hooked_trainer = train(name, 30, [listener])
    assert direct._steps_directly and not hooked._steps_directly
    # Every step still counted: max_steps stopped both after 30 iterations, at the same global step.
    assert direct.iteration == hooked.iteration == 30
    assert direct_trainer.global_step == hooked_trainer.global_step == optimizer_steps(30, direct.n_critic,
                                                                                       direct.d_pretrain_steps)
    # A callback that listens gets every hook of every step.
    assert set(listener.calls.values()) == {hooked_trainer.global_step}, listener.calls
    for (key, a), b in zip(direct.state_dict().items(), hooked.state_dict().values()):
        assert torch.equal(a, b), f"{key} differs between the direct and Lightning's path"


class StepHookModel(NSGAN):
    def on_before_optimizer_step(self, optimizer):
        pass


def trainer(**kwargs) -> L.Trainer:
    return L.Trainer(logger=False, enable_checkpointing=False, enable_progress_bar=False, accelerator="cpu", **kwargs)


def nsgan(cls=NSGAN) -> NSGAN:
    return cls(MLPGenerator(latent_dim=4, output_shape=[2], hidden=[8]), MLPDiscriminator(input_shape=[2], hidden=[8]))


def test_steps_go_through_lightning_wherever_something_needs_its_hooks():
    assert steps_directly(trainer(), nsgan())
    assert steps_directly(trainer(precision="bf16-mixed"), nsgan())  # autocast only: no scaler to step
    assert not steps_directly(trainer(callbacks=[CountGradientHooks()]), nsgan())
    assert not steps_directly(trainer(), nsgan(StepHookModel))
    assert not steps_directly(trainer(profiler="simple"), nsgan())
    assert not steps_directly(trainer(precision="64-true"), nsgan())
    assert not steps_directly(trainer(strategy="ddp", devices=2), nsgan())  # the reducer hooks into backward
