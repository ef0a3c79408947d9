"""The mixed-norm ℓ∞ family π0(z) ∝ ‖z‖∞^(−k)·exp(−‖z‖₂²/2σ²) (Zhang et al. 2020, eq. (9); SPEC §2.3)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from scipy.special import erf

from rsmooth.certify.functional import FunctionalCertificate, TableSettings
from rsmooth.errors import ConfigError
from rsmooth.noise.base import BatchedAdditiveNoise, check_positive
from rsmooth.noise.blocks import draw_per_block, per_block, rejection_blocks
from rsmooth.noise.power_l2 import check_power, matched_sigma

#: cells of the piecewise-constant envelope of the density of m = ‖z‖∞
ENVELOPE_CELLS = 4096


class NormEnvelope:
    """Exact sampler of m = ‖z‖∞ under π0, density ∝ m^{−k}·φ(m/σ)·(2Φ(m/σ) − 1)^{d−1} on (0, ∞).

    Why that density: z has its largest |coordinate| m at one of d coordinates with either sign, and the
    other d − 1 coordinates in [−m, m]; π0 factorizes over coordinates once m is fixed, so
    P(‖z‖∞ ∈ dm) ∝ m^{−k}e^{−m²/2σ²}·(∫_{−m}^{m} e^{−v²/2σ²}dv)^{d−1}. (Integrable at 0 iff k < d.)

    Rejection from an envelope that is exact on every piece, so the draws follow the density exactly:
    with g = log density = −k log m − m²/2σ² + (d−1) log erf(m/σ√2),
    * on a cell [a, b] of a geometric grid, g ≤ −k log a − a²/2σ² + (d−1) log erf(b/σ√2) (each term monotone);
    * on (0, a₀]: erf(x) ≤ 2x/√π and e^{−m²/2σ²} ≤ 1 give g ≤ (d−1) log(m√(2/π)/σ) − k log m, a power
      m^{d−1−k} (drawn as a₀·U^{1/(d−k)});
    * on [M, ∞): −k log m ≤ −k log M, erf ≤ 1, m² ≥ M² + 2M(m − M) give an exponential tail of rate M/σ².
    A draw picks a piece by its envelope mass, a point in it, and is kept with probability e^{g − envelope}.
    """

    def __init__(self, sigma: float, k: float, dim: int) -> None:
        self.sigma, self.k, self.dim = float(sigma), float(k), int(dim)
        # locate the bulk: g on a wide log grid, keep where it is within 60 nats of its maximum
        probe = np.exp(np.linspace(math.log(1e-6 * sigma), math.log(50.0 * sigma), 20001))
        g = self.log_density(probe)
        keep = np.nonzero(g > g.max() - 60.0)[0]
        lo, hi = probe[max(keep[0] - 1, 0)], probe[min(keep[-1] + 1, probe.size - 1)]
        self.left_coef = (dim - 1) * math.log(math.sqrt(2 / math.pi) / sigma)  # envelope: coef + (d−1−k) log m
        # the power envelope is loose away from 0: start it where its whole mass is 60 nats below the peak;
        # geometric cells (−k log m varies by k·log(b/a) on a cell, so cells must be narrow in log m)
        a0 = min(lo, math.exp((g.max() - 60.0 - self.left_coef + math.log(dim - self.k)) / (dim - self.k)))
        left_cells = np.geomspace(a0, lo, ENVELOPE_CELLS // 4 + 1)[:-1] if a0 < lo else np.empty(0)
        edges = np.concatenate([left_cells, np.geomspace(lo, hi, ENVELOPE_CELLS + 1)])
        a, b = edges[:-1], edges[1:]
        cell_env = -self.k * np.log(a) - a * a / (2 * sigma**2) + (dim - 1) * np.log(erf(b / (sigma * math.sqrt(2))))
        self.a0, self.m_tail = float(edges[0]), float(hi)
        # log envelope masses: left power piece, the cells, the exponential tail
        left_mass = self.left_coef + (dim - self.k) * math.log(self.a0) - math.log(dim - self.k)
        rate = self.m_tail / sigma**2
        tail_mass = -self.k * math.log(self.m_tail) - self.m_tail**2 / (2 * sigma**2) - math.log(rate)
        log_mass = np.concatenate([[left_mass], cell_env + np.log(b - a), [tail_mass]])
        mass = np.exp(log_mass - log_mass.max())
        self.cdf = torch.from_numpy(np.cumsum(mass) / mass.sum())
        self.cell_lo, self.cell_hi = torch.from_numpy(a), torch.from_numpy(b)
        self.cell_env = torch.from_numpy(cell_env)
        self.rate = rate
        self._on_device: dict[torch.device, tuple[torch.Tensor, ...]] = {}

    def _tables(self, device: torch.device) -> tuple[torch.Tensor, ...]:
        """(cdf, cell_lo, cell_hi, cell_env) on ``device``, copied there once."""
        if device not in self._on_device:
            self._on_device[device] = tuple(t.to(device) for t in (self.cdf, self.cell_lo, self.cell_hi, self.cell_env))
        return self._on_device[device]

    def log_density(self, m: np.ndarray | torch.Tensor) -> Any:
        """g(m) up to a constant (numpy or torch, float64)."""
        if isinstance(m, torch.Tensor):
            e = torch.special.erf(m / (self.sigma * math.sqrt(2)))
            return -self.k * torch.log(m) - m * m / (2 * self.sigma**2) + (self.dim - 1) * torch.log(e)
        return -self.k * np.log(m) - m * m / (2 * self.sigma**2) + (self.dim - 1) * np.log(erf(m / (self.sigma * math.sqrt(2))))

    def sample(self, count: int, generator: torch.Generator | None, device: torch.device) -> torch.Tensor:
        """``count`` exact draws of m (float64 on ``device``); the generator is used in a fixed order."""
        return self.sample_blocks([count], [generator], device)

    def sample_blocks(self, sizes: Sequence[int], generators: Sequence[torch.Generator | None],
                      device: torch.device) -> torch.Tensor:
        """``sizes[b]`` draws of m from ``generators[b]`` for each block b, concatenated (float64); block b's
        values are those of :meth:`sample` with ``generators[b]`` alone (:mod:`rsmooth.noise.blocks`).
        Each round, block b's still-rejected entries draw pick, where and keep from generator b."""
        cdf, cell_lo, cell_hi, cell_env = self._tables(device)
        cells = cell_lo.numel()

        def uniform(n: int, g: torch.Generator | None) -> torch.Tensor:
            return torch.rand(n, generator=g, device=device, dtype=torch.float64)

        def propose(left: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
            pick = draw_per_block(left, generators, uniform)
            where = draw_per_block(left, generators, uniform)
            keep = draw_per_block(left, generators, uniform)
            piece = torch.searchsorted(cdf, pick, right=True).clamp_max(cells + 1)  # 0 left, 1..cells, cells+1 tail
            cell = (piece - 1).clamp(0, cells - 1)
            lo, hi = cell_lo[cell], cell_hi[cell]
            m = lo + (hi - lo) * where
            env = cell_env[cell]
            left_piece, tail = piece == 0, piece == cells + 1
            # a non-integer pow: block by block (its last bit depends on the tensor around it)
            m_left = self.a0 * per_block(where.clamp_min(1e-300), left, lambda w: w.pow(1.0 / (self.dim - self.k)))
            m_tail = self.m_tail - torch.log1p(-where) / self.rate
            m = torch.where(left_piece, m_left, torch.where(tail, m_tail, m))
            env = torch.where(left_piece, self.left_coef + (self.dim - 1 - self.k) * torch.log(m_left), env)
            env = torch.where(tail, -self.k * math.log(self.m_tail) - self.m_tail**2 / (2 * self.sigma**2)
                              - self.rate * (m_tail - self.m_tail), env)
            return m, (m > 0) & (torch.log(keep) < self.log_density(m) - env)

        return rejection_blocks(sizes, device, propose)


class MixedLinfNoise(BatchedAdditiveNoise):
    """Exact sampler (SPEC §2.3): m = ‖z‖∞ from :class:`NormEnvelope`; one coordinate, uniform, set to ±m
    (sign uniform); the other d − 1 coordinates i.i.d. N(0, σ²) truncated to [−m, m] (inverse CDF,
    z = σ√2·erfinv(erf(m/σ√2)·(2v − 1)), v uniform). All in float64, returned in float32.

    ``match_sigma0``: ``sigma`` is the Gaussian σ0, σ = √((d−1)/(d−1−k))·σ0 (Zhang et al. §5).
    Certified in ℓ∞ by :class:`~rsmooth.certify.functional.FunctionalCertificate` (worst shift δ* = (r, …, r),
    Theorem 5), from per-sample statistics (‖z‖∞, max z, min z, Σz) of one pass of d-dimensional draws.
    """

    name = "mixed_linf"

    def __init__(self, sigma: float, k: float, match_sigma0: bool = False, table: dict[str, Any] | None = None) -> None:
        self.sigma = check_positive("sigma", sigma)
        self.k = check_power(k)
        self.match_sigma0 = bool(match_sigma0)
        self.table = dict(table or {})
        self.table_settings = TableSettings(**{"num_samples": 10**6, "pilot_samples": 10**5, **self.table})
        self._envelopes: dict[int, NormEnvelope] = {}

    def _params(self) -> dict[str, Any]:
        params: dict[str, Any] = {"sigma": self.sigma, "k": self.k, "match_sigma0": self.match_sigma0}
        if self.table:
            params["table"] = self.table
        return params

    def scale(self, dim: int) -> float:
        if not self.k < dim:
            raise ConfigError(f"mixed_linf needs k < d, got k={self.k} for inputs of dimension d={dim}")
        return matched_sigma(self.sigma, self.k, dim) if self.match_sigma0 else self.sigma

    def envelope(self, dim: int) -> NormEnvelope:
        if dim not in self._envelopes:
            self._envelopes[dim] = NormEnvelope(self.scale(dim), self.k, dim)
        return self._envelopes[dim]

    def sample(self, count: int, dim: int, generator: torch.Generator | None, device: torch.device) -> torch.Tensor:
        """``count`` draws z ∼ π0 in dimension ``dim``, (count, dim) float64."""
        return self.sample_blocks([count], dim, [generator], device)

    def sample_blocks(self, sizes: Sequence[int], dim: int, generators: Sequence[torch.Generator | None],
                      device: torch.device) -> torch.Tensor:
        """``sizes[b]`` draws from ``generators[b]`` for each block b, (Σ sizes, dim) float64; block b's rows
        are :meth:`sample` with ``generators[b]`` alone. Per generator: m, then axis, sign and v."""
        sigma, total = self.scale(dim), sum(sizes)
        m = self.envelope(dim).sample_blocks(sizes, generators, device)  # (total,)
        axis = draw_per_block(sizes, generators, lambda n, g: torch.randint(0, dim, (n,), generator=g, device=device))
        sign = draw_per_block(sizes, generators, lambda n, g: torch.randint(0, 2, (n,), generator=g, device=device))
        sign = sign.to(torch.float64) * 2.0 - 1.0
        v = draw_per_block(sizes, generators,
                           lambda n, g: torch.rand((n, dim), generator=g, device=device, dtype=torch.float64))
        edge = torch.special.erf(m / (sigma * math.sqrt(2.0))).unsqueeze(1)
        # z = σ√2·erfinv(edge·(2v − 1)), in place in v (the same operations, the same bits)
        z = v.mul_(2.0).sub_(1.0).mul_(edge).erfinv_().mul_(sigma * math.sqrt(2.0))
        z = torch.clamp(z, -m.unsqueeze(1), m.unsqueeze(1), out=z)  # erfinv(±1) at a measure-zero v
        z[torch.arange(total, device=device), axis] = sign * m
        return z

    def sample_noise_blocks(self, sizes: Sequence[int], shape: tuple[int, ...],
                            generators: Sequence[torch.Generator | None], device: torch.device) -> torch.Tensor:
        return self.sample_blocks(sizes, math.prod(shape), generators, device).to(torch.float32).view(-1, *shape)

    def log_density(self, z: torch.Tensor) -> torch.Tensor:
        """log π0(z) up to a constant, for rows of z (N, d) in float64 (σ in z's dimension)."""
        return -self.k * torch.log(z.abs().amax(1)) - (z**2).sum(1) / (2.0 * self.scale(z.shape[1]) ** 2)

    # ------------------------------------------------------- the functional certificate's per-sample scalars
    def shift_statistics(self, dim: int, count: int, rng: np.random.Generator) -> torch.Tensor:
        """(‖z‖∞, max z, min z, Σz) for ``count`` draws z ∼ π0, (count, 4) float64, from d-dimensional
        draws in blocks (seeded from ``rng``)."""
        generator = torch.Generator().manual_seed(int(rng.integers(0, 2**63 - 1)))
        block = max(1, 2**22 // dim)
        parts = []
        for s in range(0, count, block):
            z = self.sample(min(block, count - s), dim, generator, torch.device("cpu"))
            parts.append(torch.stack([z.abs().amax(1), z.amax(1), z.amin(1), z.sum(1)], dim=1))
        return torch.cat(parts)

    def log_ratio(self, stats: torch.Tensor, radii: np.ndarray, dim: int) -> torch.Tensor:
        """L = log π0(z − δ*)/π0(z) at δ* = (r, …, r) for each radius, (count, R) float64:
        ‖z − r1‖∞ = max(max z − r, r − min z) and ‖z − r1‖² − ‖z‖² = −2rΣz + dr², so
        L = k·(log‖z‖∞ − log‖z − r1‖∞) + (2rΣz − dr²)/(2σ²)."""
        r = torch.as_tensor(np.asarray(radii, dtype=np.float64)).view(1, -1)
        linf, top, bottom, total = (stats[:, i : i + 1] for i in range(4))
        out = (2.0 * r * total - dim * r * r) / (2.0 * self.scale(dim) ** 2)
        if self.k:
            shifted = torch.maximum(top - r, r - bottom)
            out += self.k * (torch.log(linf) - torch.log(shifted))
        return out

    def default_certificate(self) -> FunctionalCertificate:
        return FunctionalCertificate(self, "linf", self.table_settings)
