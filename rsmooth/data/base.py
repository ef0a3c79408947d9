"""Shared base of the rsmooth data modules (docs/design.md §5).

Every data module yields float images in [0, 1] (normalization is the model's
first layer, never a transform) and exposes ``mean``, ``std``,
``num_classes``, ``input_shape`` and ``quantization`` (q: pixel values lie on
{0, 1/q, …, 1}). A subclass only says how to build its train and test
datasets; loaders, the validation split and the checkpoint record live here once.

Splits: ``val_size`` examples of the training data, a fixed permutation of ``split_seed``, are
held out for validation (model selection, the certification callback), seen with the evaluation
transform; the rest is trained on. The test split is only for the final certification.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

import numpy as np
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, Dataset, Subset

from rsmooth.errors import ConfigError, DatasetNotFoundError
from rsmooth.models.dataset_specs import DatasetSpec, _shape
from rsmooth.smoothing.loop import Examples
from rsmooth.validation import check_count

__all__ = ["DatasetNotFoundError", "FilesDataModule", "ImageDataModule", "require_files"]


def require_files(root: str | Path, files: Sequence[str], dataset: str, layout: str) -> Path:
    """Return ``Path(root)`` if every relative path in ``files`` exists below it, else raise
    :class:`DatasetNotFoundError` naming the missing path and the layout expected."""
    root = Path(root).expanduser()
    missing = [f for f in files if not (root / f).exists()]
    if missing:
        raise DatasetNotFoundError(
            f"{dataset}: missing {root / missing[0]}"
            + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else "")
            + f".\nExpected layout under data.root={root}:\n{layout}\n"
            "Nothing is downloaded: put the files there, or point paths.data_dir (or the RSMOOTH_DATA variable) at "
            "the folder that holds them."
        )
    return root


class ImageDataModule(pl.LightningDataModule):
    """Train / validation / test loaders over a training and a test dataset.

    :meth:`validation_dataset` is held out from the training data (see the module docstring);
    :meth:`certification_dataset` is the test split, indexed as the results file's ``idx``.
    """

    name: str = "dataset"
    num_classes: int
    input_shape: tuple[int, int, int]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    quantization: int

    def __init__(
        self,
        batch_size: int = 128,
        num_workers: int = 0,
        pin_memory: bool = False,
        val_size: int = 0,
        split_seed: int = 0,
    ) -> None:
        super().__init__()
        self.batch_size = check_count("data.batch_size", batch_size)
        self.num_workers = check_count("data.num_workers", num_workers, minimum=0)
        self.pin_memory = pin_memory
        self.val_size = check_count("data.val_size (examples held out of the training data)", val_size)
        self.split_seed = check_count("data.split_seed", split_seed, minimum=0)
        self._train: Dataset[Any] | None = None
        self._val: Dataset[Any] | None = None
        self._test: Dataset[Any] | None = None

    def use_spec(self, spec: DatasetSpec) -> None:
        """Take classes, shape, normalization and quantization from a fixed :class:`DatasetSpec`."""
        self.num_classes, self.input_shape = spec.num_classes, spec.input_shape
        self.mean, self.std, self.quantization = spec.mean, spec.std, spec.quantization

    @abstractmethod
    def build_train(self, augment: bool) -> Dataset[Any]:
        """The training data, with training augmentations (``augment``) or the evaluation transform."""

    @abstractmethod
    def build_test(self) -> Dataset[Any]:
        """The test split, with the evaluation transform."""

    def _split(self, total: int) -> tuple[list[int], list[int]]:
        if self.val_size >= total:
            raise ConfigError(
                f"data.val_size={self.val_size} leaves nothing to train on: the training data of "
                f"{self.name} has {total} examples"
            )
        perm = np.random.default_rng(self.split_seed).permutation(total).tolist()
        return sorted(perm[self.val_size :]), sorted(perm[: self.val_size])

    def setup(self, stage: str | None = None) -> None:
        if stage in (None, "fit", "validate") and self._train is None:
            augmented = self.build_train(augment=True)
            train_idx, val_idx = self._split(len(cast(Examples, augmented)))
            self._train = Subset(augmented, train_idx)
            self._val = Subset(self.build_train(augment=False), val_idx)
        if self._test is None:
            self._test = self.build_test()

    def _loader(self, ds: Dataset[Any], shuffle: bool) -> DataLoader[Any]:
        return DataLoader(
            ds,
            batch_size=self.batch_size,
            shuffle=shuffle,
            num_workers=self.num_workers,
            pin_memory=self.pin_memory and torch.cuda.is_available(),
            persistent_workers=self.num_workers > 0,
            drop_last=False,
        )

    def train_dataloader(self) -> DataLoader[Any]:
        self.setup("fit")
        assert self._train is not None
        return self._loader(self._train, shuffle=True)

    def val_dataloader(self) -> DataLoader[Any]:
        self.setup("fit")
        assert self._val is not None
        return self._loader(self._val, shuffle=False)

    def test_dataloader(self) -> DataLoader[Any]:
        self.certification_dataset()
        assert self._test is not None
        return self._loader(self._test, shuffle=False)

    def validation_dataset(self) -> Examples:
        """The held-out part of the training data (evaluation transform), indexed 0 … val_size−1."""
        self.setup("fit")
        assert self._val is not None
        return cast(Examples, self._val)  # a map-style dataset with a length

    def certification_dataset(self) -> Examples:
        """The test split (evaluation transform), indexed as the certification TSV's ``idx``."""
        if self._test is None:
            self._test = self.build_test()
        return cast(Examples, self._test)  # a map-style dataset with a length

    def spec(self) -> DatasetSpec:
        return DatasetSpec(
            self.name,
            int(self.num_classes),
            _shape(self.input_shape),
            tuple(float(m) for m in self.mean),
            tuple(float(s) for s in self.std),
            int(self.quantization),
        )

    def info(self) -> dict[str, Any]:
        """What a checkpoint records about the data its model was trained on."""
        return self.spec().info()


class FilesDataModule(ImageDataModule):
    """A dataset read by a torchvision reader from files under ``root``.

    Subclasses name the files (``required_files``, relative to ``root``) and the
    ``layout`` a user must provide; a missing file is a :class:`DatasetNotFoundError`
    before anything is read. ``verify_checksums`` turns on torchvision's md5 checks
    (off by default, so that files in the same format but other contents, e.g.
    subsets, load too).
    """

    required_files: tuple[str, ...] = ()
    layout: str = ""

    def __init__(
        self,
        root: str,
        batch_size: int = 128,
        num_workers: int = 2,
        pin_memory: bool = True,
        verify_checksums: bool = False,
        val_size: int = 5000,
        split_seed: int = 0,
    ) -> None:
        super().__init__(batch_size, num_workers, pin_memory, val_size, split_seed)
        self.root = require_files(root, self.required_files, self.name, self.layout)
        self.verify_checksums = verify_checksums
