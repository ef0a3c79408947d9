"""The pure-DP ℓ∞ certificate of exponential smoothing π0(z) ∝ exp(−‖z‖∞/σ′) (unified DP
framework, Theorem 13; docs/design.md §3.5)."""

from __future__ import annotations

import math
from typing import Any

from rsmooth.certificates.base import BoundCertificate, runner_up_bound


def exponential_scale(sigma: float, dim: int) -> float:
    """σ′ of π0(z) ∝ exp(−‖z‖∞/σ′) whose per-coordinate standard deviation is ``sigma`` in dimension d.

    With the sampler R ~ Gamma(d+1, σ′), z ~ Uniform([−R, R]^d) (docs/design.md §2.4):
    E z_i² = E R²/3 = σ′²(d+1)(d+2)/3, so σ′ = σ·sqrt(3/((d+1)(d+2))).
    """
    if dim < 1:
        raise ValueError(f"dim must be >= 1, got {dim}")
    return float(sigma) * math.sqrt(3.0 / ((dim + 1.0) * (dim + 2.0)))


def pure_dp_radius(p_lower: float, p_upper: float, scale: float) -> float:
    """R = (σ′/2)·ln(p̲_A/p̄_B); 0 when p̲_A ≤ p̄_B.

    For ‖δ‖∞ ≤ r the density ratio π0(z − δ)/π0(z) = exp((‖z‖∞ − ‖z − δ‖∞)/σ′) lies in
    [e^{−r/σ′}, e^{r/σ′}] (triangle inequality), so every class probability of the smoothed classifier
    changes by at most that factor: P_δ(A) ≥ e^{−r/σ′}p̲_A > e^{r/σ′}p̄_B ≥ P_δ(B) while r < R.
    """
    p_a, p_b = float(p_lower), float(p_upper)
    if not p_a > p_b:
        return 0.0
    if p_b <= 0.0:
        return math.inf
    return max(0.0, 0.5 * float(scale) * (math.log(p_a) - math.log(p_b)))


class PureDPLinfCertificate(BoundCertificate):
    """g(x+δ) = c_A for every ‖δ‖∞ < (σ′/2)·ln(p̲_A/p̄_B), σ′ = :func:`exponential_scale` (σ, d)."""

    norm = "linf"
    base_name = "pure_dp"

    def __init__(self, sigma: float, bilateral: bool = False) -> None:
        super().__init__(bilateral)
        self.sigma = float(sigma)

    def radius(self, p_lower: float, dim: int, p_upper_runner_up: float | None = None) -> float:
        p_b = runner_up_bound(p_lower, p_upper_runner_up)
        return pure_dp_radius(p_lower, p_b, exponential_scale(self.sigma, dim))

    def params(self) -> dict[str, Any]:
        return {"sigma": self.sigma, **super().params()}
