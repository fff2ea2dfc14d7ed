"""Saving a checkpoint when a run is stopped: SIGTERM or Ctrl-C, and SLURM's requeue signal."""

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

from lightning.fabric.plugins.environments import SLURMEnvironment
from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.loggers import WandbLogger
from lightning.pytorch.utilities import rank_zero_info, rank_zero_warn
from lightning.pytorch.utilities.exceptions import SIGTERMException


def drop_wandb_logger(trainer: Trainer) -> None:
    """Takes W&B out of ``trainer``'s loggers: after a job-wide signal its service may be gone, and a log call
    would raise ConnectionResetError into the job's log (``close_wandb`` finishes the run quietly later)."""
    trainer.loggers = [logger for logger in trainer.loggers if not isinstance(logger, WandbLogger)]


def close_wandb(exit_code: int = 1) -> None:
    """Finishes the W&B run (exit code 1: interrupted) and stops W&B's service process, saying nothing if
    the service is gone. A scheduler's SIGTERM (SLURM's requeue or time limit, ``scancel``) reaches every process
    of the job, the service too, and W&B's own exit hook would then print a ConnectionResetError
    traceback into the job's log after the checkpoint was saved."""
    wandb = sys.modules.get("wandb")
    if wandb is None:
        return
    with contextlib.suppress(Exception):
        if wandb.run is not None:
            wandb.run.finish(exit_code=exit_code)
    with contextlib.suppress(Exception):
        wandb.teardown()


def next_hpc_checkpoint(folder: Path) -> Path:
    """``<folder>/hpc_ckpt_<n>.ckpt`` numbered after the ones there: Lightning restores the highest number
    when a SLURM job starts in ``folder`` again."""
    numbers = [int(p.stem.removeprefix("hpc_ckpt_")) for p in folder.glob("hpc_ckpt_*.ckpt")
               if p.stem.removeprefix("hpc_ckpt_").isdigit()]
    return folder / f"hpc_ckpt_{1 + max(numbers, default=0)}.ckpt"


class CheckpointOnInterrupt(Callback):
    """On SIGTERM or Ctrl-C during ``fit``, writes ``<checkpoint dir>/last.ckpt`` before exit; under
    SLURM, on SIGUSR1 (``#SBATCH --signal=SIGUSR1@90`` before the time limit, or ``scancel -s USR1``)
    writes ``<run folder>/hpc_ckpt_<n>.ckpt``, requeues the job and stops.

    Lightning stops at the end of the iteration in progress on SIGTERM, so the checkpoint holds a
    whole iteration. The write is atomic (a temporary file renamed over the old one), so a
    failure while saving leaves the previous ``last.ckpt`` in place.

    The requeued job starts in the same run folder (it is named by the job id) and Lightning
    restores the newest ``hpc_ckpt_*.ckpt`` there by itself. Lightning's own SIGUSR1 handler
    saves wherever the signal lands, mid-iteration and at a different point on each rank; this
    one only records the signal, and the ranks agree at the end of an iteration to save there, so
    the resumed run is bit for bit the uninterrupted one.

    A SIGTERM after training has ended (a SLURM step ending while the ranks tear down), or after this
    callback requeued the job (SLURM's SIGTERM for the requeue), has nothing left to stop: the run
    finishes, without Lightning's handler and its broadcast to ranks that may have exited.
    """

    def __init__(self):
        self.training_ended = False  # SIGTERM then has nothing to stop
        self.terminated_after_training = False
        self.requeue_requested = False
        self.fitting = False  # SIGUSR1 is this callback's while a fit under SLURM runs
        self.previous_handler = None  # SIGUSR1's handler from before that fit
        self.requeued_at = None  # the hpc checkpoint the SIGUSR1 path saved in this fit

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        # Installed before Lightning registers its handlers, which then leave SIGUSR1 to this one.
        if stage == "fit" and SLURMEnvironment.detect() and threading.current_thread() is threading.main_thread():
            self.requeue_requested, self.requeued_at = False, None
            current = signal.signal(signal.SIGUSR1, self.record_requeue_signal)
            if current != self.record_requeue_signal:  # else still this one, after a fit that raised
                self.previous_handler = current
            self.fitting = True

    def record_requeue_signal(self, signum, frame) -> None:
        if self.fitting:
            self.requeue_requested = True
            return
        # Fit is over, yet this handler is installed: after a fit that raised, Lightning skips callbacks'
        # `teardown` and puts back the handler it found when fit began, this one. Hand the signal on.
        handler = self.give_back_sigusr1()
        if callable(handler):
            handler(signum, frame)
        elif handler == signal.SIG_DFL:
            signal.raise_signal(signum)

    def on_train_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Wraps Lightning's SIGTERM handler (installed by now; Lightning puts back the one from before
        ``fit`` when it ends): a job-wide SIGTERM may have stopped W&B's service, and a W&B log call
        before the iteration ends, where Lightning stops, would raise ConnectionResetError and end the
        run without its checkpoint. So the run stops logging to W&B at the signal."""
        if threading.current_thread() is not threading.main_thread():
            return
        lightning_handler = signal.getsignal(signal.SIGTERM)
        self.training_ended = self.terminated_after_training = False

        def stop_logging_to_wandb(signum, frame):
            drop_wandb_logger(trainer)
            if self.training_ended or self.requeued_at is not None:
                # Nothing is left to stop (training is over, or this run saved its hpc checkpoint, requeued
                # the job and is stopping: SLURM's SIGTERM for that requeue is expected), and Lightning's
                # handler would broadcast the signal to the other ranks, which may have exited already or sit
                # in another collective (a barrier of the last checkpoint save): a gloo/NCCL error.
                self.terminated_after_training = True
                return
            if callable(lightning_handler):
                lightning_handler(signum, frame)

        signal.signal(signal.SIGTERM, stop_logging_to_wandb)

    def on_train_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self.training_ended = True  # a SIGTERM from now on lets the run finish its teardown

    def teardown(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        self.end_of_fit()
        if stage == "fit" and (self.terminated_after_training or self.requeued_at is not None):
            if self.terminated_after_training:
                rank_zero_info("SIGTERM after training ended or the job was requeued: the run's checkpoints stand; "
                               "closing W&B")
            close_wandb(exit_code=0 if self.requeued_at is None else 1)
            self.terminated_after_training = False

    def end_of_fit(self) -> None:
        if self.fitting:
            self.give_back_sigusr1()
            self.fitting = False

    def give_back_sigusr1(self):
        """Installs SIGUSR1's handler from before fit again (the default if there was none) and returns it."""
        handler = self.previous_handler if self.previous_handler is not None else signal.SIG_DFL
        signal.signal(signal.SIGUSR1, handler)
        return handler

    def on_train_batch_end(self, trainer: Trainer, pl_module: LightningModule, outputs, batch, batch_idx) -> None:
        if not self.fitting:
            return
        # One small all-reduce per iteration: every rank stops at the same iteration, the first to be signalled.
        if not trainer.strategy.reduce_boolean_decision(self.requeue_requested, all=False):
            return
        path = next_hpc_checkpoint(Path(trainer.default_root_dir))
        trainer.save_checkpoint(path)
        self.requeued_at = path
        rank_zero_info(f"SIGUSR1: saved {path} at iteration {pl_module.iteration}; requeueing the job")
        trainer.should_stop = True
        # SLURM signals every process of the job, W&B's service too: the run stops logging to W&B here and
        # closes it quietly at teardown.
        drop_wandb_logger(trainer)
        if trainer.is_global_zero:
            job = os.environ.get("SLURM_ARRAY_JOB_ID") and f"{os.environ['SLURM_ARRAY_JOB_ID']}_{os.environ['SLURM_ARRAY_TASK_ID']}"
            job = job or os.environ["SLURM_JOB_ID"]
            result = subprocess.run(["scontrol", "requeue", job], capture_output=True, text=True)
            if result.returncode != 0:
                rank_zero_warn(f"scontrol requeue {job} failed ({result.stderr.strip()}); resume by hand with "
                               f"--ckpt_path {path}")
        self.requeue_requested = False

    def on_exception(self, trainer: Trainer, pl_module: LightningModule, exception: BaseException) -> None:
        self.end_of_fit()  # Lightning calls no `teardown` after an exception
        if not isinstance(exception, (KeyboardInterrupt, SIGTERMException)) or trainer.state.fn != "fit":
            return
        callback = trainer.checkpoint_callback
        folder = Path(callback.dirpath) if callback is not None and callback.dirpath else Path(trainer.default_root_dir) / "checkpoints"
        path = folder / "last.ckpt"
        trainer.save_checkpoint(path)
        if callback is not None:
            callback.last_model_path = str(path)
        resume = f"resume with --ckpt_path {path}"
        if self.requeued_at is not None:  # SLURM's SIGTERM to the job this run requeued: it resumes from there
            resume = f"the requeued job resumes from {self.requeued_at}"
        elif isinstance(exception, SIGTERMException) and SLURMEnvironment.detect():
            # A job SLURM requeues after a SIGTERM (preemption, `scontrol requeue`, a node failure) starts
            # again in this folder and restores the newest hpc_ckpt_*.ckpt by itself.
            hpc = next_hpc_checkpoint(Path(trainer.default_root_dir))
            if trainer.is_global_zero:
                link_or_copy(path, hpc)
            trainer.strategy.barrier("hpc_ckpt")
            resume = f"a requeued job resumes from {hpc} by itself; else {resume}"
        rank_zero_info(f"{type(exception).__name__}: saved {path} at iteration {pl_module.iteration}; {resume}")
        if isinstance(exception, SIGTERMException):
            close_wandb()


def link_or_copy(source: Path, target: Path) -> None:
    """``target`` as a hard link to ``source`` (no second write in a signal's grace period), else a copy."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)
