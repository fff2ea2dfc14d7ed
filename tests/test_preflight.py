"""The CLI's pre-flight: the networks run once on a batch shaped like the data before anything is written."""

import pytest
import torch

from gan_lightning.cli import GANCLI
from gan_lightning.data import (CIFAR10DataModule, EmojiDataModule, GaussianDataModule, GaussianMixtureDataModule,
                                ImageFolderDataModule, MNISTDataModule, StackedMNISTDataModule)
from gan_lightning.errors import ConfigError
from gan_lightning.preflight import check_networks_take_the_data
from helpers import CONFIGS, run_cli
from images import write_cifar, write_emoji_packages, write_faces, write_real_mnist


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("preflight-data")
    write_real_mnist(root / "mnist")
    write_faces(root / "faces", n=20)
    write_emoji_packages(root / "emoji", n=27)
    write_cifar(root / "cifar10")
    return root


def modules(root):
    small = {"val_size": 8, "batch_size": 4}
    return [GaussianDataModule(dim=3, val_size=64), GaussianMixtureDataModule(labels=True, val_size=64),
            MNISTDataModule(str(root / "mnist"), labels=True, **small),
            StackedMNISTDataModule(str(root / "mnist"), train_size=40, **small),
            ImageFolderDataModule(str(root / "faces"), image_size=32, **small),
            EmojiDataModule(str(root / "emoji"), image_size=16, labels=True, **small),
            CIFAR10DataModule(str(root / "cifar10"), **small)]


@pytest.mark.parametrize("index", range(7))
def test_the_example_batch_is_shaped_as_the_training_batches_without_reading_the_data(data, index):
    module = modules(data)[index]
    example, labels = module.example_batch(5)
    assert getattr(module, "train_images", None) is None  # nothing was read for it
    module.setup("fit")
    batch = module.on_after_batch_transfer(next(iter(module.train_dataloader())), 0) if hasattr(
        module, "on_after_batch_transfer") else next(iter(module.train_dataloader()))
    real, real_labels = batch if isinstance(batch, (tuple, list)) else (batch, None)
    assert example.shape[1:] == real.shape[1:] and example.dtype == real.dtype == torch.float32
    assert (labels is None) == (real_labels is None)
    if labels is not None:
        assert labels.shape == (5,) and labels.dtype == real_labels.dtype and int(labels.max()) < module.num_classes


def build(args, tmp_path):
    return GANCLI(args=[*args, "--trainer.logger", "false", "--trainer.default_root_dir", str(tmp_path / "runs")],
                  run=False)


MISMATCHES = {  # a network/data pair that cannot train, for each kind of data module, and what the line says
    "vectors": (["--config", str(CONFIGS / "nsgan_ring8.yaml"), "--data.init_args.means", "[[0, 0, 0], [1, 1, 1]]"],
                "the data's samples have 3 values: set --model.init_args.generator.init_args.output_shape [3] and "
                "--model.init_args.discriminator.init_args.input_shape [3]"),
    "28x28 grayscale": (["--config", str(CONFIGS / "nsgan_mnist.yaml"), "--data.init_args.download", "false",
                         "--model.init_args.discriminator.init_args.channels", "3"],
                        "the discriminator DCGANDiscriminator (image_size 28, channels 3) failed on MNISTDataModule's "
                        "1x28x28 batch"),
    "RGB folders": (["--config", str(CONFIGS / "nsgan_anime.yaml"), "--data.init_args.image_size", "32"],
                    "the networks' image_size is 64, the data's 32: set --data.init_args.image_size 64 or "
                    "--model.init_args.generator.init_args.image_size 32 and "
                    "--model.init_args.discriminator.init_args.image_size 32"),
    "labelled": (["--config", str(CONFIGS / "cgan_mnist.yaml"), "--data.init_args.download", "false",
                  "--model.init_args.discriminator.init_args.image_size", "32"],
                 "the discriminator DCGANDiscriminator (image_size 32, channels 1) failed on MNISTDataModule's 1x28x28 "
                 "batch"),
}


@pytest.mark.parametrize("kind", MISMATCHES)
def test_a_network_the_data_does_not_fit_stops_before_the_trainer_with_both_sides_named(kind, data, tmp_path):
    args, message = MISMATCHES[kind]
    where = {"vectors": [], "RGB folders": ["--data.init_args.data_dir", str(data / "faces"), "--data.init_args.val_size",
                                            "2", "--data.init_args.batch_size", "4"]}.get(
        kind, ["--data.init_args.data_dir", str(data / "mnist"), "--data.init_args.val_size", "16"])
    with pytest.raises(ConfigError) as refused:
        build(args + where, tmp_path)
    assert str(refused.value).startswith("pre-flight: ") and message in str(refused.value)
    assert "\n" not in str(refused.value)
    assert not (tmp_path / "runs").exists()


def test_the_preflight_leaves_the_model_and_the_random_streams_as_they_were(data, tmp_path):
    """Batch norm's statistics, spectral norm's vectors, the modes, the weights, torch's RNG and threads are untouched."""
    cli = build(["--config", str(CONFIGS / "cgan_mnist.yaml"), "--data.init_args.download", "false",
                 "--data.init_args.data_dir", str(data / "mnist"), "--data.init_args.val_size", "16"], tmp_path)
    model = cli.model
    model.generator.eval()  # a mode of its own, to see it restored
    state = {k: v.clone() for k, v in model.state_dict().items()}
    rng, threads = torch.random.get_rng_state(), torch.get_num_threads()
    check_networks_take_the_data(model, cli.datamodule)
    assert torch.equal(torch.random.get_rng_state(), rng) and torch.get_num_threads() == threads
    assert all(torch.equal(state[k], v) for k, v in model.state_dict().items())
    assert not model.generator.training and model.discriminator.training
    assert any("running_mean" in k for k in state) and any("weight_u" in k or "_u" in k for k in state)


def test_a_plain_fit_prints_no_python_warning(tmp_path):
    result = run_cli(["fit", "--config", str(CONFIGS / "nsgan_gaussian.yaml"), "--data.init_args.epoch_length", "50",
                      "--trainer.max_epochs", "1", "--trainer.enable_progress_bar", "false"], cwd=tmp_path)
    # Python's warnings print as "<file>.py:<line>: <message>" (Lightning's) or "...Warning: ..." (the default format).
    warned = [line for line in (result.stdout + result.stderr).splitlines()
              if ".py:" in line.split(" ")[0] or "Warning:" in line]
    assert not warned, warned
    assert "Run folder:" in result.stdout  # it trained and said where
