"""Exact Gamma(shape, 1) draws from a torch.Generator (torch's own Gamma sampler takes no generator)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from rsmooth.noise.blocks import draw_per_block, per_block, rejection_blocks


def _gamma_at_least_one(
    shape: float, sizes: Sequence[int], generators: Sequence[torch.Generator | None], device: torch.device
) -> torch.Tensor:
    """Marsaglia & Tsang (2000) for shape ≥ 1: with d = shape − 1/3, c = 1/√(9d), x ~ N(0,1),
    u ~ U(0,1) and v = (1 + cx)³, accept d·v when v > 0 and ln u < x²/2 + d − dv + d ln v.
    The acceptance rate is above 0.95 for every shape ≥ 1, so a few rounds finish every draw.

    Block b's still-rejected entries draw their x, then their u, from generator b, in each round.
    """
    d = shape - 1.0 / 3.0
    c = 1.0 / math.sqrt(9.0 * d)

    def propose(left: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        x = draw_per_block(
            left, generators, lambda n, g: torch.randn(n, generator=g, device=device, dtype=torch.float64)
        )
        u = draw_per_block(
            left, generators, lambda n, g: torch.rand(n, generator=g, device=device, dtype=torch.float64)
        )
        v = (1.0 + c * x) ** 3
        accept = (v > 0) & (torch.log(u) < 0.5 * x * x + d - d * v + d * torch.log(v.clamp_min(1e-300)))
        return d * v, accept

    return rejection_blocks(sizes, device, propose)


def sample_gamma_blocks(
    shape: float, sizes: Sequence[int], generators: Sequence[torch.Generator | None], device: torch.device
) -> torch.Tensor:
    """Exact draws of Gamma(shape, 1), shape > 0, in float64: ``sizes[b]`` from ``generators[b]`` for each
    block b, concatenated; block b's values are those of :func:`sample_gamma` with ``generators[b]`` alone."""
    if not (math.isfinite(shape) and shape > 0.0):
        raise ValueError(f"shape must be > 0, got {shape}")
    if shape >= 1.0:
        return _gamma_at_least_one(shape, sizes, generators, device)
    boosted = _gamma_at_least_one(shape + 1.0, sizes, generators, device)
    u = draw_per_block(sizes, generators, lambda n, g: torch.rand(n, generator=g, device=device, dtype=torch.float64))
    return boosted * per_block(u, sizes, lambda part: part.pow(1.0 / shape))


def sample_gamma(shape: float, count: int, generator: torch.Generator | None, device: torch.device) -> torch.Tensor:
    """``count`` exact draws of Gamma(shape, 1), shape > 0, in float64.

    shape ≥ 1: Marsaglia & Tsang's rejection sampler; shape < 1: Gamma(shape) = Gamma(shape + 1)·U^{1/shape}
    (Marsaglia & Tsang's boost), the U drawn after every Gamma(shape + 1) draw. Uses ``generator`` only,
    in a fixed order: the same generator state gives the same draws.
    """
    return sample_gamma_blocks(shape, [count], [generator], device)
