"""The training loop shared by every GAN objective.

An *iteration* is ``n_critic`` discriminator (critic) updates, each on its own slice of real data, then
one generator update; a training step runs one, or the data's ``iterations_per_batch``. Logs, checkpoint
names, ``val_check_interval`` and ``epoch_length`` count iterations (Lightning's ``max_steps`` counts
optimizer steps: ``models.optimizers.optimizer_steps`` converts for the CLI's ``--iterations``).

A subclass says only what differs: its loss terms, a constraint after the critic step, its default
optimizer. Every other trick is an object the config composes (``regularizers``, ``augment``, ``ema``,
the ``Packed`` network); the step calls D through one ``Critic`` and hands each term one record.
"""

import copy
from pathlib import Path
from typing import Optional

import torch
from lightning.pytorch import LightningModule
from lightning.pytorch.cli import LRSchedulerCallable, OptimizerCallable
from lightning.pytorch.core.mixins.hparams_mixin import _given_hyperparameters
from torch import Tensor, nn

from gan_lightning.augment import DiffAugment
from gan_lightning.critic import Critic, has_class_head
from gan_lightning.ema import EMA
from gan_lightning.divergence import DivergenceWatch
from gan_lightning.errors import ConfigError
from gan_lightning.latent import Latent
from gan_lightning.metrics.suite import SampleMetrics
from gan_lightning.networks.conditional import network_classes
from gan_lightning.networks.packing import samples_per_output
from gan_lightning.migration import migrate_checkpoint
from gan_lightning.models.batches import CriticBatches, split_batch
from gan_lightning.models.optimizers import check_optimizer, step, steps_directly
from gan_lightning.models.sampling import Sampling
from gan_lightning.random_state import every_rank_rng_states, set_rng_states
from gan_lightning.regularizers import ClassificationLoss, CriticStep, GeneratorStep, Regularizer
from gan_lightning.runs import reference_cache_dir

HEADLINE_METRICS = {"val/w1", "val/fid", "val/modes", "val/classes", "val/accuracy"}  # the rest stays off the progress bar


class GANModule(Sampling, LightningModule):
    """A generator and a discriminator trained against each other with manual optimization.

    Args:
        generator: maps noise ``[B, generator.latent_dim]`` to samples ``[B, *shape]``
            (data units for vectors, [-1, 1] for images). Must have a ``latent_dim`` attribute.
            Class-conditional (``num_classes`` set): ``generator(z, y)`` with labels ``[B]``; batches
            are then ``(x, labels)`` and the fakes of a step take the labels of its real batch.
        discriminator: maps samples ``[B, *shape]`` to one raw output per sample, ``[B]`` (a logit, or
            a critic score for Wasserstein objectives); conditional: ``discriminator(x, y)``, with the
            generator's ``num_classes``. ``gan_lightning.networks.Packed`` wraps one for PacGAN.
        optimizer_g: optimizer of the generator; ``None`` takes the objective's default.
        optimizer_d: optimizer of the discriminator; ``None`` takes ``optimizer_g`` (the objective's
            default when that is ``None`` too).
        scheduler: optional LR scheduler, one for each network's optimizer, stepped once per iteration.
            ``gan_lightning.callbacks.LearningRateDecay`` decays over the run's budget instead.
        n_critic: discriminator updates per generator update.
        d_pretrain_steps: iterations at the start that update only the discriminator.
        gradient_clip_val: clip each network's gradient norm to this value (``None``: off).
        latent: the noise distribution and the seed of the validation and grid noise (``Latent``).
        ema: an exponential moving average of the generator, used for validation and sampling
            (``gan_lightning.ema.EMA``, e.g. ``{decay: 0.999}``); ``None``: off.
        augment: differentiable augmentation (``gan_lightning.augment.DiffAugment``) of every batch the
            discriminator sees, real and generated, in both updates; ``None``: off.
        regularizers: terms beside the objective's (``gan_lightning.regularizers``: ``R1``, ``R2``,
            ``GradientPenalty``, ``FeatureMatching``, ``ClassificationLoss``). A discriminator with a
            class head (AC-GAN) gets a default ``ClassificationLoss`` unless the list has one.
        metrics: quality metrics at each validation (``gan_lightning.metrics.SampleMetrics``): the
            feature network, sample counts, which metrics. ``None``: the defaults for vector data,
            none for images.
        compile: run the networks' forward passes through ``torch.compile`` when fit starts (not a
            critic a term differentiates twice: compiled graphs have no double backward).
        channels_last: keep the networks' convolution weights and the image batches in channels-last
            (NHWC) memory layout during fit, which oneDNN on CPUs and tensor cores on GPUs convolve faster
            (benchmarks/RESULTS.md, "Channels-last"); the same computation up to float rounding.
    """

    #: Part of the objective's interface: whether the discriminator's output is a logit (plots show
    #: P(real) = sigmoid of it) or an unbounded critic score (plots show it as it is).
    outputs_logits = True
    #: Whether ``generator_loss`` also reads D's scores of the real batch (relativistic losses).
    compares_with_real = False

    def __init__(
        self,
        generator: nn.Module,
        discriminator: nn.Module,
        optimizer_g: Optional[OptimizerCallable] = None,
        optimizer_d: Optional[OptimizerCallable] = None,
        scheduler: Optional[LRSchedulerCallable] = None,
        n_critic: int = 1,
        d_pretrain_steps: int = 0,
        gradient_clip_val: Optional[float] = None,
        latent: Latent = Latent(),
        ema: Optional[EMA] = None,
        augment: Optional[DiffAugment] = None,
        regularizers: Optional[list[Regularizer]] = None,
        metrics: Optional[SampleMetrics] = None,
        compile: bool = False,
        channels_last: bool = True,
    ):
        super().__init__()
        name = type(self).__name__
        if not hasattr(generator, "latent_dim"):
            raise ConfigError(f"{name}: the generator {type(generator).__name__} has no `latent_dim` attribute")
        if n_critic < 1 or d_pretrain_steps < 0:
            raise ConfigError(f"{name}: need n_critic >= 1 and d_pretrain_steps >= 0; got {n_critic}, {d_pretrain_steps}")
        if gradient_clip_val is not None and gradient_clip_val <= 0:
            raise ConfigError(f"{name}: gradient_clip_val must be > 0 or null, got {gradient_clip_val}")
        for key, optimizer in [("optimizer_g", optimizer_g), ("optimizer_d", optimizer_d)]:
            check_optimizer(name, key, optimizer)
        self.num_classes = network_classes(name, generator, discriminator)
        regularizers = list(regularizers or [])
        if has_class_head(discriminator) and not any(isinstance(r, ClassificationLoss) for r in regularizers):
            regularizers.append(ClassificationLoss())
        for regularizer in regularizers:
            regularizer.check(discriminator)
        # Built by LightningCLI, the hparams hold the objects' class_path/init_args, so a checkpoint alone
        # rebuilds the model; built in Python they are objects, which stay out of (weights-only) checkpoints.
        built_by_cli = _given_hyperparameters.get() is not None
        self.save_hyperparameters(ignore=[] if built_by_cli else ["generator", "discriminator", "augment",
                                                                  "regularizers", "metrics", "latent", "ema"])
        self.automatic_optimization = False
        self.generator, self.discriminator = generator, discriminator
        self.generator_ema = copy.deepcopy(generator).requires_grad_(False) if ema is not None else None
        self.ema, self.latent, self.latent_dim = ema, latent, generator.latent_dim
        self.optimizer_g, self.optimizer_d, self.scheduler = optimizer_g, optimizer_d or optimizer_g, scheduler
        self.n_critic, self.d_pretrain_steps, self.gradient_clip_val = n_critic, d_pretrain_steps, gradient_clip_val
        self.regularizers, self.augment = regularizers, augment
        self.critic = Critic(discriminator, augment)
        self.channels_last = channels_last
        self.iteration = 0  # training steps done; saved in checkpoints
        self._steps_directly = False  # decided when fit starts
        self.divergence = DivergenceWatch()
        self.sample_metrics = metrics  # not a child module: its feature network stays out of checkpoints

    # ---- what an objective defines -------------------------------------------------------

    @staticmethod
    def default_optimizer(params) -> torch.optim.Optimizer:
        """DCGAN's Adam (Radford et al. 2015), used when a config names no optimizer."""
        return torch.optim.Adam(params, lr=2e-4, betas=(0.5, 0.999))

    def discriminator_loss(self, real_score: Tensor, fake_score: Tensor) -> dict[str, Tensor]:
        """Loss terms of one discriminator update from D's scores ``[B]``; ``d_loss`` is the one minimized."""
        raise NotImplementedError

    def generator_loss(self, fake_score: Tensor) -> Tensor:
        """The generator's loss from D's scores ``[B]`` of its samples (objectives that ``compares_with_real``
        also get D's scores of the real batch)."""
        raise NotImplementedError

    def after_discriminator_step(self) -> None:
        """A constraint applied after each discriminator update (weight clipping, say)."""

    # ---- training ------------------------------------------------------------------------

    def configure_optimizers(self):
        opt_g = (self.optimizer_g or self.default_optimizer)(self.generator.parameters())
        opt_d = (self.optimizer_d or self.default_optimizer)(self.discriminator.parameters())
        return [opt_g, opt_d], [self.scheduler(opt) for opt in (opt_g, opt_d)] if self.scheduler else []

    @property
    def iterations_per_step(self) -> int:  # iterations in each training step
        return getattr(self.trainer.datamodule, "iterations_per_batch", 1)

    def training_step(self, batch, batch_idx: int) -> None:
        """``iterations_per_step`` iterations on ``batch`` (``models.batches.split_batch``)."""
        for critic_batches in split_batch(batch, self.n_critic, self.iterations_per_step, self.num_classes,
                                          type(self).__name__, self.channels_last):
            self.train_iteration(critic_batches)

    def train_iteration(self, critic_batches: CriticBatches) -> None:
        """``n_critic`` critic updates, one on each (real, labels) slice, then one generator update."""
        opt_g, opt_d = self.optimizers()
        train_g = self.iteration >= self.d_pretrain_steps
        for i, (real, y) in enumerate(critic_batches):
            # The last critic update's fakes are kept with their graph for the generator update,
            # so each iteration runs the generator n_critic times, not n_critic + 1.
            with torch.set_grad_enabled(train_g and i == len(critic_batches) - 1):
                fake = self.generate(self.generator, self.noise(len(real)), y)  # fakes take the reals' labels
            terms = self.discriminator_update(real, fake.detach(), opt_d, self.iteration * self.n_critic + i, y)
        if train_g:
            terms.update(self.generator_update(fake, real, opt_g, y))
        logs = {f"train/{k}": v for k, v in terms.items()}
        self.divergence.watch(self.iteration, logs)  # read only by stop_if_diverged: no host sync per iteration
        if train_g and self.ema is not None:
            self.ema.update(self.generator_ema, self.generator, self.iteration - self.d_pretrain_steps)
        schedulers = self.lr_schedulers() or []
        for scheduler in schedulers if isinstance(schedulers, list) else [schedulers]:
            scheduler.step()
        # Lightning sends metrics to the loggers every log_every_n_steps steps (the CLI counts them in iterations);
        # logging only then spares the other iterations its per-call bookkeeping (measured by benchmarks/speed.py).
        if (self.iteration + 1) % (self.trainer.log_every_n_steps * self.iterations_per_step) == 0:
            self.stop_if_diverged()
            self.log_values(logs, {"train/d_loss", "train/g_loss"}, self.iteration)
        self.iteration += 1

    def log_values(self, values: dict, on_bar: set[str], iteration: int) -> None:
        """``values`` to the loggers (those in ``on_bar`` to the progress bar too) as of ``iteration``: with several
        iterations a step, a logged ``step`` keeps the loggers' x-axis in iterations (Lightning sends it as the step)."""
        if self.iterations_per_step > 1:
            self.log("step", float(iteration))
        self.log_dict({k: v for k, v in values.items() if k in on_bar}, prog_bar=True)
        self.log_dict({k: v for k, v in values.items() if k not in on_bar})

    def stop_if_diverged(self) -> None:
        """Raises ``TrainingDiverged`` if a term since the last call was NaN or infinite (``DivergenceWatch``):
        called at each logging interval and before each validation, checkpoint and the end of fit, so no
        log, validation sample or checkpoint takes bad values in and ``last.ckpt`` stays the last good state."""
        last = getattr(self.trainer.checkpoint_callback, "last_model_path", "") or "none written yet"
        self.divergence.check(type(self).__name__, last)

    def critic_loss(self, real: Tensor, fake: Tensor, critic_step: int, labels: Optional[Tensor] = None) -> dict[str, Tensor]:
        """The objective's loss terms plus the terms active at ``critic_step``; ``d_loss`` is minimized.

        Inputs a term differentiates are marked before the one forward pass of each batch.
        """
        active = [r for r in self.regularizers if r.active(critic_step)]
        if any(r.needs_real_grad for r in active):
            real = real.detach().requires_grad_(True)
        if any(r.needs_fake_grad for r in active):
            fake = fake.detach().requires_grad_(True)
        real_out, fake_out = self.critic(real, labels), self.critic(fake, labels)
        terms = self.discriminator_loss(real_out.score, fake_out.score)
        step = CriticStep(real, fake, real_out, fake_out, labels, self.critic.plain(labels))
        for regularizer in active:
            term = regularizer.discriminator_term(step)
            if term is not None:
                terms["d_loss"] = terms["d_loss"] + regularizer.weight * regularizer.every * term[0]
                terms[regularizer.name] = term[1].detach()
        return {**terms, "d_real": real_out.score.detach().mean(), "d_fake": fake_out.score.detach().mean()}

    def discriminator_update(self, real: Tensor, fake: Tensor, opt, critic_step: int,
                             labels: Optional[Tensor] = None) -> dict[str, Tensor]:
        """One step of D; its loss terms (detached), ``d_loss`` the one minimized."""
        terms = self.critic_loss(real, fake, critic_step, labels)
        opt.zero_grad(set_to_none=True)
        self.backward_and_step(terms["d_loss"], opt)
        self.after_discriminator_step()
        return {k: v.detach() for k, v in terms.items()}

    def generator_terms(self, fake: Tensor, real: Tensor, labels: Optional[Tensor] = None) -> dict[str, Tensor]:
        """The generator's loss terms on its samples ``fake`` (with their graph); ``g_loss`` is minimized."""
        layers = max((r.layers for r in self.regularizers if r.layers), key=["last", "all"].index, default=None)
        fake_out = self.critic(fake, labels, layers)
        real_out = None
        if self.compares_with_real or any(r.reads_real for r in self.regularizers):
            with torch.no_grad():  # constants: G's gradient flows through its own samples only
                real_out = self.critic(real, labels, layers)
        loss = self.generator_loss(fake_out.score, real_out.score) if self.compares_with_real else (
            self.generator_loss(fake_out.score))
        terms = {"g_loss": loss}
        step = GeneratorStep(fake_out, real_out, labels)
        for regularizer in self.regularizers:
            term = regularizer.generator_term(step)
            if term is not None:
                terms["g_loss"] = terms["g_loss"] + regularizer.weight * term[0]
                terms[regularizer.generator_name] = term[1]
        return terms

    def generator_update(self, fake: Tensor, real: Tensor, opt, labels: Optional[Tensor] = None) -> dict[str, Tensor]:
        """One step of G; its loss terms (detached), ``g_loss`` the one minimized."""
        # Toggling freezes D's weights, so the backward pass computes no gradients for them.
        with self.toggled_optimizer(opt):
            terms = self.generator_terms(fake, real, labels)
            opt.zero_grad(set_to_none=True)
            self.backward_and_step(terms["g_loss"], opt)
        return {k: v.detach() for k, v in terms.items()}

    def backward_and_step(self, loss: Tensor, opt) -> None:
        """Gradients of ``loss`` (a scalar), clipped if configured, and one step of ``opt``: through Lightning's
        hooks, or straight to torch where nothing listens to them (``steps_directly``)."""
        if self._steps_directly:
            loss.backward()
        else:
            self.manual_backward(loss)
        if self.gradient_clip_val is not None:
            self.clip_gradients(opt, gradient_clip_val=self.gradient_clip_val, gradient_clip_algorithm="norm")
        step(opt, self._steps_directly)

    # ---- validation ----------------------------------------------------------------------

    def setup(self, stage: str) -> None:
        if self.hparams.get("compile") and stage == "fit" and not getattr(self, "_compiled", False):
            # forward, not the module: state_dict keys and checkpoints stay those of the plain networks.
            self.generator.forward = torch.compile(self.generator.forward)
            if not any(r.double_backward for r in self.regularizers):  # compiled graphs have no double backward
                self.discriminator.forward = torch.compile(self.discriminator.forward)
            self._compiled = True
        if self.channels_last and stage == "fit":  # Module.to changes only the 4-D (convolution) tensors
            for net in (self.generator, self.discriminator, self.generator_ema):
                if net is not None:
                    net.to(memory_format=torch.channels_last)
        data = self.trainer.datamodule
        pack, batch_size = samples_per_output(self.discriminator), getattr(data, "batch_size", None)
        if stage == "fit" and batch_size and batch_size % pack:
            raise ConfigError(f"{type(self).__name__}: the discriminator packs {pack} samples, but the data's batch_size "
                              f"is {batch_size}; use a multiple of {pack}")
        # The metrics' real reference is prepared only when validation will run, and at the start,
        # so a missing feature network or data that does not fit it stops the run now.
        if stage not in ("fit", "validate") or self.trainer.limit_val_batches == 0 or not hasattr(data, "reference"):
            return
        if self.sample_metrics is None and data.reference("val").dim() == 2:
            self.sample_metrics = SampleMetrics()  # vectors need no feature network: always measured
        if self.sample_metrics is not None:
            # A Trainer given no folder of its own keeps the reference in memory: nothing lands in the cwd.
            root = Path(self.trainer.default_root_dir).resolve()
            cache = reference_cache_dir(root) if root != Path.cwd().resolve() else None
            self.sample_metrics.setup(data, cache, self.trainer.strategy.root_device)

    def validation_step(self, batch: Tensor, batch_idx: int) -> None:
        """Nothing per batch: the metrics compare whole sample sets when validation ends."""

    def on_validation_epoch_end(self) -> None:
        values = {"iteration": float(self.iteration)}  # for checkpoint names: the iteration in the unit the README states
        if self.sample_metrics is not None and self.sample_metrics.reference is not None and not self.trainer.sanity_checking:
            measured = self.sample_metrics.evaluate(self, self.latent.seed, self.global_rank, self.trainer.world_size)
            values.update({f"val/{k}": v for k, v in measured.items()})
        self.log_values(values, HEADLINE_METRICS, max(self.iteration - 1, 0))  # the last iteration done

    # ---- checkpoints ---------------------------------------------------------------------

    def on_fit_start(self) -> None:
        self._steps_directly = steps_directly(self.trainer, self)
        if self.trainer.world_size > 1:  # seed_everything gave every DDP rank one seed; each needs its own noise
            torch.manual_seed(torch.initial_seed() + 7_919 * self.global_rank)

    def on_validation_start(self) -> None:
        self.stop_if_diverged()

    def on_train_end(self) -> None:
        self.stop_if_diverged()

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        self.stop_if_diverged()  # before anything of the model is written
        checkpoint["iteration"] = self.iteration
        checkpoint["rng_states"] = every_rank_rng_states()  # this hook runs on all ranks; rank 0 writes the file

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        migrate_checkpoint(checkpoint)  # weights of an earlier layout, before Lightning loads them
        self.iteration = checkpoint.get("iteration", 0)
        self._rng_to_restore = checkpoint.get("rng_states")

    def on_train_start(self) -> None:  # after the sanity check, whose data loader would draw from the states
        states, self._rng_to_restore = getattr(self, "_rng_to_restore", None), None
        if states and len(states) == self.trainer.world_size:
            set_rng_states(states[self.global_rank])
