"""The exact Neyman–Pearson radius of the ℓ2 power family by quadrature: the oracle the Monte Carlo table
(:mod:`rsmooth.certificates.functional`) is tested against (docs/design.md §3.4).

With z = ρ·(t, …) ∼ π0 (ρ = σχ_{d−k}, (1 + t)/2 ∼ Beta((d−1)/2, (d−1)/2)), L = log π0(z − δ*)/π0(z)
depends on u = r(r − 2z₁) and ρ only, and is decreasing in u on u > −ρ² (its u-derivative is
−(k/2)/(ρ² + u) − 1/(2σ²) < 0). So for each ρ, {L ≤ ℓ} = {z₁ ≤ (r² − u*(ρ))/(2r)} with u* the root of
L = ℓ, and P(L ≤ ℓ) = E_ρ[I_{(1 + w/ρ)/2}((d−1)/2, (d−1)/2)], w = (r² − u*)/(2r): a one-dimensional
integral over ρ (Gauss–Legendre in the quantile of χ²_{d−k}). r is certified at p exactly when
P(L ≤ −m_r) ≤ p, m_r the median of L (module :mod:`~rsmooth.certificates.functional`, with c = m_r).
Not a certificate: a deterministic computation without an error bound, used to judge one.
"""

from __future__ import annotations

import numpy as np
from scipy.special import betainc
from scipy.stats import chi2


class PowerL2Quadrature:
    """P(L ≤ ℓ) for π0 ∝ ‖z‖^{−k}e^{−‖z‖²/2σ²} in dimension d, δ* = (r, 0, …, 0), by quadrature over ρ."""

    def __init__(self, sigma: float, k: float, dim: int, nodes: int = 400) -> None:
        self.sigma, self.k, self.dim = float(sigma), float(k), int(dim)
        q, weights = np.polynomial.legendre.leggauss(nodes)
        levels = 0.5 * (q + 1.0)  # quantile levels in (0, 1)
        self.weights = 0.5 * weights
        self.rho2 = self.sigma**2 * chi2.ppf(levels, self.dim - self.k)
        self.half = (self.dim - 1) / 2.0

    def _log_ratio(self, u: np.ndarray) -> np.ndarray:
        out = -u / (2.0 * self.sigma**2)
        if self.k:
            out = out - 0.5 * self.k * np.log1p(u / self.rho2)
        return out

    def cdf(self, radius: float, level: float) -> float:
        """P_π0(L ≤ ``level``) at δ* of norm ``radius``."""
        # u* per ρ node by bisection on (−ρ², hi): L(−ρ²⁺) = +∞ when k > 0 (else L(−ρ²) is finite and
        # the root may lie below: then every u ≥ −ρ² has L ≤ level), L decreasing
        lo = -self.rho2 * (1.0 - 1e-15)
        hi = np.full_like(lo, max(1.0, abs(level)) * 4.0 * self.sigma**2 + 1.0)
        while np.any(self._log_ratio(hi) > level):
            hi = np.where(self._log_ratio(hi) > level, hi * 2.0, hi)
        below_all = self._log_ratio(lo) <= level
        for _ in range(100):
            mid = 0.5 * (lo + hi)
            right = self._log_ratio(mid) > level
            lo, hi = np.where(right, mid, lo), np.where(right, hi, mid)
        u_star = np.where(below_all, -self.rho2, hi)
        w = (radius * radius - u_star) / (2.0 * radius)
        x = np.clip(0.5 * (1.0 + w / np.sqrt(self.rho2)), 0.0, 1.0)
        return float(np.sum(self.weights * betainc(self.half, self.half, x)))

    def median(self, radius: float) -> float:
        """The median of L at δ* of norm ``radius``."""
        lo, hi = -1.0, 1.0
        while self.cdf(radius, lo) > 0.5:
            lo *= 2.0
        while self.cdf(radius, hi) < 0.5:
            hi *= 2.0
        for _ in range(60):
            mid = 0.5 * (lo + hi)
            lo, hi = (mid, hi) if self.cdf(radius, mid) < 0.5 else (lo, mid)
        return 0.5 * (lo + hi)

    def p_needed(self, radius: float) -> float:
        """The smallest p_A certifying ``radius``: P(L ≤ −m_r)."""
        return self.cdf(radius, -self.median(radius))

    def radius(self, p: float) -> float:
        """The exact certified radius sup{r : p_needed(r) ≤ p}, by bisection (p_needed increases in r)."""
        lo, hi = 0.0, self.sigma
        while self.p_needed(hi) <= p:
            hi *= 2.0
        for _ in range(40):
            mid = 0.5 * (lo + hi)
            lo, hi = (mid, hi) if self.p_needed(mid) <= p else (lo, mid)
        return lo
