"""Per-example certification rows and their TSV file (SPEC §6).

The first six columns are those of Cohen et al.'s reference code
(``idx label predict radius correct time``) so that every tool reading theirs
reads ours; rsmooth adds ``pA_lower nA n norm noise alpha`` (alpha: the failure
probability of the row's certificate, 0 for exact ones such as DSSN). Rows are flushed one by
one and a run resumes by ``idx``: nothing written is lost on a crash and no
row is written twice.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

COHEN_COLUMNS: tuple[str, ...] = ("idx", "label", "predict", "radius", "correct", "time")
COLUMNS: tuple[str, ...] = COHEN_COLUMNS + ("pA_lower", "nA", "n", "norm", "noise", "alpha")
RADIUS_DECIMALS = 6


@dataclass(frozen=True)
class CertificationRow:
    """One certified example. ``predict`` = −1 means abstain (then ``radius`` = 0)."""

    idx: int
    label: int
    predict: int
    radius: float
    correct: bool
    time: float
    p_lower: float | None = None
    count: int | None = None
    n: int | None = None
    norm: str | None = None
    noise: str | None = None
    alpha: float | None = None


def floor_decimals(value: float, decimals: int) -> float:
    """Round ``value`` *down* to ``decimals`` places: a written radius never exceeds the computed one."""
    scale = 10**decimals
    return math.floor(value * scale) / scale


def format_row(row: CertificationRow) -> str:
    """The TSV line (without newline) of ``row``; the radius is rounded down."""
    radius = floor_decimals(row.radius, RADIUS_DECIMALS)
    fields = [
        str(row.idx),
        str(row.label),
        str(row.predict),
        f"{radius:.{RADIUS_DECIMALS}f}",
        str(int(row.correct)),
        f"{row.time:.4f}",
        "" if row.p_lower is None else f"{row.p_lower:.8f}",
        "" if row.count is None else str(row.count),
        "" if row.n is None else str(row.n),
        row.norm or "",
        row.noise or "",
        "" if row.alpha is None else f"{row.alpha:g}",
    ]
    for f in fields:
        if "\t" in f or "\n" in f:
            raise ValueError(f"TSV field contains a tab or newline: {f!r}")
    return "\t".join(fields)


def parse_time(text: str) -> float:
    """Seconds from ``12.3`` (Cohen's CIFAR files, ours) or ``H:MM:SS.ffffff`` (Cohen's ImageNet files)."""
    text = text.strip()
    if ":" in text:
        parts = [float(p) for p in text.split(":")]
        seconds = 0.0
        for p in parts:
            seconds = seconds * 60.0 + p
        return seconds
    return float(text)


def _parse_line(header: list[str], line: str, where: str) -> CertificationRow:
    values = line.rstrip("\n").split("\t")
    if len(values) != len(header):
        raise ValueError(f"{where}: expected {len(header)} tab-separated fields, got {len(values)}")
    rec = dict(zip(header, values))

    def opt(name: str, cast):  # type: ignore[no-untyped-def]
        v = rec.get(name, "")
        return cast(v) if v != "" else None

    return CertificationRow(
        idx=int(rec["idx"]),
        label=int(rec["label"]),
        predict=int(rec["predict"]),
        radius=float(rec["radius"]),
        correct=bool(int(rec["correct"])),
        time=parse_time(rec["time"]),
        p_lower=opt("pA_lower", float),
        count=opt("nA", int),
        n=opt("n", int),
        norm=opt("norm", str),
        noise=opt("noise", str),
        alpha=opt("alpha", float),
    )


def read_rows(path: str | os.PathLike[str]) -> list[CertificationRow]:
    """Read a TSV written by rsmooth or by Cohen et al.'s code.

    A last line without its newline (a crash mid-write) is ignored.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"results file not found: {path}")
    text = path.read_text()
    lines = text.split("\n")
    complete, _partial = lines[:-1], lines[-1]
    if not complete:
        return []
    header = complete[0].split("\t")
    missing = [c for c in COHEN_COLUMNS if c not in header]
    if missing:
        raise ValueError(f"{path}: not a certification TSV (missing columns {missing}; header {header})")
    return [_parse_line(header, ln, f"{path}:{i + 2}") for i, ln in enumerate(complete[1:]) if ln.strip()]


class ResultsWriter:
    """Append-only TSV of certification rows that resumes by ``idx``.

    Opening an existing file keeps every complete row, drops a partial last
    line (a crash mid-write), and remembers which idx are done. ``noise``
    (the run's noise description) must match the rows already there, so a
    resumed file never mixes two distributions.
    """

    def __init__(self, path: str | os.PathLike[str], noise: str | None = None) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.done: set[int] = set()
        if self.path.exists() and self.path.stat().st_size > 0:
            self._recover(noise)
        else:
            with self.path.open("w") as f:
                f.write("\t".join(COLUMNS) + "\n")
        self._file = self.path.open("a")

    def _recover(self, noise: str | None) -> None:
        text = self.path.read_text()
        if not text.endswith("\n"):
            # Drop the partial line left by a crash mid-write.
            text = text[: text.rfind("\n") + 1]
            with self.path.open("w") as f:
                f.write(text)
        header = text.split("\n", 1)[0].split("\t")
        if tuple(header) != COLUMNS:
            raise ValueError(
                f"{self.path} exists but is not an rsmooth results file (header {header}); "
                "choose another output path or remove it"
            )
        for row in read_rows(self.path):
            if noise is not None and row.noise not in (None, noise):
                raise ValueError(
                    f"{self.path} holds rows certified with noise {row.noise!r}, "
                    f"but this run uses {noise!r}; use another output path"
                )
            self.done.add(row.idx)

    def write(self, row: CertificationRow) -> None:
        """Append ``row`` and flush it to disk; a row whose idx is already there is an error."""
        if row.idx in self.done:
            raise ValueError(f"idx {row.idx} is already in {self.path}")
        self._file.write(format_row(row) + "\n")
        self._file.flush()
        os.fsync(self._file.fileno())
        self.done.add(row.idx)

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> ResultsWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def select_indices(total: int, start: int = 0, end: int | None = None, skip: int = 1,
                   max_count: int | None = None) -> list[int]:
    """Every ``skip``-th index of [start, end) ∩ [0, total), at most ``max_count`` of them (Cohen's skip/max).

    ``end`` and ``max_count`` of None or a negative value mean "no limit".
    """
    if skip < 1:
        raise ValueError(f"skip must be >= 1, got {skip}")
    if start < 0:
        raise ValueError(f"start must be >= 0, got {start}")
    stop = total if end is None or end < 0 else min(end, total)
    out = list(range(start, stop, skip))
    if max_count is not None and max_count >= 0:
        out = out[:max_count]
    return out


def iter_pending(indices: Iterable[int], done: set[int]) -> Iterator[int]:
    """The indices not yet in ``done``, in order."""
    return (i for i in indices if i not in done)
