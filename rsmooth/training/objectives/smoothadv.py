"""SmoothAdv (Salman et al. 2019, "Provably Robust Deep Learning via Adversarially Trained Smoothed
Classifiers", §3 and Algorithm 1): train on adversarial examples of the *smoothed* soft classifier.

Per batch: draw m noise copies δ_1 … δ_m per input, held fixed while PGD (:func:`rsmooth.attack.pgd_on_soft_smoothed`,
the same soft smoothed classifier and gradient as ``rsmooth-attack``) finds x′ with ‖x′ − x‖ ≤ ε in the family's
own threat norm maximising −log((1/m) Σ_i softmax f(x′ + δ_i))_y; then the loss is cross-entropy on the attacked
noisy copies f(x′ + δ_i) — all m of them (the multi-noise variant, the paper's best), or the first only.
The attack runs with the network in ``eval`` mode and its parameters out of autograd (so neither BatchNorm
statistics nor weight gradients see it); ε grows linearly to its value over the first ``warmup_epochs``.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from rsmooth.attack.pgd import pgd_on_soft_smoothed
from rsmooth.errors import ConfigError
from rsmooth.noise.base import NoiseFamily
from rsmooth.training.objectives.base import Objective, ObjectiveOutput, check_copies

#: the seed of one batch's fixed noise is drawn from torch's global generator (so a training seed fixes it)
SEED_RANGE = 2**62


class SmoothAdv(Objective):
    """PGD on the soft smoothed classifier inside training (see the module docstring).

    ``eps``: the attack radius in the family's norm (``noise.norm``: ℓ2, ℓ1 or ℓ∞); ``steps`` PGD steps of size
    ``step_scale``·ε/steps (the paper: 2ε/steps); ``m`` noise copies per input; ``warmup_epochs``: ε rises as
    ε·min(1, (epoch + 1)/warmup_epochs); ``multi_noise``: train on all m copies (else the first);
    ``l1_share``: the share of coordinates an ℓ1 step moves. The paper's CIFAR-10 settings include
    ε = 0.5 … 2, 10 steps, m ∈ {1, 2, 4, 8}, 10 warm-up epochs; ImageNet: 1 step, m = 1.
    """

    def __init__(
        self,
        eps: float = 0.5,
        steps: int = 2,
        m: int = 2,
        warmup_epochs: int = 0,
        multi_noise: bool = True,
        step_scale: float = 2.0,
        l1_share: float = 0.05,
    ) -> None:
        if isinstance(eps, bool) or not isinstance(eps, int | float) or not math.isfinite(eps) or eps < 0:
            raise ConfigError(f"objective.eps must be a number >= 0, got {eps!r}")
        for name, value in (("steps", steps), ("warmup_epochs", warmup_epochs)):
            if isinstance(value, bool) or not isinstance(value, int) or value < (1 if name == "steps" else 0):
                raise ConfigError(
                    f"objective.{name} must be an integer >= {1 if name == 'steps' else 0}, got {value!r}"
                )
        if not (isinstance(step_scale, int | float) and math.isfinite(step_scale) and step_scale > 0):
            raise ConfigError(f"objective.step_scale must be a number > 0, got {step_scale!r}")
        if not (isinstance(l1_share, int | float) and 0 < l1_share <= 1):
            raise ConfigError(f"objective.l1_share must be in (0, 1], got {l1_share!r}")
        self.eps, self.steps, self.m = float(eps), steps, check_copies(m)
        self.warmup_epochs, self.multi_noise = warmup_epochs, bool(multi_noise)
        self.step_scale, self.l1_share = float(step_scale), float(l1_share)
        self.epoch = 0

    def start_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def current_eps(self) -> float:
        """ε at this epoch: the linear warm-up, then ε."""
        if self.warmup_epochs == 0:
            return self.eps
        return self.eps * min(1.0, (self.epoch + 1) / self.warmup_epochs)

    def attack(self, model: nn.Module, noise: NoiseFamily, x: torch.Tensor, y: torch.Tensor, seed: int) -> torch.Tensor:
        """x′ (B, C, H, W): PGD against the soft smoothed classifier with the noise of ``seed`` held fixed."""
        eps = self.current_eps()
        if eps == 0:
            return x.detach()

        def fixed_draws(adv: torch.Tensor) -> torch.Tensor:
            return noise.perturb(adv, torch.Generator(device=adv.device).manual_seed(seed))

        was_training = model.training
        needs_grad = [p.requires_grad for p in model.parameters()]
        model.eval()
        model.requires_grad_(False)
        try:
            return pgd_on_soft_smoothed(
                model,
                x,
                y,
                eps,
                noise.norm,
                self.steps,
                self.step_scale * eps / self.steps,
                self.m,
                fixed_draws,
                self.l1_share,
            )
        finally:
            for p, flag in zip(model.parameters(), needs_grad):
                p.requires_grad_(flag)
            model.train(was_training)

    def __call__(self, model: nn.Module, noise: NoiseFamily, x: torch.Tensor, y: torch.Tensor) -> ObjectiveOutput:
        b, m = x.shape[0], self.m
        seed = int(torch.randint(SEED_RANGE, (1,)))
        adv = self.attack(model, noise, x, y, seed)
        # the same noise copies the attack held fixed (same seed, same example-major layout)
        noisy = noise.perturb(adv.repeat_interleave(m, dim=0), torch.Generator(device=x.device).manual_seed(seed))
        if self.multi_noise:
            logits = model(noisy)  # (B·m, K): one forward pass
            loss = F.cross_entropy(logits, y.repeat_interleave(m))
            first = logits.view(b, m, -1)[:, 0]
        else:
            first = model(noisy[::m])
            loss = F.cross_entropy(first, y)
        shift = (adv - x).flatten(1).norm(p={"l2": 2.0, "l1": 1.0, "linf": math.inf}[noise.norm], dim=1).mean()
        return ObjectiveOutput(
            loss, first, {"ce": loss.detach(), "eps": torch.tensor(self.current_eps(), device=x.device), "shift": shift}
        )
