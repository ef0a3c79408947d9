"""The functional (Neyman–Pearson) certificate of the non-Gaussian families, from a table built once
(Zhang et al. 2020, "Filling the soap bubbles", Theorem 1, eq. (5)–(7) and Theorems 2, 5; SPEC §3.4).

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

Soundness of the table. c_r is chosen from a *pilot* sample (independent of the main sample), as the
pilot's quantile of L at 0.5 − m for four margins m; the main sample of N draws gives one-sided
Clopper–Pearson bounds on both probabilities at every (radius, margin), all union-bounded at α_D.
A count compares L with the threshold moved by 1e-9·(1 + |c|) against the claim, so float64 rounding
in L cannot help it. An input is certified at the largest grid radius r with p_needed(r) ≤ p̲_A
(round down to the grid); its failure probability is α (for p̲_A) + α_D (for the table).

The family supplies two things (duck-typed; this module imports no family):
``shift_statistics(dim, count, rng)`` → per-sample statistics of z ∼ π0 (count, s) float64 tensor (a few
scalars per draw), and ``log_ratio(stats, radii, dim)`` → L(z) at δ* of each radius (count, R) float64.
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

from rsmooth.certify.certificate import ABSTAIN, Certificate, CertifiedRadius, VoteCounts
from rsmooth.certify.stats import clopper_pearson_lower, clopper_pearson_upper
from rsmooth.errors import ConfigError

#: bumped whenever the way a table is computed changes, so older cached tables are not reused
TABLE_VERSION = 1
#: the pilot quantile levels are 0.5 − m·MARGINS, m the base margin (see :func:`build_table`)
MARGINS = (1.0, 1.5, 2.5, 4.0)
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
    pilot_samples: int = 2 * 10**6
    alpha: float = 0.001
    radius_min: float = 0.02
    radius_max: float = 6.0
    radius_ratio: float = 1.015
    seed: int = 0
    chunk: int = 10**6

    def __post_init__(self) -> None:
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
        count = int(math.floor(math.log(self.radius_max / self.radius_min) / math.log(self.radius_ratio))) + 1
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
        return {"key": self.key, "radii": self.radii.tolist(), "p_needed": self.p_needed.tolist(),
                "build_seconds": self.build_seconds, "checks": self.checks}


def table_key(family: ShiftFamily, dim: int, settings: TableSettings) -> dict[str, Any]:
    """Everything a table depends on: the family's parameters, the dimension and the settings."""
    return {"version": TABLE_VERSION, "family": family.config(), "dim": int(dim), "settings": asdict(settings)}


def _digest(key: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:20]


def cache_dir() -> Path:
    """Where tables are cached: ``$RSMOOTH_CACHE_DIR`` or ~/.cache/rsmooth/tables."""
    env = os.environ.get(CACHE_ENV)
    return Path(env) if env else Path.home() / ".cache" / "rsmooth" / "tables"


def _base_margin(settings: TableSettings, cells: int) -> float:
    """Half-width that keeps P(L ≥ c) provably above 1/2 after the pilot's and the main sample's error.

    Main sample: a one-sided CP bound at α_D/cells sits ≈ z·½/√N below the estimate near 1/2, with
    z = √(2 ln(cells/α_D)); pilot: its quantile's level is off by ≈ ½/√N_pilot (one standard error; the
    larger margins of :data:`MARGINS` are there for the radii where the pilot erred further).
    """
    z = math.sqrt(2.0 * math.log(cells / settings.alpha))
    return z * 0.5 / math.sqrt(settings.num_samples) + 0.5 / math.sqrt(settings.pilot_samples)


def build_table(family: ShiftFamily, dim: int, settings: TableSettings) -> FunctionalTable:
    """Estimate p_needed(r) over the radius grid from N fresh draws of π0 (see the module docstring).

    Each radius costs one evaluation of L on the pilot and on the main draws (float64, CPU) and two counts.
    """
    start = time.perf_counter()
    radii = settings.radii(family.scale(dim))
    cells = 2 * len(MARGINS) * len(radii)
    level = settings.alpha / cells  # every bound of every cell, union-bounded
    base = _base_margin(settings, cells)
    levels = [0.5 - base * m for m in MARGINS]  # ascending margins: descending levels
    if not levels[-1] > 0.0:
        raise ConfigError(f"table num_samples={settings.num_samples} and pilot_samples={settings.pilot_samples} "
                          "are too few for any margin below 1/2; use more samples")
    pilot = family.shift_statistics(dim, settings.pilot_samples, np.random.default_rng([settings.seed, 1]))
    rng = np.random.default_rng([settings.seed, 2])
    chunks, remaining = [], settings.num_samples
    while remaining > 0:
        chunks.append(family.shift_statistics(dim, min(settings.chunk, remaining), rng))
        remaining -= settings.chunk
    main = torch.cat(chunks)
    del chunks
    n = settings.num_samples
    needed: list[float] = []
    for r in radii:
        radius = np.asarray([r])
        # thresholds from the pilot only (so the main sample's bounds hold for them), smallest margin first
        thresholds = np.quantile(family.log_ratio(pilot, radius, dim)[:, 0].numpy(), levels)
        log_ratio = family.log_ratio(main, radius, dim)[:, 0]
        best = math.inf
        for c in thresholds:
            slack = 1e-9 * (1.0 + abs(float(c)))  # moves each comparison against the claim it supports
            above = int(torch.count_nonzero(log_ratio >= c + slack))  # undercounts P(L ≥ c)
            if clopper_pearson_lower(above, n, level) > 0.5:
                below = int(torch.count_nonzero(log_ratio <= -c + slack))  # overcounts P(L ≤ −c)
                best = clopper_pearson_upper(below, n, level)  # a larger c gives a smaller P(L ≤ −c)
                break
        if not best < 1.0:
            break  # no p̲_A < 1 certifies r, nor (up to Monte Carlo noise) any larger radius
        needed.append(best)
    radii = radii[: len(needed)]
    p_needed = np.asarray(needed, dtype=np.float64)
    drops = int(np.count_nonzero(np.diff(p_needed) < 0)) if p_needed.size > 1 else 0
    checks = {"radii": len(needed), "decreasing_steps": drops,
              "largest_decrease": float(-np.min(np.diff(p_needed))) if drops else 0.0}
    return FunctionalTable(radii, p_needed, table_key(family, dim, settings), time.perf_counter() - start, checks)


def _signature(path: Path) -> tuple[int, int]:
    stat = path.stat()
    return stat.st_mtime_ns, stat.st_size


def load_or_build(family: ShiftFamily, dim: int, settings: TableSettings, directory: Path | None = None) -> FunctionalTable:
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
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(table.to_json()))
        os.replace(tmp, path)
        _LOADED[str(path)] = (_signature(path), FunctionalTable(table.radii, table.p_needed, key, 0.0, table.checks))
    except OSError:
        pass  # an unwritable cache only costs a rebuild next time
    return table


class FunctionalCertificate(Certificate):
    """Certified radius from the family's functional table (SPEC §3.4): the largest grid radius r with
    p_needed(r) ≤ p̲_A, p̲_A the one-sided Clopper–Pearson bound at α; total failure probability α + α_D.

    ``linf_from_l2``: the ℓ2 family read in ℓ∞ (Zhang et al., Theorem 3: the ℓ∞ ball of radius r is
    certified exactly when the ℓ2 ball of radius √d·r is), so the radius is the ℓ2 one over √d.
    """

    def __init__(self, family: ShiftFamily, norm: str, settings: TableSettings | None = None,
                 linf_from_l2: bool = False, directory: Path | None = None) -> None:
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
