"""Exact Gamma(shape, 1) draws from a torch.Generator (torch's own Gamma sampler takes no generator)."""

from __future__ import annotations

import math

import torch


def _gamma_at_least_one(shape: float, count: int, generator: torch.Generator | None,
                        device: torch.device) -> torch.Tensor:
    """Marsaglia & Tsang (2000) for shape ≥ 1: with d = shape − 1/3, c = 1/√(9d), x ~ N(0,1),
    u ~ U(0,1) and v = (1 + cx)³, accept d·v when v > 0 and ln u < x²/2 + d − dv + d ln v.
    The acceptance rate is above 0.95 for every shape ≥ 1, so a few rounds finish every draw."""
    d = shape - 1.0 / 3.0
    c = 1.0 / math.sqrt(9.0 * d)
    out = torch.empty(count, dtype=torch.float64, device=device)
    todo = torch.arange(count, device=device)
    while todo.numel() > 0:
        m = todo.numel()
        x = torch.randn(m, generator=generator, device=device, dtype=torch.float64)
        u = torch.rand(m, generator=generator, device=device, dtype=torch.float64)
        v = (1.0 + c * x) ** 3
        accept = (v > 0) & (torch.log(u) < 0.5 * x * x + d - d * v + d * torch.log(v.clamp_min(1e-300)))
        out[todo[accept]] = d * v[accept]
        todo = todo[~accept]
    return out


def sample_gamma(shape: float, count: int, generator: torch.Generator | None, device: torch.device) -> torch.Tensor:
    """``count`` exact draws of Gamma(shape, 1), shape > 0, in float64.

    shape ≥ 1: Marsaglia & Tsang's rejection sampler; shape < 1: Gamma(shape) = Gamma(shape + 1)·U^{1/shape}
    (Marsaglia & Tsang's boost), the U drawn after every Gamma(shape + 1) draw. Uses ``generator`` only,
    in a fixed order: the same generator state gives the same draws.
    """
    if not (math.isfinite(shape) and shape > 0.0):
        raise ValueError(f"shape must be > 0, got {shape}")
    if shape >= 1.0:
        return _gamma_at_least_one(shape, count, generator, device)
    boosted = _gamma_at_least_one(shape + 1.0, count, generator, device)
    u = torch.rand(count, generator=generator, device=device, dtype=torch.float64)
    return boosted * u.pow(1.0 / shape)
