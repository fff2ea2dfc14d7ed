"""The headline command, `fit --config configs/wgangp_anime.yaml`, on faces made in the test."""

import pytest
import torch

from helpers import CONFIGS, run_cli
from gan_lightning.cli import GANCLI
from images import write_faces
from wandb_offline import read_run

SMALL_FID = '{"class_path": "images.SmallFeatures", "init_args": {"channels": 3}}'


def anime_args(data_dir, root, name):
    return ["--data.init_args.data_dir", str(data_dir), "--data.init_args.val_size", "32",
            "--data.init_args.batch_size", "4", "--model.init_args.metrics.init_args.feature", SMALL_FID,
            "--model.init_args.metrics.init_args.num_samples", "32",
            "--trainer.max_epochs", "1", "--trainer.limit_train_batches", "3", "--trainer.val_check_interval", "3",
            "--trainer.enable_progress_bar", "false", "--trainer.log_every_n_steps", "1",
            "--trainer.default_root_dir", str(root), "--run_name", name]


@pytest.fixture(scope="module")
def faces(tmp_path_factory):
    root = tmp_path_factory.mktemp("anime")
    write_faces(root, n=120)
    return root


def test_wgangp_anime_headline_runs_through_the_cli(faces, tmp_path):
    out = run_cli(["fit", "--config", str(CONFIGS / "wgangp_anime.yaml"), *anime_args(faces, "runs", "anime"),
                   "--model.init_args.generator.init_args.base_width", "8",
                   "--model.init_args.discriminator.init_args.base_width", "8"], cwd=tmp_path)
    run = tmp_path / "runs" / "anime"
    assert (run / "checkpoints" / "last.ckpt").is_file()
    assert any(p.name.startswith("iter0000003") for p in (run / "checkpoints").iterdir())  # the best by val/fid
    assert (run / "plots" / "samples_0000003.png").is_file()
    (wandb_dir,) = (run / "wandb").glob("offline-run-*")
    history = read_run(wandb_dir)["history"]
    fid = [row["val/fid"] for row in history if "val/fid" in row]
    grids = [row for row in history if row.get("val/samples/_type") == "images/separated"]
    gp = [row["train/gp"] for row in history if "train/gp" in row]
    assert len(fid) == 1 and len(grids) == 1 and gp
    # The logged FID is the definition's, recomputed on the checkpoint's samples and the held-out faces.
    import json

    evaluated = run_cli(["evaluate", "--ckpt_path", str(run / "checkpoints" / "last.ckpt"), "--wandb", "false"], cwd=tmp_path)
    assert "(reused)" in evaluated.stdout
    assert json.loads((run / "checkpoints" / "eval-0000003.json").read_text())["metrics"]["fid"] == pytest.approx(fid[0], rel=1e-5)
    assert "skipped 1 of 121 image files" in out.stderr

    run_cli(["sample", "--ckpt_path", str(run / "checkpoints" / "last.ckpt"), "--num_samples", "4",
             "--output", "faces.pt"], cwd=tmp_path)
    faces_out = torch.load(tmp_path / "faces.pt")
    assert faces_out.shape == (4, 3, 64, 64) and 0 <= faces_out.min() and faces_out.max() <= 1


@pytest.mark.parametrize("config", [["nsgan_anime.yaml"], ["nsgan_anime.yaml", "--model", "GAN"], ["wgan_anime.yaml"]])
def test_other_anime_configs_train_a_few_steps(config, faces, tmp_path):
    name, *objective = config
    cli = GANCLI(args=["fit", "--config", str(CONFIGS / name), *objective, *anime_args(faces, tmp_path, "run"),
                       "--model.init_args.generator.init_args.base_width", "8",
                       "--model.init_args.discriminator.init_args.base_width", "8"])
    assert cli.model.iteration == 3 and torch.isfinite(cli.trainer.callback_metrics["val/fid"])
