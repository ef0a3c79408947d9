"""How much radius a certificate leaves: the best sound radius of a smoothing distribution, by brute-force
Neyman–Pearson integration on a grid in low dimension.

For a noise density π0 and a shift δ, the least probability the smoothed classifier can give its class A at
x + δ, over every base classifier with P_π0(A) = p, is the Neyman–Pearson value
V_δ(p) = min{P_πδ(S) : P_π0(S) = p}, attained by the set of smallest likelihood ratio π_δ/π0 (Cohen et al.
2019, Lemma 3; Zhang et al. 2020, Theorem 1). A one-sided certificate proves radius r from p̲_A = p only if
V_δ(p) > ½ for every ‖δ‖ ≤ r; the best sound radius is the largest such r, and no certificate reading only p̲_A
can report more without being wrong for some classifier.

Here V_δ(p) is computed on a grid of ``cells``^d cells of [−w, w]^d (midpoint rule: each cell's π0 and π_δ
mass from the density at its centre, both normalised by π0's total over the grid; the cells sorted by their
ratio and filled up to π0-mass p, the last one in part). The grid must hold both π0's and π_δ's mass (a shift
carrying π_δ's mass off the grid lowers V); the error shrinks with the cell width.
The radius is the smallest, over the given shift directions u (‖u‖ = 1 in the threat norm), of the largest
r with V_{r·u}(p) > ½ (bisection): directions other than the worst only make it larger, so it is an upper
bound on the best sound radius when the worst direction is not among them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

#: log π0 up to a constant, for rows of z (N, d) float64
LogDensity = Callable[[np.ndarray], np.ndarray]


def grid_points(dim: int, half_width: float, cells: int) -> np.ndarray:
    """The centres of ``cells``^d equal cells of [−w, w]^d, (cells^d, d) float64."""
    width = 2.0 * half_width / cells
    axis = -half_width + width * (np.arange(cells) + 0.5)
    return np.stack([g.ravel() for g in np.meshgrid(*([axis] * dim), indexing="ij")], axis=1)


def neyman_pearson_values(
    log_density: LogDensity, points: np.ndarray, shift: np.ndarray, p_values: Sequence[float]
) -> np.ndarray:
    """V_δ(p) = min{P_πδ(S) : P_π0(S) = p} for each p, on the grid ``points`` (:func:`grid_points`)."""
    base = log_density(points)
    moved = log_density(points - np.asarray(shift, dtype=np.float64))
    top = base.max()
    w0, w1 = np.exp(base - top), np.exp(moved - top)
    total = w0.sum()  # π_δ is π0 moved: one normaliser for both, so a grid too small for the shift loses π_δ mass
    w0, w1 = w0 / total, w1 / total
    order = np.argsort(moved - base, kind="stable")  # smallest likelihood ratio first
    filled0 = np.concatenate([[0.0], np.cumsum(w0[order])])
    filled1 = np.concatenate([[0.0], np.cumsum(w1[order])])
    return np.interp(np.asarray(p_values, dtype=np.float64), filled0, filled1)


def neyman_pearson_radius(
    log_density: LogDensity,
    points: np.ndarray,
    directions: Sequence[Sequence[float]],
    p: float,
    upper: float,
    lower: float = 0.0,
    steps: int = 30,
) -> float:
    """The smallest over ``directions`` of sup{r ≤ ``upper`` : V_{r·u}(p) > ½}, by bisection (V decreases in r
    along a ray for the families here: their likelihood ratio spreads as the shift grows). ``lower``: a radius
    expected to hold, to start the bracket there (it falls back to 0 where V(lower) ≤ ½)."""

    def holds(r: float, u: np.ndarray) -> bool:
        return bool(neyman_pearson_values(log_density, points, r * u, [p])[0] > 0.5)

    best = upper
    for direction in directions:
        u = np.asarray(direction, dtype=np.float64)
        if holds(best, u):
            continue
        lo = lower if 0.0 < lower < best and holds(lower, u) else 0.0
        hi = best
        for _ in range(steps):
            mid = 0.5 * (lo + hi)
            lo, hi = (mid, hi) if holds(mid, u) else (lo, mid)
        best = min(best, lo)
    return best
