from gan_lightning.data.cifar10 import CIFAR10DataModule
from gan_lightning.data.gaussian import GaussianDataModule
from gan_lightning.data.emoji import EmojiDataModule
from gan_lightning.data.image_folder import AnimeFacesDataModule, ImageFolderDataModule
from gan_lightning.data.images import InMemoryImageDataModule
from gan_lightning.data.mixture import GaussianMixtureDataModule
from gan_lightning.data.mnist import MNISTDataModule
from gan_lightning.data.stacked_mnist import StackedMNISTDataModule

__all__ = ["GaussianDataModule", "GaussianMixtureDataModule", "InMemoryImageDataModule", "MNISTDataModule",
           "StackedMNISTDataModule", "ImageFolderDataModule", "AnimeFacesDataModule",
           "EmojiDataModule", "CIFAR10DataModule"]
