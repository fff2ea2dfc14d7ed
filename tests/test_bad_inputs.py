"""Every bad input a user can give `fit` or `sample` stops before anything is written: exit code 2, one line
on stderr that names the value, what was expected and the option that fixes it, and no run folder."""

import pytest

from helpers import CONFIGS, run_cli
from images import write_faces

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    """last.ckpt of a five-iteration 1-D Gaussian WGAN-GP run and of an NS-GAN run, written by fit."""
    folder = tmp_path_factory.mktemp("checkpoints")
    found = {}
    for objective in ("wgangp", "nsgan"):
        run_cli(["fit", "--config", str(CONFIGS / f"{objective}_gaussian.yaml"), "--trainer.max_epochs", "1",
                 "--data.init_args.epoch_length", "5", "--trainer.limit_val_batches", "0", "--trainer.logger", "false",
                 "--trainer.enable_progress_bar", "false", "--run_name", objective], cwd=folder)
        found[objective] = folder / "runs" / objective / "checkpoints" / "last.ckpt"
    return found


def bad_inputs(tmp_path, checkpoints):
    """(command line, text the line must hold) for each bad input."""
    (tmp_path / "notes.ckpt").write_text("not a checkpoint\n")
    write_faces(tmp_path / "few-faces", n=10)  # and one broken file: 11 image files
    gaussian = ["--config", str(CONFIGS / "nsgan_gaussian.yaml")]
    return {
        "negative learning rate": (["fit", *gaussian, "--model.init_args.optimizer_g.init_args.lr", "-1"],
                                   "optimizer_g: Invalid learning rate: -1.0; set it with --model.init_args.optimizer_g.init_args"),
        "corrupt checkpoint to fit": (["fit", *gaussian, "--ckpt_path", "notes.ckpt"],
                                      "--ckpt_path: notes.ckpt is not a PyTorch checkpoint"),
        "corrupt checkpoint to sample": (["sample", "--ckpt_path", "notes.ckpt", "--output", "s.png"],
                                         "--ckpt_path: notes.ckpt is not a PyTorch checkpoint"),
        "checkpoint of other networks and data": (
            ["fit", "--config", str(CONFIGS / "wgangp_ring8.yaml"), "--ckpt_path", str(checkpoints["wgangp"])],
            "was trained on GaussianDataModule, the config's data is GaussianMixtureDataModule; resume with the config it was trained with"),
        "checkpoint of another objective": (
            ["fit", "--config", str(CONFIGS / "wgangp_gaussian.yaml"), "--ckpt_path", str(checkpoints["nsgan"])],
            "holds a NSGAN, the config builds a WGANGP"),
        "checkpoint of another network shape": (
            ["fit", *gaussian, "--ckpt_path", str(checkpoints["nsgan"]),
             "--model.init_args.generator.init_args.hidden", "[8]"],
            "has another generator (model.init_args.generator.init_args.hidden: [8] in the config, [32, 32] in the checkpoint)"),
        "missing data folder": (["fit", "--config", str(CONFIGS / "wgangp_anime.yaml"), "--data.init_args.data_dir", "nowhere"],
                                "nowhere does not exist"),
        "image folder smaller than a batch": (
            ["fit", "--config", str(CONFIGS / "wgangp_anime.yaml"), "--data.init_args.data_dir", "few-faces",
             "--data.init_args.val_size", "2"],
            "11 images leave 9 for training after holding out val_size=2, fewer than one training batch of 320 "
            "(64 x 5 critic steps); lower --data.init_args.batch_size or --data.init_args.val_size"),
        # The pre-flight runs the networks on a batch of the data's shape before the trainer exists.
        "data smaller than the networks take": (
            ["fit", "--config", str(CONFIGS / "wgangp_anime.yaml"), "--data.init_args.data_dir", "few-faces",
             "--data.init_args.val_size", "2", "--data.init_args.batch_size", "1", "--data.init_args.image_size", "32"],
            "pre-flight: the generator AnimeGenerator (image_size 64, channels 3, latent_dim 128) makes 3x64x64 samples, "
            "but AnimeFacesDataModule (image_size 32) has 3x32x32; the networks' image_size is 64, the data's 32: set "
            "--data.init_args.image_size 64"),
        # Lightning's own checks of trainer options, with the option named.
        "an accelerator the machine lacks": (["fit", *gaussian, "--trainer.accelerator", "gpu"],
                                             "--trainer.accelerator gpu: No supported gpu backend found!"),
        "a duration Lightning cannot read": (["fit", *gaussian, "--trainer.max_time", "soon"],
                                             "--trainer.max_time soon: `Timer(duration='soon')` is not a valid duration"),
    }


CASES = ["negative learning rate", "corrupt checkpoint to fit", "corrupt checkpoint to sample",
         "checkpoint of other networks and data", "checkpoint of another objective",
         "checkpoint of another network shape", "missing data folder", "image folder smaller than a batch",
         "data smaller than the networks take", "an accelerator the machine lacks", "a duration Lightning cannot read"]


@pytest.mark.parametrize("case", CASES)
def test_a_bad_input_stops_with_one_line_and_writes_nothing(case, tmp_path, checkpoints):
    args, message = bad_inputs(tmp_path, checkpoints)[case]
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    result = run_cli(args, cwd=tmp_path, check=False)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2, result.stderr[-3000:]
    assert len(lines) == 1 and lines[0].startswith("gan_lightning: error: ") and message in lines[0], result.stderr[-3000:]
    after = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    assert after == before  # no run folder, checkpoint, plot or W&B file


def test_with_validation_off_no_images_are_held_out(tmp_path):
    write_faces(tmp_path / "faces", n=70)
    run_cli(["fit", "--config", str(CONFIGS / "nsgan_anime.yaml"), "--data.init_args.data_dir", "faces",
             "--data.init_args.image_size", "32", "--model.init_args.generator.init_args.image_size", "32",
             "--model.init_args.discriminator.init_args.image_size", "32", "--trainer.max_steps", "2",
             "--trainer.limit_val_batches", "0", "--model.init_args.metrics", "null", "--trainer.logger", "false",
             "--run_name", "few"], cwd=tmp_path)  # 70 faces: one batch of 64 only if none is held out
    import torch

    saved = torch.load(tmp_path / "runs" / "few" / "checkpoints" / "last.ckpt", weights_only=False)
    assert saved["datamodule_hyper_parameters"]["val_size"] == 0 and saved["iteration"] == 1


def test_a_checkpoint_loads_as_the_objective_it_was_trained_with(checkpoints):
    """Lightning 2.6 drops the CLI's class path before building a model from a checkpoint; load_model keeps it, so
    evaluate's pre-flight has the objective's losses and plots read a WGAN critic's scores as scores, not logits."""
    from gan_lightning.models import NSGAN, WGANGP
    from gan_lightning.sample import load_model

    wgangp, nsgan = load_model(checkpoints["wgangp"]), load_model(checkpoints["nsgan"])
    assert type(wgangp) is WGANGP and type(nsgan) is NSGAN and not wgangp.outputs_logits and nsgan.outputs_logits
