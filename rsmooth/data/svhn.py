"""SVHN (cropped digits) from torchvision's on-disk format (``train_32x32.mat``, ``test_32x32.mat``)."""

from __future__ import annotations

import os
from typing import Any

from torchvision import datasets, transforms

from rsmooth.data.base import FilesDataModule
from rsmooth.errors import DatasetError
from rsmooth.models.dataset_specs import SVHN

SVHN_LAYOUT = """  train_32x32.mat
  test_32x32.mat
(the cropped-digits format 2 MATLAB files, as torchvision's SVHN reads them)"""


class SVHNFiles(datasets.SVHN):  # type: ignore[misc]  # torchvision ships no type information
    """torchvision's SVHN reader with the md5 check made optional (``verify_checksums``)."""

    def __init__(self, *args: Any, verify_checksums: bool = False, **kwargs: Any) -> None:
        self._verify = verify_checksums
        try:
            super().__init__(*args, **kwargs)
        except (ValueError, TypeError, KeyError, IndexError, OSError) as err:  # scipy's loadmat: damaged, foreign
            path = os.path.join(
                str(args[0] if args else kwargs.get("root")), self.split_list[kwargs.get("split", "train")][1]
            )
            raise DatasetError(f"{path}: not a readable SVHN .mat file ({type(err).__name__}: {err})") from None

    def _check_integrity(self) -> bool:
        if self._verify:
            return super()._check_integrity()
        return os.path.isfile(os.path.join(self.root, self.filename))


class SVHNDataModule(FilesDataModule):
    """SVHN (docs/design.md §5): RandomCrop(32, padding 4), no horizontal flip (digits are not mirror-symmetric);
    q = 255."""

    name = SVHN.name
    num_classes, input_shape, quantization = SVHN.num_classes, SVHN.input_shape, SVHN.quantization
    mean, std = SVHN.mean, SVHN.std
    required_files = ("train_32x32.mat", "test_32x32.mat")
    layout = SVHN_LAYOUT

    def _dataset(self, split: str, transform: transforms.Compose) -> datasets.SVHN:
        return SVHNFiles(
            str(self.root), split=split, transform=transform, download=False, verify_checksums=self.verify_checksums
        )

    def build_train(self, augment: bool) -> datasets.SVHN:
        steps = [transforms.RandomCrop(32, padding=4)] if augment else []
        return self._dataset("train", transforms.Compose([*steps, transforms.ToTensor()]))

    def build_test(self) -> datasets.SVHN:
        return self._dataset("test", transforms.Compose([transforms.ToTensor()]))
