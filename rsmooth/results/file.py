"""The results file a certification run appends to: provenance, one writer at a time, safe resume.

Next to ``certify.tsv`` lives ``certify.tsv.meta.json``: what produced the rows (checkpoint
digest, noise, certificates, n0, n, α, seed, data, randomness scheme, rsmooth version). The TSV
itself stays readable by Cohen et al.'s tools.

* Opening an existing file compares the run's provenance with the recorded one *before* anything
  is written: a difference is refused with one line naming the field, and the file is left
  byte-identical. Only then is a half-written last line cut off, to be redone.
* The TSV is locked (``flock``) while open: a second writer is refused at once. The kernel drops
  the lock when a process dies, so a killed run can be resumed.
* Rows are flushed as written (a killed process loses nothing); ``fsync`` runs at most every
  ``fsync_interval`` seconds and on close (a power cut loses at most that much, which a resume redoes).
* A run sharded over ranks writes one file per rank, ``certify.tsv.parts/rank{r}.tsv``, each a results
  file as above; :func:`merge_parts` folds them into ``certify.tsv``, ordered by idx, atomically.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rsmooth.atomic import atomic_output, write_text_atomic
from rsmooth.errors import OutputError, ResultsFileError
from rsmooth.results.provenance import first_difference
from rsmooth.results.rows import CertificationRow, columns, format_row, parse_file

#: provenance keys that describe a run without changing its rows (``row_noise`` follows from ``noise``)
INFORMATIONAL_KEYS = frozenset({"rsmooth_version", "created", "row_noise"})


#: the prefix of the note a results file adds to a KeyboardInterrupt on its way out (rows saved, where)
SAVED_NOTE = "rsmooth rows: "


def meta_path(path: str | os.PathLike[str]) -> Path:
    """Where the provenance of results file ``path`` is recorded."""
    path = Path(path)
    return path.with_name(path.name + ".meta.json")


def parts_dir(path: str | os.PathLike[str]) -> Path:
    """Where the ranks of a sharded run write their rows before they are merged into ``path``."""
    path = Path(path)
    return path.with_name(path.name + ".parts")


def part_path(path: str | os.PathLike[str], rank: int) -> Path:
    """The results file rank ``rank`` of a sharded run writes (merged into ``path`` at the end)."""
    return parts_dir(path) / f"rank{rank}.tsv"


def read_provenance(path: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The recorded provenance of results file ``path``, or None when it has none."""
    meta = meta_path(path)
    if not meta.is_file():
        return None
    try:
        return json.loads(meta.read_text())
    except (OSError, ValueError) as err:
        raise ResultsFileError(f"{meta}: unreadable provenance record ({err})") from None


def required_provenance(path: str | os.PathLike[str], setting: str, results_format: str) -> dict[str, Any] | None:
    """The provenance record of a results file another run reads (``setting`` names where the path came from):
    required for ``results_format="rsmooth"`` — without it nothing says which classifier, noise and data made
    the rows — and None for ``"cohen"`` (a file of another tool, whose provenance the reader reports as
    unknown)."""
    record = read_provenance(path)
    if record is None and results_format == "rsmooth":
        raise ResultsFileError(
            f"{setting}={path} has no provenance record ({meta_path(path).name}), so nothing says which classifier, "
            f"noise and data made its rows; for a file of another tool (e.g. Cohen et al.'s certify.py) add "
            f"{setting}_format=cohen, and the report says its provenance is unknown"
        )
    return record


def _expected_columns(record: Mapping[str, Any]) -> dict[str, Any]:
    """What every row of the run ``record`` describes must hold in each column a reader relies on (the fields a
    record has; one written by another tool may have fewer)."""
    expected: dict[str, Any] = {}
    try:
        if "certificates" in record:
            main, *extra = record["certificates"]
            expected |= {
                "certificate": main["name"],
                "norm": main["norm"],
                "alpha": main["failure_probability"],
                "extra certificates": sorted(c["name"] for c in extra),
            }
        if "row_noise" in record:
            expected["noise"] = record["row_noise"]
        if (record.get("certification") or {}).get("mode") == "monte_carlo":
            expected["n"] = record["certification"]["n"]
    except (KeyError, TypeError, ValueError, AttributeError):
        raise ValueError("its certificates or certification fields are not those of an rsmooth record") from None
    return expected


def check_rows(path: str | os.PathLike[str], rows: Sequence[CertificationRow], record: Mapping[str, Any]) -> None:
    """Refuse rows that contradict their provenance record (one line naming the row, the column and both values):
    every row of a run has the record's noise, certificate, norm, total failure probability, extra-certificate
    columns, and (fixed-n Monte Carlo) its ``n``; a sequential row used at most ``n`` samples. A record copied
    beside another run's rows is caught by the first row."""
    meta = meta_path(path).name
    try:
        expected = _expected_columns(record)
    except ValueError as err:
        raise ResultsFileError(f"{meta}: not a provenance record of rsmooth's ({err})") from None
    certification = record.get("certification")
    budget = certification.get("n") if isinstance(certification, Mapping) else None
    for row in rows:
        found = {
            "certificate": row.certificate,
            "norm": row.norm,
            "alpha": row.alpha,
            "extra certificates": sorted(row.extra_radii),
            "noise": row.noise,
            "n": row.n,
        }
        for column, value in expected.items():
            if found[column] != value:
                raise ResultsFileError(
                    f"{path}: the row of idx {row.idx} has {column}={found[column]!r} but its provenance record "
                    f"({meta}) says {value!r}: the record belongs to another run; restore the right one or "
                    "remove it (the rows are then read as of unknown provenance)"
                )
        if isinstance(budget, int) and row.n is not None and row.n > budget:
            raise ResultsFileError(
                f"{path}: the row of idx {row.idx} used n={row.n} samples but its provenance record ({meta}) "
                f"allows at most n={budget}: the record belongs to another run"
            )


def read_rows(path: str | os.PathLike[str]) -> list[CertificationRow]:
    """The complete rows of a results TSV (rsmooth's or Cohen et al.'s; see
    :func:`~rsmooth.results.rows.parse_file`), checked against its provenance record when it has one
    (:func:`check_rows`)."""
    rows = parse_file(path).rows
    record = read_provenance(path)
    if record is not None:
        check_rows(path, rows, record)
    return rows


class ResultsWriter:
    """Append-only results TSV that resumes by ``idx`` (see the module docstring).

    ``provenance`` (JSON-serialisable) is recorded for a new file and must match for an existing
    one; ``extra_certificates`` name the extra radius columns.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        provenance: Mapping[str, Any] | None = None,
        extra_certificates: Sequence[str] = (),
        fsync_interval: float = 2.0,
    ) -> None:
        self.path = Path(path)
        self.extra_certificates = tuple(extra_certificates)
        self.header = columns(self.extra_certificates)
        self.fsync_interval = fsync_interval
        self.done: set[int] = set()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # O_NOFOLLOW: a symlink planted at the results path is refused, never written through
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW, 0o644)
        except OSError as err:
            if err.errno == errno.ELOOP:
                raise ResultsFileError(
                    f"{self.path} is a symbolic link; results are written only to a regular file (use another "
                    "output path)"
                ) from None
            raise ResultsFileError(f"cannot write the results file {self.path}: {err.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise ResultsFileError(
                f"{self.path} is being written by another process; wait for it to finish or use another output path"
            ) from None
        try:
            if os.fstat(fd).st_size > 0:
                self._resume(fd, provenance)
            else:
                self._start(provenance)
                os.write(fd, ("\t".join(self.header) + "\n").encode())
        except BaseException:
            os.close(fd)  # closing releases the lock
            raise
        self._file = os.fdopen(fd, "a")
        self._last_sync = time.monotonic()

    def _start(self, provenance: Mapping[str, Any] | None) -> None:
        meta = meta_path(self.path)
        if provenance is None:
            meta.unlink(missing_ok=True)  # a stale record must not describe these rows
            return
        try:
            write_text_atomic(meta, json.dumps(provenance, indent=2) + "\n")
        except OutputError as err:
            raise ResultsFileError(str(err)) from None

    def _resume(self, fd: int, provenance: Mapping[str, Any] | None) -> None:
        if provenance is not None:
            recorded = read_provenance(self.path)
            if recorded is None:
                raise ResultsFileError(
                    f"{self.path} exists but has no provenance record ({meta_path(self.path).name}), so its rows "
                    "cannot be checked against this run; use another output path"
                )
            diff = first_difference(recorded, provenance, INFORMATIONAL_KEYS)
            if diff is not None:
                key, was, now = diff
                raise ResultsFileError(
                    f"{self.path} was made with {key}={was!r} but this run has {key}={now!r}; "
                    "nothing was changed: use another output path or the same settings"
                )
        try:
            parsed = parse_file(self.path)
        except ValueError as err:
            raise ResultsFileError(str(err)) from None
        if provenance is not None:
            check_rows(self.path, parsed.rows, provenance)  # the record matched; so must every row
        if parsed.header and tuple(parsed.header) != self.header:
            raise ResultsFileError(
                f"{self.path} has columns {parsed.header}, this run writes {list(self.header)}; use another output path"
            )
        self.done = {r.idx for r in parsed.rows}
        if not parsed.header:  # an unterminated header line: start over
            os.ftruncate(fd, 0)
            os.write(fd, ("\t".join(self.header) + "\n").encode())
        elif parsed.discarded_tail:
            os.ftruncate(fd, parsed.complete_bytes)  # cut the half-written row; it is redone
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            # a complete last row without its newline (a crash or a full disk between the two): end it, or the
            # next row would be appended onto it
            os.write(fd, b"\n")
        os.fsync(fd)  # the file is whole on disk before anything is appended to it

    def write(self, row: CertificationRow) -> None:
        """Append ``row`` (flushed at once); a row whose idx is already there is an error."""
        if row.idx in self.done:
            raise ResultsFileError(f"idx {row.idx} is already in {self.path}")
        try:
            self._file.write(format_row(row, self.extra_certificates) + "\n")
            self._file.flush()
            if time.monotonic() - self._last_sync >= self.fsync_interval:
                os.fsync(self._file.fileno())
                self._last_sync = time.monotonic()
        except OSError as err:  # e.g. the disk is full: what is written stays; a half row is cut on resume
            raise ResultsFileError(
                f"{self.path}: writing the row of idx {row.idx} failed ({err.strerror}); the "
                f"{len(self.done)} rows before it are saved: rerun to resume"
            ) from None
        self.done.add(row.idx)

    def close(self) -> None:
        if self._file.closed:
            return
        try:
            self._file.flush()
            os.fsync(self._file.fileno())
        except OSError as err:
            raise ResultsFileError(
                f"{self.path}: could not finish writing ({err.strerror}); the complete rows are saved: rerun to resume"
            ) from None
        finally:
            try:
                self._file.close()  # releases the lock (a failed flush leaves a half row, cut on resume)
            except OSError:
                pass

    def __enter__(self) -> ResultsWriter:
        return self

    def __exit__(self, exc_type: object, exc: BaseException | None, traceback: object) -> None:
        if isinstance(exc, KeyboardInterrupt):  # the entry points print this note as the one line a user sees
            exc.add_note(f"{SAVED_NOTE}{len(self.done)} rows are saved in {self.path}")
        try:
            self.close()
        except ResultsFileError:
            if exc_type is None:  # otherwise the error already on its way says what went wrong
                raise


def _lock(path: Path) -> int:
    """An exclusive ``flock`` on ``path`` (refused at once if a live process holds it)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise ResultsFileError(f"{path} is being written by another process; wait for it to finish") from None
    return fd


def _without_time(line: str, header: Sequence[str]) -> list[str]:
    fields = line.split("\t")
    del fields[header.index("time")]
    return fields


def merge_parts(
    path: str | os.PathLike[str], provenance: Mapping[str, Any], extra_certificates: Sequence[str] = ()
) -> int:
    """Fold the rank files of a sharded run (:func:`part_path`) into results file ``path``; returns its row count.

    Every part must carry ``provenance`` (checked like a resume, before anything changes) and be
    closed (a part still being written is refused). ``path`` is rewritten with all rows ordered by
    idx, each exactly as written (its crc intact), to a temporary file that replaces it atomically;
    only then are the parts removed. An idx in two files must be the same row but for its time
    (as after a crash between the replace and the removal); otherwise the merge is refused.
    """
    path = Path(path)
    parts = sorted(parts_dir(path).glob("rank*.tsv"))
    locks: list[int] = []
    try:
        with ResultsWriter(path, provenance, extra_certificates) as writer:  # lock, provenance, header, tail
            header = list(writer.header)
            merged: dict[int, str] = {}
            origin: dict[int, Path] = {}
            for source in (path, *parts):
                if source != path:
                    locks.append(_lock(source))
                    recorded = read_provenance(source)
                    diff = None if recorded is None else first_difference(recorded, provenance, INFORMATIONAL_KEYS)
                    if recorded is None or diff is not None:
                        what = (
                            "has no provenance record"
                            if diff is None
                            else f"was made with {diff[0]}={diff[1]!r} but this run has {diff[0]}={diff[2]!r}"
                        )
                        raise ResultsFileError(
                            f"{source} (a rank's rows for {path.name}) {what}; nothing was "
                            f"merged: use the settings of that run or remove {parts_dir(path)}"
                        )
                try:
                    parsed = parse_file(source)
                except ValueError as err:
                    raise ResultsFileError(str(err)) from None
                check_rows(source, parsed.rows, provenance)
                if parsed.header and parsed.header != header:
                    raise ResultsFileError(f"{source} has columns {parsed.header}, {path} has {header}")
                for row, line in zip(parsed.rows, parsed.lines):
                    if row.idx in merged and _without_time(merged[row.idx], header) != _without_time(line, header):
                        raise ResultsFileError(
                            f"idx {row.idx} is in {origin[row.idx]} and in {source} with different "
                            "results; nothing was merged"
                        )
                    merged.setdefault(row.idx, line)
                    origin.setdefault(row.idx, source)
            order = sorted(merged)
            if parts or [r.idx for r in parse_file(path).rows] != order:
                try:  # the old rows stay whole until the new file is complete
                    with atomic_output(path) as out:
                        out.write(("\t".join(header) + "\n").encode())
                        out.writelines((merged[i] + "\n").encode() for i in order)
                except OutputError as err:
                    raise ResultsFileError(str(err)) from None
                writer.done = set(order)
            for part in parts:
                meta_path(part).unlink(missing_ok=True)
                part.unlink()
        if parts_dir(path).is_dir() and not any(parts_dir(path).iterdir()):
            parts_dir(path).rmdir()
    finally:
        for fd in locks:
            os.close(fd)
    return len(merged)
