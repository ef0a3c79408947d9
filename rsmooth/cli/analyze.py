"""``rsmooth-analyze``: certification TSVs (rsmooth's or Cohen et al.'s) → curves, tables, summary.

The Hydra entry point is a thin wrapper over :func:`analyze`.
"""

from __future__ import annotations

import glob
import json
from pathlib import Path
from typing import Any

import hydra
from omegaconf import DictConfig, ListConfig

from rsmooth.analysis.curves import (
    abstain_rate,
    average_certified_radius,
    best_envelope,
    certified_accuracy,
    certified_accuracy_lower_bound,
    load_rows,
    radius_grid,
)
from rsmooth.analysis.plots import plot_curves
from rsmooth.analysis.tables import latex_table, markdown_table
from rsmooth.config import config_dir


def expand_inputs(inputs: Any) -> list[Path]:
    """A path, a glob, or a list of them → the sorted list of existing TSV files (error if none)."""
    patterns = list(inputs) if isinstance(inputs, (list, tuple, ListConfig)) else [inputs]
    paths: list[Path] = []
    for pattern in patterns:
        p = Path(str(pattern)).expanduser()
        if p.is_dir():
            matches = sorted(p.glob("*.tsv"))
        else:
            matches = sorted(Path(m) for m in glob.glob(str(p)))
        if not matches:
            raise FileNotFoundError(f"no certification TSV matches {pattern!r}")
        paths.extend(matches)
    return paths


def _radii(cfg: DictConfig) -> list[float]:
    if cfg.get("radii"):
        return [float(r) for r in cfg.radii]
    return radius_grid(cfg.max_radius, cfg.radius_step)


def analyze(cfg: DictConfig) -> dict[str, Any]:
    """Curves (PNG/SVG), best-over-runs envelope, ACR, Appendix-D lower bound, markdown/LaTeX tables."""
    paths = expand_inputs(cfg.inputs)
    radii = _radii(cfg)
    out = Path(cfg.paths.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    curves: dict[str, list[float]] = {}
    stats: dict[str, dict[str, float]] = {}
    for path in paths:
        rows = load_rows(path)
        label = path.stem
        curves[label] = certified_accuracy(rows, radii)
        stats[label] = {"ACR": average_certified_radius(rows), "abstain": abstain_rate(rows), "examples": len(rows)}
        if cfg.lower_bound:
            curves[f"{label} (App. D LB)"] = certified_accuracy_lower_bound(rows, radii, cfg.alpha, cfg.rho)
    table_curves = {k: v for k, v in curves.items() if not k.endswith("(App. D LB)")}
    if cfg.envelope and len(paths) > 1:
        curves["best over runs"] = best_envelope(table_curves)
        table_curves["best over runs"] = curves["best over runs"]
    dashed = [k for k in curves if k.endswith("(App. D LB)") or k == "best over runs"]
    figures = [plot_curves(curves, radii, out / f"curves.{fmt}", norm=cfg.norm, dashed=dashed) for fmt in cfg.formats]
    md = markdown_table(table_curves, radii, extra={k: {"ACR": v["ACR"]} for k, v in stats.items()})
    (out / "table.md").write_text(md)
    (out / "table.tex").write_text(latex_table(table_curves, radii))
    summary = {"radii": radii, "curves": curves, "stats": stats, "inputs": [str(p) for p in paths]}
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(md)
    print(f"outputs: {out.resolve()}")
    return {"table": md, "figures": figures, **summary}


@hydra.main(config_path=str(config_dir()), config_name="analyze", version_base="1.3")
def main(cfg: DictConfig) -> None:
    analyze(cfg)


if __name__ == "__main__":
    main()
