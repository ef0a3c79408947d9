"""Eq. (7) of Zhang et al. 2020 (Figure 4): the Gaussian's closed forms, the concave maximization over λ by
brute force, the frontier by brute force, and the figure script end to end."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from scipy.stats import chi2, norm

from rsmooth.analysis.pareto import (
    TradeoffPoint,
    best_lambda,
    matched_accuracy_values,
    pareto_frontier,
    tradeoff_points,
    value_at,
    worst_linf_shifts,
)
from rsmooth.noise import LinfPowerNoise, MixedLinfNoise, PowerL2Noise

ROOT = Path(__file__).resolve().parents[2]
DIM, BALL = 5, 0.65


def gaussian_value(sigma: float, eps: float) -> float:
    """Eq. (7) of N(0, σ²I) in d = 5 at the vertex shift ε·1, exactly: Φ(Φ⁻¹(A) − ε√d/σ), A = P(σχ_d ≤ r0)."""
    accuracy = chi2.cdf(BALL**2 / sigma**2, DIM)
    return float(norm.cdf(norm.ppf(accuracy) - eps * math.sqrt(DIM) / sigma))


def test_gaussian_terms_match_their_closed_forms() -> None:
    """k = 0 is N(0, σ²I): accuracy P(σχ_d ≤ r0) and TV at δ = ε·1 is 2Φ(ε√d/2σ) − 1."""
    sigma, samples = 0.3, 400_000
    points = tradeoff_points(
        PowerL2Noise(sigma, 0.0), DIM, BALL, [0.05, 0.15], samples, torch.Generator().manual_seed(0)
    )
    accuracy = chi2.cdf(BALL**2 / sigma**2, DIM)
    for point in points:
        shift = point.eps * math.sqrt(DIM)
        assert point.accuracy == pytest.approx(accuracy, abs=4 / math.sqrt(samples))
        assert point.robustness == pytest.approx(2 * norm.cdf(shift / (2 * sigma)) - 1, abs=0.005)


@pytest.mark.parametrize("family", [PowerL2Noise, MixedLinfNoise])
def test_matched_value_at_k0_is_the_gaussian_closed_form_and_never_above_one(family: type) -> None:
    """At k = 0 both families are N(0, σ²I): the value chosen on one set of draws and measured on another is
    the closed form Φ(Φ⁻¹(A) − ε√d/σ) within 3 standard errors, σ is the Gaussian's σ_A, and no value
    exceeds 1 (nor its accuracy term, beyond noise: V ≤ A). A wrong closed form (the shift's norm ε√(d − 1))
    is not within 3 standard errors of the same numbers: the comparison can fail."""
    accuracies, eps_values = [0.95, 0.99, 0.999], [0.05, 0.1, 0.2]
    values = matched_accuracy_values(
        family, DIM, BALL, accuracies, eps_values, [0.0], 200_000, torch.Generator().manual_seed(7)
    )
    assert [(v.target, v.eps) for v in values] == [(a, e) for a in accuracies for e in eps_values]
    wrong = 0
    for v in values:
        sigma_exact = BALL / math.sqrt(chi2.ppf(v.target, DIM))
        assert v.sigma == pytest.approx(sigma_exact, rel=0.015)  # a quantile of 200 000 draws (0.4 % SE at 0.999)
        assert abs(v.value - gaussian_value(v.sigma, v.eps)) <= 3 * v.standard_error, v
        assert v.value <= 1.0 and v.value <= v.accuracy + 3 * v.standard_error
        accuracy = chi2.cdf(BALL**2 / v.sigma**2, DIM)
        wrong_value = norm.cdf(norm.ppf(accuracy) - v.eps * math.sqrt(DIM - 1) / v.sigma)
        wrong += abs(v.value - wrong_value) > 3 * v.standard_error
    assert wrong >= len(values) - 2


def test_best_lambda_is_the_maximum_over_every_breakpoint() -> None:
    """λ·A − max_s mean((λ − R_s)₊) is concave and piecewise linear with kinks at the ratios: its maximum is at
    one of them. Bisection finds that maximum, for one shift (then λ is the A-quantile of R) and for three."""
    g = torch.Generator().manual_seed(4)
    for shifts in (1, 3):
        ratios = torch.exp(torch.randn(shifts, 400, generator=g, dtype=torch.float64))
        for accuracy in (0.3, 0.9, 0.997):
            lam, value = best_lambda(accuracy, ratios)
            grid = ratios.flatten()
            brute = (grid * accuracy - (grid.view(-1, 1, 1) - ratios).clamp_min(0).mean(2).amax(1)).max()
            assert value == pytest.approx(float(brute), abs=1e-12)
            if shifts == 1:
                assert (ratios < lam).double().mean() <= accuracy <= (ratios <= lam + 1e-9).double().mean()


def test_value_at_a_fixed_lambda_by_hand() -> None:
    inside = torch.tensor([True, True, False, True])
    ratios = torch.tensor([[0.5, 2.0, 1.0, 3.0], [0.25, 1.0, 4.0, 1.0]], dtype=torch.float64)
    value, error = value_at(1.5, inside, ratios)
    # shift 0: y = 1.5·inside − (1.5 − R)₊ = [0.5, 1.5, −0.5, 1.5], mean 0.75; shift 1: [0.25, 1, 0, 1], 0.5625
    assert value == pytest.approx(0.5625)
    assert error == pytest.approx(float(torch.tensor([0.25, 1.0, 0.0, 1.0]).std()) / 2)


def test_frontier_is_the_set_of_undominated_points() -> None:
    g = torch.Generator().manual_seed(3)
    values = torch.rand(300, 2, generator=g).tolist()
    points = [TradeoffPoint("x", 1.0, 0.0, 0.1, r, a) for r, a in values]
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


def test_figure4_script_writes_a_plot_the_frontiers_and_the_matched_values(tmp_path: Path) -> None:
    cmd = [
        sys.executable,
        str(ROOT / "experiments" / "figure4_pareto.py"),
        *("--samples", "3000", "--seeds", "2", "--frontier-samples", "2000", "--sigmas", "4"),
        *("--ks", "0", "2", "--eps-values", "0.1", "0.2", "--accuracies", "0.95", "0.99", "--out", str(tmp_path)),
    ]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    data = json.loads((tmp_path / "figure4_pareto.json").read_text())
    assert set(data["families"]) == {"power_l2", "mixed_linf", "linf_power"}
    for entry in data["families"].values():
        assert entry["frontier"]
        cells = [cell for rows in entry["matched_accuracy"].values() for cell in rows.values()]
        assert len(cells) == 4 and all(len(cell["per_seed"]) == 2 and cell["half_width"] >= 0 for cell in cells)
    assert data["highest_value"] <= 1.0
    assert "mixed vs ℓ2 power" in data["verdict"]["line"] and data["verdict"]["line"] in result.stdout
    assert (tmp_path / "figure4_pareto.png").stat().st_size > 10_000
