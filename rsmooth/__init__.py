"""rsmooth: train and certify randomized-smoothing classifiers.

The public face, for scripts and notebooks::

    from rsmooth import Smooth, GaussianNoise, load_classifier, certified_accuracy

Names are imported on first use, so ``import rsmooth`` loads nothing heavy and changes nothing in the host
process: no environment variable, allocator setting or thread count (the console scripts tune the
process they own: :func:`rsmooth.smoothing.cpu.tune_process`).

Layers, bottom to top, each importing only from below (``tests/unit/test_layers.py`` checks it):
``errors``/``validation`` → ``certificates`` (the theorems) → ``noise`` (the families) → ``smoothing``
(the engine) → ``results`` / ``models`` → ``loading`` (untrusted files) → ``data`` → ``training`` /
``analysis`` → ``callbacks`` / ``attack`` → ``cli`` (entry points and the config schema).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

#: public name → the module that defines it
_EXPORTS = {
    "Smooth": "rsmooth.smoothing",
    "CertifyResult": "rsmooth.smoothing",
    "Prediction": "rsmooth.smoothing",
    "CertificationSettings": "rsmooth.smoothing",
    "SequentialSettings": "rsmooth.smoothing",
    "NoiseThreads": "rsmooth.smoothing.cpu",
    "tune_process": "rsmooth.smoothing.cpu",
    "NoiseFamily": "rsmooth.noise",
    "GaussianNoise": "rsmooth.noise",
    "DiscreteGaussianNoise": "rsmooth.noise",
    "ExponentialLinfNoise": "rsmooth.noise",
    "UniformL1Noise": "rsmooth.noise",
    "SplittingNoise": "rsmooth.noise",
    "DeterministicSplittingNoise": "rsmooth.noise",
    "PowerL2Noise": "rsmooth.noise",
    "MixedLinfNoise": "rsmooth.noise",
    "LinfPowerNoise": "rsmooth.noise",
    "Certificate": "rsmooth.certificates",
    "VoteCounts": "rsmooth.certificates",
    "cohen_radius": "rsmooth.certificates",
    "CertificationRow": "rsmooth.results",
    "ResultsWriter": "rsmooth.results",
    "certify_examples": "rsmooth.results",
    "read_rows": "rsmooth.results",
    "load_classifier": "rsmooth.loading",
    "certified_accuracy": "rsmooth.analysis",
    "average_certified_radius": "rsmooth.analysis",
    "summarize_rows": "rsmooth.analysis",
}

__all__ = [
    "Certificate",
    "CertificationRow",
    "CertificationSettings",
    "CertifyResult",
    "DeterministicSplittingNoise",
    "DiscreteGaussianNoise",
    "ExponentialLinfNoise",
    "GaussianNoise",
    "LinfPowerNoise",
    "MixedLinfNoise",
    "NoiseFamily",
    "NoiseThreads",
    "PowerL2Noise",
    "Prediction",
    "ResultsWriter",
    "SequentialSettings",
    "Smooth",
    "SplittingNoise",
    "UniformL1Noise",
    "VoteCounts",
    "__version__",
    "average_certified_radius",
    "certified_accuracy",
    "certify_examples",
    "cohen_radius",
    "load_classifier",
    "read_rows",
    "summarize_rows",
    "tune_process",
]


def __getattr__(name: str) -> Any:
    """``rsmooth.Smooth`` and the rest of :data:`_EXPORTS`, imported when first asked for."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'rsmooth' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


if TYPE_CHECKING:  # what type checkers and IDEs see
    from rsmooth.analysis import average_certified_radius, certified_accuracy, summarize_rows
    from rsmooth.certificates import Certificate, VoteCounts, cohen_radius
    from rsmooth.loading import load_classifier
    from rsmooth.noise import (
        DeterministicSplittingNoise,
        DiscreteGaussianNoise,
        ExponentialLinfNoise,
        GaussianNoise,
        LinfPowerNoise,
        MixedLinfNoise,
        NoiseFamily,
        PowerL2Noise,
        SplittingNoise,
        UniformL1Noise,
    )
    from rsmooth.results import CertificationRow, ResultsWriter, certify_examples, read_rows
    from rsmooth.smoothing import CertificationSettings, CertifyResult, Prediction, SequentialSettings, Smooth
    from rsmooth.smoothing.cpu import NoiseThreads, tune_process
