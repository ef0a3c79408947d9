"""The ℓ2 power and mixed ℓ∞ families (Zhang et al. 2020, eq. (8), (9)) and their functional certificate
(docs/design.md §2.2, §2.3, §3.4): exact samplers, the low-dimensional reductions, and table radii judged against
closed forms (k = 0) and quadrature (k > 0)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from scipy import stats
from scipy.special import erf

from rsmooth.certificates import VoteCounts, cohen_radius
from rsmooth.certificates.functional import FunctionalCertificate, TableSettings, build_table, load_or_build
from rsmooth.certificates.quadrature import PowerL2Quadrature
from rsmooth.errors import ConfigError
from rsmooth.noise import MixedLinfNoise, PowerL2Noise
from rsmooth.noise.mixed_linf import NormEnvelope

SMALL = TableSettings(num_samples=10**6, pilot_samples=2 * 10**5, radius_max=4.5, radius_ratio=1.03)
CPU = torch.device("cpu")


def _snis_moments(sigma: float, k: float, dim: int, weight: str, count: int = 2_000_000) -> np.ndarray:
    """E[‖z‖∞], E[‖z‖₂], E[z₁²], E[max z] under π0 by self-normalized importance sampling from N(0, σ²I)
    with weights ‖z‖^{−k} (``weight`` 'l2' or 'linf')."""
    g = torch.randn(count, dim, dtype=torch.float64, generator=torch.Generator().manual_seed(7)) * sigma
    norm = g.norm(dim=1) if weight == "l2" else g.abs().amax(1)
    w = norm.pow(-k)
    w = w / w.sum()
    return np.array([float((f * w).sum()) for f in _features(g)])


def _features(z: torch.Tensor) -> list[torch.Tensor]:
    return [z.abs().amax(1), z.norm(dim=1), z[:, 0] ** 2, z.amax(1)]


@pytest.mark.parametrize(
    ("family", "dim", "k", "weight"),
    [
        (PowerL2Noise, 3, 1.0, "l2"),
        (PowerL2Noise, 8, 4.0, "l2"),
        (MixedLinfNoise, 3, 1.5, "linf"),
        (MixedLinfNoise, 8, 4.0, "linf"),
    ],
)
def test_sampler_moments_match_importance_sampling_in_small_dimension(family, dim, k, weight) -> None:  # type: ignore[no-untyped-def]
    sigma = 0.3
    z = family(sigma, k).perturb(torch.zeros(400_000, dim), torch.Generator().manual_seed(1)).double()
    drawn = np.array([float(f.mean()) for f in _features(z)])
    reference = _snis_moments(sigma, k, dim, weight)
    assert drawn == pytest.approx(reference, rel=0.01)


def test_power_l2_radius_is_sigma_chi_d_minus_k_and_the_direction_uniform() -> None:
    """d = 3072, k = d/6: ‖z‖ ∼ σχ_{d−k} (KS) and d·E[z₁²/‖z‖²] = 1."""
    dim, k, sigma = 3072, 512, 0.25
    z = PowerL2Noise(sigma, k).perturb(torch.zeros(10_000, 3, 32, 32), torch.Generator().manual_seed(0))
    z = z.flatten(1).double()
    radius = z.norm(dim=1).numpy()
    assert stats.kstest(radius, stats.chi(dim - k, scale=sigma).cdf).pvalue > 1e-3
    share = (z[:, 0] ** 2 / z.norm(dim=1) ** 2).mean().item() * dim
    assert abs(share - 1.0) < 0.05


@pytest.mark.parametrize(("dim", "k"), [(8, 7.5), (8, 4.0), (64, 40.0), (3072, 512.0)])
def test_mixed_linf_norm_follows_its_density(dim: int, k: float) -> None:
    """m = ‖z‖∞ against the numerically integrated density m^{−k}φ(m/σ)(2Φ(m/σ) − 1)^{d−1} (KS), also for
    k next to d, where importance sampling is useless (infinite-variance weights)."""
    sigma = 0.3
    m = NormEnvelope(sigma, k, dim).sample(100_000, torch.Generator().manual_seed(3), CPU).numpy()
    ys = np.linspace(math.log(sigma) - 80, math.log(sigma) + 3, 400_001)  # y = log m
    with np.errstate(all="ignore"):
        log_density = (
            (1 - k) * ys
            - np.exp(2 * ys) / (2 * sigma**2)
            + (dim - 1) * np.log(erf(np.exp(ys) / (sigma * math.sqrt(2))))
        )
    log_density = np.nan_to_num(log_density, nan=-np.inf)
    cdf = np.cumsum(np.exp(log_density - log_density.max()))
    cdf /= cdf[-1]
    assert stats.kstest(m, lambda x: np.interp(np.log(x), ys, cdf)).pvalue > 1e-3


def test_mixed_linf_draws_have_one_coordinate_at_the_norm_and_the_rest_inside() -> None:
    z = MixedLinfNoise(0.25, 5).sample(2000, 64, torch.Generator().manual_seed(0), CPU)
    linf = z.abs().amax(1, keepdim=True)
    assert ((z.abs() == linf).sum(1) == 1).all()


def test_bad_parameters_are_one_line_errors() -> None:
    with pytest.raises(ConfigError, match="k must be"):
        PowerL2Noise(0.25, -1)
    with pytest.raises(ConfigError, match="k < d"):
        PowerL2Noise(0.25, 64).perturb(torch.zeros(2, 1, 8, 8))
    with pytest.raises(ConfigError, match="k < d"):
        MixedLinfNoise(0.25, 70).perturb(torch.zeros(2, 1, 8, 8))
    with pytest.raises(ConfigError, match="table num_samples"):
        PowerL2Noise(0.25, 1, table={"num_samples": 10})
    assert PowerL2Noise(0.25, 10, match_sigma0=True).scale(64) == pytest.approx(0.25 * math.sqrt(63 / 53))


def _brute_log_ratio_l2(z: torch.Tensor, r: float, sigma: float, k: float) -> torch.Tensor:
    shifted = z.clone()
    shifted[:, 0] -= r
    log_pi = lambda v: -k * torch.log(v.norm(dim=1)) - v.pow(2).sum(1) / (2 * sigma**2)  # noqa: E731
    return log_pi(shifted) - log_pi(z)


def test_power_l2_two_dimensional_reduction_agrees_with_brute_force() -> None:
    """d = 40, k = 10: P(L ≤ ℓ) from the 2-D (ρ², z₁) draws and from d-dimensional draws agree within
    their sampling error, at several radii and levels."""
    dim, k, sigma = 40, 10.0, 0.5
    family = PowerL2Noise(sigma, k)
    count = 400_000
    reduced = family.shift_statistics(dim, count, np.random.default_rng(0))
    z = family.perturb(torch.zeros(count, dim), torch.Generator().manual_seed(1)).double()
    for r in (0.2, 0.6, 1.2):
        a = family.log_ratio(reduced, np.array([r]), dim)[:, 0].numpy()
        b = _brute_log_ratio_l2(z, r, sigma, k).numpy()
        for level in np.quantile(b, [0.05, 0.5, 0.95]):
            pa, pb = np.mean(a <= level), np.mean(b <= level)
            assert abs(pa - pb) < 5 * math.sqrt(2 * pb * (1 - pb) / count)


def test_mixed_linf_scalar_reduction_is_the_direct_log_ratio() -> None:
    dim, k, sigma, r = 16, 3.0, 0.4, 0.07
    family = MixedLinfNoise(sigma, k)
    z = family.sample(5000, dim, torch.Generator().manual_seed(0), CPU).double()
    scalars = torch.stack([z.abs().amax(1), z.amax(1), z.amin(1), z.sum(1)], dim=1)
    log_pi = lambda v: -k * torch.log(v.abs().amax(1)) - v.pow(2).sum(1) / (2 * sigma**2)  # noqa: E731
    direct = log_pi(z - r) - log_pi(z)
    assert torch.allclose(family.log_ratio(scalars, np.array([r]), dim)[:, 0], direct, rtol=0, atol=1e-9)


P_VALUES = (0.6, 0.9, 0.99, 0.999)


def test_k0_table_reproduces_cohen_and_never_exceeds_it() -> None:
    """Corollary 1: with k = 0 the family is N(0, σ²I) and the exact radius σΦ⁻¹(p). The table's radius is
    never above it, and here (N = 10⁶) within 10 % of it."""
    sigma, dim = 0.25, 64
    table = build_table(PowerL2Noise(sigma, 0), dim, SMALL)
    assert table.checks["decreasing_steps"] == 0  # V(r) is non-increasing in r: p_needed never drops
    for p in P_VALUES:
        exact = cohen_radius(p, 1 - p, sigma)
        assert 0.9 * exact <= table.radius(p) <= exact


def test_k_positive_table_is_below_quadrature_and_close_to_it() -> None:
    sigma, dim, k = 0.25, 64, 10.0
    table = build_table(PowerL2Noise(sigma, k), dim, SMALL)
    oracle = PowerL2Quadrature(sigma, k, dim)
    for p in (0.6, 0.99):
        exact = oracle.radius(p)
        assert 0.88 * exact <= table.radius(p) <= exact


def test_quadrature_oracle_is_cohen_at_k0() -> None:
    oracle = PowerL2Quadrature(0.5, 0.0, 64)
    for p in (0.6, 0.999):
        assert oracle.radius(p) == pytest.approx(cohen_radius(p, 1 - p, 0.5), rel=1e-5)


def test_mixed_linf_at_k0_is_the_gaussian_at_the_vertex() -> None:
    """k = 0: π0 = N(0, σ²I) and δ* = r·1 has ‖δ*‖₂ = √d·r, so the ℓ∞ radius is at most σΦ⁻¹(p)/√d."""
    sigma, dim = 0.25, 16
    settings = TableSettings(num_samples=200_000, pilot_samples=50_000, radius_max=4.5, radius_ratio=1.03)
    table = build_table(MixedLinfNoise(sigma, 0), dim, settings)
    for p in (0.9, 0.99):
        exact = cohen_radius(p, 1 - p, sigma) / math.sqrt(dim)
        assert 0.85 * exact <= table.radius(p) <= exact


def test_tables_are_cached_by_every_parameter_and_a_damaged_cache_is_rebuilt(tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = TableSettings(num_samples=20_000, pilot_samples=5_000, radius_max=3.0, radius_ratio=1.1)
    family = PowerL2Noise(0.25, 2)
    first = load_or_build(family, 64, settings, tmp_path)
    files = list(tmp_path.glob("power_l2-d64-*.json"))
    assert len(files) == 1 and first.build_seconds > 0
    again = load_or_build(family, 64, settings, tmp_path)
    assert again.build_seconds == 0.0 and np.array_equal(again.p_needed, first.p_needed)
    assert load_or_build(family, 64, settings, tmp_path) is again  # an unchanged file is read once per process
    load_or_build(PowerL2Noise(0.25, 3), 64, settings, tmp_path)
    load_or_build(family, 32, settings, tmp_path)
    assert len(list(tmp_path.glob("*.json"))) == 3
    files[0].write_text("{not json")
    rebuilt = load_or_build(family, 64, settings, tmp_path)
    assert rebuilt.build_seconds > 0 and np.array_equal(rebuilt.p_needed, first.p_needed)
    assert json.loads(files[0].read_text())["key"]["family"]["k"] == 2.0


def test_functional_certificate_reports_alpha_plus_alpha_d_and_reads_linf_at_r_over_sqrt_d() -> None:
    settings = {"num_samples": 50_000, "pilot_samples": 10_000, "radius_max": 4.0, "radius_ratio": 1.05}
    l2 = PowerL2Noise(0.25, 4, table=settings)
    linf = PowerL2Noise(0.25, 4, norm="linf", table=settings)
    cert = l2.default_certificate()
    assert isinstance(cert, FunctionalCertificate) and cert.norm == "l2" and cert.name == "functional"
    assert cert.failure_probability(0.001) == pytest.approx(0.002)
    assert linf.default_certificate().name == "functional_linf"
    assert linf.radius(0.99, 64) == pytest.approx(l2.radius(0.99, 64) / 8)
    assert cert.certify(VoteCounts(1, (40, 60)), 0.001, 64).abstained
    result = cert.certify(VoteCounts(1, (10, 990)), 0.001, 64)
    assert result.prediction == 1 and 0 < result.radius <= cohen_radius(result.p_lower, 1 - result.p_lower, 0.25 * 1.2)


@pytest.mark.slow
@pytest.mark.parametrize(("dim", "k"), [(64, 0.0), (64, 64 / 6), (3072, 0.0), (3072, 512.0)])
def test_table_is_at_least_95_percent_of_the_exact_radius(dim: int, k: float) -> None:
    """The acceptance bar at the default settings (N = 10⁷): 0.95·exact ≤ table radius ≤ exact for
    p ∈ {0.6, 0.9, 0.99, 0.999}, the exact radius by quadrature (σΦ⁻¹(p) at k = 0)."""
    sigma = 0.25
    table = build_table(PowerL2Noise(sigma, k), dim, TableSettings())
    oracle = PowerL2Quadrature(sigma, k, dim)
    for p in P_VALUES:
        exact = cohen_radius(p, 1 - p, sigma) if k == 0 else oracle.radius(p)
        assert 0.95 * exact <= table.radius(p) <= exact, (p, table.radius(p), exact)
