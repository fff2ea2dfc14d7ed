"""A progress bar whose cost does not show in a small network's iteration.

Lightning's bar redraws after every batch: on a 50 ms MLP iteration that was 20% of the run,
and written to a log file each redraw is a carriage-return line. This one redraws by the clock.
"""

import sys
import time

from lightning.pytorch.callbacks import Timer, TQDMProgressBar

from gan_lightning.errors import ConfigError


class TimedProgressBar(TQDMProgressBar):
    """Lightning's tqdm bar, redrawn at most every ``refresh_seconds`` in a terminal; when stdout is
    not a terminal (a log file, a cluster job) the bars are off and one plain line is printed every
    ``log_seconds`` instead: epoch, iteration, iterations per second, time left (to the first budget that
    runs out: epochs, ``max_steps`` or ``max_time``), the bar's metrics.

    Args:
        refresh_seconds: least time between two redraws of a terminal bar.
        log_seconds: time between two progress lines when stdout is not a terminal; after each
            validation a line with its metrics is printed as well.
        terminal: ``None``: ask stdout (``isatty``); ``True``/``False`` force bars or lines.
    """

    def __init__(self, refresh_seconds: float = 0.5, log_seconds: float = 30.0, terminal: bool | None = None,
                 process_position: int = 0, leave: bool = False):
        if refresh_seconds < 0 or log_seconds < 0:
            raise ConfigError(f"progress_bar: refresh_seconds and log_seconds must be >= 0, got {refresh_seconds}, {log_seconds}")
        super().__init__(refresh_rate=1, process_position=process_position, leave=leave)
        self.refresh_seconds, self.log_seconds, self.terminal = refresh_seconds, log_seconds, terminal
        self._last_draw = float("-inf")
        self._train_start = self._last_line = None
        self._start_iteration = self._start_step = 0

    @property
    def drawing(self) -> bool:
        """Whether bars are drawn (a terminal) rather than lines printed."""
        return self.terminal if self.terminal is not None else sys.stdout.isatty()

    def _should_update(self, current: int, total: int) -> bool:
        if not self.is_enabled:
            return False
        now = time.monotonic()
        if current == total or now - self._last_draw >= self.refresh_seconds:
            self._last_draw = now
            return True
        return False

    @property
    def is_disabled(self) -> bool:
        # Lightning builds every bar with disable=is_disabled: off a terminal none is drawn at all.
        return not self.is_enabled or not self.drawing

    # ---- the plain lines -----------------------------------------------------------------

    def on_train_start(self, trainer, pl_module) -> None:
        super().on_train_start(trainer, pl_module)
        self._train_start = self._last_line = time.monotonic()
        self._start_iteration = self._iteration(trainer, pl_module)
        self._start_step = trainer.global_step

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        if self.drawing:
            super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)
            return
        now = time.monotonic()
        if self.is_enabled and now - self._last_line >= self.log_seconds:
            self._last_line = now
            self._print_line(trainer, pl_module, self._progress(trainer, pl_module, batch_idx + 1, now))

    def on_validation_end(self, trainer, pl_module) -> None:
        super().on_validation_end(trainer, pl_module)
        if not self.drawing and self.is_enabled and not trainer.sanity_checking and trainer.state.fn == "fit":
            self._print_line(trainer, pl_module, f"validation at iteration {self._iteration(trainer, pl_module)}")

    def on_train_end(self, trainer, pl_module) -> None:
        super().on_train_end(trainer, pl_module)
        if not self.drawing and self.is_enabled:
            self._print_line(trainer, pl_module, f"done: iteration {self._iteration(trainer, pl_module)}")

    @staticmethod
    def _iteration(trainer, pl_module) -> int:
        return getattr(pl_module, "iteration", trainer.global_step)

    def _progress(self, trainer, pl_module, batch: int, now: float) -> str:
        iteration = self._iteration(trainer, pl_module)
        rate = (iteration - self._start_iteration) / max(now - self._train_start, 1e-9)
        total = self.total_train_batches
        parts = [f"epoch {trainer.current_epoch}", f"batch {batch}/{total if total != float('inf') else '?'}",
                 f"iteration {iteration}", f"{rate:.1f} it/s"]
        # The epochs' budget counts batches, which may hold several iterations (``iterations_per_batch``).
        left = self._seconds_left(trainer, batch, rate / getattr(pl_module, "iterations_per_step", 1), now)
        if left is not None:
            parts.append(f"{time.strftime('%H:%M:%S', time.gmtime(max(left, 0)))} left")
        return ", ".join(parts)

    def _seconds_left(self, trainer, batch: int, rate: float, now: float) -> float | None:
        """Seconds until the first of the run's budgets runs out (epochs, optimizer steps, ``max_time``), or ``None``;
        ``rate``: batches a second."""
        left, total, epochs = [], self.total_train_batches, trainer.max_epochs
        if rate > 0 and epochs not in (None, -1) and total != float("inf"):
            left.append(((epochs - trainer.current_epoch) * total - batch) / rate)
        steps_done = trainer.global_step - self._start_step
        if trainer.max_steps not in (None, -1) and steps_done > 0:
            left.append((trainer.max_steps - trainer.global_step) / (steps_done / max(now - self._train_start, 1e-9)))
        timer = next((c for c in trainer.callbacks if isinstance(c, Timer)), None)
        remaining = timer.time_remaining("train") if timer is not None else None
        if remaining is not None:
            left.append(remaining)
        return min(left) if left else None

    def _print_line(self, trainer, pl_module, head: str) -> None:
        metrics = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                            for k, v in self.get_metrics(trainer, pl_module).items() if k != "v_num")
        print(f"{head}{' | ' + metrics if metrics else ''}", flush=True)
