"""The accuracy–robustness terms of eq. (7) (Zhang et al. 2020, Figure 4): the Gaussian's closed forms,
the Pareto frontier by brute force, and the figure script end to end."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from scipy.stats import chi2, norm

from rsmooth.analysis.pareto import TradeoffPoint, pareto_frontier, tradeoff_points, worst_linf_shifts
from rsmooth.noise import LinfPowerNoise, PowerL2Noise

ROOT = Path(__file__).resolve().parents[2]


def test_gaussian_terms_match_their_closed_forms() -> None:
    """k = 0 is N(0, σ²I): accuracy P(σχ_d ≤ r0), TV at δ = ε·1 is 2Φ(ε√d/2σ) − 1, and eq. (7) is
    Φ(Φ⁻¹(A) − ε√d/σ) (Corollary 1)."""
    dim, sigma, ball, samples = 5, 0.3, 0.65, 400_000
    points = tradeoff_points(
        PowerL2Noise(sigma, 0.0), dim, ball, [0.05, 0.15], samples, torch.Generator().manual_seed(0)
    )
    accuracy = chi2.cdf(ball**2 / sigma**2, dim)
    for point in points:
        shift = point.eps * math.sqrt(dim)
        assert point.accuracy == pytest.approx(accuracy, abs=4 / math.sqrt(samples))
        assert point.robustness == pytest.approx(2 * norm.cdf(shift / (2 * sigma)) - 1, abs=0.005)
        assert point.bound == pytest.approx(norm.cdf(norm.ppf(accuracy) - shift / sigma), abs=0.01)


def test_frontier_is_the_set_of_undominated_points() -> None:
    g = torch.Generator().manual_seed(3)
    values = torch.rand(300, 2, generator=g).tolist()
    points = [TradeoffPoint("x", 1.0, 0.0, 0.1, r, a, 0.0) for r, a in values]
    frontier = pareto_frontier(points)
    undominated = [
        p
        for p in points
        if not any(q.robustness <= p.robustness and q.accuracy >= p.accuracy and q != p for q in points)
    ]
    assert sorted(frontier, key=lambda p: p.robustness) == sorted(undominated, key=lambda p: p.robustness)
    assert all(a.robustness < b.robustness and a.accuracy < b.accuracy for a, b in zip(frontier, frontier[1:]))


def test_the_pure_linf_family_is_charged_its_worst_corner() -> None:
    shifts = worst_linf_shifts(LinfPowerNoise(0.3, 1.0), 4, 0.1)
    assert shifts.shape == (4, 4) and torch.equal(shifts[-1], torch.full((4,), 0.1, dtype=torch.float64))
    assert worst_linf_shifts(PowerL2Noise(0.3, 1.0), 4, 0.1).shape == (1, 4)


def test_figure4_script_writes_a_plot_and_the_frontiers(tmp_path: Path) -> None:
    cmd = [
        sys.executable,
        str(ROOT / "experiments" / "figure4_pareto.py"),
        "--samples",
        "3000",
        "--sigmas",
        "5",
        "--ks",
        "0",
        "2",
        "--eps-values",
        "0.1",
        "0.2",
        "--out",
        str(tmp_path),
    ]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    data = json.loads((tmp_path / "figure4_pareto.json").read_text())
    assert set(data["families"]) == {"power_l2", "mixed_linf", "linf_power"}
    assert all(entry["frontier"] for entry in data["families"].values())
    assert (tmp_path / "figure4_pareto.png").stat().st_size > 10_000
