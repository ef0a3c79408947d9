"""The sampling loop: the base classifier's votes on noisy copies, with per-example randomness.

Randomness scheme (SPEC §3.1). The noisy copies of input ``id`` in phase ``phase`` under seed
``seed`` come in blocks of :data:`BLOCK_SIZE`; block b is drawn by the family's ``perturb`` from a
fresh generator seeded with ``block_seed(seed, id, phase, b)``. An input's votes therefore depend
on (seed, id, phase, n) only: not on the batch size, on which inputs share a batch, on where a
run was resumed, on the rank that certifies it, or on the CPU thread count. (CPU and CUDA
generators differ, so the device type is part of a run's provenance; and a base network whose
logits change with the batch composition, e.g. a different convolution algorithm per batch size,
can still flip a near-tie vote.)

Votes are accumulated on the device; the caller makes one host transfer per call.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from enum import IntEnum

import torch
from torch import nn

from rsmooth.errors import ConfigError
from rsmooth.noise.base import NoiseFamily

#: samples per independently seeded block of noise
BLOCK_SIZE = 256
#: recorded in result files: a change here changes every count
RNG_SCHEME = f"block{BLOCK_SIZE}-splitmix64-torch.Generator-v1"

_MASK64 = (1 << 64) - 1


class Phase(IntEnum):
    """Which samples of an input a block belongs to (selection and estimation never share one)."""

    SELECTION = 0
    ESTIMATION = 1
    PREDICTION = 2


def _splitmix64(x: int) -> int:
    x = (x + 0x9E3779B97F4A7C15) & _MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK64
    return x ^ (x >> 31)


def block_seed(seed: int, example_id: int, phase: int, block: int) -> int:
    """A 64-bit generator seed that depends on (seed, id, phase, block) only (splitmix64 chain)."""
    h = 0x2545F4914F6CDD1D
    for part in (seed, example_id, phase, block):
        h = _splitmix64(h ^ (int(part) & _MASK64))
    return h


class VoteCounter:
    """Counts the votes of ``base`` (in eval mode, under ``torch.inference_mode``) on noisy copies.

    Inputs are (m, C, H, W) in [0, 1], already validated. Forward batches hold ``batch_size``
    samples, laid out input-major, so one batch may hold copies of several inputs. The noise is
    drawn and added in float32 outside autocast; only the forward pass may run in ``autocast_dtype``.
    """

    def __init__(
        self,
        base: nn.Module,
        noise: NoiseFamily,
        num_classes: int,
        seed: int = 0,
        autocast_dtype: torch.dtype | None = None,
    ) -> None:
        self.base, self.noise, self.num_classes = base, noise, num_classes
        self.seed, self.autocast_dtype = seed, autocast_dtype

    def device(self) -> torch.device:
        for t in (*self.base.parameters(), *self.base.buffers()):
            return t.device
        return torch.device("cpu")

    # ------------------------------------------------------------------ batches of noisy copies
    def _random_batches(
        self, xs: torch.Tensor, num: int, phase: Phase, ids: Sequence[int], batch_size: int, start: int = 0
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """(owner (b,), noisy (b, C, H, W)) batches: copies ``start`` … ``start + num − 1`` of each input's
        stream, seeded per block (``start`` is a multiple of :data:`BLOCK_SIZE`)."""
        device, shape = xs.device, xs.shape[1:]
        owners: list[torch.Tensor] = []
        pieces: list[torch.Tensor] = []
        pending = 0
        first = start // BLOCK_SIZE
        for i, example_id in enumerate(ids):
            for block, offset in enumerate(range(0, num, BLOCK_SIZE), start=first):
                size = min(BLOCK_SIZE, num - offset)
                gen = torch.Generator(device=device)
                gen.manual_seed(block_seed(self.seed, example_id, phase, block))
                pieces.append(self.noise.perturb(xs[i].expand(size, *shape), generator=gen))
                owners.append(torch.full((size,), i, dtype=torch.int64, device=device))
                pending += size
                while pending >= batch_size:
                    owner, noisy, owners, pieces = _take(owners, pieces, batch_size)
                    pending -= batch_size
                    yield owner, noisy
        if pending:
            yield _take(owners, pieces, pending)[:2]

    def _draw_batches(self, xs: torch.Tensor, num_draws: int, batch_size: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """(owner, noisy) batches holding every draw j = 0 … L−1 of every input exactly once."""
        device = xs.device
        for start in range(0, xs.shape[0] * num_draws, batch_size):
            flat = torch.arange(start, min(start + batch_size, xs.shape[0] * num_draws), device=device)
            owner = flat // num_draws
            yield owner, self.noise.perturb_draws(xs[owner], flat % num_draws, check=False)

    # ------------------------------------------------------------------ counting
    def count(
        self, xs: torch.Tensor, num: int, phase: Phase, ids: Sequence[int], batch_size: int, progress: bool = False,
        start: int = 0,
    ) -> torch.Tensor:
        """Votes (m, num_classes) int64, on the device, of ``num`` random noisy copies per input.

        ``start`` (a multiple of :data:`BLOCK_SIZE`) continues each input's stream after its first
        ``start`` copies: counting [0, a) then [a, b) gives exactly the votes of [0, b) (sequential mode).
        """
        if start % BLOCK_SIZE:
            raise ValueError(f"start must be a multiple of BLOCK_SIZE={BLOCK_SIZE}, got {start}")
        xs = xs.to(device=self.device(), dtype=torch.float32)
        total = -(-xs.shape[0] * num // batch_size)
        return self._count(self._random_batches(xs, num, phase, ids, batch_size, start), xs.shape[0], total, progress)

    def count_draws(self, xs: torch.Tensor, batch_size: int, progress: bool = False) -> torch.Tensor:
        """Votes (m, num_classes) over every one of the family's L equally likely draws (exact)."""
        num_draws = self.noise.num_draws()
        if num_draws is None:
            raise TypeError(f"{type(self.noise).__name__} has no finite set of draws to enumerate")
        xs = xs.to(device=self.device(), dtype=torch.float32)
        total = -(-xs.shape[0] * num_draws // batch_size)
        return self._count(self._draw_batches(xs, num_draws, batch_size), xs.shape[0], total, progress)

    def _count(
        self, batches: Iterator[tuple[torch.Tensor, torch.Tensor]], m: int, total: int, progress: bool
    ) -> torch.Tensor:
        k = self.num_classes
        device = self.device()
        counts = torch.zeros(m * k, dtype=torch.int64, device=device)
        if progress:
            from tqdm.auto import tqdm

            batches = iter(tqdm(batches, total=total, desc="sampling", leave=False))
        was_training = self.base.training
        self.base.eval()
        try:
            with torch.inference_mode():
                for owner, noisy in batches:
                    try:
                        with self._autocast(device):
                            logits = self.base(noisy)
                    except RuntimeError as err:  # e.g. 3 channels into a 1-channel network: name the shapes
                        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
                        raise ConfigError(f"the base classifier cannot classify inputs of shape "
                                          f"{tuple(noisy.shape[1:])} (a batch of {noisy.shape[0]}): {first}") from err
                    if logits.ndim != 2 or logits.shape[1] != k:
                        raise ValueError(f"base classifier returned shape {tuple(logits.shape)}, expected (batch, {k})")
                    # index_add_ (not bincount): no host sync on CUDA
                    counts.index_add_(0, owner * k + logits.argmax(dim=1), torch.ones_like(owner))
        finally:
            self.base.train(was_training)
        return counts.view(m, k)

    def _autocast(self, device: torch.device) -> contextlib.AbstractContextManager[None]:
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=device.type, dtype=self.autocast_dtype)


def _take(
    owners: list[torch.Tensor], pieces: list[torch.Tensor], k: int
) -> tuple[torch.Tensor, torch.Tensor, list[torch.Tensor], list[torch.Tensor]]:
    """The first k pending samples as one batch, and what is left (as one piece)."""
    owner = owners[0] if len(owners) == 1 else torch.cat(owners)
    noisy = pieces[0] if len(pieces) == 1 else torch.cat(pieces)
    rest_o, rest_n = owner[k:], noisy[k:]
    left = ([rest_o], [rest_n]) if rest_o.numel() else ([], [])
    return owner[:k], noisy[:k], left[0], left[1]
