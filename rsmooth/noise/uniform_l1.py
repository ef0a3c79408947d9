"""Uniform additive noise for ℓ1 (Lee et al. 2019; Yang et al. 2020)."""

from __future__ import annotations

import math
from typing import Any

import torch

from rsmooth.noise.base import NoiseFamily, check_positive


def lipschitz_l1_radius(lam: float, p_a: float, p_b: float) -> float:
    """λ(p_A − p_B), or 0 when p_A ≤ p_B: the ℓ1 radius of a 1/(2λ)-Lipschitz smoothed classifier."""
    return max(0.0, lam * (float(p_a) - float(p_b)))


class LipschitzL1Noise(NoiseFamily):
    """Families whose smoothed class probabilities are 1/(2λ)-Lipschitz in ℓ1 (SPEC §3.3), λ = √3·σ.

    Then g(x + δ) = c_A while ‖δ‖₁ < λ(p̲_A − p̄_B); with p̄_B = 1 − p̲_A, R = 2λ(p̲_A − 1/2).
    Subclasses supply :meth:`perturb` (and may set a different effective ``lam``).
    """

    norm = "l1"

    def __init__(self, sigma: float) -> None:
        self.sigma = check_positive("sigma", sigma)
        self.lam = math.sqrt(3.0) * self.sigma

    def _params(self) -> dict[str, Any]:
        return {"sigma": self.sigma}

    def radius(self, p_lower: float, dim: int) -> float:
        return lipschitz_l1_radius(self.lam, p_lower, 1.0 - p_lower)

    def radius_bilateral(self, p_lower: float, p_upper_runner_up: float, dim: int) -> float:
        return lipschitz_l1_radius(self.lam, p_lower, min(p_upper_runner_up, 1.0 - p_lower))


class UniformL1Noise(LipschitzL1Noise):
    """z ~ Uniform([−λ, λ]^d) with λ = √3·σ (σ is the per-coordinate standard deviation; SPEC §2.5).

    Guarantee (Lee et al. 2019; Yang et al. 2020): each smoothed class probability is
    1/(2λ)-Lipschitz in ℓ1, so R = 2λ(p̲_A − 1/2) (see :class:`LipschitzL1Noise`).
    """

    name = "uniform_l1"

    def perturb(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        x = x.float()
        u = torch.rand(x.shape, generator=generator, device=x.device, dtype=torch.float32)
        return x + (2.0 * u - 1.0) * self.lam
