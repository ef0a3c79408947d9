"""Euclidean projections of perturbations δ (B, …) onto ℓp balls of radius ε, per example.

Each returns argmin_{‖δ′‖_p ≤ ε} ‖δ′ − δ‖₂ row by row. After projecting, clamping x + δ′ to [0, 1] keeps it
in the ball: for x ∈ [0, 1] clamping moves each coordinate towards x, so no ‖·‖_p grows.
"""

from __future__ import annotations

import torch

NORMS = ("l2", "linf", "l1")


def project_l2(delta: torch.Tensor, eps: float) -> torch.Tensor:
    """Scale rows with ‖δ‖₂ > ε back onto the sphere."""
    flat = delta.flatten(1)
    norms = flat.norm(dim=1, keepdim=True).clamp_min(1e-12)
    return (flat * (eps / norms).clamp(max=1.0)).view_as(delta)


def project_linf(delta: torch.Tensor, eps: float) -> torch.Tensor:
    """Clip every coordinate to [−ε, ε]."""
    return delta.clamp(-eps, eps)


def project_l1(delta: torch.Tensor, eps: float) -> torch.Tensor:
    """Soft-threshold rows with ‖δ‖₁ > ε: δ′ = sign(δ)·max(|δ| − θ, 0) with θ chosen so ‖δ′‖₁ = ε
    (Duchi et al. 2008, projection onto the simplex by sorting; O(d log d) per row)."""
    flat = delta.flatten(1)
    a = flat.abs()
    inside = a.sum(dim=1) <= eps
    u, _ = a.sort(dim=1, descending=True)
    cumulative = u.cumsum(dim=1) - eps
    j = torch.arange(1, u.shape[1] + 1, device=u.device, dtype=u.dtype)
    # ρ = the largest j with u_j > (Σ_{i≤j} u_i − ε)/j; it always exists when ‖δ‖₁ > ε
    rho = ((u * j > cumulative).to(u.dtype) * j).argmax(dim=1, keepdim=True)
    theta = cumulative.gather(1, rho) / (rho + 1).to(u.dtype)
    shrunk = flat.sign() * (a - theta).clamp_min(0.0)
    return torch.where(inside.unsqueeze(1), flat, shrunk).view_as(delta)


def project(delta: torch.Tensor, eps: float, norm: str) -> torch.Tensor:
    """Projection onto the ``norm`` ball of radius ``eps`` (one of :data:`NORMS`)."""
    if norm == "l2":
        return project_l2(delta, eps)
    if norm == "linf":
        return project_linf(delta, eps)
    if norm == "l1":
        return project_l1(delta, eps)
    raise ValueError(f"norm must be one of {NORMS}, got {norm!r}")
