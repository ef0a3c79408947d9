"""Turn a certification TSV into the numbers and figure a run reports."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rsmooth.analysis.curves import (
    abstain_rate,
    average_certified_radius,
    certified_accuracy,
    certified_accuracy_lower_bound,
    load_rows,
)
from rsmooth.analysis.plots import plot_curves
from rsmooth.analysis.tables import markdown_table


def summarize(
    tsv: str | Path, radii: Sequence[float], out_dir: str | Path, norm: str, name: str = "certified"
) -> dict[str, Any]:
    """Write ``certified_accuracy.png`` and ``summary.json``/``summary.md`` next to the TSV; return the summary."""
    rows = load_rows(tsv)
    out_dir = Path(out_dir)
    radii = [float(r) for r in radii]
    accs = certified_accuracy(rows, radii)
    lower = certified_accuracy_lower_bound(rows, radii)  # α as recorded in the rows
    plot_curves(
        {name: accs, f"{name} (App. D lower bound, ρ=0.001)": lower},
        radii,
        out_dir / "certified_accuracy.png",
        norm=norm,
        dashed=[f"{name} (App. D lower bound, ρ=0.001)"],
    )
    summary = {
        "examples": len(rows),
        "norm": norm,
        "radii": radii,
        "certified_accuracy": accs,
        "certified_accuracy_lower_bound": lower,
        "acr": average_certified_radius(rows),
        "abstain": abstain_rate(rows),
        "mean_time_s": sum(r.time for r in rows) / len(rows),
        "tsv": str(tsv),
    }
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    (out_dir / "summary.md").write_text(
        markdown_table({name: accs}, radii, extra={name: {"ACR": summary["acr"], "abstain": summary["abstain"]}})
    )
    return summary
