"""The density-ratio ℓ∞ certificate of exponential smoothing π0(z) ∝ exp(−‖z‖∞/σ′): the pure-DP bound of the
unified DP framework (Theorem 13) and its complement form (Yang et al. 2020), the larger of them (docs/design.md
§3.5)."""

from __future__ import annotations

import math
from typing import Any

import torch

from rsmooth.certificates.base import BoundCertificate, DifferentiableRadius, runner_up_bound


def exponential_scale(sigma: float, dim: int) -> float:
    """σ′ of π0(z) ∝ exp(−‖z‖∞/σ′) whose per-coordinate standard deviation is ``sigma`` in dimension d.

    With the sampler R ~ Gamma(d+1, σ′), z ~ Uniform([−R, R]^d) (docs/design.md §2.4):
    E z_i² = E R²/3 = σ′²(d+1)(d+2)/3, so σ′ = σ·sqrt(3/((d+1)(d+2))).
    """
    if dim < 1:
        raise ValueError(f"dim must be >= 1, got {dim}")
    return float(sigma) * math.sqrt(3.0 / ((dim + 1.0) * (dim + 2.0)))


def pure_dp_radius(p_lower: float, p_upper: float, scale: float) -> float:
    """The largest ℓ∞ radius the density-ratio bound proves from p̲_A and p̄_B; 0 when it proves none.

    For ‖δ‖∞ ≤ r the density ratio π0(z − δ)/π0(z) = exp((‖z‖∞ − ‖z − δ‖∞)/σ′) lies in [e^{−a}, e^{a}],
    a = r/σ′ (triangle inequality). Applied to a set S, P_δ(S) ∈ [e^{−a}P_0(S), e^{a}P_0(S)]; applied to
    its complement, P_δ(S) ∈ [1 − e^{a}(1 − P_0(S)), 1 − e^{−a}(1 − P_0(S))]. So, with P_0(A) ≥ p̲_A = p
    and P_0(C) ≤ p̄_B = q for every other class C,

        P_δ(A) ≥ max(e^{−a}p, 1 − e^{a}(1 − p)),    P_δ(C) ≤ min(e^{a}q, 1 − e^{−a}(1 − q)),

    and A stays on top while the larger lower bound exceeds the smaller upper bound, i.e. while one of the
    four pairs is ordered. Each pair holds on an interval [0, a_ij) of a:

        e^{−a}p > e^{a}q:                a < ½ ln(p/q)             (pure ε-DP; the only form before)
        1 − e^{a}(1 − p) > e^{a}q:       a < ln(1/(1 − p + q))     (Yang et al. 2020 when q = 1 − p)
        e^{−a}p > 1 − e^{−a}(1 − q):     a < ln(1 + p − q)
        1 − e^{a}(1 − p) > 1 − e^{−a}(1 − q):  a < ½ ln((1 − q)/(1 − p)),

    so R = σ′·max_ij a_ij. One-sided (q = 1 − p) the second is the largest: R = σ′·ln(1/(2(1 − p̲_A))),
    which exceeds (σ′/2)·ln(p̲_A/(1 − p̲_A)) by the factor ln(1/(4p(1 − p)))/ln(p/(1 − p)) + 1 ≥ 1
    (1.47 at p̲_A = 0.9, 1.80 at 0.999).
    """
    p, q = float(p_lower), float(p_upper)
    if not p > q:
        return 0.0
    if q <= 0.0:
        return math.inf
    forms = (
        0.5 * (math.log(p) - math.log(q)),
        -math.log1p(q - p),  # ln(1/(1 − p + q))
        math.log1p(p - q),
        0.5 * (math.log1p(-q) - math.log1p(-p)) if p < 1.0 else math.inf,
    )
    return max(0.0, float(scale) * max(forms))


class PureDPLinfCertificate(BoundCertificate, DifferentiableRadius):
    """g(x+δ) = c_A for every ‖δ‖∞ < :func:`pure_dp_radius` (p̲_A, p̄_B, σ′), σ′ = :func:`exponential_scale` (σ, d):
    one-sided σ′·ln(1/(2(1 − p̲_A)))."""

    #: 2: the best of the four density-ratio forms (1: (σ′/2)·ln(p̲_A/p̄_B) alone); recorded in a results
    #: file's provenance, so a file certified with the older, smaller radii is not resumed with these
    revision = 2

    norm = "linf"
    base_name = "pure_dp"

    def __init__(self, sigma: float, bilateral: bool = False) -> None:
        super().__init__(bilateral)
        self.sigma = float(sigma)

    def radius(self, p_lower: float, dim: int, p_upper_runner_up: float | None = None) -> float:
        p_b = runner_up_bound(p_lower, p_upper_runner_up)
        return pure_dp_radius(p_lower, p_b, exponential_scale(self.sigma, dim))

    def soft_radius(self, p_a: torch.Tensor, p_b: torch.Tensor, dim: int) -> torch.Tensor:
        """σ′·max of the four forms of :func:`pure_dp_radius`, elementwise (differentiable almost everywhere)."""
        forms = torch.stack(
            [
                0.5 * (torch.log(p_a) - torch.log(p_b)),
                -torch.log1p(p_b - p_a),
                torch.log1p(p_a - p_b),
                0.5 * (torch.log1p(-p_b) - torch.log1p(-p_a)),
            ]
        )
        return exponential_scale(self.sigma, dim) * forms.amax(dim=0)

    def radius_unit(self, dim: int) -> float:
        """σ′: the margin γ is in nats of the density ratio."""
        return exponential_scale(self.sigma, dim)

    def params(self) -> dict[str, Any]:
        return {"sigma": self.sigma, "revision": self.revision, **super().params()}
