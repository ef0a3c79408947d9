"""Counts of {L ≥ c} and {L ≤ c} for the ℓ2 power family without evaluating L per sample and radius
(docs/design.md §3.4, the reductions): the functional table of N = 10⁷ draws in seconds.

For the power family, L = log π0(z − δ*)/π0(z) at δ* = (r, 0, …, 0) is a function of two statistics,
P = ρ² = ‖z‖² and z₁ (module :mod:`rsmooth.noise.power_l2`):

    L(P, z₁) = −(k/2)·log(1 + u/P) − u/(2σ²),   u = r(r − 2z₁),   on P + u > 0 (L = +∞ where P + u ≤ 0).

Two monotonicities make counting a sort-and-search:
* in z₁ at fixed P, L is increasing (∂L/∂u = −(k/2)/(P + u) − 1/(2σ²) < 0 and ∂u/∂z₁ = −2r < 0), so
  {L ≥ c} = {z₁ ≥ t(P, c)} and {L ≤ c} = {z₁ ≤ t(P, c)} (up to the measure-zero level set), t the root;
* in P at fixed z₁, L is monotone (the sign of ∂L/∂P = (k/2)·u/(P(P + u)) is the sign of u, fixed by z₁),
  so for P in a bin [P_lo, P_hi] the root t(P, c) lies between t(P_lo, c) and t(P_hi, c).

The draws are sorted by P into bins of equal count and by z₁ within each bin. With T_b = the larger of the
two endpoint roots (computed from above, see :func:`root_from_above`), every draw of bin b with z₁ ≥ T_b
has L ≥ c, and every draw with L ≤ c has z₁ ≤ T_b. So

    Σ_b #{z₁ ≥ T_b(c)}  ≤  #{L ≥ c}          and          Σ_b #{z₁ ≤ T_b(c)}  ≥  #{L ≤ c},

an undercount and an overcount (what the table's one-sided bounds need), each a binary search per bin.
They differ from the exact counts only by draws whose z₁ falls between a bin's two endpoint roots; with
2048 bins of 10⁷ draws that is a few draws at most (``tests/unit/test_power_counts.py`` compares them
with per-draw evaluation).
"""

from __future__ import annotations

import numpy as np
import torch

#: Newton steps from the left on the concave root equation (each step stays on the safe side of the root)
NEWTON_STEPS = 8


def log_ratio(p: torch.Tensor, z1: torch.Tensor, r: torch.Tensor, sigma: float, k: float) -> torch.Tensor:
    """L(P, z₁) at δ* = (r, 0, …, 0) in float64, +∞ where P + u ≤ 0 (broadcasting)."""
    u = r * (r - 2.0 * z1)
    out = u * (-0.5 / sigma**2)
    if k:
        inside = p + u > 0
        safe = torch.where(inside, u / p, torch.zeros_like(u))
        out = torch.where(inside, out - (0.5 * k) * torch.log1p(safe), torch.full_like(out, float("inf")))
    return out


def root_from_above(
    p: torch.Tensor, r: torch.Tensor, c: torch.Tensor, sigma: float, k: float, below: torch.Tensor | None = None
) -> torch.Tensor:
    """A z₁ at or above the root of L(P, z₁) = c, checked: L(P, result) ≥ c in float64 (else +∞).

    The smaller of two candidates that pass the check: :func:`_newton_from_left` (slow where the root is far
    out in s) and :func:`root_from_below` (``below``, if already computed) nudged up by 4·10⁻¹² (right of
    the root once that has converged).
    """
    from_left = _newton_from_left(p, r, c, sigma, k)
    below = root_from_below(p, r, c, sigma, k) if below is None else below
    nudged = below + 4e-12 * (1.0 + below.abs())
    nudged = torch.where(log_ratio(p, nudged, r, sigma, k) >= c, nudged, torch.full_like(nudged, float("inf")))
    return torch.minimum(from_left, nudged)


def _newton_from_left(p: torch.Tensor, r: torch.Tensor, c: torch.Tensor, sigma: float, k: float) -> torch.Tensor:
    """A z₁ at or above the root of L(P, z₁) = c, checked (else +∞): Newton in s from the left.

    With s = u/P, L = c ⇔ h(s) = −c for h(s) = (k/2)·log1p(s) + (P/2σ²)·s, concave and increasing on
    s > −1. Newton from a point left of the root stays left of it (a concave function lies below its
    tangents), and z₁ = (r² − sP)/(2r) is decreasing in s, so every iterate gives a z₁ above the root.
    Start: the Newton step from s = 0, or −1 (z = δ*, always left of the root) if that step leaves the
    domain. A last check evaluates L at the result and sends any (float) failure to +∞ (counts nothing
    above, everything below: the safe side for both counts).
    """
    a = p / (2.0 * sigma**2)
    target = -c
    if k:
        s = target / (0.5 * k + a)
        s = torch.where(s > -1.0, s, torch.full_like(s, -1.0))
        for _ in range(NEWTON_STEPS):
            inside = s > -1.0
            one_plus = torch.where(inside, 1.0 + s, torch.ones_like(s))
            h = 0.5 * k * torch.log(one_plus) + a * s
            step = (target - h) / (0.5 * k / one_plus + a)
            s = torch.where(inside & (step > 0), s + step, s)  # only ever moves right, toward the root
    else:
        s = target / a  # h is linear: the root itself
    t = (r * r - s * p) / (2.0 * r)
    t = t + 1e-12 * (1.0 + t.abs())  # rounding in the line above goes the safe way
    ok = log_ratio(p, t, r, sigma, k) >= c
    return torch.where(ok, t, torch.full_like(t, float("inf")))


def root_from_below(p: torch.Tensor, r: torch.Tensor, c: torch.Tensor, sigma: float, k: float) -> torch.Tensor:
    """A z₁ at or (in exact arithmetic) below the root of L(P, z₁) = c: where the one-by-one evaluation of
    :class:`PowerL2LevelCounter` starts. Its accuracy only costs time, never soundness.

    In w = log1p(s), h = (k/2)·w + (P/2σ²)(e^w − 1) is convex and increasing, so Newton from a point right
    of the root stays right of it (a convex function lies above its tangents), and a larger s is a smaller z₁.
    Start: w = 0 when −c ≤ 0 (h(0) = 0), else the smaller of 2(−c)/k and log1p(−c·2σ²/P), both at or right
    of the root. Quick where :func:`root_from_above` is slow (P ≪ kσ², the root far out in s).
    """
    a = p / (2.0 * sigma**2)
    target = -c
    if not k:
        t = (r * r - (target / a) * p) / (2.0 * r)
        return t - 1e-12 * (1.0 + t.abs())
    w = torch.minimum(2.0 * target / k, torch.log1p(target.clamp_min(0.0) / a)).clamp_min(0.0)
    for _ in range(NEWTON_STEPS):
        grow = torch.expm1(w)  # e^w − 1 without cancellation at small w
        h = 0.5 * k * w + a * grow
        step = (h - target) / (0.5 * k + a * (grow + 1.0))
        w = torch.where(step > 0, w - step, w)  # only ever moves left, toward the root
    t = (r * r - torch.expm1(w) * p) / (2.0 * r)
    return t - 1e-12 * (1.0 + t.abs())


class PowerL2LevelCounter:
    """Counts of {L ≥ c_j} and {L ≤ c_j} at each radius r_j from (P, z₁) draws binned by P (module
    docstring); ``stats``: (N, 2) float64 [P, z₁]; ``radii``: (R,).

    In bin b, with T_lo ≤ T_hi bounds on the two endpoint roots (:func:`root_from_below`,
    :func:`root_from_above`): draws with z₁ ≥ T_hi have L ≥ c and draws with
    z₁ > T_hi have L > c (T_hi is checked to be at or above every root in the bin), so only the draws with
    z₁ in [T_lo, T_hi] are looked at one by one, with L evaluated as on every draw. Below T_lo a draw counts
    as L < c: were T_lo off, that could only undercount {L ≥ c} and overcount {L ≤ c}, the safe sides.
    """

    def __init__(self, stats: torch.Tensor, radii: np.ndarray, sigma: float, k: float, bins: int) -> None:
        self.sigma, self.k = float(sigma), float(k)
        self.radii = torch.as_tensor(np.asarray(radii, dtype=np.float64))
        n = stats.shape[0]
        width = -(-n // max(1, min(int(bins), n)))  # draws per bin (ceil)
        bins = -(-n // width)  # so that only the last bin is short: its padding is < width
        self.width = width
        pad = bins * width - n  # z₁ = +∞ fills the last bin; valid counts exclude it
        order = torch.argsort(stats[:, 0])
        p_binned = torch.cat([stats[order, 0], stats[order[-1:], 0].expand(pad)]).view(bins, width)
        z_binned = torch.cat([stats[order, 1], torch.full((pad,), float("inf"), dtype=torch.float64)]).view(bins, width)
        self.p_ends = torch.stack([p_binned[:, 0], p_binned[:, -1]], dim=1)  # (B, 2): each bin's P range
        z_sorted, within = torch.sort(z_binned, dim=1)  # +∞ padding sorts last
        self.z1 = z_sorted
        self.p = torch.gather(p_binned, 1, within).view(-1)  # P of each draw, in the same (bin, z₁) order
        # draws per bin that are real (not padding): width, except the last bin
        self.valid = (n - torch.arange(bins, dtype=torch.int64) * width).clamp(0, width).view(bins, 1)

    def _split(self, c: np.ndarray) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """(first, last, ge, le): per (bin, radius), the sorted positions of T_lo and T_hi and the numbers of
        draws in between with L ≥ c and with L ≤ c (both count a draw with L = c)."""
        c_t = torch.as_tensor(np.asarray(c, dtype=np.float64))
        args = (self.p_ends.unsqueeze(2), self.radii.view(1, 1, -1), c_t.view(1, 1, -1), self.sigma, self.k)
        below = root_from_below(*args)
        high = root_from_above(*args, below=below).amax(dim=1)  # (B, R): at or above every root in the bin (checked)
        low = torch.minimum(below.amin(dim=1), high)
        first = torch.searchsorted(self.z1, low.contiguous(), right=False).clamp_max(self.valid)
        last = torch.searchsorted(self.z1, high.contiguous(), right=True).clamp_max(self.valid)
        between = (last - first).clamp_min(0)  # (B, R): draws to evaluate one by one
        total = int(between.sum())
        ge, le = torch.zeros_like(between), torch.zeros_like(between)
        if total:
            _, radii = between.shape
            flat = between.view(-1)
            cell = torch.repeat_interleave(torch.arange(flat.numel()), flat)  # (total,) the (bin, radius) cell
            offset = torch.arange(total) - torch.repeat_interleave(torch.cumsum(flat, 0) - flat, flat)
            b, j = cell // radii, cell % radii
            pos = b * self.width + first.view(-1)[cell] + offset
            value = log_ratio(self.p[pos], self.z1.view(-1)[pos], self.radii[j], self.sigma, self.k)
            ge.view(-1).index_add_(0, cell, (value >= c_t[j]).to(torch.int64))
            le.view(-1).index_add_(0, cell, (value <= c_t[j]).to(torch.int64))
        return first, last, ge, le

    def at_least(self, c: np.ndarray) -> np.ndarray:
        """#{L ≥ c_j} (never more), one count per radius, (R,) int64."""
        first, last, ge, _ = self._split(c)
        return ((self.valid - torch.maximum(last, first)) + ge).sum(0).numpy()

    def at_most(self, c: np.ndarray) -> np.ndarray:
        """#{L ≤ c_j} (never less), one count per radius, (R,) int64."""
        first, _, _, le = self._split(c)
        return (first + le).sum(0).numpy()
