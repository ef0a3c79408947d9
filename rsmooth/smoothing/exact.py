"""Exact enumeration: the smoothed classifier of a family with finitely many equally likely draws.

For DSSN (Levine & Feizi 2021) every one of the L draws is evaluated exactly once per input, so the
votes *are* the smoothed class probabilities times L: there is no sampling and no failure probability.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from rsmooth.certificates.base import VoteCounts
from rsmooth.smoothing.sampling import VoteCounter


def exact_votes(
    counter: VoteCounter, xs: torch.Tensor, batch_size: int, progress: bool = False, ids: Sequence[int] | None = None
) -> list[VoteCounts]:
    """Per input: the votes over all L draws, with the top class (smallest index on ties) as guess (``ids`` name
    the inputs in an error)."""
    counts = counter.count_draws(xs, batch_size, progress, ids).cpu()
    guesses = counts.argmax(dim=1).tolist()  # the first of equal maxima: the smallest index
    return [VoteCounts(g, tuple(row), exact=True) for g, row in zip(guesses, counts.tolist())]  # Python ints
