"""`python -m gan_lightning evaluate` end to end, in subprocesses, as a user runs it after `fit`."""

import json

import pytest

from helpers import CONFIGS, TINY_MNIST, run_cli
from gan_lightning.metrics import MNISTFeatures
from images import write_faces, write_real_mnist
from wandb_offline import read_run

pytestmark = pytest.mark.slow


def newest_wandb_run(run_dir):
    return max((run_dir / "wandb").glob("offline-run-*"), key=lambda p: p.name)


def test_evaluate_a_mixture_run_writes_json_logs_wandb_and_agrees_with_validation(tmp_path, monkeypatch):
    run_cli(["fit", "--config", str(CONFIGS / "nsgan_ring8.yaml"), "--data.init_args.epoch_length", "30",
             "--trainer.max_epochs", "2", "--trainer.enable_progress_bar", "false", "--run_name", "ring"], cwd=tmp_path)
    run = tmp_path / "runs" / "ring"
    fit_history = read_run(newest_wandb_run(run))["history"]
    last_val = [row for row in fit_history if "val/w1" in row][-1]

    out = run_cli(["evaluate", "--ckpt_path", "last"], cwd=tmp_path).stdout
    assert "(reused)" in out and "2500 generated vs 2500 real" in out  # cached by fit's validation
    result = json.loads((run / "checkpoints" / "eval-0000060.json").read_text())
    metrics, protocol = result["metrics"], result["protocol"]
    assert set(metrics) == {"w1", "ks", "mean_err", "std_err", "modes", "mode_kl", "high_quality", "precision",
                            "recall", "density", "coverage"}
    assert protocol["fakes"] == protocol["reals"] == 2500 and protocol["reference_split"] == "val"
    assert protocol["feature_network"] == "none (data space)" and protocol["ema"] is True  # the config has an EMA
    assert protocol["iteration"] == 60 and protocol["data"] == "GaussianMixtureDataModule"
    # The same samples, the same reference: validation's last numbers are evaluate's.
    for name in ("w1", "ks", "modes", "high_quality", "precision", "coverage"):
        assert metrics[name] == pytest.approx(last_val[f"val/{name}"], rel=1e-5, abs=1e-7), name

    logged = read_run(newest_wandb_run(run))
    eval_rows = [row for row in logged["history"] if "eval/w1" in row]
    assert len(eval_rows) == 1 and eval_rows[0]["eval/w1"] == pytest.approx(metrics["w1"], rel=1e-6)
    assert all(f"eval/{k}" in eval_rows[0] for k in metrics)
    assert logged["config"]["eval_protocol"]["fakes"] == 2500
    assert logged["run"]["id"] == "ring"  # the fit's run, continued

    again = run_cli(["evaluate", "--ckpt_path", str(run / "checkpoints" / "last.ckpt"), "--wandb", "false"],
                    cwd=tmp_path).stdout
    assert "(reused)" in again
    fewer = run_cli(["evaluate", "--ckpt_path", "last", "--num_reference", "1000", "--num_samples", "1000",
                     "--metrics", "[modes, w1]", "--wandb", "false"], cwd=tmp_path).stdout
    assert "computed and cached" in fewer and "1000 generated vs 1000 real" in fewer
    assert set(json.loads((run / "checkpoints" / "eval-0000060.json").read_text())["metrics"]) == {"modes", "w1"}
    assert len(list((run / "reference-cache").glob("reference-*.pt"))) == 2  # one per reference count

    # `sample` to .png draws the samples over the run's real data and its critic's heat map.
    import gan_lightning.plots
    from gan_lightning.sample import sample_main

    drawn = []
    monkeypatch.setattr(gan_lightning.plots, "draw_critic_heatmap", lambda ax, d, logits, real, fake: drawn.append(
        (real.shape, fake.shape, logits, d(real[:3]).shape)))
    sample_main(["--ckpt_path", str(run / "checkpoints" / "last.ckpt"), "--num_samples", "300",
                 "--output", str(tmp_path / "ring.png")])
    assert drawn == [((2500, 2), (300, 2), True, (3,))] and (tmp_path / "ring.png").read_bytes()[:4] == b"\x89PNG"


def test_evaluate_an_mnist_run_with_its_feature_network_and_another(tmp_path):
    write_real_mnist(tmp_path / "data")
    run_cli(["fit", "--config", str(CONFIGS / "nsgan_mnist.yaml"), *TINY_MNIST, "--trainer.enable_progress_bar", "false",
             "--run_name", "digits"], cwd=tmp_path)
    out = run_cli(["evaluate", "--ckpt_path", "last", "--wandb", "false"], cwd=tmp_path).stdout
    assert "(reused)" in out  # fit's validation cached the same reference
    result = json.loads((tmp_path / "runs" / "digits" / "checkpoints" / "eval-0000003.json").read_text())
    assert {"fid", "precision", "recall", "density", "coverage", "classes", "min_class_share", "class_kl",
            "confidence", "is", "is_std"} == set(result["metrics"])
    assert result["protocol"]["ema"] is True and result["protocol"]["feature_network"] == MNISTFeatures().digest
    other = run_cli(["evaluate", "--ckpt_path", "last", "--feature", "images.SmallFeatures", "--wandb", "false"],
                    cwd=tmp_path).stdout
    assert "computed and cached" in other and "features: SmallFeatures-" in other
    assert "classes" not in other  # a plain feature network classifies nothing


def test_evaluate_stops_with_one_line_on_bad_input(tmp_path):
    write_faces(tmp_path / "faces", n=40)
    run_cli(["fit", "--config", str(CONFIGS / "nsgan_anime.yaml"), "--data.init_args.data_dir", "faces",
             "--data.init_args.val_size", "8", "--data.init_args.batch_size", "4", "--model.init_args.metrics", "null",
             "--model.init_args.generator.init_args.base_width", "4",
             "--model.init_args.discriminator.init_args.base_width", "4", "--trainer.max_epochs", "1",
             "--trainer.limit_train_batches", "2", "--trainer.limit_val_batches", "0",
             "--trainer.enable_progress_bar", "false", "--run_name", "faces"], cwd=tmp_path)
    (tmp_path / "corrupt.ckpt").write_text("not a checkpoint")
    cases = [(["--ckpt_path", "last", "--feature", "mnist"], "takes 28x28 digit images (C x 28 x 28), but this data is 3x64x64"),
             (["--ckpt_path", "missing.ckpt"], "--ckpt_path: no checkpoint file at missing.ckpt"),
             (["--ckpt_path", "corrupt.ckpt"], "--ckpt_path: corrupt.ckpt is not a PyTorch checkpoint (not the zip archive torch.save writes)"),
             (["--ckpt_path", "last", "--num_samples", "1"], "--num_samples must be >= 2, got 1")]
    for args, message in cases:
        result = run_cli(["evaluate", *args, "--wandb", "false"], cwd=tmp_path, check=False)
        lines = result.stderr.strip().splitlines()
        assert result.returncode == 2 and len(lines) == 1 and message in lines[0], (args, result.stderr[-2000:])
    assert not list((tmp_path / "runs" / "faces" / "checkpoints").glob("eval-*.json"))
