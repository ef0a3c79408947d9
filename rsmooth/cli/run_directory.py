"""A Hydra callback that makes the run (or sweep) directory before Hydra does and writes a little there, so
that a path no one can write (a read-only or full disk, a file in the way) is one line,
``rsmooth-<task>: error: ...`` with exit status 2, instead of Hydra's traceback when it saves its config."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

#: bytes written (and removed) in a new run directory: more than Hydra's config record takes
PROBE_BYTES = 1 << 16


def _probe(directory: Path) -> None:
    """Write :data:`PROBE_BYTES` to a temporary file in ``directory``, flush them to disk and remove the file."""
    fd, name = tempfile.mkstemp(dir=directory, prefix=".rsmooth-probe-")
    try:
        os.write(fd, bytes(PROBE_BYTES))
        os.fsync(fd)
    finally:
        os.close(fd)
        os.unlink(name)


def _make(config: DictConfig, key: str) -> None:
    directory = Path(str(config.hydra[key].dir))
    try:
        directory.mkdir(parents=True, exist_ok=True)
        _probe(directory)
    except OSError as err:
        prog = f"rsmooth-{config.get('task_name', 'run')}"
        print(f"{prog}: error: cannot write in the run directory {directory}: {err.strerror or err}", file=sys.stderr)
        sys.exit(2)


class RunDirectoryCheck(Callback):
    """``hydra.callbacks.run_directory`` in every entry point's config."""

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        _make(config, "run")

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        _make(config, "sweep")
