"""LightningDataModules yielding images in [0, 1] (docs/design.md §5). One module per dataset."""

from rsmooth.data.base import DatasetNotFoundError, FilesDataModule, ImageDataModule
from rsmooth.data.cifar10 import CIFAR10DataModule
from rsmooth.data.digits import DigitsDataModule
from rsmooth.data.fake import FakeDataModule
from rsmooth.data.imagenet import ImageNetDataModule
from rsmooth.data.svhn import SVHNDataModule

__all__ = [
    "CIFAR10DataModule",
    "DatasetNotFoundError",
    "DigitsDataModule",
    "FakeDataModule",
    "FilesDataModule",
    "ImageDataModule",
    "ImageNetDataModule",
    "SVHNDataModule",
]
