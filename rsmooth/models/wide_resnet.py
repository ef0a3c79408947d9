"""Wide ResNet (Zagoruyko & Komodakis 2016) for 32×32 inputs; WRN-40-2 by default."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class WideBlock(nn.Module):
    """Pre-activation wide block: BN-ReLU-conv-BN-ReLU-(dropout)-conv + shortcut."""

    def __init__(self, in_planes: int, planes: int, stride: int, dropout: float) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_planes)
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.shortcut: nn.Module | None = None
        if stride != 1 or in_planes != planes:
            self.shortcut = nn.Conv2d(in_planes, planes, 1, stride=stride, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        o = F.relu(self.bn1(x))
        shortcut = x if self.shortcut is None else self.shortcut(o)
        out = self.conv1(o)
        out = self.conv2(self.dropout(F.relu(self.bn2(out))))
        return out + shortcut


class WideResNet(nn.Module):
    """WRN-depth-widen: (B, C, H, W) → (B, num_classes); depth = 6n + 4."""

    def __init__(
        self, depth: int = 40, widen: int = 2, num_classes: int = 10, in_channels: int = 3, dropout: float = 0.0
    ) -> None:
        super().__init__()
        if (depth - 4) % 6 != 0:
            raise ValueError(f"WideResNet depth must be 6n+4 (16, 28, 40, ...), got {depth}")
        n = (depth - 4) // 6
        widths = [16, 16 * widen, 32 * widen, 64 * widen]
        self.conv1 = nn.Conv2d(in_channels, widths[0], 3, padding=1, bias=False)
        blocks: list[nn.Module] = []
        in_planes = widths[0]
        for stage, stride in zip(widths[1:], (1, 2, 2)):
            for i in range(n):
                blocks.append(WideBlock(in_planes, stage, stride if i == 0 else 1, dropout))
                in_planes = stage
        self.blocks = nn.Sequential(*blocks)
        self.bn = nn.BatchNorm2d(in_planes)
        self.fc = nn.Linear(in_planes, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.blocks(self.conv1(x))
        out = F.relu(self.bn(out))
        return self.fc(F.adaptive_avg_pool2d(out, 1).flatten(1))


def wrn_40_2(num_classes: int, in_channels: int, dropout: float = 0.0) -> WideResNet:
    return WideResNet(40, 2, num_classes, in_channels, dropout)
