"""The ℓ2 power family π0(z) ∝ ‖z‖₂^(−k)·exp(−‖z‖₂²/2σ²) (Zhang et al. 2020, eq. (8); docs/design.md §2.2)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from rsmooth.certificates.functional import FunctionalCertificate, TableSettings
from rsmooth.certificates.power_counts import PowerL2LevelCounter
from rsmooth.errors import ConfigError
from rsmooth.noise.base import AdditiveNoise, Norm, check_norm, check_positive
from rsmooth.noise.blocks import fill_per_block, per_block
from rsmooth.noise.gamma import sample_gamma_blocks


def check_power(k: float) -> float:
    """k as a float ≥ 0 (the dimension bound k < d is checked once d is known)."""
    try:
        v = float(k)
    except (TypeError, ValueError):
        raise ConfigError(f"k must be a number >= 0, got {k!r}") from None
    if not math.isfinite(v) or v < 0:
        raise ConfigError(f"k must be a finite number >= 0, got {k!r}")
    return v


def matched_sigma(sigma0: float, k: float, dim: int) -> float:
    """σ = √((d−1)/(d−1−k))·σ0: the σ whose E‖z‖ matches N(0, σ0²I)'s (Zhang et al. §5, as they use it)."""
    if not k < dim - 1:
        raise ConfigError(f"match_sigma0 needs k < d - 1 = {dim - 1}, got k={k}")
    return sigma0 * math.sqrt((dim - 1.0) / (dim - 1.0 - k))


class PowerL2Noise(AdditiveNoise):
    """z = ρ·u with ρ = σ·χ_{d−k} and u uniform on the unit sphere, independent (docs/design.md §2.2).

    In polar form the density of ‖z‖ is ∝ ρ^{d−1}·ρ^{−k}e^{−ρ²/2σ²} (Lemma 2 of the paper), a scaled
    χ with d − k degrees of freedom; the direction of a spherically symmetric law is uniform. k = 0 is
    N(0, σ²I). ``match_sigma0``: ``sigma`` is the Gaussian σ0 and the family uses
    σ = √((d−1)/(d−1−k))·σ0 in the input's dimension d.

    Certified by :class:`~rsmooth.certificates.functional.FunctionalCertificate` in ℓ2 (worst shift
    δ* = (r, 0, …, 0), Theorem 2); ``norm='linf'`` reads it in ℓ∞ at r/√d (Theorem 3). ``table``:
    :class:`~rsmooth.certificates.functional.TableSettings` fields (N, α_D, radius grid).
    """

    name = "power_l2"

    def __init__(
        self, sigma: float, k: float, match_sigma0: bool = False, norm: Norm = "l2", table: dict[str, Any] | None = None
    ) -> None:
        self.sigma = check_positive("sigma", sigma)
        self.k = check_power(k)
        self.match_sigma0 = bool(match_sigma0)
        self.norm_choice = check_norm(norm, ("l2", "linf"))
        self.table_settings = TableSettings(**dict(table or {}))
        self.table = dict(table or {})

    def _params(self) -> dict[str, Any]:
        params: dict[str, Any] = {
            "sigma": self.sigma,
            "k": self.k,
            "match_sigma0": self.match_sigma0,
            "norm": self.norm_choice,
        }
        if self.table:
            params["table"] = self.table
        return params

    def check_dim(self, dim: int) -> None:
        if not self.k < dim:
            raise ConfigError(f"power_l2 needs k < d, got k={self.k} for inputs of dimension d={dim}")

    def scale(self, dim: int) -> float:
        """σ in dimension ``dim`` (``sigma`` itself unless ``match_sigma0``)."""
        self.check_dim(dim)
        return matched_sigma(self.sigma, self.k, dim) if self.match_sigma0 else self.sigma

    def noise_blocks_into(
        self, out: torch.Tensor, sizes: Sequence[int], generators: Sequence[torch.Generator | None]
    ) -> None:
        """z = ρ·g/‖g‖ written into ``out`` in place: per generator, ρ (float64 Gamma), then g = randn (float32)."""
        device, dim = out.device, out[0].numel()
        # ρ² = σ²·χ²_{d−k} = σ²·2·Gamma((d−k)/2, 1), in float64; the direction from a normalized Gaussian
        rho = self.scale(dim) * torch.sqrt(2.0 * sample_gamma_blocks((dim - self.k) / 2.0, sizes, generators, device))
        g = out.view(out.shape[0], dim)
        fill_per_block(g, sizes, generators, torch.randn)
        norms = per_block(g, sizes, lambda part: part.norm(dim=1, keepdim=True))  # a reduction: block by block
        g.div_(norms.clamp_min_(1e-30)).mul_(rho.to(torch.float32).unsqueeze(1))  # (g/‖g‖)·ρ, in place

    def log_density(self, z: torch.Tensor) -> torch.Tensor:
        """log π0(z) up to a constant, for rows of z (N, d) in float64 (σ in z's dimension)."""
        norm = z.norm(dim=1)
        return -self.k * torch.log(norm) - norm**2 / (2.0 * self.scale(z.shape[1]) ** 2)

    # ----------------------------------------------------------- the functional certificate's 2-D reduction
    def shift_statistics(self, dim: int, count: int, rng: np.random.Generator) -> torch.Tensor:
        """(ρ², z₁) for ``count`` draws z ∼ π0, (count, 2) float64: ρ = σχ_{d−k}, z₁ = ρ·t with
        (1 + t)/2 ∼ Beta((d−1)/2, (d−1)/2) independent of ρ (the first coordinate of a uniform unit vector)."""
        if dim < 2:
            raise ConfigError(f"power_l2 certificates need inputs of dimension >= 2, got {dim}")
        scale = self.scale(dim)
        rho2 = scale * scale * 2.0 * rng.standard_gamma((dim - self.k) / 2.0, count)
        t = 2.0 * rng.beta((dim - 1) / 2.0, (dim - 1) / 2.0, count) - 1.0
        return torch.from_numpy(np.stack([rho2, np.sqrt(rho2) * t], axis=1))

    def log_ratio(self, stats: torch.Tensor, radii: np.ndarray, dim: int) -> torch.Tensor:
        """L = log π0(z − δ*)/π0(z) at δ* = (r, 0, …, 0) for each radius r, (count, R) float64: with
        u = ‖z − δ*‖² − ‖z‖² = r(r − 2z₁), L = −(k/2)·log(1 + u/ρ²) − u/(2σ²)."""
        rho2, z1 = stats[:, :1], stats[:, 1:2]
        r = torch.as_tensor(np.asarray(radii, dtype=np.float64)).view(1, -1)
        u = r * (r - 2.0 * z1)
        out = u * (-0.5 / self.scale(dim) ** 2)
        if self.k:
            out -= (0.5 * self.k) * torch.log1p(u / rho2)
        return out

    def level_counter(self, stats: torch.Tensor, radii: np.ndarray, dim: int, bins: int) -> PowerL2LevelCounter:
        """Counts of {L ≥ c} and {L ≤ c} from the draws sorted by (ρ², z₁), without L per draw (the table's
        fast path; :mod:`rsmooth.certificates.power_counts`)."""
        return PowerL2LevelCounter(stats, radii, self.scale(dim), self.k, bins)

    def default_certificate(self) -> FunctionalCertificate:
        return FunctionalCertificate(
            self, self.norm_choice, self.table_settings, linf_from_l2=self.norm_choice == "linf"
        )

    def certificates(self) -> list[FunctionalCertificate]:  # type: ignore[override]  # its own certificates only (list is invariant)
        other = "linf" if self.norm_choice == "l2" else "l2"
        return [
            self.default_certificate(),
            FunctionalCertificate(self, other, self.table_settings, linf_from_l2=other == "linf"),
        ]
