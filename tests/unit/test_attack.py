"""rsmooth.attack: projections are exact projections, PGD finds the linear classifier's nearest flip."""

from __future__ import annotations

import pytest
import torch
from scipy.stats import norm

from rsmooth.attack import SmoothedPGD, empirical_robust_accuracy, inside_radius_flips, project
from rsmooth.attack.evaluate import AttackRow, attack_examples
from rsmooth.errors import ConfigError
from rsmooth.noise import GaussianNoise, UniformL1Noise
from rsmooth.smoothing import Smooth
from tests.conftest import LinearTwoClass

EXPONENT = {"l2": 2.0, "linf": float("inf"), "l1": 1.0}


@pytest.mark.parametrize("p", ["l2", "linf", "l1"])
def test_projection_is_the_nearest_point_of_the_ball(p: str) -> None:
    g = torch.Generator().manual_seed(0)
    delta = torch.randn(64, 1, 3, 3, generator=g) * torch.rand(64, 1, 1, 1, generator=g) * 3
    eps = 1.0
    out = project(delta, eps, p)
    lengths = out.flatten(1).norm(p=EXPONENT[p], dim=1)
    assert (lengths <= eps + 1e-5).all()
    inside = delta.flatten(1).norm(p=EXPONENT[p], dim=1) <= eps
    assert torch.equal(out[inside], delta[inside])  # points in the ball stay put
    assert torch.allclose(project(out, eps, p), out, atol=1e-6)  # idempotent
    # no random point of the ball is closer to δ than its projection
    for _ in range(200):
        cand = project(torch.randn(64, 1, 3, 3, generator=g) * 2, eps, p)
        assert ((delta - cand).flatten(1).norm(dim=1) >= (delta - out).flatten(1).norm(dim=1) - 1e-5).all()


def test_l1_projection_against_bisection_on_the_threshold() -> None:
    delta = torch.tensor([[3.0, -1.0, 0.5, 0.0, -2.0]])
    lo, hi = 0.0, 3.0  # find θ with Σ max(|δ| − θ, 0) = ε by bisection
    for _ in range(100):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if (delta.abs() - mid).clamp_min(0).sum() > 2.0 else (lo, mid)
    expected = delta.sign() * (delta.abs() - lo).clamp_min(0)
    assert torch.allclose(project(delta, 2.0, "l1"), expected, atol=1e-6)


def _linear(margin: float, sigma: float = 0.25) -> tuple[Smooth, torch.Tensor]:
    """Class 1 iff w·x + b > 0 with ‖w‖₂ = 1 and w·x + b = margin at x = ½: the smoothed classifier is the
    same half-space (Cohen Prop. 4), so its nearest flip is at ℓ2 distance = margin, along −w."""
    w = torch.ones(16) / 4
    smooth = Smooth(LinearTwoClass(w, margin - float(w.sum()) * 0.5), GaussianNoise(sigma), 2, seed=0)
    return smooth, torch.full((1, 1, 4, 4), 0.5)


@pytest.mark.parametrize("p,scale", [("l2", 1.0), ("linf", 0.25), ("l1", 4.0)])
def test_pgd_flips_the_linear_classifier_just_beyond_its_radius_and_not_inside(p: str, scale: float) -> None:
    # the distance to the half-space w·x = -b is margin/‖w‖_q (q dual to p): ℓ2 m, ℓ∞ m/‖w‖₁ = m/4, ℓ1 m/‖w‖∞ = 4m
    margin = 0.2
    smooth, x = _linear(margin)
    pgd = SmoothedPGD(GaussianNoise(0.25), norm=p, steps=40, samples=32, l1_share=1 / 16)
    label = torch.tensor([1])
    beyond = pgd.attack(smooth.base, x, label, 1.05 * margin * scale, [0])
    inside = pgd.attack(smooth.base, x, label, 0.95 * margin * scale, [0])
    for adv, eps in ((beyond, 1.05), (inside, 0.95)):
        assert (adv - x).flatten().norm(p=EXPONENT[p]) <= eps * margin * scale + 1e-5
        assert adv.min() >= 0 and adv.max() <= 1
    assert smooth.predict(beyond[0], 20_000, 0.001, 4096).prediction == 0
    assert smooth.predict(inside[0], 20_000, 0.001, 4096).prediction in (1, -1)  # no flip (a near-tie may abstain)


def test_attack_is_reproducible_per_example_and_zero_radius_returns_the_input() -> None:
    smooth, _ = _linear(0.2)
    pgd = SmoothedPGD(UniformL1Noise(0.25), norm="l1", steps=5, samples=8)
    xs = torch.rand(3, 1, 4, 4, generator=torch.Generator().manual_seed(1))
    labels = torch.tensor([1, 0, 1])
    together = pgd.attack(smooth.base, xs, labels, 0.3, [5, 6, 7])
    alone = pgd.attack(smooth.base, xs[1:2], labels[1:2], 0.3, [6])
    assert torch.equal(together[1:2], alone)
    assert torch.equal(pgd.attack(smooth.base, xs, labels, 0.0, [5, 6, 7]), xs)
    with pytest.raises(ConfigError, match="attack.norm"):
        SmoothedPGD(GaussianNoise(0.25), norm="l3")
    with pytest.raises(ConfigError, match="attack.steps"):
        SmoothedPGD(GaussianNoise(0.25), steps=0)


def test_curve_and_inside_rows_on_the_linear_classifier() -> None:
    # certified radius from CERTIFY at large n is below the margin: the inside check must find no flip,
    # while the curve attack at a radius past the margin flips every example
    margin, sigma = 0.2, 0.25
    smooth, x = _linear(margin, sigma)
    result = smooth.certify(x[0], 100, 20_000, 0.001, 4096)
    assert result.prediction == 1 and result.radius < margin
    pgd = SmoothedPGD(GaussianNoise(sigma), steps=30, samples=16)
    examples = [(i, x[0], 1) for i in range(3)]
    rows = attack_examples(
        smooth, pgd, examples, [0.0, 0.1, 0.3], {i: (1, result.radius) for i in range(3)}, 10_000, 0.001, 4096
    )
    assert empirical_robust_accuracy(rows, [0.0, 0.1, 0.3]) == [1.0, 1.0, 0.0]
    assert inside_radius_flips(rows) == (0, 3)
    assert all(isinstance(r, AttackRow) for r in rows) and float(norm.cdf(margin / sigma)) > 0.5
