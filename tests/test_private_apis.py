"""The private Lightning APIs gan_lightning still relies on, each checked so an upgrade that changes one
fails here with a message naming it, instead of somewhere deep in a training run."""

import inspect
from contextvars import ContextVar

from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.cli import LightningCLI


def parameters(function) -> list[str]:
    return list(inspect.signature(function).parameters)


def test_given_hyperparameters_context_variable_still_exists():
    # models/base.py: tells a module built by LightningCLI (hparams hold the networks' class paths) from one built in Python.
    from lightning.pytorch.core.mixins import hparams_mixin

    assert isinstance(getattr(hparams_mixin, "_given_hyperparameters", None), ContextVar), (
        "lightning changed hparams_mixin._given_hyperparameters: update GANModule.__init__'s built_by_cli check")


def test_model_checkpoint_private_methods_gan_checkpoint_calls():
    # callbacks/checkpoint.py: GANCheckpoint rewrites last.ckpt at every save point.
    expected = {"_save_last_checkpoint": ["self", "trainer", "monitor_candidates"],
                "_should_skip_saving_checkpoint": ["self", "trainer"],
                "_should_save_on_train_epoch_end": ["self", "trainer"],
                "_monitor_candidates": ["self", "trainer"]}
    for name, params in expected.items():
        method = getattr(ModelCheckpoint, name, None)
        assert method is not None and parameters(method) == params, (
            f"lightning changed ModelCheckpoint.{name}: update gan_lightning/callbacks/checkpoint.py")


def test_lightning_cli_instantiate_trainer_hook():
    # cli.py: GANCLI drops its checkpoint callback when --trainer.enable_checkpointing is false.
    assert parameters(LightningCLI._instantiate_trainer) == ["self", "config", "callbacks"], (
        "lightning changed LightningCLI._instantiate_trainer: update GANCLI._instantiate_trainer")


def test_wandb_logger_keeps_its_init_arguments_in_a_dict():
    # cli.py: GANCLI.instantiate_trainer drops the `anonymous` argument W&B warns about.
    from lightning.pytorch.loggers import WandbLogger

    logger = WandbLogger(offline=True)
    assert isinstance(getattr(logger, "_wandb_init", None), dict) and "anonymous" in logger._wandb_init, (
        "lightning changed WandbLogger._wandb_init: update GANCLI.instantiate_trainer")


def test_torchmetrics_inception_keeps_its_all_features_forward():
    # metrics/suite.py: InceptionFeatures.features_and_logits takes pool3 and the logits from one pass through
    # NoTrainInceptionV3._torch_fidelity_forward (its forward() returns the first feature only).
    from torchmetrics.image.fid import NoTrainInceptionV3

    method = getattr(NoTrainInceptionV3, "_torch_fidelity_forward", None)
    assert method is not None and parameters(method) == ["self", "x"], (
        "torchmetrics changed NoTrainInceptionV3._torch_fidelity_forward: update InceptionFeatures.features_and_logits")


def test_lightning_optimizer_step_counting_callbacks():
    # models/optimizers.py: step() steps the torch optimizer itself where nothing listens to the hooks,
    # and calls these two around it so Lightning still counts the step (global_step, max_steps).
    from lightning.pytorch import LightningModule
    from lightning.pytorch.core.optimizer import LightningOptimizer
    from lightning.pytorch.loops.optimization.manual import _ManualOptimization

    for name in ("_on_before_step", "_on_after_step"):
        assert callable(getattr(_ManualOptimization, name, None)), (
            f"lightning changed _ManualOptimization.{name}: update models.optimizers.step")
        assert name in inspect.getsource(LightningOptimizer.step), (
            f"lightning's LightningOptimizer.step no longer calls {name}: update models.optimizers.step")
    assert "_fabric" in inspect.getsource(LightningModule.__init__), (
        "lightning changed LightningModule._fabric: update models.optimizers.steps_directly")
