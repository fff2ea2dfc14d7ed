"""Every validation of a run as one row of ``<run folder>/validations.csv``: the iteration, the training
seconds so far and the ``val/*`` metrics, for the plots of a comparison against iterations and wall time."""

import csv
import time
from pathlib import Path

from lightning.pytorch import Callback

FILE = "validations.csv"


class ValidationHistory(Callback):
    """Appends a row per validation; the training seconds are kept in the checkpoint, so a resumed run goes on
    counting from where its checkpoint was written (rows written after that checkpoint come again, and a reader
    keeps the last row of each iteration: ``read_history``)."""

    def __init__(self):
        self.train_seconds, self._started = 0.0, None

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        self._started = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.train_seconds += time.perf_counter() - self._started

    def on_validation_end(self, trainer, pl_module):  # after the module logged this validation's metrics
        if trainer.sanity_checking or trainer.global_rank != 0:
            return
        row = {"iteration": pl_module.iteration, "train_s": round(self.train_seconds, 3),
               **{k: float(v) for k, v in sorted(trainer.callback_metrics.items()) if k.startswith("val/")}}
        path = Path(trainer.default_root_dir) / FILE
        new = not path.is_file()
        with open(path, "a", newline="") as f:
            writer = csv.DictWriter(f, list(row), extrasaction="ignore")
            if new:
                writer.writeheader()
            writer.writerow(row)

    def state_dict(self):
        return {"train_seconds": self.train_seconds}

    def load_state_dict(self, state_dict):
        self.train_seconds = state_dict["train_seconds"]


def read_history(run_dir: Path) -> list[dict]:
    """The rows of ``run_dir/validations.csv`` as floats, one per iteration (the last written), by iteration."""
    path = Path(run_dir) / FILE
    if not path.is_file():
        return []
    rows = {}
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            values = {k: float(v) for k, v in row.items() if v not in (None, "")}
            rows[int(values["iteration"])] = values
    return [rows[i] for i in sorted(rows)]
