"""Objectives of denoised smoothing (Salman et al. 2020, "Denoised Smoothing", §3.1, eq. (3) and (4)): train a
denoiser D in front of a frozen classifier f (:class:`~rsmooth.models.denoised.DenoisedClassifier`)."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from rsmooth.errors import ConfigError
from rsmooth.models.denoised import DenoisedClassifier
from rsmooth.noise.base import NoiseFamily
from rsmooth.training.objectives.base import Objective, ObjectiveOutput


class _DenoiserObjective(Objective):
    def bind(self, model: nn.Module, noise: NoiseFamily) -> None:
        if not isinstance(model, DenoisedClassifier):
            raise ConfigError(
                f"objective={self.config_name} trains a denoiser in front of a frozen classifier: give "
                "frozen_classifier.checkpoint=PATH (or frozen_classifier.weights=PATH with "
                "frozen_classifier.architecture=NAME) and a denoiser as model= (e.g. model=dncnn_digits)"
            )

    config_name = "denoiser"


class DenoiserMSE(_DenoiserObjective):
    """‖D(x + δ) − x‖² averaged over pixels and batch (eq. (3)): the classifier plays no part in the loss."""

    config_name = "denoiser_mse"

    def __call__(self, model: nn.Module, noise: NoiseFamily, x: torch.Tensor, y: torch.Tensor) -> ObjectiveOutput:
        assert isinstance(model, DenoisedClassifier)
        denoised = model.denoiser(noise.perturb(x))
        loss = F.mse_loss(denoised, x)
        with torch.no_grad():
            logits = model.classifier(denoised)
        return ObjectiveOutput(loss, logits, {"mse": loss.detach()})


class DenoiserStability(_DenoiserObjective):
    """CE(f(D(x + δ)), f(x)) (eq. (4), "Stab"): the frozen classifier's own label on the clean input is the target,
    so the denoiser is trained for what f needs, without the data's labels."""

    config_name = "denoiser_stability"

    def __call__(self, model: nn.Module, noise: NoiseFamily, x: torch.Tensor, y: torch.Tensor) -> ObjectiveOutput:
        assert isinstance(model, DenoisedClassifier)
        with torch.no_grad():
            target = model.classifier(x).argmax(dim=1)
        logits = model.classifier(model.denoiser(noise.perturb(x)))
        loss = F.cross_entropy(logits, target)
        return ObjectiveOutput(loss, logits, {"ce_to_clean": loss.detach()})
