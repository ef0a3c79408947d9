"""Several independently seeded blocks of draws at once, bit for bit as one at a time.

The sampling engine seeds a generator per block of noisy copies (``rsmooth.certify.sampling``), so a
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

from collections.abc import Callable, Sequence

import torch


def draw_per_block(sizes: Sequence[int], generators: Sequence[torch.Generator | None],
                   draw: Callable[[int, torch.Generator | None], torch.Tensor]) -> torch.Tensor:
    """``draw(n_b, generator_b)`` for every block with n_b > 0, concatenated along dim 0 in block order
    (an empty draw when every n_b is 0)."""
    parts = [draw(n, g) for n, g in zip(sizes, generators, strict=True) if n] or [draw(0, generators[0])]
    return parts[0] if len(parts) == 1 else torch.cat(parts)


def per_block(values: torch.Tensor, sizes: Sequence[int], op: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
    """``op`` applied to each block's rows of ``values`` on their own (as if drawn alone), concatenated."""
    if len(sizes) == 1:
        return op(values)
    return torch.cat([op(part) for part in values.split(list(sizes))])


def rejection_blocks(sizes: Sequence[int], device: torch.device,
                     propose: Callable[[list[int]], tuple[torch.Tensor, torch.Tensor]]) -> torch.Tensor:
    """Rejection sampling of ``sizes[b]`` float64 values per block b, concatenated in block order.

    Each round, ``propose(left)`` draws candidates for the ``left[b]`` still-missing values of each block
    (block b's from its own generator) and returns (candidates, accepted), both of length Σ left, in block
    order; accepted candidates fill their places, the others are proposed again next round. A block's
    values are thus those of sampling it alone, whatever other blocks share the rounds.
    """
    total = sum(sizes)
    out = torch.empty(total, dtype=torch.float64, device=device)
    block_of = torch.repeat_interleave(torch.arange(len(sizes), device=device), torch.tensor(list(sizes), device=device))
    todo = torch.arange(total, device=device)
    left = list(sizes)
    while todo.numel() > 0:
        candidates, accepted = propose(left)
        out[todo[accepted]] = candidates[accepted]
        todo = todo[~accepted]
        left = [todo.numel()] if len(sizes) == 1 else torch.bincount(block_of[todo], minlength=len(sizes)).tolist()
    return out
