"""Where the Hydra configs live, and composing them outside ``@hydra.main`` (tests, notebooks)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from omegaconf import DictConfig


def config_dir() -> Path:
    """The ``conf/`` directory: ``rsmooth/conf`` in an installed wheel, ``<checkout>/conf`` otherwise."""
    package = Path(__file__).resolve().parent.parent  # rsmooth/
    for candidate in (package / "conf", package.parent / "conf"):
        if (candidate / "train.yaml").is_file():
            return candidate
    raise FileNotFoundError(f"rsmooth configs not found next to {package} (looked for conf/train.yaml)")


def compose(config_name: str, overrides: Sequence[str] = ()) -> DictConfig:
    """Compose ``config_name`` (train / certify / analyze) with command-line style overrides."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        return hydra_compose(config_name=config_name, overrides=list(overrides))
