"""The ℓ1 certificate of families whose smoothed class probabilities are 1/(2λ)-Lipschitz in ℓ1
(uniform noise, Lee et al. 2019 / Yang et al. 2020; splitting noise, Levine & Feizi 2021; docs/design.md §3.3)."""

from __future__ import annotations

from typing import Any

import torch

from rsmooth.certificates.base import BoundCertificate, DifferentiableRadius, runner_up_bound


class LipschitzL1Certificate(BoundCertificate, DifferentiableRadius):
    """Class A stays on top while ‖δ‖₁ < R = λ(p̲_A − p̄_B); with p̄_B = 1 − p̲_A, R = 2λ(p̲_A − 1/2)."""

    norm = "l1"
    base_name = "lipschitz_l1"

    def __init__(self, lam: float, bilateral: bool = False) -> None:
        super().__init__(bilateral)
        self.lam = float(lam)

    def radius(self, p_lower: float, dim: int, p_upper_runner_up: float | None = None) -> float:
        return max(0.0, self.lam * (float(p_lower) - runner_up_bound(p_lower, p_upper_runner_up)))

    def soft_radius(self, p_a: torch.Tensor, p_b: torch.Tensor, dim: int) -> torch.Tensor:
        """λ(p_a − p_b): linear in the probabilities."""
        return self.lam * (p_a - p_b)

    def radius_unit(self, dim: int) -> float:
        """λ: the margin γ is a gap p_A − p_B (at most 1)."""
        return self.lam

    def params(self) -> dict[str, Any]:
        return {"lam": self.lam, **super().params()}
