"""Every validation of a run as one row of ``<run folder>/validations.csv``: the iteration, the training
seconds so far and the ``val/*`` metrics, for the plots of a comparison against iterations and wall time;
and one row at the end of training with the iteration and seconds it ended at."""

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
        if not trainer.sanity_checking:
            self.write(trainer, pl_module, {k: float(v) for k, v in sorted(trainer.callback_metrics.items())
                                            if k.startswith("val/")})

    def on_train_end(self, trainer, pl_module):
        self.write(trainer, pl_module, {})

    def write(self, trainer, pl_module, metrics: dict) -> None:
        if trainer.global_rank != 0:
            return
        row = {"iteration": pl_module.iteration, "train_s": round(self.train_seconds, 3), **metrics}
        path = Path(trainer.default_root_dir) / FILE
        header = None
        if path.is_file():
            with open(path, newline="") as f:
                header = next(csv.reader(f), None)
        with open(path, "a", newline="") as f:
            writer = csv.DictWriter(f, header or list(row), extrasaction="ignore")  # the columns the file began with
            if header is None:
                writer.writeheader()
            writer.writerow(row)

    def state_dict(self):
        return {"train_seconds": self.train_seconds}

    def load_state_dict(self, state_dict):
        self.train_seconds = state_dict["train_seconds"]


def read_history(run_dir: Path) -> list[dict]:
    """The rows of ``run_dir/validations.csv`` as floats, one per iteration (its values as last written, the end
    of training's seconds merged into a validation at the same iteration), by iteration."""
    path = Path(run_dir) / FILE
    if not path.is_file():
        return []
    rows = {}
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            values = {k: float(v) for k, v in row.items() if v not in (None, "")}
            rows[int(values["iteration"])] = {**rows.get(int(values["iteration"]), {}), **values}
    return [rows[i] for i in sorted(rows)]
