"""PGD on the smoothed soft classifier (Salman et al. 2019, "SmoothAdv"; Cohen et al. 2019, App. J.3).

The smoothed classifier g is piecewise constant, so it has no useful gradient. Its soft version
G(x) = E_z[softmax f(x + z)] is smooth; PGD ascends the loss −log G(x)_y, estimating G at every step from
m fresh noise draws (Salman et al. eq. 5: the log of the mean, not the mean of the logs):

    δ ← Proj_{‖δ‖_p ≤ ε}(δ + η·s),   s = the steepest-ascent direction of the loss in ℓp,

with s = ∇/‖∇‖₂ (ℓ2), sign ∇ (ℓ∞), or sign ∇ on the top-q share of coordinates, normalised to unit ℓ1
norm (ℓ1, Tramèr & Boneh 2019's sparse step), and x + δ clamped to [0, 1] after every step. Gradient
components that point out of [0, 1] at a coordinate already on its edge are dropped first (else the
sparse ℓ1 step would keep picking a pixel that cannot move).

Noise goes through the family's own ``perturb`` with a straight-through gradient (∂(x + z)/∂x = I), so
families whose sample is not differentiable in x (splitting noise) are attacked as if their noise were
additive (BPDA). Each example draws its noise from its own generator, seeded by (seed, id): the attack on
one example does not depend on which examples share its batch.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from rsmooth.attack.projections import NORMS, project
from rsmooth.errors import ConfigError
from rsmooth.noise.base import NoiseFamily
from rsmooth.smoothing.sampling import block_seed

#: the phase number of attack noise in :func:`block_seed` (CERTIFY and PREDICT use 0–2)
ATTACK_PHASE = 3


@dataclass(frozen=True)
class SmoothedPGD:
    """ℓp PGD against the smoothed classifier of ``noise`` (see the module docstring).

    ``steps`` iterations of step η = ``step_scale``·ε/steps, ``samples`` noise draws per step per example,
    ``l1_share``: the share of coordinates an ℓ1 step moves.
    """

    noise: NoiseFamily
    norm: str = "l2"
    steps: int = 20
    samples: int = 16
    step_scale: float = 2.5
    l1_share: float = 0.05
    seed: int = 0

    def __post_init__(self) -> None:
        if self.norm not in NORMS:
            raise ConfigError(f"attack.norm must be one of {NORMS}, got {self.norm!r}")
        for name in ("steps", "samples"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"attack.{name} must be an integer >= 1, got {value!r}")
        if not (math.isfinite(self.step_scale) and self.step_scale > 0):
            raise ConfigError(f"attack.step_scale must be a number > 0, got {self.step_scale!r}")
        if not 0 < self.l1_share <= 1:
            raise ConfigError(f"attack.l1_share must be in (0, 1], got {self.l1_share!r}")

    def attack(
        self, model: nn.Module, x: torch.Tensor, labels: torch.Tensor, eps: float, ids: Sequence[int]
    ) -> torch.Tensor:
        """Adversarial inputs (B, C, H, W) in [0, 1] with ‖x_adv − x‖_p ≤ ε, pushing each example away from
        ``labels`` (its true or its certified class). ε = 0 returns x."""
        if not (math.isfinite(eps) and eps >= 0):
            raise ConfigError(f"attack radius must be a finite number >= 0, got {eps!r}")
        x = x.detach().float()
        if eps == 0:
            return x.clone()
        if len(ids) != x.shape[0]:
            raise ValueError(f"{len(ids)} ids for {x.shape[0]} inputs")
        device, m = x.device, self.samples
        gens = []
        for i in ids:
            gen = torch.Generator(device=device)
            gen.manual_seed(block_seed(self.seed, int(i), ATTACK_PHASE, 0))
            gens.append(gen)

        def fresh_draws(adv: torch.Tensor) -> torch.Tensor:
            # each example's m copies from its own stream, fresh at every step
            return torch.cat([self.noise.perturb(adv[j * m : (j + 1) * m], generator=g) for j, g in enumerate(gens)])

        was_training = model.training
        model.eval()
        try:
            return pgd_on_soft_smoothed(
                model,
                x,
                labels.to(device),
                eps,
                self.norm,
                self.steps,
                self.step_scale * eps / self.steps,
                m,
                fresh_draws,
                self.l1_share,
            )
        finally:
            model.train(was_training)


def soft_smoothed_log_prob(model: nn.Module, noisy: torch.Tensor, labels: torch.Tensor, m: int) -> torch.Tensor:
    """log G(x)_y estimated from m noisy copies per example (Salman et al. 2019 eq. 5: the log of the mean of
    the softmax outputs, not the mean of the log-softmax).

    ``noisy``: (B·m, C, H, W), example-major (copies of example i in rows i·m … i·m + m − 1); ``labels``: (B,).
    Returns (B,). The one estimate of the soft smoothed classifier that the attack and SmoothAdv training share.
    """
    probs = model(noisy).float().softmax(dim=1).view(labels.shape[0], m, -1).mean(dim=1)  # (B, classes)
    return probs.gather(1, labels.view(-1, 1)).clamp_min(1e-12).log().squeeze(1)


def steepest_ascent(grad: torch.Tensor, norm: str, l1_share: float) -> torch.Tensor:
    """The unit-norm ℓp direction of steepest ascent for ``grad`` (B, …): ∇/‖∇‖₂ (ℓ2), sign ∇ (ℓ∞), or sign ∇ on
    the top ``l1_share`` of coordinates scaled to unit ℓ1 norm (ℓ1)."""
    flat = grad.flatten(1)
    if norm == "l2":
        return (flat / flat.norm(dim=1, keepdim=True).clamp_min(1e-12)).view_as(grad)
    if norm == "linf":
        return grad.sign()
    k = max(1, math.ceil(l1_share * flat.shape[1]))
    top = flat.abs().topk(k, dim=1).indices
    step = torch.zeros_like(flat).scatter_(1, top, flat.gather(1, top).sign() / k)
    return step.view_as(grad)


def pgd_on_soft_smoothed(
    model: nn.Module,
    x: torch.Tensor,
    labels: torch.Tensor,
    eps: float,
    norm: str,
    steps: int,
    step_size: float,
    m: int,
    draw: Callable[[torch.Tensor], torch.Tensor],
    l1_share: float = 0.05,
) -> torch.Tensor:
    """``steps`` of ℓp PGD ascending −log G(x + δ)_y from δ = 0; returns x + δ (B, C, H, W) with ‖δ‖_p ≤ ε and
    x + δ in [0, 1].

    ``draw(adv)`` maps the example-major repeated inputs (B·m, C, H, W) to their noisy copies (called without
    gradient; the gradient passes straight through, ∂(x + z)/∂x = I). The model's mode and its parameters'
    ``requires_grad`` are the caller's: only δ is differentiated.
    """
    x = x.detach()
    delta = torch.zeros_like(x)
    for _ in range(steps):
        delta.requires_grad_(True)
        with torch.enable_grad():
            adv = (x + delta).repeat_interleave(m, dim=0)  # (B·m, C, H, W), example-major
            with torch.no_grad():
                noisy = draw(adv)
            noisy = adv + (noisy - adv).detach()  # straight-through: gradient of x + z w.r.t. x
            loss = -soft_smoothed_log_prob(model, noisy, labels, m).sum()
            (grad,) = torch.autograd.grad(loss, delta)
        with torch.no_grad():
            # a coordinate at the edge of [0, 1] cannot move further out: leave it out of the step
            here = x + delta
            grad = grad.masked_fill(((here <= 0) & (grad < 0)) | ((here >= 1) & (grad > 0)), 0.0)
            delta = project(delta.detach() + step_size * steepest_ascent(grad, norm, l1_share), eps, norm)
            delta = (x + delta).clamp(0.0, 1.0) - x
    return (x + delta).detach()
