"""Shared fixtures: small deterministic models and noise for the core tests."""

from __future__ import annotations

import os

import pytest
import torch
from torch import nn

os.environ.setdefault("WANDB_SILENT", "true")
os.environ.setdefault("WANDB_MODE", "offline")

#: measured rates the soundness tests report (what, line), printed at the end of the run whatever -s says
MEASURED: list[str] = []


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if MEASURED:
        terminalreporter.section("measured failure rates (tests/soundness)")
        for line in MEASURED:
            terminalreporter.write_line(line)


@pytest.fixture(autouse=True)
def _table_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Functional-certificate tables go to this session's temporary directory, not ~/.cache."""
    from rsmooth.certify.functional import CACHE_ENV

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
