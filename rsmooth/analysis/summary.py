"""Turn a certification TSV into the numbers and figure a run reports (``summary.json``/``.md``, a plot)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rsmooth.analysis.curves import certified_accuracy, certified_accuracy_lower_bound, curve_points, load_rows
from rsmooth.analysis.metrics import summarize_rows
from rsmooth.analysis.plots import plot_curves
from rsmooth.analysis.tables import markdown_table


def summarize_file(
    tsv: str | Path, radii: Sequence[float], out_dir: str | Path, norm: str, name: str = "certified",
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Write ``certified_accuracy.png`` (the step curve and its Appendix-D bound) and
    ``summary.json``/``summary.md`` next to the TSV; return the summary (plus ``extra``)."""
    rows = load_rows(tsv)
    out_dir = Path(out_dir)
    summary = summarize_rows(rows, radii)
    xs = curve_points(rows, max(summary.radii) if summary.radii else 1.0)
    curves = {name: (xs, certified_accuracy(rows, xs))}
    dashed = []
    if summary.lower_bound is not None:
        label = f"{name} (App. D lower bound, ρ=0.001)"
        curves[label] = (xs, certified_accuracy_lower_bound(rows, xs))
        dashed.append(label)
    plot_curves(curves, out_dir / "certified_accuracy.png", norm=norm, dashed=dashed)
    result = {**summary.as_dict(), "norm": norm, "tsv": str(tsv), **(extra or {})}
    (out_dir / "summary.json").write_text(json.dumps(result, indent=2) + "\n")
    (out_dir / "summary.md").write_text(
        markdown_table({name: summary.certified_accuracy}, summary.radii,
                       extra={name: {"ACR": summary.acr, "abstain": summary.abstain}})
    )
    return result
