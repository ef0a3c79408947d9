"""Confidence bounds used by the certificates (docs/design.md §3.1).

All bounds are one-sided at level α: with probability ≥ 1 − α over the draw of
the counts, the true proportion lies on the stated side of the bound.
"""

from __future__ import annotations

import numpy as np
from scipy.special import betainccinv, betaincinv
from scipy.stats import binomtest

from rsmooth.validation import check_alpha


def _check_counts(k: int, n: int) -> None:
    if n < 1:
        raise ValueError(f"number of samples n must be >= 1, got {n}")
    if not 0 <= k <= n:
        raise ValueError(f"count must be in [0, n={n}], got {k}")


def clopper_pearson_lower(k: int, n: int, alpha: float) -> float:
    """One-sided (1 − α) Clopper–Pearson lower bound on p from k successes in n trials.

    Beta⁻¹(α; k, n − k + 1), and 0 for k = 0: the lower end of the two-sided interval at level 2α, as Cohen
    et al. compute it (statsmodels' ``proportion_confint(method="beta")``), bit for bit
    (``tests/unit/test_stats.py``), by the same inverse incomplete beta function called directly (1 µs
    against 70 µs through scipy.stats and statsmodels: 0.3 % of a ResNet-20 certificate at n = 100).
    """
    _check_counts(k, n)
    alpha = check_alpha(alpha)
    return 0.0 if k == 0 else float(betaincinv(k, n - k + 1, alpha))


def clopper_pearson_upper(k: int, n: int, alpha: float) -> float:
    """One-sided (1 − α) Clopper–Pearson upper bound on p: Beta⁻¹(1 − α; k + 1, n − k) (1 for k = n), as
    the upper end of statsmodels' two-sided interval at level 2α, bit for bit."""
    _check_counts(k, n)
    alpha = check_alpha(alpha)
    return 1.0 if k == n else float(betainccinv(k + 1, n - k, alpha))


def clopper_pearson_bounds(k: np.ndarray, n: int, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """Elementwise one-sided (1 − α) Clopper–Pearson (lower, upper) bounds for an array of counts ``k`` of n
    (the vector form of :func:`clopper_pearson_lower` / :func:`clopper_pearson_upper`)."""
    k = np.asarray(k, dtype=np.int64)
    if n < 1 or (k.size and (k.min() < 0 or k.max() > n)):
        raise ValueError(f"counts must be in [0, n={n}]")
    alpha = check_alpha(alpha)
    with np.errstate(invalid="ignore"):  # the k = 0 and k = n entries are set below
        lower = np.where(k == 0, 0.0, betaincinv(k, n - k + 1, alpha))
        upper = np.where(k == n, 1.0, betainccinv(k + 1, n - k, alpha))
    return np.asarray(lower, dtype=np.float64).reshape(k.shape), np.asarray(upper, dtype=np.float64).reshape(k.shape)


def binomial_test_pvalue(n_a: int, n_b: int) -> float:
    """Two-sided p-value of n_a ~ Bin(n_a + n_b, 1/2) (Cohen et al. PREDICT, docs/design.md §3.1)."""
    if n_a + n_b < 1:
        return 1.0
    return float(binomtest(n_a, n_a + n_b, p=0.5).pvalue)
