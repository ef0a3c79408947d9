"""Lecuyer et al. (2019)'s differential-privacy bound for Gaussian smoothing, in Cohen et al.'s
notation (Cohen et al. 2019, Appendix I.1, eq. 31; docs/design.md §3.6). A comparison bound: sound, never
above Cohen's tight radius."""

from __future__ import annotations

import math

from rsmooth.certificates.gaussian_bound import GaussianBoundCertificate
from rsmooth.certificates.optimize import maximize_scalar


def lecuyer_objective(beta: float, p_lower: float, p_upper: float, sigma: float) -> float:
    """σβ / sqrt(2 ln(1.25(1 + e^β) / (p̲_A − e^{2β} p̄_B))) for one β; 0 where the denominator ≤ 0.

    From the (β, γ)-DP Gaussian mechanism with γ = 1.25·exp(−σ²β²/2‖δ‖²): g(x+δ) = c_A when
    p̲_A > e^{2β} p̄_B + γ(1 + e^β) (eq. 24), i.e. ‖δ‖ below this value (eq. 30).
    """
    margin = p_lower - math.exp(2.0 * beta) * p_upper
    if not margin > 0.0:
        return 0.0
    # 1.25(1 + e^β) > 2.5 > 1 ≥ margin, so the log is > 0
    return sigma * beta / math.sqrt(2.0 * math.log(1.25 * (1.0 + math.exp(beta)) / margin))


def lecuyer_beta_max(p_lower: float, p_upper: float) -> float:
    """The largest admissible β: min(1, ½ ln(p̲_A / p̄_B)) (eq. 28; the DP lemma needs β ≤ 1)."""
    return 1.0 if p_upper <= 0.0 else min(1.0, 0.5 * math.log(p_lower / p_upper))


def lecuyer_radius(p_lower: float, p_upper: float, sigma: float) -> float:
    """R = sup over 0 < β ≤ min(1, ½ln(p̲_A/p̄_B)) of :func:`lecuyer_objective` (Cohen App. I eq. 31);
    0 when p̲_A ≤ p̄_B. The supremum is found by :func:`~rsmooth.certificates.optimize.maximize_scalar`."""
    p_a, p_b = float(p_lower), float(p_upper)
    if not p_a > p_b:
        return 0.0
    beta_max = lecuyer_beta_max(p_a, p_b)
    _, best = maximize_scalar(lambda b: lecuyer_objective(b, p_a, p_b, float(sigma)), beta_max * 1e-9, beta_max)
    return max(0.0, best)


class LecuyerCertificate(GaussianBoundCertificate):
    """Lecuyer et al. (2019), PixelDP: g(x+δ) = c_A for ‖δ‖₂ < :func:`lecuyer_radius` (p̲_A, p̄_B, σ)."""

    method = "lecuyer"

    def l2_radius(self, p_a: float, p_b: float) -> float:
        return lecuyer_radius(p_a, p_b, self.sigma)
