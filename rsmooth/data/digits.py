"""scikit-learn's bundled 8×8 handwritten digits: 1797 real images, no download."""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import TensorDataset

from rsmooth.data.base import ImageDataModule
from rsmooth.errors import ConfigError


class DigitsDataModule(ImageDataModule):
    """UCI handwritten digits (values 0–16 → x/16, so q = 16), one channel, 10 classes.

    The train/test split is a fixed permutation from ``split_seed``; mean/std
    are those of the training split; ``val_size`` of its images are held out for validation.
    """

    name = "digits"
    num_classes = 10
    input_shape = (1, 8, 8)
    quantization = 16

    def __init__(
        self,
        test_fraction: float = 0.2,
        split_seed: int = 0,
        batch_size: int = 64,
        num_workers: int = 0,
        pin_memory: bool = False,
        val_size: int = 200,
    ) -> None:
        super().__init__(batch_size, num_workers, pin_memory, val_size, split_seed)
        if not 0.0 < test_fraction < 1.0:
            raise ConfigError(f"data.test_fraction must be in (0, 1), got {test_fraction}")
        from sklearn.datasets import load_digits

        digits = load_digits()
        images = torch.from_numpy(digits.images.astype(np.float32) / 16.0).unsqueeze(1)  # (N, 1, 8, 8)
        labels = torch.from_numpy(digits.target.astype(np.int64))
        perm = torch.from_numpy(np.random.default_rng(split_seed).permutation(len(labels)))
        n_test = round(test_fraction * len(labels))
        self._test_idx, self._train_idx = perm[:n_test], perm[n_test:]
        self._images, self._labels = images, labels
        train = images[self._train_idx]
        self.mean = (float(train.mean()),)
        self.std = (float(train.std()),)

    def build_train(self, augment: bool) -> TensorDataset:
        return TensorDataset(self._images[self._train_idx], self._labels[self._train_idx])

    def build_test(self) -> TensorDataset:
        return TensorDataset(self._images[self._test_idx], self._labels[self._test_idx])
