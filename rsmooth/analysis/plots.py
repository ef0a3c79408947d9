"""Certified-accuracy curve figures (matplotlib, headless)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

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
) -> Path:
    """Draw certified accuracy against radius for each named curve ``(radii, accuracies)`` and save to
    ``path`` (format from the suffix). Give the points of
    :func:`~rsmooth.analysis.curves.curve_points` to draw exact step functions. Curves named in
    ``dashed`` (envelopes, lower bounds) are drawn dashed. Returns the path written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig = Figure(figsize=(6.0, 4.0))
    ax = fig.subplots()
    lo, hi = float("inf"), 0.0
    for name, (xs, ys) in curves.items():
        ax.plot(list(xs), list(ys), label=name, linestyle="--" if name in dashed else "-")
        lo, hi = min(lo, min(xs)), max(hi, max(xs))
    symbol = {"l1": r"\ell_1", "l2": r"\ell_2", "linf": r"\ell_\infty"}.get(norm, norm)
    ax.set_xlabel(f"radius (${symbol}$, pixel units)")
    ax.set_ylabel(ylabel)
    ax.set_ylim(0.0, 1.0)
    ax.set_xlim(lo if lo < hi else 0.0, hi if lo < hi else 1.0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    save_figure(fig, path)
    return path


def save_figure(fig: Figure, path: str | os.PathLike[str]) -> Path:
    """Save ``fig`` to ``path`` (format from the suffix) whole or not at all, never through a planted link
    (:func:`~rsmooth.atomic.atomic_output`); returns ``path``."""
    path = Path(path)
    with atomic_output(path) as file:
        fig.savefig(file, format=path.suffix.lstrip(".") or "png")
    return path
