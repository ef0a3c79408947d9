"""The certificate layer: counts → (prediction, radius, total failure probability), several per pass."""

from __future__ import annotations

import math

import pytest
import torch
from scipy.stats import beta, norm

from rsmooth.certificates import ABSTAIN, VoteCounts
from rsmooth.certificates.cohen import CohenCertificate
from rsmooth.certificates.lipschitz_l1 import LipschitzL1Certificate
from rsmooth.errors import ConfigError
from rsmooth.noise import DeterministicSplittingNoise, GaussianNoise, UniformL1Noise
from rsmooth.smoothing import Smooth
from tests.conftest import LinearTwoClass


def test_cohen_certificate_from_counts_is_theorem_1() -> None:
    votes = VoteCounts(guess=2, counts=(30, 70, 900), exact=False)
    assert (votes.n, votes.n_a, votes.runner_up, votes.n_b) == (1000, 900, 1, 70)
    out = CohenCertificate(0.5).certify(votes, 0.001, dim=64)
    p = beta.ppf(0.001, 900, 101)
    assert out.prediction == 2 and out.p_lower == pytest.approx(p) and out.radius == pytest.approx(0.5 * norm.ppf(p))
    assert out.p_upper_runner_up is None and CohenCertificate(0.5).failure_probability(0.001) == 0.001


def test_bilateral_splits_alpha_and_bounds_the_runner_up() -> None:
    votes = VoteCounts(guess=2, counts=(30, 70, 900))
    out = CohenCertificate(0.5, bilateral=True).certify(votes, 0.002, dim=64)
    pa, pb = beta.ppf(0.001, 900, 101), beta.ppf(1 - 0.001, 71, 930)
    assert out.p_lower == pytest.approx(pa) and out.p_upper_runner_up == pytest.approx(pb)
    assert out.radius == pytest.approx(0.25 * (norm.ppf(pa) - norm.ppf(pb)))
    assert CohenCertificate(0.5, bilateral=True).name == "cohen_bilateral"


@pytest.mark.parametrize("cert", [CohenCertificate(0.25), LipschitzL1Certificate(0.5), CohenCertificate(0.25, "linf")])
def test_abstains_unless_the_lower_bound_exceeds_one_half(cert) -> None:  # type: ignore[no-untyped-def]
    out = cert.certify(VoteCounts(0, (520, 480)), 0.001, dim=16)  # p̲_A < 1/2
    assert out.prediction == ABSTAIN and out.radius == 0.0


def test_a_family_names_its_certificates_and_refuses_unknown_ones() -> None:
    assert [c.name for c in GaussianNoise(0.25).certificates()][:4] == [
        "cohen",
        "cohen_linf",
        "cohen_bilateral",
        "cohen_linf_bilateral",
    ]
    assert GaussianNoise(0.25, norm="linf").default_certificate().name == "cohen_linf"
    assert [c.name for c in UniformL1Noise(0.5).certificates()] == ["lipschitz_l1", "lipschitz_l1_bilateral"]
    with pytest.raises(ConfigError, match=r"'lecuyer' does not apply to uniform_l1\(sigma=0.5\); available: lipschitz"):
        UniformL1Noise(0.5).certificate("lecuyer")


def test_smooth_refuses_incompatible_certificate_sets() -> None:
    model = LinearTwoClass(torch.ones(16), -8.0)
    with pytest.raises(ConfigError, match="once"):
        Smooth(model, GaussianNoise(0.25), 2, extra_certificates=["cohen"])
    with pytest.raises(ConfigError, match="mix exact enumeration and Monte Carlo"):
        Smooth(model, DeterministicSplittingNoise(0.5, 16), 2, extra_certificates=[LipschitzL1Certificate(0.8)])
    with pytest.raises(ConfigError, match="exact enumeration"):
        Smooth(model, UniformL1Noise(0.5), 2, certificate=DeterministicSplittingNoise(0.5, 16).default_certificate())


def test_extra_certificates_read_the_same_counts() -> None:
    w = torch.randn(16, generator=torch.Generator().manual_seed(0))
    model = LinearTwoClass(w, -0.5 * float(w.sum()))
    x = (0.5 + 0.2 * w / w.norm()).view(1, 4, 4)
    smooth = Smooth(model, GaussianNoise(0.25), 2, extra_certificates=["cohen_linf", "cohen_bilateral"])
    out = smooth.certify(x, 100, 20_000, 0.001, 5000, id=3)
    assert out.certificate == "cohen" and out.alpha == 0.001
    assert out.extra_radii["cohen_linf"] == pytest.approx(out.radius / math.sqrt(16))
    assert 0 < out.extra_radii["cohen_bilateral"] <= out.radius  # a 2-class bilateral bound is never tighter
    alone = Smooth(model, GaussianNoise(0.25), 2).certify(x, 100, 20_000, 0.001, 5000, id=3)
    assert (alone.radius, alone.count) == (out.radius, out.count)  # asking for more changes nothing
    # an extra certificate never certifies where the row's own certificate abstains
    far = (0.5 + 0.001 * w / w.norm()).view(1, 4, 4)
    out = smooth.certify(far, 100, 1000, 0.001, 1000)
    assert out.prediction == ABSTAIN and set(out.extra_radii.values()) == {0.0}
