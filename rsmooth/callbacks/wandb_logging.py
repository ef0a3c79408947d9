"""The one place rsmooth talks to W&B directly: run naming, tags and summary, certified-accuracy
tables and line plots, and the per-example rows as an artifact.

Scalars go through Lightning loggers; only what Lightning's logger API has no verb for (a custom
line plot, a summary value, an artifact) is sent here, and only when a WandbLogger is in use.
A dashboard of certified accuracy vs radius per σ groups runs by ``group`` (one per sweep) and
colours them by the summary's ``sigma`` (README, "W&B dashboards").
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from pytorch_lightning.loggers import WandbLogger

#: hyperparameters a run is labelled with (tags, summary) when its config has them: (label, config key)
LABELLED = (("sigma", "noise.sigma"), ("k", "noise.k"), ("q", "noise.q"), ("lam", "objective.lam"))


def run_labels(flat: Mapping[str, Any], dataset: str, noise: str) -> dict[str, Any]:
    """What a run is at a glance: dataset, noise family, objective and the swept values σ, k, q, λ."""
    labels: dict[str, Any] = {"dataset": dataset, "noise": noise}
    target = flat.get("objective._target_")
    if target:
        labels["objective"] = str(target).rsplit(".", 1)[-1]
    for label, key in LABELLED:
        if flat.get(key) is not None:
            labels[label] = flat[key]
    return labels


def run_settings(task_name: str, labels: Mapping[str, Any]) -> dict[str, Any]:
    """``group``, ``name`` and ``tags`` of a W&B run: in a Hydra multirun the group is the sweep
    (its directory's name) and the name the job's overrides; otherwise the group is the task."""
    settings: dict[str, Any] = {"group": task_name, "tags": [f"{k}={v}" for k, v in labels.items()]}
    try:
        from hydra.core.hydra_config import HydraConfig
        from hydra.types import RunMode

        hydra = HydraConfig.get()
    except ValueError:  # not under @hydra.main (a test or a notebook calling train(cfg))
        return settings
    if hydra.mode == RunMode.MULTIRUN:
        settings["group"] = f"{task_name}-sweep-{Path(hydra.sweep.dir).name}"
        swept = swept_keys(sys.argv[1:])
        job = [str(o) for o in hydra.overrides.task if str(o).split("=", 1)[0].lstrip("+~") in swept]
        settings["name"] = ",".join(job) or hydra.job.override_dirname or f"job{hydra.job.num}"
    return settings


def swept_keys(arguments: Sequence[str]) -> set[str]:
    """The config keys a multirun command line sweeps (``noise.sigma=0.25,0.5`` → ``noise.sigma``); empty
    when the arguments are not Hydra overrides (e.g. a launcher's own command line)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    try:
        overrides = OverridesParser.create().parse_overrides([a for a in arguments if not a.startswith("-")])
    except HydraException:
        return set()
    return {o.key_or_group for o in overrides if o.is_sweep_override()}


def is_wandb(config: Mapping[str, Any]) -> bool:
    """Whether a logger config builds a WandbLogger."""
    return str(config.get("_target_", "")).endswith("WandbLogger")


#: per-epoch series taken out of a run's summary when it ends, so that it leads with the final test figures
SERIES_OUT_OF_SUMMARY = ("epoch", "train/", "val/")


def lead_with_final_figures(loggers: Iterable[Any]) -> None:
    """Take the per-epoch series (training loss, validation accuracy, the validation subset's certified accuracy)
    out of each W&B run's summary; they stay in its history and charts. The summary, which W&B lists and run
    tables sort by, then holds the run's labels and the test split's final figures (``test/cert_acc@r``,
    ``test/acr``, ``test/abstain``), not the last validation epoch's. Call it when the run's logging is done."""
    for lg in wandb_loggers(loggers):
        summary = lg.experiment.summary
        keys = summary.keys()
        for key in [k for k in keys if str(k).startswith(SERIES_OUT_OF_SUMMARY)]:
            del summary[key]


class QuietWandbLogger(WandbLogger):
    """Lightning's ``WandbLogger`` without its ``anonymous=None`` argument, which W&B (0.19 and later) answers with a
    warning on every run that the setting has no effect; every other argument goes through unchanged."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self._wandb_init.get("anonymous") is None:  # Lightning's own default, not the user's choice
            self._wandb_init.pop("anonymous", None)


def label_runs(loggers: Iterable[Any], labels: Mapping[str, Any]) -> None:
    """Put ``labels`` (σ, λ, …) in every W&B run's summary, where dashboards filter and colour by them."""
    for lg in wandb_loggers(loggers):
        lg.experiment.summary.update(dict(labels))


def log_rows_artifact(loggers: Iterable[Any], tsv: Path, rows: Sequence[Any], key: str = "test/rows") -> None:
    """The per-example rows of ``tsv`` as a W&B table (``key``) and an artifact holding the table and the TSV."""
    targets = wandb_loggers(loggers)
    if not targets:
        return
    import wandb

    columns: list[str | int] = ["idx", "label", "predict", "radius", "correct", "pA_lower", "nA", "n", "time"]
    data = [[r.idx, r.label, r.predict, r.radius, int(r.correct), r.p_lower, r.count, r.n, r.time] for r in rows]
    for lg in targets:
        table = wandb.Table(columns=columns, data=data)
        artifact = wandb.Artifact(
            f"certify-{lg.experiment.id}",
            type="certification-rows",
            description="rsmooth certification rows (the TSV, with its crc per row)",
        )
        artifact.add(table, "rows")
        artifact.add_file(str(tsv))
        lg.experiment.log({key: table})
        lg.experiment.log_artifact(artifact)


def wandb_loggers(loggers: Iterable[Any]) -> list[Any]:
    """The WandbLogger instances among ``loggers``."""
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
        table = wandb.Table(
            columns=["radius", "certified_accuracy"], data=[[float(r), float(a)] for r, a in zip(radii, accuracy)]
        )
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
