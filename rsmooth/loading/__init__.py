"""Reading files users give us, which are untrusted: checkpoints (rsmooth's, Cohen et al.'s format, plain
state dicts), records that name classes (allow-listed only) and dataset pickles (plain data only).
Imports neither Lightning nor Hydra."""

from rsmooth.loading.checkpoint import CHECKPOINT_KEY, LoadedClassifier, load_classifier, load_weights

__all__ = ["CHECKPOINT_KEY", "LoadedClassifier", "load_classifier", "load_weights"]
