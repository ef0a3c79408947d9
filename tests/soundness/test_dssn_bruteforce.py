"""Brute-force soundness of DSSN on tiny quantized domains (Levine & Feizi 2021, Corollary 1).

For an arbitrary base classifier (a random lookup table over noisy inputs), every input x of
{0, 1/q, …, 1}^d and every x′ with ‖x′ − x‖₁ ≤ radius(x): the smoothed prediction never changes,
and every class probability is 1/(2λ)-Lipschitz: |c_k(x) − c_k(x′)| ≤ q‖x − x′‖₁ votes.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from torch import nn

from rsmooth.noise import DeterministicSplittingNoise
from rsmooth.smoothing import Smooth
from tests.conftest import CountingModel


class LookupTable(nn.Module):
    """A random class for every possible noisy input: noisy values are multiples of 1/(4q)."""

    def __init__(self, d: int, q: int, num_classes: int, seed: int) -> None:
        super().__init__()
        self.q, self.base, self.k = q, 4 * q + 1, num_classes
        rng = np.random.default_rng(seed)
        self.register_buffer("table", torch.from_numpy(rng.integers(0, num_classes, size=self.base**d)))
        self.register_buffer("radix", torch.tensor([self.base**i for i in range(d)]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        idx = torch.round(x.flatten(1).double() * 4 * self.q).long()
        assert bool((idx >= 0).all()) and bool((idx < self.base).all())
        return nn.functional.one_hot(self.table[(idx * self.radix).sum(1)], self.k).float()


CASES = [  # (d, q, sigma, classes, seed): λ < 0.5 and λ ≥ 0.5, two and three dimensions, L ≥ 2
    (2, 4, 0.2, 3, 0),
    (2, 8, 0.1, 3, 1),
    (2, 8, 0.3, 4, 2),
    (2, 6, 0.5, 3, 3),
    (3, 4, 0.2, 3, 4),
    (3, 5, 0.45, 2, 5),
    (3, 4, 0.9, 3, 6),
]


@pytest.mark.parametrize("d, q, sigma, classes, seed", CASES)
def test_no_prediction_changes_inside_the_certified_l1_ball(
    d: int, q: int, sigma: float, classes: int, seed: int
) -> None:
    noise = DeterministicSplittingNoise(sigma, q, seed=seed)
    model = LookupTable(d, q, classes, seed)
    smooth = Smooth(model, noise, classes)
    grid = torch.tensor(list(itertools.product(range(q + 1), repeat=d)))  # (P, d) integer points
    xs = (grid.float() / q).view(-1, 1, 1, d)
    certs = smooth.certify_many(xs, n0=1, n=1, alpha=0.001, batch_size=997)
    counts = smooth.counter.count_draws(xs, 997).numpy()  # (P, K)
    pred = np.array([c.prediction for c in certs])
    t_star = np.array([round(c.radius * q) for c in certs])  # radius = t*/q
    assert np.allclose([c.radius for c in certs], t_star / q)
    assert (counts.sum(1) == noise.L).all()

    dist = np.abs(grid.numpy()[:, None, :] - grid.numpy()[None, :, :]).sum(-1)  # (P, P) ℓ1 distance in 1/q steps
    inside = dist <= t_star[:, None]
    changed = pred[None, :] != pred[:, None]
    assert not (inside & changed).any(), "a prediction changed inside a certified radius"
    # p-Lipschitz for every class: |c_k(x) − c_k(x')| ≤ t whenever ‖x − x'‖₁ = t/q
    diff = np.abs(counts[:, None, :] - counts[None, :, :]).max(-1)
    assert (diff <= dist).all()
    # the certificates are not vacuous: some radius is positive
    assert t_star.max() > 0


def test_certificate_costs_exactly_L_evaluations_and_is_deterministic() -> None:
    noise = DeterministicSplittingNoise(0.5, 16, seed=0)
    model = CountingModel(LookupTable(4, 16, 3, 0))
    smooth = Smooth(model, noise, 3)
    x = torch.tensor([0, 5, 16, 9]).float().view(1, 2, 2) / 16
    first = smooth.certify(x, n0=100, n=10_000, alpha=0.001, batch_size=5)
    assert model.seen == noise.L == 27
    second = smooth.certify(x, n0=1, n=1, alpha=0.3, batch_size=1000)
    assert first == second and model.seen == 2 * noise.L
    assert first.norm == "l1" and first.n == noise.L and first.p_lower == first.count / noise.L
    assert smooth.predict(x, n=1, alpha=0.001, batch_size=7).prediction == first.prediction


def test_non_quantized_input_is_refused_before_any_evaluation() -> None:
    model = CountingModel(LookupTable(4, 16, 3, 0))
    smooth = Smooth(model, DeterministicSplittingNoise(0.5, 16), 3)
    with pytest.raises(ValueError, match="quantized"):
        smooth.certify(torch.full((1, 2, 2), 0.3), n0=1, n=1, alpha=0.001, batch_size=10)
    assert model.seen == 0
