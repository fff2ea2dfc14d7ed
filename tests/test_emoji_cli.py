"""The emoji configs as users run them, on npm packages of the emoji-datasource layout made in the test."""

import json

import pytest
import torch

from gan_lightning.cli import GANCLI
from helpers import CONFIGS, run_cli
from images import write_emoji_packages
from wandb_offline import read_run


@pytest.fixture(scope="module")
def packages(tmp_path_factory):
    root = tmp_path_factory.mktemp("emoji")
    write_emoji_packages(root, n=45)  # 90 images, 16 held out
    return root


def emoji_args(data_dir, root, name, iterations=3, widths=8):
    return ["--data.init_args.data_dir", str(data_dir), "--data.init_args.download", "false",
            "--data.init_args.val_size", "16", "--data.init_args.batch_size", "8",
            "--model.init_args.metrics.init_args.num_samples", "64",
            "--model.init_args.generator.init_args.base_width", str(widths),
            "--model.init_args.discriminator.init_args.base_width", str(widths),
            "--trainer.max_epochs", "1000", "--trainer.max_steps", "-1", "--iterations", str(iterations),
            "--trainer.val_check_interval", str(iterations), "--trainer.check_val_every_n_epoch", "null",
            "--trainer.enable_progress_bar", "false", "--trainer.log_every_n_steps", "1",
            "--trainer.default_root_dir", str(root), "--run_name", name]


@pytest.mark.slow
def test_best_emoji_fits_evaluates_and_samples_through_the_cli(packages, tmp_path):
    run_cli(["fit", "--config", str(CONFIGS / "best_emoji.yaml"), *emoji_args(packages, "runs", "emoji")], cwd=tmp_path)
    run = tmp_path / "runs" / "emoji"
    (wandb_dir,) = (run / "wandb").glob("offline-run-*")
    history = read_run(wandb_dir)["history"]
    logged = {k: row[k] for row in history for k in row if k.startswith("val/")}
    assert {"val/fid", "val/precision", "val/recall", "val/classes", "val/min_class_share", "val/class_kl",
            "val/memorization", "val/memorization_reals"} <= set(logged)
    out = run_cli(["evaluate", "--ckpt_path", "last", "--wandb", "false"], cwd=tmp_path).stdout
    result = json.loads((run / "checkpoints" / "eval-0000003.json").read_text())
    assert "(reused)" in out and result["metrics"]["fid"] == pytest.approx(logged["val/fid"], rel=1e-5)
    assert result["metrics"]["memorization"] == pytest.approx(logged["val/memorization"], abs=1e-6)
    # 90 - 16, no emoji split, and each also mirrored: the recipe trains on mirror images and memorization counts them
    assert result["protocol"]["memorization"] == "pixel L2 to 148 training images"
    assert result["protocol"]["precision_recall"] == "k=3, 16 real vs 16 generated, averaged over 4 disjoint subsets of the generated"
    run_cli(["evaluate", "--ckpt_path", "last", "--wandb", "false", "--precision_recall_counts", "all"], cwd=tmp_path)
    result = json.loads((run / "checkpoints" / "eval-0000003.json").read_text())
    assert result["protocol"]["precision_recall"] == "k=3, all 16 real vs all 64 generated"
    run_cli(["sample", "--ckpt_path", "last", "--num_samples", "6", "--output", "emoji.pt"], cwd=tmp_path)
    samples = torch.load(tmp_path / "emoji.pt")
    assert samples.shape == (6, 3, 32, 32) and 0 <= samples.min() and samples.max() <= 1


@pytest.mark.slow
def test_cgan_emoji_samples_the_category_asked_for(packages, tmp_path):
    run_cli(["fit", "--config", str(CONFIGS / "cgan_emoji.yaml"), *emoji_args(packages, "runs", "cgan")], cwd=tmp_path)
    run = tmp_path / "runs" / "cgan"
    history = read_run(next((run / "wandb").glob("offline-run-*")))["history"]
    assert any("val/accuracy" in row for row in history)
    names = torch.load(run / "checkpoints" / "last.ckpt", weights_only=False)["EmojiDataModule"]["class_names"]
    assert names[8] == "Flags" and len(names) == 9
    run_cli(["sample", "--ckpt_path", "last", "--labels", "8", "--num_samples", "4", "--output", "flags.pt"],
            cwd=tmp_path)
    drawn = torch.load(tmp_path / "flags.pt")
    assert drawn["samples"].shape == (4, 3, 32, 32) and drawn["labels"].tolist() == [8, 8, 8, 8]


@pytest.mark.slow
def test_the_headline_anime_networks_train_on_64_pixel_emoji_offline(packages, tmp_path):
    # The README's command, shrunk: wgangp_anime.yaml with the emoji data and metrics parts in place of the faces.
    cli = GANCLI(args=["fit", "--config", str(CONFIGS / "wgangp_anime.yaml"),
                       "--data", str(CONFIGS / "parts" / "emoji64_data.yaml"),
                       "--model.init_args.metrics", str(CONFIGS / "parts" / "emoji_metrics.yaml"),
                       *emoji_args(packages, tmp_path, "headline", iterations=2), "--trainer.logger", "false"])
    assert cli.datamodule.image_size == 64 and cli.model.iteration == 2
    assert torch.isfinite(cli.trainer.callback_metrics["val/fid"])
    assert (tmp_path / "headline" / "plots" / "samples_0000002.png").is_file()


@pytest.mark.slow
def test_a_short_run_brings_the_emoji_fid_down(packages, tmp_path):
    fids = {}
    for iterations in (1, 150):
        cli = GANCLI(args=["fit", "--config", str(CONFIGS / "best_emoji.yaml"),
                           *emoji_args(packages, tmp_path, f"learn{iterations}", iterations, widths=16),
                           "--model.init_args.ema.decay", "0.9", "--model.init_args.optimizer_g.init_args.lr", "0.001",
                           "--data.init_args.image_size", "16",
                           "--model.init_args.generator.init_args.image_size", "16",
                           "--model.init_args.discriminator.init_args.image_size", "16", "--trainer.logger", "false"])
        fids[iterations] = float(cli.trainer.callback_metrics["val/fid"])
    assert fids[150] < 0.5 * fids[1], fids
