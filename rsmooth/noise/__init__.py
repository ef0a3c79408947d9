"""Smoothing distributions (pure core: torch/numpy/scipy only)."""

from rsmooth.noise.base import NORMS, NoiseFamily, Norm
from rsmooth.noise.gaussian import GaussianNoise

__all__ = ["NORMS", "GaussianNoise", "NoiseFamily", "Norm"]
