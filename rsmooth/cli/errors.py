"""How the entry points report an error a user can fix: one line on stderr, exit status 2.

``HYDRA_FULL_ERROR=1`` shows the traceback instead.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any

from hydra.errors import InstantiationException

from rsmooth.errors import RsmoothError
from rsmooth.results.file import SAVED_NOTE


def run_reporting_errors(prog: str, fn: Callable[[Any], Any], cfg: Any) -> None:
    """``fn(cfg)``; an :class:`~rsmooth.errors.RsmoothError` (also raised inside a Hydra
    ``instantiate``) becomes ``prog: error: <message>`` and ``exit(2)``; Ctrl-C becomes one line saying how
    many rows are saved where, and ``exit(130)``."""
    try:
        fn(cfg)
    except KeyboardInterrupt as err:  # Ctrl-C: the rows written so far are whole on disk (the results file)
        if os.environ.get("HYDRA_FULL_ERROR") == "1":
            raise
        saved = [note[len(SAVED_NOTE) :] for note in getattr(err, "__notes__", []) if note.startswith(SAVED_NOTE)]
        what = f"{'; '.join(saved)}: rerun the same command to resume" if saved else "no results file was open"
        print(f"{prog}: interrupted; {what}", file=sys.stderr)
        sys.exit(130)
    except (RsmoothError, InstantiationException) as err:
        cause = err if isinstance(err, RsmoothError) else err.__cause__
        if os.environ.get("HYDRA_FULL_ERROR") == "1" or not isinstance(cause, RsmoothError):
            raise
        print(f"{prog}: error: {cause}", file=sys.stderr)
        sys.exit(2)
