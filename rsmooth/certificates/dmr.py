"""D_MR robustness of Gaussian smoothing (unified DP framework, Theorem 10 and Corollary 11;
docs/design.md §3.6). **Not a certificate**: the corollary drops the δ = exp(−c²/4) term of its
zCDP-to-DP step (a failure probability outside α), and its "radius" can exceed Cohen's tight one
(e.g. p̲_A = 0.6, p̄_B = 10⁻⁶). It is computed for comparison plots, named ``…_relaxed`` everywhere, and never
counted into certified accuracy."""

from __future__ import annotations

import math
from typing import Any

from rsmooth.certificates.gaussian_bound import GaussianBoundCertificate

#: the values of c the paper uses
DMR_C_VALUES: tuple[float, ...] = (1.0, 3.0)


def dmr_radius(p_lower: float, p_upper: float, sigma: float, c: float) -> float:
    """R = √2·σ·(ln p̲_A − ln p̄_B) / (2(1 + c)) (Corollary 11 with r = √(2ε)σ and
    √ε ≤ (ln p_A − ln p_B)/(2(1 + c))); 0 when p̲_A ≤ p̄_B. A relaxation, not a hard bound."""
    p_a, p_b = float(p_lower), float(p_upper)
    if not c > 0:
        raise ValueError(f"c must be > 0, got {c!r}")
    if not p_a > p_b:
        return 0.0
    if p_b <= 0.0:
        return math.inf
    return math.sqrt(2.0) * float(sigma) * (math.log(p_a) - math.log(p_b)) / (2.0 * (1.0 + float(c)))


class DMRRelaxation(GaussianBoundCertificate):
    """The D_MR radius :func:`dmr_radius` (p̲_A, p̄_B, σ, c) read from Gaussian counts.

    ``hard = False``: a run may add it as an extra column, never as the certificate of its rows.
    """

    hard = False

    def __init__(self, sigma: float, c: float = 1.0, norm: str = "l2", bilateral: bool = False) -> None:
        super().__init__(sigma, norm, bilateral)
        if not c > 0:
            raise ValueError(f"c must be > 0, got {c!r}")
        self.c = float(c)

    @property
    def method(self) -> str:  # type: ignore[override]  # computed from c here, a class attribute in the base
        return f"dmr_c{self.c:g}_relaxed"

    def l2_radius(self, p_a: float, p_b: float) -> float:
        return dmr_radius(p_a, p_b, self.sigma, self.c)

    def params(self) -> dict[str, Any]:
        return {"c": self.c, **super().params()}
