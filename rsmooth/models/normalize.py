"""Dataset normalization as the model's first layer (docs/design.md §1.2)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


class NormalizeLayer(nn.Module):
    """(x − mean) / std per channel. Placing it inside the model keeps noise and
    radii in [0, 1]-pixel units (Cohen et al.'s reference code does the same)."""

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, mean: Sequence[float], std: Sequence[float]) -> None:
        super().__init__()
        if len(mean) != len(std):
            raise ValueError(f"mean and std must have one entry per channel, got {len(mean)} and {len(std)}")
        if any(s <= 0 for s in std):
            raise ValueError(f"std entries must be > 0, got {list(std)}")
        # Buffers (not parameters): they move with .to(device) and are saved, never trained.
        self.register_buffer("mean", torch.tensor(list(mean), dtype=torch.float32).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(list(std), dtype=torch.float32).view(1, -1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


class NormalizedClassifier(nn.Module):
    """``net(NormalizeLayer(x))``: the base classifier f on [0, 1] inputs."""

    def __init__(self, net: nn.Module, mean: Sequence[float], std: Sequence[float]) -> None:
        super().__init__()
        self.normalize = NormalizeLayer(mean, std)
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(self.normalize(x))
