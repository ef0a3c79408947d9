"""``rsmooth-analyze``: certification TSVs (rsmooth's or Cohen et al.'s) → curves, tables, summary.

The Hydra entry point is a thin wrapper over :func:`analyze`.
"""

from __future__ import annotations

import glob
import json
import math
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, ListConfig

from rsmooth.analysis.bounds import bound_figures, certificate_columns, plot_linf_over_dimension
from rsmooth.analysis.curves import (
    best_envelope,
    certified_accuracy,
    certified_accuracy_lower_bound,
    curve_points,
    load_rows,
    radius_grid,
    rows_alpha,
    rows_norm,
)
from rsmooth.analysis.described import describe, labels_and_title
from rsmooth.analysis.metrics import summarize_rows
from rsmooth.analysis.plots import plot_curves
from rsmooth.analysis.tables import latex_table, markdown_table, seconds
from rsmooth.atomic import write_text_atomic
from rsmooth.cli.schema import AnalyzeSchema, check_config
from rsmooth.errors import ConfigError, ResultsFileNotFoundError
from rsmooth.results.file import read_provenance
from rsmooth.results.rows import CertificationRow


def sweep_runs(directory: Path) -> list[Path]:
    """The final certification TSV of every run of a Hydra sweep directory (``<sweep>/<job>/certify.tsv``),
    in job order."""
    runs = [p for p in directory.glob("*/certify.tsv") if (p.parent / ".hydra").is_dir() or p.parent.name.isdigit()]
    return sorted(
        runs,
        key=lambda p: (
            not p.parent.name.isdigit(),
            int(p.parent.name) if p.parent.name.isdigit() else 0,
            p.parent.name,
        ),
    )


def expand_inputs(inputs: Any) -> list[Path]:
    """A path, a glob, or a list of them → the sorted list of existing TSV files (error if none).
    A directory gives its TSVs, or, when it has none, its sweep runs' (:func:`sweep_runs`)."""
    patterns = list(inputs) if isinstance(inputs, (list, tuple, ListConfig)) else [inputs]
    paths: list[Path] = []
    for pattern in patterns:
        p = Path(str(pattern)).expanduser()
        if p.is_dir():
            matches = sorted(p.glob("*.tsv")) or sweep_runs(p)
        else:
            matches = sorted(Path(m) for m in glob.glob(str(p)))
        if not matches:
            raise ResultsFileNotFoundError(f"no certification TSV matches {pattern!r}")
        paths.extend(matches)
    return paths


def run_labels(paths: list[Path], rows: list[list[CertificationRow]], given: Any = None) -> tuple[list[str], str]:
    """(one distinct label per input, the figure's title): ``given``, else what differs between the inputs (their
    noise, certificate, n, α, or a sweep's overrides: :func:`~rsmooth.analysis.described.labels_and_title`);
    the title says what they share. ``rows``: each input's rows."""
    described = [describe(p, r) for p, r in zip(paths, rows)]
    labels, title = labels_and_title(paths, described)
    if given:
        labels = [str(v) for v in given]
        if len(labels) != len(paths):
            raise ConfigError(f"labels has {len(labels)} entries for {len(paths)} inputs; give one label per input")
    return labels, title


def _radii(settings: AnalyzeSchema) -> list[float]:
    if settings.radii:
        return list(settings.radii)
    return radius_grid(settings.max_radius, settings.radius_step)


def _common_norm(paths: list[Path], configured: str | None) -> str:
    """The one norm all inputs are in: from their rows (rsmooth TSVs) or the config (Cohen's files)."""
    found = {p: rows_norm(p) for p in paths}
    norms = {n for n in found.values() if n}
    if configured:
        norms.add(configured)
    if len(norms) > 1:
        detail = ", ".join(f"{p.name}: {n or '?'}" for p, n in found.items())
        raise ConfigError(
            f"inputs certify different norms ({detail}); curves of different norms cannot share a plot: analyze "
            "each norm apart"
        )
    return norms.pop() if norms else "l2"


def analyze(cfg: DictConfig) -> dict[str, Any]:
    """Curves (PNG/SVG: exact step functions), best-over-runs envelope, ACR, Appendix-D lower bound,
    time per image, markdown/LaTeX tables at ``radii``. All inputs must be in one norm (read from
    the rows, or ``norm``)."""
    settings = check_config(cfg, AnalyzeSchema)  # before anything is loaded or written
    paths = expand_inputs(cfg.inputs)
    norm = _common_norm(paths, settings.norm)
    every_rows = [load_rows(p) for p in paths]  # each file read once
    labels, title = run_labels(paths, every_rows, settings.labels)
    radii = _radii(settings)
    out = Path(cfg.paths.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    curves: dict[str, list[float]] = {}  # on the table's radii
    plotted: dict[str, tuple[list[float], list[float]]] = {}  # on each run's exact step points
    stats: dict[str, dict[str, float]] = {}
    loaded: dict[str, list[CertificationRow]] = {}
    top = max(radii)
    for label, rows in zip(labels, every_rows):
        loaded[label] = rows
        # the rows' own alpha when they record it (0 for exact certificates), else the configured one
        alpha = rows_alpha(rows)
        alpha = settings.alpha if alpha is None else alpha
        summary = summarize_rows(rows, radii, alpha=alpha, rho=settings.rho)
        curves[label] = summary.certified_accuracy
        stats[label] = {
            "ACR": summary.acr,
            "abstain": summary.abstain,
            "n": summary.mean_n,
            "s/img": summary.mean_time_s,
            "examples": summary.examples,
        }
        xs = curve_points(rows, top)
        plotted[label] = (xs, certified_accuracy(rows, xs))
        if settings.lower_bound and summary.lower_bound is not None:
            curves[f"{label} (App. D LB)"] = summary.lower_bound
            plotted[f"{label} (App. D LB)"] = (xs, certified_accuracy_lower_bound(rows, xs, alpha, settings.rho))
    table_curves = {k: v for k, v in curves.items() if not k.endswith("(App. D LB)")}
    if settings.envelope and len(paths) > 1:
        grid = sorted({x for k in table_curves for x in plotted[k][0]})
        envelope_points = best_envelope({k: certified_accuracy(rows, grid) for k, rows in loaded.items()})
        plotted["best over runs"] = (grid, envelope_points)
        curves["best over runs"] = best_envelope(table_curves)
        table_curves["best over runs"] = curves["best over runs"]
    dashed = [k for k in plotted if k.endswith("(App. D LB)")]
    # legend: each run with its certification time per image and the samples that time bought
    # legend: each run with its certification time per image (its label names n where the runs differ in it)
    legend = {k: (f"{k} ({seconds(stats[k]['s/img'])} s/img)" if k in stats else k) for k in plotted}
    figures = [
        plot_curves(
            {legend[k]: v for k, v in plotted.items()},
            out / f"curves.{fmt}",
            norm=norm,
            title=title or None,
            dashed=[legend[k] for k in dashed],
            band=["best over runs"],
        )
        for fmt in settings.formats
    ]
    md = markdown_table(
        table_curves, radii, extra={k: {"ACR": v["ACR"], "n": v["n"], "s/img": v["s/img"]} for k, v in stats.items()}
    )
    bounds: dict[str, dict[str, list[float]]] = {}
    if settings.bounds:
        # figure files are named after their results files (labels may repeat words, stems are file names)
        stems = [p.stem for p in paths] if len({p.stem for p in paths}) == len(paths) else list(loaded)
        for path, label, stem in zip(paths, loaded, stems):
            figures += bound_figures(path, loaded[label], out, _safe_stem(stem), settings.formats)
            bounds.update(_bound_tables(path, loaded[label], label, radii, norm))
        if bounds:
            md += "\n\nCertificates on the same counts (hard bounds only; relaxations certify nothing):\n\n"
            md += markdown_table(
                {f"{label}: {name}": v for label, per in bounds.items() for name, v in per.items()}, radii
            )
    dim_cfg = settings.linf_over_dimension
    if dim_cfg.enabled:
        figures += [
            plot_linf_over_dimension(
                out / f"linf_over_dimension.{fmt}",
                p=dim_cfg.p,
                sigma=dim_cfg.sigma,
                max_dim=dim_cfg.max_dim,
                marked=_input_dims(paths),
            )
            for fmt in settings.formats
        ]
    write_text_atomic(out / "table.md", md)
    write_text_atomic(out / "table.tex", latex_table(table_curves, radii))
    summary_json = {
        "title": title,
        "labels": labels,
        "norm": norm,
        "radii": radii,
        "curves": curves,
        "stats": stats,
        "bounds": bounds,
        "inputs": [str(p) for p in paths],
    }
    write_text_atomic(out / "summary.json", json.dumps(summary_json, indent=2) + "\n")
    print(md)
    print(f"outputs: {out.resolve()}")
    return {"table": md, "figures": figures, **summary_json}


def _safe_stem(label: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in label)


def _bound_tables(
    path: Path, rows: list[CertificationRow], label: str, radii: list[float], norm: str
) -> dict[str, dict[str, list[float]]]:
    """Certified accuracy at ``radii`` for each hard extra certificate of the run in the curves' norm."""
    extra = [c for c in certificate_columns(path, rows)[1:] if c.hard and c.norm == norm]
    if not extra:
        return {}
    return {label: {c.name: certified_accuracy(rows, radii, c.name) for c in extra}}


def _input_dims(paths: list[Path]) -> list[int]:
    """The input dimensions C·H·W the results files record (for marking them on a figure)."""
    dims = set()
    for path in paths:
        shape = ((read_provenance(path) or {}).get("data") or {}).get("input_shape")
        if shape:
            dims.add(int(math.prod(int(v) for v in shape)))
    return sorted(dims)
