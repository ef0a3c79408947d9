"""The throughput benchmark's measuring (experiments/benchmarks/certify_throughput.py): implementations take
turns one unit at a time, and a smoke run of its CERTIFY comparison on a one-layer model."""

from __future__ import annotations

import importlib.util
import time
from pathlib import Path
from types import ModuleType

import pytest
import torch
from torch import nn

from rsmooth.noise import GaussianNoise

SCRIPT = Path(__file__).resolve().parents[2] / "experiments" / "benchmarks" / "certify_throughput.py"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("certify_throughput", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_implementations_take_turns_until_each_has_run_long_enough(bench: ModuleType) -> None:
    calls: list[str] = []

    def unit(name: str, seconds: float) -> object:
        def run() -> int:
            calls.append(name)
            time.sleep(seconds)
            return 10

        return run

    rounds = bench.measure_rounds(
        {"fast": unit("fast", 0.002), "slow": unit("slow", 0.012)}, 2, torch.device("cpu"), min_seconds=0.02
    )
    calls = calls[2:]  # after the warm-up
    slow = [i for i, name in enumerate(calls) if name == "slow"]
    assert len(slow) == 4  # two units of 12 ms reach 0.02 s, in each round
    assert calls[:4] == ["fast", "slow", "fast", "slow"]  # turns, not one after the other
    assert calls[4 : slow[2]] == ["fast"] * (slow[2] - 4)  # then the fast one alone until it has its 0.02 s
    assert calls[slow[2] : slow[2] + 4] == ["slow", "fast", "slow", "fast"]  # round 2 starts reversed
    assert len(rounds["fast"]) == len(rounds["slow"]) == 2
    assert all(10 / 0.05 < r < 10 / 0.002 for r in rounds["slow"] + rounds["fast"])  # units over seconds


def test_certify_comparison_runs_on_a_one_layer_model(bench: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bench, "MIN_SECONDS", 1e-9)  # one unit each per round
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 10)).eval()
    xs = bench.inputs((1, 8, 8), 32, 16)
    out = bench.certify_rates(model, GaussianNoise(0.25), xs, 16, 64, 100, 2, None, False, peers=True)
    assert {"rsmooth", "rsmooth_single", "reference"} <= set(out["ratio_to_forward"])
    assert all(v > 0 for v in out["ratio_to_forward"].values())
    assert out["rsmooth_over_reference"] > 0 and len(out["rounds"]["rsmooth"]) == 2
