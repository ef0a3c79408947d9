"""Markdown, LaTeX and console tables of certified accuracy.

Every number is rounded *down* to ``digits`` decimals (the same rule everywhere: the console, ``X.summary.md``,
``table.md``, ``table.tex``), in exact decimal arithmetic from the float's value, so a table never shows more
certified accuracy, ACR or abstention than the rows hold, and two tables of one file agree digit for digit.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from decimal import ROUND_FLOOR, Decimal
from typing import Any

#: the decimals of every table (certified accuracy of 359 digits images moves in steps of 0.0028)
DIGITS = 3
#: the line under every table that says the rounding rule
ROUNDING_NOTE = f"numbers rounded down to {DIGITS} decimals"


def round_down(v: float, digits: int = DIGITS) -> str:
    """``v`` rounded toward −∞ at ``digits`` decimals, exactly (0.9999999 → ``0.999``, 0.925 → ``0.925``)."""
    if not math.isfinite(v):
        return str(v)
    return str(Decimal(v).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_FLOOR))


def _fmt(v: float, digits: int) -> str:
    return round_down(v, digits)


def seconds(value: float) -> str:
    """A time, to 3 significant digits (exact DSSN takes well under a millisecond per example); times are costs,
    not certified quantities, so they are not rounded down."""
    return f"{value:.3g}"


def _cell(column: str, value: float, digits: int) -> str:
    """An extra column's cell: counts (``n``, ``examples``) as whole numbers, everything else rounded down."""
    if column in ("n", "examples"):
        return grouped(value)
    return seconds(value) if column == "s/img" else _fmt(value, digits)


def markdown_table(
    curves: Mapping[str, Sequence[float]],
    radii: Sequence[float],
    extra: Mapping[str, Mapping[str, float]] | None = None,
    digits: int = DIGITS,
) -> str:
    """One row per curve: certified accuracy at each radius, then optional extra columns (e.g. ACR); a last
    line says the rounding rule."""
    extra_cols = sorted({k for cols in (extra or {}).values() for k in cols})
    header = ["run"] + [f"r={r:g}" for r in radii] + extra_cols
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] * len(header)) + "|"]
    for name, accs in curves.items():
        cells = [name] + [_fmt(a, digits) for a in accs]
        row_extra = (extra or {}).get(name, {})
        cells += [_cell(c, row_extra[c], digits) if c in row_extra else "—" for c in extra_cols]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + f"\n\n{ROUNDING_NOTE}.\n"


def latex_table(curves: Mapping[str, Sequence[float]], radii: Sequence[float], digits: int = DIGITS) -> str:
    """A booktabs tabular of certified accuracy per radius (rounded down, as every table)."""
    cols = "l" + "r" * len(radii)
    lines = [f"\\begin{{tabular}}{{{cols}}}", "\\toprule"]
    lines.append(" & ".join(["run"] + [f"$r={r:g}$" for r in radii]) + r" \\")
    lines.append("\\midrule")
    for name, accs in curves.items():
        safe = name.replace("_", r"\_")
        lines.append(" & ".join([safe] + [_fmt(a, digits) for a in accs]) + r" \\")
    lines += ["\\bottomrule", "\\end{tabular}"]
    return "\n".join(lines) + "\n"


def grouped(n: float) -> str:
    """``n`` with thin groups of three digits, as the tables write it: 100000 → ``100 000``."""
    return f"{n:,.0f}".replace(",", " ")


def console_table(summary: Mapping[str, Any]) -> str:
    """What ``rsmooth-train`` and ``rsmooth-certify`` print when a certification ends, from a summary of every
    row in the results file (``summarize_file``'s): certified accuracy at each radius, ACR, abstentions,
    estimation samples and seconds per example (3 significant digits), rounded down as every table.

    ::

        certified accuracy of 359 examples (l2 radius, α = 0.001), numbers rounded down to 3 decimals
          radius    0      0.25   0.5    0.75   1
          accuracy  0.986  0.930  0.629  0.108  0.000
          ACR 0.539 · abstained 0.011 · n = 10 000 samples per example · 0.248 s per example
    """
    radii, accuracy = summary["radii"], summary["certified_accuracy"]
    cells = [(f"{r:g}", round_down(a)) for r, a in zip(radii, accuracy)]
    width = [max(len(x), len(y)) for x, y in cells]
    alpha = summary.get("alpha")
    level = f", α = {alpha:g}" if alpha is not None else ""
    n = f" · n = {grouped(summary['mean_n'])} samples per example" if summary.get("mean_n") else ""
    return "\n".join(
        [
            f"certified accuracy of {summary['examples']} examples ({summary['norm']} radius{level}), {ROUNDING_NOTE}",
            ("  radius    " + "  ".join(x.ljust(w) for (x, _), w in zip(cells, width))).rstrip(),
            ("  accuracy  " + "  ".join(y.ljust(w) for (_, y), w in zip(cells, width))).rstrip(),
            f"  ACR {round_down(summary['acr'])} · abstained {round_down(summary['abstain'])}{n} · "
            f"{seconds(summary['mean_time_s'])} s per example",
        ]
    )
