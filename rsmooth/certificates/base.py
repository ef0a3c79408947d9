"""Certificates: one input's vote counts → prediction, radius, norm and total failure probability.

A noise family describes and samples a distribution; a *certificate* is the theorem that turns
what the sampling engine counted into a guarantee (docs/design.md §3.1). Each family names its default
certificate and the others that apply to it; a run may ask for several, and all of them read
the same counts of the same pass.

Contract of :meth:`Certificate.certify`: with probability at least
``1 − failure_probability(alpha)`` over the sampling, if the prediction is not an abstention then
g(x + δ) = prediction for every δ with ‖δ‖_norm < radius (≤ radius for exact certificates).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

import torch

from rsmooth.certificates.bounds import clopper_pearson_lower, clopper_pearson_upper

ABSTAIN = -1


def top_class(counts: tuple[int, ...], exclude: int | None = None) -> int | None:
    """The class with the most votes (the smallest index among equals), ``exclude`` left out; None if none."""
    best, best_count = None, -1
    for c, count in enumerate(counts):
        if count > best_count and c != exclude:
            best, best_count = c, count
    return best


@dataclass(frozen=True)
class VoteCounts:
    """The base classifier's votes for one input.

    ``guess`` is ĉ_A, chosen from *separate* selection samples (Monte Carlo) or the top class of
    ``counts`` (exact). ``counts`` has one entry per class and sums to n. ``exact`` means the
    counts are the votes on every one of n equally likely draws (DSSN), not a random sample.
    """

    guess: int
    counts: tuple[int, ...]
    exact: bool = False

    # plain properties: functools.cached_property takes a lock on every first access (Python 3.11), which
    # cost more than the sum or the scan over ten classes it saves; a DSSN digits group certifies 148
    # inputs per 4 000 forward samples, so per-input work shows
    @property
    def n(self) -> int:
        return sum(self.counts)

    @property
    def n_a(self) -> int:
        """Votes for ĉ_A."""
        return self.counts[self.guess]

    @property
    def runner_up(self) -> int | None:
        """The class with most votes other than ĉ_A (smallest index among equals); None with one class."""
        return top_class(self.counts, exclude=self.guess)

    @property
    def n_b(self) -> int:
        """Votes for the runner-up (0 with one class)."""
        b = self.runner_up
        return 0 if b is None else self.counts[b]


@dataclass(frozen=True)
class CertifiedRadius:
    """What one certificate concludes for one input.

    ``exact_radius`` = (t, q) when the radius is exactly t/q (DSSN), so that analysis can
    compare it without decimal rounding.
    """

    prediction: int
    radius: float
    p_lower: float | None = None
    p_upper_runner_up: float | None = None
    exact_radius: tuple[int, int] | None = None

    @property
    def abstained(self) -> bool:
        return self.prediction == ABSTAIN


class Certificate(ABC):
    """Counts → (prediction, radius) in :attr:`norm`, at a stated total failure probability."""

    #: column name in result files (``radius_<name>`` for an extra certificate)
    name: str
    #: threat norm of the radius: 'l1', 'l2' or 'linf'
    norm: str
    #: the engine must enumerate every draw of the family and pass exact counts
    needs_exact_counts: bool = False
    #: False for a relaxation that is not a guarantee (D_MR): its name ends in ``_relaxed``, it may
    #: only be an extra column, and it never counts into certified accuracy
    hard: bool = True

    def failure_probability(self, alpha: float) -> float:
        """Total failure probability of :meth:`certify` at confidence level ``alpha``.

        ``alpha`` for a Clopper–Pearson bound alone; a certificate that estimates more
        (a Monte Carlo table) adds its own share; 0 for exact certificates.
        """
        return 0.0 if self.needs_exact_counts else float(alpha)

    def prepare(self, dim: int) -> None:  # noqa: B027 - an optional hook: most certificates need no table
        """Build or load whatever the certificate needs for inputs of dimension ``dim`` (a table).

        Called once before the per-input loop, so that its cost is not charged to any row;
        must be idempotent (a second call for the same ``dim`` does nothing).
        """

    @abstractmethod
    def certify(self, votes: VoteCounts, alpha: float, dim: int) -> CertifiedRadius:
        """The certificate for one input's ``votes`` (``dim`` = C·H·W)."""

    def params(self) -> dict[str, Any]:
        """The parameters the radius depends on (JSON-serialisable), for result-file provenance."""
        return {}

    def describe(self) -> dict[str, Any]:
        """Name, norm, exactness and parameters: what a results file records about this certificate
        (and ``relaxation: true`` for one that is not a guarantee)."""
        relaxed = {} if self.hard else {"relaxation": True}
        return {"name": self.name, "norm": self.norm, "exact": self.needs_exact_counts, **relaxed, **self.params()}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.params().items())})"


class BoundCertificate(Certificate):
    """A radius R(p̲_A, p̄_B) from one-sided Clopper–Pearson bounds on the counts (docs/design.md §3.1).

    * default: p̲_A at level α and p̄_B = 1 − p̲_A; abstain unless p̲_A > 1/2 (Cohen's CERTIFY);
    * ``bilateral``: α split by Bonferroni, p̲_A and an upper bound p̄_B on the runner-up's
      probability at α/2 each; abstain unless p̲_A > p̄_B.

    Subclasses give the formula :meth:`radius`; its name gets the suffix ``_bilateral``.
    """

    base_name: str

    def __init__(self, bilateral: bool = False) -> None:
        self.bilateral = bool(bilateral)

    @property
    def name(self) -> str:  # type: ignore[override]  # computed here, a plain attribute in the base class
        return f"{self.base_name}_bilateral" if self.bilateral else self.base_name

    @abstractmethod
    def radius(self, p_lower: float, dim: int, p_upper_runner_up: float | None = None) -> float:
        """The radius for p̲_A and p̄_B (default 1 − p̲_A); 0.0 when p̲_A ≤ p̄_B (nothing certified)."""

    def sampling_slack(self, dim: int) -> float:
        """How far the probabilities under the sampled law may be from those under the law the radius formula
        is about (0: the same law); subtracted from p̲_A and added to p̄_B."""
        return 0.0

    def certify(self, votes: VoteCounts, alpha: float, dim: int) -> CertifiedRadius:
        slack = self.sampling_slack(dim)
        if not self.bilateral:
            p_lower = clopper_pearson_lower(votes.n_a, votes.n, alpha) - slack
            if not p_lower > 0.5:
                return CertifiedRadius(ABSTAIN, 0.0, p_lower)
            return CertifiedRadius(votes.guess, self.radius(p_lower, dim), p_lower)
        p_lower = clopper_pearson_lower(votes.n_a, votes.n, alpha / 2) - slack
        p_upper = clopper_pearson_upper(votes.n_b, votes.n, alpha / 2) + slack
        if not p_lower > min(p_upper, 1.0 - p_lower):
            return CertifiedRadius(ABSTAIN, 0.0, p_lower, p_upper)
        return CertifiedRadius(votes.guess, self.radius(p_lower, dim, p_upper), p_lower, p_upper)

    def params(self) -> dict[str, Any]:
        return {"bilateral": self.bilateral}


def runner_up_bound(p_lower: float, p_upper_runner_up: float | None) -> float:
    """p̄_B to use: the given upper bound, never above 1 − p̲_A (p_B ≤ 1 − p_A always holds)."""
    p_b = 1.0 - float(p_lower)
    return p_b if p_upper_runner_up is None else min(float(p_upper_runner_up), p_b)


class DifferentiableRadius(ABC):
    """A certificate whose radius is a differentiable function of the class probabilities, which a training
    objective can maximise through (MACER, Zhai et al. 2020, eq. (6) and (9)).

    :meth:`soft_radius` is the certificate's own :meth:`BoundCertificate.radius` (p_a, dim, p_b), written in
    torch so that gradients flow to (p_a, p_b); equal to it wherever p_a > p_b and p_b ≤ 1 − p_a, and not
    clamped at 0. :meth:`radius_unit` is the radius scale in which MACER's hinge margin γ is stated
    (Gaussian: σ/2, so that γ is the gap Φ⁻¹(p_A) − Φ⁻¹(p_B) of the paper).
    """

    @abstractmethod
    def soft_radius(self, p_a: torch.Tensor, p_b: torch.Tensor, dim: int) -> torch.Tensor:
        """The radius at top probability ``p_a`` and runner-up ``p_b`` (tensors of one shape), elementwise."""

    @abstractmethod
    def radius_unit(self, dim: int) -> float:
        """The radius per unit of MACER's margin γ, for inputs of dimension ``dim``."""
