"""Checkpoints and configs of earlier versions: one migration function reads them as the current model's arguments."""

import textwrap

import pytest
import torch
import yaml

from gan_lightning.migration import migrate_checkpoint, migrate_config, migrate_model_args
from gan_lightning.sample import draw, load_generator, load_model
from helpers import CONFIGS, run_cli

# A 1-D config as the previous release wrote it: every argument this version moved or renamed.
OLD_CONFIG = f"""
model:
  class_path: gan_lightning.models.NSGAN
  init_args:
    generator: {CONFIGS}/parts/mlp1d_generator.yaml
    discriminator:
      class_path: gan_lightning.networks.MLPDiscriminator
      init_args: {{input_shape: [2], hidden: [16], data_mean: 4.0, data_std: 0.5}}
    pack: 2
    ema_decay: 0.9
    ema_every: 2
    latent_distribution: uniform
    latent_scale: 2.0
    seed: 5
    num_fixed_samples: 16
    feature_matching: 10.0
    scheduler_g:
      class_path: torch.optim.lr_scheduler.LinearLR
      init_args: {{start_factor: 1.0, end_factor: 0.5, total_iters: 6}}
    scheduler_d:
      class_path: torch.optim.lr_scheduler.LinearLR
      init_args: {{start_factor: 1.0, end_factor: 0.5, total_iters: 6}}
data:
  class_path: gan_lightning.data.GaussianDataModule
  init_args: {{batch_size: 32, epoch_length: 3, val_size: 500}}
trainer: {{max_epochs: 2, logger: false, enable_progress_bar: false, enable_model_summary: false}}
"""


def test_every_retired_model_argument_maps_to_its_new_place():
    args = yaml.safe_load(OLD_CONFIG)["model"]["init_args"]
    inner = args["discriminator"]
    found = migrate_model_args(args)
    assert set(found) == {"pack", "ema_decay", "ema_every", "latent_distribution", "latent_scale", "seed",
                          "num_fixed_samples", "feature_matching", "scheduler_g", "scheduler_d"}
    assert args["ema"] == {"decay": 0.9, "every": 2}
    assert args["latent"] == {"distribution": "uniform", "scale": 2.0, "seed": 5}
    assert args["discriminator"] == {"class_path": "gan_lightning.networks.Packed", "init_args": {"network": inner, "pack": 2}}
    assert args["regularizers"] == [{"class_path": "gan_lightning.regularizers.FeatureMatching",
                                     "init_args": {"weight": 10.0, "layers": "last"}}]
    assert args["scheduler"]["init_args"]["end_factor"] == 0.5
    assert not set(found) & set(args)
    assert migrate_model_args(args) == []  # idempotent: a migrated config is a current one
    ac = {"classify_fakes": False, "classification_weight": 0.5, "num_classes": 3, "ema_decay": 0.0, "fid": {"x": 1}}
    migrate_model_args(ac)
    assert ac == {"metrics": {"x": 1}, "ema": None, "regularizers": [
        {"class_path": "gan_lightning.regularizers.ClassificationLoss", "init_args": {"weight": 0.5, "classify_fakes": False}}]}
    config = {"model": {"init_args": {"num_fixed_samples": 81}}, "grid": {"nrow": 9}}
    assert migrate_config(config) == ["num_fixed_samples"] and config["grid"] == {"nrow": 9, "num_samples": 81}


def test_an_old_config_file_trains_as_it_did_and_its_checkpoint_reads_back_in_the_old_layout(tmp_path):
    """fit reads a config of the previous release (saying what it read as what), and a checkpoint rewritten to the
    previous layout (old hyperparameters, the packed discriminator's weights under their old keys, the grid's noise
    as a buffer) loads through ``load_model`` and ``sample``'s generator-only path into the same samples."""
    (tmp_path / "old.yaml").write_text(OLD_CONFIG)
    out = run_cli(["fit", "--config", "old.yaml", "--trainer.default_root_dir", "runs", "--run_name", "r"], cwd=tmp_path)
    assert "old.yaml: read ema_decay, ema_every, latent_distribution" in out.stderr
    saved = yaml.safe_load((tmp_path / "runs" / "r" / "config.yaml").read_text())
    model_args = saved["model"]["init_args"]
    assert model_args["discriminator"]["init_args"]["pack"] == 2 and model_args["ema"] == {"decay": 0.9, "every": 2}
    assert model_args["latent"] == {"distribution": "uniform", "scale": 2.0, "seed": 5} and saved["grid"]["num_samples"] == 16
    assert [r["class_path"].rsplit(".", 1)[1] for r in model_args["regularizers"]] == ["FeatureMatching"]
    last = tmp_path / "runs" / "r" / "checkpoints" / "last.ckpt"
    checkpoint = torch.load(last, weights_only=False)
    # One scheduler for each network, from the one entry: NS-GAN's default rate 2e-4 halved over the 6 iterations.
    assert checkpoint["iteration"] == 6 and [s["_last_lr"] for s in checkpoint["lr_schedulers"]] == [[pytest.approx(1e-4)]] * 2
    new = load_model(last)
    expected = draw(new, 50, seed=3)
    assert new.generator_ema is not None and expected.std() > 0

    old = dict(checkpoint)
    hparams = dict(checkpoint["hyper_parameters"])
    hparams.update(pack=2, ema_decay=0.9, ema_every=2, latent_distribution="uniform", latent_scale=2.0, seed=5,
                   num_fixed_samples=16, feature_matching=10.0, feature_matching_layers="last", fid=None,
                   scheduler_g=hparams["scheduler"], scheduler_d=hparams["scheduler"],
                   discriminator=hparams["discriminator"]["init_args"]["network"], regularizers=None)
    for key in ("ema", "latent", "scheduler"):
        del hparams[key]
    state = {k.replace("discriminator.network.", "discriminator."): v for k, v in checkpoint["state_dict"].items()}
    old.update(hyper_parameters=hparams, state_dict={**state, "fixed_noise": torch.zeros(16, 4)})
    torch.save(old, tmp_path / "old.ckpt")
    loaded = load_model(tmp_path / "old.ckpt")
    torch.testing.assert_close(draw(loaded, 50, seed=3), expected, rtol=0, atol=0)
    for a, b in zip(loaded.discriminator.parameters(), new.discriminator.parameters()):
        torch.testing.assert_close(a, b, rtol=0, atol=0)  # the packed discriminator's weights, under their new keys
    torch.testing.assert_close(draw(load_generator(tmp_path / "old.ckpt"), 50, seed=3), expected, rtol=0, atol=0)
    assert migrate_checkpoint(torch.load(tmp_path / "old.ckpt", weights_only=False))["state_dict"].keys() == \
        checkpoint["state_dict"].keys()


def test_an_old_config_resumes_its_own_checkpoint(tmp_path):
    """``--ckpt_path last`` with the old file: the resume check compares the checkpoint's arguments with the migrated
    config, not with the file as written."""
    (tmp_path / "old.yaml").write_text(textwrap.dedent(OLD_CONFIG))
    base = ["fit", "--config", "old.yaml", "--trainer.default_root_dir", "runs"]
    run_cli([*base, "--run_name", "r"], cwd=tmp_path)
    run_cli([*base, "--ckpt_path", "last", "--trainer.max_epochs", "3"], cwd=tmp_path)
    assert torch.load(tmp_path / "runs" / "r" / "checkpoints" / "last.ckpt", weights_only=False)["iteration"] == 9


def test_a_network_saved_before_an_argument_existed_resumes_with_it_at_its_default():
    """A DCGAN discriminator checkpointed before ``minibatch_std`` existed was built without it: the config of
    today (which lists it at its default) resumes it, and one that turns it on is refused."""
    from jsonargparse import Namespace

    from gan_lightning.checkpoints import check_resumable
    from gan_lightning.errors import ConfigError

    def spec(**extra):
        init = {"image_size": 32, "channels": 3, "base_width": 8, "norm": "batch", "spectral_norm": False,
                "num_classes": None, "conditioning": "projection", **extra}
        return {"class_path": "gan_lightning.networks.DCGANDiscriminator", "init_args": init}

    checkpoint = migrate_checkpoint({"hyper_parameters": {"_class_path": "gan_lightning.models.NSGAN",
                                                          "discriminator": {"class_path": "gan_lightning.networks.Packed",
                                                                            "init_args": {"network": spec(), "pack": 2}}}})
    assert checkpoint["hyper_parameters"]["discriminator"]["init_args"]["network"]["init_args"]["minibatch_std"] is False
    config = lambda **extra: Namespace(model=Namespace(class_path="gan_lightning.models.NSGAN", init_args={
        "discriminator": {"class_path": "gan_lightning.networks.Packed", "init_args": {"network": spec(**extra), "pack": 2}}}))
    check_resumable(checkpoint, "old.ckpt", config(minibatch_std=False))
    with pytest.raises(ConfigError, match="minibatch_std: True in the config, False in the checkpoint"):
        check_resumable(checkpoint, "old.ckpt", config(minibatch_std=True))
