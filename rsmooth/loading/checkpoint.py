"""Load a base classifier from a file a user gives us: rsmooth's checkpoints, Cohen et al.'s
format, or a plain state dict. Files are untrusted: ``torch.load(weights_only=True)`` only, and
classes are built only from allow-listed packages (:mod:`rsmooth.loading.trusted`). Imports neither
Lightning nor Hydra.
"""

from __future__ import annotations

import os
import pickle
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from rsmooth.errors import CheckpointError, ConfigError
from rsmooth.loading.trusted import MODEL_MODULES, NOISE_MODULES, instantiate_trusted
from rsmooth.models import NormalizedClassifier, build_classifier
from rsmooth.models.dataset_specs import DatasetSpec, dataset_spec
from rsmooth.models.denoised import DenoisedClassifier
from rsmooth.noise.base import NoiseFamily
from rsmooth.results.provenance import file_digest, first_difference

#: the module of the denoiser factories (a model record naming one alone is not a classifier)
DENOISERS = "rsmooth.models.denoisers."
#: where an rsmooth checkpoint keeps its record (model, noise, data, noise_state, version)
CHECKPOINT_KEY = "rsmooth"

# Kept for callers of the first API.
CheckpointMismatchError = CheckpointError


@dataclass
class LoadedClassifier:
    """A base classifier (eval mode, CPU) with its normalization first, what it was trained with
    (``noise`` is None when the file does not say: Cohen's format, plain weights), and its data."""

    model: nn.Module
    noise: NoiseFamily | None
    data: DatasetSpec
    source: str
    digest: str
    record: dict[str, Any] = field(default_factory=dict)

    @property
    def num_classes(self) -> int:
        return self.data.num_classes


def _looks_like_torch_file(path: Path) -> bool:
    """torch.save writes a zip archive (torch >= 1.6) or, before, a pickle stream (protocol 2+, b"\\x80")."""
    if zipfile.is_zipfile(path):
        return True
    with path.open("rb") as f:
        head = f.read(2)
    return len(head) == 2 and head[0] == 0x80 and 2 <= head[1] <= 5


def read_checkpoint(path: str | os.PathLike[str]) -> Any:
    """``torch.load(path, weights_only=True)`` on CPU, with one clear error per way it can fail."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    if not _looks_like_torch_file(path):
        raise CheckpointError(
            f"{path} is not a PyTorch checkpoint: neither a zip archive (torch.save since 1.6) "
            "nor a pickle (older torch.save); is it truncated, or another kind of file?"
        )
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise CheckpointError(
            f"refusing to load {path}: it holds pickled objects other than tensors and plain data, which could "
            f"run code (loaded with weights_only=True; {first})"
        ) from None
    except (RuntimeError, EOFError, OSError, ValueError) as err:
        raise CheckpointError(
            f"{path} is not a readable PyTorch checkpoint ({type(err).__name__}: "
            f"{str(err).strip().splitlines()[0] if str(err).strip() else ''})"
        ) from None


def _load_state(model: nn.Module, state: Mapping[str, Any], path: Path, what: str) -> None:
    try:
        model.load_state_dict(dict(state))
    except RuntimeError as err:
        raise CheckpointError(f"{path}: weights do not fit {what}: {' '.join(str(err).split())[:300]}") from None


def _strip(state: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    return {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}


def load_classifier(
    path: str | os.PathLike[str],
    data: str | DatasetSpec | Mapping[str, Any] | Any | None = None,
    trusted_modules: Sequence[str] = (),
) -> LoadedClassifier:
    """Load the base classifier of an rsmooth checkpoint or of a Cohen-format file.

    ``data`` (a name such as ``"cifar10"``, a :class:`DatasetSpec`, a data module or its ``info()``)
    is required for Cohen's format, which records no normalization; for rsmooth checkpoints it is
    optional and, when given, must match the record. ``trusted_modules`` adds packages whose
    classes a record may name (rsmooth's own are always allowed).
    """
    path = Path(path)
    ckpt = read_checkpoint(path)
    if isinstance(ckpt, Mapping) and CHECKPOINT_KEY in ckpt:
        loaded = _load_rsmooth(path, ckpt, tuple(trusted_modules))
        if data is not None:
            check_data_matches(loaded.data, dataset_spec(data))
        return loaded
    if isinstance(ckpt, Mapping) and "arch" in ckpt and "state_dict" in ckpt:
        from rsmooth.loading.cohen_format import load_cohen_format

        if data is None:
            raise CheckpointError(
                f"{path} is in Cohen et al.'s format, which records no dataset: "
                "give the data it was trained on (data=cifar10 or data=imagenet)"
            )
        model = load_cohen_format(path, ckpt, dataset_spec(data))
        return LoadedClassifier(
            model.eval(), None, dataset_spec(data), "cohen", file_digest(path), {"arch": ckpt["arch"]}
        )
    raise CheckpointError(
        f"{path} is neither an rsmooth checkpoint (no '{CHECKPOINT_KEY}' record) nor a "
        "Cohen-format file ({'arch', 'state_dict'}); for a plain state dict use weights="
    )


def _load_rsmooth(path: Path, ckpt: Mapping[str, Any], trusted: Sequence[str]) -> LoadedClassifier:
    record = ckpt[CHECKPOINT_KEY]
    if not isinstance(record, Mapping) or not {"model", "noise", "data"} <= set(record):
        raise CheckpointError(f"{path}: the '{CHECKPOINT_KEY}' record lacks model, noise or data")
    try:
        spec = dataset_spec(record["data"])
    except ConfigError as err:
        raise CheckpointError(f"{path}: {err}") from None
    weights = ckpt.get("state_dict", {})
    if not isinstance(weights, Mapping) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in weights.items()
    ):
        raise CheckpointError(f"{path}: 'state_dict' is not a mapping of parameter names to tensors")
    state = _strip(weights, "model.")
    if not isinstance(record["model"], Mapping):
        raise CheckpointError(f"{path}: the model record is not a mapping (_target_ and arguments)")
    # the record names a factory and its arguments (width: 10**6 would ask for terabytes): build it on the meta
    # device first, which allocates nothing, and refuse a network larger than the weights the file holds
    with torch.device("meta"):
        sized = build_model(record["model"], spec, trusted, where=f"{path} model")
    wanted = sum(t.numel() for t in sized.state_dict().values())
    held = sum(t.numel() for t in state.values())
    if wanted > held:
        raise CheckpointError(
            f"{path}: the model record {dict(record['model'])} describes a network of {wanted} values, but the "
            f"file holds {held} weights for it"
        )
    model = build_model(record["model"], spec, trusted, where=f"{path} model")
    _load_state(model, state, path, f"the recorded model {dict(record['model'])}")
    noise = instantiate_trusted(record["noise"], NoiseFamily, (*NOISE_MODULES, *trusted), where=f"{path} noise")
    try:
        noise.load_state(record.get("noise_state") or {})
    except ValueError as err:
        raise CheckpointError(f"{path}: {err}") from None
    return LoadedClassifier(model.eval(), noise, spec, "rsmooth", file_digest(path), dict(record))


def build_model(
    config: Mapping[str, Any], data: DatasetSpec, trusted: Sequence[str] = (), where: str = "model"
) -> NormalizedClassifier | DenoisedClassifier:
    """The network a model record describes, normalization first: a factory ``(num_classes, in_channels)`` from
    ``rsmooth.models`` or a ``trusted`` package; or, for denoised smoothing, ``{denoiser: <factory
    (in_channels)>, classifier: <a model record>}``, built as :class:`DenoisedClassifier` (classifier ∘ denoiser)."""
    if isinstance(config, Mapping) and "_target_" not in config and set(config) == {"denoiser", "classifier"}:
        inner = config["classifier"]
        if not (isinstance(inner, Mapping) and "_target_" in inner):  # checked before building: no recursion
            raise CheckpointError(f"{where}.classifier: a denoiser goes in front of a plain classifier's model record")
        classifier = build_model(inner, data, trusted, where=f"{where}.classifier")
        assert isinstance(classifier, NormalizedClassifier)  # a record with a _target_ builds one
        factory = instantiate_trusted(config["denoiser"], None, (*MODEL_MODULES, *trusted), where=f"{where}.denoiser")
        denoiser = factory(in_channels=int(data.input_shape[0]))
        if not isinstance(denoiser, nn.Module):
            raise CheckpointError(f"{where}.denoiser: {config['denoiser'].get('_target_')!r} is not a network")
        return DenoisedClassifier(denoiser, classifier)
    if isinstance(config, Mapping) and str(config.get("_target_", "")).startswith(DENOISERS):
        raise ConfigError(
            f"{where}: {config['_target_']} is a denoiser, which goes in front of a frozen classifier: give "
            "frozen_classifier.checkpoint=PATH (or frozen_classifier.weights=PATH with .architecture=NAME)"
        )
    factory = instantiate_trusted(config, None, (*MODEL_MODULES, *trusted), where=where)
    return build_classifier(factory, data.num_classes, data.input_shape, data.mean, data.std)


def model_config(loaded: LoadedClassifier) -> dict[str, Any]:
    """The model record that rebuilds ``loaded``'s network (what a checkpoint of f∘D records for f): an rsmooth
    checkpoint's own record, a Cohen-format file's architecture, or the model a plain state dict was loaded with."""
    if "model" in loaded.record:
        return dict(loaded.record["model"])
    if loaded.source == "cohen":
        from rsmooth.loading.cohen_format import COHEN_ARCHITECTURES

        factory = COHEN_ARCHITECTURES[loaded.record["arch"]]
        return {"_target_": f"{factory.__module__}.{factory.__name__}", "_partial_": True}
    raise CheckpointError(f"the {loaded.source} file records no model")


def load_weights(
    path: str | os.PathLike[str],
    model: Mapping[str, Any],
    data: str | DatasetSpec | Mapping[str, Any] | Any,
    trusted_modules: Sequence[str] = (),
) -> LoadedClassifier:
    """A plain state dict of the network ``model`` (a model config such as ``conf/model/resnet50.yaml``:
    a torchvision ResNet-50 state dict, say), normalized with ``data``'s constants. A ``module.``
    prefix (DataParallel) is removed; a ``{'state_dict': ...}`` wrapper is unwrapped."""
    path = Path(path)
    spec = dataset_spec(data)
    state = read_checkpoint(path)
    if isinstance(state, Mapping) and "state_dict" in state and isinstance(state["state_dict"], Mapping):
        state = state["state_dict"]
    if not isinstance(state, Mapping) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"{path} is not a state dict (a mapping of parameter names to tensors)")
    if state and all(k.startswith("module.") for k in state):
        state = _strip(state, "module.")
    net = build_model(model, spec, trusted_modules)
    if not isinstance(net, NormalizedClassifier):
        raise ConfigError("weights= loads the state dict of one network: model= must name a classifier")
    _load_state(net.net, state, path, f"the network {dict(model)}")
    return LoadedClassifier(net.eval(), None, spec, "weights", file_digest(path), {"model": dict(model)})


def select_noise(loaded: LoadedClassifier, requested: NoiseFamily | None) -> NoiseFamily:
    """The noise to certify with: the checkpoint's unless another is requested.

    A family tied to its training distribution (DSSN) must be certified with exactly the
    parameters it was trained with; a file that records no noise needs one requested.
    """
    if loaded.noise is None:
        if requested is None:
            raise CheckpointError(
                f"the {loaded.source} file records no noise: choose one, e.g. noise=gaussian "
                "noise.sigma=0.25 (the sigma the model was trained with)"
            )
        if requested.must_match_training:
            raise CheckpointError(
                f"{requested.describe()} needs the offsets stored with its training run; "
                f"a {loaded.source} file has none"
            )
        return requested
    if requested is None:
        return loaded.noise
    if loaded.noise.must_match_training or requested.must_match_training:
        if requested != loaded.noise:
            raise CheckpointError(
                f"this model was trained with {loaded.noise!r}; {type(loaded.noise).__name__} certificates hold "
                f"only for that exact distribution, but {requested!r} was requested"
            )
        return loaded.noise  # same parameters: keep the checkpoint's stored state (offsets)
    return requested


_DATA_FIELDS = ("num_classes", "input_shape", "quantization", "mean", "std")


def check_data_matches(trained: DatasetSpec, given: DatasetSpec) -> None:
    """Refuse data whose classes, input shape, quantization or normalization differ from the model's."""
    problems = []
    for name in _DATA_FIELDS:
        a, b = getattr(given, name), getattr(trained, name)
        if name in ("mean", "std"):
            same = len(a) == len(b) and all(abs(x - y) <= 1e-6 for x, y in zip(a, b))
        else:
            same = tuple(a) == tuple(b) if isinstance(a, (tuple, list)) else a == b
        if not same:
            problems.append(
                f"{name} {list(a) if isinstance(a, tuple) else a} vs "
                f"{list(b) if isinstance(b, tuple) else b} in the checkpoint"
            )
    if problems:
        raise CheckpointError(
            f"data '{given.name}' does not match the checkpoint (trained on '{trained.name}'): " + "; ".join(problems)
        )


def check_resume_matches(path: str | os.PathLike[str], record: Mapping[str, Any]) -> None:
    """Refuse to resume training from ``path`` if its model, noise or data differ from ``record``'s."""
    ckpt = read_checkpoint(path)
    theirs = ckpt.get(CHECKPOINT_KEY) if isinstance(ckpt, Mapping) else None
    if not isinstance(theirs, Mapping):
        raise CheckpointError(f"{path} is not an rsmooth checkpoint (no '{CHECKPOINT_KEY}' record) to resume from")
    mine = {k: record[k] for k in ("noise", "model", "data") if k in record}
    recorded = {k: theirs.get(k) for k in mine}
    data = recorded.get("data")
    if isinstance(data, Mapping):  # where the data was read from may change, not what it is
        recorded["data"] = {k: v for k, v in data.items() if k != "config"}
    diff = first_difference(recorded, mine)
    if diff is not None:
        key, was, now = diff
        raise CheckpointError(
            f"cannot resume from {path}: it was trained with {key}={was!r}, this run has {key}={now!r}"
        )
