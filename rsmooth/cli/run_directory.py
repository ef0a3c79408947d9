"""A Hydra callback that makes the run (or sweep) directory before Hydra does, so that a path no one can
write (a read-only or full disk, a file in the way) is one line, ``rsmooth-<task>: error: ...`` with exit
status 2, instead of Hydra's traceback."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig


def _make(config: DictConfig, key: str) -> None:
    directory = Path(str(config.hydra[key].dir))
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        prog = f"rsmooth-{config.get('task_name', 'run')}"
        print(f"{prog}: error: cannot make the run directory {directory}: {err.strerror or err}", file=sys.stderr)
        sys.exit(2)


class RunDirectoryCheck(Callback):
    """``hydra.callbacks.run_directory`` in every entry point's config."""

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        _make(config, "run")

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        _make(config, "sweep")
