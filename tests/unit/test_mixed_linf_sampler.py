"""The mixed ℓ∞ family's exact sampler, piece by piece (rsmooth.noise.mixed_linf, stream revision 2).

* the alias table gives every envelope piece its mass;
* the squeeze accepts only candidates the exact test accepts (so it changes no decision);
* a round keeps the first accepted candidates of each block, in order (rsmooth.noise.blocks);
* given m = ‖z‖∞, the other coordinates are N(0, σ²) truncated to [−m, m]: checked by the probability
  integral transform against the closed-form CDF, both where the first Gaussian draw is mostly kept
  (d = 64) and where most coordinates need the inverse-CDF redraw (d = 3, k near d: m ≪ σ).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import stats
from scipy.special import erf

from rsmooth.noise import MixedLinfNoise
from rsmooth.noise.blocks import first_accepted_blocks
from rsmooth.noise.mixed_linf import NormEnvelope, alias_table, outside_positions

CPU = torch.device("cpu")


def test_alias_table_gives_each_piece_its_mass() -> None:
    rng = np.random.default_rng(0)
    mass = np.concatenate([rng.exponential(size=500), [1e-30, 0.0, 50.0]])
    prob, alias = alias_table(mass)
    got = prob.copy()
    np.add.at(got, alias, 1.0 - prob)  # piece i: its own column's keep share + what other columns alias to it
    assert np.allclose(got / mass.size, mass / mass.sum(), rtol=0, atol=1e-15)


@pytest.mark.parametrize(("sigma", "k", "dim"), [(0.25, 8.0, 64), (0.5, 100.0, 3072), (0.3, 7.5, 8)])
def test_the_squeeze_never_accepts_what_the_exact_test_rejects(sigma: float, k: float, dim: int) -> None:
    envelope = NormEnvelope(sigma, k, dim)
    pieces = torch.from_numpy(envelope.pieces)
    cells = torch.arange(1, pieces.shape[0] - 1).repeat_interleave(200)
    lo, width, env, squeeze = pieces[cells].unbind(1)
    where = torch.rand(cells.numel(), generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    m = lo + width * torch.cat([torch.zeros(1), torch.ones(1), where[2:]])  # both ends of the first cell too
    exact = envelope.log_density(m) - env  # accepted iff log keep < this
    assert (exact <= 1e-12).all()  # the envelope is above the density
    assert (torch.log(squeeze) <= exact).all()  # keep < squeeze implies log keep < exact
    weight = torch.from_numpy(envelope.piece_mass / envelope.piece_mass.sum())
    assert (weight * pieces[:, 3]).sum() > 0.9  # and it decides most candidates (weighted as they are drawn)


def test_a_round_keeps_the_first_accepted_candidates_of_each_block_in_order() -> None:
    proposals: list[list[int]] = []

    def propose(counts: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        proposals.append(counts)
        values = torch.cat(
            [torch.arange(n, dtype=torch.float64) + 1000 * b + 100 * len(proposals) for b, n in enumerate(counts) if n]
        )
        return values, values.long() % 3 != 0  # every third candidate rejected

    out = first_accepted_blocks([4, 0, 5], CPU, propose, extra=lambda need: 1)
    assert proposals[0] == [5, 0, 6]
    # block 0 proposes 100..104 and keeps the first four not ≡ 0 mod 3: 100, 101, 103, 104
    # block 2 proposes 2100..2105 (2100, 2103 rejected): keeps 2101, 2102, 2104, 2105, then needs one more
    assert out[:4].tolist() == [100, 101, 103, 104]
    assert out[4:8].tolist() == [2101, 2102, 2104, 2105]
    assert proposals[1] == [0, 0, 2] and out[8].item() == 2200  # 2200 = 3·733 + 1: kept


def _truncated_normal_pit(z: torch.Tensor, sigma: float) -> np.ndarray:
    """F(z_i | m) for every coordinate but the one at ±m: Uniform(0, 1) iff the law is right."""
    z = z.double().numpy()
    m = np.abs(z).max(axis=1, keepdims=True)
    off_axis = np.abs(z) < m  # the axis coordinate is the only one at m
    cdf = lambda v: 0.5 * (1 + erf(v / (sigma * math.sqrt(2))))  # noqa: E731
    pit = (cdf(z) - cdf(-m)) / (cdf(m) - cdf(-m))
    assert (off_axis.sum(axis=1) == z.shape[1] - 1).all()
    return pit[off_axis]


@pytest.mark.parametrize(("sigma", "k", "dim"), [(0.25, 8.0, 64), (0.5, 2.5, 3)])
def test_coordinates_given_the_norm_are_truncated_normals(sigma: float, k: float, dim: int) -> None:
    family = MixedLinfNoise(sigma, k)
    z = family.sample(20_000, dim, torch.Generator().manual_seed(0), CPU)
    assert z.dtype == torch.float32
    pit = _truncated_normal_pit(z, sigma)
    assert stats.kstest(pit[:200_000], "uniform").pvalue > 1e-3


def test_clamping_instead_of_redrawing_would_be_caught() -> None:
    """Negative control: coordinates outside [−m, m] clamped to ±m (an atom at the edge) fail the check
    above — the PIT puts mass at 0 and 1."""
    sigma, dim = 0.5, 3
    family = MixedLinfNoise(sigma, 2.5)
    m = family.envelope(dim).sample(20_000, torch.Generator().manual_seed(0), CPU).float().unsqueeze(1)
    z = sigma * torch.randn(20_000, dim, generator=torch.Generator().manual_seed(1))
    inside = m * (1 - 1e-6)
    clamped = torch.maximum(torch.minimum(z, inside), -inside)  # clamped just inside the edge
    clamped[:, 0] = m[:, 0]  # the axis coordinate at the norm
    assert stats.kstest(_truncated_normal_pit(clamped, sigma), "uniform").pvalue < 1e-6


def test_cached_tables_of_the_older_stream_are_not_reused() -> None:
    from rsmooth.certificates.functional import TableSettings, table_key
    from rsmooth.noise import PowerL2Noise

    settings = TableSettings()
    assert table_key(MixedLinfNoise(0.25, 5), 64, settings)["stream_revision"] == 2
    assert "stream_revision" not in table_key(PowerL2Noise(0.25, 5), 64, settings)  # its cached tables stay valid


@pytest.mark.parametrize("dim", [64, 3072, 784, 35, 1])
def test_outside_positions_are_those_of_a_mask_over_every_value(dim: int) -> None:
    """The piece-by-piece scan finds exactly the positions, in order, of ``(|z| > m).nonzero()``: rows with
    none, several in one piece, values equal to m (not outside), at piece edges, and widths 64, 16, 1."""
    gen = torch.Generator().manual_seed(dim)
    z = torch.randn(300, dim, generator=gen)
    m = torch.rand(300, generator=gen) * 3.0
    m[:50] = 10.0  # rows with nothing outside
    z[60, :] = m[60]  # equal to m: inside
    z[61, :] = -m[61] * 2.0  # every value outside
    z[62, -1] = 50.0  # the last value of a row
    expected = (z.abs() > m.unsqueeze(1)).view(-1).nonzero().squeeze(1)
    got = outside_positions(z, m)
    assert expected.numel() > 0 and torch.equal(got, expected)
    assert torch.equal(outside_positions(z, torch.full((300,), 100.0)), torch.empty(0, dtype=torch.int64))
