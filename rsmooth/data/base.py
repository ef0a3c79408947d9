"""Shared base of the rsmooth data modules (SPEC §5).

Every data module yields float images in [0, 1] (normalization is the model's
first layer, never a transform) and exposes ``mean``, ``std``,
``num_classes``, ``input_shape`` and ``quantization`` (q: pixel values lie on
{0, 1/q, …, 1}). A subclass only says how to build its train and test
datasets; loaders, subsets and the checkpoint record live here once.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, Dataset


class DatasetNotFoundError(FileNotFoundError):
    """A dataset is not where the config says; the message names the path and the expected layout."""


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
            "These machines download nothing: put the files there or point data.root at them."
        )
    return root


class ImageDataModule(pl.LightningDataModule):
    """Train/validation/test loaders over a train and a test dataset.

    Validation runs on the test split, as the reference codes do; the
    certification callback and the final certification read
    :meth:`certification_dataset` (test split, evaluation transform).
    """

    name: str = "dataset"
    num_classes: int
    input_shape: tuple[int, int, int]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    quantization: int

    def __init__(self, batch_size: int = 128, num_workers: int = 0, pin_memory: bool = False) -> None:
        super().__init__()
        if batch_size < 1:
            raise ValueError(f"data.batch_size must be >= 1, got {batch_size}")
        if num_workers < 0:
            raise ValueError(f"data.num_workers must be >= 0, got {num_workers}")
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.pin_memory = pin_memory
        self._train: Dataset[Any] | None = None
        self._test: Dataset[Any] | None = None

    @abstractmethod
    def build_train(self) -> Dataset[Any]:
        """The training split, with training augmentations."""

    @abstractmethod
    def build_test(self) -> Dataset[Any]:
        """The test split, with the evaluation transform."""

    def setup(self, stage: str | None = None) -> None:
        if stage in (None, "fit") and self._train is None:
            self._train = self.build_train()
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
        return self._loader(self.certification_dataset(), shuffle=False)

    def test_dataloader(self) -> DataLoader[Any]:
        return self._loader(self.certification_dataset(), shuffle=False)

    def certification_dataset(self) -> Dataset[Any]:
        """The test split (evaluation transform), indexed as the certification TSV's ``idx``."""
        if self._test is None:
            self._test = self.build_test()
        return self._test

    def info(self) -> dict[str, Any]:
        """What a checkpoint records about the data its model was trained on."""
        return {
            "name": self.name,
            "num_classes": int(self.num_classes),
            "input_shape": [int(s) for s in self.input_shape],
            "mean": [float(m) for m in self.mean],
            "std": [float(s) for s in self.std],
            "quantization": int(self.quantization),
        }


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
    ) -> None:
        super().__init__(batch_size, num_workers, pin_memory)
        self.root = require_files(root, self.required_files, self.name, self.layout)
        self.verify_checksums = verify_checksums
