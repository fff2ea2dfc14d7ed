"""Fixtures every test gets; shared helpers live in helpers.py."""

import pytest


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
