"""The ℓ2 power family's sorted-draw counts (rsmooth.certificates.power_counts) against L evaluated on every draw:
equal, including at extreme k and with a single bin; and a wrong shortcut only ever errs on the safe side."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rsmooth.certificates.functional import SampleLevelCounter
from rsmooth.certificates.power_counts import PowerL2LevelCounter, log_ratio, root_from_above, root_from_below
from rsmooth.noise import PowerL2Noise


@pytest.mark.parametrize(
    ("dim", "k", "bins"),
    [(64, 0.0, 512), (64, 11.0, 512), (8, 7.5, 64), (3, 2.9, 16), (3072, 512.0, 512), (64, 11.0, 1)],
)
def test_sorted_counts_bracket_the_exact_counts(dim: int, k: float, bins: int) -> None:
    family = PowerL2Noise(0.25, k)
    stats = family.shift_statistics(dim, 200_000, np.random.default_rng(3))
    radii = family.scale(dim) * np.array([0.005, 0.05, 0.3, 1.0, 2.0, 4.0])
    exact = SampleLevelCounter(family.log_ratio(stats, radii, dim))
    fast = PowerL2LevelCounter(stats, radii, family.scale(dim), k, bins)
    rng = np.random.default_rng(4)
    median = exact.log_ratios.median(dim=0).values.numpy()
    spread = exact.log_ratios.std(dim=0).numpy()
    for c in [median, -median, median - spread, median + 2 * spread, median + rng.normal(size=radii.size) * spread]:
        assert np.array_equal(fast.at_least(c), exact.at_least(c))
        assert np.array_equal(fast.at_most(c), exact.at_most(c))


@pytest.mark.parametrize(("count", "bins"), [(100_000, 1024), (4_000, 1024), (1_000, 3), (997, 1000)])
def test_counts_are_exact_whatever_the_bins_leave_as_padding(count: int, bins: int) -> None:
    """N not a multiple of the bin width (padding larger than one bin if split naively) must not count the
    padding as draws: at a huge radius every draw has L ≤ −c, none has L ≥ c beyond the exact count."""
    family = PowerL2Noise(0.25, 0.0)
    stats = family.shift_statistics(64, count, np.random.default_rng(2))
    radii = 0.25 * np.array([0.1, 1.0, 6.0])
    exact = SampleLevelCounter(family.log_ratio(stats, radii, 64))
    fast = PowerL2LevelCounter(stats, radii, 0.25, 0.0, bins)
    c = exact.log_ratios.median(dim=0).values.numpy()
    assert np.array_equal(fast.at_least(c), exact.at_least(c))
    assert np.array_equal(fast.at_most(-c), exact.at_most(-c))
    assert fast.at_most(-c)[-1] == count


@pytest.mark.parametrize("shift", [-1.0, 1.0])
def test_a_wrong_start_of_the_one_by_one_range_only_errs_on_the_safe_side(
    monkeypatch: pytest.MonkeyPatch, shift: float
) -> None:
    """T_lo too high: draws between the root and T_lo are left out of {L ≥ c} and put into {L ≤ c};
    too low: more draws are evaluated one by one, still exactly."""
    import rsmooth.certificates.power_counts as pc

    good = pc.root_from_below
    monkeypatch.setattr(pc, "root_from_below", lambda *a: good(*a) + shift * 0.05)
    family = PowerL2Noise(0.25, 11.0)
    stats = family.shift_statistics(64, 100_000, np.random.default_rng(0))
    radii = np.array([0.05, 0.5])
    exact = SampleLevelCounter(family.log_ratio(stats, radii, 64))
    fast = PowerL2LevelCounter(stats, radii, family.scale(64), 11.0, 64)
    c = exact.log_ratios.median(dim=0).values.numpy()
    above, below = fast.at_least(c), fast.at_most(c)
    if shift > 0:
        assert np.all(above < exact.at_least(c)) and np.all(below > exact.at_most(c))
    else:
        assert np.array_equal(above, exact.at_least(c)) and np.array_equal(below, exact.at_most(c))


def test_root_from_above_is_above_the_root_and_close_to_it() -> None:
    g = torch.Generator().manual_seed(0)
    p = torch.rand(5000, generator=g, dtype=torch.float64) * 20.0 + 1e-3
    r = torch.rand(5000, generator=g, dtype=torch.float64) * 2.0 + 1e-3
    c = torch.randn(5000, generator=g, dtype=torch.float64) * 10.0
    for k in (0.0, 3.0, 500.0):
        t = root_from_above(p, r, c, 0.3, k)
        finite = torch.isfinite(t)
        assert finite.float().mean() > 0.99
        value = log_ratio(p[finite], t[finite], r[finite], 0.3, k)
        assert torch.all(value >= c[finite])  # L is increasing in z₁: every z₁ ≥ t has L ≥ c
        # and t is the root to ~1e-9: slightly below it, L < c (where L is not flat there)
        lower = t[finite] - 1e-6 * (1.0 + t[finite].abs())
        assert (log_ratio(p[finite], lower, r[finite], 0.3, k) < c[finite]).float().mean() > 0.99


def test_root_from_below_is_below_the_root() -> None:
    g = torch.Generator().manual_seed(1)
    p = torch.exp(torch.randn(5000, generator=g, dtype=torch.float64) * 6.0)  # P from ~1e-8 to ~1e8
    r = torch.rand(5000, generator=g, dtype=torch.float64) * 2.0 + 1e-3
    c = torch.randn(5000, generator=g, dtype=torch.float64) * 30.0
    for k in (0.0, 2.9, 500.0):
        t = root_from_below(p, r, c, 0.3, k)
        assert torch.all(torch.isfinite(t))
        value = log_ratio(p, t, r, 0.3, k)
        assert torch.all(value <= c)  # at or left of the root: L(t) ≤ c


@pytest.mark.parametrize("count", [4_000, 100_000])
def test_small_tables_never_exceed_the_exact_gaussian_radius(count: int) -> None:
    """k = 0 with N not a multiple of the default bins: every table radius is at most σΦ⁻¹(p)."""
    from rsmooth.certificates import cohen_radius
    from rsmooth.certificates.functional import TableSettings, build_table

    table = build_table(
        PowerL2Noise(0.25, 0.0), 64, TableSettings(num_samples=count, pilot_samples=20_000, radius_ratio=1.05)
    )
    for p in (0.6, 0.9, 0.99, 0.999, 0.99999):
        assert table.radius(p) <= cohen_radius(p, 1 - p, 0.25)
