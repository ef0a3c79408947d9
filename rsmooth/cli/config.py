"""Where the Hydra configs live, composing them outside ``@hydra.main`` (tests, notebooks), the
``rsmooth_run_id`` resolver that names each run's directory and the ``rsmooth_choices`` resolver that lists a
group's options in ``--help``."""

from __future__ import annotations

import datetime
import hashlib
import os
import secrets
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path

from omegaconf import DictConfig, OmegaConf


def run_id(env: Mapping[str, str] | None = None) -> str:
    """A run directory's name, distinct for every launch even within one second: the local time to the second,
    then a suffix that every process of one launch shares and no other launch has — the SLURM job and step,
    or a digest of torchrun's run id and rendezvous address (a port one launch holds), or else a random one
    (a plain process; Lightning's DDP hands its children the parent's directory itself)."""
    env = os.environ if env is None else env
    stamp = datetime.datetime.now().strftime("%Y-%m-%d_%H-%M-%S")
    if "SLURM_JOB_ID" in env and "SLURM_PROCID" in env:
        return f"{stamp}_slurm{env['SLURM_JOB_ID']}.{env.get('SLURM_STEP_ID', '0')}"
    if "TORCHELASTIC_RUN_ID" in env and "MASTER_PORT" in env:
        launch = "|".join(env.get(k, "") for k in ("TORCHELASTIC_RUN_ID", "MASTER_ADDR", "MASTER_PORT"))
        return f"{stamp}_{hashlib.sha256(launch.encode()).hexdigest()[:8]}"
    return f"{stamp}_{secrets.token_hex(4)}"


# cached per config: every reference in one composed config (the run and sweep directories) gets one value
if not OmegaConf.has_resolver("rsmooth_run_id"):
    OmegaConf.register_new_resolver("rsmooth_run_id", lambda: run_id(), use_cache=True)


def config_dir() -> Path:
    """The ``conf/`` directory: ``rsmooth/conf`` in an installed wheel, ``<checkout>/conf`` otherwise."""
    package = Path(__file__).resolve().parent.parent  # rsmooth/
    for candidate in (package / "conf", package.parent / "conf"):
        if (candidate / "train.yaml").is_file():
            return candidate
    raise FileNotFoundError(f"rsmooth configs not found next to {package} (looked for conf/train.yaml)")


def group_options(group: str) -> list[str]:
    """The options of a config group: the YAML files in ``conf/<group>/`` (``noise`` → gaussian, ssn, ...)."""
    return sorted(p.stem for p in (config_dir() / group).glob("*.yaml"))


def _choices(*groups: str) -> str:
    """``--help``'s list of groups: one line per group, ``group: option, option, ...``."""
    width = max(len(g) for g in groups)
    indent = " " * (width + 4)
    return "\n".join(
        textwrap.fill(
            ", ".join(group_options(g)), 110, initial_indent=f"  {g.ljust(width)}  ", subsequent_indent=indent
        )
        for g in groups
    )


# the help pages (conf/hydra/help/*.yaml) list each group's options as they are on disk
if not OmegaConf.has_resolver("rsmooth_choices"):
    OmegaConf.register_new_resolver("rsmooth_choices", _choices)


def compose(config_name: str, overrides: Sequence[str] = (), with_hydra: bool = False) -> DictConfig:
    """Compose ``config_name`` (train / certify / analyze) with command-line style overrides (``with_hydra``:
    keep Hydra's own node, ``cfg.hydra``, e.g. its ``runtime.choices``)."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        return hydra_compose(config_name=config_name, overrides=list(overrides), return_hydra_config=with_hydra)
