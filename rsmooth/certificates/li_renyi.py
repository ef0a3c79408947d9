"""Li et al. (2019)'s Rényi-divergence bound for Gaussian smoothing, in Cohen et al.'s notation
(Cohen et al. 2019, Appendix I.2, eq. 38, with the power mean's exponent 1/(1−α′) that the
appendix misprints as 1−α′; docs/design.md §3.6). A comparison bound: sound, never above Cohen's radius."""

from __future__ import annotations

import math

import numpy as np

from rsmooth.certificates.gaussian_bound import GaussianBoundCertificate
from rsmooth.certificates.optimize import maximize_scalar

#: search range of the Rényi order α′ (log scale); the optimum lies well inside for p̲_A ≤ 1 − 1e-12
ORDER_RANGE = (1e-6, 1e6)


def renyi_flip_divergence(order: float, p_lower: float, p_upper: float) -> float:
    """−ln(1 − p̲_A − p̄_B + 2·M_{1−α′}(p̲_A, p̄_B)), M_s(a, b) = ((a^s + b^s)/2)^{1/s} the power mean.

    Li et al.'s lemma: any distribution Q over classes whose top class differs from P's (top ≥ p̲_A,
    others ≤ p̄_B) has D_α′(Q‖P) ≥ this value. M_0 is the geometric mean (the limit α′ → 1).
    """
    a, s = float(order), 1.0 - float(order)
    logs = np.array([math.log(p_lower), math.log(p_upper) if p_upper > 0 else -math.inf])
    if abs(s) < 1e-9:
        log_mean = float(np.mean(logs))
    elif s < 0 and not math.isfinite(logs[1]):
        log_mean = -math.inf  # a negative-order power mean with a zero entry is 0
    else:
        top = float(np.max(s * logs))
        log_mean = (top + math.log(float(np.sum(np.exp(s * logs - top))) / 2.0)) / s
    # 1 − p_a − p_b + 2M = 1 + (2M − p_a − p_b), and 2M ≤ p_a + p_b (power means grow with s ≤ 1)
    gap = 2.0 * math.exp(log_mean) - p_lower - p_upper
    if a <= 0 or gap >= 0:
        return 0.0
    return -math.log1p(gap)


def li_renyi_objective(order: float, p_lower: float, p_upper: float, sigma: float) -> float:
    """σ·sqrt((2/α′)·:func:`renyi_flip_divergence`): the radius at which D_α′(N(x+δ,σ²I)‖N(x,σ²I))
    = α′‖δ‖²/2σ² reaches the flip divergence (eq. 36–37)."""
    return float(sigma) * math.sqrt(2.0 / order * renyi_flip_divergence(order, p_lower, p_upper))


def li_renyi_radius(p_lower: float, p_upper: float, sigma: float) -> float:
    """R = sup over α′ > 0 of :func:`li_renyi_objective` (eq. 38); 0 when p̲_A ≤ p̄_B."""
    p_a, p_b = float(p_lower), float(p_upper)
    if not p_a > p_b:
        return 0.0
    _, best = maximize_scalar(lambda a: li_renyi_objective(a, p_a, p_b, float(sigma)), *ORDER_RANGE, log_scale=True)
    return max(0.0, best)


class LiRenyiCertificate(GaussianBoundCertificate):
    """Li et al. (2019): g(x+δ) = c_A for ‖δ‖₂ < :func:`li_renyi_radius` (p̲_A, p̄_B, σ)."""

    method = "li_renyi"

    def l2_radius(self, p_a: float, p_b: float) -> float:
        return li_renyi_radius(p_a, p_b, self.sigma)
