"""The certified-accuracy bundle, computed in one place for the callback, the training summary
and ``rsmooth-analyze`` (the rows gathered across ranks: :mod:`rsmooth.analysis.gather`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from rsmooth.analysis.curves import (
    RowsLike,
    abstain_rate,
    accuracy_lower_bound,
    average_certified_radius,
    certified_counts,
    load_rows,
    mean_time,
    rows_alpha,
)


@dataclass
class CertifiedSummary:
    """Certified accuracy at each radius, its Appendix-D lower bound (None when the rows record no
    α and none is given), ACR, abstention rate, mean seconds per example, mean estimation samples per example
    (``n``; less than the budget in sequential mode, 0 for rows of another tool) and the rows' failure
    probability α (None when they record none), over ``examples`` rows."""

    examples: int
    radii: list[float]
    certified_accuracy: list[float]
    lower_bound: list[float] | None
    acr: float
    abstain: float
    mean_time_s: float
    mean_n: float = 0.0
    alpha: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def summarize_rows(
    path_or_rows: RowsLike,
    radii: Sequence[float],
    certificate: str | None = None,
    alpha: float | None = None,
    rho: float = 0.001,
) -> CertifiedSummary:
    """The bundle for ``radii``; ``alpha`` for the lower bound defaults to the rows' own."""
    rows = load_rows(path_or_rows)
    radii = [float(r) for r in radii]
    counts, m = certified_counts(rows, radii, certificate)
    alpha = rows_alpha(rows) if alpha is None else alpha
    lower = None if alpha is None else [accuracy_lower_bound(y, m, alpha, rho) for y in counts]
    return CertifiedSummary(
        m,
        radii,
        [y / m for y in counts],
        lower,
        average_certified_radius(rows, certificate),
        abstain_rate(rows),
        mean_time(rows),
        sum(r.n or 0 for r in rows) / len(rows) if rows else 0.0,
        rows_alpha(rows),
    )
