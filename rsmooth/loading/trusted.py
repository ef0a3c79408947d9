"""Instantiate a ``{_target_: ...}`` record from an untrusted file, allowing only known classes.

A checkpoint names the classes that rebuild its model, noise and data. Hydra's ``instantiate``
would import and call *anything* a file names (``shutil.copyfile``, ``os.system`` …). Here a
target is resolved only inside an allow-listed package (rsmooth's own by default; a user may add
theirs with ``trusted_modules``), must be defined there (not merely imported into it), must be of
the expected kind, and its arguments must be plain data. Imports neither Hydra nor Lightning.
"""

from __future__ import annotations

import functools
import importlib
import inspect
from collections.abc import Mapping, Sequence
from typing import Any

from rsmooth.errors import CheckpointError

RSMOOTH_MODULES: tuple[str, ...] = ("rsmooth",)
#: where each kind of record may point (a model record cannot name, say, an entry point of rsmooth's CLI)
MODEL_MODULES: tuple[str, ...] = ("rsmooth.models",)
NOISE_MODULES: tuple[str, ...] = ("rsmooth.noise",)
OBJECTIVE_MODULES: tuple[str, ...] = ("rsmooth.training.objectives",)
DATA_MODULES: tuple[str, ...] = ("rsmooth.data",)
_PLAIN = (str, int, float, bool, type(None))


def _inside(module: str, allowed: Sequence[str]) -> bool:
    return any(module == a or module.startswith(a + ".") for a in allowed)


def _check_plain(value: Any, where: str) -> None:
    if isinstance(value, _PLAIN):
        return
    if isinstance(value, (list, tuple)):
        for v in value:
            _check_plain(v, where)
        return
    if isinstance(value, Mapping):
        if "_target_" in value:
            raise CheckpointError(f"{where}: nested _target_ {value['_target_']!r} is not allowed in a record")
        for k, v in value.items():
            _check_plain(k, where)
            _check_plain(v, where)
        return
    raise CheckpointError(f"{where}: argument of type {type(value).__name__} is not plain data")


def locate_trusted(target: str, allowed: Sequence[str] = RSMOOTH_MODULES, where: str = "record") -> Any:
    """The class or function ``target`` names, if it is defined inside an ``allowed`` package."""
    if not isinstance(target, str) or "." not in target:
        raise CheckpointError(f"{where}: _target_ must be a dotted name, got {target!r}")
    module_name, _, attr = target.rpartition(".")
    refusal = (
        f"{where}: refusing to instantiate {target!r}: only classes defined in {', '.join(allowed)} "
        "may be built from this record (add a package you trust with trusted_modules)"
    )
    if not _inside(module_name, allowed):
        raise CheckpointError(refusal)
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise CheckpointError(f"{where}: cannot import {module_name!r} for {target!r}: {err}") from None
    obj = getattr(module, attr, None)
    if obj is None or not callable(obj) or not _inside(getattr(obj, "__module__", "") or "", allowed):
        raise CheckpointError(refusal)
    return obj


def instantiate_trusted(
    record: Mapping[str, Any],
    expected: type | None = None,
    allowed: Sequence[str] = RSMOOTH_MODULES,
    where: str = "record",
    **kwargs: Any,
) -> Any:
    """Build ``record`` (``_target_``, optional ``_partial_``, plain keyword arguments).

    ``expected``: the target must be a subclass of it (a class), else any callable defined in an
    allowed package (a factory). ``kwargs`` are passed through (trusted: they come from the caller).
    """
    if not isinstance(record, Mapping) or "_target_" not in record:
        raise CheckpointError(f"{where}: expected a mapping with a _target_, got {record!r}")
    args = {k: v for k, v in record.items() if k not in ("_target_", "_partial_")}
    _check_plain(args, where)
    obj = locate_trusted(record["_target_"], allowed, where)
    if expected is not None and not (inspect.isclass(obj) and issubclass(obj, expected)):
        raise CheckpointError(f"{where}: {record['_target_']!r} is not a {expected.__name__}")
    try:
        if record.get("_partial_", False):
            return functools.partial(obj, **args, **kwargs)
        return obj(**args, **kwargs)
    except (TypeError, ValueError) as err:
        raise CheckpointError(f"{where}: cannot build {record['_target_']!r} from {args}: {err}") from None
