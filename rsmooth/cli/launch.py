"""The console scripts ``rsmooth-train``, ``rsmooth-certify``, ``rsmooth-analyze`` and ``rsmooth-attack``.

Each is a thin ``@hydra.main`` wrapper over a plain function (``rsmooth.cli.<task>.<task>(cfg)``, which tests
call directly). This module imports nothing heavy: ``--help`` (the ``conf/hydra/help/<task>.yaml`` page) and a
mistyped key answer before torch is loaded. Before Hydra runs, :func:`~rsmooth.cli.overrides.check_overrides`
reads the command line against the composed config, so a misspelt key or option is one line naming the
nearest valid one.

The entry points own their process, so they tune it (:func:`~rsmooth.smoothing.cpu.tune_process`: noise
threads beside the caller, glibc's allocator keeping freed memory) before the job runs; importing rsmooth as a
library changes nothing. Set ``RSMOOTH_KEEP_FREED_MEMORY=0`` to keep glibc's defaults.
"""

from __future__ import annotations

import importlib
import sys

import hydra
from omegaconf import DictConfig

from rsmooth.cli.config import config_dir
from rsmooth.cli.overrides import check_overrides

#: the tasks whose job samples noise (``analyze`` only reads results files: nothing to tune)
_SAMPLING = ("train", "certify", "attack")


def _run(task: str) -> None:
    """Run ``rsmooth-<task>`` on ``sys.argv``: check the overrides, then Hydra composes and calls the job."""
    prog = f"rsmooth-{task}"
    check_overrides(prog, task, sys.argv[1:])

    @hydra.main(config_path=str(config_dir()), config_name=task, version_base="1.3")
    def main(cfg: DictConfig) -> None:
        if task in _SAMPLING:
            from rsmooth.smoothing.cpu import tune_process

            tune_process()
        from rsmooth.cli.errors import run_reporting_errors

        job = getattr(importlib.import_module(f"rsmooth.cli.{task}"), task)
        run_reporting_errors(prog, job, cfg)

    main()


def train() -> None:
    """``rsmooth-train``."""
    _run("train")


def certify() -> None:
    """``rsmooth-certify``."""
    _run("certify")


def analyze() -> None:
    """``rsmooth-analyze``."""
    _run("analyze")


def attack() -> None:
    """``rsmooth-attack``."""
    _run("attack")
