"""Gaussian smoothing made sound in floating point: the noise and the input live on the data's grid
(Voráček & Hein, ICLR 2023, "Sound Randomized Smoothing in Floating-Point Arithmetic").

Why. Cohen's theorem is about a fixed base classifier f and x + ε in exact arithmetic. In float32 the model
sees fl(x + z), and the rounding depends on x's own bits: a classifier that reads the last mantissa bits of
its input (tests/soundness/test_float_soundness.py builds one) has P(f(fl(x + z)) = A) ≈ 1 at x and ≈ 0 at a
point 10⁻⁷ away, so CERTIFY reports a radius of 0.6 that is false. Ordinary networks do not read those bits,
and their certificates under the two procedures are nearly the same, but nothing in the float procedure
proves it.

What. For an input x on the grid {0, 1/q, …, 1} (x = k/q, k integer) and ε ~ N(0, σ²I), round(q(x + ε)) =
k + j with j = round(qε) per coordinate: the discretized Gaussian, P(j) = Φ((j + ½)/(qσ)) − Φ((j − ½)/(qσ)).
rsmooth draws j exactly from 62-bit uniform integers against CDF boundaries computed with 50 significant
digits (mpmath), and hands the model float32(k + j)/q: a fixed function of the lattice point k + j, with no
float rounding that depends on x. So the smoothed classifier is exactly Gaussian smoothing of the fixed base
classifier h(y) = f(float32(round(q·y))/q), and Cohen's theorem holds for it at every real point of the ℓ2
ball, grid or not (:class:`~rsmooth.certificates.cohen.DiscreteCohenCertificate`). The sampled law differs from
the exact one only by
the boundaries' rounding (2⁻⁶² each) and the tails beyond ±J = ⌈9qσ⌉ (< 10⁻¹⁸): a total variation
τ ≤ 2J·2⁻⁶² + 10⁻¹⁸ per coordinate, so d·τ is subtracted from p̲_A (and added to p̄_B).

Inputs off the grid (by more than one float32 step from k/q) are refused, not moved to it. Same σ as a
Gaussian-trained model: certify it with
``noise=discrete_gaussian noise.sigma=<its σ> noise.q=<the data's q>``.
"""

from __future__ import annotations

import math
from functools import cached_property
from typing import Any

import torch

from rsmooth.certificates.cohen import DiscreteCohenCertificate
from rsmooth.errors import ConfigError
from rsmooth.noise.base import NoiseFamily, Norm, check_norm, check_positive
from rsmooth.noise.splitting import quantization_error

#: uniform draws are integers in [0, 2**UNIFORM_BITS): the resolution of every atom's probability
UNIFORM_BITS = 62
#: atoms j in [-J, J] with J = ceil(TAIL_SIGMAS · qσ): the tails beyond hold < 1e-18 of the mass
TAIL_SIGMAS = 9.0
#: 2Φ(−9) < 2.3e-19: the mass outside [−J − ½, J + ½]/q·… that the sampler folds into ±J
TAIL_MASS = 1e-18


def cdf_boundaries(sigma: float, q: int, atoms: int) -> list[int]:
    """⌊Φ((j + ½)/(qσ))·2⁶²⌋ for j = −J … J − 1 (J = ``atoms``), with Φ evaluated to 50 digits."""
    import mpmath

    with mpmath.workdps(50):
        scale = mpmath.mpf(2) ** UNIFORM_BITS
        width = mpmath.mpf(q) * mpmath.mpf(sigma)
        return [
            int(mpmath.floor(mpmath.ncdf((mpmath.mpf(j) + mpmath.mpf(1) / 2) / width) * scale))
            for j in range(-atoms, atoms)
        ]


class DiscreteGaussianNoise(NoiseFamily):
    """z = j/q with j the discretized Gaussian (per coordinate, exact integer sampling), added on the q-grid.

    Certified by :class:`~rsmooth.certificates.cohen.DiscreteCohenCertificate`: Cohen's R = σΦ⁻¹(p̲_A) in ℓ2
    (or its ℓ∞ reading R/√d)
    for the smoothed classifier of h(y) = f(float32(round(q·y))/q), sound in floating point (module docstring).
    """

    name = "discrete_gaussian"

    def __init__(self, sigma: float, q: int = 255, norm: Norm = "l2") -> None:
        self.sigma = check_positive("sigma", sigma)
        if isinstance(q, bool) or not isinstance(q, int) or q < 1:
            raise ConfigError(f"q (the number of quantization levels of the data) must be an integer >= 1, got {q!r}")
        self.q = q
        self.norm_choice = check_norm(norm, ("l2", "linf"))
        self.atoms = math.ceil(TAIL_SIGMAS * q * self.sigma)  # J
        if self.atoms + q >= 2**24:
            raise ConfigError(f"sigma={sigma} with q={q} reaches lattice points float32 cannot hold exactly")
        self._bounds: dict[str, torch.Tensor] = {}

    def _params(self) -> dict[str, Any]:
        return {"sigma": self.sigma, "q": self.q, "norm": self.norm_choice}

    @cached_property
    def boundaries(self) -> torch.Tensor:
        """(2J,) int64 CDF boundaries on the 2⁶² scale, increasing (CPU)."""
        return torch.tensor(cdf_boundaries(self.sigma, self.q, self.atoms), dtype=torch.int64)

    @property
    def tv_per_coordinate(self) -> float:
        """τ: total variation between the sampled and the exact discretized Gaussian, per coordinate."""
        return 2 * self.atoms * 2.0**-UNIFORM_BITS + TAIL_MASS

    def _device_boundaries(self, device: torch.device) -> torch.Tensor:
        key = str(device)
        if key not in self._bounds:
            self._bounds[key] = self.boundaries.to(device)
        return self._bounds[key]

    def check_input(self, x: torch.Tensor) -> None:
        """x must be the float32 of lattice points k/q (within one float32 step, as any way of computing k/q
        gives): the certificate is about the lattice point the input stands for, so an input genuinely off the
        grid is refused rather than silently moved to it."""
        x = x.float()
        k = torch.round(x.double() * self.q)
        v = k.float() / self.q
        step = torch.nextafter(v.abs(), torch.full_like(v, float("inf"))) - v.abs()
        if bool(((x - v).abs() > step).any()):
            err = quantization_error(x, self.q)
            raise ConfigError(
                f"discrete_gaussian needs inputs on the data's grid of q={self.q} levels (values k/q "
                f"in float32); got values {err:.3g}/q off it: set noise.q to the data's q"
            )

    def lattice_offsets(
        self, shape: torch.Size | tuple[int, ...], generator: torch.Generator | None, device: torch.device
    ) -> torch.Tensor:
        """j (int64, ``shape``): one discretized-Gaussian draw per coordinate, from 62-bit uniform integers."""
        u = torch.randint(0, 2**UNIFORM_BITS, tuple(shape), generator=generator, device=device, dtype=torch.int64)
        j = torch.searchsorted(self._device_boundaries(device), u.reshape(-1), right=True)
        return j.reshape(u.shape) - self.atoms

    def _noisy(
        self, x: torch.Tensor, shape: torch.Size | tuple[int, ...], generator: torch.Generator | None
    ) -> torch.Tensor:
        # k = qx exactly (x on the grid; rounding absorbs the float error of k/q), then float32(k + j)/q: a
        # function of the lattice point alone (|k + j| < 2^24, so float32 holds it exactly; one rounding, /q).
        # ``shape``: the draws' shape, into which x (one input, or one per row) broadcasts
        k = torch.round(x.double() * self.q).to(torch.int64)
        j = self.lattice_offsets(shape, generator, x.device)
        return (k + j).to(torch.float32) / self.q

    def perturb(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        return self._noisy(x, x.shape, generator)

    def perturb_into(self, x: torch.Tensor, out: torch.Tensor, generator: torch.Generator | None = None) -> None:
        out.copy_(self._noisy(x, out.shape, generator))

    def default_certificate(self) -> DiscreteCohenCertificate:
        return DiscreteCohenCertificate(self.sigma, self.tv_per_coordinate, self.norm_choice)

    def certificates(self) -> list[DiscreteCohenCertificate]:  # type: ignore[override]  # its own certificates only (list is invariant)
        """Cohen's bound in the chosen norm first, then the other norm, then the bilateral forms."""
        norms = [self.norm_choice] + [n for n in ("l2", "linf") if n != self.norm_choice]
        return [
            DiscreteCohenCertificate(self.sigma, self.tv_per_coordinate, n, bilateral=b)
            for b in (False, True)
            for n in norms
        ]
