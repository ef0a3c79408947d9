"""ℓ1 families: uniform additive noise, SSN and DSSN (Levine & Feizi 2021), from the paper's equations."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from rsmooth.certificates import VoteCounts
from rsmooth.noise import DeterministicSplittingNoise, SplittingNoise, UniformL1Noise, split_midpoint


def paper_general(x: float, s: float, lam: float) -> float:
    """Eqs. 27–28 (general case), written out in plain Python."""
    hi = min(2 * lam * math.ceil((x - s) / (2 * lam)) + s, 1.0)
    lo = max(2 * lam * math.ceil((x - s) / (2 * lam) - 1) + s, 0.0)
    return (hi + lo) / 2


def paper_large_lambda(x: float, s: float) -> float:
    """Eq. 7 (λ ≥ 0.5): x̃ = (min(s, 1) + 1[x > s]) / 2."""
    return (min(s, 1.0) + (1.0 if x > s else 0.0)) / 2


@pytest.mark.parametrize("lam", [0.5, 0.75, 1.3, 3.0])
def test_split_matches_eq_7_when_lambda_at_least_half(lam: float) -> None:
    xs = [0.0, 0.1, 0.25, 0.5, 0.9, 1.0]
    ss = [0.05, 0.25, 0.5, 0.99, 1.0, 1.2, 2 * lam - 1e-3]
    for x in xs + ss:  # x on a split point too
        if not 0 <= x <= 1:
            continue
        for s in ss:
            if s >= 2 * lam:
                continue
            got = float(
                split_midpoint(torch.tensor(x, dtype=torch.float64), torch.tensor(s, dtype=torch.float64), 2 * lam)
            )
            assert got == pytest.approx(paper_large_lambda(x, s), abs=1e-12), (x, s)


@pytest.mark.parametrize("lam", [0.05, 0.1, 0.2, 0.3, 0.49])
def test_split_matches_general_formula_when_lambda_below_half(lam: float) -> None:
    rng = np.random.default_rng(0)
    xs = np.concatenate([[0.0, 1.0], rng.random(200)])
    for s in np.concatenate([rng.random(20) * 2 * lam, [1e-6, lam]]):
        pts = np.concatenate([xs, [s, s + 2 * lam, s + 4 * lam]])  # x exactly on split points
        pts = pts[(pts >= 0) & (pts <= 1)]
        got = split_midpoint(torch.tensor(pts), torch.tensor(s, dtype=torch.float64), 2 * lam).numpy()
        want = np.array([paper_general(float(x), float(s), lam) for x in pts])
        np.testing.assert_allclose(got, want, atol=1e-12)
        # the noisy value is the midpoint of the piece holding x: inside [0, 1], within λ of x... or of its piece
        assert np.all((got >= 0) & (got <= 1))


def test_split_point_belongs_to_the_lower_piece() -> None:
    # [0, s] and (s, 1]: x = s maps to s/2, just above maps to (s+1)/2 (λ ≥ 0.5)
    assert float(split_midpoint(torch.tensor(0.4), torch.tensor(0.4), 1.2)) == pytest.approx(0.2)
    assert float(split_midpoint(torch.tensor(0.4001), torch.tensor(0.4), 1.2)) == pytest.approx(0.7)


@pytest.mark.parametrize("sigma, q", [(0.05, 8), (0.1, 16), (0.25, 16), (0.5, 8), (1.0, 255), (3.5, 255)])
def test_dssn_integer_transform_equals_the_paper_formula(sigma: float, q: int) -> None:
    noise = DeterministicSplittingNoise(sigma, q, seed=3)
    assert math.floor(2 * math.sqrt(3) * sigma * q) == noise.L and noise.lam == noise.L / (2 * q)
    d = 2 * 3 * 3
    a = torch.randint(0, q + 1, (d,), generator=torch.Generator().manual_seed(1))
    a[:2] = torch.tensor([0, q])  # edge values x = 0 and x = 1
    x = (a.double() / q).view(1, 2, 3, 3)
    table = noise.split_indices(d)
    for j in range(noise.L):
        got = noise.perturb_draws(x.float(), torch.tensor([j])).double().flatten()
        s = (table[j].double() + 0.5) / q
        want = [paper_general(float(xi), float(si), noise.lam) for xi, si in zip(x.flatten(), s)]
        np.testing.assert_allclose(got.numpy(), want, atol=1e-6)


@pytest.mark.parametrize("sigma, q", [(0.1, 4), (0.5, 16), (2.0, 8), (1.0, 255)])
def test_dssn_midpoint_table_holds_the_paper_formula_for_every_level_and_shift(sigma: float, q: int) -> None:
    """Exhaustive over the table: level a ∈ {0…q} and v + j ∈ {0…2L−2} (the split m = (v + j) mod L)."""
    noise = DeterministicSplittingNoise(sigma, q)
    table = noise.midpoint_table(torch.device("cpu")).double().view(q + 1, 2 * noise.L - 1)
    for a in range(q + 1):
        for shifted in range(2 * noise.L - 1):
            s = ((shifted % noise.L) + 0.5) / q
            assert float(table[a, shifted]) == pytest.approx(paper_general(a / q, s, noise.lam), abs=1e-6), (a, shifted)


def test_dssn_draws_of_grouped_inputs_equal_draws_of_gathered_inputs() -> None:
    noise = DeterministicSplittingNoise(0.5, 16, seed=2)
    gen = torch.Generator().manual_seed(0)
    xs = torch.randint(0, 17, (5, 1, 8, 8), generator=gen).float() / 16
    owner = torch.randint(0, 5, (300,), generator=gen)
    draws = torch.randint(0, noise.L, (300,), generator=gen)
    assert torch.equal(noise.perturb_draws_of(xs, owner, draws), noise.perturb_draws(xs[owner], draws))
    # the memory layout of the input does not matter (a channels_last batch, as a training pipeline may hand over)
    batch = torch.randint(0, 17, (4, 3, 8, 8), generator=gen).float() / 16
    j = torch.arange(4)
    assert torch.equal(
        noise.perturb_draws(batch.contiguous(memory_format=torch.channels_last), j), noise.perturb_draws(batch, j)
    )
    # a value off the grid is rounded to it, and one outside [0, 1] to its end (never an index off the table)
    wild = torch.tensor([[-0.3, 1.7, 0.5 + 0.2 / 16, 1.0]]).view(1, 1, 2, 2)
    grid = torch.tensor([[0.0, 1.0, 0.5, 1.0]]).view(1, 1, 2, 2)
    assert torch.equal(
        noise.perturb_draws(wild, torch.tensor([3]), check=False), noise.perturb_draws(grid, torch.tensor([3]))
    )


@pytest.mark.parametrize("sigma, q", [(0.1, 8), (0.5, 16), (2.0, 255)])
def test_each_split_point_is_exactly_uniform_over_the_draws(sigma: float, q: int) -> None:
    """Marginal condition of Corollary 1: over j = 0…L−1, s_i(j) takes each half-step exactly once."""
    noise = DeterministicSplittingNoise(sigma, q, seed=11)
    table = noise.split_indices(300)  # (L, d)
    expected = torch.arange(noise.L)
    for i in range(table.shape[1]):
        assert torch.equal(torch.sort(table[:, i]).values, expected)
    s = (table.double() + 0.5) / q
    assert float(s.min()) == pytest.approx(0.5 / q) and float(s.max()) == pytest.approx((noise.L - 0.5) / q)


def test_dssn_offsets_come_from_the_seed() -> None:
    a, b, c = (DeterministicSplittingNoise(0.5, 16, seed=s) for s in (1, 1, 2))
    assert torch.equal(a.offsets(64), b.offsets(64)) and not torch.equal(a.offsets(64), c.offsets(64))
    assert int(a.offsets(64).min()) >= 0 and int(a.offsets(64).max()) < a.L


def test_dssn_state_round_trip_and_mismatch() -> None:
    a = DeterministicSplittingNoise(0.5, 16, seed=1)
    a.offsets(64)
    b = DeterministicSplittingNoise(0.5, 16, seed=1)
    b.load_state(a.state())
    assert torch.equal(a.offsets(64), b.offsets(64))
    with pytest.raises(ValueError, match="does not match"):
        DeterministicSplittingNoise(0.5, 16, seed=2).load_state(a.state())
    with pytest.raises(ValueError, match="does not match"):
        DeterministicSplittingNoise(0.5, 8, seed=1).load_state(a.state())


def test_dssn_refuses_non_quantized_input_and_bad_parameters() -> None:
    noise = DeterministicSplittingNoise(0.5, 16)
    with pytest.raises(ValueError, match="quantized to q=16"):
        noise.perturb(torch.full((1, 1, 2, 2), 0.51))
    noise.perturb(torch.full((1, 1, 2, 2), 0.5))  # on the grid: fine
    with pytest.raises(ValueError, match="too small"):
        DeterministicSplittingNoise(0.01, 4)
    with pytest.raises(ValueError, match="q"):
        DeterministicSplittingNoise(0.5, 0)
    with pytest.raises(ValueError, match="seed"):
        DeterministicSplittingNoise(0.5, 16, seed=-1)


def test_dssn_exact_certificate_rule() -> None:
    noise = DeterministicSplittingNoise(0.5, 16)  # L = 27
    assert noise.L == 27
    cert = noise.default_certificate()
    assert cert.needs_exact_counts and cert.failure_probability(0.001) == 0.0

    def exact(counts: list[int]) -> tuple[int, float, tuple[int, int] | None]:
        out = cert.certify(VoteCounts(int(np.argmax(counts)), tuple(counts), exact=True), 0.001, 4)
        return out.prediction, out.radius, out.exact_radius

    # A = 2 (20 votes), B = 0 (5 votes), B < A: t* = floor((20 - 5 - 1)/2) = 7
    assert exact([5, 2, 20]) == (2, 7 / 16, (7, 16))
    # B = 2 > A = 0: t* = floor((20 - 5)/2) = 7
    assert exact([20, 2, 5]) == (0, 7 / 16, (7, 16))
    # ties: the smaller index wins, radius 0 (certified only at x itself)
    assert exact([12, 12, 3]) == (0, 0.0, (0, 16))
    # runner-up ties resolve to the smaller index, which is the stricter one when it is below A
    assert exact([4, 4, 19]) == (2, math.floor((19 - 4 - 1) / 2) / 16, (7, 16))
    with pytest.raises(ValueError, match="exact votes of all L=27"):
        exact([1, 2, 3])


@pytest.mark.parametrize("family", [UniformL1Noise, SplittingNoise])
def test_monte_carlo_l1_radius_is_two_lambda_times_p_minus_half(family: type) -> None:
    noise = family(0.5)
    lam = math.sqrt(3) * 0.5
    assert noise.norm == "l1"
    for p in (0.3, 0.5, 0.6, 0.9, 0.999):
        assert noise.radius(p, 10) == pytest.approx(max(0.0, 2 * lam * (p - 0.5)))
    assert noise.radius(0.9, 10, 0.02) == pytest.approx(lam * (0.9 - 0.02))


def test_uniform_noise_has_the_right_support_and_scale() -> None:
    noise = UniformL1Noise(0.25)
    x = torch.full((200, 1, 8, 8), 0.5)
    z = noise.perturb(x, generator=torch.Generator().manual_seed(0)) - 0.5
    lam = math.sqrt(3) * 0.25
    assert float(z.abs().max()) <= lam and float(z.std()) == pytest.approx(0.25, rel=0.03)


def test_ssn_split_points_are_uniform() -> None:
    """With x = 0 and λ ≥ 0.5, x̃ = min(s, 1)/2: its law reveals s ~ U(0, 2λ)."""
    noise = SplittingNoise(0.5)
    lam = noise.lam
    xt = noise.perturb(torch.zeros(100_000, 1, 1, 1), generator=torch.Generator().manual_seed(0)).flatten()
    assert float((xt == 0.5).float().mean()) == pytest.approx((2 * lam - 1) / (2 * lam), abs=0.01)
    below = xt[xt < 0.5] * 2  # = s where s < 1: uniform on (0, 1)
    assert float(below.mean()) == pytest.approx(0.5, abs=0.01)
