"""The scripts that measure the training objectives: the digits table reads each run's summary (and marks what is
missing), and the per-epoch cost benchmark runs every digits objective experiment and reports ratios."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

EXPERIMENTS = Path(__file__).resolve().parents[2] / "experiments"


def _load(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_digits_table_reads_each_runs_summary(tmp_path: Path) -> None:
    script = _load(EXPERIMENTS / "objectives_digits.py")
    run = tmp_path / "gaussian" / "sigma0.5" / "consistency"
    run.mkdir(parents=True)
    (tmp_path / "gaussian" / "sigma0.25").mkdir()
    radii = [0.0, 0.25, 0.5, 0.75, 1.0, 1.25]
    summary = {"radii": radii, "certified_accuracy": [0.9, 0.8, 0.7, 0.5, 0.25, 0.1], "acr": 0.6129}
    (run / "certify.summary.json").write_text(json.dumps(summary))
    table = script.table(tmp_path, "gaussian").splitlines()
    row = next(line for line in table if line.startswith("| 0.5 | consistency |"))
    assert row == "| 0.5 | consistency | 0.900 | 0.800 | 0.700 | 0.500 | 0.250 | 0.612 |"  # rounded down
    missing = next(line for line in table if line.startswith("| 0.25 | macer |"))
    assert missing.count("—") == 6  # not run yet: shown as such, never as a number
    # none / MSE / stability / stability fine-tuned from MSE, at both σ
    assert sum("clean classifier" in line for line in table) == 8
    assert "| 0.5 |" not in script.table(tmp_path, "uniform_l1")  # a σ not measured is left out


def test_the_cost_benchmark_times_every_objective_against_noise_augmentation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bench = _load(EXPERIMENTS / "benchmarks" / "objective_cost.py")
    out = tmp_path / "cost.json"
    monkeypatch.setattr(sys, "argv", ["objective_cost.py", "--rounds", "1", "--batches", "2", "--json", str(out)])
    bench.main()
    results = json.loads(out.read_text())["results"]
    assert set(results) == set(bench.EXPERIMENTS)
    assert results["digits_gaussian"]["ratio"] == 1.0
    assert all(r["seconds_per_epoch"] > 0 for r in results.values())
