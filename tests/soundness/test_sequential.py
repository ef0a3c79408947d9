"""Sequential CERTIFY: same guarantee as fixed n (union bound over stages), far fewer samples."""

from __future__ import annotations

import math
from unittest import mock

import pytest
import torch
from scipy.stats import norm

from rsmooth.errors import ConfigError
from rsmooth.noise import DeterministicSplittingNoise, GaussianNoise
from rsmooth.smoothing import CertificationSettings, Smooth
from rsmooth.smoothing.sequential import SampleSchedule
from rsmooth.smoothing.settings import SequentialSettings
from tests.conftest import LinearTwoClass

SIGMA = 0.5


def half_space(p: float) -> tuple[Smooth, torch.Tensor, float]:
    """A linear classifier whose smoothed class-1 probability at x = 0 is p: the smoothed classifier of a
    linear classifier is itself, so the true robust radius is the margin m = σΦ⁻¹(p) (Cohen Prop. 4)."""
    margin = SIGMA * float(norm.ppf(p))
    model = LinearTwoClass(torch.ones(16) / 4, margin)  # ‖w‖ = 1, w·0 + b = m
    return Smooth(model, GaussianNoise(SIGMA), 2, seed=0), torch.zeros(1, 4, 4), margin


def test_schedule_is_geometric_in_blocks_and_ends_at_the_budget() -> None:
    assert SampleSchedule.geometric(100_000).sizes == (1024, 2048, 4096, 8192, 16384, 32768, 65536, 100_000)
    assert SampleSchedule.geometric(500, first=1024).sizes == (500,)
    levels = SampleSchedule.geometric(100_000).stage_alphas(0.001)  # 3/4 of α to the last stage
    assert sum(levels) == pytest.approx(0.001) and levels[-1] == pytest.approx(0.00075)
    assert levels[:-1] == pytest.approx([0.00025 / 7] * 7)
    assert SampleSchedule((1024,)).stage_alphas(0.01) == (0.01,)
    for bad in ({"growth": 1.0}, {"first": 0}, {"growth": float("nan")}):
        with pytest.raises(ConfigError):
            SampleSchedule.geometric(1000, **bad)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="multiple of 256"):
        SampleSchedule((100, 200))


def test_run_to_the_budget_it_sees_exactly_the_fixed_n_counts() -> None:
    smooth, x, _ = half_space(0.9)
    xs = x.expand(6, 1, 4, 4)
    fixed = smooth.certify_many(xs, 64, 5000, 0.001, 700, mode="fixed")
    seq = smooth.certify_many(xs, 64, 5000, 0.001, 700, mode="sequential", radii=None)
    assert [r.count for r in seq] == [r.count for r in fixed] and {r.n for r in seq} == {5000}
    # ... certified at α_K < α at the last stage, so never larger than fixed n's radius; the total stays α
    assert all(s.radius <= f.radius for s, f in zip(seq, fixed)) and {r.alpha for r in seq} == {0.001}


def test_stops_early_and_does_not_depend_on_batching_or_grouping() -> None:
    smooth, x, margin = half_space(0.9)
    many = smooth.certify_many(
        x.expand(5, 1, 4, 4), 64, 100_000, 0.001, 1000, ids=[3, 4, 5, 6, 7], mode="sequential", radii=[0.0, 0.25, 0.5]
    )
    one = [
        smooth.certify(x, 64, 100_000, 0.001, 333, id=i, mode="sequential", radii=[0.0, 0.25, 0.5])
        for i in (3, 4, 5, 6, 7)
    ]
    assert [(r.prediction, r.radius, r.n) for r in many] == [(r.prediction, r.radius, r.n) for r in one]
    assert all(r.prediction == 1 and 0.5 <= r.radius <= margin and r.n < 10_000 for r in many)
    # a hopeless input abstains at the first stage: four classes of probability 1/4 each
    out = Smooth(Quadrants(), GaussianNoise(SIGMA), 4).certify(
        torch.full((1, 4, 4), 0.5), 64, 100_000, 0.001, 1000, mode="sequential", radii=[0.0]
    )
    assert out.prediction == -1 and out.n == 1024


def test_gives_up_on_a_radius_out_of_reach_within_the_budget() -> None:
    # the target sits 1 % above the true radius: no budget certifies it. The futility rule sees, from an
    # optimistic (95 %) bound on p_A, that n_max samples would not either, and stops long before n_max;
    # at a tiny futility level it samples on, mostly to the budget. Neither changes the guarantee: radius <= margin.
    smooth, x, margin = half_space(0.9)
    xs, radii = x.expand(8, 1, 4, 4), [0.0, margin * 1.01]
    bold = smooth.certify_many(xs, 64, 100_000, 0.001, 4096, mode="sequential", radii=radii)
    careful = smooth.certify_many(
        xs,
        64,
        100_000,
        0.001,
        4096,
        mode="sequential",
        radii=radii,
        schedule=SampleSchedule.geometric(100_000, futility=1e-6),
    )
    mean_bold, mean_careful = (sum(r.n for r in rs) / len(rs) for rs in (bold, careful))
    assert mean_bold < 20_000 and mean_careful > 60_000
    assert all(0.5 < r.radius <= margin for r in bold + careful)
    with pytest.raises(ConfigError, match="futility"):
        SampleSchedule.geometric(1000, futility=0.5)
    with pytest.raises(ConfigError, match="final_share"):
        SampleSchedule.geometric(1000, final_share=1.0)


class Quadrants(torch.nn.Module):
    """Class 2·[z₀ > 0.5] + [z₁ > 0.5]: at x = 0.5 under symmetric noise each class has probability 1/4."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        flat = x.flatten(1)
        cls = 2 * (flat[:, 0] > 0.5).long() + (flat[:, 1] > 0.5).long()
        return torch.nn.functional.one_hot(cls, 4).float()


def _overclaim_rate(trials: int, alpha: float, tolerance: float | None = None, p: float = 0.9) -> float:
    """How often sequential CERTIFY claims more than the true radius, when its target sits just above the
    truth (the case where optional stopping would hurt most); with ``tolerance``, no target: the radius
    tolerance rule alone decides when each input stops. At ``p = 0.5`` (a tie: the true radius is 0 and
    the target is r = 0) any prediction at all is an over-claim, since it asserts p_A > ½."""
    smooth, x, margin = half_space(p)
    schedule = SampleSchedule.geometric(4096, first=256)  # K = 5 stages
    sequential = SequentialSettings(
        radii=None if tolerance else [margin * 1.0001], radius_tolerance=tolerance, first=256, where="sequential"
    )
    settings = CertificationSettings(
        n0=64, n=4096, alpha=alpha, batch_size=4096, mode="sequential", sequential=sequential, where=""
    )
    results = smooth.certify_with(x.expand(trials, 1, 4, 4), settings, ids=list(range(trials)), schedule=schedule)
    return sum(r.radius > margin for r in results) / trials


TRIALS, ALPHA = 1000, 0.1
# expected over-claim rate ≤ α; margin: three binomial standard deviations at rate α
MARGIN = 3 * math.sqrt(ALPHA * (1 - ALPHA) / TRIALS)


def test_coverage_holds_with_optional_stopping() -> None:
    rate = _overclaim_rate(TRIALS, ALPHA)
    print(f"sequential over-claim rate {rate:.3f} (alpha {ALPHA}, margin {MARGIN:.3f})")
    assert rate <= ALPHA + MARGIN


def test_coverage_holds_at_a_tie() -> None:
    rate = _overclaim_rate(TRIALS, ALPHA, p=0.5)
    print(f"sequential over-claim rate at a tie {rate:.3f} (alpha {ALPHA}, margin {MARGIN:.3f})")
    assert rate <= ALPHA + MARGIN


def test_coverage_holds_when_the_radius_tolerance_decides_when_to_stop() -> None:
    rate = _overclaim_rate(TRIALS, ALPHA, tolerance=0.05)
    print(f"tolerance rule over-claim rate {rate:.3f} (alpha {ALPHA}, margin {MARGIN:.3f})")
    assert rate <= ALPHA + MARGIN


def test_with_no_radii_the_tolerance_rule_estimates_each_radius_to_within_it() -> None:
    """R(UCB) − R(LCB) ≤ τ at the stop means the certified radius is within τ of the truth (when both bounds hold);
    inputs far from p = 1 stop long before the budget, and a tiny τ samples to the budget as fixed n does."""
    for p, tolerance in ((0.7, 0.05), (0.95, 0.05)):
        smooth, x, margin = half_space(p)
        sequential = SequentialSettings(radii=None, radius_tolerance=tolerance, where="sequential")
        settings = CertificationSettings(
            n0=64, n=100_000, alpha=0.001, batch_size=8192, mode="sequential", sequential=sequential, where=""
        )
        results = smooth.certify_with(x.expand(8, 1, 4, 4), settings)
        assert all(margin - tolerance <= r.radius <= margin for r in results), (p, margin, [r.radius for r in results])
        assert sum(r.n for r in results) / 8 < 40_000
    smooth, x, margin = half_space(0.7)
    tight = SequentialSettings(radii=None, radius_tolerance=1e-6, where="sequential")
    settings = CertificationSettings(n0=64, n=20_000, alpha=0.001, batch_size=8192, mode="sequential", sequential=tight)
    assert all(r.n == 20_000 for r in smooth.certify_with(x.expand(4, 1, 4, 4), settings))
    with pytest.raises(ConfigError, match="radius_tolerance must be a number > 0 or null"):
        SequentialSettings(radius_tolerance=0.0)


def test_coverage_test_fails_without_the_union_bound() -> None:
    # every stage at the full α: peeking after each stage inflates the error well past α
    with mock.patch.object(SampleSchedule, "stage_alphas", lambda self, a: (a,) * self.stages):
        rate = _overclaim_rate(TRIALS, ALPHA)
    print(f"every stage at the full alpha: over-claim rate {rate:.3f} (limit {ALPHA + MARGIN:.3f})")
    assert rate > ALPHA + MARGIN
    with mock.patch.object(SampleSchedule, "stage_alphas", lambda self, a: (a,) * self.stages):
        rate = _overclaim_rate(TRIALS, ALPHA, p=0.5)
    print(f"every stage at the full alpha, at a tie: over-claim rate {rate:.3f} (limit {ALPHA + MARGIN:.3f})")
    assert rate > ALPHA + MARGIN


def test_sequential_refuses_what_it_cannot_do() -> None:
    model = LinearTwoClass(torch.ones(16), -8.0)
    x = torch.zeros(1, 4, 4)
    dssn = Smooth(model, DeterministicSplittingNoise(0.5, 16), 2)
    with pytest.raises(ConfigError, match="sequential mode is for Monte Carlo"):
        dssn.certify(x, 10, 100, 0.001, 100, mode="sequential")
    with pytest.raises(ConfigError, match="one-sided"):
        Smooth(model, GaussianNoise(0.5), 2, certificate="cohen_bilateral").certify(
            x, 10, 100, 0.001, 100, mode="sequential"
        )
    with pytest.raises(ConfigError, match="mode must be fixed or sequential, got .adaptive."):
        Smooth(model, GaussianNoise(0.5), 2).certify(x, 10, 100, 0.001, 100, mode="adaptive")
