from gan_lightning.data.gaussian import GaussianDataModule
from gan_lightning.data.image_folder import AnimeFacesDataModule, ImageFolderDataModule
from gan_lightning.data.images import InMemoryImageDataModule
from gan_lightning.data.mnist import MNISTDataModule

__all__ = ["GaussianDataModule", "InMemoryImageDataModule", "MNISTDataModule", "ImageFolderDataModule",
           "AnimeFacesDataModule"]
