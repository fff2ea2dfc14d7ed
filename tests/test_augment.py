"""DiffAugment: differentiable, reproducible under a seed, each transformation doing what it says."""

import lightning as L
import pytest
import torch
from torch.testing import assert_close

from gan_lightning.augment import DiffAugment, random_cutout, random_translation
from gan_lightning.errors import ConfigError


def test_gradients_reach_the_generator_through_the_augmentation():
    generator = torch.nn.Sequential(torch.nn.Linear(8, 3 * 16 * 16), torch.nn.Tanh())
    images = generator(torch.randn(4, 8)).view(4, 3, 16, 16)
    DiffAugment()(images).square().sum().backward()
    assert generator[0].weight.grad is not None and float(generator[0].weight.grad.abs().sum()) > 0


def test_the_same_seed_gives_the_same_augmentation_and_another_seed_another():
    x = torch.rand(6, 3, 16, 16) * 2 - 1
    L.seed_everything(3)
    a = DiffAugment()(x)
    L.seed_everything(3)
    b = DiffAugment()(x)
    L.seed_everything(4)
    c = DiffAugment()(x)
    assert_close(a, b, rtol=0, atol=0)
    assert not torch.equal(a, c) and a.shape == x.shape


def test_translation_shifts_whole_pixels_and_cutout_zeroes_a_square():
    x = torch.arange(1, 65, dtype=torch.float32).view(1, 1, 8, 8).repeat(32, 1, 1, 1)
    torch.manual_seed(0)
    shifted = random_translation(x, ratio=0.25)  # up to 2 pixels each way
    for image in shifted[:, 0]:
        kept = image[image != 0]
        assert set(kept.tolist()) <= set(range(1, 65))  # values moved, not blended
        assert len(kept) >= 6 * 6
    cut = random_cutout(torch.ones(64, 1, 8, 8), ratio=0.5)
    zeros = (cut == 0).flatten(1).sum(1)
    assert int(zeros.max()) == 16 and int(zeros.min()) >= 4  # a 4x4 square, clipped at the border


def test_vectors_pass_unchanged_and_bad_policies_stop_with_one_line():
    v = torch.randn(5, 2)
    assert DiffAugment()(v) is v
    with pytest.raises(ConfigError, match="policy must be a list of"):
        DiffAugment(policy=["colour"])


def test_the_discriminator_sees_augmented_reals_and_fakes_in_both_updates():
    from gan_lightning.models import NSGAN
    from gan_lightning.networks import DCGANDiscriminator, DCGANGenerator

    seen = []

    class Recording(DCGANDiscriminator):
        def forward(self, x):
            seen.append(x.detach().clone())
            return super().forward(x)

    model = NSGAN(DCGANGenerator(latent_dim=8, image_size=28, channels=1, base_width=4),
                  Recording(image_size=28, channels=1, base_width=4), augment=DiffAugment(policy=["cutout"]))
    real = torch.ones(6, 1, 28, 28)
    fake = model.generator(model.noise(6))
    model.critic_loss(real, fake.detach(), critic_step=0)
    model.critic(fake)
    assert len(seen) == 3
    cut = [float((x == 0).flatten(1).float().mean()) for x in seen]
    assert 0.1 < cut[0] < 0.3  # a 14x14 square of each all-ones real image zeroed: 196 / 784 at most
    assert all((x == 0).flatten(1).any(1).all() for x in seen[1:])  # every fake has its square too
