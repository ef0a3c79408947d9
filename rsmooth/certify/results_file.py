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
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rsmooth.certify.rows import CertificationRow, columns, format_row, parse_file
from rsmooth.errors import ResultsFileError
from rsmooth.provenance import first_difference

#: provenance keys that describe a run without changing its rows
INFORMATIONAL_KEYS = frozenset({"rsmooth_version", "created"})


def meta_path(path: str | os.PathLike[str]) -> Path:
    """Where the provenance of results file ``path`` is recorded."""
    path = Path(path)
    return path.with_name(path.name + ".meta.json")


def read_provenance(path: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The recorded provenance of results file ``path``, or None when it has none."""
    meta = meta_path(path)
    if not meta.is_file():
        return None
    try:
        return json.loads(meta.read_text())
    except (OSError, ValueError) as err:
        raise ResultsFileError(f"{meta}: unreadable provenance record ({err})") from None


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
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
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
        tmp = meta.with_name(meta.name + ".tmp")
        tmp.write_text(json.dumps(provenance, indent=2) + "\n")
        os.replace(tmp, meta)

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

    def write(self, row: CertificationRow) -> None:
        """Append ``row`` (flushed at once); a row whose idx is already there is an error."""
        if row.idx in self.done:
            raise ResultsFileError(f"idx {row.idx} is already in {self.path}")
        self._file.write(format_row(row, self.extra_certificates) + "\n")
        self._file.flush()
        self.done.add(row.idx)
        if time.monotonic() - self._last_sync >= self.fsync_interval:
            os.fsync(self._file.fileno())
            self._last_sync = time.monotonic()

    def close(self) -> None:
        if not self._file.closed:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()

    def __enter__(self) -> ResultsWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
