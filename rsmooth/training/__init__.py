"""Training: the LightningModule and its pluggable objectives."""

from rsmooth.checkpoint import CHECKPOINT_KEY
from rsmooth.training.module import SmoothingClassifier
from rsmooth.training.objectives import NoiseAugmentation, Objective, ObjectiveOutput, Stability

__all__ = ["CHECKPOINT_KEY", "NoiseAugmentation", "Objective", "ObjectiveOutput", "SmoothingClassifier", "Stability"]
