"""Floating-point soundness (Voráček & Hein, ICLR 2023): a base classifier built against float32 rounding gets
a false certificate from the default Gaussian procedure, and not from ``noise=discrete_gaussian``.

The construction (ours, in the spirit of theirs). Round-to-nearest-even makes the last mantissa bit of
fl(x + z) come out even more often than odd, by an amount that depends on x's own bits: with σ = 0.25 it is
0.713 at x = 1/16 but 0.570 three float32 steps below (1.1·10⁻⁸ away). A classifier that votes "A" when over
64 % of its 256 inputs have an even last bit is then A almost surely at x and almost never at x′, so CERTIFY
at x reports ℓ2 radius ≈ 0.6 while x′ at distance 1.8·10⁻⁷ is classified B. No real network reads these bits,
but nothing in the float procedure rules it out. The discrete procedure hands the model float32(k + j)/q, a
function of the lattice point k + j alone, so Cohen's theorem applies to it as written.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.stats import chisquare, norm
from torch import nn

from rsmooth.certificates.cohen import DiscreteCohenCertificate, cohen_radius
from rsmooth.errors import ConfigError
from rsmooth.noise import DiscreteGaussianNoise, GaussianNoise
from rsmooth.noise.discrete_gaussian import UNIFORM_BITS
from rsmooth.smoothing import Smooth

SIGMA, SHAPE = 0.25, (1, 16, 16)


class LastBitVote(nn.Module):
    """Class 1 iff more than ``threshold`` of the input's float32 values have an even last mantissa bit."""

    def __init__(self, threshold: float = 0.64) -> None:
        super().__init__()
        self.threshold = threshold

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        even = ((y.float().contiguous().view(torch.int32) & 1) == 0).flatten(1).float().mean(1)
        score = even - self.threshold
        return torch.stack([-score, score], dim=1)


def _steps_below(value: float, steps: int) -> float:
    x = np.float32(value)
    for _ in range(steps):
        x = np.nextafter(x, np.float32(-1))
    return float(x)


X = torch.full(SHAPE, 1 / 16)
X_NEAR = torch.full(SHAPE, _steps_below(1 / 16, 3))


def test_the_float_procedure_certifies_a_radius_that_a_point_1e7_away_breaks() -> None:
    smooth = Smooth(LastBitVote(), GaussianNoise(SIGMA), 2, seed=0)
    at_x = smooth.certify(X, 100, 2000, 0.001, 1000)
    distance = float((X - X_NEAR).norm())
    assert at_x.prediction == 1 and at_x.radius > 0.4  # "nothing within 0.4 changes the class"
    assert distance < 2e-7
    near = smooth.certify(X_NEAR, 100, 2000, 0.001, 1000, id=1)
    assert near.prediction == 0 and near.radius > 0  # but x′, 2·10⁻⁷ away, is class 0 with confidence


def test_the_discrete_procedure_is_a_function_of_the_lattice_point_alone() -> None:
    """The premise of Cohen's proof, checked bit for bit: moving x by one grid step moves every model input by
    exactly one step (the same draws); under the float procedure the rounding differs with x."""
    noise = DiscreteGaussianNoise(SIGMA, q=16)
    x = torch.randint(0, 17, (1, *SHAPE), generator=torch.Generator().manual_seed(1)).float() / 16
    shifted = x.clone()
    shifted[0, 0, 3, 5] += 1 / 16
    a = noise.perturb(x.expand(500, *SHAPE), torch.Generator().manual_seed(7))
    b = noise.perturb(shifted.expand(500, *SHAPE), torch.Generator().manual_seed(7))
    step = torch.zeros(SHAPE)
    step[0, 3, 5] = 1.0
    assert torch.equal(b * 16 - a * 16, step.expand(500, *SHAPE))  # exact lattice shift, every draw
    assert torch.equal(a * 16, torch.round(a * 16))  # every model input is a lattice point / 16, exactly
    # the float procedure: fl(x′ + z) − fl(x + z) is not the shift x′ − x for many z
    z = GaussianNoise(SIGMA).sample_noise((500, *SHAPE), torch.Generator().manual_seed(7), torch.device("cpu"))
    moved = (X_NEAR + z) - (X + z)
    assert (moved != (X_NEAR - X)).float().mean() > 0.1


def test_the_discrete_procedure_gives_the_construction_no_false_certificate() -> None:
    """With the noise on the grid, the last-bit vote sees only lattice points k/16 (whose low bits are 0), so
    the smoothed classifier is the same at x and at every grid point near it: the certificate holds."""
    smooth = Smooth(LastBitVote(), DiscreteGaussianNoise(SIGMA, q=16), 2, seed=0)
    at_x = smooth.certify(X, 100, 2000, 0.001, 1000)
    assert at_x.prediction == 1 and at_x.certificate == "cohen_discrete"
    inside = X.clone()
    inside.view(-1)[:10] += 1 / 16  # ‖δ‖₂ = √10/16 ≈ 0.2 < the certified radius
    assert float((inside - X).norm()) < at_x.radius
    assert smooth.certify(inside, 100, 2000, 0.001, 1000, id=1).prediction == 1
    with pytest.raises(ConfigError, match="discrete_gaussian needs inputs on the data's grid of q=16"):
        smooth.certify(X_NEAR, 100, 2000, 0.001, 1000)  # off the grid: refused, not silently rounded


@pytest.mark.parametrize("sigma, q", [(0.25, 16), (0.12, 255), (1.0, 4)])
def test_the_sampler_draws_the_discretized_gaussian(sigma: float, q: int) -> None:
    noise = DiscreteGaussianNoise(sigma, q=q)
    j = noise.lattice_offsets((400_000,), torch.Generator().manual_seed(3), torch.device("cpu"))
    width = q * sigma
    edges = np.arange(-noise.atoms, noise.atoms + 1)
    exact = norm.cdf((edges + 0.5) / width) - norm.cdf((edges - 0.5) / width)
    seen = np.bincount((j + noise.atoms).numpy(), minlength=len(edges))
    keep = exact * len(j) >= 5  # chi-square on the atoms with enough expected draws, the rest pooled
    observed = np.append(seen[keep], seen[~keep].sum())
    expected = np.append(exact[keep], 1 - exact[keep].sum()) * len(j)
    assert chisquare(observed, expected).pvalue > 1e-4
    # every CDF boundary within 2⁻⁶² of Φ's value (scipy's float64 Φ agrees to its own precision)
    boundaries = noise.boundaries.double() / 2.0**UNIFORM_BITS
    reference = norm.cdf((np.arange(-noise.atoms, noise.atoms) + 0.5) / width)
    assert np.abs(boundaries.numpy() - reference).max() < 1e-15
    assert noise.tv_per_coordinate < 1e-14


def test_the_discrete_certificate_is_cohens_at_p_lower_minus_d_tau() -> None:
    from rsmooth.certificates.base import VoteCounts

    cert, dim = DiscreteCohenCertificate(SIGMA, 1e-9), 3072

    votes = VoteCounts(guess=1, counts=(100, 1900))
    got = cert.certify(votes, 0.001, dim)
    from rsmooth.certificates.bounds import clopper_pearson_lower

    p_lower = clopper_pearson_lower(1900, 2000, 0.001)
    assert got.p_lower == p_lower - dim * 1e-9 and got.radius == cohen_radius(got.p_lower, 1 - got.p_lower, SIGMA)
    assert got.radius < cohen_radius(p_lower, 1 - p_lower, SIGMA)  # the slack only ever shrinks the radius
