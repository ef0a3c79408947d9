"""Cohen et al. (2019), Theorem 1: the tight ℓ2 certificate of Gaussian smoothing (SPEC §3.2)."""

from __future__ import annotations

import math
from typing import Any

from scipy.stats import norm as _std_normal

from rsmooth.certify.certificate import BoundCertificate, runner_up_bound


class CohenCertificate(BoundCertificate):
    """If P(f(x+z) = c_A) ≥ p̲_A and max_{c≠c_A} P(f(x+z) = c) ≤ p̄_B with z ~ N(0, σ²I), then
    g(x+δ) = c_A for every ‖δ‖₂ < R = σ/2·(Φ⁻¹(p̲_A) − Φ⁻¹(p̄_B)); with p̄_B = 1 − p̲_A,
    R = σΦ⁻¹(p̲_A). With ``norm='linf'`` the radius is R/√d, since ‖δ‖₂ ≤ √d‖δ‖∞.
    """

    def __init__(self, sigma: float, norm: str = "l2", bilateral: bool = False) -> None:
        super().__init__(bilateral)
        if norm not in ("l2", "linf"):
            raise ValueError(f"norm must be 'l2' or 'linf', got {norm!r}")
        self.sigma = float(sigma)
        self.norm = norm
        self.base_name = "cohen" if norm == "l2" else "cohen_linf"

    def radius(self, p_lower: float, dim: int, p_upper_runner_up: float | None = None) -> float:
        p_b = runner_up_bound(p_lower, p_upper_runner_up)
        if not p_lower > p_b:
            return 0.0
        if p_upper_runner_up is None:
            r = self.sigma * float(_std_normal.ppf(p_lower))
        else:
            r = 0.5 * self.sigma * float(_std_normal.ppf(p_lower) - _std_normal.ppf(p_b))
        if self.norm == "linf":
            if dim < 1:
                raise ValueError(f"dim must be >= 1 for an l_inf radius, got {dim}")
            r /= math.sqrt(dim)
        return max(0.0, r)

    def params(self) -> dict[str, Any]:
        return {"sigma": self.sigma, **super().params()}
