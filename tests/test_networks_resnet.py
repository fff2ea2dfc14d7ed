"""The SNGAN ResNets: the reference architecture's parameter counts, shapes at every size, the discriminator
interface the rest of the package reads (features, hidden layers, class heads), and training steps with the
package's tricks."""

import lightning as L
import pytest
import torch

from gan_lightning.augment import DiffAugment
from gan_lightning.ema import EMA
from gan_lightning.errors import ConfigError
from gan_lightning.models import GAN, LSGAN, NSGAN, WGAN, WGANGP, Hinge, RpGAN
from gan_lightning.networks import Packed, ResNetDiscriminator, ResNetGenerator
from gan_lightning.regularizers import R1, R2, ClassificationLoss, FeatureMatching


def count(net) -> int:
    return sum(p.numel() for p in net.parameters())


def reference_generator(latent, bottom, widths, channels=3) -> int:
    """The parameters of the SNGAN reference generator, layer by layer: a dense layer to bottom x bottom x widths[0];
    per block BN, conv3x3, BN, conv3x3 and a 1x1 shortcut; BN and a conv3x3 to the image."""
    total = latent * bottom * bottom * widths[0] + bottom * bottom * widths[0]
    for a, b in zip(widths, widths[1:]):
        total += 2 * a + (9 * a * b + b) + 2 * b + (9 * b * b + b) + (a * b + b)
    return total + 2 * widths[-1] + 9 * widths[-1] * channels + channels


def reference_discriminator(widths, downsample, channels=3) -> int:
    """The reference discriminator: the first block conv3x3, conv3x3 and a 1x1 shortcut; each next block conv3x3
    (to its input's width), conv3x3 and a 1x1 shortcut where it pools or changes width; one linear output."""
    w = widths[0]
    total = (9 * channels * w + w) + (9 * w * w + w) + (channels * w + w)
    for a, b, d in zip(widths, widths[1:], downsample):
        total += (9 * a * a + a) + (9 * a * b + b) + ((a * b + b) if d or a != b else 0)
    return total + widths[-1] + 1


def test_the_paper_widths_give_the_reference_parameter_counts():
    assert count(ResNetGenerator(image_size=32)) == reference_generator(128, 4, [256] * 4) == 4_276_739
    assert count(ResNetDiscriminator(image_size=32)) == reference_discriminator([128] * 4, [True, False, False]) \
        == 1_053_825
    assert count(ResNetGenerator(image_size=48)) == reference_generator(128, 6, [512, 256, 128, 64])
    assert count(ResNetDiscriminator(image_size=48)) == reference_discriminator([64, 128, 256, 512, 1024], [True] * 3 + [False])
    assert count(ResNetGenerator(image_size=64)) == reference_generator(128, 4, [1024, 512, 256, 128, 64])
    assert count(ResNetDiscriminator(image_size=64)) == reference_discriminator([64, 128, 256, 512, 1024], [True] * 4)
    # Spectral norm reparametrizes the weights without adding parameters.
    assert count(ResNetDiscriminator(image_size=32, spectral_norm=False)) == 1_053_825


@pytest.mark.parametrize("size", [32, 48, 64, 128])
def test_every_size_maps_noise_to_images_and_images_to_one_score(size):
    torch.manual_seed(0)
    g = ResNetGenerator(latent_dim=16, image_size=size, base_width=16)
    d = ResNetDiscriminator(image_size=size, base_width=16).eval()  # spectral norm's power iteration: once, in fit
    x = g(torch.randn(3, 16))
    assert x.shape == (3, 3, size, size) and x.abs().max() <= 1
    assert d(x).shape == (3,)
    layers = d.hidden_layers(x)
    torch.testing.assert_close(layers[-1], d.features(x))
    torch.testing.assert_close(d.output(layers[-1]), d(x))  # one pass gives the output and the compared features
    assert len(layers) == len(d.blocks) and layers[0].shape[2] == size // 2


def test_conditional_networks_take_labels_and_the_class_head_comes_back():
    g = ResNetGenerator(latent_dim=8, image_size=32, base_width=16, num_classes=5)
    d = ResNetDiscriminator(image_size=32, base_width=16, num_classes=5, conditioning="both")
    y = torch.tensor([0, 1, 2, 3])
    x = g(torch.randn(4, 8), y)
    out, classes = d(x, y, with_classes=True)
    assert out.shape == (4,) and classes.shape == (4, 5)
    z = torch.randn(1, 8).repeat(2, 1)
    g.eval()  # the same noise, another class: another image (conditional batch norm's scale and shift per class)
    assert not torch.allclose(g(z, torch.tensor([0, 0])), g(z, torch.tensor([1, 1])))
    with pytest.raises(ValueError, match="num_classes=5: give labels"):
        d(x)


def test_bad_sizes_and_widths_stop_with_one_line():
    with pytest.raises(ConfigError, match=r"image_size must be one of \[32, 48, 64, 128\], got 28"):
        ResNetGenerator(image_size=28)
    with pytest.raises(ConfigError, match="base_width must be >= 1 or null, got 0"):
        ResNetDiscriminator(base_width=0)


def images(n=32, size=32):
    """Two kinds of picture, a bright square on dark or a dark one on bright, in [-1, 1]."""
    x = -torch.ones(n, 3, size, size)
    x[:, :, 8:24, 8:24] = 1.0
    x[n // 2:] = -x[n // 2:]
    return x


class Images(L.LightningDataModule):
    def __init__(self, batches_per_step=1):
        super().__init__()
        self.batch_size, self.batches_per_step = 8, batches_per_step

    def train_dataloader(self):
        data = images(8 * self.batches_per_step * 3)
        return torch.utils.data.DataLoader(data, batch_size=8 * self.batches_per_step)


@pytest.mark.parametrize("objective, kwargs", [
    (GAN, {}), (NSGAN, {"regularizers": [R1(0.1, every=2), FeatureMatching(1.0, "all")], "augment": DiffAugment()}),
    (WGAN, {"n_critic": 2}), (WGANGP, {"n_critic": 2}), (Hinge, {"ema": EMA(0.9)}), (LSGAN, {"regularizers": [R2(0.1)]}),
    (RpGAN, {"regularizers": [R1(0.1), R2(0.1)]}), (NSGAN, {"pack": 2}), (NSGAN, {"precision": "bf16-mixed"}),
])
def test_every_objective_and_trick_trains_the_resnets(objective, kwargs):
    """Three iterations of each objective on the ResNets at small widths, with the package's tricks: finite losses,
    both networks changed."""
    L.seed_everything(0)
    kwargs = dict(kwargs)
    precision, pack = kwargs.pop("precision", "32-true"), kwargs.pop("pack", 1)
    d = ResNetDiscriminator(image_size=32, channels=3 * pack, base_width=8, spectral_norm=objective is not WGANGP)
    model = objective(ResNetGenerator(latent_dim=8, image_size=32, base_width=8),
                      Packed(d, pack) if pack > 1 else d, **kwargs)
    before = [p.detach().clone() for p in (model.generator.dense.weight, d.linear.parametrizations.weight.original
                                           if hasattr(d.linear, "parametrizations") else d.linear.weight)]
    logs = {}
    model.divergence.watch = lambda iteration, terms: logs.update(terms)  # the step's terms, before they are logged
    L.Trainer(max_steps=3 * (model.n_critic + 1), logger=False, enable_checkpointing=False, enable_progress_bar=False,
              enable_model_summary=False, limit_val_batches=0, precision=precision).fit(model, Images(model.n_critic))
    assert logs and all(torch.isfinite(v) for v in logs.values()), logs
    after = (model.generator.dense.weight, d.linear.parametrizations.weight.original
             if hasattr(d.linear, "parametrizations") else d.linear.weight)
    assert all(not torch.equal(a, b) for a, b in zip(before, after))


def pictures():
    """Four 3x32x32 pictures in [-1, 1]: a red or a blue background with a white square top left or bottom right."""
    out = []
    for colour in ([1.0, -1.0, -1.0], [-1.0, -1.0, 1.0]):
        for at in (slice(4, 14), slice(18, 28)):
            x = torch.tensor(colour).view(3, 1, 1).repeat(1, 32, 32)
            x[:, at, at] = 1.0
            out.append(x)
    return torch.stack(out)


def distance_to_the_pictures(fake: torch.Tensor) -> float:
    """Mean over samples of the squared pixel distance to the nearest of the four pictures (the mean picture: 0.70)."""
    return float(((fake[:, None] - pictures()[None]) ** 2).mean((2, 3, 4)).min(1).values.mean())


class Pictures(L.LightningDataModule):
    """Batches of 16 drawn from the four pictures, ``n_critic`` batches a step."""

    def __init__(self, n_critic: int, iterations: int):
        super().__init__()
        self.n_critic, self.iterations = n_critic, iterations

    def train_dataloader(self):
        drawn = torch.randint(0, 4, (self.iterations * self.n_critic * 16,), generator=torch.Generator().manual_seed(0))
        return torch.utils.data.DataLoader(pictures()[drawn], batch_size=16 * self.n_critic)


def rate(lr):
    return lambda params: torch.optim.Adam(params, lr=lr, betas=(0.0, 0.9))


# Each objective as the SNGAN recipe trains it at a learning rate for 200 iterations; WGAN's clip is wider than its
# 0.01 on MLPs, which holds a ResNet critic of 8-wide layers too tight to move G in this budget (0.78 of the start).
LEARNERS = {
    "GAN": lambda g, d: GAN(g, d, optimizer_g=rate(1e-3), optimizer_d=rate(1e-3)),
    "NSGAN": lambda g, d: NSGAN(g, d, optimizer_g=rate(1e-3), optimizer_d=rate(1e-3)),
    "WGAN": lambda g, d: WGAN(g, d, n_critic=2, clip_value=0.05, optimizer_g=lambda p: torch.optim.RMSprop(p, lr=1e-3),
                              optimizer_d=lambda p: torch.optim.RMSprop(p, lr=1e-3)),
    "WGANGP": lambda g, d: WGANGP(g, d, n_critic=1, optimizer_g=rate(1e-3), optimizer_d=rate(1e-3)),
    "Hinge": lambda g, d: Hinge(g, d, optimizer_g=rate(1e-3), optimizer_d=rate(1e-3)),
    "LSGAN": lambda g, d: LSGAN(g, d, optimizer_g=rate(1e-3), optimizer_d=rate(1e-3)),
    "RpGAN": lambda g, d: RpGAN(g, d, regularizers=[R1(0.1), R2(0.1)], optimizer_g=rate(1e-3), optimizer_d=rate(1e-3)),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", LEARNERS)
def test_every_objective_moves_resnet_samples_toward_the_pictures(name):
    """200 iterations at width 8: the samples' distance to the nearest picture falls by more than a quarter (to
    0.37-0.66 of the start at seeds 0 and 1, measured), from the noise of an untrained generator (1.0-1.3)."""
    L.seed_everything(0)
    clipped_or_penalized = name in ("WGAN", "WGANGP")
    model = LEARNERS[name](ResNetGenerator(latent_dim=16, image_size=32, base_width=8),
                           ResNetDiscriminator(image_size=32, base_width=8, spectral_norm=not clipped_or_penalized))
    before = distance_to_the_pictures(model.sample(64, seed=1))
    L.Trainer(max_steps=200 * (model.n_critic + 1), logger=False, enable_checkpointing=False, enable_progress_bar=False,
              enable_model_summary=False, limit_val_batches=0).fit(model, Pictures(model.n_critic, 200))
    after = distance_to_the_pictures(model.sample(64, seed=1))
    assert model.iteration == 200
    assert before > 0.9 and after < 0.75 * before, f"{name}: {before:.3f} -> {after:.3f}"


def test_a_conditional_resnet_pair_trains_with_the_ac_gan_loss():
    L.seed_everything(0)
    model = NSGAN(ResNetGenerator(latent_dim=8, image_size=32, base_width=8, num_classes=2),
                  ResNetDiscriminator(image_size=32, base_width=8, num_classes=2, conditioning="both"),
                  regularizers=[ClassificationLoss(classify_fakes=False)])
    labels = torch.tensor([0] * 4 + [1] * 4)
    real = images(8)
    terms = model.critic_loss(real, model.generator(model.noise(8), labels).detach(), 0, labels)
    assert set(terms) >= {"d_loss", "d_class"} and torch.isfinite(terms["d_loss"])
