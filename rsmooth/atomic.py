"""Files written whole or not at all, and never through a link someone planted.

Every output rsmooth writes (summaries, tables, figures, provenance records, attack reports) goes through
:func:`atomic_output`: the bytes go to a new temporary file in the target's own directory, created with
``O_CREAT | O_EXCL | O_NOFOLLOW`` under a random name (``tempfile.mkstemp``), so no existing file or symlink
can be opened in its place; the file is flushed and ``fsync``-ed, then renamed over the target. ``rename``
replaces a symlink at the target with the new file — it never writes to what the link points at — and
is atomic on POSIX: a reader sees the old file or the new one, and a crash or a full disk leaves the old
file whole and removes the temporary one.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from rsmooth.errors import OutputError


@contextmanager
def atomic_output(path: str | os.PathLike[str]) -> Iterator[IO[bytes]]:
    """A binary file object whose bytes replace ``path`` when the block ends without an error (see the module
    docstring); an ``OSError`` (full disk, read-only directory) becomes one :class:`OutputError` line naming
    ``path``, with ``path`` unchanged."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as err:
        raise OutputError(f"cannot write {path}: {err.strerror or err}") from None
    try:
        with os.fdopen(fd, "wb") as file:
            yield file
            file.flush()
            os.fsync(file.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes it 0600; outputs are as readable as any other file
        os.replace(tmp, path)
    except OSError as err:
        raise OutputError(f"cannot write {path}: {err.strerror or err}; it was left as it was") from None
    finally:
        if os.path.lexists(tmp):
            os.unlink(tmp)


def write_text_atomic(path: str | os.PathLike[str], text: str) -> Path:
    """Replace ``path`` with ``text`` (UTF-8), atomically and without following a link; returns ``path``."""
    with atomic_output(path) as file:
        file.write(text.encode())
    return Path(path)
