"""General validators: the one place counts, levels and images are checked (one line naming the value).

The bottom of the package: it imports only :mod:`rsmooth.errors` (and torch for images).
"""

from __future__ import annotations

import dataclasses
import difflib
import inspect
import math
import numbers
import types
import typing
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

import torch

from rsmooth.errors import ConfigError

T = TypeVar("T")


def radii_are_valid(radii: Sequence[float]) -> bool:
    """Radii a certified-accuracy curve can be read at: finite and >= 0 (``inf`` or ``nan`` would pass a
    plain ``r >= 0`` check and fail later, in a plot or a table, after the work is done)."""
    return all(0 <= r < math.inf for r in radii)


def check_alpha(alpha: float) -> float:
    """Return ``alpha`` as float, or raise if it is not in the open interval (0, 0.5)."""
    try:
        a = float(alpha)
    except (TypeError, ValueError):
        raise ConfigError(f"alpha must be a number in (0, 0.5), got {alpha!r}") from None
    if not 0.0 < a < 0.5:
        raise ConfigError(f"alpha must be in (0, 0.5), got {alpha!r}")
    return a


def check_count(name: str, value: int, minimum: int = 1) -> int:
    """Return ``value`` as int, or raise naming ``name`` unless it is an integer ≥ ``minimum``.

    Integral numbers of any type are accepted (``np.int64(100)``, ``1e3`` given as 1000.0);
    booleans and fractional values are not. The one place counts (n0, n, batch sizes, …) are checked.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ConfigError(f"{name} must be an integer >= {minimum}, got {value!r}")
    if isinstance(value, numbers.Integral):
        v = int(value)
    elif float(value).is_integer():
        v = int(float(value))
    else:
        raise ConfigError(f"{name} must be an integer >= {minimum}, got {value!r}")
    if v < minimum:
        raise ConfigError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return v


def check_unit_interval(x: torch.Tensor) -> None:
    """Raise ``ValueError`` unless every entry of ``x`` is finite and in [0, 1] (pixel space, docs/design.md §1.2)."""
    if not torch.is_floating_point(x):
        raise ConfigError(f"input must be a floating-point image in [0, 1], got dtype {x.dtype}")
    if x.numel() == 0:
        return
    lo, hi = (float(v) for v in torch.aminmax(x))  # NaN propagates into both, inf into one: one pass
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ConfigError("input contains NaN or inf; expected an image in [0, 1]")
    if lo < 0.0 or hi > 1.0:
        raise ConfigError(
            f"input must lie in [0, 1] (pixel space; normalization is the model's first layer), "
            f"got values from {lo!r} to {hi!r}"
        )


# ---------------------------------------------------------------------------------------------- settings objects
# A settings object is a dataclass whose __post_init__ calls :func:`check_fields` (types, from the annotations)
# and then checks ranges. It is built once, from Python or by :func:`from_mapping` from a config mapping, and
# passed down as is: no layer below checks the same values again.

_KINDS: dict[Any, str] = {int: "an integer", float: "a number", bool: "true or false", str: "a string"}


def _kind(annotation: Any) -> str:
    """How an error message names what a field takes."""
    if annotation in _KINDS:
        return _KINDS[annotation]
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType) and type(None) in args:
        inner = next(a for a in args if a is not type(None))
        return f"null or {_kind(inner)}"
    if origin is list:
        item = {int: "integers", float: "numbers", str: "strings", bool: "booleans"}.get(args[0], "values")
        return f"a list of {item}"
    return getattr(annotation, "__name__", str(annotation))


def _convert(value: Any, annotation: Any, where: str) -> Any:
    """``value`` as ``annotation`` asks (int, float, bool, str, Optional[...], list[...], Any), or a
    :class:`~rsmooth.errors.ConfigError` naming ``where``. An integral number is an integer (``n=1e3`` is 1000);
    an integer is a number; a bool is neither, and only a bool is true or false."""
    if annotation is Any:
        return value
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType) and type(None) in args:
        if value is None:
            return None
        inner = next(a for a in args if a is not type(None))
        try:
            return _convert(value, inner, where)
        except ConfigError:
            raise ConfigError(f"{where} must be {_kind(annotation)}, got {value!r}") from None
    if origin is list:
        if not isinstance(value, Sequence) or isinstance(value, (str, bytes)):
            raise ConfigError(f"{where} must be {_kind(annotation)}, got {value!r}")
        try:
            return [_convert(v, args[0], where) for v in value]
        except ConfigError:
            raise ConfigError(f"{where} must be {_kind(annotation)}, got {list(value)!r}") from None
    ok = False
    if annotation is bool:
        ok = isinstance(value, bool)
    elif annotation is int:
        ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and float(value).is_integer()
        value = int(value) if ok else value
    elif annotation is float:
        ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
        value = float(value) if ok else value
    elif annotation is str:
        ok = isinstance(value, str)
    else:
        raise TypeError(f"{where}: unsupported settings annotation {annotation!r}")
    if not ok:
        raise ConfigError(f"{where} must be {_kind(annotation)}, got {value!r}")
    return value


def check_fields(settings: Any, where: str) -> None:
    """Check (and normalize: ``1e3`` → 1000, ``(0, 1)`` → ``[0.0, 1.0]``) every plain field of the dataclass
    instance ``settings`` against its annotation. Nested settings are left to :func:`check_groups`, which a
    ``__post_init__`` calls after its own range checks (a mistake is named where the user wrote it first)."""
    hints = typing.get_type_hints(type(settings))
    for f in dataclasses.fields(settings):
        annotation = hints[f.name]
        if not dataclasses.is_dataclass(annotation):
            name = f"{where}.{f.name}" if where else f.name
            object.__setattr__(settings, f.name, _convert(getattr(settings, f.name), annotation, name))


def check_groups(settings: Any, where: str) -> None:
    """Build each nested settings field of ``settings`` given as a mapping (named ``where.field`` in errors);
    one given as an object of its class is taken as it is (it checked itself)."""
    hints = typing.get_type_hints(type(settings))
    for f in dataclasses.fields(settings):
        annotation, value = hints[f.name], getattr(settings, f.name)
        if dataclasses.is_dataclass(annotation):
            name = f"{where}.{f.name}" if where else f.name
            if isinstance(value, Mapping):
                nested = from_mapping(annotation, value, name)  # type: ignore[arg-type]  # a dataclass type, as checked
                object.__setattr__(settings, f.name, nested)
            elif not isinstance(value, annotation):  # type: ignore[arg-type]  # a dataclass type, as above
                raise ConfigError(f"{name} must be a mapping of settings, got {value!r}")


def from_mapping(cls: type[T], data: Mapping[str, Any], where: str) -> T:
    """A settings dataclass ``cls`` from a config mapping: an unknown key is one line naming it, the keys
    ``cls`` knows and the nearest one; nested mappings become nested settings (named ``where.key``).
    Types and ranges are checked by ``cls`` itself (its ``__post_init__``), once."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where or cls.__name__} must be a mapping of settings, got {data!r}")
    prefix = f"{where}." if where else ""
    hints = typing.get_type_hints(cls)
    known = [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]  # T is a settings dataclass
    values: dict[str, Any] = {}
    for key, value in data.items():
        if key not in known:
            close = difflib.get_close_matches(str(key), known, n=1)
            hint = f"; did you mean {prefix}{close[0]}?" if close else ""
            raise ConfigError(f"{prefix}{key} is not a setting here (known: {', '.join(known)}){hint}")
        if value is None and dataclasses.is_dataclass(hints[key]):
            value = {}  # a nested group left empty: its defaults
        values[key] = value  # nested mappings become settings in check_groups, after the plain fields
    if "where" in inspect.signature(cls).parameters:  # an InitVar: the settings name themselves in errors
        values["where"] = where
    return cls(**values)
