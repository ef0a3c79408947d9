"""A robust 1-D maximizer for bounds stated as a supremum over a tuning parameter (β, α′)."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from scipy.optimize import minimize_scalar


def maximize_scalar(
    f: Callable[[float], float],
    lo: float,
    hi: float,
    log_scale: bool = False,
    grid_points: int = 129,
    xatol: float = 1e-12,
) -> tuple[float, float]:
    """(x*, f(x*)) maximising ``f`` on [lo, hi] (on [log lo, log hi] when ``log_scale``).

    A grid of ``grid_points`` brackets the best cell, then bounded Brent refines inside the two cells
    around it; the better of the grid point and the refined point is returned, so the answer is never
    worse than the grid's (a plain bounded search can return a poor local optimum of a flat or
    non-unimodal objective). ``f`` may return −inf or nan where the bound is vacuous.
    """
    if not hi > lo:
        raise ValueError(f"need hi > lo, got [{lo}, {hi}]")
    if log_scale and lo <= 0:
        raise ValueError(f"log_scale needs lo > 0, got {lo}")
    to_x: Callable[[float], float] = math.exp if log_scale else float
    a, b = (math.log(lo), math.log(hi)) if log_scale else (lo, hi)

    def value(u: float) -> float:
        v = f(to_x(u))
        return v if math.isfinite(v) else -math.inf

    grid = np.linspace(a, b, grid_points)
    values = [value(float(u)) for u in grid]
    i = int(np.argmax(values))
    best_u, best_v = float(grid[i]), values[i]
    left, right = float(grid[max(i - 1, 0)]), float(grid[min(i + 1, grid_points - 1)])
    if right > left and math.isfinite(best_v):
        tol = xatol if not log_scale else xatol / max(abs(best_u), 1.0)
        res = minimize_scalar(
            lambda u: -value(u), bounds=(left, right), method="bounded", options={"xatol": max(tol, 1e-14)}
        )
        if res.success and -res.fun > best_v:
            best_u, best_v = float(res.x), float(-res.fun)
    return to_x(best_u), best_v
