"""Certified-accuracy curve figures (matplotlib, headless)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from rsmooth.atomic import atomic_output

Curve = tuple[Sequence[float], Sequence[float]]


def plot_curves(
    curves: Mapping[str, Curve],
    path: str | os.PathLike[str],
    norm: str = "l2",
    title: str | None = None,
    dashed: Sequence[str] = (),
    ylabel: str = "certified accuracy",
    band: Sequence[str] = (),
) -> Path:
    """Draw certified accuracy against radius for each named curve ``(radii, accuracies)`` and save to
    ``path`` (format from the suffix). Give the points of
    :func:`~rsmooth.analysis.curves.curve_points` to draw exact step functions. Curves named in
    ``dashed`` (lower bounds) are drawn dashed; those in ``band`` (the best-over-runs envelope) as a wide pale
    band beneath every curve, so it shows where it runs along the top curve. ``title`` (what produced the
    curves) goes above the axes, the legend beside them, outside: it never covers a curve. Returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig = Figure(figsize=(6.0, 4.0))
    ax = fig.subplots()
    lo, hi = float("inf"), 0.0
    colors: dict[str, Any] = {}
    for name, (xs, ys) in curves.items():
        if name in band:
            ax.plot(
                list(xs), list(ys), label=name, color="0.6", linewidth=7, alpha=0.45, zorder=0, solid_capstyle="butt"
            )
        else:
            # a dashed curve named after a drawn one ("run (App. D LB)") takes its colour: the pair reads as one
            parent = next((c for c in colors if name.startswith(c.split(" (")[0] + " (")), None)
            color = colors[parent] if name in dashed and parent else None
            (line,) = ax.plot(
                list(xs), list(ys), label=name, linestyle="--" if name in dashed else "-", zorder=2, color=color
            )
            colors[name] = line.get_color()
        lo, hi = min(lo, min(xs)), max(hi, max(xs))
    symbol = {"l1": r"\ell_1", "l2": r"\ell_2", "linf": r"\ell_\infty"}.get(norm, norm)
    ax.set_xlabel(f"radius (${symbol}$, pixel units)")
    ax.set_ylabel(ylabel)
    ax.set_ylim(0.0, 1.0)
    ax.set_xlim(lo if lo < hi else 0.0, hi if lo < hi else 1.0)
    ax.grid(alpha=0.3)
    if title:
        ax.set_title(_wrapped(title), fontsize=9)
    fig.tight_layout()  # before the legend: the axes keep their size, the saved image widens to hold it
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0, frameon=False)
    save_figure(fig, path)
    return path


def _wrapped(title: str, width: int = 72) -> str:
    """``title`` in lines of at most ``width`` characters, broken between its `` · ``-separated parts."""
    lines: list[str] = []
    for part in title.split(" · "):
        if lines and len(lines[-1]) + 3 + len(part) <= width:
            lines[-1] += " · " + part
        else:
            lines.append(part)
    return "\n".join(lines)


def save_figure(fig: Figure, path: str | os.PathLike[str]) -> Path:
    """Save ``fig`` to ``path`` (format from the suffix) whole or not at all, never through a planted link
    (:func:`~rsmooth.atomic.atomic_output`); returns ``path``."""
    path = Path(path)
    with atomic_output(path) as file:
        # tight: the legend beside the axes is part of the figure
        fig.savefig(file, format=path.suffix.lstrip(".") or "png", bbox_inches="tight")
    return path
