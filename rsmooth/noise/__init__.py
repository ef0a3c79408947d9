"""Smoothing distributions (pure core: torch/numpy/scipy only). One module per family."""

from rsmooth.noise.base import NORMS, AdditiveNoise, EnumerableNoise, NoiseFamily, Norm
from rsmooth.noise.discrete_gaussian import DiscreteGaussianNoise
from rsmooth.noise.exponential_linf import ExponentialLinfNoise
from rsmooth.noise.gaussian import GaussianNoise
from rsmooth.noise.linf_power import LinfPowerNoise
from rsmooth.noise.mixed_linf import MixedLinfNoise
from rsmooth.noise.power_l2 import PowerL2Noise
from rsmooth.noise.splitting import DeterministicSplittingNoise, SplittingNoise, split_midpoint
from rsmooth.noise.uniform_l1 import UniformL1Noise

__all__ = [
    "NORMS",
    "AdditiveNoise",
    "DeterministicSplittingNoise",
    "DiscreteGaussianNoise",
    "EnumerableNoise",
    "ExponentialLinfNoise",
    "GaussianNoise",
    "LinfPowerNoise",
    "MixedLinfNoise",
    "NoiseFamily",
    "Norm",
    "PowerL2Noise",
    "SplittingNoise",
    "UniformL1Noise",
    "split_midpoint",
]
