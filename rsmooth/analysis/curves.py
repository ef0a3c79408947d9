"""Numbers derived from certification rows (docs/design.md §3.7).

Every function takes either a path to a TSV (rsmooth's or Cohen et al.'s) or a sequence of
:class:`~rsmooth.results.rows.CertificationRow`. ``certificate`` picks an extra certificate's
radius column (default: each row's own certificate). A row counts at radius r when its prediction
is correct and :meth:`CertificationRow.covers` r: radius ≥ r, or for an exact radius t/q every
quantized perturbation of size ≤ r, so a DSSN radius k/q counts at k/q.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from typing import Union

import numpy as np

from rsmooth.errors import ResultsFileError
from rsmooth.results.file import read_rows
from rsmooth.results.rows import CertificationRow

RowsLike = Union[str, os.PathLike[str], Sequence[CertificationRow]]


def load_rows(path_or_rows: RowsLike) -> list[CertificationRow]:
    """Rows from a TSV path (refusing duplicate idx, corrupt rows and a file without rows), or the given rows
    unchanged."""
    if isinstance(path_or_rows, (str, os.PathLike)):
        rows = read_rows(path_or_rows)
        if not rows:
            raise ResultsFileError(f"{path_or_rows}: no certification rows (an empty or header-only file)")
        return rows
    rows = list(path_or_rows)
    if not rows:
        raise ValueError("no certification rows to analyse")
    return rows


def _nonempty(rows: Sequence[CertificationRow]) -> Sequence[CertificationRow]:
    if not rows:
        raise ValueError("no certification rows to analyse")
    return rows


def certified_counts(
    path_or_rows: RowsLike, radii: Sequence[float], certificate: str | None = None
) -> tuple[list[int], int]:
    """(Y_r for each r, m): the number of examples certified correct at r, and the number of examples."""
    rows = _nonempty(load_rows(path_or_rows))
    return [sum(1 for row in rows if row.correct and row.covers(r, certificate)) for r in radii], len(rows)


def certified_accuracy(path_or_rows: RowsLike, radii: Sequence[float], certificate: str | None = None) -> list[float]:
    """Fraction of examples with a correct prediction certified at radius ≥ r, for each r.

    Abstentions (predict = −1) count as wrong (Cohen et al. §4).
    """
    counts, m = certified_counts(path_or_rows, radii, certificate)
    return [y / m for y in counts]


def _radius(row: CertificationRow, certificate: str | None) -> float:
    if certificate is not None and certificate != row.certificate:
        return row.extra_radii[certificate]
    if row.exact_radius is not None:
        return row.exact_radius[0] / row.exact_radius[1]
    return row.radius


def average_certified_radius(path_or_rows: RowsLike, certificate: str | None = None) -> float:
    """ACR = (1/m) Σ_i radius_i · 1[correct_i] (Zhai et al. 2020)."""
    rows = _nonempty(load_rows(path_or_rows))
    return float(np.mean([_radius(r, certificate) if (r.correct and r.predict >= 0) else 0.0 for r in rows]))


def abstain_rate(path_or_rows: RowsLike) -> float:
    """Fraction of examples on which the smoothed classifier abstained."""
    rows = _nonempty(load_rows(path_or_rows))
    return sum(r.predict < 0 for r in rows) / len(rows)


def accuracy_lower_bound(certified: int, m: int, alpha: float, rho: float = 0.001) -> float:
    """High-probability lower bound on the true certified accuracy (Cohen et al., Appendix D, Theorem 5, eq. 16).

    With probability ≥ 1 − ρ over CERTIFY's randomness, the fraction of the m
    examples that are truly certified is at least
    (1/(1−α)) (Y/m − α − sqrt(2α(1−α) ln(1/ρ)/m) − ln(1/ρ)/(3m)), clipped at 0.
    With α = 0 (exact certificates) it is Y/m.
    """
    if m < 1:
        raise ValueError(f"m must be >= 1, got {m}")
    if alpha == 0:
        return certified / m  # exact certificates (DSSN): nothing to correct for
    if not 0 < alpha < 1 or not 0 < rho < 1:
        raise ValueError(f"alpha and rho must be in (0, 1), got alpha={alpha}, rho={rho}")
    log_term = math.log(1.0 / rho)
    value = (certified / m - alpha - math.sqrt(2 * alpha * (1 - alpha) * log_term / m) - log_term / (3 * m)) / (
        1 - alpha
    )
    return max(0.0, value)


def rows_alpha(rows: Sequence[CertificationRow]) -> float | None:
    """The failure probability the rows record (the largest, if they differ), None if some record none."""
    alphas = [r.alpha for r in rows]
    if any(a is None for a in alphas):
        return None
    return max(a for a in alphas if a is not None)


def certified_accuracy_lower_bound(
    path_or_rows: RowsLike,
    radii: Sequence[float],
    alpha: float | None = None,
    rho: float = 0.001,
    certificate: str | None = None,
) -> list[float]:
    """:func:`accuracy_lower_bound` at each radius.

    ``alpha`` defaults to the one the rows record (the largest, if they differ);
    it must be given for files that record none (Cohen et al.'s).
    """
    rows = load_rows(path_or_rows)
    if alpha is None:
        alpha = rows_alpha(rows)
        if alpha is None:
            raise ValueError("these rows record no alpha: pass the alpha used for certification")
    counts, m = certified_counts(rows, radii, certificate)
    return [accuracy_lower_bound(y, m, alpha, rho) for y in counts]


def best_envelope(curves: Mapping[str, Sequence[float]]) -> list[float]:
    """Pointwise maximum over several curves on the same radius grid (best over σ, Cohen Fig. 7)."""
    if not curves:
        raise ValueError("no curves to take the envelope of")
    lengths = {len(c) for c in curves.values()}
    if len(lengths) != 1:
        raise ValueError(f"curves must share one radius grid, got lengths {sorted(lengths)}")
    return [float(v) for v in np.max(np.array([list(c) for c in curves.values()]), axis=0)]


def radius_grid(max_radius: float, step: float) -> list[float]:
    """0, step, 2·step, … up to and including ``max_radius`` (no float drift in the grid points)."""
    if step <= 0 or max_radius < 0:
        raise ValueError(f"need step > 0 and max_radius >= 0, got step={step}, max_radius={max_radius}")
    count = math.floor(max_radius / step + 1e-9)
    return [round(i * step, 10) for i in range(count + 1)]


def curve_points(
    path_or_rows: RowsLike, max_radius: float, certificate: str | None = None, grid_points: int = 400
) -> list[float]:
    """Radii at which to evaluate a certified-accuracy curve so that, drawn as a polyline, it is
    the exact step function: a fine grid on [0, max_radius] plus, at every distinct certified radius
    r, r itself and a point just above it (where the curve drops; for an exact radius t/q, the
    drop is just below (t+1)/q)."""
    rows = load_rows(path_or_rows)
    points = {max_radius * i / grid_points for i in range(grid_points + 1)}
    for row in rows:
        if not (row.correct and row.predict >= 0):
            continue
        if row.exact_radius is not None and (certificate is None or certificate == row.certificate):
            t, q = row.exact_radius
            edge = (t + 1) / q
            points.update({edge, math.nextafter(edge - 1e-9 / q, 0.0)})
        else:
            r = _radius(row, certificate)
            points.update({r, math.nextafter(r, math.inf)})
    return sorted(p for p in points if 0.0 <= p <= max_radius)


def mean_time(path_or_rows: RowsLike) -> float:
    """Mean certification wall time per example, in seconds."""
    rows = _nonempty(load_rows(path_or_rows))
    return sum(r.time for r in rows) / len(rows)


def rows_norm(path_or_rows: RowsLike) -> str | None:
    """The threat norm recorded in the rows (None for files without a norm column, e.g. Cohen's).

    Rows of one file must agree: mixing norms in one curve would be meaningless.
    """
    norms = {r.norm for r in load_rows(path_or_rows) if r.norm}
    if len(norms) > 1:
        raise ValueError(f"rows mix radii in several norms: {sorted(norms)}")
    return norms.pop() if norms else None
