"""Exponential ℓ∞ smoothing π0(z) ∝ exp(−‖z‖∞/σ′) and its pure-DP certificate (docs/design.md §2.4, §3.5)."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
import torch
from scipy import stats
from scipy.integrate import quad

from rsmooth.analysis.tightness import grid_points, neyman_pearson_values
from rsmooth.certificates import VoteCounts, exponential_scale, pure_dp_radius
from rsmooth.certificates.pure_dp import PureDPLinfCertificate
from rsmooth.errors import ConfigError
from rsmooth.noise import ExponentialLinfNoise
from rsmooth.noise.gamma import sample_gamma


@pytest.mark.parametrize("shape", [0.5, 0.93, 1.0, 3.5, 65.0, 3073.0])
def test_gamma_sampler_is_exact(shape: float) -> None:
    g = torch.Generator().manual_seed(int(shape * 10))
    draws = sample_gamma(shape, 20_000, g, torch.device("cpu")).numpy()
    assert stats.kstest(draws, stats.gamma(shape).cdf).pvalue > 1e-3


@pytest.mark.parametrize("dim", [2, 64, 3072])
def test_linf_norm_is_gamma_d_and_each_coordinate_has_variance_sigma_squared(dim: int) -> None:
    sigma = 0.5
    noise = ExponentialLinfNoise(sigma)
    count = 20_000 if dim < 3072 else 4_000
    z = noise.perturb(torch.zeros(count, dim), torch.Generator().manual_seed(dim))
    scale = noise.scale(dim)
    assert scale == pytest.approx(sigma * math.sqrt(3 / ((dim + 1) * (dim + 2))))
    linf = z.abs().amax(dim=1).double().numpy()
    assert stats.kstest(linf, stats.gamma(dim, scale=scale).cdf).pvalue > 1e-3
    # E z_i² = σ²: the mean of count·dim squares, whose relative standard error is < 1%
    second = z.double().pow(2).mean().item()
    rel_se = math.sqrt(float(torch.var(z.double().pow(2).mean(1)).item()) / count) / sigma**2
    assert abs(second / sigma**2 - 1) < 5 * rel_se + 1e-3
    # ... and every coordinate is centred: the density is symmetric
    assert abs(z.double().mean().item()) < 5 * sigma / math.sqrt(count * dim)


def test_noise_is_float32_added_in_float32_and_reproducible() -> None:
    noise = ExponentialLinfNoise(0.25)
    x = torch.rand(8, 1, 8, 8, dtype=torch.float64)
    a = noise.perturb(x, torch.Generator().manual_seed(1))
    b = noise.perturb(x, torch.Generator().manual_seed(1))
    assert a.dtype == torch.float32 and torch.equal(a, b)
    z = noise.perturb(torch.zeros(8, 1, 8, 8), torch.Generator().manual_seed(1))
    assert torch.equal(a, x.float() + z)


def test_radius_is_the_best_of_the_four_density_ratio_forms() -> None:
    """One-sided: σ′·ln(1/(2(1 − p̲_A))), never below the pure-DP form (σ′/2)·ln(p̲_A/p̄_B) and above it by
    1.10 / 1.47 / 1.70 / 1.80 at p̲_A = 0.6 / 0.9 / 0.99 / 0.999; bilateral: the largest of the four forms."""
    noise = ExponentialLinfNoise(0.5)
    s = exponential_scale(0.5, 64)
    assert noise.radius(0.9, 64) == pytest.approx(s * math.log(5))
    ratios = [pure_dp_radius(p, 1 - p, 1.0) / (0.5 * math.log(p / (1 - p))) for p in (0.6, 0.9, 0.99, 0.999)]
    assert ratios == pytest.approx([1.10, 1.47, 1.70, 1.80], abs=0.006)
    for p in torch.linspace(0.5001, 0.99999, 200).tolist():
        assert pure_dp_radius(p, 1 - p, 1.0) >= 0.5 * math.log(p / (1 - p))
    for p, q in ((0.9, 0.01), (0.6, 0.3), (0.55, 0.05), (0.999, 0.0005)):
        forms = (
            0.5 * math.log(p / q),
            math.log(1 / (1 - p + q)),
            math.log(1 + p - q),
            0.5 * math.log((1 - q) / (1 - p)),
        )
        assert noise.radius(p, 64, q) == pytest.approx(s * max(forms))
    assert noise.radius(0.5, 64) == 0.0 and noise.radius(0.45, 64, 0.5) == 0.0 and noise.norm == "linf"
    out = PureDPLinfCertificate(0.5).certify(VoteCounts(1, (100, 900)), 0.001, 64)
    assert out.prediction == 1 and out.radius == pytest.approx(s * math.log(1 / (2 * (1 - out.p_lower))))
    assert [c.name for c in noise.certificates()] == ["pure_dp", "pure_dp_bilateral"]
    assert PureDPLinfCertificate(0.5).describe()["revision"] == 2  # files of the smaller radii are not resumed


@pytest.mark.parametrize(("dim", "cells"), [(2, 500), (3, 110)])
def test_radius_is_sound_and_tight_by_neyman_pearson_integration(dim: int, cells: int) -> None:
    """The least P_δ(A) over every classifier with P_0(A) = p (Neyman–Pearson, by integration on a grid) stays
    above ½ at shifts of ℓ∞ norm 0.95·R (the vertex, the axis, and in d = 2 two more directions), and falls
    below ½ at the vertex shift of 1.05·R: the radius is sound and within 5 % of the best any certificate
    reading p̲_A alone can give (the vertex is where the complement bound is attained). The old form without
    the ½, σ′·ln(p̲_A/p̄_B), fails."""

    def log_density(z: np.ndarray) -> np.ndarray:
        return -np.abs(z).max(axis=1)  # σ′ = 1

    directions = [np.ones(dim), np.eye(dim)[0]]
    if dim == 2:
        directions += [np.array([1.0, -1.0]), np.array([1.0, 0.5])]
    for p in (0.6, 0.9, 0.99, 0.999):
        radius = pure_dp_radius(p, 1 - p, 1.0)
        too_far = math.log(p / (1 - p))
        # the grid reaches 12 beyond every shift here: π0 and each π_δ lose under 5e-4 of their mass off it
        points = grid_points(dim, 12.0 + 1.5 * too_far, cells)
        for u in directions:
            assert neyman_pearson_values(log_density, points, 0.95 * radius * u, [p])[0] > 0.5, (p, u)
        assert neyman_pearson_values(log_density, points, 1.05 * radius * np.ones(dim), [p])[0] < 0.5
        assert neyman_pearson_values(log_density, points, too_far * np.ones(dim), [p])[0] < 0.5


@pytest.mark.parametrize("sigma", [0, -1, float("nan"), "abc"])
def test_bad_sigma_is_a_clear_error(sigma: object) -> None:
    with pytest.raises(ConfigError, match="sigma"):
        ExponentialLinfNoise(sigma)  # type: ignore[arg-type]


# ---- brute force in d = 2: the certificate against numerically integrated smoothed probabilities

SCALE = 0.3  # σ′
LIMIT = 40 * SCALE  # the density beyond ‖z‖∞ = 40σ′ carries e^{-40}·poly mass: negligible
NORMALIZER = 8 * SCALE**2  # ∫ exp(−‖z‖∞/σ′) dz = 2^d d! σ′^d = 8σ′² in d = 2


def _inner(a: float, u0: float, u1: float) -> float:
    """∫_{u0}^{u1} exp(−max(|a|, |u|)/σ′) du in closed form (flat on |u| ≤ |a|, exponential tails)."""
    if u1 <= u0:
        return 0.0
    big, s = abs(a), SCALE
    total = max(0.0, min(u1, big) - max(u0, -big)) * math.exp(-big / s)
    if u1 > max(u0, big):
        total += s * (math.exp(-max(u0, big) / s) - math.exp(-u1 / s))
    if u0 < min(u1, -big):
        total += s * (math.exp(min(u1, -big) / s) - math.exp(u0 / s))
    return total


def _p_half_plane(x: tuple[float, float], b: float) -> float:
    """P(f(x + z) = A) for f(y) = A iff y1 + y2 < b: ∫ dz1 ∫_{z2 < b − x1 − x2 − z1} π0(z)."""
    t = b - x[0] - x[1]
    value = quad(
        lambda z1: _inner(z1, -LIMIT, t - z1), -LIMIT, LIMIT, points=[t / 2], limit=200, epsabs=1e-13, epsrel=1e-12
    )[0]
    return value / NORMALIZER


def _p_disk(x: tuple[float, float], rho: float) -> float:
    """P(f(x + z) = A) for f(y) = A iff ‖y‖₂ < rho: ∫ over the disk of π0(y − x)."""

    def column(y1: float) -> float:
        half = math.sqrt(max(rho**2 - y1**2, 0.0))
        return _inner(y1 - x[0], -half - x[1], half - x[1])

    return quad(column, -rho, rho, points=[x[0]], limit=200, epsabs=1e-13, epsrel=1e-12)[0] / NORMALIZER


def test_the_integrator_reproduces_closed_forms() -> None:
    # the whole plane has probability 1; the half-plane y1 + y2 < 0 through x = 0 has 1/2 by symmetry
    assert _p_half_plane((0.0, 0.0), 2 * LIMIT + 1) == pytest.approx(1.0, abs=1e-10)
    assert _p_half_plane((0.0, 0.0), 0.0) == pytest.approx(0.5, abs=1e-10)
    # a disk far larger than the noise holds almost everything
    assert _p_disk((0.0, 0.0), 2 * LIMIT) == pytest.approx(1.0, abs=1e-8)


@pytest.mark.parametrize("classifier", ["half_plane", "disk"])
def test_pure_dp_certificate_holds_at_shifted_points_in_d2(classifier: str) -> None:
    p_a = (lambda x: _p_half_plane(x, 1.0)) if classifier == "half_plane" else (lambda x: _p_disk(x, 1.2))
    x = (0.0, 0.0)
    pa = p_a(x)
    assert 0.6 < pa < 0.999
    radius = pure_dp_radius(pa, 1 - pa, SCALE)
    assert radius > 0.05
    r = radius * (1 - 1e-9)
    shifts = [(r, r), (r, -r), (-r, r), (-r, -r), (r, 0.0), (0.0, r), (r / 2, r), (-r, r / 3)]
    for d1, d2 in shifts:
        shifted = p_a((x[0] + d1, x[1] + d2))
        linf = max(abs(d1), abs(d2))
        # pure DP: each class probability moves by at most the factor e^{±‖δ‖∞/σ′}
        assert shifted >= math.exp(-linf / SCALE) * pa - 1e-9
        assert 1 - shifted <= math.exp(linf / SCALE) * (1 - pa) + 1e-9
        assert shifted > 0.5, (classifier, d1, d2, shifted)  # g(x + δ) = A
    if classifier == "half_plane":
        # the check has teeth: the radius without the 1/2 (σ′·ln(p̲_A/p̄_B)) is not certified
        assert p_a((2 * r, 2 * r)) < 0.5


@pytest.mark.slow
def test_sampling_ten_thousand_cifar_sized_vectors_takes_under_two_seconds() -> None:
    noise = ExponentialLinfNoise(0.25)
    x = torch.zeros(10_000, 3, 32, 32)
    noise.perturb(x[:10], torch.Generator().manual_seed(0))  # warm-up
    start = time.perf_counter()
    noise.perturb(x, torch.Generator().manual_seed(0))
    seconds = time.perf_counter() - start
    print(f"exponential_linf: 10^4 vectors of d = 3072 in {seconds:.3f} s")
    assert seconds < 2.0
