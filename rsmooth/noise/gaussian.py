"""Isotropic Gaussian smoothing (Cohen, Rosenfeld & Kolter 2019)."""

from __future__ import annotations

import math
from typing import Any

import torch
from scipy.stats import norm as _std_normal

from rsmooth.noise.base import NoiseFamily, Norm, check_norm, check_positive


class GaussianNoise(NoiseFamily):
    """z ~ N(0, σ² I) added in pixel space (SPEC §2.1).

    Guarantee (Cohen et al. 2019, Theorem 1): if P(f(x+z) = c_A) ≥ p̲_A and
    max_{c≠c_A} P(f(x+z) = c) ≤ p̄_B, then g(x+δ) = c_A for all
    ‖δ‖₂ < R = σ/2 · (Φ⁻¹(p̲_A) − Φ⁻¹(p̄_B)); with p̄_B = 1 − p̲_A this is
    R = σ Φ⁻¹(p̲_A). With ``norm='linf'`` the radius is R/√d (‖δ‖₂ ≤ √d‖δ‖∞).
    """

    name = "gaussian"

    def __init__(self, sigma: float, norm: Norm = "l2") -> None:
        self.sigma = check_positive("sigma", sigma)
        self.norm = check_norm(norm, ("l2", "linf"))

    def _params(self) -> dict[str, Any]:
        return {"sigma": self.sigma, "norm": self.norm}

    def perturb(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        # Noise is drawn and added in float32 whatever the model runs in.
        x = x.float()
        z = torch.randn(x.shape, generator=generator, device=x.device, dtype=torch.float32)
        return x + self.sigma * z

    def _l2_to_norm(self, r_l2: float, dim: int) -> float:
        if self.norm == "linf":
            if dim < 1:
                raise ValueError(f"dim must be >= 1 for an l_inf radius, got {dim}")
            return r_l2 / math.sqrt(dim)
        return r_l2

    def radius(self, p_lower: float, dim: int) -> float:
        if not p_lower > 0.5:
            return 0.0
        r = self.sigma * float(_std_normal.ppf(p_lower))
        return max(0.0, self._l2_to_norm(r, dim))

    def radius_bilateral(self, p_lower: float, p_upper_runner_up: float, dim: int) -> float:
        # p̄_B ≤ 1 − p̲_A always; using min keeps the bound valid and never looser.
        p_b = min(float(p_upper_runner_up), 1.0 - float(p_lower))
        if not p_lower > p_b:
            return 0.0
        r = 0.5 * self.sigma * float(_std_normal.ppf(p_lower) - _std_normal.ppf(p_b))
        return max(0.0, self._l2_to_norm(r, dim))
