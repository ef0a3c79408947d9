"""Gaussian data augmentation (Cohen et al. 2019 §3.3, Appendix F), and clean training for comparison."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from rsmooth.noise.base import NoiseFamily
from rsmooth.training.objectives.base import Objective, ObjectiveOutput


class NoiseAugmentation(Objective):
    """CE(f(x̃), y) with x̃ = perturb(x), fresh noise per example."""

    def __call__(self, model: nn.Module, noise: NoiseFamily, x: torch.Tensor, y: torch.Tensor) -> ObjectiveOutput:
        logits = model(noise.perturb(x))
        loss = F.cross_entropy(logits, y)
        return ObjectiveOutput(loss, logits, {"ce": loss.detach()})


class Clean(Objective):
    """CE(f(x), y) on clean inputs: a classifier trained without noise (the frozen classifier of denoised
    smoothing, Salman et al. 2020); the noise family is not used."""

    def __call__(self, model: nn.Module, noise: NoiseFamily, x: torch.Tensor, y: torch.Tensor) -> ObjectiveOutput:
        logits = model(x)
        loss = F.cross_entropy(logits, y)
        return ObjectiveOutput(loss, logits, {"ce": loss.detach()})
