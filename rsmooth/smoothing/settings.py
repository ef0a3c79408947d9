"""Certification settings: one validated object for the CLI, the training callback and the Python loop.

:class:`CertificationSettings` holds what the ``certification`` config group holds (``conf/certification``
documents each field): the sample sizes, the level, the batching, which examples, the mode and the
forward-pass switches. It checks its fields once, when it is built (from Python, or by
:func:`~rsmooth.validation.from_mapping` from a config), and builds the sequential sample schedule once;
everything below takes it as it is.
"""

from __future__ import annotations

import math
from dataclasses import InitVar, dataclass, field
from typing import Any, Optional

import torch

from rsmooth.errors import ConfigError
from rsmooth.smoothing.sequential import SampleSchedule
from rsmooth.validation import check_fields, check_groups, radii_are_valid

#: certification.precision → the forward pass's autocast dtype (None: float32); the noise is always float32
PRECISIONS: dict[str | None, torch.dtype | None] = {
    None: None,
    "fp32": None,
    "bf16": torch.bfloat16,
    "fp16": torch.float16,
}
MODES = ("fixed", "sequential")
#: forward-pass switches; each may change the network's logits (never the noise)
SPEED_SWITCHES = ("channels_last", "compile", "cudnn_benchmark")


def _require(ok: bool, where: str, what: str, value: Any) -> None:
    if not ok:
        raise ConfigError(f"{where} must be {what}, got {value!r}")


def _at(where: str, name: str) -> str:
    """How an error names field ``name`` of the settings at ``where`` (bare when ``where`` is empty)."""
    return f"{where}.{name}" if where else name


def check_device(where: str, name: str) -> None:
    """``auto`` or a torch device name (``cpu``, ``cuda``, ``cuda:1``)."""
    if name == "auto":
        return
    try:
        torch.device(name)
    except (RuntimeError, ValueError):
        raise ConfigError(f"{where} must be auto, cpu, cuda or cuda:N (a torch device), got {name!r}") from None


def resolve_device(name: str) -> torch.device:
    """``auto`` → the first CUDA device if there is one, else CPU; anything else as given."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device={name!r} asked for CUDA but no GPU is available; use device=cpu or auto")
    return device


@dataclass(frozen=True)
class SequentialSettings:
    """``certification.sequential``: the stages of sequential CERTIFY (:mod:`rsmooth.smoothing.sequential`).

    ``radii``: the radii an input's sampling aims at (None: none; the config points it at the
    certification radii); ``first``/``growth``: the geometric stage sizes; ``futility``: the level of the
    optimistic bound that gives up on a radius out of reach; ``final_share``: the last stage's share of α;
    ``radius_tolerance``: also stop once the input's radius is known to within this width (None: off).
    """

    radii: Optional[list[float]] = None
    first: int = 1024
    growth: float = 2.0
    futility: float = 0.05
    final_share: float = 0.75
    radius_tolerance: Optional[float] = None
    where: InitVar[str] = "certification.sequential"

    def __post_init__(self, where: str) -> None:
        check_fields(self, where)
        _require(
            self.radii is None or radii_are_valid(self.radii),
            _at(where, "radii"),
            "a list of finite numbers >= 0",
            self.radii,
        )
        _require(self.first >= 1, _at(where, "first"), "an integer >= 1", self.first)
        _require(self.growth > 1, _at(where, "growth"), "a number > 1", self.growth)
        _require(0 < self.futility < 0.5, _at(where, "futility"), "in (0, 0.5)", self.futility)
        _require(0 < self.final_share < 1, _at(where, "final_share"), "in (0, 1)", self.final_share)
        _require(
            self.radius_tolerance is None or (math.isfinite(self.radius_tolerance) and self.radius_tolerance > 0),
            _at(where, "radius_tolerance"),
            "a number > 0 or null",
            self.radius_tolerance,
        )


@dataclass(frozen=True)
class CertificationSettings:
    """How to certify: CERTIFY's n0, n and α, the batch and group sizes, the seed, the certificates, which
    examples (every ``skip``-th of [``start``, ``end``), at most ``max``; −1: no limit), fixed or sequential
    mode, the device and forward-pass switches, whether rows record their time, the radii summaries read.

    Every field is checked when the object is built (types from the annotations, then ranges), and an
    error names the field as ``where.field``. ``schedule`` is the sequential sample schedule (None in fixed
    mode), built once from ``n`` and ``sequential``.
    """

    n0: int = 100
    n: int = 10_000
    alpha: float = 0.001
    batch_size: int = 1000
    start: int = 0
    end: int = -1
    skip: int = 1
    max: int = -1
    group_size: Any = "auto"
    seed: int = 0
    certificate: Optional[str] = None
    extra_certificates: list[str] = field(default_factory=list)
    mode: str = "fixed"
    sequential: SequentialSettings = field(default_factory=SequentialSettings)
    device: str = "auto"
    precision: Optional[str] = None
    channels_last: bool = False
    compile: bool = False
    cudnn_benchmark: bool = False
    progress: bool = True
    record_time: bool = True
    radii: list[float] = field(default_factory=lambda: [0.0, 0.25, 0.5, 0.75, 1.0])
    where: InitVar[str] = "certification"

    def __post_init__(self, where: str) -> None:
        check_fields(self, where)
        w = where
        _require(0 < self.alpha < 0.5, _at(w, "alpha"), "in (0, 0.5)", self.alpha)
        for name in ("n0", "n", "batch_size", "skip"):
            _require(getattr(self, name) >= 1, _at(w, name), "an integer >= 1", getattr(self, name))
        _require(self.start >= 0, _at(w, "start"), "an integer >= 0", self.start)
        _require(self.end == -1 or self.end > self.start, _at(w, "end"), "-1 (to the end) or > start", self.end)
        _require(self.max == -1 or self.max >= 1, _at(w, "max"), "-1 (no limit) or an integer >= 1", self.max)
        _require(self.seed >= 0, _at(w, "seed"), "an integer >= 0", self.seed)
        group = self.group_size
        _require(
            group in ("auto", None) or (isinstance(group, int) and not isinstance(group, bool) and group >= 1),
            _at(w, "group_size"),
            "auto or an integer >= 1",
            group,
        )
        _require(self.mode in MODES, _at(w, "mode"), "fixed or sequential", self.mode)
        _require(self.precision in PRECISIONS, _at(w, "precision"), "null, fp32, bf16 or fp16", self.precision)
        _require(
            bool(self.radii) and radii_are_valid(self.radii),
            _at(w, "radii"),
            "a list of finite numbers >= 0",
            self.radii,
        )
        check_device(_at(w, "device"), self.device)
        check_groups(self, where)
        schedule = None
        if self.mode == "sequential":
            s = self.sequential
            schedule = SampleSchedule.geometric(self.n, s.first, s.growth, s.futility, s.final_share)
        object.__setattr__(self, "_schedule", schedule)

    @property
    def schedule(self) -> SampleSchedule | None:
        """The sequential stages N_1 < … < N_K = n (None in fixed mode)."""
        return self._schedule  # type: ignore[attr-defined]  # not a field: set once in __post_init__

    @property
    def groups_automatically(self) -> bool:
        """``group_size: auto`` (or null): inputs share batches until the smallest phase fills one."""
        return self.group_size in ("auto", None)

    @property
    def autocast_dtype(self) -> torch.dtype | None:
        """The forward pass's autocast dtype (``precision``); None for float32."""
        return PRECISIONS[self.precision]

    def speed_switches(self) -> dict[str, bool]:
        """The forward-pass switches that are on (``channels_last`` / ``compile`` / ``cudnn_benchmark``)."""
        return {name: True for name in SPEED_SWITCHES if getattr(self, name)}

    def select(self, total: int) -> list[int]:
        """The indices of a split of ``total`` examples these settings certify: every ``skip``-th of
        [start, end) ∩ [0, total), at most ``max`` (Cohen et al.'s skip/max)."""
        stop = total if self.end < 0 else min(self.end, total)
        out = list(range(self.start, stop, self.skip))
        return out if self.max < 0 else out[: self.max]
