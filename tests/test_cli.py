"""The command line as a user runs it: fit, sample, resume, swap the logger, and bad input."""

import numpy as np
import pytest
import torch
import yaml
from lightning.pytorch import Callback

from helpers import CONFIGS, run_cli
from gan_lightning.cli import GANCLI
from gan_lightning.commands import main
from wandb_offline import read_run

SHORT = ["--trainer.enable_progress_bar", "false", "--trainer.enable_model_summary", "false"]


def test_fit_then_sample_end_to_end(tmp_path):
    out = run_cli(["fit", "--config", str(CONFIGS / "nsgan_gaussian.yaml"), "--trainer.default_root_dir", "runs",
                   "--run_name", "e2e", "--data.init_args.epoch_length", "150", "--trainer.max_epochs", "2",
                   "--trainer.enable_model_summary", "false", "--progress_bar.log_seconds", "0.2"], cwd=tmp_path)
    run = (tmp_path / "runs" / "e2e").resolve()
    text = out.stdout + out.stderr
    assert "logging offline" in text and "wandb sync" in text and f"Run folder: {run}" in text
    for chatter in ("anonymous setting", "litlogger", "Seed set to"):  # silenced for good
        assert chatter not in text, chatter
    # Output to a file (not a terminal): plain progress lines by the clock, no carriage-return redraws.
    assert "\r" not in out.stdout
    lines = out.stdout.splitlines()
    assert any(line.startswith("epoch 0, batch ") and " it/s" in line for line in lines), out.stdout
    assert any(line.startswith("validation at iteration 150 | ") and "val/w1=" in line for line in lines)
    assert any(line.startswith("done: iteration 300") for line in lines)
    ckpts = sorted(p.name for p in (run / "checkpoints").glob("*.ckpt"))
    assert "last.ckpt" in ckpts and any(name.startswith("iter0000") for name in ckpts), ckpts
    assert (run / "plots" / "distribution_0000150.png").is_file() and (run / "plots" / "distribution_0000300.png").is_file()
    saved = yaml.safe_load((run / "config.yaml").read_text())
    assert saved["model"]["class_path"] == "gan_lightning.models.NSGAN"
    assert not (tmp_path / "lightning_logs").exists() and not (tmp_path / "wandb").exists()  # nothing outside the run

    # The offline W&B run, read back from disk.
    (wandb_dir,) = (run / "wandb").glob("offline-run-*")
    logged = read_run(wandb_dir)
    keys = set().union(*logged["history"])
    assert {"train/d_loss", "train/g_loss", "train/d_real", "train/d_fake", "val/w1", "val/ks",
            "val/mean_err", "val/std_err", "trainer/global_step"} <= keys
    w1 = [row["val/w1"] for row in logged["history"] if "val/w1" in row]
    assert len(w1) == 2
    assert logged["config"]["config"]["model"]["init_args"]["generator"]["class_path"] == "gan_lightning.networks.MLPGenerator"
    images = [row for row in logged["history"] if row.get("val/distribution/_type") == "images/separated"]
    assert [row["trainer/global_step"] for row in images] == [150, 300]  # x-axis in iterations
    for row in images:
        (name,) = row["val/distribution/filenames"]
        assert (wandb_dir / "files" / name).read_bytes()[:4] == b"\x89PNG"

    # sample: .pt, .npy and .png from the checkpoint alone, repeatable with a seed.
    ckpt = run / "checkpoints" / "last.ckpt"
    for name in ["a.pt", "d.png"]:
        run_cli(["sample", "--ckpt_path", str(ckpt), "--num_samples", "500", "--output", str(tmp_path / name), "--seed", "7"], cwd=tmp_path)
    for name in ["b.pt", "c.npy"]:
        main(["sample", "--ckpt_path", str(ckpt), "--num_samples", "500", "--output", str(tmp_path / name), "--seed", "7"])
    a, b = torch.load(tmp_path / "a.pt"), torch.load(tmp_path / "b.pt")
    assert a.shape == (500, 1) and a.dtype == torch.float32
    torch.testing.assert_close(a, b)
    np.testing.assert_array_equal(np.load(tmp_path / "c.npy"), a.numpy())
    assert 3.0 < float(a.mean()) < 5.0  # data units: the data is N(4, 0.5)
    assert (tmp_path / "d.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    # The last logged val/w1 is SciPy's W1 between the held-out samples (the run's val_size, 100,000) and
    # as many samples of the model's seed.
    from scipy.stats import wasserstein_distance

    from gan_lightning.data import GaussianDataModule

    data = saved["data"]["init_args"]
    main(["sample", "--ckpt_path", str(ckpt), "--num_samples", str(data["val_size"]), "--output", str(tmp_path / "v.pt"), "--seed", "0"])
    held_out = GaussianDataModule(dim=1, mu=data["mu"], sigma=data["sigma"], val_size=data["val_size"]).val_data
    expected = wasserstein_distance(held_out[:, 0].numpy(), torch.load(tmp_path / "v.pt")[:, 0].numpy())
    assert w1[-1] == pytest.approx(expected, rel=1e-5)


class RecordStartWeights(Callback):
    """Keeps the generator's weights as training starts (after any checkpoint was restored)."""

    def on_train_start(self, trainer, pl_module):
        self.weights = {k: v.clone() for k, v in pl_module.generator.state_dict().items()}
        self.iteration = pl_module.iteration


class RecordThreads(Callback):
    """Keeps torch's CPU thread count as training starts."""

    def on_train_start(self, trainer, pl_module):
        self.threads = torch.get_num_threads()


def fit_in_process(root, *extra):
    return GANCLI(args=["fit", "--config", str(CONFIGS / "nsgan_gaussian.yaml"), "--trainer.default_root_dir", str(root),
                        "--data.init_args.epoch_length", "40", *SHORT, *extra])


def test_resume_from_last_carries_on(tmp_path):
    fit_in_process(tmp_path, "--trainer.max_epochs", "1", "--run_name", "resume")
    ckpt = torch.load(tmp_path / "resume" / "checkpoints" / "last.ckpt", weights_only=False)
    assert ckpt["iteration"] == 40 and ckpt["global_step"] == 80  # NSGAN: one D and one G step per iteration

    second = fit_in_process(tmp_path, "--trainer.max_epochs", "2", "--ckpt_path", "last",
                            "--trainer.callbacks+=test_cli.RecordStartWeights")
    assert second.trainer.default_root_dir == str((tmp_path / "resume").resolve())  # the same run folder
    assert sorted(p.name for p in tmp_path.iterdir()) == ["resume"]
    start = second.trainer.callbacks[[type(c).__name__ for c in second.trainer.callbacks].index("RecordStartWeights")]
    assert start.iteration == 40
    for key, value in start.weights.items():
        torch.testing.assert_close(value, ckpt["state_dict"][f"generator.{key}"], rtol=0, atol=0)
    resumed = torch.load(tmp_path / "resume" / "checkpoints" / "last.ckpt", weights_only=False)
    assert resumed["iteration"] == 80 and resumed["global_step"] == 160 and resumed["epoch"] == 1
    adam_steps = [s["step"] for opt in resumed["optimizer_states"] for s in opt["state"].values()]
    assert adam_steps and all(int(s) == 80 for s in adam_steps)


def test_iterations_counts_generator_updates_with_the_runs_own_n_critic(tmp_path):
    """Lightning's max_steps counts optimizer steps; --iterations counts iterations, with the n_critic and the
    D-only pretraining the run has, and a resumed run stops at the same total."""
    budget = ["--model.init_args.n_critic", "3", "--model.init_args.d_pretrain_steps", "4", "--run_name", "budget"]
    first = fit_in_process(tmp_path, "--iterations", "30", *budget)
    assert first.model.iteration == 30 and first.trainer.global_step == 30 * (3 + 1) - 4
    again = fit_in_process(tmp_path, "--iterations", "45", *budget, "--ckpt_path", "last")
    assert again.model.iteration == 45 and again.trainer.global_step == 45 * 4 - 4


def test_cpu_threads_hold_while_the_run_trains_and_are_given_back(tmp_path):
    before = torch.get_num_threads()
    wanted = 1 if before > 1 else 2
    cli = fit_in_process(tmp_path, "--trainer.max_epochs", "1", "--cpu.threads", str(wanted),
                         "--trainer.callbacks+=test_cli.RecordThreads")
    (record,) = [c for c in cli.trainer.callbacks if isinstance(c, RecordThreads)]
    assert record.threads == wanted
    assert torch.get_num_threads() == before  # the next run in this process starts with torch's own count


class InsideTrainingBatch(Callback):
    """Says whether Lightning is running a training batch."""

    inside = False

    def on_train_batch_start(self, *args):
        InsideTrainingBatch.inside = True

    def on_train_batch_end(self, *args):
        InsideTrainingBatch.inside = False


@pytest.mark.skipif(torch.cuda.is_available(), reason="the NVML check stays on where there is a GPU")
def test_training_on_a_machine_without_a_gpu_does_not_probe_nvml_at_every_step(tmp_path, monkeypatch):
    import os

    probes, original = [], torch.cuda._device_count_nvml

    def counted():  # each call loads NVML again
        probes.append(InsideTrainingBatch.inside)
        return original()
    monkeypatch.setattr(torch.cuda, "_device_count_nvml", counted)
    monkeypatch.setenv("PYTORCH_NVML_BASED_CUDA_CHECK", "1")  # as Lightning's import sets it
    cli = fit_in_process(tmp_path, "--trainer.max_epochs", "1", "--trainer.callbacks+=test_cli.InsideTrainingBatch")
    assert cli.model.iteration == 40 and sum(probes) == 0  # Adam asked at each of the 80 steps before
    assert os.environ.get("PYTORCH_NVML_BASED_CUDA_CHECK") == "1"  # given back when the run ends


@pytest.mark.parametrize("bfloat16_instructions, precision, warned", [
    (False, "bf16-mixed", True), (True, "bf16-mixed", False), (False, "32-true", False)])
def test_bf16_on_a_cpu_without_bfloat16_instructions_warns_how_to_train_in_float32(
        tmp_path, monkeypatch, recwarn, bfloat16_instructions, precision, warned):
    from gan_lightning.callbacks import threads
    monkeypatch.setattr(threads, "cpu_has_bfloat16", lambda: bfloat16_instructions)
    cli = fit_in_process(tmp_path, "--iterations", "10", "--trainer.precision", precision,
                         "--trainer.limit_val_batches", "0", "--trainer.logger", "false")
    assert cli.model.iteration == 10  # a warning, not a stop
    lines = [str(w.message) for w in recwarn if "without bfloat16 kernels" in str(w.message)]
    assert len(lines) == warned and all("--trainer.precision 32-true" in line for line in lines)


def test_csv_logger_swaps_in_and_writes_into_the_run_folder(tmp_path):
    fit_in_process(tmp_path, "--trainer.max_epochs", "1", "--run_name", "csv",
                   "--trainer.logger", "CSVLogger", "--trainer.logger.save_dir", str(tmp_path))
    (metrics,) = (tmp_path / "csv").rglob("metrics.csv")
    header = metrics.read_text().splitlines()[0].split(",")
    assert {"train/d_loss", "train/g_loss", "val/w1"} <= set(header)
    assert not (tmp_path / "csv" / "wandb").exists()


def test_a_run_without_checkpoints_ends_with_its_summary(tmp_path, capsys):
    cli = fit_in_process(tmp_path, "--trainer.max_epochs", "1", "--run_name", "bare", "--trainer.logger", "false",
                         "--trainer.enable_checkpointing", "false")
    assert cli.model.iteration == 40 and not (tmp_path / "bare" / "checkpoints").exists()
    out = capsys.readouterr().out
    assert "checkpoints: none (checkpointing off)" in out and "gan_lightning sample" not in out


def test_print_config_shows_the_resolved_config(capsys):
    with pytest.raises(SystemExit) as exit:
        main(["fit", "--config", str(CONFIGS / "wgangp_gaussian.yaml"), "--print_config"])
    assert exit.value.code == 0
    config = yaml.safe_load(capsys.readouterr().out)
    assert config["model"]["class_path"] == "gan_lightning.models.WGANGP"
    assert config["model"]["init_args"]["n_critic"] == 5
    assert config["cpu"]["threads"] == 1  # the config's own; the others keep torch's (null)


@pytest.mark.parametrize("extra, message", [
    (["--model.init_args.bogus", "1"], "bogus"),
    (["--data.init_args.batch_size", "many"], "batch_size"),
    (["--data.init_args.sigma", "0"], "GaussianDataModule: sigma must be > 0"),
    (["--data.init_args.batch_size", "0"], "GaussianDataModule: batch_size must be >= 1, got 0"),
    (["--ckpt_path", "/no/such/run/last.ckpt"], "no checkpoint file at /no/such/run/last.ckpt"),
    (["--iterations", "0"], "--iterations must be >= 1, got 0"),
    (["--cpu.threads", "0"], "cpu.threads must be >= 1 or null, got 0"),
])
def test_bad_input_fails_fast_with_a_clear_line(tmp_path, capsys, extra, message):
    with pytest.raises(SystemExit) as exit:
        main(["fit", "--config", str(CONFIGS / "nsgan_gaussian.yaml"), "--trainer.default_root_dir", str(tmp_path), *extra])
    assert exit.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not list(tmp_path.glob("*/checkpoints"))


def test_sample_with_a_missing_checkpoint_says_so(capsys):
    with pytest.raises(SystemExit) as exit:
        main(["sample", "--ckpt_path", "missing.ckpt", "--output", "x.pt"])
    assert exit.value.code == 2
    assert "gan_lightning: error: --ckpt_path: no checkpoint file at missing.ckpt" in capsys.readouterr().err


def test_fill_logger_defaults_points_loggers_into_the_run_and_decides_wandb_offline(tmp_path, monkeypatch):
    from jsonargparse import Namespace

    from gan_lightning.cli import fill_logger_defaults

    root, run = tmp_path / "runs", tmp_path / "runs" / "r1"
    config = Namespace(trainer=Namespace(logger=None), wandb_project="proj")
    assert fill_logger_defaults(config, root, run) is True  # no credentials here: offline, decided here
    init = config.trainer.logger["init_args"]
    assert config.trainer.logger["class_path"] == "lightning.pytorch.loggers.WandbLogger"
    assert init == {"save_dir": str(run), "project": "proj", "name": "r1", "id": "r1", "resume": "allow", "offline": True}
    csv = Namespace(trainer=Namespace(logger=[{"class_path": "lightning.pytorch.loggers.CSVLogger",
                                               "init_args": {"save_dir": str(root)}}]), wandb_project="proj")
    assert fill_logger_defaults(csv, root, run) is False
    assert csv.trainer.logger[0]["init_args"]["save_dir"] == str(run)
    monkeypatch.setenv("WANDB_MODE", "online")
    online = Namespace(trainer=Namespace(logger=True), wandb_project="proj")
    assert fill_logger_defaults(online, root, run) is False and "offline" not in online.trainer.logger["init_args"]


def test_resolve_checkpoint_path_finds_the_newest_last_and_refuses_a_missing_file(tmp_path):
    from jsonargparse import Namespace

    from gan_lightning.cli import resolve_checkpoint_path
    from gan_lightning.errors import ConfigError

    for name in ("old", "new"):
        (tmp_path / name / "checkpoints").mkdir(parents=True)
        (tmp_path / name / "checkpoints" / "last.ckpt").write_bytes(b"x")
        import time

        time.sleep(0.01)
    config = Namespace(ckpt_path="last")
    assert resolve_checkpoint_path(config, tmp_path) == str(tmp_path / "new" / "checkpoints" / "last.ckpt")
    assert config.ckpt_path.endswith("new/checkpoints/last.ckpt")
    assert resolve_checkpoint_path(Namespace(ckpt_path=None), tmp_path) is None
    with pytest.raises(ConfigError, match="no checkpoint file at nowhere.ckpt"):
        resolve_checkpoint_path(Namespace(ckpt_path="nowhere.ckpt"), tmp_path)
