"""Shared fixtures: small deterministic models and noise for the core tests, and a test run that writes only
under pytest's temporary directory."""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

import pytest
import torch
from torch import nn

os.environ.setdefault("WANDB_SILENT", "true")
os.environ.setdefault("WANDB_MODE", "offline")

ROOT = Path(__file__).resolve().parents[1]
#: measured rates the soundness tests report (what, line), printed at the end of the run whatever -s says
#: the over-claim rates measured by tests/soundness, the negative controls' included (lines a test prints holding
#: MEASURED_MARK), shown at the end
MEASURED: list[str] = []
MEASURED_MARK = "over-claim rate"
#: where a test run must not leave anything: the checkout, and the user's caches and settings
WATCHED = (ROOT, Path.home() / ".cache", Path.home() / ".config")


def _written(places: tuple[Path, ...]) -> set[str]:
    """Every file under ``places`` but the checkout's tracked files, its environment and tools' caches."""
    found: set[str] = set()
    for place in places:
        if place == ROOT:
            untracked = subprocess.run(
                ["git", "ls-files", "--others", "--", ".", ":(exclude).venv"], cwd=ROOT, capture_output=True, text=True
            ).stdout.splitlines()
            tools = (".pytest_cache/", ".ruff_cache/", ".mypy_cache/", ".import_linter_cache/", "rsmooth.egg-info/")
            found |= {f for f in untracked if not f.startswith(tools) and "__pycache__/" not in f}
        elif place.is_dir():
            found |= {str(p) for p in place.rglob("*") if p.is_file() and "pip" not in p.relative_to(place).parts[:1]}
    return found


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    """Point every place a library writes by default (run directories, W&B, matplotlib, torch's caches, hypothesis, the
    temporary directory of subprocesses) into this run's temporary directory, before any test module loads
    them; remember what the checkout and the user's caches hold, to compare at the end."""
    factory = getattr(config, "_tmp_path_factory", None)
    base = Path(factory.getbasetemp()) if factory is not None else Path(tempfile.mkdtemp(prefix="rsmooth-tests-"))
    home = base / "environment"
    for name, sub in (
        ("RSMOOTH_OUTPUTS", "outputs"),
        ("WANDB_DIR", "wandb"),
        ("WANDB_CACHE_DIR", "wandb-cache"),
        ("WANDB_CONFIG_DIR", "wandb-config"),
        ("WANDB_DATA_DIR", "wandb-data"),
        ("WANDB_ARTIFACT_DIR", "wandb-artifacts"),
        ("MPLCONFIGDIR", "matplotlib"),
        ("XDG_CACHE_HOME", "cache"),
        ("XDG_CONFIG_HOME", "config"),
        ("TMPDIR", "tmp"),
        ("TORCHINDUCTOR_CACHE_DIR", "torchinductor"),
        ("TRITON_CACHE_DIR", "triton"),
    ):
        (home / sub).mkdir(parents=True, exist_ok=True)
        os.environ[name] = str(home / sub)
    tempfile.tempdir = None  # this process too: tempfile reads TMPDIR again
    from hypothesis.configuration import set_hypothesis_home_dir

    set_hypothesis_home_dir(home / "hypothesis")  # its example database and caches, not .hypothesis/ here
    config.stash[_BEFORE] = _written(WATCHED)


_BEFORE = pytest.StashKey[set[str]]()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run if a test left a file in the checkout or the user's caches."""
    if _BEFORE not in session.config.stash or hasattr(session.config, "workerinput"):
        return
    left = sorted(_written(WATCHED) - session.config.stash[_BEFORE])
    if left:
        session.config.stash[_LEFT] = left
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


_LEFT = pytest.StashKey[list[str]]()


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Collect the failure rates the coverage tests print, from the reports (so from every xdist worker)."""
    if report.when == "call":
        for title, text in report.sections:
            if title.startswith("Captured stdout"):
                MEASURED.extend(line for line in text.splitlines() if MEASURED_MARK in line)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    left = terminalreporter.config.stash.get(_LEFT, [])
    if left:
        terminalreporter.section("files written outside the test run's temporary directory", red=True)
        for name in left[:50]:
            terminalreporter.write_line(name)
    if MEASURED:
        terminalreporter.section("over-claim rates (tests/soundness; the negative controls must exceed their limit)")
        for line in MEASURED:
            terminalreporter.write_line(line)


@pytest.fixture(autouse=True)
def _table_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Functional-certificate tables go to this test run's temporary directory, not ~/.cache."""
    from rsmooth.certificates.functional import CACHE_ENV

    monkeypatch.setenv(CACHE_ENV, str(tmp_path_factory.getbasetemp() / "tables"))


class LinearTwoClass(nn.Module):
    """f(x) = 1[wᵀx + b > 0] as two logits (0, wᵀx + b): class 1 iff wᵀx + b > 0."""

    def __init__(self, w: torch.Tensor, b: float) -> None:
        super().__init__()
        self.register_buffer("w", w.flatten().float())
        self.b = float(b)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = x.flatten(1) @ self.w + self.b
        return torch.stack([torch.zeros_like(s), s], dim=1)


class CountingModel(nn.Module):
    """Wraps a model and counts the samples it classifies."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner
        self.seen = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.seen += x.shape[0]
        return self.inner(x)


@pytest.fixture
def generator() -> torch.Generator:
    return torch.Generator().manual_seed(1234)
