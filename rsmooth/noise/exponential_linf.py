"""Exponential ℓ∞ smoothing π0(z) ∝ exp(−‖z‖∞/σ′) (unified DP framework §3.2; SPEC §2.4)."""

from __future__ import annotations

import math
from typing import Any

import torch

from rsmooth.certify.pure_dp import PureDPLinfCertificate, exponential_scale
from rsmooth.noise.base import NoiseFamily, check_positive


def sample_gamma(shape: float, count: int, generator: torch.Generator | None, device: torch.device) -> torch.Tensor:
    """``count`` draws of Gamma(shape, 1), shape ≥ 1, in float64 (Marsaglia & Tsang 2000).

    Exact rejection sampler: with d = shape − 1/3, c = 1/√(9d), x ~ N(0,1), u ~ U(0,1) and
    v = (1 + cx)³, accept d·v when v > 0 and ln u < x²/2 + d − dv + d ln v. The acceptance rate is
    above 0.95 for every shape ≥ 1 (above 0.99 for shape ≥ 10), so a few rounds finish every draw.
    Uses ``generator`` only, in a fixed order: the same generator state gives the same draws.
    """
    if not shape >= 1.0:
        raise ValueError(f"shape must be >= 1, got {shape}")
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


class ExponentialLinfNoise(NoiseFamily):
    """π0(z) ∝ exp(−‖z‖∞/σ′), σ the per-coordinate standard deviation (SPEC §2.4).

    Sampler (Steinke & Ullman 2015): R ~ Gamma(d+1, σ′), then z ~ Uniform([−R, R]^d). The density of
    z is ∫_{‖z‖∞}^∞ Gamma(R; d+1, σ′)(2R)^{−d} dR = e^{−‖z‖∞/σ′}/(2^d d! σ′^d), as required, and
    ‖z‖∞ ~ Gamma(d, σ′). σ′ = σ·sqrt(3/((d+1)(d+2))) makes E z_i² = σ² in the input's dimension d.

    Certified by :class:`~rsmooth.certify.pure_dp.PureDPLinfCertificate`: ℓ∞ radius
    (σ′/2)·ln(p̲_A/p̄_B) (pure ε-DP, Theorem 13 of the unified DP framework).
    """

    name = "exponential_linf"

    def __init__(self, sigma: float) -> None:
        self.sigma = check_positive("sigma", sigma)

    def _params(self) -> dict[str, Any]:
        return {"sigma": self.sigma}

    def scale(self, dim: int) -> float:
        """σ′ for inputs of dimension ``dim``."""
        return exponential_scale(self.sigma, dim)

    def perturb(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        x = x.float()
        batch, dim = x.shape[0], x[0].numel()
        radius = sample_gamma(dim + 1.0, batch, generator, x.device) * self.scale(dim)  # (B,) float64
        u = torch.rand(x.shape, generator=generator, device=x.device, dtype=torch.float32)
        # z = R·(2u − 1), drawn and added in float32 whatever the model runs in
        z = (2.0 * u - 1.0) * radius.to(torch.float32).view(batch, *([1] * (x.dim() - 1)))
        return x + z

    def default_certificate(self) -> PureDPLinfCertificate:
        return PureDPLinfCertificate(self.sigma)

    def certificates(self) -> list[PureDPLinfCertificate]:  # type: ignore[override]
        return [PureDPLinfCertificate(self.sigma), PureDPLinfCertificate(self.sigma, bilateral=True)]
