"""Several certificates on the same counts, side by side (docs/design.md §3.6; Cohen et al. Figure 16).

A run with ``extra_certificates`` writes one radius column per certificate; its results file's
provenance (``<tsv>.meta.json``) says each one's norm and whether it is a guarantee at all.
This module reads that back and draws, per norm: radius against p̲_A for every bound, and certified
accuracy per bound, where a relaxation (``…_relaxed``, D_MR) is drawn dashed and labelled in the
first panel and left out of the second — it certifies nothing.

It also draws the ℓ∞ story of the unified DP framework from the formulas alone: Gaussian smoothing
read in ℓ∞ (ℓ2 radius/√d) against exponential smoothing's density-ratio radius as d grows.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from scipy.integrate import quad
from scipy.stats import norm as _std_normal

from rsmooth.analysis.curves import certified_accuracy, curve_points
from rsmooth.analysis.plots import save_figure
from rsmooth.certificates.base import Certificate
from rsmooth.certificates.cohen import cohen_radius
from rsmooth.certificates.pure_dp import exponential_scale, pure_dp_radius
from rsmooth.errors import RsmoothError
from rsmooth.loading.trusted import NOISE_MODULES, instantiate_trusted
from rsmooth.noise.base import NoiseFamily
from rsmooth.results.file import read_provenance
from rsmooth.results.rows import CertificationRow

RELAXATION_LABEL = "relaxation, not a certificate"
NORM_SYMBOL = {"l1": r"\ell_1", "l2": r"\ell_2", "linf": r"\ell_\infty"}


@dataclass(frozen=True)
class CertificateColumn:
    """One radius column of a results file: the certificate's name, threat norm, and whether it is hard."""

    name: str
    norm: str
    hard: bool

    @property
    def label(self) -> str:
        return self.name if self.hard else f"{self.name} ({RELAXATION_LABEL})"


def certificate_columns(path: str | os.PathLike[str], rows: Sequence[CertificationRow]) -> list[CertificateColumn]:
    """The certificates whose radii the rows hold, the rows' own first, with norm and hardness from the
    file's provenance record. Without a record only the rows' own certificate is known (its norm is in
    every row); extra columns are then left out rather than guessed."""
    own = CertificateColumn(rows[0].certificate or "radius", rows[0].norm or "l2", True)
    record = read_provenance(path) or {}
    described = {c["name"]: c for c in record.get("certificates", []) if isinstance(c, dict) and "name" in c}
    columns = [own]
    for name in rows[0].extra_radii:
        if name in described:
            info = described[name]
            columns.append(CertificateColumn(name, str(info.get("norm")), not info.get("relaxation", False)))
    return columns


def formula_certificates(path: str | os.PathLike[str]) -> tuple[dict[str, Certificate], int]:
    """The certificates a results file records, rebuilt from its provenance (rsmooth's own noise classes
    only), and the input dimension; ({}, 0) when the record does not allow it."""
    record = read_provenance(path) or {}
    shape: Any = (record.get("data") or {}).get("input_shape")
    try:
        noise = instantiate_trusted(record["noise"], NoiseFamily, NOISE_MODULES, where="noise")
        certs = {c.name: c for c in noise.certificates()}
        dim = int(np.prod([int(v) for v in shape]))  # TypeError when the record has no shape
    except (KeyError, TypeError, ValueError, ImportError, RsmoothError):
        return {}, 0
    return certs, dim


def plot_bounds(
    rows: Sequence[CertificationRow],
    columns: Sequence[CertificateColumn],
    path: str | os.PathLike[str],
    title: str | None = None,
    formulas: dict[str, Certificate] | None = None,
    dim: int = 0,
) -> Path:
    """Two panels for certificates of one norm: radius vs p̲_A and certified accuracy vs radius (hard
    certificates only). The first shows each row's point and, when ``formulas`` holds the one-sided
    certificate, its curve R(p̲_A, 1 − p̲_A) (Cohen et al. Figure 16); relaxations are dashed."""
    norms = {c.norm for c in columns}
    if len(norms) != 1:
        raise ValueError(f"plot_bounds takes certificates of one norm, got {sorted(norms)}")
    symbol = NORM_SYMBOL.get(norms.pop(), "?")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    certified = sorted((r for r in rows if r.predict >= 0 and r.p_lower is not None), key=lambda r: r.p_lower or 0.0)
    fig = Figure(figsize=(11.0, 4.2))
    left, right = fig.subplots(1, 2)
    top = 0.0
    grid = 1.0 - np.logspace(-5, math.log10(0.5), 300)[::-1]
    for i, col in enumerate(columns):
        color = f"C{i % 10}"
        ps = [r.p_lower for r in certified]
        radii = [_radius_of(r, col) for r in certified]
        top = max([top, *radii])
        cert = (formulas or {}).get(col.name)
        style = "--" if not col.hard else "-"
        if cert is not None and dim > 0 and not getattr(cert, "bilateral", True) and hasattr(cert, "radius"):
            left.plot(
                grid,
                [cert.radius(float(p), dim) for p in grid],
                color=color,
                linestyle=style,
                label=f"{col.label}, $\\bar{{p}}_B = 1 - \\underline{{p_A}}$",
            )
            left.plot(ps, radii, color=color, marker=".", markersize=4, linestyle="none")
        else:
            left.plot(ps, radii, color=color, marker=".", markersize=3, linestyle=style, label=col.label)
    left.set_xlabel(r"$\underline{p_A}$ (lower confidence bound on the top class)")
    left.set_ylabel(f"radius (${symbol}$, pixel units)")
    left.set_title("radius vs $\\underline{p_A}$ (lines: formulas; dots: this run's rows)", fontsize=9)
    left.grid(alpha=0.3)
    left.legend(fontsize=7)
    hard = [c for c in columns if c.hard]
    xs = sorted({x for c in hard for x in curve_points(rows, top or 1.0, c.name)})
    for col in hard:
        right.plot(xs, certified_accuracy(rows, xs, col.name), label=col.label)
    right.set_xlabel(f"radius (${symbol}$, pixel units)")
    right.set_ylabel("certified accuracy")
    right.set_ylim(0.0, 1.0)
    left_out = [c.name for c in columns if not c.hard]
    right.set_title(
        "certified accuracy per bound" + (f"\n({', '.join(left_out)} left out)" if left_out else ""), fontsize=9
    )
    right.grid(alpha=0.3)
    right.legend(fontsize=7)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path)


def _radius_of(row: CertificationRow, col: CertificateColumn) -> float:
    if col.name in row.extra_radii:
        return row.extra_radii[col.name]
    return row.exact_radius[0] / row.exact_radius[1] if row.exact_radius else row.radius


def bound_figures(
    path: str | os.PathLike[str],
    rows: Sequence[CertificationRow],
    out_dir: str | os.PathLike[str],
    stem: str,
    formats: Sequence[str] = ("png",),
) -> list[Path]:
    """One :func:`plot_bounds` figure per norm and format for a results file with extra certificate
    columns (``<stem>_bounds_<norm>.<fmt>``); none when the file holds a single certificate."""
    columns = certificate_columns(path, rows)
    if len(columns) < 2:
        return []
    formulas, dim = formula_certificates(path)
    figures = []
    for norm in sorted({c.norm for c in columns}):
        group = [c for c in columns if c.norm == norm]
        for fmt in formats:
            figures.append(
                plot_bounds(
                    rows,
                    group,
                    Path(out_dir) / f"{stem}_bounds_{norm}.{fmt}",
                    title=f"{stem}: certificates from the same counts ({norm})",
                    formulas=formulas,
                    dim=dim,
                )
            )
    return figures


# ---- ℓ∞ over the dimension, from the formulas (unified DP framework §3.2 vs Gaussian ℓ2/√d)


def gaussian_expected_linf(sigma: float, dim: int) -> float:
    """E‖z‖∞ for z ~ N(0, σ²I_d): ∫_0^∞ (1 − (2Φ(t/σ) − 1)^d) dt (≈ σ√(2 ln d) for large d)."""

    def tail(t: float) -> float:
        # 1 − (1 − 2Φ(−t))^d without cancellation
        return -math.expm1(dim * math.log1p(-2.0 * _std_normal.cdf(-t)))

    return sigma * quad(tail, 0.0, np.inf, limit=200)[0]


def linf_radius_over_dimension(dims: Sequence[int], p: float, sigma: float) -> dict[str, list[float]]:
    """ℓ∞ radii at p̲_A = ``p`` (p̄_B = 1 − p) for Gaussian (ℓ2 radius/√d) and exponential (density ratio)
    smoothing, matched two ways: the same per-coordinate standard deviation σ, and the same
    E‖z‖∞ as the Gaussian of that σ in each d. The first shows O(1/√d) vs O(1/d); the second, at
    a fixed noise magnitude E‖z‖∞ = a, shows a/√(d log d) vs a/d (Theorems 13–17)."""
    out: dict[str, list[float]] = {
        "gaussian": [],
        "exponential (same per-coordinate σ)": [],
        "exponential (same E‖z‖∞)": [],
    }
    for d in dims:
        out["gaussian"].append(cohen_radius(p, 1 - p, sigma) / math.sqrt(d))
        out["exponential (same per-coordinate σ)"].append(pure_dp_radius(p, 1 - p, exponential_scale(sigma, d)))
        scale = gaussian_expected_linf(sigma, d) / d  # E‖z‖∞ = d·σ′ for the exponential family
        out["exponential (same E‖z‖∞)"].append(pure_dp_radius(p, 1 - p, scale))
    return out


def plot_linf_over_dimension(
    path: str | os.PathLike[str], p: float = 0.99, sigma: float = 0.25, max_dim: int = 10**6, marked: Sequence[int] = ()
) -> Path:
    """Log–log ℓ∞ radius against d (see :func:`linf_radius_over_dimension`); ``marked`` dims (e.g. the
    run's own d) get a vertical line."""
    dims = sorted({round(v) for v in np.logspace(0, math.log10(max_dim), 60)})
    curves = linf_radius_over_dimension(dims, p, sigma)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig = Figure(figsize=(6.4, 4.4))
    ax = fig.subplots()
    for name, ys in curves.items():
        ax.loglog(dims, ys, label=name, linestyle="-" if name == "gaussian" else "--")
    for d in marked:
        ax.axvline(d, color="grey", linewidth=0.8, linestyle=":")
        ax.text(d, ax.get_ylim()[0] * 1.5, f" d = {d}", fontsize=8, color="grey")
    ax.set_xlabel("input dimension d")
    ax.set_ylabel(r"certified $\ell_\infty$ radius (pixel units)")
    ax.set_title(f"Gaussian vs exponential smoothing in $\\ell_\\infty$ (σ = {sigma:g}, $p_A$ = {p:g})", fontsize=10)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return save_figure(fig, path)
