"""The one place rsmooth talks to W&B directly: certified-accuracy tables and line plots.

Scalars go through Lightning loggers; only what Lightning's logger API has no
verb for (a custom line plot) is sent here, and only when a WandbLogger is in use.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any


def wandb_loggers(loggers: Iterable[Any]) -> list[Any]:
    """The WandbLogger instances among ``loggers``."""
    from pytorch_lightning.loggers import WandbLogger

    return [lg for lg in loggers if isinstance(lg, WandbLogger)]


def log_certified_curve(
    loggers: Iterable[Any], key: str, radii: Sequence[float], accuracy: Sequence[float], step: int | None = None
) -> None:
    """Log a table (radius, certified_accuracy) and its line plot under ``key`` to every W&B logger.

    Pass the points of :func:`rsmooth.analysis.curve_points` so the plot is the exact step curve.
    """
    targets = wandb_loggers(loggers)
    if not targets:
        return
    import wandb

    for lg in targets:
        table = wandb.Table(columns=["radius", "certified_accuracy"], data=[[float(r), float(a)] for r, a in zip(radii, accuracy)])
        payload = {
            f"{key}_table": table,
            f"{key}_plot": wandb.plot.line(table, "radius", "certified_accuracy", title=key),
        }
        if step is not None:
            payload["trainer/global_step"] = step
        lg.experiment.log(payload)


def finish(loggers: Iterable[Any]) -> None:
    """Close the W&B runs so their (offline) files are complete on disk."""
    for lg in wandb_loggers(loggers):
        lg.experiment.finish()
