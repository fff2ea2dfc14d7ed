"""Fixtures every test gets; shared helpers live in helpers.py."""

import os

# The suite runs in one pytest-xdist worker per core (`make test`). Each worker's torch would start
# a thread per core too, and the workers' thread pools then fight over the cores: a test that
# takes 20 s alone took 300 s. One thread each; subprocesses (CLI, DDP ranks) inherit it.
os.environ["OMP_NUM_THREADS"] = "1"

import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def no_wandb_credentials(monkeypatch, tmp_path_factory):
    """Every test runs as on a machine without W&B credentials: W&B must go offline by itself."""
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.delenv("WANDB_MODE", raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path_factory.getbasetemp() / "no-netrc"))
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.delenv("GAN_LIGHTNING_RUN_DIR", raising=False)
    monkeypatch.setenv("WANDB_CONFIG_DIR", str(tmp_path_factory.getbasetemp() / "wandb-config"))
    yield
    import wandb

    wandb.finish()  # a run left open would be reused by the next test's WandbLogger


def pytest_collection_modifyitems(items):
    """The SLURM job test takes about two minutes of mostly waiting: start it first, so that under
    pytest-xdist the other worker runs the rest of the suite beside it instead of after it."""
    items.sort(key=lambda item: item.get_closest_marker("slurm") is None)
