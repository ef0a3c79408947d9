"""Exponential ℓ∞ smoothing π0(z) ∝ exp(−‖z‖∞/σ′) (unified DP framework §3.2; docs/design.md §2.4)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from rsmooth.certificates.pure_dp import PureDPLinfCertificate, exponential_scale
from rsmooth.noise.base import AdditiveNoise, check_positive
from rsmooth.noise.blocks import fill_per_block
from rsmooth.noise.gamma import sample_gamma_blocks


class ExponentialLinfNoise(AdditiveNoise):
    """π0(z) ∝ exp(−‖z‖∞/σ′), σ the per-coordinate standard deviation (docs/design.md §2.4).

    Sampler (Steinke & Ullman 2015): R ~ Gamma(d+1, σ′), then z ~ Uniform([−R, R]^d). The density of
    z is ∫_{‖z‖∞}^∞ Gamma(R; d+1, σ′)(2R)^{−d} dR = e^{−‖z‖∞/σ′}/(2^d d! σ′^d), as required, and
    ‖z‖∞ ~ Gamma(d, σ′). σ′ = σ·sqrt(3/((d+1)(d+2))) makes E z_i² = σ² in the input's dimension d.

    Certified by :class:`~rsmooth.certificates.pure_dp.PureDPLinfCertificate`: ℓ∞ radius
    σ′·ln(1/(2(1 − p̲_A))) one-sided (the density-ratio bound on the complement of A, Yang et al. 2020), never
    below the pure ε-DP form (σ′/2)·ln(p̲_A/p̄_B) (Theorem 13 of the unified DP framework).
    """

    name = "exponential_linf"

    def __init__(self, sigma: float) -> None:
        self.sigma = check_positive("sigma", sigma)

    def _params(self) -> dict[str, Any]:
        return {"sigma": self.sigma}

    def scale(self, dim: int) -> float:
        """σ′ for inputs of dimension ``dim``."""
        return exponential_scale(self.sigma, dim)

    def noise_blocks_into(
        self, out: torch.Tensor, sizes: Sequence[int], generators: Sequence[torch.Generator | None]
    ) -> None:
        """z = R·(2u − 1) in float32, in place: per generator, R (float64 Gamma), then u = rand (float32)."""
        dim = out[0].numel()
        radius = sample_gamma_blocks(dim + 1.0, sizes, generators, out.device) * self.scale(dim)  # (Σ sizes,) float64
        fill_per_block(out, sizes, generators, torch.rand)
        out.mul_(2.0).sub_(1.0).mul_(radius.to(torch.float32).view(-1, *([1] * (out.ndim - 1))))

    def default_certificate(self) -> PureDPLinfCertificate:
        return PureDPLinfCertificate(self.sigma)

    def certificates(self) -> list[PureDPLinfCertificate]:  # type: ignore[override]  # its own certificates only (list is invariant)
        return [PureDPLinfCertificate(self.sigma), PureDPLinfCertificate(self.sigma, bilateral=True)]
