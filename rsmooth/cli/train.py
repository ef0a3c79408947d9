"""``rsmooth-train``: train a base classifier under noise, then certify the test split.

The Hydra entry point is a thin wrapper over :func:`train`, which tests call directly.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from rsmooth.analysis.curves import certified_accuracy, curve_points, load_rows
from rsmooth.analysis.summary import summary_paths
from rsmooth.analysis.tables import console_table
from rsmooth.callbacks.wandb_logging import (
    finish,
    is_wandb,
    label_runs,
    lead_with_final_figures,
    log_certified_curve,
    log_rows_artifact,
    run_labels,
    run_settings,
)
from rsmooth.cli.certification_job import run_certification_job
from rsmooth.cli.config import config_dir
from rsmooth.cli.console import library_notices_filtered, on_a_terminal
from rsmooth.cli.schema import FrozenClassifierSettings, TrainSchema, check_config
from rsmooth.errors import ConfigError
from rsmooth.loading.checkpoint import (
    LoadedClassifier,
    check_resume_matches,
    load_classifier,
    load_weights,
    model_config,
)
from rsmooth.models.denoised import DenoisedClassifier
from rsmooth.results.provenance import flatten, weights_digest
from rsmooth.smoothing.ranks import launcher_ranks
from rsmooth.training.module import SmoothingClassifier


def _instantiate_all(group: DictConfig | None, wandb_settings: dict[str, Any] | None = None) -> list[Any]:
    """Instantiate every entry of a dict-of-configs group (loggers, callbacks), skipping nulls; a W&B
    logger gets ``wandb_settings`` (group, name, tags) where its config leaves them null."""
    if not group:
        return []
    built = []
    for c in group.values():
        if c is None or "_target_" not in c:
            continue
        fill = {k: v for k, v in (wandb_settings or {}).items() if c.get(k) is None} if is_wandb(c) else {}
        built.append(instantiate(c, **fill))
    return built


def resume_path(setting: str | None, out: Path) -> str | None:
    """``resume_from``: a checkpoint path, or ``auto`` for ``<output_dir>/checkpoints/last.ckpt`` (saved after
    every epoch) or, once training has ended, ``final.ckpt`` (then only the certification continues); a fresh
    start when neither exists. So re-running a killed command with the same output directory resumes."""
    if setting != "auto":
        return setting or None
    for name in ("last.ckpt", "final.ckpt"):
        if (out / "checkpoints" / name).is_file():
            return str(out / "checkpoints" / name)
    return None


#: what Hydra itself puts in a run directory before the job starts (its config record and the job's log)
HYDRA_OWN = (".hydra",)


def refuse_an_earlier_run(out: Path) -> None:
    """A run without ``resume_from`` must start in a new or empty directory: another run's checkpoints, rows or
    logs there would be overwritten or mixed with this one's. Hydra's own record (``.hydra/``, ``<job>.log``)
    does not count. Checked before anything is loaded or written."""
    if not out.is_dir():
        return
    found = sorted(p.name for p in out.iterdir() if p.name not in HYDRA_OWN and not p.name.endswith(".log"))
    if found:
        shown = ", ".join(found[:4]) + (", ..." if len(found) > 4 else "")
        raise ConfigError(
            f"paths.output_dir {out} already holds a run ({shown}); nothing was changed: add resume_from=auto to "
            "continue that run, or choose another paths.output_dir"
        )


def load_frozen_classifier(
    source: FrozenClassifierSettings, data: dict[str, Any], trusted: list[str]
) -> tuple[LoadedClassifier, dict[str, Any]]:
    """The classifier of ``frozen_classifier`` (checked against the run's data) and its :func:`file_provenance`."""
    if source.checkpoint:
        path = source.checkpoint
        loaded = load_classifier(path, data, trusted)
    else:
        assert source.weights is not None and source.architecture is not None  # the schema checked both
        known = sorted(p.stem for p in (config_dir() / "model").glob("*.yaml"))
        if source.architecture not in known:
            raise ConfigError(
                f"frozen_classifier.architecture={source.architecture!r} is not a conf/model name; known: "
                f"{', '.join(known)}"
            )
        architecture = OmegaConf.to_container(OmegaConf.load(config_dir() / "model" / f"{source.architecture}.yaml"))
        path = source.weights
        loaded = load_weights(path, architecture, data, trusted)  # type: ignore[arg-type]  # a YAML mapping
    return loaded, file_provenance(path, loaded)


def file_provenance(path: str, loaded: LoadedClassifier) -> dict[str, Any]:
    """Where a model a run builds on came from: the file, its sha256, its format and its own record (what it was
    trained with, for an rsmooth checkpoint; DSSN's offsets left out)."""
    return {
        "path": str(Path(path).resolve()),
        "sha256": loaded.digest,
        "format": loaded.source,
        "record": {k: v for k, v in loaded.record.items() if k != "noise_state"},
    }


def load_initial_weights(
    path: str, model: dict[str, Any], frozen: LoadedClassifier | None, data: dict[str, Any], trusted: list[str]
) -> tuple[LoadedClassifier, dict[str, Any]]:
    """``init_from``: the rsmooth checkpoint whose weights this run starts from, and its provenance. Its model
    record must be this run's ``model`` (the same network, so every weight has its place); for denoised
    smoothing, its classifier must also hold the frozen classifier's weights, so starting from it changes only
    the denoiser. Its noise and objective may differ: that is what fine-tuning is for."""
    loaded = load_classifier(path, data, trusted)
    if loaded.source != "rsmooth":
        raise ConfigError(f"init_from={path} is a {loaded.source}-format file; init_from takes an rsmooth checkpoint")
    if model_config(loaded) != model:
        raise ConfigError(
            f"init_from={path} holds another network than this run's model= (its model record "
            f"{model_config(loaded)!r}); start from a checkpoint of the same model"
        )
    if frozen is not None:
        assert isinstance(loaded.model, DenoisedClassifier)  # the same {denoiser, classifier} record as ours
        theirs, ours = loaded.model.classifier.state_dict(), frozen.model.state_dict()
        if theirs.keys() != ours.keys() or not all(torch.equal(theirs[k], ours[k]) for k in ours):
            raise ConfigError(
                f"init_from={path} was trained in front of another classifier than frozen_classifier's; "
                "start from a denoiser of the same classifier"
            )
    return loaded, file_provenance(path, loaded)


def _first_process() -> bool:
    """False in the processes a launcher adds for ranks > 0 (they share rank 0's directory by design)."""
    return launcher_ranks(os.environ).rank == 0 and os.environ.get("LOCAL_RANK", "0").strip() in ("", "0")


def train(cfg: DictConfig) -> dict[str, Any]:
    """Fit ``cfg.model`` on ``cfg.data`` under ``cfg.noise`` with ``cfg.objective``; then (if
    ``cfg.certification.enabled``) certify the test split into ``certify.tsv`` (with ``certify.png``,
    ``certify.summary.json`` and ``.md`` beside it) in ``cfg.paths.output_dir``. Returns the paths and summary."""
    settings = check_config(cfg, TrainSchema)  # before anything is loaded or written
    out = Path(cfg.paths.output_dir)
    if settings.resume_from is None and _first_process():
        refuse_an_earlier_run(out)
    out.mkdir(parents=True, exist_ok=True)
    pl.seed_everything(settings.seed, workers=True, verbose=False)

    dm = instantiate(cfg.data)

    def plain(node: Any) -> Any:
        return OmegaConf.to_container(node, resolve=True) if node is not None else None

    model = plain(cfg.model)
    frozen, provenance = None, None
    if settings.frozen_classifier.given:  # denoised smoothing: model= is the denoiser, in front of this classifier
        frozen, provenance = load_frozen_classifier(settings.frozen_classifier, dm.info(), settings.trusted_modules)
        model = {"denoiser": model, "classifier": model_config(frozen)}
    initial, initialized_from = None, None
    if settings.init_from:  # fine-tuning: the weights of a checkpoint of the same model
        initial, initialized_from = load_initial_weights(
            settings.init_from, model, frozen, dm.info(), settings.trusted_modules
        )
    # Plain configs (not objects): they are the module's hyperparameters, stored in every checkpoint.
    module = SmoothingClassifier(
        model=model,
        noise=plain(cfg.noise),
        data={**dm.info(), "config": plain(cfg.data)},
        objective=plain(cfg.objective),
        optimizer=plain(cfg.optimizer),
        scheduler=plain(cfg.get("scheduler")),
        trusted_modules=settings.trusted_modules,
        frozen_classifier=provenance,
        initialized_from=initialized_from,
    )
    if frozen is not None:
        assert isinstance(module.model, DenoisedClassifier)  # built from the {denoiser, classifier} record
        module.model.classifier.load_state_dict(frozen.model.state_dict())
    if initial is not None:  # same record, so the same parameters and buffers, name for name
        module.model.load_state_dict(initial.model.state_dict())
    noise = module.noise
    module.configure_optimizers()  # optimizer.lr=-1 and the like: one line now, not a traceback after setup
    # Refuse data the noise cannot take (e.g. DSSN's q-grid) before any training.
    noise.check_input(dm.certification_dataset()[0][0].unsqueeze(0))
    resume = resume_path(settings.resume_from, out)
    if resume is not None:
        check_resume_matches(resume, {"noise": noise.config(), "model": model, "data": dm.info()})
    flat = flatten(OmegaConf.to_container(cfg, resolve=True))  # type: ignore[arg-type]  # a DictConfig gives a dict
    labels = run_labels(flat, dm.info()["name"], noise.name)  # dataset, noise, objective, sigma, k, q, lam
    loggers = _instantiate_all(cfg.get("logger"), run_settings(settings.task_name, labels))
    callbacks = _instantiate_all(cfg.get("callbacks"))
    # progress bars only on a terminal (a teed or redirected log gets the epoch and certification lines)
    bar = cfg.trainer.get("enable_progress_bar")
    with library_notices_filtered():
        trainer: pl.Trainer = instantiate(
            cfg.trainer,
            logger=loggers or False,
            callbacks=callbacks,
            default_root_dir=str(out),
            enable_progress_bar=on_a_terminal() if bar is None else bar,
        )
    for lg in loggers:
        lg.log_hyperparams(flat)  # flattened: noise.sigma, objective.lam, ... (W&B filters and groups by them)
    # a resumed checkpoint is a user's file: tensors and plain containers only
    with library_notices_filtered():
        trainer.fit(module, datamodule=dm, ckpt_path=resume, weights_only=True)
    # one checkpoint per kind: final.ckpt (the whole training state, which also resumes) replaces last.ckpt.
    # weights_only=False is Lightning's *save* option (optimizer and loop state included, as its own default);
    # every load of a checkpoint in rsmooth is torch.load(weights_only=True)
    checkpoint = out / "checkpoints" / "final.ckpt"
    trainer.save_checkpoint(checkpoint, weights_only=False)
    if trainer.is_global_zero:
        (out / "checkpoints" / "last.ckpt").unlink(missing_ok=True)

    result: dict[str, Any] = {"output_dir": out, "checkpoint": checkpoint}
    if trainer.is_global_zero:
        label_runs(loggers, labels)
    cert = settings.certification
    if cert.enabled:  # under DDP every rank certifies a share; rank 0 merges, summarizes and logs
        tsv = out / "certify.tsv"
        # the weights' digest, not the file's: a run resumed after a crash in this certification saves a
        # final.ckpt with other loop and RNG bookkeeping but the same weights, and must continue the same rows
        summary = run_certification_job(
            module.model,
            noise,
            dm.num_classes,
            dm.certification_dataset(),
            dm.info(),
            cert,
            tsv,
            {"format": "rsmooth", "weights_sha256": weights_digest(module.model)},
        )
    if cert.enabled and trainer.is_global_zero:
        for lg in loggers:
            lg.log_metrics(
                {f"test/cert_acc@{r:g}": a for r, a in zip(summary["radii"], summary["certified_accuracy"])}
                | {"test/acr": summary["acr"], "test/abstain": summary["abstain"]}
            )
        rows = load_rows(tsv)
        xs = curve_points(rows, max(summary["radii"]))
        log_certified_curve(loggers, "test/cert_curve", xs, certified_accuracy(rows, xs))
        log_rows_artifact(loggers, tsv, rows)
        result.update(certify_tsv=tsv, plot=summary_paths(tsv)["png"], summary=summary)
        print(console_table(summary))
    if trainer.is_global_zero:  # other ranks' W&B loggers hold no run
        lead_with_final_figures(loggers)
    finish(loggers)
    print(f"outputs: {out.resolve()}")
    return result
