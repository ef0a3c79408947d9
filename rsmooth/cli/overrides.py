"""The command line read against the config before Hydra runs: a misspelt key or option is one line.

Hydra answers ``certification.nn=5`` with "Could not override ... To append to your config use
+certification.nn=5", advice that ends in a traceback further on, and ``noise=gausian`` with the list of
options but no guess. :func:`check_overrides` composes the config the command line selects (the first value of
each sweep; about 0.3 s, nothing heavy imported) and checks each override first:

* a group option (``noise=gausian``) must be a file of that group: ``did you mean noise=gaussian?``;
* a key (``certification.nn=5``) must be in the composed config: ``did you mean certification.n?``;
* an added key (``+noise.sigm=0.5``) inside a class's arguments (a node with ``_target_``) must be one the
  class takes (its signature, read only then), since the class would refuse it later with a traceback.

``hydra.*`` keys, ``++`` forced adds and ``~`` deletions are Hydra's own business and pass untouched, as does
any command line the check cannot read (Hydra then reports it in its own words).
"""

from __future__ import annotations

import difflib
import os
import sys
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf

from rsmooth.cli.config import compose, config_dir, group_options


class OverrideError(Exception):
    """A command-line override that names no setting or option of the entry point."""


def _nearest(word: str, candidates: Sequence[str]) -> str | None:
    found = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return found[0] if found else None


def _keys(node: Any, prefix: str = "") -> Iterator[str]:
    """Every dotted key of a composed config (``certification.n``, ``noise.table.alpha``, ...)."""
    if isinstance(node, DictConfig):
        for key in node.keys():  # noqa: SIM118  (`in node` skips keys whose value is ???)
            path = f"{prefix}{key!s}"
            yield path
            yield from _keys(node._get_node(key), f"{path}.")


def _child(node: Any, part: str) -> tuple[bool, Any]:
    """(whether ``node`` has the key ``part``, its child node)."""
    if isinstance(node, DictConfig) and part in node.keys():  # noqa: SIM118  (as above)
        return True, node._get_node(part)
    if isinstance(node, ListConfig) and part.isdigit() and int(part) < len(node):
        return True, node._get_node(int(part))
    return False, None


def _is_group(name: str) -> bool:
    return "." not in name and not name.startswith("hydra") and (config_dir() / name).is_dir()


def _check_option(group: str, option: str) -> None:
    options = group_options(group)
    if option in options:
        return
    if option in ("null", "None"):  # Hydra itself stops with a ValueError traceback
        raise OverrideError(
            f"{group}=null: a group takes one of its options ({', '.join(options)}); ~{group} leaves it out"
        )
    guess = _nearest(option, options)
    hint = f"did you mean {group}={guess}? " if guess else ""
    raise OverrideError(f"{group}={option} is not an option of the {group} group; {hint}options: {', '.join(options)}")


def _other_options(key: str) -> dict[str, str]:
    """Every key of every option of ``key``'s group, each with the options that have it:
    ``{"objective.lam": "stability", "noise.k": "linf_power|mixed_linf|power_l2", ...}``; empty when ``key`` is
    not inside a group."""
    group, _, field = key.partition(".")
    if not field or not _is_group(group):
        return {}
    found: dict[str, str] = {}
    for option in group_options(group):
        for k in _keys(OmegaConf.load(config_dir() / group / f"{option}.yaml")):
            if not k.rsplit(".", 1)[-1].startswith("_") and k != "defaults":
                found[f"{group}.{k}"] = f"{found[f'{group}.{k}']}|{option}" if f"{group}.{k}" in found else option
    return found


def _either(options: str) -> str:
    """``"a|b|c"`` → ``"a, b or c"``."""
    *rest, last = options.split("|")
    return f"{', '.join(rest)} or {last}" if rest else last


def _unchosen(prog: str, key: str) -> OverrideError:
    group = key.split(".")[0]
    options = group_options(group)
    own = " (it uses the checkpoint's own)" if prog in ("rsmooth-certify", "rsmooth-attack") else ""
    tip = f", or +{key}=... changes that field of the checkpoint's own noise" if own and group == "noise" else ""
    return OverrideError(
        f"{key}: no {group} option is chosen here{own}; choose one first ({group}=<option>: {', '.join(options)}){tip}"
    )


def _public(keys: Iterable[str]) -> list[str]:
    return [k for k in keys if not k.startswith("hydra") and not k.rsplit(".", 1)[-1].startswith("_")]


def _check_key(prog: str, cfg: DictConfig, key: str, added: bool) -> None:
    """``key`` (dotted) must be in ``cfg``; an added key only where a class's arguments would refuse it."""
    parts = key.split(".")
    node: Any = cfg
    for depth, part in enumerate(parts):
        found, child = _child(node, part)
        if found:
            node = child
            continue
        where = ".".join(parts[:depth])
        if added and not (isinstance(node, DictConfig) and "_target_" in node and depth == len(parts) - 1):
            return  # a new key where any key goes (the schema names what it does not know)
        if added and _accepts(str(node._get_node("_target_")), part):
            return  # an argument of the class the node builds (+trainer.fast_dev_run=true)
        if _is_group(parts[0]) and (depth == 0 or node is None or (isinstance(node, DictConfig) and node._is_none())):
            raise _unchosen(prog, key)  # e.g. noise.sigma in rsmooth-certify, whose noise group is empty
        elsewhere = _other_options(key)
        if key in elsewhere:
            chosen = cfg.hydra.runtime.choices.get(parts[0])
            raise OverrideError(
                f"{key} is a setting of {parts[0]}={_either(elsewhere[key])}, not of {parts[0]}={chosen}; "
                "choose one of them"
            )
        siblings = [
            f"{where}.{k!s}" if where else str(k) for k in (node.keys() if isinstance(node, DictConfig) else [])
        ]
        guess = _nearest(key, _public(siblings)) or _nearest(key, _public(elsewhere))
        if guess in elsewhere and guess not in siblings:
            guess = f"{guess} (a setting of {parts[0]}={elsewhere[guess]})"
        guess = guess or _nearest(key, _public(_keys(cfg)))
        if guess is None and depth == 0:
            groups = [p.name for p in config_dir().iterdir() if p.is_dir() and p.name != "hydra"]
            guess = _nearest(part, groups)
            guess = f"{guess}=<option>" if guess else None
        hint = f"did you mean {guess}?" if guess else f"`{prog} --cfg job` lists every setting"
        what = f"an argument of {node._get_node('_target_')}" if added else f"a setting of {prog}"
        raise OverrideError(f"{key} is not {what}; {hint}")


def _accepts(target: str, argument: str) -> bool:
    """Whether the class (or function) ``target`` takes ``argument``; True when it cannot be told (an import that
    fails is reported where the class is built). Imports ``target``: only for an added key inside its node."""
    import inspect

    from hydra.utils import get_object

    try:
        parameters = inspect.signature(get_object(target)).parameters.values()
    except Exception:
        return True
    return any(p.name == argument or p.kind == inspect.Parameter.VAR_KEYWORD for p in parameters)


def _parsed(argv: Sequence[str]) -> Any | None:
    """Hydra's own reading of ``argv`` (flags and overrides), or None when the check should stand aside."""
    from hydra._internal.utils import get_args_parser
    from hydra.core.override_parser.overrides_parser import OverridesParser

    args, _ = get_args_parser().parse_known_args(list(argv))
    if args.help or args.hydra_help or args.info or args.shell_completion or args.config_dir or args.config_path:
        return None
    try:
        return args, OverridesParser.create().parse_overrides(args.overrides)
    except Exception:  # Hydra reports a line it cannot parse itself
        return None


def overrides_error(prog: str, task: str, argv: Sequence[str]) -> str | None:
    """The one-line problem with ``argv`` as overrides of the ``task`` config, or None if there is none."""
    from hydra.core.override_parser.types import OverrideType, ValueType

    parsed = _parsed(argv)
    if parsed is None:
        return None
    args, overrides = parsed
    config_name = args.config_name or task
    selected: list[str] = []  # the command line with each sweep at its first value
    try:
        for o in overrides:
            name = o.key_or_group
            if o.type == OverrideType.DEL or name.startswith("hydra") or (o.package is not None):
                selected.append(o.input_line)
                continue
            if _is_group(name):
                if o.value_type == ValueType.GLOB_CHOICE_SWEEP or not (
                    o.is_discrete_sweep() or not o.is_sweep_override()
                ):
                    return None  # a glob over a group's options: Hydra expands and reports it
                values = list(o.sweep_string_iterator()) if o.is_sweep_override() else [o.get_value_element_as_str()]
                for value in values:
                    _check_option(name, value)
                prefix = {OverrideType.ADD: "+", OverrideType.FORCE_ADD: "++"}.get(o.type, "")
                selected.append(f"{prefix}{name}={values[0]}")
            else:
                selected.append(o.input_line)
        groups = [line for line, o in zip(selected, overrides) if _is_group(o.key_or_group)]
        try:
            cfg = compose(config_name, groups, with_hydra=True)
        except Exception:  # a config that does not compose: Hydra says why in its own words
            return None
        for o in overrides:
            name = o.key_or_group
            if _is_group(name) or name.startswith("hydra") or o.type in (OverrideType.DEL, OverrideType.FORCE_ADD):
                continue
            _check_key(prog, cfg, name, added=o.type == OverrideType.ADD)
    except OverrideError as err:
        return str(err)
    return None


def check_overrides(prog: str, task: str, argv: Sequence[str]) -> None:
    """Exit with ``prog: error: <problem>`` (status 2) if an override of ``argv`` names no setting or option
    (``HYDRA_FULL_ERROR=1`` leaves every report to Hydra)."""
    if os.environ.get("HYDRA_FULL_ERROR") == "1":
        return
    problem = overrides_error(prog, task, argv)
    if problem is not None:
        print(f"{prog}: error: {problem}", file=sys.stderr)
        sys.exit(2)
