"""``python -m gan_lightning fit|validate|test|predict|sample|evaluate|train_classifier``: LightningCLI with GAN defaults.

What this adds to LightningCLI:
- every run gets its own folder ``<default_root_dir>/<objective>-<data>-<time>`` (``runs/`` by
  default) holding its checkpoints, plots, W&B files and resolved config;
- W&B is the default logger, offline when there are no credentials, with the full config;
- checkpoints (``last.ckpt`` and the best by ``checkpoint.monitor``) at every validation;
- ``--ckpt_path last`` resumes the newest run under ``default_root_dir``, in its own folder;
- the objective's ``n_critic`` sets how many batches the data module hands each training step;
- ``--iterations N`` stops after N iterations (Lightning's ``max_steps`` counts optimizer steps);
- the data's ``iterations_per_batch`` (1-D data) lowered to the largest count that divides the run's intervals;
- ``--cpu.threads N`` sets torch's CPU threads while the run trains;
- a progress bar that redraws by the clock (plain lines when stdout is a file);
- a pre-flight (``gan_lightning.preflight``): the networks run once on a sample of the data's shape, and
  Lightning's refusals of trainer options name the option, before anything is written.

``gan_lightning.commands`` dispatches ``sample``, ``evaluate`` and ``train_classifier`` without it.
"""

import importlib
import inspect
import logging
import math
import os
import re
import sys
import time
import warnings
from pathlib import Path

from lightning.fabric.utilities.exceptions import MisconfigurationException
from lightning.pytorch import LightningDataModule, Trainer
from lightning.pytorch.callbacks import ProgressBar
from lightning.pytorch.cli import LightningCLI, SaveConfigCallback
from lightning.pytorch.loggers import WandbLogger
from lightning.pytorch.utilities import rank_zero_info

from gan_lightning.callbacks import (CheckpointOnInterrupt, CPUThreads, DistributionPlot, GANCheckpoint, SampleGrid,
                                     TimedProgressBar)
from gan_lightning.checkpoints import check_resumable, read_checkpoint
from gan_lightning.data.images import InMemoryImageDataModule
from gan_lightning.errors import ConfigError
from gan_lightning.migration import migrate_checkpoint, migrate_config_file
from gan_lightning.models import GANModule
from gan_lightning.models.optimizers import optimizer_steps
from gan_lightning.preflight import check_networks_take_the_data
from gan_lightning.runs import WANDB_PROJECT, newest_last_checkpoint, wandb_has_credentials

RUN_DIR_VARIABLE = "GAN_LIGHTNING_RUN_DIR"


class LoggedConfig(SaveConfigCallback):
    """Writes ``config.yaml`` into the run folder and sends the whole resolved config to the loggers."""

    def save_config(self, trainer, pl_module, stage) -> None:
        config = self.config.as_dict()
        for logger in trainer.loggers:
            logger.log_hyperparams({"config": config})


class StartupChatter(logging.Filter):
    """Drops Lightning's "Seed set to" line and its tip for another logging product: the seed is in
    the run's config.yaml, and a bad input should be the only line on stderr."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not ("Seed set to" in message or "litlogger" in message)


# Warnings Lightning gives on every run that a user can do nothing about here.
UNACTIONABLE_WARNINGS = [
    r".*isinstance\(treespec, LeafSpec\)` is deprecated",  # Lightning's own use of torch's pytree
    r"Your `IterableDataset` has `__len__` defined",  # about worker processes; the streams here use none
    r"The number of training batches \(\d+\) is smaller than the logging interval",  # logs count iterations
]


def quiet_startup() -> None:
    for name in ("lightning.fabric.utilities.seed", "lightning.pytorch.utilities.rank_zero"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, StartupChatter) for f in logger.filters):
            logger.addFilter(StartupChatter())
    unactionable = UNACTIONABLE_WARNINGS
    if "SLURM_JOB_ID" not in os.environ:  # outside a SLURM job, srun on the PATH says nothing about this run
        unactionable = unactionable + [r"The `srun` command is available on your system but is not used"]
    for message in unactionable:
        warnings.filterwarnings("ignore", message=message)


class GANCLI(LightningCLI):
    resumed_iterations_per_batch: int | None = None  # the data's iterations a step in fit's --ckpt_path

    def __init__(self, args=None, run=True):
        quiet_startup()
        super().__init__(
            GANModule,
            LightningDataModule,
            subclass_mode_model=True,
            subclass_mode_data=True,
            auto_configure_optimizers=False,
            save_config_callback=LoggedConfig,
            save_config_kwargs={"overwrite": True},
            seed_everything_default=0,
            parser_kwargs={"exit_on_error": False},  # main() prints parse errors as one line
            trainer_defaults={"default_root_dir": "runs"},
            args=args,
            run=run,
        )

    def add_arguments_to_parser(self, parser) -> None:
        parser.add_lightning_class_args(GANCheckpoint, "checkpoint")
        parser.set_defaults({
            "checkpoint.save_last": True,
            "checkpoint.auto_insert_metric_name": False,
            "checkpoint.filename": "iter{iteration:07.0f}",
            "checkpoint.monitor": "val/w1",
            "checkpoint.mode": "min",
        })
        parser.add_lightning_class_args(DistributionPlot, "plots")
        parser.add_lightning_class_args(SampleGrid, "grid")
        parser.add_lightning_class_args(CheckpointOnInterrupt, "interrupt")
        parser.add_lightning_class_args(TimedProgressBar, "progress_bar")
        parser.add_lightning_class_args(CPUThreads, "cpu")
        parser.add_argument("--run_name", type=str | None, default=None,
                            help="Name of the run folder under default_root_dir (default: <objective>-<data>-<time>).")
        parser.add_argument("--iterations", type=int | None, default=None,
                            help="Train this many iterations (generator updates, n_critic critic updates each) in all, "
                                 "resumed ones included: sets trainer.max_steps to the optimizer steps they take and "
                                 "lifts max_epochs.")
        parser.add_argument("--wandb_project", type=str, default=WANDB_PROJECT, help="W&B project of the default logger.")
        # Each critic update gets its own real batch: the data module hands n_critic of them per step.
        parser.link_arguments("model.n_critic", "data.init_args.batches_per_step", apply_on="instantiate")

    def _instantiate_trainer(self, config, callbacks):
        # The checkpoint callback this CLI always adds must give way to --trainer.enable_checkpointing false.
        if config.get("enable_checkpointing") is False:
            callbacks = [c for c in callbacks if not isinstance(c, GANCheckpoint)]
        # Likewise this CLI's progress bar, for --trainer.enable_progress_bar false or a bar of the user's own.
        users = config.get("callbacks") or []
        users = users if isinstance(users, list) else [users]
        if config.get("enable_progress_bar") is False or any(isinstance(c, ProgressBar) for c in users):
            callbacks = [c for c in callbacks if not isinstance(c, TimedProgressBar)]
        count_steps_in_iterations(config, getattr(self.datamodule, "iterations_per_batch", 1))
        return super()._instantiate_trainer(config, callbacks)

    def parse_arguments(self, parser, args) -> None:
        if args is None or isinstance(args, list):  # config files of an earlier version, read as this one's
            given = sys.argv[1:] if args is None else args
            migrated = migrate_config_args(given)
            args = migrated if migrated != given else args  # None stays None: Lightning warns of args beside argv
        super().parse_arguments(parser, args)
        # Before Lightning reads --ckpt_path's hyperparameters into the config (and overrules the config's model).
        subcommand = self.config.get("subcommand")
        if subcommand == "fit":
            config = self.config[subcommand]
            ckpt_path = resolve_checkpoint_path(config, Path(config.trainer.default_root_dir or "runs"))
            if ckpt_path is not None:
                checkpoint = migrate_checkpoint(read_checkpoint(ckpt_path))
                check_resumable(checkpoint, ckpt_path, config)
                saved_data = checkpoint.get("datamodule_hyper_parameters") or {}
                self.resumed_iterations_per_batch = saved_data.get("iterations_per_batch")

    def instantiate_trainer(self, **kwargs):
        # Bad input stops here with one line, before the trainer, its loggers or any run file exist.
        check_data = getattr(self.datamodule, "check_data", None)
        if check_data is not None:
            check_data()
        check_classes(self.model, self.datamodule)
        check_networks_take_the_data(self.model, self.datamodule)
        try:
            trainer = super().instantiate_trainer(**kwargs)
        except ConfigError:
            raise
        except (MisconfigurationException, ValueError) as e:  # Lightning's own checks of the trainer's options
            config = self.config[self.subcommand] if self.subcommand else self.config
            raise ConfigError(trainer_option_error(e, config.trainer)) from None
        self.run_dir.mkdir(parents=True, exist_ok=True)  # W&B looks for a git repository from it when it starts
        if self.wandb_offline:
            rank_zero_info(f"W&B: logging offline under {self.run_dir}/wandb (no credentials, or WANDB_MODE=offline; "
                           f"sync later with: wandb sync {self.run_dir}/wandb/offline-run-*)")
        for logger in trainer.loggers:
            if isinstance(logger, WandbLogger):
                # Lightning passes anonymous=None, which W&B answers with a deprecation warning on every run.
                logger._wandb_init.pop("anonymous", None)
        return trainer

    def before_instantiate_classes(self) -> None:
        config = self.config[self.subcommand] if self.subcommand else self.config  # run=False: no subcommand
        root = Path(config.trainer.default_root_dir or "runs")
        ckpt_path = resolve_checkpoint_path(config, root)
        hold_out_nothing_without_validation(config)
        choose_iterations_per_batch(config, self.resumed_iterations_per_batch if ckpt_path is not None else None)
        set_iteration_budget(config)
        run_dir = self.choose_run_dir(config, root, ckpt_path).resolve()  # absolute: a shared W&B service has another cwd
        self.replace_plain_ddp_with_find_unused(config)
        config.trainer.default_root_dir = str(run_dir)
        if config.checkpoint.dirpath is None:
            config.checkpoint.dirpath = str(run_dir / "checkpoints")
        self.wandb_offline = fill_logger_defaults(config, root, run_dir)
        self.run_dir = run_dir
        # Lightning's DDP launcher starts the other ranks with this environment: they must not
        # pick a folder of their own (another second on the clock, or a "-1" suffix).
        os.environ[RUN_DIR_VARIABLE] = str(run_dir)

    def choose_run_dir(self, config, root: Path, ckpt_path: str | None) -> Path:
        """The run's folder: the launcher's for a DDP worker, the checkpoint's when resuming, else a new one."""
        if os.environ.get(RUN_DIR_VARIABLE) and int(os.environ.get("LOCAL_RANK", 0)) > 0:
            return Path(os.environ[RUN_DIR_VARIABLE])
        if ckpt_path is not None and self.subcommand == "fit" and Path(ckpt_path).parent.name == "checkpoints":
            return Path(ckpt_path).resolve().parent.parent
        return self.new_run_dir(root, config)

    @staticmethod
    def new_run_dir(root: Path, config) -> Path:
        objective = config.model.class_path.rsplit(".", 1)[-1].lower()
        data = config.data.class_path.rsplit(".", 1)[-1].replace("DataModule", "").lower()
        # Processes started by torchrun or SLURM each parse the config: they agree on a folder only
        # through a name they all know. A SLURM job id also brings a requeued job back to its folder.
        job = os.environ.get("SLURM_JOB_ID") or os.environ.get("TORCHELASTIC_RUN_ID", "none")
        if config.run_name or job != "none":
            return root / (config.run_name or f"{objective}-{data}-{job}")
        if "TORCHELASTIC_RUN_ID" in os.environ:
            raise ConfigError("under torchrun, give --run_name (or torchrun --rdzv_id) so that every node writes "
                              "into the same run folder")
        name = f"{objective}-{data}-{time.strftime('%Y%m%d-%H%M%S')}"
        run_dir = root / name
        for i in range(1, 1000):
            if not run_dir.exists():
                break
            run_dir = root / f"{name}-{i}"
        return run_dir

    @staticmethod
    def replace_plain_ddp_with_find_unused(config) -> None:
        """Plain ``ddp`` refuses a module whose D and G are updated by separate backward passes
        ("parameters that were not used in producing the loss"); the find-unused variant is right."""
        trainer = config.trainer
        devices = trainer.devices
        devices = len(devices) if isinstance(devices, list) else int(devices) if str(devices).isdigit() else 0
        many = devices > 1 or (trainer.num_nodes or 1) > 1
        if trainer.strategy == "ddp" or (trainer.strategy == "auto" and many):
            trainer.strategy = "ddp_find_unused_parameters_true"
            rank_zero_info("strategy: using ddp_find_unused_parameters_true (a GAN step leaves one network "
                           "out of each backward pass, which plain ddp refuses)")

    def after_fit(self) -> None:
        trainer = self.trainer
        if trainer.global_rank != 0:
            return
        checkpoint = trainer.checkpoint_callback  # None under --trainer.enable_checkpointing false
        lines = [f"Run folder: {self.run_dir}", f"  checkpoints: {checkpoint.dirpath if checkpoint else 'none (checkpointing off)'}"]
        if checkpoint and checkpoint.best_model_path and checkpoint.best_model_score is not None:
            lines.append(f"  best ({checkpoint.monitor}={float(checkpoint.best_model_score):.4g}): {checkpoint.best_model_path}")
        if (self.run_dir / "plots").exists():
            lines.append(f"  plots: {self.run_dir / 'plots'}")
        for logger in trainer.loggers:
            if isinstance(logger, WandbLogger):
                run_dir = Path(logger.experiment.dir).parent
                lines.append(f"  W&B run: {run_dir}")
                if self.wandb_offline:
                    lines.append(f"  sync it with: wandb sync {run_dir}")
        if checkpoint:
            lines.append(f"  sample: python -m gan_lightning sample --ckpt_path {checkpoint.dirpath}/last.ckpt "
                         "--num_samples 1000 --output samples.png")
        print("\n".join(lines))


def migrate_config_args(args: list[str]) -> list[str]:
    """``args`` with each ``--config FILE`` of an earlier version replaced by its migrated copy."""
    args = list(args)
    for i, arg in enumerate(args):
        if arg == "--config" and i + 1 < len(args):
            args[i + 1] = str(migrate_config_file(args[i + 1]) or args[i + 1])
        elif arg.startswith("--config="):
            path = arg.split("=", 1)[1]
            args[i] = f"--config={migrate_config_file(path) or path}"
    return args


def trainer_option_error(error: Exception, options) -> str:
    """Lightning's message, prefixed with the ``--trainer.*`` option it is about: one the message names, else
    the one whose value (other than Trainer's default) it quotes."""
    message = " ".join(str(error).split())
    defaults = {k: p.default for k, p in inspect.signature(Trainer.__init__).parameters.items()}
    given = {k: v for k, v in options.items() if k in defaults and v != defaults[k] and not isinstance(v, (list, dict))}
    named = [k for k in given if re.search(rf"\b{k}\b", message)] or \
            [k for k, v in given.items() if isinstance(v, (str, int, float)) and re.search(rf"\b{re.escape(str(v))}\b", message)]
    if not named:
        return f"the trainer's options: {message}"
    return f"--trainer.{named[0]} {given[named[0]]}: {message}"


def check_classes(model, datamodule) -> None:
    """A class-conditional model needs data with labels of as many classes."""
    wanted, given = getattr(model, "num_classes", None), getattr(datamodule, "num_classes", None)
    if not wanted or wanted == given:
        return
    data = type(datamodule).__name__
    if given is None:
        raise ConfigError(f"model.num_classes is {wanted} but {data} yields no labels; set --data.init_args.labels true "
                          "(MNIST, Stacked MNIST and the Gaussian mixtures have them) or drop num_classes")
    raise ConfigError(f"model.num_classes is {wanted} but {data}'s labels have {given} classes; set num_classes "
                      f"{given} in the networks")


def resolve_checkpoint_path(config, root: Path) -> str | None:
    """``--ckpt_path`` as a file path (``last``: the newest run's ``last.ckpt``); stops when it names no file."""
    ckpt_path = config.get("ckpt_path")
    if ckpt_path == "last":
        ckpt_path = config.ckpt_path = str(newest_last_checkpoint(root))
    if ckpt_path is not None and not Path(ckpt_path).is_file():
        raise ConfigError(f"--ckpt_path: no checkpoint file at {ckpt_path}")
    return ckpt_path


def choose_iterations_per_batch(config, resumed: int | None) -> None:
    """The data's ``iterations_per_batch`` is the most iterations a training step runs. Lightning counts the
    epoch, the logging and validation intervals, the checkpoints' ``every_n_train_steps`` and the budget in steps,
    so a step's iterations must divide each of them: a new run takes the largest count that does (the data
    stream is the same whatever it is). A resumed run keeps its checkpoint's count (``resumed``), in which its
    loader and Lightning's counters stopped; an interval that count does not divide is refused later."""
    data = config.get("data")
    init = data.get("init_args") if data is not None and hasattr(data, "get") else None
    k = init.get("iterations_per_batch") if init is not None else None
    if resumed is not None and k is not None:
        if resumed != k:
            rank_zero_info(f"iterations_per_batch: {resumed}, the checkpoint's (not {k}): a run resumes in the "
                           f"steps it was trained in")
        init.iterations_per_batch = resumed
        return
    if not isinstance(k, int) or k <= 1:
        return
    trainer = config.trainer
    intervals = {"data.init_args.epoch_length": init.get("epoch_length"),
                 "trainer.log_every_n_steps": trainer.get("log_every_n_steps") or 50,  # Lightning's default
                 "iterations": config.get("iterations")}
    if isinstance(trainer.get("val_check_interval"), int):
        intervals["trainer.val_check_interval"] = trainer.val_check_interval
    every_steps = (config.get("checkpoint") or {}).get("every_n_train_steps")
    steps_per_iteration = config.model.init_args.get("n_critic", 1) + 1
    if every_steps and every_steps % steps_per_iteration == 0:
        intervals["checkpoint.every_n_train_steps"] = every_steps // steps_per_iteration  # in iterations
    divisor = k
    for value in intervals.values():
        if isinstance(value, int) and value > 0:
            divisor = math.gcd(divisor, value)
    if divisor < k:
        reasons = ", ".join(f"{key} {value}" for key, value in intervals.items()
                            if isinstance(value, int) and value > 0 and value % k)
        rank_zero_info(f"iterations_per_batch: {divisor} a step, not {k}, so that steps end at the run's intervals "
                       f"({reasons}, counted in iterations)")
        init.iterations_per_batch = divisor


def set_iteration_budget(config) -> None:
    """``--iterations N`` as Lightning's budget: ``max_steps`` counts optimizer steps, ``n_critic + 1`` an
    iteration (``n_critic`` in the ``d_pretrain_steps``, which update D alone)."""
    iterations = config.get("iterations")
    if iterations is None:
        return
    if iterations < 1:
        raise ConfigError(f"--iterations must be >= 1, got {iterations}")
    init = config.model.init_args
    k = ((config.get("data") or {}).get("init_args") or {}).get("iterations_per_batch") or 1
    if iterations % k:  # Lightning stops between steps; only a resumed run's k (its checkpoint's) can get here
        raise ConfigError(f"--iterations {iterations} must be a multiple of data.init_args.iterations_per_batch {k}, "
                          f"the iterations a step of the checkpoint it resumes")
    config.trainer.max_steps = optimizer_steps(iterations, init.n_critic, init.d_pretrain_steps)
    config.trainer.max_epochs = -1


def count_steps_in_iterations(trainer: dict, k: int) -> None:
    """Lightning counts ``log_every_n_steps`` and an integer ``val_check_interval`` in training steps, configs in
    iterations: with ``k`` iterations a step (the data's ``iterations_per_batch``) the trainer gets them divided
    by ``k``. Only the trainer's copy changes: the run's config.yaml keeps the iterations."""
    if k == 1:
        return
    intervals = {"log_every_n_steps": trainer.get("log_every_n_steps") or 50}  # Lightning's default
    if isinstance(trainer.get("val_check_interval"), int):
        intervals["val_check_interval"] = trainer["val_check_interval"]
    for key, iterations in intervals.items():
        if iterations % k:
            raise ConfigError(f"--trainer.{key} {iterations} counts iterations and must be a multiple of "
                              f"data.init_args.iterations_per_batch {k}, the iterations a step of the checkpoint "
                              f"it resumes")
        trainer[key] = iterations // k


def hold_out_nothing_without_validation(config) -> None:
    """With validation off (``limit_val_batches 0``) the images an image data module holds out would go unused."""
    data = config.get("data")
    if config.trainer.limit_val_batches not in (0, 0.0) or data is None or not hasattr(data, "get"):
        return
    module, _, name = str(data.get("class_path", "")).rpartition(".")
    try:
        images = issubclass(getattr(importlib.import_module(module), name), InMemoryImageDataModule)
    except (ImportError, AttributeError, ValueError, TypeError):
        return  # jsonargparse has already refused a class it cannot import
    init = data.get("init_args")
    if images and init is not None and (init.get("val_size") or 0) > 0:
        rank_zero_info(f"validation is off: holding out no data (val_size {init.val_size} -> 0)")
        init.val_size = 0


def fill_logger_defaults(config, root: Path, run_dir: Path) -> bool:
    """Points the loggers into ``run_dir`` (W&B by default, named and resumable by the run folder's name).

    Returns whether W&B was switched offline here: no credentials and no ``WANDB_MODE``.
    """
    if config.trainer.logger in (None, True):
        config.trainer.logger = {"class_path": "lightning.pytorch.loggers.WandbLogger", "init_args": {}}
    loggers = config.trainer.logger if isinstance(config.trainer.logger, list) else [config.trainer.logger]
    offline = False
    for logger in loggers:
        if not logger or isinstance(logger, bool):
            continue
        init = logger.init_args if hasattr(logger, "init_args") else logger.setdefault("init_args", {})
        if init.get("save_dir") in (None, "", ".", str(root)):
            init["save_dir"] = str(run_dir)  # a logger pointed at the root writes into the run folder
        if not logger["class_path"].endswith("WandbLogger"):
            continue
        for key, value in [("project", config.wandb_project), ("name", run_dir.name), ("id", run_dir.name)]:
            if init.get(key) in (None, ""):
                init[key] = value  # the id: the same W&B run continues when this run resumes
        init["resume"] = init.get("resume") or "allow"
        if init.get("offline") is True:
            offline = True
        elif os.environ.get("WANDB_MODE") not in ("online", "offline", "disabled") and not wandb_has_credentials():
            init["offline"] = offline = True
    return offline or os.environ.get("WANDB_MODE") == "offline"
