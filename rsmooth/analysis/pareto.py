"""The accuracy–robustness trade-off of smoothing families for ℓ∞ attacks (Zhang et al. 2020, eq. (7) and
Figure 4): for each (σ, k), the accuracy term f#_π0(x0) = P_π0(‖z‖₂ ≤ r0) of the ball classifier
f#(x) = 1{‖x − x0‖₂ ≤ r0}, and the robustness term max_{‖δ‖∞ ≤ ε} D(λπ0 ‖ π_δ) at λ = 1, which is the total
variation TV(π0, π_δ) = E_π0[(1 − π0(z − δ)/π0(z))₊]. Lower robustness term and higher accuracy term are
better; a family's Pareto frontier is its best accuracy at each level of the robustness term.

Worst shifts: a vertex (ε, …, ε) of the ℓ∞ ball for the ℓ2 power family (Theorem 3) and the mixed family
(Theorem 5). The pure ℓ∞ family has no such theorem: its term is the largest over the corners
ε(1, …, 1, 0, …, 0) with j = 1 … d ones, a lower bound on its maximum, which can only flatter it.
The value of eq. (7) itself, max_λ λ·A − D(λπ0 ‖ π_δ) (λ over a grid), combines the two terms into the lower
bound a family certifies for f# at x0 + δ; its best over (σ, k) is the one-number comparison.
Monte Carlo throughout (a figure, not a certificate).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import torch

from rsmooth.noise.linf_power import LinfPowerNoise

#: λ grid of the eq. (7) value max_λ λ·A − D(λπ0 ‖ π_δ)
LAMBDAS = torch.from_numpy(np.geomspace(0.02, 10.0, 120))


@dataclass(frozen=True)
class TradeoffPoint:
    """One family at one (σ, k) and attack radius ε: its robustness term (TV at the worst shift found), its
    accuracy term, and the value of eq. (7), max_λ λ·accuracy − max_δ D(λπ0 ‖ π_δ) (a lower bound on the
    smoothed ball classifier at x0 + δ: the larger, the better the family does at this (σ, k))."""

    family: str
    sigma: float
    k: float
    eps: float
    robustness: float
    accuracy: float
    bound: float


class DensityFamily(Protocol):
    """A family with a log-density: the three of the comparison (rsmooth.noise's power families)."""

    name: str
    sigma: float
    k: float

    def perturb(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor: ...

    def log_density(self, z: torch.Tensor) -> torch.Tensor: ...


def worst_linf_shifts(family: object, dim: int, eps: float) -> torch.Tensor:
    """The shifts whose distance term is maximized, (S, d) float64: the vertex, or the j-sparse corners
    (pure ℓ∞ family)."""
    if isinstance(family, LinfPowerNoise):
        return eps * torch.tril(torch.ones(dim, dim, dtype=torch.float64))
    return torch.full((1, dim), float(eps), dtype=torch.float64)


def tradeoff_points(
    family: DensityFamily,
    dim: int,
    ball_radius: float,
    eps_values: Sequence[float],
    samples: int,
    generator: torch.Generator,
) -> list[TradeoffPoint]:
    """The terms of eq. (7) for ``family`` (a noise with ``perturb`` and ``log_density``) at each attack radius,
    by Monte Carlo from one set of draws."""
    z = family.perturb(torch.zeros(samples, dim), generator).double()
    accuracy = float((z.norm(dim=1) <= ball_radius).double().mean())
    base = family.log_density(z)
    points = []
    for eps in eps_values:
        tv, bound = 0.0, float("inf")
        for shift in worst_linf_shifts(family, dim, eps):
            ratio = torch.exp(family.log_density(z - shift) - base)  # π_δ/π0 at z
            tv = max(tv, float((1.0 - ratio).clamp_min(0.0).mean()))
            distance = (LAMBDAS.view(1, -1) - ratio.view(-1, 1)).clamp_min(0.0).mean(0)  # D(λπ0 ‖ π_δ) per λ
            bound = min(bound, float((LAMBDAS * accuracy - distance).max()))
        points.append(
            TradeoffPoint(
                family.name,
                float(family.sigma),
                float(family.k),
                float(eps),
                tv,
                accuracy,
                bound,
            )
        )
    return points


def pareto_frontier(points: Sequence[TradeoffPoint]) -> list[TradeoffPoint]:
    """The points no other point beats on both terms, by increasing robustness term (and accuracy)."""
    frontier: list[TradeoffPoint] = []
    for point in sorted(points, key=lambda p: (p.robustness, -p.accuracy)):
        if not frontier or point.accuracy > frontier[-1].accuracy:
            frontier.append(point)
    return frontier


def best_accuracy_within(frontier: Sequence[TradeoffPoint], robustness: float) -> float:
    """The highest accuracy term on ``frontier`` with robustness term ≤ ``robustness`` (0 if none)."""
    return max((p.accuracy for p in frontier if p.robustness <= robustness), default=0.0)
