"""The settings of each entry point: the type and range of every plain field of its config.

The YAML files under ``conf/`` stay the registry; these dataclasses say what each plain (non-``_target_``)
field may hold. :func:`check_config` runs first in ``train``/``certify``/``analyze``/``attack``, right after
Hydra composes and before any model, data or file is touched: it returns the entry point's settings
object, or raises one :class:`~rsmooth.errors.ConfigError` line naming the field (a wrong type, a value out of
range, a misspelt field with the nearest known one), and the entry point exits 2. The ``certification`` group
is a :class:`~rsmooth.smoothing.CertificationSettings` (plus the job's ``enabled`` and ``baselines``), the
same object the training callback and the Python loop take. Classes built from ``_target_`` (data, model,
noise, objective, callbacks) check their own arguments.
"""

from __future__ import annotations

import dataclasses
from dataclasses import InitVar, dataclass, field
from typing import Any, Optional, TypeVar

from omegaconf import DictConfig, OmegaConf

from rsmooth.errors import ConfigError
from rsmooth.smoothing.settings import CertificationSettings, check_device
from rsmooth.validation import check_fields, check_groups, from_mapping, radii_are_valid

S = TypeVar("S")

#: where a results file a run reads comes from: rsmooth (its provenance record is required and checked) or
#: another tool such as Cohen et al.'s certify.py (no record: the report says its provenance is unknown)
RESULTS_FORMATS = ("rsmooth", "cohen")


def _require(ok: bool, where: str, what: str, value: Any) -> None:
    if not ok:
        raise ConfigError(f"{where} must be {what}, got {value!r}")


@dataclass(frozen=True)
class CertificationJobSettings(CertificationSettings):
    """The ``certification`` group of ``rsmooth-train`` and ``rsmooth-certify``: the certification settings,
    whether the training job certifies at all (``enabled``), and other runs' results drawn beside this run's
    curve (``baselines``; ``baselines_format=cohen`` for files of another tool, which carry no provenance)."""

    enabled: bool = True
    baselines: list[str] = field(default_factory=list)
    baselines_format: str = "rsmooth"

    def __post_init__(self, where: str) -> None:
        super().__post_init__(where)
        name = f"{where}.baselines_format" if where else "baselines_format"
        _require(self.baselines_format in RESULTS_FORMATS, name, "rsmooth or cohen", self.baselines_format)


@dataclass(frozen=True)
class FrozenClassifierSettings:
    """``frozen_classifier``: for denoised smoothing, the classifier a denoiser (``model=``) is trained in front
    of, frozen: an rsmooth or Cohen-format ``checkpoint``, or a plain state dict ``weights`` of the network
    ``architecture`` (a name from ``conf/model``: ``resnet50`` for torchvision's ImageNet ResNet-50)."""

    checkpoint: Optional[str] = None
    weights: Optional[str] = None
    architecture: Optional[str] = None
    where: InitVar[str] = "frozen_classifier"

    def __post_init__(self, where: str) -> None:
        check_fields(self, where)
        _require(not (self.checkpoint and self.weights), where, "one of checkpoint= or weights=, not both", "both")
        _require(
            not self.weights or bool(self.architecture),
            f"{where}.architecture",
            "the network of the weights file (a conf/model name, e.g. resnet50)",
            self.architecture,
        )
        _require(
            not self.architecture or bool(self.weights),
            f"{where}.architecture",
            "given only with frozen_classifier.weights (a checkpoint records its own network)",
            self.architecture,
        )

    @property
    def given(self) -> bool:
        return bool(self.checkpoint or self.weights)


@dataclass(frozen=True)
class TrainSchema:
    """The plain fields of ``rsmooth-train`` (conf/train.yaml) and its certification group."""

    task_name: str = "train"
    seed: int = 0
    resume_from: Optional[str] = None
    init_from: Optional[str] = None
    trusted_modules: list[str] = field(default_factory=list)
    certification: CertificationJobSettings = field(default_factory=CertificationJobSettings)
    frozen_classifier: FrozenClassifierSettings = field(default_factory=FrozenClassifierSettings)

    def __post_init__(self) -> None:
        check_fields(self, "")
        _require(self.seed >= 0, "seed", "an integer >= 0", self.seed)
        check_groups(self, "")


@dataclass(frozen=True)
class ClassifierSourceSchema:
    """Where a smoothed classifier comes from (``checkpoint`` or ``weights``) and its seed: the fields
    ``rsmooth-certify`` and ``rsmooth-attack`` share."""

    seed: int = 0
    checkpoint: Optional[str] = None
    weights: Optional[str] = None
    trusted_modules: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        check_fields(self, "")
        _require(self.seed >= 0, "seed", "an integer >= 0", self.seed)
        check_groups(self, "")


@dataclass(frozen=True)
class CertifySchema(ClassifierSourceSchema):
    """The plain fields of ``rsmooth-certify`` (conf/certify.yaml) and its certification group."""

    task_name: str = "certify"
    output: Optional[str] = None
    certification: CertificationJobSettings = field(default_factory=CertificationJobSettings)


@dataclass(frozen=True)
class LinfOverDimensionSchema:
    enabled: bool = False
    p: float = 0.99
    sigma: float = 0.25
    max_dim: int = 1_000_000

    def __post_init__(self) -> None:
        check_fields(self, "linf_over_dimension")
        _require(0.5 < self.p < 1, "linf_over_dimension.p", "in (0.5, 1)", self.p)
        _require(self.sigma > 0, "linf_over_dimension.sigma", "a number > 0", self.sigma)
        _require(self.max_dim >= 1, "linf_over_dimension.max_dim", "an integer >= 1", self.max_dim)


@dataclass(frozen=True)
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
        check_fields(self, "")
        _require(self.max_radius > 0, "max_radius", "a number > 0", self.max_radius)
        _require(self.radius_step > 0, "radius_step", "a number > 0", self.radius_step)
        _require(self.norm in (None, "l1", "l2", "linf"), "norm", "null, l1, l2 or linf", self.norm)
        _require(0 < self.alpha < 0.5, "alpha", "in (0, 0.5)", self.alpha)
        _require(0 < self.rho < 0.5, "rho", "in (0, 0.5)", self.rho)
        _require(
            self.radii is None or radii_are_valid(self.radii), "radii", "a list of finite numbers >= 0", self.radii
        )
        _require(
            set(self.formats) <= {"png", "svg", "pdf"} and bool(self.formats),
            "formats",
            "a list of png, svg, pdf",
            self.formats,
        )
        check_groups(self, "")


@dataclass(frozen=True)
class PgdSchema:
    norm: Optional[str] = None
    steps: int = 20
    samples: int = 16
    step_scale: float = 2.5
    l1_share: float = 0.05

    def __post_init__(self) -> None:
        check_fields(self, "attack")
        _require(self.norm in (None, "l1", "l2", "linf"), "attack.norm", "null, l1, l2 or linf", self.norm)
        _require(self.steps >= 1, "attack.steps", "an integer >= 1", self.steps)
        _require(self.samples >= 1, "attack.samples", "an integer >= 1", self.samples)
        _require(self.step_scale > 0, "attack.step_scale", "a number > 0", self.step_scale)
        _require(0 < self.l1_share <= 1, "attack.l1_share", "in (0, 1]", self.l1_share)


@dataclass(frozen=True)
class PredictSchema:
    n: int = 10_000
    alpha: float = 0.001

    def __post_init__(self) -> None:
        check_fields(self, "predict")
        _require(self.n >= 1, "predict.n", "an integer >= 1", self.n)
        _require(0 < self.alpha < 0.5, "predict.alpha", "in (0, 0.5)", self.alpha)


@dataclass(frozen=True)
class AttackSchema(ClassifierSourceSchema):
    """The plain fields of ``rsmooth-attack`` (conf/attack.yaml)."""

    task_name: str = "attack"
    certified: Optional[str] = None
    certified_format: str = "rsmooth"
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
        _require(bool(self.radii) and radii_are_valid(self.radii), "radii", "a list of finite numbers >= 0", self.radii)
        _require(
            self.certified_format in RESULTS_FORMATS, "certified_format", "rsmooth or cohen", self.certified_format
        )
        _require(self.max is None or self.max >= 1, "max", "null (all) or an integer >= 1", self.max)
        _require(self.skip >= 1, "skip", "an integer >= 1", self.skip)
        _require(self.batch_size >= 1, "batch_size", "an integer >= 1", self.batch_size)
        check_device("device", self.device)


def check_config(cfg: DictConfig, schema: type[S]) -> S:
    """The settings object ``schema`` of an entry point's composed config: its plain fields and nested groups
    (``certification``, ``attack``, …) checked once, the first mistake one line naming the field."""
    for key in map(str, cfg):
        if OmegaConf.is_missing(cfg, key):  # ``???`` in the YAML: the user must give it
            raise ConfigError(f"{key} is required: add {key}=... to the command line")
    names = [f.name for f in dataclasses.fields(schema)]  # type: ignore[arg-type]  # S is a settings dataclass
    plain = {
        k: OmegaConf.to_container(cfg[k], resolve=True) if OmegaConf.is_config(cfg[k]) else cfg[k]
        for k in names
        if k in cfg
    }
    return from_mapping(schema, plain, "")
