"""Base classifiers. A model config is a factory ``(num_classes, in_channels) -> nn.Module``;
:func:`build_classifier` puts :class:`NormalizeLayer` in front of it."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from torch import nn

from rsmooth.models.normalize import NormalizedClassifier, NormalizeLayer

ModelFactory = Callable[..., nn.Module]


def build_classifier(
    factory: ModelFactory, num_classes: int, input_shape: Sequence[int], mean: Sequence[float], std: Sequence[float]
) -> NormalizedClassifier:
    """Instantiate ``factory`` for the data's classes/channels and wrap it with normalization."""
    if len(mean) != input_shape[0]:
        raise ValueError(f"mean has {len(mean)} entries but the input has {input_shape[0]} channels")
    net = factory(num_classes=num_classes, in_channels=int(input_shape[0]))
    return NormalizedClassifier(net, mean, std)


__all__ = ["ModelFactory", "NormalizeLayer", "NormalizedClassifier", "build_classifier"]
