"""Stability training (Li et al. 2019; Yang et al. 2020, as used by Levine & Feizi 2021)."""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn
from torch.nn import functional as F

from rsmooth.noise.base import NoiseFamily
from rsmooth.training.objectives.base import Objective, ObjectiveOutput

DEFAULT_LAM = {"noisy": 6.0, "clean": 1.0}


def kl_from_logits(p_logits: torch.Tensor, q_logits: torch.Tensor) -> torch.Tensor:
    """Mean over the batch of KL(softmax p ‖ softmax q) = Σ_c p_c (log p_c − log q_c)."""
    log_p = F.log_softmax(p_logits, dim=1)
    log_q = F.log_softmax(q_logits, dim=1)
    return (log_p.exp() * (log_p - log_q)).sum(dim=1).mean()


class Stability(Objective):
    """docs/design.md §4.

    * ``anchor='noisy'``: CE(f(x̃₁), y) + lam · KL(softmax f(x̃₁) ‖ softmax f(x̃₂)), two independent
      noisy copies (default lam = 6).
    * ``anchor='clean'``: CE(f(x), y) + lam · KL(softmax f(x) ‖ softmax f(x̃)) (default lam = 1).

    Gradients flow through both terms of the KL. ``lam=None`` takes the default for the anchor.
    """

    def __init__(self, lam: float | None = None, anchor: Literal["noisy", "clean"] = "noisy") -> None:
        if anchor not in DEFAULT_LAM:
            raise ValueError(f"objective.anchor must be 'noisy' or 'clean', got {anchor!r}")
        self.anchor = anchor
        self.lam = DEFAULT_LAM[anchor] if lam is None else float(lam)
        if self.lam < 0:
            raise ValueError(f"objective.lam must be >= 0, got {lam}")

    def __call__(self, model: nn.Module, noise: NoiseFamily, x: torch.Tensor, y: torch.Tensor) -> ObjectiveOutput:
        b = x.shape[0]
        if self.anchor == "noisy":
            # One forward pass over both copies: (2B, C, H, W).
            logits = model(noise.perturb(torch.cat([x, x], dim=0)))
            first, second = logits[:b], logits[b:]
        else:
            logits = model(torch.cat([x, noise.perturb(x)], dim=0))
            first, second = logits[:b], logits[b:]
        ce = F.cross_entropy(first, y)
        kl = kl_from_logits(first, second)
        loss = ce + self.lam * kl
        noisy_logits = first if self.anchor == "noisy" else second
        return ObjectiveOutput(loss, noisy_logits, {"ce": ce.detach(), "kl": kl.detach()})
