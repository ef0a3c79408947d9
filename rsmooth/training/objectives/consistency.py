"""Consistency regularization (Jeong & Shin 2020, "Consistency Regularization for Certified Robustness of
Smoothed Classifiers", eq. (6)): m noisy copies per input; cross-entropy on each, plus λ times the mean KL
divergence from the copies' mean prediction to each copy, plus η times the entropy of that mean."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from rsmooth.noise.base import NoiseFamily
from rsmooth.training.objectives.base import Objective, ObjectiveOutput, check_copies, check_weight, noisy_copies


class Consistency(Objective):
    """With p_i = softmax f(x + δ_i), i = 1 … m, and p̂ = (1/m) Σ_i p_i:

        L = (1/m) Σ_i CE(f(x + δ_i), y) + λ·(1/m) Σ_i KL(p̂ ‖ p_i) + η·H(p̂),

    averaged over the batch; gradients flow through p̂ as well. The paper's settings: m = 2, η = 0.5,
    λ ∈ {5, 10, 20} (larger λ: more robustness, less clean accuracy). Any family: only ``perturb`` is used.
    """

    def __init__(self, lam: float = 10.0, eta: float = 0.5, m: int = 2) -> None:
        self.lam = check_weight("lam", lam)
        self.eta = check_weight("eta", eta)
        self.m = check_copies(m)

    def __call__(self, model: nn.Module, noise: NoiseFamily, x: torch.Tensor, y: torch.Tensor) -> ObjectiveOutput:
        b, m = x.shape[0], self.m
        logits = model(noisy_copies(noise, x, m))  # (B·m, K), one forward pass for every copy
        ce = F.cross_entropy(logits, y.repeat_interleave(m))
        log_p = F.log_softmax(logits.float(), dim=1).view(b, m, -1)  # (B, m, K)
        mean = log_p.exp().mean(dim=1)  # p̂: (B, K)
        log_mean = mean.clamp_min(1e-12).log()
        kl = (mean.unsqueeze(1) * (log_mean.unsqueeze(1) - log_p)).sum(dim=2).mean()  # mean over B and m
        entropy = -(mean * log_mean).sum(dim=1).mean()
        loss = ce + self.lam * kl + self.eta * entropy
        first = logits.view(b, m, -1)[:, 0]
        return ObjectiveOutput(loss, first, {"ce": ce.detach(), "kl": kl.detach(), "entropy": entropy.detach()})
