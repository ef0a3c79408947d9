import numpy as np
import pytest
from scipy.stats import beta
from statsmodels.stats.proportion import proportion_confint

from rsmooth.certificates.bounds import (
    binomial_test_pvalue,
    clopper_pearson_bounds,
    clopper_pearson_lower,
    clopper_pearson_upper,
)
from rsmooth.validation import check_alpha


@pytest.mark.parametrize("n", [1, 10, 100, 10_000, 100_000])
@pytest.mark.parametrize("alpha", [0.001, 0.01, 0.05])
def test_clopper_pearson_lower_equals_beta_quantile(n: int, alpha: float) -> None:
    for k in sorted({0, 1, n // 3, n // 2, n - 1, n}):
        if k < 0:
            continue
        expected = 0.0 if k == 0 else beta.ppf(alpha, k, n - k + 1)
        assert clopper_pearson_lower(k, n, alpha) == pytest.approx(expected, rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("n", [10, 1000])
def test_clopper_pearson_upper_equals_beta_quantile(n: int) -> None:
    alpha = 0.001
    for k in (0, 3, n - 1):
        assert clopper_pearson_upper(k, n, alpha) == pytest.approx(beta.ppf(1 - alpha, k + 1, n - k), rel=1e-9)
    assert clopper_pearson_upper(n, n, alpha) == 1.0


@pytest.mark.parametrize("alpha", [1e-5, 0.001, 0.05])
def test_clopper_pearson_equals_cohens_statsmodels_interval_bit_for_bit(alpha: float) -> None:
    """The bounds are Cohen et al.'s (the two-sided statsmodels interval at 2α), not merely close to them."""
    rng = np.random.default_rng(0)
    for n in [*range(1, 60), 100, 1000, 10_000, 100_000, 123_457]:
        ks = np.unique(np.concatenate([[0, 1, n - 1, n], rng.integers(0, n + 1, 40)]))
        ks = ks[(ks >= 0) & (ks <= n)]
        low, upp = proportion_confint(ks, n, alpha=2 * alpha, method="beta")
        got_low, got_upp = clopper_pearson_bounds(ks, n, alpha)
        assert np.array_equal(got_low, low) and np.array_equal(got_upp, upp), n
        for k, lo, up in zip(ks.tolist(), low.tolist(), upp.tolist(), strict=True):
            assert clopper_pearson_lower(k, n, alpha) == lo and clopper_pearson_upper(k, n, alpha) == up, (k, n)


def test_lower_bound_is_below_the_estimate() -> None:
    assert clopper_pearson_lower(9_900, 10_000, 0.001) < 0.99


@pytest.mark.parametrize("alpha", [0, 0.5, 0.7, -0.1, "x"])
def test_alpha_outside_open_interval_is_refused(alpha: object) -> None:
    with pytest.raises(ValueError, match="alpha"):
        check_alpha(alpha)  # type: ignore[arg-type]


def test_bad_counts_are_refused() -> None:
    with pytest.raises(ValueError, match="n must be"):
        clopper_pearson_lower(0, 0, 0.01)
    with pytest.raises(ValueError, match="count"):
        clopper_pearson_lower(11, 10, 0.01)


def test_binomial_test_pvalue() -> None:
    assert binomial_test_pvalue(50, 50) == pytest.approx(1.0)
    assert binomial_test_pvalue(100, 0) < 1e-25
