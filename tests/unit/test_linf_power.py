"""The pure ℓ∞ power family (Zhang et al. 2020, eq. (10)): exact sampler and its coordinate-TV certificate,
checked against importance sampling, closed-form facts and brute-force integration in two dimensions."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import stats

from rsmooth.certificates.coordinate_tv import CoordinateTVCertificate, coordinate_tv
from rsmooth.errors import ConfigError
from rsmooth.noise import LinfPowerNoise


def _draw(sigma: float, k: float, dim: int, count: int, seed: int = 0) -> torch.Tensor:
    return LinfPowerNoise(sigma, k).perturb(torch.zeros(count, dim), torch.Generator().manual_seed(seed)).double()


def test_linf_norm_is_sigma_chi_d_minus_k_and_the_direction_uniform_on_the_cube_surface() -> None:
    sigma, k, dim = 0.3, 20.0, 64
    z = _draw(sigma, k, dim, 20_000)
    top = z.abs().amax(1)
    assert stats.kstest(top.numpy(), stats.chi(dim - k, scale=sigma).cdf).pvalue > 1e-3
    ratio = (z.abs() / top.unsqueeze(1))[:, 1:][z.abs().argmax(1)[:, None].ne(torch.arange(1, dim)).all(1)]
    assert stats.kstest(ratio[:, 0].float().numpy(), "uniform").pvalue > 1e-3  # non-max coordinates: U[0, 1]
    counts = torch.bincount(z.abs().argmax(1), minlength=dim).numpy()
    assert stats.chisquare(counts).pvalue > 1e-3  # the max sits on every coordinate equally often


def test_moments_match_importance_sampling_in_three_dimensions() -> None:
    """Self-normalized importance sampling from N(0, (2σ)²I) (finite weight variance for d = 3, k = 1)."""
    sigma, k, dim = 0.3, 1.0, 3
    z = _draw(sigma, k, dim, 400_000)
    g = torch.randn(2_000_000, dim, dtype=torch.float64, generator=torch.Generator().manual_seed(5)) * (2 * sigma)
    top = g.abs().amax(1)
    log_w = -k * torch.log(top) - top**2 / (2 * sigma**2) + (g**2).sum(1) / (2 * (2 * sigma) ** 2)
    w = torch.exp(log_w - log_w.max())
    w = w / w.sum()
    for feature in (lambda v: v.abs().amax(1), lambda v: v.norm(dim=1), lambda v: v[:, 0] ** 2):
        assert float(feature(z).mean()) == pytest.approx(float((feature(g) * w).sum()), rel=0.01)


@pytest.mark.parametrize(("dim", "k"), [(3, 1.0), (64, 20.0), (3072, 500.0)])
def test_coordinate_tv_is_the_probability_of_the_middle_slab(dim: int, k: float) -> None:
    sigma = 0.25
    z1 = _draw(sigma, k, dim, 200_000 if dim < 3072 else 20_000)[:, 0].abs()
    for t in (0.01, 0.05, 0.2, 0.6):
        tau = coordinate_tv(t, sigma, k, dim)
        empirical = float((z1 < t / 2).double().mean())
        width = 5 * math.sqrt(max(tau * (1 - tau), 1e-6) / z1.numel())
        assert abs(tau - empirical) < width


def _density_on_grid(sigma: float, k: float, grid: np.ndarray) -> np.ndarray:
    x, y = np.meshgrid(grid, grid, indexing="ij")
    top = np.maximum(np.abs(x), np.abs(y))
    with np.errstate(divide="ignore"):
        return np.where(top > 0, top ** (-k) * np.exp(-(top**2) / (2 * sigma**2)), 0.0)


def test_tv_by_brute_force_integration_in_two_dimensions() -> None:
    """d = 2, k = 0.5: TV(π0, π_{t e₁}) on a fine grid equals τ(t); TV(π0, π_{(t, t)}) ≤ 2τ(t)."""
    sigma, k, h = 0.3, 0.5, 0.0025
    grid = np.arange(-1200, 1201) * h  # exact zero in the middle (the density's pole, given no mass)
    base = _density_on_grid(sigma, k, grid)
    base /= base.sum()
    for steps in (8, 40, 120):  # t = 0.02, 0.1, 0.3
        t = steps * h
        shifted = np.roll(base, steps, axis=0)
        tv_axis = 0.5 * np.abs(base - shifted).sum()
        assert tv_axis == pytest.approx(coordinate_tv(t, sigma, k, 2), rel=0.03)
        corner = np.roll(shifted, steps, axis=1)
        assert 0.5 * np.abs(base - corner).sum() <= 2 * coordinate_tv(t, sigma, k, 2) * 1.01


def test_certified_radius_is_the_largest_with_d_tau_below_the_margin() -> None:
    cert = CoordinateTVCertificate(0.25, 4.0)
    for p in (0.6, 0.9, 0.999):
        r = cert.radius(p, 16)
        assert r > 0
        assert 16 * coordinate_tv(r, 0.25, 4.0, 16) < p - 0.5
        assert 16 * coordinate_tv(r * 1.0001, 0.25, 4.0, 16) >= p - 0.5
    assert cert.radius(0.5, 16) == 0.0
    # the radius falls with the dimension (Theorem 4: useless in high dimension)
    assert CoordinateTVCertificate(0.25, 0.0).radius(0.99, 3072) < CoordinateTVCertificate(0.25, 0.0).radius(0.99, 64)


def test_bad_parameters_are_refused() -> None:
    with pytest.raises(ConfigError, match="sigma"):
        LinfPowerNoise(0.0, 1.0)
    with pytest.raises(ConfigError, match="k must"):
        LinfPowerNoise(0.25, -1.0)
    with pytest.raises(ConfigError, match="k < d"):
        LinfPowerNoise(0.25, 4.0).perturb(torch.zeros(2, 4))
    with pytest.raises(ConfigError, match="k < d - 1"):
        CoordinateTVCertificate(0.25, 3.5).radius(0.9, 4)
