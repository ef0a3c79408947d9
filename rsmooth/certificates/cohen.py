"""Cohen et al. (2019), Theorem 1: the tight ℓ2 certificate of Gaussian smoothing (docs/design.md §3.2)."""

from __future__ import annotations

import math
from typing import Any

import torch
from scipy.stats import norm as _std_normal

from rsmooth.certificates.base import DifferentiableRadius
from rsmooth.certificates.gaussian_bound import GaussianBoundCertificate


def cohen_radius(p_lower: float, p_upper: float, sigma: float) -> float:
    """R = σ/2·(Φ⁻¹(p̲_A) − Φ⁻¹(p̄_B)) (Cohen et al. 2019, Theorem 1); 0 when p̲_A ≤ p̄_B.

    With p̄_B = 1 − p̲_A this is σΦ⁻¹(p̲_A), computed that way (no cancellation near p̲_A = 1).
    Tight: for every such pair there is a classifier with these probabilities that a perturbation
    of norm R flips, so every other sound bound is ≤ this one.
    """
    p_a, p_b = float(p_lower), float(p_upper)
    if not p_a > p_b:
        return 0.0
    if p_b == 1.0 - p_a:
        return max(0.0, float(sigma) * float(_std_normal.ppf(p_a)))
    return max(0.0, 0.5 * float(sigma) * float(_std_normal.ppf(p_a) - _std_normal.ppf(p_b)))


class CohenCertificate(GaussianBoundCertificate, DifferentiableRadius):
    """If P(f(x+z) = c_A) ≥ p̲_A and max_{c≠c_A} P(f(x+z) = c) ≤ p̄_B with z ~ N(0, σ²I), then
    g(x+δ) = c_A for every ‖δ‖₂ < R = σ/2·(Φ⁻¹(p̲_A) − Φ⁻¹(p̄_B)); with p̄_B = 1 − p̲_A,
    R = σΦ⁻¹(p̲_A). With ``norm='linf'`` the radius is R/√d, since ‖δ‖₂ ≤ √d‖δ‖∞.
    """

    method = "cohen"

    def l2_radius(self, p_a: float, p_b: float) -> float:
        return cohen_radius(p_a, p_b, self.sigma)

    def _scale(self, dim: int) -> float:
        """1 for ℓ2; 1/√d for the ℓ∞ reading."""
        return 1.0 if self.norm == "l2" else 1.0 / math.sqrt(dim)

    def soft_radius(self, p_a: torch.Tensor, p_b: torch.Tensor, dim: int) -> torch.Tensor:
        """σ/2·(Φ⁻¹(p_a) − Φ⁻¹(p_b)) (÷√d in ℓ∞), through ``torch.special.ndtri`` (differentiable)."""
        gap = torch.special.ndtri(p_a) - torch.special.ndtri(p_b)
        return 0.5 * self.sigma * self._scale(dim) * gap

    def radius_unit(self, dim: int) -> float:
        return 0.5 * self.sigma * self._scale(dim)


class DiscreteCohenCertificate(CohenCertificate):
    """Cohen et al. (2019) Theorem 1 for the smoothed classifier of h(y) = f(float32(round(q·y))/q) under
    N(0, σ²I) — what :class:`~rsmooth.noise.discrete_gaussian.DiscreteGaussianNoise` samples
    exactly — with p̲_A lowered (and p̄_B raised) by
    d·τ, the total variation between the sampled law and the exact one over d coordinates."""

    method = "cohen_discrete"

    def __init__(self, sigma: float, tv_per_coordinate: float, norm: str = "l2", bilateral: bool = False) -> None:
        super().__init__(sigma, norm, bilateral)
        self.tv_per_coordinate = float(tv_per_coordinate)

    def sampling_slack(self, dim: int) -> float:
        return dim * self.tv_per_coordinate

    def params(self) -> dict[str, Any]:
        return {**super().params(), "tv_per_coordinate": self.tv_per_coordinate}
