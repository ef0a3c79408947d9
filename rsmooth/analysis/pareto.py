"""The accuracy–robustness trade-off of smoothing families for ℓ∞ attacks (Zhang et al. 2020, eq. (7) and
Figure 4), with f#(x) = 1{‖x − x0‖₂ ≤ r0} the ball classifier of the paper's toy setting.

Two quantities, both by Monte Carlo (a figure, not a certificate):

* **The two terms** (Figure 4, left): for each (σ, k), the accuracy term A = f#_π0(x0) = P_π0(‖z‖₂ ≤ r0) and
  the robustness term max_{‖δ‖∞ ≤ ε} D(λπ0 ‖ π_δ) at λ = 1, which is the total variation
  TV(π0, π_δ) = E_π0[(1 − π_δ(z)/π0(z))₊] (:func:`tradeoff_points`). Lower TV and higher A are better; a
  family's Pareto frontier is its best A at each TV level.
* **The value of eq. (7)** (Figure 4, right), V = max_λ≥0 [λ·A − max_δ D(λπ0 ‖ π_δ)] with
  D(λπ0 ‖ π_δ) = E_π0[(λ − R)₊], R = π_δ(z)/π0(z): the lower bound the family certifies for f# at x0 + δ.
  λ ↦ λA − D is concave with right slope A − P_π0(R ≤ λ), so for one shift the best λ is the A-quantile
  of R and V = P_πδ(R < λ) is the Neyman–Pearson bound: the least π_δ-mass of a set of π0-mass A. Hence
  V ≤ A (the constant f = A already has π_δ-mass A) and V ≤ 1.

Why the value is compared at **matched clean accuracy** (:func:`matched_accuracy_values`): over σ with λ free,
V has supremum ≈ 1 for every family once ε√d < r0 (σ → 0 puts the attacked point x0 + δ inside the ball and
drives A → 1), so "best over σ, k, λ" compares nothing unless λ is capped — and the cap then decides the
ranking. At a fixed accuracy A, σ is fixed by k (each family is a scale family: z = σ·z₁), so the comparison
is the best V over k among parameters of accuracy A, λ free: the robustness each family buys at a given
accuracy.

Why **select on one set of draws, report on another**: the largest of many noisy estimates is biased upward
(the same draws that choose (k, λ) flatter them). Here k, σ and λ are chosen on a selection set and V is
reported at those fixed parameters on an independent evaluation set, where λ·Â − D̂(λ) is an unbiased
estimate of the value at the chosen parameters — which is ≤ the best value: the only bias left is
downward, from choosing slightly off the optimum.

Worst shifts: a vertex (ε, …, ε) of the ℓ∞ ball for the ℓ2 power family (Theorem 3) and the mixed family
(Theorem 5). The pure ℓ∞ family has no such theorem: its term is the largest over the corners
ε(1, …, 1, 0, …, 0) with j = 1 … d ones, a lower bound on its maximum, which can only flatter it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import torch

from rsmooth.noise.linf_power import LinfPowerNoise

#: bisection steps of the concave maximization over λ (each halves a bracket in log λ; 64 halvings of a
#: bracket of ratios within e^{±700} leave under 1e-16 of it)
LAMBDA_STEPS = 64


@dataclass(frozen=True)
class TradeoffPoint:
    """One family at one (σ, k) and attack radius ε: its robustness term (TV at the worst shift found) and
    its accuracy term."""

    family: str
    sigma: float
    k: float
    eps: float
    robustness: float
    accuracy: float


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


def draws(family: DensityFamily, dim: int, samples: int, generator: torch.Generator) -> torch.Tensor:
    """``samples`` draws z ∼ π0 of ``family`` in dimension ``dim``, (samples, d) float64 (drawn in float32,
    as every family's noise is)."""
    return family.perturb(torch.zeros(samples, dim), generator).double()


def likelihood_ratios(family: DensityFamily, z: torch.Tensor, shifts: torch.Tensor) -> torch.Tensor:
    """R = π_δ(z)/π0(z) = π0(z − δ)/π0(z) for each shift δ (row of ``shifts``) at each draw: (S, n) float64."""
    base = family.log_density(z)
    return torch.stack([torch.exp(family.log_density(z - shift) - base) for shift in shifts])


def tradeoff_points(
    family: DensityFamily,
    dim: int,
    ball_radius: float,
    eps_values: Sequence[float],
    samples: int,
    generator: torch.Generator,
) -> list[TradeoffPoint]:
    """The two terms of eq. (7) at λ = 1 for ``family`` at each attack radius, from one set of draws."""
    z = draws(family, dim, samples, generator)
    accuracy = float((z.norm(dim=1) <= ball_radius).double().mean())
    points = []
    for eps in eps_values:
        ratios = likelihood_ratios(family, z, worst_linf_shifts(family, dim, eps))
        tv = float((1.0 - ratios).clamp_min(0.0).mean(1).max())
        points.append(TradeoffPoint(family.name, float(family.sigma), float(family.k), float(eps), tv, accuracy))
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


# ------------------------------------------------------------------------- eq. (7) at matched accuracy


def best_lambda(accuracy: float, ratios: torch.Tensor) -> tuple[float, float]:
    """(λ, value) maximizing the Monte Carlo eq. (7), λ·accuracy − max_s mean_i (λ − R_si)₊, over λ > 0.

    ``ratios`` (S, n): R at each shift s and draw i. Each mean is convex and piecewise linear in λ, so the
    objective is concave with right slope accuracy − #{i: R_s*i ≤ λ}/n at the shift s* whose distance is
    largest at λ; bisection on the sign of that slope, in log λ, between the smallest and the largest ratio
    (slope accuracy > 0 below the first, accuracy − 1 ≤ 0 above the last). One shift: λ is the
    accuracy-quantile of R. Distances from sorted ratios and prefix sums (no pass over the draws per step).
    """
    n = ratios.shape[1]
    ordered = torch.sort(ratios, dim=1).values
    prefix = torch.nn.functional.pad(torch.cumsum(ordered, dim=1), (1, 0))  # (S, n + 1): prefix[c] = Σ of c smallest

    def distances(lam: float) -> tuple[torch.Tensor, torch.Tensor]:
        below = torch.searchsorted(ordered, torch.full((ordered.shape[0], 1), lam, dtype=ordered.dtype))  # < λ
        through = torch.searchsorted(
            ordered, torch.full((ordered.shape[0], 1), lam, dtype=ordered.dtype), right=True
        )  # ≤ λ
        d = (below.squeeze(1).to(ordered.dtype) * lam - prefix.gather(1, below).squeeze(1)) / n  # counts as float64
        return d, through.squeeze(1)

    def objective(lam: float) -> float:
        return lam * accuracy - float(distances(lam)[0].max())

    lo, hi = float(ordered[:, 0].min()), float(ordered[:, -1].max())
    lo = max(lo, 1e-300)
    for _ in range(LAMBDA_STEPS):
        mid = (lo * hi) ** 0.5
        d, through = distances(mid)
        slope = accuracy - float(through[d == d.max()].max()) / n
        if slope > 0:
            lo = mid
        else:
            hi = mid
    best = max((lo, hi), key=objective)
    return best, objective(best)


def value_at(lam: float, inside: torch.Tensor, ratios: torch.Tensor) -> tuple[float, float]:
    """(value, standard error) of eq. (7) at a fixed λ from independent draws: λ·mean(inside) −
    max_s mean((λ − R_s)₊), with ``inside`` (n,) the indicator of ‖z‖₂ ≤ r0 and ``ratios`` (S, n).

    For one shift this is the mean of y_i = λ·inside_i − (λ − R_i)₊, unbiased for the value at λ, and its
    standard error is sd(y)/√n; for several, that of the shift with the largest distance."""
    per_draw = lam * inside.double().unsqueeze(0) - (lam - ratios).clamp_min(0.0)  # (S, n)
    means = per_draw.mean(1)
    worst = int(torch.argmin(means))
    return float(means[worst]), float(per_draw[worst].std() / per_draw.shape[1] ** 0.5)


@dataclass(frozen=True)
class MatchedValue:
    """Eq. (7) for one family at clean accuracy ``target`` and attack radius ``eps``: the (k, σ, λ) chosen on the
    selection draws, and on independent evaluation draws the accuracy term and the value with its standard
    error."""

    family: str
    target: float
    eps: float
    k: float
    sigma: float
    lam: float
    accuracy: float
    value: float
    standard_error: float


def sigma_for_accuracy(unit_norms: torch.Tensor, ball_radius: float, accuracy: float) -> float:
    """σ with P(σ·‖z₁‖₂ ≤ r0) = ``accuracy`` for draws z₁ of the family at σ = 1 (a scale family): r0 over the
    accuracy-quantile of ‖z₁‖₂ (``unit_norms``)."""
    return ball_radius / float(torch.quantile(unit_norms, accuracy))


def matched_accuracy_values(
    family_at: Callable[[float, float], DensityFamily],
    dim: int,
    ball_radius: float,
    accuracies: Sequence[float],
    eps_values: Sequence[float],
    ks: Sequence[float],
    samples: int,
    generator: torch.Generator,
) -> list[MatchedValue]:
    """For each clean accuracy A and attack radius ε: the best eq. (7) value over k (σ set by k and A, λ free),
    chosen on a selection set and reported on an independent evaluation set of ``samples`` draws each.

    ``family_at(σ, k)`` builds the family. For each k, draws z₁ at σ = 1 (selection, then evaluation, from
    ``generator``); at accuracy A, σ = r0/quantile_A(‖z₁‖₂) on the selection set, and the family at σ is
    σ·z₁ (R at shift δ is R at σ = 1 and shift δ/σ). Returns one :class:`MatchedValue` per (A, ε), in that
    order.
    """
    candidates: dict[tuple[float, float], list[tuple[float, MatchedValue]]] = {}
    for k in ks:
        unit = family_at(1.0, k)
        select, evaluate = draws(unit, dim, samples, generator), draws(unit, dim, samples, generator)
        select_norms, evaluate_norms = select.norm(dim=1), evaluate.norm(dim=1)
        for target in accuracies:
            sigma = sigma_for_accuracy(select_norms, ball_radius, target)
            select_inside = select_norms * sigma <= ball_radius
            evaluate_inside = evaluate_norms * sigma <= ball_radius
            for eps in eps_values:
                shifts = worst_linf_shifts(unit, dim, eps) / sigma
                lam, chosen = best_lambda(float(select_inside.double().mean()), likelihood_ratios(unit, select, shifts))
                value, error = value_at(lam, evaluate_inside, likelihood_ratios(unit, evaluate, shifts))
                record = MatchedValue(
                    unit.name,
                    float(target),
                    float(eps),
                    float(k),
                    sigma,
                    lam,
                    float(evaluate_inside.double().mean()),
                    value,
                    error,
                )
                candidates.setdefault((float(target), float(eps)), []).append((chosen, record))
    return [max(entries, key=lambda e: e[0])[1] for entries in candidates.values()]
