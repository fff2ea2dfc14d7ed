"""R1, R2 and the gradient penalty as regularizers: hand-computed values, laziness, and training with each."""

import lightning as L
import pytest
import torch
from torch import nn
from torch.testing import assert_close

from gan_lightning.data import GaussianDataModule
from gan_lightning.errors import ConfigError
from gan_lightning.models import NSGAN, WGANGP, RpGAN
from gan_lightning.networks import MLPDiscriminator, MLPGenerator
from gan_lightning.critic import Judgement
from gan_lightning.regularizers import R1, R2, CriticStep, GradientPenalty


class QuadraticCritic(nn.Module):
    """D(x) = sum(a * x^2): its input gradient 2 a x is known in closed form."""

    def __init__(self, a: float):
        super().__init__()
        self.a = nn.Parameter(torch.tensor(a))

    def forward(self, x):
        return (self.a * x ** 2).flatten(1).sum(1)


def critic_step(critic, real, fake):
    """What the training step hands a regularizer: the batches, the critic's judgements, the critic."""
    return CriticStep(real, fake, Judgement(critic(real)), Judgement(critic(fake)), None, critic)


def test_r1_and_r2_equal_the_hand_computed_squared_gradient_norm():
    critic = QuadraticCritic(1.5)
    real = torch.tensor([[1.0, 2.0], [0.0, -1.0]], requires_grad=True)
    fake = torch.tensor([[3.0, 0.0], [1.0, 1.0]], requires_grad=True)
    step = critic_step(critic, real, fake)
    # ||2 a x||^2 = 4 a^2 ||x||^2: real rows 5 and 1, fake rows 9 and 2.
    r1, r2 = R1(gamma=0.2), R2(gamma=0.4)
    assert_close(r1.discriminator_term(step)[0], torch.tensor(4 * 1.5 ** 2 * (5 + 1) / 2))
    assert_close(r2.discriminator_term(step)[0], torch.tensor(4 * 1.5 ** 2 * (9 + 2) / 2))
    assert r1.generator_term(None) is None and r1.weight == 0.1  # gamma / 2, in D's loss only
    weighted = r1.weight * r1.discriminator_term(step)[0]
    weighted.backward()  # reaches the critic's weight: d/da of 0.1 * 4 a^2 * 3 = 2.4 a
    assert_close(critic.a.grad, torch.tensor(2.4 * 1.5))


def test_lazy_regularization_is_the_eager_one_in_expectation():
    eager, lazy = R1(gamma=1.0), R1(gamma=1.0, every=4)
    steps = range(16)
    assert [s for s in steps if lazy.active(s)] == [0, 4, 8, 12] and all(eager.active(s) for s in steps)
    critic = QuadraticCritic(1.0)
    real = torch.ones(3, 2, requires_grad=True)
    step = critic_step(critic, real, real)
    loss = lambda r: r.weight * r.every * r.discriminator_term(step)[0]  # noqa: E731  as the training step weighs it
    eager_total = sum(loss(eager) for s in steps if eager.active(s))
    lazy_total = sum(loss(lazy) for s in steps if lazy.active(s))
    assert_close(lazy_total, eager_total)  # weight x 4 every 4 steps


def test_a_regularizer_of_weight_zero_is_never_computed():
    """An ablation at weight 0 (WGAN-GP's ``gp_weight: 0``) costs no double backward and logs no term."""
    assert not any(R1(gamma=0.0).active(s) for s in range(8)) and not GradientPenalty(0.0).active(0)
    model = WGANGP(MLPGenerator(latent_dim=2), MLPDiscriminator(), gp_weight=0.0, n_critic=1)
    terms = model.critic_loss(torch.randn(8, 1), torch.randn(8, 1), critic_step=0)
    assert "gp" not in terms and "d_real" in terms


def test_wgangp_with_gp_one_sided_charges_nothing_for_a_gentle_critic():
    """The critic's slopes are all far under 1: the paper's penalty charges (1 - slope)^2, the one-sided one nothing."""
    terms = {}
    for one_sided in (False, True):
        torch.manual_seed(0)
        model = WGANGP(MLPGenerator(latent_dim=2), MLPDiscriminator(), gp_weight=1.0, gp_one_sided=one_sided, n_critic=1)
        with torch.no_grad():
            for p in model.discriminator.parameters():
                p.mul_(0.01)
        terms[one_sided] = model.critic_loss(torch.randn(8, 1) + 4, torch.randn(8, 1), critic_step=0)["gp"]
    assert terms[False] > 0.9 and terms[True] == 0


def test_bad_weights_stop_with_one_line():
    with pytest.raises(ConfigError, match="need weight >= 0 and every >= 1, got -0.5 and 1"):
        R1(gamma=-1.0)
    with pytest.raises(ConfigError, match="every >= 1, got 10.0 and 0"):
        GradientPenalty(every=0)


def test_regularizers_are_logged_applied_lazily_and_use_one_forward_pass_per_batch():
    calls = []

    class CountingDiscriminator(MLPDiscriminator):
        def forward(self, x):
            calls.append(len(x))
            return super().forward(x)

    L.seed_everything(0)
    model = NSGAN(MLPGenerator(latent_dim=2), CountingDiscriminator(), regularizers=[R1(0.1), R2(0.1, every=2)])
    logged = []
    model.divergence.watch = lambda iteration, terms: logged.append(set(terms))
    trainer = L.Trainer(max_epochs=1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, limit_val_batches=0)
    trainer.fit(model, GaussianDataModule(batch_size=8, epoch_length=4))
    # Each iteration: D on real and on fake (R1 and R2 reuse those passes), then D on the generator's fakes.
    assert calls == [8, 8, 8] * 4
    assert all("train/r1" in keys for keys in logged)
    assert ["train/r2" in keys for keys in logged] == [True, False, True, False]


@pytest.mark.parametrize("precision", ["32-true", "bf16-mixed"])
@pytest.mark.parametrize("regularizers", [[R1(1.0)], [R2(1.0)], [GradientPenalty(1.0)]], ids=["r1", "r2", "gp"])
def test_training_with_each_regularizer_stays_finite_and_learns(regularizers, precision):
    L.seed_everything(0)
    # The generator starts near 0, far from N(4, 0.5); the discriminator sees standardized input.
    model = RpGAN(MLPGenerator(latent_dim=4, hidden=[32, 32], activation="leaky_relu"),
                  MLPDiscriminator(data_mean=4.0, data_std=0.5),
                  regularizers=regularizers, optimizer_g=lambda p: torch.optim.Adam(p, 1e-3, betas=(0.5, 0.9)),
                  optimizer_d=lambda p: torch.optim.Adam(p, 1e-3, betas=(0.5, 0.9)))
    data = GaussianDataModule(batch_size=64, epoch_length=450, val_size=500)
    before = float(model.sample(2000, seed=1).mean())
    trainer = L.Trainer(max_epochs=1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, precision=precision, limit_val_batches=0)
    trainer.fit(model, data)
    after = model.sample(2000, seed=1)
    assert torch.isfinite(after).all() and abs(float(after.mean()) - 4.0) < 0.5 * abs(before - 4.0)
