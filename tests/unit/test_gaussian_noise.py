import math

import numpy as np
import pytest
import torch
from scipy.stats import norm

from rsmooth.noise import GaussianNoise


@pytest.mark.parametrize("sigma", [0.12, 0.25, 0.5, 1.0])
def test_radius_is_sigma_times_inverse_normal_cdf_on_a_grid(sigma: float) -> None:
    noise = GaussianNoise(sigma)
    for p in np.linspace(0.5005, 0.99999, 200):
        assert noise.radius(float(p), dim=64) == pytest.approx(sigma * norm.ppf(p), rel=1e-12, abs=1e-15)


@pytest.mark.parametrize("p", [0.0, 0.2, 0.5])
def test_radius_is_zero_when_nothing_is_certified(p: float) -> None:
    assert GaussianNoise(0.5).radius(p, dim=10) == 0.0


def test_linf_radius_divides_by_sqrt_dim() -> None:
    l2, linf = GaussianNoise(0.5), GaussianNoise(0.5, norm="linf")
    assert linf.norm == "linf"
    assert linf.radius(0.9, dim=3072) == pytest.approx(l2.radius(0.9, dim=3072) / math.sqrt(3072))


def test_bilateral_radius_matches_theorem_1_and_never_exceeds_pb_equals_one_minus_pa() -> None:
    noise = GaussianNoise(0.25)
    pa, pb = 0.8, 0.05
    assert noise.radius(pa, 1, pb) == pytest.approx(0.125 * (norm.ppf(pa) - norm.ppf(pb)))
    # an upper bound looser than 1 - pA must not loosen the certificate beyond σΦ⁻¹(pA)
    assert noise.radius(pa, 1, 0.5) == pytest.approx(noise.radius(pa, 1))
    assert noise.radius(0.4, 1, 0.45) == 0.0


def test_perturb_is_float32_same_shape_and_has_the_right_scale(generator: torch.Generator) -> None:
    noise = GaussianNoise(0.5)
    x = torch.full((64, 3, 8, 8), 0.5, dtype=torch.float64)
    out = noise.perturb(x)
    assert out.dtype == torch.float32 and out.shape == x.shape and out.device == x.device
    z = (out - 0.5).flatten()
    assert abs(float(z.mean())) < 0.02
    assert float(z.std()) == pytest.approx(0.5, rel=0.03)


def test_perturb_is_reproducible_with_a_generator() -> None:
    noise = GaussianNoise(0.3)
    x = torch.rand(4, 1, 8, 8)
    a = noise.perturb(x, generator=torch.Generator().manual_seed(7))
    b = noise.perturb(x, generator=torch.Generator().manual_seed(7))
    assert torch.equal(a, b)


@pytest.mark.parametrize("sigma", [0, -0.1, float("nan"), float("inf"), "abc"])
def test_bad_sigma_is_a_clear_error(sigma: object) -> None:
    with pytest.raises(ValueError, match="sigma"):
        GaussianNoise(sigma)  # type: ignore[arg-type]


def test_unsupported_norm_is_refused() -> None:
    with pytest.raises(ValueError, match="norm"):
        GaussianNoise(0.25, norm="l1")


def test_config_round_trips_through_hydra_instantiate() -> None:
    from hydra.utils import instantiate

    noise = GaussianNoise(0.37, norm="linf")
    assert instantiate(noise.config()) == noise
    assert noise.describe() == "gaussian(sigma=0.37,norm=linf)"
