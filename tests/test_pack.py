"""PacGAN packing: the discriminator judges packs of samples, and the penalties take norms per pack."""

import lightning as L
import pytest
import torch
from torch import nn
from torch.testing import assert_close

from gan_lightning.callbacks import DistributionPlot
from gan_lightning.data import GaussianDataModule
from gan_lightning.errors import ConfigError
from gan_lightning.models import NSGAN, WGANGP
from gan_lightning.networks import MLPDiscriminator, MLPGenerator, Packed
from gan_lightning.regularizers import R1, R2


class LinearCritic(nn.Module):
    """D(pack) = 3 x_1 + 4 x_2 on packs of two 1-D samples: the input gradient per pack has norm 5."""

    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.tensor([3.0, 4.0]))
        self.inputs = []

    def forward(self, x):
        self.inputs.append(x.detach().clone())
        return x @ self.w


class FailingCritic(nn.Module):
    """Built for packs of two 1-D samples, but fails for a reason of its own."""

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(2, 1)

    def forward(self, x):
        raise RuntimeError("not a shape fault")


def test_the_critic_sees_consecutive_samples_joined_and_penalties_take_the_norm_per_pack():
    critic = LinearCritic()
    model = NSGAN(MLPGenerator(latent_dim=2), Packed(critic, 2), regularizers=[R1(gamma=2.0), R2(gamma=2.0)])
    real = torch.tensor([[1.0], [2.0], [3.0], [4.0]])
    fake = torch.tensor([[5.0], [6.0], [7.0], [8.0]])
    terms = model.critic_loss(real, fake, critic_step=0)
    assert_close(critic.inputs[0], torch.tensor([[1.0, 2.0], [3.0, 4.0]]))
    assert_close(critic.inputs[1], torch.tensor([[5.0, 6.0], [7.0, 8.0]]))
    # Per pack ||(3, 4)||^2 = 25; per sample it would be (9 + 16) / 2 = 12.5.
    assert_close(terms["r1"], torch.tensor(25.0))
    assert_close(terms["r2"], torch.tensor(25.0))
    wgangp = WGANGP(MLPGenerator(latent_dim=2), Packed(LinearCritic(), 2), gp_weight=1.0)
    assert_close(wgangp.critic_loss(real, fake, critic_step=0)["gp"], torch.tensor((5.0 - 1.0) ** 2))


def test_bad_packs_stop_where_they_enter():
    with pytest.raises(ConfigError, match="pack must be >= 1, got 0"):
        Packed(MLPDiscriminator(), pack=0)
    with pytest.raises(ConfigError, match="pack 2 needs an unconditional discriminator.*num_classes 3"):
        Packed(MLPDiscriminator(num_classes=3), pack=2)
    unpacked = NSGAN(MLPGenerator(latent_dim=2), Packed(MLPDiscriminator(input_shape=[1]), 2))
    with pytest.raises(ConfigError, match=r"inputs of shape \(2,\) \(2 x the data's 1 channels or features\)"):
        unpacked.critic_loss(torch.zeros(4, 1), torch.zeros(4, 1), critic_step=0)
    broken = NSGAN(MLPGenerator(latent_dim=2), Packed(FailingCritic(), 2))
    with pytest.raises(RuntimeError, match="not a shape fault") as raised:  # built for packs: passed on as it is
        broken.critic_loss(torch.zeros(4, 1), torch.zeros(4, 1), critic_step=0)
    assert not isinstance(raised.value, ConfigError)
    model = NSGAN(MLPGenerator(latent_dim=2), Packed(MLPDiscriminator(input_shape=[3]), 3))
    trainer = L.Trainer(max_steps=2, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, limit_val_batches=0)
    with pytest.raises(ConfigError, match="batch_size is 64; use a multiple of 3"):
        trainer.fit(model, GaussianDataModule(batch_size=64, epoch_length=4))


def test_a_packed_discriminator_learns_n_4_05_and_is_plotted(tmp_path):
    L.seed_everything(0)
    model = NSGAN(MLPGenerator(latent_dim=4, hidden=[32, 32], activation="leaky_relu"),
                  Packed(MLPDiscriminator(input_shape=[2], data_mean=4.0, data_std=0.5), 2), regularizers=[R1(1.0)],
                  optimizer_g=lambda p: torch.optim.Adam(p, 1e-3, betas=(0.5, 0.9)),
                  optimizer_d=lambda p: torch.optim.Adam(p, 1e-3, betas=(0.5, 0.9)))
    data = GaussianDataModule(batch_size=64, epoch_length=450, val_size=500)
    before = float(model.sample(2000, seed=1).mean())
    trainer = L.Trainer(max_epochs=1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, default_root_dir=tmp_path, callbacks=[DistributionPlot(500)])
    trainer.fit(model, data)
    after = model.sample(2000, seed=1)
    assert abs(float(after.mean()) - 4.0) < 0.25 * abs(before - 4.0)
    assert list((tmp_path / "plots").glob("distribution_*.png"))  # D drawn on packs of copies of each point
