"""Deterministic synthetic quantized images, for tests and smoke runs."""

from __future__ import annotations

import torch
from torch.utils.data import TensorDataset

from rsmooth.data.base import ImageDataModule
from rsmooth.errors import ConfigError


class FakeDataModule(ImageDataModule):
    """Each class is a fixed random prototype image; an example is its prototype
    plus uniform jitter, clipped to [0, 1] and quantized to q levels. Same
    ``seed`` → same bytes; the task is learnable, so a short training run
    moves accuracy."""

    name = "fake"

    def __init__(
        self,
        num_classes: int = 10,
        input_shape: tuple[int, int, int] | list[int] = (3, 8, 8),
        train_size: int = 256,
        test_size: int = 64,
        quantization: int = 255,
        jitter: float = 0.15,
        seed: int = 0,
        batch_size: int = 32,
        num_workers: int = 0,
        pin_memory: bool = False,
        val_size: int = 16,
        split_seed: int = 0,
    ) -> None:
        super().__init__(batch_size, num_workers, pin_memory, val_size, split_seed)
        shape = tuple(int(s) for s in input_shape)
        if len(shape) != 3 or min(shape) < 1:
            raise ConfigError(f"data.input_shape must be (C, H, W) with positive sizes, got {input_shape}")
        if num_classes < 2 or train_size < 1 or test_size < 1 or quantization < 1:
            raise ConfigError("data.num_classes >= 2, train_size/test_size >= 1 and quantization >= 1 are required")
        self.num_classes = num_classes
        self.input_shape = shape
        self.quantization = quantization
        gen = torch.Generator().manual_seed(seed)
        self._prototypes = torch.rand((num_classes, *shape), generator=gen)
        self._train_data = self._draw(train_size, jitter, gen)
        self._test_data = self._draw(test_size, jitter, gen)
        train_x = self._train_data[0]
        self.mean = tuple(float(v) for v in train_x.mean(dim=(0, 2, 3)))
        self.std = tuple(float(v) for v in train_x.std(dim=(0, 2, 3)).clamp_min(1e-3))

    def _draw(self, size: int, jitter: float, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        labels = torch.arange(size) % self.num_classes
        noise = (torch.rand((size, *self.input_shape), generator=gen) * 2 - 1) * jitter
        x = (self._prototypes[labels] + noise).clamp(0, 1)
        x = torch.round(x * self.quantization) / self.quantization
        return x.float(), labels.long()

    def build_train(self, augment: bool) -> TensorDataset:
        return TensorDataset(*self._train_data)

    def build_test(self) -> TensorDataset:
        return TensorDataset(*self._test_data)
