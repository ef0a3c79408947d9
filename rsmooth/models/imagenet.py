"""torchvision ImageNet architectures (randomly initialised: nothing is downloaded)."""

from __future__ import annotations

from torch import nn
from torchvision import models


def resnet50(num_classes: int, in_channels: int) -> nn.Module:
    """torchvision ResNet-50 with ``num_classes`` outputs (Cohen et al.'s ImageNet base classifier)."""
    net = models.resnet50(weights=None, num_classes=num_classes)
    if in_channels != 3:
        net.conv1 = nn.Conv2d(in_channels, 64, kernel_size=7, stride=2, padding=3, bias=False)
    return net
