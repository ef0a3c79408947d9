"""The objective contract: a small callable the LightningModule plugs in."""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, field

import torch
from torch import nn

from rsmooth.errors import ConfigError
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

    def bind(self, model: nn.Module, noise: NoiseFamily) -> None:  # noqa: B027 - optional hook
        """Refuse a model or family this objective is not defined for (one :class:`~rsmooth.errors.ConfigError`
        line), once, before any training: the module calls it when it is built."""

    def start_epoch(self, epoch: int) -> None:  # noqa: B027 - optional hook
        """Called at the start of every training epoch (0-based), for schedules such as SmoothAdv's ε warm-up."""


def noisy_copies(noise: NoiseFamily, x: torch.Tensor, m: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """m noisy copies of each example of x (B, C, H, W) → (B·m, C, H, W), example-major (copies of example i are
    rows i·m … i·m + m − 1), drawn in one call: the m copies cost one batched forward pass, not m."""
    return noise.perturb(x.repeat_interleave(m, dim=0), generator)


def check_copies(m: object) -> int:
    """The number of noisy copies per input: an integer >= 1."""
    if isinstance(m, bool) or not isinstance(m, int) or m < 1:
        raise ConfigError(f"objective.m (noisy copies per input) must be an integer >= 1, got {m!r}")
    return m


def check_weight(name: str, value: object) -> float:
    """A loss weight: a finite number >= 0."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        raise ConfigError(f"objective.{name} must be a number >= 0, got {value!r}")
    return float(value)
