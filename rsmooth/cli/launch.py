"""The console scripts: each tunes the process it owns for CPU certification, then runs its entry point.

``rsmooth-train``, ``rsmooth-certify``, ``rsmooth-analyze`` and ``rsmooth-attack`` own their process, so
they may tune it (:func:`~rsmooth.smoothing.cpu.tune_process`: noise threads beside the caller, glibc's
allocator keeping freed memory); importing rsmooth as a library changes nothing. Set
``RSMOOTH_KEEP_FREED_MEMORY=0`` to keep glibc's defaults.
"""

from __future__ import annotations


def _tuned() -> None:
    from rsmooth.smoothing.cpu import tune_process

    tune_process()


def train() -> None:
    """``rsmooth-train``."""
    _tuned()
    from rsmooth.cli.train import main

    main()


def certify() -> None:
    """``rsmooth-certify``."""
    _tuned()
    from rsmooth.cli.certify import main

    main()


def analyze() -> None:
    """``rsmooth-analyze`` (no sampling: nothing to tune)."""
    from rsmooth.cli.analyze import main

    main()


def attack() -> None:
    """``rsmooth-attack``."""
    _tuned()
    from rsmooth.cli.attack import main

    main()
