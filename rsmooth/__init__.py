"""rsmooth: train and certify randomized-smoothing classifiers."""

__version__ = "0.1.0"
