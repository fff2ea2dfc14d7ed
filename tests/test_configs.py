"""Every shipped config under configs/ trains a few iterations and validates, shrunk to test size."""

import re

import pytest
import torch
import yaml

from benchmarks.arguments import OBJECTIVES, recipe
from helpers import CONFIGS
from gan_lightning.cli import GANCLI
from gan_lightning.preflight import check_networks_take_the_data
from images import write_cifar, write_emoji_packages, write_faces, write_real_mnist

SHIPPED = sorted(p.name for p in CONFIGS.glob("*.yaml"))
HEADLINE = {"mnist": "val/fid", "stackedmnist": "val/modes", "anime": "val/fid", "emoji": "val/fid", "cifar10": "val/fid"}


def data_kind(name: str) -> str:
    for kind in ("stackedmnist", "mnist", "anime", "emoji", "cifar10"):
        if f"_{kind}" in name:
            return kind
    return "vectors"  # Gaussian data and mixtures


@pytest.fixture(scope="module")
def data_dirs(tmp_path_factory):
    root = tmp_path_factory.mktemp("config-data")
    write_real_mnist(root / "mnist")
    write_faces(root / "faces", n=56)  # two WGAN steps take 2 x n_critic x 4 = 40 training images
    write_emoji_packages(root / "emoji", n=27)  # 54 images, 8 held out
    write_cifar(root / "cifar10")  # 60 training images in CIFAR-10's pickled batches
    return root


def data_args(name: str, data_dirs) -> list[str]:
    """The test's small data in place of the config's (the networks as they are)."""
    kind = data_kind(name)
    if kind == "vectors":
        return ["--data.init_args.epoch_length", "10", "--data.init_args.val_size", "64"]  # 1-D data: 5 a step
    if kind in ("anime", "cifar10"):
        return ["--data.init_args.data_dir", str(data_dirs / ("faces" if kind == "anime" else "cifar10")),
                "--data.init_args.val_size", "8", "--data.init_args.batch_size", "4"]
    if kind == "emoji":
        return ["--data.init_args.data_dir", str(data_dirs / "emoji"), "--data.init_args.download", "false",
                "--data.init_args.val_size", "8", "--data.init_args.batch_size", "4"]
    args = ["--data.init_args.data_dir", str(data_dirs / "mnist"), "--data.init_args.download", "false",
            "--data.init_args.val_size", "16", "--data.init_args.batch_size", "8"]
    return args + (["--data.init_args.train_size", "80"] if kind == "stackedmnist" else [])  # 2 WGAN steps: 2 x 5 x 8


def shrink(name: str, data_dirs) -> list[str]:
    """Test data, two batches, 16 samples a validation, and networks of a few channels."""
    kind = data_kind(name)
    if kind == "vectors":
        return data_args(name, data_dirs)
    args = data_args(name, data_dirs) + ["--trainer.limit_train_batches", "2", "--trainer.val_check_interval", "2",
                                         "--model.init_args.metrics.init_args.num_samples", "16"]
    if kind in ("anime", "cifar10"):  # Inception's weights are a download: a small feature network instead
        args += ["--model.init_args.metrics.init_args.feature",
                 '{"class_path": "images.SmallFeatures", "init_args": {"channels": 3}}']
    if "tutorial" in name:
        return args + ["--model.init_args.generator.init_args.hidden", "[16, 16]",
                       "--model.init_args.discriminator.init_args.hidden", "[16, 16]"]
    return args + ["--model.init_args.generator.init_args.base_width", "4",
                   "--model.init_args.discriminator.init_args.base_width", "4"]


def test_every_config_is_covered():
    assert len(SHIPPED) >= 30 and {"nsgan_ring8.yaml", "wgangp_stackedmnist.yaml", "wgangp_anime.yaml",
                                   "nsgan_gaussian_tf1_tutorial.yaml"} <= set(SHIPPED)


@pytest.mark.slow
@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_config_trains_an_epoch_and_validates(name, data_dirs, tmp_path):
    cli = GANCLI(args=["fit", "--config", str(CONFIGS / name), *shrink(name, data_dirs), "--trainer.max_epochs", "1",
                       "--trainer.enable_progress_bar", "false", "--trainer.enable_model_summary", "false",
                       "--trainer.logger", "false", "--trainer.default_root_dir", str(tmp_path), "--run_name", "run"])
    kind = data_kind(name)
    iterations = 10 if kind == "vectors" else 2
    assert cli.model.iteration == iterations
    assert (tmp_path / "run" / "checkpoints" / "last.ckpt").is_file()
    headline = HEADLINE.get(kind, "val/w1")
    assert torch.isfinite(cli.trainer.callback_metrics[headline]), cli.trainer.callback_metrics
    plot = f"samples_{iterations:07d}.png" if kind != "vectors" else f"distribution_{iterations:07d}.png"
    assert (tmp_path / "run" / "plots" / plot).is_file()


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_config_passes_the_preflight_with_its_own_networks(name, data_dirs, tmp_path):
    """Building the run runs the pre-flight (networks at their shipped size on a batch of the data's shape)."""
    cli = GANCLI(args=["--config", str(CONFIGS / name), *data_args(name, data_dirs), "--trainer.logger", "false",
                       "--trainer.default_root_dir", str(tmp_path)], run=False)
    before = {k: v.clone() for k, v in cli.model.state_dict().items()}
    assert check_networks_take_the_data(cli.model, cli.datamodule) is None
    assert all(torch.equal(before[k], v) for k, v in cli.model.state_dict().items())


def load(path):
    """A config with its `parts/*.yaml` references read in (one level, as the shipped configs use them)."""
    config = yaml.safe_load(path.read_text())
    for section in (config, config["model"]["init_args"]):
        for key, value in list(section.items()):
            if isinstance(value, str) and value.endswith(".yaml"):
                section[key] = yaml.safe_load((path.parent / value).read_text())
    return config


def decays(name) -> bool:
    callbacks = (load(CONFIGS / name).get("trainer") or {}).get("callbacks") or []
    return any(c["class_path"].endswith(".LearningRateDecay") for c in callbacks)


DECAYING = [n for n in SHIPPED if decays(n)]


def test_the_configs_that_settle_decay_their_learning_rates():
    assert {recipe(o, d)[0].name for o in OBJECTIVES for d in ("gaussian", "ring8", "grid25")} <= set(DECAYING)
    # The decay reads the run's budget: no config copies the run's length into a schedule.
    assert not [n for n in SHIPPED if "total_iters" in (CONFIGS / n).read_text()]


def test_the_shipped_decay_follows_a_budget_the_config_does_not_know(tmp_path):
    """nsgan_gaussian.yaml's rates fall to 1/100 over its 3,000 iterations; cut to 40 with --iterations, they
    are near 1/100 by the 40th (Adam 1e-3 times 1 - 0.99 x 70/80 at the start of the last training step, which
    runs the 1-D data's 5 iterations a step at one rate)."""
    cli = GANCLI(args=["fit", "--config", str(CONFIGS / "nsgan_gaussian.yaml"), "--iterations", "40",
                       "--trainer.limit_val_batches", "0", "--checkpoint.monitor", "null", "--trainer.logger", "false",
                       "--trainer.enable_progress_bar", "false", "--trainer.default_root_dir", str(tmp_path)])
    for optimizer in cli.trainer.optimizers:
        assert optimizer.param_groups[0]["lr"] == pytest.approx(1e-3 * (1 - 0.99 * 70 / 80))


DATASETS = ["gaussian", "ring8", "grid25", "mnist", "stackedmnist", "emoji", "anime"]
OTHER_LOSSES = re.compile(r"^#   other losses on this recipe: add (.*)$", re.MULTILINE)


def without_class(name: str) -> dict:
    config = yaml.safe_load((CONFIGS / name).read_text())
    del config["model"]["class_path"]
    return config


def test_no_config_is_the_ns_gan_recipe_with_another_class():
    twins = [n for n in SHIPPED if "_" in n and (CONFIGS / f"nsgan_{n.split('_', 1)[1]}").is_file()
             and not n.startswith("nsgan_") and without_class(n) == without_class(f"nsgan_{n.split('_', 1)[1]}")]
    assert not twins, f"{twins} differ from their NS-GAN file only in class_path: use --model <Objective> instead"


@pytest.mark.parametrize("dataset", DATASETS)
def test_every_objective_has_a_recipe_and_the_ns_gan_file_names_the_ones_it_serves(dataset, data_dirs, tmp_path):
    """An objective without a file of its own on a dataset is NS-GAN's file with ``--model <Objective>``: the NS-GAN
    file's header says so, and that command builds the objective with NS-GAN's networks, optimizer and tricks."""
    served = {o for o in OBJECTIVES if not (CONFIGS / f"{o}_{dataset}.yaml").is_file()}
    header = OTHER_LOSSES.findall((CONFIGS / f"nsgan_{dataset}.yaml").read_text())
    named = set(re.findall(r"--model (\w+)", header[0])) if header else set()
    assert named == {OBJECTIVES[o] for o in served}
    where = ["--trainer.logger", "false", "--trainer.default_root_dir", str(tmp_path)]
    if dataset == "anime":  # the folder is read when the data module is made
        where += ["--data.init_args.data_dir", str(data_dirs / "faces"), "--data.init_args.val_size", "8",
                  "--data.init_args.batch_size", "4"]
    nsgan = GANCLI(args=["--config", str(CONFIGS / f"nsgan_{dataset}.yaml"), *where], run=False)
    for objective in served:
        config, overrides = recipe(objective, dataset)
        cli = GANCLI(args=["--config", str(config), *overrides, *where], run=False)
        assert type(cli.model).__name__ == OBJECTIVES[objective]
        assert cli.config["model"]["init_args"] == nsgan.config["model"]["init_args"]
