"""Sequential CERTIFY: Cohen's guarantee with far fewer samples per input.

Fixed-n CERTIFY spends n samples on every input. Sequential CERTIFY spends them in stages: after
N_1 < N_2 < … < N_K = n_max estimation samples (a :class:`SampleSchedule`) it looks at the counts
and stops as soon as more samples cannot change what a certified-accuracy curve needs.

Guarantee (union bound over the stages). Let p_A be the true probability of the guess ĉ_A (chosen
from separate selection samples, so fixed before any estimation sample is drawn) and let
LCB_k = Clopper–Pearson lower bound at level α/K on the first N_k estimation samples. Each
P(p_A < LCB_k) ≤ α/K, so P(∃k: p_A < LCB_k) ≤ α. Sequential CERTIFY reports the certificate of
LCB_τ for the stage τ at which it stops; whatever rule picks τ (it may look at every count so far),
on the event {p_A ≥ LCB_k for all k} the reported bound holds. The total failure probability is
therefore α (plus a certificate's own share, e.g. a table's α_D), exactly as for fixed n.
Bilateral certificates bound p̄_B at α/(2K) the same way.

Stopping rule (``radii`` = the radii a curve is read at, Horváth et al. 2022):
* abstain early when the upper bound UCB_k (also at α/K) on p_A is ≤ 1/2: no sample budget can
  certify this input (one-sided certificates abstain unless p̲_A > 1/2);
* stop when LCB_k certifies every requested radius;
* stop when the smallest radius not yet certified is out of reach: its radius at p = UCB_k is
  smaller than it;
* else sample until n_max.
The rule only decides *when* to stop; soundness never depends on it. Stage sizes are multiples of
the engine's block size, so the N_k samples are exactly the first N_k of the input's fixed-n
stream: run to n_max, sequential mode sees the same counts as fixed n (at level α/K).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from rsmooth.certify.certificate import Certificate, VoteCounts
from rsmooth.certify.sampling import BLOCK_SIZE, Phase, VoteCounter
from rsmooth.certify.stats import check_count, clopper_pearson_lower, clopper_pearson_upper
from rsmooth.errors import ConfigError

MODES = ("fixed", "sequential")


@dataclass(frozen=True)
class SampleSchedule:
    """Cumulative estimation sample sizes N_1 < … < N_K = n_max at which sequential CERTIFY looks."""

    sizes: tuple[int, ...]

    def __post_init__(self) -> None:
        if not self.sizes or any(b <= a for a, b in zip(self.sizes, self.sizes[1:])) or self.sizes[0] < 1:
            raise ConfigError(f"a sample schedule must be increasing sizes >= 1, got {self.sizes}")
        if any(s % BLOCK_SIZE for s in self.sizes[:-1]):
            raise ConfigError(f"every stage but the last must be a multiple of {BLOCK_SIZE} samples, got {self.sizes}")

    @classmethod
    def geometric(cls, n_max: int, first: int = 1024, growth: float = 2.0) -> SampleSchedule:
        """first, first·growth, … (each rounded up to a multiple of the block size), then n_max."""
        n_max, first = check_count("n", n_max), check_count("sequential.first", first)
        if not (isinstance(growth, (int, float)) and math.isfinite(growth) and growth > 1.0):
            raise ConfigError(f"sequential.growth must be a number > 1, got {growth!r}")
        sizes: list[int] = []
        size = -(-first // BLOCK_SIZE) * BLOCK_SIZE
        while size < n_max:
            sizes.append(size)
            size = max(size + BLOCK_SIZE, -(-math.ceil(size * growth) // BLOCK_SIZE) * BLOCK_SIZE)
        return cls((*sizes, n_max))

    @property
    def stages(self) -> int:
        return len(self.sizes)

    @property
    def n_max(self) -> int:
        return self.sizes[-1]

    def stage_alpha(self, alpha: float) -> float:
        """The level of each stage's bounds: α/K (union bound over the K stages)."""
        return alpha / self.stages


def check_sequential_certificate(cert: Certificate) -> None:
    """Sequential mode needs a one-sided Monte Carlo certificate with a radius formula R(p̲_A)."""
    if cert.needs_exact_counts:
        raise ConfigError(f"{cert.name} enumerates every draw exactly; sequential mode is for Monte Carlo families")
    if getattr(cert, "bilateral", False) or not callable(getattr(cert, "radius", None)):
        raise ConfigError(f"sequential mode needs a one-sided certificate with a radius formula, got {cert.name}")


class StoppingRule:
    """When sequential CERTIFY may stop for one input (see the module docstring)."""

    def __init__(self, cert: Certificate, stage_alpha: float, dim: int, radii: Sequence[float] | None) -> None:
        check_sequential_certificate(cert)
        self.radius: Callable[[float, int], float] = cert.radius  # type: ignore[attr-defined]
        self.stage_alpha, self.dim = stage_alpha, dim
        targets = sorted({float(r) for r in radii or ()})
        if any(not math.isfinite(r) or r < 0 for r in targets):
            raise ConfigError(f"sequential radii must be finite numbers >= 0, got {list(radii or ())}")
        self.targets = targets

    def should_stop(self, votes: VoteCounts) -> bool:
        upper = clopper_pearson_upper(votes.n_a, votes.n, self.stage_alpha)
        if not upper > 0.5:
            return True  # abstains whatever the budget
        if not self.targets:
            return False
        lower = clopper_pearson_lower(votes.n_a, votes.n, self.stage_alpha)
        certified = self.radius(lower, self.dim) if lower > 0.5 else -1.0
        pending = [r for r in self.targets if r > certified]
        if not pending:
            return True  # every requested radius is certified
        reach = self.radius(upper, self.dim)
        return pending[0] > 0 and reach < pending[0]  # the next radius is out of reach


def sequential_votes(
    counter: VoteCounter, xs: torch.Tensor, ids: Sequence[int], n0: int, schedule: SampleSchedule,
    batch_size: int, rule: StoppingRule, progress: bool = False,
) -> list[VoteCounts]:
    """Per input: ĉ_A from n0 selection draws, then estimation votes stage by stage until ``rule`` says
    stop or n_max is reached. Inputs still sampling share forward batches; one host transfer per stage."""
    selection = counter.count(xs, n0, Phase.SELECTION, ids, batch_size, progress).cpu()
    guesses = selection.argmax(dim=1).tolist()
    counts = torch.zeros(len(ids), counter.num_classes, dtype=torch.int64)
    active = list(range(len(ids)))
    done = 0
    for size in schedule.sizes:
        part = counter.count(xs[active], size - done, Phase.ESTIMATION, [ids[i] for i in active], batch_size,
                             progress, start=done).cpu()
        counts[active] += part
        done = size
        still = []
        for i in active:
            votes = VoteCounts(int(guesses[i]), tuple(int(c) for c in counts[i].tolist()))
            if size < schedule.n_max and not rule.should_stop(votes):
                still.append(i)
        active = still
        if not active:
            break
    return [VoteCounts(int(g), tuple(int(c) for c in row)) for g, row in zip(guesses, counts.tolist())]
