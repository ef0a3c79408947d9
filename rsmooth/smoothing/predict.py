"""PREDICT (Cohen et al. 2019, Appendix C, docs/design.md §3.1): the smoothed classifier's prediction with
a bounded probability of returning a wrong class."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from rsmooth.certificates.base import ABSTAIN
from rsmooth.certificates.bounds import binomial_test_pvalue
from rsmooth.smoothing.sampling import Phase, VoteCounter


@dataclass(frozen=True)
class Prediction:
    """Outcome of PREDICT: the class (−1 = abstain), the binomial-test p-value, the vote counts."""

    prediction: int
    p_value: float
    counts: tuple[int, ...]


def predict_votes(
    counter: VoteCounter, x: torch.Tensor, example_id: int, n: int, alpha: float, batch_size: int
) -> Prediction:
    """The top class if the two-sided binomial test of n_A ~ Bin(n_A + n_B, 1/2) rejects at level α,
    else abstain. With probability ≥ 1 − α the returned class (if any) is g(x)."""
    counts = counter.count(x.unsqueeze(0), n, Phase.PREDICTION, [example_id], batch_size)[0].cpu()
    top2 = torch.topk(counts, k=min(2, counts.numel()))
    n_a = int(top2.values[0])
    n_b = int(top2.values[1]) if counts.numel() > 1 else 0
    p_value = binomial_test_pvalue(n_a, n_b)
    prediction = int(top2.indices[0]) if p_value <= alpha else ABSTAIN
    return Prediction(prediction, p_value, tuple(int(c) for c in counts))


def predict_exact(counter: VoteCounter, x: torch.Tensor, batch_size: int) -> Prediction:
    """g(x) exactly, from all L draws: the top class, smallest index on ties (no failure probability)."""
    counts = counter.count_draws(x.unsqueeze(0), batch_size)[0].cpu()
    return Prediction(int(counts.argmax()), 0.0, tuple(int(c) for c in counts))
