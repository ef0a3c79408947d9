"""The objective contract: a small callable the LightningModule plugs in."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field

import torch
from torch import nn

from rsmooth.noise.base import NoiseFamily


@dataclass
class ObjectiveOutput:
    """``loss`` to minimise, ``logits`` on a noisy copy (for accuracy), and named parts to log."""

    loss: torch.Tensor
    logits: torch.Tensor
    parts: dict[str, torch.Tensor] = field(default_factory=dict)


class Objective(ABC):
    """Training loss of a base classifier under a smoothing distribution.

    ``model`` maps a batch in [0, 1] to logits; ``noise.perturb`` gives fresh
    noise per example (float32).
    """

    @abstractmethod
    def __call__(self, model: nn.Module, noise: NoiseFamily, x: torch.Tensor, y: torch.Tensor) -> ObjectiveOutput:
        """Return the loss on the batch (x: (B, C, H, W) in [0, 1], y: (B,))."""
