"""Rebuild a smoothed classifier from a training checkpoint, refusing mismatches."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from hydra.utils import instantiate
from torch import nn

from rsmooth.models import build_classifier
from rsmooth.noise.base import NoiseFamily
from rsmooth.training.module import CHECKPOINT_KEY


class CheckpointMismatchError(ValueError):
    """A checkpoint does not fit the data, model or noise it is used with."""


@dataclass
class LoadedClassifier:
    """The base classifier (eval mode, on CPU), its training noise, and the checkpoint's record."""

    model: nn.Module
    noise: NoiseFamily
    record: dict[str, Any]

    @property
    def num_classes(self) -> int:
        return int(self.record["data"]["num_classes"])


def load_classifier(path: str | os.PathLike[str]) -> LoadedClassifier:
    """Load a checkpoint written by ``rsmooth-train``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    ckpt = torch.load(path, map_location="cpu", weights_only=False)
    record = ckpt.get(CHECKPOINT_KEY) if isinstance(ckpt, dict) else None
    if not record or "model" not in record or "data" not in record:
        raise CheckpointMismatchError(
            f"{path} is not an rsmooth checkpoint (no '{CHECKPOINT_KEY}' record of model, noise and data)"
        )
    data = record["data"]
    factory = instantiate(record["model"])
    model = build_classifier(factory, data["num_classes"], data["input_shape"], data["mean"], data["std"])
    state = {k[len("model."):]: v for k, v in ckpt["state_dict"].items() if k.startswith("model.")}
    try:
        model.load_state_dict(state)
    except RuntimeError as err:
        raise CheckpointMismatchError(f"{path}: weights do not fit the recorded model {record['model']}: {err}") from None
    noise = instantiate(record["noise"])
    try:
        noise.load_state(record.get("noise_state") or {})
    except ValueError as err:
        raise CheckpointMismatchError(f"{path}: {err}") from None
    return LoadedClassifier(model.eval(), noise, record)


def select_noise(loaded: LoadedClassifier, requested: NoiseFamily | None) -> NoiseFamily:
    """The noise to certify with: the checkpoint's unless another is requested.

    A family tied to its training distribution (DSSN) must be certified with exactly
    the parameters it was trained with; anything else is refused.
    """
    if requested is None:
        return loaded.noise
    if loaded.noise.must_match_training or requested.must_match_training:
        if requested != loaded.noise:
            raise CheckpointMismatchError(
                f"this model was trained with {loaded.noise!r}; {type(loaded.noise).__name__} certificates hold "
                f"only for that exact distribution, but {requested!r} was requested"
            )
        return loaded.noise  # same parameters: keep the checkpoint's stored state (offsets)
    return requested


def check_data_matches(record: dict[str, Any], info: dict[str, Any]) -> None:
    """Refuse data whose classes, input shape or normalization differ from the checkpoint's."""
    trained = record["data"]
    problems = []
    if int(trained["num_classes"]) != int(info["num_classes"]):
        problems.append(f"num_classes {info['num_classes']} vs {trained['num_classes']} in the checkpoint")
    if [int(s) for s in trained["input_shape"]] != [int(s) for s in info["input_shape"]]:
        problems.append(f"input_shape {info['input_shape']} vs {trained['input_shape']} in the checkpoint")
    if problems:
        raise CheckpointMismatchError(
            f"data '{info.get('name')}' does not match the checkpoint (trained on '{trained.get('name')}'): "
            + "; ".join(problems)
        )
