"""Isotropic Gaussian smoothing (Cohen, Rosenfeld & Kolter 2019)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from rsmooth.certificates.cohen import CohenCertificate
from rsmooth.certificates.dmr import DMR_C_VALUES, DMRRelaxation
from rsmooth.certificates.gaussian_bound import GaussianBoundCertificate
from rsmooth.certificates.lecuyer import LecuyerCertificate
from rsmooth.certificates.li_renyi import LiRenyiCertificate
from rsmooth.certificates.total_variation import TotalVariationCertificate
from rsmooth.noise.base import AdditiveNoise, Norm, check_norm, check_positive
from rsmooth.noise.blocks import fill_per_block


class GaussianNoise(AdditiveNoise):
    """z ~ N(0, σ² I) added in pixel space (docs/design.md §2.1).

    Certified by :class:`~rsmooth.certificates.cohen.CohenCertificate` (Cohen et al. 2019, Theorem 1):
    R = σΦ⁻¹(p̲_A) in ℓ2; ``norm='linf'`` makes its ℓ∞ reading R/√d the default.
    """

    name = "gaussian"

    def __init__(self, sigma: float, norm: Norm = "l2") -> None:
        self.sigma = check_positive("sigma", sigma)
        self.norm_choice = check_norm(norm, ("l2", "linf"))

    def _params(self) -> dict[str, Any]:
        return {"sigma": self.sigma, "norm": self.norm_choice}

    def noise_blocks_into(
        self, out: torch.Tensor, sizes: Sequence[int], generators: Sequence[torch.Generator | None]
    ) -> None:
        """z = σ·g, g = randn from each block's generator into its rows (the stream of ``randn(shape)``), then
        one in-place scale over all blocks (the roundings of σ·g)."""
        fill_per_block(out, sizes, generators, torch.randn)
        out.mul_(self.sigma)

    def default_certificate(self) -> CohenCertificate:
        return CohenCertificate(self.sigma, self.norm_choice)

    def certificates(self) -> list[GaussianBoundCertificate]:  # type: ignore[override]  # its own certificates only (list is invariant)
        """Cohen's certificate in the chosen norm first, then the other norm and the bilateral forms;
        then the comparison bounds of docs/design.md §3.6 in both norms and both forms: ``lecuyer``,
        ``li_renyi``, ``tv`` (sound, never above Cohen's) and the D_MR relaxation
        ``dmr_c1_relaxed``/``dmr_c3_relaxed`` (not a certificate: extra columns only)."""
        norms = [self.norm_choice] + [n for n in ("l2", "linf") if n != self.norm_choice]
        forms = [(n, b) for b in (False, True) for n in norms]
        certs: list[GaussianBoundCertificate] = [CohenCertificate(self.sigma, n, bilateral=b) for n, b in forms]
        for kind in (LecuyerCertificate, LiRenyiCertificate, TotalVariationCertificate):
            certs += [kind(self.sigma, n, bilateral=b) for n, b in forms]
        for c in DMR_C_VALUES:
            certs += [DMRRelaxation(self.sigma, c, n, bilateral=b) for n, b in forms]
        return certs
