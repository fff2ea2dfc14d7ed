import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "configs"


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


def run_cli(args: list[str], cwd: Path, timeout: float = 300, check: bool = True):
    """Runs ``python -m gan_lightning ARGS`` in a subprocess, as a user would."""
    import subprocess

    # WANDB_SERVICE would hand the child to this process's W&B service, if a test started one.
    env = {k: v for k, v in os.environ.items() if k not in ("WANDB_API_KEY", "WANDB_MODE", "WANDB_SERVICE")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "tests"), env.get("PYTHONPATH", "")])  # test-made feature nets
    result = subprocess.run([sys.executable, "-m", "gan_lightning", *args], cwd=cwd, env=env,
                            capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"exit {result.returncode}\nSTDOUT:\n{result.stdout[-3000:]}\nSTDERR:\n{result.stderr[-5000:]}")
    return result
