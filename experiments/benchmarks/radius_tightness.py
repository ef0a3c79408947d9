"""How much radius each family's default certificate leaves on the table: its radius ÷ the best sound radius
we can compute for the same p̲_A (one-sided, p̄_B = 1 − p̲_A), at p̲_A = 0.6 / 0.9 / 0.99 / 0.999.

The best sound radius is the largest r at which the Neyman–Pearson value V_δ(p̲_A) (the least P_δ(A) over
every base classifier with P_0(A) = p̲_A) stays above ½ for every ‖δ‖ ≤ r: closed form for the Gaussian
(σΦ⁻¹(p), and its ℓ∞ reading at r/√d, both attained by a half-space), quadrature for the ℓ2 power family
(:class:`rsmooth.certificates.quadrature.PowerL2Quadrature`), and otherwise brute-force integration on a grid
in d = 2 and 3 (:mod:`rsmooth.analysis.tightness`), minimised over a few shift directions (an upper bound on
the best radius when the worst direction is missed, so the ratio printed is then a lower bound). The
Gaussian rows computed on the same grids show the grids' own error.

    python experiments/benchmarks/radius_tightness.py            (about 10 minutes on 2 CPU cores)
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Callable

import numpy as np
import torch
from scipy.stats import norm

from rsmooth.analysis.tightness import LogDensity, grid_points, neyman_pearson_radius
from rsmooth.certificates.pure_dp import pure_dp_radius
from rsmooth.certificates.quadrature import PowerL2Quadrature
from rsmooth.noise import (
    DiscreteGaussianNoise,
    LinfPowerNoise,
    MixedLinfNoise,
    PowerL2Noise,
    SplittingNoise,
    UniformL1Noise,
)
from rsmooth.noise.splitting import split_midpoint

P_VALUES = (0.6, 0.9, 0.99, 0.999)


def gaussian(z: np.ndarray) -> np.ndarray:
    return -0.5 * (z * z).sum(axis=1)


def family_density(family: MixedLinfNoise | LinfPowerNoise) -> LogDensity:
    """The family's own log π0 (rsmooth.noise), on numpy rows: the grid integrates the density the sampler
    draws from, not a copy of its formula."""
    return lambda z: family.log_density(torch.from_numpy(z)).numpy()


def exponential(z: np.ndarray) -> np.ndarray:
    return -np.abs(z).max(axis=1)


def uniform(z: np.ndarray) -> np.ndarray:
    """Uniform on [−1, 1]^d; outside, a floor of e^{−10⁴} (no mass) keeps every log-ratio finite."""
    return np.where(np.abs(z).max(axis=1) <= 1.0, 0.0, -1e4)


def ssn_ratios(lam: float, splits: int = 400_000) -> list[float]:
    """SSN in d = 1 (the split point s uniform on [0, 2λ), on a fine grid): the base classifier 1{x̃ > ½} on the
    split midpoint x̃ has P(A) = ½ + (x − ½)/(2λ) near ½, so at the x with P(A) = p it flips at the shift the
    bound certifies. Returns certified radius ÷ the smallest shift that flips it (bisection), per p."""
    two = 2.0 * lam
    s = (torch.arange(splits, dtype=torch.float64) + 0.5) / splits * two

    def p_at(x: float) -> float:
        return float((split_midpoint(torch.tensor(x, dtype=torch.float64), s, two) > 0.5).double().mean())

    noise = SplittingNoise(lam / math.sqrt(3.0))  # λ = √3σ
    ratios = []
    for p in P_VALUES:
        lo, hi = 0.5, 0.5 + two  # the x with P(A) = p, by bisection
        for _ in range(50):
            mid = 0.5 * (lo + hi)
            lo, hi = (mid, hi) if p_at(mid) < p else (lo, mid)
        x, certified = hi, noise.radius(p, 1)
        lo, hi = 0.0, 2.0 * certified + 1e-6  # the smallest shift toward B that gives P(A) ≤ ½
        for _ in range(50):
            mid = 0.5 * (lo + hi)
            lo, hi = (mid, hi) if p_at(x - mid) > 0.5 else (lo, mid)
        ratios.append(certified / hi)
    return ratios


def directions(dim: int, shape: str) -> list[np.ndarray]:
    """Unit shifts in the threat norm: ``radial`` (rotation invariant: one), ``l1`` (the axis and the
    diagonal), ``vertex`` (the vertex alone: where the ℓ2 norm, which alone moves a Gaussian, is largest),
    ``vertex_axis`` (the vertex, worst by Zhang et al.'s Theorem 5, and the axis), ``linf`` (the vertex, the
    axis and two more)."""
    if shape == "radial":
        return [np.eye(dim)[0]]
    if shape == "l1":
        return [np.eye(dim)[0], np.full(dim, 1.0 / dim)]
    if shape == "vertex":
        return [np.ones(dim)]
    if shape == "vertex_axis":
        return [np.ones(dim), np.eye(dim)[0]]
    return [
        np.ones(dim),
        np.eye(dim)[0],
        np.r_[1.0, np.zeros(dim - 2), 1.0] if dim > 2 else np.r_[1.0, -1.0],
        np.r_[1.0, 0.5 * np.ones(dim - 1)],
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cells2", type=int, default=1000, help="grid cells per axis in d = 2")
    ap.add_argument("--cells3", type=int, default=150, help="grid cells per axis in d = 3")
    ap.add_argument("--only", nargs="+", default=None, help="only the certificates whose label holds one of these")
    args = ap.parse_args()
    rows: list[tuple[str, str, list[float]]] = []
    started = time.perf_counter()

    def brute(
        label: str,
        setting: str,
        ours: Callable[[float, int], float],
        log_density: LogDensity,
        half_width: float,
        norm_name: str,
        grids: tuple[tuple[int, int, float], ...] | None = None,
        reach: float = 0.0,
    ) -> None:
        """Rows for d = 2 and 3 (``grids``: (d, cells, half-width) to use instead of the defaults); ``reach``: the
        half-width grows by ``reach`` times the radius, so that π_δ's mass stays on the grid at large shifts."""
        if args.only and not any(name in label for name in args.only):
            return
        for dim, cells, width in grids or ((2, args.cells2, half_width), (3, args.cells3, half_width)):
            ratios = []
            for p in P_VALUES:
                mine = ours(p, dim)
                points = grid_points(dim, width + reach * mine, cells)
                best = neyman_pearson_radius(
                    log_density, points, directions(dim, norm_name), p, 1.5 * mine + 0.1, lower=0.5 * mine, steps=18
                )
                ratios.append(mine / best)
            rows.append((label, f"{setting}, d = {dim}: grid NP ({cells}^{dim} cells)", ratios))
            print(rows[-1], f"{time.perf_counter() - started:.0f} s", flush=True)

    brute("`cohen` (gaussian, ℓ2)", "σ = 1", lambda p, d: float(norm.ppf(p)), gaussian, 7.0, "radial")
    brute(
        "`cohen_linf` (gaussian, ℓ∞)", "σ = 1", lambda p, d: float(norm.ppf(p)) / math.sqrt(d), gaussian, 7.0, "vertex"
    )
    sigma0, k, dim = 0.25, 10.0, 64
    power = PowerL2Noise(sigma0, k, match_sigma0=True)
    oracle = PowerL2Quadrature(power.scale(dim), k, dim)
    rows.append(
        (
            "`functional` (power_l2, ℓ2)",
            f"k = {k:g}, σ matched to σ0 = {sigma0}, d = {dim} (digits), table N = 10⁷: quadrature",
            [power.radius(p, dim) / oracle.radius(p) for p in P_VALUES],
        )
    )
    print(rows[-1], flush=True)
    brute(
        "`functional_linf` (mixed_linf, ℓ∞)",
        "σ = 1, k = 1, table N = 10⁶",
        lambda p, d: MixedLinfNoise(1.0, 1.0).radius(p, d),
        family_density(MixedLinfNoise(1.0, 1.0)),
        9.0,
        "linf",
    )
    brute(
        "`coordinate_tv` (linf_power, ℓ∞)",
        "σ = 1, k = 0.5 (its certificate needs k < d − 1)",
        lambda p, d: LinfPowerNoise(1.0, 0.5).radius(p, d),
        family_density(LinfPowerNoise(1.0, 0.5)),
        9.0,
        "linf",
    )
    brute(
        "`pure_dp` (exponential_linf, ℓ∞)",
        "σ′ = 1",
        lambda p, d: pure_dp_radius(p, 1 - p, 1.0),
        exponential,
        12.0,
        "linf",
        grids=((2, args.cells2, 12.0), (3, 200, 12.0)),  # d = 3: finer cells (the kink of ‖z‖∞ at small radii)
        reach=1.5,
    )
    rows.append(
        (
            "  the pure-DP form alone, (σ′/2)·ln(p̲_A/p̄_B)",
            "÷ the default above (which is tight)",
            [0.5 * math.log(p / (1 - p)) / pure_dp_radius(p, 1 - p, 1.0) for p in P_VALUES],
        )
    )
    uniform_noise = UniformL1Noise(1.0 / math.sqrt(3.0))  # λ = √3σ = 1
    brute(
        "`lipschitz_l1` (uniform_l1, ℓ1)",
        "λ = 1",
        lambda p, d: uniform_noise.radius(p, d),
        uniform,
        3.0,
        "l1",
        grids=((2, args.cells2, 3.0),),  # a discontinuous density: d = 2 only (any d: the axis shift, closed form)
    )
    rows.append(
        ("`lipschitz_l1` (ssn, ℓ1)", "λ = 0.05, d = 1: a threshold on the split midpoint, flipped", ssn_ratios(0.05))
    )
    print(rows[-1], flush=True)
    discrete = DiscreteGaussianNoise(0.25)  # q = 255, digits' 8-bit grid
    rows.append(
        (
            "`cohen_discrete` (discrete_gaussian, ℓ2)",
            "σ = 0.25, q = 255, d = 64: ÷ the Gaussian's σΦ⁻¹(p̲_A)",
            [discrete.radius(p, 64) / (0.25 * float(norm.ppf(p))) for p in P_VALUES],
        )
    )
    print(
        "\n| certificate (family, threat) | setting, best radius by | "
        + " | ".join(f"p̲_A = {p:g}" for p in P_VALUES)
        + " |"
    )
    print("|---|---|" + "---|" * len(P_VALUES))
    for label, setting, ratios in rows:
        print(f"| {label} | {setting} | " + " | ".join(f"{r:.3f}" for r in ratios) + " |")
    print(f"\n{time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
