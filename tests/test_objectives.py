"""Each objective learns 1-D N(4, 0.5) on the CPU, keeps its constraint, and updates D and G apart."""

import lightning as L
import pytest
import torch

from gan_lightning import losses
from gan_lightning.augment import DiffAugment
from gan_lightning.data import GaussianDataModule
from gan_lightning.errors import ConfigError
from gan_lightning.metrics import Wasserstein1D
from gan_lightning.models import GAN, LSGAN, NSGAN, WGAN, WGANGP, Hinge, RpGAN
from gan_lightning.ema import EMA
from gan_lightning.regularizers import R1, R2, FeatureMatching, GeneratorStep
from gan_lightning.networks import DCGANDiscriminator, DCGANGenerator, MLPDiscriminator, MLPGenerator


def adam(lr, beta1):
    return lambda params: torch.optim.Adam(params, lr=lr, betas=(beta1, 0.9))


# The losses, optimizers and constraints of configs/<objective>_gaussian.yaml (the CLI tests run the files
# themselves, with their schedules and regularizers); keyword arguments go to the model.
OBJECTIVES = {
    "GAN": lambda g, d, **kw: GAN(g, d, optimizer_g=adam(1e-3, 0.5), optimizer_d=adam(1e-3, 0.5), **kw),
    "NSGAN": lambda g, d, **kw: NSGAN(g, d, optimizer_g=adam(1e-3, 0.5), optimizer_d=adam(1e-3, 0.5), **kw),
    "WGAN": lambda g, d, **kw: WGAN(g, d, optimizer_g=lambda p: torch.optim.RMSprop(p, lr=5e-4),
                                    optimizer_d=lambda p: torch.optim.RMSprop(p, lr=5e-4), clip_value=0.01, **kw),
    "WGANGP": lambda g, d, **kw: WGANGP(g, d, optimizer_g=adam(1e-3, 0.0), optimizer_d=adam(1e-3, 0.0), gp_weight=0.1,
                                        **kw),
    "Hinge": lambda g, d, **kw: Hinge(g, d, optimizer_g=adam(1e-3, 0.5), optimizer_d=adam(1e-3, 0.5), **kw),
    "LSGAN": lambda g, d, **kw: LSGAN(g, d, optimizer_g=adam(1e-3, 0.5), optimizer_d=adam(1e-3, 0.5), **kw),
    "RpGAN": lambda g, d, **kw: RpGAN(g, d, optimizer_g=adam(1e-3, 0.5), optimizer_d=adam(1e-3, 0.5),
                                      regularizers=[R1(gamma=0.1), R2(gamma=0.1)], **kw),
}


def networks():
    """The shipped Gaussian networks: both in units standardized by the data's mean and std."""
    return (MLPGenerator(latent_dim=4, output_shape=[1], hidden=[32, 32], activation="leaky_relu", data_mean=4.0,
                         data_std=0.5),
            MLPDiscriminator(input_shape=[1], hidden=[32, 32], activation="leaky_relu", data_mean=4.0, data_std=0.5))


def w1_to_data(model, data) -> float:
    metric = Wasserstein1D()
    metric.update(data.val_data, model.sample(len(data.val_data), seed=123))
    return float(metric.compute())


def fit(model, iterations, **data_kwargs):
    data = GaussianDataModule(batch_size=128, batches_per_step=model.n_critic, epoch_length=iterations, **data_kwargs)
    trainer = L.Trainer(max_epochs=1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, limit_val_batches=0)
    trainer.fit(model, data)
    return data, trainer


@pytest.mark.parametrize("name", OBJECTIVES)
def test_a_short_run_spreads_a_collapsed_generator_to_the_data(name):
    L.seed_everything(0)
    # Sampled from the average of G's recent weights, as every shipped Gaussian config samples: at a constant rate
    # the plain objectives circle the data, and where one snapshot of that lands moves with the CPU's float
    # rounding (NS-GAN's W1 at seed 0 0.122 on one CPU, under 0.12 on another; 0.025 with the average).
    model = OBJECTIVES[name](*networks(), ema=EMA(0.999))
    data = GaussianDataModule()
    before, std_before = w1_to_data(model, data), float(model.sample(5000, seed=1).std())
    fit(model, iterations=1000)
    after, std_after = w1_to_data(model, data), float(model.sample(5000, seed=1).std())
    # An untrained generator puts nearly all its mass on one point near the mean (std ~0.03 of 0.5).
    assert before > 0.3 and std_before < 0.1
    assert after < 0.12, f"{name}: W1 {before:.3f} -> {after:.3f}"
    assert abs(std_after - 0.5) < 0.15, f"{name}: std {std_before:.3f} -> {std_after:.3f}"
    assert model.iteration == 1000


def test_wgan_critic_weights_stay_within_the_clip():
    L.seed_everything(0)
    g, d = networks()
    with torch.no_grad():
        for p in d.parameters():
            p.mul_(50)  # start far outside the clip
    model = WGAN(g, d, clip_value=0.02, n_critic=2)
    fit(model, iterations=1)
    assert max(p.abs().max() for p in model.discriminator.parameters()) <= 0.02


def snapshot(module):
    return [p.detach().clone() for p in module.parameters()]


def same(a, b):
    return all(torch.equal(x, y) for x, y in zip(a, b))


@pytest.mark.parametrize("name", OBJECTIVES)
def test_d_and_g_each_change_only_on_their_own_update(name):
    events = []

    def checked(cls):
        class Checked(cls):
            def discriminator_update(self, real, fake, opt, critic_step, labels=None):
                g0, d0 = snapshot(self.generator), snapshot(self.discriminator)
                out = super().discriminator_update(real, fake, opt, critic_step, labels)
                events.append(("D", same(g0, snapshot(self.generator)), same(d0, snapshot(self.discriminator))))
                return out

            def generator_update(self, fake, real, opt, labels=None):
                g0, d0 = snapshot(self.generator), snapshot(self.discriminator)
                out = super().generator_update(fake, real, opt, labels)
                events.append(("G", same(g0, snapshot(self.generator)), same(d0, snapshot(self.discriminator))))
                return out
        return Checked

    L.seed_everything(0)
    model = OBJECTIVES[name](*networks())
    model.__class__ = checked(type(model))
    fit(model, iterations=3)
    n = model.n_critic
    assert [e[0] for e in events] == (["D"] * n + ["G"]) * 3
    for kind, g_same, d_same in events:
        assert (g_same, d_same) == ((True, False) if kind == "D" else (False, True)), events


def test_d_pretraining_updates_only_d_for_the_first_iterations():
    L.seed_everything(0)
    model = NSGAN(*networks(), d_pretrain_steps=4)
    g0 = snapshot(model.generator)
    fit(model, iterations=4)
    assert same(g0, snapshot(model.generator))
    fit(model, iterations=1)
    assert not same(g0, snapshot(model.generator))


def test_ema_follows_the_generator_with_warm_up():
    L.seed_everything(0)
    # First update: decay = min(0.999, (1 + 0) / (10 + 0)) = 0.1, so EMA = 0.1 * old + 0.9 * new.
    fresh = NSGAN(*networks(), ema=EMA(0.999, every=1))
    start = snapshot(fresh.generator)
    fit(fresh, iterations=1)
    for ema, new, old in zip(fresh.generator_ema.parameters(), fresh.generator.parameters(), start):
        torch.testing.assert_close(ema, 0.1 * old + 0.9 * new)
    # sample() uses the EMA weights.
    z = fresh.noise(5)
    torch.testing.assert_close(fresh.sample(noise=z), fresh.generator_ema.eval()(z))
    assert not torch.allclose(fresh.sample(noise=z), fresh.sample(noise=z, use_ema=False))


def test_ema_every_k_iterations_stays_within_k_over_the_horizon_of_the_per_iteration_ema():
    """Updated every k iterations with the k decays multiplied, the average differs from the
    per-iteration one by about k * (1 - decay) of its distance to the generator (measured: 0.014 at
    k=2, 0.05 at k=5, decay 0.99); without the multiplied decays it is off by 0.76."""
    def run(ema_every, decay=None):
        L.seed_everything(0)
        model = OBJECTIVES["NSGAN"](*networks())
        model = NSGAN(model.generator, model.discriminator, optimizer_g=adam(1e-3, 0.5), optimizer_d=adam(1e-3, 0.5),
                      ema=EMA(0.99, every=ema_every))
        if decay is not None:
            model.ema.decay_at = decay
        fit(model, iterations=300)
        flat = lambda net: torch.cat([p.flatten() for p in net.parameters()])  # noqa: E731
        return flat(model.generator_ema), flat(model.generator)

    every, generator = run(1)
    lag = (every - generator).norm()
    default, same_generator = run(None)  # 2% of the horizon of 100 iterations: every 2
    assert torch.equal(generator, same_generator)  # the average never feeds back into training
    assert (default - every).norm() / lag < 0.03
    assert (run(5)[0] - every).norm() / lag < 0.08
    # The check has teeth: the per-iteration decay applied once every 5 iterations is far off.
    assert (run(5, decay=lambda t: min(0.99, (1 + t) / (10 + t)) ** 0.2)[0] - every).norm() / lag > 0.3


@pytest.mark.slow
@pytest.mark.parametrize("name", ["NSGAN", "WGANGP"])
def test_compiled_networks_train_and_keep_their_checkpoint_keys(name):
    L.seed_everything(0)
    g, d = networks()
    keys = set(OBJECTIVES[name](g, d).state_dict())
    model = OBJECTIVES[name](*networks())
    model.hparams.compile = True
    data = GaussianDataModule()
    before = w1_to_data(model, data)
    fit(model, iterations=300)
    assert "forward" in vars(model.generator)  # the compiled forward
    # A penalized critic is differentiated twice, which compiled graphs cannot do: it stays eager.
    assert ("forward" in vars(model.discriminator)) == (name != "WGANGP")
    assert set(model.state_dict()) == keys
    assert w1_to_data(model, data) < 0.5 * before


def feature_matching(model, fake, real, labels=None):
    """(D's judgement of ``fake``, feature matching's term) as the generator's update computes them."""
    term = next(r for r in model.regularizers if isinstance(r, FeatureMatching))
    with torch.no_grad():
        real_out = model.critic(real, labels, term.layers)
    fake_out = model.critic(fake, labels, term.layers)
    return fake_out, term.generator_term(GeneratorStep(fake_out, real_out, labels))[0]


@pytest.mark.parametrize("layers", ["last", "all"])
def test_feature_matching_pulls_the_generator_to_the_data_through_a_frozen_discriminator(layers):
    """With D frozen at its random start, the non-saturating loss alone drives G toward whatever D
    happens to score highest; feature matching's term, which compares the mean of D's 32 hidden
    features (or of both hidden layers) on real and generated batches, moves G onto the data."""
    def train(weight):
        L.seed_everything(0)
        model = NSGAN(*networks(), optimizer_g=adam(1e-2, 0.5), optimizer_d=adam(0.0, 0.5),
                      regularizers=[FeatureMatching(weight, layers)] if weight else [])
        d0 = snapshot(model.discriminator)
        data, _ = fit(model, iterations=400)
        assert same(d0, snapshot(model.discriminator))
        return w1_to_data(model, data), model

    without, _ = train(0.0)
    with_fm, model = train(1000.0)
    assert with_fm < 0.1 < without, (with_fm, without)
    # The term is part of G's loss as documented: g_loss = NS loss + weight x the term.
    real, fake = torch.full((256, 1), 4.0), model.generator(model.noise(128))
    batches = []
    model.discriminator.net[0].register_forward_hook(lambda layer, args, out: batches.append(len(args[0])))
    terms = model.generator_update(fake, real, torch.optim.SGD(model.generator.parameters(), lr=0.0))
    # D reads each batch once: its output on the generated one comes from the features compared.
    assert sorted(batches) == [128, 256]
    d = model.discriminator
    compared = d.hidden_layers if layers == "all" else lambda x: [d.features(x)]
    expected = sum(losses.feature_matching_loss(r, f) for r, f in zip(compared(real), compared(fake)))
    torch.testing.assert_close(terms["g_feature_matching"], expected)
    torch.testing.assert_close(terms["g_loss"], losses.nonsaturating_generator_loss(model.discriminator(fake)) + 1000 * expected)


def test_feature_matching_on_all_layers_sums_each_hidden_layers_term():
    """feature_matching_layers 'all': G's term is the sum of every hidden layer's squared mean distance,
    so it holds G to what D's first layer sees as well; D still reads the generated batch once."""
    L.seed_everything(0)
    g = DCGANGenerator(latent_dim=8, image_size=28, channels=1, base_width=4)
    d = DCGANDiscriminator(image_size=28, channels=1, base_width=4, norm="none")
    model = NSGAN(g, d, regularizers=[FeatureMatching(10.0, "all")])
    real, fake = torch.rand(16, 1, 28, 28) * 2 - 1, g(model.noise(8))
    batches = []
    d.net[0].register_forward_hook(lambda layer, args, out: batches.append(len(args[0])))
    fake_out, matching = feature_matching(model, fake, real)
    assert sorted(batches) == [8, 16]
    torch.testing.assert_close(fake_out.score, d(fake))
    per_layer = [losses.feature_matching_loss(r, f) for r, f in zip(d.hidden_layers(real), d.hidden_layers(fake))]
    assert len(per_layer) == 2 and min(per_layer) > 0
    torch.testing.assert_close(matching, sum(per_layer))
    model.regularizers[0].layers = "last"
    torch.testing.assert_close(feature_matching(model, fake, real)[1], per_layer[-1])


@pytest.mark.parametrize("conditioning", ["projection", "auxiliary"])
@pytest.mark.parametrize("layers", ["last", "all"])
def test_feature_matching_of_a_conditional_discriminator_judges_one_augmented_batch(layers, conditioning):
    """With labels (a projection or AC-GAN discriminator) and DiffAugment on, the generated batch is
    augmented once and D reads it once: the output, its class logits and the compared features are
    all of that one augmented batch, and G's gradient flows through the term."""
    L.seed_everything(0)
    g = DCGANGenerator(latent_dim=8, image_size=28, channels=1, base_width=4, num_classes=3)
    d = DCGANDiscriminator(image_size=28, channels=1, base_width=4, norm="none", num_classes=3, conditioning=conditioning)
    model = NSGAN(g, d, regularizers=[FeatureMatching(1.0, layers)], augment=DiffAugment(["translation", "cutout"]))
    augmented, batches = [], []
    model.critic.augment = lambda x, augment=model.augment: augmented.append(augment(x)) or augmented[-1]
    d.net[0].register_forward_hook(lambda layer, args, out: batches.append(len(args[0])))
    labels = torch.tensor([0, 1, 2, 0, 1, 2, 0, 1])
    real, fake = torch.rand(8, 1, 28, 28) * 2 - 1, g(model.noise(8), labels)
    fake_out, matching = feature_matching(model, fake, real, labels)
    fake_out, classes = fake_out.score, fake_out.classes
    assert batches == [8, 8] and [len(x) for x in augmented] == [8, 8]  # the real batch, then the generated one
    seen_real, seen_fake = augmented
    if conditioning == "auxiliary":
        expected_out, expected_classes = d(seen_fake, labels, with_classes=True)
        torch.testing.assert_close(classes, expected_classes)
    else:
        expected_out = d(seen_fake, labels)
        assert classes is None
    torch.testing.assert_close(fake_out, expected_out)
    compared = d.hidden_layers if layers == "all" else lambda x: [d.features(x)]
    expected = sum(losses.feature_matching_loss(r, f) for r, f in zip(compared(seen_real), compared(seen_fake)))
    torch.testing.assert_close(matching, expected)
    matching.backward()
    assert g.net[0].weight.grad.abs().sum() > 0


@pytest.mark.parametrize("discriminator, weight, message", [
    (lambda: networks()[1], -1.0, "need weight >= 0"),
    (lambda: torch.nn.Sequential(torch.nn.Linear(1, 1), torch.nn.Flatten(0)), 1.0, "has none"),
    (lambda: DCGANDiscriminator(image_size=28, channels=1, base_width=8, norm="batch"), 1.0, "set its norm to none"),
])
def test_feature_matching_rejects_what_it_cannot_use(discriminator, weight, message):
    with pytest.raises(ConfigError, match=message):
        NSGAN(networks()[0], discriminator(), regularizers=[FeatureMatching(weight)])


def test_feature_matching_on_all_layers_needs_a_discriminator_that_lists_them():
    class LastLayerOnly(torch.nn.Module):  # a network of one's own with features(x) alone
        def features(self, x):
            return x

        def forward(self, x):
            return x.sum(1)

    with pytest.raises(ConfigError, match="'all' needs a discriminator with a `hidden_layers\\(x\\)` method.*LastLayerOnly has none"):
        NSGAN(networks()[0], LastLayerOnly(), regularizers=[FeatureMatching(1.0, "all")])
    with pytest.raises(ConfigError, match="must be 'last' or 'all', got 'first'"):
        NSGAN(*networks(), regularizers=[FeatureMatching(1.0, "first")])
