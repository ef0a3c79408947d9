"""CIFAR-10 from torchvision's on-disk format (``cifar-10-batches-py``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from torchvision import datasets, transforms

from rsmooth.data.base import FilesDataModule
from rsmooth.errors import DatasetError
from rsmooth.loading.safe_pickle import load_data_pickle
from rsmooth.models.dataset_specs import CIFAR10

CIFAR10_LAYOUT = """  cifar-10-batches-py/
    batches.meta
    data_batch_1 … data_batch_5
    test_batch
(the python version of CIFAR-10, as torchvision's CIFAR10 reads it)"""


class CIFAR10Files(datasets.CIFAR10):  # type: ignore[misc]  # torchvision ships no type information
    """torchvision's CIFAR10 dataset, read by rsmooth: file presence is checked with a clear error, the
    md5 check is optional (``verify_checksums``, so that subsets in the same format load too), and the
    pickled batches are read with :func:`~rsmooth.loading.safe_pickle.load_data_pickle` (plain containers and
    NumPy arrays only: a crafted batch cannot run code; torchvision's reader calls ``pickle.load``)."""

    def __init__(
        self,
        root: str,
        train: bool = True,
        transform: Any = None,
        download: bool = False,
        verify_checksums: bool = False,
    ) -> None:
        datasets.VisionDataset.__init__(self, root, transform=transform)
        self.train, self._verify = train, verify_checksums
        if not self._check_integrity():
            raise DatasetError(f"{Path(root) / self.base_folder}: files missing or failing their md5 check")
        rows: list[np.ndarray] = []
        self.targets: list[int] = []
        for name, _ in self.train_list if train else self.test_list:
            path = Path(self.root) / self.base_folder / name
            entry = load_data_pickle(path)
            try:
                rows.append(np.asarray(entry["data"], dtype=np.uint8).reshape(-1, 3072))
                self.targets.extend(int(v) for v in entry.get("labels", entry.get("fine_labels", [])))
            except (KeyError, TypeError, ValueError, AttributeError) as err:
                raise DatasetError(
                    f"{path}: not a CIFAR-10 batch (want a dict with 'data': N x 3072 uint8 and "
                    f"'labels'; {type(err).__name__}: {err})"
                ) from None
            if len(self.targets) != sum(len(r) for r in rows):
                raise DatasetError(f"{path}: {len(rows[-1])} images but a different number of labels")
        self.data = np.vstack(rows).reshape(-1, 3, 32, 32).transpose((0, 2, 3, 1))  # HWC, as torchvision keeps it
        self._load_meta()

    def _check_integrity(self) -> bool:
        if self._verify:
            return super()._check_integrity()
        base = Path(self.root) / self.base_folder
        return all((base / name).is_file() for name, _ in self.train_list + self.test_list)

    def _load_meta(self) -> None:
        path = Path(self.root) / self.base_folder / self.meta["filename"]
        data = load_data_pickle(path)
        try:
            self.classes = [str(c) for c in data[self.meta["key"]]]
        except (KeyError, TypeError) as err:
            raise DatasetError(f"{path}: not CIFAR-10's batches.meta (no {self.meta['key']!r}: {err})") from None
        self.class_to_idx = {c: i for i, c in enumerate(self.classes)}


class CIFAR10DataModule(FilesDataModule):
    """CIFAR-10 (docs/design.md §5): RandomCrop(32, padding 4) + horizontal flip for training; q = 255."""

    name = CIFAR10.name
    num_classes, input_shape, quantization = CIFAR10.num_classes, CIFAR10.input_shape, CIFAR10.quantization
    mean, std = CIFAR10.mean, CIFAR10.std
    required_files = tuple(
        f"cifar-10-batches-py/{f}" for f in ["batches.meta", *(f"data_batch_{i}" for i in range(1, 6)), "test_batch"]
    )
    layout = CIFAR10_LAYOUT

    def _dataset(self, train: bool, transform: transforms.Compose) -> datasets.CIFAR10:
        return CIFAR10Files(
            str(self.root), train=train, transform=transform, download=False, verify_checksums=self.verify_checksums
        )

    def build_train(self, augment: bool) -> datasets.CIFAR10:
        if not augment:
            return self._dataset(True, transforms.Compose([transforms.ToTensor()]))
        aug = transforms.Compose(
            [transforms.RandomCrop(32, padding=4), transforms.RandomHorizontalFlip(), transforms.ToTensor()]
        )
        return self._dataset(True, aug)

    def build_test(self) -> datasets.CIFAR10:
        return self._dataset(False, transforms.Compose([transforms.ToTensor()]))
