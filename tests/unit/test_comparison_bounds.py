"""The comparison bounds for Gaussian counts (docs/design.md §3.6): each sound bound is below Cohen's tight one,
each supremum matches an independent dense search, and each lemma they rest on is checked by brute force."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.integrate import quad
from scipy.optimize import brentq
from scipy.stats import norm

from rsmooth.certificates import VoteCounts, cohen_radius, dmr_radius, lecuyer_radius, li_renyi_radius, tv_radius
from rsmooth.certificates.dmr import DMRRelaxation
from rsmooth.certificates.lecuyer import lecuyer_beta_max
from rsmooth.certificates.li_renyi import renyi_flip_divergence
from rsmooth.errors import ConfigError
from rsmooth.noise import DeterministicSplittingNoise, ExponentialLinfNoise, GaussianNoise, UniformL1Noise
from rsmooth.smoothing import Smooth
from tests.conftest import LinearTwoClass

HARD_BOUNDS = {"lecuyer": lecuyer_radius, "li_renyi": li_renyi_radius, "tv": tv_radius}
P_GRID = [0.51, 0.55, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 0.999, 0.9999, 0.99999]


def pairs() -> list[tuple[float, float]]:
    """(p̲_A, p̄_B): the one-sided pairs p̄_B = 1 − p̲_A and bilateral pairs with smaller p̄_B."""
    out = [(p, 1.0 - p) for p in P_GRID]
    out += [(p, f * (1.0 - p)) for p in P_GRID for f in (0.5, 0.1, 1e-3)]
    return out


@pytest.mark.parametrize("name", sorted(HARD_BOUNDS))
def test_every_sound_bound_is_at_most_cohens_tight_radius(name: str) -> None:
    bound = HARD_BOUNDS[name]
    for sigma in (0.25, 1.0):
        for pa, pb in pairs():
            r, tight = bound(pa, pb, sigma), cohen_radius(pa, pb, sigma)
            assert 0.0 < r <= tight * (1 + 1e-12), (name, pa, pb, r, tight)


def test_dmr_is_below_cohen_one_sided_but_not_in_general_so_it_is_no_certificate() -> None:
    for c in (1.0, 3.0):
        for pa in P_GRID:
            assert dmr_radius(pa, 1 - pa, 0.5, c) <= cohen_radius(pa, 1 - pa, 0.5)
    # with a small runner-up bound the relaxation claims more than the tight radius: not sound
    assert dmr_radius(0.6, 1e-6, 0.5, 1.0) > cohen_radius(0.6, 1e-6, 0.5)
    assert dmr_radius(0.8, 0.2, 1.0, 1.0) == pytest.approx(math.sqrt(2) * math.log(4) / 4)


def _dense_lecuyer(pa: float, pb: float, sigma: float) -> float:
    beta = np.linspace(0, lecuyer_beta_max(pa, pb), 2_000_001)[1:]
    margin = pa - np.exp(2 * beta) * pb
    with np.errstate(divide="ignore", invalid="ignore"):
        vals = np.where(margin > 0, sigma * beta / np.sqrt(2 * np.log(1.25 * (1 + np.exp(beta)) / margin)), 0.0)
    return float(np.nanmax(vals))


def _dense_li(pa: float, pb: float, sigma: float) -> float:
    order = np.exp(np.linspace(np.log(1e-5), np.log(1e5), 1_000_001))
    order = order[np.abs(order - 1) > 1e-6]
    s = 1 - order
    # the power mean ((p̲_A^s + p̄_B^s)/2)^{1/s}, s = 1 − α′ (the 1/(1−α′) exponent), in logs
    mean = np.exp((np.logaddexp(s * np.log(pa), s * np.log(pb)) - np.log(2)) / s)
    inner = 1 - pa - pb + 2 * mean
    return float(np.max(sigma * np.sqrt(-2 / order * np.log(inner))))


def _tv_by_bisection(pa: float, pb: float, sigma: float) -> float:
    """The radius where TV(N(0,σ²), N(r,σ²)) — integrated numerically — reaches (p̲_A − p̄_B)/2."""

    def tv(r: float) -> float:
        mid = r / 2  # the densities cross at r/2; integrate each side separately
        f = lambda x: abs(norm.pdf(x, 0, sigma) - norm.pdf(x, r, sigma)) / 2  # noqa: E731
        return quad(f, -40 * sigma, mid, epsabs=1e-14)[0] + quad(f, mid, r + 40 * sigma, epsabs=1e-14)[0]

    return brentq(lambda r: tv(r) - (pa - pb) / 2, 0.0, 40 * sigma, xtol=1e-14)


@pytest.mark.parametrize(
    "pa,pb", [(0.51, 0.49), (0.8, 0.2), (0.99, 0.01), (0.999, 0.0001), (0.99999, 1e-5), (0.7, 0.05)]
)
def test_suprema_match_an_independent_dense_search(pa: float, pb: float) -> None:
    assert lecuyer_radius(pa, pb, 0.5) == pytest.approx(_dense_lecuyer(pa, pb, 0.5), rel=1e-4)
    assert li_renyi_radius(pa, pb, 0.5) == pytest.approx(_dense_li(pa, pb, 0.5), rel=1e-4)
    # the optimizer is never beaten by the dense grid by more than rounding
    assert li_renyi_radius(pa, pb, 0.5) >= _dense_li(pa, pb, 0.5) * (1 - 1e-9)
    assert tv_radius(pa, pb, 0.5) == pytest.approx(_tv_by_bisection(pa, pb, 0.5), rel=1e-4)


@pytest.mark.parametrize("order", [0.3, 0.9, 1.0, 1.5, 5.0])
def test_li_lemma_flip_divergence_is_the_brute_force_minimum(order: float) -> None:
    """min over Q whose top class is not P's of D_α′(Q‖P) equals the flip divergence (and so bounds it)."""
    pa, pb = 0.7, 0.2
    p = np.array([pa, pb, 1 - pa - pb])
    g = np.linspace(1e-4, 1 - 1e-4, 1501)
    q1, q2 = np.meshgrid(g, g, indexing="ij")
    q3 = 1 - q1 - q2
    keep = (q3 > 0) & (q2 >= q1)  # class B at least as likely as A under Q
    q = np.stack([q1[keep], q2[keep], q3[keep]], -1)
    if order == 1.0:
        divergence = np.sum(q * np.log(q / p), -1)
    else:
        divergence = np.log(np.sum(q**order * p ** (1 - order), -1)) / (order - 1)
    formula = renyi_flip_divergence(order, pa, pb)
    assert divergence.min() >= formula - 1e-9
    assert divergence.min() == pytest.approx(formula, rel=1e-3)


def test_the_figure_16_shapes_monotone_in_pa_and_interior_optima() -> None:
    # Cohen Fig. 16c/d: tuning curves rise and fall, the supremum is inside the range
    from rsmooth.certificates.lecuyer import lecuyer_objective
    from rsmooth.certificates.li_renyi import li_renyi_objective

    betas = np.linspace(1e-3, lecuyer_beta_max(0.8, 0.2), 400)
    curve = np.array([lecuyer_objective(b, 0.8, 0.2, 1.0) for b in betas])
    top = int(np.argmax(curve))
    assert 0 < top < len(betas) - 1 and curve[0] < curve[top] > curve[-1]
    orders = np.exp(np.linspace(np.log(1e-3), np.log(1e3), 400))
    curve = np.array([li_renyi_objective(a, 0.999, 0.0001, 1.0) for a in orders])
    top = int(np.argmax(curve))
    assert 0 < top < len(orders) - 1
    for name, bound in HARD_BOUNDS.items():
        one_sided = [bound(p, 1 - p, 1.0) for p in P_GRID]
        fixed_b = [bound(p, 0.01, 1.0) for p in P_GRID if p > 0.01]
        assert all(a < b for a, b in zip(one_sided, one_sided[1:])), name
        assert all(a <= b for a, b in zip(fixed_b, fixed_b[1:])), name


def test_linf_readings_divide_by_sqrt_d_and_names_say_what_they_are() -> None:
    noise = GaussianNoise(0.5)
    for base in ("lecuyer", "li_renyi", "tv", "dmr_c1_relaxed", "dmr_c3_relaxed"):
        l2, linf = noise.certificate(base), noise.certificate(f"{base}_linf")
        assert (l2.norm, linf.norm) == ("l2", "linf")
        assert linf.radius(0.9, 64) == pytest.approx(l2.radius(0.9, 64) / 8)
        bil = noise.certificate(f"{base}_bilateral")
        assert bil.radius(0.9, 64, 0.05) == pytest.approx(l2.radius(0.9, 64, 0.05))


def test_a_relaxation_is_labelled_by_name_and_is_never_a_rows_certificate() -> None:
    families = [
        GaussianNoise(0.5),
        UniformL1Noise(0.5),
        DeterministicSplittingNoise(0.5, 16),
        ExponentialLinfNoise(0.5),
    ]
    for family in families:
        for cert in family.certificates():
            assert cert.hard == ("_relaxed" not in cert.name), cert.name
            assert cert.describe().get("relaxation", False) == (not cert.hard)
    model = LinearTwoClass(torch.ones(16), -8.0)
    with pytest.raises(ConfigError, match="dmr_c1_relaxed is a relaxation, not a certificate"):
        Smooth(model, GaussianNoise(0.5), 2, certificate="dmr_c1_relaxed")
    assert not DMRRelaxation(0.5, 3.0).hard and DMRRelaxation(0.5, 3.0).name == "dmr_c3_relaxed"


def test_all_bounds_come_from_the_same_counts_in_one_pass() -> None:
    names = ["lecuyer", "li_renyi", "tv", "dmr_c1_relaxed", "lecuyer_linf"]
    model = LinearTwoClass(torch.ones(16) / 4, -0.5)  # margin: w·x + b with x = 0.5·1 → 0.5
    smooth = Smooth(model, GaussianNoise(0.5), 2, seed=3, extra_certificates=names)
    x = torch.full((1, 4, 4), 0.5)
    out = smooth.certify(x, n0=64, n=2000, alpha=0.001, batch_size=500)
    assert out.prediction == 1 and set(out.extra_radii) == set(names)
    votes = VoteCounts(out.prediction, (out.n - out.count, out.count))
    for name in names:
        expect = GaussianNoise(0.5).certificate(name).certify(votes, 0.001, 16).radius
        assert out.extra_radii[name] == pytest.approx(expect)
        if name != "dmr_c1_relaxed":
            assert out.extra_radii[name] <= out.radius
