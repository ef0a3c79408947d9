"""``rsmooth-certify``: certify a dataset split with a trained base classifier into a TSV.

Sources: an rsmooth checkpoint (``checkpoint=``), a Cohen et al.-format file (``checkpoint=`` with
``data=`` and ``noise=``), or a plain state dict (``weights=`` with ``model=``, ``data=``, ``noise=``).
Rows are flushed one by one; re-running the same command resumes after the last written idx, and
a run with other settings is refused. The Hydra entry point is a thin wrapper over :func:`certify`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from rsmooth.analysis.summary import summary_paths
from rsmooth.analysis.tables import console_table
from rsmooth.cli.certification_job import run_certification_job
from rsmooth.cli.schema import CertifySchema, ClassifierSourceSchema, check_config
from rsmooth.data.base import ImageDataModule
from rsmooth.errors import CheckpointError, ConfigError
from rsmooth.loading.checkpoint import (
    LoadedClassifier,
    check_data_matches,
    load_classifier,
    load_weights,
    select_noise,
)
from rsmooth.loading.trusted import DATA_MODULES, NOISE_MODULES, instantiate_trusted
from rsmooth.noise.base import NoiseFamily


def load_source(source: ClassifierSourceSchema, cfg: DictConfig, dm: ImageDataModule | None) -> LoadedClassifier:
    """The base classifier ``source.checkpoint`` (or ``source.weights`` with ``cfg.model``) names."""
    if bool(source.checkpoint) == bool(source.weights):
        raise ConfigError(
            "give checkpoint=PATH (an rsmooth or Cohen-format checkpoint) or weights=PATH "
            "(a plain state dict, with model=..., data=... and noise=...)"
        )
    if source.checkpoint:
        if cfg.get("model"):
            raise ConfigError(
                "model= is for weights=PATH (a plain state dict); checkpoint=PATH names its own "
                "architecture, so drop model="
            )
        return load_classifier(
            source.checkpoint, data=dm.spec() if dm else None, trusted_modules=source.trusted_modules
        )
    if not cfg.get("model") or dm is None:
        raise ConfigError("weights= needs model=<architecture> and data=<dataset> (e.g. model=resnet50 data=imagenet)")
    assert source.weights is not None
    model = OmegaConf.to_container(cfg.model, resolve=True)
    assert isinstance(model, dict)  # a config group is a mapping
    return load_weights(source.weights, {str(k): v for k, v in model.items()}, dm.spec(), source.trusted_modules)


def load_job(source: ClassifierSourceSchema, cfg: DictConfig) -> tuple[LoadedClassifier, ImageDataModule, NoiseFamily]:
    """The classifier, data module and noise a certify (or attack) config names: ``cfg.data`` and
    ``cfg.noise`` default to the checkpoint's own. The classifier's file is looked for first: a missing
    checkpoint is the first thing said, before any data problem."""
    for path in (source.checkpoint, source.weights):
        if path and not Path(path).is_file():
            raise CheckpointError(f"checkpoint not found: {path}")
    dm: ImageDataModule | None = instantiate(cfg.data) if cfg.get("data") else None
    loaded = load_source(source, cfg, dm)
    if dm is None:  # an rsmooth checkpoint names its data module (allow-listed classes only)
        dm = instantiate_trusted(
            loaded.record["data"]["config"],
            ImageDataModule,
            (*DATA_MODULES, *source.trusted_modules),
            where=f"{source.checkpoint} data",
        )
        check_data_matches(loaded.data, dm.spec())
    return loaded, dm, select_noise(loaded, requested_noise(cfg, loaded, source.trusted_modules))


def requested_noise(cfg: DictConfig, loaded: LoadedClassifier, trusted: list[str]) -> NoiseFamily | None:
    """The noise a certify config asks for: ``noise=<family>`` (with its fields), or only fields
    (``+noise.sigma=0.5``, as Hydra suggests for a config without a noise group) — the checkpoint's own family
    with those fields changed — or None (the checkpoint's noise)."""
    if not cfg.get("noise"):
        return None
    fields = OmegaConf.to_container(cfg.noise, resolve=True)
    assert isinstance(fields, dict)  # a config group is a mapping
    if "_target_" in fields:
        return instantiate(cfg.noise)  # a NoiseFamily: the noise group's classes
    if loaded.noise is None:
        raise ConfigError(
            f"noise fields {sorted(fields)} need a family, and the {loaded.source} file records none: "
            "give noise=<family> too, e.g. noise=gaussian noise.sigma=0.25"
        )
    base = loaded.noise.config()
    unknown = sorted(set(fields) - set(base))
    if unknown:
        raise ConfigError(f"noise.{unknown[0]} is not a field of the checkpoint's noise {loaded.noise.describe()}")
    merged = {**base, **{str(k): v for k, v in fields.items()}}
    return instantiate_trusted(merged, NoiseFamily, (*NOISE_MODULES, *trusted), where="noise")


def certify(cfg: DictConfig) -> dict[str, Any]:
    """Certify the test split of ``cfg.data`` (default: the data the checkpoint was trained on)
    under ``cfg.noise`` (default: its training noise) into ``output``. Under torchrun or srun the
    examples are sharded over the ranks and merged into rank 0's ``output`` (see
    :func:`~rsmooth.cli.certification_job.run_certification_job`)."""
    settings = check_config(cfg, CertifySchema)  # before anything is loaded or written
    loaded, dm, noise = load_job(settings, cfg)
    out = Path(cfg.paths.output_dir)
    tsv = Path(settings.output) if settings.output else out / "certify.tsv"
    summary = run_certification_job(
        loaded.model,
        noise,
        loaded.num_classes,
        dm.certification_dataset(),
        dm.info(),
        settings.certification,
        tsv,
        {"format": loaded.source, "sha256": loaded.digest},
    )
    if "radii" not in summary:  # a rank other than 0 of a sharded run: rank 0 merged and summarized
        return {"new_rows": summary["new_rows"], "summary": summary}
    if summary["already"]:
        print(f"resumed: {summary['already']} examples were already in the file, {summary['new_rows']} certified now")
    print(console_table(summary))
    print(f"outputs: {tsv.resolve()} (with {summary_paths(tsv)['png'].name}, its plot)")
    return {"certify_tsv": tsv, "new_rows": summary["new_rows"], "summary": summary}
