"""Records of what produced a result: file digests, a run's record, and the comparison of two nested records."""

from __future__ import annotations

import datetime
import hashlib
import os
from collections.abc import Mapping
from typing import Any

from rsmooth import __version__
from rsmooth.smoothing.loop import Examples
from rsmooth.smoothing.sampling import RNG_SCHEME
from rsmooth.smoothing.settings import CertificationSettings
from rsmooth.smoothing.smooth import Smooth


def file_digest(path: str | os.PathLike[str]) -> str:
    """SHA-256 of a file's bytes (hex)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def weights_digest(model: Any) -> str:
    """SHA-256 (hex) of a module's state dict: every entry's name, dtype, shape and bytes, in name order.
    Two files holding the same weights have the same digest, whatever else they record."""
    import torch

    h = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        t = tensor.detach().to("cpu").contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


#: at most this many examples of a split are hashed into its digest (evenly spread when the split is larger)
DIGEST_EXAMPLES = 2048


def examples_digest(dataset: Examples, limit: int = DIGEST_EXAMPLES) -> dict[str, Any]:
    """What the data *is*, for a results file's record: SHA-256 over the examples (image bytes as float32, shape
    and label) of the whole split when it has at most ``limit`` of them, else of ``limit`` evenly spread ones
    (ImageNet's 50 000 validation images would take minutes to decode). Another test set — other files, another
    ``data_dir``, another preprocessing — has another digest, so a resume into its results file is refused.
    Returns ``{"examples_sha256", "examples_hashed"}``."""
    import torch

    size = len(dataset)
    picked = range(size) if size <= limit else [i * size // limit for i in range(limit)]
    h = hashlib.sha256()
    for i in picked:
        x, label = dataset[i]
        t = torch.as_tensor(x).detach().to("cpu", torch.float32).contiguous()
        h.update(f"{i}|{tuple(t.shape)}|{int(label)}|".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return {"examples_sha256": h.hexdigest(), "examples_hashed": len(picked)}


def flatten(record: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """{'a': {'b': 1}} → {'a.b': 1}; lists stay values."""
    out: dict[str, Any] = {}
    for key, value in record.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten(value, name + "."))
        else:
            out[name] = value
    return out


def first_difference(
    recorded: Mapping[str, Any], current: Mapping[str, Any], ignore: frozenset[str] = frozenset()
) -> tuple[str, Any, Any] | None:
    """(dotted field, recorded value, current value) of the first field that differs, or None.

    Fields are compared in ``current``'s order (so a record lists its primary settings first), then
    any only in ``recorded``; fields whose top-level key is in ``ignore`` are skipped.
    """
    a, b = flatten(recorded), flatten(current)
    for key in [*b, *(k for k in a if k not in b)]:
        if key.split(".")[0] in ignore:
            continue
        if a.get(key) != b.get(key):
            return key, a.get(key, "<absent>"), b.get(key, "<absent>")
    return None


def run_record(
    smooth: Smooth, settings: CertificationSettings, checkpoint: dict[str, Any], data: dict[str, Any]
) -> dict[str, Any]:
    """What a results file records about the run that wrote it (its provenance); resuming compares all but
    the version and the creation time. Primary settings come first: a refused resume names the first field
    that differs."""
    alpha = None if smooth.exact else settings.alpha
    schedule = settings.schedule
    sequential = (
        {}
        if schedule is None or alpha is None
        else {
            "stages": list(schedule.sizes),
            "stage_alphas": list(schedule.stage_alphas(alpha)),
            "radii": settings.sequential.radii,
            "futility": schedule.futility,
        }
    )
    mode = "exact" if smooth.exact else ("monte_carlo" if settings.mode == "fixed" else "sequential")
    return {
        "certification": {
            "mode": mode,
            "n0": None if smooth.exact else settings.n0,
            "n": None if smooth.exact else settings.n,
            "alpha": alpha,
            "seed": smooth.seed,
            "precision": settings.precision,
            **settings.speed_switches(),
            **({} if settings.record_time else {"record_time": False}),
            **sequential,
        },
        "checkpoint": checkpoint,
        "data": data,
        "noise": smooth.noise.config(),
        "row_noise": smooth.noise.describe(),  # the rows' noise column, so a reader can check each row
        "certificates": [
            {**c.describe(), "failure_probability": c.failure_probability(alpha or 0.0)} for c in smooth.certificates
        ],
        "randomness": {
            "scheme": RNG_SCHEME,
            "device": smooth.counter.device().type,
            **({"stream_revision": rev} if (rev := smooth.noise.stream_revision) > 1 else {}),
        },
        "rsmooth_version": __version__,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
