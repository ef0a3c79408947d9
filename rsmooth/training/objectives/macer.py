"""MACER (Zhai et al. 2020, "MACER: Attack-free and Scalable Robust Training via Maximizing Certified Radius",
eq. (9) and Algorithm 1), for every family whose certificate radius is a differentiable function of the class
probabilities (:class:`~rsmooth.certificates.base.DifferentiableRadius`)."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from rsmooth.certificates.base import DifferentiableRadius
from rsmooth.errors import ConfigError
from rsmooth.noise.base import NoiseFamily
from rsmooth.training.objectives.base import Objective, ObjectiveOutput, check_copies, check_weight, noisy_copies

#: the families (conf/noise names) whose default certificate has a differentiable radius; checked by a test
#: against every family's certificate
MACER_FAMILIES = ("gaussian", "discrete_gaussian", "uniform_l1", "ssn", "exponential_linf")


class Macer(Objective):
    """With m noisy copies per input, the soft smoothed classifier ĝ(x) = (1/m) Σ_i softmax f(x + δ_i) and its
    inverse-temperature version ĝ_β (softmax of β·logits):

        L = (1/B) Σ_x [ −log ĝ(x)_y  +  λ · 1{ĝ_β correct, R ≤ γ·u} · (γ·u − R) ],

    R = the family certificate's radius at ĝ_β's top two probabilities (:meth:`DifferentiableRadius.soft_radius`)
    and u its :meth:`~DifferentiableRadius.radius_unit`. For the Gaussian, u = σ/2 and R = σ/2·(Φ⁻¹(p₁) − Φ⁻¹(p₂)),
    which is the paper's hinge on the gap Φ⁻¹(p₁) − Φ⁻¹(p₂) ≤ γ, term for term. Examples whose radius is not
    finite (a probability rounded to 0 or 1) are left out of the hinge, as in the paper's code.
    The paper's CIFAR-10 settings: m = 16, λ = 12, γ = 8, β = 16 (ImageNet: m = 2).
    ``deferred_epochs``: the hinge is off (λ = 0) for the first that many epochs, as the reference
    reproductions' "deferred" option (Jeong & Shin 2020's code) starts MACER only after the first learning-rate
    drop: from an untrained network the β-tempered hinge alone can stop training (measured on digits).
    """

    def __init__(
        self, lam: float = 12.0, gamma: float = 8.0, beta: float = 16.0, m: int = 16, deferred_epochs: int = 0
    ) -> None:
        self.lam = check_weight("lam", lam)
        self.gamma = check_weight("gamma", gamma)
        self.beta = check_weight("beta", beta)
        if self.beta == 0:
            raise ConfigError("objective.beta must be > 0, got 0")
        self.m = check_copies(m)
        if isinstance(deferred_epochs, bool) or not isinstance(deferred_epochs, int) or deferred_epochs < 0:
            raise ConfigError(f"objective.deferred_epochs must be an integer >= 0, got {deferred_epochs!r}")
        self.deferred_epochs = deferred_epochs
        self.epoch = 0

    def start_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def bind(self, model: nn.Module, noise: NoiseFamily) -> None:
        cert = noise.default_certificate()
        if not isinstance(cert, DifferentiableRadius):
            raise ConfigError(
                f"objective=macer needs a certificate radius that is differentiable in p_A; {noise.name}'s "
                f"{cert.name} certificate has none (families that have one: {', '.join(MACER_FAMILIES)})"
            )

    def __call__(self, model: nn.Module, noise: NoiseFamily, x: torch.Tensor, y: torch.Tensor) -> ObjectiveOutput:
        cert = noise.default_certificate()
        assert isinstance(cert, DifferentiableRadius)  # bind() refused the others before training
        b, m, dim = x.shape[0], self.m, x[0].numel()
        logits = model(noisy_copies(noise, x, m)).float().view(b, m, -1)  # (B, m, K), one forward pass
        soft = F.softmax(logits, dim=2).mean(dim=1)  # ĝ(x): (B, K)
        ce = F.nll_loss((soft + 1e-10).log(), y)
        top = F.softmax(self.beta * logits, dim=2).mean(dim=1).topk(2, dim=1)  # ĝ_β's two largest
        correct = top.indices[:, 0] == y
        p1, p2 = top.values[correct, 0], top.values[correct, 1]
        margin = self.gamma * cert.radius_unit(dim)
        with torch.no_grad():  # which examples the hinge holds; chosen first, since the gradient of a radius
            radius = cert.soft_radius(p1, p2, dim)  # at p = 0 or 1 is infinite and 0·∞ would poison the rest
            inside = torch.isfinite(radius) & (radius <= margin)
        hinge = (margin - cert.soft_radius(p1[inside], p2[inside], dim)).sum() / b
        lam = 0.0 if self.epoch < self.deferred_epochs else self.lam
        loss = ce + lam * hinge
        return ObjectiveOutput(
            loss, logits[:, 0], {"ce": ce.detach(), "hinge": hinge.detach(), "hinged": inside.float().sum() / b}
        )
