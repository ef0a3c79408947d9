"""Monte Carlo CERTIFY's counting (Cohen et al. 2019, Appendix C, docs/design.md §3.1).

The guess ĉ_A comes from n0 *selection* samples only; the estimate n_A from n *fresh*
estimation samples. The two phases are seeded apart (:class:`~rsmooth.smoothing.sampling.Phase`),
so no selection sample can ever be reused in the estimate.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from rsmooth.certificates.base import VoteCounts
from rsmooth.smoothing.sampling import Phase, VoteCounter


def monte_carlo_votes(
    counter: VoteCounter,
    xs: torch.Tensor,
    ids: Sequence[int],
    n0: int,
    n: int,
    batch_size: int,
    progress: bool = False,
) -> list[VoteCounts]:
    """Per input: ĉ_A = the most frequent class of n0 selection draws (smallest index on ties),
    and the n estimation votes of every class."""
    selection = counter.count(xs, n0, Phase.SELECTION, ids, batch_size, progress).cpu()
    guesses = selection.argmax(dim=1).tolist()  # first maximum: smallest index on ties
    estimation = counter.count(xs, n, Phase.ESTIMATION, ids, batch_size, progress).cpu().tolist()
    return [VoteCounts(int(g), tuple(int(c) for c in row)) for g, row in zip(guesses, estimation)]
