"""Training: the LightningModule, its pluggable objectives, and atomic checkpoint files."""

from rsmooth.loading.checkpoint import CHECKPOINT_KEY
from rsmooth.training.checkpoint_io import AtomicCheckpointIO
from rsmooth.training.module import SmoothingClassifier
from rsmooth.training.objectives import NoiseAugmentation, Objective, ObjectiveOutput, Stability

__all__ = [
    "CHECKPOINT_KEY",
    "AtomicCheckpointIO",
    "NoiseAugmentation",
    "Objective",
    "ObjectiveOutput",
    "SmoothingClassifier",
    "Stability",
]
