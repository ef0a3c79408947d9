"""Splitting noise for ℓ1: randomized (SSN) and derandomized, exact (DSSN) (Levine & Feizi 2021).

For each coordinate a split point s_i ∈ [0, 2λ) cuts [0, 1] at s_i + 2λn (n ∈ ℕ);
the noisy value is the midpoint of the piece that holds x_i (paper eqs. 27–28,
docs/design.md §2.6):

    hi = min(2λ·ceil((x_i − s_i)/(2λ)) + s_i, 1)
    lo = max(2λ·ceil((x_i − s_i)/(2λ) − 1) + s_i, 0)
    x̃_i = (hi + lo)/2

Whatever the joint law of s, if each s_i is uniform then every smoothed class
probability is 1/(2λ)-Lipschitz in ℓ1 (Theorem 2 / Corollary 1, general case).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from rsmooth.certificates.exact_splitting import ExactSplittingCertificate
from rsmooth.errors import CheckpointError, ConfigError
from rsmooth.noise.base import EnumerableNoise
from rsmooth.noise.blocks import block_runs, fill_per_block, input_runs
from rsmooth.noise.uniform_l1 import LipschitzL1Noise

#: values per run of blocks whose arithmetic runs at once (2 MiB of float32: the temporaries stay in cache)
SPLIT_RUN_VALUES = 2**19


def split_midpoint(x: torch.Tensor, s: torch.Tensor, two_lambda: float) -> torch.Tensor:
    """The splitting transform (eqs. 27–28) in floating point: x, s broadcastable, s ∈ [0, 2λ)."""
    k = torch.ceil((x - s) / two_lambda)
    hi = torch.clamp(two_lambda * k + s, max=1.0)
    lo = torch.clamp(two_lambda * (k - 1) + s, min=0.0)
    return (hi + lo) / 2


class SplittingNoise(LipschitzL1Noise):
    """SSN: independent split points s_i ~ Uniform(0, 2λ), λ = √3·σ (any λ > 0, λ < 0.5 included).

    Certificate (Theorem 2, general case; docs/design.md §3.3): R = λ(p̲_A − p̄_B) = 2λ(p̲_A − 1/2) in ℓ1.
    """

    name = "ssn"

    def perturb(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        x = x.float()
        s = torch.rand(x.shape, generator=generator, device=x.device, dtype=torch.float32) * (2 * self.lam)
        return split_midpoint(x, s, 2 * self.lam)

    def perturb_into(self, x: torch.Tensor, out: torch.Tensor, generator: torch.Generator | None = None) -> None:
        """:meth:`perturb` of ``x`` (C, H, W) expanded to ``out``'s rows, written into ``out`` (one block)."""
        self.perturb_blocks_into([x], out, [out.shape[0]], [generator])

    def perturb_blocks_into(
        self,
        xs: Sequence[torch.Tensor],
        out: torch.Tensor,
        sizes: Sequence[int],
        generators: Sequence[torch.Generator | None],
    ) -> None:
        """:meth:`perturb` of each block, in place: the same operations in the same order, so the same bits,
        with two temporaries instead of eight. Only the draws run block by block (each block's s from its own
        generator), and x − s once per run of an input's blocks (:func:`~rsmooth.noise.blocks.input_runs`);
        the rest is element-wise and runs once over a run of blocks of up to :data:`SPLIT_RUN_VALUES` values
        (:mod:`rsmooth.noise.blocks`): on digits, ten small ops per 256-row block cost as much as the draw,
        while at 3×32×32 ops over 6 MB temporaries would leave the cache."""
        row_values = max(1, out[0].numel())
        for first, end, row in block_runs(sizes, row_values, SPLIT_RUN_VALUES):
            rows = sum(sizes[first:end])
            self._split_run_into(xs[first:end], out[row : row + rows], sizes[first:end], generators[first:end])

    def _split_run_into(
        self,
        xs: Sequence[torch.Tensor],
        out: torch.Tensor,
        sizes: Sequence[int],
        generators: Sequence[torch.Generator | None],
    ) -> None:
        """One run of blocks (:meth:`perturb_blocks_into`): s drawn per block, then eqs. 27–28 in place."""
        two_lambda = 2 * self.lam
        fill_per_block(out, sizes, generators, torch.rand)
        s = out.mul_(two_lambda)  # s ~ U[0, 2λ)
        k = torch.empty_like(out)
        for x, row, rows in input_runs(xs, sizes):
            torch.sub(x.float(), s[row : row + rows], out=k[row : row + rows])  # x − s, once per run of x's blocks
        k.div_(two_lambda).ceil_()  # ceil((x − s)/2λ)
        hi = torch.mul(k, two_lambda).add_(s).clamp_(max=1.0)  # min(2λk + s, 1)
        lo = k.sub_(1).mul_(two_lambda).add_(s).clamp_(min=0.0)  # max(2λ(k − 1) + s, 0)
        torch.add(hi, lo, out=out).div_(2)


def quantization_error(x: torch.Tensor, q: int) -> float:
    """max |x·q − round(x·q)|: 0 (up to float error) when x lies on {0, 1/q, …, 1}."""
    xq = x.double() * q
    return float((xq - torch.round(xq)).abs().max()) if x.numel() else 0.0


class DeterministicSplittingNoise(EnumerableNoise, LipschitzL1Noise):
    """DSSN (Levine & Feizi 2021, §4.1 and Corollary 1): exact ℓ1 certificates on q-quantized inputs.

    L = floor(2λq) split positions (λ = √3·σ; the effective λ is L/(2q)). A fixed offset
    vector v ∈ {0, …, L−1}^d is drawn once from ``seed`` (NumPy PCG64, stable across
    versions) and stored in checkpoints; draw j = 0 … L−1 splits coordinate i at
    s_i(j) = (((v_i + j) mod L) + 0.5)/q, so each s_i(j) is exactly uniform on the L
    half-steps. g(x) is computed exactly from the L votes; with c_A the top count
    (smallest index on ties) and c_B the runner-up (smallest index among equals),
    g(x + δ) = g(x) for every quantized δ with ‖δ‖₁ ≤ t*/q,
    t* = floor((c_A − c_B − 1[B < A])/2) (docs/design.md §3.3). No failure probability.
    """

    name = "dssn"
    must_match_training = True

    def __init__(self, sigma: float, q: int, seed: int = 0) -> None:
        LipschitzL1Noise.__init__(self, sigma)
        if isinstance(q, bool) or not isinstance(q, int) or q < 1:
            raise ConfigError(f"q (the number of quantization levels) must be an integer >= 1, got {q!r}")
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ConfigError(f"seed must be an integer >= 0, got {seed!r}")
        self.q, self.seed = q, seed
        self.L = math.floor(2 * math.sqrt(3.0) * self.sigma * q)
        if self.L < 1:
            raise ConfigError(
                f"sigma={sigma} is too small for q={q}: DSSN needs L = floor(2*sqrt(3)*sigma*q) >= 1 split positions"
            )
        self.lam = self.L / (2 * q)  # effective λ: the radius formulas of LipschitzL1Noise use it
        self._offsets: dict[int, torch.Tensor] = {}
        self._device_offsets: dict[tuple[int, str], torch.Tensor] = {}  # (dim, device) → int32 copy
        self._tables: dict[str, torch.Tensor] = {}  # device → midpoint_table

    def _params(self) -> dict[str, Any]:
        return {"sigma": self.sigma, "q": self.q, "seed": self.seed}

    # ---------------------------------------------------------------- offsets
    def offsets(self, dim: int) -> torch.Tensor:
        """v ∈ {0, …, L−1}^dim (int64, CPU): fixed by the seed, or as loaded from a checkpoint."""
        if dim not in self._offsets:
            rng = np.random.default_rng(self.seed)
            self._offsets[dim] = torch.from_numpy(rng.integers(0, self.L, size=dim, dtype=np.int64))
        return self._offsets[dim]

    def split_indices(self, dim: int) -> torch.Tensor:
        """(L, dim) table of m_i(j) = (v_i + j) mod L; s_i(j) = (m_i(j) + 0.5)/q."""
        return (self.offsets(dim).unsqueeze(0) + torch.arange(self.L).unsqueeze(1)) % self.L

    def state(self) -> dict[str, Any]:
        return {
            "sigma": self.sigma,
            "q": self.q,
            "seed": self.seed,
            "L": self.L,
            "offsets": {str(d): v.tolist() for d, v in self._offsets.items()},
        }

    def load_state(self, state: dict[str, Any]) -> None:
        mine = {"sigma": self.sigma, "q": self.q, "seed": self.seed, "L": self.L}
        theirs = {k: state.get(k) for k in mine}
        if theirs != mine:
            raise CheckpointError(f"DSSN state in the checkpoint {theirs} does not match this noise {mine}")
        for d, v in state.get("offsets", {}).items():
            vec = torch.tensor(v, dtype=torch.int64)
            if vec.numel() != int(d) or (vec.numel() and (int(vec.min()) < 0 or int(vec.max()) >= self.L)):
                raise CheckpointError(f"DSSN offsets for d={d} in the checkpoint are not in {{0..{self.L - 1}}}^{d}")
            self._offsets[int(d)] = vec
        self._device_offsets.clear()

    # ---------------------------------------------------------------- sampling
    def check_input(self, x: torch.Tensor) -> None:
        err = quantization_error(x, self.q)
        if err > 1e-3:
            raise ConfigError(
                f"DSSN needs inputs quantized to q={self.q} levels (values in {{0, 1/q, ..., 1}}); "
                f"got values up to {err:.3g}/q off the grid"
            )

    def num_draws(self) -> int:
        return self.L

    def perturb_draws(self, x: torch.Tensor, draws: torch.Tensor, check: bool = True) -> torch.Tensor:
        """The splitting transform of x (B, C, H, W) for draws j (B,), in exact integer arithmetic.

        With a = x·q, m = (v + j) mod L and k = ceil((a − m − 1/2)/L) = ⌊(a − m − 1)/L⌋ + 1,
        hi = min(kL + m + 1/2, q)/q and lo = max((k−1)L + m + 1/2, 0)/q, so
        x̃ = (min(2kL + 2m + 1, 2q) + max(2(k−1)L + 2m + 1, 0)) / (4q): a function of a and v + j alone,
        read from a table (:meth:`midpoint_table`) at a·W + v + j. int32 indices, the table and the
        offsets cached on x's device: no float64/int64 copy of the batch, no host transfer.
        """
        if check:
            self.check_input(x)
        return self._lookup(self._row_starts(x), draws).view(x.shape)

    def perturb_draws_of(self, xs: torch.Tensor, owner: torch.Tensor, draws: torch.Tensor) -> torch.Tensor:
        # a·W + v once per input, then gathered per copy
        return self._lookup(self._row_starts(xs).index_select(0, owner), draws).view(owner.shape[0], *xs.shape[1:])

    def _row_starts(self, x: torch.Tensor) -> torch.Tensor:
        """a·W + v per coordinate, (B, d) int32, with a = round(x·q) clamped to the grid {0, …, q}
        (x·q of a grid value k/q is within float32 rounding of k, so round() recovers k exactly)."""
        a = torch.round(x.float().contiguous() * self.q).clamp_(0, self.q).to(torch.int32).view(x.shape[0], -1)
        return a.mul_(2 * self.L - 1).add_(self.device_offsets(a.shape[1], x.device).view(1, -1))

    def _lookup(self, starts: torch.Tensor, draws: torch.Tensor) -> torch.Tensor:
        """x̃ for the row starts a·W + v (B, d) int32 (consumed) and draws j (B,), flat (B·d,) float32."""
        j = draws.to(device=starts.device, dtype=torch.int32).view(-1, 1)
        return self.midpoint_table(starts.device).index_select(0, starts.add_(j).view(-1))

    def midpoint_table(self, device: torch.device) -> torch.Tensor:
        """x̃ for every level a ∈ {0, …, q} and every v + j ∈ {0, …, 2L − 2} (so no remainder per element:
        the table repeats with period L along v + j), flat ((q + 1)·W,) float32 at a·W + v + j, W = 2L − 1;
        cached per device.

        With m = (v + j) mod L and r = (a − m − 1) mod L, so that kL = a − m − 1 − r + L: 2kL + 2m + 1 =
        b + 2L − 1 and 2(k−1)L + 2m + 1 = b − 1 for b = 2(a − r); exact in int32 (every value is at most
        2q + 2L in size).
        """
        cached = self._tables.get(str(device))
        if cached is None:
            a = torch.arange(self.q + 1, dtype=torch.int32).view(-1, 1)
            shifted = torch.arange(2 * self.L - 1, dtype=torch.int32).view(1, -1)  # v + j
            twice = 2 * (a - torch.remainder(a - 1 - shifted, self.L))
            hi = (twice + (2 * self.L - 1)).clamp(max=2 * self.q)
            lo = (twice - 1).clamp(min=0)
            cached = (hi + lo).float().div_(4 * self.q).flatten().to(device)
            self._tables[str(device)] = cached
        return cached

    def device_offsets(self, dim: int, device: torch.device) -> torch.Tensor:
        """:meth:`offsets` as int32 on ``device``, copied there once."""
        key = (dim, str(device))
        cached = self._device_offsets.get(key)
        if cached is None:
            cached = self.offsets(dim).to(device=device, dtype=torch.int32)
            self._device_offsets[key] = cached
        return cached

    # ---------------------------------------------------------------- certificates
    def default_certificate(self) -> ExactSplittingCertificate:  # type: ignore[override]  # its own certificates only (list is invariant)
        return ExactSplittingCertificate(self.L, self.q)

    def certificates(self) -> list[ExactSplittingCertificate]:  # type: ignore[override]  # its own certificates only (list is invariant)
        return [self.default_certificate()]
