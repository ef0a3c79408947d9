"""Radii from Gaussian-smoothing counts: the common frame of Cohen's tight bound and the earlier
bounds it is compared with (Lecuyer et al., Li et al., total variation, D_MR; docs/design.md §3.2, §3.6).

Every bound here is a function R(p̲_A, p̄_B; σ) of an ℓ2 radius. Its ℓ∞ reading is R/√d, since
‖δ‖₂ ≤ √d·‖δ‖∞ (Zhang et al. 2020 Theorem 3; docs/design.md §3.6): a ball certified in ℓ2 contains the ℓ∞
ball of radius R/√d.
"""

from __future__ import annotations

import math
from abc import abstractmethod
from typing import Any

from rsmooth.certificates.base import BoundCertificate, runner_up_bound


class GaussianBoundCertificate(BoundCertificate):
    """z ~ N(0, σ²I): certify ‖δ‖₂ < R = :meth:`l2_radius` (p̲_A, p̄_B), or ‖δ‖∞ < R/√d.

    Subclasses give :attr:`method` (the name stem) and :meth:`l2_radius`; the name is
    ``<method>[_linf][_bilateral]``.
    """

    method: str

    def __init__(self, sigma: float, norm: str = "l2", bilateral: bool = False) -> None:
        super().__init__(bilateral)
        if norm not in ("l2", "linf"):
            raise ValueError(f"norm must be 'l2' or 'linf', got {norm!r}")
        self.sigma = float(sigma)
        self.norm = norm

    @property
    def base_name(self) -> str:  # type: ignore[override]  # computed here, a plain attribute in the base class
        return self.method if self.norm == "l2" else f"{self.method}_linf"

    @abstractmethod
    def l2_radius(self, p_a: float, p_b: float) -> float:
        """The ℓ2 radius for p̲_A = ``p_a`` > p̄_B = ``p_b`` (≥ 0)."""

    def radius(self, p_lower: float, dim: int, p_upper_runner_up: float | None = None) -> float:
        p_a = float(p_lower)
        p_b = runner_up_bound(p_a, p_upper_runner_up)
        if not p_a > p_b:
            return 0.0
        r = self.l2_radius(p_a, p_b)
        if self.norm == "linf":
            if dim < 1:
                raise ValueError(f"dim must be >= 1 for an l_inf radius, got {dim}")
            r /= math.sqrt(dim)
        return max(0.0, r)

    def params(self) -> dict[str, Any]:
        return {"sigma": self.sigma, **super().params()}
