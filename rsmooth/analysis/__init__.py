"""Certified-accuracy analysis: curves, tables and plots from certification TSVs (``CertificationRows``, the
rows gathered across ranks as a torchmetrics ``Metric``, lives in :mod:`rsmooth.analysis.gather`)."""

from rsmooth.analysis.curves import (
    abstain_rate,
    accuracy_lower_bound,
    average_certified_radius,
    best_envelope,
    certified_accuracy,
    certified_accuracy_lower_bound,
    certified_counts,
    curve_points,
    load_rows,
    mean_time,
    radius_grid,
    rows_norm,
)
from rsmooth.analysis.metrics import CertifiedSummary, summarize_rows
from rsmooth.analysis.plots import plot_curves
from rsmooth.analysis.tables import latex_table, markdown_table

__all__ = [
    "CertifiedSummary",
    "abstain_rate",
    "accuracy_lower_bound",
    "average_certified_radius",
    "best_envelope",
    "certified_accuracy",
    "certified_accuracy_lower_bound",
    "certified_counts",
    "curve_points",
    "latex_table",
    "load_rows",
    "markdown_table",
    "mean_time",
    "plot_curves",
    "radius_grid",
    "rows_norm",
    "summarize_rows",
]
