"""``rsmooth-certify``: certify a dataset split with a trained base classifier into a TSV.

Sources: an rsmooth checkpoint (``checkpoint=``), a Cohen et al.-format file (``checkpoint=`` with
``data=`` and ``noise=``), or a plain state dict (``weights=`` with ``model=``, ``data=``, ``noise=``).
Rows are flushed one by one; re-running the same command resumes after the last written idx, and
a run with other settings is refused. The Hydra entry point is a thin wrapper over :func:`certify`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import hydra
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from rsmooth.checkpoint import LoadedClassifier, check_data_matches, load_classifier, load_weights, select_noise
from rsmooth.cli.certification_job import run_certification_job
from rsmooth.cli.errors import run_reporting_errors
from rsmooth.config import config_dir
from rsmooth.data.base import ImageDataModule
from rsmooth.errors import ConfigError
from rsmooth.noise.base import NoiseFamily
from rsmooth.schema import CertifySchema, check_config
from rsmooth.trusted import DATA_MODULES, instantiate_trusted


def load_source(cfg: DictConfig, dm: ImageDataModule | None, trusted: list[str]) -> LoadedClassifier:
    """The base classifier ``cfg.checkpoint`` (or ``cfg.weights`` with ``cfg.model``) names."""
    if bool(cfg.get("checkpoint")) == bool(cfg.get("weights")):
        raise ConfigError("give checkpoint=PATH (an rsmooth or Cohen-format checkpoint) or weights=PATH "
                          "(a plain state dict, with model=..., data=... and noise=...)")
    if cfg.get("checkpoint"):
        if cfg.get("model"):
            raise ConfigError("model= is for weights=PATH (a plain state dict); checkpoint=PATH names its own "
                              "architecture, so drop model=")
        return load_classifier(cfg.checkpoint, data=dm.spec() if dm else None, trusted_modules=trusted)
    if not cfg.get("model") or dm is None:
        raise ConfigError("weights= needs model=<architecture> and data=<dataset> (e.g. model=resnet50 data=imagenet)")
    return load_weights(cfg.weights, OmegaConf.to_container(cfg.model, resolve=True), dm.spec(), trusted)  # type: ignore[arg-type]


def load_job(cfg: DictConfig) -> tuple[LoadedClassifier, ImageDataModule, NoiseFamily]:
    """The classifier, data module and noise a certify (or attack) config names: ``cfg.data`` and
    ``cfg.noise`` default to the checkpoint's own."""
    trusted = [str(m) for m in cfg.get("trusted_modules") or []]
    dm: ImageDataModule | None = instantiate(cfg.data) if cfg.get("data") else None
    loaded = load_source(cfg, dm, trusted)
    if dm is None:  # an rsmooth checkpoint names its data module (allow-listed classes only)
        dm = instantiate_trusted(loaded.record["data"]["config"], ImageDataModule, (*DATA_MODULES, *trusted),
                                 where=f"{cfg.checkpoint} data")
        check_data_matches(loaded.data, dm.spec())
    noise = select_noise(loaded, instantiate(cfg.noise) if cfg.get("noise") else None)
    return loaded, dm, noise


def certify(cfg: DictConfig) -> dict[str, Any]:
    """Certify the test split of ``cfg.data`` (default: the data the checkpoint was trained on)
    under ``cfg.noise`` (default: its training noise) into ``cfg.output``. Under torchrun or srun the
    examples are sharded over the ranks and merged into rank 0's ``cfg.output`` (see
    :func:`~rsmooth.cli.certification_job.run_certification_job`)."""
    check_config(cfg, CertifySchema, certification=True)  # before anything is loaded or written
    loaded, dm, noise = load_job(cfg)
    out = Path(cfg.paths.output_dir)
    tsv = Path(cfg.output) if cfg.get("output") else out / "certify.tsv"
    summary = run_certification_job(loaded.model, noise, loaded.num_classes, dm.certification_dataset(), dm.info(),
                                    cfg.certification, tsv, {"format": loaded.source, "sha256": loaded.digest})
    if "radii" not in summary:  # a rank other than 0 of a sharded run: rank 0 merged and summarized
        return {"new_rows": summary["new_rows"], "summary": summary}
    print(f"certified {summary['new_rows']} new examples ({summary['already']} already in the file)")
    print(f"outputs: {tsv.resolve()}")
    return {"certify_tsv": tsv, "new_rows": summary["new_rows"], "summary": summary}


@hydra.main(config_path=str(config_dir()), config_name="certify", version_base="1.3")
def main(cfg: DictConfig) -> None:
    run_reporting_errors("rsmooth-certify", certify, cfg)


if __name__ == "__main__":
    main()
