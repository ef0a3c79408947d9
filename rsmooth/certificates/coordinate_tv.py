"""A sound ℓ∞ certificate for the pure ℓ∞ power family π0(z) ∝ ‖z‖∞^(−k)·exp(−‖z‖∞²/2σ²) (Zhang et al. 2020,
eq. (10)) by total variation, coordinate by coordinate.

Why it holds. Every class probability of the smoothed classifier moves by at most TV(π0, π_δ) when the input
moves by δ, so c_A stays on top while TV(π0, π_δ) < (p̲_A − p̄_B)/2 (p̄_B = 1 − p̲_A by default). TV is a
metric and invariant under translation, so with δ = Σ_i δ_i e_i,

    TV(π0, π_δ) ≤ Σ_i TV(π0, π_{δ_i e_i}) = Σ_i τ(|δ_i|) ≤ d·τ(r)   for ‖δ‖∞ ≤ r,

using the symmetry of π0 under permutations and sign flips of coordinates, and τ(t) = TV(π0, π_{t e_1})
non-decreasing. For fixed other coordinates, π0 as a function of z₁ is g(max(|z₁|, m′)) with g decreasing:
symmetric and unimodal, and a symmetric unimodal section h shifted by t has TV ∫(h(x) − h(x − t))₊dx = the
mass of h on (−t/2, t/2). Summed over sections, τ(t) = P_π0(|z₁| < t/2), non-decreasing in t.

The closed form. With a = ‖z‖∞ ∼ a^{d−1−k}e^{−a²/2σ²} (a = σ√(2G), G ∼ Gamma(ν), ν = (d−k)/2) and
z = a·s/‖s‖∞ for s uniform on the cube: z₁/a is ±1 with probability 1/d and uniform on [−1, 1] otherwise, so

    τ(t) = F(t/2) + (1 − 1/d)·(t/2)·E[a⁻¹; a > t/2],   F(x) = P(G < x²/2σ²),
    E[a⁻¹; a > x] = Γ(ν − ½)/(σ√2·Γ(ν))·Q(ν − ½, x²/2σ²)      (Q the regularized upper gamma; ν > ½).

No Monte Carlo: the only failure probability is α of the Clopper–Pearson bound. The radius is the largest r
with d·τ(r) below the margin, by bisection from below with a 10⁻⁹ relative guard on τ. Theorem 4 of the
paper says why it is small in high dimension: no certificate of this family can do much better.
"""

from __future__ import annotations

import math
from typing import Any

from scipy.special import gammainc, gammaincc, gammaln

from rsmooth.certificates.base import BoundCertificate, runner_up_bound
from rsmooth.errors import ConfigError


def coordinate_tv(t: float, sigma: float, k: float, dim: int) -> float:
    """τ(t) = TV(π0, π_{t·e₁}) = P_π0(|z₁| < t/2) for the pure ℓ∞ power family (closed form above)."""
    nu = (dim - k) / 2.0
    if not nu > 0.5:
        raise ConfigError(f"linf_power's coordinate TV certificate needs k < d - 1 = {dim - 1}, got k={k}")
    if t <= 0.0:
        return 0.0
    y = (t / 2.0) ** 2 / (2.0 * sigma**2)
    inverse_mean = math.exp(gammaln(nu - 0.5) - gammaln(nu)) / (sigma * math.sqrt(2.0))
    return float(gammainc(nu, y)) + (1.0 - 1.0 / dim) * (t / 2.0) * inverse_mean * float(gammaincc(nu - 0.5, y))


class CoordinateTVCertificate(BoundCertificate):
    """g(x+δ) = c_A for every ‖δ‖∞ ≤ r with d·τ(r) < (p̲_A − p̄_B)/2, τ = :func:`coordinate_tv`."""

    norm = "linf"
    base_name = "coordinate_tv"

    def __init__(self, sigma: float, k: float, bilateral: bool = False) -> None:
        super().__init__(bilateral)
        self.sigma, self.k = float(sigma), float(k)

    def radius(self, p_lower: float, dim: int, p_upper_runner_up: float | None = None) -> float:
        margin = (float(p_lower) - runner_up_bound(p_lower, p_upper_runner_up)) / 2.0

        def holds(r: float) -> bool:
            return dim * coordinate_tv(r, self.sigma, self.k, dim) * (1.0 + 1e-9) < margin

        if not margin > 0.0 or not holds(0.0):
            return 0.0
        lo, hi = 0.0, self.sigma
        while holds(hi):  # τ → 1 as r grows, and margin ≤ 1/2, so this ends
            lo, hi = hi, 2.0 * hi
        for _ in range(80):
            mid = 0.5 * (lo + hi)
            lo, hi = (mid, hi) if holds(mid) else (lo, mid)
        return lo

    def params(self) -> dict[str, Any]:
        return {"sigma": self.sigma, "k": self.k, **super().params()}
