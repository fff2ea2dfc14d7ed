"""The networks run once on a small batch shaped like the data before anything is written.

A generator that makes 64x64 images for 32x32 data, or a discriminator built for one channel fed
three, would otherwise train until the first step raises a traceback from inside a convolution,
after the run folder, the W&B run and the data cache were made. ``check_networks_take_the_data`` runs
the step's own pieces (the generator on noise, the critic's loss with every regularizer's input
gradients on a real and a generated sample, the generator's loss) on one sample (a pack for PacGAN),
on the model's device (the CPU, before fit) with one thread, in eval mode and on a forked random
state, so the model and the run's random streams are as they were, and turns a failure into one line
naming the data's shape and the networks' settings.
"""

import inspect

import torch
from torch import Tensor

from gan_lightning.errors import ConfigError
from gan_lightning.networks.packing import samples_per_output

# What a data module or a network may say about the shapes it makes or takes, named in the error line.
SHAPE_SETTINGS = ("dim", "layout", "image_size", "channels", "input_shape", "output_shape", "latent_dim")


def settings(obj, names=SHAPE_SETTINGS) -> str:
    """``"image_size 64, channels 3"``: the shape settings ``obj`` (a network or data module) has."""
    obj = getattr(obj, "network", obj)  # a Packed discriminator: the network it wraps
    hparams = getattr(obj, "hparams", {})
    found = {k: hparams.get(k, getattr(obj, k, None)) for k in names}
    return ", ".join(f"{k} {list(v) if isinstance(v, tuple) else v}" for k, v in found.items() if v is not None)


def described(obj) -> str:
    """``"DCGANDiscriminator (image_size 28, channels 1)"``: the class and the shape settings it has."""
    found = settings(obj)
    return type(obj).__name__ + (f" ({found})" if found else "")


def shape(x: Tensor) -> str:
    return "x".join(map(str, x.shape[1:]))


def check_networks_take_the_data(model, datamodule) -> None:
    """Raises ``ConfigError`` (one line) when ``model``'s networks cannot train on ``datamodule``'s batches.

    A data module without ``example_batch`` is checked on the generator's own samples only.
    """
    n = samples_per_output(model.discriminator)  # one output of D: the least that shows every shape
    example_batch = getattr(datamodule, "example_batch", None)
    real, labels = example_batch(n) if example_batch is not None else (None, None)
    real = None if real is None else real.to(model.device)
    labels = labels.to(model.device) if model.num_classes and labels is not None else None
    data, example = described(datamodule), real  # the data's own sample, for the remedy even after real is replaced
    nets = [model.generator, model.discriminator]
    modes, threads = [net.training for net in nets], torch.get_num_threads()
    torch.set_num_threads(1)  # one sample: threads would only wait on each other, or on a busy machine's other work
    try:
        with torch.random.fork_rng(devices=[]):
            for net in nets:
                net.eval()  # no batch-norm statistics or spectral-norm vectors move
            step = f"the generator {described(model.generator)}"
            try:
                fake = model.generate(model.generator, model.noise(n), labels)
            except (RuntimeError, ValueError, TypeError, IndexError) as e:
                raise failure(step, "noise", e, remedy(model, datamodule, example)) from None
            if real is not None and fake.shape[1:] != real.shape[1:]:
                raise ConfigError(f"pre-flight: {step} makes {shape(fake)} samples, but {data} has {shape(real)}; "
                                  f"{remedy(model, datamodule, example)}")
            real = fake.detach() if real is None else real
            step = f"the discriminator {described(model.discriminator)}"
            try:
                model.critic_loss(real, fake.detach(), 0, labels)  # every regularizer is active at critic step 0
                model.generator_terms(fake, real, labels)
            except (RuntimeError, ValueError, TypeError, IndexError) as e:
                raise failure(step, f"{data}'s {shape(real)} batch", e, remedy(model, datamodule, example)) from None
    finally:
        torch.set_num_threads(threads)
        for net, mode in zip(nets, modes):
            net.train(mode)


def takes(obj, key: str) -> bool:
    """Whether ``obj`` was built with a ``key`` argument (a data module's saved hyperparameters count)."""
    return key in inspect.signature(type(obj).__init__).parameters or key in getattr(obj, "hparams", {})


def remedy(model, datamodule, real: Tensor | None) -> str:
    """The options that make the data and the networks agree, with the values each side has."""
    networks = {"generator": getattr(model.generator, "network", model.generator),
                "discriminator": getattr(model.discriminator, "network", model.discriminator)}
    parts = []
    if real is not None and real.dim() == 4:
        for key, value in {"image_size": real.shape[-1], "channels": real.shape[1]}.items():
            differ = {name: getattr(net, key) for name, net in networks.items() if getattr(net, key, value) != value}
            if not differ:
                continue
            theirs = "/".join(map(str, dict.fromkeys(differ.values())))
            one_value = len(set(differ.values())) == 1
            options = [f"--data.init_args.{key} {theirs}"] if takes(datamodule, key) and one_value else []
            settable = [f"--model.init_args.{name}.init_args.{key} {value}"
                        for name in differ if takes(networks[name], key)]
            options += [" and ".join(settable)] if settable else []
            fixes = " or ".join(options) or "networks built for the data"
            parts.append(f"the networks' {key} is {theirs}, the data's {value}: set {fixes}")
    elif real is not None and real.dim() == 2:
        wanted = [real.shape[1]]
        options = []
        for name, key in [("generator", "output_shape"), ("discriminator", "input_shape")]:
            have = getattr(networks[name], key, None)
            if have is not None and list(have) != wanted:
                options.append(f"--model.init_args.{name}.init_args.{key} {wanted}")
        if options:
            parts.append(f"the data's samples have {wanted[0]} values: set " + " and ".join(options))
    return "; ".join(parts) or ("make them agree: the data's --data.init_args.* and the networks' --model.init_args."
                                "generator.init_args.* and --model.init_args.discriminator.init_args.*")


def failure(step: str, given: str, error: Exception, fix: str) -> ConfigError:
    message = " ".join(str(error).split())
    message = message if len(message) <= 300 else message[:300] + " ..."
    return ConfigError(f"pre-flight: {step} failed on {given}: {message}; {fix}")
