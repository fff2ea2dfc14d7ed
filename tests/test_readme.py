"""The README's code runs as printed: its "add an objective" and "add a regularizer" examples are doctests, and
what they build behaves as the README says (the objective trains exactly as the shipped ``RpGAN``)."""

import doctest
import re

import lightning as L
import torch

from gan_lightning.data import GaussianDataModule
from gan_lightning.models import RpGAN
from gan_lightning.networks import MLPDiscriminator, MLPGenerator
from helpers import ROOT


def run_readme_examples() -> dict:
    """Runs every ``>>>`` example of README.md as a doctest and returns the names they defined."""
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```pycon\n(.*?)```", text, flags=re.S)
    assert len(blocks) >= 2, "the README's extension examples are ```pycon blocks"
    globs: dict = {}
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    for i, block in enumerate(blocks):
        test = doctest.DocTestParser().get_doctest(block, globs, f"README.md block {i}", "README.md", 0)
        runner.run(test, clear_globs=False)
        globs.update(test.globs)  # a DocTest runs in a copy: the next block sees what this one defined
    assert runner.failures == 0 and runner.tries > 5, runner.summarize()
    return globs


def samples_after_training(cls, **kwargs) -> torch.Tensor:
    L.seed_everything(0, verbose=False)
    model = cls(MLPGenerator(latent_dim=2), MLPDiscriminator(data_mean=4.0, data_std=0.5), **kwargs)
    L.Trainer(max_steps=40, logger=False, enable_checkpointing=False, enable_progress_bar=False,
              enable_model_summary=False, limit_val_batches=0).fit(model, GaussianDataModule(batch_size=16, epoch_length=20))
    return model.sample(8, seed=1)


def test_the_readme_examples_run_and_the_objective_is_the_shipped_one():
    globs = run_readme_examples()
    # The README's RpGAN, trained 20 iterations, is the package's RpGAN to the bit.
    torch.testing.assert_close(samples_after_training(globs["RpGAN"]), samples_after_training(RpGAN), rtol=0, atol=0)
    # The README's regularizer enters D's loss and the logs (its weight x its term), and changes training.
    drift = globs["Drift"](weight=0.5)
    model = RpGAN(MLPGenerator(latent_dim=2), MLPDiscriminator(), regularizers=[drift])
    real, fake = torch.randn(8, 1) + 4, torch.randn(8, 1)
    torch.manual_seed(0)
    terms = model.critic_loss(real, fake, critic_step=0)
    plain = RpGAN(model.generator, model.discriminator).critic_loss(real, fake, critic_step=0)
    torch.testing.assert_close(terms["d_loss"] - plain["d_loss"], 0.5 * terms["drift"])
    torch.testing.assert_close(terms["drift"], model.discriminator(real).pow(2).mean())
    assert not torch.equal(samples_after_training(RpGAN, regularizers=[globs["Drift"](weight=10.0)]),
                           samples_after_training(RpGAN))
