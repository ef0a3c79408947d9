"""Per-example certification rows: the TSV format, written rounded *down*, read back safely (docs/design.md §6).

Columns: Cohen et al.'s six (``idx label predict radius correct time``), so every tool reading
their files reads ours, then rsmooth's:

``pA_lower pB_upper nA nB n norm noise certificate alpha radius_exact`` [``radius_<extra>`` …] ``crc``

* ``radius`` and ``pA_lower`` are rounded down and ``pB_upper`` up, in exact decimal arithmetic
  from the float's binary value: a written bound is never on the wrong side of the computed one.
* ``radius_exact`` is ``t/q`` for exact certificates (DSSN), so a radius equal to k/q is counted
  at k/q (:meth:`CertificationRow.covers`); ``alpha`` is the row's total failure probability.
* ``radius_<name>``: the radius of each extra certificate of the run, from the same counts.
* ``crc``: CRC-32 of the row's other fields except ``time``. A row is complete iff its crc
  matches, so a half-written last line (a crash mid-write) is recognised and never read as data.
"""

from __future__ import annotations

import math
import os
import warnings
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_FLOOR, Context, Decimal
from pathlib import Path
from typing import Any

from rsmooth.errors import ResultsFileError, ResultsFileNotFoundError
from rsmooth.smoothing.smooth import CertifyResult

COHEN_COLUMNS: tuple[str, ...] = ("idx", "label", "predict", "radius", "correct", "time")
RSMOOTH_COLUMNS: tuple[str, ...] = (
    "pA_lower",
    "pB_upper",
    "nA",
    "nB",
    "n",
    "norm",
    "noise",
    "certificate",
    "alpha",
    "radius_exact",
)
RADIUS_DECIMALS = 6
PROBABILITY_DECIMALS = 8
EXTRA_PREFIX = "radius_"
#: r·q within this of an integer k counts as k when comparing with an exact radius t/q
_GRID_TOLERANCE = 1e-9


def columns(extra_certificates: Sequence[str] = ()) -> tuple[str, ...]:
    """The header of a results file whose run has these extra certificates."""
    return COHEN_COLUMNS + RSMOOTH_COLUMNS + tuple(EXTRA_PREFIX + c for c in extra_certificates) + ("crc",)


_DECIMAL = Context(prec=60)


def round_decimal(value: float, places: int, up: bool = False) -> str:
    """``value`` rounded down (or ``up``) to ``places`` decimals, computed from its exact binary value."""
    if not math.isfinite(value):
        raise ValueError(f"cannot write a non-finite bound {value!r}")
    quantum = Decimal(1).scaleb(-places)
    return str(Decimal(value).quantize(quantum, rounding=ROUND_CEILING if up else ROUND_FLOOR, context=_DECIMAL))


def floor_decimals(value: float, places: int) -> float:
    """The float read back from ``round_decimal(value, places)``: never above ``value``."""
    return float(round_decimal(value, places))


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
    p_upper: float | None = None
    count: int | None = None
    count_runner_up: int | None = None
    n: int | None = None
    norm: str | None = None
    noise: str | None = None
    certificate: str | None = None
    alpha: float | None = None
    exact_radius: tuple[int, int] | None = None
    extra_radii: dict[str, float] = field(default_factory=dict)

    def covers(self, r: float, certificate: str | None = None) -> bool:
        """True when the row certifies its prediction at radius ``r`` (by ``certificate``, default:
        the row's own): radius ≥ r, or for an exact radius t/q, every quantized perturbation of size
        ≤ r, i.e. t ≥ ⌊r·q⌋ (with r·q a hair below an integer k read as k)."""
        if self.predict < 0:
            return False
        if certificate is not None and certificate != self.certificate:
            if certificate not in self.extra_radii:
                raise KeyError(f"row {self.idx} has no radius for certificate {certificate!r}")
            return self.extra_radii[certificate] >= r
        if self.exact_radius is not None:
            t, q = self.exact_radius
            return t >= math.floor(r * q + _GRID_TOLERANCE)
        return self.radius >= r


def _opt(value: Any, fmt: str = "{}") -> str:
    return "" if value is None else fmt.format(value)


def format_row(row: CertificationRow, extra_certificates: Sequence[str] = ()) -> str:
    """The TSV line (without newline) of ``row``; bounds are rounded to their safe side."""
    fields = [
        str(row.idx),
        str(row.label),
        str(row.predict),
        round_decimal(row.radius, RADIUS_DECIMALS),
        str(int(row.correct)),
        f"{row.time:.6f}",
        "" if row.p_lower is None else round_decimal(row.p_lower, PROBABILITY_DECIMALS),
        "" if row.p_upper is None else round_decimal(row.p_upper, PROBABILITY_DECIMALS, up=True),
        _opt(row.count),
        _opt(row.count_runner_up),
        _opt(row.n),
        _opt(row.norm),
        _opt(row.noise),
        _opt(row.certificate),
        "" if row.alpha is None else repr(float(row.alpha)),
        "" if row.exact_radius is None else f"{row.exact_radius[0]}/{row.exact_radius[1]}",
    ]
    if set(row.extra_radii) != set(extra_certificates):
        raise ValueError(
            f"row {row.idx} has radii for {sorted(row.extra_radii)}, the file for {list(extra_certificates)}"
        )
    fields += [round_decimal(row.extra_radii[c], RADIUS_DECIMALS) for c in extra_certificates]
    for f in fields:
        if "\t" in f or "\n" in f:
            raise ValueError(f"TSV field contains a tab or newline: {f!r}")
    return "\t".join(fields + [_crc(fields)])


def _crc(fields: Sequence[str]) -> str:
    """CRC-32 of every field but ``time`` (index 5), so reruns differ only in the time column."""
    payload = "\t".join(f for i, f in enumerate(fields) if i != 5)
    return f"{zlib.crc32(payload.encode()):08x}"


def parse_time(text: str) -> float:
    """Seconds from ``12.3`` (Cohen's CIFAR files, ours) or ``H:MM:SS.ffffff`` (Cohen's ImageNet files)."""
    text = text.strip()
    if ":" in text:
        seconds = 0.0
        for p in text.split(":"):
            seconds = seconds * 60.0 + float(p)
        return seconds
    return float(text)


def _parse_line(header: list[str], line: str) -> CertificationRow:
    values = line.split("\t")
    if len(values) != len(header):
        raise ValueError(f"expected {len(header)} tab-separated fields, got {len(values)}")
    rec = dict(zip(header, values))
    if "crc" in rec and _crc(values[:-1]) != rec["crc"]:
        raise ValueError("checksum mismatch (a corrupt, edited or half-written row)")

    def req(name: str, cast: Callable[[str], Any]) -> Any:
        try:
            return cast(rec[name])
        except (ValueError, TypeError):
            raise ValueError(f"column {name}: expected {_KIND.get(cast, 'a value')}, got {rec[name]!r}") from None

    def opt(name: str, cast: Callable[[str], Any]) -> Any:
        return req(name, cast) if rec.get(name, "") != "" else None

    exact = opt("radius_exact", lambda s: tuple(int(p) for p in s.split("/")))
    _check_consistent(rec, req, opt)
    return CertificationRow(
        idx=req("idx", int),
        label=req("label", int),
        predict=req("predict", int),
        radius=req("radius", float),
        correct=bool(req("correct", int)),
        time=req("time", parse_time),
        p_lower=opt("pA_lower", float),
        p_upper=opt("pB_upper", float),
        count=opt("nA", int),
        count_runner_up=opt("nB", int),
        n=opt("n", int),
        norm=opt("norm", str),
        noise=opt("noise", str),
        certificate=opt("certificate", str),
        alpha=opt("alpha", float),
        exact_radius=exact,
        extra_radii={
            k[len(EXTRA_PREFIX) :]: req(k, float)
            for k, v in rec.items()
            if k.startswith(EXTRA_PREFIX) and k != "radius_exact"
        },
    )


def _check_consistent(rec: dict[str, str], req: Callable[..., Any], opt: Callable[..., Any]) -> None:
    """A row a certification could have written (Cohen et al.'s files included): a finite radius >= 0, 0 when
    it abstains (predict = -1), ``correct`` 0 or 1 and equal to predict == label, probabilities in [0, 1] and
    counts within n. Raises ValueError naming the column."""
    label, predict, correct = req("label", int), req("predict", int), req("correct", int)
    radius = req("radius", float)
    if not (math.isfinite(radius) and radius >= 0):
        raise ValueError(f"column radius: expected a finite number >= 0, got {rec['radius']!r}")
    if predict < -1:
        raise ValueError(f"column predict: expected a class >= 0 or -1 (abstain), got {predict}")
    if predict == -1 and radius != 0:
        raise ValueError(f"an abstaining row (predict -1) has radius {rec['radius']}; it certifies nothing")
    if correct not in (0, 1) or bool(correct) != (predict == label):
        raise ValueError(
            f"column correct is {correct} but predict {predict} and label {label} say {int(predict == label)}"
        )
    for name in ("pA_lower", "pB_upper", "alpha"):
        value = opt(name, float)
        if value is not None and not 0 <= value <= 1:
            raise ValueError(f"column {name}: expected a probability in [0, 1], got {rec[name]!r}")
    n = opt("n", int)
    for name in ("nA", "nB"):
        value = opt(name, int)
        if value is not None and (value < 0 or (n is not None and value > n)):
            raise ValueError(f"column {name}: expected a count in [0, n={n}], got {value}")


#: what a column's parser expects, for error messages
_KIND = {int: "an integer", float: "a number", parse_time: "a time (seconds or H:MM:SS)"}


@dataclass
class ParsedFile:
    """A results file's header, complete rows (parsed, and as written: ``lines``, without their newline),
    and the byte offset where complete rows end."""

    header: list[str]
    rows: list[CertificationRow]
    complete_bytes: int
    discarded_tail: bool
    lines: list[str] = field(default_factory=list)


def parse_file(path: str | os.PathLike[str]) -> ParsedFile:
    """Read a TSV written by rsmooth or by Cohen et al.'s code, refusing corrupt rows and duplicate idx.

    A last line without its newline is kept when it is a complete row (its crc matches, or, in a
    file without crc, it parses) and otherwise discarded with a warning: it is a half-written row.
    """
    path = Path(path)
    if not path.is_file():
        raise ResultsFileNotFoundError(f"results file not found: {path}")
    data = path.read_bytes()
    lines = data.split(b"\n")
    tail = lines.pop()  # b"" when the file ends with a newline
    if not lines and not tail:
        return ParsedFile([], [], 0, False)
    if not lines:  # only an unterminated header
        return ParsedFile([], [], 0, True)
    try:
        header = lines[0].decode().split("\t")
    except UnicodeDecodeError:
        raise ResultsFileError(f"{path}: not a certification TSV (its first line is not text)") from None
    missing = [c for c in COHEN_COLUMNS if c not in header]
    if missing:
        raise ResultsFileError(f"{path}: not a certification TSV (missing columns {missing}; header {header})")
    rows: list[CertificationRow] = []
    texts: list[str] = []
    seen: dict[int, int] = {}
    for number, raw in enumerate(lines[1:], start=2):
        if not raw.strip():
            continue
        try:
            text = raw.decode()
            row = _parse_line(header, text)
        except (ValueError, UnicodeDecodeError) as err:
            raise ResultsFileError(f"{path}:{number}: {err}") from None
        if row.idx in seen:
            raise ResultsFileError(
                f"{path}: idx {row.idx} appears twice (lines {seen[row.idx]} and {number}); "
                "a file must hold each example once"
            )
        seen[row.idx] = number
        rows.append(row)
        texts.append(text)
    complete = len(data) - len(tail)
    discarded = False
    if tail.strip():
        try:
            text = tail.decode()
            row = _parse_line(header, text)
            if row.idx in seen:
                raise ValueError(f"idx {row.idx} appears twice")
            rows.append(row)
            texts.append(text)
            complete = len(data)
        except (ValueError, UnicodeDecodeError):
            discarded = True
            warnings.warn(
                f"{path}: ignoring a half-written last line (line {len(lines) + 1}); resuming the run redoes it",
                stacklevel=3,
            )
    return ParsedFile(header, rows, complete, discarded, texts)


def row_from_result(idx: int, label: int, result: CertifyResult, seconds: float, noise: str) -> CertificationRow:
    """The results-file row of one example's :class:`~rsmooth.smoothing.CertifyResult`."""
    return CertificationRow(
        idx=idx,
        label=label,
        predict=result.prediction,
        radius=result.radius,
        correct=result.prediction == label,
        time=seconds,
        p_lower=result.p_lower,
        p_upper=result.p_upper_runner_up,
        count=result.count,
        count_runner_up=result.count_runner_up,
        n=result.n,
        norm=result.norm,
        noise=noise,
        certificate=result.certificate,
        alpha=result.alpha,
        exact_radius=result.exact_radius,
        extra_radii=dict(result.extra_radii),
    )
