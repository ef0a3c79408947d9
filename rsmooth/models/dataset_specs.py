"""What a model must know about its dataset: classes, input shape, normalization, quantization.

Plain constants, importable without Lightning, so that a checkpoint that records no dataset
(Cohen et al.'s format) can be rebuilt from a dataset's name alone. The data modules use the same
constants, so they cannot drift apart.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from rsmooth.errors import ConfigError

#: bounds on what a data record (a file a user gives us) can make us allocate: classes, and C·H·W of one input
MAX_CLASSES = 100_000
MAX_INPUT_ELEMENTS = 3 * 4096 * 4096


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _shape(values: Any) -> tuple[int, int, int]:
    """(C, H, W) as ints; a ValueError unless there are exactly three."""
    channels, height, width = (int(v) for v in values)
    return channels, height, width


def _checked_info(info: Mapping[str, Any]) -> Mapping[str, Any]:
    """``info`` when every field has the type and range a dataset has, else one ConfigError naming the field:
    it may come from a checkpoint, an untrusted file, so nothing is converted or allocated before this."""

    def fail(name: str, what: str) -> None:
        raise ConfigError(f"data record: {name} must be {what}, got {info.get(name, '<absent>')!r}")

    missing = [n for n in ("name", "num_classes", "input_shape", "mean", "std", "quantization") if n not in info]
    if missing:
        raise ConfigError(f"data record: no {missing[0]} field")
    if not isinstance(info["name"], str):
        fail("name", "a string")
    if not (_is_int(info["num_classes"]) and 1 <= info["num_classes"] <= MAX_CLASSES):
        fail("num_classes", f"an integer in [1, {MAX_CLASSES}]")
    shape = info["input_shape"]
    if not (isinstance(shape, (list, tuple)) and len(shape) == 3 and all(_is_int(v) and v >= 1 for v in shape)):
        fail("input_shape", "three integers >= 1 (C, H, W)")
    if math.prod(shape) > MAX_INPUT_ELEMENTS:
        fail("input_shape", f"at most {MAX_INPUT_ELEMENTS} values in all")
    for name in ("mean", "std"):
        values = info[name]
        if not (isinstance(values, (list, tuple)) and len(values) == shape[0] and all(_is_number(v) for v in values)):
            fail(name, f"{shape[0]} finite numbers (one per channel)")
    if not all(v > 0 for v in info["std"]):
        fail("std", "positive")
    if not (_is_int(info["quantization"]) and 1 <= info["quantization"] <= 2**16):
        fail("quantization", "an integer in [1, 65536]")
    return info


@dataclass(frozen=True)
class DatasetSpec:
    """Images in [0, 1] of ``input_shape`` on the grid {0, 1/q, …, 1}; ``mean``/``std`` per channel."""

    name: str
    num_classes: int
    input_shape: tuple[int, int, int]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    quantization: int

    def info(self) -> dict[str, Any]:
        """The record a checkpoint keeps (JSON-friendly lists)."""
        d = asdict(self)
        return {**d, "input_shape": list(self.input_shape), "mean": list(self.mean), "std": list(self.std)}

    @classmethod
    def from_info(cls, info: Mapping[str, Any]) -> DatasetSpec:
        """The spec of a data record (a data module's ``info()`` or a checkpoint's), checked field by field."""
        if not isinstance(info, Mapping):
            raise ConfigError(f"data record: expected a mapping of dataset fields, got {type(info).__name__}")
        info = _checked_info(info)
        return cls(
            str(info["name"]),
            int(info["num_classes"]),
            _shape(info["input_shape"]),
            tuple(float(m) for m in info["mean"]),
            tuple(float(s) for s in info["std"]),
            int(info["quantization"]),
        )


CIFAR10 = DatasetSpec("cifar10", 10, (3, 32, 32), (0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010), 255)
SVHN = DatasetSpec("svhn", 10, (3, 32, 32), (0.4377, 0.4438, 0.4728), (0.1980, 0.2010, 0.1970), 255)
IMAGENET = DatasetSpec("imagenet", 1000, (3, 224, 224), (0.485, 0.456, 0.406), (0.229, 0.224, 0.225), 255)

#: the datasets whose statistics are fixed (digits and fake data compute theirs from their split)
FIXED_SPECS: tuple[DatasetSpec, ...] = (CIFAR10, SVHN, IMAGENET)


def dataset_spec(data: str | DatasetSpec | Mapping[str, Any] | Any) -> DatasetSpec:
    """A spec from a name (cifar10, svhn, imagenet), a spec, an ``info()`` mapping, or a data module."""
    if isinstance(data, DatasetSpec):
        return data
    if isinstance(data, str):
        for spec in FIXED_SPECS:
            if spec.name == data:
                return spec
        raise ConfigError(
            f"unknown dataset {data!r}: give one of {[s.name for s in FIXED_SPECS]}, or the data module / its info()"
        )
    if hasattr(data, "info"):
        data = data.info()
    if isinstance(data, Mapping):
        return DatasetSpec.from_info(data)
    raise ConfigError(f"cannot tell the dataset from {data!r}")
