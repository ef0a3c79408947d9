"""Isotropic Gaussian smoothing (Cohen, Rosenfeld & Kolter 2019)."""

from __future__ import annotations

from typing import Any

import torch

from rsmooth.certify.cohen import CohenCertificate
from rsmooth.noise.base import NoiseFamily, Norm, check_norm, check_positive


class GaussianNoise(NoiseFamily):
    """z ~ N(0, σ² I) added in pixel space (SPEC §2.1).

    Certified by :class:`~rsmooth.certify.cohen.CohenCertificate` (Cohen et al. 2019, Theorem 1):
    R = σΦ⁻¹(p̲_A) in ℓ2; ``norm='linf'`` makes its ℓ∞ reading R/√d the default.
    """

    name = "gaussian"

    def __init__(self, sigma: float, norm: Norm = "l2") -> None:
        self.sigma = check_positive("sigma", sigma)
        self.norm_choice = check_norm(norm, ("l2", "linf"))

    def _params(self) -> dict[str, Any]:
        return {"sigma": self.sigma, "norm": self.norm_choice}

    def perturb(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        # Noise is drawn and added in float32 whatever the model runs in.
        x = x.float()
        z = torch.randn(x.shape, generator=generator, device=x.device, dtype=torch.float32)
        return x + self.sigma * z

    def default_certificate(self) -> CohenCertificate:
        return CohenCertificate(self.sigma, self.norm_choice)

    def certificates(self) -> list[CohenCertificate]:
        """Cohen's certificate in the chosen norm first, then the other norm and the bilateral forms."""
        norms = [self.norm_choice] + [n for n in ("l2", "linf") if n != self.norm_choice]
        return [CohenCertificate(self.sigma, n, bilateral=b) for b in (False, True) for n in norms]
