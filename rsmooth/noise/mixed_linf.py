"""The mixed-norm ℓ∞ family π0(z) ∝ ‖z‖∞^(−k)·exp(−‖z‖₂²/2σ²) (Zhang et al. 2020, eq. (9); docs/design.md §2.3)."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from scipy.special import erf

from rsmooth.certificates.functional import FunctionalCertificate, TableSettings
from rsmooth.errors import ConfigError
from rsmooth.noise.base import AdditiveNoise, check_positive
from rsmooth.noise.blocks import draw_per_block, fill_per_block, first_accepted_blocks
from rsmooth.noise.power_l2 import check_power, matched_sigma

#: cells of the piecewise-constant envelope of the density of m = ‖z‖∞
ENVELOPE_CELLS = 4096


def alias_table(mass: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Walker's alias table (Vose's construction) for P(i) ∝ ``mass[i]``: (prob, alias), each of length K.

    Draw i = ⌊uK⌋ and keep it if the fraction uK − i < prob[i], else take alias[i]: P(i) = (prob[i] +
    Σ_{j: alias[j] = i} (1 − prob[j]))/K, which equals mass[i]/Σ mass up to float64 rounding.
    """
    count = mass.size
    scaled = mass * (count / mass.sum())
    prob, alias = np.ones(count), np.arange(count)
    small = [i for i in range(count) if scaled[i] < 1.0]
    large = [i for i in range(count) if scaled[i] >= 1.0]
    while small and large:
        s, big = small.pop(), large.pop()
        prob[s], alias[s] = scaled[s], big
        scaled[big] -= 1.0 - scaled[s]
        (small if scaled[big] < 1.0 else large).append(big)
    return prob, alias  # what is left in either list has probability 1 (rounding)


#: coordinates per piece of a row scanned for values outside [−m, m] (:func:`outside_positions`)
SCAN_WIDTH = 64


def outside_positions(z: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    """Flat positions p of ``z`` (rows, d) with |z_p| > m[row of p], ascending: what
    ``(z.abs() > m[:, None]).view(-1).nonzero()`` gives, without a mask and a ``nonzero`` over every value
    (0.64 + 0.39 ns per value on CPU, a third of the family's cost beyond ``randn``; outside values are rare,
    ~2 per row). Each row is cut into pieces of w = gcd(d, :data:`SCAN_WIDTH`) values; a piece holds an
    outside value iff its largest |value| exceeds m (max is exact, so the same set); only those pieces,
    ~2 per row of 48 at d = 3 072, are then scanned value by value. A row of one piece (d ≤ 64 and dividing
    it), or pieces of one value, filter nothing: then the plain mask (digits: 1.41 against 1.71 ns per value)."""
    rows, dim = z.shape
    width = math.gcd(dim, SCAN_WIDTH)
    per_row = dim // width
    if width == 1 or per_row == 1:
        return (z.abs() > m.unsqueeze(1)).view(-1).nonzero().squeeze(1)
    pieces = z.view(rows, per_row, width)
    hit = (pieces.abs().amax(2) > m.unsqueeze(1)).view(-1).nonzero().squeeze(1)  # row·per_row + piece, ascending
    values = pieces.view(-1, width).index_select(0, hit)  # (hits, width)
    inside_hit = (values.abs() > m.index_select(0, hit // per_row).unsqueeze(1)).view(-1).nonzero().squeeze(1)
    return hit.index_select(0, inside_hit // width) * width + inside_hit % width


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
        self.piece_mass = np.exp(log_mass - log_mass.max())
        alias_prob, alias = alias_table(self.piece_mass)
        self.alias = np.stack([alias_prob, alias.astype(np.float64)], axis=1)  # (pieces, 2): one gather per draw
        # squeeze: on a cell, g(m) − envelope ≥ −k log(b/a) − (b² − a²)/2σ² + (d−1)(log erf(a/σ√2) − log erf(b/σ√2))
        # (each term at its worst end), less a margin for rounding; a candidate with keep below e^{that} is
        # accepted without evaluating g (the same decision). The left piece and the tail: always evaluated.
        lower = (
            -self.k * np.log(b / a)
            - (b * b - a * a) / (2 * sigma**2)
            + (dim - 1) * (np.log(erf(a / (sigma * math.sqrt(2)))) - np.log(erf(b / (sigma * math.sqrt(2)))))
        )
        squeeze = np.exp(lower - 1e-9)
        # per piece: lower end, width, log envelope, squeeze (the left piece and the tail are set per draw)
        zero = np.zeros((1, 4))
        self.pieces = np.concatenate([zero, np.stack([a, b - a, cell_env, squeeze], axis=1), zero])
        self.rate = rate
        self._on_device: dict[torch.device, tuple[torch.Tensor, torch.Tensor]] = {}

    def _tables(self, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        """(alias, pieces) on ``device``, copied there once."""
        if device not in self._on_device:
            self._on_device[device] = (
                torch.from_numpy(self.alias).to(device),
                torch.from_numpy(self.pieces).to(device),
            )
        return self._on_device[device]

    def log_density(self, m: np.ndarray | torch.Tensor) -> Any:
        """g(m) up to a constant (numpy or torch, float64)."""
        if isinstance(m, torch.Tensor):
            e = torch.special.erf(m / (self.sigma * math.sqrt(2)))
            return -self.k * torch.log(m) - m * m / (2 * self.sigma**2) + (self.dim - 1) * torch.log(e)
        return (
            -self.k * np.log(m)
            - m * m / (2 * self.sigma**2)
            + (self.dim - 1) * np.log(erf(m / (self.sigma * math.sqrt(2))))
        )

    def sample(self, count: int, generator: torch.Generator | None, device: torch.device) -> torch.Tensor:
        """``count`` exact draws of m (float64 on ``device``); the generator is used in a fixed order."""
        return self.sample_blocks([count], [generator], device)

    def sample_blocks(
        self, sizes: Sequence[int], generators: Sequence[torch.Generator | None], device: torch.device
    ) -> torch.Tensor:
        """``sizes[b]`` draws of m from ``generators[b]`` for each block b, concatenated (float64); block b's
        values are those of :meth:`sample` with ``generators[b]`` alone (:mod:`rsmooth.noise.blocks`).

        A candidate is a triple of uniforms (pick, where, keep) from one call: the piece from pick by the
        alias method (O(1); a binary search over the 4 000-odd pieces cost 45 ns per candidate in
        mispredicted branches), m uniform in the piece from where, kept when log keep < g(m) − envelope; g
        is evaluated only where keep is above the piece's squeeze (2–6 % of candidates at the usual k).
        A round proposes ``need + need/16 + 16`` candidates per block (acceptance is 0.97–0.99 at the usual
        k, 0.6–0.8 with k near d or k in the thousands) and keeps the first ``need`` accepted: one round
        almost always."""
        alias, pieces = self._tables(device)
        count = pieces.shape[0]  # left piece, the cells, the tail
        tail_const = -self.k * math.log(self.m_tail) - self.m_tail**2 / (2 * self.sigma**2)

        def propose(counts: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
            u = torch.empty(sum(counts), 3, dtype=torch.float64, device=device)
            row = 0
            for n, g in zip(counts, generators, strict=True):
                if n:
                    torch.rand(n, 3, generator=g, dtype=torch.float64, device=device, out=u[row : row + n])
                    row += n
            pick, where, keep = u.unbind(1)
            scaled = pick * count
            column = scaled.long().clamp_max_(count - 1)  # pick·count may round up to count
            prob, other = alias.index_select(0, column).unbind(1)  # index_select: ~3× advanced indexing's speed
            piece = torch.where(scaled - column < prob, column, other.long())
            lo, width, env, squeeze = pieces.index_select(0, piece).unbind(1)
            m = lo + width * where
            accepted = keep < squeeze
            check = (~accepted).nonzero().squeeze(1)  # the exact test, where the squeeze cannot decide
            w, p, m_check, env_check = (t.index_select(0, check) for t in (where, piece, m, env))
            # the left piece (m = a₀·w^{1/(d−k)}, as exp∘log: element-wise exact, unlike a non-integer pow) and
            # the tail (m = M + Exp(rate)) lie 60 nats below the peak: ~never picked
            left, tail = p == 0, p == count - 1
            m_left = self.a0 * torch.exp(torch.log(w) / (self.dim - self.k))
            m_tail = self.m_tail - torch.log1p(-w) / self.rate
            m_check = torch.where(left, m_left, torch.where(tail, m_tail, m_check))
            env_check = torch.where(
                left,
                self.left_coef + (self.dim - 1 - self.k) * torch.log(m_left),
                torch.where(tail, tail_const - self.rate * (m_tail - self.m_tail), env_check),
            )
            m.index_copy_(0, check, m_check)
            exact = (m_check > 0) & (torch.log(keep.index_select(0, check)) < self.log_density(m_check) - env_check)
            accepted.index_copy_(0, check, exact)
            return m, accepted

        return first_accepted_blocks(sizes, device, propose, extra=lambda need: need // 16 + 16)


class MixedLinfNoise(AdditiveNoise):
    """Exact sampler (docs/design.md §2.3): m = ‖z‖∞ from :class:`NormEnvelope`; one coordinate, uniform, set to ±m
    (sign uniform); the other d − 1 coordinates i.i.d. N(0, σ²) truncated to [−m, m] (:meth:`sample_blocks`).
    m in float64; the noise, like every family's, in float32.

    ``match_sigma0``: ``sigma`` is the Gaussian σ0, σ = √((d−1)/(d−1−k))·σ0 (Zhang et al. §5).
    Certified in ℓ∞ by :class:`~rsmooth.certificates.functional.FunctionalCertificate` (worst shift δ* = (r, …, r),
    Theorem 5), from per-sample statistics (‖z‖∞, max z, min z, Σz) of one pass of d-dimensional draws.
    """

    name = "mixed_linf"
    stream_revision = 2  # 2026-11-30: float32 coordinates, one-round envelope (was float64 inverse CDF)

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
        """``count`` draws z ∼ π0 in dimension ``dim``, (count, dim) float32."""
        return self.sample_blocks([count], dim, [generator], device)

    def sample_blocks(
        self,
        sizes: Sequence[int],
        dim: int,
        generators: Sequence[torch.Generator | None],
        device: torch.device,
        out: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """``sizes[b]`` draws from ``generators[b]`` for each block b, (Σ sizes, dim) float32, written into
        ``out`` when given (the engine's buffer: no temporary to allocate); block b's rows
        are :meth:`sample` with ``generators[b]`` alone. Per generator, in order: m (float64 rejection,
        :class:`NormEnvelope`), the signed axis, the Gaussian coordinates, then the inverse-CDF redraws.

        Given m, each coordinate off the axis is N(0, σ²) truncated to [−m, m]. It is drawn as σ·randn in
        float32 (2.4 ns per value on CPU, against 7 ns for a float64 uniform and erfinv); a value outside
        [−m, m] (a few per row: 2.4 per digits row at σ = 0.25, k = 8) is redrawn once, by inverse CDF in float64,
        z = σ√2·erfinv(erf(m/σ√2)·(2v − 1)). The result is exactly the truncated law: a first draw is kept
        only when inside, and then it is distributed as the truncated normal; a redraw always is. (Redrawing
        by inverse CDF, not rejection again, bounds the rounds when m ≪ σ.) The axis coordinate is ±m
        rounded to float32, and every other coordinate lies inside it.
        """
        sigma, total = self.scale(dim), sum(sizes)
        m = self.envelope(dim).sample_blocks(sizes, generators, device)  # (total,) float64
        # one uniform integer in [0, 2d) per row: the axis (r mod d) and the sign (r div d), independent
        signed_axis = draw_per_block(
            sizes, generators, lambda n, g: torch.randint(0, 2 * dim, (n,), generator=g, device=device)
        )
        z = torch.empty(total, dim, dtype=torch.float32, device=device) if out is None else out
        fill_per_block(z, sizes, generators, torch.randn)
        z.mul_(sigma)
        m32 = m.to(torch.float32)
        sign = (signed_axis // dim).to(torch.float32).mul_(2.0).sub_(1.0)
        z.view(-1).index_copy_(0, torch.arange(0, total * dim, dim, device=device) + signed_axis % dim, sign * m32)
        outside = outside_positions(z, m32)  # flat positions, in block order
        if outside.numel():
            # block b's positions are those below its last row's end: counts without a gather
            ends = torch.tensor(list(itertools.accumulate(sizes)), device=device) * dim
            counts = torch.diff(torch.searchsorted(outside, ends), prepend=ends.new_zeros(1)).tolist()
            v = draw_per_block(
                counts, generators, lambda n, g: torch.rand(n, generator=g, dtype=torch.float64, device=device)
            )
            per_row = torch.stack([torch.special.erf(m / (sigma * math.sqrt(2.0))), m], dim=1)  # one gather for both
            edge, bound = per_row.index_select(0, outside // dim).unbind(1)
            redraw = v.mul_(2.0).sub_(1.0).mul_(edge).erfinv_().mul_(sigma * math.sqrt(2.0))
            redraw = torch.minimum(torch.maximum(redraw, -bound), bound)  # erfinv(±1) at a measure-zero v
            z.view(-1).index_copy_(0, outside, redraw.to(torch.float32))
        return z

    def noise_blocks_into(
        self, out: torch.Tensor, sizes: Sequence[int], generators: Sequence[torch.Generator | None]
    ) -> None:
        self.sample_blocks(sizes, out[0].numel(), generators, out.device, out=out.view(out.shape[0], -1))

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
            z = self.sample(min(block, count - s), dim, generator, torch.device("cpu")).double()
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
