"""Markdown and LaTeX tables of certified accuracy."""

from __future__ import annotations

from collections.abc import Mapping, Sequence


def _fmt(v: float, digits: int) -> str:
    return f"{v:.{digits}f}"


def markdown_table(
    curves: Mapping[str, Sequence[float]],
    radii: Sequence[float],
    extra: Mapping[str, Mapping[str, float]] | None = None,
    digits: int = 2,
) -> str:
    """One row per curve: certified accuracy at each radius, then optional extra columns (e.g. ACR)."""
    extra_cols = sorted({k for cols in (extra or {}).values() for k in cols})
    header = ["run"] + [f"r={r:g}" for r in radii] + extra_cols
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] * len(header)) + "|"]
    for name, accs in curves.items():
        cells = [name] + [_fmt(a, digits) for a in accs]
        row_extra = (extra or {}).get(name, {})
        cells += [_fmt(row_extra[c], 3) if c in row_extra else "—" for c in extra_cols]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def latex_table(curves: Mapping[str, Sequence[float]], radii: Sequence[float], digits: int = 2) -> str:
    """A booktabs tabular of certified accuracy per radius."""
    cols = "l" + "r" * len(radii)
    lines = [f"\\begin{{tabular}}{{{cols}}}", "\\toprule"]
    lines.append(" & ".join(["run"] + [f"$r={r:g}$" for r in radii]) + r" \\")
    lines.append("\\midrule")
    for name, accs in curves.items():
        safe = name.replace("_", r"\_")
        lines.append(" & ".join([safe] + [_fmt(a, digits) for a in accs]) + r" \\")
    lines += ["\\bottomrule", "\\end{tabular}"]
    return "\n".join(lines) + "\n"
