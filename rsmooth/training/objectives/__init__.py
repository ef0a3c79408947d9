"""Training objectives, one per file."""

from rsmooth.training.objectives.base import Objective, ObjectiveOutput, noisy_copies
from rsmooth.training.objectives.consistency import Consistency
from rsmooth.training.objectives.denoising import DenoiserMSE, DenoiserStability
from rsmooth.training.objectives.macer import MACER_FAMILIES, Macer
from rsmooth.training.objectives.noise_augmentation import Clean, NoiseAugmentation
from rsmooth.training.objectives.smoothadv import SmoothAdv
from rsmooth.training.objectives.stability import Stability, kl_from_logits

__all__ = [
    "MACER_FAMILIES",
    "Clean",
    "Consistency",
    "DenoiserMSE",
    "DenoiserStability",
    "Macer",
    "NoiseAugmentation",
    "Objective",
    "ObjectiveOutput",
    "SmoothAdv",
    "Stability",
    "kl_from_logits",
    "noisy_copies",
]
