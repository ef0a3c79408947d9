"""f∘D: a denoiser in front of a frozen classifier, the base classifier of denoised smoothing (Salman et al. 2020).

The smoothed classifier of f∘D is certified like any other: the certificate does not care what the base
classifier is made of. Training changes D only: the classifier's parameters never take a gradient, and it stays
in ``eval`` mode whatever mode the whole is put in, so its BatchNorm statistics are never updated.
"""

from __future__ import annotations

import torch
from torch import nn

from rsmooth.models.normalize import NormalizedClassifier


class DenoisedClassifier(nn.Module):
    """``classifier(denoiser(x))``: x in [0, 1] pixels; the denoiser returns pixels; the classifier normalizes
    its own input (a :class:`NormalizedClassifier`). State-dict keys: ``denoiser.*`` and ``classifier.*``."""

    def __init__(self, denoiser: nn.Module, classifier: NormalizedClassifier) -> None:
        super().__init__()
        self.denoiser = denoiser
        self.classifier = classifier
        self.classifier.requires_grad_(False)
        self.classifier.eval()

    def train(self, mode: bool = True) -> DenoisedClassifier:
        super().train(mode)
        self.classifier.eval()  # frozen: its BatchNorm layers keep their running statistics
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.denoiser(x))
