"""Several independently seeded blocks of draws at once, bit for bit as one at a time.

The sampling engine seeds a generator per block of noisy copies (``rsmooth.smoothing.sampling``), so a
block's values never depend on which other blocks are drawn with it. A sampler that runs many small
ops per block (a rejection loop) spends its time in Python, not in the kernels; drawing B blocks
together shares that cost: every *random* draw is still made block by block, from the block's own
generator, in the block's own order, and only the arithmetic on the draws runs once over all blocks.

That is exact only for element-wise arithmetic whose result for an element does not depend on the
tensor around it. In torch 2.14 on CPU this holds for +, −, ×, ÷, sqrt, exp, log, log1p, erf, erfinv,
comparisons and ``where``, but not for ``pow`` with a non-integer exponent (its vectorized and scalar
paths differ in the last bit), nor for reductions whose summation order may follow the tensor's size
(``norm``): those are applied block by block (:func:`per_block`).
``tests/unit/test_noise_blocks.py`` checks every batched sampler against one block at a time.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Sequence

import torch


def draw_per_block(
    sizes: Sequence[int],
    generators: Sequence[torch.Generator | None],
    draw: Callable[[int, torch.Generator | None], torch.Tensor],
) -> torch.Tensor:
    """``draw(n_b, generator_b)`` for every block with n_b > 0, concatenated along dim 0 in block order
    (an empty draw when every n_b is 0)."""
    parts = [draw(n, g) for n, g in zip(sizes, generators, strict=True) if n] or [draw(0, generators[0])]
    return parts[0] if len(parts) == 1 else torch.cat(parts)


def fill_per_block(
    out: torch.Tensor,
    sizes: Sequence[int],
    generators: Sequence[torch.Generator | None],
    draw: Callable[..., torch.Tensor],
) -> None:
    """Fill each block's rows of ``out`` (its first dim split by ``sizes``), in block order, with
    ``draw(rows.shape, generator=generator_b, out=rows)`` (``torch.rand`` or ``torch.randn``): a block's
    draws written straight into its rows, the same values as drawing that shape alone."""
    row = 0
    for n, g in zip(sizes, generators, strict=True):
        if n:
            draw(out[row : row + n].shape, generator=g, out=out[row : row + n])
            row += n


def block_runs(sizes: Sequence[int], row_values: int, max_values: int) -> Iterator[tuple[int, int, int]]:
    """(first block, end block, first row) of consecutive runs of blocks holding at most ``max_values``
    values each (``row_values`` per row; a bigger block is a run of its own), in block order: arithmetic
    run over a cache-sized run at a time rather than over every block at once, which streams each
    temporary through memory once per op."""
    first, row, values = 0, 0, 0
    for b, n in enumerate(sizes):
        if b > first and values + n * row_values > max_values:
            yield first, b, row
            row += sum(sizes[first:b])
            first, values = b, 0
        values += n * row_values
    if first < len(sizes):
        yield first, len(sizes), row


def input_runs(xs: Sequence[torch.Tensor], sizes: Sequence[int]) -> Iterator[tuple[torch.Tensor, int, int]]:
    """(x, first row, rows) for each run of consecutive blocks whose inputs are the same tensor (same memory,
    shape, strides and dtype: the same values), in block order, skipping empty blocks. An input's blocks are
    consecutive in the engine's chunks (up to 40 per digits input at n = 10 000), so adding x once per run
    rather than once per block saves a small op per block."""
    run: tuple[torch.Tensor, int, int] | None = None
    row = 0
    for x, n in zip(xs, sizes, strict=True):
        if n:
            if run is not None and _same_tensor(run[0], x):
                run = (run[0], run[1], run[2] + n)
            else:
                if run is not None:
                    yield run
                run = (x, row, n)
            row += n
    if run is not None:
        yield run


def _same_tensor(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Whether ``a`` and ``b`` are views of the same memory with the same layout, so hold the same values."""
    return a is b or (
        a.data_ptr() == b.data_ptr()
        and a.shape == b.shape
        and a.stride() == b.stride()
        and a.dtype == b.dtype
        and a.device == b.device
    )


def per_block(values: torch.Tensor, sizes: Sequence[int], op: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
    """``op`` applied to each block's rows of ``values`` on their own (as if drawn alone), concatenated."""
    if len(sizes) == 1:
        return op(values)
    return torch.cat([op(part) for part in torch.split(values, list(sizes))])


def rejection_blocks(
    sizes: Sequence[int], device: torch.device, propose: Callable[[list[int]], tuple[torch.Tensor, torch.Tensor]]
) -> torch.Tensor:
    """Rejection sampling of ``sizes[b]`` float64 values per block b, concatenated in block order.

    Each round, ``propose(left)`` draws candidates for the ``left[b]`` still-missing values of each block
    (block b's from its own generator) and returns (candidates, accepted), both of length Σ left, in block
    order; accepted candidates fill their places, the others are proposed again next round. A block's
    values are thus those of sampling it alone, whatever other blocks share the rounds.
    """
    total = sum(sizes)
    out = torch.empty(total, dtype=torch.float64, device=device)
    block_of = torch.repeat_interleave(
        torch.arange(len(sizes), device=device), torch.tensor(list(sizes), device=device)
    )
    todo = torch.arange(total, device=device)
    left = list(sizes)
    while todo.numel() > 0:
        candidates, accepted = propose(left)
        out[todo[accepted]] = candidates[accepted]
        todo = todo[~accepted]
        left = [todo.numel()] if len(sizes) == 1 else torch.bincount(block_of[todo], minlength=len(sizes)).tolist()
    return out


def first_accepted_blocks(
    sizes: Sequence[int],
    device: torch.device,
    propose: Callable[[list[int]], tuple[torch.Tensor, torch.Tensor]],
    extra: Callable[[int], int],
) -> torch.Tensor:
    """Rejection sampling that proposes more than it needs: ``sizes[b]`` float64 values per block b.

    Each round, a block still missing ``need`` values has ``need + extra(need)`` candidates proposed
    (``propose(counts)``: block b's from its own generator, in block order; returns candidates and their
    accepted mask) and keeps the first ``need`` accepted ones, in proposal order. The kept values are
    i.i.d. draws of the target law (the accepted candidates of a rejection sampler are, and which ones are
    kept depends on their order only), and a block's values are those of sampling it alone. With ``extra``
    above the expected rejections most calls take one round: each round costs ~40 small ops, whatever its
    size, so a second round for a handful of values used to cost as much as the first.
    """
    blocks = len(sizes)
    out = torch.empty(sum(sizes), dtype=torch.float64, device=device)
    need, filled = list(sizes), [0] * blocks
    starts = [0, *itertools.accumulate(sizes)][:-1]  # each block's first row in ``out``
    while any(need):
        counts = [n + extra(n) if n else 0 for n in need]
        candidates, accepted = propose(counts)
        hits = accepted.nonzero().squeeze(1)  # accepted positions, in block order
        if blocks == 1:
            got = [min(hits.numel(), need[0])]
            out[filled[0] : filled[0] + got[0]] = candidates.index_select(0, hits[: got[0]])
        else:
            block_of = torch.repeat_interleave(torch.arange(blocks, device=device), torch.tensor(counts, device=device))
            hit_block = block_of.index_select(0, hits)
            per_block_hits = torch.bincount(hit_block, minlength=blocks)
            got = [min(h, n) for h, n in zip(per_block_hits.tolist(), need)]
            # rank of each hit among its block's hits; keep ranks < need, written after the block's filled ones
            first_hit = torch.cumsum(per_block_hits, 0) - per_block_hits
            rank = torch.arange(hits.numel(), device=device) - first_hit.index_select(0, hit_block)
            base = torch.tensor([s + f for s, f in zip(starts, filled)], device=device)
            keep = (rank < torch.tensor(need, device=device).index_select(0, hit_block)).nonzero().squeeze(1)
            dest = (base.index_select(0, hit_block) + rank).index_select(0, keep)
            out.index_copy_(0, dest, candidates.index_select(0, hits.index_select(0, keep)))
        filled = [f + g for f, g in zip(filled, got)]
        need = [n - g for n, g in zip(need, got)]
    return out
