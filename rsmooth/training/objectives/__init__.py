"""Training objectives, one per file."""

from rsmooth.training.objectives.base import Objective, ObjectiveOutput
from rsmooth.training.objectives.noise_augmentation import NoiseAugmentation
from rsmooth.training.objectives.stability import Stability, kl_from_logits

__all__ = ["NoiseAugmentation", "Objective", "ObjectiveOutput", "Stability", "kl_from_logits"]
