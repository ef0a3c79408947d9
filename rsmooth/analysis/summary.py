"""Turn a certification TSV into the numbers and figure a run reports (``X.summary.json``/``.md``, ``X.png``)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rsmooth.analysis.bounds import certificate_columns
from rsmooth.analysis.curves import certified_accuracy, certified_accuracy_lower_bound, curve_points, load_rows
from rsmooth.analysis.described import describe, labels_and_title
from rsmooth.analysis.metrics import summarize_rows
from rsmooth.analysis.plots import plot_curves
from rsmooth.analysis.tables import markdown_table
from rsmooth.atomic import write_text_atomic
from rsmooth.errors import ConfigError, ResultsFileNotFoundError
from rsmooth.results.file import required_provenance
from rsmooth.results.rows import CertificationRow


def baseline_column(
    path: str | Path, norm: str, results_format: str = "rsmooth"
) -> tuple[list[CertificationRow], str | None, str]:
    """(rows, certificate, label) of a baseline results file read in threat norm ``norm``: its rows' own
    radius when it is in ``norm``, else its first hard extra column in ``norm`` (e.g. the Gaussian run of
    experiment=digits_gaussian_bounds holds Cohen's ℓ∞ and ℓ2 radii). A clear error when it has none, or when
    it has no provenance record and ``results_format`` is not ``cohen`` (then the label says "provenance
    unknown")."""
    path = Path(path)
    if not path.is_file():
        raise ResultsFileNotFoundError(f"baseline results file {str(path)!r} does not exist")
    known = required_provenance(path, "certification.baselines", results_format) is not None
    rows = load_rows(path)
    for column in certificate_columns(path, rows):
        if column.hard and column.norm == norm:
            certificate = None if column.name == (rows[0].certificate or "radius") else column.name
            unknown = "" if known else ", provenance unknown"
            return rows, certificate, f"baseline: {rows[0].noise or path.stem} ({column.name}{unknown})"
    raise ConfigError(
        f"baseline {str(path)!r} holds no radius in {norm}; certify it in that norm "
        "(or with an extra certificate in it, e.g. cohen_linf)"
    )


def summary_paths(tsv: str | Path) -> dict[str, Path]:
    """The files a results file's summary goes to, named after it so that two results files in one directory
    never share one: ``X.tsv`` → ``X.summary.json``, ``X.summary.md``, ``X.png``."""
    tsv = Path(tsv)
    stem = tsv.name[: -len(".tsv")] if tsv.name.endswith(".tsv") else tsv.name
    return {
        kind: tsv.with_name(stem + suffix)
        for kind, suffix in (("json", ".summary.json"), ("md", ".summary.md"), ("png", ".png"))
    }


def summarize_file(
    tsv: str | Path,
    radii: Sequence[float],
    norm: str,
    name: str = "certified",
    extra: dict[str, Any] | None = None,
    baselines: Sequence[str | Path] = (),
    baselines_format: str = "rsmooth",
) -> dict[str, Any]:
    """Write the plot ``X.png`` (the step curve and its Appendix-D bound, and each baseline's curve in the same
    norm, :func:`baseline_column`) and ``X.summary.json``/``X.summary.md`` next to the TSV ``X.tsv``
    (:func:`summary_paths`); return the summary (plus ``extra``, and ``baselines``: certified accuracy at
    ``radii`` per baseline)."""
    rows = load_rows(tsv)
    outputs = summary_paths(tsv)
    summary = summarize_rows(rows, radii)
    _, title = labels_and_title([Path(tsv)], [describe(tsv, rows)])
    xs = curve_points(rows, max(summary.radii) if summary.radii else 1.0)
    curves = {name: (xs, certified_accuracy(rows, xs))}
    dashed = []
    if summary.lower_bound is not None:
        label = f"{name} (Appendix D lower bound, ρ=0.001)"
        curves[label] = (xs, certified_accuracy_lower_bound(rows, xs))
        dashed.append(label)
    table = {name: summary.certified_accuracy}
    compared: dict[str, list[float]] = {}
    for path in baselines:
        base_rows, certificate, label = baseline_column(path, norm, baselines_format)
        base_xs = curve_points(base_rows, max(summary.radii) if summary.radii else 1.0, certificate)
        curves[label] = (base_xs, certified_accuracy(base_rows, base_xs, certificate))
        compared[label] = table[label] = certified_accuracy(base_rows, summary.radii, certificate)
    plot_curves(curves, outputs["png"], norm=norm, title=f"{title} · {len(rows)} examples", dashed=dashed)
    result = {
        **summary.as_dict(),
        "norm": norm,
        "tsv": str(tsv),
        **({"baselines": compared} if compared else {}),
        **(extra or {}),
    }
    write_text_atomic(outputs["json"], json.dumps(result, indent=2) + "\n")
    write_text_atomic(
        outputs["md"],
        markdown_table(table, summary.radii, extra={name: {"ACR": summary.acr, "abstain": summary.abstain}}),
    )
    return result
