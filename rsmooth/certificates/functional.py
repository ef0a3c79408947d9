"""The functional (Neyman–Pearson) certificate of the non-Gaussian families, from a table built once
(Zhang et al. 2020, "Filling the soap bubbles", Theorem 1, eq. (5)–(7) and Theorems 2, 5; docs/design.md §3.4).

The bound. Let π0 be symmetric (π0(z) = π0(−z)) and δ* the family's worst-case shift at radius r
(Theorem 2: δ* = (r, 0, …, 0) for the ℓ2 family; Theorem 5: δ* = (r, …, r) for the mixed ℓ∞ family;
both theorems show that D(λπ0 ‖ π_δ) over the ball is largest at δ*, so a lower bound on
P_{x+δ*+z}(A) that is the dual value max_λ λp − D(λπ0 ‖ π_δ*) holds for every δ in the ball).
With L(z) = log π0(z − δ*)/π0(z) and a threshold c, the set S = {y : L(y) ≤ −c} satisfies, for every
f with values in [0, 1] and E_π0 f ≥ p ≥ P_π0(S),

    E_{π_δ*} f ≥ P_{π_δ*}(S)      (f ≥ 1_S in the Neyman–Pearson sense: π_δ* ≤ e^{−c}π0 on S, > off S),

and by the symmetry of π0, P_{π_δ*}(L(y) ≤ −c) = P_{z∼π0}(L(z) ≥ c). So class A is certified at r if

    P_π0(L ≤ −c) ≤ p̲_A   and   P_π0(L ≥ c) > 1/2        for some c,

which is the dual bound of eq. (7) at its optimum λ = e^{−c} (the two forms are equal; the
Hoeffding-bounded dual of the paper is kept as a comparison: :func:`dual_certified`).
Only a c just below the median of L matters, so the table needs one number per radius:

    p_needed(r) = upper bound on P_π0(L ≤ −c_r)   with a lower bound on P_π0(L ≥ c_r) above 1/2.

Soundness of the table. For each radius, C candidate thresholds c are fixed before the main sample is
drawn: the order statistics of L on an independent *pilot* sample at the levels of
:func:`candidate_levels` (a window just below the median, in steps of ¼ of the main sample's standard
error). The main sample of N draws gives one-sided Clopper–Pearson bounds on P(L ≥ c) and P(L ≤ −c) for
every (radius, candidate), all 2·C·R of them union-bounded at α_D; per radius the table takes the largest
candidate whose lower bound on P(L ≥ c) is above 1/2 (a bisection, as that count falls as c grows) and
reports the upper bound on P(L ≤ −c) there. A count compares L with the threshold moved by 1e-9·(1 + |c|)
against the claim it supports, so float64 rounding in L cannot help it. An input is certified at the
largest grid radius r with p_needed(r) ≤ p̲_A (round down to the grid); its failure probability is
α (for p̲_A) + α_D (for the table).

The family supplies two things (duck-typed; this module imports no family):
``shift_statistics(dim, count, rng)`` → per-sample statistics of z ∼ π0 (count, s) float64 tensor (a few
scalars per draw), and ``log_ratio(stats, radii, dim)`` → L(z) at δ* of each radius (count, R) float64.
Optionally ``level_counter(stats, radii, dim, bins)`` → an object whose ``at_least(c)`` / ``at_most(c)``
return #{L ≥ c_j} / #{L ≤ c_j} per radius without L per draw (never more / never less than the exact
counts): the power family's sorted 2-D draws (:mod:`rsmooth.certificates.power_counts`).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch

from rsmooth.atomic import write_text_atomic
from rsmooth.certificates.base import ABSTAIN, Certificate, CertifiedRadius, VoteCounts
from rsmooth.certificates.bounds import clopper_pearson_bounds, clopper_pearson_lower
from rsmooth.errors import ConfigError

#: bumped whenever the way a table is computed changes, so older cached tables are not reused
TABLE_VERSION = 2
#: environment variable naming the directory of cached tables (default ~/.cache/rsmooth/tables)
CACHE_ENV = "RSMOOTH_CACHE_DIR"
#: tables already loaded or built in this process, by cache path, with the file's (mtime, size) when read:
#: a new certificate object (``noise.radius(p, d)`` builds one per call) reads an unchanged file once
_LOADED: dict[str, tuple[tuple[int, int], FunctionalTable]] = {}


class ShiftFamily(Protocol):
    """What a smoothing family gives the functional certificate."""

    name: str

    def config(self) -> dict[str, Any]: ...

    def scale(self, dim: int) -> float: ...

    def shift_statistics(self, dim: int, count: int, rng: np.random.Generator) -> torch.Tensor: ...

    def log_ratio(self, stats: torch.Tensor, radii: np.ndarray, dim: int) -> torch.Tensor: ...


@dataclass(frozen=True)
class TableSettings:
    """How a table is estimated. Radii are ``scale``·radius_min·radius_ratio^j up to ``scale``·radius_max,
    ``scale`` the family's σ in the input's dimension; ``alpha`` is α_D."""

    num_samples: int = 10**7
    pilot_samples: int = 2 * 10**5
    alpha: float = 0.001
    radius_min: float = 0.02
    radius_max: float = 6.0
    radius_ratio: float = 1.01
    seed: int = 0
    chunk: int = 10**6
    bins: int = 1024

    def __post_init__(self) -> None:
        if isinstance(self.bins, bool) or not isinstance(self.bins, int) or self.bins < 1:
            raise ConfigError(f"table bins must be an integer >= 1, got {self.bins!r}")
        for name in ("num_samples", "pilot_samples", "chunk"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1000:
                raise ConfigError(f"table {name} must be an integer >= 1000, got {value!r}")
        if not 0.0 < float(self.alpha) < 0.5:
            raise ConfigError(f"table alpha must be in (0, 0.5), got {self.alpha!r}")
        if not 0.0 < float(self.radius_min) < float(self.radius_max):
            raise ConfigError(f"table radii need 0 < radius_min < radius_max, got {self.radius_min}, {self.radius_max}")
        if not float(self.radius_ratio) > 1.0:
            raise ConfigError(f"table radius_ratio must be > 1, got {self.radius_ratio!r}")

    def radii(self, scale: float) -> np.ndarray:
        count = math.floor(math.log(self.radius_max / self.radius_min) / math.log(self.radius_ratio)) + 1
        return scale * self.radius_min * self.radius_ratio ** np.arange(count, dtype=np.float64)


@dataclass
class FunctionalTable:
    """p_needed[j]: the smallest p̲_A that certifies radii[j] (> 1: not certifiable at any p̲_A).

    Radii stop at the first one that no p̲_A < 1 certifies.
    """

    radii: np.ndarray
    p_needed: np.ndarray
    key: dict[str, Any]
    build_seconds: float = 0.0
    checks: dict[str, Any] = field(default_factory=dict)

    def radius(self, p_lower: float) -> float:
        """The largest grid radius certified at p̲_A = ``p_lower`` (0.0 if none).

        Each grid radius is certified on its own (its ball contains the smaller ones), so a
        Monte Carlo wiggle in p_needed never makes a larger radius depend on a smaller one."""
        ok = np.nonzero(self.p_needed <= p_lower)[0]
        return float(self.radii[ok[-1]]) if ok.size else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "radii": self.radii.tolist(),
            "p_needed": self.p_needed.tolist(),
            "build_seconds": self.build_seconds,
            "checks": self.checks,
        }


def table_key(family: ShiftFamily, dim: int, settings: TableSettings) -> dict[str, Any]:
    """Everything a table depends on: the family's parameters, the dimension and the settings, and the
    sampler's stream revision when above 1 (a table of the older draws is as sound, but not the same)."""
    key = {"version": TABLE_VERSION, "family": family.config(), "dim": int(dim), "settings": asdict(settings)}
    revision = int(getattr(family, "stream_revision", 1))
    return key if revision == 1 else {**key, "stream_revision": revision}


def _digest(key: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:20]


def cache_dir() -> Path:
    """Where tables are cached: ``$RSMOOTH_CACHE_DIR`` or ~/.cache/rsmooth/tables."""
    env = os.environ.get(CACHE_ENV)
    return Path(env) if env else Path.home() / ".cache" / "rsmooth" / "tables"


class SampleLevelCounter:
    """Exact counts of {L ≥ c_j} and {L ≤ c_j} from L evaluated on every draw, (N, R) float64 (any family)."""

    def __init__(self, log_ratios: torch.Tensor) -> None:
        self.log_ratios = log_ratios

    def at_least(self, c: np.ndarray) -> np.ndarray:
        return torch.count_nonzero(self.log_ratios >= torch.as_tensor(c).view(1, -1), dim=0).numpy()

    def at_most(self, c: np.ndarray) -> np.ndarray:
        return torch.count_nonzero(self.log_ratios <= torch.as_tensor(c).view(1, -1), dim=0).numpy()


def candidate_levels(settings: TableSettings, radii: int) -> tuple[np.ndarray, float]:
    """The pilot quantile levels the thresholds c are taken at, ascending, and the per-bound level α_D/cells.

    The threshold of a radius must keep a lower bound on P(L ≥ c) above 1/2, so the best c sits at the level
    ≈ 1/2 − z·½/√N of L (z from the bound's level). The pilot places that level only to within ≈ ½/√N_pilot,
    so the candidates cover 1/2 − 2w … 1/2 with w = z·½/√N + 6·½/√N_pilot, in steps of ¼ of the main
    sample's standard error (the most a candidate grid can lose). Every (radius, candidate, side) is a cell of
    the union bound, whether or not the search below looks at it.
    """
    z = 0.0
    for _ in range(3):  # z depends on the number of cells, which depends on z through w: a fixed point
        step = 0.25 * 0.5 / math.sqrt(settings.num_samples)
        width = (z if z else 6.0) * 0.5 / math.sqrt(settings.num_samples) + 6.0 * 0.5 / math.sqrt(
            settings.pilot_samples
        )
        count = math.ceil(2.0 * width / step) + 1
        level = settings.alpha / (2 * count * radii)
        z = math.sqrt(2.0 * math.log(1.0 / level))
    levels = np.linspace(max(0.5 - 2.0 * width, 1e-6), 0.5, count)
    return levels, level


def _certify_radii(counter: Any, candidates: np.ndarray, n: int, level: float) -> np.ndarray:
    """p_needed for a batch of radii: per radius, the largest candidate c (ascending, (R, C)) whose lower
    bound on P(L ≥ c) is above 1/2, found by bisection (the count is non-increasing in c), and then the
    upper bound on P(L ≤ −c). ≥ 1 where no candidate qualifies.

    A count compares L with c moved by 1e-9·(1 + |c|) against the claim it supports, so float rounding
    in L cannot help it."""
    radii, count = candidates.shape
    lo = np.full(radii, -1)  # largest index known to qualify (−1: none yet)
    hi = np.full(radii, count)  # smallest index known not to
    rows = np.arange(radii)
    while np.any(hi - lo > 1):
        mid = (lo + hi) // 2
        mid_c = candidates[rows, np.clip(mid, 0, count - 1)]
        above = counter.at_least(mid_c + 1e-9 * (1.0 + np.abs(mid_c)))
        good = clopper_pearson_bounds(above, n, level)[0] > 0.5
        active = hi - lo > 1
        lo = np.where(active & good, mid, lo)
        hi = np.where(active & ~good, mid, hi)
    best = candidates[rows, np.clip(lo, 0, count - 1)]
    below = counter.at_most(-best + 1e-9 * (1.0 + np.abs(best)))
    p_needed = clopper_pearson_bounds(below, n, level)[1]
    return np.where(lo >= 0, p_needed, np.inf)


def build_table(family: ShiftFamily, dim: int, settings: TableSettings) -> FunctionalTable:
    """Estimate p_needed(r) over the radius grid from N fresh draws of π0 (see the module docstring).

    Thresholds come from the pilot's quantiles of L (per radius, at :func:`candidate_levels`); counts come
    from the family's ``level_counter`` when it has one (the power family: sorted 2-D draws, no per-draw L),
    else from L on every draw, a few radii at a time.
    """
    start = time.perf_counter()
    radii = settings.radii(family.scale(dim))
    levels, level = candidate_levels(settings, len(radii))
    pilot = family.shift_statistics(dim, settings.pilot_samples, np.random.default_rng([settings.seed, 1]))
    # candidates[j] = the pilot's quantiles of L at radius j: order statistics, of which only the window
    # [first, last] is sorted (after a partition around its ends)
    picks = np.minimum((levels * settings.pilot_samples).astype(np.int64), settings.pilot_samples - 1)
    first, last = int(picks[0]), int(picks[-1])
    candidates = np.empty((len(radii), len(levels)))
    for s in range(0, len(radii), 32):
        pilot_l = family.log_ratio(pilot, radii[s : s + 32], dim).T.contiguous().numpy()  # (radii, pilot)
        window = np.sort(np.partition(pilot_l, (first, last), axis=1)[:, first : last + 1], axis=1)
        candidates[s : s + 32] = window[:, picks - first]
    del pilot
    rng = np.random.default_rng([settings.seed, 2])
    chunks, remaining = [], settings.num_samples
    while remaining > 0:
        chunks.append(family.shift_statistics(dim, min(settings.chunk, remaining), rng))
        remaining -= settings.chunk
    main = torch.cat(chunks)
    del chunks
    n = settings.num_samples
    make_counter = getattr(family, "level_counter", None)
    if make_counter is not None:
        p_needed = _certify_radii(make_counter(main, radii, dim, settings.bins), candidates, n, level)
    else:
        batch = max(1, 2**24 // n)
        p_needed = np.concatenate(
            [
                _certify_radii(
                    SampleLevelCounter(family.log_ratio(main, radii[s : s + batch], dim)),
                    candidates[s : s + batch],
                    n,
                    level,
                )
                for s in range(0, len(radii), batch)
            ]
        )
    # the table stops at the first radius no p̲_A < 1 certifies (nor, up to Monte Carlo noise, any larger one)
    stop = np.nonzero(~(p_needed < 1.0))[0]
    keep = int(stop[0]) if stop.size else len(radii)
    radii, p_needed = radii[:keep], p_needed[:keep]
    drops = int(np.count_nonzero(np.diff(p_needed) < 0)) if p_needed.size > 1 else 0
    checks = {
        "radii": keep,
        "candidates": len(levels),
        "decreasing_steps": drops,
        "largest_decrease": float(-np.min(np.diff(p_needed))) if drops else 0.0,
    }
    return FunctionalTable(radii, p_needed, table_key(family, dim, settings), time.perf_counter() - start, checks)


def _signature(path: Path) -> tuple[int, int]:
    stat = path.stat()
    return stat.st_mtime_ns, stat.st_size


def load_or_build(
    family: ShiftFamily, dim: int, settings: TableSettings, directory: Path | None = None
) -> FunctionalTable:
    """The cached table for (family, dim, settings), built and cached (atomically) when missing.

    The cache holds JSON only (never a pickle); a file whose recorded key differs or that does not
    parse is rebuilt and overwritten, so a damaged cache costs time, never a wrong table."""
    key = table_key(family, dim, settings)
    directory = cache_dir() if directory is None else Path(directory)
    path = directory / f"{family.name}-d{dim}-{_digest(key)}.json"
    if str(path) in _LOADED and path.is_file() and _LOADED[str(path)][0] == _signature(path):
        return _LOADED[str(path)][1]
    if path.is_file():
        try:
            data = json.loads(path.read_text())
            if data.get("key") == key:
                radii = np.asarray(data["radii"], dtype=np.float64)
                p_needed = np.asarray(data["p_needed"], dtype=np.float64)
                if radii.shape == p_needed.shape:
                    table = FunctionalTable(radii, p_needed, key, 0.0, dict(data.get("checks", {})))
                    _LOADED[str(path)] = (_signature(path), table)
                    return table
        except (ValueError, KeyError, TypeError):
            pass
    table = build_table(family, dim, settings)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        write_text_atomic(path, json.dumps(table.to_json()))
        _LOADED[str(path)] = (_signature(path), FunctionalTable(table.radii, table.p_needed, key, 0.0, table.checks))
    except OSError:  # OutputError included
        pass  # an unwritable cache only costs a rebuild next time
    return table


class FunctionalCertificate(Certificate):
    """Certified radius from the family's functional table (docs/design.md §3.4): the largest grid radius r with
    p_needed(r) ≤ p̲_A, p̲_A the one-sided Clopper–Pearson bound at α; total failure probability α + α_D.

    ``linf_from_l2``: the ℓ2 family read in ℓ∞ (Zhang et al., Theorem 3: the ℓ∞ ball of radius r is
    certified exactly when the ℓ2 ball of radius √d·r is), so the radius is the ℓ2 one over √d.
    """

    def __init__(
        self,
        family: ShiftFamily,
        norm: str,
        settings: TableSettings | None = None,
        linf_from_l2: bool = False,
        directory: Path | None = None,
    ) -> None:
        self.family = family
        self.norm = norm
        self.settings = settings or TableSettings()
        self.linf_from_l2 = bool(linf_from_l2)
        self.name = "functional_linf" if self.linf_from_l2 else "functional"
        self.directory = directory
        self.tables: dict[int, FunctionalTable] = {}

    def failure_probability(self, alpha: float) -> float:
        return float(alpha) + float(self.settings.alpha)

    def prepare(self, dim: int) -> None:
        if dim not in self.tables:
            self.tables[dim] = load_or_build(self.family, dim, self.settings, self.directory)

    def table(self, dim: int) -> FunctionalTable:
        self.prepare(dim)
        return self.tables[dim]

    def radius(self, p_lower: float, dim: int, p_upper_runner_up: float | None = None) -> float:
        """The certified radius for p̲_A (the runner-up bound is not used: the test is P_δ(A) > 1/2)."""
        r = self.table(dim).radius(float(p_lower))
        return r / math.sqrt(dim) if self.linf_from_l2 else r

    def certify(self, votes: VoteCounts, alpha: float, dim: int) -> CertifiedRadius:
        p_lower = clopper_pearson_lower(votes.n_a, votes.n, alpha)
        if not p_lower > 0.5:
            return CertifiedRadius(ABSTAIN, 0.0, p_lower)
        return CertifiedRadius(votes.guess, self.radius(p_lower, dim), p_lower)

    def params(self) -> dict[str, Any]:
        return {"family": self.family.config(), "table": asdict(self.settings), "linf_from_l2": self.linf_from_l2}


def dual_certified(log_ratios: np.ndarray, p_lower: float, lambdas: np.ndarray, level: float) -> float:
    """The paper's Hoeffding-bounded dual value max_λ λp̲ − D̄(λ) at one radius (Zhang et al. §4.1):
    D̄(λ) = mean((λ − e^L)₊) + λ·√(ln(1/level)/2N), an upper bound on D(λπ0 ‖ π_δ*) at ``level`` per λ.
    A comparison for the Neyman–Pearson table (the certificate), not used to certify."""
    n = log_ratios.size
    ratio = np.exp(np.minimum(log_ratios, 700.0))
    width = math.sqrt(math.log(1.0 / level) / (2.0 * n))
    best = -math.inf
    for lam in lambdas:
        d_upper = float(np.mean(np.maximum(lam - ratio, 0.0))) + lam * width
        best = max(best, lam * p_lower - d_upper)
    return best
