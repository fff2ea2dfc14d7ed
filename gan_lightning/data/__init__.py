from gan_lightning.data.gaussian import GaussianDataModule

__all__ = ["GaussianDataModule"]
