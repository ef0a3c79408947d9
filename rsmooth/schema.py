"""Structured configs: the type and range of every plain field of the entry points' configs.

The YAML files under ``conf/`` stay the registry; these dataclasses say what each plain (non-``_target_``)
field may hold. :func:`check_config` runs first in ``train``/``certify``/``analyze``/``attack``, right after
Hydra composes and before any model, data or file is touched: a wrong type, a value out of range or a
misspelt field is one :class:`~rsmooth.errors.ConfigError` line naming the field, and the entry point exits 2.
Classes built from ``_target_`` (data, model, noise, objective, callbacks) check their own arguments.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field
from typing import Any, Optional

import torch
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import ConfigKeyError, OmegaConfBaseException, ValidationError

from rsmooth.errors import ConfigError


def _require(ok: bool, where: str, what: str, value: Any) -> None:
    if not ok:
        raise ConfigError(f"{where} must be {what}, got {value!r}")


def _check_device(where: str, name: str) -> None:
    if name == "auto":
        return
    try:
        torch.device(name)
    except (RuntimeError, ValueError):
        raise ConfigError(f"{where} must be auto, cpu, cuda or cuda:N (a torch device), got {name!r}") from None


@dataclass
class SequentialSchema:
    """``certification.sequential`` (README, "Sequential certification")."""

    radii: Optional[list[float]] = None
    first: int = 1024
    growth: float = 2.0
    futility: float = 0.05
    final_share: float = 0.75

    def __post_init__(self) -> None:
        w = "certification.sequential"
        _require(self.first >= 1, f"{w}.first", "an integer >= 1", self.first)
        _require(self.growth > 1, f"{w}.growth", "a number > 1", self.growth)
        _require(0 < self.futility < 1, f"{w}.futility", "in (0, 1)", self.futility)
        _require(0 < self.final_share <= 1, f"{w}.final_share", "in (0, 1]", self.final_share)


@dataclass
class CertificationSchema:
    """The ``certification`` group (conf/certification/default.yaml documents each field)."""

    enabled: bool = True
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
    baselines: list[str] = field(default_factory=list)
    mode: str = "fixed"
    sequential: SequentialSchema = field(default_factory=SequentialSchema)
    device: str = "auto"
    precision: Optional[str] = None
    channels_last: bool = False
    compile: bool = False
    cudnn_benchmark: bool = False
    progress: bool = True
    record_time: bool = True
    radii: list[float] = field(default_factory=lambda: [0.0, 0.25, 0.5, 0.75, 1.0])

    def __post_init__(self) -> None:
        w = "certification"
        _require(0 < self.alpha < 0.5, f"{w}.alpha", "in (0, 0.5)", self.alpha)
        for name in ("n0", "n", "batch_size", "skip"):
            _require(getattr(self, name) >= 1, f"{w}.{name}", "an integer >= 1", getattr(self, name))
        _require(self.start >= 0, f"{w}.start", "an integer >= 0", self.start)
        _require(self.end == -1 or self.end > self.start, f"{w}.end", "-1 (to the end) or > start", self.end)
        _require(self.max == -1 or self.max >= 1, f"{w}.max", "-1 (no limit) or an integer >= 1", self.max)
        _require(self.seed >= 0, f"{w}.seed", "an integer >= 0", self.seed)
        _require(self.group_size == "auto" or self.group_size is None or
                 (isinstance(self.group_size, int) and not isinstance(self.group_size, bool) and self.group_size >= 1),
                 f"{w}.group_size", "auto or an integer >= 1", self.group_size)
        _require(self.mode in ("fixed", "sequential"), f"{w}.mode", "fixed or sequential", self.mode)
        _require(self.precision in (None, "fp32", "bf16", "fp16"), f"{w}.precision", "null, fp32, bf16 or fp16",
                 self.precision)
        _require(all(r >= 0 for r in self.radii), f"{w}.radii", "a list of numbers >= 0", self.radii)
        _check_device(f"{w}.device", self.device)


@dataclass
class TrainSchema:
    """The plain top-level fields of ``rsmooth-train`` (conf/train.yaml)."""

    task_name: str = "train"
    seed: int = 0
    resume_from: Optional[str] = None
    trusted_modules: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        _require(self.seed >= 0, "seed", "an integer >= 0", self.seed)


@dataclass
class ClassifierSourceSchema:
    """Where a smoothed classifier comes from (``checkpoint`` or ``weights``) and its seed: the fields
    ``rsmooth-certify`` and ``rsmooth-attack`` share."""

    seed: int = 0
    checkpoint: Optional[str] = None
    weights: Optional[str] = None
    trusted_modules: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        _require(self.seed >= 0, "seed", "an integer >= 0", self.seed)


@dataclass
class CertifySchema(ClassifierSourceSchema):
    """The plain top-level fields of ``rsmooth-certify`` (conf/certify.yaml)."""

    task_name: str = "certify"
    output: Optional[str] = None


@dataclass
class LinfOverDimensionSchema:
    enabled: bool = False
    p: float = 0.99
    sigma: float = 0.25
    max_dim: int = 1_000_000

    def __post_init__(self) -> None:
        _require(0.5 < self.p < 1, "linf_over_dimension.p", "in (0.5, 1)", self.p)
        _require(self.sigma > 0, "linf_over_dimension.sigma", "a number > 0", self.sigma)
        _require(self.max_dim >= 1, "linf_over_dimension.max_dim", "an integer >= 1", self.max_dim)


@dataclass
class AnalyzeSchema:
    """``rsmooth-analyze`` (conf/analyze.yaml), all but ``inputs`` (a path, a glob or a list of them)."""

    task_name: str = "analyze"
    labels: Optional[list[str]] = None
    radii: Optional[list[float]] = None
    max_radius: float = 1.5
    radius_step: float = 0.25
    norm: Optional[str] = None
    envelope: bool = True
    lower_bound: bool = True
    alpha: float = 0.001
    rho: float = 0.001
    formats: list[str] = field(default_factory=lambda: ["png", "svg"])
    bounds: bool = True
    linf_over_dimension: LinfOverDimensionSchema = field(default_factory=LinfOverDimensionSchema)

    def __post_init__(self) -> None:
        _require(self.max_radius > 0, "max_radius", "a number > 0", self.max_radius)
        _require(self.radius_step > 0, "radius_step", "a number > 0", self.radius_step)
        _require(self.norm in (None, "l1", "l2", "linf"), "norm", "null, l1, l2 or linf", self.norm)
        _require(0 < self.alpha < 0.5, "alpha", "in (0, 0.5)", self.alpha)
        _require(0 < self.rho < 0.5, "rho", "in (0, 0.5)", self.rho)
        _require(self.radii is None or all(r >= 0 for r in self.radii), "radii", "a list of numbers >= 0", self.radii)
        _require(set(self.formats) <= {"png", "svg", "pdf"} and bool(self.formats), "formats",
                 "a list of png, svg, pdf", self.formats)


@dataclass
class PgdSchema:
    norm: Optional[str] = None
    steps: int = 20
    samples: int = 16
    step_scale: float = 2.5
    l1_share: float = 0.05

    def __post_init__(self) -> None:
        _require(self.norm in (None, "l1", "l2", "linf"), "attack.norm", "null, l1, l2 or linf", self.norm)
        _require(self.steps >= 1, "attack.steps", "an integer >= 1", self.steps)
        _require(self.samples >= 1, "attack.samples", "an integer >= 1", self.samples)
        _require(self.step_scale > 0, "attack.step_scale", "a number > 0", self.step_scale)
        _require(0 < self.l1_share <= 1, "attack.l1_share", "in (0, 1]", self.l1_share)


@dataclass
class PredictSchema:
    n: int = 10_000
    alpha: float = 0.001

    def __post_init__(self) -> None:
        _require(self.n >= 1, "predict.n", "an integer >= 1", self.n)
        _require(0 < self.alpha < 0.5, "predict.alpha", "in (0, 0.5)", self.alpha)


@dataclass
class AttackSchema(ClassifierSourceSchema):
    """The plain fields of ``rsmooth-attack`` (conf/attack.yaml)."""

    task_name: str = "attack"
    certified: Optional[str] = None
    certificate: Optional[str] = None
    radii: list[float] = field(default_factory=lambda: [0.0, 0.25, 0.5, 0.75])
    max: Optional[int] = 100
    skip: int = 1
    batch_size: int = 1000
    device: str = "auto"
    attack: PgdSchema = field(default_factory=PgdSchema)
    predict: PredictSchema = field(default_factory=PredictSchema)
    output: Optional[str] = None

    def __post_init__(self) -> None:
        super().__post_init__()
        _require(all(r >= 0 for r in self.radii), "radii", "a list of numbers >= 0", self.radii)
        _require(self.max is None or self.max >= 1, "max", "null (all) or an integer >= 1", self.max)
        _require(self.skip >= 1, "skip", "an integer >= 1", self.skip)
        _require(self.batch_size >= 1, "batch_size", "an integer >= 1", self.batch_size)
        _check_device("device", self.device)


#: what a field's annotation asks for, in an error message
_KINDS = {"int": "an integer", "float": "a number", "bool": "true or false", "str": "a string",
          "list[float]": "a list of numbers", "list[str]": "a list of strings",
          "Optional[list[float]]": "null or a list of numbers", "Optional[list[str]]": "null or a list of strings",
          "Optional[str]": "null or a string", "Optional[int]": "null or an integer"}


def _prepare(data: Any, schema: type, prefix: str) -> Any:
    """Where OmegaConf's conversions differ from a user's intent: ``n=1e3`` is an integer value (integral
    floats in ``int`` fields become ints; OmegaConf refuses them), and a ``bool`` field takes only true or
    false (OmegaConf would read ``2`` or ``1.5`` as true)."""
    if not isinstance(data, dict):
        return data
    hints = typing.get_type_hints(schema)
    out = dict(data)
    for key, value in data.items():
        kind = hints.get(key)
        if kind in (int, Optional[int]) and isinstance(value, float) and value.is_integer():
            out[key] = int(value)
        elif kind is bool and not isinstance(value, bool):
            raise ConfigError(f"{prefix}{key} must be true or false, got {value!r}")
        elif dataclasses.is_dataclass(kind):
            out[key] = _prepare(value, kind, f"{prefix}{key}.")  # type: ignore[arg-type]
    return out


def _field_kind(schema: type, dotted: str) -> str:
    hints: dict[str, Any] = typing.get_type_hints(schema)
    *parents, last = dotted.split(".")
    for part in parents:
        hints = typing.get_type_hints(hints[part])
    kind = hints.get(last)
    name = str(kind).replace("typing.", "") if kind is not None else "?"
    name = {"<class 'int'>": "int", "<class 'float'>": "float", "<class 'bool'>": "bool",
            "<class 'str'>": "str"}.get(name, name)
    return _KINDS.get(name, name)


def check_fields(values: Any, schema: type, where: str = "") -> Any:
    """``values`` (a config node or a mapping) checked against dataclass ``schema``: types, ranges and
    unknown fields, each refused with one line naming the field. Returns the schema instance."""
    data = OmegaConf.to_container(values, resolve=True) if isinstance(values, DictConfig) else dict(values)
    prefix = f"{where}." if where else ""
    nested = {f.name for f in dataclasses.fields(schema) if dataclasses.is_dataclass(f.type) or
              dataclasses.is_dataclass(typing.get_type_hints(schema).get(f.name))}
    # plain fields first: a mistake in certification.radii is named there, not in sequential.radii (which copies it)
    data = {k: v for k, v in data.items() if k not in nested} | {k: v for k, v in data.items() if k in nested}
    try:
        merged = OmegaConf.merge(OmegaConf.structured(schema), _prepare(data, schema, prefix))
        return OmegaConf.to_object(merged)
    except ConfigKeyError as err:
        key = err.full_key or str(err.key)
        known = ", ".join(f.name for f in dataclasses.fields(schema))
        raise ConfigError(f"{prefix}{key} is not a setting here (known: {known})") from None
    except ValidationError as err:
        key = err.full_key or str(err.key)
        raise ConfigError(f"{prefix}{key} must be {_field_kind(schema, key)}, got {err.value!r}") from None
    except OmegaConfBaseException as err:  # e.g. a dict where a list belongs
        raise ConfigError(f"{prefix}{err.full_key or ''}: {str(err).splitlines()[0]}") from None


def check_config(cfg: DictConfig, top: type, certification: bool = False) -> None:
    """Check the plain top-level fields of an entry point's config against ``top`` (and its ``certification``
    group): one line naming the field on the first mistake."""
    names = [f.name for f in dataclasses.fields(top)]
    plain = {k: OmegaConf.to_container(cfg[k], resolve=True) if OmegaConf.is_config(cfg[k]) else cfg[k]
             for k in names if k in cfg}
    check_fields(plain, top)
    if certification and cfg.get("certification") is not None:
        check_fields(cfg.certification, CertificationSchema, "certification")
