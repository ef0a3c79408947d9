"""Uniform additive noise for ℓ1 (Lee et al. 2019; Yang et al. 2020)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch

from rsmooth.certificates.lipschitz_l1 import LipschitzL1Certificate
from rsmooth.noise.base import AdditiveNoise, NoiseFamily, check_positive
from rsmooth.noise.blocks import fill_per_block


class LipschitzL1Noise(NoiseFamily):
    """Families whose smoothed class probabilities are 1/(2λ)-Lipschitz in ℓ1 (docs/design.md §3.3), λ = √3·σ.

    Certified by :class:`~rsmooth.certificates.lipschitz_l1.LipschitzL1Certificate`: g(x + δ) = c_A while
    ‖δ‖₁ < λ(p̲_A − p̄_B). Subclasses supply :meth:`perturb` (and may set a different effective ``lam``).
    """

    def __init__(self, sigma: float) -> None:
        self.sigma = check_positive("sigma", sigma)
        self.lam = math.sqrt(3.0) * self.sigma

    def _params(self) -> dict[str, Any]:
        return {"sigma": self.sigma}

    def default_certificate(self) -> LipschitzL1Certificate:
        return LipschitzL1Certificate(self.lam)

    def certificates(self) -> list[LipschitzL1Certificate]:  # type: ignore[override]  # its own certificates only (list is invariant)
        return [LipschitzL1Certificate(self.lam), LipschitzL1Certificate(self.lam, bilateral=True)]


class UniformL1Noise(AdditiveNoise, LipschitzL1Noise):
    """z ~ Uniform([−λ, λ]^d) with λ = √3·σ (σ is the per-coordinate standard deviation; docs/design.md §2.5).

    Guarantee (Lee et al. 2019; Yang et al. 2020): each smoothed class probability is
    1/(2λ)-Lipschitz in ℓ1, so R = 2λ(p̲_A − 1/2) (see :class:`LipschitzL1Noise`).
    """

    name = "uniform_l1"

    def noise_blocks_into(
        self, out: torch.Tensor, sizes: Sequence[int], generators: Sequence[torch.Generator | None]
    ) -> None:
        """z = (2u − 1)·λ, u = rand from each block's generator into its rows, then the roundings of
        (2u − 1)·λ in place, once over all blocks."""
        fill_per_block(out, sizes, generators, torch.rand)
        out.mul_(2.0).sub_(1.0).mul_(self.lam)
