"""The total-variation bound of the lecture notes (Prop. 0.1, eq. 3; docs/design.md §3.6) for Gaussian
smoothing. A comparison bound: sound, never above Cohen's radius."""

from __future__ import annotations

from scipy.stats import norm as _std_normal

from rsmooth.certificates.gaussian_bound import GaussianBoundCertificate


def tv_radius(p_lower: float, p_upper: float, sigma: float) -> float:
    """R = 2σ·Φ⁻¹(1/2 + (p̲_A − p̄_B)/4); 0 when p̲_A ≤ p̄_B.

    Each smoothed class probability moves by at most TV(N(x,σ²I), N(x+δ,σ²I)) = 2Φ(‖δ‖₂/2σ) − 1
    (Prop. 0.1), so c_A stays on top while that is < (p̲_A − p̄_B)/2; solving for ‖δ‖₂ gives R.
    """
    p_a, p_b = float(p_lower), float(p_upper)
    if not p_a > p_b:
        return 0.0
    return max(0.0, 2.0 * float(sigma) * float(_std_normal.ppf(0.5 + (p_a - p_b) / 4.0)))


class TotalVariationCertificate(GaussianBoundCertificate):
    """g(x+δ) = c_A for ‖δ‖₂ < :func:`tv_radius` (p̲_A, p̄_B, σ)."""

    method = "tv"

    def l2_radius(self, p_a: float, p_b: float) -> float:
        return tv_radius(p_a, p_b, self.sigma)
