"""The training loop shared by every GAN objective.

One training step is one *iteration*: ``n_critic`` discriminator (critic) updates, each on its
own slice of real data, then one generator update. Logs, checkpoint names, ``val_check_interval``
and ``epoch_length`` all count iterations. (Lightning's ``max_steps`` counts optimizer steps,
``n_critic + 1`` per iteration: ``optimizer_steps`` converts, and the CLI's ``--iterations`` uses it.)

A subclass says only what differs: its loss terms (``discriminator_loss``,
``generator_loss``), a constraint after the critic step, and its default optimizer. Penalties on
the critic's input gradients (R1, R2, the gradient penalty) are ``regularizers``, given by config
and composable with any objective.
"""

import copy
import functools
import math
from pathlib import Path
from typing import Iterator, Literal, Optional

import torch
from lightning.pytorch import LightningModule
from lightning.pytorch.cli import LRSchedulerCallable, OptimizerCallable
from lightning.pytorch.core.mixins.hparams_mixin import _given_hyperparameters
from torch import Tensor, nn

from gan_lightning import losses
from gan_lightning.augment import DiffAugment
from gan_lightning.errors import ConfigError, TrainingDiverged
from gan_lightning.latent import balanced_labels, check_label_range, latent_noise, sample_batches
from gan_lightning.metrics.suite import SampleMetrics
from gan_lightning.random_state import rng_states, set_rng_states
from gan_lightning.regularizers import Regularizer
from gan_lightning.runs import reference_cache_dir

HEADLINE_METRICS = {"val/w1", "val/fid", "val/modes", "val/classes", "val/accuracy"}  # the rest stays off the progress bar


def check_optimizer(model: str, key: str, optimizer: Optional[OptimizerCallable]) -> None:
    """Builds the optimizer on a dummy parameter, so that a bad setting (a negative learning rate)
    stops the run before the trainer starts instead of in ``configure_optimizers``."""
    if optimizer is None:
        return
    try:
        optimizer([nn.Parameter(torch.zeros(1))])
    except (ValueError, TypeError) as e:
        raise ConfigError(f"{model}: {key}: {e}; set it with --model.init_args.{key}.init_args") from None


def check_feature_matching(model: str, weight: float, layers: str, discriminator: nn.Module) -> None:
    if weight < 0:
        raise ConfigError(f"{model}: feature_matching must be >= 0, got {weight}")
    if layers not in ("last", "all"):
        raise ConfigError(f"{model}: feature_matching_layers must be 'last' or 'all', got {layers!r}")
    if not weight:
        return
    if not callable(getattr(discriminator, "features", None)):
        raise ConfigError(f"{model}: feature_matching needs a discriminator with a `features(x)` method (its last "
                          f"hidden layer); {type(discriminator).__name__} has none")
    if layers == "all" and not callable(getattr(discriminator, "hidden_layers", None)):
        raise ConfigError(f"{model}: feature_matching_layers 'all' needs a discriminator with a `hidden_layers(x)` "
                          f"method (as the shipped discriminators have); {type(discriminator).__name__} has none")
    if any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in discriminator.modules()):
        raise ConfigError(f"{model}: feature_matching compares the discriminator's feature means on real and generated "
                          f"batches, which the batch norm of {type(discriminator).__name__} makes nearly equal; "
                          "set its norm to none or layer")


def optimizer_steps(iterations: int, n_critic: int, d_pretrain_steps: int = 0) -> int:
    """Lightning's ``max_steps`` for ``iterations``: each takes ``n_critic`` critic steps and one generator
    step, except the first ``d_pretrain_steps``, which take no generator step."""
    return iterations * (n_critic + 1) - min(d_pretrain_steps, iterations)


def input_width(network: nn.Module) -> Optional[int]:
    """The channels (or features) the network's first convolution or linear layer takes, or ``None``."""
    for module in network.modules():
        if isinstance(module, nn.modules.conv._ConvNd):
            return module.in_channels
        if isinstance(module, nn.Linear) and not isinstance(module, nn.LazyLinear):
            return module.in_features
    return None


class GANModule(LightningModule):
    """A generator and a discriminator trained against each other with manual optimization.

    Args:
        generator: maps noise ``[B, generator.latent_dim]`` to samples ``[B, *shape]``
            (data units for vectors, [-1, 1] for images). Must have a ``latent_dim`` attribute.
            Class-conditional (``num_classes``): ``generator(z, y)`` with labels ``[B]``.
        discriminator: maps samples ``[B, *shape]`` to one raw output per sample, ``[B]``
            (a logit, or a critic score for Wasserstein objectives); conditional: ``discriminator(x, y)``.
        optimizer_g: optimizer of the generator; ``None`` takes the objective's default.
        optimizer_d: optimizer of the discriminator; ``None`` takes the objective's default.
        scheduler_g: optional LR scheduler of the generator, stepped once per iteration.
        scheduler_d: optional LR scheduler of the discriminator, stepped once per iteration.
        n_critic: discriminator updates per generator update.
        d_pretrain_steps: iterations at the start that update only the discriminator.
        gradient_clip_val: clip each network's gradient norm to this value (``None``: off).
        latent_distribution: ``normal`` (N(0, scale^2)) or ``uniform`` (U(-scale, scale)) noise.
        latent_scale: standard deviation or half-width of the noise.
        ema_decay: decay of an exponential moving average of the generator used for
            validation and sampling (0 turns it off).
        ema_every: update the average every this many iterations, with the decays of those
            iterations multiplied into one, so it averages as an update every iteration would (it
            trails the generator by up to ``ema_every - 1`` iterations more) at a fraction of the
            cost. ``None``: 2% of the average's horizon ``1 / (1 - ema_decay)``, from 1 to 10.
        num_fixed_samples: size of the fixed noise batch that plots and grids use.
        seed: seed of the fixed noise and of the validation noise.
        augment: differentiable augmentation (``gan_lightning.augment.DiffAugment``) of every image
            the discriminator sees, real and generated, in both updates; ``None``: off.
        regularizers: penalties added to the critic's loss (``gan_lightning.regularizers``: ``R1``,
            ``R2``, ``GradientPenalty``), each at its own critic steps.
        metrics: quality metrics at each validation (``gan_lightning.metrics.SampleMetrics``): the
            feature network, sample counts, which metrics. ``None``: the defaults for vector data,
            none for images.
        fid: the name of ``metrics`` in checkpoints of gan_lightning 0.1; use ``metrics``.
        compile: run the networks' forward passes through ``torch.compile`` when fit starts
            (not a critic whose gradient is penalized: compiled graphs have no double backward).
        num_classes: a class-conditional GAN: batches are ``(x, labels)``, the fakes of a step take
            the labels of its real batch, and both networks take labels. ``None``: the networks'
            own ``num_classes`` (unconditional when they have none); given, it must match theirs.
        classification_weight: with a discriminator of ``conditioning: auxiliary`` or ``both`` (AC-GAN,
            Odena et al. 2017), the weight of the cross-entropy of its class head: on real and generated
            samples in D's loss (the real part is logged as ``d_class``), on generated ones in G's.
        classify_fakes: whether D's class loss also has the generated samples, with the labels they
            were drawn for (Odena et al.). ``False``: reals only, so the head stays a classifier of
            real digits that G must satisfy, rather than one D and G can agree on between themselves.
        pack: PacGAN (Lin et al. 2018): the discriminator judges packs of this many samples, all
            real or all generated, joined along the channel (or feature) axis after augmentation;
            its input then has ``pack`` times the data's channels (set the network's ``channels``,
            or its ``input_shape`` for vectors, to that). A batch must split into whole packs.
            R1, R2 and the gradient penalty take the input gradient's norm per pack.
            Unconditional GANs only.
        channels_last: keep the networks' convolution weights and the image batches in channels-last
            (NHWC) memory layout during fit, which oneDNN on CPUs and tensor cores on GPUs convolve faster
            (benchmarks/RESULTS.md, "Channels-last"); the same computation up to float rounding. No
            effect on vector data.
        feature_matching: weight of feature matching (Salimans et al. 2016) in the generator's loss:
            the squared distance between the batch means of the discriminator's last hidden layer
            (its ``features(x)``) on the real and on the generated batch, averaged over the features,
            logged as ``g_feature_matching``. It holds the generator's batch statistics to the data's,
            e.g. how often it draws each digit. Needs a discriminator without batch norm, which would
            give every batch the same feature means. 0: off.
        feature_matching_layers: ``last``: the last hidden layer, as above; ``all``: every hidden layer
            of the discriminator (its ``hidden_layers(x)``), the term the sum of each layer's, so the
            generator also matches the low-level statistics (strokes, brightness) the first layers see.
    """

    #: Part of the objective's interface: whether the discriminator's output is a logit (plots show
    #: P(real) = sigmoid of it) or an unbounded critic score (plots show it as it is).
    outputs_logits = True

    def __init__(
        self,
        generator: nn.Module,
        discriminator: nn.Module,
        optimizer_g: Optional[OptimizerCallable] = None,
        optimizer_d: Optional[OptimizerCallable] = None,
        scheduler_g: Optional[LRSchedulerCallable] = None,
        scheduler_d: Optional[LRSchedulerCallable] = None,
        n_critic: int = 1,
        d_pretrain_steps: int = 0,
        gradient_clip_val: Optional[float] = None,
        latent_distribution: Literal["normal", "uniform"] = "normal",
        latent_scale: float = 1.0,
        ema_decay: float = 0.0,
        ema_every: Optional[int] = None,
        num_fixed_samples: int = 64,
        seed: int = 0,
        augment: Optional[DiffAugment] = None,
        regularizers: Optional[list[Regularizer]] = None,
        metrics: Optional[SampleMetrics] = None,
        compile: bool = False,
        fid: Optional[SampleMetrics] = None,
        num_classes: Optional[int] = None,
        classification_weight: float = 1.0,
        classify_fakes: bool = True,
        pack: int = 1,
        channels_last: bool = True,
        feature_matching: float = 0.0,
        feature_matching_layers: Literal["last", "all"] = "last",
    ):
        super().__init__()
        name = type(self).__name__
        if not hasattr(generator, "latent_dim"):
            raise ConfigError(f"{name}: the generator {type(generator).__name__} has no `latent_dim` attribute")
        if n_critic < 1 or d_pretrain_steps < 0 or num_fixed_samples < 1:
            raise ConfigError(f"{name}: need n_critic >= 1, d_pretrain_steps >= 0, num_fixed_samples >= 1; "
                              f"got {n_critic}, {d_pretrain_steps}, {num_fixed_samples}")
        if latent_distribution not in ("normal", "uniform"):
            raise ConfigError(f"{name}: latent_distribution must be 'normal' or 'uniform', got {latent_distribution!r}")
        if not 0.0 <= ema_decay < 1.0:
            raise ConfigError(f"{name}: ema_decay must be in [0, 1), got {ema_decay}")
        if pack < 1:
            raise ConfigError(f"{name}: pack must be >= 1, got {pack}")
        check_feature_matching(name, feature_matching, feature_matching_layers, discriminator)
        if ema_every is not None and ema_every < 1:
            raise ConfigError(f"{name}: ema_every must be >= 1 or null, got {ema_every}")
        networks = {"generator": getattr(generator, "num_classes", None),
                    "discriminator": getattr(discriminator, "num_classes", None)}
        if num_classes is None:
            num_classes = networks["generator"] or networks["discriminator"]
        if any(n != num_classes for n in networks.values()):
            raise ConfigError(f"{name}: num_classes {num_classes} but the networks have " +
                              ", ".join(f"{k} {v}" for k, v in networks.items()) +
                              "; set the same num_classes in both networks' init_args")
        if gradient_clip_val is not None and gradient_clip_val <= 0:
            raise ConfigError(f"{name}: gradient_clip_val must be > 0 or null, got {gradient_clip_val}")
        for key, optimizer in [("optimizer_g", optimizer_g), ("optimizer_d", optimizer_d)]:
            check_optimizer(name, key, optimizer)
        # Built by LightningCLI, the hparams hold the networks' class_path/init_args, so a checkpoint
        # alone rebuilds the model; built in Python they are modules, which stay out of hparams.
        built_by_cli = _given_hyperparameters.get() is not None
        self.save_hyperparameters(ignore=[] if built_by_cli else ["generator", "discriminator", "augment",
                                                                  "regularizers", "metrics", "fid"])
        self.automatic_optimization = False
        self.generator = generator
        self.discriminator = discriminator
        self.generator_ema = copy.deepcopy(generator).requires_grad_(False) if ema_decay > 0 else None
        self.ema_every = ema_every or (min(10, max(1, round(0.02 / (1 - ema_decay)))) if ema_decay > 0 else 1)
        self.optimizer_g, self.optimizer_d = optimizer_g, optimizer_d
        self.scheduler_g, self.scheduler_d = scheduler_g, scheduler_d
        self.n_critic = n_critic
        self.regularizers = list(regularizers or [])
        self.augment = augment
        self.latent_dim, self.num_classes = generator.latent_dim, num_classes
        self.auxiliary_classifier = getattr(discriminator, "conditioning", None) in ("auxiliary", "both") and bool(num_classes)
        if pack > 1 and num_classes:
            raise ConfigError(f"{name}: pack {pack} needs an unconditional GAN (a pack has no one label), but num_classes "
                              f"is {num_classes}; set pack to 1")
        self.pack = pack
        self.channels_last = channels_last
        self.iteration = 0  # training steps done; saved in checkpoints
        self.register_buffer("fixed_noise", self.noise(num_fixed_samples, torch.Generator().manual_seed(seed)))
        if num_classes:  # grids: one row per class (the first 10 classes), the same noise in every row
            rows = min(num_classes, 10)
            per_row = max(1, num_fixed_samples // rows)
            self.fixed_noise = self.fixed_noise[:per_row].repeat(rows, 1)
            self.register_buffer("fixed_labels", torch.arange(rows).repeat_interleave(per_row))
        else:
            self.fixed_labels = None
        # Not a child module: its feature network's weights stay out of checkpoints.
        self.sample_metrics = metrics if metrics is not None else fid

    # ---- what an objective defines -------------------------------------------------------

    @staticmethod
    def default_optimizer(params) -> torch.optim.Optimizer:
        """DCGAN's Adam (Radford et al. 2015), used when a config names no optimizer."""
        return torch.optim.Adam(params, lr=2e-4, betas=(0.5, 0.999))

    def discriminator_loss(self, real: Tensor, fake: Tensor, real_out: Tensor, fake_out: Tensor) -> dict[str, Tensor]:
        """Loss terms of one discriminator update; ``d_loss`` is the one minimized, others are logged."""
        raise NotImplementedError

    def generator_loss(self, fake_out: Tensor, real: Tensor, labels: Optional[Tensor] = None) -> Tensor:
        """The generator's loss from D's outputs on its samples; ``real`` (and its ``labels``) are there
        for relativistic losses."""
        raise NotImplementedError

    def after_discriminator_step(self) -> None:
        """A constraint applied after each discriminator update (weight clipping, say)."""

    # ---- sampling ------------------------------------------------------------------------

    def noise(self, n: int, generator: Optional[torch.Generator] = None) -> Tensor:
        """``[n, latent_dim]`` noise from the latent distribution, on the module's device."""
        return latent_noise(n, self.latent_dim, self.hparams.latent_distribution, self.hparams.latent_scale,
                            generator, self.device)

    @torch.no_grad()
    def sample(self, n: Optional[int] = None, noise: Optional[Tensor] = None, seed: Optional[int] = None,
               use_ema: bool = True, labels: Optional[Tensor] = None) -> Tensor:
        """Draw samples in data units (images in [-1, 1]), ``[n, *shape]``.

        Uses the EMA generator when there is one and ``use_ema``; the network is in eval mode.
        ``noise`` overrides ``n`` and ``seed``. A conditional model takes ``labels`` ``[n]`` (default:
        the classes in turn, 0, 1, 2, ...).
        """
        if noise is None:
            if n is None:
                raise ValueError("sample needs n or noise")
            noise = self.noise(n, torch.Generator().manual_seed(seed) if seed is not None else None)
        net = self.generator_ema if use_ema and self.generator_ema is not None else self.generator
        was_training = net.training
        net.eval()
        out = self.generate(net, noise.to(self.device), self.sample_labels(len(noise), labels))
        net.train(was_training)
        return out

    def sample_labels(self, n: int, labels: Optional[Tensor]) -> Optional[Tensor]:
        """The labels ``[n]`` a conditional model samples with (``None`` for an unconditional one)."""
        if not self.num_classes:
            if labels is not None:
                raise ConfigError(f"{type(self).__name__} is unconditional: it takes no labels")
            return None
        labels = balanced_labels(n, self.num_classes) if labels is None else torch.as_tensor(labels).long()
        check_label_range(labels, self.num_classes)
        return labels.to(self.device)

    def generate(self, net: nn.Module, z: Tensor, labels: Optional[Tensor]) -> Tensor:
        return net(z) if labels is None else net(z, labels)

    def sample_batches(self, n: int, seed: int, batch_size: int = 256, labels: Optional[Tensor] = None) -> Iterator[Tensor]:
        """``n`` samples in batches of ``batch_size`` from one seeded noise stream: the same ``seed``
        gives the same samples in validation, ``evaluate`` and ``sample``; ``labels`` ``[n]`` for a
        conditional model (default: balanced)."""
        return sample_batches(self, n, seed, batch_size, labels)

    # ---- training ------------------------------------------------------------------------

    def configure_optimizers(self):
        opt_g = (self.optimizer_g or self.default_optimizer)(self.generator.parameters())
        opt_d = (self.optimizer_d or self.default_optimizer)(self.discriminator.parameters())
        schedulers = [make(opt) for make, opt in [(self.scheduler_g, opt_g), (self.scheduler_d, opt_d)] if make]
        return [opt_g, opt_d], schedulers

    def training_step(self, batch, batch_idx: int) -> None:
        """One iteration on ``batch`` = ``[n_critic * B, *shape]`` real samples, or ``(samples, labels [n_critic * B])``."""
        batch, labels = batch if isinstance(batch, (tuple, list)) else (batch, None)
        if self.channels_last and batch.dim() == 4:
            batch = batch.contiguous(memory_format=torch.channels_last)
        if not self.num_classes:
            labels = None  # labelled data trains an unconditional model as well
        elif labels is None:
            raise ConfigError(f"{type(self).__name__} has num_classes={self.num_classes} but the batches have no "
                              "labels; set --data.init_args.labels true")
        if len(batch) % self.n_critic:
            raise ValueError(f"a batch of {len(batch)} samples does not split into n_critic={self.n_critic} equal "
                             "parts; set the datamodule's batches_per_step to n_critic (the CLI does this)")
        opt_g, opt_d = self.optimizers()
        train_g = self.iteration >= self.hparams.d_pretrain_steps
        reals = batch.chunk(self.n_critic)
        step_labels = labels.chunk(self.n_critic) if labels is not None else [None] * len(reals)
        for i, (real, y) in enumerate(zip(reals, step_labels)):
            # The last critic update's fakes are kept with their graph for the generator update,
            # so each iteration runs the generator n_critic times, not n_critic + 1.
            keep_graph = train_g and i == len(reals) - 1
            with torch.set_grad_enabled(keep_graph):
                fake = self.generate(self.generator, self.noise(len(real)), y)  # fakes take the reals' labels
            d_terms = self.discriminator_update(real, fake.detach(), opt_d, self.iteration * self.n_critic + i, y)

        logs = {f"train/{k}": v.detach() for k, v in d_terms.items()}
        if train_g:
            logs.update({f"train/{k}": v.detach() for k, v in self.generator_update(fake, real, opt_g, y).items()})
        self.stop_if_diverged(logs)
        if train_g:
            self.update_ema()
        schedulers = self.lr_schedulers() or []
        for scheduler in schedulers if isinstance(schedulers, list) else [schedulers]:
            scheduler.step()
        # Lightning sends metrics to the loggers every log_every_n_steps iterations; logging only
        # then spares the other iterations its per-call bookkeeping (measured by benchmarks/speed.py).
        if (self.iteration + 1) % self.trainer.log_every_n_steps == 0:
            on_bar = {"train/d_loss", "train/g_loss"}
            self.log_dict({k: v for k, v in logs.items() if k in on_bar}, prog_bar=True)
            self.log_dict({k: v for k, v in logs.items() if k not in on_bar})
        self.iteration += 1

    def stop_if_diverged(self, logs: dict[str, Tensor]) -> None:
        """Raises ``TrainingDiverged`` when a logged term is NaN or infinite (one device sync per iteration).

        It stops the run before the EMA, a checkpoint or a log takes the bad values in, so
        ``last.ckpt`` stays the last good state.
        """
        if bool(torch.isfinite(torch.stack(list(logs.values()))).all()):
            return
        bad = ", ".join(f"{k}={float(v)}" for k, v in logs.items() if not torch.isfinite(v))
        last = getattr(self.trainer.checkpoint_callback, "last_model_path", "") or "none written yet"
        raise TrainingDiverged(f"{type(self).__name__} diverged at iteration {self.iteration}: {bad}. The last good "
                               f"checkpoint is {last}; resume from it with lower learning rates or gradient_clip_val")

    def critic(self, x: Tensor, labels: Optional[Tensor] = None) -> Tensor:
        """The discriminator's output ``[B]`` on ``x`` as the losses see it: after the augmentation, if any."""
        return self.critic_and_classes(x, labels)[0]

    def critic_and_classes(self, x: Tensor, labels: Optional[Tensor] = None,
                           augmented: bool = False) -> tuple[Tensor, Optional[Tensor]]:
        """(``critic(x, labels)``, an AC-GAN discriminator's class logits ``[B, num_classes]`` or ``None``), one
        pass; ``augmented``: ``x`` has been through the model's augmentation already."""
        x = self.augment(x) if self.augment is not None and not augmented else x
        if self.pack > 1:
            return self.packed_critic(x), None
        if self.auxiliary_classifier:
            return self.discriminator(x, labels, with_classes=True)
        return (self.discriminator(x) if labels is None else self.discriminator(x, labels)), None

    def packed_critic(self, x: Tensor) -> Tensor:
        """The discriminator's output ``[B / pack]`` on ``x [B, C, ...]`` packed into ``[B / pack, pack * C, ...]``;
        a network built for the unpacked shape stops here with what it should have been given."""
        packs = losses.pack(x, self.pack)
        try:
            return self.discriminator(packs)
        except RuntimeError as e:
            if input_width(self.discriminator) in (None, packs.shape[1]):
                raise  # the network takes this width: some other fault, not the packing
            raise ConfigError(f"{type(self).__name__}: pack {self.pack} gives the discriminator inputs of shape "
                              f"{tuple(packs.shape[1:])} ({self.pack} x the data's {packs.shape[1] // self.pack} "
                              f"channels or features); build it for that shape ({e})") from e

    def classification_loss(self, class_logits: Optional[Tensor], labels: Optional[Tensor]) -> Optional[Tensor]:
        """AC-GAN's cross-entropy of the class head (float32), or ``None`` without one."""
        if class_logits is None:
            return None
        return torch.nn.functional.cross_entropy(class_logits.float(), labels)

    def critic_loss(self, real: Tensor, fake: Tensor, critic_step: int, labels: Optional[Tensor] = None) -> dict[str, Tensor]:
        """The objective's loss terms plus the regularizers active at ``critic_step``; ``d_loss`` is minimized.

        Inputs a regularizer differentiates are marked before the one forward pass of each batch.
        """
        active = [r for r in self.regularizers if r.active(critic_step)]
        if any(r.needs_real_grad for r in active):
            real = real.detach().requires_grad_(True)
        if any(r.needs_fake_grad for r in active):
            fake = fake.detach().requires_grad_(True)
        (real_out, real_classes), (fake_out, fake_classes) = (self.critic_and_classes(real, labels),
                                                              self.critic_and_classes(fake, labels))
        terms = self.discriminator_loss(real, fake, real_out, fake_out)
        if real_classes is not None:
            real_ce = self.classification_loss(real_classes, labels)
            fake_ce = self.classification_loss(fake_classes, labels) if self.hparams.classify_fakes else 0.0
            terms["d_loss"] = terms["d_loss"] + self.hparams.classification_weight * (real_ce + fake_ce)
            terms["d_class"] = real_ce.detach()
        if labels is not None:
            discriminator = functools.partial(self.discriminator, y=labels)
        else:  # a gradient penalty's interpolates are packed as the samples are
            discriminator = self.discriminator if self.pack == 1 else self.packed_critic
        for regularizer in active:
            weighted, value = regularizer.loss(discriminator, real, fake, real_out, fake_out)
            terms["d_loss"] = terms["d_loss"] + weighted
            terms[regularizer.name] = value.detach()
        return {**terms, "d_real": real_out.detach().mean(), "d_fake": fake_out.detach().mean()}

    def discriminator_update(self, real: Tensor, fake: Tensor, opt, critic_step: int,
                             labels: Optional[Tensor] = None) -> dict[str, Tensor]:
        terms = self.critic_loss(real, fake, critic_step, labels)
        opt.zero_grad(set_to_none=True)
        self.manual_backward(terms["d_loss"])
        self.clip_and_step(opt)
        self.after_discriminator_step()
        return terms

    def generator_update(self, fake: Tensor, real: Tensor, opt, labels: Optional[Tensor] = None) -> dict[str, Tensor]:
        """One step of G; its loss terms, ``g_loss`` the one minimized."""
        # Toggling freezes D's weights, so the backward pass computes no gradients for them.
        with self.toggled_optimizer(opt):
            if self.hparams.feature_matching:
                fake_out, fake_classes, matching = self.critic_and_feature_matching(fake, real, labels)
            else:
                (fake_out, fake_classes), matching = self.critic_and_classes(fake, labels), None
            terms = {"g_loss": self.generator_loss(fake_out, real, labels)}
            if fake_classes is not None:
                terms["g_loss"] = terms["g_loss"] + self.hparams.classification_weight * self.classification_loss(fake_classes, labels)
            if matching is not None:
                terms["g_feature_matching"] = matching
                terms["g_loss"] = terms["g_loss"] + self.hparams.feature_matching * matching
            opt.zero_grad(set_to_none=True)
            self.manual_backward(terms["g_loss"])
            self.clip_and_step(opt)
        return terms

    def critic_and_feature_matching(self, fake: Tensor, real: Tensor, labels: Optional[Tensor] = None):
        """``critic_and_classes(fake, labels)`` and feature matching's term, on the features of what the
        discriminator judges (augmented and packed); real features are constants. The generated batch
        is augmented once; a discriminator with ``output(features, y, with_classes)`` makes the output
        and the compared features from one pass over it."""
        def judged(x: Tensor) -> Tensor:
            return self.augment(x) if self.augment is not None else x

        def matched(x: Tensor) -> list[Tensor]:
            """The layers compared, last hidden layer last, of ``x`` as augmented."""
            x = losses.pack(x, self.pack)
            if self.hparams.feature_matching_layers == "all":
                return self.discriminator.hidden_layers(x)
            return [self.discriminator.features(x)]

        with torch.no_grad():
            real_layers = matched(judged(real))
        fake = judged(fake)
        fake_layers = matched(fake)
        matching = sum(losses.feature_matching_loss(r, f) for r, f in zip(real_layers, fake_layers))
        head = getattr(self.discriminator, "output", None)
        if not callable(head):
            return *self.critic_and_classes(fake, labels, augmented=True), matching
        if self.auxiliary_classifier:
            return *head(fake_layers[-1], labels, with_classes=True), matching
        return (head(fake_layers[-1]) if labels is None else head(fake_layers[-1], labels)), None, matching

    def clip_and_step(self, opt) -> None:
        if self.hparams.gradient_clip_val is not None:
            self.clip_gradients(opt, gradient_clip_val=self.hparams.gradient_clip_val, gradient_clip_algorithm="norm")
        opt.step()

    def ema_decay_at(self, t: int) -> float:
        """The average's decay at generator iteration ``t``, with a warm-up so it does not hold on to the start."""
        return min(self.hparams.ema_decay, (1 + t) / (10 + t))

    @torch.no_grad()
    def update_ema(self) -> None:
        """Every ``ema_every`` iterations: the EMA of the generator's weights, moved by all of them at once."""
        if self.generator_ema is None:
            return
        t = self.iteration - self.hparams.d_pretrain_steps  # generator iterations done before this one
        k = self.ema_every
        if (t + 1) % k:
            return  # the schedule follows the iteration count alone, so a resumed run keeps it
        # The k iterations' decays multiply: the newest weights get the share k updates would give them
        # (exactly so if the weights had stood still over those k iterations).
        decay = math.prod(self.ema_decay_at(s) for s in range(t - k + 1, t + 1))
        # One fused call over all tensors rather than a Python loop of small kernels.
        torch._foreach_lerp_(list(self.generator_ema.parameters()), list(self.generator.parameters()), 1 - decay)
        for ema, b in zip(self.generator_ema.buffers(), self.generator.buffers()):
            ema.copy_(b)

    # ---- validation ----------------------------------------------------------------------

    def setup(self, stage: str) -> None:
        if self.hparams.get("compile") and stage == "fit" and not getattr(self, "_compiled", False):
            # forward, not the module: state_dict keys and checkpoints stay those of the plain networks.
            self.generator.forward = torch.compile(self.generator.forward)
            if not self.regularizers:  # a penalty differentiates the critic twice: compiled graphs cannot
                self.discriminator.forward = torch.compile(self.discriminator.forward)
            self._compiled = True
        if self.channels_last and stage == "fit":  # Module.to changes only the 4-D (convolution) tensors
            for net in (self.generator, self.discriminator, self.generator_ema):
                if net is not None:
                    net.to(memory_format=torch.channels_last)
        data = self.trainer.datamodule
        batch_size = getattr(data, "batch_size", None)
        if stage == "fit" and self.pack > 1 and batch_size and batch_size % self.pack:
            raise ConfigError(f"{type(self).__name__}: pack {self.pack} needs batches that split into whole packs, but "
                              f"the data's batch_size is {batch_size}; use a multiple of {self.pack}")
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
        # For checkpoint names: the iteration in the unit the README states.
        self.log("iteration", float(self.iteration))
        if self.sample_metrics is None or self.sample_metrics.reference is None or self.trainer.sanity_checking:
            return
        values = self.sample_metrics.evaluate(self, self.hparams.seed, self.global_rank, self.trainer.world_size)
        values = {f"val/{k}": v for k, v in values.items()}
        self.log_dict({k: v for k, v in values.items() if k in HEADLINE_METRICS}, prog_bar=True)
        self.log_dict({k: v for k, v in values.items() if k not in HEADLINE_METRICS})

    # ---- checkpoints ---------------------------------------------------------------------

    def on_fit_start(self) -> None:
        # seed_everything gives every DDP rank the same seed; each rank needs its own noise.
        if self.trainer.world_size > 1:
            torch.manual_seed(torch.initial_seed() + 7_919 * self.global_rank)

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint["iteration"] = self.iteration
        # Every rank's random states (this hook runs on all ranks; rank 0 writes the file).
        states = rng_states()
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            gathered = [None] * torch.distributed.get_world_size()
            torch.distributed.all_gather_object(gathered, states)
            checkpoint["rng_states"] = gathered
        else:
            checkpoint["rng_states"] = [states]

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        self.iteration = checkpoint.get("iteration", 0)
        self._rng_to_restore = checkpoint.get("rng_states")

    def on_train_start(self) -> None:
        # Restored here, after the sanity check, whose data loader would otherwise draw from them.
        states, self._rng_to_restore = getattr(self, "_rng_to_restore", None), None
        if states and len(states) == self.trainer.world_size:
            set_rng_states(states[self.global_rank])

