"""The pure ℓ∞ power family π0(z) ∝ ‖z‖∞^(−k)·exp(−‖z‖∞²/2σ²) (Zhang et al. 2020, eq. (10))."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from rsmooth.certificates.coordinate_tv import CoordinateTVCertificate
from rsmooth.errors import ConfigError
from rsmooth.noise.base import AdditiveNoise, check_positive
from rsmooth.noise.blocks import fill_per_block
from rsmooth.noise.gamma import sample_gamma_blocks
from rsmooth.noise.power_l2 import check_power


class LinfPowerNoise(AdditiveNoise):
    """z = a·s/‖s‖∞ with a = σ√(2G), G ∼ Gamma((d−k)/2), and s uniform on [−1, 1]^d (proof of Theorem 4).

    Why: in "polar" form for the ℓ∞ norm, the surface of the cube of half-width a has measure ∝ a^{d−1}, so
    ‖z‖∞ has density ∝ a^{d−1}·a^{−k}e^{−a²/2σ²} — a scaled χ with d − k degrees of freedom — and, π0 being a
    function of ‖z‖∞ only, z/‖z‖∞ is uniform on the cube's surface, which s/‖s‖∞ is (each face equally
    likely, uniform on it). Needs k < d.

    The paper's negative example for ℓ∞ (Theorem 4: its certified ℓ∞ radius vanishes as d grows): here for
    the Figure 4 comparison (``experiments/figure4_pareto.py``) and for training. Certified by
    :class:`~rsmooth.certificates.coordinate_tv.CoordinateTVCertificate` (total variation, coordinate by
    coordinate; sound, no table).
    """

    name = "linf_power"

    def __init__(self, sigma: float, k: float) -> None:
        self.sigma = check_positive("sigma", sigma)
        self.k = check_power(k)

    def _params(self) -> dict[str, Any]:
        return {"sigma": self.sigma, "k": self.k}

    def check_dim(self, dim: int) -> None:
        if not self.k < dim:
            raise ConfigError(f"linf_power needs k < d, got k={self.k} for inputs of dimension d={dim}")

    def noise_blocks_into(
        self, out: torch.Tensor, sizes: Sequence[int], generators: Sequence[torch.Generator | None]
    ) -> None:
        """z = a·s/‖s‖∞ in float32, in place: per generator, a (float64 Gamma), then s = 2·rand − 1 (float32)."""
        dim = out[0].numel()
        self.check_dim(dim)
        # ‖z‖∞ = a = σ·√(2·Gamma((d−k)/2)) in float64; the direction s/‖s‖∞ in float32
        a = self.sigma * torch.sqrt(2.0 * sample_gamma_blocks((dim - self.k) / 2.0, sizes, generators, out.device))
        s = out.view(out.shape[0], dim)
        fill_per_block(s, sizes, generators, torch.rand)
        s.mul_(2.0).sub_(1.0)
        top = torch.maximum(s.amax(1, keepdim=True), s.amin(1, keepdim=True).neg_())  # max |s|, exact; no |s| temporary
        s.div_(top.clamp_min_(1e-30)).mul_(a.to(torch.float32).unsqueeze(1))

    def log_density(self, z: torch.Tensor) -> torch.Tensor:
        """log π0(z) up to a constant, for rows of z (N, d) in float64."""
        top = z.abs().amax(1)
        return -self.k * torch.log(top) - top**2 / (2.0 * self.sigma**2)

    def default_certificate(self) -> CoordinateTVCertificate:
        return CoordinateTVCertificate(self.sigma, self.k)

    def certificates(self) -> list[CoordinateTVCertificate]:  # type: ignore[override]  # its own certificates only (list is invariant)
        return [
            CoordinateTVCertificate(self.sigma, self.k),
            CoordinateTVCertificate(self.sigma, self.k, bilateral=True),
        ]
