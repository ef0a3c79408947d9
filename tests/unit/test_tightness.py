"""Brute-force Neyman–Pearson integration (rsmooth.analysis.tightness) against the Gaussian's closed forms."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import norm

from rsmooth.analysis.tightness import grid_points, neyman_pearson_radius, neyman_pearson_values


def gaussian(z: np.ndarray) -> np.ndarray:
    return -0.5 * (z * z).sum(axis=1)


def test_values_are_the_gaussian_neyman_pearson_bound() -> None:
    """For N(0, I) the least P_δ(S) over sets of mass p is Φ(Φ⁻¹(p) − ‖δ‖₂) (Cohen et al. 2019, Lemma 4)."""
    points = grid_points(2, 7.0, 400)
    shift = np.array([0.3, 0.4])  # ‖δ‖₂ = 0.5
    p = np.array([0.2, 0.6, 0.9, 0.99])
    exact = norm.cdf(norm.ppf(p) - 0.5)
    assert neyman_pearson_values(gaussian, points, shift, p) == pytest.approx(exact, abs=2e-3)
    assert neyman_pearson_values(gaussian, points, np.zeros(2), p) == pytest.approx(p, abs=1e-9)


def test_radius_is_cohens_and_the_smallest_over_directions() -> None:
    points = grid_points(2, 7.0, 250)
    for p in (0.6, 0.9, 0.99):
        radius = neyman_pearson_radius(gaussian, points, [np.array([1.0, 0.0]), np.array([0.6, 0.8])], p, 4.0, steps=20)
        assert radius == pytest.approx(norm.ppf(p), rel=3e-3)
    # in ℓ∞ units the vertex (1, 1) moves the Gaussian √2 as far as the axis: it is the minimum
    by_direction = [
        neyman_pearson_radius(gaussian, points, [u], 0.9, 4.0, steps=20) for u in (np.array([1.0, 0.0]), np.ones(2))
    ]
    both = neyman_pearson_radius(gaussian, points, [np.array([1.0, 0.0]), np.ones(2)], 0.9, 4.0, lower=0.5, steps=20)
    assert by_direction[1] == pytest.approx(by_direction[0] / np.sqrt(2), rel=3e-3)
    assert both == pytest.approx(min(by_direction), rel=1e-4)  # bisections from different brackets


def test_a_grid_too_small_for_the_shift_loses_mass_and_shows_it() -> None:
    """One normaliser for π0 and π_δ: a shift carrying π_δ's mass off the grid lowers V (it is not hidden)."""
    shift = np.array([2.5, 0.0])
    small = neyman_pearson_values(gaussian, grid_points(2, 3.0, 300), shift, [0.999])[0]
    large = neyman_pearson_values(gaussian, grid_points(2, 8.0, 400), shift, [0.999])[0]
    assert large == pytest.approx(norm.cdf(norm.ppf(0.999) - 2.5), abs=2e-3)
    assert small < large - 0.05
