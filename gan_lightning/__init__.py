"""gan_lightning: train and compare GAN objectives with PyTorch Lightning, from one YAML file."""

__version__ = "0.1.0"
