"""CIFAR-10 end to end on a tiny archive in CIFAR-10's own format: the SNGAN config with the ResNets trains, samples,
and is evaluated with a published protocol's preset, whose JSON records everything the number depends on."""

import json

import pytest

from helpers import CONFIGS, run_cli
from images import write_cifar, write_inception_weights

pytestmark = pytest.mark.slow


def test_sngan_on_cifar10_fits_samples_and_evaluates_with_the_preset(tmp_path):
    write_cifar(tmp_path / "data")
    weights = write_inception_weights(tmp_path / "weights-inception-2015-12-05-6726825d.pth")
    run_cli(["fit", "--config", str(CONFIGS / "sngan_cifar10.yaml"), "--data.init_args.download", "false",
             "--data.init_args.val_size", "8", "--data.init_args.batch_size", "4",
             "--model.init_args.generator.init_args.base_width", "16",
             "--model.init_args.discriminator.init_args.base_width", "8", "--iterations", "2",
             "--trainer.val_check_interval", "2", "--model.init_args.metrics.init_args.num_samples", "8",
             "--model.init_args.metrics.init_args.weights_path", str(weights), "--trainer.logger", "false",
             "--run_name", "c"], cwd=tmp_path)
    ckpt = tmp_path / "runs" / "c" / "checkpoints" / "last.ckpt"
    run_cli(["sample", "--ckpt_path", str(ckpt), "--num_samples", "16", "--output", "cifar.png"], cwd=tmp_path)
    assert (tmp_path / "cifar.png").read_bytes()[:4] == b"\x89PNG"
    out = run_cli(["evaluate", "--ckpt_path", str(ckpt), "--preset", "inception-50k-train", "--num_samples", "30",
                   "--weights_path", str(weights), "--fid_infinity", "true", "--wandb", "false"], cwd=tmp_path)
    result = json.loads((ckpt.parent / "eval-0000002.json").read_text())
    metrics, protocol = result["metrics"], result["protocol"]
    assert {"fid", "is", "is_std", "fid_infinity", "precision", "recall"} <= set(metrics), out.stdout
    assert protocol["preset"] == "inception-50k-train" and protocol["reference_split"] == "train"
    assert protocol["reals"] == 52 and protocol["fakes"] == 30  # the whole training split; the count given overrides
    assert protocol["feature_network"].startswith("inception2048-") and "299x299" in protocol["network_input"]
    assert set(protocol["versions"]) == {"torch", "torchvision", "torchmetrics"} and protocol["data"] == "CIFAR10DataModule"
    bad = run_cli(["evaluate", "--ckpt_path", str(ckpt), "--preset", "fifty-k"], cwd=tmp_path, check=False)
    assert bad.returncode == 2 and "--preset: expected one of inception-50k-train, inception-10k-val, got 'fifty-k'" in bad.stderr
