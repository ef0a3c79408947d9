"""The exact ℓ1 certificate of deterministic splitting noise (Levine & Feizi 2021, Corollary 1; docs/design.md §3.3)."""

from __future__ import annotations

from typing import Any

from rsmooth.certificates.base import Certificate, CertifiedRadius, VoteCounts, top_class


class ExactSplittingCertificate(Certificate):
    """From the exact votes over all L draws: c_A the top count (smallest index on ties), c_B the
    runner-up (smallest index among equals). A quantized perturbation of ℓ1 size t/q changes at
    most t of the L votes, so g(x + δ) = A for every quantized δ with ‖δ‖₁ ≤ t*/q,
    t* = ⌊(c_A − c_B − 1[B < A])/2⌋. Deterministic: failure probability 0.
    """

    name = "dssn_exact"
    norm = "l1"
    needs_exact_counts = True

    def __init__(self, num_draws: int, q: int) -> None:
        self.L, self.q = int(num_draws), int(q)

    def certify(self, votes: VoteCounts, alpha: float, dim: int) -> CertifiedRadius:
        if not votes.exact or votes.n != self.L:
            raise ValueError(f"the DSSN certificate needs the exact votes of all L={self.L} draws, got n={votes.n}")
        counts = votes.counts
        a = top_class(counts)  # top count, smallest index on ties
        assert a is not None
        b = top_class(counts, exclude=a)
        if b is None:
            t_star = self.L // 2
        else:
            t_star = (counts[a] - counts[b] - (1 if b < a else 0)) // 2
        return CertifiedRadius(a, t_star / self.q, counts[a] / self.L, exact_radius=(t_star, self.q))

    def params(self) -> dict[str, Any]:
        return {"L": self.L, "q": self.q}
