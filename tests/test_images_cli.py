"""Image objectives through the CLI on a small MNIST written in the test, and learning on it."""

import functools

import lightning as L
import pytest
import torch

from helpers import CONFIGS, run_cli
from gan_lightning.cli import GANCLI
from gan_lightning.data import MNISTDataModule
from gan_lightning.ema import EMA
from gan_lightning.metrics import SampleMetrics
from gan_lightning.models import NSGAN
from gan_lightning.networks import DCGANDiscriminator, DCGANGenerator
from gan_lightning.regularizers import R1
from gan_lightning.sample import draw, load_model
from images import SmallFeatures, write_mnist
from wandb_offline import read_run


def small_mnist_args(data_dir, root, run_name):
    return ["--data.init_args.data_dir", str(data_dir), "--data.init_args.download", "false",
            "--data.init_args.val_size", "64", "--data.init_args.batch_size", "16",
            "--model.init_args.metrics.init_args.feature", "images.SmallFeatures",
            "--model.init_args.metrics.init_args.num_samples", "64",
            "--trainer.max_epochs", "1", "--trainer.limit_train_batches", "4", "--trainer.val_check_interval", "2",
            "--trainer.enable_progress_bar", "false", "--trainer.default_root_dir", str(root), "--run_name", run_name]


def shrink(objective):
    if objective.endswith("_tutorial"):
        return ["--model.init_args.generator.init_args.hidden", "[32, 32]",
                "--model.init_args.discriminator.init_args.hidden", "[32, 32]"]
    return ["--model.init_args.generator.init_args.base_width", "8",
            "--model.init_args.discriminator.init_args.base_width", "8"]


@pytest.fixture(scope="module")
def mnist_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("mnist")
    write_mnist(root, n_train=400)
    return root


def test_nsgan_mnist_run_logs_grids_and_fid_and_samples_from_ema(mnist_dir, tmp_path):
    run_cli(["fit", "--config", str(CONFIGS / "nsgan_mnist.yaml"), *small_mnist_args(mnist_dir, "runs", "nsgan"),
             *shrink("nsgan_mnist")], cwd=tmp_path, check=True)
    run = tmp_path / "runs" / "nsgan"
    (wandb_dir,) = (run / "wandb").glob("offline-run-*")
    history = read_run(wandb_dir)["history"]
    fid = [row["val/fid"] for row in history if "val/fid" in row]
    grids = [row for row in history if row.get("val/samples/_type") == "images/separated"]
    assert len(fid) == 2 and all(v > 0 for v in fid)
    assert [row["trainer/global_step"] for row in grids] == [2, 4]
    for row in grids:
        (name,) = row["val/samples/filenames"]
        assert (wandb_dir / "files" / name).read_bytes()[:4] == b"\x89PNG"

    ckpt = run / "checkpoints" / "last.ckpt"
    run_cli(["sample", "--ckpt_path", str(ckpt), "--num_samples", "16", "--output", "grid.png"], cwd=tmp_path)
    run_cli(["sample", "--ckpt_path", str(ckpt), "--num_samples", "16", "--output", "x.pt", "--seed", "3"], cwd=tmp_path)
    assert (tmp_path / "grid.png").read_bytes()[:4] == b"\x89PNG"
    images = torch.load(tmp_path / "x.pt")
    assert images.shape == (16, 1, 28, 28) and images.min() >= 0 and images.max() <= 1

    # The samples come from the EMA generator, not the raw one.
    model = load_model(ckpt)
    assert model.generator_ema is not None
    noise = model.noise(16, torch.Generator().manual_seed(3))
    with torch.no_grad():
        from_ema = (model.generator_ema.eval()(noise).clamp(-1, 1) + 1) / 2
        from_raw = (model.generator.eval()(noise).clamp(-1, 1) + 1) / 2
    torch.testing.assert_close(images, from_ema)
    assert not torch.allclose(images, from_raw)
    torch.testing.assert_close(draw(model, 16, seed=3), images)


@pytest.mark.parametrize("config", ["nsgan_mnist", "best_stackedmnist"])
def test_limit_val_batches_0_never_builds_the_feature_extractor(mnist_dir, tmp_path, config):
    stacks = ["--data.init_args.train_size", "64"] if "stacked" in config else []
    cli = GANCLI(args=["fit", "--config", str(CONFIGS / f"{config}.yaml"), *small_mnist_args(mnist_dir, tmp_path, "noval"),
                       *shrink(config), *stacks, "--model.init_args.metrics.init_args.feature", "2048",
                       "--trainer.limit_val_batches", "0"])
    assert cli.model.sample_metrics.network is None  # no Inception download was attempted
    # Nothing is held out when nothing validates (Stacked MNIST used to refuse a val_size of 0).
    assert cli.datamodule.val_size == 0 and len(cli.datamodule.train_images) == (64 if stacks else 400)
    assert cli.model.iteration == 4
    assert (tmp_path / "noval" / "checkpoints" / "last.ckpt").is_file()


def test_a_short_dcgan_run_learns_the_digits(mnist_dir, tmp_path):
    """FID (small feature net) between held-out digits and generated images falls with training."""
    L.seed_everything(0)
    data = MNISTDataModule(data_dir=str(mnist_dir), batch_size=32, val_size=200)
    model = NSGAN(DCGANGenerator(latent_dim=32, image_size=28, channels=1, base_width=16),
                  DCGANDiscriminator(image_size=28, channels=1, base_width=16),
                  metrics=SampleMetrics(feature=SmallFeatures(), num_samples=200))
    trainer = L.Trainer(default_root_dir=tmp_path, max_steps=2 * 150, val_check_interval=150, check_val_every_n_epoch=None, logger=False,
                        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                        num_sanity_val_steps=0)
    before = trainer.validate(model, data, verbose=False)[0]["val/fid"]
    trainer.fit(model, data)
    after = float(trainer.callback_metrics["val/fid"])
    assert model.iteration == 150
    assert after < 0.5 * before, (before, after)


def fit_three_iterations(mnist_dir, root, channels_last: bool) -> tuple[NSGAN, torch.Tensor]:
    L.seed_everything(0)
    data = MNISTDataModule(data_dir=str(mnist_dir), batch_size=16, val_size=0)
    sgd = functools.partial(torch.optim.SGD, lr=0.005)  # not Adam: its first steps magnify rounding into signs
    model = NSGAN(DCGANGenerator(latent_dim=16, image_size=28, channels=1, base_width=8),
                  DCGANDiscriminator(image_size=28, channels=1, base_width=8), optimizer_g=sgd, optimizer_d=sgd,
                  regularizers=[R1(gamma=1.0)], ema=EMA(0.9), channels_last=channels_last)
    initial = model.generator.net[0].weight.detach().clone()
    trainer = L.Trainer(default_root_dir=root, max_steps=2 * 3, limit_val_batches=0, logger=False,
                        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(model, data)
    trainer.save_checkpoint(root / "last.ckpt")
    return model, initial


def test_channels_last_changes_the_layout_not_the_training(mnist_dir, tmp_path):
    """The layout switch (with R1's double backward and the EMA) trains the same weights up to rounding,
    and its checkpoints load into networks of the ordinary layout."""
    fast, initial = fit_three_iterations(mnist_dir, tmp_path / "cl", channels_last=True)
    plain, _ = fit_three_iterations(mnist_dir, tmp_path / "plain", channels_last=False)
    conv = fast.discriminator.net[2].weight  # [16, 8, 4, 4]: the first, of one input channel, is both layouts at once
    assert conv.is_contiguous(memory_format=torch.channels_last) and not conv.is_contiguous()
    assert fast.generator_ema.net[0].weight.is_contiguous(memory_format=torch.channels_last)
    assert plain.discriminator.net[2].weight.is_contiguous()
    assert fast.iteration == plain.iteration == 3
    for name, weight in plain.state_dict().items():
        torch.testing.assert_close(fast.state_dict()[name], weight, rtol=1e-4, atol=1e-5, msg=name)
    assert (fast.generator.net[0].weight - initial).abs().max() > 1e-4  # it trained (by 4e-4)

    state = torch.load(tmp_path / "cl" / "last.ckpt", weights_only=False)["state_dict"]
    fresh = NSGAN(DCGANGenerator(latent_dim=16, image_size=28, channels=1, base_width=8),
                  DCGANDiscriminator(image_size=28, channels=1, base_width=8), ema=EMA(0.9))
    fresh.load_state_dict(state)
    assert fresh.generator_ema.net[0].weight.is_contiguous()
    torch.testing.assert_close(fresh.sample(8, seed=1), fast.sample(8, seed=1), rtol=1e-4, atol=1e-5)
