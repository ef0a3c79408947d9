"""Sequential CERTIFY: Cohen's guarantee with far fewer samples per input.

Fixed-n CERTIFY spends n samples on every input. Sequential CERTIFY spends them in stages: after
N_1 < N_2 < … < N_K = n_max estimation samples (a :class:`SampleSchedule`) it looks at the counts
and stops as soon as more samples cannot change what a certified-accuracy curve needs.

Guarantee (union bound over the stages). Let p_A be the true probability of the guess ĉ_A (chosen
from separate selection samples, so fixed before any estimation sample is drawn) and let
LCB_k = Clopper–Pearson lower bound at level α_k on the first N_k estimation samples, with
α_1 + … + α_K = α. Each P(p_A < LCB_k) ≤ α_k, so P(∃k: p_A < LCB_k) ≤ α. Sequential CERTIFY reports
the certificate of LCB_τ for the stage τ at which it stops; whatever rule picks τ (it may look at
every count so far), on the event {p_A ≥ LCB_k for all k} the reported bound holds. The total
failure probability is therefore α (plus a certificate's own share, e.g. a table's α_D), exactly as
for fixed n. Bilateral certificates bound p̄_B at α_k/2 the same way.

The split: the last stage gets ``final_share``·α (default 3/4), the K − 1 earlier ones share the rest
equally. An input still sampling at n_max is one whose bound sits near a target radius, where the
level matters most; earlier stops are of inputs far from every target, where a smaller α_k costs
little (the samples needed grow only with log 1/α_k). With share 3/4, the last stage's bound is
nearly fixed n's at level α, and certified accuracy stays with fixed n's.

Stopping rule (``radii`` = the radii a curve is read at, Horváth et al. 2022):
* abstain early when the upper bound UCB_k (also at α_k) on p_A is ≤ 1/2: no sample budget can
  certify this input (one-sided certificates abstain unless p̲_A > 1/2);
* stop when LCB_k certifies every requested radius;
* stop when the smallest radius not yet certified is out of reach within the budget (futility): take an
  optimistic p̃ = the upper bound on p_A at the ``futility`` level (0.05: p_A ≤ p̃ with 95 %
  confidence) and the lower bound that n_max samples at rate p̃ would give at α_K; if even that bound
  does not certify the radius (or is ≤ 1/2 for radius 0), more samples would most likely be wasted;
* with ``radius_tolerance`` τ (also when no radii are given: the mode then estimates each input's radius
  itself), stop when the radius is known to within τ — R(UCB_k) − R(LCB_k) ≤ τ — or when the budget cannot
  add more than τ to it: R(the lower bound n_max samples at the optimistic rate p̃ would give) − R(LCB_k) ≤ τ;
* else sample until n_max.
The rule only decides *when* to stop; soundness never depends on it (the futility level is not part of
the failure probability: stopping early only ever reports a smaller radius than sampling on might).
Stage sizes are multiples of the engine's block size, so the N_k samples are exactly the first N_k of
the input's fixed-n stream: run to n_max, sequential mode sees the same counts as fixed n (at level α_K).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from rsmooth.certificates.base import Certificate, VoteCounts
from rsmooth.certificates.bounds import clopper_pearson_lower, clopper_pearson_upper
from rsmooth.errors import ConfigError
from rsmooth.smoothing.sampling import BLOCK_SIZE, Phase, VoteCounter
from rsmooth.validation import check_count


@dataclass(frozen=True)
class SampleSchedule:
    """Cumulative estimation sample sizes N_1 < … < N_K = n_max at which sequential CERTIFY looks, the
    share of α its last stage gets, and the ``futility`` level at which it gives up on a radius it
    cannot reach (see the module docstring)."""

    sizes: tuple[int, ...]
    futility: float = 0.05
    final_share: float = 0.75

    def __post_init__(self) -> None:
        if not (isinstance(self.futility, (int, float)) and 0.0 < self.futility < 0.5):
            raise ConfigError(f"sequential.futility must be a level in (0, 0.5), got {self.futility!r}")
        if not (isinstance(self.final_share, (int, float)) and 0.0 < self.final_share < 1.0):
            raise ConfigError(f"sequential.final_share must be in (0, 1), got {self.final_share!r}")
        if not self.sizes or any(b <= a for a, b in zip(self.sizes, self.sizes[1:])) or self.sizes[0] < 1:
            raise ConfigError(f"a sample schedule must be increasing sizes >= 1, got {self.sizes}")
        if any(s % BLOCK_SIZE for s in self.sizes[:-1]):
            raise ConfigError(f"every stage but the last must be a multiple of {BLOCK_SIZE} samples, got {self.sizes}")

    @classmethod
    def geometric(
        cls, n_max: int, first: int = 1024, growth: float = 2.0, futility: float = 0.05, final_share: float = 0.75
    ) -> SampleSchedule:
        """first, first·growth, … (each rounded up to a multiple of the block size), then n_max."""
        n_max, first = check_count("n", n_max), check_count("sequential.first", first)
        if not (isinstance(growth, (int, float)) and math.isfinite(growth) and growth > 1.0):
            raise ConfigError(f"sequential.growth must be a number > 1, got {growth!r}")
        sizes: list[int] = []
        size = -(-first // BLOCK_SIZE) * BLOCK_SIZE
        while size < n_max:
            sizes.append(size)
            size = max(size + BLOCK_SIZE, -(-math.ceil(size * growth) // BLOCK_SIZE) * BLOCK_SIZE)
        return cls((*sizes, n_max), futility, final_share)

    @property
    def stages(self) -> int:
        return len(self.sizes)

    @property
    def n_max(self) -> int:
        return self.sizes[-1]

    def stage_alphas(self, alpha: float) -> tuple[float, ...]:
        """The level α_k of each stage's bounds; they sum to α (union bound over the K stages)."""
        if self.stages == 1:
            return (alpha,)
        early = alpha * (1.0 - self.final_share) / (self.stages - 1)
        return (*([early] * (self.stages - 1)), alpha - early * (self.stages - 1))


def check_sequential_certificate(cert: Certificate) -> None:
    """Sequential mode needs a one-sided Monte Carlo certificate with a radius formula R(p̲_A)."""
    if cert.needs_exact_counts:
        raise ConfigError(f"{cert.name} enumerates every draw exactly; sequential mode is for Monte Carlo families")
    if getattr(cert, "bilateral", False) or not callable(getattr(cert, "radius", None)):
        raise ConfigError(f"sequential mode needs a one-sided certificate with a radius formula, got {cert.name}")


class StoppingRule:
    """When sequential CERTIFY may stop for one input (see the module docstring)."""

    def __init__(
        self,
        cert: Certificate,
        schedule: SampleSchedule,
        alpha: float,
        dim: int,
        radii: Sequence[float] | None,
        tolerance: float | None = None,
    ) -> None:
        check_sequential_certificate(cert)
        self.radius: Callable[[float, int], float] = cert.radius  # type: ignore[attr-defined]  # a BoundCertificate's: checked just above
        self.levels, self.dim = schedule.stage_alphas(alpha), dim
        self.n_max, self.futility = schedule.n_max, schedule.futility
        targets = sorted({float(r) for r in radii or ()})
        if any(not math.isfinite(r) or r < 0 for r in targets):
            raise ConfigError(f"sequential radii must be finite numbers >= 0, got {list(radii or ())}")
        self.targets = targets
        if tolerance is not None and not (math.isfinite(tolerance) and tolerance > 0):
            raise ConfigError(f"sequential.radius_tolerance must be a number > 0, got {tolerance!r}")
        self.tolerance = tolerance

    def certified(self, p_lower: float) -> float:
        """The radius a lower bound certifies; −1 when it certifies nothing (abstain)."""
        return self.radius(p_lower, self.dim) if p_lower > 0.5 else -1.0

    def should_stop(self, votes: VoteCounts, stage: int) -> bool:
        """After stage ``stage`` (0-based), whose bounds are at level α_stage."""
        level = self.levels[stage]
        if not clopper_pearson_upper(votes.n_a, votes.n, level) > 0.5:
            return True  # abstains whatever the budget
        if not self.targets and self.tolerance is None:
            return False
        certified = self.certified(clopper_pearson_lower(votes.n_a, votes.n, level))
        # what n_max samples at an optimistic rate p̃ would certify
        optimistic = clopper_pearson_upper(votes.n_a, votes.n, self.futility)
        reachable = self.certified(
            clopper_pearson_lower(math.floor(optimistic * self.n_max), self.n_max, self.levels[-1])
        )
        if self.tolerance is not None and self._settled(votes, level, certified, reachable):
            return True
        if not self.targets:
            return False
        pending = [r for r in self.targets if r > certified]
        if not pending:
            return True  # every requested radius is certified
        return reachable < pending[0]  # futility: the budget would still not certify the next radius

    def _settled(self, votes: VoteCounts, level: float, certified: float, reachable: float) -> bool:
        """The radius is known to within the tolerance, or the budget cannot add more than it."""
        assert self.tolerance is not None
        low = max(certified, 0.0)
        upper = clopper_pearson_upper(votes.n_a, votes.n, level)
        high = self.certified(upper) if upper < 1.0 else math.inf
        return high - low <= self.tolerance or max(reachable, 0.0) - low <= self.tolerance


def sequential_votes(
    counter: VoteCounter,
    xs: torch.Tensor,
    ids: Sequence[int],
    n0: int,
    schedule: SampleSchedule,
    batch_size: int,
    rule: StoppingRule,
    progress: bool = False,
) -> list[tuple[VoteCounts, int]]:
    """Per input: ĉ_A from n0 selection draws, then estimation votes stage by stage until ``rule`` says
    stop or n_max is reached; returns (votes, stage it stopped at). Inputs still sampling share forward
    batches; one host transfer per stage."""
    selection = counter.count(xs, n0, Phase.SELECTION, ids, batch_size, progress).cpu()
    guesses = selection.argmax(dim=1).tolist()
    counts = torch.zeros(len(ids), counter.num_classes, dtype=torch.int64)
    stopped = [schedule.stages - 1] * len(ids)
    active = list(range(len(ids)))
    done = 0
    for stage, size in enumerate(schedule.sizes):
        part = counter.count(
            xs[active], size - done, Phase.ESTIMATION, [ids[i] for i in active], batch_size, progress, start=done
        ).cpu()
        counts[active] += part
        done = size
        still = []
        for i in active:
            votes = VoteCounts(int(guesses[i]), tuple(int(c) for c in counts[i].tolist()))
            if size < schedule.n_max and not rule.should_stop(votes, stage):
                still.append(i)
            else:
                stopped[i] = stage
        active = still
        if not active:
            break
    return [(VoteCounts(int(g), tuple(int(c) for c in row)), k) for g, row, k in zip(guesses, counts.tolist(), stopped)]
