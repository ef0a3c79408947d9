"""Denoisers for denoised smoothing (Salman et al. 2020, "Denoised Smoothing", §3): networks D that map a noisy
image x + δ in [0, 1] pixels back to an estimate of x, so that a frozen classifier f sees f(D(x + δ)).

Both predict the noise and subtract it (residual learning, Zhang et al. 2017), which starts training at the
identity map. A factory ``(in_channels) -> nn.Module`` is what a model config names (``conf/model/dncnn*.yaml``,
``conf/model/unet.yaml``).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class DnCNN(nn.Module):
    """DnCNN (Zhang et al. 2017): conv-ReLU, ``depth − 2`` × (conv-BN-ReLU), conv; output x − (estimated noise).

    Salman et al. 2020 use depth 17, width 64 on CIFAR-10 and ImageNet. Shape-preserving: (B, C, H, W) →
    (B, C, H, W) for every H, W.
    """

    def __init__(self, in_channels: int, depth: int = 17, width: int = 64) -> None:
        super().__init__()
        if depth < 3 or width < 1:
            raise ValueError(f"a DnCNN needs depth >= 3 and width >= 1, got depth={depth}, width={width}")
        layers: list[nn.Module] = [nn.Conv2d(in_channels, width, 3, padding=1), nn.ReLU(inplace=True)]
        for _ in range(depth - 2):
            layers += [nn.Conv2d(width, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU(inplace=True)]
        layers.append(nn.Conv2d(width, in_channels, 3, padding=1))
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x - self.body(x)


def _block(c_in: int, c_out: int) -> nn.Sequential:
    """Two conv-BN-ReLU at one resolution."""
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
        nn.Conv2d(c_out, c_out, 3, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    )


class UNet(nn.Module):
    """A U-Net style denoiser (Ronneberger et al. 2015): ``levels`` encoder stages that halve the resolution and
    double the width, a decoder with skip connections, and a 1×1 conv to the noise estimate; output x − noise.

    Inputs whose H or W is not divisible by 2^levels are padded (reflection) and cropped back, so any shape works.
    """

    def __init__(self, in_channels: int, width: int = 32, levels: int = 2) -> None:
        super().__init__()
        if levels < 1 or width < 1:
            raise ValueError(f"a UNet needs levels >= 1 and width >= 1, got levels={levels}, width={width}")
        self.levels = levels
        widths = [width * 2**i for i in range(levels + 1)]
        self.down = nn.ModuleList([_block(in_channels, widths[0])])
        self.down.extend(_block(widths[i], widths[i + 1]) for i in range(levels))
        self.up = nn.ModuleList(nn.ConvTranspose2d(widths[i + 1], widths[i], 2, stride=2) for i in range(levels))
        self.merge = nn.ModuleList(_block(2 * widths[i], widths[i]) for i in range(levels))
        self.out = nn.Conv2d(widths[0], in_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        step = 2**self.levels
        pad_h, pad_w = (-h) % step, (-w) % step
        y = F.pad(x, (0, pad_w, 0, pad_h), mode="reflect") if pad_h or pad_w else x
        skips = []
        for i, block in enumerate(self.down):
            y = block(y if i == 0 else F.max_pool2d(y, 2))
            skips.append(y)
        for i in reversed(range(self.levels)):
            y = self.merge[i](torch.cat([skips[i], self.up[i](y)], dim=1))
        return x - self.out(y)[..., :h, :w]


def dncnn(in_channels: int, depth: int = 17, width: int = 64) -> DnCNN:
    return DnCNN(in_channels, depth, width)


def unet(in_channels: int, width: int = 32, levels: int = 2) -> UNet:
    return UNet(in_channels, width, levels)
